package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// collect is one line of the host's --collects file, plus how many of its
// records came from the bench's containers (the rest are other containers
// on the shared daemon).
type collect struct {
	ms          int64 // wall clock when the collect was handed over
	bytes, recs int
	mine        int
}

// collects per instance name (docker_logs.0, ...), in the order handed over.
type collects map[string][]collect

func readCollects(path string) (collects, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cs := collects{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		ms, err1 := strconv.ParseInt(fs[0], 10, 64)
		by, err2 := strconv.Atoi(fs[2])
		n, err3 := strconv.Atoi(fs[3])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		cs[fs[1]] = append(cs[fs[1]], collect{ms: ms, bytes: by, recs: n})
	}
	return cs, sc.Err()
}

func instanceName(i int) string { return "docker_logs." + strconv.Itoa(i) }

type ctrState struct {
	seen     []uint64 // bit per seq (1-based)
	n        int      // distinct seqs seen
	dups     int
	bad      int // lines that are not what loggen wrote
	instance string
	others   int // records from an instance other than the first one
}

type checkResult struct {
	missing, dups, bad, multi, wrongShard int
	foreign                               int // records of other containers
	foreignCtrs                           int
	attribBad                             bool     // out and collects files disagree
	problems                              []string // the first few, for the report
}

func (c checkResult) ok() bool {
	return c.missing == 0 && c.dups == 0 && c.bad == 0 && c.multi == 0 && c.wrongShard == 0 && !c.attribBad
}

func (c *checkResult) problem(format string, a ...any) {
	if len(c.problems) < 5 {
		c.problems = append(c.problems, fmt.Sprintf(format, a...))
	}
}

// checkOut streams through the host's out file once: every line of every
// bench container exactly once (per container, per seq, content included),
// each container from one instance, the one its ID hashes to. It also
// attributes each record to its collect: one instance's records appear in
// the out file in the order of its collects, each collect's together, so the
// collects file's record counts split them.
func (b *bench) checkOut(path string, k int, cs collects) (checkResult, error) {
	var res checkResult
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()

	ctrs := make(map[string]*ctrState, len(b.ids))
	for _, id := range b.ids {
		ctrs[id] = &ctrState{seen: make([]uint64, b.cfg.lines/64+1)}
	}
	foreign := map[string]bool{}
	filler := make([]byte, b.cfg.size)
	for i := range filler {
		filler[i] = "abcdefghijklmnopqrstuvwxyz"[i%26]
	}
	const prefix = "stdout - 00000001 " // loggen's, with the seq replaced
	fill := string(filler[:b.cfg.size-len(prefix)])

	type cursor struct{ idx, left int }
	curs := map[string]*cursor{}
	attribOK := true

	var rec struct {
		Instance string `json:"instance"`
		Record   struct {
			Log         string `json:"log"`
			Stream      string `json:"stream"`
			ContainerID string `json:"container_id"`
		} `json:"record"`
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20) // other containers' lines may be long
	for line := 1; sc.Scan(); line++ {
		rec.Instance, rec.Record.Log, rec.Record.Stream, rec.Record.ContainerID = "", "", "", ""
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return res, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		r := &rec.Record
		c := ctrs[r.ContainerID]

		cur := curs[rec.Instance]
		if cur == nil {
			cur = &cursor{idx: -1}
			curs[rec.Instance] = cur
		}
		list := cs[rec.Instance]
		for cur.left == 0 && cur.idx < len(list) {
			if cur.idx++; cur.idx < len(list) {
				cur.left = list[cur.idx].recs
			}
		}
		if cur.idx < len(list) {
			if c != nil {
				list[cur.idx].mine++
			}
			cur.left--
		} else if attribOK {
			attribOK = false
			res.problem("%s has more records in the out file than in its collects", rec.Instance)
		}

		if c == nil {
			res.foreign++
			foreign[r.ContainerID] = true
			continue
		}
		id := r.ContainerID[:12]
		if c.instance == "" {
			c.instance = rec.Instance
			if want := instanceName(shardOf(r.ContainerID, k)); rec.Instance != want {
				res.wrongShard++
				res.problem("%s served by %s, but its ID hashes to %s", id, rec.Instance, want)
			}
		} else if rec.Instance != c.instance {
			if c.others == 0 {
				res.problem("%s served by %s and %s", id, c.instance, rec.Instance)
			}
			c.others++
		}
		l := r.Log
		seq, err := strconv.Atoi(l[min(len(l), len("stdout - ")):min(len(l), len("stdout - 00000001"))])
		if r.Stream != "stdout" || len(l) != b.cfg.size || l[:len("stdout - ")] != "stdout - " ||
			err != nil || seq < 1 || seq > b.cfg.lines || l[len(prefix)-1] != ' ' || l[len(prefix):] != fill {
			if c.bad == 0 {
				res.problem("%s: unexpected line %.40q... on %q", id, l, r.Stream)
			}
			c.bad++
			continue
		}
		w, bit := seq/64, uint64(1)<<(seq%64)
		if c.seen[w]&bit != 0 {
			if c.dups == 0 {
				res.problem("%s: line %d more than once", id, seq)
			}
			c.dups++
			continue
		}
		c.seen[w] |= bit
		c.n++
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("%s: %v", path, err)
	}
	for name, list := range cs {
		if cur := curs[name]; attribOK && (cur == nil || cur.left != 0 || cur.idx != len(list)-1) {
			attribOK = false
			res.problem("%s: the out file and the collects file disagree on its record count", name)
		}
	}
	for _, id := range b.ids {
		c := ctrs[id]
		if c.n < b.cfg.lines {
			res.problem("%s: %d of %d lines missing", id[:12], b.cfg.lines-c.n, b.cfg.lines)
		}
		res.missing += b.cfg.lines - c.n
		res.dups += c.dups
		res.bad += c.bad
		if c.others > 0 {
			res.multi++
		}
	}
	res.foreignCtrs = len(foreign)
	// The host's two files must agree; if not, the split of the rates
	// between the bench's records and others' is unknown.
	res.attribBad = !attribOK
	return res, nil
}

