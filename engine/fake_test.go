package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker-logs/docker_logs/docker"
)

// fakeAPI is an in-memory daemon: containers with logs that tests append
// to, follow streams that deliver appended lines, and an events stream.
type fakeAPI struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer
	changed    chan struct{} // closed and replaced on every change
	subs       []chan docker.Event
	down       bool            // Ping and every call fail
	onInspect  func(id string) // test hook, called without the lock
	// onRead is called by a log stream's Read, in the reading goroutine
	// (test hook, called without the lock).
	onRead   func(id string)
	inspects int // Inspect calls
	// inspectErr, when set, may fail an Inspect (test hook, called
	// without the lock).
	inspectErr func(id string) error
	logsCalls  []docker.LogsOptions
}

type fakeContainer struct {
	info    docker.Container
	entries []fakeEntry
}

type fakeEntry struct {
	stream docker.Stream
	time   int64
	line   string
}

var _ docker.API = (*fakeAPI)(nil)

func newFakeAPI() *fakeAPI {
	return &fakeAPI{containers: map[string]*fakeContainer{}, changed: make(chan struct{})}
}

// clock hands out strictly increasing timestamps, like dockerd's.
var clock struct {
	sync.Mutex
	last int64
}

func now() int64 {
	clock.Lock()
	defer clock.Unlock()
	t := time.Now().UnixNano()
	if t <= clock.last {
		t = clock.last + 1
	}
	clock.last = t
	return t
}

func (f *fakeAPI) notifyLocked(ev docker.Event) {
	close(f.changed)
	f.changed = make(chan struct{})
	if ev.Action != "" {
		for _, s := range f.subs {
			select {
			case s <- ev:
			default: // a slow subscriber loses events, as with dockerd
			}
		}
	}
}

func (f *fakeAPI) create(id, name string, tty bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[id] = &fakeContainer{info: docker.Container{ID: id, Name: name, Image: "img:" + name, TTY: tty, Created: now()}}
	f.notifyLocked(docker.Event{Action: "create", ID: id, Name: name, Time: now()})
}

// run creates a (non-TTY) container and starts it.
func (f *fakeAPI) run(id, name string) {
	f.create(id, name, false)
	f.setRunning(id, true)
}

// writeSeq writes the lines "<prefix> from" ... "<prefix> to".
func (f *fakeAPI) writeSeq(id string, stream docker.Stream, prefix string, from, to int) {
	for i := from; i <= to; i++ {
		f.write(id, stream, fmt.Sprintf("%s %d", prefix, i))
	}
}

func (f *fakeAPI) setRunning(id string, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.info.Running = running
	action := "start"
	if !running {
		action = "die"
		c.info.FinishedAt = now()
	}
	f.notifyLocked(docker.Event{Action: action, ID: id, Name: c.info.Name, Time: now()})
}

// stop stops a running container.
func (f *fakeAPI) stop(id string) { f.setRunning(id, false) }

func (f *fakeAPI) logsCallCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.logsCalls)
}

func (f *fakeAPI) destroy(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	f.notifyLocked(docker.Event{Action: "destroy", ID: id, Time: now()})
}

func (f *fakeAPI) write(id string, stream docker.Stream, line string) {
	f.writeAt(id, stream, line, now())
}

// writeAt appends a line stamped ts, as a daemon whose clock jumped would.
func (f *fakeAPI) writeAt(id string, stream docker.Stream, line string, ts int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.entries = append(c.entries, fakeEntry{stream, ts, line})
	f.notifyLocked(docker.Event{})
}

func (f *fakeAPI) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	if down {
		for _, s := range f.subs {
			close(s)
		}
		f.subs = nil
	}
	f.notifyLocked(docker.Event{})
}

var errDown = fmt.Errorf("fake daemon down")

func (f *fakeAPI) Ping(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	return nil
}

func (f *fakeAPI) HostName(ctx context.Context) (string, error) {
	if err := f.Ping(ctx); err != nil {
		return "", err
	}
	return "fake-docker-host", nil
}

