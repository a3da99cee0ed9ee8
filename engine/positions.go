package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker-logs/docker_logs/docker"
)

// positionsGrace is how long the position of a container that no longer
// exists is kept (it may be a daemon that is away, not a container gone).
const positionsGrace = 24 * time.Hour

// positions are where delivery stands per container, as far as Fluent Bit
// has taken it: a record's position counts only once the collect that
// handed it over was acknowledged (the cleanup callback), never when it
// was merely read. They are kept in the db file, written atomically.
type positions struct {
	path  string
	log   *Logger
	delay time.Duration // db.commit_delay
	// failures holds back the repeats of a write that keeps failing.
	failures repeatLimiter

	mu         sync.Mutex
	containers map[string]*position // committed: what the db holds
	pending    []ackedBatch         // acknowledged, not yet committed
	// held: Fluent Bit paused the input, so nothing is committed (hold).
	held bool
	// watched is since when (unix ns) the runs sharing this db have
	// watched the daemon (see watching).
	watched int64
}

// ackedBatch is one acknowledged collect's marks.
type ackedBatch struct {
	at    time.Time
	marks []mark
}

// position is one container's: the cursor of each stream and the anchor
// (see monitor), as acknowledged.
type position struct {
	delivery
	seen int64 // unix ns when the container was last known to exist
}

// The db file's format.
type (
	dbFile struct {
		Version    int                    `json:"version"`
		Containers map[string]dbContainer `json:"containers"`
		// Watched: see positions.watched. A db written before has none.
		Watched int64 `json:"watched,omitempty"`
	}
	dbContainer struct {
		Stdout dbCursor  `json:"stdout"`
		Stderr dbCursor  `json:"stderr"`
		Anchor *dbAnchor `json:"anchor,omitempty"`
		Seen   int64     `json:"seen"`
		// Hash names the function of the position's line hashes:
		// "xxh64". A position written before has none: its hashes are
		// FNV-1a's (delivery.fnv).
		Hash string `json:"hash,omitempty"`
	}
	dbCursor struct {
		Time   int64    `json:"time"`
		Hashes []uint64 `json:"hashes,omitempty"`
		Max    int64    `json:"max,omitempty"` // when above time (cursor.max)
	}
	dbAnchor struct {
		Stream string `json:"stream"`
		Time   int64  `json:"time"`
		Hash   uint64 `json:"hash"`
		// Whole-second stamps (Podman): see anchor.
		N  int    `json:"n,omitempty"`
		At []dbAt `json:"at,omitempty"` // stdout, stderr
		// After lists the streams delivered past the anchor (anchor.after).
		After []string `json:"after,omitempty"`
		// File is where the anchor starts in its json-file log, when it
		// was read from there (anchor.pos).
		File *dbFilePos `json:"file,omitempty"`
	}
	dbFilePos struct {
		Dev    uint64 `json:"dev"`
		Inode  uint64 `json:"inode"`
		Offset int64  `json:"offset"`
		// Time is the stamp of the entry at Offset; absent (written before
		// it was kept) it is the anchor's own.
		Time int64 `json:"time,omitempty"`
	}
	dbAt struct {
		Time  int64 `json:"time"`
		Count int   `json:"count"`
	}
)

const dbVersion = 1

// dbHashXXH64 marks a position whose hashes are hashLine's.
const dbHashXXH64 = "xxh64"

