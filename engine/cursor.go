package engine

import (
	"hash/fnv"

	"github.com/docker-logs/docker_logs/docker"
)

// cursor is where a stream's delivery stands: the timestamp of the last
// line delivered, and the hashes of the lines delivered at exactly that
// timestamp, in delivery order. Docker stamps each stream's lines in order,
// so a line older than the cursor was delivered.
//
// At the cursor's timestamp itself it depends on the stamps' precision.
// Docker's are nanoseconds: two lines never share one, so a line there was
// delivered if its hash is there, whatever its position. That makes a
// resumed stream (since is inclusive) and json-file's re-read lines at
// rotation (adjacent exact repeats) drop exactly the repeats.
// Podman's before 5.8 are whole seconds (docker.WholeSecond): one second
// holds many lines, identical ones included, so a set of hashes would drop
// every repeat of a line written twice in a second. There the cursor is
// positional: a resumed stream replays the cursor's second from its start
// (the monitor's resume point sees to that), and the i-th line it reads at
// that second was delivered if i < len(hashes). seen counts them; it is
// reset when a stream opens (restart).
type cursor struct {
	time   int64
	hashes []uint64
	seen   int // lines at time read by the current stream (whole seconds)
}

// restart starts counting the lines of a new stream.
func (c *cursor) restart() { c.seen = 0 }

// next reports whether a line read from the current stream, in order, was
// not delivered yet.
func (c *cursor) next(ts int64, h uint64) bool {
	if ts != c.time {
		return ts > c.time
	}
	if docker.WholeSecond(ts) {
		c.seen++
		return c.seen > len(c.hashes)
	}
	return !c.has(h)
}

// isNew reports whether a line delivered after the cursor's (positions
// replay deliveries in order) advances it: at a whole second every delivered
// line is another one.
func (c *cursor) isNew(ts int64, h uint64) bool {
	if ts != c.time {
		return ts > c.time
	}
	return docker.WholeSecond(ts) || !c.has(h)
}

func (c *cursor) has(h uint64) bool {
	for _, x := range c.hashes {
		if x == h {
			return true
		}
	}
	return false
}

// add records a new line as delivered.
func (c *cursor) add(ts int64, h uint64) {
	if ts > c.time {
		c.time, c.hashes, c.seen = ts, c.hashes[:0], 0
	}
	c.hashes = append(c.hashes, h)
	c.seen = max(c.seen, len(c.hashes))
}

// admit reports whether a line read is new, and records it as delivered.
func (c *cursor) admit(ts int64, h uint64) bool {
	if !c.next(ts, h) {
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
