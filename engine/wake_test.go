package engine

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/docker"
)

// instanceThread stands in for the instance's thread with the plugin's
// event collector: it runs DeliverWoken each time the engine fires, and
// fails the test when the engine fires again before the woken delivery
// began (at most one wake may be pending).
type instanceThread struct {
	t       *testing.T
	e       *Engine
	wakes   chan struct{}
	pending atomic.Bool
	recs    chan []decodedRecord
	pieces  atomic.Int64
	bytes   atomic.Int64 // appended by the last delivery
}

func newInstanceThread(t *testing.T, e *Engine) *instanceThread {
	it := &instanceThread{t: t, e: e, wakes: make(chan struct{}, 1), recs: make(chan []decodedRecord, 1<<16)}
	e.UseAppend(true)
	e.UseEvents(func() {
		if !it.pending.CompareAndSwap(false, true) {
			t.Errorf("the engine woke the collector again before the woken delivery began")
		}
		it.wakes <- struct{}{}
	})
	return it
}

// deliver runs one woken delivery, as the collector's callback does.
func (it *instanceThread) deliver() {
	it.pending.Store(false)
	it.bytes.Store(0)
	it.e.DeliverWoken(func(_ string, p []byte, n int) bool {
		recs := decodeRecords(it.t, p)
		if len(recs) != n {
			it.t.Errorf("a piece of %d records counted as %d", len(recs), n)
		}
		it.pieces.Add(1)
		it.bytes.Add(int64(len(p)))
		it.recs <- recs
		return true
	})
}

// run delivers at every wake until the test ends.
func (it *instanceThread) run() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	it.t.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-it.wakes:
				it.deliver()
			}
		}
	}()
}

// collect gathers the delivered records until n arrived.
func (it *instanceThread) collect(n int) []decodedRecord {
	it.t.Helper()
	var got []decodedRecord
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case r := <-it.recs:
			got = append(got, r...)
		case <-deadline:
			it.t.Fatalf("timed out with %d of %d records", len(got), n)
		}
	}
	return got
}

// Records reach Fluent Bit through the woken collector alone, with no
// collect at all: every line once, in order, in fewer wakes than lines.
func TestWokenDeliveryCarriesEveryLine(t *testing.T) {
	api := newFakeAPI()
	e, _ := startEngineLog(t, api, "read_from_head", "true")
	it := newInstanceThread(t, e)
	it.run()
	api.run("c1", "web")
	for i := 1; i <= 2000; i += 100 {
		api.writeSeq("c1", docker.Stdout, "line", i, i+99)
	}
	got := it.collect(2000)
	assertLines(t, logs(got, "web", "stdout"), seq("line", 1, 2000))
	if w := e.Wakes(); w == 0 || w >= 2000 {
		t.Fatalf("%d wakes for 2000 lines written in runs of 100", w)
	}
}

// Half the buffer held wakes the collector at once, whatever the delay
// for a trickle: the buffer must not fill before a wake.
func TestHalfBufferWakesAtOnce(t *testing.T) {
	defer func(d time.Duration) { wakeDelay = d }(wakeDelay)
	wakeDelay = time.Hour
	api := newFakeAPI()
	e, _ := startEngineLog(t, api, "read_from_head", "true", "buffer_max_size", "256K", "chunk_max_size", "64K")
	it := newInstanceThread(t, e)
	api.run("c1", "web")
	long := strings.Repeat("x", 500)
	for i := 1; i <= 400; i++ { // ~230 KB of records
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d %s", i, long))
	}
	select {
	case <-it.wakes:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake with %d bytes buffered", e.buf.Len())
	}
	if n := e.buf.Len(); n < 128000 {
		t.Fatalf("woken with %d bytes buffered, under half the buffer", n)
	}
}

// While the input is paused a woken delivery appends nothing and the
// positions stay; Resume wakes the collector, which then delivers all.
func TestWokenDeliveryWaitsWhilePaused(t *testing.T) {
	api := newFakeAPI()
	e, _ := startEngineLog(t, api, "read_from_head", "true")
	it := newInstanceThread(t, e)
	api.run("c1", "web")
	api.writeSeq("c1", docker.Stdout, "line", 1, 300)
	waitUntil(t, "the lines buffered", func() bool { return e.Stats().Records.Load() == 300 })
	<-it.wakes
	e.Pause()
	it.deliver()
	if n := it.pieces.Load(); n != 0 {
		t.Fatalf("%d pieces appended while paused", n)
	}
	e.Resume()
	select {
	case <-it.wakes:
	case <-time.After(10 * time.Second):
		t.Fatal("Resume did not wake the collector")
	}
	it.deliver()
	assertLines(t, logs(it.collect(300), "web", "stdout"), seq("line", 1, 300))
}