// openPositions reads the db file at path. A missing file is a first
// start; a file that cannot be read or parsed is set aside (renamed, never
// deleted) with one clear error, and the plugin starts without positions.
func openPositions(path string, delay time.Duration, log *Logger) *positions {
	p := &positions{path: path, log: log, delay: delay, containers: map[string]*position{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p
	}
	var f dbFile
	if err == nil {
		err = json.Unmarshal(raw, &f)
	}
	if err == nil && f.Version != dbVersion {
		err = fmt.Errorf("version %d, expected %d", f.Version, dbVersion)
	}
	if err != nil {
		aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
		if rerr := os.Rename(path, aside); rerr != nil {
			log.Errorf("db %s cannot be read (%v) nor set aside (%v); starting without positions", path, err, rerr)
		} else {
			log.Errorf("db %s cannot be read (%v); set aside as %s; starting without positions", path, err, aside)
		}
		return p
	}
	p.watched = f.Watched
	for id, c := range f.Containers {
		pos := &position{seen: c.Seen}
		pos.fnv = c.Hash != dbHashXXH64
		pos.cursors[docker.Stdout] = c.Stdout.cursor()
		pos.cursors[docker.Stderr] = c.Stderr.cursor()
		if a := c.Anchor; a != nil {
			pos.anchor = anchor{valid: true, stream: streamNamed(a.Stream), time: a.Time, hash: a.Hash, n: a.N}
			if f := a.File; f != nil {
				pos.anchor.pos = docker.FilePos{File: docker.FileID{Dev: f.Dev, Ino: f.Inode}, Offset: f.Offset, Time: cmp.Or(f.Time, a.Time)}
			}
			for _, name := range a.After {
				pos.anchor.after[streamNamed(name)] = true
			}
			for i, at := range a.At {
				if i < 2 {
					pos.anchor.at[docker.Stdout+docker.Stream(i)].time = at.Time
					pos.anchor.at[docker.Stdout+docker.Stream(i)].count = at.Count
				}
			}
		}
		p.containers[id] = pos
	}
	log.Infof("db %s: positions of %d containers", path, len(p.containers))
	return p
}

// watching returns since when the runs sharing the db have watched the
// daemon: a container they know no position of was never read, and is
// read from there, not from this run's start, or the lines it wrote
// between two runs (a restart, a hot reload, before its first line was
// delivered) would be skipped. The first run (or the first to write the
// field) takes start, and writes it at once.
func (p *positions) watching(start int64) int64 {
	p.mu.Lock()
	w := p.watched
	if w == 0 {
		p.watched = start
	}
	p.mu.Unlock()
	if w != 0 {
		return w
	}
	if err := p.save(); err != nil {
		p.log.Errorf("db %s: writing positions: %v; retrying every db.sync_interval", p.path, err)
	}
	return start
}

// get returns a copy of a container's position.
func (p *positions) get(id string) (position, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.containers[id]
	if !ok {
		return position{}, false
	}
	out := *pos
	for s := range out.cursors {
		out.cursors[s].hashes = append([]uint64(nil), pos.cursors[s].hashes...)
	}
	return out, true
}

// ack records that Fluent Bit has taken these records. They are committed
// (and written) db.commit_delay later: Fluent Bit itself holds them in
// memory for a while, and a crash then must repeat them, not lose them.
func (p *positions) ack(marks []mark) {
	if len(marks) == 0 {
		return
	}
	p.mu.Lock()
	p.pending = append(p.pending, ackedBatch{at: time.Now(), marks: append([]mark(nil), marks...)})
	p.mu.Unlock()
}

// hold stops commits while Fluent Bit has paused the input (on), and
// restarts them (off). Fluent Bit moves appended records from the input's
// ring buffer into chunks only while the input runs, so what was appended
// just before a pause stays in its memory until the resume: the batches
// pending then wait db.commit_delay again, from the resume.
func (p *positions) hold(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held && !on {
		now := time.Now()
		for i := range p.pending {
			p.pending[i].at = now
		}
	}
	p.held = on
}

// commit applies the batches acknowledged at or before cutoff, unless
// held, and reports whether there were any.
func (p *positions) commit(cutoff time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held {
		return false
	}
	n := 0
	for n < len(p.pending) && !p.pending[n].at.After(cutoff) {
		p.apply(p.pending[n].marks, p.pending[n].at.UnixNano())
		n++
	}
	p.pending = p.pending[:copy(p.pending, p.pending[n:])]
	return n > 0
}

// apply advances the committed positions past marks; p.mu is held.
func (p *positions) apply(marks []mark, at int64) {
	var pos *position
	var id string
	for _, m := range marks {
		if pos == nil || m.id != id {
			id = m.id
			if pos = p.containers[id]; pos == nil {
				pos = &position{}
				p.containers[id] = pos
			}
			pos.seen = at
		}
		c := &pos.cursors[m.stream]
		if c.isNew(m.time, m.hash) {
			c.add(m.time, m.hash)
		}
		if m.anchor {
			pos.anchor = newAnchor(docker.Stream(m.stream), m.time, m.hash, m.pos, &pos.cursors)
		} else if pos.anchor.valid {
			pos.anchor.after[m.stream] = true
		}
	}
}

// touch records that these containers exist, so their positions outlive
// the grace period however quiet they are.
func (p *positions) touch(ids []string) {
	now := time.Now().UnixNano()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if pos := p.containers[id]; pos != nil {
			pos.seen = now
		}
	}
}

