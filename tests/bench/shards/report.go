package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

// report prints the one table, with what produced it, to stdout.
func (b *bench) report(took time.Duration) {
	c, m := b.cfg, b.machine
	args := os.Args[1:]
	fmt.Printf("# go run ./tests/bench/shards %s\n", strings.Join(args, " "))
	fmt.Printf("# effective: -shards %s -containers %d -lines %d -size %d -balance=%v\n",
		joinInts(c.shards, ","), c.containers, c.lines, c.size, c.balance)
	fmt.Printf("# date %s; took %s\n", b.started.UTC().Format("2006-01-02T15:04Z"), took.Round(time.Second))
	fmt.Printf("# machine: nproc %d, %s, dockerd %s; load average at start %s; %d other containers on the daemon at start\n",
		m.NProc, cmp.Or(m.CPU, "?"), m.dockerd, m.LoadAvg, m.otherContainer)
	var raws []string
	rawSum := 0.0
	for _, r := range b.raw {
		raws = append(raws, fmt.Sprintf("%.0f", r.rate()))
		rawSum += r.rate()
	}
	raw := rawSum / float64(len(b.raw))
	fmt.Printf("# daemon raw rate (GET logs?stdout=1&timestamps=1, all %d containers in parallel, frames counted and discarded):\n", len(b.ids))
	fmt.Printf("#   %s lines/s (before, after the runs); x raw uses their mean %.0f\n", strings.Join(raws, ", "), raw)
	fmt.Printf("# each run: %s --interval-ms 1000, k instances -p shard=i/k -p read_from_head=true (default chunk_max_size 2M), %s;\n",
		rel(c.host), rel(c.plugin))
	fmt.Printf("# rates over the steady window (every instance busy; '*' = too short, whole run instead); records/s and MB/s\n")
	fmt.Printf("# count every record handed over, 'bench rec/s' only those of the bench's containers; 'foreign' = share of\n")
	fmt.Printf("# records from other containers on the shared daemon (the plugin reads them too); wall = host start to last line.\n")
	fmt.Println("| shards | ctrs/shard | records/s | bench rec/s | MB/s | x 1 shard | x raw | collects/s | mean B/collect | max B/collect | window s | wall s | foreign | exactly-once |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	base := 0.0
	for _, r := range b.runs {
		if r.k == 1 {
			base = r.st.recsPerS
		}
	}
	for _, r := range b.runs {
		st := r.st
		win := fmt.Sprintf("%.1f", st.windowS)
		if !st.steady {
			win += "*"
		}
		x1 := "-"
		if base > 0 {
			x1 = fmt.Sprintf("%.2f", st.recsPerS/base)
		}
		ok := "OK"
		if !r.check.ok() {
			ok = fmt.Sprintf("FAIL (missing %d, dup %d, bad %d, multi-instance %d, wrong shard %d, files agree %v)",
				r.check.missing, r.check.dups, r.check.bad, r.check.multi, r.check.wrongShard, !r.check.attribBad)
		}
		fmt.Printf("| %d | %s | %.0f | %.0f | %.2f | %s | %.2f | %.2f | %.0f | %d | %s | %.1f | %.1f%% | %s |\n",
			r.k, joinInts(r.perShard, "/"), st.recsPerS, st.benchPerS, st.bytesPerS/1e6, x1, st.recsPerS/raw,
			st.collectsPerS, st.meanBytes, st.maxBytes, win, r.wall.Seconds(), st.foreignShare*100, ok)
	}
	for _, r := range b.runs {
		if r.check.foreign > 0 {
			fmt.Printf("# %d shard(s): %d records from %d other containers (whole run)\n", r.k, r.check.foreign, r.check.foreignCtrs)
		}
		for _, p := range r.check.problems {
			fmt.Printf("# %d shard(s): %s\n", r.k, p)
		}
	}
	if c.keep {
		fmt.Printf("# files kept in %s\n", b.work)
	}
}

// writeResult leaves one row per shard count for tests/bench/summary.
func (b *bench) writeResult(took time.Duration) error {
	raw := 0.0
	for _, r := range b.raw {
		raw += r.rate() / float64(len(b.raw))
	}
	base := 0.0
	for _, r := range b.runs {
		if r.k == 1 {
			base = r.st.recsPerS
		}
	}
	var rows []benchkit.Row
	for _, r := range b.runs {
		x1 := "-"
		if base > 0 {
			x1 = fmt.Sprintf("%.2f", r.st.recsPerS/base)
		}
		verdict := "info"
		if !r.check.ok() {
			verdict = "MISS"
		}
		rows = append(rows, benchkit.Row{ID: "shards",
			What:     fmt.Sprintf("%d shard input(s), %d containers' backlog", r.k, len(b.ids)),
			Value:    fmt.Sprintf("%.0f records/s = %s x 1 shard, %.2f x raw (%.0f lines/s); exactly once: %v", r.st.recsPerS, x1, r.st.recsPerS/raw, raw, r.check.ok()),
			Goal:     "exactly once; grows with shards",
			Verdict:  verdict,
			Settings: "flbhost --interval-ms 1000; -p shard=i/k -p read_from_head=true, default chunk_max_size"})
	}
	return benchkit.WriteResult(b.cfg.resultDir, benchkit.Result{Program: "shards", Command: benchkit.Command("shards"),
		Date: b.started.UTC(), Took: took.Round(time.Second).String(), Machine: b.machine.Machine.String(), Rows: rows})
}

// rel shows a path relative to the working directory (the repository root
// under make) when it is inside it.
func rel(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}
