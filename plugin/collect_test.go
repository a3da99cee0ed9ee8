package main

import (
	"testing"
	"unsafe"
)

// fakeSource hands over batches in order, as the engine does: after Retry
// the next Collect returns the same batch again.
type fakeSource struct {
	batches                 []string
	last                    string
	retry                   bool
	collects, retries, acks int
}

func (f *fakeSource) Collect() []byte {
	f.collects++
	if f.retry {
		f.retry = false
		return []byte(f.last)
	}
	if len(f.batches) == 0 {
		return nil
	}
	f.last, f.batches = f.batches[0], f.batches[1:]
	return []byte(f.last)
}

func (f *fakeSource) Retry() { f.retries++; f.retry = true }
func (f *fakeSource) Deliver(func(string, []byte, int) bool) {
	panic("no append target in these tests")
}
func (f *fakeSource) Ack() { f.acks++ }

// use makes token 1 find src and alloc fail while *failing, until the
// test's end.
func use(t *testing.T, src source, failing *bool) {
	origLookup, origAlloc := lookup, alloc
	t.Cleanup(func() { lookup, alloc = origLookup, origAlloc })
	lookup = func(token uintptr) source {
		if token == 1 {
			return src
		}
		return nil
	}
	alloc = func(n int) unsafe.Pointer {
		if *failing {
			return nil
		}
		return origAlloc(n)
	}
}

// callCollect runs the collect callback of token 1 and returns what it
// handed over ("" for size 0) and the buffer, for the cleanup.
func callCollect(t *testing.T) (string, unsafe.Pointer) {
	t.Helper()
	var data unsafe.Pointer
	var size csize
	if ret := collect(1, &data, &size); ret != flbOK {
		t.Fatalf("collect returned %d", ret)
	}
	if size == 0 {
		if data != nil {
			t.Fatal("size 0 with a buffer: it would leak")
		}
		return "", nil
	}
	return string(unsafe.Slice((*byte)(data), int(size))), data
}

// Records whose C buffer cannot be allocated go back to the engine (Retry)
// and are handed over by the next collect; Fluent Bit calls no cleanup for
// a size-0 collect, so nothing is acknowledged in between.
func TestCollectRetriesWhenAllocFails(t *testing.T) {
	src := &fakeSource{batches: []string{"batch A", "batch B"}}
	failing := true
	use(t, src, &failing)
	for i := 0; i < 2; i++ {
		if got, _ := callCollect(t); got != "" {
			t.Fatalf("collect %d handed over %q with no memory", i, got)
		}
	}
	if src.retries != 2 || src.acks != 0 {
		t.Fatalf("%d retries, %d acks; want 2, 0", src.retries, src.acks)
	}
	failing = false
	for _, want := range []string{"batch A", "batch B", ""} {
		got, buf := callCollect(t)
		if got != want {
			t.Fatalf("collect handed over %q, want %q", got, want)
		}
		if buf != nil {
			cleanup(1, buf)
		}
	}
	if src.acks != 2 {
		t.Fatalf("%d acks, want one per buffer handed over (2)", src.acks)
	}
}
