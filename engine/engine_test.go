package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig(t *testing.T, kv ...string) conf.Config {
	t.Helper()
	m := conf.Map{"docker_host": "unix:///fake.sock"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	c, err := conf.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startEngine runs an engine on api and stops it (checking every goroutine
// ended, via goleak in TestMain) when the test ends.
func startEngine(t *testing.T, api docker.API, kv ...string) *Engine {
	t.Helper()
	log := NewLogger("docker_logs.0", conf.LevelDebug)
	log.SetOutput(testWriter{t})
	e := New(testConfig(t, kv...), "docker_logs.0", api, log)
	e.Start()
	t.Cleanup(e.Stop)
	awaitListed(t, e, api)
	return e
}

// awaitListed waits for the engine's first listing of a fake daemon that
// is up: what a test does next happens to a connected engine, as it would
// after Fluent Bit logged "connected to docker".
func awaitListed(t *testing.T, e *Engine, api docker.API) {
	t.Helper()
	f, ok := api.(*fakeAPI)
	if !ok {
		return
	}
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for !down && !e.daemonUp.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the engine never listed the fake daemon's containers")
		}
		time.Sleep(time.Millisecond)
	}
}

// testWriter logs through t, and fails the test on a "panicked" line
// unless the test injects panics (expectPanics): a recovered panic is a
// defect the supervisor hides, not normal operation.
type testWriter struct{ t *testing.T }

var panicsExpected sync.Map // *testing.T -> true

// expectPanics tells testWriter the test injects panics on purpose.
func expectPanics(t *testing.T) {
	panicsExpected.Store(t, true)
	t.Cleanup(func() { panicsExpected.Delete(t) })
}

func (w testWriter) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	w.t.Log(line)
	if _, ok := panicsExpected.Load(w.t); !ok && strings.Contains(line, "panicked") {
		w.t.Errorf("unexpected panic logged: %s", line)
	}
	return len(p), nil
}

// collector gathers what the engine hands over, as the collect callback
// would, decoding each buffer.
type collector struct {
	t       *testing.T
	e       *Engine
	recs    []decodedRecord
	largest int  // the largest buffer handed over
	ack     bool // acknowledge every collect, as the cleanup callback does
}

// until collects until ok holds for what was collected, or fails the test.
func (c *collector) until(what string, ok func([]decodedRecord) bool) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(c.recs) {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s; have %d records", what, len(c.recs))
		}
		if buf := c.e.Collect(); buf != nil {
			c.largest = max(c.largest, len(buf))
			c.recs = append(c.recs, decodeRecords(c.t, buf)...)
			if c.ack {
				c.e.Ack()
			}
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (c *collector) count(n int) func([]decodedRecord) bool {
	return func(r []decodedRecord) bool { return len(r) >= n }
}

// settle collects a little longer to catch duplicates that would follow.
func (c *collector) settle() {
	time.Sleep(100 * time.Millisecond)
	for buf := c.e.Collect(); buf != nil; buf = c.e.Collect() {
		c.recs = append(c.recs, decodeRecords(c.t, buf)...)
		if c.ack {
			c.e.Ack()
		}
	}
}

// logs returns the "log" values of records of one container and stream.
func logs(recs []decodedRecord, name, stream string) []string {
	var out []string
	for _, r := range recs {
		if r.Fields["container_name"] == name && r.Fields["stream"] == stream {
			out = append(out, r.Fields["log"].(string))
		}
	}
	return out
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

func assertLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %d lines %q..., want %d lines %q...", len(got), head(got), len(want), head(want))
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func TestEngineCapturesNewContainer(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api)
	c := &collector{t: t, e: e}

	api.run("c1", "web")
	for i := 1; i <= 100; i++ {
		api.write("c1", docker.Stdout, fmt.Sprintf("out %d", i))
		api.write("c1", docker.Stderr, fmt.Sprintf("err %d", i))
	}
	c.until("200 records", c.count(200))
	c.settle()
	assertLines(t, logs(c.recs, "web", "stdout"), seq("out", 1, 100))
	assertLines(t, logs(c.recs, "web", "stderr"), seq("err", 1, 100))
	r := c.recs[0]
	if r.Fields["container_id"] != "c1" || r.Fields["image"] != "img:web" {
		t.Errorf("metadata = %v", r.Fields)
	}
	if r.Time == 0 {
		t.Error("record time not set")
	}
}

// A container that ran and stopped before its monitor looked at it is read
// completely; after a restart it resumes without repeating a line.
func TestEngineStopRestartResumesExactly(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api)
	c := &collector{t: t, e: e}

	api.run("c1", "job")
	api.writeSeq("c1", docker.Stdout, "out", 1, 50)
	api.setRunning("c1", false)
	c.until("first run", c.count(50))

	for round := 0; round < 5; round++ {
		api.setRunning("c1", true)
		for i := 51 + round*20; i <= 70+round*20; i++ {
			api.write("c1", docker.Stdout, fmt.Sprintf("out %d", i))
			if i%7 == 0 {
				api.write("c1", docker.Stderr, fmt.Sprintf("err %d", i))
			}
		}
		api.setRunning("c1", false)
	}
	c.until("all rounds", c.count(150+14))
	c.settle()
	assertLines(t, logs(c.recs, "job", "stdout"), seq("out", 1, 150))
	var errs []string
	for i := 51; i <= 150; i++ {
		if i%7 == 0 {
			errs = append(errs, fmt.Sprintf("err %d", i))
		}
	}
	assertLines(t, logs(c.recs, "job", "stderr"), errs)
}

