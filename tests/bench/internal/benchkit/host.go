package benchkit

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Host is a running process that hosts the plugin: the test host
// build/flbhost or a real fluent-bit. Its stderr goes to a log file, except
// the Go runtime's scheduler traces (GODEBUG=schedtrace=...,scheddetail=1),
// which Host reads to count the plugin's goroutines.
type Host struct {
	Cmd     *exec.Cmd
	LogPath string
	exited  chan struct{}
	err     error

	mu         sync.Mutex
	goroutines int       // from the last complete scheduler trace, -1 before
	sampledAt  time.Time // when that trace ended
}

// StartHost starts bin with args in its own process group (a ^C to the
// benchmark reaches it only through Stop, so its shutdown is the clean one).
// env entries are added to the environment; stdout goes to stdout (nil:
// the log file too).
func StartHost(bin string, args, env []string, logPath string, stdout io.Writer) (*Host, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = stdout
	if stdout == nil {
		cmd.Stdout = logf
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	h := &Host{Cmd: cmd, LogPath: logPath, exited: make(chan struct{}), goroutines: -1}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		h.readStderr(stderr, logf)
	}()
	go func() {
		<-copied // Wait closes the pipe: read it to the end first
		h.err = cmd.Wait()
		logf.Close()
		close(h.exited)
	}()
	return h, nil
}

// PID is the host's process ID.
func (h *Host) PID() int { return h.Cmd.Process.Pid }

// Exited is closed when the host has exited; Err then says how.
func (h *Host) Exited() <-chan struct{} { return h.exited }

// Err is the host's exit status, once Exited is closed.
func (h *Host) Err() error { return h.err }

// Signal sends sig to the host.
func (h *Host) Signal(sig syscall.Signal) error { return h.Cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to timeout for the host to exit, then
// kills it.
func (h *Host) Stop(timeout time.Duration) error {
	select {
	case <-h.exited:
		return h.err
	default:
	}
	_ = h.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
		return h.err
	case <-time.After(timeout):
		_ = h.Cmd.Process.Kill()
		<-h.exited
		return errors.New("did not exit within " + timeout.String() + " of SIGTERM (killed)")
	}
}

// Goroutines returns the goroutine count of the last complete scheduler
// trace and when it was taken; -1 when there was none (GODEBUG unset).
func (h *Host) Goroutines() (int, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.goroutines, h.sampledAt
}

// SchedTraceEnv is the environment that makes the Go runtime inside the
// host print every goroutine each interval (GODEBUG schedtrace with
// scheddetail): the only outside view of a c-shared plugin's goroutines
// when it exposes no metrics. The runtime writes a few dozen bytes per
// goroutine each time; at 10 s or more that is negligible.
func SchedTraceEnv(interval time.Duration) []string {
	return []string{"GODEBUG=schedtrace=" + strconv.FormatInt(interval.Milliseconds(), 10) + ",scheddetail=1"}
}

// runtimeWaits are the wait reasons of the runtime's own goroutines, which
// runtime.NumGoroutine (and go_goroutines) leaves out.
var runtimeWaits = []string{"force gc (idle)", "GC sweep wait", "GC scavenge wait",
	"GOMAXPROCS updater (idle)", "finalizer wait", "cleanup wait", "GC worker (idle)",
	"GC worker (active)", "trace reader (blocked)"}

// readStderr copies the host's stderr to log, except the scheduler traces:
// a trace is a "SCHED" line then indented P, M and G lines; each "  G<n>:
// status=<s>(<wait reason>)" is a goroutine, status 6 a dead one (free).
func (h *Host) readStderr(r io.Reader, log io.Writer) {
	br := bufio.NewReaderSize(r, 64<<10)
	in, n := false, 0
	end := func() {
		if in {
			h.mu.Lock()
			h.goroutines, h.sampledAt = n, time.Now()
			h.mu.Unlock()
		}
		in, n = false, 0
	}
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			switch {
			case strings.HasPrefix(line, "SCHED "):
				end()
				in = true
			case in && strings.HasPrefix(line, "  G"):
				if i := strings.Index(line, "status="); i >= 0 && !strings.HasPrefix(line[i:], "status=6(") {
					sys := false
					for _, w := range runtimeWaits {
						if strings.Contains(line, "("+w+")") {
							sys = true
							break
						}
					}
					if !sys {
						n++
					}
				}
			case in && strings.HasPrefix(line, "  "):
				// P and M lines of the trace
			default:
				end()
				io.WriteString(log, line)
			}
		}
		if err != nil {
			end()
			return
		}
	}
}

// MetricsGoroutines reads go_goroutines from a Prometheus text endpoint
// (http://addr/metrics); ok is false when it does not answer or lacks it.
func MetricsGoroutines(addr string) (int, bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err == nil
		}
	}
	return 0, false
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Health is what the plugin's /health says of its tasks.
type Health struct {
	Status   string // ok, unhealthy
	Tasks    int
	Running  int // tasks in state running
	Restarts int // restarts summed over the tasks alive now
}

// ReadHealth reads http://addr/health (the plugin's status endpoint); ok
// is false when it does not answer with the expected JSON.
func ReadHealth(addr string) (Health, bool) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/health")
	if err != nil {
		return Health{}, false
	}
	defer resp.Body.Close()
	var h struct {
		Status string `json:"status"`
		Tasks  []struct {
			State    string `json:"state"`
			Restarts int    `json:"restarts"`
		} `json:"tasks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Status == "" {
		return Health{}, false
	}
	out := Health{Status: h.Status, Tasks: len(h.Tasks)}
	for _, t := range h.Tasks {
		if t.State == "running" {
			out.Running++
		}
		out.Restarts += t.Restarts
	}
	return out, true
}

// Histogram is a Prometheus histogram read from a /metrics page: its
// buckets' upper bounds (seconds, +Inf last) and cumulative counts.
type Histogram struct {
	Bounds []float64
	Cum    []float64
}

// Count is the observations in h.
func (h Histogram) Count() float64 {
	if len(h.Cum) == 0 {
		return 0
	}
	return h.Cum[len(h.Cum)-1]
}

// Minus is what h observed since the earlier snapshot old (same buckets).
func (h Histogram) Minus(old Histogram) Histogram {
	d := Histogram{Bounds: h.Bounds, Cum: slices.Clone(h.Cum)}
	for i := range d.Cum {
		if i < len(old.Cum) {
			d.Cum[i] -= old.Cum[i]
		}
	}
	return d
}

// Quantile is the upper bound of the bucket holding the q-quantile: the
// value is at most that.
func (h Histogram) Quantile(q float64) float64 {
	n := h.Count()
	for i, c := range h.Cum {
		if n > 0 && c >= q*n {
			return h.Bounds[i]
		}
	}
	return math.Inf(1)
}

// MetricsHistogram reads the histogram name from the plugin's status
// endpoint at addr.
func MetricsHistogram(addr, name string) (Histogram, bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return Histogram{}, false
	}
	defer resp.Body.Close()
	var h Histogram
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	prefix := name + "_bucket{"
	for sc.Scan() {
		labels, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(labels, "} ")
		_, le, ok2 := strings.Cut(labels, `le="`)
		le, _, ok3 := strings.Cut(le, `"`)
		if !ok || !ok2 || !ok3 {
			continue
		}
		b, err1 := strconv.ParseFloat(le, 64)
		v, err2 := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err1 != nil || err2 != nil {
			return Histogram{}, false
		}
		h.Bounds, h.Cum = append(h.Bounds, b), append(h.Cum, v)
	}
	return h, len(h.Bounds) > 0
}