// One woken delivery appends at most deliverMax (and the piece that
// crosses it): a long callback would hold up Fluent Bit's pause. What is
// left wakes the collector again.
func TestWokenDeliveryIsBounded(t *testing.T) {
	defer func(d time.Duration) { wakeDelay = d }(wakeDelay)
	wakeDelay = time.Hour
	api := newFakeAPI()
	e, _ := startEngineLog(t, api, "read_from_head", "true")
	it := newInstanceThread(t, e)
	const lines = 3000 // ~3.5 MB of records
	bufferLongLines(t, api, e, lines)
	<-it.wakes
	it.deliver()
	if n := it.bytes.Load(); n > deliverMax+appendPieceMax || n < deliverMax/2 {
		t.Fatalf("one woken delivery appended %d bytes (bound %d)", n, deliverMax)
	}
	it.run()
	assertLongLines(t, it.collect(lines), lines)
}

// After a resume the appends ramp up: the first window allows rampStart
// (and the piece that crosses it), each later one twice the last, up to
// no limit.
func TestRampAfterResume(t *testing.T) {
	var r ramp
	t0 := time.Unix(1000, 0)
	if n, _ := r.allow(t0); n != math.MaxInt {
		t.Fatalf("no ramp allows %d", n)
	}
	r.begin(t0)
	if n, _ := r.allow(t0); n != rampStart {
		t.Fatalf("first window allows %d, want %d", n, rampStart)
	}
	r.took(rampStart)
	if n, at := r.allow(t0.Add(time.Millisecond)); n != 0 || !at.Equal(t0.Add(rampWindow)) {
		t.Fatalf("a spent window allows %d, more at %v", n, at)
	}
	if n, _ := r.allow(t0.Add(rampWindow)); n != 2*rampStart {
		t.Fatalf("second window allows %d, want %d", n, 2*rampStart)
	}
	if n, _ := r.allow(t0.Add(20 * rampWindow)); n != math.MaxInt {
		t.Fatalf("a ramp long past allows %d", n)
	}
}

// A woken delivery right after a resume appends no more than the ramp's
// first window; the rest follows in later windows, every line once.
func TestWokenDeliveryRampsAfterResume(t *testing.T) {
	api := newFakeAPI()
	e, _ := startEngineLog(t, api, "read_from_head", "true")
	it := newInstanceThread(t, e)
	const lines = 2500 // ~3 MB of records
	bufferLongLines(t, api, e, lines)
	<-it.wakes
	e.Pause()
	it.deliver() // paused: nothing
	resumed := time.Now()
	e.Resume()
	<-it.wakes
	it.deliver()
	// A loaded machine may take a window or more to get here: the bound
	// is the window's the delivery fell in.
	windows := int(time.Since(resumed) / rampWindow)
	if n := it.bytes.Load(); n == 0 || windows < 8 && n > rampStart<<windows+appendPieceMax {
		t.Fatalf("the first delivery after a resume appended %d bytes (ramp %d, %d windows on)", n, rampStart, windows)
	}
	it.run()
	assertLongLines(t, it.collect(lines), lines)
}

// bufferLongLines has container c1 ("web") write n lines of ~1 KB and
// waits until the engine buffered them all.
func bufferLongLines(t *testing.T, api *fakeAPI, e *Engine, n int) {
	t.Helper()
	api.run("c1", "web")
	long := strings.Repeat("x", 1000)
	for i := 1; i <= n; i++ {
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d %s", i, long))
	}
	waitUntil(t, "the lines buffered", func() bool { return e.Stats().Records.Load() == int64(n) })
}

// assertLongLines checks got is bufferLongLines' n lines, once, in order.
func assertLongLines(t *testing.T, got []decodedRecord, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d records for %d lines", len(got), n)
	}
	for i, r := range got {
		if want := fmt.Sprintf("line %d ", i+1); !strings.HasPrefix(r.Fields["log"].(string), want) {
			t.Fatalf("record %d is %.20q, want %q...", i, r.Fields["log"], want)
		}
	}
}