// Containers already running when the engine starts are read from the
// engine's start, unless read_from_head.
func TestEngineStartsAtStartUnlessReadFromHead(t *testing.T) {
	for _, head := range []bool{false, true} {
		t.Run(fmt.Sprint("read_from_head=", head), func(t *testing.T) {
			api := newFakeAPI()
			api.run("c1", "old")
			api.write("c1", docker.Stdout, "before 1")
			api.write("c1", docker.Stdout, "before 2")
			time.Sleep(time.Millisecond)
			e := startEngine(t, api, "read_from_head", fmt.Sprint(head))
			c := &collector{t: t, e: e}
			api.write("c1", docker.Stdout, "after 1")
			want := []string{"after 1"}
			if head {
				want = []string{"before 1", "before 2", "after 1"}
			}
			c.until("lines", c.count(len(want)))
			c.settle()
			assertLines(t, logs(c.recs, "old", "stdout"), want)
		})
	}
}

func TestEngineTTYAndRenameAndDestroy(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	api.create("t1", "term", true)
	api.setRunning("t1", true)
	api.write("t1", docker.Stdout, "tty 1")
	c.until("tty line", c.count(1))

	api.mu.Lock()
	api.containers["t1"].info.Name = "renamed"
	api.notifyLocked(docker.Event{Action: "rename", ID: "t1", Name: "renamed", Time: now()})
	api.mu.Unlock()
	// The rename is the monitor's before the next line is written.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		e.mu.Lock()
		m := e.monitors["t1"]
		e.mu.Unlock()
		if m.renamed.Load() || m.displayName() == "renamed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rename never reached the monitor")
		}
	}
	api.write("t1", docker.Stdout, "tty 2")
	c.until("line after rename", c.count(2))
	assertLines(t, logs(c.recs, "term", "stdout"), []string{"tty 1"})
	assertLines(t, logs(c.recs, "renamed", "stdout"), []string{"tty 2"})

	api.setRunning("t1", false)
	api.destroy("t1")
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.mu.Lock()
		n := len(e.monitors)
		e.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("monitor of a destroyed container still running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With the daemon down at start, the engine retries, and captures once it
// is up; after it goes down and up again, nothing is lost or repeated.
func TestEngineDaemonDownThenUp(t *testing.T) {
	api := newFakeAPI()
	api.setDown(true)
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	time.Sleep(300 * time.Millisecond)
	api.setDown(false)
	api.run("c1", "late")
	api.write("c1", docker.Stdout, "line 1")
	c.until("first line", c.count(1))

	api.setDown(true)
	api.mu.Lock()
	api.containers["c1"].entries = append(api.containers["c1"].entries, fakeEntry{docker.Stdout, now(), "line 2"})
	api.mu.Unlock()
	api.setDown(false)
	api.write("c1", docker.Stdout, "line 3")
	c.until("lines after the outage", c.count(3))
	c.settle()
	assertLines(t, logs(c.recs, "late", "stdout"), seq("line", 1, 3))
}

// A monitor that panics is recovered and restarted; capture goes on.
func TestEngineRecoversPanickingMonitor(t *testing.T) {
	expectPanics(t)
	api := newFakeAPI()
	var panics atomic.Int32
	api.onInspect = func(id string) {
		if id == "bad" && panics.Add(1) <= 2 {
			panic("boom")
		}
	}
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	api.run("bad", "bad")
	api.run("good", "good")
	api.write("bad", docker.Stdout, "from bad")
	api.write("good", docker.Stdout, "from good")
	c.until("both lines", c.count(2))
	if panics.Load() < 3 {
		t.Fatalf("inspect hook ran %d times; the panicking monitor was not restarted", panics.Load())
	}
}

// A monitor that panics mid-stream is restarted as the same monitor: its
// cursors go on, no second monitor appears for the container (a start
// event or a reconcile would make one if the panic had removed it), and
// every line arrives once.
func TestEngineMonitorPanicMidStream(t *testing.T) {
	expectPanics(t)
	api := newFakeAPI()
	var armed atomic.Bool
	api.onRead = func(id string) {
		if id == "c1" && armed.CompareAndSwap(true, false) {
			panic("injected")
		}
	}
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	api.run("c1", "c1")
	api.writeSeq("c1", docker.Stdout, "line", 1, 3)
	c.until("the first lines", c.count(3))
	armed.Store(true)
	api.writeSeq("c1", docker.Stdout, "line", 4, 6)
	c.until("the lines after the panic", c.count(6))
	// A restart's start event looks for the container's monitor.
	api.setRunning("c1", false)
	api.setRunning("c1", true)
	api.writeSeq("c1", docker.Stdout, "line", 7, 9)
	c.until("the lines after the restart", c.count(9))
	c.settle()
	assertLines(t, logs(c.recs, "c1", "stdout"), seq("line", 1, 9))
	var monitors []string
	for _, s := range e.Status() {
		if strings.HasPrefix(s.Name, "monitor ") {
			monitors = append(monitors, s.Name)
		}
	}
	if len(monitors) != 1 {
		t.Fatalf("tasks %v, want one monitor", monitors)
	}
}

// Lines stamped before lines already delivered (the daemon's clock stepped
// back) are delivered in the log's order, across stream reopens, on both
// streams, with one warning.
func TestEngineClockStepBack(t *testing.T) {
	api := newFakeAPI()
	e, out := startEngineLog(t, api, "stream_lifetime", "100ms", "stream_idle_timeout", "100ms")
	c := &collector{t: t, e: e}
	api.run("c1", "c1")
	api.writeSeq("c1", docker.Stdout, "out", 1, 3)
	api.write("c1", docker.Stderr, "err 1")
	c.until("the lines before the step", c.count(4))
	back := now() - int64(time.Hour)
	for i := 4; i <= 9; i++ {
		api.writeAt("c1", docker.Stdout, fmt.Sprintf("out %d", i), back+int64(i)*int64(time.Millisecond))
		api.writeAt("c1", docker.Stderr, fmt.Sprintf("err %d", i-2), back+int64(i)*int64(time.Millisecond)+1)
		if i == 6 {
			time.Sleep(300 * time.Millisecond) // the stream reopens from the stepped anchor
		}
	}
	c.until("the lines after the step", c.count(16))
	c.settle()
	assertLines(t, logs(c.recs, "c1", "stdout"), seq("out", 1, 9))
	assertLines(t, logs(c.recs, "c1", "stderr"), seq("err", 1, 7))
	if n := strings.Count(out.String(), "clock stepped back"); n != 1 {
		t.Fatalf("%d warnings about the clock, want 1:\n%s", n, out.String())
	}
}

// A line one stream's copier stamped, then wrote after a line of the
// other stream stamped 500 ms later, at which a stream ended: the next
// stream reads it. The daemon drops entries stamped before since, and a
// loaded one writes lines that far out of their stamps' order.
func TestEngineReopenReadsALineStampedBeforeTheAnchor(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "stream_lifetime", "100ms", "stream_idle_timeout", "100ms")
	c := &collector{t: t, e: e}
	api.run("c1", "c1")
	api.write("c1", docker.Stdout, "out 1")
	api.write("c1", docker.Stderr, "err 1")
	c.until("the first lines", c.count(2))
	t0 := now()
	streams := e.Stats().Streams.Load()
	time.Sleep(200 * time.Millisecond) // past the stream's lifetime: it ends after its next line
	api.writeAt("c1", docker.Stderr, "err 2", t0+int64(500*time.Millisecond))
	c.until("err 2", c.count(3))
	waitUntil(t, "a stream opened after err 2", func() bool { return e.Stats().Streams.Load() > streams })
	api.writeAt("c1", docker.Stdout, "out 2", t0)
	api.writeAt("c1", docker.Stdout, "out 3", t0+int64(600*time.Millisecond))
	api.writeAt("c1", docker.Stderr, "err 3", t0+int64(601*time.Millisecond))
	c.until("the lines written after the reopen", c.count(6))
	c.settle()
	assertLines(t, logs(c.recs, "c1", "stdout"), seq("out", 1, 3))
	assertLines(t, logs(c.recs, "c1", "stderr"), seq("err", 1, 3))
}

