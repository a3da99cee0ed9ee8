package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// hostRuns is a sequence of test hosts sharing one db, as Fluent Bit
// restarted over and over on one machine.
type hostRuns struct {
	t    *testing.T
	d    *dockertest.Daemon
	db   string
	args []string
	runs []*host
}

func newHostRuns(t *testing.T, d *dockertest.Daemon, kv ...string) *hostRuns {
	db := filepath.Join(t.TempDir(), "positions.db")
	args := append([]string{"--interval-ms", "200"}, instanceArgs(d.Host(), append([]string{"db=" + db}, kv...)...)...)
	h := &hostRuns{t: t, d: d, db: db, args: args}
	for _, a := range kv {
		if a == "source=file" {
			t.Cleanup(h.assertReadFromFile)
		}
	}
	return h
}

// keyValues turns key, value pairs into key=value arguments.
func keyValues(kv []string) []string {
	var out []string
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, kv[i]+"="+kv[i+1])
	}
	return out
}

// assertReadFromFile checks that lines were read from json-file logs: the
// positions name the file and offset of what was delivered last.
func (h *hostRuns) assertReadFromFile() {
	raw, err := os.ReadFile(h.db)
	if err != nil {
		h.t.Errorf("source file: %v", err)
		return
	}
	var db struct {
		Containers map[string]struct {
			Anchor *struct {
				File *struct{ Inode uint64 }
			}
		}
	}
	if err := json.Unmarshal(raw, &db); err != nil {
		h.t.Errorf("source file: db: %v", err)
		return
	}
	for _, c := range db.Containers {
		if c.Anchor != nil && c.Anchor.File != nil && c.Anchor.File.Inode != 0 {
			return
		}
	}
	h.t.Errorf("source file: no position in the db names a log file: %s", raw)
}

func (h *hostRuns) start() *host {
	r := startHost(h.t, h.args...)
	r.waitLog("connected to docker", 30*time.Second)
	h.runs = append(h.runs, r)
	return r
}

// records is what every run delivered, in order.
func (h *hostRuns) records() []record {
	var out []record
	for _, r := range h.runs {
		out = append(out, r.records()...)
	}
	return out
}

// cycle, n times: waits every, ends the current run with end, leaves it
// down half a second (the containers go on writing), and starts another.
func (h *hostRuns) cycle(n int, every time.Duration, end func(*host)) {
	for i := 0; i < n; i++ {
		time.Sleep(every)
		end(h.runs[len(h.runs)-1])
		time.Sleep(500 * time.Millisecond)
		h.start()
	}
}

// duplicates counts records delivered more than once, checking none of the
// reference is missing and nothing foreign arrived.
func countDuplicates(t *testing.T, recs []record, ref []dockerLine, id string) int {
	t.Helper()
	want := map[dockerLine]int{}
	for _, l := range ref {
		want[l]++
	}
	got := map[dockerLine]int{}
	for _, r := range ofContainer(recs, id) {
		k := dockerLine{r.str("stream"), r.str("log"), r.Time}
		if want[k] == 0 {
			t.Fatalf("record not in docker logs: %+v", k)
		}
		got[k]++
	}
	dups := 0
	for k, n := range want {
		if got[k] < n {
			t.Fatalf("line lost: %+v", k)
		}
		dups += got[k] - n
	}
	return dups
}

// runSteady starts containers writing at a steady rate for about d.
func runSteady(t *testing.T, d *dockertest.Daemon, name string, n, rate int, dur time.Duration, opts ...string) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		id, err := d.Run(dockertest.Run{Name: fmt.Sprintf("%s-%d%s", name, i, suffix()), Options: opts,
			Args: []string{"-n", fmt.Sprint(int(dur.Seconds()) * rate / 2), "-stream", "both", "-rate", fmt.Sprint(rate)}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		t.Cleanup(func() { d.Remove(id) })
	}
	return ids
}

// Fluent Bit stopped (SIGTERM) and started again 5 times during a steady
// load, with db set: nothing lost, nothing repeated.
func TestRestartsWithDBExactlyOnce(t *testing.T) {
	eachSource(t, testRestartsWithDBExactlyOnce)
}

