package docker

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests below write json-file logs the way dockerd does (one JSON
// object a line, one write an entry, rotation by renaming, compression of
// the rotated file after the rename) and check that OpenJSONFile's reader
// returns every entry once, in order, where it was written.

// jfBase is the first entry's stamp. Stamps step by jfStep, so entry i's
// stamp ends in a zero when i%10 == 0: RFC3339Nano, dockerd's form, drops
// those zeros (…:00.12345678Z), as it does for one stamp in ten.
var jfBase = time.Date(2025, 11, 28, 14, 0, 0, 123456780, time.UTC).UnixNano()

const jfStep = 1_000_003

func jfStamp(i int) int64 { return jfBase + int64(i)*jfStep }

func jfStream(i int) Stream {
	if i%3 == 2 {
		return Stderr
	}
	return Stdout
}

// jfLog is entry i's text: characters JSON escapes, of varied length.
func jfLog(i int) string {
	return fmt.Sprintf("entry %d \"q\" \\ \t é <b>%s\n", i, strings.Repeat("x", i%37))
}

// jfEncode is a json-file line as dockerd writes it: log, stream, time
// (RFC3339Nano, UTC), newline.
func jfEncode(s Stream, ts int64, log string) []byte {
	return jfAppend(nil, s, ts, log)
}

// jfAppend appends jfEncode's line to b; a log of letters, digits and
// spaces (and its newline) without encoding/json, for a large log fast.
func jfAppend(b []byte, s Stream, ts int64, log string) []byte {
	if strings.Trim(strings.TrimSuffix(log, "\n"), "abcdefghijklmnopqrstuvwxyz0123456789 ") != "" {
		return append(b, jfMarshal(s, ts, log)...)
	}
	b = append(b, `{"log":"`...)
	b = append(b, strings.TrimSuffix(log, "\n")...)
	if strings.HasSuffix(log, "\n") {
		b = append(b, `\n`...)
	}
	b = append(b, `","stream":"`...)
	b = append(b, s.String()...)
	b = append(b, `","time":"`...)
	b = time.Unix(0, ts).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

func jfMarshal(s Stream, ts int64, log string) []byte {
	b, err := json.Marshal(struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}{log, s.String(), time.Unix(0, ts).UTC().Format(time.RFC3339Nano)})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// jfEntry is an entry written: what the reader must return, and where
// (the inode it was written to, its offset there).
type jfEntry struct {
	ts     int64
	stream Stream
	log    string // with its newline, if it has one
	ino    uint64
	off    int64
	gz     uint64 // the inode of the .gz that holds it, once compressed
}

func (e jfEntry) line() string { return strings.TrimSuffix(e.log, "\n") }

// jfWriter appends to a json-file log and rotates it like dockerd.
type jfWriter struct {
	t        testing.TB
	dir      string
	path     string
	f        *os.File
	ino      uint64
	size     int64
	maxFiles int  // dockerd's max-file: the current file and maxFiles-1 rotated
	compress bool // rotated files are gzipped (<path>.N.gz)
	// lazyGz leaves <path>.1 uncompressed until the next rotation, as it
	// is while dockerd compresses it.
	lazyGz  bool
	pending bool
	notify  chan struct{} // signalled after each write, if set
	logOf   func(i int) string

	next    int       // number of the next entry written by write
	entries []jfEntry // all entries written, in order
	starts  []int     // the first entry (index in entries) of each file created
	rotated int
}

func newJFWriter(t testing.TB, maxFiles int, compress bool) *jfWriter {
	dir := t.TempDir()
	w := &jfWriter{
		t: t, dir: dir, path: filepath.Join(dir, "4f1c2b9a0e7d-json.log"),
		maxFiles: maxFiles, compress: compress, logOf: jfLog,
	}
	w.create()
	t.Cleanup(func() { w.f.Close() })
	return w
}

// must ends the calling goroutine (test or writer) on an error.
func (w *jfWriter) must(err error) {
	if err != nil {
		w.t.Errorf("log writer: %v", err)
		runtime.Goexit()
	}
}

func (w *jfWriter) create() {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o640)
	w.must(err)
	fi, err := f.Stat()
	w.must(err)
	w.f, w.ino, w.size = f, fi.Sys().(*syscall.Stat_t).Ino, 0
	w.starts = append(w.starts, len(w.entries))
}

func (w *jfWriter) raw(b []byte) {
	_, err := w.f.Write(b)
	w.must(err)
	w.size += int64(len(b))
	if w.notify != nil {
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// add writes one entry in one write, as dockerd does.
func (w *jfWriter) add(s Stream, ts int64, log string) jfEntry {
	e := jfEntry{ts: ts, stream: s, log: log, ino: w.ino, off: w.size}
	w.entries = append(w.entries, e)
	w.raw(jfEncode(s, ts, log))
	return e
}

// write writes the next n numbered entries, one write each.
func (w *jfWriter) write(n int) {
	for range n {
		i := w.next
		w.next++
		w.add(jfStream(i), jfStamp(i), w.logOf(i))
	}
}

// bulk writes the next n numbered entries in one write (a large log fast).
func (w *jfWriter) bulk(n int) {
	var buf []byte
	for range n {
		i := w.next
		w.next++
		e := jfEntry{ts: jfStamp(i), stream: jfStream(i), log: w.logOf(i), ino: w.ino, off: w.size + int64(len(buf))}
		w.entries = append(w.entries, e)
		buf = jfAppend(buf, e.stream, e.ts, e.log)
	}
	w.raw(buf)
}

// name is the n-th rotated file's name.
func (w *jfWriter) name(n int) string {
	s := fmt.Sprintf("%s.%d", w.path, n)
	if w.compress {
		s += ".gz"
	}
	return s
}

// rotate rotates like dockerd (moby's loggerutils rotate): the oldest file
// goes, the others move up one, the current file becomes .1 and a new one
// is created; with compress, .1 is then gzipped into .1.gz and removed.
func (w *jfWriter) rotate() {
	w.must(w.f.Close())
	if w.pending {
		w.gzip1()
	}
	if err := os.Remove(w.name(w.maxFiles - 1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		w.must(err)
	}
	for i := w.maxFiles - 1; i > 1; i-- {
		if err := os.Rename(w.name(i-1), w.name(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.must(err)
		}
	}
	w.must(os.Rename(w.path, w.path+".1"))
	w.create()
	w.rotated++
	if w.compress {
		if w.lazyGz {
			w.pending = true
		} else {
			w.gzip1()
		}
	}
}

// gzip1 compresses <path>.1 into <path>.1.gz, then removes <path>.1.
func (w *jfWriter) gzip1() {
	w.pending = false
	src := w.path + ".1"
	data, err := os.ReadFile(src)
	w.must(err)
	ino := jfIno(w.t, src)
	f, err := os.OpenFile(src+".gz", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	w.must(err)
	zw := gzip.NewWriter(f)
	_, err = zw.Write(data)
	w.must(err)
	w.must(zw.Close())
	w.must(f.Close())
	// By entry, not by inode: a removed file's inode is soon reused.
	gz := jfIno(w.t, src+".gz")
	for i := range w.entries {
		if e := &w.entries[i]; e.ino == ino && e.gz == 0 {
			e.gz = gz
		}
	}
	w.must(os.Remove(src))
}

// waitRead holds a rotation until the reader has read every entry of the
// file it would remove: the test is of the reader, not of its speed.
func (w *jfWriter) waitRead(read *atomic.Int64) {
	k := len(w.starts) - w.maxFiles
	if k < 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for read.Load() < int64(w.starts[k+1]) {
		if time.Now().After(deadline) {
			w.must(fmt.Errorf("the reader is stuck at %d entries, %d needed to rotate", read.Load(), w.starts[k+1]))
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func jfIno(t testing.TB, path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%v", err)
		runtime.Goexit()
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func jfDev(t testing.TB, path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Dev)
}

// jfGot is an entry returned, copied.
type jfGot struct {
	ts        int64
	stream    Stream
	line      string
	pos       FilePos
	truncated bool
}

func jfCopy(e Entry) jfGot {
	return jfGot{ts: e.Time, stream: e.Stream, line: string(e.Line), pos: e.Pos, truncated: e.Truncated}
}

func (g jfGot) String() string {
	l := g.line
	if len(l) > 40 {
		l = l[:40] + "…"
	}
	return fmt.Sprintf("{%s %d %q at %d:%d}", g.stream, g.ts, l, g.pos.File.Ino, g.pos.Offset)
}

func jfOptions(path string) JSONFileOptions {
	return JSONFileOptions{Path: path, MaxLine: 1 << 20, Poll: 10 * time.Millisecond}
}

// jfOpen opens a log, retrying while dockerd's rotation leaves no current
// file for an instant (between its rename and its create).
func jfOpen(t testing.TB, ctx context.Context, o JSONFileOptions) *LogReader {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lr, err := OpenJSONFile(ctx, o)
		if err == nil {
			return lr
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("OpenJSONFile: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// jfReadAll reads until an error (io.EOF at the end).
func jfReadAll(lr *LogReader) ([]jfGot, error) {
	var out []jfGot
	for {
		e, err := lr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, jfCopy(e))
	}
}

// jfReadToEOF reads lr to its end, which must be io.EOF.
func jfReadToEOF(t *testing.T, lr *LogReader) []jfGot {
	t.Helper()
	got, err := jfReadAll(lr)
	if err != io.EOF {
		t.Fatalf("Next: %v after %d entries, want io.EOF", err, len(got))
	}
	return got
}

// jfCheck compares the entries read with those written, and, with w, their
// positions (an entry read from a compressed file is at its offset in the
// uncompressed content, in the .gz file).
func jfCheck(t *testing.T, got []jfGot, want []jfEntry, w *jfWriter) {
	t.Helper()
	errs := 0
	fail := func(format string, a ...any) {
		t.Helper()
		if errs++; errs <= 8 {
			t.Errorf(format, a...)
		}
	}
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(want):
			fail("entry %d: %v, not written (or read twice)", i, got[i])
			continue
		case i >= len(got):
			fail("entry %d: missing (%d read, %d written); first missing: %s %d %q", i, len(got), len(want),
				want[i].stream, want[i].ts, want[i].line())
			i = len(want)
			continue
		}
		g, e := got[i], want[i]
		if g.ts != e.ts || g.stream != e.stream || g.line != e.line() || g.truncated {
			fail("entry %d: %v, want {%s %d %q}", i, g, e.stream, e.ts, e.line())
			continue
		}
		if w != nil && (g.pos.Offset != e.off || (g.pos.File.Ino != e.ino && g.pos.File.Ino != e.gz)) {
			fail("entry %d: at %d:%d, written at %d:%d (gzipped: %d)", i, g.pos.File.Ino, g.pos.Offset, e.ino, e.off, e.gz)
		}
	}
	if errs > 8 {
		t.Errorf("… %d errors in all", errs)
	}
}

// jfLineAt reads the line at pos in the log's directory: the file with
// pos's inode, uncompressed.
func jfLineAt(t *testing.T, dir string, pos FilePos) []byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		p := filepath.Join(dir, de.Name())
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Ino != pos.File.Ino || uint64(st.Dev) != pos.File.Dev {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if pos.Offset < 0 || pos.Offset > int64(len(data)) {
			t.Fatalf("%s: offset %d out of %d bytes", p, pos.Offset, len(data))
		}
		if pos.Offset > 0 && data[pos.Offset-1] != '\n' {
			t.Errorf("%s: offset %d is not a line's start", p, pos.Offset)
		}
		rest := data[pos.Offset:]
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[:i+1]
		}
		return rest
	}
	t.Fatalf("no file with inode %d in %s", pos.File.Ino, dir)
	return nil
}

// jfFollower reads a followed log like the engine: after ErrLostRotation
// it reopens at the last entry read (At, else by its time) and drops that
// entry, returned again.
type jfFollower struct {
	t       *testing.T
	ctx     context.Context
	o       JSONFileOptions
	lr      *LogReader
	got     []jfGot
	read    *atomic.Int64 // counts the entries read, if set
	reopens int
}

func (r *jfFollower) run() error {
	r.lr = jfOpen(r.t, r.ctx, r.o)
	defer func() { r.lr.Close() }()
	var again *jfGot
	for {
		e, err := r.lr.Next()
		if errors.Is(err, ErrLostRotation) && len(r.got) > 0 {
			r.lr.Close()
			last := r.got[len(r.got)-1]
			o := r.o
			o.At, o.Since = last.pos, last.ts
			r.lr = jfOpen(r.t, r.ctx, o)
			r.reopens++
			again = &last
			continue
		}
		if err != nil {
			return err
		}
		g := jfCopy(e)
		if again != nil {
			a := *again
			again = nil
			if g.ts == a.ts && g.stream == a.stream && g.line == a.line {
				continue
			}
		}
		r.got = append(r.got, g)
		if r.read != nil {
			r.read.Add(1)
		}
	}
}

type jfResult struct {
	g   jfGot
	err error
}

// jfAsync reads lr in a goroutine, each entry (or the final error) on the
// channel returned; the goroutine ends at the first error. Its cleanup
// cancels the reader's context (cancel) and waits for the goroutine:
// register the reader's Close before calling jfAsync.
func jfAsync(t *testing.T, lr *LogReader, cancel context.CancelFunc) <-chan jfResult {
	ch := make(chan jfResult, 1<<14)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			e, err := lr.Next()
			if err != nil {
				ch <- jfResult{err: err}
				return
			}
			ch <- jfResult{g: jfCopy(e)}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return ch
}

// jfFollow opens o and reads it in the background (jfAsync) until the
// test ends.
func jfFollow(t *testing.T, o JSONFileOptions) <-chan jfResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lr := jfOpen(t, ctx, o)
	t.Cleanup(func() { lr.Close() })
	return jfAsync(t, lr, cancel)
}

// jfRecv waits for the next result from jfAsync.
func jfRecv(t *testing.T, ch <-chan jfResult) jfResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no entry within 5s")
		return jfResult{}
	}
}

// jfDrain appends to got what jfAsync sends until the reader ends, which
// must be with io.EOF.
func jfDrain(t *testing.T, ch <-chan jfResult, got []jfGot) []jfGot {
	t.Helper()
	for {
		r := jfRecv(t, ch)
		if r.err != nil {
			if r.err != io.EOF {
				t.Errorf("Next: %v, want io.EOF", r.err)
			}
			return got
		}
		got = append(got, r.g)
	}
}

// jfNone checks that nothing comes from jfAsync for d.
func jfNone(t *testing.T, ch <-chan jfResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("got %v (err %v), want nothing yet", r.g, r.err)
	case <-time.After(d):
	}
}

// 1. A log read without follow from its oldest file, across three files.
func TestJSONFileReadsRotatedFiles(t *testing.T) {
	for _, c := range []struct {
		name           string
		compress, lazy bool
		files          []string
	}{
		{"plain", false, false, []string{".2", ".1"}},
		{"gzip", true, false, []string{".2.gz", ".1.gz"}},
		{"gzip-pending", true, true, []string{".2.gz", ".1"}}, // .1 not compressed yet
		// dockerd halfway through compressing .1: .1.gz incomplete.
		{"gzip-in-progress", true, true, []string{".2.gz", ".1", ".1.gz"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newJFWriter(t, 3, c.compress)
			w.lazyGz = c.lazy
			for k := range 5 { // the first two files are rotated away
				if k > 0 {
					w.rotate()
				}
				w.write(100)
			}
			if c.name == "gzip-in-progress" {
				data, err := os.ReadFile(w.path + ".1")
				if err != nil {
					t.Fatal(err)
				}
				var gz bytes.Buffer
				zw := gzip.NewWriter(&gz)
				zw.Write(data)
				zw.Close()
				if err := os.WriteFile(w.path+".1.gz", gz.Bytes()[:gz.Len()/2], 0o640); err != nil {
					t.Fatal(err)
				}
			}
			for _, suffix := range append(c.files, "") {
				if _, err := os.Stat(w.path + suffix); err != nil {
					t.Fatalf("the writer left no %s: %v", suffix, err)
				}
			}
			var bad []FilePos
			o := jfOptions(w.path)
			o.Bad = func(pos FilePos, err error) { bad = append(bad, pos) }
			lr := jfOpen(t, context.Background(), o)
			defer lr.Close()
			got, err := jfReadAll(lr)
			if err != io.EOF {
				t.Fatalf("Next: %v after %d entries, want io.EOF", err, len(got))
			}
			want := w.entries[200:]
			jfCheck(t, got, want, w)
			for i, g := range got {
				if i < len(want) {
					if line, enc := jfLineAt(t, w.dir, g.pos), jfEncode(want[i].stream, want[i].ts, want[i].log); !bytes.Equal(line, enc) {
						t.Fatalf("entry %d: at its position: %q, want %q", i, line, enc)
					}
				}
			}
			if len(bad) > 0 {
				t.Errorf("Bad called at %v", bad)
			}
			if _, err := lr.Next(); err != io.EOF {
				t.Errorf("Next after the end: %v, want io.EOF", err)
			}
			if f := lr.Flush(); len(f) > 0 {
				t.Errorf("Flush: %d lines held", len(f))
			}
		})
	}
}

// 2. Following a log written and rotated meanwhile, to Stop.
func TestJSONFileFollowsRotations(t *testing.T) {
	const total = 5000
	for _, c := range []struct {
		name             string
		compress, notify bool
	}{
		{"plain/poll", false, false},
		{"plain/notify", false, true},
		{"gzip/poll", true, false},
		{"gzip/notify", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w := newJFWriter(t, 3, c.compress)
			var notify chan struct{}
			if c.notify {
				notify = make(chan struct{}, 1)
				w.notify = notify
			}
			stop := make(chan struct{})
			var read atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer close(stop) // after the last entry: every entry is written before Stop
				for i := range total {
					if w.size >= 50_000 {
						w.waitRead(&read)
						w.rotate()
					}
					w.write(1)
					if i%50 == 49 {
						time.Sleep(200 * time.Microsecond)
					}
				}
			}()
			o := jfOptions(w.path)
			o.Follow, o.Notify, o.Stop = true, notify, stop
			r := &jfFollower{t: t, ctx: ctx, o: o, read: &read}
			err := r.run()
			<-done
			if err != io.EOF {
				t.Errorf("Next: %v, want io.EOF after Stop", err)
			}
			if w.rotated < 10 {
				t.Errorf("the log was rotated %d times only", w.rotated)
			}
			jfCheck(t, r.got, w.entries, w)
			t.Logf("%d entries, %d rotations, %d reopens after ErrLostRotation", len(r.got), w.rotated, r.reopens)
		})
	}
}

// 2b. Stop while the reader waits at the end: what was written before Stop
// is still returned.
func TestJSONFileStopReadsWhatWasWritten(t *testing.T) {
	w := newJFWriter(t, 3, false)
	w.write(3)
	stop := make(chan struct{})
	o := jfOptions(w.path)
	o.Follow, o.Poll, o.Stop = true, time.Hour, stop
	ch := jfFollow(t, o)
	for range 3 {
		if r := jfRecv(t, ch); r.err != nil {
			t.Fatal(r.err)
		}
	}
	jfNone(t, ch, 50*time.Millisecond) // the reader now waits at the end
	w.write(2)
	close(stop)
	jfCheck(t, jfDrain(t, ch, nil), w.entries[3:], w)
}

// 3. At: resuming at an entry's position.
func TestJSONFileAt(t *testing.T) {
	threeFiles := func(t *testing.T, compress bool) (*jfWriter, []jfGot) {
		w := newJFWriter(t, 3, compress)
		w.write(100)
		w.rotate()
		w.write(100)
		w.rotate()
		w.write(100)
		lr := jfOpen(t, context.Background(), jfOptions(w.path))
		defer lr.Close()
		got := jfReadToEOF(t, lr)
		jfCheck(t, got, w.entries, w)
		return w, got
	}
	resume := func(t *testing.T, w *jfWriter, at FilePos, since int64) ([]jfGot, *LogReader) {
		t.Helper()
		o := jfOptions(w.path)
		o.At, o.Since = at, since
		lr := jfOpen(t, context.Background(), o)
		got := jfReadToEOF(t, lr)
		return got, lr
	}

	t.Run("each file", func(t *testing.T) {
		w, all := threeFiles(t, false)
		for _, k := range []int{0, 1, 57, 99, 100, 150, 199, 200, 201, 298, 299} {
			// Since 0 (At is trusted): a fallback would read from the
			// oldest entry.
			got, lr := resume(t, w, all[k].pos, 0)
			lr.Close()
			jfCheck(t, got, w.entries[k:], w)
			// Since at the entry: At checked against it, and used.
			o := jfOptions(w.path)
			o.At, o.Since = all[k].pos, all[k].ts
			lr = jfOpen(t, context.Background(), o)
			if fr := lr.files; fr.id != all[k].pos.File || fr.off != all[k].pos.Offset {
				t.Errorf("entry %d: At %d:%d not used (the reader is at %d:%d)", k, all[k].pos.File.Ino, all[k].pos.Offset, fr.id.Ino, fr.off)
			}
			got, err := jfReadAll(lr)
			lr.Close()
			if err != io.EOF {
				t.Fatalf("Next: %v", err)
			}
			jfCheck(t, got, w.entries[k:], w)
			// The engine's since, 100ms before the entry, and At without
			// its stamp: its file starts later (the files span 100ms), so
			// by time, from 100ms before.
			unstamped := all[k].pos
			unstamped.Time = 0
			got, lr = resume(t, w, unstamped, all[k].ts-int64(100*time.Millisecond))
			lr.Close()
			from := 0
			for from < k && w.entries[from].ts < all[k].ts-int64(100*time.Millisecond) {
				from++
			}
			jfCheck(t, got, w.entries[from:], w)
		}
	})

	t.Run("engine's margin", func(t *testing.T) {
		// A file that starts more than the margin before the entry: At.
		w := newJFWriter(t, 3, false)
		w.write(300)
		e := w.entries[250]
		o := jfOptions(w.path)
		o.At, o.Since = FilePos{File: FileID{Dev: jfDev(t, w.path), Ino: e.ino}, Offset: e.off}, e.ts-int64(100*time.Millisecond)
		lr := jfOpen(t, context.Background(), o)
		defer lr.Close()
		if fr := lr.files; fr.off != e.off {
			t.Errorf("At %d not used (the reader is at %d)", e.off, fr.off)
		}
		got := jfReadToEOF(t, lr)
		jfCheck(t, got, w.entries[250:], w)
	})

	t.Run("end of the current file", func(t *testing.T) {
		w, all := threeFiles(t, false)
		last := all[len(all)-1]
		at := FilePos{File: last.pos.File, Offset: w.size}
		got, lr := resume(t, w, at, 0)
		defer lr.Close()
		if len(got) > 0 {
			t.Errorf("At the end: read %v", got)
		}
		w.write(2)
		got = jfReadToEOF(t, lr)
		jfCheck(t, got, w.entries[300:], w)
	})

	t.Run("renamed", func(t *testing.T) {
		// A position in the current file stays good once it is .1, .2.
		w, all := threeFiles(t, false)
		w.rotate()
		w.write(10)
		w.rotate()
		w.write(10)
		got, lr := resume(t, w, all[250].pos, 0)
		lr.Close()
		jfCheck(t, got, w.entries[250:], w)
	})

	t.Run("compressed", func(t *testing.T) {
		// The file is gzipped since: by time, then.
		w, all := threeFiles(t, true)
		w.rotate()
		w.write(10)
		got, lr := resume(t, w, all[250].pos, all[250].ts)
		lr.Close()
		jfCheck(t, got, w.entries[250:], w)
	})

	t.Run("rotated away", func(t *testing.T) {
		// The file is gone (its inode may be the current file's now: ext4
		// gives a new file the inode just freed): by time, then.
		w, all := threeFiles(t, false)
		at := all[250]
		for range 3 {
			w.rotate()
			w.write(100)
		}
		for w.size <= at.pos.Offset+4096 {
			w.write(50)
		}
		got, lr := resume(t, w, at.pos, at.ts)
		lr.Close()
		// Everything retained is newer than since: from the oldest file.
		first := w.starts[len(w.starts)-3]
		if at.pos.File.Ino == w.ino {
			t.Logf("the current file has the removed file's inode")
		}
		jfCheck(t, got, w.entries[first:], w)
	})

	t.Run("compressed, its inode a newer file's", func(t *testing.T) {
		// Compressing a rotated file frees its inode, which the next
		// rotation's new current file may get: the entry is still in the
		// log (gzipped), the position is not.
		w := newJFWriter(t, 3, true)
		w.write(100)
		at := w.entries[50]
		at.ts = jfStamp(50)
		w.rotate()
		w.write(100)
		w.rotate()
		for w.size <= at.off+4096 {
			w.write(50)
		}
		if w.ino == at.ino {
			t.Logf("the current file has the compressed file's inode")
		}
		got, lr := resume(t, w, FilePos{File: FileID{Dev: jfDev(t, w.path), Ino: at.ino}, Offset: at.off}, at.ts)
		lr.Close()
		jfCheck(t, got, w.entries[50:], w)
	})

	t.Run("past the end", func(t *testing.T) {
		w, all := threeFiles(t, false)
		got, lr := resume(t, w, FilePos{File: all[299].pos.File, Offset: w.size + 100}, all[150].ts)
		lr.Close()
		jfCheck(t, got, w.entries[150:], w)
	})
}

// 4. Since: the first entry stamped at or after since, by bisection in a
// large file.
func TestJSONFileSinceLargeFile(t *testing.T) {
	const n = 200_000
	for _, log := range []string{"0\n", "123 abc\n", "no newline", ""} {
		if a, b := jfEncode(Stderr, jfStamp(10), log), jfMarshal(Stderr, jfStamp(10), log); !bytes.Equal(a, b) {
			t.Fatalf("jfAppend: %s, encoding/json: %s", a, b)
		}
	}
	w := newJFWriter(t, 3, false)
	w.logOf = func(i int) string { return fmt.Sprintf("%d\n", i) }
	w.bulk(n)
	t.Logf("%d entries, %d bytes", n, w.size)
	for _, c := range []struct {
		name  string
		since int64
		first int // n: none
	}{
		{"before the first", jfStamp(0) - 1, 0},
		{"at the first", jfStamp(0), 0},
		{"middle, at an entry", jfStamp(123_457), 123_457},
		{"middle, between", jfStamp(123_457) + 1, 123_458},
		{"middle, at a short stamp", jfStamp(77_770), 77_770},
		{"middle, before a short stamp", jfStamp(150_000) - 1, 150_000},
		{"early", jfStamp(1_000) + 7, 1_001},
		{"late", jfStamp(n-10) - 7, n - 10},
		{"at the last", jfStamp(n - 1), n - 1},
		{"after the last", jfStamp(n-1) + 1, n},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := jfOptions(w.path)
			o.Since = c.since
			lr := jfOpen(t, context.Background(), o)
			defer lr.Close()
			// White-box: the bisection placed the reader shortly before
			// the entry (within its 64 KiB back-off and window), not at the
			// file's start.
			if c.first < n {
				target := w.entries[c.first].off
				if off := lr.files.off; off > target || target-off > 256<<10 {
					t.Errorf("seekSince: the reader starts at %d, the entry at %d", off, target)
				}
			}
			var got []jfGot
			for len(got) < 20 {
				e, err := lr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, jfCopy(e))
			}
			jfCheck(t, got, w.entries[c.first:min(c.first+20, n)], w)
		})
	}
}

