package engine

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Tests of source file and auto: containers' json-file logs read from disk
// (source.go), against the fake daemon's logs (fakeLog).

// warnings returns the engine's warning lines.
func warnings(out *lockedBuilder) []string {
	var ws []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "warn]") {
			ws = append(ws, l)
		}
	}
	return ws
}

// fileTestLines are lines json-file must carry as the API does: JSON's
// escapes, non-ASCII, an empty line, and lines about, at and past 16 KiB
// (dockerd's chunks, merged back by the reader; past max_line_size, cut).
func fileTestLines(round int) []string {
	return []string{
		fmt.Sprintf("r%d plain", round),
		fmt.Sprintf("r%d \"quoted\" back\\slash\ttab <b>&amp; é ✓ \u2028 \x01", round),
		"",
		fmt.Sprintf("r%d %s", round, strings.Repeat("a", jsonFileChunk-4)), // 16 KiB less 1: a TTY's \n alone in a second chunk
		fmt.Sprintf("r%d %s", round, strings.Repeat("b", jsonFileChunk-3)), // 16 KiB: the newline alone in a second chunk
		fmt.Sprintf("r%d %s", round, strings.Repeat("c", 2*jsonFileChunk+100)),
		fmt.Sprintf("r%d last", round),
	}
}

// Source file delivers what source api does: the same records (fields and
// stamps), once each, in order per stream, read from the file; after the
// first file stream the API's logs endpoint is not asked for that
// container again. The engine reading the API runs on a second fake fed
// the same entries, stamps included.
func TestSourceFileMatchesAPI(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprint("tty=", tty), func(t *testing.T) {
			viaAPI, viaFile := newFakeAPI(), newFakeAPI()
			viaFile.withJSONFiles(t, "")
			// A line past max_line_size is cut the same from both.
			eAPI := startEngine(t, viaAPI, "max_line_size", "20K")
			eFile, out := startEngineLog(t, viaFile, "source", "file", "max_line_size", "20K")
			cAPI, cFile := &collector{t: t, e: eAPI}, &collector{t: t, e: eFile}
			for _, api := range []*fakeAPI{viaAPI, viaFile} {
				api.create("c1", "web", tty)
				api.setRunning("c1", true)
			}
			if p := viaFile.logFile("c1"); p == "" {
				t.Fatal("the fake made no json-file log")
			}
			var apiCalls int
			n := 0
			for round := 0; round < 4; round++ {
				for i, l := range fileTestLines(round) {
					s := docker.Stdout
					if !tty && i%2 == 1 {
						s = docker.Stderr
					}
					ts := now()
					if i == 0 {
						ts = roundStamp()
					}
					viaAPI.writeAt("c1", s, l, ts)
					viaFile.writeAt("c1", s, l, ts)
					n++
				}
				cFile.until("the round's lines from the file", cFile.count(n))
				cAPI.until("the round's lines from the API", cAPI.count(n))
				if round == 0 {
					// The first stream, opened at the start, may go through
					// the API (guessLogPath); every one after is the file's.
					waitUntil(t, "a file stream", func() bool { return eFile.Stats().FileReads.Load() > 0 })
					if apiCalls = viaFile.logsCallsOf("c1"); apiCalls > 1 {
						t.Fatalf("%d logs requests before the first file stream", apiCalls)
					}
				}
				time.Sleep(20 * time.Millisecond) // read while following, not at once
			}
			cFile.settle()
			cAPI.settle()
			if len(cFile.recs) != n || len(cAPI.recs) != n {
				t.Fatalf("%d records from the file, %d from the API; want %d", len(cFile.recs), len(cAPI.recs), n)
			}
			for _, stream := range []string{"stdout", "stderr"} {
				f, a := byStream(cFile.recs, stream), byStream(cAPI.recs, stream)
				if len(f) != len(a) {
					t.Fatalf("%s: %d records from the file, %d from the API", stream, len(f), len(a))
				}
				for i := range f {
					if !reflect.DeepEqual(f[i], a[i]) {
						t.Fatalf("%s record %d differs:\nfile %s\napi  %s", stream, i, short(f[i]), short(a[i]))
					}
				}
			}
			if got := viaFile.logsCallsOf("c1"); got != apiCalls {
				t.Fatalf("the API's logs endpoint was asked %d times after the first file stream", got-apiCalls)
			}
			if eFile.Stats().FileReads.Load() == 0 || eFile.Stats().Truncated.Load() != 4 {
				t.Fatalf("%d file streams, %d lines truncated (want 4)", eFile.Stats().FileReads.Load(), eFile.Stats().Truncated.Load())
			}
			if raw, _ := os.ReadFile(viaFile.logFile("c1")); !shortStamp.Match(raw) {
				t.Fatal("no stamp in the log without its fraction's trailing zeros: roundStamp did not take")
			}
			if h := eFile.Health(); h.Sources["file"] != 1 || h.Sources["api"] != 0 {
				t.Fatalf("/health sources %v, want the container on file", h.Sources)
			}
			if ws := warnings(out); len(ws) > 0 {
				t.Fatalf("warnings: %q", ws)
			}
			t.Logf("%d records; %d file streams, %d logs requests", n, eFile.Stats().FileReads.Load(), apiCalls)
		})
	}
}

