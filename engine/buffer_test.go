package engine

import (
	"bytes"
	"fmt"
	"testing"
)

func putN(t *testing.T, b *Buffer, from, to, size int) {
	t.Helper()
	for i := from; i < to; i++ {
		rec := bytes.Repeat([]byte{byte(i)}, size)
		if ok, _ := b.TryPut(rec, mark{id: fmt.Sprint(i)}); !ok {
			t.Fatalf("record %d refused with %d bytes held", i, b.Len())
		}
	}
}

// Take hands over whole records, oldest first, within its limit (one
// larger record alone); records put between takes follow in order; the
// space taken is reused and the marks carry each record's size.
func TestBufferTakeInOrder(t *testing.T) {
	b := NewBuffer(1000)
	putN(t, b, 0, 10, 100)
	if ok, _ := b.TryPut(make([]byte, 1), mark{}); ok {
		t.Fatal("a record past the bound was accepted")
	}
	var got []mark
	var data []byte
	next := 10
	for round := 0; round < 20; round++ {
		data, got = b.Take(550, data, got) // five records of 100, half the array
		putN(t, b, next, next+5, 100)      // the room they left
		next += 5
	}
	for b.Len() > 0 {
		data, got = b.Take(250, data, got)
	}
	if len(got) != next {
		t.Fatalf("%d records taken, %d put", len(got), next)
	}
	for i, m := range got {
		if m.id != fmt.Sprint(i) || m.size != 100 || data[i*100] != byte(i) || data[i*100+99] != byte(i) {
			t.Fatalf("record %d: mark %+v, bytes %d..%d", i, m, data[i*100], data[i*100+99])
		}
	}
	if c := b.capacity(); c > 1000 {
		t.Fatalf("capacity %d past the bound 1000", c)
	}
	big := make([]byte, 5000)
	if ok, _ := b.TryPut(big, mark{}); !ok {
		t.Fatal("a record larger than the bound refused by an empty buffer")
	}
	if data, _ = b.Take(10, nil, nil); len(data) != 5000 {
		t.Fatalf("took %d bytes, want the large record alone", len(data))
	}
}

// A buffer that held a burst gives its memory back once the load drops to
// under a quarter of it, and keeps it while the load lasts.
func TestBufferShrinksAfterABurst(t *testing.T) {
	const max = 8 << 20
	b := NewBuffer(max)
	drain := func() {
		for b.Len() > 0 {
			b.Take(2<<20, nil, nil)
		}
	}
	putN(t, b, 0, max/1000, 1000)
	drain()
	if c := b.capacity(); c < max/2 {
		t.Fatalf("capacity %d after a full buffer was drained; kept while loaded", c)
	}
	putN(t, b, 0, max/1000, 1000) // the load lasts
	drain()
	if c := b.capacity(); c < max/2 {
		t.Fatalf("capacity %d after a second full buffer", c)
	}
	putN(t, b, 0, 100, 1000) // quiet
	drain()
	if c := b.capacity(); c != 0 {
		t.Fatalf("capacity %d after a quiet second; want the burst's memory given back", c)
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// fillUp puts records of size bytes until the buffer refuses one, and
// returns the bytes put.
func fillUp(b *Buffer, rec []byte) int {
	n := 0
	for {
		if ok, _ := b.TryPut(rec, mark{}); !ok {
			return n
		}
		n += len(rec)
	}
}

// A full buffer taken in 256 KiB pieces (a collect appending straight into
// Fluent Bit) while its monitors refill it: each byte put is moved at most
// compactShare times by compactions, not once per piece taken.
func TestBufferPartialTakesMoveLittle(t *testing.T) {
	const max = 8 << 20
	b := NewBuffer(max)
	rec := make([]byte, 370)
	fillUp(b, rec)
	put := 0
	for range 500 {
		b.Take(256<<10, nil, nil)
		put += fillUp(b, rec)
	}
	// A piece less than half the array leaves the next record waiting for
	// the next Take.
	b.Take(256<<10, nil, nil)
	if ok, room := b.TryPut(rec, mark{}); ok {
		t.Fatal("a record was put by moving the whole buffer for a 256 KiB piece")
	} else if b.Take(256<<10, nil, nil); !closed(room) {
		t.Fatal("a waiting record was not woken by the next Take")
	}
	if put < 100*(256<<10) {
		t.Fatalf("only %d bytes put in 500 rounds: the buffer stopped taking records", put)
	}
	if b.moved > int64(compactShare*put+max) {
		t.Fatalf("compactions moved %d bytes for %d put: more than %d times each", b.moved, put, compactShare)
	}
	t.Logf("%d bytes put, %d moved by compactions (%.2f x)", put, b.moved, float64(b.moved)/float64(put))
}

// BenchmarkBufferPieces: a full 32 MiB buffer taken in 256 KiB pieces
// while refilled, per record of 370 bytes (a line with its metadata).
func BenchmarkBufferPieces(bm *testing.B) {
	b := NewBuffer(32 << 20)
	rec := make([]byte, 370)
	fillUp(b, rec)
	var dst []byte
	bm.SetBytes(int64(len(rec)))
	bm.ResetTimer()
	for n := 0; n < bm.N; {
		dst, _ = b.Take(256<<10, dst[:0], nil)
		n += fillUp(b, rec) / len(rec)
	}
}
