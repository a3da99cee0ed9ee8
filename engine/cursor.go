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

// admit reports whether a line is new, and records it as delivered.
func (c *cursor) admit(ts int64, h uint64) bool {
	switch {
	case ts < c.time:
		return false
	case ts == c.time:
		for _, x := range c.hashes {
			if x == h {
				return false
			}
		}
		c.hashes = append(c.hashes, h)
		return true
	}
	c.time = ts
	c.hashes = append(c.hashes[:0], h)
	return true
}

func hashLine(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}
