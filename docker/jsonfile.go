package docker

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FileID identifies a file whatever its name: json-file renames a log as it
// rotates it, so only the device and inode say which file was being read.
type FileID struct{ Dev, Ino uint64 }

// FilePos is a place in a container's json-file log: an entry's first byte
// in the file it was read from (uncompressed), and its stamp (0: not known).
type FilePos struct {
	File   FileID
	Offset int64
	Time   int64
}

// Valid reports a position taken from a file.
func (p FilePos) Valid() bool { return p.File.Ino != 0 }

// A rotating log's current file is missing for a moment between dockerd's
// rename and its create: an open that finds rotated files only waits.
const (
	rotationRetries = 5
	rotationWait    = 5 * time.Millisecond
)

// ErrLostRotation ends a followed file whose successor cannot be told by
// inode (it was compressed or removed before the reader got there): the
// log is to be opened again from its resume point, by time.
var ErrLostRotation = errors.New("docker: json-file log rotated beyond the file being read")

// ErrIdle is a followed json-file log with nothing new for its idle time.
var ErrIdle = idleError{}

type idleError struct{}

func (idleError) Error() string   { return "docker: json-file log idle" }
func (idleError) Timeout() bool   { return true } // IsTimeout, like a stream's read deadline
func (idleError) Temporary() bool { return true }

// JSONFileOptions say where and how to read a container's json-file log.
type JSONFileOptions struct {
	Path    string // the log's path as this process sees it (<id>-json.log)
	TTY     bool
	MaxLine int
	// At is where to start, if that file is still in the log (uncompressed
	// and long enough); otherwise the first entry stamped at or after
	// Since (0: the oldest retained), like the API's since.
	At     FilePos // with its stamp, when known (At.Time)
	Since  int64
	Follow bool
	// Notify signals a write in the log's directory; Poll is the check
	// when none comes (inotify may be unavailable or overflow).
	Notify <-chan struct{}
	Poll   time.Duration
	// Idle ends a follow that found nothing new for this long (ErrIdle);
	// Stop ends it (io.EOF), for the caller to look at the container.
	Idle time.Duration
	Stop <-chan struct{}
	// Bad is told of an entry that is not json-file's (it is skipped).
	Bad func(pos FilePos, err error)
}

// OpenJSONFile opens a container's json-file log for reading with a
// LogReader: the lines and their stamps are those the API would send.
func OpenJSONFile(ctx context.Context, o JSONFileOptions) (*LogReader, error) {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	fr := &fileReader{ctx: ctx, o: o}
	if err := fr.open(); err != nil {
		fr.Close()
		return nil, err
	}
	lr := &LogReader{tty: o.TTY, maxLine: o.MaxLine, files: fr}
	return lr, nil
}

// fileReader hands out a json-file log's entries in the order dockerd
// wrote them, from file to file across rotations.
type fileReader struct {
	ctx context.Context
	o   JSONFileOptions

	f          *os.File
	id         FileID
	compressed bool
	r          *bufio.Reader
	off        int64  // of the next byte r returns (uncompressed)
	partial    []byte // an entry without its newline yet: dockerd mid-write
	since      int64  // entries stamped before are skipped, up to the first at or after it (opened by time)
	dec        []byte
	pos        FilePos // of the entry last returned
	lastTime   int64
	// finishing: the file is no longer the log's current one; it is read
	// to its end once more before the next file.
	finishing bool
}

// segment is one file of a rotated log: index 0 is the current file, n the
// n-th rotated one (<path>.n, or <path>.n.gz when compressed).
type segment struct {
	path       string
	index      int
	compressed bool
	id         FileID
}

// segments lists the log's files, newest first.
// A listing taken while dockerd renames the files may see a file under two
// names or none: it is taken again until two in a row agree.
func (fr *fileReader) segments() ([]segment, error) {
	prev, err := fr.listSegments()
	for tries := 0; err == nil && tries < rotationRetries; tries++ {
		var next []segment
		if next, err = fr.listSegments(); err == nil && slices.Equal(prev, next) {
			return next, nil
		}
		prev = next
	}
	return prev, err
}

func (fr *fileReader) listSegments() ([]segment, error) {
	dir, base := filepath.Split(fr.o.Path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []segment
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, base) {
			continue
		}
		s := segment{path: filepath.Join(dir, name)}
		rest := name[len(base):]
		if rest != "" {
			if s.compressed = strings.HasSuffix(rest, ".gz"); s.compressed {
				rest = strings.TrimSuffix(rest, ".gz")
			}
			n, err := strconv.Atoi(strings.TrimPrefix(rest, "."))
			if !strings.HasPrefix(rest, ".") || err != nil || n < 1 {
				continue
			}
			s.index = n
		}
		if s.id, err = statID(s.path); err != nil {
			continue // rotated away meanwhile
		}
		out = append(out, s)
	}
	// While dockerd compresses <path>.1 into <path>.1.gz, both exist and
	// the .gz is incomplete: the uncompressed file is the one to read.
	sort.Slice(out, func(i, j int) bool {
		if out[i].index != out[j].index {
			return out[i].index < out[j].index
		}
		return !out[i].compressed
	})
	dedup := out[:0]
	for _, s := range out {
		if len(dedup) == 0 || dedup[len(dedup)-1].index != s.index {
			dedup = append(dedup, s)
		}
	}
	return dedup, nil
}

func statID(path string) (FileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileID{}, err
	}
	return fileIDOf(fi), nil
}

func fileIDOf(fi os.FileInfo) FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}
	}
	return FileID{Dev: uint64(st.Dev), Ino: st.Ino}
}

// errRaced is a rotation that renamed the log's files while they were
// being listed or opened: the open is done again.
var errRaced = errors.New("docker: json-file log rotated while being opened")

// open positions the reader at o.At, or else at o.Since.
func (fr *fileReader) open() error {
	for tries := 0; ; tries++ {
		err := fr.tryOpen()
		if !errors.Is(err, errRaced) || tries == rotationRetries {
			return err
		}
		fr.closeFile()
		time.Sleep(rotationWait)
	}
}

func (fr *fileReader) tryOpen() error {
	segs, err := fr.segments()
	if err != nil {
		return err
	}
	if len(segs) == 0 || segs[0].index != 0 {
		// Between renaming the current file and creating the next one,
		// a rotating log has no current file for a moment.
		if len(segs) > 0 {
			return errRaced
		}
		return &os.PathError{Op: "open", Path: fr.o.Path, Err: os.ErrNotExist}
	}
	if fr.o.At.Valid() {
		for _, s := range segs {
			if s.id == fr.o.At.File && !s.compressed {
				if ok, err := fr.openAt(s, fr.o.At.Offset); ok || err != nil {
					return err
				}
				break
			}
		}
	}
	fr.since = fr.o.Since
	// The newest file that starts at or before since holds it; if none
	// does, the oldest retained is where the log now begins.
	start := segs[len(segs)-1]
	if fr.since > 0 {
		for _, s := range segs {
			first, err := fr.firstTime(s)
			if errors.Is(err, errRaced) {
				return err
			}
			if err == nil && first <= fr.since {
				start = s
				break
			}
		}
	}
	if err := fr.openSegment(start); err != nil {
		return err
	}
	if !start.compressed && fr.since > 0 {
		return fr.seekSince()
	}
	return nil
}

// openAt opens s at offset, if that is still the entry there: a file
// rotated away or compressed frees its inode, which a newer file may get at
// once (ext4 does). With At.Time, the entry at offset must carry that stamp;
// without, the file must start at or before since (a newer file starts
// after it; one that starts after since for real is read by time, which
// returns the same entries and the few before them).
func (fr *fileReader) openAt(s segment, offset int64) (bool, error) {
	if fr.o.At.Time == 0 && fr.o.Since > 0 {
		first, err := fr.firstTime(s)
		if errors.Is(err, errRaced) {
			return false, err
		}
		if err != nil || first > fr.o.Since {
			return false, nil
		}
	}
	if err := fr.openSegment(s); err != nil {
		if errors.Is(err, errRaced) {
			return false, err
		}
		return false, nil // by time, then
	}
	if fi, err := fr.f.Stat(); err != nil || fi.Size() < offset {
		fr.closeFile()
		return false, nil
	}
	if fr.o.At.Time != 0 {
		buf := make([]byte, 64*1024)
		n, _ := fr.f.ReadAt(buf, offset)
		line, _, _ := bytes.Cut(buf[:n], []byte{'\n'})
		if ts, ok := entryTime(line); !ok || ts != fr.o.At.Time {
			fr.closeFile()
			return false, nil
		}
	}
	return true, fr.seek(offset)
}

// openSegment opens s, which must still be the file listed.
func (fr *fileReader) openSegment(s segment) error {
	fr.closeFile()
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return errRaced
	}
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if fileIDOf(fi) != s.id {
		f.Close()
		return errRaced
	}
	fr.f, fr.id, fr.compressed, fr.off, fr.finishing = f, s.id, s.compressed, 0, false
	fr.partial = fr.partial[:0]
	var r io.Reader = f
	if s.compressed {
		gz, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			fr.f = nil
			return fmt.Errorf("%s: %w", s.path, err)
		}
		r = gz
	}
	if fr.r == nil {
		fr.r = bufio.NewReaderSize(r, 64*1024)
	} else {
		fr.r.Reset(r)
	}
	return nil
}

