// Command rotation measures what a stream rotation costs the Docker daemon.
//
// The docker_logs plugin reopens every container's log stream periodically
// with since=<cursor>. On json-file, since alone makes dockerd decode the
// whole log from its oldest entry (cost grows with the log); tail=N bounds the
// scan to the last N entries. For each log size this program creates a
// container whose json-file log has that size, then measures dockerd's CPU
// (utime+stime from /proc, idle baseline subtracted) per reconnect of the
// plugin's kind, without and with tail, checks both return the same entries,
// and derives what C containers reconnecting once per stream lifetime L cost.
//
// Needs the private daemon and the loggen image of tests/docker/dockerd.sh:
//
//	bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image
//	go run ./tests/bench/rotation -sizes 1,10,40 -reconnects 10
//
// Run as root (reads the daemon's /proc and its log files). The daemon may be
// shared: the program only touches the containers it creates (label
// docker_logs.bench=rotation) and removes them on exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

const prog benchkit.Prog = "rotation"

const (
	lineBytes = 100 // loggen -size: payload bytes per line, newline excluded
	// entryBytes estimates one json-file entry for a 100-byte line:
	// {"log":"<100>\n","stream":"stdout","time":"<30>"}\n is 171 bytes; a
	// little less so that -n always reaches the requested size.
	entryBytes = 170
)

type config struct {
	sizes      []float64 // MB (10^6 bytes) of json-file log per container
	reconnects int       // reconnects per measured batch
	tail       int       // tail=N of the bounded variant
	back       int       // the cursor is the back-th entry from the end
	rounds     int       // batches per variant; the table shows medians
	containers int       // C of the derived %core
	dir        string    // dockerd.sh state directory
	docker     string    // docker CLI
	resultDir  string    // where rotation.json goes for the summary
}

func main() {
	var c config
	sizes := flag.String("sizes", "1,10,40", "comma-separated json-file log sizes in MB (10^6 bytes)")
	flag.IntVar(&c.reconnects, "reconnects", 20, "reconnects per measured batch")
	flag.IntVar(&c.tail, "tail", 2000, "tail=N of the bounded variant (must be >= -back)")
	flag.IntVar(&c.back, "back", 1000, "reconnect from the timestamp of the N-th entry from the end")
	flag.IntVar(&c.rounds, "rounds", 3, "batches per variant and size (median reported)")
	flag.IntVar(&c.containers, "containers", 100, "C: containers in the derived %core figures")
	flag.StringVar(&c.dir, "docker-dir", benchkit.DefaultDir, "dockerd.sh state directory (docker.sock, dockerd.pid)")
	flag.StringVar(&c.docker, "docker", "/usr/bin/docker", "docker CLI")
	flag.StringVar(&c.resultDir, "result-dir", "", "where to write rotation.json for the summary, e.g. build/bench (\"\": nowhere; make bench passes it)")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v <= 0 {
			prog.Fatalf("bad -sizes entry %q", s)
		}
		c.sizes = append(c.sizes, v)
	}
	if c.reconnects < 1 || c.rounds < 1 || c.back < 1 || c.tail < 1 {
		prog.Fatalf("-reconnects, -rounds, -back and -tail must be >= 1")
	}

	docker := benchkit.NewDocker(c.docker, c.dir)
	b := &bench{cfg: c, docker: docker, api: newAPI(docker.Socket)}
	prog.Main(b.run, b.cleanup)
}

type bench struct {
	cfg    config
	docker benchkit.Docker
	api    *api
	pid    int
	ids    []string // containers to remove
	logs   []logInfo
}

type logInfo struct {
	mb    float64 // requested
	id    string
	lines int
	bytes int64 // actual json-file size
	cur   cursor
}

// result is one size's medians, in ms of dockerd CPU per reconnect.
type result struct {
	since, tail, ratio float64
	fromT              int // entries each reconnect returned from T on
	rounds             []string
}

func (b *bench) cleanup() {
	if len(b.ids) == 0 {
		return
	}
	if err := b.docker.Remove(b.ids); err != nil {
		prog.Warnf("cleanup: %v", err)
		return
	}
	b.ids = nil
}

func (b *bench) run(ctx context.Context) error {
	started := time.Now()
	var err error
	if b.pid, err = dockerdPID(filepath.Join(b.cfg.dir, "dockerd.pid")); err != nil {
		return fmt.Errorf("%v (%s)", err, benchkit.StartHint)
	}
	if err := b.createLogs(ctx); err != nil {
		return err
	}
	var res []result
	for i := range b.logs {
		r, err := b.measure(ctx, &b.logs[i])
		if err != nil {
			return fmt.Errorf("%.0f MB: %w", b.logs[i].mb, err)
		}
		res = append(res, r)
	}
	b.report(res, time.Since(started))
	return b.writeResult(res, started)
}

