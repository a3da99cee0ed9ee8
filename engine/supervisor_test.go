package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

func newTestSupervisor(t *testing.T, heartbeat time.Duration) (*supervisor, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	log := NewLogger("docker_logs.0", conf.LevelDebug)
	log.SetOutput(testWriter{t})
	s := newSupervisor(ctx, log, heartbeat)
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	return s, cancel
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A task that stops beating is cancelled and restarted; one that panics
// or fails is restarted; one that returns nil is done.
func TestSupervisorRestarts(t *testing.T) {
	expectPanics(t)
	s, _ := newTestSupervisor(t, 300*time.Millisecond)
	var stuckRuns, panicRuns, failRuns atomic.Int32
	s.start("stuck", func(ctx context.Context, tk *task) error {
		if stuckRuns.Add(1) <= 2 {
			<-ctx.Done() // no heartbeat until cancelled
			return nil
		}
		tk.wait(ctx, nil, 0)
		return nil
	})
	s.start("panics", func(ctx context.Context, tk *task) error {
		if panicRuns.Add(1) == 1 {
			panic("boom")
		}
		tk.wait(ctx, nil, 0)
		return nil
	})
	s.start("fails", func(ctx context.Context, tk *task) error {
		if failRuns.Add(1) == 1 {
			return errors.New("transient")
		}
		return nil
	})
	waitUntil(t, "restarts", func() bool { return stuckRuns.Load() >= 3 && panicRuns.Load() >= 2 && failRuns.Load() >= 2 })
	waitUntil(t, "the finished task to leave", func() bool { return len(s.status()) == 2 })
	st := s.status()
	want := map[string]string{"panics": "panic: boom", "stuck": errMissedHeartbeat.Error()}
	for _, ts := range st {
		if ts.LastError != want[ts.Name] || ts.Restarts == 0 {
			t.Errorf("%s: restarts %d, last error %q; want %q", ts.Name, ts.Restarts, ts.LastError, want[ts.Name])
		}
	}
	// A task that waits (and so beats) is never killed.
	time.Sleep(time.Second)
	for _, ts := range s.status() {
		if ts.State != TaskRunning {
			t.Errorf("%s is %s", ts.Name, ts.State)
		}
	}
	if n := stuckRuns.Load(); n != 3 {
		t.Errorf("the beating task was restarted again: %d runs", n)
	}
}

// With short stream lifetimes every line still arrives once, over many
// stream rotations, on both streams.
func TestEngineRotationsExactlyOnce(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "stream_lifetime", "20ms", "stream_idle_timeout", "20ms", "heartbeat_timeout", "2s")
	c := &collector{t: t, e: e}
	api.run("c1", "rot")
	const n = 3000
	go func() {
		for i := 1; i <= n; i++ {
			api.write("c1", docker.Stdout, fmt.Sprintf("out %d", i))
			api.write("c1", docker.Stderr, fmt.Sprintf("err %d", i))
			if i%20 == 0 { // over about 1.5 s: many lifetimes
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	c.until("every line", c.count(2*n))
	c.settle()
	assertLines(t, logs(c.recs, "rot", "stdout"), seq("out", 1, n))
	assertLines(t, logs(c.recs, "rot", "stderr"), seq("err", 1, n))
	if s := e.Stats().Streams.Load(); s < 10 {
		t.Fatalf("only %d streams opened: no rotation happened", s)
	}
	t.Logf("%d streams, %d duplicates dropped", e.Stats().Streams.Load(), e.Stats().Duplicates.Load())
}

// A reopen whose tail bound does not reach back to the last delivered line
// is widened, and nothing is lost or repeated.
func TestEngineWidensTail(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	api.run("c1", "wide")
	api.writeSeq("c1", docker.Stdout, "line", 1, 10)
	api.setRunning("c1", false)
	c.until("the first lines", c.count(10))
	// Lines the monitor has not seen, more than the tail bound, then a start.
	api.mu.Lock()
	for i := 11; i <= 5000; i++ {
		api.containers["c1"].entries = append(api.containers["c1"].entries, fakeEntry{docker.Stdout, now(), fmt.Sprintf("line %d", i)})
	}
	api.mu.Unlock()
	api.setRunning("c1", true)
	c.until("all lines", c.count(5000))
	c.settle()
	assertLines(t, logs(c.recs, "wide", "stdout"), seq("line", 1, 5000))
	if e.Stats().Widened.Load() == 0 {
		t.Fatal("the tail bound was never widened")
	}
}

// A stream that stalls (here: the fake has no idle deadline) stops the
// monitor's heartbeat; the monitor is restarted and capture resumes.
func TestEngineRestartsStalledMonitor(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "stream_lifetime", "100ms", "stream_idle_timeout", "100ms", "heartbeat_timeout", "300ms")
	c := &collector{t: t, e: e}
	api.run("c1", "stall")
	api.write("c1", docker.Stdout, "line 1")
	c.until("line 1", c.count(1))
	waitUntil(t, "a restart of the stalled monitor", func() bool {
		for _, ts := range e.Status() {
			if ts.Name == "monitor c1" && ts.Restarts > 0 && ts.LastError == errMissedHeartbeat.Error() {
				return true
			}
		}
		return false
	})
	api.write("c1", docker.Stdout, "line 2")
	c.until("line 2", c.count(2))
	c.settle()
	assertLines(t, logs(c.recs, "stall", "stdout"), seq("line", 1, 2))
}

// A container quiet since the engine started, with a long log before it:
// every reopen asks only for the last entries (no scan of the whole log),
// nothing old is delivered, and its next line arrives once.
func TestEngineQuietContainerReopensBounded(t *testing.T) {
	api := newFakeAPI()
	api.run("c1", "quiet")
	api.writeSeq("c1", docker.Stdout, "before", 1, 5000)
	time.Sleep(2 * time.Duration(resumeMargin))
	e := startEngine(t, api)
	c := &collector{t: t, e: e}
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 3; i++ { // stops and starts: a final read and a reopen each
		api.setRunning("c1", false)
		time.Sleep(50 * time.Millisecond)
		api.setRunning("c1", true)
		time.Sleep(50 * time.Millisecond)
	}
	api.write("c1", docker.Stdout, "after 1")
	c.until("the new line", c.count(1))
	c.settle()
	assertLines(t, logs(c.recs, "quiet", "stdout"), []string{"after 1"})
	api.mu.Lock()
	calls := append([]docker.LogsOptions(nil), api.logsCalls...)
	api.mu.Unlock()
	if len(calls) < 4 {
		t.Fatalf("%d logs requests, want a reopen per start", len(calls))
	}
	for i, o := range calls {
		if o.Tail == 0 || o.Tail > tailInitial {
			t.Errorf("request %d asked for tail=%d since=%d: an unbounded scan", i, o.Tail, o.Since)
		}
	}
}
