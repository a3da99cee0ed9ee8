package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
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
	logsIDs    []string // the container of each of logsCalls

	// json-file logs on disk (withJSONFiles): root is the daemon's
	// data-root as this process sees it, where the logs are written;
	// daemonRoot the one the daemon reports (Inspect's LogPath, RootDir).
	root, daemonRoot string
	// driver is the log driver of the containers created from now on:
	// "json-file" (with withJSONFiles) writes their log on disk, any other
	// is only reported by Inspect ("": none, the API-only tests').
	driver string
}

type fakeContainer struct {
	info    docker.Container
	entries []fakeEntry
	log     *fakeLog // its json-file log on disk, from its first start
	// stalled: its follow streams send nothing more and never end, as
	// dockerd 20.10's follower after a half-written entry.
	stalled bool
	// followSkips, when set, picks the lines its follow streams skip, as
	// 20.10's follower skips the files rotated while it was behind.
	followSkips func(line string) bool
	// heldFrom: the entries stamped before it were rotated away; streams
	// opened from now on do not read them.
	heldFrom int64
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
	f.createLocked(id, name, tty, f.driver)
}

// runDriver creates a (non-TTY) container logging with driver, and starts
// it.
func (f *fakeAPI) runDriver(id, name, driver string) {
	f.mu.Lock()
	f.createLocked(id, name, false, driver)
	f.mu.Unlock()
	f.setRunning(id, true)
}

func (f *fakeAPI) createLocked(id, name string, tty bool, driver string) {
	f.containers[id] = &fakeContainer{info: docker.Container{ID: id, Name: name, Image: "img:" + name, TTY: tty, Created: now(), LogDriver: driver}}
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
	if running && c.log == nil && c.info.LogDriver == "json-file" && f.root != "" {
		f.openLogLocked(c) // dockerd makes a json-file log at the first start
	}
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

// logsCallsOf counts the Logs calls for container id.
func (f *fakeAPI) logsCallsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, x := range f.logsIDs {
		if x == id {
			n++
		}
	}
	return n
}

func (f *fakeAPI) destroy(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil && c.log != nil {
		// dockerd removes the container's directory, its log with it (a
		// reader's open file reads on).
		c.log.close()
		os.RemoveAll(filepath.Dir(c.log.path))
	}
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
	if c.log != nil {
		c.log.write(fakeEntry{stream, ts, line}, c.info.TTY)
	}
	f.notifyLocked(docker.Event{})
}

// writeInterleaved appends a long stderr line and a long stdout line
// stamped after it, their json-file messages alternating (stderr's first),
// as dockerd's two copiers write them into one log: a line of one stream
// starts before the other's and ends inside it.
func (f *fakeAPI) writeInterleaved(id, errLine, outLine string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	errE, outE := fakeEntry{docker.Stderr, now(), errLine}, fakeEntry{docker.Stdout, now(), outLine}
	c.entries = append(c.entries, errE, outE)
	if c.log != nil {
		errs, outs := logChunks(errLine, false), logChunks(outLine, false)
		for i := 0; i < max(len(errs), len(outs)); i++ {
			if i < len(errs) {
				c.log.writeChunk(errE, errs[i], false)
			}
			if i < len(outs) {
				c.log.writeChunk(outE, outs[i], false)
			}
		}
	}
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
	f.logsIDs = append(f.logsIDs, id)
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
	// A stream opened on a stopped container ends at its last line, even
	// where the follower stalls (stalled).
	followsRunning := follow && c != nil && c.info.Running
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
			if e.time < o.Since || e.time < c.heldFrom || follow && c.followSkips != nil && c.followSkips(e.line) {
				continue
			}
			out = append(out, encodeEntry(e, c.info.TTY)...)
		}
		running, changed := c.info.Running && f.containers[id] == c, f.changed
		if followsRunning && c.stalled {
			f.mu.Unlock()
			<-ctx.Done()
			pw.CloseWithError(ctx.Err())
			return
		}
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

// encodeEntry encodes an entry as the logs endpoint sends it: in the
// chunks dockerd cut it in, each stamped the same (see logChunks).
func encodeEntry(e fakeEntry, tty bool) []byte {
	stamp := time.Unix(0, e.time).UTC().Format("2006-01-02T15:04:05.000000000Z") + " "
	var out []byte
	for _, c := range logChunks(e.line, tty) {
		if tty {
			out = append(out, stamp+c...)
			continue
		}
		b := []byte{byte(e.stream), 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[4:], uint32(len(stamp)+len(c)))
		out = append(append(out, b...), stamp+c...)
	}
	return out
}

// jsonFileChunk is the size dockerd cuts long lines at.
const jsonFileChunk = 16 * 1024

// logChunks cuts a line as dockerd's copier does: what the container
// wrote (a TTY's line ends in \r\n) in messages of at most 16 KiB, the
// last one with the newline; a line of 16 KiB or more has a first message
// of 16 KiB without it. Every message of the line is stamped the same (as
// 20.10 on). The cut may fall inside a UTF-8 character, as dockerd's does.
func logChunks(line string, tty bool) []string {
	if tty {
		line += "\r"
	}
	var out []string
	for len(line) >= jsonFileChunk {
		out = append(out, line[:jsonFileChunk])
		line = line[jsonFileChunk:]
	}
	return append(out, line+"\n")
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

// RootDir is the daemon's data-root, as docker.Client's: the engine finds
// the log of a container that just started under it (guessLogPath).
func (f *fakeAPI) RootDir(ctx context.Context) (string, error) {
	if err := f.Ping(ctx); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.daemonRoot, nil
}

// withJSONFiles makes the containers created from now on log with
// json-file: each has, from its first start, a log on disk that mirrors
// its entries as dockerd writes them (fakeLog), and Inspect reports its
// LogDriver and LogPath. The logs are written under a new temporary
// data-root, returned; the daemon reports daemonRoot in its place when
// set (a data-root mounted elsewhere: docker_data_root), else that one.
// The logs are closed when the test ends.
func (f *fakeAPI) withJSONFiles(t *testing.T, daemonRoot string) (root string) {
	t.Helper()
	root = t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "containers"), 0o755); err != nil {
		t.Fatal(err)
	}
	if daemonRoot == "" {
		daemonRoot = root
	}
	f.mu.Lock()
	f.root, f.daemonRoot, f.driver = root, daemonRoot, "json-file"
	f.mu.Unlock()
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.containers {
			if c.log != nil {
				c.log.close()
			}
		}
	})
	return root
}

// fakeLog is a container's json-file log as dockerd writes it: a JSON
// object a line for each message (logChunks), {"log":"<line>\n","stream":
// "stdout","time":"<RFC 3339, UTC, nanoseconds without trailing zeros>"},
// a TTY's all on stdout. It is written under the fake's lock, in the
// entries' order. (A line cut inside a UTF-8 character would differ from
// the fake API's: encoding/json writes U+FFFD for the cut bytes, as dockerd
// does, where the fake API sends them as they are. Tests keep long lines
// ASCII.)
type fakeLog struct {
	path string // <root>/containers/<id>/<id>-json.log
	f    *os.File
}

func (f *fakeAPI) openLogLocked(c *fakeContainer) {
	id := c.info.ID
	dir := filepath.Join(f.root, "containers", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(fmt.Sprintf("fake daemon: %v", err))
	}
	c.log = &fakeLog{path: filepath.Join(dir, id+"-json.log")}
	c.log.create()
	c.info.LogPath = filepath.Join(f.daemonRoot, "containers", id, id+"-json.log")
	for _, e := range c.entries {
		c.log.write(e, c.info.TTY)
	}
}

// create starts the log's current file. A fake daemon's log that cannot be
// written is the test's setup gone wrong: it panics.
func (l *fakeLog) create() {
	var err error
	if l.f, err = os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err != nil {
		panic(fmt.Sprintf("fake daemon: %v", err))
	}
}

func (l *fakeLog) close() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// write appends entry e as dockerd does, in one write per message.
func (l *fakeLog) write(e fakeEntry, tty bool) {
	for _, c := range logChunks(e.line, tty) {
		l.writeChunk(e, c, tty)
	}
}

// writeChunk appends one message of entry e.
func (l *fakeLog) writeChunk(e fakeEntry, chunk string, tty bool) {
	if l.f == nil {
		return // removed
	}
	stream := e.stream.String()
	if tty {
		stream = "stdout"
	}
	b, err := json.Marshal(struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}{chunk, stream, time.Unix(0, e.time).UTC().Format(time.RFC3339Nano)})
	if err == nil {
		_, err = l.f.Write(append(b, '\n'))
	}
	if err != nil {
		panic(fmt.Sprintf("fake daemon: writing %s: %v", l.path, err))
	}
}

// rotateLog rotates container id's json-file log as dockerd does at its
// max-size, keeping keep files (max-file, 2 or more, the current one
// included): the oldest goes, <path>.n moves to <path>.n+1, <path> to
// <path>.1, and a new <path> is created.
func (f *fakeAPI) rotateLog(id string, keep int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.containers[id].log
	l.close()
	name := func(n int) string {
		if n == 0 {
			return l.path
		}
		return fmt.Sprintf("%s.%d", l.path, n)
	}
	if err := os.Remove(name(keep - 1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		panic(fmt.Sprintf("fake daemon: %v", err))
	}
	for n := keep - 1; n > 0; n-- {
		if err := os.Rename(name(n-1), name(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			panic(fmt.Sprintf("fake daemon: %v", err))
		}
	}
	l.create()
	f.notifyLocked(docker.Event{})
}

// logFile is where container id's json-file log is written ("": none).
func (f *fakeAPI) logFile(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil && c.log != nil {
		return c.log.path
	}
	return ""
}