func testRestartsWithDBExactlyOnce(t *testing.T, source ...string) {
	d := needDocker(t)
	runs := newHostRuns(t, d, keyValues(source)...)
	runs.start()
	ids := runSteady(t, d, "restart-db", 2, 400, 30*time.Second)
	runs.cycle(5, 4*time.Second, (*host).stop)
	for _, id := range ids {
		d.Wait(id)
	}
	for _, id := range ids {
		_, ref := awaitEveryLineOnce(t, d, runs, id)
		t.Logf("container %.12s: %d lines over %d runs of the host, each once", id, len(ref), len(runs.runs))
	}
}

// Fluent Bit killed (SIGKILL) twice: nothing lost; what is repeated is at
// most what was taken since the last commit (db.commit_delay, default 1s,
// plus db.sync_interval, default 1s).
func TestKillWithDBLosesNothing(t *testing.T) {
	eachSource(t, testKillWithDBLosesNothing)
}

func testKillWithDBLosesNothing(t *testing.T, source ...string) {
	d := needDocker(t)
	runs := newHostRuns(t, d, keyValues(source)...)
	runs.start()
	ids := runSteady(t, d, "kill-db", 2, 400, 20*time.Second)
	runs.cycle(2, 5*time.Second, (*host).kill)
	for _, id := range ids {
		d.Wait(id)
	}
	total := 0
	for _, id := range ids {
		recs, ref := awaitLines(t, d, runs, id)
		dups := countDuplicates(t, recs, ref, id)
		t.Logf("container %.12s: %d lines, none lost, %d delivered twice after the kills", id, len(ref), dups)
		total += dups
	}
	// At 400 lines/s per container: at most (2 s + 1 s + a collect) of
	// lines per container and kill.
	if limit := 2 * 2 * 400 * 4; total > limit {
		t.Errorf("%d duplicates after 2 kills: more than the %d taken since the last commits", total, limit)
	}
}

// A container whose log rotated away while Fluent Bit was down: a warning
// names it and the span, and every line the daemon still holds arrives.
func TestGapReportedAfterRotation(t *testing.T) {
	eachSource(t, testGapReportedAfterRotation)
}

