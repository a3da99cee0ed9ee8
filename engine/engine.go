// Package engine is the plugin's pure-Go core: it discovers containers,
// runs one monitor per container that reads its logs exactly once, and
// buffers the encoded records for the collect callback.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Timings that are not configuration keys.
const (
	// maxCallTimeout bounds every request that is not a stream (less with
	// a short heartbeat_timeout: a call must never outlast a heartbeat).
	maxCallTimeout = 10 * time.Second
	// stopTimeout bounds how long Stop waits for every goroutine.
	stopTimeout = 5 * time.Second
	backoffMin  = 250 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// Engine is one instance of the input.
type Engine struct {
	cfg   conf.Config
	name  string
	api   docker.API
	log   *Logger
	start int64 // unix nanoseconds when the engine started
	// watchFrom is where reading starts for a container created before
	// it, unless read_from_head: the start, or with a db, since when the
	// runs sharing it have watched (positions.watching).
	watchFrom int64
	buf       *Buffer

	ctx    context.Context
	cancel context.CancelFunc
	sup    *supervisor
	stats  Stats
	pos    *positions // nil without db
	// callTimeout bounds every request that is not a stream.
	callTimeout time.Duration

	mu       sync.Mutex
	monitors map[string]*monitor // by container ID
	// skipped are containers the filters leave out (not monitored).
	skipped map[string]bool
	selfID  string // the container the plugin runs in, if any, unless include_self
	// hostname is every record's hostname field: the key, else the
	// daemon's host name once discovery has asked for it.
	hostname string
	// daemonTrouble holds back the repeats of one kind of failure to
	// reach or read the daemon (troubleKind) until it answers again.
	daemonTrouble repeatLimiter
	stopped       bool
	// inotifyWarned: the inotify instance limit was said (checkInotifyLocked).
	inotifyWarned bool
	// filesUnreadableNoted: source auto said why it reads through the API.
	filesUnreadableNoted atomic.Bool
	// eventsSince is the time of the last event seen, to replay from when
	// the events stream is reopened.
	eventsSince int64

	daemonUp atomic.Bool  // the daemon answered discovery's last call
	files    *fileWatcher // wakes the readers of json-file logs (source file, auto)
	// containersDir is where json-file logs are, as seen here, once known.
	containersDir atomic.Pointer[string]
	metrics       *metrics
	status        *statusServer // nil without status_listen
	// pausedSince is when Fluent Bit paused the input (zero: running);
	// pausedTotal the time of the pauses that ended.
	pauseMu     sync.Mutex
	pausedSince time.Time
	pausedTotal time.Duration

	out []byte // the last collect's buffer, reused
	// retry: out (and its marks in inflight) did not reach Fluent Bit (a
	// failed allocation, Retry, or a refused append): it goes first next time.
	retry bool
	// allocFailing: Retry was called and no hand-over went through since
	// (a run of failures is logged once).
	allocFailing bool
	inflight     []mark // positions of the records handed over, until acknowledged
	// direct: records go straight into Fluent Bit (Deliver), not through
	// the collect buffer; refusedSince is when its refusals began.
	direct       atomic.Bool
	refusedSince time.Time
	// waker wakes the host's event collector (nil: the 1 s collect only);
	// ramp bounds its appends after a resume; delivered is what the last
	// deliver appended.
	waker     atomic.Pointer[waker]
	ramp      ramp
	delivered int
	// pieces cut out (and inflight) by tag; those from next on are not
	// appended yet. The rest is splitByTag's reused scratch.
	pieces                  []piece
	next                    int
	grouped                 []byte
	groupedMarks            []mark
	groupOf                 []int
	groups                  []tagGroup
	groupOfTag, lastGroupOf map[string]int
	// cappedSince is when collects began to be capped at chunk_max_size
	// with more waiting (zero: the last one was not); lastCapWarn when that
	// was last said.
	cappedSince, lastCapWarn time.Time
}

// NewClient makes the Docker client an engine with this configuration uses.
func NewClient(cfg conf.Config) (*docker.Client, error) {
	o := docker.Options{Host: cfg.DockerHost, StreamIdleTimeout: cfg.StreamIdleTimeout,
		LabelFilters: cfg.Filter.APILabelFilters(), APIVersion: cfg.APIVersion}
	if t := cfg.TLS; t != nil {
		o.TLS = &docker.TLSOptions{Verify: t.Verify, CA: t.CA, Cert: t.Cert, Key: t.Key}
	}
	return docker.New(o)
}

// New makes an engine reading through api; Start starts it.
func New(cfg conf.Config, name string, api docker.API, log *Logger) *Engine {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg: cfg, name: name, api: api, log: log,
		buf:         NewBuffer(int(cfg.BufferMaxSize)),
		callTimeout: min(maxCallTimeout, cfg.HeartbeatTimeout/2),
		ctx:         ctx,
		cancel:      cancel,
		monitors:    map[string]*monitor{},
		skipped:     map[string]bool{},
	}
	e.metrics = newMetrics(e)
	return e
}

