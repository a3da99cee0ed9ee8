package engine

import "sync/atomic"

// Stats counts what an engine did, for its status report and the tests.
type Stats struct {
	Records    atomic.Int64 // lines delivered to the buffer
	Streams    atomic.Int64 // log streams opened (the first and every reopen)
	Rotations  atomic.Int64 // streams ended at stream_lifetime, to be reopened
	Reconnects atomic.Int64 // times discovery lost the daemon
	Collects   atomic.Int64 // collects that handed something over
	Duplicates atomic.Int64 // lines dropped because they were delivered before
	Truncated  atomic.Int64 // lines cut at max_line_size
	Widened    atomic.Int64 // reopens whose tail bound missed the resume point and were widened
	Gaps       atomic.Int64 // resumes that found lines rotated away (lost, warned)
	// CappedCollects counts collects that handed over chunk_max_size with
	// more waiting: the instance's bound was the bottleneck.
	CappedCollects atomic.Int64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }
