package engine

import (
	"math"
	"time"
)

// After Fluent Bit resumes a paused input (its mem_buf_limit or storage
// limit was reached), the event collector's appends come back in a ramp.
// A threaded input's appends wait in its ring buffer, which Fluent Bit
// moves into chunks every 250 ms and only then weighs against the limit:
// at full speed a backlog would put tens of MB in the ring before the
// next pause, each over the limit (an output outage peaked at 110 MiB with
// mem_buf_limit 2M; BENCHMARKS.md). The ramp allows rampStart in the first
// window, then doubles each window that Fluent Bit lets pass without a
// pause, up to no limit.
const (
	rampWindow = 250 * time.Millisecond // FLB_DEV_RB_MS, src/flb_engine.c
	rampStart  = 256 << 10
	rampEnd    = 64 << 20
)

// ramp is the appends' limit after a resume; only the instance's thread
// uses it (Resume and the woken delivery).
type ramp struct {
	limit int // bytes a window; 0: no limit
	start time.Time
	used  int
}

// begin starts a ramp at now.
func (r *ramp) begin(now time.Time) { *r = ramp{limit: rampStart, start: now} }

// allow is how many bytes may be appended now; when none, the time more
// may be.
func (r *ramp) allow(now time.Time) (int, time.Time) {
	for r.limit > 0 && now.Sub(r.start) >= rampWindow {
		r.start, r.used = r.start.Add(rampWindow), 0
		if r.limit *= 2; r.limit >= rampEnd {
			r.limit = 0
		}
	}
	if r.limit == 0 {
		return math.MaxInt, time.Time{}
	}
	if left := r.limit - r.used; left > 0 {
		return left, time.Time{}
	}
	return 0, r.start.Add(rampWindow)
}

// took counts bytes appended in the current window.
func (r *ramp) took(n int) {
	if r.limit > 0 {
		r.used += n
	}
}
