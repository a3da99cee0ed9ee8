package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker-logs/docker_logs/docker"
)

// errWidenTail ends a stream whose tail bound did not reach back to the
// resume point; it is reopened at once with a wider bound.
var errWidenTail = errors.New("tail bound missed the resume point")

// errBehind ends a followed stream that fell so far behind a rotating log
// that the daemon's follower may skip files: 20.10's follower, once at the
// end of its file, goes on with the current one, and loses every file
// rotated in between; a stream also ends when it shows that happened
// (skipped). Reads go on without follow (a read opens every file
// it will read at its start) until they catch up; a line rotated away
// before any read reached it is then a gap at the resume point, reported.
var errBehind = errors.New("behind a rotating log")

// errQuiet is a followed stream that got no response before its idle
// timeout: Podman sends a follow's response headers only with its first
// line, so a container with nothing to replay and nothing new is silent
// there. It is reopened like an idle stream: normal, not an error.
var errQuiet = errors.New("no line and no response headers yet")

// monitor follows the logs of one container for as long as it exists:
// through its stops and restarts, resuming each new stream exactly where
// the last delivered line left off.
type monitor struct {
	e      *Engine
	id     string
	wakeup chan struct{} // a start, or anything else worth re-inspecting for
	died   chan struct{} // the container died (an event): see cutAfterDeath
	// startedEv: the container started (an event) since the monitor last
	// looked; its log is read before anything else (see run).
	startedEv atomic.Bool
	// ran: the container is known to have run, so it has a log to lose.
	ran atomic.Bool

	mu        sync.Mutex
	name      string // a rename's new name, to apply to the next records
	destroyed bool
	renamed   atomic.Bool            // name is set: checked once per line without the lock
	shownName atomic.Pointer[string] // the name records carry now, for metrics
	counts    streamCounts
	repeats   atomic.Int64  // lines read again and dropped (delivered before)
	retries   repeatLimiter // holds back a retried error's repeats

	// The rest belongs to the monitor's task alone; it survives the task's
	// restarts.
	info       docker.Container
	meta       containerMeta
	delivery        // what was delivered (resume.go)
	cursorsSet bool // delivery initialised
	tail       int  // tail bound of the next reopen
	// drainedStop is the FinishedAt of the last stop whose final read
	// completed, so a wake-up while stopped does not read it again.
	drainedStop int64
	// readSome: a line of the container was delivered. One removed
	// before that (see gone) may have lost every line, even with a stream
	// opened: 20.10's follower can end a stopping container's stream
	// before its last lines, and --rm removes it before a read to its end.
	readSome   bool
	catchingUp bool // read without follow until caught up (errBehind)
	// rotated is the write rate the last followed stream measured, when
	// it ended at its lifetime: the next stream starts from it. 20.10's
	// follower can skip a rotated file right at a stream's start (a
	// rotation between its opening the log and following it), after too
	// few lines for the stream's own rate to tell a skip from a pause
	// (under load, one file's stdout lines, 583, lost without a warning).
	rotated rateWindow
	// failingSince is when inspecting began to fail in a row (zero: it
	// did not): a burst of starts slows the daemon; only a failure that
	// lasts is worth a warning.
	failingSince time.Time
	rec          []byte // encoding scratch
	// stepWarned: the container's stamps went back once (warned).
	stepWarned bool
	// logPath is the json-file log the lines are read from ("": through
	// the API; see source.go), source what /health shows of that, and
	// notify the log directory's writes while it is followed.
	logPath string
	source  atomic.Pointer[string]
	notify  <-chan struct{}
	unwatch func()
}

// newMonitor makes the monitor of container id; hint is what an event or
// the list said of it (its name, image, labels), until it is inspected.
func newMonitor(e *Engine, id string, hint docker.Container) *monitor {
	m := &monitor{e: e, id: id, wakeup: make(chan struct{}, 1), died: make(chan struct{}, 1), tail: tailInitial, info: hint}
	m.shownName.Store(&hint.Name)
	return m
}

// started tells the monitor its container just started.
func (m *monitor) started() {
	m.ran.Store(true)
	m.startedEv.Store(true)
	m.wake()
}