// A container that starts, writes and is removed at once (docker run --rm)
// while the daemon is slow to answer inspects is read all the same: its
// monitor opens the log on the start event, before anything else.
func TestEngineShortLivedContainerOnSlowDaemon(t *testing.T) {
	api := newFakeAPI()
	removed := make(chan struct{})
	var slow atomic.Bool
	api.onInspect = func(id string) {
		if slow.Load() {
			<-removed // answers only once the container is gone
		}
	}
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	api.create("c1", "short", false)
	waitUntil(t, "the create's inspect", func() bool { api.mu.Lock(); defer api.mu.Unlock(); return api.inspects > 0 })
	slow.Store(true)
	calls := api.logsCallCount()
	api.setRunning("c1", true)
	api.writeSeq("c1", docker.Stdout, "line", 1, 50)
	waitUntil(t, "the log stream to open", func() bool { return api.logsCallCount() > calls })
	api.stop("c1")
	api.destroy("c1")
	close(removed)
	c.until("every line", c.count(50))
	c.settle()
	assertLines(t, logs(c.recs, "short", "stdout"), seq("line", 1, 50))
}

// A container removed before anything of it could be read is said, once,
// by name: its lines are lost.
func TestEngineWarnsContainerRemovedUnread(t *testing.T) {
	api := newFakeAPI()
	removed := make(chan struct{})
	api.onInspect = func(id string) { <-removed }
	e, out := startEngineLog(t, api)
	api.run("c1", "gone-fast")
	api.write("c1", docker.Stdout, "never read")
	api.stop("c1")
	api.destroy("c1")
	// Events are handled in order: the start is known once the destroy is.
	waitUntil(t, "the destroy event", func() bool { return strings.Contains(out.String(), "event destroy c1") })
	close(removed)
	waitUntil(t, "the warning", func() bool { return strings.Contains(out.String(), "removed before its log could be read") })
	if n := strings.Count(out.String(), "warn]"); n != 1 || !strings.Contains(out.String(), "gone-fast") {
		t.Fatalf("%d warnings, want 1 naming the container:\n%s", n, out.String())
	}
	if e.Stats().Lost.Load() != 1 {
		t.Fatalf("lost %d containers, want 1", e.Stats().Lost.Load())
	}
}

