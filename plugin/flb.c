#define _GNU_SOURCE // process_vm_readv
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "flb.h"

// struct flb_api, as in every Fluent Bit from 2.0.0 (the first whose api
// has input_get_property, which the plugin needs) to 5.1.1.
struct dl_flb_api {
    char *(*output_get_property)(char *, void *);
    char *(*input_get_property)(char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);  // NULL without FLB_HAVE_METRICS
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
};

// The first members of struct flbgo_input_plugin, identical in every
// version.
struct dl_input_plugin {
    void *name;
    struct dl_flb_api *api;
    void *i_ins;
    void *context;
};

// What context points to. Fluent Bit >= 4.1: struct
// flb_plugin_input_proxy_context, whose remote_context is handed back to
// the Ctx callbacks; Fluent Bit sets it to NULL and never writes it.
struct dl_input_proxy_context {
    int coll_fd;
    void *remote_context;
    void *proxy;
};
// Before 4.1: struct flb_plugin_proxy_context, where the same offset holds
// Fluent Bit's own proxy pointer (never NULL), and no Ctx callbacks exist.
struct dl_proxy_context {
    void *remote_context;
    void *proxy;
};
// Telling the layouts apart reads one word that is remote_context in the
// first and proxy in the second: the same offset on every ABI (8 on 64-bit
// builds, 4 on 32-bit ones).
_Static_assert(offsetof(struct dl_input_proxy_context, remote_context) ==
               offsetof(struct dl_proxy_context, proxy),
               "remote_context (>= 4.1) and proxy (< 4.1) must share an offset");

// dl_has_ctx says the context has Fluent Bit >= 4.1's layout: its
// remote_context (the old layout's proxy pointer) is still NULL.
int dl_has_ctx(void *plugin) {
    struct dl_input_proxy_context *c = ((struct dl_input_plugin *)plugin)->context;
    return c != NULL && c->remote_context == NULL;
}

// dl_set_ctx stores the instance's token as remote_context; only when
// dl_has_ctx said so.
void dl_set_ctx(void *plugin, uintptr_t token) {
    struct dl_input_proxy_context *c = ((struct dl_input_plugin *)plugin)->context;
    c->remote_context = (void *)token;
}

// The first members of struct flb_plugin_proxy (flb_plugin_proxy.h, 3.x to
// 5.1.1): one per loaded .so, shared by its instances.
struct dl_plugin_proxy {
    void *def;
    void *api;
    void *instance;
};

void *dl_context(void *plugin) {
    return ((struct dl_input_plugin *)plugin)->context;
}

// dl_aim_proxy points the proxy's instance at ins. Fluent Bit's Go proxy
// pauses and resumes the collector of proxy->instance, the last
// initialised instance, right after the plugin's Pause or Resume
// (flb_proxy_input_cb_pause); aimed, it is the instance being paused.
// Only for the >= 4.1 context layout.
void dl_aim_proxy(void *context, void *ins) {
    struct dl_input_proxy_context *c = context;
    ((struct dl_plugin_proxy *)c->proxy)->instance = ins;
}

// dl_aim_legacy_proxy points the proxy's instance back at ins, the one
// instance the old context layout allows, after a refused instance's init
// took it: its pause and resume then act on ins's collector. Only for the
// < 4.1 layout (dl_has_ctx 0).
void dl_aim_legacy_proxy(void *plugin, void *ins) {
    struct dl_proxy_context *c = ((struct dl_input_plugin *)plugin)->context;
    if (c != NULL && c->proxy != NULL)
        ((struct dl_plugin_proxy *)c->proxy)->instance = ins;
}