// writeResult leaves P3's rows for tests/bench/summary: per log size, what
// C containers reopening once per default stream_lifetime (60s) cost.
func (b *bench) writeResult(res []result, started time.Time) error {
	c := b.cfg
	var rows []benchkit.Row
	for i, r := range res {
		pct := float64(c.containers) * r.tail / (60 * 1000) * 100
		rows = append(rows, benchkit.Row{ID: "P3",
			What:  fmt.Sprintf("dockerd CPU per stream reopen, %.0f MB log; %d containers at stream_lifetime 60s", float64(b.logs[i].bytes)/1e6, c.containers),
			Value: fmt.Sprintf("%.2f%% of a core (since+tail=%d %.1f ms vs since only %.1f ms per reopen, %.0fx)", pct, c.tail, r.tail, r.since, r.ratio),
			Goal:  "<= 2% of a core", Verdict: benchkit.Verdict(pct <= 2),
			Settings: fmt.Sprintf("-tail %d -back %d -reconnects %d -rounds %d", c.tail, c.back, c.reconnects, c.rounds)})
	}
	return benchkit.WriteResult(c.resultDir, benchkit.Result{Program: "rotation", Command: benchkit.Command("rotation"),
		Date: started.UTC(), Took: time.Since(started).Round(time.Second).String(), Machine: benchkit.DescribeMachine().String(), Rows: rows})
}