func (fr *fileReader) seek(offset int64) error {
	if _, err := fr.f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	fr.r.Reset(fr.f)
	fr.off = offset
	fr.partial = fr.partial[:0]
	return nil
}

// firstTime is the stamp of a file's first entry.
func (fr *fileReader) firstTime(s segment) (int64, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, errRaced
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fileIDOf(fi) != s.id {
		return 0, errRaced
	}
	var r io.Reader = f
	if s.compressed {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return 0, err
		}
		r = gz
	}
	line, err := bufio.NewReaderSize(r, 64*1024).ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, fmt.Errorf("%s: no first entry: %w", s.path, err)
	}
	ts, ok := entryTime(line)
	if !ok {
		return 0, fmt.Errorf("%s: no stamp in its first entry", s.path)
	}
	return ts, nil
}

// entryTime finds an entry's stamp without decoding it: "time" is its last
// key, and a log's own text cannot hold `"time":"` unescaped. The stamp is
// RFC3339Nano, which drops a fraction's trailing zeros (one stamp in ten):
// ParseTimestamp takes those too.
func entryTime(line []byte) (int64, bool) {
	i := bytes.LastIndex(line, []byte(`"time":"`))
	if i < 0 {
		return 0, false
	}
	v := line[i+len(`"time":"`):]
	end := bytes.IndexByte(v, '"')
	if end < 0 {
		return 0, false
	}
	ts, err := ParseTimestamp(v[:end])
	return ts, err == nil
}

// seekSince moves the reader of an uncompressed file close before the
// first entry stamped at or after since, by bisection on entries' stamps
// (they rise, but for a few microseconds between stdout and stderr): it
// stops at an entry before since, and backs off a little more for that
// skew; the entries before since are then skipped as read.
func (fr *fileReader) seekSince() error {
	fi, err := fr.f.Stat()
	if err != nil {
		return err
	}
	const backOff = 64 * 1024
	lo, hi := int64(0), fi.Size() // an entry before since starts at lo
	buf := make([]byte, 64*1024)
	for hi-lo > backOff {
		mid := lo + (hi-lo)/2
		start, ts, ok := entryAfter(fr.f, mid, buf)
		if !ok || start >= hi {
			hi = mid
			continue
		}
		if ts < fr.since {
			lo = start
		} else {
			hi = mid
		}
	}
	return fr.seek(entryStartBefore(fr.f, max(lo-backOff, 0), buf))
}

// entryAfter finds the first entry that starts after offset (past the next
// newline) and its stamp.
func entryAfter(f *os.File, offset int64, buf []byte) (int64, int64, bool) {
	n, _ := f.ReadAt(buf, offset)
	b := buf[:n]
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return 0, 0, false
	}
	start := offset + int64(nl) + 1
	line := b[nl+1:]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		ts, ok := entryTime(line[:end])
		return start, ts, ok
	}
	return start, 0, false // a longer entry: no decision here
}

// entryStartBefore is the start of the entry holding offset.
func entryStartBefore(f *os.File, offset int64, buf []byte) int64 {
	if offset == 0 {
		return 0
	}
	n, _ := f.ReadAt(buf[:min(int64(len(buf)), offset)], offset-min(int64(len(buf)), offset))
	if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
		return offset - int64(n) + int64(i) + 1
	}
	return 0 // an entry longer than the buffer: from the file's start
}

func (fr *fileReader) closeFile() {
	if fr.f != nil {
		fr.f.Close()
		fr.f = nil
	}
}

// Close releases the open file.
func (fr *fileReader) Close() error {
	fr.closeFile()
	return nil
}

// maxEntry bounds an entry kept while its newline is awaited: dockerd's
// longest is a 16 KiB chunk escaped six times over.
const maxEntry = 1 << 20

