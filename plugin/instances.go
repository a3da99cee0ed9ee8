package main

/*
#include <stdlib.h>
#include "flb.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/engine"
)

// instances are the docker_logs inputs of this Fluent Bit process.
var instances engine.Registry

// hostInstance is what the shim keeps of a Fluent Bit input instance next
// to its engine, by the token its callbacks pass (0 for the plain ones).
type hostInstance struct {
	// ins is the flb_input_instance records are appended to; nil when the
	// host does not export flb_input_log_append (one collect buffer).
	ins unsafe.Pointer
	// log is drained into Fluent Bit's logger on the instance's thread;
	// nil when the lines go to stderr.
	log *engine.Logger
	// metrics are engine.Figures' in the instance's cmetrics context (nil
	// without one), labelled name=label.
	metrics []unsafe.Pointer
	label   *C.char
	// self and context are the flb_input_instance and its proxy context
	// (the >= 4.1 layout; nil otherwise), to aim the proxy at it.
	self, context unsafe.Pointer
	// efd wakes the instance's event collector (events.go), whose ID is
	// collector; -1 without one.
	efd, collector int
	// published is when the metrics were last set in Fluent Bit; only
	// the instance's thread touches it.
	published time.Time
}

var hosts struct {
	sync.Mutex
	byToken map[uintptr]*hostInstance
	// threads maps a thread ID to the token whose callbacks run on it
	// (sharedThread when several instances share it: threaded false).
	threads map[int]uintptr
}

const sharedThread = ^uintptr(0)

// initInstance starts the instance Fluent Bit is initialising, with
// everything the host offers it: the context, appends, its logger and its
// metrics. It returns the token the callbacks will pass.
func initInstance(plugin unsafe.Pointer) (uintptr, error) {
	h := engine.Host{HasCtx: C.dl_has_ctx(plugin) != 0}
	canAppend := C.dl_find_append() != 0
	ins := C.dl_ins(plugin)
	if name := C.dl_input_name(ins); name != nil {
		h.Name = C.GoString(name)
	}
	if tag := C.dl_input_tag(ins); tag != nil {
		h.Tag = C.GoString(tag)
	}
	if level := int(C.dl_use_log(plugin)); level >= 0 {
		l := conf.Level(level - 1) // 1 (FLB_LOG_ERROR) is LevelError; 0 is none
		h.LogLevel = &l
	}
	instances.SetAppends(canAppend)
	token, err := instances.Init(propertyGetter{plugin}, h)
	if err != nil {
		reportInitError(err, h.LogLevel != nil)
		if !h.HasCtx {
			name := h.Name
			var ie *engine.InitError
			if errors.As(err, &ie) {
				name = ie.Instance
			}
			if legacyRefuse(plugin, ins, name, h.LogLevel != nil) {
				return 0, errRefusedInert
			}
		}
		return 0, err
	}
	if !h.HasCtx {
		legacyAccepted(ins)
	}
	if h.HasCtx {
		C.dl_set_ctx(plugin, C.uintptr_t(token))
	}
	e := instances.Lookup(token)
	if !h.HasCtx {
		token = 0 // what the plain callbacks pass
	}
	hi := &hostInstance{efd: -1}
	if h.HasCtx {
		hi.self, hi.context = ins, C.dl_context(plugin)
	}
	if canAppend {
		hi.ins = ins
	}
	e.UseAppend(canAppend)
	if canAppend {
		useEvents(hi, ins, e)
	}
	if h.LogLevel != nil {
		hi.log = e.Logger()
	}
	if cmt := C.dl_cmt(plugin); cmt != nil {
		hi.label = C.CString(e.Name())
		for _, f := range engine.Figures {
			name, help := C.CString(f.Name), C.CString(f.Help)
			hi.metrics = append(hi.metrics, C.dl_metric_create(cmt, cbool(f.Gauge), name, help))
			C.free(unsafe.Pointer(name))
			C.free(unsafe.Pointer(help))
		}
	}
	hosts.Lock()
	if hosts.byToken == nil {
		hosts.byToken, hosts.threads = map[uintptr]*hostInstance{}, map[int]uintptr{}
	}
	hosts.byToken[token] = hi
	hosts.Unlock()
	onThread(token)
	publish(token, e)
	return token, nil
}

// errRefusedInert: the instance could not start, but stays, inert, and
// Fluent Bit stops (legacy.go); its init succeeds.
var errRefusedInert = errors.New("refused: inert until Fluent Bit stops")

// reportInitError says why init failed, in Fluent Bit's log when it takes
// the plugin's lines (this is the instance's thread), else on stderr.
func reportInitError(err error, toLogger bool) {
	var ie *engine.InitError
	if !toLogger || !errors.As(err, &ie) {
		fmt.Fprint(os.Stderr, err)
		return
	}
	for _, line := range ie.Lines() {
		writeLog(engine.LogLine{Level: conf.LevelError, Text: "[input:docker_logs:" + ie.Instance + "] " + line})
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func hostFor(token uintptr) *hostInstance {
	hosts.Lock()
	defer hosts.Unlock()
	return hosts.byToken[token]
}

// appendTarget is where token's records are appended; nil: the collect
// buffer.
func appendTarget(token uintptr) unsafe.Pointer {
	if h := hostFor(token); h != nil {
		return h.ins
	}
	return nil
}

// onThread notes that token's callbacks run on the calling thread (a cgo
// callback runs on the thread of its C caller).
func onThread(token uintptr) {
	tid := syscall.Gettid()
	hosts.Lock()
	defer hosts.Unlock()
	if t, ok := hosts.threads[tid]; ok && t != token {
		token = sharedThread
	}
	if hosts.threads != nil {
		hosts.threads[tid] = token
	}
}

// callerInstance is the instance whose thread this is, if exactly one.
func callerInstance() (*engine.Engine, uintptr, bool) {
	hosts.Lock()
	token, ok := hosts.threads[syscall.Gettid()]
	hosts.Unlock()
	if !ok || token == sharedThread {
		return nil, 0, false
	}
	e := instances.Lookup(token)
	return e, token, e != nil
}

// forCaller applies fn to the instance whose thread calls (Fluent Bit
// pauses and resumes an input on its own thread), and pauses or resumes
// its event collector (running); or applies fn to every instance when the
// thread is not one instance's (their event collectors, if any, then
// deliver nothing while paused: DeliverWoken).
func forCaller(fn func(*engine.Engine), running bool) {
	if refusedThread() {
		return
	}
	if e, token, ok := callerInstance(); ok {
		fn(e)
		setCollector(token, running)
		aimProxy(token)
		publish(token, e) // its collects stop while it is paused
		return
	}
	instances.ForEach(fn)
	drainLogs()
}

// proxyAim serialises aiming the proxy: held from an instance's Pause or
// Resume until Fluent Bit has surely read proxy->instance (it does so
// right after the callback returns), so two instances paused at once on
// their threads each get their own collector paused.
var proxyAim sync.Mutex

const proxyAimHold = 5 * time.Millisecond

// aimProxy makes Fluent Bit's coming collector pause or resume act on
// token's instance. Without it, Fluent Bit (3.x to 5.1.1) pauses the
// collector of its last initialised docker_logs instance whichever
// instance it pauses: pausing one would stop another's collects.
func aimProxy(token uintptr) {
	h := hostFor(token)
	if h == nil || h.context == nil {
		return
	}
	proxyAim.Lock()
	C.dl_aim_proxy(h.context, h.self)
	time.AfterFunc(proxyAimHold, proxyAim.Unlock)
}

// publish updates token's metrics in Fluent Bit and hands its queued log
// lines to Fluent Bit's logger: on the instance's thread, where Fluent Bit
// updates its own metrics of the instance and where its logger takes
// lines.
func publish(token uintptr, e *engine.Engine) {
	h := hostFor(token)
	if h == nil {
		return
	}
	h.published = time.Now()
	if len(h.metrics) > 0 {
		ts := C.uint64_t(h.published.UnixNano())
		for i, f := range engine.Figures {
			if m := h.metrics[i]; m != nil {
				C.dl_metric_set(m, cbool(f.Gauge), ts, C.double(f.Value(e)), h.label)
			}
		}
	}
	h.log.Drain(writeLog)
}

// drainLogs drains every instance's lines (a callback for all of them).
func drainLogs() {
	hosts.Lock()
	logs := make([]*engine.Logger, 0, len(hosts.byToken))
	for _, h := range hosts.byToken {
		logs = append(logs, h.log)
	}
	hosts.Unlock()
	for _, l := range logs {
		l.Drain(writeLog)
	}
}

// writeLog prints a line through Fluent Bit's log_print.
func writeLog(l engine.LogLine) {
	msg := C.CString(l.Text)
	C.dl_log(C.int(l.Level)+1, msg) // LevelError is FLB_LOG_ERROR (1)
	C.free(unsafe.Pointer(msg))
}

// forgetHosts drains and drops every instance: they are stopped.
func forgetHosts() {
	drainLogs()
	hosts.Lock()
	defer hosts.Unlock()
	for _, h := range hosts.byToken {
		C.free(unsafe.Pointer(h.label))
		if h.efd >= 0 {
			retireEventfd(h.ins, h.efd)
		}
	}
	hosts.byToken, hosts.threads = nil, nil
}