// shortStamp is a json-file "time" whose fraction's zeros were dropped.
var shortStamp = regexp.MustCompile(`"time":"[^"]*\.[0-9]{1,8}Z"`)

// roundStamp is a stamp of now() whose fraction ends in zeros, which
// RFC3339Nano drops in json-file's "time": whole milliseconds, not whole
// seconds (Podman's).
func roundStamp() int64 {
	clock.Lock()
	defer clock.Unlock()
	ts := (max(time.Now().UnixNano(), clock.last)/1e6 + 1) * 1e6
	if docker.WholeSecond(ts) {
		ts += 1e6
	}
	clock.last = ts
	return ts
}

func byStream(recs []decodedRecord, stream string) []decodedRecord {
	var out []decodedRecord
	for _, r := range recs {
		if r.Fields["stream"] == stream {
			out = append(out, r)
		}
	}
	return out
}

// short shows a record with its log cut, for a failure's message.
func short(r decodedRecord) string {
	f := map[string]any{}
	for k, v := range r.Fields {
		if s, ok := v.(string); ok && len(s) > 40 {
			v = fmt.Sprintf("%.40q...(%d bytes)", s, len(s))
		}
		f[k] = v
	}
	return fmt.Sprintf("%d %v", r.Time, f)
}

// A log rotated over and over (max-file 3), its reader behind the writer
// at each rotation, and over two rotations at once (paused): every line
// once, in order, from the file, and no gap. A rotation is made only once
// the reader has read what was written since the last one, so that none
// can be lost for real (max-file 3); rotations racing an open are
// TestSourceFileReopenRacingRotation's.
func TestSourceFileRotation(t *testing.T) {
	const keep = 3
	api, c, out := startFileEngine(t)
	e := c.e
	api.run("c1", "rot")
	next, errs := 1, 0
	write := func(n int) {
		for i := 0; i < n; i++ {
			api.write("c1", docker.Stdout, fmt.Sprintf("out %d", next))
			if next%3 == 0 {
				errs++
				api.write("c1", docker.Stderr, fmt.Sprintf("err %d", next))
			}
			next++
		}
	}
	written := func() int { return next - 1 + errs }
	caughtUp := func() {
		t.Helper()
		waitUntil(t, "the reader to catch up", func() bool {
			if buf := e.Collect(); buf != nil {
				c.recs = append(c.recs, decodeRecords(t, buf)...)
			}
			return len(c.recs) >= written()
		})
	}
	write(100)
	caughtUp()
	// The start's wake-up ends the first stream once it is at the end:
	// let its reopen be done before rotating.
	time.Sleep(100 * time.Millisecond)
	rotations := 0
	for r := 0; r < 8; r++ {
		write(150) // the reader reads them from the file being rotated
		api.rotateLog("c1", keep)
		rotations++
		write(50)
		caughtUp()
		if r == 3 { // the reader two files behind, reading the oldest
			e.Pause()
			write(100)
			api.rotateLog("c1", keep)
			write(100)
			api.rotateLog("c1", keep)
			rotations += 2
			write(50)
			time.Sleep(50 * time.Millisecond)
			e.Resume()
			caughtUp()
		}
	}
	c.settle()
	assertLines(t, logs(c.recs, "rot", "stdout"), seq("out", 1, next-1))
	var wantErr []string
	for i := 3; i < next; i += 3 {
		wantErr = append(wantErr, fmt.Sprintf("err %d", i))
	}
	assertLines(t, logs(c.recs, "rot", "stderr"), wantErr)
	s := e.Stats()
	if s.Gaps.Load() != 0 || api.logsCallsOf("c1") > 1 {
		t.Fatalf("%d gaps, %d logs requests", s.Gaps.Load(), api.logsCallsOf("c1"))
	}
	if ws := warnings(out); len(ws) > 0 {
		t.Fatalf("warnings: %q", ws)
	}
	t.Logf("%d lines, %d rotations; %d streams (%d of files), %d duplicates dropped",
		written(), rotations, s.Streams.Load(), s.FileReads.Load(), s.Duplicates.Load())
}