// Records Fluent Bit could not be handed (no memory for its copy) come
// back whole from the next Collect, before anything newer: none is lost
// (before, the next Collect replaced them while the next Ack counted them
// delivered). A run of failures is logged once.
func TestEngineRetryHandsOverAgain(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	e, out := startEngineLog(t, api, "db", db, "db.commit_delay", "0s")
	api.run("c1", "c1")
	api.writeSeq("c1", docker.Stdout, "line", 1, 3)
	var first []byte
	waitUntil(t, "the lines", func() bool {
		first = append([]byte(nil), e.Collect()...)
		return len(first) > 0
	})
	e.Retry()
	api.writeSeq("c1", docker.Stdout, "line", 4, 6)
	time.Sleep(100 * time.Millisecond)
	e.Retry() // a second failure in a row
	if again := e.Collect(); string(again) != string(first) {
		t.Fatalf("after Retry, Collect returned %d other bytes, want the same %d", len(again), len(first))
	}
	e.Ack()
	var rest []decodedRecord
	waitUntil(t, "the newer lines", func() bool {
		if buf := e.Collect(); buf != nil {
			rest = append(rest, decodeRecords(t, buf)...)
			e.Ack()
		}
		return len(rest) >= 6-len(decodeRecords(t, first))
	})
	all := append(decodeRecords(t, first), rest...)
	assertLines(t, logs(all, "c1", "stdout"), seq("line", 1, 6))
	if n := strings.Count(out.String(), "could not allocate"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", n, out.String())
	}
}

