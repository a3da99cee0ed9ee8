package docker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
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
	// Pos is where a json-file log is to be read from to read the line
	// again, whole (zero through the API): its first chunk, or the first
	// chunk of the other stream's line then awaiting its last one. json-file
	// interleaves the chunks of the two streams' long lines; read from
	// between a line's chunks, the last ones would pass for a line.
	Pos FilePos
}

// LogReader turns a logs response (requested with timestamps) into lines.
// It merges the chunks of a line longer than 16 KiB: consecutive chunks of
// one stream with the same timestamp, all but the last without a newline
// (Podman: 8 KiB, see WholeSecond).
type LogReader struct {
	tty     bool
	maxLine int
	frames  *FrameReader  // non-TTY
	raw     *bufio.Reader // TTY
	lines   [3]lineBuf    // indexed by Stream
	ready   Stream        // a complete line held back behind the one just returned
	pm      *podmanTTY    // TTY stream of whole-second stamps (Podman)
	files   *fileReader   // a json-file log read from disk (OpenJSONFile)
}

type lineBuf struct {
	time int64
	// start is where the line's first chunk is in its json-file log; pos
	// where a stream resumed to read it again must start (Entry.Pos).
	start, pos FilePos
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
		if l.open && l.time != ts && !(WholeSecond(l.time) && WholeSecond(ts) && ts > l.time) {
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

// WholeSecond reports a timestamp without a fraction: Podman before 5.8
// stamps lines in whole seconds, and stamps each chunk of a long line (cut
// at 8 KiB) on its own, so a line's chunks may straddle a second. Such a
// chunk continues the held line however its stamp differs (Podman's own
// `podman logs` merges them alike); Docker stamps every chunk of a line
// alike, so a different stamp there ends the held line.
func WholeSecond(ts int64) bool { return ts%1e9 == 0 }

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
		if lr.files != nil {
			l.start, l.pos = lr.files.pos, lr.files.pos
			for i := range lr.lines {
				if o := &lr.lines[i]; o != l && o.open {
					l.pos = o.start
				}
			}
		}
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
	return Entry{Stream: s, Time: l.time, Line: line, Truncated: l.truncated, Pos: l.pos}
}

// Close releases a json-file log's open file; a response body is its
// caller's to close.
func (lr *LogReader) Close() error {
	if lr.files != nil {
		return lr.files.Close()
	}
	return nil
}

// chunk reads one log message as the daemon stored it: its stream, its
// timestamp and its payload (with the newline, if it had one).
func (lr *LogReader) chunk() (Stream, int64, []byte, error) {
	if lr.files != nil {
		return lr.files.chunk()
	}
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
	if lr.pm != nil {
		return lr.pm.chunk()
	}
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
	if WholeSecond(ts) && len(prefix) == podmanStampLen {
		lr.pm = &podmanTTY{r: lr.raw, ts: ts}
		return lr.pm.chunk()
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

// podmanStampLen is the length of Podman's whole-second prefix with its
// space: "2006-01-02T15:04:05Z ".
const podmanStampLen = 21

// podmanTTY reads a TTY stream of Podman before 5.8. Podman stamps every
// chunk its conmon read from the terminal, parts of lines included (a
// terminal hands over at most 4 KiB at a time, and a fast writer's lines at
// any point), and sends a part without a newline: the next chunk's stamp
// follows inside the line. So a payload ends at its newline or at the next
// stamp, found by its form (a line that itself holds a whole-second UTC
// stamp followed by a space, within the hour after its chunk's, is cut
// there: the API offers nothing better to tell them apart).
type podmanTTY struct {
	r   *bufio.Reader
	buf []byte // read, not yet returned
	ts  int64  // the current chunk's stamp; -1: buf starts with a stamp
	eof error
}

func (p *podmanTTY) chunk() (Stream, int64, []byte, error) {
	for {
		if p.ts < 0 {
			if len(p.buf) < podmanStampLen {
				if err := p.fill(); err != nil {
					if err == io.EOF && len(p.buf) > 0 {
						return 0, 0, nil, fmt.Errorf("%w: %q", ErrBadTimestamp, truncateForLog(p.buf))
					}
					return 0, 0, nil, err
				}
				continue
			}
			ts, ok := p.stampAt(p.buf, -1)
			if !ok {
				return 0, 0, nil, fmt.Errorf("%w: %q", ErrBadTimestamp, truncateForLog(p.buf[:podmanStampLen]))
			}
			p.ts, p.buf = ts, p.buf[podmanStampLen:]
		}
		end := bytes.IndexByte(p.buf, '\n') + 1 // 0: none yet
		search := p.buf
		if end > 0 {
			search = p.buf[:end]
		}
		if i := p.nextStamp(search); i >= 0 {
			return p.take(i, true)
		}
		if end > 0 {
			return p.take(end, true) // a stamp follows a newline
		}
		// Neither yet: hand over what cannot start a stamp, to bound the
		// buffer (the line goes on under the same stamp), or read more.
		if keep := podmanStampLen - 1; len(p.buf) >= chunkSize+keep {
			return p.take(len(p.buf)-keep, false)
		}
		if err := p.fill(); err != nil {
			if err == io.EOF && len(p.buf) > 0 {
				return p.take(len(p.buf), false) // a final line without newline
			}
			return 0, 0, nil, err
		}
	}
}

// take returns the first n bytes of buf as the current chunk's payload;
// stamp says a stamp follows them.
func (p *podmanTTY) take(n int, stamp bool) (Stream, int64, []byte, error) {
	ts := p.ts
	payload := p.buf[:n:n]
	p.buf = p.buf[n:]
	if stamp {
		p.ts = -1
	}
	return Stdout, ts, payload, nil
}

// fill reads more into buf, keeping what was not returned yet.
func (p *podmanTTY) fill() error {
	if p.eof != nil {
		return p.eof
	}
	if cap(p.buf)-len(p.buf) < chunkSize {
		nb := make([]byte, len(p.buf), len(p.buf)+2*chunkSize)
		copy(nb, p.buf)
		p.buf = nb
	}
	n, err := p.r.Read(p.buf[len(p.buf):cap(p.buf)])
	p.buf = p.buf[:len(p.buf)+n]
	if err != nil {
		p.eof = err
		if n > 0 {
			return nil
		}
	}
	return err
}

// nextStamp finds a chunk's stamp inside b: the form, at or up to an hour
// after the current chunk's.
func (p *podmanTTY) nextStamp(b []byte) int {
	for from := 0; ; {
		i := bytes.Index(b[from:], []byte("Z "))
		if i < 0 {
			return -1
		}
		start := from + i + 2 - podmanStampLen
		if start >= 0 {
			if _, ok := p.stampAt(b[start:], p.ts); ok {
				return start
			}
		}
		from += i + 1
	}
}

// stampAt parses a whole-second prefix at the start of b; after >= 0, it
// must be within the hour from after.
func (p *podmanTTY) stampAt(b []byte, after int64) (int64, bool) {
	if len(b) < podmanStampLen || b[podmanStampLen-1] != ' ' {
		return 0, false
	}
	ts, ok := parseDockerTimestamp(b[:podmanStampLen-1])
	if !ok || (after >= 0 && (ts < after || ts > after+int64(time.Hour))) {
		return 0, false
	}
	return ts, true
}
