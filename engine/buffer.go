package engine

import (
	"sync"
	"sync/atomic"

	"github.com/docker-logs/docker_logs/docker"
)

// Buffer holds encoded records between the monitors that read them and the
// collect callback that hands them to Fluent Bit. It is bounded: a record
// that does not fit waits (its monitor stops reading from Docker, whose
// log files then hold the backlog) until a Take makes room. Take never
// blocks. Each record carries a mark, where it stands in its container's
// log, so positions advance only with what Fluent Bit has taken.
type Buffer struct {
	mu sync.Mutex
	// data[head:] are the encoded records, oldest first; ends[first:] and
	// marks[first:] their end offsets in data and their marks. A Take
	// moves head and first instead of the records after them: a collect
	// draining a large buffer in pieces would otherwise move the rest of
	// it once per piece. The space before head is reclaimed when a put
	// needs it and it is at least half the array, or all at once when the
	// buffer empties.
	data  []byte
	head  int
	ends  []int
	marks []mark
	first int
	max   int
	// peak is the most bytes held since the buffer was last empty: the
	// memory of a burst is given back once the load has dropped.
	peak   int
	moved  int64 // bytes moved by compactions, for the tests
	paused bool
	// room is closed, and replaced, whenever a waiting record may now fit.
	room chan struct{}
	// waker, when set, is told of every record put (the event collector).
	waker atomic.Pointer[waker]
}

// mark is where a record stands in its container's log, and how it is
// handed over.
type mark struct {
	id     string // container ID
	tag    string // its own tag (tag_template), "" for the instance's
	stream uint8
	// anchor: every line of the container before this one in its log was
	// delivered before it (no long line was still being assembled).
	anchor bool
	size   int32 // bytes of its encoded record (set by TryPut)
	time   int64
	hash   uint64
	pos    docker.FilePos // where the line starts in its json-file log, if read from there
}

// compactShare: a compaction frees at least 1/compactShare of the array, so
// it moves at most compactShare-1 bytes for each byte it makes room for.
const compactShare = 2

// shrinkAbove is the capacity under which an emptied buffer keeps its
// memory whatever the load: regrowing it costs more than it holds.
const shrinkAbove = 1 << 20

// NewBuffer makes a buffer of at most max bytes (a single larger record is
// still accepted alone, so no record is ever refused).
func NewBuffer(max int) *Buffer {
	return &Buffer{max: max, room: make(chan struct{})}
}

// TryPut appends one encoded record if it fits and the buffer is not
// paused. Otherwise it returns a channel that is closed when it may fit.
func (b *Buffer) TryPut(rec []byte, m mark) (bool, <-chan struct{}) {
	b.mu.Lock()
	ok, room, held := b.tryPut(rec, m)
	b.mu.Unlock()
	if ok {
		if w := b.waker.Load(); w != nil {
			w.put(held)
		}
	}
	return ok, room
}

// tryPut is TryPut with b.mu held; it also returns the bytes then held.
func (b *Buffer) tryPut(rec []byte, m mark) (bool, <-chan struct{}, int) {
	held := len(b.data) - b.head
	if b.paused || (held+len(rec) > b.max && held > 0) {
		return false, b.room, held
	}
	if len(b.data)+len(rec) > cap(b.data) {
		// Moving what is held down to the start pays only when it frees
		// a fair share of the array: a collect taking a full buffer in
		// pieces would otherwise move all of it once per piece
		// (perf: a third of Fluent Bit's CPU on a backlog). Until then
		// the record waits for the next Take, or for the collect's
		// Settle once it has taken what it hands over.
		if held+len(rec) <= cap(b.data) && b.head < cap(b.data)/compactShare {
			return false, b.room, held
		}
		b.compact(len(rec))
	}
	b.data = append(b.data, rec...)
	b.ends = append(b.ends, len(b.data))
	m.size = int32(len(rec))
	b.marks = append(b.marks, m)
	held = len(b.data) - b.head
	b.peak = max(b.peak, held)
	return true, nil, held
}

// compact moves the held records to the start of data, into a larger
// array when extra more bytes would not fit; b.mu is held.
func (b *Buffer) compact(extra int) {
	held := len(b.data) - b.head
	need := held + extra
	dst := b.data[:0]
	if need > cap(b.data) {
		// Grow by doubling, but never past the bound: the bound is on
		// memory, not only on what is buffered.
		dst = make([]byte, 0, min(max(2*cap(b.data), need, 4096), max(b.max, need)))
	}
	b.data = append(dst, b.data[b.head:]...)
	b.moved += int64(held)
	n := copy(b.ends, b.ends[b.first:])
	for i := range n {
		b.ends[i] -= b.head
	}
	b.ends = b.ends[:n]
	clear(b.marks[copy(b.marks, b.marks[b.first:]):]) // drop the IDs' references
	b.marks = b.marks[:n]
	b.head, b.first = 0, 0
}

// Settle moves what is held to the start of the array, so that the
// monitors may fill it up until the next collect; a collect calls it once
// it has taken what it hands over (one move a collect, not one a piece).
func (b *Buffer) Settle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.head > 0 {
		b.compact(0)
		b.wake()
	}
}

// Take appends to dst the oldest whole records that fit in limit bytes
// (at least one record, however large, when any is buffered), and their
// marks to marks; it removes them and returns both.
func (b *Buffer) Take(limit int, dst []byte, marks []mark) ([]byte, []mark) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.first == len(b.ends) {
		return dst, marks
	}
	k := b.first + 1
	for k < len(b.ends) && b.ends[k]-b.head <= limit {
		k++
	}
	end := b.ends[k-1]
	dst = append(dst, b.data[b.head:end]...)
	marks = append(marks, b.marks[b.first:k]...)
	clear(b.marks[b.first:k]) // drop the IDs' references
	b.head, b.first = end, k
	if b.first == len(b.ends) {
		b.reset()
	}
	b.wake()
	return dst, marks
}

// reset empties the buffer, giving back the memory of a burst when what it
// held since it was last empty would fit in a quarter of it; b.mu is held.
func (b *Buffer) reset() {
	if cap(b.data) > shrinkAbove && b.peak < cap(b.data)/4 {
		b.data, b.ends, b.marks = nil, nil, nil
	}
	b.data, b.ends, b.marks = b.data[:0], b.ends[:0], b.marks[:0]
	b.head, b.first, b.peak = 0, 0, 0
}

// Len returns the buffered bytes.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.data) - b.head
}

// capacity returns the bytes the buffer has allocated, for the tests.
func (b *Buffer) capacity() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return cap(b.data)
}

// SetPaused stops (true) or restarts (false) every TryPut; idempotent.
func (b *Buffer) SetPaused(p bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused = p
	if !p {
		b.wake()
	}
}

// wake releases the records waiting for room; b.mu is held.
func (b *Buffer) wake() {
	close(b.room)
	b.room = make(chan struct{})
}
