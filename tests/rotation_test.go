package tests

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// A container writes 20,000 lines as fast as it can into a json-file log
// that rotates every 50 KB, keeping 3 files: the daemon rotates lines away
// before any reader can take them. Every line that arrives arrives once, in
// order, the last one included, and every block of lines that does not is
// reported: a warning whose bounds are the stamps of the lines delivered
// just before and just after it, counted in the gaps metric.
func TestRotatedAwayLinesAreReported(t *testing.T) {
	eachSource(t, testRotatedAwayLinesAreReported)
}

func testRotatedAwayLinesAreReported(t *testing.T, source ...string) {
	d := needDocker(t)
	var logOut syncBuffer
	r := runEngineOn(t, d.Host(), &logOut, source...)
	time.Sleep(500 * time.Millisecond)
	const n = 20000
	name := "rotaway" + suffix()
	id, err := d.Run(dockertest.Run{Name: name, Args: []string{"-n", fmt.Sprint(n)},
		Options: []string{"--log-opt", "max-size=50k", "--log-opt", "max-file=3"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	if err := d.Wait(id); err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("stdout - %08d", n)
	recs := r.waitFor("the last line", time.Minute, func(recs []record) bool {
		for _, rec := range ofContainer(recs, id) {
			if rec.str("log") == last {
				return true
			}
		}
		return false
	})
	time.Sleep(time.Second) // room for a late duplicate to show
	recs = ofContainer(r.records(), id)

	gapRE := regexp.MustCompile(`lines between (\S+) and (\S+) are no longer held`)
	gaps := map[string]bool{}
	for _, m := range gapRE.FindAllStringSubmatch(logOut.String(), -1) {
		gaps[stampOf(t, m[1])+" "+stampOf(t, m[2])] = true
	}
	// Lines rotated away before the log was first opened leave no trace
	// (README): only those after a delivered line must be reported.
	prev, prevTime, missing, blocks, missingAfter := 0, "", 0, 0, 0
	for _, rec := range recs {
		seq, err := strconv.Atoi(strings.TrimPrefix(rec.str("log"), "stdout - "))
		if err != nil {
			t.Fatalf("unexpected line %q", rec.str("log"))
		}
		if seq <= prev {
			t.Fatalf("line %d after line %d: repeated or out of order", seq, prev)
		}
		if seq > prev+1 {
			missing += seq - prev - 1
			blocks++
			if prev > 0 {
				missingAfter += seq - prev - 1
			}
			t.Logf("lines %d-%d missing", prev+1, seq-1)
			if prev > 0 && !gaps[prevTime+" "+rec.Time] {
				t.Errorf("lines %d-%d (between stamps %s and %s) were lost without a warning", prev+1, seq-1, prevTime, rec.Time)
			}
		}
		prev, prevTime = seq, rec.Time
	}
	st := r.e.Stats()
	t.Logf("%d of %d lines delivered, %d lost in %d blocks; %d gaps reported, %d catch-up reads, %d streams",
		len(recs), n, missing, blocks, st.Gaps.Load(), st.CatchUps.Load(), st.Streams.Load())
	if missingAfter > 0 && st.Gaps.Load() == 0 {
		t.Fatal("lines were lost and the gaps metric is 0")
	}
}

// stampOf turns a warning's RFC 3339 time into a record's "sec.nsec".
func stampOf(t *testing.T, s string) string {
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad stamp %q in a warning: %v", s, err)
	}
	return fmt.Sprintf("%d.%09d", ts.Unix(), ts.Nanosecond())
}