// Stopping Fluent Bit instead of failing an init, where a failed init is not
// safe (the < 4.1 layout): up to 4.0.2, proxy_go_input_init
// (src/proxy/go/go.c) frees the plugin's struct, the one proxy->data every
// instance of the .so shares, when FLBPluginInit returns <= 0, and leaves
// proxy->data pointing to it; the surviving instances' collect and exit read
// it, and proxy_go_input_unregister frees its name and it again at teardown:
// SIGSEGV at shutdown. A threaded input's failed init does not stop those
// versions either (flb_input_thread_instance_init returns 0). So the init
// succeeds on an inert instance, and the plugin asks Fluent Bit to stop, with
// flb_engine_exit_status(config, status) as its own filter_expect does, from
// where the config is at hand: a timer collector of the instance (the
// callback gets ins->config), or on the pipeline thread (threaded false) its
// running context, flb_context_get()->config. The request waits in the
// engine's manager channel, created before any input's init, and the engine
// shuts down gracefully as on SIGTERM, then exits with the status.
typedef int (*dl_exit_status_fn)(void *config, int status);
typedef int (*dl_set_collector_time_fn)(void *ins, int (*cb)(void *, void *, void *),
                                        time_t seconds, long nanoseconds, void *config);

// struct flb_lib_ctx (include/fluent-bit/flb_lib.h, 2.0.0 to 5.1.1).
struct dl_lib_ctx {
    int status;
    void *event_loop;
    void *event_channel;
    void *config;
};

static dl_exit_status_fn dl_exit_status;
static int dl_stop_status;
static atomic_int dl_stop_requested;

static void dl_request_stop(void *config) {
    if (config != NULL && atomic_exchange(&dl_stop_requested, 1) == 0)
        dl_exit_status(config, dl_stop_status);
}

static int dl_stop_collect(void *ins, void *config, void *in_context) {
    (void) ins;
    (void) in_context;
    dl_request_stop(config);
    return 0;
}

int dl_stop_fluent_bit(void *ins, int threaded, int status) {
    dl_exit_status = (dl_exit_status_fn) dlsym(RTLD_DEFAULT, "flb_engine_exit_status");
    if (dl_exit_status == NULL)
        return -1;
    dl_stop_status = status;
    if (threaded) {
        // Every 100 ms until the shutdown; the first call asks for it.
        dl_set_collector_time_fn set =
            (dl_set_collector_time_fn) dlsym(RTLD_DEFAULT, "flb_input_set_collector_time");
        if (set == NULL || set(ins, dl_stop_collect, 0, 100000000L, NULL) < 0)
            return -1;
        return 0;
    }
    struct dl_lib_ctx *(*get)(void) =
        (struct dl_lib_ctx *(*)(void)) dlsym(RTLD_DEFAULT, "flb_context_get");
    struct dl_lib_ctx *ctx = get != NULL ? get() : NULL;
    if (ctx == NULL || ctx->config == NULL)
        return -1;
    dl_request_stop(ctx->config);
    return 0;
}

void *dl_ins(void *plugin) {
    return ((struct dl_input_plugin *)plugin)->i_ins;
}

char *dl_get_property(void *plugin, char *key) {
    struct dl_input_plugin *p = plugin;
    return p->api->input_get_property(key, p->i_ins);
}

const char *dl_input_name(void *ins) {
    const char *(*name)(void *) = (const char *(*)(void *)) dlsym(RTLD_DEFAULT, "flb_input_name");
    return name != NULL ? name(ins) : NULL;
}

// dl_read copies n bytes at addr, or fails (-1) where they are not all
// readable: a pointer found by layout is checked before it is followed.
static int dl_read(const void *addr, void *buf, size_t n) {
    struct iovec local = {buf, n}, remote = {(void *) addr, n};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t) n ? 0 : -1;
}