// wake asks the monitor to look at its container again.
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

// run is the monitor's task. It returns when the container is gone; every
// other trouble is retried here, with backoff, keeping the cursors.
func (m *monitor) run(ctx context.Context, t *task) error {
	log := m.e.log
	defer m.stopWatching()
	var b backoff
	for ctx.Err() == nil {
		var err error
		if m.cursorsSet && m.startedEv.Swap(false) {
			// Just started: open its log before anything else. A
			// short-lived container (docker run --rm) can be removed
			// within milliseconds of its start, and only a stream opened
			// before that still reads its log. On a container already
			// stopped the daemon ends a follow at its last line.
			m.guessLogPath()
			_, err = m.read(ctx, t, readFollow)
		} else {
			var again bool
			if again, err = m.inspectAndRead(ctx, t, &b); again {
				continue
			}
			if err == errDone {
				return nil
			}
		}

		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			b.reset()
			m.retries.reset()
			m.failingSince = time.Time{}
		case errors.Is(err, errWidenTail):
			m.e.stats.Widened.Add(1)
		case isFileEnd(err):
			log.Debugf("container %s: %v; reopening it from where delivery stands", m.label(), err)
		case errors.Is(err, errFollowCut):
			log.Debugf("container %s: %v; reading the rest without follow", m.label(), err)
		case errors.Is(err, errBehind):
			m.catchingUp = true
			m.e.stats.CatchUps.Add(1)
			log.Debugf("container %s: behind its rotating log (max-size %d); reading it without follow until caught up", m.label(), m.info.RotateSize)
		case docker.IsGone(err):
			m.gone()
			return nil
		case docker.IsUnreadable(err):
			log.Warnf("container %s: its log driver cannot be read through the API; not collecting it: %v", m.label(), err)
			m.waitDestroyed(ctx, t)
			return nil
		case docker.IsTimeout(err):
			log.Debugf("container %s: log stream idle for %s, reopening", shortID(m.id), m.e.cfg.StreamIdleTimeout)
		case errors.Is(err, errQuiet):
			// Podman: a quiet container, not a stuck task.
			log.Debugf("container %s: no line yet on its log stream, reopening", shortID(m.id))
			t.Beat()
		default:
			m.logRetry("reading logs", err)
			t.wait(ctx, nil, b.delay())
		}
	}
	return nil
}

// followEndGrace is how long the followed API stream of a container that
// died may go on: dockerd ends it at the container's last line, but its
// follower (20.10) can stall on an entry it read half-written ("got error
// while decoding json ... unexpected EOF" in its log) and keep the stream
// open, silent: the container's last lines would wait for
// stream_idle_timeout.
const followEndGrace = 2 * time.Second

// errFollowCut is a followed stream cut followEndGrace after its
// container died.
var errFollowCut = fmt.Errorf("its log stream went on %s after it died", followEndGrace)

