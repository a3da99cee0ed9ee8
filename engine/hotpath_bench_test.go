package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/docker-logs/docker_logs/docker"
)

// benchLines are distinct 100-byte lines, as loggen writes them.
func benchLines(n int) [][]byte {
	filler := strings.Repeat("abcdefghijklmnopqrstuvwxyz", 4)
	out := make([][]byte, n)
	for i := range out {
		l := fmt.Sprintf("stdout - %08d ", i)
		out[i] = []byte(l + filler[:100-len(l)])
	}
	return out
}

// BenchmarkDedupNew is the dedup of a new line, the common case: hash the
// line and admit it past the cursor (a later timestamp). One op = one line.
func BenchmarkDedupNew(b *testing.B) {
	lines := benchLines(1024)
	var c cursor
	ts := int64(1764338400000000000)
	b.SetBytes(100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ts += 1000
		if !c.admit(ts, hashLine(lines[i&1023])) {
			b.Fatal("new line refused")
		}
		i++
	}
}

// BenchmarkDedupRepeat is a reopened stream replaying lines already
// delivered: older timestamps are dropped without a look at the hashes.
// One op = one replayed line.
func BenchmarkDedupRepeat(b *testing.B) {
	lines := benchLines(1024)
	c := cursor{time: 1764338500000000000}
	c.hashes = append(c.hashes, hashLine(lines[0]))
	ts := int64(1764338400000000000)
	b.SetBytes(100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if c.admit(ts+int64(i&1023), hashLine(lines[i&1023])) {
			b.Fatal("repeat admitted")
		}
		i++
	}
}

// BenchmarkDedupSameTimestamp: lines sharing one timestamp (a burst within
// the clock's resolution) are told apart by their hashes; the cursor holds
// up to 16 of them here. One op = one line checked and admitted.
func BenchmarkDedupSameTimestamp(b *testing.B) {
	lines := benchLines(1024)
	var c cursor
	ts := int64(1764338400000000000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%16 == 0 {
			ts += 1000
		}
		if !c.admit(ts, hashLine(lines[i&1023])) {
			b.Fatal("new line refused")
		}
		i++
	}
}

// BenchmarkLinePath is a monitor's per-line work after the frame is read:
// hash, dedup, msgpack encoding with the container's metadata, and the
// buffer's put, with a collect taking 2 MB whenever the buffer is full.
// One op = one record; allocs/op is allocations per record.
func BenchmarkLinePath(b *testing.B) {
	lines := benchLines(1024)
	meta := newContainerMeta(benchContainer, "docker-host-1", nil, 0)
	buf := NewBuffer(8 << 20)
	var (
		c     cursor
		rec   []byte
		out   []byte
		marks []mark
	)
	ts := int64(1764338400000000000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ts += 1000
		e := docker.Entry{Stream: docker.Stdout, Time: ts, Line: lines[i&1023]}
		h := hashLine(e.Line)
		if !c.admit(e.Time, h) {
			b.Fatal("new line refused")
		}
		rec = appendRecord(rec[:0], e, &meta)
		mk := mark{id: benchContainer.ID, stream: uint8(e.Stream), time: e.Time, hash: h, anchor: true}
		if ok, _ := buf.TryPut(rec, mk); !ok {
			out, marks = buf.Take(2<<20, out[:0], marks[:0])
			buf.Settle() // as a collect does once it has taken its pieces
			if ok, _ := buf.TryPut(rec, mk); !ok {
				b.Fatal("put after take failed")
			}
		}
		i++
	}
	b.SetBytes(int64(len(rec)))
}
