package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// startEngineLog is startEngine with the engine's log kept for the test.
func startEngineLog(t *testing.T, api docker.API, kv ...string) (*Engine, *lockedBuilder) {
	t.Helper()
	out := &lockedBuilder{}
	log := NewLogger("docker_logs.0", conf.LevelDebug)
	log.SetOutput(io.MultiWriter(out, testWriter{t}))
	e := New(testConfig(t, kv...), "docker_logs.0", api, log)
	e.Start()
	t.Cleanup(e.Stop)
	awaitListed(t, e, api)
	return e, out
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Positions advance only with acknowledged collects: after a stop, a new
// engine on the same db delivers exactly what was not acknowledged, and
// what came since, once.
func TestPositionsResumeAfterRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	api.run("c1", "app")

	e1 := startEngine(t, api, "db", db)
	c1 := &collector{t: t, e: e1, ack: true}
	api.writeSeq("c1", docker.Stdout, "line", 1, 20)
	c1.until("20 lines", c1.count(20))
	api.writeSeq("c1", docker.Stdout, "line", 21, 30)
	time.Sleep(100 * time.Millisecond)
	if buf := e1.Collect(); buf == nil || len(decodeRecords(t, buf)) != 10 {
		t.Fatal("lines 21-30 were not handed over")
	} // and never acknowledged: Fluent Bit did not take them
	e1.Stop()

	for i := 31; i <= 40; i++ { // written while the plugin is down
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d", i))
	}
	e2 := startEngine(t, api, "db", db)
	c2 := &collector{t: t, e: e2, ack: true}
	c2.until("the rest", c2.count(20))
	c2.settle()
	assertLines(t, logs(c1.recs, "app", "stdout"), seq("line", 1, 20))
	assertLines(t, logs(c2.recs, "app", "stdout"), seq("line", 21, 40))
}

// A db that cannot be parsed is set aside with one clear error, and the
// plugin starts without positions.
func TestPositionsCorruptDB(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "positions.db")
	os.WriteFile(db, []byte("{not json"), 0o644)
	api := newFakeAPI()
	e, log := startEngineLog(t, api, "db", db)
	c := &collector{t: t, e: e, ack: true}
	api.run("c1", "app")
	api.write("c1", docker.Stdout, "line 1")
	c.until("a line", c.count(1))
	aside, _ := filepath.Glob(db + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("corrupt db not set aside: %v", aside)
	}
	if got, _ := os.ReadFile(aside[0]); string(got) != "{not json" {
		t.Fatalf("the set-aside file was changed: %q", got)
	}
	if !strings.Contains(log.String(), "[error]") || !strings.Contains(log.String(), "set aside as") {
		t.Fatalf("no clear error:\n%s", log.String())
	}
	e.Stop()
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("no new db written at exit: %v", err)
	}
}

// Lines rotated away while the plugin was down: a warning names the
// container and the span, the gap is counted, and what the daemon still
// holds is delivered.
func TestPositionsReportGap(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	api.run("c1", "rotated")
	e1 := startEngine(t, api, "db", db)
	c1 := &collector{t: t, e: e1, ack: true}
	api.writeSeq("c1", docker.Stdout, "line", 1, 10)
	c1.until("10 lines", c1.count(10))
	e1.Stop()
	api.writeSeq("c1", docker.Stdout, "line", 11, 3000)
	api.mu.Lock() // the daemon keeps only the last 1000 lines
	c := api.containers["c1"]
	c.entries = append([]fakeEntry(nil), c.entries[2000:]...)
	api.mu.Unlock()

	e2, log := startEngineLog(t, api, "db", db)
	c2 := &collector{t: t, e: e2, ack: true}
	c2.until("what the daemon still holds", c2.count(1000))
	c2.settle()
	assertLines(t, logs(c2.recs, "rotated", "stdout"), seq("line", 2001, 3000))
	if e2.Stats().Gaps.Load() != 1 || !strings.Contains(log.String(), "are no longer held by the daemon") {
		t.Fatalf("gaps %d; log:\n%s", e2.Stats().Gaps.Load(), log.String())
	}
}

