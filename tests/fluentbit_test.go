package tests

// The plugin in real Fluent Bit (../shared/fluent-bit: 5.1.1 and 3.2.10,
// built from their release tags), reading the test daemon, its records
// written by out_file: one file per tag, each line "tag: [time, {record}]".

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// fluentBits are the versions the suite runs the plugin in: the env var
// naming one, and its directory under ../shared/fluent-bit.
var fluentBits = map[string]struct{ env, dir string }{
	"5.1.1":  {"FLUENT_BIT", "v5.1.1"},
	"3.2.10": {"FLUENT_BIT_3", "v3.2.10"},
}

// needFluentBit returns the Fluent Bit of a version: $FLUENT_BIT (5.1.1) or
// $FLUENT_BIT_3, then ../shared/fluent-bit, then fluent-bit on PATH when it
// is that version. Without one it fails under CI and skips elsewhere.
func needFluentBit(t *testing.T, version string) string {
	t.Helper()
	fb, ok := fluentBits[version]
	if !ok {
		t.Fatalf("no Fluent Bit %s known to the suite", version)
	}
	if bin := os.Getenv(fb.env); bin != "" {
		return bin
	}
	bin := filepath.Join(filepath.Dir(repoRoot), "shared", "fluent-bit", fb.dir, "fluent-bit")
	if st, err := os.Stat(bin); err == nil && st.Mode()&0o111 != 0 {
		return bin
	}
	if bin, err := exec.LookPath("fluent-bit"); err == nil {
		if out, _ := exec.Command(bin, "--version").Output(); strings.Contains(string(out), "v"+version) {
			return bin
		}
	}
	msg := fmt.Sprintf("no Fluent Bit %s: set %s, or build it into %s as ../shared/fluent-bit/README.md says, or put it on PATH",
		version, fb.env, bin)
	if dockertest.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// fbConf builds a classic Fluent Bit config: [SERVICE] with a short flush,
// then the sections added.
type fbConf struct{ b strings.Builder }

func newFBConf(service ...string) *fbConf {
	c := &fbConf{}
	return c.section("SERVICE", append([]string{"flush", "0.2", "grace", "10", "log_level", "info"}, service...)...)
}

// section adds one section of key, value pairs.
func (c *fbConf) section(kind string, kv ...string) *fbConf {
	fmt.Fprintf(&c.b, "[%s]\n", kind)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&c.b, "    %s %s\n", kv[i], kv[i+1])
	}
	c.b.WriteString("\n")
	return c
}

// docker adds a docker_logs input reading host.
func (c *fbConf) docker(host string, kv ...string) *fbConf {
	return c.section("INPUT", append([]string{"name", "docker_logs", "docker_host", host}, kv...)...)
}

// file adds an out_file output: a file per tag under dir.
func (c *fbConf) file(dir, match string) *fbConf {
	return c.section("OUTPUT", "name", "file", "match", match, "path", dir, "mkdir", "on")
}

// write saves the config in dir and returns its path.
func (c *fbConf) write(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("fluent-bit-%d.conf", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(c.b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fluentBit is one running Fluent Bit with the plugin loaded (-e).
type fluentBit struct{ *proc }

// startFluentBit runs bin with the config at conf and more arguments; its
// grace is 10 s (newFBConf), so stop waits 30 s.
func startFluentBit(t *testing.T, bin, conf string, args ...string) *fluentBit {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-e", filepath.Join(repoRoot, "build/docker_logs.so"), "-c", conf}, args...)...)
	return &fluentBit{startProc(t, "Fluent Bit", 30*time.Second, cmd)}
}

// peakRSS is Fluent Bit's VmHWM in MiB, while it runs.
func (fb *fluentBit) peakRSS() float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", fb.cmd.Process.Pid))
	var kb float64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			fmt.Sscan(strings.TrimPrefix(l, "VmHWM:"), &kb)
		}
	}
	return kb / 1024
}

// fileOut is what out_file wrote under a directory: every file, each line
// "tag: [seconds.nanoseconds, {record}]". It is a recordSource.
type fileOut struct {
	t   *testing.T
	dir string
}

func (o fileOut) records() []record {
	o.t.Helper()
	files, err := filepath.Glob(filepath.Join(o.dir, "*"))
	if err != nil {
		o.t.Fatal(err)
	}
	sort.Strings(files)
	var out []record
	for _, f := range files {
		out = append(out, readFileOut(o.t, f)...)
	}
	return out
}

