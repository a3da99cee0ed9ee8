// Package engine is the plugin's pure-Go core: it discovers containers,
// runs one monitor per container that reads its logs exactly once, and
// buffers the encoded records for the collect callback.
package engine

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Timings that are not configuration keys (yet).
const (
	// callTimeout bounds every request that is not a stream.
	callTimeout = 10 * time.Second
	// streamIdleTimeout is the idle read deadline of a log stream.
	streamIdleTimeout = 5 * time.Minute
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
	buf   *Buffer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	monitors map[string]*monitor // by container ID; owned by the discovery loop
	stopped  bool

	out []byte // the last collect's buffer, reused
}

// NewClient makes the Docker client an engine with this configuration uses.
func NewClient(cfg conf.Config) (*docker.Client, error) {
	return docker.New(docker.Options{Host: cfg.DockerHost, StreamIdleTimeout: streamIdleTimeout})
}

// New makes an engine reading through api; Start starts it.
func New(cfg conf.Config, name string, api docker.API, log *Logger) *Engine {
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		cfg: cfg, name: name, api: api, log: log,
		buf:      NewBuffer(int(cfg.BufferMaxSize)),
		ctx:      ctx,
		cancel:   cancel,
		monitors: map[string]*monitor{},
	}
}

// Start starts discovery. It never fails: an unreachable daemon is logged
// and retried until it appears.
func (e *Engine) Start() {
	e.start = time.Now().UnixNano()
	e.goSafe("discovery", e.discover)
}

// Collect returns the oldest buffered records, whole, up to chunk_max_size
// bytes (or one larger record alone); nil when none. It never blocks. The
// result is valid until the next call.
func (e *Engine) Collect() []byte {
	var n int
	e.out, n = e.buf.Take(int(e.cfg.ChunkMaxSize), e.out[:0])
	if n == 0 {
		return nil
	}
	return e.out
}

// Pause stops all reading from Docker until Resume; both are idempotent.
func (e *Engine) Pause()  { e.buf.SetPaused(true) }
func (e *Engine) Resume() { e.buf.SetPaused(false) }

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
	e.cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		e.log.Errorf("stop: goroutines still running after %s", stopTimeout)
	}
	e.api.Close()
}

// goSafe runs fn in a goroutine owned by the engine. A panic is recovered
// (a panic in a goroutine of the .so would kill Fluent Bit), logged with its
// stack, and fn is started again after a backoff.
func (e *Engine) goSafe(what string, fn func(ctx context.Context)) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		var b backoff
		for e.ctx.Err() == nil {
			if !e.runRecovered(what, fn) {
				return
			}
			if !b.wait(e.ctx, nil) {
				return
			}
		}
	}()
}

// runRecovered runs fn and reports whether it panicked.
func (e *Engine) runRecovered(what string, fn func(ctx context.Context)) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Errorf("%s panicked, restarting it: %v\n%s", what, r, debug.Stack())
			panicked = true
		}
	}()
	fn(e.ctx)
	return false
}

// backoff waits exponentially longer between retries.
type backoff struct{ next time.Duration }

func (b *backoff) reset() { b.next = 0 }

// wait sleeps for the next backoff step, or until wake receives or ctx
// ends; it reports false when ctx ended.
func (b *backoff) wait(ctx context.Context, wake <-chan struct{}) bool {
	if b.next == 0 {
		b.next = backoffMin
	} else {
		b.next = min(2*b.next, backoffMax)
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
		return false
	}
	return true
}

// discover follows the daemon's container events and keeps one monitor per
// container. After every (re)connect of the events stream it reconciles
// with a full list, because the daemon replays at most its last 256 events
// and none across its own restart.
func (e *Engine) discover(ctx context.Context) {
	defer e.stopMonitors()
	var b backoff
	var since int64 // the last event seen, to replay from on reconnect
	for ctx.Err() == nil {
		err := e.followEvents(ctx, &since, &b)
		if ctx.Err() != nil {
			return
		}
		e.log.Warnf("docker at %s: %v; retrying", docker.HostLabel(e.cfg.DockerHost), err)
		if !b.wait(ctx, nil) {
			return
		}
	}
}

func (e *Engine) followEvents(ctx context.Context, since *int64, b *backoff) error {
	pingCtx, cancel := context.WithTimeout(ctx, callTimeout)
	err := e.api.Ping(pingCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("cannot reach the daemon: %w", err)
	}
	evCtx, cancelEvents := context.WithCancel(ctx)
	defer cancelEvents()
	// Subscribe before listing, so nothing falls between the two.
	events, err := e.api.Events(evCtx, *since)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	listCtx, cancel := context.WithTimeout(ctx, callTimeout)
	list, err := e.api.List(listCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	e.reconcile(list)
	e.log.Infof("connected to docker at %s: %d containers", docker.HostLabel(e.cfg.DockerHost), len(list))
	b.reset()
	for {
		ev, err := events.Next(evCtx)
		if err != nil {
			return fmt.Errorf("events stream: %w", err)
		}
		*since = ev.Time
		e.handleEvent(ev)
	}
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
		m := e.ensureMonitorLocked(c.ID)
		if c.Running {
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
	switch ev.Action {
	case "create", "start", "restart":
		e.ensureMonitorLocked(ev.ID).wake()
	case "rename":
		if m := e.monitors[ev.ID]; m != nil {
			m.rename(ev.Name)
		}
	case "destroy":
		if m := e.monitors[ev.ID]; m != nil {
			m.destroy()
		}
	}
}

func (e *Engine) ensureMonitorLocked(id string) *monitor {
	if m := e.monitors[id]; m != nil {
		return m
	}
	m := newMonitor(e, id)
	e.monitors[id] = m
	e.goSafe("monitor "+shortID(id), m.run)
	return m
}

// monitorDone removes m once its container is gone.
func (e *Engine) monitorDone(m *monitor) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.monitors[m.id] == m {
		delete(e.monitors, m.id)
	}
}

func (e *Engine) stopMonitors() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.monitors)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
