package tests

// The plugin as a native Fluent Bit input: its lines in Fluent Bit's log at
// the input's log_level, its figures in Fluent Bit's metrics, and a pause
// that stops only the paused input.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// The host's --log-file is Fluent Bit's log_file: it gets only what is
// printed on Fluent Bit's own threads, as flb_log_print does, so a line the
// plugin printed from a goroutine would land on stderr instead.
func TestLogsGoIntoFluentBitsLog(t *testing.T) {
	d := needDocker(t)
	name := "nolog" + suffix()
	logFile := filepath.Join(t.TempDir(), "fluent-bit.log")
	h := startHost(t, append(append([]string{"--log-file", logFile},
		instanceArgs(d.Host(), "alias=quiet", "log_level=error", "include_names="+name)...),
		instanceArgs(d.Host(), "alias=loud", "log_level=debug", "include_names="+name, "plugin_log_level=info")...)...)
	id, err := d.Run(dockertest.Run{Name: name, Args: []string{"-n", "1000000", "-rate", "10"}, Options: []string{"--log-driver", "none"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	warn := regexp.MustCompile(`(?m)^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}\] \[ warn\] \[input:docker_logs:loud\] container ` + id[:12] + ` \(` + name + `\): its log driver cannot be read through the API`)
	deadline := time.Now().Add(30 * time.Second)
	for !warn.MatchString(readFile(t, logFile)) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about %s in Fluent Bit's log file:\n%s", name, tail(readFile(t, logFile), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.stop()
	log := readFile(t, logFile)
	for _, want := range []string{
		"] [ info] [input:docker_logs:loud] started, reading from docker",
		"] [debug] [input:docker_logs:loud] ",
		"] [ warn] [input:docker_logs:loud] plugin_log_level is deprecated and ignored here",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("Fluent Bit's log lacks %q", want)
		}
	}
	// quiet, at log_level error, has nothing to say here.
	if strings.Contains(log, "[input:docker_logs:quiet] started") || strings.Contains(log, "[input:docker_logs:quiet] container") {
		t.Errorf("an input at log_level error logged info or warn lines:\n%s", grepLines(log, "docker_logs:quiet"))
	}
	if s := h.output.String(); strings.Contains(s, "[input:docker_logs:") {
		t.Errorf("plugin lines went to stderr, not Fluent Bit's log:\n%s", grepLines(s, "[input:docker_logs:"))
	}
}

// The plugin's figures are in the instance's own metrics context, labelled
// with its name as Fluent Bit's per-input metrics are; the records Fluent
// Bit took equal the records delivered. The host fails (exit 3) any update
// from a thread other than the instance's.
func TestMetricsInFluentBit(t *testing.T) {
	d := needDocker(t)
	name := "metered" + suffix()
	metrics := filepath.Join(t.TempDir(), "metrics.prom")
	const lines = 500
	h := startHost(t, append([]string{"--metrics", metrics},
		instanceArgs(d.Host(), "alias=metered", "read_from_head=true", "include_names="+name)...)...)
	id, err := d.Run(dockertest.Run{Name: name, Args: []string{"-n", strconv.Itoa(lines), "-rate", "500"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	h.waitFor("every line", 60*time.Second, func(r []record) bool { return len(r) >= lines })
	h.stop()
	got := promValues(t, metrics)
	if n := len(h.records()); n != lines {
		t.Fatalf("%d records, want %d", n, lines)
	}
	for metric, want := range map[string]float64{
		`fluentbit_docker_logs_records_handed_total{name="metered"}`: lines,
		`fluentbit_docker_logs_records_total{name="metered"}`:        lines,
		`fluentbit_docker_logs_containers{name="metered"}`:           1,
		`fluentbit_docker_logs_daemon_up{name="metered"}`:            1,
	} {
		if v, ok := got[metric]; !ok || v != want {
			t.Errorf("%s = %v (present: %v), want %v", metric, v, ok, want)
		}
	}
}

// Two instances follow one container; Fluent Bit pauses the first (as a
// mem_buf_limit does, on its thread) for 5 s. The second keeps delivering
// throughout (Fluent Bit's proxy would pause the collector of the last
// instance: the host does the same), and after the resume each has every
// line once, in order.
func TestPauseOneInstance(t *testing.T) {
	d := needDocker(t)
	name := "pausedone" + suffix()
	// 20 s of lines: the pause (5.5 s) falls well inside them on a slow
	// machine too.
	const lines, rate = 6000, 300
	h := startHost(t, append(append([]string{"--pause-only", "slow"},
		instanceArgs(d.Host(), "alias=slow", "include_names="+name)...),
		instanceArgs(d.Host(), "alias=fast", "include_names="+name)...)...)
	h.waitLog("connected to docker", 30*time.Second)
	id, err := d.Run(dockertest.Run{Name: name, Args: []string{"-n", strconv.Itoa(lines), "-rate", strconv.Itoa(rate)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	count := func(instance string) int {
		n := 0
		for _, r := range h.records() {
			if r.Instance == instance {
				n++
			}
		}
		return n
	}
	h.waitFor("records from both", 30*time.Second, func([]record) bool { return count("slow") > 0 && count("fast") > 0 })
	h.cmd.Process.Signal(syscall.SIGUSR1)
	h.waitLog("[input] pausing slow", 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // a collect in flight may still land
	slowAt, fastAt := count("slow"), count("fast")
	time.Sleep(4 * time.Second)
	if n := count("slow"); n != slowAt {
		t.Errorf("the paused input delivered %d records while paused", n-slowAt)
	}
	if n := count("fast"); n-fastAt < rate {
		t.Fatalf("the other input delivered %d records in 4 s while the first was paused, want about %d", n-fastAt, 4*rate)
	}
	h.cmd.Process.Signal(syscall.SIGUSR2)
	h.waitFor("every line in both", 60*time.Second, func([]record) bool { return count("slow") >= lines && count("fast") >= lines })
	time.Sleep(2 * time.Second) // room for a late duplicate to show
	for _, instance := range []string{"slow", "fast"} {
		next := 1
		for _, r := range h.records() {
			if r.Instance != instance {
				continue
			}
			if want := fmt.Sprintf("stdout - %08d", next); r.str("log") != want {
				t.Fatalf("%s: %q where %q was due (lost or repeated)", instance, r.str("log"), want)
			}
			next++
		}
		if next-1 != lines {
			t.Fatalf("%s: %d lines, want %d", instance, next-1, lines)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// promValues reads the host's --metrics file: the last value of each
// series.
func promValues(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		v, err := strconv.ParseFloat(value, 64)
		if !ok || err != nil {
			t.Fatalf("bad metrics line %q", sc.Text())
		}
		out[series] = v
	}
	return out
}