// Positions of containers not seen for the grace period are dropped when
// the db is written; others are kept however old their last line.
func TestPositionsGracePeriod(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	log := NewLogger("docker_logs.0", conf.LevelError)
	p := openPositions(db, 0, log)
	p.ack([]mark{{id: "gone", stream: 1, time: 1, hash: 1, anchor: true}, {id: "quiet", stream: 2, time: 2, hash: 2, anchor: true}})
	p.commit(time.Now())
	p.containers["gone"].seen = time.Now().Add(-positionsGrace - time.Minute).UnixNano()
	p.containers["quiet"].seen = time.Now().Add(-positionsGrace - time.Minute).UnixNano()
	p.touch([]string{"quiet"}) // still exists, only quiet
	if err := p.save(); err != nil {
		t.Fatal(err)
	}
	q := openPositions(db, 0, log)
	if _, ok := q.get("gone"); ok {
		t.Error("the position of a container gone for longer than the grace period was kept")
	}
	pos, ok := q.get("quiet")
	if !ok || pos.cursors[2].time != 2 || !pos.anchor.is(2, 2, 2) {
		t.Errorf("the quiet container's position was not kept whole: %+v, %v", pos, ok)
	}
}

// committed reports whether db holds a position of container id.
func committed(db, id string) bool {
	p, ok := openPositions(db, 0, NewLogger("t", conf.LevelError)).get(id)
	return ok && p.anchor.valid
}

// Positions are committed to the db only db.commit_delay after Fluent Bit
// took the records (it holds them in memory meanwhile): a crash before
// that repeats them instead of losing them. A clean exit commits all.
func TestPositionsCommitDelay(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	api.run("c1", "app")
	e := startEngine(t, api, "db", db, "db.sync_interval", "10ms", "db.commit_delay", "2s")
	c := &collector{t: t, e: e, ack: true}
	api.write("c1", docker.Stdout, "line 1")
	c.until("line 1", c.count(1))
	time.Sleep(200 * time.Millisecond)
	if committed(db, "c1") {
		t.Fatalf("position committed %s after the ack, before db.commit_delay", 200*time.Millisecond)
	}
	waitUntil(t, "the commit", func() bool { return committed(db, "c1") })
	api.write("c1", docker.Stdout, "line 2")
	c.until("line 2", c.count(2))
	e.Stop() // a clean exit commits at once
	p, _ := openPositions(db, 0, NewLogger("t", conf.LevelError)).get("c1")
	if p.cursors[docker.Stdout].time != p.anchor.time || !p.anchor.valid {
		t.Fatalf("the clean exit did not commit the last line: %+v", p)
	}
}

// A db that cannot be written is said once, not at every db.sync_interval;
// its repeats are held back like any other.
func TestPositionsWriteFailureLoggedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	api := newFakeAPI()
	api.run("c1", "app")
	e, out := startEngineLog(t, api, "db", filepath.Join(dir, "positions.db"), "db.sync_interval", "20ms", "db.commit_delay", "0s")
	c := &collector{t: t, e: e, ack: true}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d", i))
		c.until("the line", c.count(i))
		time.Sleep(60 * time.Millisecond) // three sync intervals, each with a new ack
	}
	if n := strings.Count(out.String(), "writing positions"); n != 1 {
		t.Fatalf("the failing write was logged %d times, want once:\n%s", n, out.String())
	}
}

// While Fluent Bit has paused the input, what was appended just before the
// pause is still in its ring buffer: no position is committed until the
// resume, and then only db.commit_delay after it.
func TestPositionsHeldWhilePaused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	api.run("c1", "app")
	e := startEngine(t, api, "db", db, "db.sync_interval", "10ms", "db.commit_delay", "300ms")
	c := &collector{t: t, e: e, ack: true}
	api.write("c1", docker.Stdout, "line 1")
	c.until("line 1", c.count(1))
	e.Pause()
	time.Sleep(600 * time.Millisecond) // twice db.commit_delay, paused
	if committed(db, "c1") {
		t.Fatal("a position committed while the input was paused")
	}
	e.Resume()
	resumed := time.Now()
	waitUntil(t, "the commit after the resume", func() bool { return committed(db, "c1") })
	if d := time.Since(resumed); d < 300*time.Millisecond {
		t.Fatalf("committed %s after the resume, before db.commit_delay", d)
	}
}

