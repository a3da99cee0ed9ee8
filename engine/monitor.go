package engine

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/docker-logs/docker_logs/docker"
)

// maxLineSize is where a line longer than Docker's 16 KiB chunks stops
// being merged and is cut (flagged truncated).
const maxLineSize = 1 << 20

// monitor follows the logs of one container for as long as it exists:
// through its stops and restarts, resuming each new stream exactly where
// the last delivered line left off.
type monitor struct {
	e      *Engine
	id     string
	wakeup chan struct{} // a start, or anything else worth re-inspecting for

	mu        sync.Mutex
	name      string // a rename's new name, to apply to the next records
	destroyed bool
	renamed   atomic.Bool // name is set: checked once per line without the lock

	info    docker.Container
	meta    containerMeta
	cursors [3]cursor // per docker.Stream: Docker orders lines only within a stream
	started bool      // cursors initialised
	// drainedStop is the FinishedAt of the last stop whose final read
	// completed, so a wake-up while stopped does not read it again.
	drainedStop int64
	rec         []byte // encoding scratch
}

func newMonitor(e *Engine, id string) *monitor {
	return &monitor{e: e, id: id, wakeup: make(chan struct{}, 1)}
}

// wake asks the monitor to look at its container again (it started).
func (m *monitor) wake() {
	select {
	case m.wakeup <- struct{}{}:
	default:
	}
}

func (m *monitor) destroy() {
	m.mu.Lock()
	m.destroyed = true
	m.mu.Unlock()
	m.wake()
}

func (m *monitor) rename(name string) {
	m.mu.Lock()
	m.name = name
	m.mu.Unlock()
	m.renamed.Store(true)
}

func (m *monitor) isDestroyed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.destroyed
}

func (m *monitor) run(ctx context.Context) {
	defer m.e.monitorDone(m)
	log := m.e.log
	var b backoff
	for ctx.Err() == nil {
		ictx, cancel := context.WithTimeout(ctx, callTimeout)
		info, err := m.e.api.Inspect(ictx, m.id)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case docker.IsGone(err):
			log.Debugf("container %s is gone", shortID(m.id))
			return
		case err != nil:
			log.Warnf("inspecting container %s: %v", shortID(m.id), err)
			if !b.wait(ctx, nil) {
				return
			}
			continue
		}
		m.setInfo(info)

		if info.Running {
			err = m.read(ctx, true)
		} else if info.FinishedAt != m.drainedStop && info.FinishedAt >= m.oldestCursor() {
			// Stopped with lines we may not have: read to the end once
			// (a follower can miss a stopping container's last lines).
			if err = m.read(ctx, false); err == nil {
				m.drainedStop = info.FinishedAt
			}
		} else {
			if m.isDestroyed() {
				return
			}
			select { // wait for the next start
			case <-m.wakeup:
			case <-ctx.Done():
				return
			}
			continue
		}

		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			b.reset()
		case docker.IsGone(err):
			return
		case docker.IsUnreadable(err):
			log.Warnf("container %s (%s): its log driver cannot be read through the API; not collecting it: %v", shortID(m.id), m.info.Name, err)
			m.waitDestroyed(ctx)
			return
		case docker.IsTimeout(err):
			log.Debugf("container %s: log stream idle, reopening", shortID(m.id))
		default:
			log.Warnf("container %s (%s): reading logs: %v; retrying", shortID(m.id), m.info.Name, err)
			if !b.wait(ctx, nil) {
				return
			}
		}
	}
}

// setInfo takes the container's description, and on first sight decides
// where reading starts: from its first line for a container created after
// the engine started (or with read_from_head), else from the engine's start.
func (m *monitor) setInfo(info docker.Container) {
	if info.Name != m.info.Name || info.Image != m.info.Image || m.meta.count == 0 {
		m.meta = newContainerMeta(info.ID, info.Name, info.Image)
	}
	m.info = info
	if !m.started {
		m.started = true
		var from int64
		if !m.e.cfg.ReadFromHead && info.Created < m.e.start {
			from = m.e.start
		}
		for s := range m.cursors {
			m.cursors[s] = cursor{time: from}
		}
	}
}

// oldestCursor is where a new stream must start so that neither stream
// misses a line.
func (m *monitor) oldestCursor() int64 {
	return min(m.cursors[docker.Stdout].time, m.cursors[docker.Stderr].time)
}

// read reads one logs stream from the oldest cursor and delivers every line
// not delivered yet. A followed stream ends when the container stops; a
// non-followed one ends at the end of the log, where lines still awaiting
// their last chunk are final too.
func (m *monitor) read(ctx context.Context, follow bool) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := m.e.api.Logs(sctx, m.id, docker.LogsOptions{Since: m.oldestCursor(), Follow: follow})
	if err != nil {
		return err
	}
	// This goroutine alone reads and closes the body.
	defer body.Close()
	lr := docker.NewLogReader(body, m.info.TTY, maxLineSize)
	for {
		e, err := lr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			break
		}
		if err := m.deliver(ctx, e); err != nil {
			return err
		}
	}
	if !follow {
		for _, e := range lr.Flush() {
			if err := m.deliver(ctx, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// deliver hands a line to the buffer unless it was delivered before. It
// blocks while the buffer is full or paused.
func (m *monitor) deliver(ctx context.Context, e docker.Entry) error {
	if m.renamed.Load() {
		m.applyRename()
	}
	if !m.cursors[e.Stream].admit(e.Time, hashLine(e.Line)) {
		return nil
	}
	m.rec = appendRecord(m.rec[:0], e, &m.meta)
	return m.e.buf.Put(ctx, m.rec)
}

// applyRename updates the name the next records carry.
func (m *monitor) applyRename() {
	m.mu.Lock()
	name := m.name
	m.name = ""
	m.renamed.Store(false)
	m.mu.Unlock()
	if name != "" && name != m.info.Name {
		m.info.Name = name
		m.meta = newContainerMeta(m.info.ID, name, m.info.Image)
	}
}

// waitDestroyed idles a monitor whose container cannot be read until the
// container goes away, so the discovery loop does not start another.
func (m *monitor) waitDestroyed(ctx context.Context) {
	for !m.isDestroyed() {
		select {
		case <-m.wakeup:
		case <-ctx.Done():
			return
		}
	}
}
