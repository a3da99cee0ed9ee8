// Command plugin is the cgo shim that Fluent Bit loads as docker_logs.so:
// exported callbacks only, each finding its instance, calling one engine
// method and mapping the result to a Fluent Bit return code. See
// shared/FLUENT_BIT_PROXY.md for how Fluent Bit drives them.
package main

/*
#include <stdlib.h>
#include <string.h>

// The first members of Fluent Bit's struct flb_api and struct
// flbgo_input_plugin (src/proxy/go/go.h), identical in every version.
struct dl_flb_api {
    char *(*output_get_property)(char *, void *);
    char *(*input_get_property)(char *, void *);
};
struct dl_input_plugin {
    void *name;
    struct dl_flb_api *api;
    void *i_ins;
    void **context;
};

static char *dl_get_property(void *plugin, char *key) {
    struct dl_input_plugin *p = plugin;
    return p->api->input_get_property(key, p->i_ins);
}

static void **dl_context(void *plugin) {
    return ((struct dl_input_plugin *)plugin)->context;
}
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
	// with remote_context (offset 8) NULL at init, and hands it back to the
	// Ctx callbacks. Before 4.1 the struct is { void *remote_context; void
	// *proxy; }: offset 8 is Fluent Bit's proxy pointer and must not be
	// touched, and only the plain callbacks exist: one instance at most.
	ctxWords := C.dl_context(plugin)
	hasCtx := ctxWords != nil && *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(ctxWords), 8)) == nil
	token, err := initInstance(propertyGetter{plugin}, hasCtx)
	if err != nil {
		fmt.Fprint(os.Stderr, err)
		return flbError
	}
	if hasCtx {
		*(*uintptr)(unsafe.Add(unsafe.Pointer(ctxWords), 8)) = token
	}
	return flbOK
}

// FLBPluginInputPreRun is called once per instance before its event loop,
// after every instance's Init.
//
//export FLBPluginInputPreRun
func FLBPluginInputPreRun(hotReload C.int) (ret int) {
	defer recoverTo(&ret, flbOK, "pre-run")
	instances.CheckShards() // every instance is initialised by now
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

// collect copies the records the instance has buffered into one C buffer
// (Fluent Bit frees it through the cleanup callback, or with free()), or
// hands over size 0 and allocates nothing.
func collect(token uintptr, data *unsafe.Pointer, size *C.size_t) (ret int) {
	*data, *size = nil, 0
	defer recoverTo(&ret, flbOK, "collect")
	e := instances.Lookup(token)
	if e == nil {
		return flbOK
	}
	recs := e.Collect()
	if len(recs) == 0 {
		return flbOK
	}
	buf := C.malloc(C.size_t(len(recs)))
	if buf == nil {
		return flbOK // the records are lost to this collect only if malloc fails
	}
	C.memcpy(buf, unsafe.Pointer(&recs[0]), C.size_t(len(recs)))
	*data, *size = buf, C.size_t(len(recs))
	return flbOK
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
	if e := instances.Lookup(token); e != nil {
		e.Ack()
	}
	return flbOK
}

// Pause, Resume, PreExit and Exit carry no instance: they apply to every
// instance of this .so, and repeated calls are harmless.

//export FLBPluginInputPause
func FLBPluginInputPause() {
	defer recoverTo(nil, 0, "pause")
	instances.ForEach((*engine.Engine).Pause)
}

//export FLBPluginInputResume
func FLBPluginInputResume() {
	defer recoverTo(nil, 0, "resume")
	instances.ForEach((*engine.Engine).Resume)
}

//export FLBPluginInputPreExit
func FLBPluginInputPreExit(hotReload C.int) {
	defer recoverTo(nil, 0, "pre-exit")
	instances.ForEach((*engine.Engine).Pause)
}

//export FLBPluginExit
func FLBPluginExit() (ret int) {
	defer recoverTo(&ret, flbOK, "exit")
	instances.StopAll()
	return flbOK
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
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