// cutAfterDeath cuts the stream (cut) if the container dies while it is
// followed and the stream is still open followEndGrace later; the returned
// func ends the watch.
func (m *monitor) cutAfterDeath(cut context.CancelFunc) (stop func()) {
	select { // a death before this stream: the daemon ends it by itself
	case <-m.died:
	default:
	}
	done := make(chan struct{})
	go func() {
		defer func() {
			if r := recover(); r != nil {
				m.e.log.Errorf("container %s: watching its stream: panicked: %v", m.label(), r)
			}
		}()
		select {
		case <-m.died:
		case <-done:
			return
		}
		select {
		case <-time.After(followEndGrace):
			cut()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// noteDeath tells a followed stream of the container's death (cutAfterDeath).
func (m *monitor) noteDeath() {
	select {
	case m.died <- struct{}{}:
	default:
	}
}

// stopWriteGrace is how long after a container's process exits dockerd may
// still write its output to the log, each line stamped as written: it
// waits up to 2 s for the output streams and 10 s for the log copier
// before it marks the container stopped. A lagging copier (a loaded host)
// stamps a stopped container's last lines after its FinishedAt, so lines
// delivered past FinishedAt do not show that the rest was read.
const stopWriteGrace = 12 * time.Second

// errDone ends a monitor whose container is gone or left out.
var errDone = errors.New("monitor done")

// inspectAndRead looks at the container and reads what its state calls
// for. again: nothing was read, look again (after a wait it did);
// errDone: the monitor's job is over.
func (m *monitor) inspectAndRead(ctx context.Context, t *task, b *backoff) (again bool, err error) {
	log := m.e.log
	ictx, cancel := context.WithTimeout(ctx, m.e.callTimeout)
	info, err := m.e.api.Inspect(ictx, m.id)
	cancel()
	switch {
	case ctx.Err() != nil:
		return false, errDone
	case docker.IsGone(err):
		return false, err
	case err != nil:
		m.logRetry("inspecting", err)
		t.wait(ctx, m.wakeup, b.delay())
		return true, nil
	}
	m.failingSince = time.Time{}
	if info.Running || info.FinishedAt != 0 {
		m.ran.Store(true)
	}
	if !m.cursorsSet && !m.e.cfg.Filter.Selects(info.Name, info.Image, info.Labels) {
		log.Debugf("container %s (%s, %s) is not selected by the filters", shortID(m.id), info.Name, info.Image)
		m.e.skip(m)
		return false, errDone
	}
	m.setInfo(info)

	switch {
	case info.Running && m.catchingUp:
		n, err := m.read(ctx, t, readCatchUp)
		if err == nil && (n == 0 || !m.behind(m.anchor.time, 0, 0)) {
			m.catchingUp = false
			m.e.log.Debugf("container %s: caught up with its log, following it", m.label())
		}
		return false, err
	case info.Running:
		start := time.Now()
		n, err := m.read(ctx, t, readFollow)
		if err == nil && n == 0 && time.Since(start) < time.Second {
			// A running container's stream that ends at once with
			// nothing new: do not spin on the daemon.
			t.wait(ctx, m.wakeup, b.delay())
			return true, nil
		}
		return false, err
	case info.FinishedAt != m.drainedStop && info.FinishedAt+int64(stopWriteGrace) >= m.oldestCursor():
		// Stopped with lines we may not have: read to the end once
		// (20.10's follower can miss a stopping container's last lines).
		_, err := m.read(ctx, t, readToEnd)
		if err == nil {
			m.drainedStop = info.FinishedAt
		}
		return false, err
	case m.isDestroyed():
		return false, errDone
	}
	t.wait(ctx, m.wakeup, 0) // until the next start
	return true, nil
}

// gone ends the monitor of a container that no longer exists. One that ran
// and was removed before any of its log could be read (on a busy host a
// docker run --rm can come and go between two requests) is said: its lines
// are lost, however many there were.
func (m *monitor) gone() {
	if m.readSome || !m.ran.Load() || !m.e.cfg.Filter.Selects(m.info.Name, m.info.Image, m.info.Labels) {
		m.e.log.Debugf("container %s is gone", m.label())
		return
	}
	m.e.stats.Lost.Add(1)
	m.e.log.Warnf("container %s ran and was removed before its log could be read: whatever it wrote is lost", m.label())
}

// quietRetries is how long a failure in a row is retried at debug level
// before it is worth a warning (a variable for the tests).
var quietRetries = 10 * time.Second

// logRetry logs a failure about to be retried: at debug level while it is
// new (a burst of container starts slows the daemon for a few seconds),
// then as a warning, its repeats at most once per repeatInterval. While the
// daemon cannot be reached at all the discovery loop says so; each monitor
// only at debug level.
func (m *monitor) logRetry(what string, err error) {
	now := time.Now()
	if m.failingSince.IsZero() {
		m.failingSince = now
	}
	if docker.IsConnectionFailed(err) || now.Sub(m.failingSince) < quietRetries {
		m.e.log.Debugf("container %s: %s: %v; retrying", m.label(), what, err)
		return
	}
	msg := fmt.Sprintf("%s: %v", what, err)
	if ok, held := m.retries.allow(msg, now); ok {
		m.e.log.Warnf("container %s: %s; retrying (failing for %s)%s", m.label(), msg, now.Sub(m.failingSince).Round(time.Second), held)
	}
}

// label names the container in log lines: its short ID, and its name
// once known.
func (m *monitor) label() string {
	if m.info.Name == "" {
		return shortID(m.id)
	}
	return shortID(m.id) + " (" + m.info.Name + ")"
}

// setInfo takes the container's description, and on first sight decides
// where reading starts: where the db's position says; else from its first
// line for a container created after the engine started (or with
// read_from_head), else from the engine's start (with a db: since the runs
// sharing it have watched).
func (m *monitor) setInfo(info docker.Container) {
	m.info = info
	m.chooseSource()
	m.meta = m.e.containerMeta(info)
	m.shownName.Store(&info.Name)
	if !m.cursorsSet {
		m.cursorsSet = true
		if m.e.pos != nil {
			if p, ok := m.e.pos.get(m.id); ok { // where the last run left off
				m.delivery = p.delivery
				return
			}
		}
		var from int64
		if !m.e.cfg.ReadFromHead && info.Created < m.e.watchFrom {
			from = m.e.watchFrom
		}
		for s := range m.cursors {
			m.cursors[s] = cursor{time: from, max: from}
		}
	}
}

// readMode is how a stream reads a container's log.
type readMode int

const (
	readFollow  readMode = iota // follow new lines (a running container)
	readCatchUp                 // to the end of the log, without follow (errBehind)
	readToEnd                   // to the end of a stopped container's log, where lines still awaiting their last chunk are final
)

// read reads one logs stream from the resume point and delivers every line
// not delivered yet. A followed stream ends when the container stops, when
// its idle deadline passes, after stream_lifetime once it has delivered
// something (a stream still catching up is not cut, or a large log would
// never be read), or when it falls behind a rotating log (errBehind). A
// non-followed one ends at the end of the log.
// It returns how many lines it delivered.
func (m *monitor) read(ctx context.Context, t *task, mode readMode) (delivered int, err error) {
	follow := mode == readFollow
	sctx, cut := context.WithCancel(ctx)
	defer cut()
	lr, tail, err := m.open(sctx, mode)
	if err != nil {
		return 0, err
	}
	// This goroutine alone reads and closes the stream.
	defer lr.Close()
	if follow && !lr.fromFile() {
		defer m.cutAfterDeath(cut)()
		defer func() {
			if err != nil && sctx.Err() != nil && ctx.Err() == nil {
				err = errFollowCut
			}
		}()
	}
	defer func() {
		if delivered > 0 {
			m.readSome = true
		}
	}()
	t.Beat() // an opened stream is progress, even on a quiet container
	m.e.stats.Streams.Add(1)
	if lr.fromFile() {
		m.e.stats.FileReads.Add(1)
	}
	opened := time.Now()
	lifetime := jittered(m.e.cfg.StreamLifetime)
	// With a tail bound, the resume point must come back before any new
	// line, or the bound cut lines off. Without one, a resume point that
	// does not come back is a gap: the daemon no longer holds those lines.
	rp := newReplay(&m.delivery, tail, m.coversCursor)
	watchRotation := follow && m.info.RotateSize > 0 && !lr.fromFile() // a file is followed by inode
	// The log's write rate, for the follower's distance behind a
	// rotating log and the files it may skip: from the stream before
	// when this one follows it at its lifetime (rotated), else from the
	// lines this stream reads.
	var rate rateWindow
	if watchRotation && m.rotated.from != 0 {
		rate, rate.carried = m.rotated, true
	}
	m.rotated = rateWindow{}
	behind := false // the last line delivered was written long before
	var clock lineClock
	for {
		e, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return delivered, err
		}
		t.Beat()
		h := m.delivery.hash(e.Line)
		v := rp.judge(e, h)
		if v.widen {
			m.widenTail()
			return delivered, errWidenTail
		}
		if v.gap {
			m.reportGap(e.Time)
		}
		if v.stepped > 0 {
			m.e.stats.Steps.Add(1)
			m.warnStep(v.stepped)
		}
		if watchRotation {
			if v.deliver && !v.gap && m.skipped(e.Time, rate.last, rate.from, rate.bytes) {
				m.e.log.Debugf("container %s: a line stamped %s after the one before it on its followed stream, a quarter of its max-size (%d) at its rate: its follower may have skipped a rotated file",
					m.label(), time.Duration(e.Time-rate.last), m.info.RotateSize)
				return delivered, errBehind // not delivered: the read without follow takes it
			}
			rate.read(e, v.deliver)
		}
		if !v.deliver {
			m.repeat()
			continue
		}
		_, held := lr.Pending()
		if err := m.deliver(ctx, t, e, h, !held); err != nil {
			return delivered, err // not delivered: the cursor stays before it
		}
		rp.delivered(e, h, held)
		delivered++
		if watchRotation && delivered%64 == 0 && m.behind(e.Time, rate.from, rate.bytes) {
			return delivered, errBehind
		}
		// A rotation, reopened where it ended, once the stream has caught
		// up: cut while behind (a backlog, lines faster than the hand-over,
		// a paused Fluent Bit), the reopen would read its margin again, and
		// lines flowing show the daemon's follower is not stuck.
		now := clock.at(e.Time)
		behind = now-e.Time > int64(caughtUpLag)
		if follow && !behind && now-opened.UnixNano() >= int64(lifetime) {
			m.e.stats.Rotations.Add(1)
			if watchRotation {
				m.rotated = rate
			}
			break
		}
	}
	if rp.resumed && !behind {
		// Caught up, the next reopen finds only what is written in
		// between; still behind, the bound that reached back is kept.
		m.tail = tailInitial
	}
	if mode == readToEnd {
		for _, e := range lr.Flush() {
			h := m.delivery.hash(e.Line)
			if m.admitFinal(e, h) {
				if err := m.deliver(ctx, t, e, h, true); err != nil {
					return delivered, err
				}
				delivered++
			}
		}
	}
	return delivered, nil
}

// lineClock is the time as a stream's loop needs it, to the tens of
// milliseconds: caught up or not (caughtUpLag, a second) and the stream's
// lifetime (seconds). It reads the system clock once per 64 lines, or once
// the lines' stamps moved on 50 ms (a line that comes after a wait),
// instead of twice a line: time.Now is ~70 ns here, twice that ~5% of a
// busy line's whole cost.
type lineClock struct {
	now, stamp int64 // the last reading, and the stamp of the line it was read for
	lines      int   // lines since
}

func (c *lineClock) at(stamp int64) int64 {
	c.lines++
	if c.lines >= 64 || stamp-c.stamp > int64(50*time.Millisecond) || stamp < c.stamp {
		c.now, c.stamp, c.lines = time.Now().UnixNano(), stamp, 0
	}
	return c.now
}

// repeat counts a line read again and dropped: it was delivered before.
func (m *monitor) repeat() {
	m.repeats.Add(1)
	m.e.stats.Duplicates.Add(1)
}

// caughtUpLag is how old a line may be when read for its stream to count
// as caught up with its container.
const caughtUpLag = time.Second

// jsonFileEntryOverhead is what json-file adds to a line on disk (its
// keys, stream and stamp), roughly.
const jsonFileEntryOverhead = 64

// behind reports whether the line stamped at was read so long after it
// was written that the log has meanwhile grown by more than half its
// rotation size, at the rate the stamps show since from (bytes written
// since then; with from 0, any lag past a second). The daemon's follower
// then risks skipping a whole rotated file.
func (m *monitor) behind(at, from, bytes int64) bool {
	lag := time.Now().UnixNano() - at
	if from == 0 || at <= from {
		return lag > int64(time.Second)
	}
	return grownIn(lag, bytes, at-from) > float64(m.info.RotateSize)/2
}

// grownIn is how many bytes a log grows in d at the rate of bytes written
// over span.
func grownIn(d, bytes, span int64) float64 {
	return float64(bytes) / float64(span) * float64(d) // bytes/ns × ns
}

// rateWindow is a followed log's write rate as its streams read it: the
// bytes its lines take on disk since the line stamped from, and the newest
// stamp read (last).
type rateWindow struct {
	from, bytes, last int64
	// carried: counted by the stream before too, so a line read again
	// (a repeat) is not counted twice.
	carried bool
}

// read counts a line read; deliver: it is new.
func (w *rateWindow) read(e docker.Entry, deliver bool) {
	if w.from == 0 {
		w.from = e.Time
	}
	if deliver || !w.carried {
		w.bytes += int64(len(e.Line)) + jsonFileEntryOverhead
	}
	w.last = max(w.last, e.Time)
}

// skipped reports whether a followed stream's new line, stamped at, comes
// so long after the newest one before it (last) that the log grew by a
// quarter of its rotation size in between, at the rate the stamps show
// since from (bytes read since then). 20.10's follower, behind at a
// rotation, goes on with the current file and skips every file rotated in
// between (errBehind), with no sign in the stream but this jump; the line
// is then read without follow, which reads those files if they are still
// held, or reports the gap. The rate counts once the stream read a quarter
// of a file, or over a span at least as long as the jump: a pause after a
// burst is taken for a skip only after a quarter of a file, so at most
// four reads without follow per rotation (more only with a max-size below
// the few lines a reopen reads again, some 100 KB).
func (m *monitor) skipped(at, last, from, bytes int64) bool {
	jump, span, quarter := at-last, last-from, float64(m.info.RotateSize)/4
	if from == 0 || jump <= 0 || span < jump && float64(bytes) < quarter {
		return false
	}
	return grownIn(jump, bytes, max(span, 1)) > quarter
}

// jittered is a stream's lifetime: stream_lifetime less up to a quarter,
// at random, so the streams of containers started together (all of them,
// at the plugin's start) do not all reopen in the same second, each
// rotation a burst of requests to the daemon and of delayed lines (make
// bench-scale, P4).
func jittered(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// warnStep says, once per container, that its lines went back in time:
// they are delivered in the log's order.
func (m *monitor) warnStep(back int64) {
	if m.stepWarned {
		return
	}
	m.stepWarned = true
	m.e.log.Warnf("container %s: a line is stamped %s before one already delivered (the daemon's clock stepped back?); delivering its lines in the order of its log",
		m.label(), time.Duration(back))
}

// reportGap warns that lines after the resume point are no longer held by
// the daemon (rotated away while the plugin was down or paused): they are
// lost, and the user is told, not left to guess.
func (m *monitor) reportGap(next int64) {
	m.e.stats.Gaps.Add(1)
	m.e.log.Warnf("container %s: lines between %s and %s are no longer held by the daemon (its log was rotated); they cannot be delivered",
		m.label(), time.Unix(0, m.anchor.time).UTC().Format(time.RFC3339Nano), time.Unix(0, next).UTC().Format(time.RFC3339Nano))
}

// deliver encodes a new line into the buffer, waiting (and beating) while
// the buffer is full or paused: the backlog stays in Docker's log files.
// isAnchor says every line before it was delivered (see anchor).
func (m *monitor) deliver(ctx context.Context, t *task, e docker.Entry, h uint64, isAnchor bool) error {
	if m.renamed.Load() {
		m.applyRename()
	}
	if e.Truncated {
		m.e.stats.Truncated.Add(1)
	}
	m.rec = appendRecord(m.rec[:0], e, &m.meta)
	mk := mark{id: m.id, tag: m.meta.tag, stream: uint8(e.Stream), time: e.Time, hash: h, anchor: isAnchor, pos: e.Pos}
	for {
		ok, room := m.e.buf.TryPut(m.rec, mk)
		if ok {
			m.e.stats.Records.Add(1)
			m.counts[e.Stream].records.Add(1)
			m.counts[e.Stream].bytes.Add(int64(len(e.Line)))
			return nil
		}
		if !t.wait(ctx, room, 0) {
			return ctx.Err()
		}
	}
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
		m.meta = m.e.containerMeta(m.info)
		m.shownName.Store(&name)
	}
}

// displayName is the container's name as its records carry it now.
func (m *monitor) displayName() string {
	if n := m.shownName.Load(); n != nil {
		return *n
	}
	return ""
}

// waitDestroyed idles a monitor whose container cannot be read until the
// container goes away, so the discovery loop does not start another.
func (m *monitor) waitDestroyed(ctx context.Context, t *task) {
	for !m.isDestroyed() && t.wait(ctx, m.wakeup, 0) {
	}
}