// A db written before hashes were xxHash holds FNV-1a's, with no "hash"
// mark: its containers resume exactly, hashed as their positions are, and
// keep FNV-1a while new containers get xxHash.
func TestPositionsLegacyFNVHashes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	api.run("c1", "app")
	e1 := startEngine(t, api, "db", db, "db.sync_interval", "10ms", "db.commit_delay", "0s")
	c1 := &collector{t: t, e: e1, ack: true}
	api.writeSeq("c1", docker.Stdout, "line", 1, 20)
	c1.until("20 lines", c1.count(20))
	c1.settle()
	e1.Stop()

	// The same db as the plugin wrote it before: FNV-1a hashes, no mark.
	f := readDB(t, db)
	toFNV := map[uint64]uint64{}
	for i := 1; i <= 20; i++ {
		line := []byte(fmt.Sprintf("line %d", i))
		toFNV[hashLine(line)] = hashLineFNV(line)
	}
	c := f.Containers["c1"]
	if c.Hash != dbHashXXH64 || len(c.Stdout.Hashes) == 0 || c.Anchor == nil {
		t.Fatalf("the db's position: %+v", c)
	}
	for i, h := range c.Stdout.Hashes {
		if c.Stdout.Hashes[i] = toFNV[h]; toFNV[h] == 0 {
			t.Fatalf("hash %x is no line's", h)
		}
	}
	c.Anchor.Hash, c.Hash = toFNV[c.Anchor.Hash], ""
	f.Containers["c1"] = c
	raw, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	api.writeSeq("c1", docker.Stdout, "line", 21, 30)
	api.run("c2", "new")
	api.writeSeq("c2", docker.Stdout, "new", 1, 5)
	e2 := startEngine(t, api, "db", db, "db.sync_interval", "10ms", "db.commit_delay", "0s", "read_from_head", "true")
	c2 := &collector{t: t, e: e2, ack: true}
	c2.until("the rest", c2.count(15))
	c2.settle()
	assertLines(t, logs(c2.recs, "app", "stdout"), seq("line", 21, 30))
	assertLines(t, logs(c2.recs, "new", "stdout"), seq("new", 1, 5))
	e2.Stop()
	if f = readDB(t, db); f.Containers["c1"].Hash != "" || f.Containers["c2"].Hash != dbHashXXH64 {
		t.Fatalf("hash marks: c1 %q (FNV-1a: none), c2 %q", f.Containers["c1"].Hash, f.Containers["c2"].Hash)
	}
}

// readDB parses the db file at path.
func readDB(t *testing.T, path string) dbFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f dbFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// With a db, a restart skips nothing written between the runs: a container
// the first run followed but had no line of yet, and one created while no
// run was up, are read from their first line by the second run (without
// the db's watched time, both would count as already running at its start,
// and be read from there).
func TestPositionsRestartReadsWhatNoRunDelivered(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	e1 := startEngine(t, api, "db", db)
	api.run("c1", "quiet-then") // followed by the first run, never wrote
	time.Sleep(50 * time.Millisecond)
	e1.Stop()
	api.writeSeq("c1", docker.Stdout, "line", 1, 10)
	api.run("c2", "while-down")
	api.writeSeq("c2", docker.Stdout, "line", 1, 10)
	time.Sleep(10 * time.Millisecond)
	e2 := startEngine(t, api, "db", db)
	c2 := &collector{t: t, e: e2, ack: true}
	c2.until("20 lines", c2.count(20))
	c2.settle()
	assertLines(t, logs(c2.recs, "quiet-then", "stdout"), seq("line", 1, 10))
	assertLines(t, logs(c2.recs, "while-down", "stdout"), seq("line", 1, 10))
}
