// Command summary prints the one table of `make bench`: every result the
// benchmark programs left in the result directory (P1..P5 and the long
// test, each against its goal) and the hot-path Go benchmarks, with the
// command that produced each figure.
//
//	go run ./tests/bench/summary [-dir build/bench] [-go build/bench/bench-go.txt]
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

const prog benchkit.Prog = "summary"

// order puts the programs in the order.
var order = []string{"ingest", "source", "rotation", "shards", "scale", "pause", "long"}

func main() {
	dir := flag.String("dir", "build/bench", "result directory")
	goOut := flag.String("go", "build/bench/bench-go.txt", "output of the Go benchmarks (make bench-go), \"\" for none")
	flag.Parse()
	res, err := benchkit.ReadResults(*dir)
	if err != nil {
		prog.Fatalf("%v", err)
	}
	if len(res) == 0 {
		prog.Fatalf("no results in %s (run make bench)", *dir)
	}
	rank := func(p string) int {
		if i := slices.Index(order, p); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortFunc(res, func(a, b benchkit.Result) int {
		return cmp.Or(cmp.Compare(rank(a.Program), rank(b.Program)), strings.Compare(a.Program, b.Program))
	})
	fmt.Printf("# benchmark summary, %s; results from %s\n", time.Now().UTC().Format("2006-01-02T15:04Z"), *dir)
	fmt.Println("| id | measured | value | goal | verdict | program |")
	fmt.Println("|---|---|---|---|---|---|")
	miss := 0
	for _, r := range res {
		for _, row := range r.Rows {
			fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", row.ID, row.What, row.Value, cmp.Or(row.Goal, "-"), row.Verdict, r.Program)
			if row.Verdict == "MISS" {
				miss++
			}
		}
	}
	fmt.Println()
	fmt.Println("# commands and settings:")
	for _, r := range res {
		fmt.Printf("#   %s (%s, took %s): %s\n", r.Program, r.Date.Format("2006-01-02T15:04Z"), r.Took, r.Command)
		var seen []string
		for _, row := range r.Rows {
			if row.Settings != "" && !slices.Contains(seen, row.Settings) {
				seen = append(seen, row.Settings)
				fmt.Printf("#     %s\n", row.Settings)
			}
		}
	}
	if *goOut != "" {
		printGo(*goOut)
	}
	fmt.Printf("# %d goal(s) missed\n", miss)
}

// printGo prints the Go benchmarks' lines as a table: per op is per record
// (or per line) in every hot-path benchmark.
func printGo(path string) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Printf("# no Go benchmark output (%v)\n", err)
		return
	}
	defer f.Close()
	fmt.Println()
	fmt.Printf("# Go benchmarks of the hot path (%s; one op = one record or line)\n", path)
	fmt.Println("| package | benchmark | ns/op | MB/s | B/op | allocs/op |")
	fmt.Println("|---|---|---|---|---|---|")
	pkg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if p, ok := strings.CutPrefix(l, "pkg: "); ok {
			pkg = p[strings.LastIndexByte(p, '/')+1:]
			continue
		}
		if !strings.HasPrefix(l, "Benchmark") {
			continue
		}
		fs := strings.Fields(l)
		vals := map[string]string{}
		for i := 2; i+1 < len(fs); i += 2 {
			vals[fs[i+1]] = fs[i]
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", pkg, fs[0], cmp.Or(vals["ns/op"], "-"), cmp.Or(vals["MB/s"], "-"),
			cmp.Or(vals["B/op"], "-"), cmp.Or(vals["allocs/op"], "-"))
	}
}