// Start starts discovery, and the status endpoint when configured. It fails
// only when status_listen cannot be bound (then nothing is started): an
// unreachable daemon is logged and retried until it appears.
func (e *Engine) Start() error {
	if e.cfg.StatusListen != "" {
		if err := e.serveStatus(); err != nil {
			return fmt.Errorf("invalid status_listen %q: %w", e.cfg.StatusListen, err)
		}
	}
	e.start = time.Now().UnixNano()
	// The first subscription replays the events since the start: a
	// container started (and even removed) before it is then read, or
	// named as lost, never missed in silence.
	e.eventsSince = e.start
	if !e.cfg.IncludeSelf {
		var why string
		if e.selfID, why = docker.SelfContainerID(); e.selfID != "" {
			e.log.Infof("running in container %s (from its %s): not collecting its own logs (include_self)", shortID(e.selfID), why)
		} else {
			e.log.Infof("not running in a container (%s)", why)
		}
	}
	e.sup = newSupervisor(e.ctx, e.log, e.cfg.HeartbeatTimeout)
	e.watchFrom = e.start
	if e.cfg.Source != conf.SourceAPI {
		e.files = newFileWatcher(e.log)
	}
	if e.cfg.DB != "" {
		e.pos = openPositions(e.cfg.DB, e.cfg.DBCommitDelay, e.log)
		e.watchFrom = e.pos.watching(e.start)
		e.sup.start("positions", func(ctx context.Context, t *task) error {
			return e.pos.run(ctx, t, e.cfg.DBSyncInterval, e.liveIDs)
		})
	}
	e.sup.start("discovery", e.discover)
	return nil
}

// liveIDs lists the containers being monitored.
func (e *Engine) liveIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.monitors))
	for id := range e.monitors {
		ids = append(ids, id)
	}
	return ids
}

// Status reports every task of the engine.
func (e *Engine) Status() []TaskStatus { return e.sup.status() }

// Collect returns the oldest buffered records, whole, up to chunk_max_size
// bytes (or one larger record alone); nil when none. It never blocks. The
// result is valid until the next call.
func (e *Engine) Collect() []byte {
	if e.retry {
		e.retry = false
		return e.out
	}
	e.allocFailing = false // the last hand-over went through
	n := len(e.inflight)
	e.out, e.inflight = e.buf.Take(int(e.cfg.ChunkMaxSize), e.out[:0], e.inflight)
	e.buf.Settle()
	e.noteCap(len(e.out))
	if len(e.inflight) == n {
		return nil
	}
	e.stats.Collects.Add(1)
	e.metrics.observeDelivery(e.inflight[n:], time.Now())
	return e.out
}

// Thresholds of the warning that the collect bound is the bottleneck
// (variables for the tests).
var (
	cappedFor       = 10 * time.Second
	capWarnInterval = 5 * time.Minute
)

