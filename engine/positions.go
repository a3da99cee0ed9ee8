package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	path string
	log  *Logger

	mu         sync.Mutex
	containers map[string]*position
	dirty      chan struct{} // a write is due
}

// position is one container's: the cursor of each stream and the anchor
// (see monitor), as acknowledged.
type position struct {
	cursors [3]cursor
	anchor  anchor
	seen    int64 // unix ns when the container was last known to exist
}

// The db file's format.
type (
	dbFile struct {
		Version    int                    `json:"version"`
		Containers map[string]dbContainer `json:"containers"`
	}
	dbContainer struct {
		Stdout dbCursor  `json:"stdout"`
		Stderr dbCursor  `json:"stderr"`
		Anchor *dbAnchor `json:"anchor,omitempty"`
		Seen   int64     `json:"seen"`
	}
	dbCursor struct {
		Time   int64    `json:"time"`
		Hashes []uint64 `json:"hashes,omitempty"`
	}
	dbAnchor struct {
		Stream string `json:"stream"`
		Time   int64  `json:"time"`
		Hash   uint64 `json:"hash"`
	}
)

const dbVersion = 1

// openPositions reads the db file at path. A missing file is a first
// start; a file that cannot be read or parsed is set aside (renamed, never
// deleted) with one clear error, and the plugin starts without positions.
func openPositions(path string, log *Logger) *positions {
	p := &positions{path: path, log: log, containers: map[string]*position{}, dirty: make(chan struct{}, 1)}
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
	for id, c := range f.Containers {
		pos := &position{seen: c.Seen}
		pos.cursors[docker.Stdout] = cursor{time: c.Stdout.Time, hashes: c.Stdout.Hashes}
		pos.cursors[docker.Stderr] = cursor{time: c.Stderr.Time, hashes: c.Stderr.Hashes}
		if a := c.Anchor; a != nil {
			s := docker.Stdout
			if a.Stream == "stderr" {
				s = docker.Stderr
			}
			pos.anchor = anchor{valid: true, stream: s, time: a.Time, hash: a.Hash}
		}
		p.containers[id] = pos
	}
	log.Infof("db %s: positions of %d containers", path, len(p.containers))
	return p
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

// ack advances the positions past the records Fluent Bit has taken.
func (p *positions) ack(marks []mark) {
	if len(marks) == 0 {
		return
	}
	now := time.Now().UnixNano()
	p.mu.Lock()
	var pos *position
	var id string
	for _, m := range marks {
		if pos == nil || m.id != id {
			id = m.id
			if pos = p.containers[id]; pos == nil {
				pos = &position{}
				p.containers[id] = pos
			}
			pos.seen = now
		}
		if c := &pos.cursors[m.stream]; c.isNew(m.time, m.hash) {
			c.add(m.time, m.hash)
		}
		if m.anchor {
			pos.anchor = anchor{valid: true, stream: docker.Stream(m.stream), time: m.time, hash: m.hash}
		}
	}
	p.mu.Unlock()
	select {
	case p.dirty <- struct{}{}:
	default:
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
	for id, pos := range p.containers {
		if pos.seen < cutoff {
			delete(p.containers, id)
			continue
		}
		c := dbContainer{
			Stdout: dbCursor{Time: pos.cursors[docker.Stdout].time, Hashes: append([]uint64(nil), pos.cursors[docker.Stdout].hashes...)},
			Stderr: dbCursor{Time: pos.cursors[docker.Stderr].time, Hashes: append([]uint64(nil), pos.cursors[docker.Stderr].hashes...)},
			Seen:   pos.seen,
		}
		if a := pos.anchor; a.valid {
			c.Anchor = &dbAnchor{Stream: a.stream.String(), Time: a.time, Hash: a.hash}
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

// run is the task that writes the positions when they changed, at most
// once per db.sync_interval.
func (p *positions) run(ctx context.Context, t *task, interval time.Duration, live func() []string) error {
	last := time.Time{}
	for {
		if !t.wait(ctx, p.dirty, 0) {
			return nil
		}
		if wait := interval - time.Since(last); wait > 0 && !t.wait(ctx, nil, wait) {
			return nil
		}
		p.touch(live())
		if err := p.save(); err != nil {
			p.log.Errorf("db %s: writing positions: %v", p.path, err)
		}
		last = time.Now()
	}
}
