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
		data, got = b.Take(250, data, got) // two records of 100
		putN(t, b, next, next+2, 100)      // the room they left
		next += 2
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
