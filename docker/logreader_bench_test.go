package docker

import (
	"fmt"
	"strings"
	"testing"
)

// loopReader serves data over and over: a log stream that never ends, so
// one benchmark op is one frame or line however large b.N grows.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		if r.off += c; r.off == len(r.data) {
			r.off = 0
		}
	}
	return n, nil
}

// benchStream is 1000 frames as dockerd sends a non-TTY stream with
// timestamps=1: one frame per line of size bytes (newline included).
func benchStream(size int) []byte {
	var out []byte
	filler := strings.Repeat("abcdefghijklmnopqrstuvwxyz", size/26+1)
	for i := 0; i < 1000; i++ {
		line := fmt.Sprintf("stdout - %08d ", i)
		line += filler[:size-1-len(line)] + "\n"
		out = append(out, frame(1, stamp(1764338400000000000+int64(i)*1000)+line)...)
	}
	return out
}

// BenchmarkFrameReader: one op is one frame (a 100-byte line with its
// timestamp) demultiplexed; allocs/op is allocations per record.
func BenchmarkFrameReader(b *testing.B) {
	data := benchStream(100)
	fr := NewFrameReader(&loopReader{data: data}, 1<<20)
	b.SetBytes(int64(len(data) / 1000))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := fr.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogReader: one op is one line through the whole decoding (frame,
// timestamp parse, long-line merge bookkeeping, newline trim).
func BenchmarkLogReader(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("line=%dB", size), func(b *testing.B) {
			data := benchStream(size)
			lr := NewLogReader(&loopReader{data: data}, false, 1<<20)
			b.SetBytes(int64(len(data) / 1000))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lr.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseTimestamp: one op is one RFC 3339 nanosecond timestamp.
func BenchmarkParseTimestamp(b *testing.B) {
	ts := []byte("2026-11-28T14:00:00.123456789Z")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTimestamp(ts); err != nil {
			b.Fatal(err)
		}
	}
}
