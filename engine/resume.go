package engine

import (
	"time"

	"github.com/docker-logs/docker_logs/docker"
)

// What was already delivered, and where a new stream resumes. Wherever a
// container's lines come from (source.go), a stream is opened at or before
// its resume point and replays some lines delivered before; a replay drops
// exactly those, by each stream's cursor (cursor.go) and the anchor, and
// tells a tail bound that missed the resume point, or lines the log no
// longer holds, from a clean resume.

// delivery is where a container's delivery stands: the cursor of each
// stream (Docker orders lines only within a stream) and the anchor. A
// monitor keeps it as it reads; positions as Fluent Bit acknowledges.
type delivery struct {
	cursors [3]cursor // per docker.Stream
	anchor  anchor
	// fnv: its hashes are FNV-1a's, as positions written before xxHash
	// hold them. The container's lines are hashed so for as long as its
	// position lasts: a resume compares new hashes with stored ones.
	fnv bool
}

// hash is the hash of a line as this delivery's cursors hold them.
func (d *delivery) hash(line []byte) uint64 {
	if d.fnv {
		return hashLineFNV(line)
	}
	return hashLine(line)
}

const (
	// resumeMargin is how far before the last delivered line a reopened
	// stream starts. The daemon stamps a line before it takes the log's
	// lock, so a line of the other stream may be written after the resume
	// point with a slightly earlier stamp; 20.10 filters every entry by
	// since on its own and would drop it. The margin is far above that
	// skew; what it re-reads, the cursors drop.
	resumeMargin = int64(100 * time.Millisecond)
	// resumeReach is how far before the anchor a reopen may start for a
	// stream whose last delivered line is older (resumeSince).
	resumeReach = int64(10 * time.Second)
	// tailInitial bounds a reopen to the last entries of the log, so its
	// cost does not grow with the log's size (make bench-rotation: about
	// 3 ms of dockerd CPU per reopen at 200, 20 ms at 2000, against 25 ms
	// per MB of log without a bound); it is widened when the resume point
	// is not among them. A reopen right after a stream ends finds only the
	// few lines written in between.
	tailInitial = 200
	tailMax     = 1 << 20 // past this, read without a tail bound
)

// anchor is the last delivered line before which everything read was
// delivered; a reopened stream must see it again before any new line, or
// its tail bound cut something off.
type anchor struct {
	valid  bool
	stream docker.Stream
	time   int64
	hash   uint64
	// With whole-second stamps (Podman before 5.8) one (stream, time, hash)
	// may be many lines, and a reopened stream may start inside a long
	// line (Podman stamps each chunk on its own, so since can fall between
	// a line's chunks): the anchor is then the n-th line of that (stream,
	// time, hash), counted as a replay reads them (a partial line never
	// shares a whole line's hash), and at is where each stream's cursor
	// stood when it was delivered (time, lines at that time), so the
	// cursors count on exactly from the anchor (cursor.next).
	n  int
	at [3]struct {
		time  int64
		count int
	}
	// after marks the streams whose last delivered line comes after the
	// anchor in the log: delivered while a line of the other stream was
	// still awaiting its last chunk. A replay has passed such a stream's
	// delivered lines only at that line (see monitor.read).
	after [3]bool
	// pos is where the anchor starts in its json-file log, when it was
	// read from there: a file stream resumes right at it.
	pos docker.FilePos
}

// coarse reports an anchor at a whole second (see anchor.n).
func (a anchor) coarse() bool { return a.valid && docker.WholeSecond(a.time) }

// is reports whether a line read is the anchor (at nanosecond stamps).
func (a anchor) is(s docker.Stream, ts int64, h uint64) bool {
	return a.valid && a.stream == s && a.time == ts && a.hash == h
}

