package docker

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading a busy log stream cheaply. The daemon writes one frame per line.
// A socket in Go's netpoller is registered edge-triggered for as long as it
// is open, so every frame wakes the thread parked in epoll_wait even while
// its reader sleeps to let frames gather: on a 2-core VM, where a thread
// wake-up costs ~50 us, that was most of the plugin's CPU (a million-line
// backlog: 5.5 CPU s through a net.Conn against 1.15 s outside the
// netpoller, the same 2 ms coalescing; BENCHMARKS.md P2).
//
// So a plain stream's socket is taken out of the netpoller (pollConn): a
// busy stream sleeps a while, then reads what gathered with one
// non-blocking read(2); only a stream found empty waits for data, through
// a short-lived os.File on a duplicate of the socket, which the netpoller
// watches only during that wait.
const (
	// busyWait: data that comes this soon after a wait began marks the
	// stream busy, read after a pause from then on.
	busyWait = 10 * time.Millisecond
	// The pause before reading a busy stream adapts to what it finds: a
	// read that brings less than pauseGrowBelow doubles it (up to
	// pauseMax), one over pauseShrinkAbove halves it (down to pauseMin),
	// one that fills the buffer skips the next pause.
	pauseMin, pauseMax               = 500 * time.Microsecond, 32 * time.Millisecond
	pauseGrowBelow, pauseShrinkAbove = 8 << 10, 32 << 10
	// A busy stream's buffer doubles after a read that fills it and halves
	// after one that brings less than pauseGrowBelow: a backlog is read in
	// 256 KiB, a container writing a few lines a pause holds 16 KiB.
	busyBufferMin, busyBufferMax = 16 << 10, 256 << 10
)

// pollConn reads a socket outside Go's netpoller. Close may come from
// another goroutine (the stream's context ending) at any time.
type pollConn struct {
	idle time.Duration // longest wait for data (0: none)

	mu      sync.Mutex // held by every read(2), by Close, and to start a wait
	fd      int        // -1 once closed
	waiting *os.File   // the wait under way, for Close to end it

	busy   bool
	pause  time.Duration
	buf    []byte // a busy stream's reads; nil while quiet
	size   int    // what buf is to be at the next read
	peak   int    // the largest buf held (tests)
	r, w   int    // buf[r:w] is read but not yet returned
	reads  atomic.Int64
	closed atomic.Bool
}

// newPollConn takes conn's socket out of the netpoller: a duplicate of it
// is kept and conn is closed.
func newPollConn(conn net.Conn, idle time.Duration) (*pollConn, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	cerr := raw.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	conn.Close() // the duplicate shares its O_NONBLOCK file description
	return &pollConn{fd: fd, idle: idle, pause: pauseMin, size: busyBufferMin}, nil
}

func (c *pollConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.r < c.w {
		n := copy(p, c.buf[c.r:c.w])
		c.r += n
		return n, nil
	}
	if c.busy {
		if c.pause > 0 {
			time.Sleep(c.pause)
		}
		if len(c.buf) != c.size {
			c.buf = make([]byte, c.size)
			c.peak = max(c.peak, c.size)
		}
		n, err := c.readNow(c.buf)
		switch {
		case err == nil:
			c.adapt(n)
			c.r, c.w = copy(p, c.buf[:n]), n
			return c.r, nil
		case err != unix.EAGAIN:
			return 0, err
		}
		c.busy, c.buf, c.size, c.pause = false, nil, busyBufferMin, pauseMin // gone quiet
	}
	for {
		n, err := c.readNow(p)
		if err != unix.EAGAIN {
			return n, err
		}
		start := time.Now()
		if n, err = c.wait(p, start); err != unix.EAGAIN {
			c.busy = err == nil && time.Since(start) < busyWait
			return n, err
		}
	}
}

// adapt sets the next pause, and the size of the next read's buffer, from
// a busy read of n bytes.
func (c *pollConn) adapt(n int) {
	switch {
	case n == len(c.buf):
		c.pause = 0
		c.size = min(2*len(c.buf), busyBufferMax)
	case n < pauseGrowBelow:
		c.pause = min(max(2*c.pause, pauseMin), pauseMax)
		c.size = max(len(c.buf)/2, busyBufferMin)
	case n > pauseShrinkAbove:
		c.pause = max(c.pause/2, pauseMin)
	default:
		c.pause = max(c.pause, pauseMin)
	}
}

// readNow is one non-blocking read(2): unix.EAGAIN when nothing is there.
func (c *pollConn) readNow(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return 0, net.ErrClosed
	}
	// Raw: a non-blocking read never blocks, and a read the runtime sees
	// as a syscall keeps sysmon waking every 20 us to retake its P.
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(c.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return c.result(0, errno)
	}
	return c.result(int(r), nil)
}

func (c *pollConn) result(n int, err error) (int, error) {
	switch {
	case err == unix.EINTR:
		return 0, unix.EAGAIN
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	c.reads.Add(1)
	return n, nil
}

// wait blocks until the socket is readable, then reads it into p. The
// netpoller watches a duplicate of the socket, wrapped in an os.File, for
// this wait only; the idle timeout ends it with os.ErrDeadlineExceeded and
// Close with net.ErrClosed. unix.EAGAIN: woken with nothing to read.
func (c *pollConn) wait(p []byte, start time.Time) (int, error) {
	c.mu.Lock()
	if c.fd < 0 {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	dup, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		c.mu.Unlock()
		return 0, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(dup), "docker-log-stream") // non-blocking: in the netpoller
	c.waiting = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiting = nil
		c.mu.Unlock()
		f.Close()
	}()
	if c.idle > 0 {
		if err := f.SetReadDeadline(start.Add(c.idle)); err != nil {
			return 0, err
		}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), p)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		if c.closed.Load() || errors.Is(err, os.ErrClosed) {
			return 0, net.ErrClosed
		}
		return 0, err
	}
	return c.result(n, rerr)
}

// Write sends p whole (the request), waiting while the socket is full.
func (c *pollConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		c.mu.Lock()
		if c.fd < 0 {
			c.mu.Unlock()
			return done, net.ErrClosed
		}
		n, err := unix.Write(c.fd, p[done:])
		c.mu.Unlock()
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			time.Sleep(time.Millisecond)
		case err != nil:
			return done, err
		default:
			done += n
		}
	}
	return done, nil
}

// Close closes the socket and ends a wait under way.
func (c *pollConn) Close() error {
	c.closed.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	if c.waiting != nil {
		c.waiting.Close()
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}
