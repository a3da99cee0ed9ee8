// Command pause measures P5: the plugin paused (as Fluent Bit pauses an
// input at mem_buf_limit or for backpressure) for a minute under load, and
// its peak RSS against buffer_max_size. While paused the plugin must stop
// reading from Docker (the log files hold the backlog), so its memory stays
// where the full buffer put it.
//
// The containers write faster than one instance's collect bound, so the
// buffer is full before the pause. For each buffer_max_size: the test host
// runs the plugin (--count-only), -warmup of load, SIGUSR1 (pause) for
// -pause, SIGUSR2 (resume), -after more; RSS is sampled every -every.
//
//	bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image && make
//	go run ./tests/bench/pause -buffers 8M,32M -pause 60s
//
// Only the containers this run creates (label docker_logs.bench=pause-PID)
// are touched, and removed at exit; the daemon is never stopped.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

const prog benchkit.Prog = "pause"

type config struct {
	buffers    []string
	containers int
	rate       float64
	warmup     time.Duration
	pause      time.Duration
	after      time.Duration
	every      time.Duration
	slackMiB   int64
	host       string
	plugin     string
	dir        string
	docker     string
	resultDir  string
}

func main() {
	var c config
	buffers := flag.String("buffers", "8M,32M", "buffer_max_size values to run, comma-separated")
	flag.IntVar(&c.containers, "containers", 10, "logging containers")
	flag.Float64Var(&c.rate, "rate", 1000, "lines/s per container")
	flag.DurationVar(&c.warmup, "warmup", 20*time.Second, "load before the pause")
	flag.DurationVar(&c.pause, "pause", 60*time.Second, "how long the input stays paused")
	flag.DurationVar(&c.after, "after", 10*time.Second, "load after the resume")
	flag.DurationVar(&c.every, "every", 250*time.Millisecond, "RSS sampling interval")
	flag.Int64Var(&c.slackMiB, "goal-slack-mib", 4, "goal: peak RSS during the pause at most RSS before it + this")
	flag.StringVar(&c.host, "host", "build/flbhost", "test host binary")
	flag.StringVar(&c.plugin, "plugin", "build/docker_logs.so", "plugin .so")
	flag.StringVar(&c.dir, "docker-dir", benchkit.DefaultDir, "dockerd.sh state directory (docker.sock)")
	flag.StringVar(&c.docker, "docker", "/usr/bin/docker", "docker CLI")
	flag.StringVar(&c.resultDir, "result-dir", "", "where to write pause.json for the summary, e.g. build/bench (\"\": nowhere; make bench passes it)")
	flag.Parse()
	for _, s := range strings.Split(*buffers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.buffers = append(c.buffers, s)
		}
	}
	if len(c.buffers) == 0 || c.containers < 1 || c.rate <= 0 || c.pause < time.Second || c.every <= 0 {
		prog.Fatalf("need -buffers, -containers >= 1, -rate > 0, -pause >= 1s, -every > 0")
	}
	prog.Built(&c.host, &c.plugin)
	docker := benchkit.NewDocker(c.docker, c.dir)
	b := &bench{cfg: c, docker: docker, label: benchkit.RunLabel("pause")}
	prog.Main(b.run, b.cleanup)
}

type bench struct {
	cfg     config
	docker  benchkit.Docker
	label   string
	work    string
	started time.Time
	machine benchkit.Machine
	runs    []result
}

type result struct {
	buffer                 string
	before, peakPause, hwm int64   // RSS before the pause, peak while paused, VmHWM at the end
	recsBefore             float64 // records/s handed over in the warm-up's last 10 s
	recsPaused             int     // records handed over while paused (after the first collect)
	recsAfter              float64 // records/s after the resume
}

func (b *bench) cleanup() { prog.Cleanup(b.docker, b.label, b.work, false) }

func (b *bench) run(ctx context.Context) error {
	b.started = time.Now()
	b.machine = benchkit.DescribeMachine()
	var err error
	if b.work, err = os.MkdirTemp("", "docker_logs-bench-pause-"); err != nil {
		return err
	}
	c := b.cfg
	ids, err := b.docker.RunMany(ctx, c.containers, 4, func(i int) []string {
		return []string{"--name", fmt.Sprintf("docker_logs-bench-%s-%d", b.label, i), "--network", "none",
			"--log-driver", "json-file", "--label", benchkit.Label + "=" + b.label,
			benchkit.LoggenImage, "-n", "99999999", "-rate", strconv.FormatFloat(c.rate, 'g', -1, 64), "-size", "100", "-then", "sleep"}
	})
	if err != nil {
		return fmt.Errorf("starting containers: %w (%s)", err, benchkit.StartHint)
	}
	benchkit.Progress("%d containers writing %g lines/s each", len(ids), c.rate)
	for _, buf := range c.buffers {
		r, err := b.runOne(ctx, buf)
		if err != nil {
			return fmt.Errorf("buffer_max_size %s: %w", buf, err)
		}
		b.runs = append(b.runs, r)
	}
	return b.report()
}

// collectsSince sums the records of the collects file's lines stamped in
// [from, to).
func collectsSince(path string, from, to time.Time) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	n := 0
	for _, l := range bytes.Split(data, []byte{'\n'}) {
		f := strings.Fields(string(l))
		if len(f) != 4 {
			continue
		}
		ms, _ := strconv.ParseInt(f[0], 10, 64)
		t := time.UnixMilli(ms)
		if !t.Before(from) && t.Before(to) {
			k, _ := strconv.Atoi(f[3])
			n += k
		}
	}
	return n, nil
}

func (b *bench) runOne(ctx context.Context, buf string) (result, error) {
	c := b.cfg
	r := result{buffer: buf}
	col := filepath.Join(b.work, "collects-"+buf+".txt")
	args := []string{"--count-only", "--collects", col, "-i", "docker_logs", "-p", "docker_host=unix://" + b.docker.Socket,
		"-p", "include_labels=" + benchkit.Label + "=" + b.label, "-p", "buffer_max_size=" + buf, c.plugin}
	benchkit.Progress("buffer_max_size %s: flbhost %s", buf, strings.Join(args, " "))
	h, err := benchkit.StartHost(c.host, args, nil, filepath.Join(b.work, "flbhost-"+buf+".log"), nil)
	if err != nil {
		return r, err
	}
	defer h.Stop(30 * time.Second)
	// sampleFor samples RSS for d and returns its peak.
	sampleFor := func(d time.Duration) (int64, error) {
		var peak int64
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-h.Exited():
				return 0, fmt.Errorf("host exited (%v); see %s", h.Err(), h.LogPath)
			case <-time.After(c.every):
			}
			m, err := benchkit.ReadMem(h.PID())
			if err != nil {
				return 0, err
			}
			peak = max(peak, m.RSS)
		}
		return peak, nil
	}
	if _, err := sampleFor(c.warmup - min(c.warmup/4, 2*time.Second)); err != nil {
		return r, err
	}
	if r.before, err = sampleFor(min(c.warmup/4, 2*time.Second)); err != nil {
		return r, err
	}
	pausedAt := time.Now()
	win := min(10*time.Second, c.warmup)
	if n, err := collectsSince(col, pausedAt.Add(-win), pausedAt); err == nil {
		r.recsBefore = float64(n) / win.Seconds()
	}
	benchkit.Progress("buffer_max_size %s: RSS %s MiB under load (%.0f records/s); pausing for %s", buf, benchkit.MiB(r.before), r.recsBefore, c.pause)
	if err := h.Signal(syscall.SIGUSR1); err != nil {
		return r, err
	}
	if r.peakPause, err = sampleFor(c.pause); err != nil {
		return r, err
	}
	resumedAt := time.Now()
	// A collect may be due right at the pause: skip the first second.
	if r.recsPaused, err = collectsSince(col, pausedAt.Add(1100*time.Millisecond), resumedAt); err != nil {
		return r, err
	}
	if err := h.Signal(syscall.SIGUSR2); err != nil {
		return r, err
	}
	if _, err := sampleFor(c.after); err != nil {
		return r, err
	}
	if n, err := collectsSince(col, resumedAt, time.Now()); err == nil {
		r.recsAfter = float64(n) / time.Since(resumedAt).Seconds()
	}
	m, err := benchkit.ReadMem(h.PID())
	if err != nil {
		return r, err
	}
	r.hwm = m.HWM
	benchkit.Progress("buffer_max_size %s: peak RSS while paused %s MiB, VmHWM %s MiB, %d records while paused, %.0f records/s after",
		buf, benchkit.MiB(r.peakPause), benchkit.MiB(r.hwm), r.recsPaused, r.recsAfter)
	if err := h.Stop(30 * time.Second); err != nil {
		return r, fmt.Errorf("host: %v; see %s", err, h.LogPath)
	}
	return r, nil
}