// newAnchor makes the line of stream s at ts with hash h, just recorded in
// cursors, the anchor.
func newAnchor(s docker.Stream, ts int64, h uint64, pos docker.FilePos, cursors *[3]cursor) anchor {
	a := anchor{valid: true, stream: s, time: ts, hash: h, pos: pos}
	if docker.WholeSecond(ts) {
		for _, x := range cursors[s].hashes {
			if x == h {
				a.n++
			}
		}
		a.n--
		for i := range cursors {
			a.at[i].time, a.at[i].count = cursors[i].time, len(cursors[i].hashes)
		}
	}
	return a
}

// found sets the cursors' counts as they stood at the anchor, which a
// replay has just read.
func (a anchor) found(cursors *[3]cursor) {
	for i := range cursors {
		cursors[i].seen = 0
		if cursors[i].time == a.at[i].time {
			cursors[i].seen = a.at[i].count
		}
	}
}

// oldestCursor is the oldest line either stream may still be missing.
func (m *monitor) oldestCursor() int64 {
	if m.info.TTY { // one merged stream
		return m.cursors[docker.Stdout].time
	}
	return min(m.cursors[docker.Stdout].time, m.cursors[docker.Stderr].time)
}

// resumePoint is where a new stream starts, and its tail bound (0: none).
// With a delivered line to recognise (the anchor), the stream starts just
// before it. Before any (a container quiet since the engine started), it
// asks for the last entries without since, and they must reach back past
// the cursor; a container read from its first line is read whole.
func (m *monitor) resumePoint() (since int64, tail int) {
	switch {
	case m.anchor.coarse():
		// Podman: no tail bound. Its follow with a tail reads the last
		// lines, then follows from the end of the file, and loses what was
		// written in between (4.3's GetLogFile). Its since is exclusive and
		// compares the log's nanosecond stamps: this replays the anchor's
		// second whole.
		return max(m.anchor.time-resumeMargin, 1), 0
	case m.anchor.valid:
		return m.resumeSince(), m.tail
	case m.oldestCursor() == 0:
		return 0, 0
	}
	return 0, m.tail
}

// resumeSince is since for a reopen at the anchor. The daemon drops every
// entry stamped before since (20.10), and its copiers stamp a line before
// they write it: under load a line of one stream lands after lines of the
// other stamped hundreds of milliseconds later (200-260 ms in a json-file
// log with a CI suite and two busy loops on 2 cores, 730 ms with dockerd
// at nice 19), so a margin before the anchor alone loses it. A stream's
// stamps rise in its log, though: its next line is stamped after its
// cursor. Since is no later than the older cursor (a stream with no line
// yet has none, and the anchor is on the other), and no earlier than
// resumeReach before the anchor, so a stream quiet for long does not make
// each reopen read back that far (the tail bound caps it too).
func (m *monitor) resumeSince() int64 {
	since := m.anchor.time - resumeMargin
	if c := m.oldestCursor(); c > 0 {
		since = min(since, c)
	}
	return max(since, m.anchor.time-resumeReach, 1)
}

// coversCursor reports whether the first line of a tail-bounded stream shows
// the bound reached back far enough: before any delivered line, the first
// entry must be older than the cursor (so nothing newer was cut off).
func (m *monitor) coversCursor(first docker.Entry) bool {
	return first.Time < m.oldestCursor()-resumeMargin
}

func (m *monitor) widenTail() {
	if m.tail *= 8; m.tail > tailMax {
		m.tail = 0
	}
	m.e.log.Debugf("container %s: resume point beyond the tail bound; reopening with tail=%d (0: all)", shortID(m.id), m.tail)
}

// replay judges the lines of one opened stream against what was delivered
// before.
type replay struct {
	dv *delivery
	// resumed: the stream showed it starts no later than the resume point;
	// with a tail bound that must happen before any new line.
	resumed   bool
	anchorDue bool // the anchor is still to be read
	first     bool // no line read yet
	coarse    bool // the anchor is at a whole second (anchor.n)
	occ       int  // lines read like the anchor (whole seconds)
	// passed marks the streams read past every line delivered before: from
	// there the stream's order, not its stamps, says what is new, so a
	// line stamped before the cursor (the daemon's clock stepped back) is
	// delivered, not dropped as a repeat.
	passed [3]bool
	// covers reports whether a tail-bounded stream's first line, before
	// any anchor, reaches back past the cursors (monitor.coversCursor).
	covers func(first docker.Entry) bool
}