// 4b. Since across rotated files, every file's first stamp short (its
// trailing zeros dropped by RFC3339Nano).
func TestJSONFileSinceAcrossFiles(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			w := newJFWriter(t, 3, compress)
			w.write(100)
			w.rotate()
			w.write(100)
			w.rotate()
			w.write(100)
			for _, c := range []struct {
				since int64
				first int
			}{
				{0, 0},
				{jfStamp(0) - 1, 0},
				{jfStamp(0), 0},
				{jfStamp(50), 50},
				{jfStamp(99) + 1, 100},
				{jfStamp(100), 100},
				{jfStamp(150) + 1, 151},
				{jfStamp(200), 200},
				{jfStamp(250), 250},
				{jfStamp(299), 299},
				{jfStamp(299) + 1, 300},
			} {
				o := jfOptions(w.path)
				o.Since = c.since
				lr := jfOpen(t, context.Background(), o)
				got, err := jfReadAll(lr)
				lr.Close()
				if err != io.EOF {
					t.Fatalf("since %d: Next: %v", c.since, err)
				}
				if len(got) != 300-c.first {
					t.Errorf("since entry %d's stamp (%+d): %d entries read, want %d", c.first, c.since-jfStamp(c.first), len(got), 300-c.first)
				}
				jfCheck(t, got, w.entries[c.first:], w)
			}
		})
	}
}