// Streams reopened by time while the log rotates (nothing is ever removed
// here: max-file 1000) lose nothing: a rotation renames every file, so a
// listing or an open by name that races it would hide a retained file or
// open a newer one in its place (the stream would start past its resume
// point), or fail and fall back to the API with a warning. Before the
// reader checked its listings and opens by inode, one run in three failed.
func TestSourceFileReopenRacingRotation(t *testing.T) {
	api, c, out := startFileEngine(t, "stream_lifetime", "10ms", "stream_idle_timeout", "10ms")
	e := c.e
	api.run("c1", "race")
	n := 0
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		api.writeSeq("c1", docker.Stdout, "line", n+1, n+5)
		n += 5
		api.rotateLog("c1", 1000)
		time.Sleep(time.Millisecond)
	}
	c.until("every line, or a gap", func(r []decodedRecord) bool { return len(r) >= n || e.Stats().Gaps.Load() > 0 })
	c.settle()
	assertLines(t, logs(c.recs, "race", "stdout"), seq("line", 1, n))
	if ws := warnings(out); len(ws) > 0 {
		t.Fatalf("warnings: %q", ws)
	}
}

// A log that becomes unreadable (the data-root's mount, here a symlink
// that docker_data_root maps the daemon's data-root to, goes away) is read
// through the API, with one warning naming the container; once readable
// again, from the file again. Every line once, in order.
func TestSourceFileSwitchesToAPIAndBack(t *testing.T) {
	const daemonRoot = "/var/lib/fake-docker"
	api := newFakeAPI()
	root := api.withJSONFiles(t, daemonRoot)
	link := filepath.Join(t.TempDir(), "docker")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	e, out := startEngineLog(t, api, "source", "file", "docker_data_root", daemonRoot+":"+link,
		"stream_lifetime", "100ms", "stream_idle_timeout", "100ms")
	c := &collector{t: t, e: e}
	api.run("c1", "app")
	api.writeSeq("c1", docker.Stdout, "line", 1, 20)
	c.until("the first lines", c.count(20))
	waitUntil(t, "a file stream", func() bool { return e.Stats().FileReads.Load() > 0 })
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	calls := api.logsCallsOf("c1")
	n := 20
	for ; n < 40 || api.logsCallsOf("c1") == calls; n++ { // until read through the API
		if n > 500 {
			t.Fatal("never read through the API")
		}
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d", n+1))
		time.Sleep(5 * time.Millisecond)
	}
	c.until("the lines while unreadable", c.count(n))
	fileReads := e.Stats().FileReads.Load()
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	start := n
	for ; n < start+20 || e.Stats().FileReads.Load() == fileReads; n++ { // until read from the file
		if n > start+500 {
			t.Fatal("never read from the file again")
		}
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d", n+1))
		time.Sleep(5 * time.Millisecond)
	}
	calls = api.logsCallsOf("c1")
	api.writeSeq("c1", docker.Stdout, "line", n+1, n+20)
	n += 20
	c.until("every line", c.count(n))
	c.settle()
	assertLines(t, logs(c.recs, "app", "stdout"), seq("line", 1, n))
	ws := warnings(out)
	if len(ws) != 1 || !strings.Contains(ws[0], "c1 (app)") || !strings.Contains(ws[0], "reading it through the API") {
		t.Fatalf("warnings %q, want one naming the container", ws)
	}
	if api.logsCallsOf("c1") != calls {
		t.Fatal("the API asked for lines once the file was read again")
	}
	if src := e.Health().Sources; src["file"] != 1 {
		t.Fatalf("/health sources %v, want the container on file", src)
	}
	t.Logf("%d lines; %d file streams, %d logs requests, %d duplicates dropped",
		n, e.Stats().FileReads.Load(), api.logsCallsOf("c1"), e.Stats().Duplicates.Load())
}

