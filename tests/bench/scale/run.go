package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

type bench struct {
	cfg     config
	docker  benchkit.Docker
	label   string
	work    string
	ids     []string
	started time.Time
	machine benchkit.Machine
	startUp time.Duration // starting the containers

	hostStart time.Time
	samples   []sample
	gorSource string
	lat       latencies
	// In Fluent Bit: the plugin's latency histogram at the end of the
	// warm-up and at the last sample.
	histWarm, histEnd benchkit.Histogram
	logIssues         []string // warnings and errors of the plugin, first few
	warnings          int
}

// sample is one look at the plugin's process.
type sample struct {
	at         time.Duration // since the host started
	mem        benchkit.Mem
	cpu        time.Duration // cumulative
	cpuPct     float64       // over the last interval, % of one core
	goroutines int           // -1: unknown
	records    int64         // cumulative, handed over
	health     benchkit.Health
	healthOK   bool // /health answered
}

// latencies is what the record stream leaves: every latency after the
// warm-up, and records per container per minute.
type latencies struct {
	mu      sync.Mutex
	ms      []float32
	records int64
	early   int64 // stamped before the warm-up ended
	perMin  map[string][]int
	bad     int
	// byWin holds the latencies by sampling window of their Docker
	// timestamp (window i: [i, i+1) x sample after the host's start).
	byWin map[int][]float32
}

func (b *bench) run(ctx context.Context) error {
	b.started = time.Now()
	b.machine = benchkit.DescribeMachine()
	var err error
	if b.work, err = os.MkdirTemp("", "docker_logs-bench-"+b.cfg.name+"-"); err != nil {
		return err
	}
	c := b.cfg
	benchkit.Progress("starting %d containers at %g lines/s each, %d at a time", c.containers, c.rate, c.concurrency)
	b.ids, err = b.docker.RunMany(ctx, c.containers, c.concurrency, func(i int) []string {
		return []string{"--name", fmt.Sprintf("docker_logs-bench-%s-%d", b.label, i), "--network", "none",
			"--log-driver", "json-file", "--label", benchkit.Label + "=" + b.label,
			benchkit.LoggenImage, "-n", "99999999", "-rate", strconv.FormatFloat(c.rate, 'g', -1, 64),
			"-size", strconv.Itoa(c.size), "-then", "sleep"}
	})
	if err != nil {
		return fmt.Errorf("starting containers (%d started): %w (%s)", len(b.ids), err, benchkit.StartHint)
	}
	b.startUp = time.Since(b.started)
	benchkit.Progress("%d containers running (%s)", len(b.ids), b.startUp.Round(time.Second))
	if err := b.measure(ctx); err != nil {
		return err
	}
	return b.report()
}

// measure runs the host for the duration, sampling it, and collects the
// records' latencies from its out FIFO.
func (b *bench) measure(ctx context.Context) error {
	c := b.cfg
	fifo := filepath.Join(b.work, "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return err
	}
	port, err := benchkit.FreePort()
	if err != nil {
		return err
	}
	status := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"--collect-time", "--out", fifo, "-i", "docker_logs", "-p", "docker_host=unix://" + b.docker.Socket,
		"-p", "include_labels=" + benchkit.Label + "=" + b.label, "-p", "status_listen=" + status}
	bin, logName := c.host, "flbhost.log"
	if c.fluentBit != "" {
		bin, logName = c.fluentBit, "fluent-bit.log"
		args = append([]string{"-f", "1", "-e", c.plugin}, args[3:]...)
	}
	if c.pprofDir != "" {
		args = append(args, "-p", "status_pprof=on")
	}
	for _, kv := range c.extraPlugin {
		args = append(args, "-p", kv)
	}
	if c.fluentBit != "" {
		args = append(args, "-o", "null", "-m", "*")
	} else {
		args = append(args, c.plugin)
	}
	benchkit.Progress("%s %s", filepath.Base(bin), strings.Join(args, " "))
	h, err := benchkit.StartHost(bin, args, benchkit.SchedTraceEnv(c.sample), filepath.Join(b.work, logName), nil)
	if err != nil {
		return err
	}
	b.hostStart = time.Now()
	defer h.Stop(30 * time.Second)

	// The host opens the FIFO for writing before it loads the plugin; this
	// open returns then, and reads end at its exit. Fluent Bit's latency
	// is the plugin's histogram, from the end of the warm-up on.
	readDone := make(chan error, 1)
	if c.fluentBit != "" {
		readDone <- nil
		time.AfterFunc(c.warmup, func() {
			if h, ok := benchkit.MetricsHistogram(status, latencyMetric); ok {
				b.lat.mu.Lock()
				b.histWarm = h
				b.lat.mu.Unlock()
			}
		})
	} else {
		go func() { readDone <- b.readRecords(fifo) }()
	}

	tick := time.NewTicker(c.sample)
	defer tick.Stop()
	end := time.After(c.duration)
	prevCPU, prevAt := time.Duration(0), time.Duration(0)
	metricsOK := false