// A burst of starts slows the daemon: an inspect that times out a few
// times is retried at debug level, and the container read; one that keeps
// failing past quietRetries is a warning naming the container.
func TestEngineInspectRetriesQuietlyThenWarns(t *testing.T) {
	defer func(d time.Duration) { quietRetries = d }(quietRetries)
	quietRetries = 400 * time.Millisecond
	api := newFakeAPI()
	var fails sync.Map // id -> remaining failures
	fails.Store("brief", 2)
	fails.Store("stuck", 1000)
	api.inspectErr = func(id string) error {
		if v, ok := fails.Load(id); ok && v.(int) > 0 {
			fails.Store(id, v.(int)-1)
			return context.DeadlineExceeded
		}
		return nil
	}
	e, out := startEngineLog(t, api)
	c := &collector{t: t, e: e}
	api.run("brief", "brief")
	api.write("brief", docker.Stdout, "read after two timeouts")
	api.run("stuck", "stuck")
	c.until("the brief one's line", c.count(1))
	waitUntil(t, "the warning", func() bool { return strings.Contains(out.String(), "stuck (stuck): inspecting") })
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "warn]") && !strings.Contains(line, "stuck (stuck): inspecting: context deadline exceeded; retrying (failing for") {
			t.Errorf("unexpected warning: %s", line)
		}
	}
}

// json-file's follower re-reads the last lines at a rotation: exact
// repeats, stamped just before the last line delivered. They are dropped,
// not taken for a clock that stepped back.
func TestEngineRotationRepeatsAreNotClockSteps(t *testing.T) {
	api := newFakeAPI()
	e, out := startEngineLog(t, api)
	c := &collector{t: t, e: e}
	api.run("c1", "c1")
	api.writeSeq("c1", docker.Stdout, "line", 1, 5)
	c.until("the first lines", c.count(5))
	api.mu.Lock()
	entries := api.containers["c1"].entries
	repeats := append([]fakeEntry(nil), entries[len(entries)-3:]...)
	api.mu.Unlock()
	for _, r := range repeats {
		api.writeAt("c1", r.stream, r.line, r.time)
	}
	api.writeSeq("c1", docker.Stdout, "line", 6, 8)
	c.until("the lines after the repeats", c.count(8))
	c.settle()
	assertLines(t, logs(c.recs, "c1", "stdout"), seq("line", 1, 8))
	if strings.Contains(out.String(), "clock stepped back") {
		t.Fatalf("repeats taken for a clock step:\n%s", out.String())
	}
}

// 20.10's follower, behind at a rotation, goes on with the current file
// and skips those rotated in between: a container writing fast into a log
// of max-size 32 KB, whose followed stream jumps from line 1000 to 1401
// (29 KB at its rate), gets the skipped lines read without follow while
// the daemon holds them, and once they are rotated away (with every line
// before them), one warning naming the lines around them.
func TestEngineFollowerSkippedRotatedFile(t *testing.T) {
	const skipFrom, skipTo, n = 1001, 1400, 3000
	for _, held := range []bool{true, false} {
		t.Run(fmt.Sprintf("held=%v", held), func(t *testing.T) {
			api := newFakeAPI()
			e, out := startEngineLog(t, api)
			c := &collector{t: t, e: e}
			stamp, write := runSkipping(api, 32<<10, skipFrom, skipTo)
			write(1, skipFrom-1)
			c.until("the first lines", c.count(skipFrom-1))
			want := seq("line", 1, n)
			if held {
				write(skipFrom, n)
			} else {
				api.mu.Lock()
				api.containers["c1"].heldFrom = stamp(skipTo + 1)
				api.mu.Unlock()
				write(skipTo+1, n)
				want = append(seq("line", 1, skipFrom-1), seq("line", skipTo+1, n)...)
			}
			c.until("the lines", c.count(len(want)))
			c.settle()
			assertLines(t, logs(c.recs, "c1", "stdout"), want)
			gap := fmt.Sprintf("lines between %s and %s are no longer held",
				time.Unix(0, stamp(skipFrom-1)).UTC().Format(time.RFC3339Nano), time.Unix(0, stamp(skipTo+1)).UTC().Format(time.RFC3339Nano))
			warnings := strings.Count(out.String(), "are no longer held")
			switch {
			case held && warnings != 0:
				t.Fatalf("lines the daemon holds reported lost:\n%s", out.String())
			case !held && (warnings != 1 || !strings.Contains(out.String(), gap)):
				t.Fatalf("want one warning %q, got %d:\n%s", gap, warnings, out.String())
			}
			if e.Stats().CatchUps.Load() == 0 {
				t.Fatal("no read without follow after the skip")
			}
		})
	}
}