// noteCap tracks collects that hand over a full chunk_max_size with more
// waiting: the instance's bound, not Docker or Fluent Bit, limits it. Said
// once it has lasted cappedFor, then at most every capWarnInterval.
func (e *Engine) noteCap(handed int) {
	full := int64(handed)+int64(e.cfg.ChunkMaxSize)/10 >= e.cfg.ChunkMaxSize && e.buf.Len() > 0
	if !full {
		e.cappedSince = time.Time{}
		return
	}
	e.stats.CappedCollects.Add(1)
	now := time.Now()
	if e.cappedSince.IsZero() {
		e.cappedSince = now
	}
	if now.Sub(e.cappedSince) >= cappedFor && now.Sub(e.lastCapWarn) >= capWarnInterval {
		e.lastCapWarn = now
		e.log.Warnf("containers write faster than this instance may hand over: every collect for %s carried chunk_max_size (%d bytes) with more waiting; the backlog waits in Docker's log files (nothing is lost, but it falls behind). Raise chunk_max_size if your outputs accept larger chunks, or split the containers across several inputs with shard",
			now.Sub(e.cappedSince).Round(time.Second), e.cfg.ChunkMaxSize)
	}
}

// Retry says what the last Collect returned did not reach Fluent Bit (no
// memory for its copy): the next Collect returns it again, first, so it is
// neither lost nor acknowledged before Fluent Bit has it. Said once per
// run of failures.
func (e *Engine) Retry() {
	if len(e.out) == 0 {
		return
	}
	e.stats.RetriedCollects.Add(1)
	if !e.allocFailing {
		e.allocFailing = true
		e.log.Errorf("could not allocate %d bytes to hand records to Fluent Bit; the next collect hands them over", len(e.out))
	}
	e.retry = true
}

// Ack tells the engine Fluent Bit has taken what Collect handed over (the
// cleanup callback): only now do the positions advance past it.
func (e *Engine) Ack() {
	e.stats.Handed.Add(int64(len(e.inflight)))
	if e.pos != nil {
		e.pos.ack(e.inflight)
	}
	clear(e.inflight)
	e.inflight = e.inflight[:0]
}

// Pause stops all reading from Docker until Resume; both are idempotent.
func (e *Engine) Pause() {
	e.pauseMu.Lock()
	if e.pausedSince.IsZero() {
		e.pausedSince = time.Now()
	}
	e.pauseMu.Unlock()
	e.buf.SetPaused(true)
	if e.pos != nil {
		e.pos.hold(true)
	}
}

func (e *Engine) Resume() {
	e.pauseMu.Lock()
	if !e.pausedSince.IsZero() {
		e.pausedTotal += time.Since(e.pausedSince)
		e.pausedSince = time.Time{}
	}
	e.pauseMu.Unlock()
	e.buf.SetPaused(false)
	if e.pos != nil {
		e.pos.hold(false)
	}
	if w := e.waker.Load(); w != nil {
		e.ramp.begin(time.Now())
		if e.buf.Len() > 0 {
			w.taken() // the wake the pause swallowed
			w.wake()
		}
	}
}

func (e *Engine) isPaused() bool {
	e.pauseMu.Lock()
	defer e.pauseMu.Unlock()
	return !e.pausedSince.IsZero()
}

// pausedFor is how long the input has been paused in all.
func (e *Engine) pausedFor() time.Duration {
	e.pauseMu.Lock()
	defer e.pauseMu.Unlock()
	d := e.pausedTotal
	if !e.pausedSince.IsZero() {
		d += time.Since(e.pausedSince)
	}
	return d
}

// Stop ends every goroutine of the engine, waiting at most stopTimeout,
// and closes the client. It is idempotent.
func (e *Engine) Stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	e.mu.Unlock()
	var live []string
	if e.pos != nil {
		live = e.liveIDs()
	}
	e.cancel()
	if w := e.waker.Load(); w != nil {
		w.stop()
	}
	done := make(chan struct{})
	go func() { e.sup.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		e.log.Errorf("stop: goroutines still running after %s", stopTimeout)
	}
	if e.status != nil {
		e.status.stop()
	}
	if e.files != nil {
		e.files.close()
	}
	if e.pos != nil {
		if err := e.pos.flush(live); err != nil {
			e.log.Errorf("db %s: writing positions at exit: %v", e.cfg.DB, err)
		}
	}
	e.api.Close()
}

