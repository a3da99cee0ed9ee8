package docker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Stream is the output stream of a log line.
type Stream uint8

const (
	Stdout Stream = frameStdout
	Stderr Stream = frameStderr
)

func (s Stream) String() string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// chunkSize is the size at which dockerd's log copier cuts a long line
// into partial messages; every chunk but the last lacks the newline.
const chunkSize = 16 * 1024

// Entry is one log line.
type Entry struct {
	Stream Stream
	Time   int64  // Docker's timestamp, unix nanoseconds
	Line   []byte // without the trailing newline; valid until the next Next
	// Truncated says the line was longer than the reader's maximum and was
	// cut there.
	Truncated bool
}

// LogReader turns a logs response (requested with timestamps) into lines.
// It merges the chunks of a line longer than 16 KiB: consecutive chunks of
// one stream with the same timestamp, all but the last without a newline.
type LogReader struct {
	tty     bool
	maxLine int
	frames  *FrameReader  // non-TTY
	raw     *bufio.Reader // TTY
	lines   [3]lineBuf    // indexed by Stream
	ready   Stream        // a complete line held back behind the one just returned
}

type lineBuf struct {
	time       int64
	buf, spare []byte
	open       bool // holds the first chunks of a line awaiting its last one
	truncated  bool
}

// NewLogReader reads the response body r of a logs request. tty selects
// raw reading (a TTY container's stdout and stderr arrive merged, lines end
// in "\r\n"); otherwise frames are demultiplexed. Lines longer than maxLine
// bytes are cut there and flagged.
func NewLogReader(r io.Reader, tty bool, maxLine int) *LogReader {
	lr := &LogReader{tty: tty, maxLine: maxLine}
	if tty {
		lr.raw = bufio.NewReaderSize(r, chunkSize)
	} else {
		// Docker's frames hold at most 16 KiB plus the timestamp; other
		// API-compatible daemons may send larger ones, never past a line.
		lr.frames = NewFrameReader(r, max(maxLine, 64*1024)+64)
	}
	return lr
}

// Next returns the next complete line. At the end of the stream it returns
// the reader's error (io.EOF for a clean end); lines still awaiting their
// last chunk stay held: Flush returns them when the stream is known to be
// final.
func (lr *LogReader) Next() (Entry, error) {
	if s := lr.ready; s != 0 {
		lr.ready = 0
		return lr.take(s, false), nil
	}
	for {
		s, ts, payload, err := lr.chunk()
		if err != nil {
			return Entry{}, err
		}
		complete := len(payload) > 0 && payload[len(payload)-1] == '\n'
		l := &lr.lines[s]
		if l.open && l.time != ts {
			// The held line ended without a newline (a final line, or a
			// daemon that drops it); it is a line of its own.
			prev := lr.take(s, true)
			lr.add(l, ts, payload)
			if complete {
				lr.ready = s
			}
			return prev, nil
		}
		lr.add(l, ts, payload)
		if complete {
			return lr.take(s, false), nil
		}
	}
}

// Flush returns the lines still held for want of their last chunk, for a
// stream that has ended for good (the container stopped). Their buffers
// stay valid until the next call to Next.
func (lr *LogReader) Flush() []Entry {
	var out []Entry
	for _, s := range []Stream{Stdout, Stderr} {
		if lr.lines[s].open {
			out = append(out, lr.take(s, true))
		}
	}
	return out
}

// Pending reports the earliest timestamp of a line still held, if any: a
// resumed stream must start no later than that.
func (lr *LogReader) Pending() (int64, bool) {
	var ts int64
	found := false
	for _, s := range []Stream{Stdout, Stderr} {
		if l := lr.lines[s]; l.open && (!found || l.time < ts) {
			ts, found = l.time, true
		}
	}
	return ts, found
}

func (lr *LogReader) add(l *lineBuf, ts int64, payload []byte) {
	if !l.open {
		l.buf, l.open, l.truncated, l.time = l.buf[:0], true, false, ts
	}
	if room := lr.maxLine - len(l.buf); len(payload) > room {
		payload, l.truncated = payload[:max(room, 0)], true
	}
	l.buf = append(l.buf, payload...)
}

// take closes the held line of stream s and returns it. swap moves the
// line into the spare buffer so the stream can start its next line while
// the caller still holds this one.
func (lr *LogReader) take(s Stream, swap bool) Entry {
	l := &lr.lines[s]
	line := l.buf
	if swap {
		l.buf, l.spare = l.spare[:0], line
	}
	l.open = false
	line = bytes.TrimSuffix(line, []byte{'\n'})
	if lr.tty {
		line = bytes.TrimSuffix(line, []byte{'\r'})
	}
	return Entry{Stream: s, Time: l.time, Line: line, Truncated: l.truncated}
}

// chunk reads one log message as the daemon stored it: its stream, its
// timestamp and its payload (with the newline, if it had one).
func (lr *LogReader) chunk() (Stream, int64, []byte, error) {
	if lr.tty {
		return lr.ttyChunk()
	}
	typ, frame, err := lr.frames.Next()
	if err != nil {
		return 0, 0, nil, err
	}
	sp := bytes.IndexByte(frame, ' ')
	if sp < 0 {
		return 0, 0, nil, fmt.Errorf("%w: no timestamp in frame %q", ErrBadTimestamp, truncateForLog(frame))
	}
	ts, err := ParseTimestamp(frame[:sp])
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%w: %q", err, truncateForLog(frame[:sp]))
	}
	return Stream(typ), ts, frame[sp+1:], nil
}

// ttyChunk reads "<timestamp> <payload>" from a raw stream. A payload ends
// at its newline, or after chunkSize bytes (a partial chunk of a long line,
// followed by the next chunk's own timestamp).
func (lr *LogReader) ttyChunk() (Stream, int64, []byte, error) {
	prefix, err := lr.raw.ReadSlice(' ')
	if err != nil {
		if err == io.EOF && len(prefix) == 0 {
			return 0, 0, nil, io.EOF
		}
		if err == io.EOF || errors.Is(err, bufio.ErrBufferFull) {
			return 0, 0, nil, fmt.Errorf("%w: %q", ErrBadTimestamp, truncateForLog(prefix))
		}
		return 0, 0, nil, err
	}
	ts, err := ParseTimestamp(prefix[:len(prefix)-1])
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%w: %q", err, truncateForLog(prefix))
	}
	// The reader's buffer is chunkSize bytes, so ReadSlice returns a full
	// chunk as ErrBufferFull when no newline comes within it.
	payload, err := lr.raw.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !(err == io.EOF && len(payload) > 0) {
		return 0, 0, nil, err
	}
	return Stdout, ts, payload, nil
}

func truncateForLog(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
