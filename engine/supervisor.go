package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// TaskState is where a supervised task stands.
type TaskState string

const (
	TaskRunning    TaskState = "running"
	TaskRestarting TaskState = "restarting"
	TaskStopped    TaskState = "stopped"
)

// TaskStatus is one task as the engine's status report shows it.
type TaskStatus struct {
	Name          string    `json:"name"`
	State         TaskState `json:"state"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Restarts      int       `json:"restarts"`
	LastError     string    `json:"last_error,omitempty"`
}

// errMissedHeartbeat is the reason recorded for a task the watchdog
// cancelled.
var errMissedHeartbeat = errors.New("missed its heartbeat")

// task is one long-running job of the engine (the discovery loop, a
// container's monitor). Its function shows progress by calling Beat; it
// returns nil when its job is over for good, an error to be restarted.
type task struct {
	name string
	fn   func(ctx context.Context, t *task) error
	sup  *supervisor
	beat atomic.Int64 // the supervisor's clock at the last heartbeat
	// panics holds back the repeats of the same panic.
	panics repeatLimiter

	mu       sync.Mutex
	state    TaskState
	restarts int
	lastErr  string
	cancel   context.CancelFunc // of the current run
	killed   bool               // the watchdog cancelled the current run
	run      int                // generation: runs started so far
}

// Beat records progress. It is cheap enough to call for every line.
func (t *task) Beat() { t.beat.Store(t.sup.now.Load()) }

// supervisor owns every task's goroutine: it restarts a task that returns
// an error, panics (a panic in a goroutine of the .so would kill Fluent
// Bit) or misses its heartbeat, with exponential backoff, and never drops
// one silently. A task's runs never overlap: the next starts only after the
// last one returned.
type supervisor struct {
	ctx       context.Context
	log       *Logger
	heartbeat time.Duration
	wg        sync.WaitGroup
	now       atomic.Int64 // coarse clock (unix ns), advanced by the watchdog
	restarts  atomic.Int64 // of every task, ever

	mu    sync.Mutex
	tasks map[*task]struct{}
}

func newSupervisor(ctx context.Context, log *Logger, heartbeat time.Duration) *supervisor {
	s := &supervisor{ctx: ctx, log: log, heartbeat: heartbeat, tasks: map[*task]struct{}{}}
	s.now.Store(time.Now().UnixNano())
	s.wg.Add(1)
	go s.watchdog()
	return s
}

// start runs fn as a supervised task.
func (s *supervisor) start(name string, fn func(ctx context.Context, t *task) error) *task {
	t := &task{name: name, fn: fn, sup: s, state: TaskRunning}
	s.mu.Lock()
	s.tasks[t] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go s.loop(t)
	return t
}

func (s *supervisor) loop(t *task) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.tasks, t)
		s.mu.Unlock()
		t.setState(TaskStopped)
	}()
	var b backoff
	for s.ctx.Err() == nil {
		started := time.Now()
		ctx, cancel := context.WithCancel(s.ctx)
		t.mu.Lock()
		t.cancel, t.killed, t.state = cancel, false, TaskRunning
		t.run++
		t.mu.Unlock()
		t.Beat()
		err := s.runRecovered(ctx, t)
		cancel()
		if s.ctx.Err() != nil {
			return
		}
		t.mu.Lock()
		if t.killed {
			err = errMissedHeartbeat
		}
		if err == nil {
			t.mu.Unlock()
			return // done for good
		}
		t.restarts++
		s.restarts.Add(1)
		t.lastErr = err.Error()
		t.state = TaskRestarting
		t.mu.Unlock()
		if time.Since(started) > 2*backoffMax {
			b.reset() // it had been healthy: restart at once
		}
		timer := time.NewTimer(b.delay())
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			timer.Stop()
			return
		}
	}
}

// runRecovered runs one generation of t, turning a panic into an error.
func (s *supervisor) runRecovered(ctx context.Context, t *task) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if ok, held := t.panics.allow(fmt.Sprint(r), time.Now()); ok {
				s.log.Errorf("%s panicked, restarting it: %v%s\n%s", t.name, r, held, debug.Stack())
			}
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return t.fn(ctx, t)
}

// watchdog advances the coarse clock and cancels every task whose last
// heartbeat is older than the heartbeat timeout.
func (s *supervisor) watchdog() {
	defer s.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			s.log.Errorf("watchdog panicked, heartbeats are no longer checked: %v\n%s", r, debug.Stack())
		}
	}()
	tick := time.NewTicker(max(s.heartbeat/8, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			// Beats since the last tick carry that tick's time, so ages are
			// measured against it: a tick that comes late (a loaded
			// machine) must not make fresh beats look old.
			prev := s.now.Swap(now.UnixNano())
			s.mu.Lock()
			for t := range s.tasks {
				t.mu.Lock()
				if t.state == TaskRunning && !t.killed && prev-t.beat.Load() > int64(s.heartbeat) {
					s.log.Errorf("%s missed its heartbeat (none for %s); restarting it", t.name, time.Duration(now.UnixNano()-t.beat.Load()).Round(time.Millisecond))
					t.killed = true
					t.cancel()
				}
				t.mu.Unlock()
			}
			s.mu.Unlock()
		}
	}
}

// status reports every task, sorted by name.
func (s *supervisor) status() []TaskStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskStatus, 0, len(s.tasks))
	for t := range s.tasks {
		t.mu.Lock()
		out = append(out, TaskStatus{Name: t.name, State: t.state, LastHeartbeat: time.Unix(0, t.beat.Load()), Restarts: t.restarts, LastError: t.lastErr})
		t.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (t *task) setState(st TaskState) {
	t.mu.Lock()
	t.state = st
	t.mu.Unlock()
}

// wait blocks until ready receives (or is closed), d passes (d > 0), or
// ctx ends, beating meanwhile: waiting is not being stuck. It reports false
// when ctx ended.
func (t *task) wait(ctx context.Context, ready <-chan struct{}, d time.Duration) bool {
	var timeout <-chan time.Time
	if d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	tick := time.NewTicker(max(t.sup.heartbeat/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		t.Beat()
		select {
		case <-ready:
			return true
		case <-timeout:
			return true
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
