// Command crash measures what db.commit_delay is for: real Fluent Bit, with
// the plugin appending straight into it and its positions in db, is killed
// (SIGKILL) again and again while a container writes, then restarted on the
// same db and storage.path; at the end every line the container wrote is
// looked for in what the output received. A line never received is lost (a
// position committed past records Fluent Bit held only in memory: its ring
// buffer, or a chunk not yet on disk); a line received twice is repeated
// (a position not yet committed at the kill).
//
// Each -delays value runs with its own container, db and storage: -kills
// runs of -run-min to -run-max (seeded, the same for every delay) ended by
// SIGKILL, then a last run ended cleanly once every line arrived or none
// came for 10 s. Each run reads only its own container (include_names).
//
//	PATH=/path/to/fluent-bit/bin:$PATH go run ./tests/bench/crash -kills 20
//
// It needs fluent-bit (on PATH or -fluent-bit): the test host hands records
// to its output at once, so it has no such window. Only the containers this
// run creates (label docker_logs.bench=crash-PID) are touched.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

const prog benchkit.Prog = "crash"

type config struct {
	delays    []string
	kills     int
	runMin    time.Duration
	runMax    time.Duration
	rate      int
	storage   string
	fluentBit string
	plugin    string
	dir       string
	docker    string
	resultDir string
	keep      bool
}

func main() {
	var c config
	delays := flag.String("delays", "0s,2s", "db.commit_delay values to run, comma-separated")
	flag.IntVar(&c.kills, "kills", 20, "SIGKILLs per delay")
	flag.DurationVar(&c.runMin, "run-min", time.Second, "shortest run before a SIGKILL")
	flag.DurationVar(&c.runMax, "run-max", 3*time.Second, "longest run before a SIGKILL")
	flag.IntVar(&c.rate, "rate", 2000, "lines/s the container writes")
	flag.StringVar(&c.storage, "storage", "filesystem", "the input's storage.type: filesystem or memory")
	flag.StringVar(&c.fluentBit, "fluent-bit", "auto", "fluent-bit binary: auto (on PATH) or a path")
	flag.StringVar(&c.plugin, "plugin", "build/docker_logs.so", "plugin .so")
	flag.StringVar(&c.dir, "docker-dir", benchkit.DefaultDir, "dockerd.sh state directory (docker.sock)")
	flag.StringVar(&c.docker, "docker", "/usr/bin/docker", "docker CLI")
	flag.StringVar(&c.resultDir, "result-dir", "", "where to write crash.json for the summary (\"\": nowhere)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (outputs, dbs, Fluent Bit's logs)")
	flag.Parse()
	for _, d := range strings.Split(*delays, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.delays = append(c.delays, d)
		}
	}
	if len(c.delays) == 0 || c.kills < 1 || c.rate < 1 || (c.storage != "filesystem" && c.storage != "memory") || c.runMin <= 0 || c.runMax < c.runMin {
		prog.Fatalf("need -delays, -kills >= 1, -rate >= 1, -storage filesystem|memory, 0 < -run-min <= -run-max")
	}
	if c.fluentBit = prog.FluentBit(c.fluentBit); c.fluentBit == "" {
		prog.Fatalf("no fluent-bit on PATH: this measurement needs real Fluent Bit (-fluent-bit PATH)")
	}
	prog.Built(&c.plugin)
	docker := benchkit.NewDocker(c.docker, c.dir)
	b := &bench{cfg: c, docker: docker, label: benchkit.RunLabel("crash")}
	prog.Main(b.run, b.cleanup)
}

type bench struct {
	cfg     config
	docker  benchkit.Docker
	label   string
	work    string
	started time.Time
	results []result
}

type result struct {
	delay                 string
	lines, lost, repeated int
	kills                 int
	firstLost             []int // the first lost line numbers
}

func (b *bench) cleanup() { prog.Cleanup(b.docker, b.label, b.work, b.cfg.keep) }

func (b *bench) run(ctx context.Context) error {
	b.started = time.Now()
	var err error
	if b.work, err = os.MkdirTemp("", "docker_logs-bench-crash-"); err != nil {
		return err
	}
	for _, d := range b.cfg.delays {
		r, err := b.runDelay(ctx, d)
		if err != nil {
			return fmt.Errorf("db.commit_delay %s: %w", d, err)
		}
		b.results = append(b.results, r)
	}
	return b.report()
}

func (b *bench) runDelay(ctx context.Context, delay string) (result, error) {
	c := b.cfg
	dir := filepath.Join(b.work, "delay-"+delay)
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return result{}, err
	}
	// Enough lines for every run, written at -rate from the first.
	lines := c.rate * (c.kills*int(c.runMax/time.Second+2) + 10)
	name := fmt.Sprintf("docker_logs-bench-%s-%s", b.label, delay)
	id, err := b.docker.Run(ctx, "run", "-d", "--name", name,
		"--network", "none", "--label", benchkit.Label+"="+b.label,
		benchkit.LoggenImage, "-n", strconv.Itoa(lines), "-rate", strconv.Itoa(c.rate), "-size", "100", "-then", "sleep")
	if err != nil {
		return result{}, fmt.Errorf("%v (%s)", err, benchkit.StartHint)
	}
	cfg := filepath.Join(dir, "fluent-bit.conf")
	out := filepath.Join(dir, "out.txt")
	err = os.WriteFile(cfg, []byte(fmt.Sprintf(`[SERVICE]
    Flush        1
    Log_Level    warn
    storage.path %s
[INPUT]
    Name            docker_logs
    Tag             crash
    docker_host     unix://%s
    read_from_head  true
    include_names   %s
    db              %s
    db.commit_delay %s
    storage.type    %s
[OUTPUT]
    Name  file
    Match *
    Path  %s
    File  out.txt
`, filepath.Join(dir, "storage"), b.docker.Socket, name, filepath.Join(dir, "positions.db"), delay, c.storage, dir)), 0o644)
	if err != nil {
		return result{}, err
	}
	logf, err := os.Create(filepath.Join(dir, "fluent-bit.log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	start := func() (*exec.Cmd, error) {
		cmd := exec.Command(c.fluentBit, "-e", c.plugin, "-c", cfg)
		cmd.Stdout, cmd.Stderr = logf, logf
		return cmd, cmd.Start()
	}
	rng := rand.New(rand.NewPCG(1, 2)) // the same run lengths for every delay
	for k := 1; k <= c.kills; k++ {
		cmd, err := start()
		if err != nil {
			return result{}, err
		}
		time.Sleep(c.runMin + time.Duration(rng.Int64N(int64(c.runMax-c.runMin)+1)))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		seen, _, _ := count(out, lines)
		benchkit.Progress("db.commit_delay %s: kill %d/%d, %d distinct lines received", delay, k, c.kills, seen)
	}
	// The last run: until the container is done and every line arrived,
	// or nothing new came for 10 s (lost lines never come).
	want := fmt.Sprintf("stdout - %08d ", lines)
	api := benchkit.NewAPI(benchkit.UnixTransport(b.docker.Socket))
	for {
		last, err := api.LastLine(ctx, id)
		if err != nil {
			return result{}, err
		}
		if strings.HasPrefix(string(last), want) {
			break
		}
		time.Sleep(time.Second)
	}
	cmd, err := start()
	if err != nil {
		return result{}, err
	}
	prev, still := -1, time.Now()
	for {
		seen, _, _ := count(out, lines)
		if seen == lines || time.Since(still) > 10*time.Second {
			break
		}
		if seen != prev {
			prev, still = seen, time.Now()
		}
		time.Sleep(time.Second)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	got, err := receptions(out, lines)
	if err != nil {
		return result{}, err
	}
	seen, repeated := tally(got)
	r := result{delay: delay, lines: lines, lost: lines - seen, repeated: repeated, kills: c.kills, firstLost: lostLines(got, 10)}
	benchkit.Progress("db.commit_delay %s: %d lines, %d lost, %d repeated over %d SIGKILLs", delay, lines, r.lost, r.repeated, c.kills)
	return r, nil
}

// count reads the output file: distinct lines 1..n received, and the
// receptions beyond the first.
func count(path string, n int) (seen, repeated int, err error) {
	got, err := receptions(path, n)
	seen, repeated = tally(got)
	return seen, repeated, err
}

// tally sums receptions: lines received at all, and receptions beyond the
// first.
func tally(got []int) (seen, repeated int) {
	for _, c := range got {
		if c > 0 {
			seen++
			repeated += c - 1
		}
	}
	return seen, repeated
}

// lostLines returns up to max of the line numbers never received.
func lostLines(got []int, max int) []int {
	var lost []int
	for i := 1; i < len(got) && len(lost) < max; i++ {
		if got[i] == 0 {
			lost = append(lost, i)
		}
	}
	return lost
}

// receptions counts how often each line 1..n is in the output file. A
// record cut short by a SIGKILL is followed on the same line by the next
// run's first one, so every match in a line counts.
func receptions(path string, n int) ([]int, error) {
	got := make([]int, n+1)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return got, nil
	}
	if err != nil {
		return got, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		for _, m := range lineNo.FindAllSubmatch(sc.Bytes(), -1) {
			if i, _ := strconv.Atoi(string(m[1])); i >= 1 && i <= n {
				got[i]++
			}
		}
	}
	return got, sc.Err()
}

var lineNo = regexp.MustCompile(`stdout - (\d{8}) `)

func (b *bench) report() error {
	c := b.cfg
	cmd := benchkit.Command("crash")
	fmt.Printf("# %s\n", cmd)
	fmt.Printf("# date %s; fluent-bit %s; storage.type %s; a container writing %d lines/s; runs of %s to %s ended by SIGKILL, then one clean run\n",
		b.started.UTC().Format("2006-01-02T15:04Z"), c.fluentBit, c.storage, c.rate, c.runMin, c.runMax)
	fmt.Println("| db.commit_delay | SIGKILLs | lines | lost | repeated | first lost lines |")
	fmt.Println("|---|---|---|---|---|---|")
	var rows []benchkit.Row
	for _, r := range b.results {
		fmt.Printf("| %s | %d | %d | %d | %d | %v |\n", r.delay, r.kills, r.lines, r.lost, r.repeated, r.firstLost)
		rows = append(rows, benchkit.Row{
			ID: "crash", What: fmt.Sprintf("db.commit_delay %s, storage.type %s: lines lost over %d SIGKILLs of Fluent Bit", r.delay, c.storage, r.kills),
			Value: fmt.Sprintf("%d lost, %d repeated of %d", r.lost, r.repeated, r.lines),
			Goal:  "0 lost", Verdict: benchkit.Verdict(r.lost == 0), Settings: "fluent-bit " + c.fluentBit,
		})
	}
	return benchkit.WriteResult(c.resultDir, benchkit.Result{
		Program: "crash", Command: cmd, Date: b.started.UTC(), Took: time.Since(b.started).Round(time.Second).String(),
		Machine: benchkit.DescribeMachine().String(), Rows: rows,
	})
}