// A container whose log driver is not json-file is read through the API:
// silently under source auto, with one warning naming it and its driver
// under source file. A json-file container beside it is read from its
// file either way.
func TestSourceOtherLogDriver(t *testing.T) {
	for _, source := range []string{"auto", "file"} {
		t.Run(source, func(t *testing.T) {
			api := newFakeAPI()
			api.withJSONFiles(t, "")
			e, out := startEngineLog(t, api, "source", source, "status_listen", "127.0.0.1:0")
			c := &collector{t: t, e: e}
			api.runDriver("j1", "jour", "journald")
			api.run("f1", "file")
			tenLinesEach(t, api, c, "j1", "jour", "f1", "file")
			if api.logsCallsOf("j1") == 0 || api.logsCallsOf("f1") > 1 || e.Stats().FileReads.Load() == 0 {
				t.Fatalf("logs requests: %d for journald's, %d for json-file's; %d file streams",
					api.logsCallsOf("j1"), api.logsCallsOf("f1"), e.Stats().FileReads.Load())
			}
			if src := e.Health().Sources; src["api"] != 1 || src["file"] != 1 {
				t.Fatalf("/health sources %v, want one each", src)
			}
			fams := scrape(t, e.StatusAddr())
			for _, want := range []map[string]string{
				{"container_id": "j1", "container_name": "jour", "source": "api"},
				{"container_id": "f1", "container_name": "file", "source": "file"},
			} {
				if got := sumOf(fams, "docker_logs_container_source", want); got != 1 {
					t.Errorf("docker_logs_container_source%v = %v, want 1", want, got)
				}
			}
			if got := sumOf(fams, "docker_logs_container_source", nil); got != 2 {
				t.Errorf("docker_logs_container_source has %v series, want 2", got)
			}
			if got := sumOf(fams, "docker_logs_file_streams_opened_total", nil); got < 1 {
				t.Errorf("docker_logs_file_streams_opened_total = %v", got)
			}
			ws := warnings(out)
			switch {
			case source == "auto" && len(ws) != 0:
				t.Fatalf("warnings under source auto: %q", ws)
			case source == "file" && (len(ws) != 1 || !strings.Contains(ws[0], "j1 (jour)") || !strings.Contains(ws[0], "journald")):
				t.Fatalf("warnings %q, want one naming the container and its driver", ws)
			}
		})
	}
}

// tenLinesEach writes lines 1 to 10 on stdout to each container (ID, name
// pairs) and checks that each container's arrive once, in order.
func tenLinesEach(t *testing.T, api *fakeAPI, c *collector, idNames ...string) {
	t.Helper()
	for i := 0; i+1 < len(idNames); i += 2 {
		api.writeSeq(idNames[i], docker.Stdout, "line", 1, 10)
	}
	c.until("the lines", c.count(10*len(idNames)/2))
	c.settle()
	for i := 1; i < len(idNames); i += 2 {
		assertLines(t, logs(c.recs, idNames[i], "stdout"), seq("line", 1, 10))
	}
}

