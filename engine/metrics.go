package engine

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/docker-logs/docker_logs/docker"
)

// streamCounts are one container's records and log bytes per stream,
// counted by its monitor and read at scrape time.
type streamCounts [3]struct{ records, bytes atomic.Int64 }

// Metric descriptions; every metric also carries the constant label input
// (the instance name, e.g. docker_logs.0).
var (
	descContainerRecords = prometheus.NewDesc("docker_logs_container_records_total",
		"Records delivered per container and stream (a renamed container starts new series).", []string{"container_id", "container_name", "stream"}, nil)
	descContainerBytes = prometheus.NewDesc("docker_logs_container_bytes_total",
		"Log bytes (the log field) delivered per container and stream.", []string{"container_id", "container_name", "stream"}, nil)
	descPaused       = prometheus.NewDesc("docker_logs_paused_seconds_total", "Time Fluent Bit kept the input paused.", nil, nil)
	descTaskRestarts = prometheus.NewDesc("docker_logs_task_restarts_total", "Restarts of the engine's tasks (errors, panics, missed heartbeats).", nil, nil)
)

// counterMetrics are the engine's Stats as Prometheus counters.
var counterMetrics = []struct {
	name, help string
	value      func(*Stats) int64
}{
	{"docker_logs_records_total", "Records delivered to the buffer, all containers.", func(s *Stats) int64 { return s.Records.Load() }},
	{"docker_logs_streams_opened_total", "Log streams opened (first opens and every reopen).", func(s *Stats) int64 { return s.Streams.Load() }},
	{"docker_logs_stream_rotations_total", "Log streams ended at stream_lifetime and reopened where they ended.", func(s *Stats) int64 { return s.Rotations.Load() }},
	{"docker_logs_reconnects_total", "Times the daemon was lost and discovery reconnected.", func(s *Stats) int64 { return s.Reconnects.Load() }},
	{"docker_logs_duplicates_dropped_total", "Lines read again on a resumed stream and dropped (delivered before).", func(s *Stats) int64 { return s.Duplicates.Load() }},
	{"docker_logs_truncated_lines_total", "Lines cut at max_line_size.", func(s *Stats) int64 { return s.Truncated.Load() }},
	{"docker_logs_gaps_total", "Times lines were found rotated away by the daemon before they were read (lost, warned).", func(s *Stats) int64 { return s.Gaps.Load() }},
	{"docker_logs_catch_ups_total", "Followed streams ended behind a rotating log and read on without follow until caught up.", func(s *Stats) int64 { return s.CatchUps.Load() }},
	{"docker_logs_containers_lost_total", "Containers removed before their log could be read (lost, warned).", func(s *Stats) int64 { return s.Lost.Load() }},
	{"docker_logs_clock_step_lines_total", "Lines stamped before lines already delivered (the daemon's clock stepped back), delivered in log order.", func(s *Stats) int64 { return s.Steps.Load() }},
	{"docker_logs_collects_total", "Collect buffers, or pieces appended straight into Fluent Bit, that handed records over.", func(s *Stats) int64 { return s.Collects.Load() }},
	{"docker_logs_refused_appends_total", "Pieces of records Fluent Bit refused (flb_input_log_append returned -1): kept and appended again.", func(s *Stats) int64 { return s.RefusedAppends.Load() }},
	{"docker_logs_capped_collects_total", "Collects that carried chunk_max_size with more waiting.", func(s *Stats) int64 { return s.CappedCollects.Load() }},
}

// metrics is the Prometheus view of one engine.
type metrics struct {
	e        *Engine
	counters []*prometheus.Desc
	gauges   map[string]*prometheus.Desc
	// latency is from a line's Docker timestamp to its hand-over in a
	// collect: what a user waits for a line, the daemon's own delay
	// included.
	latency prometheus.Histogram
}

func newMetrics(e *Engine) *metrics {
	m := &metrics{e: e, gauges: map[string]*prometheus.Desc{}}
	for _, c := range counterMetrics {
		m.counters = append(m.counters, prometheus.NewDesc(c.name, c.help, nil, nil))
	}
	for name, help := range map[string]string{
		"docker_logs_buffer_bytes":     "Encoded records waiting in the buffer.",
		"docker_logs_buffer_max_bytes": "buffer_max_size.",
		"docker_logs_containers":       "Containers monitored.",
		"docker_logs_daemon_up":        "1 while the daemon answers, 0 while it cannot be reached.",
	} {
		m.gauges[name] = prometheus.NewDesc(name, help, nil, nil)
	}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "docker_logs_delivery_latency_seconds",
		Help:    "From a line's Docker timestamp to its hand-over to Fluent Bit in a collect.",
		Buckets: []float64{.05, .1, .25, .5, .75, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60, 300},
	})
	return m
}

// registry holds the engine's metrics and Go's and the process's own.
func (m *metrics) registry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"input": m.e.name}, r)
	wrapped.MustRegister(m, m.latency)
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- descContainerRecords
	ch <- descContainerBytes
	ch <- descPaused
	ch <- descTaskRestarts
	for _, d := range m.counters {
		ch <- d
	}
	for _, d := range m.gauges {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the counters the
// engine keeps anyway, so the hot path pays nothing for metrics.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	e := m.e
	for i, c := range counterMetrics {
		ch <- prometheus.MustNewConstMetric(m.counters[i], prometheus.CounterValue, float64(c.value(&e.stats)))
	}
	ch <- prometheus.MustNewConstMetric(descTaskRestarts, prometheus.CounterValue, float64(e.sup.restarts.Load()))
	up := 0.0
	if e.daemonUp.Load() {
		up = 1
	}
	e.mu.Lock()
	monitors := make([]*monitor, 0, len(e.monitors))
	for _, mon := range e.monitors {
		monitors = append(monitors, mon)
	}
	e.mu.Unlock()
	for name, v := range map[string]float64{
		"docker_logs_buffer_bytes":     float64(e.buf.Len()),
		"docker_logs_buffer_max_bytes": float64(e.cfg.BufferMaxSize),
		"docker_logs_containers":       float64(len(monitors)),
		"docker_logs_daemon_up":        up,
	} {
		ch <- prometheus.MustNewConstMetric(m.gauges[name], prometheus.GaugeValue, v)
	}
	ch <- prometheus.MustNewConstMetric(descPaused, prometheus.CounterValue, e.pausedFor().Seconds())
	for _, mon := range monitors {
		id, name := mon.id, mon.displayName() // the full ID, as records carry it
		for s := docker.Stdout; s <= docker.Stderr; s++ {
			c := &mon.counts[s]
			if n := c.records.Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(descContainerRecords, prometheus.CounterValue, float64(n), id, name, s.String())
				ch <- prometheus.MustNewConstMetric(descContainerBytes, prometheus.CounterValue, float64(c.bytes.Load()), id, name, s.String())
			}
		}
	}
}

// observeDelivery records the latency of records handed over now.
func (m *metrics) observeDelivery(marks []mark, now time.Time) {
	t := now.UnixNano()
	for i := range marks {
		m.latency.Observe(float64(t-marks[i].time) / 1e9)
	}
}