// chunk returns the next entry as LogReader takes it.
func (fr *fileReader) chunk() (Stream, int64, []byte, error) {
	var idleFrom time.Time
	for {
		raw, err := fr.r.ReadSlice('\n')
		fr.off += int64(len(raw))
		switch {
		case err == nil:
			if len(fr.partial) > 0 {
				fr.partial = append(fr.partial, raw...)
				raw = fr.partial
			}
			pos := FilePos{File: fr.id, Offset: fr.off - int64(len(raw))}
			fr.partial = fr.partial[:0]
			s, ts, line, dec, derr := DecodeJSONFileLine(fr.dec[:0], raw[:len(raw)-1])
			fr.dec = dec
			if derr != nil {
				fr.bad(pos, derr)
				continue
			}
			if ts < fr.since {
				continue
			}
			// From the first entry at since on, every entry is read: one
			// of the other stream may be written after it with an earlier
			// stamp (its copier lagging on a loaded host), and it is new.
			fr.since = 0
			pos.Time = ts
			fr.pos, fr.lastTime = pos, ts
			return s, ts, line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(fr.partial)+len(raw) > maxEntry {
				// Not an entry dockerd wrote: skip to its end.
				fr.bad(FilePos{File: fr.id, Offset: fr.off - int64(len(fr.partial)+len(raw))},
					fmt.Errorf("%w: an entry longer than %d bytes", ErrBadJSONFileEntry, maxEntry))
				fr.partial = fr.partial[:0]
				fr.skipLine()
				continue
			}
			fr.partial = append(fr.partial, raw...)
			continue
		case err != io.EOF:
			return 0, 0, nil, fmt.Errorf("reading %s: %w", fr.o.Path, err)
		}
		// The end of what is written: keep a partial entry for later.
		fr.partial = append(fr.partial, raw...)
		if more, err := fr.atEnd(&idleFrom); err != nil || !more {
			if err == nil {
				err = io.EOF
			}
			return 0, 0, nil, err
		}
	}
}

func (fr *fileReader) bad(pos FilePos, err error) {
	if fr.o.Bad != nil {
		fr.o.Bad(pos, err)
	}
}

// skipLine discards the rest of an over-long entry.
func (fr *fileReader) skipLine() {
	for {
		raw, err := fr.r.ReadSlice('\n')
		fr.off += int64(len(raw))
		if !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// atEnd decides what follows the end of the file being read: more of it
// (more true), the next file, or the end of the stream (more false).
func (fr *fileReader) atEnd(idleFrom *time.Time) (more bool, err error) {
	current := false
	if !fr.compressed {
		id, err := statID(fr.o.Path)
		current = err == nil && id == fr.id
	}
	if !current {
		if !fr.finishing && !fr.compressed {
			// Rotated since the last read: what was written before the
			// rename is still to be read from the open file.
			fr.finishing = true
			return true, nil
		}
		return fr.next()
	}
	if !fr.o.Follow {
		return false, nil
	}
	if idleFrom.IsZero() {
		*idleFrom = time.Now()
	}
	wait := fr.o.Poll
	if fr.o.Idle > 0 {
		left := fr.o.Idle - time.Since(*idleFrom)
		if left <= 0 {
			return false, ErrIdle
		}
		wait = min(wait, left)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-fr.ctx.Done():
		return false, fr.ctx.Err()
	case <-fr.o.Stop:
		// Once more to the end: the container may have written its last
		// lines as it stopped.
		fr.o.Follow = false
	case <-fr.o.Notify:
	case <-t.C:
	}
	fr.r.Reset(fr.f) // read on from the file's offset
	return true, nil
}

// next moves to the file written after the one just read to its end.
func (fr *fileReader) next() (bool, error) {
	if len(fr.partial) > 0 {
		fr.bad(FilePos{File: fr.id, Offset: fr.off - int64(len(fr.partial))}, fmt.Errorf("%w: the file ends inside an entry", ErrBadJSONFileEntry))
	}
	segs, err := fr.segments()
	if err != nil {
		return false, err
	}
	for i, s := range segs {
		if s.id == fr.id && i > 0 {
			if err := fr.openSegment(segs[i-1]); err != nil {
				return false, ErrLostRotation
			}
			fr.since = 0
			return true, nil
		}
	}
	return false, ErrLostRotation
}

// Position is where the entry last returned starts.
func (fr *fileReader) Position() FilePos { return fr.pos }

// CheckJSONFile reports whether the log at path can be opened and, when it
// holds an entry, whether that entry is json-file's: a daemon that calls
// another format json-file (Podman's k8s-file) is read through its API.
func CheckJSONFile(path string) error {
	f, err := os.Open(path)
	for tries := 0; errors.Is(err, os.ErrNotExist) && tries < rotationRetries; tries++ {
		if _, rerr := os.Stat(path + ".1"); rerr != nil {
			break // not a rotating log
		}
		time.Sleep(rotationWait) // see fileReader.open
		f, err = os.Open(path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64*1024).ReadSlice('\n')
	if err != nil {
		return nil // empty, or a first entry still being written or long
	}
	if _, _, _, _, err := DecodeJSONFileLine(nil, line[:len(line)-1]); err != nil {
		return fmt.Errorf("%s is not a json-file log: %w", path, err)
	}
	return nil
}
