package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// dockerLine is one line as `docker logs -t` shows it.
type dockerLine struct {
	stream, log, time string
}

// dockerLogs is the reference: every line of a container with Docker's own
// timestamp, as the docker CLI reads it.
func dockerLogs(t *testing.T, d *dockertest.Daemon, id string) []dockerLine {
	t.Helper()
	stdout, stderr, err := d.Logs(id, "-t")
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerLine
	for _, s := range []struct{ name, text string }{{"stdout", stdout}, {"stderr", stderr}} {
		for _, l := range strings.Split(s.text, "\n") {
			l = strings.TrimSuffix(l, "\r")
			if l == "" {
				continue
			}
			ts, msg, _ := strings.Cut(l, " ")
			tm, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				t.Fatalf("docker logs -t line %q: %v", l, err)
			}
			out = append(out, dockerLine{s.name, strings.TrimSuffix(msg, "\r"), fmt.Sprintf("%d.%09d", tm.Unix(), tm.Nanosecond())})
		}
	}
	return out
}

func ofContainer(recs []record, id string) []record {
	var out []record
	for _, r := range recs {
		if r.str("container_id") == id {
			out = append(out, r)
		}
	}
	return out
}

// recordSource is anything that delivers records: a host, a sequence of
// hosts, an in-process engine.
type recordSource interface{ records() []record }

// filtered is the part of a source that keep takes.
type filtered struct {
	src  recordSource
	keep func(record) bool
}