// startFileEngine starts an engine with source file (and the keys kv) on a
// fake daemon whose containers log to json-files, and a collector for it.
func startFileEngine(t *testing.T, kv ...string) (*fakeAPI, *collector, *lockedBuilder) {
	t.Helper()
	api := newFakeAPI()
	api.withJSONFiles(t, "")
	e, out := startEngineLog(t, api, append([]string{"source", "file"}, kv...)...)
	return api, &collector{t: t, e: e}, out
}

// A container's last lines, written after its follower last read them,
// then it stops (or stops and is removed at once): all delivered, once,
// over several runs.
func TestSourceFileStoppedContainerFinalLines(t *testing.T) {
	api, c, out := startFileEngine(t)
	e := c.e
	api.run("c1", "job")
	next := 1
	var wantErr []string
	write := func(n int) {
		for i := 0; i < n; i++ {
			api.write("c1", docker.Stdout, fmt.Sprintf("out %d", next))
			if next%4 == 0 {
				wantErr = append(wantErr, fmt.Sprintf("err %d", next))
				api.write("c1", docker.Stderr, wantErr[len(wantErr)-1])
			}
			next++
		}
	}
	total := func() int { return next - 1 + len(wantErr) }
	for run := 0; run < 4; run++ {
		if run > 0 {
			api.setRunning("c1", true)
		}
		write(10)
		c.until("the run's first lines", c.count(total()))
		waitUntil(t, "a file stream", func() bool { return e.Stats().FileReads.Load() > 0 })
		if run%2 == 1 {
			// The follower is held: it reads the last lines only after
			// the stop.
			e.Pause()
			write(20)
			api.stop("c1")
			time.Sleep(100 * time.Millisecond)
			e.Resume()
		} else {
			write(20)
			api.stop("c1")
		}
		c.until("the run's last lines", c.count(total()))
	}
	// The last run: stopped and removed at once (docker run --rm), its
	// follower held meanwhile.
	api.setRunning("c1", true)
	write(10)
	c.until("the last run's first lines", c.count(total()))
	e.Pause()
	write(20)
	api.stop("c1")
	api.destroy("c1")
	time.Sleep(100 * time.Millisecond)
	e.Resume()
	c.until("every line", c.count(total()))
	c.settle()
	assertLines(t, logs(c.recs, "job", "stdout"), seq("out", 1, next-1))
	assertLines(t, logs(c.recs, "job", "stderr"), wantErr)
	if ws := warnings(out); len(ws) > 0 {
		t.Fatalf("warnings: %q", ws)
	}
	t.Logf("%d lines; %d streams (%d of files), %d logs requests",
		total(), e.Stats().Streams.Load(), e.Stats().FileReads.Load(), api.logsCallCount())
}

// A long stdout line whose chunks are interleaved with those of a long
// stderr line that started before it, then a reopen (the stream idle)
// right after it: the reopened stream reads both again whole, and the
// stderr line's last chunk does not pass for a line of its own (a run of
// real dockerd and Fluent Bit 3.2.10 got such a piece of a 100 KB line).
func TestSourceFileReopenAfterInterleavedLongLines(t *testing.T) {
	api, c, out := startFileEngine(t, "stream_idle_timeout", "100ms")
	e := c.e
	api.run("c1", "app")
	api.write("c1", docker.Stdout, "first")
	c.until("the first line", c.count(1))
	errLine, outLine := "E"+strings.Repeat("e", jsonFileChunk+100), "O"+strings.Repeat("o", jsonFileChunk+200)
	for round := 1; round <= 3; round++ {
		api.writeInterleaved("c1", errLine, outLine)
		c.until("the long lines", c.count(1+2*round))
		streams := e.Stats().FileReads.Load()
		waitUntil(t, "two reopens", func() bool { return e.Stats().FileReads.Load() >= streams+2 })
	}
	api.write("c1", docker.Stdout, "last")
	c.until("the last line", c.count(8))
	c.settle()
	assertLines(t, logs(c.recs, "app", "stdout"), []string{"first", outLine, outLine, outLine, "last"})
	assertLines(t, logs(c.recs, "app", "stderr"), []string{errLine, errLine, errLine})
	if ws := warnings(out); len(ws) > 0 {
		t.Fatalf("warnings: %q", ws)
	}
}

