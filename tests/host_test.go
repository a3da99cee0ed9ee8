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

// host is a running test host.
type host struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    string // the records file
	stderr *syncBuffer
	done   chan struct{}
	err    error
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
	h := &host{t: t, out: filepath.Join(t.TempDir(), "records.jsonl"), stderr: &syncBuffer{}, done: make(chan struct{})}
	full := append([]string{"--out", h.out}, args...)
	full = append(full, filepath.Join(repoRoot, "build/docker_logs.so"))
	h.cmd = exec.Command(filepath.Join(repoRoot, bin), full...)
	h.cmd.Stderr = h.stderr
	h.cmd.Stdout = h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		h.stop()
		if strings.Contains(h.stderr.String(), "panicked") {
			t.Errorf("the plugin recovered a panic: a defect, not normal operation")
		}
		if t.Failed() {
			t.Logf("host output:\n%s", tail(h.stderr.String(), 60))
		}
	})
	return h
}

// instanceArgs is "-i docker_logs" with the daemon and a short collect
// interval, plus more -p key=value pairs.
func instanceArgs(dockerHost string, kv ...string) []string {
	args := []string{"-i", "docker_logs", "-p", "docker_host=" + dockerHost}
	for _, p := range kv {
		args = append(args, "-p", p)
	}
	return args
}

// stop sends SIGTERM (Fluent Bit's shutdown sequence) and waits; it fails
// the test if the host does not exit 0 within 15 s.
func (h *host) stop() {
	h.t.Helper()
	select {
	case <-h.done:
		return
	default:
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
		if h.err != nil {
			h.t.Errorf("host exited with %v", h.err)
		}
	case <-time.After(15 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
		h.t.Errorf("host did not exit within 15 s of SIGTERM")
	}
}

// kill ends the host with SIGKILL: no exit sequence, no final write.
func (h *host) kill() {
	h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.done
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

// readRecords reads a file of the host's JSON records. The host may be
// writing a line as it is read (a large batch takes two write calls): an
// unterminated last line is not written yet.
func readRecords(t *testing.T, path string) []record {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []record
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		data = data[i+1:]
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

// waitLog polls the host's stderr for a substring.
func (h *host) waitLog(substr string, timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(h.stderr.String(), substr) {
		if time.Now().After(deadline) {
			h.t.Fatalf("host never logged %q", substr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