// The follower skips a rotated file right after a stream opened at the
// last one's lifetime, before the new stream has read enough to know the
// log's rate on its own: the rate the stream before measured tells the
// skip, and the lines are read without follow.
func TestEngineFollowerSkipAtAStreamsStart(t *testing.T) {
	const skipFrom, skipTo, n = 1071, 1800, 3000
	api := newFakeAPI()
	e := startEngine(t, api, "stream_lifetime", "100ms", "stream_idle_timeout", "100ms")
	c := &collector{t: t, e: e}
	// A quarter of max-size is more than the last stream's 200 lines read again.
	_, write := runSkipping(api, 128<<10, skipFrom, skipTo)
	write(1, 1000)
	c.until("the first lines", c.count(1000))
	streams := e.Stats().Streams.Load()
	// Past the lifetime: the stream ends once it reads the clock again
	// (lineClock: within 64 lines).
	time.Sleep(150 * time.Millisecond)
	write(1001, skipFrom-1)
	waitUntil(t, "the next stream", func() bool { return e.Stats().Streams.Load() > streams })
	write(skipFrom, n)
	c.until("every line", c.count(n))
	c.settle()
	assertLines(t, logs(c.recs, "c1", "stdout"), seq("line", 1, n))
	if e.Stats().CatchUps.Load() == 0 {
		t.Fatal("no read without follow after the skip")
	}
}

// runSkipping runs container c1 with max-size rotateSize, whose followed
// streams skip lines "line <skipFrom>" to "line <skipTo>"; write writes
// lines from to to, a microsecond apart, stamped an hour ahead of the
// clock: never behind (monitor.behind), which reads without follow anyway.
func runSkipping(api *fakeAPI, rotateSize int64, skipFrom, skipTo int) (stamp func(int) int64, write func(from, to int)) {
	api.create("c1", "c1", false)
	api.mu.Lock()
	api.containers["c1"].info.RotateSize = rotateSize
	api.containers["c1"].followSkips = func(line string) bool {
		i, _ := strconv.Atoi(strings.TrimPrefix(line, "line "))
		return i >= skipFrom && i <= skipTo
	}
	api.mu.Unlock()
	api.setRunning("c1", true)
	base := time.Now().Add(time.Hour).UnixNano()
	stamp = func(i int) int64 { return base + int64(i)*int64(time.Microsecond) }
	write = func(from, to int) {
		for i := from; i <= to; i++ {
			api.writeAt("c1", docker.Stdout, fmt.Sprintf("line %d", i), stamp(i))
		}
	}
	return stamp, write
}

// A pause is taken for a skipped file only when the stream's rate would
// have filled a quarter of one in it, over a quarter of a file read or a
// span as long as the pause.
func TestSkippedNeedsAQuarterFile(t *testing.T) {
	m := &monitor{info: docker.Container{RotateSize: 1 << 20}}
	ms := int64(time.Millisecond)
	for _, c := range []struct {
		name              string
		jump, span, bytes int64
		want              bool
	}{
		{"a steady 16 KB/s, then a second's pause", 1000 * ms, 10000 * ms, 160 << 10, false},
		{"a 160 KB burst, then a second's pause", 1000 * ms, 1 * ms, 160 << 10, false},
		{"25 MB/s, then 40 ms (1 MB) missing", 40 * ms, 80 * ms, 2 << 20, true},
		{"300 KB read again in 1 ms, then 10 ms missing", 10 * ms, 1 * ms, 300 << 10, true},
		{"25 MB/s, then 5 ms (128 KB) missing", 5 * ms, 80 * ms, 2 << 20, false},
	} {
		from := int64(1e18)
		last := from + c.span
		if got := m.skipped(last+c.jump, last, from, c.bytes); got != c.want {
			t.Errorf("%s: skipped = %v, want %v", c.name, got, c.want)
		}
	}
}

