// Command ingest measures the plugin's ingest rate (P1) and its CPU per line
// (P2) on one container with a pre-written backlog, against the daemon's
// own rate and, when a real fluent-bit is on PATH, against Fluent Bit's
// tail input with the docker parser on the same container's json-file.
//
// In each round, on the same container and backlog:
//
//   - raw: GET /containers/ID/logs?follow=1&stdout=1&stderr=1&timestamps=1
//     over the unix socket, frames counted and discarded (what curl does:
//     the daemon's raw rate);
//   - docker logs -f -t ID, its output drained and discarded;
//   - the plugin in the test host (build/flbhost --count-only: records are
//     validated and counted as Fluent Bit does on append, no JSON), with
//     read_from_head and otherwise the default keys, collecting once a
//     second as Fluent Bit does: P1 is what one instance carries as users
//     run it (-chunk-max-size, -buffer-max-size and -interval-ms change
//     that, to measure the reader alone);
//   - with fluent-bit on PATH: fluent-bit -i tail -p parser=docker on the
//     json-file, and fluent-bit -e docker_logs.so -i docker_logs, both to
//     -o null, their progress read from the HTTP server's metrics.
//
// Rates are lines over the window from the first line seen to the last;
// CPU is the reading process's utime+stime from /proc, start-up included.
//
//	bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image && make
//	go run ./tests/bench/ingest -lines 1000000 -rounds 3
//
// The daemon may be shared: the program only touches the container it
// creates (label docker_logs.bench=ingest-PID), removes it at exit, and
// never stops the daemon.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

const prog benchkit.Prog = "ingest"

type config struct {
	lines      int
	size       int
	rounds     int
	chunk      string // chunk_max_size for the plugin
	buffer     string // buffer_max_size
	fields     string // record_fields
	intervalMS int    // test host collect interval
	fluentBit  string // "auto": fluent-bit on PATH; "" or "off": none
	host       string
	plugin     string
	dir        string
	docker     string
	resultDir  string
	timeout    time.Duration
	keep       bool
	pprofDir   string // save a CPU profile of the plugin per round here
	pprofSecs  int
}

func main() {
	var c config
	flag.IntVar(&c.lines, "lines", 1000000, "lines pre-written by the container")
	flag.IntVar(&c.size, "size", 100, "bytes per line, newline excluded (loggen -size)")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds of every reader (medians reported)")
	flag.StringVar(&c.chunk, "chunk-max-size", "", "the plugin's chunk_max_size (\"\": its default)")
	flag.StringVar(&c.buffer, "buffer-max-size", "", "the plugin's buffer_max_size (\"\": its default)")
	flag.StringVar(&c.fields, "record-fields", "", "the plugin's record_fields (\"\": its default, every field)")
	flag.IntVar(&c.intervalMS, "interval-ms", 1000, "the test host's collect interval (Fluent Bit's is 1 s)")
	flag.StringVar(&c.fluentBit, "fluent-bit", "auto", "fluent-bit binary for P2's comparison: auto (on PATH, skipped if none), off, or a path")
	flag.StringVar(&c.host, "host", "build/flbhost", "test host binary")
	flag.StringVar(&c.plugin, "plugin", "build/docker_logs.so", "plugin .so")
	flag.StringVar(&c.dir, "docker-dir", benchkit.DefaultDir, "dockerd.sh state directory (docker.sock)")
	flag.StringVar(&c.docker, "docker", "/usr/bin/docker", "docker CLI")
	flag.StringVar(&c.resultDir, "result-dir", "", "where to write ingest.json for the summary, e.g. build/bench (\"\": nowhere; make bench passes it)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "give up on one reader after this long")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (logs of the hosts)")
	flag.StringVar(&c.pprofDir, "pprof-dir", "", "save a CPU profile of the plugin in the test host per round here (turns on status_listen and status_pprof: not for the quoted figures)")
	flag.IntVar(&c.pprofSecs, "pprof-seconds", 5, "length of that profile")
	flag.Parse()
	if c.lines < 1000 || c.lines > 99999999 || c.size < 19 || c.rounds < 1 || c.intervalMS < 1 {
		prog.Fatalf("need 1000 <= -lines <= 99999999, -size >= 19, -rounds >= 1, -interval-ms >= 1")
	}
	prog.Built(&c.host, &c.plugin)
	c.fluentBit = prog.FluentBit(c.fluentBit)
	docker := benchkit.NewDocker(c.docker, c.dir)
	b := &bench{cfg: c, docker: docker, label: benchkit.RunLabel("ingest")}
	prog.Main(b.run, b.cleanup)
}

type bench struct {
	cfg     config
	docker  benchkit.Docker
	api     *benchkit.API
	label   string // value of benchkit.Label on the container
	id      string
	logPath string
	work    string
	started time.Time
	machine benchkit.Machine
	rounds  []round
	// fbOutput is the output of the Fluent Bit runs, fbOutputDesc says it.
	fbOutput     []string
	fbOutputDesc string
}

// reading is one reader's pass over the backlog.
type reading struct {
	rate float64       // lines/s over first-to-last line
	cpu  time.Duration // the reading process's CPU (0: not measured)
	wall time.Duration
	note string
}

