package engine

import "hash/fnv"

// cursor is where a stream's delivery stands: the timestamp of the last
// line delivered, and the hashes of the lines delivered at exactly that
// timestamp. Docker stamps each stream's lines in order, so a line older
// than the cursor was delivered; one at the cursor's timestamp was if its
// hash is there. That makes a resumed stream (since is inclusive) and
// json-file's re-read lines at rotation drop exactly the repeats.
type cursor struct {
	time   int64
	hashes []uint64
}

// isNew reports whether a line was not delivered yet.
func (c *cursor) isNew(ts int64, h uint64) bool {
	if ts != c.time {
		return ts > c.time
	}
	for _, x := range c.hashes {
		if x == h {
			return false
		}
	}
	return true
}

// add records a new line as delivered.
func (c *cursor) add(ts int64, h uint64) {
	if ts > c.time {
		c.time, c.hashes = ts, c.hashes[:0]
	}
	c.hashes = append(c.hashes, h)
}

// admit reports whether a line is new, and records it as delivered.
func (c *cursor) admit(ts int64, h uint64) bool {
	if !c.isNew(ts, h) {
		return false
	}
	c.add(ts, h)
	return true
}

func hashLine(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}
