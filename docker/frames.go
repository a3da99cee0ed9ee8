package docker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame stream types of the multiplexed (non-TTY) log stream.
const (
	frameStdout = 1
	frameStderr = 2
	frameSystem = 3 // daemon error text, then EOF
)

var (
	// ErrCutFrame is a frame whose payload ended before its declared length
	// (moby's stdcopy drops such a frame silently).
	ErrCutFrame = errors.New("docker: log frame cut short")
	// ErrFrameTooLarge is a frame declaring more bytes than the cap: the
	// stream cannot be trusted past it.
	ErrFrameTooLarge = errors.New("docker: log frame larger than the cap")
	// ErrBadFrame is a header with an unknown stream type.
	ErrBadFrame = errors.New("docker: malformed log frame header")
)

// DaemonError is the text the daemon sends in a type-3 frame.
type DaemonError struct{ Text string }

func (e *DaemonError) Error() string { return "docker: daemon error in log stream: " + e.Text }

// FrameReader reads the 8-byte-header frames of a non-TTY log stream:
// [type, 0, 0, 0, length uint32 BE] then length bytes. Its buffer is small:
// the connection below reads in large batches (pollConn), and every
// followed container holds one FrameReader (500 x 4 KiB were a sixth of
// the heap, make bench-scale, P4).
type FrameReader struct {
	r     *bufio.Reader
	max   int
	hdr   [8]byte
	frame []byte
}

// NewFrameReader reads frames from r, refusing any that declares more than
// max payload bytes.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 2048), max: max}
}

// Next returns the next frame's stream type (1 stdout, 2 stderr) and
// payload. The payload is valid until the next call. It returns io.EOF at a
// clean end between frames, ErrCutFrame when the stream ends inside one, and
// *DaemonError for a type-3 frame.
func (f *FrameReader) Next() (byte, []byte, error) {
	if n, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		if n > 0 && (err == io.ErrUnexpectedEOF || err == io.EOF) {
			return 0, nil, fmt.Errorf("%w: %d of 8 header bytes", ErrCutFrame, n)
		}
		if err == io.ErrUnexpectedEOF { // the connection broke between frames
			return 0, nil, fmt.Errorf("docker: log stream broken: %w", err)
		}
		return 0, nil, err
	}
	typ := f.hdr[0]
	if typ == '{' {
		// Podman reports a failure after its headers as a JSON object
		// ({"cause":"no such container",...}) in place of a frame.
		rest, _ := f.r.Peek(min(f.r.Buffered(), 4096))
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[:i]
		}
		return 0, nil, &DaemonError{Text: string(f.hdr[:]) + string(rest)}
	}
	if typ > frameSystem || f.hdr[1]|f.hdr[2]|f.hdr[3] != 0 {
		return 0, nil, fmt.Errorf("%w: % x", ErrBadFrame, f.hdr)
	}
	size := binary.BigEndian.Uint32(f.hdr[4:])
	if int64(size) > int64(f.max) {
		return 0, nil, fmt.Errorf("%w: %d bytes declared, cap %d", ErrFrameTooLarge, size, f.max)
	}
	if cap(f.frame) < int(size) {
		f.frame = make([]byte, size, max(int(size), 2*cap(f.frame)))
	}
	f.frame = f.frame[:size]
	if n, err := io.ReadFull(f.r, f.frame); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, nil, fmt.Errorf("%w: %d of %d payload bytes", ErrCutFrame, n, size)
		}
		return 0, nil, err
	}
	if typ == frameSystem || typ == 0 {
		if typ == 0 { // stdin: never sent for logs
			return 0, nil, fmt.Errorf("%w: stdin frame", ErrBadFrame)
		}
		return 0, nil, &DaemonError{Text: string(f.frame)}
	}
	return typ, f.frame, nil
}
