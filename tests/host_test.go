// Package tests holds the integration tests: the plugin built as a .so,
// loaded by the test host (tests/host, a stand-in for Fluent Bit's Go
// proxy), reading from a real private dockerd (tests/docker).
package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

var (
	daemon   *dockertest.Daemon
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	if repoRoot, err = dockertest.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The plugin and the host are what is tested: build them as make does.
	if out, err := exec.Command("make", "-C", repoRoot, "all").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "make all: %v\n%s", err, out)
		return 1
	}
	daemon, err = dockertest.Setup()
	if err != nil {
		if dockertest.Required() {
			fmt.Fprintf(os.Stderr, "CI=true and no Docker daemon could be started: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "skipping the Docker tests: %v\n", err)
		daemon = nil
	}
	code := m.Run()
	if daemon != nil {
		if err := daemon.Teardown(); err != nil {
			fmt.Fprintln(os.Stderr, "teardown:", err)
		}
	}
	return code
}

// needDocker returns the daemon, or skips (fails under CI=true, where
// TestMain has already failed without one).
func needDocker(t *testing.T) *dockertest.Daemon {
	t.Helper()
	if daemon == nil {
		t.Skip("no Docker daemon")
	}
	return daemon
}

// record is one line of the host's output.
type record struct {
	Instance string         `json:"instance"`
	Tag      string         `json:"tag"` // in route files; elsewhere when the record has its own
	Time     string         `json:"time"`
	Record   map[string]any `json:"record"`
}

func (r record) str(k string) string {
	s, _ := r.Record[k].(string)
	return s
}

// proc is a process a test runs, Fluent Bit or the test host in its
// place: its output kept, stopped as Fluent Bit is (SIGTERM, then exit 0
// within grace), and at the test's end if still running.
type proc struct {
	t      *testing.T
	what   string // "host", "Fluent Bit": in failures
	cmd    *exec.Cmd
	output *syncBuffer // its stdout and stderr
	done   chan struct{}
	err    error
	grace  time.Duration
}

func startProc(t *testing.T, what string, grace time.Duration, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, what: what, cmd: cmd, output: &syncBuffer{}, done: make(chan struct{}), grace: grace}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if strings.Contains(p.output.String(), "panicked") {
			t.Errorf("the plugin recovered a panic: a defect, not normal operation")
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", what, tail(p.output.String(), 60))
		}
	})
	return p
}

// stop sends SIGTERM (Fluent Bit's shutdown sequence) and waits; it fails
// the test if the process does not exit 0 within its grace.
func (p *proc) stop() {
	p.t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Errorf("%s exited with %v after SIGTERM", p.what, p.err)
		}
	case <-time.After(p.grace):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("%s did not exit within %s of SIGTERM", p.what, p.grace)
	}
}

// kill ends the process with SIGKILL: no exit sequence, no final write.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitOutput waits until the process's output holds substr n times.
func (p *proc) waitOutput(substr string, n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(p.output.String(), substr) < n {
		select {
		case <-p.done:
			p.t.Fatalf("%s exited (%v) before logging %q", p.what, p.err, substr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not log %q %d times", p.what, substr, n)
		}
	}
}

// host is a running test host.
type host struct {
	*proc
	out string // the records file
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startHost runs the test host with args (before the plugin path); the
// records go to a file in the test's temp dir. It is stopped at the test's
// end if still running.
func startHost(t *testing.T, args ...string) *host {
	t.Helper()
	return startHostBin(t, hostAppend, args...)
}

// The test host's two builds: Fluent Bit as released (its symbols exported,
// flb_input_log_append among them: records are appended straight in), and
// one without (the plugin falls back to one collect buffer a second).
const (
	hostAppend   = "build/flbhost"
	hostNoAppend = "build/flbhost-noappend"
)

func startHostBin(t *testing.T, bin string, args ...string) *host {
	t.Helper()
	out := filepath.Join(t.TempDir(), "records.jsonl")
	full := append(append([]string{"--out", out}, args...), filepath.Join(repoRoot, "build/docker_logs.so"))
	return &host{proc: startProc(t, "host", 15*time.Second, exec.Command(filepath.Join(repoRoot, bin), full...)), out: out}
}

// instanceArgs is "-i docker_logs" with the daemon, plus more -p
// key=value pairs; source api unless they name one (see runEngineOn).
func instanceArgs(dockerHost string, kv ...string) []string {
	args := []string{"-i", "docker_logs", "-p", "docker_host=" + dockerHost}
	source := []string{"-p", "source=api"}
	for _, p := range kv {
		args = append(args, "-p", p)
		if strings.HasPrefix(p, "source=") {
			source = nil
		}
	}
	return append(args, source...)
}

// exitCode waits for the host to exit by itself and returns its status.
func (h *host) exitCode(timeout time.Duration) int {
	h.t.Helper()
	select {
	case <-h.done:
	case <-time.After(timeout):
		h.t.Fatalf("host still running after %s", timeout)
	}
	if h.err == nil {
		return 0
	}
	if ee, ok := h.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	h.t.Fatal(h.err)
	return -1
}

// records reads every record written so far.
func (h *host) records() []record {
	h.t.Helper()
	return readRecords(h.t, h.out)
}

// routeFile is what the host wrote to one --route MATCH=FILE: the records
// an output with that Match would get.
type routeFile struct {
	t    *testing.T
	path string
}

func (r routeFile) records() []record { return readRecords(r.t, r.path) }

// writtenLines reads the lines of a file another process is writing: an
// unterminated last line is not written yet (the host writes a large batch
// in two write calls). A missing file has none.
func writtenLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return lines
		}
		lines = append(lines, data[:i])
		data = data[i+1:]
	}
}

// readRecords reads a file of the host's JSON records.
func readRecords(t *testing.T, path string) []record {
	t.Helper()
	var out []record
	for _, line := range writtenLines(t, path) {
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("host wrote a bad line: %v: %.200s", err, line)
		}
		out = append(out, r)
	}
	return out
}

// waitFor polls the records until ok holds, failing after timeout.
func (h *host) waitFor(what string, timeout time.Duration, ok func([]record) bool) []record {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := h.records()
		if ok(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s (%d records so far)", timeout, what, len(recs))
		}
		select {
		case <-h.done:
			h.t.Fatalf("host exited (%v) while waiting for %s", h.err, what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitLog waits for a substring in the host's output.
func (h *host) waitLog(substr string, timeout time.Duration) {
	h.t.Helper()
	h.waitOutput(substr, 1, timeout)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
