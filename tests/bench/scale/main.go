// Command scale runs the plugin against many steadily logging containers
// and samples what it costs: P4 (500 containers at 5 lines/s for 2
// minutes: RSS, goroutines, CPU, and the latency from each line's Docker
// timestamp to its hand-over in a collect) and the long test (50
// containers for an hour, sampled each minute, every container's monitor
// delivering throughout).
//
// The containers (loggen, FROM scratch) start first, at -concurrency at a
// time; then the test host (build/flbhost: Fluent Bit's 1 s collect and the
// plugin's own event collector, as in Fluent Bit) runs
// the plugin on them alone (include_labels) with --collect-time, its
// records streamed through a FIFO into this program, which keeps only the
// latencies and per-container counts. Goroutines come from the plugin's
// status endpoint (go_goroutines on /metrics, when the plugin accepts
// status_listen) or else from the Go runtime's scheduler trace
// (GODEBUG=schedtrace,scheddetail: every goroutine but the runtime's own).
//
//	bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image && make
//	go run ./tests/bench/scale -containers 500 -rate 5 -duration 2m              # P4
//	go run ./tests/bench/scale -name long -containers 50 -rate 10 -duration 1h -sample 1m
//
// The daemon may be shared: only the containers this run creates (label
// docker_logs.bench=<name>-PID) are touched, all removed at exit, even
// after an error or ^C; the daemon is never stopped.
package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

var prog benchkit.Prog = "scale"

type config struct {
	name        string // result name: scale (P4) or long
	containers  int
	rate        float64 // lines/s per container
	size        int
	duration    time.Duration
	sample      time.Duration
	warmup      time.Duration
	concurrency int
	host        string
	fluentBit   string // "": the test host
	plugin      string
	dir         string
	docker      string
	resultDir   string
	keep        bool
	// goals
	maxRSS      int64
	perCtrGor   int
	extraGor    int
	maxP99      time.Duration
	maxP50      time.Duration
	maxCPU      float64  // % of a core; 0: no goal
	extraPlugin []string // further -p KEY=VALUE
	pprofDir    string   // save goroutine and heap profiles and /metrics at the end
}

type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var c config
	var extra multi
	flag.StringVar(&c.name, "name", "scale", "name of the result (scale...: P4; long: the long test, every container checked each minute; idle)")
	flag.IntVar(&c.containers, "containers", 500, "logging containers")
	flag.Float64Var(&c.rate, "rate", 5, "lines per second per container")
	flag.IntVar(&c.size, "size", 100, "bytes per line (loggen -size)")
	flag.DurationVar(&c.duration, "duration", 2*time.Minute, "how long the plugin runs, measured")
	flag.DurationVar(&c.sample, "sample", 10*time.Second, "sampling interval of RSS, CPU and goroutines")
	flag.DurationVar(&c.warmup, "warmup", 10*time.Second, "lines stamped before plugin start + warmup are left out of the latency (streams opening)")
	flag.IntVar(&c.concurrency, "concurrency", 6, "containers started at a time")
	flag.StringVar(&c.host, "host", "build/flbhost", "test host binary")
	flag.StringVar(&c.fluentBit, "fluent-bit", "", "run the plugin in this real Fluent Bit (auto: $FLUENT_BIT, ../shared/fluent-bit/v5.1.1, PATH) instead of the test host, to -o null; the latency then comes from the plugin's histogram (bucket bounds) and no container's minutes are checked")
	flag.StringVar(&c.plugin, "plugin", "build/docker_logs.so", "plugin .so")
	flag.StringVar(&c.dir, "docker-dir", benchkit.DefaultDir, "dockerd.sh state directory (docker.sock)")
	flag.StringVar(&c.docker, "docker", "/usr/bin/docker", "docker CLI")
	flag.StringVar(&c.resultDir, "result-dir", "", "where to write <name>.json for the summary, e.g. build/bench (\"\": nowhere; make bench passes it)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (the host's log)")
	flag.Int64Var(&c.maxRSS, "goal-rss-mib", 48, "goal: plugin process RSS below this (MiB)")
	flag.IntVar(&c.perCtrGor, "goal-goroutines-per-container", 2, "goal: goroutines <= this x containers + -goal-goroutines-extra")
	flag.IntVar(&c.extraGor, "goal-goroutines-extra", 50, "see -goal-goroutines-per-container")
	flag.DurationVar(&c.maxP99, "goal-p99", 50*time.Millisecond, "goal: p99 latency at most this")
	flag.DurationVar(&c.maxP50, "goal-p50", 20*time.Millisecond, "goal: p50 latency at most this")
	flag.Float64Var(&c.maxCPU, "goal-cpu", 0, "goal: mean CPU at most this % of a core (0: none)")
	flag.Var(&extra, "p", "extra plugin property KEY=VALUE (repeatable)")
	flag.StringVar(&c.pprofDir, "pprof-dir", "", "before stopping the plugin, save its goroutine and heap profiles and /metrics here (turns on status_pprof)")
	flag.Parse()
	c.extraPlugin = extra
	prog = benchkit.Prog(c.name)
	if c.containers < 1 || c.rate <= 0 || c.size < 19 || c.duration < 10*time.Second || c.sample < time.Second || c.concurrency < 1 {
		prog.Fatalf("need -containers >= 1, -rate > 0, -size >= 19, -duration >= 10s, -sample >= 1s, -concurrency >= 1")
	}
	prog.Built(&c.host, &c.plugin)
	if c.fluentBit != "" {
		if c.fluentBit = prog.FluentBit(c.fluentBit); c.fluentBit == "" {
			prog.Fatalf("-fluent-bit auto: no Fluent Bit found")
		}
	}
	docker := benchkit.NewDocker(c.docker, c.dir)
	b := &bench{cfg: c, docker: docker, label: benchkit.RunLabel(c.name)}
	prog.Main(b.run, b.cleanup)
}

func (b *bench) cleanup() { prog.Cleanup(b.docker, b.label, b.work, b.cfg.keep) }