// dl_input_tag returns the instance's tag (ins->tag), or NULL. Fluent Bit
// keeps it out of the properties a plugin may read and exports no getter,
// so it is read from struct flb_input_instance (include/fluent-bit/
// flb_input.h), whose fields before name[32] differ with versions and build
// options (FLB_HAVE_CHUNK_TRACE): name is found by its content, the
// numbered name ("docker_logs.N"); after it come alias, test_mode (3.1 and
// newer), context, ch_events[2] and p, then tag and tag_len. A candidate
// counts only when its pointer reads back a string of tag_len bytes.
const char *dl_input_tag(void *ins) {
    static const char prefix[] = "docker_logs.";
    const char *base = ins;
    size_t name = 0;
    for (; name + 32 <= 512; name += 4) {
        if (memcmp(base + name, prefix, sizeof prefix - 1) == 0 && memchr(base + name, '\0', 32) != NULL)
            break;
    }
    if (name + 32 > 512)
        return NULL;
    size_t alias = (name + 32 + 7) & ~(size_t) 7;
    static const size_t tag_after_alias[] = {40, 32}; // with test_mode, without
    for (size_t i = 0; i < sizeof tag_after_alias / sizeof tag_after_alias[0]; i++) {
        const char *tag;
        int len;
        memcpy(&tag, base + alias + tag_after_alias[i], sizeof tag);
        memcpy(&len, base + alias + tag_after_alias[i] + sizeof tag, sizeof len);
        char copy[1025];
        if (tag == NULL || len <= 0 || len >= (int) sizeof copy || dl_read(tag, copy, (size_t) len + 1) != 0)
            continue;
        if (copy[len] == '\0' && strlen(copy) == (size_t) len)
            return tag;
    }
    return NULL;
}

// Fluent Bit's own appends. flb_input_log_append_records (2.0.0 on, same
// signature to 5.1.1) takes the record count the plugin knows already;
// flb_input_log_append counts them by decoding the whole buffer (msgpack-c
// was 6% of Fluent Bit's CPU on a busy host, BENCHMARKS.md P2).
typedef int (*dl_append_records_fn)(void *ins, size_t records, const char *tag,
                                    size_t tag_len, const void *buf, size_t buf_size);
typedef int (*dl_append_fn)(void *ins, const char *tag, size_t tag_len,
                            const void *buf, size_t buf_size);
static dl_append_records_fn dl_append_counted;
static dl_append_fn dl_append;

int dl_find_append(void) {
    dl_append_counted = (dl_append_records_fn) dlsym(RTLD_DEFAULT, "flb_input_log_append_records");
    dl_append = (dl_append_fn) dlsym(RTLD_DEFAULT, "flb_input_log_append");
    return dl_append_counted != NULL || dl_append != NULL;
}

// dl_append_records appends records under tag (NULL: the instance's own
// tag). Fluent Bit copies both the tag and the records before returning.
int dl_append_records(void *ins, size_t records, const char *tag, size_t tag_len,
                      const void *buf, size_t size) {
    if (dl_append_counted != NULL) {
        return dl_append_counted(ins, records, tag, tag_len, buf, size);
    }
    return dl_append(ins, tag, tag_len, buf, size);
}

// The plugin's event collector callback (plugin/events.go). Fluent Bit
// calls it as int (*)(struct flb_input_instance *, struct flb_config *,
// void *in_context) on the instance's thread.
extern int dlEventCollect(void *ins, void *config, void *in_context);

typedef int (*dl_collector_cb)(void *, void *, void *);
typedef int (*dl_set_collector_event_fn)(void *ins, dl_collector_cb cb, int fd, void *config);
typedef int (*dl_collector_fn)(int coll_id, void *ins);

// Fluent Bit names a threaded input's thread flb-in-<instance>-w<N>
// (flb_input_thread.c); with threaded false the proxy runs on the
// pipeline's thread, where a collector registered during init breaks the
// proxy's own (its timer gets ID 1 where the non-threaded path expects 0).
int dl_threaded(void) {
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name) != 0)
        return 0;
    return strncmp(name, "flb-in-", 7) == 0;
}

