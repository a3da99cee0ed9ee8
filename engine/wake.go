package engine

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Fluent Bit runs a Go input's collect once a second. Where the host lets
// the plugin register an event collector of its own, the engine wakes it as
// records are read, so that they reach Fluent Bit within milliseconds, not
// up to a second later, and the buffer need not hold a second of them.

// wakeDelay is how long the oldest unsent record may wait for others to
// join it before Fluent Bit is woken: one wake carries every record read
// meanwhile, so neither a trickle of lines over many containers nor a
// backlog wakes Fluent Bit once per line or per piece (a wake costs its
// thread ~50 us here; on a backlog, waking at each 64 KiB cost 0.45 CPU s
// a million lines more: BENCHMARKS.md, P2). Only a buffer filling faster
// than that (half of it, or deliverMax) wakes it at once.
var wakeDelay = 5 * time.Millisecond

// deliverMax bounds what one woken delivery appends (16 pieces of 64 KiB):
// Fluent Bit queues the input's pause and resume behind a running
// callback, so a long one would delay them. More waiting wakes it again.
const deliverMax = 1 << 20

// waker wakes the event collector: at once when deliverMax, or half the
// buffer, is held, else wakeDelay after the first record that no wake
// covers.
// At most one wake is pending: fire is called again only after the woken
// callback has begun (taken).
type waker struct {
	fire   func() // writes the collector's eventfd
	log    *Logger
	held   int // bytes that wake at once
	fired  atomic.Bool
	armed  atomic.Bool
	timer  *time.Timer
	wakes  atomic.Int64 // times fired, for /metrics and the tests
	closed atomic.Bool
}

func newWaker(fire func(), bufferMax int, log *Logger) *waker {
	w := &waker{fire: fire, held: min(deliverMax, bufferMax/2), log: log}
	w.timer = time.AfterFunc(time.Hour, w.onTimer)
	w.timer.Stop()
	return w
}

// put is called after a record was buffered, with the bytes now held.
func (w *waker) put(held int) {
	if w.fired.Load() {
		return // the coming delivery takes it
	}
	if held >= w.held {
		w.wake()
		return
	}
	w.wakeIn(wakeDelay)
}

// wakeIn wakes the collector after d, unless a wake is under way.
func (w *waker) wakeIn(d time.Duration) {
	if w.armed.CompareAndSwap(false, true) {
		w.timer.Reset(d)
	}
}

func (w *waker) onTimer() {
	defer func() {
		if r := recover(); r != nil {
			// A panic in a goroutine of the .so would end Fluent Bit; the
			// 1 s collect still delivers.
			w.log.Errorf("waking Fluent Bit's event collector: %v\n%s", r, debug.Stack())
		}
	}()
	w.armed.Store(false)
	w.wake()
}

// wake fires unless a wake is pending already.
func (w *waker) wake() {
	if w.closed.Load() || !w.fired.CompareAndSwap(false, true) {
		return
	}
	w.wakes.Add(1)
	w.fire()
}

// taken is called by the woken delivery before it takes from the buffer:
// a record put from then on is covered by a new wake.
func (w *waker) taken() { w.fired.Store(false) }

// stop ends the timer and every later fire.
func (w *waker) stop() {
	w.closed.Store(true)
	w.timer.Stop()
}
