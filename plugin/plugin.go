// Command plugin is the cgo shim that Fluent Bit loads as docker_logs.so:
// exported callbacks only, each finding its instance, calling one engine
// method and mapping the result to a Fluent Bit return code. Fluent Bit
// calls an instance's Init, collect (every second, which must not block) and
// cleanup on that instance's own thread, finds the instance through the
// context Init stores (Fluent Bit >= 4.1; before, one instance only), and
// calls Pause, Resume, PreExit and Exit without saying for which instance.
package main

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include <string.h>
#include "flb.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/fluent/fluent-bit-go/input"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/engine"
)

const (
	flbError = input.FLB_ERROR
	flbOK    = input.FLB_OK
)

// propertyGetter reads an instance's keys through Fluent Bit's api.
type propertyGetter struct{ plugin unsafe.Pointer }

func (g propertyGetter) Get(key string) string {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	v := C.dl_get_property(g.plugin, k)
	if v == nil {
		return ""
	}
	return C.GoString(v)
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	return input.FLBPluginRegister(def, "docker_logs", "Docker container logs through the Docker Engine API")
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (ret int) {
	defer recoverTo(&ret, flbError, "init")
	// Fluent Bit >= 4.1 passes { int coll_fd; void *remote_context; ... }
	// with remote_context (offset 8 on 64-bit) NULL at init, and hands it
	// back to the Ctx callbacks. Before 4.1 the struct is { void
	// *remote_context; void *proxy; }: the same offset is Fluent Bit's proxy
	// pointer and must not be touched, and only the plain callbacks exist:
	// one instance at most. The C side (dl_has_ctx, dl_set_ctx) takes the
	// offsets from structs mirroring both layouts.
	// Before 4.1 a failed init is not safe: a refused instance may stay,
	// inert, while Fluent Bit stops (legacy.go).
	if _, err := initInstance(plugin); err != nil && err != errRefusedInert {
		return flbError
	}
	return flbOK
}

// FLBPluginInputPreRun is called once per instance before its event loop,
// after every instance's Init.
//
//export FLBPluginInputPreRun
func FLBPluginInputPreRun(hotReload C.int) (ret int) {
	defer recoverTo(&ret, flbOK, "pre-run")
	if refusedThread() {
		return flbOK
	}
	instances.CheckShards() // every instance is initialised by now
	drainLogs()
	return flbOK
}

//export FLBPluginInputCallback
func FLBPluginInputCallback(data *unsafe.Pointer, size *C.size_t) (ret int) {
	return collect(0, data, size)
}

//export FLBPluginInputCallbackCtx
func FLBPluginInputCallbackCtx(ctx unsafe.Pointer, data *unsafe.Pointer, size *C.size_t) (ret int) {
	return collect(uintptr(ctx), data, size)
}

// source is what collect and cleanup need of an instance (an
// *engine.Engine; tests put in their own).
type source interface {
	Collect() []byte
	Retry()
	Ack()
	Deliver(appendPiece func(tag string, recs []byte, records int) bool)
}

// lookup finds the instance of a callback's token, nil when none.
var lookup = func(token uintptr) source {
	if e := instances.Lookup(token); e != nil {
		return e
	}
	return nil
}

// alloc is C.malloc (tests make it fail). Fluent Bit frees what collect
// hands over through the cleanup callback, or with free().
var alloc = func(n int) unsafe.Pointer { return C.malloc(C.size_t(n)) }

// csize is C's size_t, for the tests (which cannot use cgo).
type csize = C.size_t

// collect copies the records the instance has buffered into one C buffer,
// or hands over size 0 and allocates nothing (then Fluent Bit calls no
// cleanup). Records whose buffer cannot be allocated go back to the engine
// for the next collect.
func collect(token uintptr, data *unsafe.Pointer, size *C.size_t) (ret int) {
	*data, *size = nil, 0
	defer recoverTo(&ret, flbOK, "collect")
	if token == 0 && refusedThread() {
		return flbOK // an inert instance's (legacy.go): not the accepted one's
	}
	s := lookup(token)
	if s == nil {
		return flbOK
	}
	if e, ok := s.(*engine.Engine); ok {
		onThread(token)
		defer publish(token, e)
	}
	if ins := appendTarget(token); ins != nil {
		// Straight into Fluent Bit, on this thread (the instance's own):
		// nothing is handed back, so no cleanup follows.
		s.Deliver(appendInto(ins))
		return flbOK
	}
	recs := s.Collect()
	if len(recs) == 0 {
		return flbOK
	}
	buf := alloc(len(recs))
	if buf == nil {
		s.Retry()
		return flbOK
	}
	C.memcpy(buf, unsafe.Pointer(&recs[0]), C.size_t(len(recs)))
	*data, *size = buf, C.size_t(len(recs))
	return flbOK
}

// appendInto appends pieces to the instance ins, on its own thread.
func appendInto(ins unsafe.Pointer) func(tag string, piece []byte, records int) bool {
	return func(tag string, piece []byte, records int) bool {
		var t *C.char // NULL: the instance's tag
		if tag != "" {
			t = (*C.char)(unsafe.Pointer(unsafe.StringData(tag)))
		}
		return C.dl_append_records(ins, C.size_t(records), t, C.size_t(len(tag)), unsafe.Pointer(&piece[0]), C.size_t(len(piece))) == 0
	}
}

// The cleanup callbacks come after Fluent Bit appended the buffer: the
// acknowledgement that advances the instance's positions.

//export FLBPluginInputCleanupCallback
func FLBPluginInputCleanupCallback(data unsafe.Pointer) int {
	return cleanup(0, data)
}

//export FLBPluginInputCleanupCallbackCtx
func FLBPluginInputCleanupCallbackCtx(ctx, data unsafe.Pointer) int {
	return cleanup(uintptr(ctx), data)
}

func cleanup(token uintptr, data unsafe.Pointer) (ret int) {
	C.free(data)
	defer recoverTo(&ret, flbOK, "cleanup")
	if s := lookup(token); s != nil {
		s.Ack()
	}
	return flbOK
}

// Pause, Resume, PreExit and Exit carry no instance. Fluent Bit calls
// Pause and Resume on the thread of the instance it pauses, so they apply
// to the instance whose callbacks run there, or to every instance when the
// thread is not one instance's (threaded false, an unknown host). PreExit
// and Exit apply to every instance. Repeated calls are harmless.

//export FLBPluginInputPause
func FLBPluginInputPause() {
	defer recoverTo(nil, 0, "pause")
	forCaller((*engine.Engine).Pause, false)
}

//export FLBPluginInputResume
func FLBPluginInputResume() {
	defer recoverTo(nil, 0, "resume")
	forCaller((*engine.Engine).Resume, true)
}

//export FLBPluginInputPreExit
func FLBPluginInputPreExit(hotReload C.int) {
	defer recoverTo(nil, 0, "pre-exit")
	if refusedThread() {
		return
	}
	instances.ForEach((*engine.Engine).Pause)
	drainLogs()
}

//export FLBPluginExit
func FLBPluginExit() (ret int) {
	defer recoverTo(&ret, flbOK, "exit")
	if refusedThread() {
		return flbOK // the accepted instance's Exit stops it on its thread
	}
	instances.StopAll()
	forgetHosts() // the lines of the stops included
	legacyAccepted(nil)
	return flbOK
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	closeRetiredEventfds()
	input.FLBPluginUnregister(def)
}

// recoverTo keeps a panic from crossing into Fluent Bit (it would abort the
// whole process): it logs it and sets *ret to fallback.
func recoverTo(ret *int, fallback int, what string) {
	if r := recover(); r != nil {
		fmt.Fprintf(os.Stderr, "[docker_logs] %s panicked: %v\n%s", what, r, debug.Stack())
		if ret != nil {
			*ret = fallback
		}
	}
}

var _ conf.Getter = propertyGetter{}

func main() {}
