package docker

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
)

// Log streams do not go through net/http's client: its transport runs two
// goroutines per connection (readLoop, writeLoop) for as long as a stream is
// open, a third and fourth goroutine per followed container besides its
// monitor (make bench-scale, P4: 3 per container with 500 containers). A
// stream is one request on its own connection, its response read with
// http.ReadResponse in the monitor's goroutine alone.
type streamDialer struct {
	network, addr string
	idle          time.Duration // read deadline before every read (0: none)
	tls           *tls.Config   // nil: plain
	version       func() string // the API version the control client negotiated
}

// connectError is a failure to reach the daemon for a log stream.
type connectError struct{ err error }

func (e connectError) Error() string {
	return "cannot connect to the Docker daemon: " + e.err.Error()
}
func (e connectError) Unwrap() error { return e.err }

// get sends GET path?q on a new connection and returns the response body
// on status 200; the body owns the connection. ctx bounds the whole
// stream: cancelling it closes the connection.
func (d *streamDialer) get(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, d.network, d.addr)
	if err != nil {
		return nil, connectError{err}
	}
	var conn io.ReadWriteCloser // raw, or what wraps it
	var body io.Reader          // what the response is read from
	if d.tls != nil {
		tc := tls.Client(raw, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		conn, body = tc, &streamConn{Conn: tc, idle: d.idle}
	} else {
		pc, err := newPollConn(raw, d.idle)
		if err != nil {
			raw.Close()
			return nil, connectError{err}
		}
		conn, body = pc, pc
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (io.ReadCloser, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if v := d.version(); v != "" {
		path = "/v" + v + path
	}
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: q.Encode()},
		Host: "docker", Header: http.Header{"User-Agent": {"docker_logs"}}, ProtoMajor: 1, ProtoMinor: 1}
	if d.tls != nil {
		req.Host = d.tls.ServerName
	}
	if err := req.Write(conn); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(body, streamReadBuffer), req)
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(statusError(resp))
	}
	return &streamBody{ReadCloser: resp.Body, conn: conn, stop: stop}, nil
}

// statusError makes an error of a non-200 answer, typed as the Docker
// client types them (IsGone, IsUnreadable), with the daemon's message.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(b))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	var kind error
	switch resp.StatusCode {
	case http.StatusNotFound:
		kind = cerrdefs.ErrNotFound
	case http.StatusConflict:
		kind = cerrdefs.ErrConflict
	case http.StatusNotImplemented:
		kind = cerrdefs.ErrNotImplemented
	default:
		return fmt.Errorf("Error response from daemon: %s (HTTP %d)", msg, resp.StatusCode)
	}
	return fmt.Errorf("Error response from daemon: %s: %w", msg, kind)
}

// streamBody closes the stream's connection with the body: the connection
// first, since closing a response body read by http.ReadResponse reads the
// rest of it, which on a followed stream never ends.
type streamBody struct {
	io.ReadCloser
	conn io.Closer
	stop func() bool
}

func (b *streamBody) Close() error {
	b.stop()
	err := b.conn.Close()
	b.ReadCloser.Close() // fails at once on the closed connection
	return err
}

// A plain stream is read through a pollConn (pollconn.go). A TLS stream
// is read through a streamConn: a read that follows one which found data
// at once (the stream is busy) first waits coalesceDelay, letting frames
// gather in the socket, though the netpoller still wakes for each. Either
// way the response is read through a streamReadBuffer, held by every
// followed container (500: 1 MiB): small, since a busy plain stream's
// batches are read by its pollConn, and a read larger than the buffer
// bypasses it.
const (
	streamReadBuffer = 2 << 10
	coalesceDelay    = 2 * time.Millisecond
	// busyRead is how quickly a read must return for the stream to count
	// as busy.
	busyRead = 200 * time.Microsecond
)

// streamConn sets a read deadline before every read, so a stream that
// stops delivering fails instead of blocking its reader forever, and
// coalesces the reads of a busy stream.
type streamConn struct {
	net.Conn
	idle time.Duration
	busy bool // the last read returned data at once, and less than asked
}

func (c *streamConn) Read(p []byte) (int, error) {
	if c.busy {
		time.Sleep(coalesceDelay)
	}
	start := time.Now()
	if c.idle > 0 {
		if err := c.Conn.SetReadDeadline(start.Add(c.idle)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	c.busy = err == nil && n < len(p) && time.Since(start) < busyRead
	return n, err
}