// A container's last lines stamped after its FinishedAt (dockerd's copier
// lagging behind the process as it exits, on a loaded host), written and
// the container stopped while no engine read it: the next engine, resuming
// from the db, reads them although lines stamped past FinishedAt were
// delivered before. Through the API and from the file.
func TestStoppedContainerLinesStampedAfterExit(t *testing.T) {
	for _, source := range []string{"api", "file"} {
		t.Run(source, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "positions.db")
			api := newFakeAPI()
			api.withJSONFiles(t, "")
			api.run("c1", "app")
			lag := int64(3 * time.Second) // the copier's lag, stamped into the lines
			e1 := startEngine(t, api, "source", source, "db", db)
			c1 := &collector{t: t, e: e1, ack: true}
			write := func(from, to int) {
				for i := from; i <= to; i++ {
					api.writeAt("c1", docker.Stdout, fmt.Sprintf("line %d", i), now()+lag)
					api.writeAt("c1", docker.Stderr, fmt.Sprintf("err %d", i), now()+lag)
				}
			}
			write(1, 10)
			c1.until("20 lines", c1.count(20))
			c1.settle()
			e1.Stop()
			write(11, 15)  // while no engine reads
			api.stop("c1") // FinishedAt: now, before the lines' stamps
			e2 := startEngine(t, api, "source", source, "db", db)
			c2 := &collector{t: t, e: e2, ack: true}
			c2.until("the last lines", c2.count(10))
			c2.settle()
			assertLines(t, logs(c1.recs, "app", "stdout"), seq("line", 1, 10))
			assertLines(t, logs(c1.recs, "app", "stderr"), seq("err", 1, 10))
			assertLines(t, logs(c2.recs, "app", "stdout"), seq("line", 11, 15))
			assertLines(t, logs(c2.recs, "app", "stderr"), seq("err", 11, 15))
		})
	}
}

// Positions keep where the last acknowledged line starts in its json-file
// log: an engine started on the db resumes right there (one repeat, the
// anchor itself, however many lines share its last 100 ms), across a
// rotation made while no engine ran, without a line lost or repeated.
func TestSourceFilePositionsResume(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	api := newFakeAPI()
	api.withJSONFiles(t, "")
	api.run("c1", "app")

	e1 := startEngine(t, api, "source", "file", "db", db)
	c1 := &collector{t: t, e: e1, ack: true}
	api.write("c1", docker.Stdout, "line 1")
	time.Sleep(2 * time.Duration(resumeMargin)) // the file starts well before the anchor
	api.writeSeq("c1", docker.Stdout, "line", 2, 20)
	c1.until("20 lines", c1.count(20))
	api.writeSeq("c1", docker.Stdout, "line", 21, 30)
	waitUntil(t, "lines 21-30 handed over, not acknowledged", func() bool {
		return e1.Stats().Records.Load() == 30
	})
	if buf := e1.Collect(); buf == nil || len(decodeRecords(t, buf)) != 10 {
		t.Fatal("lines 21-30 were not handed over")
	}
	if e1.Stats().FileReads.Load() == 0 {
		t.Fatal("the first engine read no file")
	}
	e1.Stop()

	p, ok := openPositions(db, 0, NewLogger("t", conf.LevelError)).get("c1")
	if !ok || !p.anchor.valid || !p.anchor.pos.Valid() {
		t.Fatalf("the db holds no file position: %+v", p)
	}
	if got := entryAt(t, api.logFile("c1"), p.anchor.pos); !strings.HasPrefix(got, `{"log":"line 20\n"`) {
		t.Fatalf("the db's position %+v is at %q, want line 20's entry", p.anchor.pos, got)
	}

	api.writeSeq("c1", docker.Stdout, "line", 31, 35) // while down
	api.rotateLog("c1", 3)
	api.write("c1", docker.Stdout, "line 36")
	time.Sleep(2 * time.Duration(resumeMargin)) // see below
	api.writeSeq("c1", docker.Stdout, "line", 37, 40)
	calls := api.logsCallsOf("c1")
	e2 := startEngine(t, api, "source", "file", "db", db)
	c2 := &collector{t: t, e: e2, ack: true}
	c2.until("the rest", c2.count(20))
	c2.settle()
	assertLines(t, logs(c1.recs, "app", "stdout"), seq("line", 1, 20))
	assertLines(t, logs(c2.recs, "app", "stdout"), seq("line", 21, 40))
	s := e2.Stats()
	if s.FileReads.Load() == 0 || api.logsCallsOf("c1") != calls || s.Gaps.Load() != 0 {
		t.Fatalf("second engine: %d file streams, %d logs requests, %d gaps", s.FileReads.Load(), api.logsCallsOf("c1")-calls, s.Gaps.Load())
	}
	// Each file stream reads again only its anchor, at its position: by
	// time, it would read again every line of the anchor's last 100 ms
	// (lines 2-20 for the first). (A file that starts within 100 ms before
	// the anchor is read by time, see docker.fileReader.openAt: here the
	// current file starts long before line 40, in case the first stream
	// ends at once, as it does when the discovery's wake-up is pending.)
	if d, n := s.Duplicates.Load(), s.FileReads.Load(); d > n {
		t.Fatalf("%d lines read again in %d file streams; want one each, the anchor (resumed at its position, not by time)", d, n)
	}
}