func testGapReportedAfterRotation(t *testing.T, source ...string) {
	d := needDocker(t)
	runs := newHostRuns(t, d, keyValues(source)...)
	first := runs.start()
	id, err := d.Run(dockertest.Run{Name: "gap" + suffix(), Options: []string{"--log-opt", "max-size=20k", "--log-opt", "max-file=2"},
		Args: []string{"-n", "4000", "-rate", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	first.waitFor("the first lines", 30*time.Second, countOf(id, 100))
	// Frozen while the first run stops, so that the rest (3,000 lines and
	// more) pass through the 40 KB of log while no run reads it.
	if _, err := d.Docker("pause", id); err != nil {
		t.Fatal(err)
	}
	first.stop()
	if _, err := d.Docker("unpause", id); err != nil {
		t.Fatal(err)
	}
	d.Wait(id)
	second := runs.start()
	second.waitLog("are no longer held by the daemon", 30*time.Second)
	if !strings.Contains(second.output.String(), id[:12]) {
		t.Fatalf("the gap warning does not name the container:\n%s", second.output.String())
	}
	awaitEveryLineOnce(t, d, second, id) // what the daemon still holds
}

// Fluent Bit paused for 15 s while 20 containers write 500 lines/s each
// (the 8M buffer fills in two seconds, the backlog grows to 150,000 lines):
// the plugin's memory stays under buffer_max_size plus a fixed overhead,
// and after Resume every line arrives exactly once.
func TestPauseBoundsMemoryAndLosesNothing(t *testing.T) {
	eachSource(t, testPauseBoundsMemoryAndLosesNothing)
}

func testPauseBoundsMemoryAndLosesNothing(t *testing.T, source ...string) {
	d := needDocker(t)
	const bufferMax = 8 << 20
	pause := 15 * time.Second
	h := startHost(t, append([]string{"--interval-ms", "200"}, instanceArgs(d.Host(), append(keyValues(source), "buffer_max_size=8M")...)...)...)
	h.waitLog("connected to docker", 30*time.Second)
	ids := runSteady(t, d, "pause", 20, 500, pause+10*time.Second)
	time.Sleep(5 * time.Second)
	before := rss(t, h.cmd.Process.Pid)
	h.cmd.Process.Signal(syscall.SIGUSR1)
	peak := before
	for start := time.Now(); time.Since(start) < pause; time.Sleep(time.Second) {
		peak = max(peak, rss(t, h.cmd.Process.Pid))
	}
	h.cmd.Process.Signal(syscall.SIGUSR2)
	t.Logf("RSS %.1f MiB before the pause, peak %.1f MiB during it; buffer_max_size %.1f MiB",
		mib(before), mib(peak), mib(bufferMax))
	if peak > before+bufferMax+32<<20 {
		t.Errorf("peak RSS %.1f MiB: more than %.1f MiB before + buffer_max_size + 32 MiB", mib(peak), mib(before))
	}
	for _, id := range ids {
		d.Wait(id)
	}
	perStream := int((pause + 10*time.Second).Seconds()) * 500 / 2
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, errs := checkSequences(t, h.out, ids, perStream)
		if len(errs) > 0 {
			t.Fatal(strings.Join(errs, "\n"))
		}
		if got == len(ids)*2*perStream {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines after the resume", got, len(ids)*2*perStream)
		}
		time.Sleep(time.Second)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// rss reads a process's resident memory.
func rss(t *testing.T, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// checkSequences streams the host's records file and checks the loggen
// lines of the given containers arrive once each, in order per stream; it
// returns how many arrived so far.
func checkSequences(t *testing.T, path string, ids []string, perStream int) (int, []string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mine := map[string]bool{}
	for _, id := range ids {
		mine[id] = true
	}
	next := map[string]int{}
	var errs []string
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var r struct {
			Record struct {
				Log, Stream string
				ID          string `json:"container_id"`
			} `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			break // a line being written
		}
		if !mine[r.Record.ID] {
			continue
		}
		var stream, tag string
		var seq int
		fmt.Sscanf(r.Record.Log, "%s %s %d", &stream, &tag, &seq)
		key := r.Record.ID + " " + r.Record.Stream
		if stream != r.Record.Stream || seq != next[key]+1 {
			if len(errs) < 5 {
				errs = append(errs, fmt.Sprintf("%.12s %s: line %q where %d was due", r.Record.ID, r.Record.Stream, r.Record.Log, next[key]+1))
			}
		}
		next[key] = seq
		n++
	}
	return n, errs
}

// A hot reload (fluent-bit -Y, then SIGHUP) stops the instances and starts
// new ones: with db, they resume exactly where the old ones stopped.
func TestHotReloadResumesExactly(t *testing.T) {
	d := needDocker(t)
	db := filepath.Join(t.TempDir(), "positions.db")
	h := startHost(t, append([]string{"-Y", "--interval-ms", "200"}, instanceArgs(d.Host(), "db="+db)...)...)
	h.waitLog("connected to docker", 30*time.Second)
	ids := runSteady(t, d, "reload", 2, 400, 15*time.Second)
	for i := 0; i < 2; i++ {
		time.Sleep(4 * time.Second)
		h.cmd.Process.Signal(syscall.SIGHUP)
		h.waitLog(fmt.Sprintf("reload: generation %d running", i+1), 30*time.Second)
	}
	for _, id := range ids {
		d.Wait(id)
	}
	for _, id := range ids {
		recs, ref := awaitEveryLineOnce(t, d, h, id)
		for _, r := range ofContainer(recs, id) {
			if r.Instance != "docker_logs.0" {
				t.Fatalf("a record from instance %q: the reloaded instance must be docker_logs.0 again", r.Instance)
			}
		}
		t.Logf("container %.12s: %d lines across 2 hot reloads, each once", id, len(ref))
	}
}

// A db written while reading through the API (source api) is resumed
// exactly by runs reading the json-file logs (source auto): upgrading the
// source over a db loses and repeats nothing.
func TestDBFromAPIResumedByAuto(t *testing.T) {
	d := needDocker(t)
	runs := newHostRuns(t, d, "source=api")
	runs.start()
	ids := runSteady(t, d, "upgrade-db", 2, 400, 16*time.Second)
	time.Sleep(4 * time.Second)
	for i, a := range runs.args {
		if a == "source=api" {
			runs.args[i] = "source=auto"
		}
	}
	runs.cycle(2, 4*time.Second, (*host).stop) // api -> auto, auto -> auto
	for _, id := range ids {
		d.Wait(id)
	}
	for _, id := range ids {
		_, ref := awaitEveryLineOnce(t, d, runs, id)
		t.Logf("container %.12s: %d lines over a run through the API and two from its file, each once", id, len(ref))
	}
	runs.runs[len(runs.runs)-1].stop() // its positions written at exit
	runs.assertReadFromFile()
}
