// Command source measures what the plugin's key source costs the whole
// host per line: the reading process's CPU plus dockerd's, for source api
// (dockerd serves every line through the logs endpoint), source file (the
// plugin reads the json-file itself: dockerd serves nothing per line) and,
// when a real fluent-bit is there, Fluent Bit's tail input with the docker
// parser on the same json-file, and the plugin with source file inside that
// Fluent Bit, threaded (Fluent Bit's default for a Go input) and with
// threaded false.
//
// Two scenarios, each with every reader in turn:
//
//   - backlog: one container pre-writes -lines lines of -size bytes
//     (loggen -then sleep, as in tests/bench/ingest) and each reader reads
//     them all from the head (read_from_head=true); the window runs from
//     the reader's start to its last line counted;
//   - live: for each reader, a fresh container writing -rate lines/s for
//     -seconds, the reader started (and ready) before the container; the
//     window runs from the container's start to the reader's last line
//     counted. The plugin runs with its default keys besides source (and
//     include_labels, so it reads the run's container only on a shared
//     daemon): it sees the container through its events.
//
// dockerd's CPU is utime+stime of its process (/proc/PID/stat) over each
// window. Its baseline is measured with no reader: idle for -idle before
// each backlog round; in the live scenario a container writing the same
// lines with no reader at all (before the readers and after them, the mean
// of the two), since dockerd's json-file logging of the container's output
// costs it CPU per line whatever reads it. The dockerd CPU per line of a
// reader is what it used over the window above that baseline's rate (below
// zero: the baseline's noise); its CPU/s over the window is printed as
// measured. The writer's own costs (loggen, containerd-shim, containerd,
// and dockerd's json-file logging in the live scenario) are the same for
// every reader and left out of the whole-host figure. F3 compares dockerd's
// CPU/s during source file with that baseline, or, live, with dockerd's
// during tail where that is higher: any busy reader next to the writer
// changes what dockerd's own writing costs on a small machine, and tail
// asks dockerd nothing.
//
// Each plugin reader is the test host build/flbhost --count-only (records
// validated and counted as Fluent Bit does on append, a collect a second);
// the Fluent Bit readers are fluent-bit itself with -o null, its progress
// read from its HTTP server's metrics (once a second: a reader's last line
// is seen up to a second late, an idle second for its CPU).
//
//	make && make bench-daemon
//	go run ./tests/bench/source -lines 1000000 -rate 20000 -seconds 30
//
// The daemon may be shared: the program only touches the containers it
// creates (label docker_logs.bench=source-PID), removes them, and never
// stops the daemon.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

const prog benchkit.Prog = "source"

type config struct {
	lines     int // backlog lines
	size      int // bytes per line
	rate      int // live lines/s
	seconds   int // live duration
	rounds    int
	idle      time.Duration
	fluentBit string // "auto": fluent-bit on PATH; "" or "off": none
	host      string
	plugin    string
	dir       string
	docker    string
	resultDir string
	timeout   time.Duration
	keep      bool
	only      string // backlog, live or "" (both)
}

// liveLines is the number of lines each live container writes.
func (c config) liveLines() int { return c.rate * c.seconds }

