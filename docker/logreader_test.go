package docker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// frame builds one multiplexed frame as dockerd sends it.
func frame(stream byte, payload string) []byte {
	b := []byte{stream, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

func stamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z") + " "
}

func readAll(t *testing.T, lr *LogReader) ([]Entry, error) {
	t.Helper()
	var out []Entry
	for {
		e, err := lr.Next()
		if err != nil {
			for _, f := range lr.Flush() {
				f.Line = bytes.Clone(f.Line)
				out = append(out, f)
			}
			return out, err
		}
		e.Line = bytes.Clone(e.Line)
		out = append(out, e)
	}
}

const t0 = int64(1764338400123456789)

func TestLogReaderFrames(t *testing.T) {
	var in []byte
	in = append(in, frame(1, stamp(t0)+"one\n")...)
	in = append(in, frame(2, stamp(t0+1)+"two\r\n")...)
	in = append(in, frame(1, stamp(t0+2)+"\n")...)
	in = append(in, frame(2, stamp(t0+3)+"last without newline")...)
	got, err := readAll(t, NewLogReader(bytes.NewReader(in), false, 1<<20))
	if err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
	want := []Entry{
		{Stream: Stdout, Time: t0, Line: []byte("one")},
		{Stream: Stderr, Time: t0 + 1, Line: []byte("two\r")}, // non-TTY keeps \r
		{Stream: Stdout, Time: t0 + 2, Line: []byte("")},
		{Stream: Stderr, Time: t0 + 3, Line: []byte("last without newline")},
	}
	assertEntries(t, got, want)
}

func assertEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Stream != w.Stream || g.Time != w.Time || !bytes.Equal(g.Line, w.Line) || g.Truncated != w.Truncated {
			t.Errorf("entry %d = {%v %d %q trunc=%v}, want {%v %d %q trunc=%v}", i,
				g.Stream, g.Time, abbrev(g.Line), g.Truncated, w.Stream, w.Time, abbrev(w.Line), w.Truncated)
		}
	}
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:20]) + "..." + string(b[len(b)-20:])
	}
	return string(b)
}

// Lines over 16 KiB arrive as chunks of one stream with one timestamp;
// chunks of the other stream may come between them.
func TestLogReaderMergesLongLines(t *testing.T) {
	a := strings.Repeat("a", chunkSize)
	b := strings.Repeat("b", chunkSize)
	var in []byte
	in = append(in, frame(1, stamp(t0)+a)...)
	in = append(in, frame(2, stamp(t0+1)+"interleaved\n")...)
	in = append(in, frame(1, stamp(t0)+b)...)
	in = append(in, frame(1, stamp(t0)+"end\n")...)
	// Identical chunks are legitimate.
	in = append(in, frame(1, stamp(t0+5)+a)...)
	in = append(in, frame(1, stamp(t0+5)+a+"\n")...)
	got, err := readAll(t, NewLogReader(bytes.NewReader(in), false, 1<<20))
	if err != io.EOF {
		t.Fatal(err)
	}
	assertEntries(t, got, []Entry{
		{Stream: Stderr, Time: t0 + 1, Line: []byte("interleaved")},
		{Stream: Stdout, Time: t0, Line: []byte(a + b + "end")},
		{Stream: Stdout, Time: t0 + 5, Line: []byte(a + a)},
	})
}

// A held chunk followed by a chunk of another timestamp on the same stream
// was a line of its own (a daemon that dropped the newline); the new chunk,
// complete, must follow it.
func TestLogReaderHeldLineThenNewLine(t *testing.T) {
	var in []byte
	in = append(in, frame(1, stamp(t0)+"no newline")...)
	in = append(in, frame(1, stamp(t0+1)+"next\n")...)
	in = append(in, frame(1, stamp(t0+2)+"third\n")...)
	got, err := readAll(t, NewLogReader(bytes.NewReader(in), false, 1<<20))
	if err != io.EOF {
		t.Fatal(err)
	}
	assertEntries(t, got, []Entry{
		{Stream: Stdout, Time: t0, Line: []byte("no newline")},
		{Stream: Stdout, Time: t0 + 1, Line: []byte("next")},
		{Stream: Stdout, Time: t0 + 2, Line: []byte("third")},
	})
}

func TestLogReaderTruncatesAtMaxLine(t *testing.T) {
	var in []byte
	for i := 0; i < 4; i++ {
		in = append(in, frame(1, stamp(t0)+strings.Repeat("x", chunkSize))...)
	}
	in = append(in, frame(1, stamp(t0)+"tail\n")...)
	in = append(in, frame(1, stamp(t0+1)+"short\n")...)
	got, err := readAll(t, NewLogReader(bytes.NewReader(in), false, 40000))
	if err != io.EOF {
		t.Fatal(err)
	}
	assertEntries(t, got, []Entry{
		{Stream: Stdout, Time: t0, Line: []byte(strings.Repeat("x", 40000)), Truncated: true},
		{Stream: Stdout, Time: t0 + 1, Line: []byte("short")},
	})
}