// dl_event_collector registers the collector on fd for ins. config may be
// NULL for a threaded input: only a non-threaded one's collector reads
// config->evl (flb_input.c, 3.2 to 5.1).
int dl_event_collector(void *ins, int fd) {
    dl_set_collector_event_fn set =
        (dl_set_collector_event_fn) dlsym(RTLD_DEFAULT, "flb_input_set_collector_event");
    if (set == NULL || dlsym(RTLD_DEFAULT, "flb_input_collector_pause") == NULL ||
        dlsym(RTLD_DEFAULT, "flb_input_collector_resume") == NULL)
        return -1;
    return set(ins, dlEventCollect, fd, NULL);
}

// dl_collector_set pauses (running 0) or resumes the collector id of ins,
// on the instance's thread.
int dl_collector_set(int id, void *ins, int running) {
    dl_collector_fn fn = (dl_collector_fn) dlsym(RTLD_DEFAULT,
        running ? "flb_input_collector_resume" : "flb_input_collector_pause");
    return fn != NULL ? fn(id, ins) : -1;
}

// One api per process: every instance's points to the same.
static struct dl_flb_api *dl_log_api;

int dl_use_log(void *plugin) {
    struct dl_input_plugin *p = plugin;
    if (p->api == NULL || p->api->log_print == NULL || p->api->input_log_check == NULL)
        return -1;
    dl_log_api = p->api;
    for (int level = 4; level >= 1; level--)   // FLB_LOG_DEBUG ... FLB_LOG_ERROR
        if (p->api->input_log_check(p->i_ins, level))
            return level;
    return 0;
}

// dl_log prints msg as Fluent Bit's own inputs do (flb_plg_*): into its
// log when called on a thread of Fluent Bit's, on stderr otherwise.
void dl_log(int type, const char *msg) {
    dl_log_api->log_print(type, NULL, 0, "%s", msg);
}

// cmetrics (lib/cmetrics), stable from Fluent Bit 2.0.0 to 5.1.1; the
// strings are copied.
typedef void *(*dl_metric_create_fn)(void *cmt, char *ns, char *subsystem, char *name,
                                     char *help, int label_count, char **label_keys);
typedef int (*dl_metric_set_fn)(void *metric, uint64_t ts, double value,
                                int labels_count, char **label_values);
static dl_metric_create_fn dl_counter_create, dl_gauge_create;
static dl_metric_set_fn dl_counter_set, dl_gauge_set;

void *dl_cmt(void *plugin) {
    struct dl_input_plugin *p = plugin;
    if (p->api == NULL || p->api->input_get_cmt_instance == NULL)
        return NULL;
    dl_counter_create = (dl_metric_create_fn) dlsym(RTLD_DEFAULT, "cmt_counter_create");
    dl_gauge_create = (dl_metric_create_fn) dlsym(RTLD_DEFAULT, "cmt_gauge_create");
    dl_counter_set = (dl_metric_set_fn) dlsym(RTLD_DEFAULT, "cmt_counter_set");
    dl_gauge_set = (dl_metric_set_fn) dlsym(RTLD_DEFAULT, "cmt_gauge_set");
    if (!dl_counter_create || !dl_gauge_create || !dl_counter_set || !dl_gauge_set)
        return NULL;
    return p->api->input_get_cmt_instance(p->i_ins);
}

// Metrics are fluentbit_docker_logs_NAME{name="<instance>"}, labelled as
// Fluent Bit labels its own per-input ones.
void *dl_metric_create(void *cmt, int gauge, char *name, char *help) {
    char *keys[] = { "name" };
    return (gauge ? dl_gauge_create : dl_counter_create)(cmt, "fluentbit", "docker_logs",
                                                         name, help, 1, keys);
}

int dl_metric_set(void *metric, int gauge, uint64_t ts, double value, char *label) {
    char *values[] = { label };
    return (gauge ? dl_gauge_set : dl_counter_set)(metric, ts, value, 1, values);
}