loop:
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.Exited():
			return fmt.Errorf("host exited early (%v); see %s", h.Err(), h.LogPath)
		case <-end:
			break loop
		case <-tick.C:
		}
		s := sample{at: time.Since(b.hostStart), goroutines: -1}
		if s.mem, err = benchkit.ReadMem(h.PID()); err != nil {
			return err
		}
		if s.cpu, err = benchkit.CPUTime(h.PID()); err != nil {
			return err
		}
		s.cpuPct = 100 * (s.cpu - prevCPU).Seconds() / (s.at - prevAt).Seconds()
		prevCPU, prevAt = s.cpu, s.at
		if n, ok := benchkit.MetricsGoroutines(status); ok {
			s.goroutines, metricsOK = n, true
			b.gorSource = "go_goroutines from the plugin's /metrics (status_listen)"
		} else if n, at := h.Goroutines(); n >= 0 && time.Since(at) < c.sample && !metricsOK {
			s.goroutines = n
			b.gorSource = "Go scheduler trace (GODEBUG=schedtrace,scheddetail), runtime's own goroutines excluded"
		}
		s.health, s.healthOK = benchkit.ReadHealth(status)
		if c.fluentBit != "" {
			if h, ok := benchkit.MetricsHistogram(status, latencyMetric); ok {
				b.lat.mu.Lock()
				b.histEnd = h
				b.lat.records = int64(h.Count())
				b.lat.mu.Unlock()
			}
		}
		b.lat.mu.Lock()
		s.records = b.lat.records
		b.lat.mu.Unlock()
		b.samples = append(b.samples, s)
		benchkit.Progress("%s: RSS %s MiB, CPU %.1f%%, goroutines %d, threads %d, %d records, tasks %s",
			s.at.Round(time.Second), benchkit.MiB(s.mem.RSS), s.cpuPct, s.goroutines, s.mem.Threads, s.records, tasks(s))
	}
	if c.pprofDir != "" {
		if err := saveProfiles(status, c.pprofDir); err != nil {
			prog.Warnf("profiles: %v", err)
		}
	}
	if err := h.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("host: %v; see %s", err, h.LogPath)
	}
	select {
	case err := <-readDone:
		if err != nil {
			return err
		}
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the out FIFO did not end after the host exited")
	}
	return b.scanLog(h.LogPath)
}