// stats is what the table shows for one shard count.
type stats struct {
	steady            bool    // false: whole-run fallback (too few collects)
	windowS           float64 // the common busy window of all instances
	recsPerS          float64 // every record handed over, others' included
	benchPerS         float64 // the bench's records only
	bytesPerS         float64
	collectsPerS      float64
	meanBytes         float64
	maxBytes          int
	foreignShare      float64 // of the records in the window
	nonEmpty, records int     // whole run
}

// computeStats takes the steady state: the window in which every instance
// is busy with the backlog, from the latest of the instances' first
// collects carrying bench records to the earliest of their next-to-last
// ones (the last is a partial tail). Each instance's rate is counted between
// two of its own collects inside that window (records handed over after the
// first, up to and including the second, over the time between), so the
// phase of its 1 s timer does not bias the sum.
func computeStats(cs collects, k int) stats {
	var st stats
	for _, list := range cs {
		for _, c := range list {
			st.nonEmpty++
			st.records += c.recs
			st.maxBytes = max(st.maxBytes, c.bytes)
		}
	}
	busy := func(steady bool) (lo, hi int64, ok bool) {
		lo, hi = -1, -1
		for i := 0; i < k; i++ {
			var idx []int
			for j, c := range cs[instanceName(i)] {
				if c.mine > 0 {
					idx = append(idx, j)
				}
			}
			if len(idx) == 0 {
				continue // a shard without bench containers
			}
			list := cs[instanceName(i)]
			first, last := list[idx[0]].ms, list[idx[len(idx)-1]].ms
			if steady {
				if len(idx) < 3 {
					return 0, 0, false
				}
				last = list[idx[len(idx)-2]].ms
			}
			if lo < 0 || first > lo {
				lo = first
			}
			if hi < 0 || last < hi {
				hi = last
			}
		}
		return lo, hi, hi-lo >= 2000
	}
	lo, hi, ok := busy(true)
	st.steady = ok
	if !ok {
		lo, hi, ok = busy(false)
		if !ok {
			return st
		}
	}
	st.windowS = float64(hi-lo) / 1000
	var recs, mine, bytes, n int
	for i := 0; i < k; i++ {
		var a, b int64 = -1, -1
		var r, m, by, cnt int
		for _, c := range cs[instanceName(i)] {
			if c.ms < lo || c.ms > hi {
				continue
			}
			if a < 0 {
				a = c.ms // the fencepost: its records came before a
				continue
			}
			b = c.ms
			r, m, by, cnt = r+c.recs, m+c.mine, by+c.bytes, cnt+1
		}
		if b <= a {
			continue
		}
		sec := float64(b-a) / 1000
		st.recsPerS += float64(r) / sec
		st.benchPerS += float64(m) / sec
		st.bytesPerS += float64(by) / sec
		st.collectsPerS += float64(cnt) / sec
		recs, mine, bytes, n = recs+r, mine+m, bytes+by, n+cnt
	}
	if n > 0 {
		st.meanBytes = float64(bytes) / float64(n)
	}
	if recs > 0 {
		st.foreignShare = float64(recs-mine) / float64(recs)
	}
	return st
}
