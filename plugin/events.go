package main

/*
#include "flb.h"
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/docker-logs/docker_logs/engine"
)

// Fluent Bit runs a Go input's collect once a second. An event collector
// of the plugin's own, registered during Init on the instance's thread,
// lets the engine wake that thread through an eventfd as soon as records
// are buffered: they are appended within milliseconds.

// useEvents registers the instance's event collector and hands the engine
// its wake; where the host cannot run one, it says so once and the
// instance delivers at each 1 s collect, as before.
func useEvents(hi *hostInstance, ins unsafe.Pointer, e *engine.Engine) {
	if C.dl_threaded() == 0 {
		e.Logger().Infof("threaded false: records are appended at each 1 s collect, at most buffer_max_size a second (an event collector of the plugin's own needs the input's own thread)")
		return
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		e.Logger().Infof("no eventfd (%v): records are appended at each 1 s collect", err)
		return
	}
	id := C.dl_event_collector(ins, C.int(fd))
	if id < 0 {
		unix.Close(fd)
		e.Logger().Infof("this Fluent Bit exports no flb_input_set_collector_event, or refused it: records are appended at each 1 s collect, at most buffer_max_size a second")
		return
	}
	hi.efd, hi.collector = fd, int(id)
	one := [8]byte{1} // an eventfd adds the 8-byte integer written
	e.UseEvents(func() { unix.Write(fd, one[:]) })
}

//export dlEventCollect
func dlEventCollect(ins, config, inContext unsafe.Pointer) (ret C.int) {
	defer recoverTo(nil, 0, "event collect")
	var n [8]byte
	token, h := hostByIns(ins)
	if h == nil {
		// Exited (another instance's Exit stops them all) but still
		// polled until its own exit: drain it, or it fires on and on.
		if fd, ok := retiredEventfd(ins); ok {
			unix.Read(fd, n[:])
		}
		return 0
	}
	unix.Read(h.efd, n[:]) // level-triggered: read, or Fluent Bit calls again at once
	e := instances.Lookup(token)
	if e == nil {
		return 0
	}
	e.DeliverWoken(appendInto(h.ins))
	// The plugin's lines and metrics go to Fluent Bit on this thread; at
	// most once a second here, as at the proxy's collect.
	if now := time.Now(); now.Sub(h.published) >= time.Second {
		publish(token, e)
	} else {
		h.log.Drain(writeLog)
	}
	return 0
}

// setCollector pauses or resumes token's event collector: Fluent Bit's
// pause of a Go input stops only the proxy's timer, and appends made while
// the input is paused fill its ring buffer, each then blocking the thread.
func setCollector(token uintptr, running bool) {
	if h := hostFor(token); h != nil && h.efd >= 0 {
		C.dl_collector_set(C.int(h.collector), h.ins, cbool(running))
	}
}

func hostByIns(ins unsafe.Pointer) (uintptr, *hostInstance) {
	hosts.Lock()
	defer hosts.Unlock()
	for token, h := range hosts.byToken {
		if h.ins == ins && h.efd >= 0 {
			return token, h
		}
	}
	return 0, nil
}

// stoppedEventfds are the eventfds of exited instances. Fluent Bit deletes
// their collectors after the exit callback, by fd: they are closed at
// Unregister, once it has, so that no new file takes the number first.
var stoppedEventfds struct {
	sync.Mutex
	list []retired
}

type retired struct {
	ins unsafe.Pointer
	fd  int
}

func retireEventfd(ins unsafe.Pointer, fd int) {
	stoppedEventfds.Lock()
	defer stoppedEventfds.Unlock()
	stoppedEventfds.list = append(stoppedEventfds.list, retired{ins, fd})
}

// retiredEventfd is the eventfd ins had, its last if an instance of a
// later generation took the same address.
func retiredEventfd(ins unsafe.Pointer) (int, bool) {
	stoppedEventfds.Lock()
	defer stoppedEventfds.Unlock()
	for i := len(stoppedEventfds.list) - 1; i >= 0; i-- {
		if r := stoppedEventfds.list[i]; r.ins == ins {
			return r.fd, true
		}
	}
	return 0, false
}

func closeRetiredEventfds() {
	stoppedEventfds.Lock()
	defer stoppedEventfds.Unlock()
	for _, r := range stoppedEventfds.list {
		unix.Close(r.fd)
	}
	stoppedEventfds.list = nil
}
