package engine

import "testing"

// Whole seconds (Podman before 5.8): a replay of the cursor's second from
// its start drops exactly the lines delivered, identical ones included, and
// admits the identical lines that follow them.
func TestCursorWholeSecondsIsPositional(t *testing.T) {
	const sec = int64(1764338400) * 1e9
	a, b := hashLine([]byte("same")), hashLine([]byte("other"))
	var c cursor
	for _, h := range []uint64{a, a, b, a} {
		if !c.admit(sec, h) {
			t.Fatal("a first delivery was dropped")
		}
	}
	c.restart() // a reopened stream replays the second, then goes on
	var got []bool
	for _, h := range []uint64{a, a, b, a, a, a} {
		got = append(got, c.admit(sec, h))
	}
	want := []bool{false, false, false, false, true, true}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replay: new = %v, want %v", got, want)
		}
	}
	if len(c.hashes) != 6 || c.admit(sec-1e9, a) || !c.admit(sec+1e9, a) {
		t.Fatalf("cursor after the replay: %+v", c)
	}
}

// Nanoseconds (Docker): a line at the cursor's time is a repeat if its hash
// is there, wherever it comes (json-file's rotation repeats lines).
func TestCursorNanosecondsIsASet(t *testing.T) {
	const ts = int64(1764338400123456789)
	a, b := hashLine([]byte("a")), hashLine([]byte("b"))
	var c cursor
	c.admit(ts, a)
	c.admit(ts, b)
	c.restart()
	if c.admit(ts, b) || c.admit(ts, a) || c.admit(ts, a) || !c.admit(ts+1, a) {
		t.Fatalf("nanosecond cursor: %+v", c)
	}
}
