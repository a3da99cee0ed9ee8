package engine

import "sync/atomic"

// Stats counts what an engine did, for its status report and the tests.
type Stats struct {
	Records    atomic.Int64 // lines delivered to the buffer
	Handed     atomic.Int64 // records Fluent Bit took (appended, or collected and cleaned up)
	Streams    atomic.Int64 // log streams opened (the first and every reopen)
	FileReads  atomic.Int64 // of them, json-file logs opened on disk (source file, auto)
	Rotations  atomic.Int64 // streams ended at stream_lifetime, to be reopened
	Reconnects atomic.Int64 // times discovery lost the daemon
	Collects   atomic.Int64 // collects that handed something over
	Duplicates atomic.Int64 // lines dropped because they were delivered before
	Truncated  atomic.Int64 // lines cut at max_line_size
	Widened    atomic.Int64 // reopens whose tail bound missed the resume point and were widened
	CatchUps   atomic.Int64 // followed streams ended behind a rotating log, read on without follow
	Gaps       atomic.Int64 // lines found rotated away by the daemon (lost, warned)
	Lost       atomic.Int64 // containers removed before their log could be read (warned)
	Steps      atomic.Int64 // lines stamped before lines already delivered, delivered in log order
	// CappedCollects counts collects that handed over chunk_max_size with
	// more waiting: the instance's bound was the bottleneck.
	CappedCollects atomic.Int64
	// RetriedCollects counts collects whose records could not be handed
	// over (no memory for Fluent Bit's copy) and were handed over again.
	RetriedCollects atomic.Int64
	// RefusedAppends counts pieces flb_input_log_append refused (kept and
	// appended again).
	RefusedAppends atomic.Int64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }
