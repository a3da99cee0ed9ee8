package main

import (
	"sync"
	"unsafe"

	"github.com/docker-logs/docker_logs/engine"
)

// instances are the docker_logs inputs of this Fluent Bit process.
var instances engine.Registry

func initInstance(g propertyGetter, hasCtx, canAppend bool) (uintptr, error) {
	instances.SetAppends(canAppend)
	return instances.Init(g, hasCtx)
}

// appendTargets are the Fluent Bit input instances (struct
// flb_input_instance *) that records are appended to, by token, when the
// host exports flb_input_log_append.
var appendTargets struct {
	sync.Mutex
	ins map[uintptr]unsafe.Pointer
}

// useAppend records how token's records reach Fluent Bit: appended to ins,
// or (ins nil) through the collect buffer.
func useAppend(token uintptr, ins unsafe.Pointer) {
	if e := instances.Lookup(token); e != nil {
		e.UseAppend(ins != nil)
	}
	appendTargets.Lock()
	defer appendTargets.Unlock()
	if appendTargets.ins == nil {
		appendTargets.ins = map[uintptr]unsafe.Pointer{}
	}
	if ins != nil {
		appendTargets.ins[token] = ins
	} else {
		delete(appendTargets.ins, token)
	}
}

func appendTarget(token uintptr) unsafe.Pointer {
	appendTargets.Lock()
	defer appendTargets.Unlock()
	return appendTargets.ins[token]
}

// forgetAppendTargets drops every instance's target: they are stopped.
func forgetAppendTargets() {
	appendTargets.Lock()
	appendTargets.ins = nil
	appendTargets.Unlock()
}