// 5. An entry dockerd is still writing is not returned until its newline.
func TestJSONFilePartialEntry(t *testing.T) {
	half := func(w *jfWriter, log string) (jfEntry, []byte) {
		i := w.next
		w.next++
		e := jfEntry{ts: jfStamp(i), stream: jfStream(i), log: log, ino: w.ino, off: w.size}
		enc := jfEncode(e.stream, e.ts, e.log)
		cut := len(enc) / 2
		w.raw(enc[:cut])
		return e, enc[cut:]
	}
	for _, c := range []struct {
		name string
		log  string
	}{
		{"short", "a line cut in two\n"},
		{"over 64 KiB", strings.Repeat("\x01", chunkSize) + "\n"}, // \u0001: 96 KiB of JSON
	} {
		t.Run(c.name+"/no follow", func(t *testing.T) {
			w := newJFWriter(t, 3, false)
			w.write(10)
			half(w, c.log)
			var bad int
			o := jfOptions(w.path)
			o.Bad = func(FilePos, error) { bad++ }
			lr := jfOpen(t, context.Background(), o)
			defer lr.Close()
			got, err := jfReadAll(lr)
			if err != io.EOF {
				t.Fatalf("Next: %v, want io.EOF", err)
			}
			jfCheck(t, got, w.entries, w)
			if bad > 0 {
				t.Errorf("Bad called %d times", bad)
			}
		})
		t.Run(c.name+"/follow", func(t *testing.T) {
			w := newJFWriter(t, 3, false)
			notify := make(chan struct{}, 1)
			w.notify = notify
			w.write(10)
			e, rest := half(w, c.log)
			stop := make(chan struct{})
			o := jfOptions(w.path)
			o.Follow, o.Notify, o.Stop = true, notify, stop
			ch := jfFollow(t, o)
			defer func() {
				select {
				case <-stop:
				default:
					close(stop)
				}
			}()
			var got []jfGot
			for range 10 {
				r := jfRecv(t, ch)
				if r.err != nil {
					t.Fatal(r.err)
				}
				got = append(got, r.g)
			}
			jfNone(t, ch, 100*time.Millisecond)
			w.entries = append(w.entries, e)
			w.raw(rest[:1])
			jfNone(t, ch, 30*time.Millisecond)
			w.raw(rest[1:])
			w.write(1)
			close(stop)
			jfCheck(t, jfDrain(t, ch, got), w.entries, w)
		})
	}
}