// A full buffer stops reading, never drops: with a tiny buffer and a slow
// collector every line still arrives once, in order.
func TestEngineBackpressure(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "buffer_max_size", "64K", "chunk_max_size", "1K")
	c := &collector{t: t, e: e}
	api.run("c1", "busy")
	for i := 1; i <= 5000; i++ {
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d %s", i, strings.Repeat("p", 100)))
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.buf.Len(); n > 64*1000 {
		t.Fatalf("buffer holds %d bytes, over its 64K bound", n)
	}
	c.until("5000 lines", c.count(5000))
	c.settle()
	if c.largest > 1000 {
		t.Fatalf("a collect handed over %d bytes, over chunk_max_size", c.largest)
	}
	got := logs(c.recs, "busy", "stdout")
	if len(got) != 5000 {
		t.Fatalf("got %d lines, want 5000", len(got))
	}
	for i, l := range got {
		if !strings.HasPrefix(l, fmt.Sprintf("line %d ", i+1)) {
			t.Fatalf("line %d is %.20q", i+1, l)
		}
	}
}

func TestEnginePauseStopsReading(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	api.run("c1", "p")
	api.write("c1", docker.Stdout, "line 1")
	c.until("line 1", c.count(1))
	e.Pause()
	e.Pause()
	api.write("c1", docker.Stdout, "line 2")
	time.Sleep(100 * time.Millisecond)
	if buf := e.Collect(); buf != nil {
		t.Fatalf("records buffered while paused: %v", decodeRecords(t, buf))
	}
	e.Resume()
	e.Resume()
	c.until("line 2", c.count(2))
	c.settle()
	assertLines(t, logs(c.recs, "p", "stdout"), seq("line", 1, 2))
}

// Stop ends every goroutine, even with streams open and Puts blocked on a
// full buffer (goleak in TestMain checks none remain).
func TestEngineStopWithBlockedMonitors(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "buffer_max_size", "64K", "chunk_max_size", "16K")
	for i := 0; i < 5; i++ {
		id := fmt.Sprint("c", i)
		api.run(id, id)
		for j := 0; j < 2000; j++ {
			api.write(id, docker.Stdout, strings.Repeat("x", 100))
		}
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	e.Stop()
	if d := time.Since(start); d > stopTimeout {
		t.Fatalf("Stop took %s", d)
	}
}

func TestRegistry(t *testing.T) {
	var r Registry
	r.NewAPI = func(conf.Config) (docker.API, error) { return newFakeAPI(), nil }
	defer r.StopAll()

	if _, err := r.Init(conf.Map{"docker_host": "ftp://x"}, Host{HasCtx: true}); err == nil || !strings.Contains(err.Error(), "docker_host") {
		t.Fatalf("bad docker_host: err = %v", err)
	}
	tok, err := r.Init(conf.Map{}, Host{HasCtx: false})
	if err != nil || tok == 0 {
		t.Fatalf("first instance: %d, %v", tok, err)
	}
	if r.Lookup(0) == nil || r.Lookup(tok) != r.Lookup(0) {
		t.Fatal("the single instance is not found by the plain callback's token 0")
	}
	if _, err := r.Init(conf.Map{}, Host{HasCtx: false}); err == nil || !strings.Contains(err.Error(), "Fluent Bit 4.1 or newer") {
		t.Fatalf("second instance without ctx: err = %v", err)
	}
	tok2, err := r.Init(conf.Map{}, Host{HasCtx: true})
	if err != nil || tok2 == tok {
		t.Fatalf("second instance with ctx: %d, %v", tok2, err)
	}
	if r.Lookup(0) != nil {
		t.Fatal("token 0 is ambiguous with two instances and must find none")
	}
	r.StopAll()
	r.StopAll()
	if r.Lookup(tok) != nil {
		t.Fatal("instance still registered after StopAll")
	}
	// A hot reload starts the instances again, named from 0 as Fluent Bit does.
	tok3, err := r.Init(conf.Map{}, Host{HasCtx: true})
	if err != nil || r.Lookup(tok3).name != "docker_logs.0" {
		t.Fatalf("instance after a reload: %v, name %q", err, r.Lookup(tok3).name)
	}
}