// save writes the positions atomically: a temporary file in the same
// directory, fsync, rename over the db, fsync of the directory.
func (p *positions) save() error {
	f := dbFile{Version: dbVersion, Containers: map[string]dbContainer{}}
	cutoff := time.Now().Add(-positionsGrace).UnixNano()
	p.mu.Lock()
	f.Watched = p.watched
	for id, pos := range p.containers {
		if pos.seen < cutoff {
			delete(p.containers, id)
			continue
		}
		c := dbContainer{
			Stdout: newDBCursor(&pos.cursors[docker.Stdout]),
			Stderr: newDBCursor(&pos.cursors[docker.Stderr]),
			Seen:   pos.seen,
		}
		if !pos.fnv {
			c.Hash = dbHashXXH64
		}
		if a := pos.anchor; a.valid {
			c.Anchor = &dbAnchor{Stream: a.stream.String(), Time: a.time, Hash: a.hash}
			if a.pos.Valid() {
				c.Anchor.File = &dbFilePos{Dev: a.pos.File.Dev, Inode: a.pos.File.Ino, Offset: a.pos.Offset, Time: a.pos.Time}
			}
			for _, s := range []docker.Stream{docker.Stdout, docker.Stderr} {
				if a.after[s] {
					c.Anchor.After = append(c.Anchor.After, s.String())
				}
			}
			if a.coarse() {
				c.Anchor.N = a.n
				for _, s := range []docker.Stream{docker.Stdout, docker.Stderr} {
					c.Anchor.At = append(c.Anchor.At, dbAt{Time: a.at[s].time, Count: a.at[s].count})
				}
			}
		}
		f.Containers[id] = c
	}
	p.mu.Unlock()
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return writeAtomic(p.path, raw)
}

// failureKey is what makes two failed writes the same failure: not the
// temporary file's random name.
func failureKey(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func newDBCursor(c *cursor) dbCursor {
	d := dbCursor{Time: c.time, Hashes: append([]uint64(nil), c.hashes...)}
	if c.max > c.time {
		d.Max = c.max
	}
	return d
}

func (d dbCursor) cursor() cursor {
	return cursor{time: d.Time, hashes: d.Hashes, max: max(d.Max, d.Time)}
}

func streamNamed(name string) docker.Stream {
	if name == "stderr" {
		return docker.Stderr
	}
	return docker.Stdout
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// run is the task that commits and writes the positions, every
// db.sync_interval while acknowledgements come in.
func (p *positions) run(ctx context.Context, t *task, interval time.Duration, live func() []string) error {
	for t.wait(ctx, nil, interval) {
		if !p.commit(time.Now().Add(-p.delay)) {
			continue
		}
		p.touch(live())
		if err := p.save(); err != nil {
			if ok, held := p.failures.allow(failureKey(err), time.Now()); ok {
				p.log.Errorf("db %s: writing positions: %v; retrying every db.sync_interval%s", p.path, err, held)
			}
		} else {
			p.failures.reset()
		}
	}
	return nil
}

// flush commits everything acknowledged and writes it: a clean exit, where
// Fluent Bit flushes what it holds.
func (p *positions) flush(live []string) error {
	p.hold(false) // Fluent Bit pauses every input before a clean exit
	p.commit(time.Now().Add(time.Hour))
	p.touch(live)
	return p.save()
}