func main() {
	var c config
	flag.IntVar(&c.lines, "lines", 1000000, "backlog: lines pre-written by the container")
	flag.IntVar(&c.size, "size", 100, "bytes per line, newline excluded (loggen -size)")
	flag.IntVar(&c.rate, "rate", 20000, "live: lines per second the container writes")
	flag.IntVar(&c.seconds, "seconds", 30, "live: for how long the container writes")
	flag.IntVar(&c.rounds, "rounds", 1, "rounds of every reader in each scenario (medians reported)")
	flag.DurationVar(&c.idle, "idle", 5*time.Second, "how long dockerd's idle CPU is measured, with no reader, before each round")
	flag.StringVar(&c.fluentBit, "fluent-bit", "auto", "fluent-bit binary for the tail comparison: auto (on PATH, skipped if none), off, or a path")
	flag.StringVar(&c.host, "host", "build/flbhost", "test host binary")
	flag.StringVar(&c.plugin, "plugin", "build/docker_logs.so", "plugin .so")
	flag.StringVar(&c.dir, "docker-dir", benchkit.DefaultDir, "dockerd.sh state directory (docker.sock, dockerd.pid)")
	flag.StringVar(&c.docker, "docker", "/usr/bin/docker", "docker CLI")
	flag.StringVar(&c.resultDir, "result-dir", "", "where to write source.json for the summary, e.g. build/bench (\"\": nowhere; make bench passes it)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "give up on one reader after this long")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (logs of the readers)")
	flag.StringVar(&c.only, "only", "", "run one scenario only: backlog or live (\"\": both)")
	flag.Parse()
	if c.lines < 1000 || c.lines > 99999999 || c.size < 19 || c.rounds < 1 || c.rate < 1 || c.seconds < 1 ||
		c.liveLines() > 99999999 || c.idle < time.Second {
		prog.Fatalf("need 1000 <= -lines <= 99999999, -size >= 19, -rounds >= 1, -rate >= 1, -seconds >= 1, -rate x -seconds <= 99999999, -idle >= 1s")
	}
	if c.only != "" && c.only != "backlog" && c.only != "live" {
		prog.Fatalf("-only must be backlog or live, not %q", c.only)
	}
	prog.Built(&c.host, &c.plugin)
	c.fluentBit = prog.FluentBit(c.fluentBit)
	docker := benchkit.NewDocker(c.docker, c.dir)
	b := &bench{cfg: c, docker: docker, label: benchkit.RunLabel("source")}
	prog.Main(b.run, b.cleanup)
}

type bench struct {
	cfg     config
	docker  benchkit.Docker
	api     *benchkit.API
	label   string // value of benchkit.Label on the containers
	dockerd int    // dockerd's pid
	root    string // dockerd's data-root (json-file logs under containers/)
	work    string
	started time.Time
	machine benchkit.Machine
	readers []reader
	// fbOutput is the output of the Fluent Bit runs, fbOutputDesc says it.
	fbOutput     []string
	fbOutputDesc string
	scenarios    []*scenario
}

func (b *bench) cleanup() { prog.Cleanup(b.docker, b.label, b.work, b.cfg.keep) }

func (b *bench) run(ctx context.Context) error {
	b.started = time.Now()
	b.machine = benchkit.DescribeMachine()
	tr := benchkit.UnixTransport(b.docker.Socket)
	tr.DisableKeepAlives = true
	b.api = benchkit.NewAPI(tr)
	var err error
	if b.dockerd, err = benchkit.DockerdPID(b.cfg.dir); err != nil {
		return err
	}
	if b.root, err = b.docker.Run(ctx, "info", "-f", "{{.DockerRootDir}}"); err != nil {
		return fmt.Errorf("%v (%s)", err, benchkit.StartHint)
	}
	b.readers = []reader{readAPI, readFile}
	if b.cfg.fluentBit != "" {
		b.fbOutput, b.fbOutputDesc = benchkit.FluentBitOutput(b.cfg.fluentBit)
		b.readers = append(b.readers, readTail, readFBFile, readFBFileUnthreaded)
	}
	if b.work, err = os.MkdirTemp("", "docker_logs-bench-source-"); err != nil {
		return err
	}
	if b.cfg.only != "live" {
		sc, err := b.backlog(ctx)
		if err != nil {
			return fmt.Errorf("backlog: %w", err)
		}
		b.scenarios = append(b.scenarios, sc)
	}
	if b.cfg.only != "backlog" {
		sc, err := b.live(ctx)
		if err != nil {
			return fmt.Errorf("live: %w", err)
		}
		b.scenarios = append(b.scenarios, sc)
	}
	return b.report(time.Since(b.started))
}

// reading is one reader's pass over one scenario's lines.
type reading struct {
	lines   int
	rate    float64       // lines/s (see the reader's rate)
	window  time.Duration // what the CPU times cover
	cpu     time.Duration // the reading process's CPU over the window (0: none)
	dockerd time.Duration // dockerd's CPU over the window
	note    string
}

// dockerdPerSec is dockerd's CPU/s over the window, as measured.
func (r reading) dockerdPerSec() float64 { return r.dockerd.Seconds() / r.window.Seconds() }

// figures are one reader's per-line costs against a baseline of dockerd's
// CPU/s (what it spends with no reader).
type figures struct {
	rate, readerM, dockerdM, wholeM, dockerdS float64
}

func (r reading) figures(base float64) figures {
	perM := func(s float64) float64 { return s / float64(r.lines) * 1e6 }
	f := figures{
		rate:     r.rate,
		readerM:  perM(r.cpu.Seconds()),
		dockerdM: perM(r.dockerd.Seconds() - base*r.window.Seconds()),
		dockerdS: r.dockerdPerSec(),
	}
	f.wholeM = f.readerM + f.dockerdM
	return f
}

// scenario is one scenario's rounds.
type scenario struct {
	name   string // backlog, live
	rounds []*round
}

type round struct {
	idle float64 // dockerd CPU/s with no reader and no writer
	// writers (live): the container alone, no reader, before the readers
	// and after them.
	writers  []reading
	readings map[string]*reading // by reader name
}

// writer is the mean of f over the writer-alone runs.
func (r *round) writer(f func(reading) float64) float64 {
	sum := 0.0
	for _, w := range r.writers {
		sum += f(w)
	}
	return sum / float64(len(r.writers))
}

// base is dockerd's CPU/s that a reader's is measured against: idle in the
// backlog, the writer alone live (the mean of before and after).
func (r *round) base() float64 {
	if len(r.writers) > 0 {
		return r.writer(reading.dockerdPerSec)
	}
	return r.idle
}

// baseSpread is how far apart the writer-alone measurements before and
// after the readers are (0 in the backlog): the noise of the baseline.
func (r *round) baseSpread() float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, w := range r.writers {
		lo, hi = min(lo, w.dockerdPerSec()), max(hi, w.dockerdPerSec())
	}
	return max(hi-lo, 0)
}

// med is the median over the rounds of f of a reader's figures (skipping
// rounds without that reader).
func (s *scenario) med(name string, f func(figures) float64) (float64, bool) {
	var v []float64
	for _, r := range s.rounds {
		if x, ok := r.readings[name]; ok {
			v = append(v, f(x.figures(r.base())))
		}
	}
	return benchkit.Median(v), len(v) > 0
}

// medRound is the median over the rounds of f of a round.
func (s *scenario) medRound(f func(*round) float64) float64 {
	var v []float64
	for _, r := range s.rounds {
		v = append(v, f(r))
	}
	return benchkit.Median(v)
}

// Tolerances of F3 (dockerd's CPU/s during source file no higher than
// with no reader): the CPU times have 10 ms ticks and a shared daemon
// serves others now and then, so "no higher" is within an absolute
// f3Abs CPU s/s plus f3Rel of the baseline, plus, live, how far apart the
// two measurements of the writer alone were.
const (
	f3Abs = 0.01
	f3Rel = 0.05
)

func (b *bench) report(took time.Duration) error {
	c := b.cfg
	cmd := benchkit.Command("source")
	fmt.Printf("# %s\n", cmd)
	fmt.Printf("# date %s; took %s; machine: %s; dockerd pid %d\n", b.started.UTC().Format("2006-01-02T15:04Z"), took.Round(time.Second), b.machine, b.dockerd)
	fmt.Printf("# whole-host CPU per line = the reading process's CPU + dockerd's CPU above its baseline with no reader (backlog: idle; live: the\n")
	fmt.Printf("#   same container writing with no reader), per M lines; the writer's cost (loggen, containerd-shim, containerd, and live dockerd's\n")
	fmt.Printf("#   own json-file logging) is the same for every reader and left out (dockerd CPU s/M below 0: the baseline's noise).\n")
	fmt.Printf("#   dockerd CPU/s is as measured over the reader's window.\n")
	fmt.Printf("# source api/file: %s --count-only (a collect a second) -p source=<api|file> -p include_labels=%s=<run>; backlog also -p read_from_head=true\n", "flbhost", benchkit.Label)
	if c.fluentBit != "" {
		fmt.Printf("# fluent-bit: %s, %s; tail: -p parser=docker -p read_from_head=true -p refresh_interval=1 on the json-file; plugin: -e, the keys above\n", c.fluentBit, b.fbOutputDesc)
		fmt.Printf("# the test host does less per record than Fluent Bit (no chunks, no routing): x tail of source api/file is host vs Fluent Bit;\n")
		fmt.Printf("#   F2's verdict compares fluent-bit + source file with tail, both in the same Fluent Bit\n")
	} else {
		fmt.Printf("# fluent-bit: not on PATH (or -fluent-bit off): the tail comparison is skipped\n")
	}
	fmt.Printf("# %d round(s), medians\n", c.rounds)
	var rows []benchkit.Row
	settings := fmt.Sprintf("flbhost --count-only; -p source=<api|file> -p include_labels=%s=<run>", benchkit.Label)
	if c.fluentBit != "" {
		settings += "; fluent-bit " + c.fluentBit + " " + b.fbOutputDesc + ", tail + parser docker"
	}
	for _, s := range b.scenarios {
		rows = append(rows, b.table(s, settings)...)
	}
	if c.keep {
		fmt.Printf("# files kept in %s\n", b.work)
	}
	return benchkit.WriteResult(c.resultDir, benchkit.Result{
		Program: "source", Command: cmd, Date: b.started.UTC(), Took: took.Round(time.Second).String(),
		Machine: b.machine.String(), Rows: rows,
	})
}

