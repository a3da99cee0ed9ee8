package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

// api is the Engine API client of the reconnects: one new connection per
// request, as for the plugin (a cut follow stream cannot be reused anyway).
type api struct {
	*benchkit.API
}

func newAPI(socket string) *api {
	tr := benchkit.UnixTransport(socket)
	tr.DisableKeepAlives = true
	return &api{benchkit.NewAPI(tr)}
}

// maxFrame caps a frame's declared length: loggen lines are small, so a huge
// length means the stream is not what we expect (e.g. a TTY container).
const maxFrame = 1 << 20

func newFrameReader(r io.Reader) *benchkit.FrameReader {
	fr := benchkit.NewFrameReader(r, 64<<10)
	fr.MaxFrame = maxFrame
	return fr
}

// entries summarizes a run of log entries so two reads can be compared
// without keeping them: how many, and a hash over their frames in order.
type entries struct {
	n    int
	hash uint64
}

func (e entries) String() string { return fmt.Sprintf("%d entries (fnv64 %016x)", e.n, e.hash) }

// cursor is what the benchmark reconnects from: the timestamp of an entry
// near the end of the log and the last entry that existed at that time.
type cursor struct {
	ts    time.Time
	since string // ts as the API's since: unix sec.nnnnnnnnn (20.10 takes no RFC3339)
	last  []byte // frame payload (timestamp prefix included) of the last entry
	ref   entries
}

// tsOf parses the "2006-01-02T15:04:05.000000000Z " prefix of timestamps=1.
func tsOf(payload []byte) (time.Time, error) {
	i := strings.IndexByte(string(payload[:min(len(payload), 40)]), ' ')
	if i < 0 {
		return time.Time{}, fmt.Errorf("no timestamp prefix in %q", payload[:min(len(payload), 60)])
	}
	return time.Parse(time.RFC3339Nano, string(payload[:i]))
}

// getCursor reads the last `back` entries (tail=back, no follow): the first
// one's timestamp becomes the since of every reconnect, the last one marks
// the end of the catch-up. Equivalent to `docker logs -t --tail back`.
func (a *api) getCursor(ctx context.Context, id string, back int) (cursor, error) {
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "timestamps": {"1"}, "tail": {strconv.Itoa(back)}}
	body, err := a.Logs(ctx, id, q)
	if err != nil {
		return cursor{}, err
	}
	defer body.Close()
	var c cursor
	h := fnv.New64a()
	fr := newFrameReader(body)
	for {
		p, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cursor{}, err
		}
		if c.ref.n == 0 {
			if c.ts, err = tsOf(p); err != nil {
				return cursor{}, err
			}
		}
		c.ref.n++
		h.Write(p)
		c.last = append(c.last[:0], p...)
	}
	if c.ref.n == 0 {
		return cursor{}, errors.New("empty log")
	}
	c.ref.hash = h.Sum64()
	c.since = fmt.Sprintf("%d.%09d", c.ts.Unix(), c.ts.Nanosecond())
	return c, nil
}

// reconnect makes one reconnect of the kind the plugin makes at a stream
// rotation: follow=1 from since=cursor (plus tail=N when tail > 0), read the
// catch-up up to the last entry that existed, then drop the connection (in
// the plugin the stream lives on until its lifetime cuts it; only the
// catch-up costs dockerd CPU, a quiet follow does not).
func (a *api) reconnect(ctx context.Context, id string, c cursor, tail int) (entries, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel() // closes the connection: dockerd ends its follower
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "timestamps": {"1"}, "follow": {"1"}, "since": {c.since}}
	if tail > 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	body, err := a.Logs(ctx, id, q)
	if err != nil {
		return entries{}, err
	}
	defer body.Close()
	var e entries
	h := fnv.New64a()
	fr := newFrameReader(body)
	for {
		p, err := fr.Next()
		if err != nil {
			return entries{}, fmt.Errorf("after %d entries, before the last one: %w", e.n, err)
		}
		e.n++
		h.Write(p)
		if string(p) == string(c.last) {
			e.hash = h.Sum64()
			return e, nil
		}
	}
}