// 6. A line longer than 16 KiB, in dockerd's chunks.
func TestJSONFileLongLine(t *testing.T) {
	long := make([]byte, 40<<10)
	for i := range long {
		long[i] = "abcdefghijklmnopqrstuvwxyz0123456789 \"\\\t"[i%40]
	}
	// writeLong writes long as dockerd does: 16 KiB chunks without a
	// newline, the rest with one, all stamped alike; between writes, pause.
	writeLong := func(w *jfWriter, pause func()) jfEntry {
		i := w.next
		w.next++
		ts, s := jfStamp(i), jfStream(i)
		first := jfEntry{ts: ts, stream: s, log: string(long) + "\n", ino: w.ino, off: w.size}
		for off := 0; off < len(long); off += chunkSize {
			chunk := string(long[off:min(off+chunkSize, len(long))])
			if off+chunkSize >= len(long) {
				chunk += "\n"
			}
			w.raw(jfEncode(s, ts, chunk))
			pause()
		}
		return first
	}
	for _, c := range []struct {
		name    string
		maxLine int
	}{{"whole", 1 << 20}, {"truncated", 20000}} {
		t.Run(c.name, func(t *testing.T) {
			w := newJFWriter(t, 3, false)
			w.write(2)
			e := writeLong(w, func() {})
			w.write(2)
			o := jfOptions(w.path)
			o.MaxLine = c.maxLine
			lr := jfOpen(t, context.Background(), o)
			defer lr.Close()
			got := jfReadToEOF(t, lr)
			if len(got) != 5 {
				t.Fatalf("read %d lines: %v, want 5", len(got), got)
			}
			g := got[2]
			wantLine, trunc := string(long), false
			if c.maxLine < len(long) {
				wantLine, trunc = wantLine[:c.maxLine], true
			}
			if g.line != wantLine || g.truncated != trunc || g.ts != e.ts || g.stream != e.stream || g.pos.Offset != e.off || g.pos.File.Ino != e.ino {
				t.Errorf("long line: %d bytes truncated=%v at %d:%d stamped %d; want %d bytes truncated=%v at %d:%d stamped %d",
					len(g.line), g.truncated, g.pos.File.Ino, g.pos.Offset, g.ts, len(wantLine), trunc, e.ino, e.off, e.ts)
			}
			jfCheck(t, append(got[:2:2], got[3:]...), w.entries, w)
		})
	}
	t.Run("follow, chunk by chunk", func(t *testing.T) {
		w := newJFWriter(t, 3, false)
		notify := make(chan struct{}, 1)
		w.notify = notify
		stop := make(chan struct{})
		o := jfOptions(w.path)
		o.Follow, o.Notify, o.Stop = true, notify, stop
		ch := jfFollow(t, o)
		chunks := 0
		e := writeLong(w, func() {
			if chunks++; chunks < 3 {
				jfNone(t, ch, 30*time.Millisecond)
			}
		})
		r := jfRecv(t, ch)
		close(stop)
		if r.err != nil || r.g.line != string(long) || r.g.pos.Offset != e.off || r.g.ts != e.ts {
			t.Errorf("long line: %d bytes at %d, err %v; want %d bytes at %d", len(r.g.line), r.g.pos.Offset, r.err, len(long), e.off)
		}
		if r := jfRecv(t, ch); r.err != io.EOF {
			t.Errorf("after Stop: %v %v, want io.EOF", r.g, r.err)
		}
	})
}