func (f *fakeAPI) List(ctx context.Context) ([]docker.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	var out []docker.Container
	for _, c := range f.containers {
		out = append(out, c.info)
	}
	return out, nil
}

type notFound struct{}

func (notFound) Error() string { return "no such container" }
func (notFound) NotFound()     {}

func (f *fakeAPI) Inspect(ctx context.Context, id string) (docker.Container, error) {
	if f.onInspect != nil {
		f.onInspect(id)
	}
	f.mu.Lock()
	f.inspects++
	f.mu.Unlock()
	if f.inspectErr != nil {
		if err := f.inspectErr(id); err != nil {
			return docker.Container{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return docker.Container{}, errDown
	}
	c := f.containers[id]
	if c == nil {
		return docker.Container{}, notFound{}
	}
	return c.info, nil
}

func (f *fakeAPI) Logs(ctx context.Context, id string, o docker.LogsOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logsCalls = append(f.logsCalls, o)
	if f.down {
		return nil, errDown
	}
	c := f.containers[id]
	if c == nil {
		return nil, notFound{}
	}
	pr, pw := io.Pipe()
	go f.serveLogs(ctx, id, o, pw)
	if f.onRead != nil {
		return hookedReader{pr, func() { f.onRead(id) }}, nil
	}
	return pr, nil
}

type hookedReader struct {
	*io.PipeReader
	hook func()
}

func (r hookedReader) Read(p []byte) (int, error) {
	r.hook()
	return r.PipeReader.Read(p)
}

// serveLogs writes entries from o.Since on, then, when following a running
// container, new ones as they come, until it stops (EOF) or ctx ends.
func (f *fakeAPI) serveLogs(ctx context.Context, id string, o docker.LogsOptions, pw *io.PipeWriter) {
	next := 0
	if o.Tail > 0 { // the last Tail entries, before since applies
		f.mu.Lock()
		if c := f.containers[id]; c != nil {
			next = max(0, len(c.entries)-o.Tail)
		}
		f.mu.Unlock()
	}
	follow := o.Follow
	f.mu.Lock()
	c := f.containers[id] // an open stream reads on after its removal, as dockerd's
	f.mu.Unlock()
	for {
		f.mu.Lock()
		if c == nil || f.down {
			f.mu.Unlock()
			pw.CloseWithError(io.ErrUnexpectedEOF)
			return
		}
		var out []byte
		for ; next < len(c.entries); next++ {
			e := c.entries[next]
			if e.time < o.Since {
				continue
			}
			out = append(out, encodeEntry(e, c.info.TTY)...)
		}
		running, changed := c.info.Running && f.containers[id] == c, f.changed
		f.mu.Unlock()
		if len(out) > 0 {
			if _, err := pw.Write(out); err != nil {
				return // the reader closed the body
			}
		}
		if !follow || !running {
			pw.Close()
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			pw.CloseWithError(ctx.Err())
			return
		}
	}
}

func encodeEntry(e fakeEntry, tty bool) []byte {
	payload := time.Unix(0, e.time).UTC().Format("2006-01-02T15:04:05.000000000Z") + " " + e.line
	if tty {
		return []byte(payload + "\r\n")
	}
	payload += "\n"
	b := []byte{byte(e.stream), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

func (f *fakeAPI) Events(ctx context.Context, since int64) (docker.EventStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	ch := make(chan docker.Event, 1024)
	f.subs = append(f.subs, ch)
	return fakeEvents(ch), nil
}

type fakeEvents chan docker.Event

func (s fakeEvents) Next(ctx context.Context) (docker.Event, error) {
	select {
	case ev, ok := <-s:
		if !ok {
			return docker.Event{}, io.EOF
		}
		return ev, nil
	case <-ctx.Done():
		return docker.Event{}, ctx.Err()
	}
}

func (f *fakeAPI) Close() error { return nil }
