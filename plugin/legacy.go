package main

/*
#include "flb.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/engine"
)

// A failed init on a Fluent Bit without instance contexts (< 4.1: a second
// instance, or any bad configuration). Up to 4.0.2 its Go proxy frees the
// plugin's struct, shared by every instance, when FLBPluginInit fails, and
// frees it again at teardown: Fluent Bit, which runs on without a threaded
// input whose init failed, dies of SIGSEGV at shutdown (flb.c). There the
// init succeeds on an inert instance instead, and the plugin stops Fluent
// Bit with the status Fluent Bit 4.1 and newer exit with when an input
// fails to start. Where the host cannot be stopped so (it exports no
// flb_engine_exit_status), the init fails as before.

// legacyStopStatus is what Fluent Bit >= 4.1 exits with when an input's
// init fails (flb_start's -1).
const legacyStopStatus = 255

var legacy struct {
	sync.Mutex
	// accepted is the instance the old layout allows (its
	// flb_input_instance), nil before one started.
	accepted unsafe.Pointer
	// refused are the threads of inert instances (thread IDs).
	refused map[int]bool
}

// anyRefused keeps the hot path (collect) from looking up its thread when
// no instance was refused.
var anyRefused atomic.Bool

// legacyAccepted notes the instance started on the old layout (nil: it
// stopped; a hot reload's instances are new ones).
func legacyAccepted(ins unsafe.Pointer) {
	legacy.Lock()
	legacy.accepted = ins
	legacy.Unlock()
}

// legacyRefuse handles an init failure on the old layout, after its reason
// was reported: true when the instance stays, inert, and Fluent Bit stops
// (the init must then succeed).
func legacyRefuse(plugin, ins unsafe.Pointer, name string, toLogger bool) bool {
	legacy.Lock()
	defer legacy.Unlock()
	if legacy.accepted != nil {
		// This init aimed the proxy's pause and resume at itself.
		C.dl_aim_legacy_proxy(plugin, legacy.accepted)
	}
	if C.dl_stop_fluent_bit(ins, C.dl_threaded(), legacyStopStatus) != 0 {
		return false
	}
	if legacy.refused == nil {
		legacy.refused = map[int]bool{}
	}
	legacy.refused[syscall.Gettid()] = true
	anyRefused.Store(true)
	msg := fmt.Sprintf("stopping Fluent Bit with exit status %d, as Fluent Bit 4.1 and newer do when an input fails to start (this one would run on without the input, and before 4.0.3 crash at shutdown)", legacyStopStatus)
	if toLogger {
		writeLog(engine.LogLine{Level: conf.LevelError, Text: "[input:docker_logs:" + name + "] " + msg})
	} else {
		fmt.Fprint(os.Stderr, engine.FormatLine(conf.LevelError, name, msg))
	}
	return true
}

// refusedThread says the calling thread is an inert instance's alone: its
// callbacks do nothing (on a thread an instance shares, threaded false,
// they are the instance's).
func refusedThread() bool {
	if !anyRefused.Load() {
		return false
	}
	tid := syscall.Gettid()
	legacy.Lock()
	refused := legacy.refused[tid]
	legacy.Unlock()
	if !refused {
		return false
	}
	hosts.Lock()
	defer hosts.Unlock()
	_, shared := hosts.threads[tid]
	return !shared
}