// 7. A followed log with nothing new for Idle ends in a timeout.
func TestJSONFileIdle(t *testing.T) {
	w := newJFWriter(t, 3, false)
	w.write(1)
	for _, poll := range []time.Duration{10 * time.Millisecond, time.Hour} {
		o := jfOptions(w.path)
		o.Follow, o.Poll, o.Idle = true, poll, 100*time.Millisecond
		lr := jfOpen(t, context.Background(), o)
		if _, err := lr.Next(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := lr.Next()
		took := time.Since(start)
		lr.Close()
		if !IsTimeout(err) {
			t.Errorf("poll %s: Next: %v, want a timeout", poll, err)
		}
		if took < 100*time.Millisecond || took > 2*time.Second {
			t.Errorf("poll %s: idle after %s, want 100ms", poll, took)
		}
	}
}

// 8. An entry dockerd could not have written is reported and skipped.
func TestJSONFileBadEntry(t *testing.T) {
	for _, c := range []struct {
		name string
		line string
	}{
		{"not json", "this is not JSON\n"},
		{"cut short", `{"log":"half an entry`},
		{"no time", `{"log":"x\n","stream":"stdout"}` + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newJFWriter(t, 3, false)
			w.write(5)
			badAt := FilePos{File: FileID{Ino: w.ino}, Offset: w.size}
			line := c.line
			if !strings.HasSuffix(line, "\n") {
				line += "\n" // dockerd restarted mid-write: the next entry follows on
			}
			w.raw([]byte(line))
			w.write(5)
			jfCheckOneBad(t, w, badAt)
		})
	}
	t.Run("rotated file ends inside an entry", func(t *testing.T) {
		w := newJFWriter(t, 3, false)
		w.write(5)
		badAt := FilePos{File: FileID{Ino: w.ino}, Offset: w.size}
		w.raw([]byte(`{"log":"cut by a crash`))
		w.rotate()
		w.write(5)
		jfCheckOneBad(t, w, badAt)
	})
}

