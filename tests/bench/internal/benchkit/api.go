package benchkit

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// UnixTransport is an HTTP transport that dials the daemon's unix socket
// whatever the URL's host. Callers tune its connection reuse to what they
// measure before handing it to NewAPI.
func UnixTransport(socket string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
}

// API talks to the Engine API with plain net/http, as curl --unix-socket
// would: the benchmark controls the exact request the plugin makes and
// nothing else (no version negotiation round trip, no client-side time
// conversion, no client library cost in a measured rate).
type API struct {
	c *http.Client
}

// NewAPI returns an API client over tr, normally a UnixTransport.
func NewAPI(tr http.RoundTripper) *API {
	return &API{c: &http.Client{Transport: tr}}
}

// Logs sends GET /containers/{id}/logs with the given query and checks the
// status. The caller closes the body (or cancels ctx) to end the stream.
func (a *API) Logs(ctx context.Context, id string, q url.Values) (io.ReadCloser, error) {
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

// FrameReader demultiplexes the non-TTY log stream: an 8-byte header
// [type,0,0,0,len BE32] then the payload (one log message per frame). It is
// read by hand for the same reason as API: nothing but the stream's cost.
type FrameReader struct {
	// MaxFrame, when > 0, caps the declared length of a frame that Next
	// returns: a huge one means the stream is not what the caller expects.
	MaxFrame int

	br  *bufio.Reader
	hdr [8]byte
	buf []byte
}

// NewFrameReader reads frames from r through a buffer of size bytes.
func NewFrameReader(r io.Reader, size int) *FrameReader {
	return &FrameReader{br: bufio.NewReaderSize(r, size)}
}

// header reads the next frame's header and returns its payload length.
func (f *FrameReader) header() (int, error) {
	if _, err := io.ReadFull(f.br, f.hdr[:]); err != nil {
		return 0, err
	}
	switch f.hdr[0] {
	case 1, 2:
	case 3:
		b, _ := io.ReadAll(io.LimitReader(f.br, 4096))
		return 0, fmt.Errorf("daemon error in stream: %s", strings.TrimSpace(string(b)))
	default:
		return 0, fmt.Errorf("bad frame header %x (TTY container?)", f.hdr)
	}
	return int(binary.BigEndian.Uint32(f.hdr[4:])), nil
}

// Next returns the next frame's payload (valid until the following call),
// io.EOF at a clean end, io.ErrUnexpectedEOF for a frame cut short.
func (f *FrameReader) Next() ([]byte, error) {
	n, err := f.header()
	if err != nil {
		return nil, err
	}
	if f.MaxFrame > 0 && n > f.MaxFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", n, f.MaxFrame)
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.br, f.buf); err != nil {
		return nil, unexpected(err)
	}
	return f.buf, nil
}

// Skip passes over the next frame without copying its payload; it returns
// what Next would.
func (f *FrameReader) Skip() error {
	n, err := f.header()
	if err != nil {
		return err
	}
	if _, err := f.br.Discard(n); err != nil {
		return unexpected(err)
	}
	return nil
}

// unexpected turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// LastLine returns the payload of the log's last entry (tail=1), nil if
// the log is empty.
func (a *API) LastLine(ctx context.Context, id string) ([]byte, error) {
	body, err := a.Logs(ctx, id, url.Values{"stdout": {"1"}, "stderr": {"1"}, "tail": {"1"}})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	fr := NewFrameReader(body, 64<<10)
	var last []byte
	for {
		p, err := fr.Next()
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			return nil, err
		}
		last = append(last[:0], p...)
	}
}
