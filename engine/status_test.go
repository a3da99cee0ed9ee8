package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/docker-logs/docker_logs/docker"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func getHealth(t *testing.T, e *Engine) (int, Health) {
	t.Helper()
	code, body := get(t, "http://"+e.StatusAddr()+"/health")
	var h Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/health: %v\n%s", err, body)
	}
	return code, h
}

// scrape fetches /metrics and parses it with Prometheus' own text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// sumOf adds a family's counter (or gauge, or histogram count) values over
// the series whose labels include want.
func sumOf(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// /health lists every task and turns 503 while the daemon cannot be
// reached, 200 again after; /metrics parses and its counters match what
// was handed over.
func TestStatusEndpoint(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "status_listen", "127.0.0.1:0", "heartbeat_timeout", "2s",
		"stream_lifetime", "1s", "stream_idle_timeout", "1s")
	c := &collector{t: t, e: e, ack: true}
	waitUntil(t, "connected", func() bool { code, _ := getHealth(t, e); return code == http.StatusOK })
	api.run("c1", "web")
	api.run("c2", "db")
	api.writeSeq("c1", docker.Stdout, "out", 1, 30)
	api.writeSeq("c1", docker.Stderr, "err", 1, 12)
	api.writeSeq("c2", docker.Stdout, "db", 1, 5)
	c.until("every line", c.count(47))
	c.settle()

	code, h := getHealth(t, e)
	names := []string{}
	for _, task := range h.Tasks {
		names = append(names, task.Name)
		if task.State != TaskRunning || task.LastHeartbeat.IsZero() {
			t.Errorf("task %+v", task)
		}
	}
	if code != http.StatusOK || h.Status != "ok" || !h.Daemon.Reachable || len(h.Tasks) != 3 {
		t.Fatalf("/health = %d %+v", code, h)
	}

	fams := scrape(t, e.StatusAddr())
	in := map[string]string{"input": "docker_logs.0"}
	for name, want := range map[string]float64{
		"docker_logs_records_total":            47,
		"docker_logs_delivery_latency_seconds": 47,
		"docker_logs_containers":               2,
		"docker_logs_daemon_up":                1,
		"docker_logs_buffer_max_bytes":         4e6,
	} {
		if got := sumOf(fams, name, in); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, s := range []struct {
		name, stream string
		records      float64
	}{{"web", "stdout", 30}, {"web", "stderr", 12}, {"db", "stdout", 5}} {
		l := map[string]string{"input": "docker_logs.0", "container_name": s.name, "stream": s.stream}
		if got := sumOf(fams, "docker_logs_container_records_total", l); got != s.records {
			t.Errorf("records of %s %s = %v, want %v", s.name, s.stream, got, s.records)
		}
	}
	if got, want := sumOf(fams, "docker_logs_container_bytes_total", map[string]string{"container_name": "web", "stream": "stdout"}),
		float64(len(strings.Join(seq("out", 1, 30), ""))); got != want {
		t.Errorf("bytes of web stdout = %v, want %v", got, want)
	}
	if sumOf(fams, "go_goroutines", nil) <= 0 || sumOf(fams, "docker_logs_collects_total", in) < 1 {
		t.Errorf("go_goroutines or collects missing")
	}
	// Every *_total is a counter: Prometheus' rate() and increase() need one.
	for name, f := range fams {
		if strings.HasSuffix(name, "_total") && f.GetType() != dto.MetricType_COUNTER {
			t.Errorf("%s is a %s, named like a counter", name, f.GetType())
		}
	}

	api.setDown(true)
	waitUntil(t, "503 while the daemon is down", func() bool { code, _ := getHealth(t, e); return code == http.StatusServiceUnavailable })
	_, h = getHealth(t, e)
	if h.Daemon.Reachable || h.Status != "unhealthy" || !strings.Contains(strings.Join(h.Problems, ";"), "daemon") {
		t.Errorf("/health while down: %+v", h)
	}
	if sumOf(scrape(t, e.StatusAddr()), "docker_logs_daemon_up", in) != 0 {
		t.Error("daemon_up is not 0 while down")
	}
	api.setDown(false)
	waitUntil(t, "200 after recovery", func() bool { code, _ := getHealth(t, e); return code == http.StatusOK })
	if got := sumOf(scrape(t, e.StatusAddr()), "docker_logs_reconnects_total", in); got < 1 {
		t.Errorf("reconnects = %v after an outage", got)
	}
	if code, _ := get(t, "http://"+e.StatusAddr()+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ = %d without status_pprof", code)
	}
}

// A task stuck past heartbeat_timeout makes /health 503, naming it.
func TestHealthReportsMissedHeartbeat(t *testing.T) {
	api := newFakeAPI()
	block := make(chan struct{})
	api.onInspect = func(id string) {
		if id == "stuck" {
			<-block
		}
	}
	e := startEngine(t, api, "status_listen", "127.0.0.1:0", "heartbeat_timeout", "300ms",
		"stream_lifetime", "200ms", "stream_idle_timeout", "200ms")
	defer close(block)
	waitUntil(t, "connected", func() bool { code, _ := getHealth(t, e); return code == http.StatusOK })
	api.run("stuck", "stuck")
	waitUntil(t, "503 for the stuck task", func() bool { code, _ := getHealth(t, e); return code == http.StatusServiceUnavailable })
	_, h := getHealth(t, e)
	if !strings.Contains(strings.Join(h.Problems, ";"), "stuck") && !strings.Contains(strings.Join(h.Problems, ";"), "heartbeat") {
		t.Errorf("problems %v do not name the task", h.Problems)
	}
}

// pprof is served when asked for; a taken port fails Start naming the key.
func TestStatusPprofAndBusyPort(t *testing.T) {
	e := startEngine(t, newFakeAPI(), "status_listen", "127.0.0.1:0", "status_pprof", "true")
	if code, body := get(t, "http://"+e.StatusAddr()+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ = %d", code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e2 := New(testConfig(t, "status_listen", ln.Addr().String()), "docker_logs.1", newFakeAPI(), nil)
	err = e2.Start()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("invalid status_listen %q", ln.Addr().String())) {
		t.Fatalf("Start on a taken port: %v", err)
	}
}

// A repeating message gets through once per interval, then says how many
// repeats it held back; another message gets through at once.
func TestRepeatLimiter(t *testing.T) {
	var r repeatLimiter
	t0 := time.Now()
	if ok, _ := r.allow("a", t0); !ok {
		t.Fatal("first message held")
	}
	for i := 1; i <= 5; i++ {
		if ok, _ := r.allow("a", t0.Add(time.Duration(i)*time.Second)); ok {
			t.Fatal("repeat let through within the interval")
		}
	}
	if ok, suffix := r.allow("a", t0.Add(repeatInterval+time.Second)); !ok || !strings.Contains(suffix, "repeated 5 times") {
		t.Fatalf("after the interval: %v %q", ok, suffix)
	}
	if ok, suffix := r.allow("b", t0.Add(repeatInterval+2*time.Second)); !ok || suffix != "" {
		t.Fatalf("another message: %v %q", ok, suffix)
	}
}