// 9. A follower more than one rotation behind.
func TestJSONFileFellBehind(t *testing.T) {
	// setup: a log followed to the end of its current file X, with a
	// channel to wake the reader (its poll is an hour).
	setup := func(t *testing.T) (*jfWriter, *LogReader, context.CancelFunc, chan struct{}, chan struct{}) {
		w := newJFWriter(t, 3, false)
		w.write(20)
		notify, stop := make(chan struct{}, 1), make(chan struct{})
		o := jfOptions(w.path)
		o.Follow, o.Poll, o.Notify, o.Stop = true, time.Hour, notify, stop
		ctx, cancel := context.WithCancel(context.Background())
		lr := jfOpen(t, ctx, o)
		t.Cleanup(func() { lr.Close() })
		t.Cleanup(cancel)
		var got []jfGot
		for range 20 {
			e, err := lr.Next()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, jfCopy(e))
		}
		jfCheck(t, got, w.entries, w)
		return w, lr, cancel, notify, stop
	}
	drain := func(t *testing.T, ch <-chan jfResult) ([]jfGot, error) {
		var got []jfGot
		for {
			r := jfRecv(t, ch)
			if r.err != nil {
				return got, r.err
			}
			got = append(got, r.g)
		}
	}

	t.Run("two rotations", func(t *testing.T) {
		w, lr, cancel, notify, stop := setup(t)
		ch := jfAsync(t, lr, cancel)
		jfNone(t, ch, 30*time.Millisecond) // waiting at X's end
		w.write(7)                         // more in X
		w.rotate()
		w.write(30)
		w.rotate() // X is .2 now
		w.write(4)
		notify <- struct{}{}
		close(stop)
		got, err := drain(t, ch)
		if err != io.EOF {
			t.Errorf("Next: %v, want io.EOF", err)
		}
		jfCheck(t, got, w.entries[20:], w)
	})

	t.Run("two rotations, not waiting", func(t *testing.T) {
		w, lr, _, _, stop := setup(t)
		w.write(7)
		w.rotate()
		w.write(30)
		w.rotate()
		w.write(4)
		close(stop)
		got, err := jfReadAll(lr)
		if err != io.EOF {
			t.Errorf("Next: %v, want io.EOF", err)
		}
		jfCheck(t, got, w.entries[20:], w)
	})

	t.Run("rotated away", func(t *testing.T) {
		w, lr, cancel, notify, _ := setup(t)
		ch := jfAsync(t, lr, cancel)
		jfNone(t, ch, 30*time.Millisecond)
		w.write(7) // more in X: still read from the open file
		for range 3 {
			w.rotate()
			w.write(10)
		}
		notify <- struct{}{}
		got, err := drain(t, ch)
		if !errors.Is(err, ErrLostRotation) {
			t.Errorf("Next: %v, want ErrLostRotation", err)
		}
		jfCheck(t, got, w.entries[20:27], w)
		// Reopened by time, it goes on with the oldest file retained.
		last := got[len(got)-1]
		o := jfOptions(w.path)
		o.At, o.Since = last.pos, last.ts+1
		lr2 := jfOpen(t, context.Background(), o)
		defer lr2.Close()
		rest, err := jfReadAll(lr2)
		if err != io.EOF {
			t.Fatalf("Next: %v", err)
		}
		jfCheck(t, rest, w.entries[27:], w)
	})
}