func (f filtered) records() []record {
	var out []record
	for _, r := range f.src.records() {
		if f.keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// ofInstance is what one instance delivered; ofTag, what came under a tag.
func ofInstance(src recordSource, name string) recordSource {
	return filtered{src, func(r record) bool { return r.Instance == name }}
}

func ofTag(src recordSource, tag string) recordSource {
	return filtered{src, func(r record) bool { return r.Tag == tag }}
}

// awaitLines waits until src has delivered as many records of the
// container as Docker holds lines, and gives a late duplicate a second to
// show. It returns src's records and Docker's lines (the reference).
func awaitLines(t *testing.T, d *dockertest.Daemon, src recordSource, id string) ([]record, []dockerLine) {
	t.Helper()
	ref := dockerLogs(t, d, id)
	deadline := time.Now().Add(60 * time.Second)
	for n := 0; n < len(ref); n = len(ofContainer(src.records(), id)) {
		if time.Now().After(deadline) {
			t.Fatalf("container %.12s: %d of its %d lines after 60 s", id, n, len(ref))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	return src.records(), ref
}

// awaitEveryLineOnce is awaitLines, then the check that every line arrived
// exactly once, with Docker's timestamp and the container's metadata.
func awaitEveryLineOnce(t *testing.T, d *dockertest.Daemon, src recordSource, id string) ([]record, []dockerLine) {
	t.Helper()
	recs, ref := awaitLines(t, d, src, id)
	assertExactlyOnce(t, recs, ref, id, containerName(t, d, id))
	return recs, ref
}

// containerName is the container's name as records carry it.
func containerName(t *testing.T, d *dockertest.Daemon, id string) string {
	t.Helper()
	name, err := d.Docker("inspect", "-f", "{{.Name}}", id)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(name, "/")
}

// countOf waits for n records of a container.
func countOf(id string, n int) func([]record) bool {
	return func(recs []record) bool { return len(ofContainer(recs, id)) >= n }
}

// assertExactlyOnce checks the records of one container against Docker's
// own view: every line once, on the right stream, with Docker's timestamp
// and the container's metadata (its name, unless name is ""), and nothing
// else.
func assertExactlyOnce(t *testing.T, recs []record, ref []dockerLine, id, name string) {
	t.Helper()
	mine := ofContainer(recs, id)
	want := map[dockerLine]int{}
	for _, l := range ref {
		want[l]++
	}
	for _, r := range mine {
		if name != "" && r.str("container_name") != name || r.str("image") != dockertest.Image {
			t.Fatalf("record with wrong metadata: %v", r.Record)
		}
		k := dockerLine{r.str("stream"), r.str("log"), r.Time}
		if want[k] == 0 {
			t.Fatalf("record not in docker logs, or delivered twice: %+v", k)
		}
		want[k]--
	}
	for k, n := range want {
		if n > 0 {
			t.Fatalf("line never delivered: %+v (and %d lines in all: %d records for %d lines)", k, countMissing(want), len(mine), len(ref))
		}
	}
}

func countMissing(m map[dockerLine]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// assertSequence checks the loggen lines of one stream are 1..n in order.
func assertSequence(t *testing.T, recs []record, id, stream, prefix string, n int) {
	t.Helper()
	i := 0
	for _, r := range ofContainer(recs, id) {
		if r.str("stream") != stream || !strings.HasPrefix(r.str("log"), prefix+" ") {
			continue
		}
		i++
		if want := fmt.Sprintf("%s - %08d", prefix, i); r.str("log") != want {
			t.Fatalf("%s line %d is %q, want %q", stream, i, r.str("log"), want)
		}
	}
	if i != n {
		t.Fatalf("%d %s lines %q on %s, want %d", i, prefix, prefix, stream, n)
	}
}

// Three containers (one TTY) each write 5,000 lines to stdout and 5,000 to
// stderr: every line arrives exactly once, with the right stream, container
// ID, name, image and Docker's timestamp.
func TestCaptureThreeContainers(t *testing.T) {
	d := needDocker(t)
	h := startHost(t, append([]string{"--interval-ms", "200"}, instanceArgs(d.Host())...)...)
	h.waitLog("connected to docker", 30*time.Second)

	const n = 5000
	type ctr struct {
		name string
		tty  bool
		rate string
		id   string
	}
	ctrs := []*ctr{{name: "cap-plain-fast", rate: "0"}, {name: "cap-plain-paced", rate: "4000"}, {name: "cap-tty", tty: true, rate: "0"}}
	for _, c := range ctrs {
		id, err := d.Run(dockertest.Run{Name: c.name + suffix(), TTY: c.tty, Args: []string{"-n", fmt.Sprint(n), "-stream", "both", "-rate", c.rate}})
		if err != nil {
			t.Fatal(err)
		}
		c.id = id
		t.Cleanup(func() { d.Remove(id) })
	}
	for _, c := range ctrs {
		if err := d.Wait(c.id); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range ctrs {
		recs, ref := awaitEveryLineOnce(t, d, h, c.id)
		if len(ref) != 2*n {
			t.Fatalf("docker logs shows %d lines for %s, want %d", len(ref), c.name, 2*n)
		}
		if c.tty {
			// A TTY merges both streams into stdout.
			assertSequence(t, recs, c.id, "stdout", "stdout", n)
			assertSequence(t, recs, c.id, "stdout", "stderr", n)
		} else {
			assertSequence(t, recs, c.id, "stdout", "stdout", n)
			assertSequence(t, recs, c.id, "stderr", "stderr", n)
		}
	}
}

// A container that starts after the plugin and exits within 100 ms is
// captured completely.
func TestCaptureShortLivedContainer(t *testing.T) {
	d := needDocker(t)
	h := startHost(t, append([]string{"--interval-ms", "200"}, instanceArgs(d.Host())...)...)
	h.waitLog("connected to docker", 30*time.Second)
	for i := 0; i < 3; i++ {
		id, err := d.Run(dockertest.Run{Name: fmt.Sprintf("short-%d%s", i, suffix()), Args: []string{"-n", "20", "-stream", "both"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(id) })
		if err := d.Wait(id); err != nil {
			t.Fatal(err)
		}
		started, _ := d.Docker("inspect", "-f", "{{.State.StartedAt}} {{.State.FinishedAt}}", id)
		t.Logf("container %d ran %s", i, runtimeOf(started))
		if _, ref := awaitEveryLineOnce(t, d, h, id); len(ref) != 40 {
			t.Fatalf("docker logs shows %d lines, want 40", len(ref))
		}
	}
}

func runtimeOf(startFinish string) string {
	s, f, _ := strings.Cut(startFinish, " ")
	ts, err1 := time.Parse(time.RFC3339Nano, s)
	tf, err2 := time.Parse(time.RFC3339Nano, f)
	if err1 != nil || err2 != nil {
		return "?"
	}
	return tf.Sub(ts).String()
}

// Two instances in one host, each with its own context: each delivers its
// own complete copy through its own callbacks.
func TestTwoInstances(t *testing.T) {
	d := needDocker(t)
	args := []string{"--interval-ms", "200"}
	args = append(args, instanceArgs(d.Host())...)
	args = append(args, instanceArgs(d.Host())...)
	h := startHost(t, args...)
	h.waitLog("docker_logs.1] connected to docker", 30*time.Second)
	id, err := d.Run(dockertest.Run{Name: "two-inst" + suffix(), Args: []string{"-n", "1000", "-stream", "both"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	d.Wait(id)
	for _, inst := range []string{"docker_logs.0", "docker_logs.1"} {
		awaitEveryLineOnce(t, d, ofInstance(h, inst), id)
	}
}

// Fluent Bit before 4.1 passes no instance context: one instance works, a
// second fails its init with a message that says why.
func TestLegacyFluentBit(t *testing.T) {
	d := needDocker(t)
	t.Run("one instance captures", func(t *testing.T) {
		h := startHost(t, append([]string{"--legacy", "--interval-ms", "200"}, instanceArgs(d.Host())...)...)
		h.waitLog("connected to docker", 30*time.Second)
		id, err := d.Run(dockertest.Run{Name: "legacy" + suffix(), Args: []string{"-n", "100", "-stream", "both"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(id) })
		d.Wait(id)
		awaitEveryLineOnce(t, d, h, id)
	})
	t.Run("a second instance is refused", func(t *testing.T) {
		args := []string{"--legacy"}
		args = append(args, instanceArgs(d.Host())...)
		args = append(args, instanceArgs(d.Host())...)
		h := startHost(t, args...)
		if code := h.exitCode(30 * time.Second); code != 255 {
			t.Fatalf("host exited %d, want 255 (init failure)", code)
		}
		if !strings.Contains(h.output.String(), "multiple docker_logs instances need Fluent Bit 4.1 or newer") {
			t.Fatalf("no clear message:\n%s", h.output.String())
		}
	})
}

// A bad docker_host fails init, naming the key and the value.
func TestBadDockerHost(t *testing.T) {
	for _, bad := range []string{"ftp://example", "unix://", "tcp://"} {
		h := startHost(t, instanceArgs(bad)...)
		if code := h.exitCode(30 * time.Second); code != 255 {
			t.Fatalf("docker_host=%s: host exited %d, want 255", bad, code)
		}
		if msg := h.output.String(); !strings.Contains(msg, fmt.Sprintf("invalid docker_host %q", bad)) {
			t.Fatalf("docker_host=%s: message does not name the key and value:\n%s", bad, msg)
		}
	}
}

// An unreachable daemon does not fail init: the plugin logs and retries,
// and captures once the daemon appears (here: its socket path starts to
// lead to the real daemon).
func TestUnreachableDaemonThenAppears(t *testing.T) {
	d := needDocker(t)
	sock := filepath.Join(t.TempDir(), "late.sock")
	h := startHost(t, append([]string{"--interval-ms", "200"}, instanceArgs("unix://"+sock)...)...)
	h.waitLog("cannot reach the daemon", 30*time.Second)
	time.Sleep(2 * time.Second)
	select {
	case <-h.done:
		t.Fatalf("host exited while the daemon was unreachable: %v", h.err)
	default:
	}
	if err := os.Symlink(strings.TrimPrefix(d.Host(), "unix://"), sock); err != nil {
		t.Fatal(err)
	}
	h.waitLog("connected to docker", 30*time.Second)
	id, err := d.Run(dockertest.Run{Name: "late-daemon" + suffix(), Args: []string{"-n", "50"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	d.Wait(id)
	awaitEveryLineOnce(t, d, h, id)
}

// suffix keeps container names unique across runs on a shared daemon.
func suffix() string { return fmt.Sprintf("-%d", time.Now().UnixNano()%1e9) }

// Lines longer than Docker's 16 KiB chunks arrive as one record; a line
// longer than the 1 MiB cap arrives cut there and flagged.
func TestLongLines(t *testing.T) {
	d := needDocker(t)
	h := startHost(t, append([]string{"--interval-ms", "200"}, instanceArgs(d.Host())...)...)
	h.waitLog("connected to docker", 30*time.Second)
	for _, c := range []struct {
		size      int
		tty       bool
		wantLen   int
		truncated bool
	}{
		{40000, false, 40000, false},
		{40000, true, 40000, false},
		{3 << 20, false, 1000000, true}, // max_line_size 1M (Fluent Bit units are decimal)
	} {
		id, err := d.Run(dockertest.Run{Name: fmt.Sprintf("long-%d%s", c.size, suffix()), TTY: c.tty, Args: []string{"-n", "2", "-size", fmt.Sprint(c.size)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(id) })
		d.Wait(id)
		recs := ofContainer(h.waitFor("the long lines", 60*time.Second, countOf(id, 2)), id)
		time.Sleep(time.Second) // room for a late duplicate to show
		if recs = ofContainer(h.records(), id); len(recs) != 2 {
			t.Fatalf("size %d tty=%v: %d records, want 2", c.size, c.tty, len(recs))
		}
		for i, r := range recs {
			l := r.str("log")
			prefix := fmt.Sprintf("stdout - %08d abcdefghijklmnopqrstuvwxyz", i+1)
			trunc, _ := r.Record["truncated"].(bool)
			if len(l) != c.wantLen || !strings.HasPrefix(l, prefix) || trunc != c.truncated {
				t.Fatalf("size %d tty=%v record %d: %d bytes, prefix ok %v, truncated %v; want %d bytes, truncated %v",
					c.size, c.tty, i, len(l), strings.HasPrefix(l, prefix), trunc, c.wantLen, c.truncated)
			}
		}
	}
}

// Twenty `docker run --rm` containers of 50 lines each, one after the
// other, while three processes keep both cores busy: each container is
// created, run and removed within about 150 ms. Every one either delivers
// every line once, in order, or is named in a warning as removed before
// its log could be read, with none of its lines: the API serves no log of
// a removed container, and on a starved machine a monitor can come too
// late (1 run in 4 here lost one). Most are read.
func TestShortLivedRemovedContainersUnderLoad(t *testing.T) {
	d := needDocker(t)
	for i := 0; i < 3; i++ {
		burn := exec.Command("sh", "-c", "while :; do :; done")
		if err := burn.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { burn.Process.Kill(); burn.Wait() })
	}
	var logOut syncBuffer
	r := runEngineOn(t, d.Host(), &logOut)
	// Subscribed to events (a container started before is replayed from
	// the engine's start anyway; one removed before it subscribes would be
	// named as lost, and the test would fail on its lines).
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(logOut.String(), "connected to docker") {
		if time.Now().After(deadline) {
			t.Fatalf("the engine never connected:\n%s", logOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", logOut.String())
		}
	})
	var ids []string
	for i := 0; i < 20; i++ {
		id, err := d.Run(dockertest.Run{Name: fmt.Sprintf("rm-%d%s", i, suffix()), Options: []string{"--rm"}, Args: []string{"-n", "50"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	lost := func(id string) bool { // named in the warning
		return strings.Contains(grepLines(logOut.String(), "container "+id[:12]), "removed before its log could be read")
	}
	r.waitFor("every container's 50 lines, or its loss named", 2*time.Minute, func(recs []record) bool {
		for _, id := range ids {
			if len(ofContainer(recs, id)) < 50 && !lost(id) {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // room for a late duplicate to show
	recs := r.records()
	read := 0
	for _, id := range ids {
		if lost(id) {
			if n := len(ofContainer(recs, id)); n != 0 {
				t.Errorf("container %.12s named lost, yet %d of its lines arrived", id, n)
			}
			continue
		}
		assertSequence(t, recs, id, "stdout", "stdout", 50)
		read++
	}
	if read < len(ids)/2 {
		t.Fatalf("only %d of %d containers read", read, len(ids))
	}
	t.Logf("%d of %d containers read, the others named lost", read, len(ids))
}
