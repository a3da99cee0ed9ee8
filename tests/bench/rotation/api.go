package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// api talks to the Engine API over its unix socket with plain net/http, so
// that the benchmark controls the exact request the plugin makes and nothing
// else (no version negotiation round trip, no client-side time conversion).
type api struct {
	c *http.Client
}

func newAPI(socket string) *api {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		// Every reconnect is a new connection, as for the plugin: a cut
		// follow stream cannot be reused anyway.
		DisableKeepAlives: true,
	}
	return &api{c: &http.Client{Transport: tr}}
}

// open sends GET /containers/{id}/logs with the given query and checks the
// status. The caller closes the body (or cancels ctx) to end the stream.
func (a *api) open(ctx context.Context, id string, q url.Values) (io.ReadCloser, error) {
	u := "http://docker/containers/" + url.PathEscape(id) + "/logs?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

// maxFrame caps a frame's declared length: loggen lines are small, so a huge
// length means the stream is not what we expect (e.g. a TTY container).
const maxFrame = 1 << 20

// frameReader demultiplexes the non-TTY log stream: 8-byte header
// [type,0,0,0,len BE32] then the payload (one log message per frame).
type frameReader struct {
	br  *bufio.Reader
	hdr [8]byte
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next frame's payload (valid until the following call),
// io.EOF at a clean end, io.ErrUnexpectedEOF for a frame cut short.
func (f *frameReader) next() ([]byte, error) {
	if _, err := io.ReadFull(f.br, f.hdr[:]); err != nil {
		return nil, err
	}
	switch f.hdr[0] {
	case 1, 2:
	case 3:
		b, _ := io.ReadAll(io.LimitReader(f.br, 4096))
		return nil, fmt.Errorf("daemon error in stream: %s", strings.TrimSpace(string(b)))
	default:
		return nil, fmt.Errorf("bad frame header %x (TTY container?)", f.hdr)
	}
	n := binary.BigEndian.Uint32(f.hdr[4:])
	if n > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrame)
	}
	if cap(f.buf) < int(n) {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.br, f.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return f.buf, nil
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
	body, err := a.open(ctx, id, q)
	if err != nil {
		return cursor{}, err
	}
	defer body.Close()
	var c cursor
	h := fnv.New64a()
	fr := newFrameReader(body)
	for {
		p, err := fr.next()
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

// lastLine returns the last entry of the log (tail=1), nil if it is empty.
func (a *api) lastLine(ctx context.Context, id string) ([]byte, error) {
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "tail": {"1"}}
	body, err := a.open(ctx, id, q)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	fr := newFrameReader(body)
	var last []byte
	for {
		p, err := fr.next()
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			return nil, err
		}
		last = append(last[:0], p...)
	}
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
	body, err := a.open(ctx, id, q)
	if err != nil {
		return entries{}, err
	}
	defer body.Close()
	var e entries
	h := fnv.New64a()
	fr := newFrameReader(body)
	for {
		p, err := fr.next()
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