// badReport is one call of JSONFileOptions.Bad.
type badReport struct {
	pos FilePos
	err error
}

// jfCheckOneBad reads w's log to its end: every entry once, and the bad
// entry at badAt reported to Bad once, skipped.
func jfCheckOneBad(t *testing.T, w *jfWriter, badAt FilePos) {
	t.Helper()
	var bad []badReport
	o := jfOptions(w.path)
	o.Bad = func(pos FilePos, err error) { bad = append(bad, badReport{pos, err}) }
	lr := jfOpen(t, context.Background(), o)
	defer lr.Close()
	got := jfReadToEOF(t, lr)
	jfCheck(t, got, w.entries, w)
	if len(bad) != 1 || bad[0].pos.File.Ino != badAt.File.Ino || bad[0].pos.Offset != badAt.Offset || !errors.Is(bad[0].err, ErrBadJSONFileEntry) {
		t.Errorf("Bad: %+v, want once at %d:%d with ErrBadJSONFileEntry", bad, badAt.File.Ino, badAt.Offset)
	}
}

// Opened by time, the reader skips the entries stamped before since up to
// the first at or after it, then reads every entry: one of the other stream
// written after it with an earlier stamp (its copier lagging on a loaded
// host) is new to the caller, who drops what it had by its cursors. Here
// from a compressed file, which is always opened by time.
func TestJSONFileSinceReadsLateStampedEntries(t *testing.T) {
	w := newJFWriter(t, 3, true)
	ms := int64(time.Millisecond)
	base := jfStamp(0)
	w.add(Stdout, base, "before since\n")
	w.add(Stdout, base+300*ms, "at since\n")
	w.add(Stderr, base+100*ms, "late, stamped before since\n")
	w.add(Stdout, base+400*ms, "after\n")
	w.rotate()
	o := jfOptions(w.path)
	o.Since = base + 300*ms
	got := jfReadToEOF(t, jfOpen(t, context.Background(), o))
	jfCheck(t, got, w.entries[1:], nil)
}
