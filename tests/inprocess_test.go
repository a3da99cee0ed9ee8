package tests

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ugorji/go/codec"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/engine"
	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// engineRun is an engine in this test process on the real Docker client,
// collected every 100 ms as Fluent Bit would (faster than its 1 s, so the
// tests' loads fit the default chunk_max_size), with its records decoded.
// In-process, the tests can also watch its goroutines and heap.
type engineRun struct {
	t    *testing.T
	e    *engine.Engine
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	recs []record
	// seq, when set, checks records as they come instead of keeping them,
	// so a long load keeps the test's own memory flat.
	seq *seqChecker
}

func runEngine(t *testing.T, d *dockertest.Daemon, kv ...string) *engineRun {
	t.Helper()
	return runEngineOn(t, d.Host(), nil, kv...)
}

// runEngineOn runs the engine on any daemon address, logging to logOut
// (stderr when nil).
func runEngineOn(t *testing.T, host string, logOut io.Writer, kv ...string) *engineRun {
	t.Helper()
	// The API unless the test names a source: the default (auto) reads
	// json-file logs from disk here, which the tests naming source file or
	// auto cover, and Fluent Bit's at its defaults (fluentbit_test.go).
	m := conf.Map{"docker_host": host, "source": "api"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	cfg, err := conf.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	api, err := engine.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := engine.NewLogger("docker_logs.0", cfg.PluginLogLevel)
	if logOut == nil {
		logOut = os.Stderr
	}
	log.SetOutput(panicWatch{t, logOut})
	r := &engineRun{t: t, e: engine.New(cfg, "docker_logs.0", api, log), stop: make(chan struct{}), done: make(chan struct{})}
	r.e.Start()
	go r.collect()
	t.Cleanup(r.close)
	if cfg.Source == conf.SourceFile {
		t.Cleanup(func() {
			if r.e.Stats().FileReads.Load() == 0 {
				t.Error("source file: no log was read from its file")
			}
		})
	}
	return r
}

// eachSource runs a test once per source key value: lines through the API,
// and from json-file logs on disk.
func eachSource(t *testing.T, test func(t *testing.T, source ...string)) {
	for _, s := range []string{"api", "file"} {
		t.Run(s, func(t *testing.T) { test(t, "source", s) })
	}
}

// panicWatch passes the engine's log on, and fails the test on a recovered
// panic: a defect the supervisor hides, not normal operation.
type panicWatch struct {
	t *testing.T
	w io.Writer
}

func (p panicWatch) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("panicked")) {
		p.t.Errorf("the engine recovered a panic: %s", b)
	}
	return p.w.Write(b)
}

func (r *engineRun) collect() {
	defer close(r.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		for buf := r.e.Collect(); buf != nil; buf = r.e.Collect() {
			recs := decodeBuffer(buf)
			r.mu.Lock()
			if r.seq != nil {
				for _, rec := range recs {
					r.seq.check(rec)
				}
			} else {
				r.recs = append(r.recs, recs...)
			}
			r.mu.Unlock()
		}
	}
}

func (r *engineRun) close() {
	select {
	case <-r.stop:
		return
	default:
	}
	close(r.stop)
	<-r.done
	r.e.Stop()
}

func (r *engineRun) records() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.recs...)
}

func (r *engineRun) waitFor(what string, timeout time.Duration, ok func([]record) bool) []record {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := r.records()
		if ok(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %s waiting for %s (%d records so far)", timeout, what, len(recs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// decodeBuffer decodes a collect buffer as Fluent Bit would read it; a
// malformed buffer panics the test (the engine's own tests check the
// encoding in detail).
func decodeBuffer(buf []byte) []record {
	var h codec.MsgpackHandle
	h.RawToString = true
	dec := codec.NewDecoderBytes(buf, &h)
	var out []record
	for dec.NumBytesRead() < len(buf) {
		var rec []any
		if err := dec.Decode(&rec); err != nil {
			panic(fmt.Sprintf("undecodable collect buffer: %v", err))
		}
		ext := rec[0].(codec.RawExt)
		sec, nsec := binary.BigEndian.Uint32(ext.Data), binary.BigEndian.Uint32(ext.Data[4:])
		fields := map[string]any{}
		for k, v := range rec[1].(map[any]any) {
			fields[k.(string)] = v
		}
		out = append(out, record{Instance: "docker_logs.0", Time: fmt.Sprintf("%d.%09d", sec, nsec), Record: fields})
	}
	return out
}

// seqChecker checks loggen's lines ("<stream> <tag> <seq>") arrive on
// their stream, each exactly once and in order, per container, for the
// containers whose name starts with prefix (the daemon may be shared).
type seqChecker struct {
	prefix string
	next   map[string]int // container ID + stream -> next expected seq
	lines  int
	errors []string
}

func newSeqChecker(prefix string) *seqChecker {
	return &seqChecker{prefix: prefix, next: map[string]int{}}
}

func (c *seqChecker) check(r record) {
	if !strings.HasPrefix(r.str("container_name"), c.prefix) {
		return
	}
	c.lines++
	var stream, tag string
	var n int
	if _, err := fmt.Sscanf(r.str("log"), "%s %s %d", &stream, &tag, &n); err != nil || stream != r.str("stream") {
		c.fail("foreign or misrouted line %q on %s", r.str("log"), r.str("stream"))
		return
	}
	key := r.str("container_id") + " " + stream
	want := c.next[key] + 1
	if n != want {
		c.fail("container %.12s %s: line %d where %d was due (lost or repeated)", r.str("container_id"), stream, n, want)
	}
	c.next[key] = n
}

func (c *seqChecker) fail(format string, args ...any) {
	if len(c.errors) < 10 {
		c.errors = append(c.errors, fmt.Sprintf(format, args...))
	}
}

// progress returns the lines checked and the highest seq of one stream.
func (r *engineRun) progress(id, stream string) (lines, seq int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq.lines, r.seq.next[id+" "+stream]
}

func (r *engineRun) seqErrors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seq.errors...)
}

// usage samples the process's goroutines and heap.
type usage struct {
	goroutines int
	heapMiB    float64
}

func sampleUsage() usage {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{runtime.NumGoroutine(), float64(ms.HeapAlloc) / (1 << 20)}
}

// assertFlat checks goroutines and heap did not grow across a run: the last
// samples against the first ones after warm-up (a leak per rotation would
// add hundreds of goroutines).
func assertFlat(t *testing.T, samples []usage) {
	t.Helper()
	if len(samples) < 3 {
		t.Fatalf("only %d samples", len(samples))
	}
	first, last := samples[1], samples[len(samples)-1]
	for _, s := range samples {
		t.Logf("goroutines %d, heap %.1f MiB", s.goroutines, s.heapMiB)
	}
	if last.goroutines > first.goroutines+10 {
		t.Errorf("goroutines grew from %d to %d", first.goroutines, last.goroutines)
	}
	if last.heapMiB > 2*first.heapMiB+16 {
		t.Errorf("heap grew from %.1f to %.1f MiB", first.heapMiB, last.heapMiB)
	}
}
