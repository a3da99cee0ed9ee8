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
	descContainerSource = prometheus.NewDesc("docker_logs_container_source",
		"Where a container's lines are read from (source): 1 for its current one, api or file.", []string{"container_id", "container_name", "source"}, nil)
	descContainerRepeats = prometheus.NewDesc("docker_logs_container_repeats_total",
		"Lines of a container read again on a reopened stream and dropped (delivered before): the cost of resuming exactly.", []string{"container_id", "container_name"}, nil)
)

// Figure is one of an instance's own figures (no per-container label):
// served on status_listen's /metrics and, through the plugin, in Fluent
// Bit's metrics of the instance.
type Figure struct {
	Name, Help string // Name without the docker_logs_ prefix
	Gauge      bool
	Value      func(*Engine) float64
}

func stat(c func(*Stats) *atomic.Int64) func(*Engine) float64 {
	return func(e *Engine) float64 { return float64(c(&e.stats).Load()) }
}

// Figures are every instance figure, in a fixed order.
var Figures = []Figure{
	{"records_total", "Records delivered to the buffer, all containers.", false, stat(func(s *Stats) *atomic.Int64 { return &s.Records })},
	{"records_handed_total", "Records Fluent Bit took from the input (appended into it, or collected and cleaned up).", false, stat(func(s *Stats) *atomic.Int64 { return &s.Handed })},
	{"streams_opened_total", "Log streams opened (first opens and every reopen).", false, stat(func(s *Stats) *atomic.Int64 { return &s.Streams })},
	{"file_streams_opened_total", "Of them, json-file logs opened on disk (source file or auto).", false, stat(func(s *Stats) *atomic.Int64 { return &s.FileReads })},
	{"stream_rotations_total", "Log streams ended at stream_lifetime and reopened where they ended.", false, stat(func(s *Stats) *atomic.Int64 { return &s.Rotations })},
	{"reconnects_total", "Times the daemon was lost and discovery reconnected.", false, stat(func(s *Stats) *atomic.Int64 { return &s.Reconnects })},
	{"duplicates_dropped_total", "Lines read again on a resumed stream and dropped (delivered before).", false, stat(func(s *Stats) *atomic.Int64 { return &s.Duplicates })},
	{"truncated_lines_total", "Lines cut at max_line_size.", false, stat(func(s *Stats) *atomic.Int64 { return &s.Truncated })},
	{"gaps_total", "Times lines were found rotated away by the daemon before they were read (lost, warned).", false, stat(func(s *Stats) *atomic.Int64 { return &s.Gaps })},
	{"catch_ups_total", "Followed streams ended behind a rotating log and read on without follow until caught up.", false, stat(func(s *Stats) *atomic.Int64 { return &s.CatchUps })},
	{"containers_lost_total", "Containers removed before their log could be read (lost, warned).", false, stat(func(s *Stats) *atomic.Int64 { return &s.Lost })},
	{"clock_step_lines_total", "Lines stamped before lines already delivered (the daemon's clock stepped back), delivered in log order.", false, stat(func(s *Stats) *atomic.Int64 { return &s.Steps })},
	{"collects_total", "Collect buffers, or pieces appended straight into Fluent Bit, that handed records over.", false, stat(func(s *Stats) *atomic.Int64 { return &s.Collects })},
	{"refused_appends_total", "Pieces of records Fluent Bit refused (flb_input_log_append returned -1): kept and appended again.", false, stat(func(s *Stats) *atomic.Int64 { return &s.RefusedAppends })},
	{"capped_collects_total", "Collects that carried chunk_max_size with more waiting.", false, stat(func(s *Stats) *atomic.Int64 { return &s.CappedCollects })},
	{"collector_wakes_total", "Times the input's event collector was woken to append what was read (0 where records go at the 1 s collect only).", false, func(e *Engine) float64 { return float64(e.Wakes()) }},
	{"task_restarts_total", "Restarts of the engine's tasks (errors, panics, missed heartbeats).", false, func(e *Engine) float64 { return float64(e.sup.restarts.Load()) }},
	{"paused_seconds_total", "Time Fluent Bit kept the input paused.", false, func(e *Engine) float64 { return e.pausedFor().Seconds() }},
	{"buffer_bytes", "Encoded records waiting in the buffer.", true, func(e *Engine) float64 { return float64(e.buf.Len()) }},
	{"buffer_max_bytes", "buffer_max_size.", true, func(e *Engine) float64 { return float64(e.cfg.BufferMaxSize) }},
	{"containers", "Containers monitored.", true, func(e *Engine) float64 {
		e.mu.Lock()
		defer e.mu.Unlock()
		return float64(len(e.monitors))
	}},
	{"daemon_up", "1 while the daemon answers, 0 while it cannot be reached.", true, func(e *Engine) float64 {
		if e.daemonUp.Load() {
			return 1
		}
		return 0
	}},
}

// metrics is the Prometheus view of one engine.
type metrics struct {
	e       *Engine
	figures []*prometheus.Desc // of Figures, in order
	// latency is from a line's Docker timestamp to its hand-over to Fluent
	// Bit (an append, or a collect): what a user waits for a line, the
	// daemon's own delay included.
	latency prometheus.Histogram
}

func newMetrics(e *Engine) *metrics {
	m := &metrics{e: e}
	for _, f := range Figures {
		m.figures = append(m.figures, prometheus.NewDesc("docker_logs_"+f.Name, f.Help, nil, nil))
	}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "docker_logs_delivery_latency_seconds",
		Help:    "From a line's Docker timestamp to its hand-over to Fluent Bit (appended, or handed over in a collect).",
		Buckets: []float64{.005, .01, .02, .05, .1, .25, .5, 1, 1.5, 2, 5, 10, 30, 60, 300},
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
	ch <- descContainerRepeats
	ch <- descContainerSource
	for _, d := range m.figures {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the counters the
// engine keeps anyway, so the hot path pays nothing for metrics.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	e := m.e
	for i, f := range Figures {
		kind := prometheus.CounterValue
		if f.Gauge {
			kind = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(m.figures[i], kind, f.Value(e))
	}
	e.mu.Lock()
	monitors := make([]*monitor, 0, len(e.monitors))
	for _, mon := range e.monitors {
		monitors = append(monitors, mon)
	}
	e.mu.Unlock()
	for _, mon := range monitors {
		id, name := mon.id, mon.displayName() // the full ID, as records carry it
		ch <- prometheus.MustNewConstMetric(descContainerRepeats, prometheus.CounterValue, float64(mon.repeats.Load()), id, name)
		ch <- prometheus.MustNewConstMetric(descContainerSource, prometheus.GaugeValue, 1, id, name, mon.sourceName())
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