// backoff spaces retries exponentially, from backoffMin to backoffMax.
type backoff struct{ next time.Duration }

func (b *backoff) reset() { b.next = 0 }

func (b *backoff) delay() time.Duration {
	if b.next == 0 {
		b.next = backoffMin
	} else {
		b.next = min(2*b.next, backoffMax)
	}
	return b.next
}

// discover follows the daemon's container events and keeps one monitor per
// container. After every (re)connect of the events stream it reconciles
// with a full list, because the daemon replays at most its last 256 events
// and none across its own restart. The events stream is silent while no
// container changes, so liveness comes from a ping every quarter of the
// heartbeat timeout. It returns an error when the daemon is lost; the
// supervisor restarts it with backoff.
func (e *Engine) discover(ctx context.Context, t *task) error {
	pingCtx, cancel := context.WithTimeout(ctx, e.callTimeout)
	err := e.api.Ping(pingCtx)
	cancel()
	if err != nil {
		e.daemonUp.Store(false)
		if ok, held := e.daemonTrouble.allow(troubleKind("ping", err), time.Now()); ok {
			e.log.Warnf("docker at %s: cannot reach the daemon: %s; retrying%s", docker.HostLabel(e.cfg.DockerHost), errText(err), held)
		}
		return fmt.Errorf("cannot reach the daemon: %w", err)
	}
	evCtx, cancelEvents := context.WithCancel(ctx)
	defer cancelEvents()
	// Subscribe before listing, so nothing falls between the two.
	e.mu.Lock()
	since := e.eventsSince
	e.mu.Unlock()
	events, err := e.api.Events(evCtx, since)
	if err != nil {
		return e.lost("events", err)
	}
	listCtx, cancel := context.WithTimeout(ctx, e.callTimeout)
	list, err := e.api.List(listCtx)
	cancel()
	if err != nil {
		return e.lost("listing containers", err)
	}
	e.resolveHostname(ctx)
	e.learnContainersDir(ctx)
	e.reconcile(list)
	e.daemonUp.Store(true)
	e.daemonTrouble.reset()
	e.log.Infof("connected to docker at %s: %d containers", docker.HostLabel(e.cfg.DockerHost), len(list))
	t.Beat()

	// Events are read in their own goroutine, so the daemon never waits on
	// us (a slow subscriber loses events) and the pings below go on.
	type result struct {
		ev  docker.Event
		err error
	}
	evs := make(chan result, 256)
	go func() {
		defer close(evs)
		defer func() {
			if r := recover(); r != nil {
				e.log.Errorf("events reader panicked: %v\n%s", r, debug.Stack())
			}
		}()
		for {
			ev, err := events.Next(evCtx)
			select {
			case evs <- result{ev, err}:
			case <-evCtx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancelEvents()
		for range evs { // until the reader has returned
		}
	}()
	tick := time.NewTicker(max(e.cfg.HeartbeatTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case r, ok := <-evs:
			if !ok {
				return ctx.Err()
			}
			if r.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return e.lost("events stream", r.err)
			}
			e.handleEvent(r.ev)
			t.Beat()
		case <-tick.C:
			pingCtx, cancel := context.WithTimeout(ctx, e.callTimeout)
			err := e.api.Ping(pingCtx)
			cancel()
			if err != nil {
				return e.lost("ping", err)
			}
			t.Beat()
		case <-ctx.Done():
			return nil
		}
	}
}

// resolveHostname settles the records' hostname field, before the first
// monitor starts: the hostname key, else the daemon's name (the machine
// the containers run on, wherever Fluent Bit runs), else Fluent Bit's host
// name when the daemon does not say.
func (e *Engine) resolveHostname(ctx context.Context) {
	e.mu.Lock()
	known := e.hostname != ""
	e.mu.Unlock()
	if known {
		return
	}
	name := e.cfg.Hostname
	if name == "" {
		ictx, cancel := context.WithTimeout(ctx, e.callTimeout)
		var err error
		if name, err = e.api.HostName(ictx); err != nil || name == "" {
			e.log.Debugf("the daemon did not give its host name (%v); records carry this host's", err)
			name, _ = os.Hostname()
		}
		cancel()
	}
	e.mu.Lock()
	e.hostname = name
	e.mu.Unlock()
}

// containerMeta encodes the fields every record of a container carries.
func (e *Engine) containerMeta(c docker.Container) containerMeta {
	e.mu.Lock()
	hostname := e.hostname
	e.mu.Unlock()
	m := newContainerMeta(c, hostname, e.cfg.AttachesLabel, e.cfg.OmitFields)
	if t := e.cfg.TagTemplate; t != nil {
		m.tag = t.Expand(func(field string) string {
			switch field {
			case "container_name":
				return c.Name
			case "container_id":
				return c.ID
			case "short_id":
				return shortID(c.ID)
			case "image":
				return c.Image
			case "compose_project":
				return c.Labels[composeProjectLabel]
			case "compose_service":
				return c.Labels[composeServiceLabel]
			}
			return ""
		})
	}
	return m
}

func (e *Engine) lost(op string, err error) error {
	e.daemonUp.Store(false)
	if e.ctx.Err() == nil {
		e.stats.Reconnects.Add(1)
		if ok, held := e.daemonTrouble.allow(troubleKind(op, err), time.Now()); ok {
			e.log.Warnf("docker at %s: %s: %s; reconnecting%s", docker.HostLabel(e.cfg.DockerHost), op, errText(err), held)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// troubleKind is the kind of a failure to reach or read the daemon during
// op, not its text: a daemon answering garbage words each failure
// differently, and each kind is said once a repeatInterval.
func troubleKind(op string, err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch s := err.Error(); {
	case docker.IsConnectionFailed(err):
		return "unreachable"
	case errors.As(err, &syntax) || errors.As(err, &typ) || strings.Contains(s, "malformed") ||
		strings.Contains(s, "invalid character") || strings.Contains(s, "cannot unmarshal"):
		return "malformed answer"
	default:
		return op
	}
}

// errTextMax is how much of an error's text a warning quotes.
const errTextMax = 160

// errText is err's text for a log line: without the request's URL (the
// socket's path, escaped), the bytes of a garbage answer in it escaped
// (\xNN), and cut after errTextMax bytes.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < errTextMax; {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || !unicode.IsPrint(r) {
			fmt.Fprintf(&b, "\\x%02x", s[i])
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	if b.Len() >= errTextMax {
		b.WriteString("...")
	}
	return b.String()
}

// reconcile makes the monitors match the daemon's list: a monitor for every
// container, a wake-up for every running one (an event may have been
// missed), and an end for those gone.
func (e *Engine) reconcile(list []docker.Container) {
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := make(map[string]bool, len(list))
	for _, c := range list {
		seen[c.ID] = true
		if m := e.ensureMonitorLocked(c.ID, c); m != nil && c.Running {
			m.wake()
		}
	}
	for id, m := range e.monitors {
		if !seen[id] {
			m.destroy()
		}
	}
}

func (e *Engine) handleEvent(ev docker.Event) {
	e.log.Debugf("event %s %.12s %s", ev.Action, ev.ID, ev.Name)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.eventsSince = max(e.eventsSince, ev.Time)
	switch ev.Action {
	case "create":
		e.ensureMonitorLocked(ev.ID, ev.Container())
	case "start", "restart":
		if m := e.ensureMonitorLocked(ev.ID, ev.Container()); m != nil {
			m.started()
		}
	case "rename":
		if m := e.monitors[ev.ID]; m != nil {
			m.rename(ev.Name)
		} else if e.skipped[ev.ID] { // its new name may be one the filters select
			delete(e.skipped, ev.ID)
			e.ensureMonitorLocked(ev.ID, ev.Container())
		}
	case "die":
		if m := e.monitors[ev.ID]; m != nil {
			m.wake() // a followed file does not end by itself (see source.go)
			m.noteDeath()
		}
	case "destroy":
		delete(e.skipped, ev.ID)
		if m := e.monitors[ev.ID]; m != nil {
			m.destroy()
		}
	}
}

// inotifyInstances is where the kernel's per-user limit of inotify
// instances is read (a variable for the tests).
var inotifyInstances = "/proc/sys/fs/inotify/max_user_instances"

// checkInotifyLocked warns once when this instance follows more
// containers through the API of a local daemon than the kernel lets one
// user have inotify instances: dockerd (20.10 to 28) watches each followed
// json-file log with an instance of its own, and past the limit it polls
// the file every 200 ms instead, so lines reach the plugin up to 200 ms
// late (BENCHMARKS.md, P4: 500 containers, p99 199 ms at the default 128,
// 4 ms past it, for any reader of the API). Not when json-file logs are
// read from disk here (source file or auto), which the API does not watch.
func (e *Engine) checkInotifyLocked() {
	filesRead := e.cfg.Source != conf.SourceAPI && e.containersDir.Load() != nil
	if e.inotifyWarned || filesRead || !strings.HasPrefix(e.cfg.DockerHost, "unix://") {
		return
	}
	b, err := os.ReadFile(inotifyInstances)
	if err != nil {
		return
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || len(e.monitors) <= limit {
		return
	}
	e.inotifyWarned = true
	e.log.Warnf("following %d containers through the API, more than fs.inotify.max_user_instances (%d): dockerd then polls the logs of the others every 200 ms, and their lines arrive up to 200 ms late; raise it (sysctl -w fs.inotify.max_user_instances=8192) on the daemon's host", len(e.monitors), limit)
}

// ensureMonitorLocked returns the container's monitor, started if need be,
// or nil for a container of another shard. hint is what is known of the
// container until its monitor inspects it.
func (e *Engine) ensureMonitorLocked(id string, hint docker.Container) *monitor {
	if m := e.monitors[id]; m != nil {
		return m
	}
	if e.skipped[id] || id == e.selfID || !InShard(id, e.cfg.ShardIndex, e.cfg.ShardCount) {
		return nil
	}
	m := newMonitor(e, id, hint)
	e.monitors[id] = m
	e.checkInotifyLocked()
	e.sup.start("monitor "+shortID(id), func(ctx context.Context, t *task) error {
		err := m.run(ctx, t)
		// Only a monitor whose container is gone leaves the map. A panic
		// never gets here: the supervisor restarts the same monitor, and
		// another one for the container would read its log again.
		if err == nil && ctx.Err() == nil {
			e.monitorDone(m)
		}
		return err
	})
	return m
}

// skip records that the filters leave a container out, so it is not
// monitored again (until a rename, which may change that).
func (e *Engine) skip(m *monitor) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.monitors[m.id] == m {
		e.skipped[m.id] = true
	}
}

// monitorDone removes m once its container is gone.
func (e *Engine) monitorDone(m *monitor) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.monitors[m.id] == m {
		delete(e.monitors, m.id)
	}
}

// InShard reports whether a container belongs to shard index (1-based) of
// count; with count 0 every container does. The hash is stable across
// processes and versions: FNV-1a 64 of the full ID.
func InShard(id string, index, count int) bool {
	if count <= 0 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return int(h.Sum64()%uint64(count)) == index-1
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Name is the instance's name, as its log lines and metrics show it.
func (e *Engine) Name() string { return e.name }

// Logger is the instance's logger.
func (e *Engine) Logger() *Logger { return e.log }