// entryAt reads the json-file entry at pos, in path or a file rotated from
// it.
func entryAt(t *testing.T, path string, pos docker.FilePos) string {
	t.Helper()
	names, _ := filepath.Glob(path + "*")
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			continue
		}
		if id := fileID(fi); id != pos.File {
			continue
		}
		if _, err := f.Seek(pos.Offset, 0); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(f).ReadString('\n')
		return line
	}
	t.Fatalf("no file of %s has inode %d", path, pos.File.Ino)
	return ""
}

func fileID(fi os.FileInfo) docker.FileID {
	st := fi.Sys().(*syscall.Stat_t)
	return docker.FileID{Dev: uint64(st.Dev), Ino: st.Ino}
}

// Source auto, the default, reads json-file logs from disk when the
// daemon's containers directory can be read here; when it cannot, it reads
// them through the API and says so in one info line that names the mount
// that would let it read them.
func TestSourceAutoNamesTheMount(t *testing.T) {
	const daemonRoot = "/var/lib/fake-docker" // not on this machine
	for _, tc := range []struct {
		name     string
		dataRoot func(root string) string // docker_data_root, "" for none
		fromFile bool
		note     string // in the one info line; "" for none
	}{
		{"unmounted", func(string) string { return "" }, false, "-v /var/lib/fake-docker/containers:/var/lib/fake-docker/containers:ro"},
		{"mapped", func(root string) string { return daemonRoot + ":" + root }, true, ""},
		{"mapped-wrong", func(root string) string { return daemonRoot + ":" + root + "-nowhere" }, false, "docker_data_root maps it to "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			root := api.withJSONFiles(t, daemonRoot)
			var kv []string
			if dr := tc.dataRoot(root); dr != "" {
				kv = append(kv, "docker_data_root", dr)
			}
			e, out := startEngineLog(t, api, kv...)
			c := &collector{t: t, e: e}
			api.run("c1", "one")
			api.run("c2", "two")
			tenLinesEach(t, api, c, "c1", "one", "c2", "two")
			if got := e.Stats().FileReads.Load() > 0; got != tc.fromFile {
				t.Fatalf("read from files: %v, want %v", got, tc.fromFile)
			}
			var notes []string
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.Contains(l, "source auto: reading json-file logs through the API") {
					notes = append(notes, l)
				}
			}
			switch {
			case tc.note == "" && len(notes) != 0:
				t.Fatalf("notes %q, want none", notes)
			case tc.note != "" && (len(notes) != 1 || !strings.Contains(notes[0], "[ info]") || !strings.Contains(notes[0], tc.note)):
				t.Fatalf("notes %q, want one info line with %q", notes, tc.note)
			}
			if ws := warnings(out); len(ws) != 0 {
				t.Fatalf("warnings %q", ws)
			}
		})
	}
}