// verdict is what a replay makes of one line.
type verdict struct {
	deliver bool  // new: deliver it (else a repeat, dropped)
	widen   bool  // a tail bound cut lines off: reopen with a wider one
	gap     bool  // lines before this one are no longer in the log
	stepped int64 // > 0: stamped this much before the cursor, and new (the clock stepped back)
}

// newReplay starts judging a stream opened with tail bound tail (0: none).
func newReplay(dv *delivery, tail int, covers func(docker.Entry) bool) *replay {
	for s := range dv.cursors {
		dv.cursors[s].restart()
	}
	return &replay{dv: dv, resumed: tail == 0, anchorDue: dv.anchor.valid, first: true,
		coarse: dv.anchor.coarse(), covers: covers}
}

func (r *replay) anchorFound() {
	r.anchorDue = false
	for s := range r.passed {
		r.passed[s] = !r.dv.anchor.after[s]
	}
}

// judge decides on the next line read, of hash h.
func (r *replay) judge(e docker.Entry, h uint64) (v verdict) {
	a, c := &r.dv.anchor, &r.dv.cursors[e.Stream]
	if r.coarse && r.anchorDue {
		// Whole seconds: up to the anchor every line was delivered (one no
		// newer than its stream's cursor), and the anchor sets the
		// cursors' counts; a newer line before it is a gap.
		if e.Stream == a.stream && e.Time == a.time && h == a.hash {
			if r.occ == a.n {
				a.found(&r.dv.cursors)
				r.anchorFound()
				return v
			}
			r.occ++
		}
		if e.Time <= c.time {
			return v
		}
		r.anchorDue, v.gap = false, true
	}
	var isNew bool
	if r.passed[e.Stream] {
		isNew = c.next(e.Time, h)
	} else {
		isNew = c.nextBeforePassed(e.Time, h)
	}
	isAnchor := !r.coarse && a.is(e.Stream, e.Time, h)
	if !r.resumed {
		switch {
		case isAnchor, !a.valid && r.first && r.covers(e):
			r.resumed = true
		case isNew, !a.valid:
			v.widen = true
			return v
		}
	}
	r.first = false
	if r.anchorDue && isAnchor {
		r.anchorFound()
	}
	if !isNew && !isAnchor && r.passed[e.Stream] && c.steppedBack(e.Time) {
		isNew, v.stepped = true, c.time-e.Time
	}
	if !isNew {
		if !r.anchorDue && !r.passed[e.Stream] && e.Time == c.time && !r.coarse && c.has(h) {
			r.passed[e.Stream] = true // its last delivered line (see anchor.after)
		}
		return v
	}
	if r.anchorDue {
		r.anchorDue, v.gap = false, true
	}
	v.deliver = true
	return v
}

// delivered records the line just delivered; held: a line of the other
// stream is still awaiting its last chunk, so the anchor stays.
func (r *replay) delivered(e docker.Entry, h uint64, held bool) {
	r.dv.cursors[e.Stream].add(e.Time, h)
	r.passed[e.Stream] = true
	if !held {
		r.dv.anchor = newAnchor(e.Stream, e.Time, h, e.Pos, &r.dv.cursors)
	} else if r.dv.anchor.valid {
		r.dv.anchor.after[e.Stream] = true
	}
}

// admitFinal reports whether a line flushed at the end of a stopped
// container's log (one that never got its last chunk) is new, and records
// it as delivered.
func (d *delivery) admitFinal(e docker.Entry, h uint64) bool {
	if !d.cursors[e.Stream].admit(e.Time, h) {
		return false
	}
	d.anchor = newAnchor(e.Stream, e.Time, h, e.Pos, &d.cursors)
	return true
}