func (r reading) cpuPerM(lines int) float64 { return r.cpu.Seconds() / float64(lines) * 1e6 }

type round struct {
	raw, cli, host reading
	reader         reading  // the plugin with its bound out of the way (readerAlone)
	tail, fb       *reading // nil without fluent-bit
}

func (b *bench) cleanup() { prog.Cleanup(b.docker, b.label, b.work, b.cfg.keep) }

func (b *bench) run(ctx context.Context) error {
	b.started = time.Now()
	b.machine = benchkit.DescribeMachine()
	tr := benchkit.UnixTransport(b.docker.Socket)
	tr.DisableKeepAlives = true
	b.api = benchkit.NewAPI(tr)
	var err error
	if b.cfg.fluentBit != "" {
		b.fbOutput, b.fbOutputDesc = benchkit.FluentBitOutput(b.cfg.fluentBit)
	}
	if b.work, err = os.MkdirTemp("", "docker_logs-bench-ingest-"); err != nil {
		return err
	}
	if err := b.createBacklog(ctx); err != nil {
		return err
	}
	for i := 0; i < b.cfg.rounds; i++ {
		r, err := b.round(ctx, i+1)
		if err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		b.rounds = append(b.rounds, r)
	}
	return b.report(time.Since(b.started))
}

// createBacklog starts the loggen container and waits until its last line
// is in its log; it keeps running (-then sleep), as a followed container.
func (b *bench) createBacklog(ctx context.Context) error {
	bl, err := b.docker.CreateBacklog(ctx, b.api, "docker_logs-bench-"+b.label, b.label, b.cfg.lines, b.cfg.size)
	if err != nil {
		return err
	}
	b.id, b.logPath = bl.ID, bl.LogPath
	return nil
}

// col collects one figure across rounds.
func (b *bench) col(f func(round) float64) float64 {
	var v []float64
	for _, r := range b.rounds {
		if x := f(r); x > 0 {
			v = append(v, x)
		}
	}
	return benchkit.Median(v)
}