var _ = io.EOF
var _ = context.Background

// Deliver appends what is buffered in pieces of whole records of at most
// chunk_max_size; a refused piece and everything after it wait for the
// next Deliver, in order, unacknowledged; /health names the path.
func TestEngineDeliverPiecesAndRefusals(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	e, out := startEngineLog(t, api, "chunk_max_size", "4K", "db", db, "db.commit_delay", "0s")
	e.UseAppend(true)
	if h := e.Health(); h.Delivery != "append" {
		t.Fatalf("/health delivery %q, want append", h.Delivery)
	}
	api.run("c1", "c1")
	api.writeSeq("c1", docker.Stdout, "line", 1, 100)
	var got []decodedRecord
	var pieces int
	refuse := true
	appendPiece := func(tag string, p []byte, records int) bool {
		if tag != "" {
			t.Fatalf("a piece tagged %q without tag_template", tag)
		}
		if len(p) > 4000 {
			t.Fatalf("a piece of %d bytes, over chunk_max_size", len(p))
		}
		if refuse {
			return false
		}
		pieces++
		recs := decodeRecords(t, p)
		if records != len(recs) {
			t.Fatalf("a piece of %d records counted as %d", len(recs), records)
		}
		got = append(got, recs...)
		return true
	}
	waitUntil(t, "the lines buffered", func() bool { return e.buf.Len() > 0 && e.Stats().Records.Load() == 100 })
	e.Deliver(appendPiece)
	e.Deliver(appendPiece) // refused again: the same piece, once warned
	if len(got) != 0 || e.Stats().RefusedAppends.Load() != 2 {
		t.Fatalf("refused: %d records appended, %d refusals", len(got), e.Stats().RefusedAppends.Load())
	}
	if e.pos.commit(time.Now()); func() bool { _, ok := e.pos.get("c1"); return ok }() {
		t.Fatal("positions advanced over refused records")
	}
	refuse = false
	waitUntil(t, "every line", func() bool { e.Deliver(appendPiece); return len(got) >= 100 })
	assertLines(t, logs(got, "c1", "stdout"), seq("line", 1, 100))
	if pieces < 3 {
		t.Fatalf("%d pieces; want them cut at chunk_max_size", pieces)
	}
	if n := strings.Count(out.String(), "Fluent Bit refused"); n != 1 || !strings.Contains(out.String(), "takes records again") {
		t.Fatalf("%d refusal warnings, want 1, and the end said:\n%s", n, out.String())
	}
}

// Following more containers through a local daemon's API than the kernel
// allows inotify instances is warned once: dockerd then polls their logs
// every 200 ms.
func TestEngineWarnsInotifyLimit(t *testing.T) {
	defer func(p string) { inotifyInstances = p }(inotifyInstances)
	inotifyInstances = filepath.Join(t.TempDir(), "max_user_instances")
	if err := os.WriteFile(inotifyInstances, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	api := newFakeAPI()
	e, out := startEngineLog(t, api, "read_from_head", "true")
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		api.run(id, id)
	}
	waitUntil(t, "four monitors", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.monitors) == 4
	})
	const warning = "more than fs.inotify.max_user_instances (2)"
	waitUntil(t, "the warning", func() bool { return strings.Contains(out.String(), warning) })
	if n := strings.Count(out.String(), warning); n != 1 {
		t.Fatalf("warned %d times", n)
	}
}

// A container dies while its followed stream is stalled (dockerd 20.10's
// follower, stuck on an entry it read half-written, keeps the stream open
// and silent): the stream is cut followEndGrace after the death, and the
// lines written before it arrive then, not at stream_idle_timeout.
func TestStalledFollowCutAfterDeath(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "stream_lifetime", "1m", "stream_idle_timeout", "1m")
	c := &collector{t: t, e: e}
	api.run("c1", "app")
	api.writeSeq("c1", docker.Stdout, "line", 1, 10)
	c.until("the first lines", c.count(10))
	api.mu.Lock()
	api.containers["c1"].stalled = true
	api.mu.Unlock()
	api.writeSeq("c1", docker.Stdout, "line", 11, 20)
	api.stop("c1")
	// Within 10 s: before stream_idle_timeout (1m).
	c.until("the lines written before the death", c.count(20))
	c.settle()
	assertLines(t, logs(c.recs, "app", "stdout"), seq("line", 1, 20))
}
