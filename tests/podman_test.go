package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// podman is the private Podman API service of tests/docker/podman.sh, and
// its CLI on the same storage.
type podman struct {
	t       *testing.T
	script  string
	host    string
	version string
}

// needPodman starts the service (installing Debian's podman when missing)
// and builds the loggen image into it. Under CI=true it must work; elsewhere
// the test is skipped with the reason. A service this test started is
// stopped at its end.
func needPodman(t *testing.T) *podman {
	t.Helper()
	p := &podman{t: t, script: filepath.Join(repoRoot, "tests", "docker", "podman.sh")}
	fail := func(format string, args ...any) {
		t.Helper()
		if dockertest.Required() {
			t.Fatalf("CI=true and podman cannot be set up: "+format, args...)
		}
		t.Skipf("podman cannot run here: "+format, args...)
	}
	running := exec.Command("bash", p.script, "status").Run() == nil
	for _, sub := range []string{"start", "image"} {
		if out, err := exec.Command("bash", p.script, sub).CombinedOutput(); err != nil {
			fail("podman.sh %s: %v\n%s", sub, err, out)
		}
	}
	if !running {
		t.Cleanup(func() {
			if out, err := exec.Command("bash", p.script, "stop").CombinedOutput(); err != nil {
				t.Logf("podman.sh stop: %v\n%s", err, out)
			}
		})
	}
	out, err := exec.Command("bash", p.script, "env").Output()
	if err != nil {
		fail("podman.sh env: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "DOCKER_HOST="); ok {
			p.host = v
		}
	}
	if p.version, err = p.cli("version", "--format", "{{.Server.Version}}"); err != nil {
		fail("%v", err)
	}
	t.Logf("podman %s at %s", p.version, p.host)
	return p
}

// cli runs the podman CLI on the service's storage.
func (p *podman) cli(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{p.script, "cli"}, args...)...)
	cmd.Env = os.Environ()
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.cli(args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// run starts a detached loggen container and returns its full ID.
func (p *podman) run(name string, tty bool, args ...string) string {
	p.t.Helper()
	full := []string{"run", "-d", "--network", "none", "--name", name}
	if tty {
		full = append(full, "--tty")
	}
	full = append(full, dockertest.Image)
	out := p.must(append(full, args...)...)
	f := strings.Fields(out)
	id := f[len(f)-1]
	p.t.Cleanup(func() { p.cli("rm", "-f", "-t", "0", id) })
	return id
}

func (p *podman) wait(id string) {
	p.t.Helper()
	if out := p.must("wait", id); out != "0" {
		p.t.Fatalf("container %.12s exited with %s", id, out)
	}
}

// podmanLine is one line of a container's log: its stream, its text, and
// its time as Podman's API stamps it (whole seconds before 5.8).
type podmanLine struct{ stream, log, time string }

// logFile is the reference: the container's k8s-file log as conmon wrote
// it ("<RFC 3339 nanoseconds> <stream> <P|F> <text>"), its partial chunks
// (P) joined into their line, each line stamped with its first chunk's time
// truncated to the second, as the API sends it.
func (p *podman) logFile(id string, tty bool) []podmanLine {
	p.t.Helper()
	path := p.must("inspect", "--format", "{{.HostConfig.LogConfig.Path}}", id)
	f, err := os.Open(path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var out []podmanLine
	open := map[string]*podmanLine{}
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 4)
		if len(parts) < 3 {
			p.t.Fatalf("log file line %q", sc.Text())
		}
		msg := ""
		if len(parts) == 4 {
			msg = parts[3]
		}
		ts, err := time.Parse(time.RFC3339Nano, parts[0])
		if err != nil {
			p.t.Fatal(err)
		}
		l := open[parts[1]]
		if l == nil {
			l = &podmanLine{stream: parts[1], time: fmt.Sprintf("%d.000000000", ts.Unix())}
		}
		l.log += msg
		if parts[2] == "P" {
			open[parts[1]] = l
			continue
		}
		delete(open, parts[1])
		if tty {
			l.log = strings.TrimSuffix(l.log, "\r")
		}
		out = append(out, *l)
	}
	if err := sc.Err(); err != nil {
		p.t.Fatal(err)
	}
	return out
}

