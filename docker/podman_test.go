package docker

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// Podman before 5.8 stamps whole seconds ("2026-11-28T14:58:36Z").
const pmStamp0, pmStamp1 = "2026-11-28T14:58:36Z ", "2026-11-28T14:58:37Z "

func readLines(t *testing.T, lr *LogReader) []Entry {
	t.Helper()
	var out []Entry
	for {
		e, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		e.Line = append([]byte(nil), e.Line...)
		out = append(out, e)
	}
}

// Podman cuts long lines at 8 KiB and stamps each chunk on its own: the
// chunks of one line may straddle a second, and still make one line.
// Identical lines in one second stay separate lines.
func TestPodmanChunksAcrossSeconds(t *testing.T) {
	long := strings.Repeat("x", 8192)
	var in []byte
	in = append(in, frame(1, pmStamp0+long)...)
	in = append(in, frame(2, pmStamp0+"err\n")...)
	in = append(in, frame(1, pmStamp1+"tail\n")...)
	in = append(in, frame(1, pmStamp1+"same\n")...)
	in = append(in, frame(1, pmStamp1+"same\n")...)
	got := readLines(t, NewLogReader(bytes.NewReader(in), false, 1<<20))
	want := []string{"err", long + "tail", "same", "same"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i, e := range got {
		if string(e.Line) != want[i] {
			t.Errorf("line %d: %.40q, want %.40q", i, e.Line, want[i])
		}
	}
	if got[1].Time%1e9 != 0 || got[1].Time != got[0].Time {
		t.Errorf("the merged line carries its first chunk's second: %d", got[1].Time)
	}
}

// Podman's TTY stream: a chunk without a newline is followed by the next
// chunk's stamp inside the line, at any point (a 16 KiB read boundary
// included); a stamp is found only at or after the current one.
func TestPodmanTTYChunks(t *testing.T) {
	long := strings.Repeat("abcdefghijklmnopqrstuvwxyz", 1000) // 26,000 bytes
	var b strings.Builder
	b.WriteString(pmStamp0 + "one\r\n")
	b.WriteString(pmStamp1 + "later\r\n")
	b.WriteString(pmStamp0 + "tw")
	b.WriteString(pmStamp1 + "o\r\n")
	for i := 0; i < len(long); i += 4093 { // chunks of a terminal's reads
		b.WriteString(pmStamp1 + long[i:min(i+4093, len(long))])
	}
	b.WriteString("\r\n")
	b.WriteString(pmStamp1 + "at 2026-11-28T14:58:30Z is older, kept\r\n")
	b.WriteString(pmStamp1 + "last")
	want := []string{"one", "later", "two", long, "at 2026-11-28T14:58:30Z is older, kept"}
	for _, size := range []int{1, 7, 4096, 1 << 20} {
		r := io.Reader(strings.NewReader(b.String()))
		if size < 1<<20 {
			r = &smallReads{r: r, n: size}
		}
		lr := NewLogReader(r, true, 1<<20)
		got := readLines(t, lr)
		if len(got) != len(want) {
			t.Fatalf("reads of %d: got %d lines, want %d: %v", size, len(got), len(want), got)
		}
		for i, e := range got {
			if string(e.Line) != want[i] {
				t.Errorf("reads of %d: line %d: %.60q (%d bytes), want %.60q (%d)", size, i, e.Line, len(e.Line), want[i], len(want[i]))
			}
		}
		if got[0].Time == got[1].Time || got[1].Time != got[3].Time {
			t.Errorf("reads of %d: lines stamped %d, %d, %d: each line carries its first chunk's second", size, got[0].Time, got[1].Time, got[3].Time)
		}
		if f := lr.Flush(); len(f) != 1 || string(f[0].Line) != "last" {
			t.Errorf("reads of %d: the final line without newline: %v", size, f)
		}
	}
}

type smallReads struct {
	r io.Reader
	n int
}

func (s *smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }
