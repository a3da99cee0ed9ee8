package engine

import "sync"

// Buffer holds encoded records between the monitors that read them and the
// collect callback that hands them to Fluent Bit. It is bounded: a record
// that does not fit waits (its monitor stops reading from Docker, whose
// log files then hold the backlog) until a Take makes room. Take never
// blocks. Each record carries a mark, where it stands in its container's
// log, so positions advance only with what Fluent Bit has taken.
type Buffer struct {
	mu     sync.Mutex
	data   []byte // encoded records, oldest first
	ends   []int  // end offset in data of each record
	marks  []mark // the position of each record
	max    int
	paused bool
	// room is closed, and replaced, whenever a waiting record may now fit.
	room chan struct{}
}

// mark is where a record stands in its container's log.
type mark struct {
	id     string // container ID
	stream uint8
	time   int64
	hash   uint64
	// anchor: every line of the container before this one in its log was
	// delivered before it (no long line was still being assembled).
	anchor bool
}

// NewBuffer makes a buffer of at most max bytes (a single larger record is
// still accepted alone, so no record is ever refused).
func NewBuffer(max int) *Buffer {
	return &Buffer{max: max, room: make(chan struct{})}
}

// TryPut appends one encoded record if it fits and the buffer is not
// paused. Otherwise it returns a channel that is closed when it may fit.
func (b *Buffer) TryPut(rec []byte, m mark) (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused || (len(b.data)+len(rec) > b.max && len(b.data) > 0) {
		return false, b.room
	}
	if need := len(b.data) + len(rec); need > cap(b.data) {
		// Grow by doubling, but never past the bound: the bound is on
		// memory, not only on what is buffered.
		grown := make([]byte, len(b.data), min(max(2*cap(b.data), need, 4096), max(b.max, need)))
		copy(grown, b.data)
		b.data = grown
	}
	b.data = append(b.data, rec...)
	b.ends = append(b.ends, len(b.data))
	b.marks = append(b.marks, m)
	return true, nil
}

// Take appends to dst the oldest whole records that fit in limit bytes
// (at least one record, however large, when any is buffered), and their
// marks to marks; it removes them and returns both.
func (b *Buffer) Take(limit int, dst []byte, marks []mark) ([]byte, []mark) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ends) == 0 {
		return dst, marks
	}
	k := 1
	for k < len(b.ends) && b.ends[k] <= limit {
		k++
	}
	end := b.ends[k-1]
	dst = append(dst, b.data[:end]...)
	marks = append(marks, b.marks[:k]...)
	b.data = b.data[:copy(b.data, b.data[end:])]
	b.ends = b.ends[:copy(b.ends, b.ends[k:])]
	for i := range b.ends {
		b.ends[i] -= end
	}
	clear(b.marks[copy(b.marks, b.marks[k:]):]) // drop the IDs' references
	b.marks = b.marks[:len(b.ends)]
	b.wake()
	return dst, marks
}

// Len returns the buffered bytes.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.data)
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