// saveProfiles saves the plugin's goroutines (grouped by stack), heap
// profile and metrics from its status endpoint.
func saveProfiles(addr, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c := http.Client{Timeout: 30 * time.Second}
	for name, path := range map[string]string{
		"goroutines.txt": "/debug/pprof/goroutine?debug=1",
		"heap.pprof":     "/debug/pprof/heap?gc=1",
		"metrics.txt":    "/metrics",
	} {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	benchkit.Progress("goroutine and heap profiles, metrics saved in %s", dir)
	return nil
}

const latencyMetric = "docker_logs_delivery_latency_seconds"

// readRecords reads the host's JSON lines: latency = collect_time - time.
func (b *bench) readRecords(fifo string) error {
	f, err := os.Open(fifo)
	if err != nil {
		return err
	}
	defer f.Close()
	b.lat.perMin = map[string][]int{}
	b.lat.byWin = map[int][]float32{}
	floor := b.hostStart.Add(b.cfg.warmup)
	var rec struct {
		CollectTime string `json:"collect_time"`
		Time        string `json:"time"`
		Record      struct {
			ContainerID string `json:"container_id"`
		} `json:"record"`
	}
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rec.CollectTime, rec.Time, rec.Record.ContainerID = "", "", ""
		if json.Unmarshal(line, &rec) != nil {
			b.lat.bad++
			continue
		}
		ct, err1 := parseTime(rec.CollectTime)
		t, err2 := parseTime(rec.Time)
		if err1 != nil || err2 != nil {
			b.lat.bad++
			continue
		}
		b.lat.mu.Lock()
		b.lat.records++
		if t.Before(floor) {
			b.lat.early++
		} else {
			ms := float32(ct.Sub(t).Seconds() * 1000)
			b.lat.ms = append(b.lat.ms, ms)
			w := int(t.Sub(b.hostStart) / b.cfg.sample)
			b.lat.byWin[w] = append(b.lat.byWin[w], ms)
		}
		// Minutes of the run, by Docker timestamp.
		if m := int(t.Sub(b.hostStart) / time.Minute); m >= 0 {
			per := b.lat.perMin[rec.Record.ContainerID]
			for len(per) <= m {
				per = append(per, 0)
			}
			per[m]++
			b.lat.perMin[rec.Record.ContainerID] = per
		}
		b.lat.mu.Unlock()
	}
}

// parseTime parses the host's "S.NNNNNNNNN".
func parseTime(s string) (time.Time, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 9 {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	a, err1 := strconv.ParseInt(sec, 10, 64)
	n, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	return time.Unix(a, n), nil
}

// scanLog counts the plugin's warnings and errors.
func (b *bench) scanLog(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if (strings.Contains(l, "[ warn]") || strings.Contains(l, "[error]")) && (b.cfg.fluentBit == "" || strings.Contains(l, "docker_logs")) {
			b.warnings++
			if len(b.logIssues) < 5 {
				b.logIssues = append(b.logIssues, l)
			}
		}
	}
	return nil
}

func percentile(sorted []float32, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	return float64(sorted[i])
}

