package engine

import "time"

// UseAppend says Fluent Bit exports flb_input_log_append (direct) or not:
// records then go straight into it (Deliver) instead of through one
// collect buffer a second (Collect). Said once, at info.
func (e *Engine) UseAppend(direct bool) {
	e.direct.Store(direct)
	if direct {
		e.log.Infof("records go straight into Fluent Bit (flb_input_log_append), in pieces of at most %d bytes, as much as is buffered at each collect", e.pieceMax())
	} else {
		e.log.Infof("this Fluent Bit exports no flb_input_log_append: records go through one collect buffer of at most chunk_max_size (%d bytes) a second", e.cfg.ChunkMaxSize)
	}
}

// Delivery names the path records take into Fluent Bit, for /health.
func (e *Engine) Delivery() string {
	if e.direct.Load() {
		return "append"
	}
	return "collect"
}

// appendPieceMax bounds a piece appended straight into Fluent Bit. Fluent
// Bit appends each piece to its tag's current chunk and closes a chunk only
// once it holds more than 2,048,000 bytes (FLB_INPUT_CHUNK_FS_MAX_SIZE), so
// a chunk ends up at most one piece past that: chunk_max_size's 2M pieces
// made chunks of up to 4 MB (BENCHMARKS.md). A threaded input's append
// mallocs a copy of each piece; glibc serves a request above its 128 KiB
// mmap threshold with fresh pages, faulted in anew each time (256 KiB
// pieces: 4.8-5.2 CPU s a million lines in Fluent Bit, 64 KiB: 3.0-3.8).
// A full 32 MiB buffer is then 512 appends, within the 1,024 entries of
// the input's ring buffer.
const appendPieceMax = 64 << 10

// pieceMax is the most bytes of one append: appendPieceMax, or
// chunk_max_size when that is smaller.
func (e *Engine) pieceMax() int { return min(int(e.cfg.ChunkMaxSize), appendPieceMax) }

// piece is a run of records appended to Fluent Bit at once, under one tag:
// out[previous piece's end:end], with inflight[previous marks:marks].
type piece struct {
	tag        string // "": the instance's
	end, marks int
}

// Deliver appends what is buffered straight into Fluent Bit on the collect
// callback's thread: pieces of whole records of at most pieceMax (a
// larger record alone) and of one tag, up to what was buffered when it
// began (the monitors refill it meanwhile; a collect must not wait for
// them). appendPiece is given the piece's record count, and reports
// whether Fluent Bit queued the piece; only then is it acknowledged
// (positions advance past it). A refused piece, and everything after it,
// waits for the next Deliver, in order.
func (e *Engine) Deliver(appendPiece func(tag string, recs []byte, records int) bool) {
	e.deliver(e.buf.Len(), appendPiece)
}

// DeliverWoken is the event collector's delivery, run when the engine
// woke it (UseEvents): like Deliver, but of at most deliverMax bytes, of
// what the ramp after a resume allows (ramp.go), and nothing while the
// input is paused (Resume wakes it again). Whatever is left wakes it again:
// at once, or when the ramp allows more.
func (e *Engine) DeliverWoken(appendPiece func(tag string, recs []byte, records int) bool) {
	w := e.waker.Load()
	if w == nil || e.isPaused() {
		return
	}
	w.taken()
	now := time.Now()
	budget := min(e.buf.Len(), deliverMax)
	allowed, later := e.ramp.allow(now)
	if allowed < budget {
		if budget = allowed; budget == 0 {
			w.wakeIn(later.Sub(now))
			return
		}
	}
	if !e.deliver(budget, appendPiece) {
		return // refused: Fluent Bit's ring is full; the next put or collect retries
	}
	e.ramp.took(e.delivered)
	if e.buf.Len() > 0 {
		if allowed, later := e.ramp.allow(now); allowed == 0 {
			w.wakeIn(later.Sub(now))
		} else {
			w.wake()
		}
	}
}

// deliver appends up to budget bytes of what is buffered (what a refused
// piece left first); false when Fluent Bit refused a piece.
func (e *Engine) deliver(budget int, appendPiece func(tag string, recs []byte, records int) bool) bool {
	now := time.Now()
	e.delivered = 0
	if e.retry && !e.appendPieces(appendPiece, now) {
		return false
	}
	for budget > 0 {
		e.out, e.inflight = e.buf.Take(e.pieceMax(), e.out[:0], e.inflight[:0])
		if len(e.out) == 0 {
			break
		}
		budget -= len(e.out)
		e.splitByTag()
		if !e.appendPieces(appendPiece, now) {
			e.buf.Settle()
			return false
		}
	}
	e.buf.Settle()
	if !e.refusedSince.IsZero() {
		e.log.Infof("Fluent Bit takes records again after refusing them for %s; none was lost", now.Sub(e.refusedSince).Round(time.Millisecond))
		e.refusedSince = time.Time{}
	}
	return true
}

