// Command shards measures how ingest scales with the shard key.
//
// One docker_logs instance hands Fluent Bit at most chunk_max_size (default
// 2M) per collect, and Fluent Bit collects a Go input once a second, so one
// instance delivers at most ~2 MB/s of records. Several inputs with
// `shard i/n` split the containers between them, each with its own bound.
// This program pre-writes a backlog in -containers containers, then for each
// shard count k runs the test host (build/flbhost, which loads the .so as
// Fluent Bit does) with k instances reading that backlog from the head, and
// reports the records/s handed over (steady state, from --collects), how
// full the collects were, and whether every line arrived exactly once, from
// the one instance its container hashes to. For reference it measures the
// daemon's raw rate (a curl-equivalent read of the same logs) in the same run.
//
// Needs the private daemon and the loggen image of tests/docker/dockerd.sh,
// and a built plugin and host (make):
//
//	bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image
//	go run ./tests/bench/shards -shards 1,2,4 -containers 8 -lines 75000
//
// The daemon may be shared: the program only removes the containers it
// created (label docker_logs.bench=shards) and never stops the daemon. Other
// containers on it are read by the plugin too (it has no filter); their
// records are counted and reported as "foreign".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

const prog benchkit.Prog = "shards"

type config struct {
	shards     []int
	containers int
	lines      int // per container
	size       int // loggen -size
	host       string
	plugin     string
	dir        string // dockerd.sh state directory
	docker     string
	timeout    time.Duration // per shard count
	balance    bool
	keep       bool
	work       string
	resultDir  string
}

func main() {
	var c config
	shards := flag.String("shards", "1,2,4", "comma-separated shard counts to run")
	flag.IntVar(&c.containers, "containers", 8, "containers with a pre-written backlog")
	flag.IntVar(&c.lines, "lines", 75000, "lines per container (stdout); the default makes 1 shard take ~60 s, 4 shards ~15 s")
	flag.IntVar(&c.size, "size", 100, "bytes per line, newline excluded (loggen -size; >= 19)")
	flag.StringVar(&c.host, "host", "build/flbhost", "test host binary")
	flag.StringVar(&c.plugin, "plugin", "build/docker_logs.so", "plugin .so")
	flag.StringVar(&c.dir, "docker-dir", benchkit.DefaultDir, "dockerd.sh state directory (docker.sock)")
	flag.StringVar(&c.docker, "docker", "/usr/bin/docker", "docker CLI")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "give up on a shard count after this long")
	flag.BoolVar(&c.balance, "balance", true, "recreate containers until every shard of every count gets the same number (IDs are random; an uneven split would measure the hash, not the bound)")
	flag.BoolVar(&c.keep, "keep", false, "keep the host's out, collects and log files")
	flag.StringVar(&c.work, "work-dir", "", "directory for those files (default: a new one under $TMPDIR)")
	flag.StringVar(&c.resultDir, "result-dir", "", "where to write shards.json for the summary, e.g. build/bench (\"\": nowhere; make bench passes it)")
	flag.Parse()
	for _, s := range strings.Split(*shards, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 || k > 64 {
			prog.Fatalf("bad -shards entry %q (1..64)", s)
		}
		c.shards = append(c.shards, k)
	}
	// loggen pads only when the prefix "stdout - 00000001 " and one filler
	// byte fit; the exactly-once check relies on the padded form.
	if c.containers < 1 || c.lines < 1 || c.lines > 99999999 || c.size < 19 {
		prog.Fatalf("need -containers >= 1, 1 <= -lines <= 99999999, -size >= 19")
	}
	prog.Built(&c.host, &c.plugin)

	docker := benchkit.NewDocker(c.docker, c.dir)
	b := &bench{cfg: c, docker: docker, created: map[string]bool{}}
	prog.Main(b.run, b.cleanup)
}

type bench struct {
	cfg     config
	docker  benchkit.Docker
	api     *benchkit.API
	created map[string]bool // every container made, until removed
	ids     []string        // the backlog containers
	work    string
	started time.Time
	machine machine
	raw     []rawResult
	runs    []runResult
	unlease func()
}

type machine struct {
	benchkit.Machine
	dockerd        string
	otherContainer int
}

func (b *bench) run(ctx context.Context) error {
	b.started = time.Now()
	// Connections are reused: the raw read measures the daemon, not dials.
	tr := benchkit.UnixTransport(b.docker.Socket)
	tr.MaxIdleConnsPerHost = 64
	b.api = benchkit.NewAPI(tr)
	var err error
	if b.machine, err = b.probe(ctx); err != nil {
		return err
	}
	// A lease as dockertest takes one: a test process that started the
	// daemon does not stop it under us when it finishes.
	if b.unlease, err = takeLease(b.cfg.dir); err != nil {
		benchkit.Progress("no lease on the daemon (%v); continuing", err)
	}
	defer func() {
		if b.unlease != nil {
			b.unlease()
		}
	}()

	b.work = b.cfg.work
	if b.work == "" {
		if b.work, err = os.MkdirTemp("", "docker_logs-bench-shards-"); err != nil {
			return err
		}
		if !b.cfg.keep {
			defer os.RemoveAll(b.work)
		}
	} else if err := os.MkdirAll(b.work, 0o755); err != nil {
		return err
	}

	if err := b.createBacklog(ctx); err != nil {
		return err
	}
	// The raw rate before and after the runs: the machine is noisy, and the
	// spread between the two shows how much.
	r, err := b.rawRead(ctx)
	if err != nil {
		return fmt.Errorf("raw read: %w", err)
	}
	b.raw = append(b.raw, r)
	for _, k := range b.cfg.shards {
		res, err := b.runShards(ctx, k)
		if err != nil {
			return fmt.Errorf("%d shard(s): %w", k, err)
		}
		b.runs = append(b.runs, res)
	}
	if r, err = b.rawRead(ctx); err != nil {
		return fmt.Errorf("raw read: %w", err)
	}
	b.raw = append(b.raw, r)
	b.report(time.Since(b.started))
	if err := b.writeResult(time.Since(b.started)); err != nil {
		return err
	}
	if slices.ContainsFunc(b.runs, func(r runResult) bool { return !r.check.ok() }) {
		return fmt.Errorf("exactly-once check failed (see above)")
	}
	return nil
}