func (b *bench) report() error {
	c := b.cfg
	took := time.Since(b.started)
	cmd := benchkit.Command("scale")
	sort := slices.Clone(b.lat.ms)
	slices.Sort(sort)
	p50, p99, pmax := percentile(sort, 0.50), percentile(sort, 0.99), percentile(sort, 1)
	lines := len(sort)
	latNote := ""
	if c.fluentBit != "" {
		d := b.histEnd.Minus(b.histWarm)
		p50, p99, pmax = 1000*d.Quantile(.5), 1000*d.Quantile(.99), 1000*d.Quantile(1)
		lines = int(d.Count())
		latNote = ", at most: the upper bounds of the plugin's histogram buckets"
	}
	var maxRSS, maxHWM int64
	maxGor, cpuSum, n := -1, 0.0, 0
	for _, s := range b.samples {
		maxRSS = max(maxRSS, s.mem.RSS)
		maxHWM = max(maxHWM, s.mem.HWM)
		maxGor = max(maxGor, s.goroutines)
		if s.at >= c.warmup+c.sample/2 || len(b.samples) == 1 { // start-up left out
			cpuSum += s.cpuPct
			n++
		}
	}
	cpuAvg := cpuSum / float64(max(n, 1))
	expectRate := float64(c.containers) * c.rate
	gotRate := 0.0
	if len(b.samples) > 1 {
		f, l := b.samples[0], b.samples[len(b.samples)-1]
		gotRate = float64(l.records-f.records) / (l.at - f.at).Seconds()
	}
	// Every container delivered in every full minute of the run (not
	// known in Fluent Bit: no records come back from it).
	fullMin := int(c.duration/time.Minute) - 1 // the last minute may be cut short
	silent := 0
	for _, id := range b.ids {
		if c.fluentBit != "" {
			break
		}
		per := b.lat.perMin[id]
		for m := 0; m < fullMin; m++ {
			if m >= len(per) || per[m] == 0 {
				silent++
				break
			}
		}
	}
	settings := fmt.Sprintf("flbhost --collect-time (appended as the event collector is woken); -p include_labels=%s=<run>, defaults otherwise", benchkit.Label)
	if c.fluentBit != "" {
		settings = fmt.Sprintf("%s -e docker_logs.so -o null; -p include_labels=%s=<run>, defaults otherwise", c.fluentBit, benchkit.Label)
	}
	settings += "; fs.inotify.max_user_instances " + benchkit.InotifyInstances()
	if len(c.extraPlugin) > 0 {
		settings += "; -p " + strings.Join(c.extraPlugin, " -p ")
	}
	fmt.Printf("# %s\n", cmd)
	fmt.Printf("# date %s; took %s (containers started in %s); machine: %s\n", b.started.UTC().Format("2006-01-02T15:04Z"),
		took.Round(time.Second), b.startUp.Round(time.Second), b.machine)
	fmt.Printf("# %d containers x %g lines/s of %d bytes, plugin run %s, sampled every %s; plugin: %s\n",
		c.containers, c.rate, c.size, c.duration, c.sample, settings)
	fmt.Printf("# goroutines: %s\n", orNA(b.gorSource))
	fmt.Printf("# latency p50/p99/max: of the lines stamped in the %s before t (the first %s left out)\n", c.sample, c.warmup)
	fmt.Println("| t | RSS MiB | peak RSS MiB | CPU % of a core | goroutines | OS threads | records | latency p50/p99/max ms | tasks running/all, restarts |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	healthSamples, allRunning, maxRestarts := 0, true, 0
	for _, s := range b.samples {
		w := slices.Clone(b.lat.byWin[int((s.at-c.sample/2)/c.sample)])
		slices.Sort(w)
		wl := "-"
		if len(w) > 0 {
			wl = fmt.Sprintf("%.0f/%.0f/%.0f", percentile(w, .5), percentile(w, .99), percentile(w, 1))
		}
		fmt.Printf("| %s | %s | %s | %.1f | %s | %d | %d | %s | %s |\n", s.at.Round(time.Second), benchkit.MiB(s.mem.RSS),
			benchkit.MiB(s.mem.HWM), s.cpuPct, gor(s.goroutines), s.mem.Threads, s.records, wl, tasks(s))
		if s.healthOK {
			healthSamples++
			allRunning = allRunning && s.health.Running == s.health.Tasks && s.health.Status == "ok"
			maxRestarts = max(maxRestarts, s.health.Restarts)
		}
	}
	fmt.Printf("# records handed over: %d (%.0f/s in the sampled window; containers write %.0f/s); %d stamped in the first %s (not in the latency); %d unparsable\n",
		b.lat.records, gotRate, expectRate, b.lat.early, c.warmup, b.lat.bad)
	fmt.Printf("# latency, Docker timestamp to hand-over (append), %d lines: p50 %.0f ms, p99 %.0f ms, max %.0f ms%s\n", lines, p50, p99, pmax, latNote)
	fmt.Printf("# containers silent in some full minute: %d of %d; plugin warnings/errors: %d\n", silent, len(b.ids), b.warnings)
	for _, l := range b.logIssues {
		fmt.Printf("#   %s\n", l)
	}
	gorGoal := c.perCtrGor*c.containers + c.extraGor
	id := c.name
	if strings.HasPrefix(c.name, "scale") {
		id = "P4"
	}
	what := fmt.Sprintf("%d containers x %g lines/s, %s", c.containers, c.rate, c.duration)
	rows := []benchkit.Row{
		{ID: id, What: what + ": peak RSS", Value: benchkit.MiB(max(maxRSS, maxHWM)) + " MiB", Goal: fmt.Sprintf("< %d MiB", c.maxRSS),
			Verdict: benchkit.Verdict(max(maxRSS, maxHWM) < c.maxRSS<<20), Settings: settings},
		{ID: id, What: what + ": goroutines (max)", Value: gor(maxGor) + " (" + orNA(b.gorSource) + ")",
			Goal: fmt.Sprintf("<= %d (%d/container + %d)", gorGoal, c.perCtrGor, c.extraGor), Verdict: gorVerdict(maxGor, gorGoal), Settings: settings},
		cpuRow(id, what, cpuAvg, c.maxCPU, settings),
	}
	// Quiet containers (bench-idle) write too little for a latency.
	if float64(c.containers)*c.rate*(c.duration-c.warmup).Seconds() >= 100 {
		rows = append(rows, benchkit.Row{ID: id, What: what + ": latency Docker timestamp -> appended into Fluent Bit", Value: fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (max %.0f, %d lines%s)", p50, p99, pmax, lines, latNote),
			Goal:    fmt.Sprintf("p50 <= %s, p99 <= %s", c.maxP50, c.maxP99),
			Verdict: benchkit.Verdict(lines > 0 && p99 <= float64(c.maxP99.Milliseconds()) && p50 <= float64(c.maxP50.Milliseconds())), Settings: settings})
	}
	taskNote := "no /health (status_listen not accepted)"
	if healthSamples > 0 {
		taskNote = fmt.Sprintf("every task running at every sample: %v (%d samples of /health), task restarts %d", allRunning, healthSamples, maxRestarts)
	}
	fmt.Printf("# tasks: %s\n", taskNote)
	if c.name == "long" {
		rows = append(rows, benchkit.Row{ID: id, What: what + ": every task running throughout, every container delivering every minute",
			Value: fmt.Sprintf("%s; %d of %d containers silent in some minute; %d plugin warnings/errors", taskNote, silent, len(b.ids), b.warnings),
			Goal:  "all running, 0 restarts, 0 silent", Verdict: benchkit.Verdict(silent == 0 && allRunning && maxRestarts == 0), Settings: settings})
	}
	return benchkit.WriteResult(c.resultDir, benchkit.Result{Program: c.name, Command: cmd, Date: b.started.UTC(),
		Took: took.Round(time.Second).String(), Machine: b.machine.String(), Rows: rows})
}

// cpuRow is the CPU figure, with a goal when maxCPU (% of a core) is set.
func cpuRow(id, what string, avg, maxCPU float64, settings string) benchkit.Row {
	r := benchkit.Row{ID: id, What: what + ": CPU", Value: fmt.Sprintf("%.2f%% of a core (mean of the samples after the warm-up)", avg), Verdict: "info", Settings: settings}
	if maxCPU > 0 {
		r.Goal, r.Verdict = fmt.Sprintf("<= %g%% of a core", maxCPU), benchkit.Verdict(avg <= maxCPU)
	}
	return r
}

func tasks(s sample) string {
	if !s.healthOK {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d, %d (%s)", s.health.Running, s.health.Tasks, s.health.Restarts, s.health.Status)
}

func gor(n int) string {
	if n < 0 {
		return "n/a"
	}
	return strconv.Itoa(n)
}

func gorVerdict(n, goal int) string {
	if n < 0 {
		return "n/a"
	}
	return benchkit.Verdict(n <= goal)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}