func (b *bench) report(took time.Duration) error {
	c := b.cfg
	n := c.lines
	cmd := benchkit.Command("ingest")
	settings := fmt.Sprintf("flbhost --count-only --interval-ms %d; -p read_from_head=true %s -p include_labels=%s=<run>",
		c.intervalMS, cmp.Or(strings.Join(c.sizeKeys(), " "), "(default keys)"), benchkit.Label)
	fmt.Printf("# %s\n", cmd)
	fmt.Printf("# date %s; took %s; machine: %s\n", b.started.UTC().Format("2006-01-02T15:04Z"), took.Round(time.Second), b.machine)
	fmt.Printf("# one container, %d pre-written lines of %d bytes (json-file); %d round(s), medians; rate = lines/s first to last line\n", n, c.size, c.rounds)
	fmt.Printf("# plugin: %s\n", settings)
	if c.fluentBit != "" {
		fmt.Printf("# fluent-bit: %s (tail + parser docker on the json-file, read_from_head; the plugin with -e, same keys; both %s)\n", c.fluentBit, b.fbOutputDesc)
	} else {
		fmt.Printf("# fluent-bit: not on PATH, its comparisons skipped\n")
	}
	fmt.Printf("# reader alone: the plugin again, with --interval-ms %d %s\n", readerAloneMS, strings.Join(readerAlone, " "))
	fmt.Println("| round | raw API lines/s | docker logs -f -t lines/s | plugin lines/s | plugin / raw | plugin / docker logs | reader alone lines/s | plugin / reader alone | plugin CPU s/M lines | docker logs CPU s/M | FB tail CPU s/M | FB+plugin CPU s/M | FB+plugin / tail | host plugin / tail |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	fbCell := func(r *reading) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", r.cpuPerM(n))
	}
	ratio := func(a *reading, bb *reading) string {
		if a == nil || bb == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", a.cpu.Seconds()/bb.cpu.Seconds())
	}
	for i, r := range b.rounds {
		h := r.host
		fmt.Printf("| %d | %.0f | %.0f | %.0f | %.3f | %.3f | %.0f | %.3f | %.2f | %.2f | %s | %s | %s | %s |\n",
			i+1, r.raw.rate, r.cli.rate, h.rate, h.rate/r.raw.rate, h.rate/r.cli.rate, r.reader.rate, h.rate/r.reader.rate, h.cpuPerM(n), r.cli.cpuPerM(n),
			fbCell(r.tail), fbCell(r.fb), ratio(r.fb, r.tail), ratio(&r.host, r.tail))
	}
	p1 := b.col(func(r round) float64 { return r.host.rate / r.raw.rate })
	p1cli := b.col(func(r round) float64 { return r.host.rate / r.cli.rate })
	raw := b.col(func(r round) float64 { return r.raw.rate })
	cli := b.col(func(r round) float64 { return r.cli.rate })
	hr := b.col(func(r round) float64 { return r.host.rate })
	hcpu := b.col(func(r round) float64 { return r.host.cpuPerM(n) })
	reader := b.col(func(r round) float64 { return r.reader.rate })
	p1reader := b.col(func(r round) float64 { return r.host.rate / r.reader.rate })
	fmt.Printf("| median | %.0f | %.0f | %.0f | %.3f | %.3f | %.0f | %.3f | %.2f | %.2f |", raw, cli, hr, p1, p1cli, reader, p1reader, hcpu,
		b.col(func(r round) float64 { return r.cli.cpuPerM(n) }))
	rows := []benchkit.Row{{
		ID: "P1", What: "plugin ingest rate / daemon raw rate (1 container, backlog)",
		Value: fmt.Sprintf("%.3f (plugin %.0f, raw %.0f, docker logs -f -t %.0f lines/s; plugin / docker logs %.2f)", p1, hr, raw, cli, p1cli),
		Goal:  ">= 0.95", Verdict: benchkit.Verdict(p1 >= 0.95), Settings: settings,
	}, {
		ID: "P1", What: "plugin ingest rate at these keys / with its bound out of the way (reader alone)",
		Value: fmt.Sprintf("%.3f (plugin %.0f, reader alone %.0f lines/s)", p1reader, hr, reader),
		Goal:  "-", Verdict: "info", Settings: settings + fmt.Sprintf("; reader alone: --interval-ms %d %s", readerAloneMS, strings.Join(readerAlone, " ")),
	}}
	if c.fluentBit != "" {
		tail := b.col(func(r round) float64 { return r.tail.cpuPerM(n) })
		fb := b.col(func(r round) float64 { return r.fb.cpuPerM(n) })
		fbRatio := b.col(func(r round) float64 { return r.fb.cpu.Seconds() / r.tail.cpu.Seconds() })
		hostRatio := b.col(func(r round) float64 { return r.host.cpu.Seconds() / r.tail.cpu.Seconds() })
		fmt.Printf(" %.2f | %.2f | %.2f | %.2f |\n", tail, fb, fbRatio, hostRatio)
		fbRate := b.col(func(r round) float64 { return r.fb.rate })
		fbP1 := b.col(func(r round) float64 { return r.fb.rate / r.raw.rate })
		fmt.Printf("# fluent-bit rates (metrics polled each second, first count to last): tail %.0f lines/s, plugin %.0f lines/s (%s): %.3f of raw\n",
			b.col(func(r round) float64 { return r.tail.rate }), fbRate, cmp.Or(strings.Join(c.sizeKeys(), " "), "default keys"), fbP1)
		rows = append(rows, benchkit.Row{
			ID: "P1", What: "plugin ingest rate inside Fluent Bit / daemon raw rate (1 container, backlog)",
			Value: fmt.Sprintf("%.3f (Fluent Bit + plugin %.0f, raw %.0f lines/s; metrics polled each second)", fbP1, fbRate, raw),
			Goal:  ">= 0.95", Verdict: benchkit.Verdict(fbP1 >= 0.95), Settings: cmp.Or(strings.Join(c.sizeKeys(), " "), "default keys") + "; fluent-bit " + c.fluentBit + " " + b.fbOutputDesc,
		}, benchkit.Row{
			ID: "P2", What: "CPU per line: plugin inside Fluent Bit / Fluent Bit tail + docker parser",
			Value: fmt.Sprintf("%.2f (FB+plugin %.2f, FB tail %.2f CPU s per M lines; test host + plugin %.2f = %.2f x tail)", fbRatio, fb, tail, hcpu, hostRatio),
			Goal:  "<= 1.00", Verdict: benchkit.Verdict(fbRatio <= 1.0), Settings: settings + "; fluent-bit " + c.fluentBit + " " + b.fbOutputDesc,
		})
	} else {
		fmt.Printf(" - | - | - | - |\n")
		rows = append(rows, benchkit.Row{
			ID: "P2", What: "plugin CPU per line (test host process)",
			Value: fmt.Sprintf("%.2f CPU s per M lines (no fluent-bit on PATH: tail comparison skipped)", hcpu),
			Goal:  "<= Fluent Bit tail's", Verdict: "n/a", Settings: settings,
		})
	}
	for i, r := range b.rounds {
		for _, x := range []*reading{&r.raw, &r.cli, &r.host, &r.reader, r.tail, r.fb} {
			if x != nil && x.note != "" {
				fmt.Printf("# round %d: %s\n", i+1, x.note)
			}
		}
	}
	if c.keep {
		fmt.Printf("# files kept in %s\n", b.work)
	}
	return benchkit.WriteResult(c.resultDir, benchkit.Result{
		Program: "ingest", Command: cmd, Date: b.started.UTC(), Took: took.Round(time.Second).String(),
		Machine: cmp.Or(b.machine.String(), "?"), Rows: rows,
	})
}

// sizeKeys are the -p arguments of the size keys the flags set ("" leaves
// a key to its default).
func (c config) sizeKeys() []string {
	var args []string
	if c.chunk != "" {
		args = append(args, "-p", "chunk_max_size="+c.chunk)
	}
	if c.buffer != "" {
		args = append(args, "-p", "buffer_max_size="+c.buffer)
	}
	if c.fields != "" {
		args = append(args, "-p", "record_fields="+c.fields)
	}
	return args
}