// createLogs starts one loggen container per size, all at once (writing the
// logs is not measured), and waits until every log is complete. -then sleep
// keeps them running: the plugin follows running containers, and follow=1 on
// a stopped one would not exercise the follower.
func (b *bench) createLogs(ctx context.Context) error {
	for _, mb := range b.cfg.sizes {
		n := int(mb*1e6/entryBytes) + 1
		name := fmt.Sprintf("docker_logs-bench-rotation-%d-%gmb", os.Getpid(), mb)
		id, err := b.docker.Run(ctx, "run", "-d", "--name", name, "--network", "none",
			"--log-driver", "json-file", "--label", "docker_logs.bench=rotation",
			benchkit.LoggenImage, "-n", strconv.Itoa(n), "-size", strconv.Itoa(lineBytes), "-then", "sleep")
		if err != nil {
			return err
		}
		b.ids = append(b.ids, id)
		b.logs = append(b.logs, logInfo{mb: mb, id: id, lines: n})
		benchkit.Progress("container %s: %d lines of %d bytes (~%g MB of json-file log)", name, n, lineBytes, mb)
	}
	for i := range b.logs {
		l := &b.logs[i]
		// loggen's lines are numbered: the log is complete when its last
		// entry is line n (tail=1 costs the daemon next to nothing).
		want := fmt.Sprintf("stdout - %08d ", l.lines)
		deadline := time.Now().Add(10 * time.Minute)
		for {
			last, err := b.api.LastLine(ctx, l.id)
			if err != nil {
				return err
			}
			if strings.HasPrefix(string(last), want) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("log of %s incomplete after 10 min", l.id[:12])
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
		path, err := b.docker.Run(ctx, "inspect", "-f", "{{.LogPath}}", l.id)
		if err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		l.bytes = st.Size()
		if l.cur, err = b.api.getCursor(ctx, l.id, b.cfg.back); err != nil {
			return err
		}
		benchkit.Progress("log %s complete: %d entries, %.1f MB; cursor %s (%s)",
			l.id[:12], l.lines, float64(l.bytes)/1e6, l.cur.ts.Format(time.RFC3339Nano), l.cur.ref)
	}
	return nil
}

// measure runs, per round, a batch of since-only reconnects and a batch of
// since+tail reconnects, each preceded by an idle baseline of dockerd.
func (b *bench) measure(ctx context.Context, l *logInfo) (result, error) {
	// Warm-up, one of each: checks correctness before spending time, sizes
	// the baseline windows, and puts the log file in the page cache for both.
	var ref entries
	wall := map[int]time.Duration{}
	for _, tail := range []int{0, b.cfg.tail} {
		t0 := time.Now()
		e, err := b.api.reconnect(ctx, l.id, l.cur, tail)
		if err != nil {
			return result{}, fmt.Errorf("warm-up reconnect (tail=%d): %w", tail, err)
		}
		wall[tail] = time.Since(t0)
		if tail == 0 {
			ref = e
			if e != l.cur.ref {
				// Not fatal: since=T may legitimately differ from tail=back
				// (equal timestamps, out-of-order stamps); the two
				// reconnect variants are what must agree.
				benchkit.Progress("note: since=T returned %s, tail=%d returned %s", e, b.cfg.back, l.cur.ref)
			}
		} else if e != ref {
			return result{}, fmt.Errorf("since+tail=%d returned %s, since only %s: tail too small? (must be >= -back)", tail, e, ref)
		}
	}

	var since, withTail, ratio []float64
	var rounds []string
	for r := 0; r < b.cfg.rounds; r++ {
		var ms [2]float64
		for k, tail := range []int{0, b.cfg.tail} {
			v, err := b.batch(ctx, l, tail, ref, time.Duration(b.cfg.reconnects)*wall[tail])
			if err != nil {
				return result{}, err
			}
			ms[k] = v
		}
		since = append(since, ms[0])
		withTail = append(withTail, ms[1])
		ratio = append(ratio, ms[0]/ms[1])
		rounds = append(rounds, fmt.Sprintf("%.1f/%.1f", ms[0], ms[1]))
		benchkit.Progress("%.0f MB round %d: since-only %.1f ms, since+tail %.1f ms per reconnect", l.mb, r+1, ms[0], ms[1])
	}
	return result{fromT: ref.n, since: median(since), tail: median(withTail), ratio: median(ratio), rounds: rounds}, nil
}

// batch measures dockerd CPU per reconnect over b.cfg.reconnects reconnects,
// minus the daemon's idle rate measured just before (the daemon is shared and
// has background work). The idle window is as long as the batch is expected
// to take, but at least 1 s: one clock tick is 10 ms.
func (b *bench) batch(ctx context.Context, l *logInfo, tail int, ref entries, expect time.Duration) (float64, error) {
	idle := max(expect, time.Second)
	c0, err := cpuTime(b.pid)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(idle):
	}
	c1, err := cpuTime(b.pid)
	if err != nil {
		return 0, err
	}
	idleRate := float64(c1-c0) / float64(time.Since(t0)) // CPU seconds per second

	c1, _ = cpuTime(b.pid)
	t1 := time.Now()
	for i := 0; i < b.cfg.reconnects; i++ {
		e, err := b.api.reconnect(ctx, l.id, l.cur, tail)
		if err != nil {
			return 0, fmt.Errorf("reconnect (tail=%d): %w", tail, err)
		}
		if e != ref {
			return 0, fmt.Errorf("reconnect (tail=%d) returned %s, expected %s", tail, e, ref)
		}
	}
	d := time.Since(t1)
	c2, err := cpuTime(b.pid)
	if err != nil {
		return 0, err
	}
	used := float64(c2-c1) - idleRate*float64(d)
	return used / float64(time.Millisecond) / float64(b.cfg.reconnects), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the one table, with what produced it.
func (b *bench) report(res []result, took time.Duration) {
	c := b.cfg
	cmd := os.Args[0]
	if strings.Contains(cmd, "go-build") { // a temporary binary of go run
		cmd = "go run ./tests/bench/rotation"
	}
	fmt.Printf("# %s %s\n", cmd, strings.Join(os.Args[1:], " "))
	fmt.Printf("# effective: -sizes %s -reconnects %d -tail %d -back %d -rounds %d -containers %d\n",
		sizesString(c.sizes), c.reconnects, c.tail, c.back, c.rounds, c.containers)
	fmt.Println(machine())
	fmt.Printf("# dockerd CPU per reconnect (GET logs?stdout=1&stderr=1&timestamps=1&follow=1&since=T[&tail=%d],\n", c.tail)
	fmt.Printf("# T = %d-th entry from the end, read to the last entry), idle baseline subtracted,\n", c.back)
	fmt.Printf("# median of %d batches x %d reconnects; ratio = median of per-batch ratios.\n", c.rounds, c.reconnects)
	fmt.Printf("# %%core = C*ms/(L*1000)*100 with C=%d, since+tail, one reconnect per stream lifetime L.\n", c.containers)
	fmt.Printf("%-8s %8s %7s %11s %11s %7s %7s %7s %7s %7s\n",
		"log_MB", "entries", "from_T", "since_ms", "tail_ms", "ratio", "L=30s", "L=60s", "L=120s", "L=300s")
	for i, r := range res {
		l := b.logs[i]
		fmt.Printf("%-8.1f %8d %7d %11.1f %11.1f %6.1fx", float64(l.bytes)/1e6, l.lines, r.fromT, r.since, r.tail, r.ratio)
		for _, sec := range []float64{30, 60, 120, 300} {
			fmt.Printf(" %6.2f%%", float64(c.containers)*r.tail/(sec*1000)*100)
		}
		fmt.Println()
	}
	for i, r := range res {
		fmt.Printf("# %.1f MB per batch since/tail ms: %s\n", float64(b.logs[i].bytes)/1e6, strings.Join(r.rounds, " "))
	}
	fmt.Printf("# correctness: in every reconnect both variants returned the same entries from T (count and hash)\n")
	fmt.Printf("# took %s\n", took.Round(time.Second))
}

func sizesString(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}
