package tests

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// health is what a user reads from /health.
type health struct {
	Status string `json:"status"`
	Daemon struct {
		Reachable bool `json:"reachable"`
	} `json:"daemon"`
	Tasks []struct {
		Name     string `json:"name"`
		State    string `json:"state"`
		Restarts int    `json:"restarts"`
	} `json:"tasks"`
}

// curl fetches a status endpoint URL with curl, as an operator would, and
// returns the HTTP code and body.
func curl(t *testing.T, url string) (int, string) {
	t.Helper()
	out, err := exec.Command("curl", "-s", "-m", "5", "-w", "\n%{http_code}", url).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	i := strings.LastIndexByte(string(out), '\n')
	if i < 0 {
		t.Fatalf("curl %s: no status in %q", url, out)
	}
	body, code := string(out[:i]), string(out[i+1:])
	n, err := strconv.Atoi(code)
	if err != nil {
		t.Fatalf("curl %s: bad status %q", url, code)
	}
	return n, body
}

func curlHealth(t *testing.T, addr string) (int, health) {
	t.Helper()
	code, body := curl(t, "http://"+addr+"/health")
	var h health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/health: %v\n%s", err, body)
	}
	return code, h
}

// metricValues parses /metrics with Prometheus' text parser and returns,
// for one family, each series' value keyed by its labels "k=v,k=v".
func metricValues(t *testing.T, addr, family string) map[string]float64 {
	t.Helper()
	code, body := curl(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := map[string]float64{}
	if f := fams[family]; f != nil {
		for _, m := range f.Metric {
			var kv []string
			for _, l := range m.Label {
				kv = append(kv, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(kv, ",")] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

var statusAddrRE = regexp.MustCompile(`status endpoint on http://([0-9.:]+)`)

// statusAddr is the address of the plugin's status endpoint, from its log.
func (h *host) statusAddr() string {
	h.t.Helper()
	m := statusAddrRE.FindStringSubmatch(h.output.String())
	if m == nil {
		h.t.Fatalf("no status endpoint address in the log")
	}
	return m[1]
}

// The plugin in the host serves /health with every task running and
// /metrics whose per-container counters equal the records the host
// received.
func TestStatusEndpointInHost(t *testing.T) {
	d := needDocker(t)
	sfx := suffix()
	h := startHost(t, append([]string{"--interval-ms", "200"},
		instanceArgs(d.Host(), "status_listen=127.0.0.1:0", "include_names=*"+sfx)...)...)
	h.waitLog("connected to docker", 30*time.Second)
	addr := h.statusAddr()
	var ids []string
	for i, args := range [][]string{{"-n", "300", "-stream", "both"}, {"-n", "120"}} {
		id, err := d.Run(dockertest.Run{Name: "status" + strconv.Itoa(i) + sfx, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(id) })
		ids = append(ids, id)
	}
	// The series each delivered record counts in, and how many.
	got := map[string]int{}
	for _, id := range ids {
		if err := d.Wait(id); err != nil {
			t.Fatal(err)
		}
		recs, _ := awaitEveryLineOnce(t, d, h, id)
		for _, r := range ofContainer(recs, id) {
			got["container_id="+id+",container_name="+r.str("container_name")+",input=docker_logs.0,stream="+r.str("stream")]++
		}
	}

	code, hl := curlHealth(t, addr)
	tasks := map[string]string{}
	for _, task := range hl.Tasks {
		tasks[task.Name] = task.State
	}
	if code != http.StatusOK || hl.Status != "ok" || !hl.Daemon.Reachable || tasks["discovery"] != "running" {
		t.Fatalf("/health = %d %+v", code, hl)
	}
	for _, id := range ids { // an exited container's monitor waits for it to restart or go
		if tasks["monitor "+id[:12]] != "running" {
			t.Errorf("/health: monitor of %.12s is %q: %+v", id, tasks["monitor "+id[:12]], hl.Tasks)
		}
	}

	records := metricValues(t, addr, "docker_logs_container_records_total")
	for series, n := range got {
		if records[series] != float64(n) {
			t.Errorf("%s = %v, want the %d records delivered (all series: %v)", series, records[series], n, records)
		}
	}
	if len(records) != len(got) {
		t.Errorf("%d record series, want %d: %v", len(records), len(got), records)
	}
	latency := metricValues(t, addr, "docker_logs_delivery_latency_seconds")
	if latency["input=docker_logs.0"] != 300*2+120 {
		t.Errorf("latency observations %v, want one per record (720)", latency)
	}
}
