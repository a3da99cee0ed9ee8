package engine

import (
	"hash/fnv"
	"time"

	"github.com/cespare/xxhash/v2"

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
//
// time is the last delivered line's in the order of the log. max is the
// latest stamp ever delivered: the same, unless the daemon's clock stepped
// back, when lines are delivered in the log's order below it. Up to the
// point a resumed stream has passed every delivered line, a line no newer
// than max was delivered (beforePassed); past it, the order of the log
// decides (next).
type cursor struct {
	time   int64
	hashes []uint64
	seen   int // lines at time read by the current stream (whole seconds)
	max    int64
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

// nextBeforePassed is next for a line read before the stream passed every
// delivered line: one no newer than max was delivered.
func (c *cursor) nextBeforePassed(ts int64, h uint64) bool {
	if c.max > c.time {
		return ts > c.max
	}
	return c.next(ts, h)
}

// stepBack is how far before the last delivered line (in the log's order)
// a line must be stamped to be taken for the daemon's clock stepping back,
// not for one of json-file's re-read lines at a rotation (adjacent repeats,
// stamped a few milliseconds earlier). NTP daemons step the clock for
// offsets of 128 ms (ntpd) or more (chrony's makestep, commonly 1 s).
const stepBack = int64(100 * time.Millisecond)

// steppedBack reports a line stamped so far before the last delivered one
// that the daemon's clock stepped back (see stepBack).
func (c *cursor) steppedBack(ts int64) bool { return c.time != 0 && ts < c.time-stepBack }

// isNew reports whether a line delivered after the cursor's (positions
// replay deliveries in order) moves it: at a whole second every delivered
// line is another one.
func (c *cursor) isNew(ts int64, h uint64) bool {
	return ts != c.time || docker.WholeSecond(ts) || !c.has(h)
}

func (c *cursor) has(h uint64) bool {
	for _, x := range c.hashes {
		if x == h {
			return true
		}
	}
	return false
}

// add records a new line as delivered (after the cursor's in the log).
func (c *cursor) add(ts int64, h uint64) {
	if ts != c.time {
		c.time, c.hashes, c.seen = ts, c.hashes[:0], 0
	}
	c.hashes = append(c.hashes, h)
	c.seen = max(c.seen, len(c.hashes))
	c.max = max(c.max, ts)
}

// admit reports whether a line read is new, and records it as delivered.
func (c *cursor) admit(ts int64, h uint64) bool {
	if !c.next(ts, h) {
		return false
	}
	c.add(ts, h)
	return true
}

// hashLine is what cursors and anchors hold of a line: xxHash64. FNV-1a,
// a byte at a time, was 8% of Fluent Bit's CPU reading a backlog through
// the plugin (perf, BENCHMARKS.md P2).
func hashLine(b []byte) uint64 { return xxhash.Sum64(b) }

// hashLineFNV is the hash of positions written before hashLine was
// xxHash (delivery.fnv).
func hashLineFNV(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}