// The engine on Podman's Docker-compatible API (podman system service),
// with streams reopened every 300 ms: bursts of identical lines within one
// second (whole-second stamps before Podman 5.8), paced lines, a TTY
// container, lines longer than Podman's 8 KiB chunks, a container that
// stops and starts again, a container silent at first (Podman sends a
// follow's headers only with its first line), and one removed. Every line
// arrives exactly once, in order, on its stream, with the container's name
// and image and Podman's timestamp; no warning is logged and no task
// restarts.
func TestPodman(t *testing.T) {
	p := needPodman(t)
	logs := &syncBuffer{}
	// Podman's follow sends its lines in batches every 250 ms: an idle
	// timeout above that lets streams reach their lifetime.
	r := runEngineOn(t, p.host, logs, "stream_lifetime", "300ms", "stream_idle_timeout", "300ms",
		"heartbeat_timeout", "5s", "plugin_log_level", "debug")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "connected to docker") {
		if time.Now().After(deadline) {
			t.Fatalf("the engine did not connect to podman:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	type ctr struct {
		name, id string
		tty      bool
		lines    int // lines the container writes in all (both streams, every run)
	}
	sfx := suffix()
	var ctrs []*ctr
	start := func(name string, tty bool, lines int, args ...string) *ctr {
		c := &ctr{name: "pm-" + name + sfx, tty: tty, lines: lines}
		c.id = p.run(c.name, tty, args...)
		ctrs = append(ctrs, c)
		return c
	}
	// 100 distinct lines per stream, each written 20 times in a row: 4,000
	// lines over 4 s, 1,000 a second, 20 identical ones in a row. (Faster,
	// Podman 4.3's follow itself skips a block of lines now and then: at
	// 4,000 lines/s about once in 6 runs; README, Podman.)
	start("burst", false, 4000, "-n", "100", "-repeat", "20", "-stream", "both", "-rate", "50")
	// 3 s of paced lines, 3 identical in a row, across many reopens.
	start("paced", false, 2400, "-n", "400", "-repeat", "3", "-stream", "both", "-rate", "133")
	start("tty", true, 4000, "-n", "500", "-repeat", "4", "-stream", "both", "-rate", "250")
	// 20,000-byte lines: three chunks each, some straddling a second.
	start("long", false, 160, "-n", "40", "-repeat", "2", "-stream", "both", "-size", "20000", "-rate", "20")
	// Silent for 3 s: the engine's follow gets no response meanwhile.
	start("quiet", false, 40, "-n", "20", "-stream", "both", "-start-delay", "3s")
	restart := start("restart", false, 2*600, "-n", "100", "-repeat", "3", "-stream", "both", "-rate", "200")
	removed := start("removed", false, 400, "-n", "200", "-stream", "both", "-rate", "200", "-then", "sleep")

	p.wait(restart.id)
	time.Sleep(1500 * time.Millisecond) // a stopped spell, then the same lines again
	p.must("start", restart.id)

	// The removed container: all its lines, then its removal ends its monitor.
	r.waitFor("the lines of the container to remove", 60*time.Second, countOf(removed.id, removed.lines))
	removedRef := p.logFile(removed.id, false)
	p.must("rm", "-f", "-t", "0", removed.id)

	for _, c := range ctrs {
		if c != removed {
			p.wait(c.id)
		}
	}
	// Wait for every line (a shortfall is reported line by line below).
	deadline = time.Now().Add(60 * time.Second)
	for _, c := range ctrs {
		for len(ofContainer(r.records(), c.id)) < c.lines && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second) // a late repeat would show by now
	recs := r.records()
	for _, c := range ctrs {
		ref := removedRef
		if c != removed {
			ref = p.logFile(c.id, c.tty)
		}
		if len(ref) != c.lines {
			t.Errorf("%s: podman's log holds %d lines, want %d", c.name, len(ref), c.lines)
		}
		image := "localhost/" + dockertest.Image // as podman names it
		if c != removed {
			image = p.must("inspect", "--format", "{{.ImageName}}", c.id)
		}
		assertPodmanLines(t, c.name, ofContainer(recs, c.id), ref, image)
	}

	// The removed container's monitor is gone ("remove" counts as destroy).
	deadline = time.Now().Add(10 * time.Second)
	for monitored(r, removed.id) {
		if time.Now().After(deadline) {
			t.Errorf("the monitor of the removed container is still running")
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	st := r.e.Stats()
	t.Logf("podman %s: %d records, %d streams opened (%d at stream_lifetime), %d repeats dropped, %d tail widenings, %d gaps",
		p.version, st.Records.Load(), st.Streams.Load(), st.Rotations.Load(), st.Duplicates.Load(), st.Widened.Load(), st.Gaps.Load())
	if st.Streams.Load() < 40 || st.Rotations.Load() < 10 {
		t.Errorf("only %d streams opened, %d at stream_lifetime: the reopens were not exercised", st.Streams.Load(), st.Rotations.Load())
	}
	if st.Gaps.Load() != 0 {
		t.Errorf("%d gaps reported", st.Gaps.Load())
	}
	for _, ts := range r.e.Status() {
		if ts.Restarts > 0 {
			t.Errorf("task %s restarted %d times (last error %q)", ts.Name, ts.Restarts, ts.LastError)
		}
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "[ warn]") || strings.Contains(l, "[error]") {
			t.Errorf("logged: %s", l)
		}
	}
	if os.Getenv("DL_PODMAN_LOG") != "" { // a file for the engine's debug log
		os.WriteFile(os.Getenv("DL_PODMAN_LOG"), []byte(logs.String()), 0o644)
	}
	if t.Failed() {
		t.Logf("engine log (last 60 lines):\n%s", lastLines(logs.String(), 60))
	}
}

// assertPodmanLines checks one container's records against its log: the
// same lines per stream in the same order (so each exactly once), with the
// API's timestamp, name and image.
func assertPodmanLines(t *testing.T, name string, recs []record, ref []podmanLine, image string) {
	t.Helper()
	got := map[string][]podmanLine{}
	for _, r := range recs {
		if r.str("container_name") != name || r.str("image") != image {
			t.Errorf("%s: record with wrong metadata (image %q): %v", name, image, r.Record)
			return
		}
		got[r.str("stream")] = append(got[r.str("stream")], podmanLine{r.str("stream"), r.str("log"), r.Time})
	}
	want := map[string][]podmanLine{}
	for _, l := range ref {
		want[l.stream] = append(want[l.stream], l)
	}
	for _, s := range []string{"stdout", "stderr"} {
		g, w := got[s], want[s]
		for i := 0; i < len(g) || i < len(w); i++ {
			switch {
			case i >= len(g):
				t.Errorf("%s %s: %d records for %d lines; first missing: %.80q", name, s, len(g), len(w), w[i].log)
			case i >= len(w):
				t.Errorf("%s %s: %d records for %d lines; first extra: %.80q", name, s, len(g), len(w), g[i].log)
			case g[i] != w[i]:
				t.Errorf("%s %s: record %d is %.60q at %s, the log has %.60q at %s", name, s, i, g[i].log, g[i].time, w[i].log, w[i].time)
			default:
				continue
			}
			break
		}
	}
}

func monitored(r *engineRun, id string) bool {
	for _, ts := range r.e.Status() {
		if ts.Name == "monitor "+id[:12] {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