func TestLogReaderTTY(t *testing.T) {
	long := strings.Repeat("L", chunkSize) + strings.Repeat("M", 100)
	var in bytes.Buffer
	in.WriteString(stamp(t0) + "hello\r\n")
	in.WriteString(stamp(t0+1) + "\r\n")
	// A long TTY line: the daemon inserts a timestamp after each 16 KiB.
	in.WriteString(stamp(t0+2) + long[:chunkSize])
	in.WriteString(stamp(t0+2) + long[chunkSize:] + "\r\n")
	in.WriteString(stamp(t0+3) + "bye")
	got, err := readAll(t, NewLogReader(&in, true, 1<<20))
	if err != io.EOF {
		t.Fatal(err)
	}
	assertEntries(t, got, []Entry{
		{Stream: Stdout, Time: t0, Line: []byte("hello")},
		{Stream: Stdout, Time: t0 + 1, Line: []byte("")},
		{Stream: Stdout, Time: t0 + 2, Line: []byte(long)},
		{Stream: Stdout, Time: t0 + 3, Line: []byte("bye")},
	})
}

func TestLogReaderErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"cut payload", frame(1, stamp(t0)+"hello\n")[:20], ErrCutFrame},
		{"cut header", []byte{1, 0, 0}, ErrCutFrame},
		{"bad type", []byte{7, 0, 0, 0, 0, 0, 0, 1, 'x'}, ErrBadFrame},
		{"too large", []byte{1, 0, 0, 0, 0x7f, 0, 0, 0}, ErrFrameTooLarge},
		{"no timestamp", frame(1, "nospace"), ErrBadTimestamp},
		{"bad timestamp", frame(1, "2026-13-01T00:00:00.000000000Z x\n"), ErrBadTimestamp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readAll(t, NewLogReader(bytes.NewReader(c.in), false, 1<<20))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("daemon error", func(t *testing.T) {
		_, err := readAll(t, NewLogReader(bytes.NewReader(frame(3, "boom")), false, 1<<20))
		var de *DaemonError
		if !errors.As(err, &de) || de.Text != "boom" {
			t.Fatalf("err = %v, want DaemonError boom", err)
		}
	})
}

func TestParseTimestamp(t *testing.T) {
	cases := map[string]int64{
		"2026-11-28T14:00:00.123456789Z": time.Date(2026, 11, 28, 14, 0, 0, 123456789, time.UTC).UnixNano(),
		"1970-01-01T00:00:00.000000000Z": 0,
		"2024-02-29T23:59:59.999999999Z": time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC).UnixNano(),
		"2026-11-28T14:58:36Z":           time.Date(2026, 11, 28, 14, 58, 36, 0, time.UTC).UnixNano(), // Podman < 5.8
		"2026-11-28T15:58:36.5+01:00":    time.Date(2026, 11, 28, 14, 58, 36, 5e8, time.UTC).UnixNano(),
	}
	for in, want := range cases {
		got, err := ParseTimestamp([]byte(in))
		if err != nil || got != want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "2026-11-28", "2023-02-29T00:00:00.000000000Z", "2026-11-28T24:00:00.000000000Z", "abcd-11-28T14:00:00.000000000Z"} {
		if _, err := ParseTimestamp([]byte(bad)); err == nil {
			t.Errorf("ParseTimestamp(%q) succeeded", bad)
		}
	}
}

// The hand-written parser must agree with time.Parse wherever both accept.
func FuzzParseTimestamp(f *testing.F) {
	f.Add("2026-11-28T14:00:00.123456789Z")
	f.Add("2000-02-29T00:00:00.000000000Z")
	f.Add("2026-11-28T14:58:36Z")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTimestamp([]byte(s))
		ref, rerr := time.Parse(time.RFC3339Nano, s)
		if err == nil && rerr == nil && got != ref.UnixNano() {
			t.Fatalf("%q: got %d, time.Parse %d", s, got, ref.UnixNano())
		}
		if ns, ok := parseDockerTimestamp([]byte(s)); ok && (rerr != nil || ns != ref.UnixNano()) {
			t.Fatalf("%q: fast path %d accepted what time.Parse says %v / %d", s, ns, rerr, ref.UnixNano())
		}
	})
}

// Whatever the bytes, the reader ends with an error, never panics or loops,
// and never returns a line over its cap.
func FuzzLogReader(f *testing.F) {
	f.Add(append(frame(1, stamp(t0)+"one\n"), frame(2, stamp(t0)+"two")...), false)
	f.Add([]byte(stamp(t0)+"tty line\r\n"+stamp(t0+1)+"x"), true)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 40}, false)
	f.Fuzz(func(t *testing.T, in []byte, tty bool) {
		lr := NewLogReader(bytes.NewReader(in), tty, 1000)
		for i := 0; ; i++ {
			e, err := lr.Next()
			if err != nil {
				break
			}
			if len(e.Line) > 1000 || i > len(in) {
				t.Fatalf("line of %d bytes, entry %d from %d input bytes", len(e.Line), i, len(in))
			}
		}
		for _, e := range lr.Flush() {
			if len(e.Line) > 1000 {
				t.Fatalf("flushed line of %d bytes", len(e.Line))
			}
		}
	})
}