func (b *bench) report() error {
	c := b.cfg
	took := time.Since(b.started)
	cmd := benchkit.Command("pause")
	fmt.Printf("# %s\n", cmd)
	fmt.Printf("# date %s; took %s; machine: %s\n", b.started.UTC().Format("2006-01-02T15:04Z"), took.Round(time.Second), b.machine)
	fmt.Printf("# %d containers x %g lines/s of 100 bytes; flbhost --count-only (appends as the event collector is woken),\n", c.containers, c.rate)
	fmt.Printf("# default chunk_max_size; %s of load, SIGUSR1 (pause) for %s, SIGUSR2, %s more; RSS sampled every %s\n", c.warmup, c.pause, c.after, c.every)
	fmt.Println("| buffer_max_size | RSS before pause MiB | peak RSS paused MiB | growth while paused MiB | VmHWM MiB | VmHWM - buffer MiB | records/s before | records while paused | records/s after |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	var rows []benchkit.Row
	for _, r := range b.runs {
		size, _ := parseSize(r.buffer)
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %.0f | %d | %.0f |\n", r.buffer, benchkit.MiB(r.before), benchkit.MiB(r.peakPause),
			benchkit.MiB(r.peakPause-r.before), benchkit.MiB(r.hwm), benchkit.MiB(r.hwm-size), r.recsBefore, r.recsPaused, r.recsAfter)
		ok := r.peakPause <= r.before+c.slackMiB<<20 && r.recsPaused == 0
		rows = append(rows, benchkit.Row{ID: "P5",
			What: fmt.Sprintf("paused %s under load, buffer_max_size %s: peak RSS", c.pause, r.buffer),
			Value: fmt.Sprintf("peak %s MiB while paused (%s before; VmHWM %s = buffer + %s MiB); %d records while paused",
				benchkit.MiB(r.peakPause), benchkit.MiB(r.before), benchkit.MiB(r.hwm), benchkit.MiB(r.hwm-size), r.recsPaused),
			Goal:     fmt.Sprintf("flat while paused (<= before + %d MiB), nothing handed over", c.slackMiB),
			Verdict:  benchkit.Verdict(ok),
			Settings: fmt.Sprintf("%d ctrs x %g lines/s; flbhost --count-only; -p buffer_max_size=%s, chunk_max_size default", c.containers, c.rate, r.buffer)})
	}
	return benchkit.WriteResult(c.resultDir, benchkit.Result{Program: "pause", Command: cmd, Date: b.started.UTC(),
		Took: took.Round(time.Second).String(), Machine: b.machine.String(), Rows: rows})
}

// parseSize reads a size as Fluent Bit writes it (decimal units).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(strings.ToUpper(s), "K"):
		mult, s = 1000, s[:len(s)-1]
	case strings.HasSuffix(strings.ToUpper(s), "M"):
		mult, s = 1000*1000, s[:len(s)-1]
	case strings.HasSuffix(strings.ToUpper(s), "G"):
		mult, s = 1000*1000*1000, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}