// table prints one scenario's table and returns its rows for the summary.
func (b *bench) table(s *scenario, settings string) []benchkit.Row {
	c := b.cfg
	idle := s.medRound(func(r *round) float64 { return r.idle })
	fmt.Println()
	var what, head string
	if s.name == "backlog" {
		what = fmt.Sprintf("backlog of %d lines", c.lines)
		fmt.Printf("## backlog: one container, %d pre-written lines of %d bytes (json-file), each reader from the head; lines/s over the reader's run\n", c.lines, c.size)
		fmt.Printf("## (the plugin's: at most what its default buffer holds per 1 s collect, as bench-ingest's P1)\n")
		head = fmt.Sprintf("dockerd CPU/s (idle: %.3f)", idle)
		settings += "; read_from_head=true"
	} else {
		what = fmt.Sprintf("live, %d lines/s for %d s", c.rate, c.seconds)
		writer := s.medRound(func(r *round) float64 { return r.base() })
		before := s.medRound(func(r *round) float64 { return r.writers[0].dockerdPerSec() })
		after := s.medRound(func(r *round) float64 { return r.writers[len(r.writers)-1].dockerdPerSec() })
		fmt.Printf("## live: per reader a fresh container writing %d lines of %d bytes at %d lines/s (%d s), started once the reader is ready;\n", c.liveLines(), c.size, c.rate, c.seconds)
		fmt.Printf("## window from the container's start to the reader's last line counted; lines/s over that window\n")
		head = fmt.Sprintf("dockerd CPU/s (idle: %.3f; writer only: %.3f, before %.3f, after %.3f)", idle, writer, before, after)
	}
	fmt.Printf("| reader | lines/s | reader CPU s/M | dockerd CPU s/M | whole-host CPU s/M | x tail | %s |\n", head)
	fmt.Println("|---|---|---|---|---|---|---|")
	tail, haveTail := s.med(readTail.name, func(f figures) float64 { return f.wholeM })
	if s.name == "live" {
		rate := s.medRound(func(r *round) float64 { return r.writer(func(w reading) float64 { return w.rate }) })
		gross := s.medRound(func(r *round) float64 {
			return r.writer(func(w reading) float64 { return w.dockerd.Seconds() / float64(w.lines) * 1e6 })
		})
		fmt.Printf("| writer only, no reader (the baseline; mean of before and after) | %.0f | - | (%.2f) | - | - | %.3f |\n", rate, gross,
			s.medRound(func(r *round) float64 { return r.base() }))
	}
	med := map[string]figures{}
	for _, rd := range b.readers {
		var f figures
		f.rate, _ = s.med(rd.name, func(f figures) float64 { return f.rate })
		f.readerM, _ = s.med(rd.name, func(f figures) float64 { return f.readerM })
		f.dockerdM, _ = s.med(rd.name, func(f figures) float64 { return f.dockerdM })
		f.wholeM, _ = s.med(rd.name, func(f figures) float64 { return f.wholeM })
		f.dockerdS, _ = s.med(rd.name, func(f figures) float64 { return f.dockerdS })
		med[rd.name] = f
		x := "-"
		if haveTail {
			x = fmt.Sprintf("%.2f", f.wholeM/tail)
		}
		fmt.Printf("| %s | %.0f | %s | %s | %s | %s | %.3f |\n", rd.name, f.rate, f2(f.readerM), f2(f.dockerdM), f2(f.wholeM), x, f.dockerdS)
	}
	for i, r := range s.rounds {
		for _, rd := range b.readers {
			if x := r.readings[rd.name]; x != nil && x.note != "" {
				fmt.Printf("# round %d, %s: %s\n", i+1, rd.name, x.note)
			}
		}
	}
	api, file := med[readAPI.name], med[readFile.name]
	rows := []benchkit.Row{{
		ID: "F1", What: "whole-host CPU per line, source file / source api (" + what + ")",
		Value: fmt.Sprintf("%.2f (file %.2f = plugin %.2f + dockerd %.2f; api %.2f = plugin %.2f + dockerd %.2f CPU s per M lines)",
			file.wholeM/api.wholeM, file.wholeM, file.readerM, file.dockerdM, api.wholeM, api.readerM, api.dockerdM),
		Goal: "-", Verdict: "info", Settings: settings,
	}}
	if haveTail {
		fb, unthreaded := med[readFBFile.name], med[readFBFileUnthreaded.name]
		rows = append(rows, benchkit.Row{
			ID: "F2", What: "whole-host CPU per line, source file / Fluent Bit tail + docker parser, both in Fluent Bit (" + what + ")",
			Value: fmt.Sprintf("%.2f (fluent-bit + source file %.2f, tail %.2f CPU s per M lines; with threaded false %.2f = %.2f x tail; test host + source file %.2f = %.2f x tail)",
				fb.wholeM/tail, fb.wholeM, tail, unthreaded.wholeM, unthreaded.wholeM/tail, file.wholeM, file.wholeM/tail),
			Goal: "<= 1.30", Verdict: benchkit.Verdict(fb.wholeM/tail <= 1.3), Settings: settings,
		})
	} else {
		rows = append(rows, benchkit.Row{
			ID: "F2", What: "whole-host CPU per line, source file / Fluent Bit tail + docker parser (" + what + ")",
			Value: fmt.Sprintf("source file %.2f CPU s per M lines (no fluent-bit: tail comparison skipped)", file.wholeM),
			Goal:  "<= 1.30", Verdict: "n/a", Settings: settings,
		})
	}
	base, baseName, spread, spreadNote := idle, "idle", 0.0, ""
	if s.name == "live" {
		spread = s.medRound(func(r *round) float64 { return r.baseSpread() })
		spreadNote = fmt.Sprintf(" + the writer alone's spread %.3f", spread)
		base, baseName = s.medRound(func(r *round) float64 { return r.base() }), "the writer alone"
		// Any busy reader next to the writer on a small machine changes
		// what dockerd's own writing costs: tail, which asks dockerd
		// nothing, is the control.
		if t := med[readTail.name].dockerdS; haveTail && t > base {
			base, baseName = t, fmt.Sprintf("tail reading (the writer alone: %.3f)", base)
		}
	}
	tol := f3Abs + f3Rel*base + spread
	rows = append(rows, benchkit.Row{
		ID: "F3", What: "dockerd CPU/s during source file vs with no reader (" + what + ")",
		Value:   fmt.Sprintf("%.3f during source file, %.3f with %s (source api: %.3f)", file.dockerdS, base, baseName, api.dockerdS),
		Goal:    fmt.Sprintf("<= %s (+%.3f: %.2f + %.0f%%%s)", baseName, tol, f3Abs, f3Rel*100, spreadNote),
		Verdict: benchkit.Verdict(file.dockerdS <= base+tol), Settings: settings,
	})
	return rows
}

// f2 formats a CPU figure with two decimals; a baseline's noise may make a
// small one negative, and -0.00 reads as 0.00.
func f2(x float64) string {
	s := fmt.Sprintf("%.2f", x)
	if s == "-0.00" {
		return "0.00"
	}
	return s
}