// UseEvents says the host runs an event collector for this instance that
// fire wakes (an eventfd's write): from now on records wake it as they are
// buffered (waker), and the 1 s collect only catches what it left.
func (e *Engine) UseEvents(fire func()) {
	w := newWaker(fire, int(e.cfg.BufferMaxSize), e.log)
	e.waker.Store(w)
	e.buf.waker.Store(w)
	e.log.Infof("records are appended as they are read (an event collector of the plugin's own), at most %s after the first one waiting", wakeDelay)
}

// Wakes is how often the engine woke the event collector.
func (e *Engine) Wakes() int64 {
	if w := e.waker.Load(); w != nil {
		return w.wakes.Load()
	}
	return 0
}

// appendPieces appends e.pieces from e.next on; false when Fluent Bit
// refused one (it and those after it stay, with retry set).
func (e *Engine) appendPieces(appendPiece func(string, []byte, int) bool, now time.Time) bool {
	start, startMark := 0, 0
	if e.next > 0 {
		start, startMark = e.pieces[e.next-1].end, e.pieces[e.next-1].marks
	}
	for ; e.next < len(e.pieces); e.next++ {
		p := e.pieces[e.next]
		if !appendPiece(p.tag, e.out[start:p.end], p.marks-startMark) {
			e.retry = true
			e.noteRefused(now, p.end-start)
			return false
		}
		e.appended(e.inflight[startMark:p.marks], now)
		e.delivered += p.end - start
		start, startMark = p.end, p.marks
	}
	e.retry = false
	clear(e.inflight) // drop the IDs' references
	return true
}

// splitByTag cuts what Take put in out and inflight into pieces of one tag
// each. Without tag_template that is one piece. With it, records are
// grouped by tag, in the order tags first appear, so a piece is as large
// as it can be; a container's records stay in order across pieces (a
// renamed container whose tag changes back and forth gets a new piece
// after its last one).
func (e *Engine) splitByTag() {
	e.pieces, e.next = e.pieces[:0], 0
	if e.cfg.TagTemplate == nil {
		e.pieces = append(e.pieces, piece{end: len(e.out), marks: len(e.inflight)})
		return
	}
	if e.groupOfTag == nil {
		e.groupOfTag, e.lastGroupOf = map[string]int{}, map[string]int{}
	}
	clear(e.groupOfTag)
	clear(e.lastGroupOf)
	e.groupOf = e.groupOf[:0]
	groups := e.groups[:0]
	for _, m := range e.inflight {
		g, ok := e.groupOfTag[m.tag]
		if !ok || g < e.lastGroupOf[m.id] {
			g = len(groups)
			groups = append(groups, tagGroup{tag: m.tag})
			e.groupOfTag[m.tag] = g
		}
		e.lastGroupOf[m.id] = g
		groups[g].bytes += int(m.size)
		groups[g].records++
		e.groupOf = append(e.groupOf, g)
	}
	e.groups = groups // reused by the next split
	if len(groups) == 1 {
		e.pieces = append(e.pieces, piece{tag: groups[0].tag, end: len(e.out), marks: len(e.inflight)})
		return
	}
	end, marks := 0, 0
	for i := range groups {
		groups[i].byteAt, groups[i].markAt = end, marks
		end += groups[i].bytes
		marks += groups[i].records
		e.pieces = append(e.pieces, piece{tag: groups[i].tag, end: end, marks: marks})
	}
	out := e.grouped
	if cap(out) < len(e.out) {
		out = make([]byte, len(e.out))
	}
	out = out[:len(e.out)]
	ms := append(e.groupedMarks[:0], e.inflight...)
	at := 0
	for i, m := range e.inflight {
		g := &groups[e.groupOf[i]]
		copy(out[g.byteAt:], e.out[at:at+int(m.size)])
		ms[g.markAt] = m
		g.byteAt += int(m.size)
		g.markAt++
		at += int(m.size)
	}
	// The grouped copies become out and inflight; the old ones are the
	// scratch of the next split.
	e.out, e.grouped = out, e.out
	e.inflight, e.groupedMarks = ms, e.inflight
	clear(e.groupedMarks)
}

// tagGroup is the records of one piece splitByTag makes.
type tagGroup struct {
	tag            string
	bytes, records int
	byteAt, markAt int // where the group's next record goes
}

// appended acknowledges a piece Fluent Bit queued.
func (e *Engine) appended(marks []mark, now time.Time) {
	e.stats.Collects.Add(1)
	e.stats.Handed.Add(int64(len(marks)))
	e.metrics.observeDelivery(marks, now)
	if e.pos != nil {
		e.pos.ack(marks)
	}
}

// noteRefused counts a refused append, and says so when refusals begin.
func (e *Engine) noteRefused(now time.Time, size int) {
	e.stats.RefusedAppends.Add(1)
	if e.refusedSince.IsZero() {
		e.refusedSince = now
		e.log.Warnf("Fluent Bit refused %d bytes of records (flb_input_log_append returned -1: its ring buffer for this input stayed full, or memory ran out); they are kept, in order, and appended again at the next collect; reading waits meanwhile", size)
	}
}