// readFileOut reads one out_file file. A line still being written (no
// newline yet) is not read.
func readFileOut(t *testing.T, path string) []record {
	t.Helper()
	var out []record
	for _, line := range writtenLines(t, path) {
		r, err := parseFileOutLine(line)
		if err != nil {
			// A Fluent Bit killed with SIGKILL mid-write leaves its last
			// line cut short, and the next one writes on after it: the
			// record cut short is dropped (its chunk was never flushed, so
			// it is flushed again after the restart), the whole one read.
			r, err = tornFileOutLine(line, out)
		}
		if err != nil {
			t.Fatalf("out_file wrote a line that is not \"tag: [time, {record}]\" (%v): %.200s", err, line)
		}
		out = append(out, r)
	}
	return out
}

// parseFileOutLine parses one line of out_file: "tag: [time, {record}]".
func parseFileOutLine(line []byte) (record, error) {
	tag, rest, ok := bytes.Cut(line, []byte(": ["))
	if !ok {
		return record{}, errors.New(`no ": ["`)
	}
	var entry []json.RawMessage
	if err := json.Unmarshal(append([]byte("["), rest...), &entry); err != nil {
		return record{}, err
	}
	if len(entry) != 2 {
		return record{}, fmt.Errorf("%d elements", len(entry))
	}
	r := record{Tag: string(tag), Time: string(entry[0])}
	if err := json.Unmarshal(entry[1], &r.Record); err != nil {
		return record{}, err
	}
	return r, nil
}

// tornFileOutLine reads the whole line written on after one cut short: it
// starts at a tag, the cut line's own or one read before, followed by ": [".
func tornFileOutLine(line []byte, before []record) (record, error) {
	tags := map[string]bool{}
	if tag, _, ok := bytes.Cut(line, []byte(": [")); ok {
		tags[string(tag)] = true
	}
	for _, r := range before {
		tags[r.Tag] = true
	}
	for tag := range tags {
		at := bytes.LastIndex(line, []byte(tag+": ["))
		if at > 0 {
			if r, err := parseFileOutLine(line[at:]); err == nil {
				return r, nil
			}
		}
	}
	return parseFileOutLine(line)
}

// waitRecords polls src until ok holds, failing after timeout.
func waitRecords(t *testing.T, src recordSource, what string, timeout time.Duration, ok func([]record) bool) []record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := src.records()
		if ok(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (%d records so far)", timeout, what, len(recs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// seqTally counts loggen's lines ("<stream> <tag> <seq>") of the containers
// whose name starts with prefix: per container ID and stream, how many
// times each seq arrived. Fluent Bit may flush chunks out of order (a
// retried chunk), so order is not checked here.
type seqTally struct {
	counts  map[string]map[int]int // container ID + " " + stream -> seq -> times
	foreign []string
}

func tallySeqs(recs []record, prefix string) seqTally {
	s := seqTally{counts: map[string]map[int]int{}}
	for _, r := range recs {
		if !strings.HasPrefix(r.str("container_name"), prefix) {
			continue
		}
		var stream, tag string
		var n int
		if _, err := fmt.Sscanf(r.str("log"), "%s %s %d", &stream, &tag, &n); err != nil || stream != r.str("stream") {
			if len(s.foreign) < 5 {
				s.foreign = append(s.foreign, fmt.Sprintf("%q on %s", r.str("log"), r.str("stream")))
			}
			continue
		}
		key := r.str("container_id") + " " + stream
		if s.counts[key] == nil {
			s.counts[key] = map[int]int{}
		}
		s.counts[key][n]++
	}
	return s
}

// complete says whether every stream of ids has seqs 1..n.
func (s seqTally) complete(ids []string, n int) bool {
	for _, id := range ids {
		for _, stream := range []string{"stdout", "stderr"} {
			if len(s.counts[id+" "+stream]) < n {
				return false
			}
		}
	}
	return true
}

// check reports lines lost (a seq of 1..n never arrived) and, unless
// repeatsAllowed, lines repeated; it returns the repeats.
func (s seqTally) check(t *testing.T, ids []string, n int, repeatsAllowed bool) int {
	t.Helper()
	if len(s.foreign) > 0 {
		t.Errorf("lines that are not loggen's on their stream: %s", strings.Join(s.foreign, ", "))
	}
	repeats := 0
	for _, id := range ids {
		for _, stream := range []string{"stdout", "stderr"} {
			c := s.counts[id+" "+stream]
			var lost, twice []int
			for seq := 1; seq <= n; seq++ {
				switch {
				case c[seq] == 0:
					lost = append(lost, seq)
				case c[seq] > 1:
					twice = append(twice, seq)
					repeats += c[seq] - 1
				}
			}
			for seq := range c {
				if seq < 1 || seq > n {
					t.Errorf("container %.12s %s: line %d, beyond the %d written", id, stream, seq, n)
				}
			}
			if len(lost) > 0 {
				t.Errorf("container %.12s %s: %d of %d lines lost, first %v", id, stream, len(lost), n, lost[:min(len(lost), 10)])
			}
			if len(twice) > 0 && !repeatsAllowed {
				t.Errorf("container %.12s %s: %d lines delivered more than once, first %v", id, stream, len(twice), twice[:min(len(twice), 10)])
			}
		}
	}
	return repeats
}

// awaitSeqs waits up to timeout for every line of ids (n per stream) to
// arrive, gives a late repeat a second to show, and checks: nothing lost,
// and nothing repeated unless repeatsAllowed. It returns the repeats.
func awaitSeqs(t *testing.T, src recordSource, prefix string, ids []string, n int, timeout time.Duration, repeatsAllowed bool) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !tallySeqs(src.records(), prefix).complete(ids, n) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	return tallySeqs(src.records(), prefix).check(t, ids, n, repeatsAllowed)
}

// scrape reads a Prometheus text page: the value of each series.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	// No keep-alive: a connection left open is a goroutine of the server's
	// (TestFluentBitHotReload counts them).
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	values := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		var v float64
		if _, err := fmt.Sscan(l[i+1:], &v); err == nil && i > 0 {
			values[l[:i]] = v
		}
	}
	return values
}

// sumSeries adds the values of every series of a metric, whatever its
// labels.
func sumSeries(values map[string]float64, metric string) float64 {
	sum := 0.0
	for series, v := range values {
		if name, _, _ := strings.Cut(series, "{"); name == metric {
			sum += v
		}
	}
	return sum
}

// fbConnected is what the plugin logs in Fluent Bit's log once it has
// listed the containers.
var fbConnected = regexp.MustCompile(`\[input:docker_logs:[^\]]+\] connected to docker at`)

// waitConnected waits for n inputs to have connected.
func (fb *fluentBit) waitConnected(n int) {
	fb.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(fbConnected.FindAllString(fb.output.String(), -1)) < n {
		select {
		case <-fb.done:
			fb.t.Fatalf("Fluent Bit exited (%v) before the plugin started", fb.err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			fb.t.Fatalf("%d inputs never logged that they connected", n)
		}
	}
}

// runAll starts the containers and removes them at the test's end.
func runAll(t *testing.T, d *dockertest.Daemon, runs ...dockertest.Run) []string {
	t.Helper()
	var ids []string
	for _, r := range runs {
		id, err := d.Run(r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		t.Cleanup(func() { d.Remove(id) })
	}
	return ids
}

// waitAll waits for the containers to exit.
func waitAll(t *testing.T, d *dockertest.Daemon, ids []string) {
	t.Helper()
	for _, id := range ids {
		if err := d.Wait(id); err != nil {
			t.Fatal(err)
		}
	}
}

// loggen is a container of prefix+name writing n lines per stream on both
// streams at rate lines/s in all, with more docker run options.
func loggen(name string, n, rate int, opts ...string) dockertest.Run {
	return dockertest.Run{Name: name, Options: opts,
		Args: []string{"-n", fmt.Sprint(n), "-stream", "both", "-rate", fmt.Sprint(rate)}}
}

// Capture in real Fluent Bit: a container on both streams, a TTY one, and
// one writing 100 KB lines (Docker splits them at 16 KiB): every line once,
// with Docker's timestamp and the container's metadata, under the tag of
// tag_template; an output matching one container's tag gets its records
// and nothing else.
func TestFluentBitCapture(t *testing.T) {
	for _, v := range []string{"5.1.1", "3.2.10"} {
		t.Run(v, func(t *testing.T) { testFluentBitCapture(t, needFluentBit(t, v)) })
	}
}

func testFluentBitCapture(t *testing.T, bin string) {
	d := needDocker(t)
	prefix := "fbcap" + suffix() + "-"
	dir := t.TempDir()
	all, routed := filepath.Join(dir, "all"), filepath.Join(dir, "tty")
	conf := newFBConf().
		docker(d.Host(), "tag_template", "docker.{container_name}", "include_names", prefix+"*").
		file(all, "docker.*").
		file(routed, "docker."+prefix+"tty").
		write(t, dir)
	fb := startFluentBit(t, bin, conf)
	fb.waitConnected(1)
	runs := []dockertest.Run{
		loggen(prefix+"plain", 300, 600),
		{Name: prefix + "tty", TTY: true, Args: []string{"-n", "300", "-rate", "600"}},
		{Name: prefix + "long", Args: []string{"-n", "20", "-stream", "both", "-size", "100000"}},
	}
	ids := runAll(t, d, runs...)
	waitAll(t, d, ids)
	src := fileOut{t, all}
	// docker logs -t stamps each 16 KiB piece of a long line: the long
	// lines are checked by their sequence numbers and length instead.
	for i, id := range ids[:2] {
		recs, ref := awaitLines(t, d, src, id)
		assertExactlyOnce(t, recs, ref, id, runs[i].Name)
	}
	long := ids[2:]
	awaitSeqs(t, src, prefix+"long", long, 20, time.Minute, false)
	recs := src.records()
	for _, r := range ofContainer(recs, long[0]) {
		if l := r.str("log"); len(l) != 100000 {
			t.Fatalf("a long line of %d bytes, want 100000: %.60s...", len(l), l)
		}
	}
	for i, id := range ids {
		for _, r := range ofContainer(recs, id) {
			if r.Tag != "docker."+runs[i].Name {
				t.Fatalf("a record of %s under the tag %q", runs[i].Name, r.Tag)
			}
		}
	}
	if got := (fileOut{t, routed}).records(); len(got) != 300 || len(ofContainer(got, ids[1])) != 300 {
		t.Errorf("the output matching docker.%stty got %d records, %d of them the TTY container's; want its 300 alone",
			prefix, len(got), len(ofContainer(got, ids[1])))
	}
	fb.stop()
}

// Exactly once in real Fluent Bit, reading a daemon with --live-restore:
// streams reopened every 200 ms; two containers whose json-file rotates
// every 100 KB (each line checked by its sequence number, as the daemon
// keeps only the last files); two containers restarted 5 times, then the
// daemon killed (-9) and restarted twice while they write (checked against
// what the daemon holds: a daemon killed with -9 may itself drop the lines
// it was copying). With source api and source file.
func TestFluentBitExactlyOnce(t *testing.T) {
	bin := needFluentBit(t, "5.1.1")
	for _, source := range []string{"api", "file"} {
		t.Run(source, func(t *testing.T) { testFluentBitExactlyOnce(t, bin, source) })
	}
}

func testFluentBitExactlyOnce(t *testing.T, bin, source string) {
	needDocker(t)
	d := killableDaemon(t)
	prefix := "fbonce" + suffix() + "-"
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	conf := newFBConf().
		docker(d.Host(), "source", source, "include_names", prefix+"*", "stream_lifetime", "200ms",
			"stream_idle_timeout", "200ms", "heartbeat_timeout", "10s").
		file(out, "*").
		write(t, dir)
	fb := startFluentBit(t, bin, conf)
	fb.waitConnected(1)
	const rotN = 5000 // per stream: 10 s at 1,000 lines/s
	rotating := runAll(t, d,
		loggen(prefix+"rot-0", rotN, 1000, "--log-opt", "max-size=100k", "--log-opt", "max-file=3"),
		loggen(prefix+"rot-1", rotN, 1000, "--log-opt", "max-size=100k", "--log-opt", "max-file=3"))
	steady := runAll(t, d, loggen(prefix+"steady-0", 1000000, 400), loggen(prefix+"steady-1", 1000000, 400))
	for round := 0; round < 5; round++ {
		time.Sleep(time.Second)
		for _, id := range steady {
			if _, err := d.Docker("restart", "-t", "0", id); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitAll(t, d, rotating)
	src := fileOut{t, out}
	awaitSeqs(t, src, prefix+"rot-", rotating, rotN, 2*time.Minute, false)
	for killed := 0; killed < 2; killed++ {
		time.Sleep(3 * time.Second)
		if err := d.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second)
	for _, id := range steady {
		if _, err := d.Docker("stop", "-t", "0", id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range steady {
		_, ref := awaitEveryLineOnce(t, d, src, id)
		t.Logf("container %.12s: %d lines over 6 runs and 2 daemon kills, each once", id, len(ref))
	}
	tallySeqs(src.records(), prefix+"rot-").check(t, rotating, rotN, false) // no late repeat
	fb.stop()
}

// db across restarts of real Fluent Bit while two containers write: three
// SIGTERMs lose and repeat nothing; three SIGKILLs with storage.type
// filesystem lose nothing (a crash repeats what was read after the last
// commit, db.commit_delay; the repeats are logged).
func TestFluentBitDB(t *testing.T) {
	bin := needFluentBit(t, "5.1.1")
	t.Run("sigterm", func(t *testing.T) { testFluentBitDB(t, bin, false) })
	t.Run("sigkill", func(t *testing.T) { testFluentBitDB(t, bin, true) })
}

func testFluentBitDB(t *testing.T, bin string, crash bool) {
	d := needDocker(t)
	prefix := "fbdb" + suffix() + "-"
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var service, input []string
	if crash {
		service = []string{"storage.path", filepath.Join(dir, "storage")}
		input = []string{"storage.type", "filesystem"}
	}
	conf := newFBConf(service...).
		docker(d.Host(), append([]string{"db", filepath.Join(dir, "positions.db"), "include_names", prefix + "*"}, input...)...).
		file(out, "*").
		write(t, dir)
	fb := startFluentBit(t, bin, conf)
	fb.waitConnected(1)
	const n = 2400 // per stream: 12 s at 400 lines/s
	ids := runAll(t, d, loggen(prefix+"0", n, 400), loggen(prefix+"1", n, 400))
	for i := 0; i < 3; i++ {
		time.Sleep(2 * time.Second)
		if crash {
			fb.kill()
		} else {
			fb.stop()
		}
		time.Sleep(500 * time.Millisecond)
		fb = startFluentBit(t, bin, conf)
		fb.waitConnected(1)
	}
	waitAll(t, d, ids)
	src := fileOut{t, out}
	repeats := awaitSeqs(t, src, prefix, ids, n, 2*time.Minute, crash)
	t.Logf("%d lines across 3 restarts, %d of them repeated", 2*2*n, repeats)
	fb.stop()
}

// An output outage in real Fluent Bit: out_forward to a port nobody listens
// on for 12 s, with mem_buf_limit 2M, while four containers write; then a
// receiver starts. Fluent Bit pauses the input, and every line arrives
// once. Fluent Bit's peak RSS is logged (the goal is in BENCHMARKS.md).
func TestFluentBitOutage(t *testing.T) {
	bin := needFluentBit(t, "5.1.1")
	d := needDocker(t)
	prefix := "fbout" + suffix() + "-"
	dir := t.TempDir()
	port := fmt.Sprint(freePort(t))
	conf := newFBConf("scheduler.base", "1", "scheduler.cap", "2").
		docker(d.Host(), "include_names", prefix+"*", "mem_buf_limit", "2M").
		section("OUTPUT", "name", "forward", "match", "*", "host", "127.0.0.1", "port", port, "retry_limit", "no_limits").
		write(t, dir)
	fb := startFluentBit(t, bin, conf)
	fb.waitConnected(1)
	const n = 6000 // per stream: 20 s at 600 lines/s
	var runs []dockertest.Run
	for i := 0; i < 4; i++ {
		runs = append(runs, loggen(fmt.Sprintf("%s%d", prefix, i), n, 600))
	}
	ids := runAll(t, d, runs...)
	time.Sleep(12 * time.Second)
	out := filepath.Join(dir, "out")
	startFluentBit(t, bin, newFBConf().
		section("INPUT", "name", "forward", "listen", "127.0.0.1", "port", port).
		file(out, "*").
		write(t, dir))
	waitAll(t, d, ids)
	src := fileOut{t, out}
	awaitSeqs(t, src, prefix, ids, n, 3*time.Minute, false)
	if !strings.Contains(fb.output.String(), "docker_logs.0 paused (mem buf overlimit") {
		t.Errorf("Fluent Bit never paused the input: the outage did not reach mem_buf_limit")
	}
	t.Logf("%d lines once; Fluent Bit's peak RSS %.1f MiB", 4*2*n, fb.peakRSS())
	fb.stop()
}

// killableDaemon is a daemon of the test's own (--live-restore), beside
// the shared one: a test kills it. Its directory follows the shared one's
// (DL_DOCKER_DIR + "-kill"), so that suites run side by side (two dockerd
// versions) do not share it.
func killableDaemon(t *testing.T) *dockertest.Daemon {
	t.Helper()
	dir := os.Getenv("DL_DOCKER_DIR")
	if dir == "" {
		dir = dockertest.DefaultDir
	}
	d, err := dockertest.SetupConfig(dockertest.Config{Dir: dir + "-kill", ExtraArgs: "--live-restore"})
	if err != nil {
		t.Fatal(err) // the shared daemon started: this one must too
	}
	t.Cleanup(func() { d.Teardown() })
	return d
}

// Fluent Bit's log_file gets the plugin's lines at each input's log_level,
// and nothing of them goes to stderr; Fluent Bit's HTTP server serves the
// plugin's figures beside its own, per input. At the defaults (source
// auto) a log is read from its file; an input that cannot see the
// daemon's containers directory reads through the API and names the mount
// in one info line.
func TestFluentBitLogFileAndMetrics(t *testing.T) {
	bin := needFluentBit(t, "5.1.1")
	d := needDocker(t)
	name := "fbmetered" + suffix()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "fluent-bit.log")
	port := fmt.Sprint(freePort(t))
	root, err := d.Docker("info", "-f", "{{.DockerRootDir}}")
	if err != nil {
		t.Fatal(err)
	}
	conf := newFBConf("log_file", logFile, "http_server", "on", "http_listen", "127.0.0.1", "http_port", port).
		docker(d.Host(), "alias", "metered", "tag", "metered", "include_names", name, "read_from_head", "true").
		// At warn, the input of a daemon that is not there says so, and
		// nothing at info.
		docker("unix://"+filepath.Join(dir, "nothing.sock"), "alias", "lost", "log_level", "warn").
		// The daemon's containers directory seen through a mount that is
		// not there: read through the API, and the mount named.
		docker(d.Host(), "alias", "unmounted", "tag", "unmounted", "include_names", name, "read_from_head", "true",
			"docker_data_root", root+":"+filepath.Join(dir, "unmounted")).
		file(filepath.Join(dir, "out"), "metered").
		file(filepath.Join(dir, "unmounted"), "unmounted").
		write(t, dir)
	fb := startFluentBit(t, bin, conf)
	const lines = 500
	id := runAll(t, d, dockertest.Run{Name: name, Args: []string{"-n", fmt.Sprint(lines), "-rate", "500"}})[0]
	waitRecords(t, fileOut{t, filepath.Join(dir, "out")}, "every line", time.Minute, countOf(id, lines))
	waitRecords(t, fileOut{t, filepath.Join(dir, "unmounted")}, "every line, unmounted", time.Minute, countOf(id, lines))
	url := "http://127.0.0.1:" + port + "/api/v2/metrics/prometheus"
	// At the defaults (source auto) the log is read from its file; where
	// the file cannot be read, through the API.
	want := map[string]float64{
		`fluentbit_docker_logs_records_total{name="metered"}`:               lines,
		`fluentbit_docker_logs_records_handed_total{name="metered"}`:        lines,
		`fluentbit_docker_logs_containers{name="metered"}`:                  1,
		`fluentbit_docker_logs_daemon_up{name="metered"}`:                   1,
		`fluentbit_docker_logs_daemon_up{name="lost"}`:                      0,
		`fluentbit_input_records_total{name="metered"}`:                     lines,
		`fluentbit_docker_logs_file_streams_opened_total{name="unmounted"}`: 0,
	}
	deadline := time.Now().Add(30 * time.Second) // figures are published at most once a second
	for {
		got, wrong := scrape(t, url), []string{}
		for series, v := range want {
			if g, ok := got[series]; !ok || g != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v (present %v), want %v", series, g, ok, v))
			}
		}
		if g := got[`fluentbit_docker_logs_file_streams_opened_total{name="metered"}`]; g < 1 {
			wrong = append(wrong, fmt.Sprintf("fluentbit_docker_logs_file_streams_opened_total{name=\"metered\"} = %v, want 1 or more", g))
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Fluent Bit's metrics:\n%s", strings.Join(wrong, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	fb.stop()
	log := readFile(t, logFile)
	for _, want := range []string{
		"] [ info] [input:docker_logs:metered] started, reading from docker",
		"] [ info] [input:docker_logs:metered] connected to docker",
		"] [ warn] [input:docker_logs:lost] ",
		"] [ info] [input:docker_logs:unmounted] source auto: reading json-file logs through the API, because the daemon's " +
			filepath.Join(root, "containers") + " cannot be read here",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("Fluent Bit's log file lacks %q:\n%s", want, tail(log, 20))
		}
	}
	if n := strings.Count(log, "source auto: reading json-file logs through the API"); n != 1 {
		t.Errorf("%d lines say source auto reads through the API, want 1 (the unmounted input's):\n%s", n, grepLines(log, "source auto"))
	}
	if strings.Contains(log, "[ info] [input:docker_logs:lost]") {
		t.Errorf("an input at log_level warn logged info lines:\n%s", grepLines(log, "docker_logs:lost"))
	}
	if s := fb.output.String(); strings.Contains(s, "[input:docker_logs:") {
		t.Errorf("plugin lines went to stderr, not Fluent Bit's log file:\n%s", grepLines(s, "[input:docker_logs:"))
	}
}

// Hot reload (-Y, SIGHUP) four times, each while containers write, with
// db: every line once, and no goroutine of the stopped instances left
// behind (go_goroutines on status_listen after 2 reloads and after 4, in
// the same state).
func TestFluentBitHotReload(t *testing.T) {
	bin := needFluentBit(t, "5.1.1")
	d := needDocker(t)
	prefix := "fbreload" + suffix() + "-"
	dir := t.TempDir()
	status := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	out := filepath.Join(dir, "out")
	conf := newFBConf().
		docker(d.Host(), "db", filepath.Join(dir, "positions.db"), "include_names", prefix+"*", "status_listen", status).
		file(out, "*").
		write(t, dir)
	fb := startFluentBit(t, bin, conf, "-Y")
	fb.waitConnected(1)
	src := fileOut{t, out}
	// The goroutines are counted twice in the same state, each after two
	// reloads while two containers wrote (removed once read): two idle
	// containers followed. Goroutines left behind by each reload would
	// grow from one count to the next.
	goroutines := func() float64 {
		// Steady: the monitors are the idle containers' alone.
		deadline := time.Now().Add(30 * time.Second)
		for sumSeries(scrape(t, "http://"+status+"/metrics"), "docker_logs_containers") != 2 {
			if time.Now().After(deadline) {
				t.Fatal("the monitors never came to the idle containers' alone")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The floor of 2 s of samples: what comes and goes (a stream
		// reopening) is left out.
		floor := math.Inf(1)
		for i := 0; i < 20; i++ {
			floor = math.Min(floor, sumSeries(scrape(t, "http://"+status+"/metrics"), "go_goroutines"))
			time.Sleep(100 * time.Millisecond)
		}
		return floor
	}
	var idleRuns []dockertest.Run
	for i := 0; i < 2; i++ {
		idleRuns = append(idleRuns, dockertest.Run{Name: fmt.Sprintf("%sidle-%d", prefix, i),
			Args: []string{"-n", "100", "-stream", "both", "-then", "sleep"}})
	}
	idle := runAll(t, d, idleRuns...)
	awaitSeqs(t, src, prefix+"idle-", idle, 100, time.Minute, false)
	reloads := 0
	reloadUnderLoad := func(phase string) float64 {
		var busyRuns []dockertest.Run
		for i := 0; i < 2; i++ {
			busyRuns = append(busyRuns, loggen(fmt.Sprintf("%sbusy%s-%d", prefix, phase, i), 1200, 400)) // 6 s
		}
		busy := runAll(t, d, busyRuns...)
		for k := 0; k < 2; k++ {
			time.Sleep(2 * time.Second)
			fb.cmd.Process.Signal(syscall.SIGHUP)
			reloads++
			fb.waitOutput("[reload] successful reload done", reloads, 30*time.Second)
		}
		awaitSeqs(t, src, prefix+"busy"+phase+"-", busy, 1200, 2*time.Minute, false)
		if err := d.Remove(busy...); err != nil {
			t.Fatal(err)
		}
		return goroutines()
	}
	first := reloadUnderLoad("a")
	second := reloadUnderLoad("b")
	// One goroutine left behind per reload would be 2 more.
	if second > first+1 {
		t.Errorf("%v goroutines after 4 reloads, %v after 2: the stopped instances left some behind", second, first)
	} else {
		t.Logf("goroutines: %v after 2 reloads, %v after 4", first, second)
	}
	tallySeqs(src.records(), prefix+"idle-").check(t, idle, 100, false)
	fb.stop()
}

// Two docker_logs inputs: Fluent Bit 5.1.1 runs both, each delivering
// every line of the containers it includes once under its own tag, and
// exits 0 on SIGTERM. Fluent Bit 3.2.10 passes Go inputs no instance
// context, so it can run one: with two it stops at start with a clear
// error and exit status 255, as 5.1.1 does when an input fails to start
// (failing the init there would crash it at shutdown: plugin/legacy.go).
func TestFluentBitTwoInstances(t *testing.T) {
	t.Run("5.1.1", func(t *testing.T) {
		bin := needFluentBit(t, "5.1.1")
		d := needDocker(t)
		prefix := "fbtwo" + suffix() + "-"
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		conf := newFBConf().
			docker(d.Host(), "tag", "all", "include_names", prefix+"*").
			docker(d.Host(), "tag", "b", "include_names", prefix+"b").
			file(out, "*").
			write(t, dir)
		fb := startFluentBit(t, bin, conf)
		fb.waitConnected(2)
		ids := runAll(t, d, loggen(prefix+"a", 500, 1000), loggen(prefix+"b", 500, 1000))
		waitAll(t, d, ids)
		for _, id := range ids {
			_, ref := awaitEveryLineOnce(t, d, ofTag(fileOut{t, out}, "all"), id)
			t.Logf("all: container %.12s: %d lines once", id, len(ref))
		}
		awaitEveryLineOnce(t, d, ofTag(fileOut{t, out}, "b"), ids[1])
		if n := len(ofContainer(ofTag(fileOut{t, out}, "b").records(), ids[0])); n != 0 {
			t.Errorf("the input including only %sb delivered %d records of %sa", prefix, n, prefix)
		}
		fb.stop()
	})
	t.Run("3.2.10", func(t *testing.T) {
		bin := needFluentBit(t, "3.2.10")
		d := needDocker(t)
		dir := t.TempDir()
		conf := newFBConf().docker(d.Host()).docker(d.Host()).file(filepath.Join(dir, "out"), "*").write(t, dir)
		fb := startFluentBit(t, bin, conf)
		select {
		case <-fb.done:
		case <-time.After(30 * time.Second):
			t.Fatal("Fluent Bit 3.2.10 ran on with a second docker_logs input")
		}
		log := fb.output.String()
		if ee, ok := fb.err.(*exec.ExitError); !ok || ee.ExitCode() != 255 {
			t.Errorf("Fluent Bit 3.2.10 ended with %v, want exit status 255", fb.err)
		}
		for _, want := range []string{
			"[error] [input:docker_logs:docker_logs.1] multiple docker_logs instances need Fluent Bit 4.1 or newer",
			"stopping Fluent Bit with exit status 255",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("Fluent Bit's log lacks %q", want)
			}
		}
		if strings.Contains(log, "SIGSEGV") {
			t.Errorf("Fluent Bit crashed:\n%s", tail(log, 30))
		}
	})
}

// Tag docker.* expands per container, as tail expands it per file; with
// Fluent Bit's multiline filter (parser java) four containers printing
// Java stack traces at once each get every trace whole, under their own
// tag: with one tag for all, the filter mixes lines of traces written at
// the same moment.
func TestFluentBitWildcardTagMultiline(t *testing.T) {
	for _, v := range []string{"5.1.1", "3.2.10"} {
		t.Run(v, func(t *testing.T) { testFluentBitWildcardTagMultiline(t, needFluentBit(t, v)) })
	}
}

func testFluentBitWildcardTagMultiline(t *testing.T, bin string) {
	d := needDocker(t)
	prefix := "fbtrace" + suffix() + "-"
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	conf := newFBConf().
		docker(d.Host(), "tag", "docker.*", "include_names", prefix+"*").
		// flush_ms: the filter flushes a trace still open after 2 s by
		// default; a loaded host can hold lines back that long (a trace
		// split after frame 6 with two suites and two busy loops running).
		section("FILTER", "name", "multiline", "match", "docker.*", "multiline.key_content", "log", "multiline.parser", "java", "flush_ms", "10000").
		file(out, "docker.*").
		write(t, dir)
	fb := startFluentBit(t, bin, conf)
	fb.waitConnected(1)
	const traces, frames = 30, 8
	var runs []dockertest.Run
	for i := 0; i < 4; i++ {
		runs = append(runs, dockertest.Run{Name: fmt.Sprintf("%s%d", prefix, i),
			Args: []string{"-n", fmt.Sprint(traces), "-rate", "20", "-trace", fmt.Sprint(frames)}})
	}
	ids := runAll(t, d, runs...)
	waitAll(t, d, ids)
	src := fileOut{t, out}
	recs := waitRecords(t, src, "every trace", time.Minute, func(recs []record) bool {
		for _, id := range ids {
			if len(ofContainer(recs, id)) < traces {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // room for a split trace's second part
	recs = src.records()
	for i, id := range ids {
		mine := ofContainer(recs, id)
		seen := map[int]bool{}
		for _, r := range mine {
			var seq int
			lines := strings.Split(strings.TrimSuffix(r.str("log"), "\n"), "\n")
			_, err := fmt.Sscanf(lines[0], "stdout - %d java.lang.IllegalStateException: boom", &seq)
			whole := err == nil && len(lines) == frames+1
			for k := 1; whole && k <= frames; k++ {
				whole = lines[k] == fmt.Sprintf("\tat com.example.Service.step%d(Service.java:%d)", k, seq)
			}
			if !whole || seen[seq] {
				t.Fatalf("%s: a record that is not one whole trace, or a trace twice: %q", runs[i].Name, r.str("log"))
			}
			seen[seq] = true
			if r.Tag != "docker."+runs[i].Name || r.str("container_name") != runs[i].Name {
				t.Fatalf("a trace of %s under the tag %q, named %q", runs[i].Name, r.Tag, r.str("container_name"))
			}
		}
		if len(seen) != traces {
			t.Errorf("%s: %d of its %d traces", runs[i].Name, len(seen), traces)
		}
	}
	if !strings.Contains(fb.output.String(), "Tag docker.*: each container's records are tagged with its name") {
		t.Errorf("the plugin did not say how it expands Tag docker.*")
	}
	fb.stop()
}

// A line cut short by a SIGKILL, with the next Fluent Bit's first line
// written on after it, reads as that whole line; any other bad line fails.
func TestReadFileOutTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	whole := `docker_logs.0: [1.000000001, {"log":"one"}]` + "\n"
	torn := `docker_logs.0: [1.000000002, {"log":"tw` + `docker_logs.0: [1.000000002, {"log":"two"}]` + "\n"
	if err := os.WriteFile(path, []byte(whole+torn), 0o644); err != nil {
		t.Fatal(err)
	}
	recs := readFileOut(t, path)
	if len(recs) != 2 || recs[1].str("log") != "two" || recs[1].Tag != "docker_logs.0" || recs[1].Time != "1.000000002" {
		t.Fatalf("got %+v", recs)
	}
	if _, err := tornFileOutLine([]byte(`docker_logs.0: [1.0, {"log":"tw`+"garbage"), nil); err == nil {
		t.Fatal("a cut line with nothing whole after it was read")
	}
}
