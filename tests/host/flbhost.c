/*
 * flbhost: a small stand-in for Fluent Bit that loads a Go input plugin
 * (c-shared .so) exactly the way Fluent Bit's Go proxy does, so CI can test
 * the plugin without Fluent Bit.
 *
 * Mirrors fluent/fluent-bit: src/flb_plugin_proxy.c, src/proxy/go/go.[ch],
 * include/fluent-bit/flb_plugin_proxy.h, flb_api.h, src/flb_input.c,
 * src/flb_input_thread.c, src/flb_engine.c (>= 4.1), and v3.2.10 (--legacy).
 *
 * Hot reload (-Y, then SIGHUP) follows src/flb_reload.c and fluent-bit.c
 * 5.1.1: FLBPluginRegister on a new def while the old instances run, the old
 * instances paused twice and exited with PreExit(1), Unregister(old def),
 * then new instances (NAME.0, ...) with fresh contexts, Init, PreRun(1). The
 * .so stays loaded.
 *
 * Build: gcc -O2 -g -Wall -Wextra -Werror -pthread -o build/flbhost \
 *            tests/host/flbhost.c -ldl
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Fluent Bit ABI (x86-64), checked by the static asserts below ---- */

#define FLB_PROXY_INPUT_PLUGIN 1
#define FLB_PROXY_GOLANG       11

/* >= 4.x (48 bytes). 3.x ended after description: --legacy allocates only
 * those 40 bytes, so a plugin writing further shows up under valgrind. */
struct flb_plugin_proxy_def {
    int type, proxy, flags;     /* type@0 proxy@4 flags@8 */
    char *name;
    char *description;
    int event_type;
    void *config_map;
};
#define LEGACY_DEF_SIZE offsetof(struct flb_plugin_proxy_def, event_type)

/* One per loaded .so; every instance context points to it. */
struct flb_plugin_proxy {
    struct flb_plugin_proxy_def *def;
    struct flb_api *api;
    void *instance;
    void *dso_handler;
    void *data;                 /* the flbgo_input_plugin */
    struct { void *prev, *next; } _head;
};

/* plugin->context. >= 4.1: */
struct flb_plugin_input_proxy_context {
    int coll_fd;
    void *remote_context;       /* offset 8: the Ctx callbacks' argument */
    struct flb_plugin_proxy *proxy;
};
/* 3.x: */
struct flb_plugin_proxy_context {
    void *remote_context;
    struct flb_plugin_proxy *proxy;   /* offset 8: Fluent Bit's own pointer */
};

/* include/fluent-bit/flb_api.h (instance pointers are opaque here). */
struct flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
    const char *(*custom_get_property)(const char *, void *);
    int (*custom_log_check)(void *, int);
};

/* src/proxy/go/go.h: what FLBPluginInit receives. >= 4.1 (80 bytes): */
struct flbgo_input_plugin {
    char *name;
    void *api, *i_ins, *context;       /* what the plugin reads */
    int (*cb_init)(void *);
    int (*cb_collect)(void **, size_t *);
    int (*cb_collect_ctx)(void *, void **, size_t *);
    int (*cb_cleanup)(void *);
    int (*cb_cleanup_ctx)(void *, void *);
    int (*cb_exit)(void);
};
/* 3.x (64 bytes), no Ctx members: */
struct flbgo_input_plugin_3x {
    char *name;
    void *api, *i_ins, *context;
    int (*cb_init)(void *);
    int (*cb_collect)(void **, size_t *);
    int (*cb_cleanup)(void *);
    int (*cb_exit)(void);
};

_Static_assert(offsetof(struct flb_plugin_proxy_def, name) == 16, "def");
_Static_assert(offsetof(struct flb_plugin_proxy_def, event_type) == 32, "def");
_Static_assert(offsetof(struct flb_plugin_proxy_def, config_map) == 40, "def");
_Static_assert(offsetof(struct flb_plugin_input_proxy_context, remote_context) == 8, "ctx");
_Static_assert(offsetof(struct flb_plugin_proxy_context, proxy) == 8, "ctx3x");
_Static_assert(offsetof(struct flb_api, input_get_property) == 8, "api");
_Static_assert(sizeof(struct flbgo_input_plugin) == 80, "plugin");
_Static_assert(sizeof(struct flbgo_input_plugin_3x) == 64, "plugin3x");

/* ---- Host state ---- */

enum { LOG_ERROR = 1, LOG_WARN, LOG_INFO, LOG_DEBUG };   /* Fluent Bit's numbers */

/* Main thread -> instance thread messages, kept in order by a pipe. */
enum { CMD_START = 'G', CMD_PAUSE = 'P', CMD_RESUME = 'R',
       CMD_SHUTDOWN_PAUSE = 'S', CMD_EXIT = 'X', CMD_EXIT_RELOAD = 'Y',
       CMD_WAKE = 'W' /* another thread paused or resumed our collector */ };

#define SLOW_COLLECT_NS (100 * 1000000LL)
#define MP_MAX_DEPTH    64

struct prop { char *key, *val; };

/* One -i with its -p, as given: each generation's instances are made from
 * these (flb_reload.c reloads the same configuration). */
struct conf_ins {
    char *alias;
    char *tag;                  /* the tag property, NULL when not set */
    int log_level;              /* its log_level property, -1 when not set */
    struct prop *props;         /* only what the plugin may see */
    size_t nprops;
};

struct instance {
    /* Fluent Bit 5.1.1's struct flb_input_instance up to tag_len (built
     * without FLB_HAVE_CHUNK_TRACE), which the plugin reads to find the
     * instance's tag (plugin/flb.c, dl_input_tag); only name, alias, tag
     * and tag_len are the host's. */
    char fb_event[48];          /* struct mk_event */
    void *fb_processor;
    int fb_flags, fb_id, fb_log_level, fb_log_suppress_interval;
    int fb_channel[2];
    int fb_runs_in_coroutine;
    char name[32];              /* NAME.N, Fluent Bit's ins->name */
    char *alias;                /* points into the conf_ins */
    int fb_test_mode;
    void *fb_context;
    int fb_ch_events[2];
    void *fb_p;
    const char *tag;            /* ins->tag: the tag property, else name */
    int tag_len;
    struct prop *props;         /* this generation's own copies */
    size_t nprops;
    void *ctx;                  /* plugin->context, layout by mode */
    pthread_t tid;
    int cmd_rd, cmd_wr;
    int init_status;            /* 0 pending, 1 ok, -1 failed */
    uint64_t collects, nonempty, records, bytes, max_buf;
    uint64_t appends, refused;  /* flb_input_log_append calls, and refused ones */
    int64_t max_collect_ns;
    int64_t append_ns;          /* spent in flb_input_log_append, this collect */
    int log_level;              /* ins->log_level: its log_level, else the service's */
    _Atomic bool coll_running;  /* its collect timer (flb_input_collector_pause/resume) */
    bool paused;                /* the input's own state: Pause called, no Resume yet */
    /* Collectors the plugin registered (flb_input_set_collector_event);
     * IDs 0.. in order, the proxy's timer is registered after Init and
     * gets the next one, as in Fluent Bit. Only the instance's thread
     * touches them. */
    struct event_collector {
        int fd;
        bool running;
        int (*cb)(void *ins, void *config, void *in_context);
    } events[4];
    int nevents;
    uint64_t event_calls;
    struct cmt *cmt;            /* ins->cmt */
};

/* ---- cmetrics, the part Go plugins use (lib/cmetrics) ----
 * Exported like the fluent-bit executable's: a plugin finds them by dlsym.
 * Like Fluent Bit's, these contexts take no lock: the plugin must update an
 * instance's metrics from the instance's own thread, which is checked. */
struct cmt_metric {
    struct cmt_metric *next;
    struct cmt *owner;
    bool gauge;
    char *fqname;               /* ns_subsystem_name */
    char *label_key;
    struct cmt_series { char *label_val; double value; struct cmt_series *next; } *series;
};
struct cmt {
    struct instance *in;
    struct cmt_metric *metrics;
};

static struct {
    bool legacy;
    bool hot_reload;            /* -Y: config->enable_hot_reload */
    unsigned generation;        /* hot reloads done so far */
    int verbose;
    uint64_t interval_ms, duration_ms, max_chunk;
    const char *out_path;
    FILE *out;
    const char *collects_path;  /* --collects: one line per non-empty collect */
    FILE *collects;
    bool count_only;            /* --count-only: validate and count, no JSON */
    bool collect_time;          /* --collect-time: stamp each record's hand-over */
    const char *refuse_path;    /* --refuse-appends FILE: refuse while it exists */
    const char *log_path;       /* --log-file: Fluent Bit's log_file */
    int log_fd;                 /* where log lines go from Fluent Bit's threads */
    const char *metrics_path;   /* --metrics: each generation's cmetrics at its end */
    const char *pause_only;     /* --pause-only NAME: SIGUSR1/2 for that instance */
    struct route {              /* --route MATCH=FILE, an [OUTPUT] Match each */
        const char *match, *path;
        FILE *f;                /* shared by the routes to one file (or --out's) */
    } *routes;
    size_t nroutes;
    pthread_mutex_t out_lock;   /* one collect's lines go out in one write */
    pthread_mutex_t init_lock;
    pthread_cond_t init_cond;

    const char *so_path;
    void *dso;                  /* dlopen'd once, never closed by a reload */
    struct flb_api api;
    /* Per generation (replaced by a hot reload): */
    struct flb_plugin_proxy *proxy;
    struct flb_plugin_proxy_def *def;
    void *plugin;               /* flbgo_input_plugin(_3x), shared by all */
    char *plugin_name;          /* strdup of def->name */

    /* Symbols, looked up once; NULL when not exported. */
    int (*pre_register)(int);
    int (*reg)(struct flb_plugin_proxy_def *);
    void *init, *collect, *cleanup, *exit, *collect_ctx, *cleanup_ctx;
    void (*pause)(void);
    void (*resume)(void);
    int (*pre_run)(int);
    void (*pre_exit)(int);
    void (*unregister)(struct flb_plugin_proxy_def *);

    struct conf_ins *conf;
    size_t nconf;
    pthread_mutex_t ins_lock;   /* g.ins/g.nins, swapped by a reload */
    struct instance *ins;       /* the running generation's */
    size_t nins;
} g = { .log_fd = STDERR_FILENO, .interval_ms = 1000, .out_lock = PTHREAD_MUTEX_INITIALIZER,
        .init_lock = PTHREAD_MUTEX_INITIALIZER, .init_cond = PTHREAD_COND_INITIALIZER,
        .ins_lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- Logging, Fluent Bit style: "[date] [ info] [component] msg" ---- */

/* Threads Fluent Bit knows (flb_worker_get() finds them): the main thread
 * and the instances'. Only their lines reach the log file; on any other
 * thread, such as a Go plugin's own, flb_log_print writes to stderr. */
static __thread bool fb_thread;

static void vlog_to(int fd, int lvl, const char *extra, const char *fmt, va_list ap);

/* One write(2) per message so lines from several threads never mix;
 * extra (e.g. a hex dump) goes out in the same write. */
static void vlog(int lvl, const char *extra, const char *fmt, va_list ap)
{
    if (lvl == LOG_DEBUG && !g.verbose)
        return;
    vlog_to(fb_thread ? g.log_fd : STDERR_FILENO, lvl, extra, fmt, ap);
}

static void vlog_to(int fd, int lvl, const char *extra, const char *fmt, va_list ap)
{
    static const char *names[] = { "error", "error", " warn", " info", "debug" };
    char buf[8192];
    size_t n, cap = sizeof(buf) - 1;
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (lvl < LOG_ERROR || lvl > LOG_DEBUG)
        lvl = lvl < LOG_ERROR ? LOG_ERROR : LOG_DEBUG;
    /* Fluent Bit 5.x prints milliseconds */
    localtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, cap, "[%Y/%m/%d %H:%M:%S", &tm);
    n += (size_t) snprintf(buf + n, cap - n, ".%03ld] ", ts.tv_nsec / 1000000);
    n += (size_t) snprintf(buf + n, cap - n, "[%s] ", names[lvl]);
    int r = vsnprintf(buf + n, cap - n, fmt, ap);
    n = r < 0 ? n : ((size_t) r >= cap - n ? cap - 1 : n + (size_t) r);
    buf[n++] = '\n';
    if (extra) {
        size_t e = strlen(extra);
        memcpy(buf + n, extra, e < sizeof(buf) - n ? e : sizeof(buf) - n);
        n += e < sizeof(buf) - n ? e : sizeof(buf) - n;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno != EINTR)
            break;
        off += w > 0 ? (size_t) w : 0;
    }
}

__attribute__((format(printf, 3, 4)))
static void logx(int lvl, const char *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, extra, fmt, ap);
    va_end(ap);
}
#define logm(lvl, ...) logx(lvl, NULL, __VA_ARGS__)

static const char *ins_display(const struct instance *in)
{
    return in->alias ? in->alias : in->name;
}

/* Leaves from any thread without atexit handlers racing live threads. */
static __attribute__((noreturn)) void die(int status)
{
    fflush(NULL);
    _exit(status);
}

static void *xrealloc(void *p, size_t sz)
{
    if (!(p = realloc(p, sz ? sz : 1))) {
        logm(LOG_ERROR, "[host] out of memory");
        die(1);
    }
    return p;
}

static void *xcalloc(size_t sz)
{
    return memset(xrealloc(NULL, sz), 0, sz);
}

static char *xstrdup(const char *str)
{
    size_t n = strlen(str) + 1;
    return memcpy(xrealloc(NULL, n), str, n);
}

/* ---- Growable byte buffer ---- */

struct sb { char *p; size_t len, cap; };

static void sb_put(struct sb *s, const void *d, size_t n)
{
    if (s->cap - s->len < n + 1) {
        while (s->cap - s->len < n + 1)
            s->cap = s->cap ? s->cap * 2 : 256;
        s->p = xrealloc(s->p, s->cap);
    }
    memcpy(s->p + s->len, d, n);
    s->p[s->len += n] = '\0';
}

static void sb_puts(struct sb *s, const char *str) { sb_put(s, str, strlen(str)); }

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sb *s, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(s, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

/* ---- Properties and the flb_api callbacks ---- */

/* Keys flb_input_set_property() consumes for every input: they never reach
 * ins->properties, so input_get_property() cannot see them. net.* and
 * oauth2* go to lists of their own in Fluent Bit, so they are hidden too. */
static bool fb_consumed_key(const char *k)
{
    static const char *exact[] = {
        "alias", "tag", "log_level", "log_suppress_interval", "mem_buf_limit",
        "routable", "threaded", "storage.type", "storage.pause_on_chunks_overlimit",
        "host", "port", "listen", "ipv6", "tls", "rate_window", NULL };
    static const char *prefix[] = {
        "tls.", "thread.ring_buffer.", "rate_gate", "net.", "oauth2", NULL };
    for (int i = 0; exact[i]; i++)
        if (strcasecmp(k, exact[i]) == 0)
            return true;
    for (int i = 0; prefix[i]; i++)
        if (strncasecmp(k, prefix[i], strlen(prefix[i])) == 0)
            return true;
    return false;
}

/* flb_input_get_property(): case-insensitive, first match wins; NULL when
 * unset or set to "" (Fluent Bit stores an empty value as NULL). */
static const char *api_input_get_property(const char *key, void *i_ins)
{
    struct instance *in = NULL;
    const char *val = NULL;
    pthread_mutex_lock(&g.ins_lock);
    for (size_t i = 0; i < g.nins; i++)
        if ((void *) &g.ins[i] == i_ins)
            in = &g.ins[i];
    if (!in) {
        logm(LOG_ERROR, "[host] input_get_property(\"%s\") called with %p, not "
             "an instance pointer this host handed out%s", key ? key : "", i_ins,
             g.generation ? " to the running generation (one from before a hot "
             "reload is freed)" : "");
        die(3);
    }
    for (size_t i = 0; key && i < in->nprops; i++)
        if (strcasecmp(in->props[i].key, key) == 0) {
            val = in->props[i].val;
            break;
        }
    pthread_mutex_unlock(&g.ins_lock);
    return val;
}

/* Output/custom instances do not exist in this host. */
static const char *api_no_property(const char *k, void *i) { (void) k; (void) i; return NULL; }
static void *api_no_cmt(void *ins) { (void) ins; return NULL; }
static int api_no_log_check(void *ins, int level) { (void) ins; (void) level; return 0; }

/* flb_input_get_cmt_instance() */
static void *api_input_cmt(void *ins) { return ((struct instance *) ins)->cmt; }

/* flb_log_print(type, file, line, fmt, ...): no level check (the caller
 * made it), into the log from Fluent Bit's threads, else stderr. */
static void api_log_print(int type, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    (void) file; (void) line;
    va_start(ap, fmt);
    vlog_to(fb_thread ? g.log_fd : STDERR_FILENO, type, NULL, fmt, ap);
    va_end(ap);
}

/* flb_input_log_check() */
static int api_log_check(void *ins, int level)
{
    return level <= ((struct instance *) ins)->log_level;
}

/* flb_input_name(): the alias, else NAME.N (exported). */
const char *flb_input_name(void *ins)
{
    struct instance *in = ins;
    return in->alias ? in->alias : in->name;
}

static void cmt_check_thread(struct cmt *cmt, const char *fn)
{
    if (!pthread_equal(pthread_self(), cmt->in->tid)) {
        logm(LOG_ERROR, "[host] %s on a thread that is not %s's: Fluent Bit's "
             "metrics contexts take no lock", fn, ins_display(cmt->in));
        die(3);
    }
}

static void *cmt_create(void *cmt, bool gauge, const char *ns, const char *sub,
                        const char *name, int label_count, char **label_keys, const char *fn)
{
    struct cmt *c = cmt;
    cmt_check_thread(c, fn);
    if (label_count != 1 || !label_keys || !label_keys[0]) {
        logm(LOG_ERROR, "[host] %s: this host keeps one label per metric", fn);
        die(3);
    }
    struct cmt_metric *m = xcalloc(sizeof(*m));
    struct sb fq = {0};
    sb_printf(&fq, "%s_%s_%s", ns, sub, name);
    m->owner = c, m->fqname = fq.p, m->gauge = gauge, m->label_key = xstrdup(label_keys[0]);
    struct cmt_metric **tail = &c->metrics;
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
    return m;
}

static int cmt_set(void *metric, bool gauge, double value, int label_count,
                   char **label_vals, const char *fn)
{
    struct cmt_metric *m = metric;
    cmt_check_thread(m->owner, fn);
    if (m->gauge != gauge || label_count != 1 || !label_vals || !label_vals[0]) {
        logm(LOG_ERROR, "[host] %s: wrong kind or labels for %s", fn, m->fqname);
        die(3);
    }
    struct cmt_series *s = m->series;
    while (s && strcmp(s->label_val, label_vals[0]) != 0)
        s = s->next;
    if (!s) {
        s = xcalloc(sizeof(*s));
        s->label_val = xstrdup(label_vals[0]);
        s->next = m->series, m->series = s;
    }
    if (!gauge && value < s->value)
        return -1;              /* cmt_counter_set() refuses to go down */
    s->value = value;
    return 0;
}

/* Exported by the Makefile (--export-dynamic-symbol), as fluent-bit exports
 * its symbols. */
void *cmt_counter_create(void *cmt, char *ns, char *sub, char *name, char *help,
                         int label_count, char **label_keys)
{
    (void) help;
    return cmt_create(cmt, false, ns, sub, name, label_count, label_keys, "cmt_counter_create");
}

void *cmt_gauge_create(void *cmt, char *ns, char *sub, char *name, char *help,
                       int label_count, char **label_keys)
{
    (void) help;
    return cmt_create(cmt, true, ns, sub, name, label_count, label_keys, "cmt_gauge_create");
}

int cmt_counter_set(void *counter, uint64_t ts, double val, int labels_count, char **label_vals)
{
    (void) ts;
    return cmt_set(counter, false, val, labels_count, label_vals, "cmt_counter_set");
}

int cmt_gauge_set(void *gauge, uint64_t ts, double val, int labels_count, char **label_vals)
{
    (void) ts;
    return cmt_set(gauge, true, val, labels_count, label_vals, "cmt_gauge_set");
}

/* Appends an instance's metrics to --metrics in Prometheus' text format,
 * and frees them. */
static void cmt_finish(struct instance *in)
{
    FILE *f = g.metrics_path ? fopen(g.metrics_path, "a") : NULL;
    if (g.metrics_path && !f)
        logm(LOG_ERROR, "[host] cannot open %s: %s", g.metrics_path, strerror(errno));
    for (struct cmt_metric *m = in->cmt->metrics, *next; m; m = next) {
        next = m->next;
        for (struct cmt_series *s = m->series, *sn; s; s = sn) {
            sn = s->next;
            if (f)
                fprintf(f, "%s{%s=\"%s\"} %.17g\n", m->fqname, m->label_key, s->label_val, s->value);
            free(s->label_val), free(s);
        }
        free(m->fqname), free(m->label_key), free(m);
    }
    if (f)
        fclose(f);
    free(in->cmt);
    in->cmt = NULL;
}

/* ---- msgpack reader: bounds-checked, never reads past the buffer ---- */

enum mp_kind { MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_F32, MP_F64,
               MP_STR, MP_BIN, MP_ARR, MP_MAP, MP_EXT };
static const char *mp_kind_name[] = { "nil", "bool", "positive integer",
    "negative integer", "float32", "float64", "str", "bin", "array", "map", "ext" };

struct mp {
    const uint8_t *b;
    size_t n, off;
    size_t err_off;             /* where the problem is */
    char err[160];
};

struct mo {                     /* one object's header */
    enum mp_kind kind;
    bool bval;
    uint64_t u;
    int64_t i;
    double f;
    uint32_t len;               /* str/bin/ext bytes, array/map entries */
    int8_t ext_type;
    const uint8_t *ptr;         /* str/bin/ext payload */
};

__attribute__((format(printf, 3, 4)))
static bool mp_fail(struct mp *m, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof(m->err), fmt, ap);
    va_end(ap);
    m->err_off = at;
    return false;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    while (n--)
        v = (v << 8) | *p++;
    return v;
}

/* Reads one header (plus the payload of str/bin/ext); arrays and maps leave
 * the cursor on their first element. */
static bool mp_head(struct mp *m, struct mo *o)
{
    const size_t start = m->off, left = m->n - m->off;
    const uint8_t *p = m->b + start;
    size_t hdr = 1;             /* header bytes before a payload */
    int lb = 0;                 /* width of a length or number field */

#define NEED(k, what) do { if (left < (size_t) (k)) return mp_fail(m, start, \
    "truncated %s: needs %zu bytes, %zu left", what, (size_t) (k), left); } while (0)

    memset(o, 0, sizeof(*o));
    NEED(1, "object");
    uint8_t c = p[0];
    m->off++;
    if (c <= 0x7f) { o->kind = MP_UINT; o->u = c; return true; }
    if (c >= 0xe0) { o->kind = MP_INT; o->i = (int8_t) c; return true; }
    if (c <= 0x8f) { o->kind = MP_MAP; o->len = c & 0x0f; return true; }
    if (c <= 0x9f) { o->kind = MP_ARR; o->len = c & 0x0f; return true; }
    if (c <= 0xbf) { o->kind = MP_STR; o->len = c & 0x1f; goto payload; }

    switch (c) {
    case 0xc0: o->kind = MP_NIL; return true;
    case 0xc1: return mp_fail(m, start, "byte 0xc1 is never used in msgpack");
    case 0xc2: case 0xc3: o->kind = MP_BOOL; o->bval = c == 0xc3; return true;
    case 0xca: {
        NEED(5, "float32");
        uint32_t v = (uint32_t) be(p + 1, 4);
        float f;
        memcpy(&f, &v, 4);
        o->kind = MP_F32; o->f = f; m->off += 4; return true; }
    case 0xcb: {
        NEED(9, "float64");
        uint64_t v = be(p + 1, 8);
        memcpy(&o->f, &v, 8);
        o->kind = MP_F64; m->off += 8; return true; }
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        lb = 1 << (c - 0xcc);
        NEED(1 + lb, "unsigned integer");
        o->kind = MP_UINT; o->u = be(p + 1, lb); m->off += lb; return true;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        lb = 1 << (c - 0xd0);
        NEED(1 + lb, "signed integer");
        uint64_t v = be(p + 1, lb);
        if (lb < 8 && (v >> (lb * 8 - 1)))        /* sign-extend */
            v |= ~0ULL << (lb * 8);
        o->i = (int64_t) v;
        m->off += lb;
        /* As msgpack-c: a non-negative value is a positive integer. */
        if (o->i >= 0) { o->kind = MP_UINT; o->u = v; }
        else o->kind = MP_INT;
        return true; }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        NEED(2, "fixext header");
        o->kind = MP_EXT; o->len = 1u << (c - 0xd4); o->ext_type = (int8_t) p[1];
        m->off++; hdr = 2; goto payload;
    case 0xdc: case 0xdd: case 0xde: case 0xdf:
        lb = 2 << (c & 1);
        NEED(1 + lb, c < 0xde ? "array header" : "map header");
        o->kind = c < 0xde ? MP_ARR : MP_MAP;
        o->len = (uint32_t) be(p + 1, lb);
        m->off += lb;
        return true;
    case 0xc4: case 0xc5: case 0xc6: o->kind = MP_BIN; lb = 1 << (c - 0xc4); break;
    case 0xc7: case 0xc8: case 0xc9: o->kind = MP_EXT; lb = 1 << (c - 0xc7); break;
    default:   /* 0xd9-0xdb */       o->kind = MP_STR; lb = 1 << (c - 0xd9); break;
    }
    /* str8-32, bin8-32, ext8-32: a length field; ext adds a type byte */
    hdr = 1 + (size_t) lb + (o->kind == MP_EXT);
    NEED(hdr, "length header");
    o->len = (uint32_t) be(p + 1, lb);
    if (o->kind == MP_EXT)
        o->ext_type = (int8_t) p[1 + lb];
    m->off = start + hdr;
payload:
    NEED(hdr + o->len, mp_kind_name[o->kind]);
    o->ptr = p + hdr;
    m->off = start + hdr + o->len;
    return true;
#undef NEED
}

/* Header of the next object without consuming it. */
static bool mp_peek(struct mp *m, struct mo *o)
{
    size_t save = m->off;
    bool ok = mp_head(m, o);
    m->off = save;
    return ok;
}

/* ---- msgpack -> JSON ---- */

/* Skips one whole object (nested arrays and maps included), bounds-checked:
 * what Fluent Bit's flb_mp_count() does to every appended buffer. */
static bool mp_skip(struct mp *m)
{
    struct mo o;
    for (uint64_t left = 1; left > 0; left--) {
        if (!mp_head(m, &o))
            return false;
        if (o.kind == MP_ARR)
            left += o.len;
        else if (o.kind == MP_MAP)
            left += 2 * (uint64_t) o.len;
    }
    return true;
}

/* --count-only: one record skipped, checking only that it is an array of
 * 2 (header, body) of well-formed msgpack; no JSON is made. */
static bool record_skip(struct mp *m)
{
    size_t start = m->off;
    struct mo o;
    if (!mp_head(m, &o))
        return false;
    if (o.kind != MP_ARR || o.len != 2)
        return mp_fail(m, start, "record is not an array of 2: [time, map]");
    return mp_skip(m) && mp_skip(m);
}

/* Length of a valid multi-byte UTF-8 sequence at p, or 0. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xbf;
    size_t k;
    if (c >= 0xc2 && c <= 0xdf)
        k = 2;
    else if (c >= 0xe0 && c <= 0xef)
        k = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf; /* overlong, surrogates */
    else if (c >= 0xf0 && c <= 0xf4)
        k = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf; /* overlong, > U+10FFFF */
    else
        return 0;
    if (n < k || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return k;
}

static void json_str(struct sb *s, const uint8_t *p, size_t n)
{
    sb_put(s, "\"", 1);
    for (size_t i = 0, k; i < n; i += k) {
        k = 1;
        if (p[i] == '"' || p[i] == '\\')
            sb_put(s, "\\", 1), sb_put(s, p + i, 1);
        else if (p[i] >= 0x20 && p[i] < 0x80)
            sb_put(s, p + i, 1);
        else if (p[i] >= 0x80 && (k = utf8_seq(p + i, n - i)) > 0)
            sb_put(s, p + i, k);
        else
            k = 1, sb_printf(s, "\\u%04x", p[i]);   /* control or stray byte */
    }
    sb_put(s, "\"", 1);
}

/* Converts one object to JSON and, on the way, validates all of it. */
static bool json_value(struct mp *m, struct sb *s, int depth)
{
    struct mo o;
    if (depth > MP_MAX_DEPTH)
        return mp_fail(m, m->off, "nesting deeper than %d levels", MP_MAX_DEPTH);
    if (!mp_head(m, &o))
        return false;
    switch (o.kind) {
    case MP_NIL:  sb_puts(s, "null"); break;
    case MP_BOOL: sb_puts(s, o.bval ? "true" : "false"); break;
    case MP_UINT: sb_printf(s, "%" PRIu64, o.u); break;
    case MP_INT:  sb_printf(s, "%" PRId64, o.i); break;
    case MP_F32:
    case MP_F64:  /* JSON has no NaN or Infinity */
        if (isfinite(o.f)) sb_printf(s, "%.17g", o.f); else sb_puts(s, "null");
        break;
    case MP_STR:
    case MP_BIN:  json_str(s, o.ptr, o.len); break;
    case MP_EXT:
        sb_printf(s, "{\"ext\":%d,\"hex\":\"", o.ext_type);
        for (uint32_t i = 0; i < o.len; i++)
            sb_printf(s, "%02x", o.ptr[i]);
        sb_puts(s, "\"}");
        break;
    case MP_ARR:
    case MP_MAP:
        sb_puts(s, o.kind == MP_ARR ? "[" : "{");
        for (uint32_t i = 0; i < o.len; i++) {
            struct mo k;
            if (i)
                sb_puts(s, ",");
            if (o.kind == MP_MAP) {
                /* JSON keys are strings: str/bin as they are, anything
                 * else as the text of its own JSON form. */
                if (!mp_peek(m, &k))
                    return false;
                if (k.kind == MP_STR || k.kind == MP_BIN) {
                    mp_head(m, &k);
                    json_str(s, k.ptr, k.len);
                } else {
                    struct sb tmp = {0};
                    bool ok = json_value(m, &tmp, depth + 1);
                    if (ok)
                        json_str(s, (const uint8_t *) tmp.p, tmp.len);
                    free(tmp.p);
                    if (!ok)
                        return false;
                }
                sb_puts(s, ":");
            }
            if (!json_value(m, s, depth + 1))
                return false;
        }
        sb_puts(s, o.kind == MP_ARR ? "]" : "}");
        break;
    }
    return true;
}

/* Record time as flb_time_pop_from_msgpack() takes it: EventTime (ext 0,
 * 8 bytes), a positive integer or a float64. Writes "S.NNNNNNNNN". */
static bool record_time(struct mp *m, struct sb *s)
{
    size_t start = m->off;
    struct mo o;
    if (!mp_head(m, &o))
        return false;
    if (o.kind == MP_EXT) {
        if (o.ext_type != 0 || o.len != 8)
            return mp_fail(m, start, "time is ext type %d with %u bytes; EventTime "
                           "is ext type 0 with 8 bytes", o.ext_type, o.len);
        uint32_t sec = (uint32_t) be(o.ptr, 4), nsec = (uint32_t) be(o.ptr + 4, 4);
        if (nsec >= 1000000000u)
            return mp_fail(m, start, "EventTime nanoseconds %u >= 1e9", nsec);
        sb_printf(s, ",\"time\":\"%u.%09u\"", sec, nsec);
    } else if (o.kind == MP_UINT) {
        sb_printf(s, ",\"time\":\"%" PRIu64 ".000000000\"", o.u);
    } else if (o.kind == MP_F64) {
        if (!isfinite(o.f) || o.f < 0 || o.f >= 18446744073709551616.0)
            return mp_fail(m, start, "float64 time %g is out of range", o.f);
        uint64_t sec = (uint64_t) o.f;                  /* flb_time_from_double() */
        uint64_t nsec = (uint64_t) ((o.f - (double) sec) * 1e9);
        sb_printf(s, ",\"time\":\"%" PRIu64 ".%09" PRIu64 "\"", sec,
                  nsec > 999999999 ? 999999999 : nsec);
    } else {
        return mp_fail(m, start, "time is a %s; expected EventTime (ext 0), a "
                       "positive integer or a float64", mp_kind_name[o.kind]);
    }
    return true;
}

/* Expects the next object to be a map and converts it. */
static bool json_map(struct mp *m, struct sb *s, const char *what)
{
    struct mo o;
    if (!mp_peek(m, &o))
        return false;
    if (o.kind != MP_MAP)
        return mp_fail(m, m->off, "%s is a %s; expected a map", what,
                       mp_kind_name[o.kind]);
    return json_value(m, s, 1);
}

/* One record, [time, map] or [[time, metadata], map], as one JSON line;
 * extra goes right after "instance", and *tag_at (if given) is the offset
 * in s just after it. */
static bool record_to_json(struct mp *m, struct sb *s, const char *instance,
                           const char *extra, size_t *tag_at)
{
    size_t start = m->off;
    struct mo o;

    if (!mp_head(m, &o))
        return false;
    if (o.kind != MP_ARR || o.len != 2)
        return mp_fail(m, start, "record is %s %s%s; expected an array of 2: "
                       "[time, map]", o.kind == MP_ARR ? "an" : "a",
                       mp_kind_name[o.kind], o.kind == MP_ARR ? " of another size" : "");
    sb_puts(s, "{\"instance\":");
    json_str(s, (const uint8_t *) instance, strlen(instance));
    if (extra)
        sb_puts(s, extra);
    if (tag_at)
        *tag_at = s->len;
    if (!mp_peek(m, &o))
        return false;
    if (o.kind == MP_ARR) {            /* Fluent Bit's newer header form */
        size_t hs = m->off;
        mp_head(m, &o);
        if (o.len != 2)
            return mp_fail(m, hs, "record header is an array of %u; expected "
                           "[time, metadata_map]", o.len);
        if (!record_time(m, s))
            return false;
        sb_puts(s, ",\"metadata\":");
        if (!json_map(m, s, "record metadata"))
            return false;
    } else if (!record_time(m, s)) {
        return false;
    }
    sb_puts(s, ",\"record\":");
    if (!json_map(m, s, "record body"))
        return false;
    sb_puts(s, "}\n");
    return true;
}

/* ---- Contract failures: exit 3 ---- */

__attribute__((format(printf, 2, 3), noreturn))
static void fail_instance(struct instance *in, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    logm(LOG_ERROR, "[input:%s:%s] %s", g.plugin_name, ins_display(in), msg);
    die(3);
}

/* The error plus a hex dump of up to 64 bytes around it (">" marks it). */
static __attribute__((noreturn)) void fail_buffer(struct instance *in,
    const struct mp *m, uint64_t seq, size_t rec_idx, size_t rec_off)
{
    struct sb dump = {0};
    size_t from = (m->err_off > 32 ? m->err_off - 32 : 0) & ~(size_t) 15;
    size_t to = from + 64 < m->n ? from + 64 : m->n;

    for (size_t line = from; line < to; line += 16) {
        sb_printf(&dump, "    %08zx:", line);
        for (size_t i = line; i < line + 16 && i < to; i++)
            sb_printf(&dump, "%s%02x", i == m->err_off ? " >" : "  ", m->b[i]);
        sb_puts(&dump, "\n");
    }
    if (m->err_off >= m->n)
        sb_puts(&dump, "    (the error is at the end of the buffer)\n");
    logx(LOG_ERROR, dump.p ? dump.p : "", "[input:%s:%s] invalid buffer from "
         "collect #%" PRIu64 " (%zu bytes): record %zu at offset %zu: %s "
         "(at byte offset %zu)", g.plugin_name, ins_display(in), seq, m->n,
         rec_idx, rec_off, m->err, m->err_off);
    die(3);
}

/* ---- Calls into the plugin, through the struct as src/proxy/go/go.c ---- */

#define P41 ((struct flbgo_input_plugin *) g.plugin)
#define P3X ((struct flbgo_input_plugin_3x *) g.plugin)

static void *remote_context(struct instance *in)
{
    return g.legacy ? ((struct flb_plugin_proxy_context *) in->ctx)->remote_context
                    : ((struct flb_plugin_input_proxy_context *) in->ctx)->remote_context;
}

/* proxy_go_input_init(): the one plugin struct is shared by all instances;
 * i_ins and context are rewritten before each Init (Inits never overlap). */
static int go_init(struct instance *in)
{
    g.proxy->instance = in;
    if (g.legacy) {
        P3X->api = &g.api, P3X->i_ins = in, P3X->context = in->ctx;
        return P3X->cb_init(g.plugin);
    }
    P41->api = &g.api, P41->i_ins = in, P41->context = in->ctx;
    return P41->cb_init(g.plugin);
}

/* proxy_go_input_collect(): the Ctx variant wins when exported. */
static int go_collect(struct instance *in, void **data, size_t *len)
{
    if (g.legacy)
        return P3X->cb_collect(data, len);
    if (P41->cb_collect_ctx)
        return P41->cb_collect_ctx(remote_context(in), data, len);
    return P41->cb_collect(data, len);
}

/* proxy_go_input_cleanup(): CleanupCtx if exported, else Cleanup, else
 * Fluent Bit frees the buffer itself. */
static int go_cleanup(struct instance *in, void *data)
{
    if (!g.legacy && P41->cb_cleanup_ctx)
        return P41->cb_cleanup_ctx(remote_context(in), data);
    int (*cleanup)(void *) = g.legacy ? P3X->cb_cleanup : P41->cb_cleanup;
    if (cleanup)
        return cleanup(data);
    free(data);
    return 0;
}

/* ---- Instance threads ---- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* flb_router_match() without Match_Regex: MATCH covers the whole tag,
 * each '*' any run of characters (none too); nothing else is special. The
 * classic wildcard walk: on a mismatch only the last '*' takes one more
 * character, which gives the same answers as Fluent Bit's recursion. */
static bool route_match(const char *match, const char *tag, size_t tag_len)
{
    size_t p = 0, t = 0, star = SIZE_MAX, mark = 0;
    while (t < tag_len) {
        if (match[p] == '*')
            star = p++, mark = t;
        else if (match[p] && match[p] == tag[t])
            p++, t++;
        else if (star != SIZE_MAX)
            p = star + 1, t = ++mark;
        else
            return false;
    }
    while (match[p] == '*')
        p++;
    return !match[p];
}

/* Validates a buffer handed over by a collect or an append (seq numbers
 * it in the messages), writes its records as JSON lines and counts them:
 * what Fluent Bit's append does with it, plus the checks. The lines go to
 * --out, with "tag" only when the append passed one, and, as Fluent Bit
 * routes a chunk, to every --route whose MATCH matches the buffer's tag
 * (the append's, else the instance's), there always with "tag". */
static size_t emit_records(struct instance *in, const void *data, size_t size,
                           uint64_t seq, const struct timespec *handed,
                           const char *tag, size_t tag_len)
{
    /* Validate and convert the whole buffer before writing any of it. */
    struct mp m = { .b = data, .n = size };
    struct sb out = {0}, extra = {0}, rout = {0}, rtag = {0};
    size_t nrec = 0, nmatch = 0;
    const char *rt = tag ? tag : in->tag;
    size_t rt_len = tag ? tag_len : strlen(in->tag);
    bool *matched = g.nroutes ? xcalloc(g.nroutes * sizeof(bool)) : NULL;
    for (size_t i = 0; i < g.nroutes; i++)
        nmatch += matched[i] = route_match(g.routes[i].match, rt, rt_len);
    if (g.collect_time)
        sb_printf(&extra, ",\"collect_time\":\"%lld.%09ld\"",
                  (long long) handed->tv_sec, handed->tv_nsec);
    if (tag) {
        sb_puts(&extra, ",\"tag\":");
        json_str(&extra, (const uint8_t *) tag, tag_len);
    } else if (nmatch) {        /* the route lines get the instance's tag */
        sb_puts(&rtag, ",\"tag\":");
        json_str(&rtag, (const uint8_t *) rt, rt_len);
    }
    sb_put(&extra, "", 1);      /* NUL-terminated */
    while (m.off < m.n) {
        size_t rec_off = m.off, line = out.len, tag_at = 0;
        if (g.count_only ? !record_skip(&m)
                         : !record_to_json(&m, &out, ins_display(in),
                                           extra.len > 1 ? extra.p : NULL, &tag_at))
            fail_buffer(in, &m, seq, nrec, rec_off);
        if (rtag.len) {         /* the same line with the tag spliced in */
            sb_put(&rout, out.p + line, tag_at - line);
            sb_put(&rout, rtag.p, rtag.len);
            sb_put(&rout, out.p + tag_at, out.len - tag_at);
        }
        nrec++;
    }
    free(extra.p);
    free(rtag.p);
    const struct sb *routed = rout.p ? &rout : &out;
    const char *failed = NULL;
    int err = 0;
    if (!g.count_only) {
        pthread_mutex_lock(&g.out_lock);
        if (fwrite(out.p, 1, out.len, g.out) != out.len || fflush(g.out) != 0)
            failed = g.out_path, err = errno;
        for (size_t i = 0; i < g.nroutes && !failed; i++)
            if (matched[i] && (fwrite(routed->p, 1, routed->len, g.routes[i].f) !=
                               routed->len || fflush(g.routes[i].f) != 0))
                failed = g.routes[i].path, err = errno;
        pthread_mutex_unlock(&g.out_lock);
    }
    free(out.p);
    free(rout.p);
    free(matched);
    if (failed) {
        logm(LOG_ERROR, "[host] writing %s: %s", failed, strerror(err));
        die(1);
    }
    if (g.collects) {
        /* "<unix ms> <instance> <bytes> <records>": tests measure how full
         * each collect was. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        pthread_mutex_lock(&g.out_lock);
        fprintf(g.collects, "%lld %s %zu %zu\n", (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000,
                ins_display(in), size, nrec);
        fflush(g.collects);
        pthread_mutex_unlock(&g.out_lock);
    }
    in->nonempty++;
    in->records += nrec;
    in->bytes += size;
    if (size > in->max_buf)
        in->max_buf = size;
    return nrec;
}

static int64_t now_ns(void);
static int log_append(struct instance *in, uint64_t seq, long records, const char *tag,
                      size_t tag_len, const void *buf, size_t buf_size);

/* Fluent Bit's flb_input_log_append() (src/flb_input_log.c) for a threaded
 * input, as every Go input is: exported by the executable (the Makefile
 * links build/flbhost with it exported, build/flbhost-noappend without), so
 * the plugin finds it with dlsym(RTLD_DEFAULT). On the instance's own thread
 * it copies the records into the instance's ring buffer and returns 0; the
 * main thread then appends them to chunks (here: validated and written at
 * once). With a full ring buffer it retries 10 x 100 ms and returns -1
 * (append_to_ring_buffer in src/flb_input_chunk.c): --refuse-appends FILE
 * makes the ring buffer full while FILE exists. A NULL tag is the
 * instance's own. */
int flb_input_log_append(struct instance *in, const char *tag, size_t tag_len,
                         const void *buf, size_t buf_size)
{
    uint64_t seq = in->collects + 1;    /* the collect under way */
    int64_t t0 = now_ns();
    int ret = log_append(in, seq, -1, tag, tag_len, buf, buf_size);
    in->append_ns += now_ns() - t0;
    return ret;
}

/* flb_input_log_append_records() (Fluent Bit 2.0.0 on): the same, with the
 * record count given by the caller. Fluent Bit trusts it (chunk and metrics
 * counts), so here a count that is not the buffer's fails the instance. */
int flb_input_log_append_records(struct instance *in, size_t records,
                                 const char *tag, size_t tag_len,
                                 const void *buf, size_t buf_size)
{
    uint64_t seq = in->collects + 1;
    int64_t t0 = now_ns();
    int ret = log_append(in, seq, (long) records, tag, tag_len, buf, buf_size);
    in->append_ns += now_ns() - t0;
    return ret;
}

/* records: the count the caller gave, -1 if none. */
static int log_append(struct instance *in, uint64_t seq, long records, const char *tag,
                      size_t tag_len, const void *buf, size_t buf_size)
{
    if (!pthread_equal(pthread_self(), in->tid))
        fail_instance(in, "flb_input_log_append called from a thread that is not "
                      "the instance's: Fluent Bit's ring buffer has one writer");
    in->appends++;
    if (in->paused)
        fail_instance(in, "flb_input_log_append called while the instance is paused: "
                      "Fluent Bit drains no paused input's ring buffer, so it fills and "
                      "each append then blocks the thread");
    if (g.refuse_path && access(g.refuse_path, F_OK) == 0) {
        for (int i = 0; i < 10; i++)
            usleep(100 * 1000);
        in->refused++;
        logm(LOG_DEBUG, "[input:%s:%s] append of %zu bytes refused: ring buffer "
             "full", g.plugin_name, ins_display(in), buf_size);
        return -1;
    }
    if (buf_size == 0 || !buf)
        fail_instance(in, "flb_input_log_append of %zu bytes at %p", buf_size, buf);
    if (g.max_chunk && buf_size > g.max_chunk)
        fail_instance(in, "an append during collect #%" PRIu64 " carried %zu bytes, "
                      "more than --max-chunk %" PRIu64, seq, buf_size, g.max_chunk);
    struct timespec handed;
    clock_gettime(CLOCK_REALTIME, &handed);
    size_t nrec = emit_records(in, buf, buf_size, seq, &handed, tag, tag_len);
    if (records >= 0 && (size_t) records != nrec)
        fail_instance(in, "an append during collect #%" PRIu64 " said it carried %ld "
                      "records; it carried %zu", seq, records, nrec);
    logm(LOG_DEBUG, "[input:%s:%s] append during collect #%" PRIu64 ": %zu records, "
         "%zu bytes", g.plugin_name, ins_display(in), seq, nrec, buf_size);
    return 0;
}

/* flb_input_set_collector_event() (src/flb_input.c, 3.2 to 5.1.1) for a
 * threaded input: a collector on fd, started with the instance's others
 * once Init returns, called on the instance's thread whenever fd is
 * readable (level-triggered, as mk_event's epoll: a callback that does not
 * read fd is called again at once). Returns the collector's ID. config may
 * be NULL: a threaded input's collector does not read it. */
int flb_input_set_collector_event(struct instance *in,
                                  int (*cb)(void *, void *, void *),
                                  int fd, void *config)
{
    (void) config;
    if (!pthread_equal(pthread_self(), in->tid))
        fail_instance(in, "flb_input_set_collector_event called from a thread that "
                      "is not the instance's");
    if (in->nevents == (int) (sizeof(in->events) / sizeof(in->events[0])))
        return -1;
    in->events[in->nevents] = (struct event_collector) { .fd = fd, .running = true, .cb = cb };
    logm(LOG_DEBUG, "[input:%s:%s] event collector %d on fd %d", g.plugin_name,
         ins_display(in), in->nevents, fd);
    return in->nevents++;
}

/* flb_input_collector_pause()/resume() of a plugin's own collector: it is
 * not polled while paused. Fluent Bit's run on the instance's thread (its
 * event loop is not shared); so must these. */
static int collector_set(int id, struct instance *in, bool running, const char *fn)
{
    if (!pthread_equal(pthread_self(), in->tid))
        fail_instance(in, "%s called from a thread that is not the instance's", fn);
    if (id < 0 || id >= in->nevents)
        return -1;
    in->events[id].running = running;
    return 0;
}

int flb_input_collector_pause(int id, struct instance *in)
{
    return collector_set(id, in, false, "flb_input_collector_pause");
}

int flb_input_collector_resume(int id, struct instance *in)
{
    return collector_set(id, in, true, "flb_input_collector_resume");
}

/* flb_proxy_input_cb_collect() plus the checks this host exists for. */
static void do_collect(struct instance *in)
{
    void *data = NULL;
    size_t size = 0;
    int64_t t0 = now_ns();
    in->append_ns = 0;
    int ret = go_collect(in, &data, &size);
    int64_t dt = now_ns() - t0 - in->append_ns;    /* Fluent Bit's own work aside */
    struct timespec handed;         /* wall clock of the hand-over */
    clock_gettime(CLOCK_REALTIME, &handed);
    uint64_t seq = ++in->collects;

    if (dt > in->max_collect_ns)
        in->max_collect_ns = dt;
    if (dt > SLOW_COLLECT_NS)
        logm(LOG_WARN, "[input:%s:%s] collect #%" PRIu64 " took %.1f ms; the "
             "collect callback must never block", g.plugin_name, ins_display(in),
             seq, dt / 1e6);

    /* Fluent Bit: size 0 appends nothing and -1 drops the data; neither
     * calls cleanup, so a buffer handed over then is leaked. */
    if (size == 0 || ret == -1) {
        if (data)
            fail_instance(in, "collect #%" PRIu64 " returned %d with size %zu and "
                          "data %p: Fluent Bit never calls cleanup then, the "
                          "buffer leaks", seq, ret, size, data);
        return;
    }
    if (!data)
        fail_instance(in, "collect #%" PRIu64 " returned size %zu with a NULL "
                      "buffer", seq, size);
    if (g.max_chunk && size > g.max_chunk)
        fail_instance(in, "collect #%" PRIu64 " handed over %zu bytes, more than "
                      "--max-chunk %" PRIu64, seq, size, g.max_chunk);

    size_t nrec = emit_records(in, data, size, seq, &handed, NULL, 0);
    logm(LOG_DEBUG, "[input:%s:%s] collect #%" PRIu64 ": %zu records, %zu bytes",
         g.plugin_name, ins_display(in), seq, nrec, size);
    if (go_cleanup(in, data) == -1)
        logm(LOG_WARN, "[input:%s:%s] cleanup callback returned -1",
             g.plugin_name, ins_display(in));
}

/* Waits up to timeout_ms (-1: forever) for the next command, running the
 * plugin's event collectors whose fd is readable meanwhile; returns the
 * command, 0 if none came (a collector ran, or the time is up). */
static char next_cmd(struct instance *in, int timeout_ms)
{
    struct pollfd p[1 + sizeof(in->events) / sizeof(in->events[0])];
    int ids[sizeof(p) / sizeof(p[0])];
    int n = 0;
    p[n++] = (struct pollfd) { .fd = in->cmd_rd, .events = POLLIN };
    for (int i = 0; i < in->nevents; i++)
        if (in->events[i].running) {
            ids[n] = i;
            p[n++] = (struct pollfd) { .fd = in->events[i].fd, .events = POLLIN };
        }
    char c;
    int r = poll(p, n, timeout_ms);
    if (r < 0 && errno != EINTR) {
        logm(LOG_ERROR, "[host] poll: %s", strerror(errno));
        die(1);
    }
    if (r <= 0)
        return 0;
    if (p[0].revents & POLLIN)          /* commands first, as pause and exit */
        return read(in->cmd_rd, &c, 1) == 1 ? c : 0;
    for (int k = 1; k < n; k++) {
        struct event_collector *ec = &in->events[ids[k]];
        if (!(p[k].revents & (POLLIN | POLLERR | POLLHUP)) || !ec->running)
            continue;
        in->event_calls++;
        ec->cb(in, NULL, in->ctx);
    }
    return 0;
}

static void send_cmd(struct instance *in, char c)
{
    while (write(in->cmd_wr, &c, 1) != 1)
        if (errno != EINTR) {
            logm(LOG_ERROR, "[host] command pipe: %s", strerror(errno));
            die(1);
        }
}

/* Checks the context after Init the way Fluent Bit would use it. */
static void check_context(struct instance *in)
{
    if (g.legacy) {
        struct flb_plugin_proxy_context *c = in->ctx;
        if (c->proxy != g.proxy)
            fail_instance(in, "Init overwrote Fluent Bit's proxy pointer at "
                          "context offset 8 (%p -> %p); before 4.1 that word is "
                          "not remote_context", (void *) g.proxy, (void *) c->proxy);
        return;
    }
    struct flb_plugin_input_proxy_context *c = in->ctx;
    if (c->proxy != g.proxy)
        fail_instance(in, "Init overwrote the proxy pointer at context offset 16 "
                      "(%p -> %p)", (void *) g.proxy, (void *) c->proxy);
    if (c->coll_fd != 0)
        logm(LOG_WARN, "[input:%s:%s] Init wrote %d at context offset 0 (coll_fd); "
             "Fluent Bit overwrites it, remote_context is at offset 8",
             g.plugin_name, ins_display(in), c->coll_fd);
    c->coll_fd = in->nevents;   /* flb_input_set_collector_time(): the next ID */
    logm(LOG_DEBUG, "[input:%s:%s] remote_context after Init: %p", g.plugin_name,
         ins_display(in), c->remote_context);
}

/* input_thread() in src/flb_input_thread.c: Init, report, wait for the
 * start signal, PreRun, then the event loop (timer + messages). */
/* flb_proxy_input_cb_pause()/resume() (src/flb_plugin_proxy.c, 3.x to
 * 5.1.1): after the plugin's Pause/Resume, Fluent Bit pauses or resumes
 * the collector of ctx->proxy->instance, which is the proxy's last
 * initialised instance, not necessarily the one paused (one proxy per .so).
 * Reproduced as is: a plugin with several instances sees what it would see
 * in Fluent Bit. */
static void proxy_collector_set(struct instance *in, bool running)
{
    struct instance *target = g.proxy->instance;
    if (target != in)
        logm(LOG_DEBUG, "[host] %s the collector of %s (proxy->instance), not of %s",
             running ? "resuming" : "pausing", ins_display(target), ins_display(in));
    atomic_store(&target->coll_running, running);
    if (target != in)
        send_cmd(target, CMD_WAKE);
}

static void *instance_thread(void *arg)
{
    struct instance *in = arg;
    char tname[128];

    snprintf(tname, sizeof(tname), "flb-in-%s-w0", in->name);
    tname[15] = '\0';           /* Linux thread names hold 15 characters */
    pthread_setname_np(pthread_self(), tname);
    fb_thread = true;

    int ret = go_init(in);
    if (ret > 0)
        check_context(in);
    else
        logm(LOG_ERROR, "[go proxy]: plugin '%s' failed to initialize", g.plugin_name);
    pthread_mutex_lock(&g.init_lock);
    in->init_status = ret > 0 ? 1 : -1;
    pthread_cond_broadcast(&g.init_cond);
    pthread_mutex_unlock(&g.init_lock);
    if (ret <= 0)
        return NULL;

    while (next_cmd(in, -1) != CMD_START)
        ;
    if (g.pre_run)
        g.pre_run(g.hot_reload);    /* config->enable_hot_reload */

    const int64_t iv = (int64_t) g.interval_ms * 1000000LL;
    int64_t deadline = now_ns() + iv;
    bool paused = false;        /* the input's own state */
    bool running = true;        /* its collector's, as last seen */
    for (;;) {
        int64_t wait = deadline - now_ns();
        char c = next_cmd(in, !running ? -1 : wait <= 0 ? 0 : (int) ((wait + 999999) / 1000000));
        if (c == CMD_PAUSE && !paused) {        /* mem_buf_limit style pause */
            logm(LOG_INFO, "[input] pausing %s", ins_display(in));
            if (g.pause)
                g.pause();
            proxy_collector_set(in, false);
            paused = in->paused = true;
        } else if (c == CMD_SHUTDOWN_PAUSE) {   /* flb_input_pause_all() */
            if (g.pause)
                g.pause();
            proxy_collector_set(in, false);
            paused = in->paused = true;
        } else if (c == CMD_RESUME && paused) {
            logm(LOG_INFO, "[input] resume %s", ins_display(in));
            paused = in->paused = false;
            if (g.resume)
                g.resume();
            proxy_collector_set(in, true);
        } else if (c == CMD_EXIT || c == CMD_EXIT_RELOAD) {
            /* flb_proxy_input_cb_exit() */
            logm(LOG_DEBUG, "[input:%s:%s] thread exit instance", g.plugin_name,
                 ins_display(in));
            if (g.pre_exit)     /* config->shutdown_by_hot_reloading */
                g.pre_exit(c == CMD_EXIT_RELOAD);
            int (*cb_exit)(void) = g.legacy ? P3X->cb_exit : P41->cb_exit;
            if (cb_exit)
                cb_exit();                      /* no instance argument */
            return NULL;
        }
        bool now_running = atomic_load(&in->coll_running);
        if (now_running && !running)
            deadline = now_ns() + iv;           /* the timer is re-armed */
        running = now_running;
        if (c || !running || now_ns() < deadline)
            continue;
        do_collect(in);
        /* Like a periodic timerfd: an overrun fires once right away, then
         * the ticks keep their original phase. */
        deadline += iv;
        int64_t now = now_ns();
        if (deadline <= now)
            deadline += (now - deadline) / iv * iv;
    }
}

/* ---- Command line ---- */

static const char usage_text[] =
"usage: flbhost [options] PLUGIN.so\n"
"\n"
"Loads a Fluent Bit Go input plugin the way Fluent Bit's Go proxy does, runs\n"
"its instances, validates every buffer and writes each record as a JSON line.\n"
"\n"
"  -i NAME          start a new instance of input plugin NAME (NAME.0, NAME.1, ...)\n"
"  -p KEY=VALUE     set a property of the last -i instance (repeatable)\n"
"  --legacy         emulate Fluent Bit < 4.1: 3.x structs, plain callbacks only\n"
"  -Y, --enable-hot-reload\n"
"                   hot reload on SIGHUP, as fluent-bit -Y (PreRun then gets 1)\n"
"  --interval-ms N  collect interval in ms (default 1000, as Fluent Bit)\n"
"  --out FILE       write records as JSON lines to FILE (default stdout)\n"
"  --route MATCH=FILE\n"
"                   also write the JSON line of each record whose tag MATCH matches\n"
"                   (as an [OUTPUT] Match: whole tag, '*' any run of characters) to\n"
"                   FILE, always with \"tag\": the append's, else the input's tag\n"
"                   property, else NAME.N (repeatable; once per matching route)\n"
"  --duration-ms N  shut down by itself after N ms (default: until signalled)\n"
"  --max-chunk N    fail when one collect hands over more than N bytes (0 = off)\n"
"  --collects FILE  append \"<unix ms> <instance> <bytes> <records>\" per non-empty collect\n"
"  --count-only     validate and count each collect's records (as Fluent Bit's\n"
"                   flb_mp_count on append) but write no JSON: --out is unused,\n"
"                   --route not allowed\n"
"  --collect-time   add \"collect_time\":\"S.NNNNNNNNN\" to each JSON record: the\n"
"                   wall clock when the collect callback (or an append) handed it over\n"
"  --refuse-appends FILE\n"
"                   while FILE exists, flb_input_log_append waits 10 x 100 ms and\n"
"                   returns -1, as Fluent Bit's does with a full ring buffer\n"
"  --log-file FILE  Fluent Bit's log_file: log lines written on the host's own\n"
"                   threads (main, instances) go to FILE, as with flb_log_print;\n"
"                   lines from any other thread (a plugin's goroutines) to stderr\n"
"  --metrics FILE   append each instance's cmetrics (the exported cmt_* calls,\n"
"                   checked to come from the instance's thread) to FILE when it\n"
"                   stops, in Prometheus' text format\n"
"  --pause-only NAME\n"
"                   SIGUSR1/SIGUSR2 pause/resume only the instance NAME (its\n"
"                   alias or NAME.N), on its thread, as a mem_buf_limit does\n"
"  -v               debug logging (the service's log_level debug; an instance's\n"
"                   -p log_level=LEVEL overrides it for that instance)\n"
"  -h, --help       show this text\n"
"\n"
"Signals: SIGUSR1 pause, SIGUSR2 resume, SIGTERM/SIGINT shut down, SIGHUP hot\n"
"reload (with -Y; ignored otherwise): the instances are exited and created\n"
"again from the same -i/-p list, the .so stays loaded.\n"
"Exit status: 0 clean shutdown, 1 usage or load error, 3 the plugin broke the\n"
"contract (invalid buffer, leak, oversized collect, clobbered context),\n"
"255 FLBPluginInit failed (Fluent Bit aborts its start, or the hot reload).\n";

static __attribute__((noreturn)) void usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "flbhost: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "",
            usage_text);
    exit(1);
}

static uint64_t parse_u64(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        usage_error("invalid number for", opt);
    return v;
}

/* Fluent Bit trims keys and values (flb_cf_section_property_add). */
static char *trim(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t')
        s++;
    for (n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t');)
        s[--n] = '\0';
    return s;
}

/* flb_plugin_proxy_symbol() */
static void *sym(const char *name)
{
    dlerror();
    void *s = dlsym(g.dso, name);
    return dlerror() ? NULL : s;
}

/* Parses one -i and its -p into g.conf[idx]; flb_input_set_property()
 * keeps Fluent Bit's own keys from the plugin. */
/* flb_log_get_level(): Fluent Bit's levels, "off" 0 ... "trace" 5. */
static int parse_log_level(const char *v)
{
    static const char *names[] = { "off", "error", "warn", "info", "debug", "trace" };
    for (int i = 0; i < 6; i++)
        if (strcasecmp(v, names[i]) == 0)
            return i;
    return -1;
}

static void add_conf(size_t idx, const char *plugin, char **kv, size_t nkv)
{
    struct conf_ins *c = &g.conf[idx];
    c->log_level = -1;
    if (strcasecmp(plugin, g.plugin_name) != 0) {
        logm(LOG_ERROR, "[config] unknown input plugin '%s' (the .so registers "
             "'%s')", plugin, g.plugin_name);
        exit(1);
    }
    c->props = xcalloc((nkv + 1) * sizeof(struct prop));
    for (size_t k = 0; k < nkv; k++) {
        char *eq = strchr(kv[k], '=');
        *eq = '\0';
        char *key = trim(kv[k]), *val = trim(eq + 1);
        if (!*key)
            usage_error("-p with an empty key", val);
        if (!fb_consumed_key(key)) {
            c->props[c->nprops++] = (struct prop) { key, *val ? val : NULL };
            continue;
        }
        if (strcasecmp(key, "alias") == 0 && *val && !c->alias)
            c->alias = val;
        if (strcasecmp(key, "tag") == 0 && *val)
            c->tag = val;       /* flb_input_set_property(): the last one */
        if (strcasecmp(key, "log_level") == 0) {
            if ((c->log_level = parse_log_level(val)) < 0) {
                logm(LOG_ERROR, "[config] invalid log_level '%s' for %s.%zu", val,
                     g.plugin_name, idx);
                exit(1);
            }
        }
        logm(LOG_DEBUG, "[host] %s.%zu: '%s' is a Fluent Bit input property, "
             "hidden from the plugin", g.plugin_name, idx, key);
    }
}

/* flb_input_new() for one configured input: its own copies of the
 * properties and a fresh flb_calloc'd context pointing to this generation's
 * proxy (remote_context NULL, coll_fd 0). */
static void add_instance(struct instance *in, size_t idx, const struct conf_ins *c)
{
    snprintf(in->name, sizeof(in->name), "%s.%zu", g.plugin_name, idx);
    in->alias = c->alias;
    in->tag = c->tag ? c->tag : in->name;   /* flb_input_instance_init() */
    in->tag_len = (int) strlen(in->tag);
    /* flb_input_new(): the service's level unless the input sets one */
    in->log_level = c->log_level >= 0 ? c->log_level : g.verbose ? LOG_DEBUG : LOG_INFO;
    in->coll_running = true;
    in->cmt = xcalloc(sizeof(*in->cmt));    /* created before cb_init */
    in->cmt->in = in;
    in->props = xcalloc((c->nprops + 1) * sizeof(struct prop));
    for (size_t k = 0; k < c->nprops; k++)
        in->props[k] = (struct prop) { xstrdup(c->props[k].key),
                                       c->props[k].val ? xstrdup(c->props[k].val) : NULL };
    in->nprops = c->nprops;
    if (g.legacy) {
        struct flb_plugin_proxy_context *ctx = xcalloc(sizeof(*ctx));
        ctx->proxy = g.proxy;
        in->ctx = ctx;
    } else {
        struct flb_plugin_input_proxy_context *ctx = xcalloc(sizeof(*ctx));
        ctx->proxy = g.proxy;
        in->ctx = ctx;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        logm(LOG_ERROR, "[host] pipe: %s", strerror(errno));
        die(1);
    }
    in->cmd_rd = fds[0];
    in->cmd_wr = fds[1];
}

/* flb_plugin_proxy_register(): PreRegister(config->hot_reloading) and
 * Register on a new def. NULL (logged) when the plugin refuses or registers
 * something Fluent Bit could not use. */
static struct flb_plugin_proxy_def *register_def(int hot_reloading)
{
    struct flb_plugin_proxy_def *def;
    if (g.legacy)               /* 3.x: flb_malloc'd, never zeroed */
        def = memset(xrealloc(NULL, LEGACY_DEF_SIZE), 0xa5, LEGACY_DEF_SIZE);
    else
        def = xcalloc(sizeof(*def));
    def->type = 0;              /* flb_plugin.c passes type 0 */

    if (g.pre_register && g.pre_register(hot_reloading) == -1) {
        logm(LOG_ERROR, "[proxy] FLBPluginPreRegister failed");
        free(def);
        return NULL;
    }
    if (g.reg(def) == -1) {
        logm(LOG_ERROR, "[proxy] %s: FLBPluginRegister returned -1", g.so_path);
        free(def);
        return NULL;
    }
    if (def->type != FLB_PROXY_INPUT_PLUGIN || def->proxy != FLB_PROXY_GOLANG) {
        logm(LOG_ERROR, "[proxy] %s registered type=%d proxy=%d; a Go input "
             "plugin needs type=%d proxy=%d", g.so_path, def->type, def->proxy,
             FLB_PROXY_INPUT_PLUGIN, FLB_PROXY_GOLANG);
        free(def);
        return NULL;
    }
    if (!def->name || !*def->name) {
        logm(LOG_ERROR, "[proxy] %s registered no name", g.so_path);
        free(def);
        return NULL;
    }
    /* A reload under another name: the configured inputs are unknown, and
     * destroying the new context unregisters the new def. */
    if (hot_reloading && strcasecmp(def->name, g.plugin_name) != 0) {
        logm(LOG_ERROR, "[config] unknown input plugin '%s' (the .so now "
             "registers '%s')", g.plugin_name, def->name);
        if (g.unregister)
            g.unregister(def);
        free(def);
        return NULL;
    }
    return def;
}

/* flb_plugin_proxy_create() + proxy_go_input_register(): this generation's
 * proxy and plugin struct around a registered def. */
static void setup_proxy(struct flb_plugin_proxy_def *def)
{
    g.def = def;
    g.plugin_name = xstrdup(def->name);  /* fluent-bit-go's Unregister frees it */
    g.proxy = xcalloc(sizeof(*g.proxy));
    g.proxy->def = def;
    g.proxy->api = &g.api;
    g.proxy->dso_handler = g.dso;
    g.proxy->_head.prev = g.proxy->_head.next = &g.proxy->_head;
    if (g.legacy) {
        g.plugin = xcalloc(sizeof(struct flbgo_input_plugin_3x));
        P3X->name = g.plugin_name;
        P3X->cb_init = (int (*)(void *)) g.init;
        P3X->cb_collect = (int (*)(void **, size_t *)) g.collect;
        P3X->cb_cleanup = (int (*)(void *)) g.cleanup;
        P3X->cb_exit = (int (*)(void)) g.exit;
    } else {
        g.plugin = xcalloc(sizeof(struct flbgo_input_plugin));
        P41->name = g.plugin_name;
        P41->cb_init = (int (*)(void *)) g.init;
        P41->cb_collect = (int (*)(void **, size_t *)) g.collect;
        P41->cb_collect_ctx = (int (*)(void *, void **, size_t *)) g.collect_ctx;
        P41->cb_cleanup = (int (*)(void *)) g.cleanup;
        P41->cb_cleanup_ctx = (int (*)(void *, void *)) g.cleanup_ctx;
        P41->cb_exit = (int (*)(void)) g.exit;
    }
    g.proxy->data = g.plugin;
}

/* flb_plugin_proxy_create() + flb_plugin_proxy_register() +
 * proxy_go_input_register(), at start. */
static void load_plugin(const char *path)
{
    g.so_path = path;
    if (!(g.dso = dlopen(path, RTLD_LAZY))) {
        logm(LOG_ERROR, "[proxy] error opening plugin %s: '%s'", path, dlerror());
        exit(1);
    }
    g.api = (struct flb_api) {
        api_no_property, api_input_get_property, api_no_cmt, api_input_cmt,
        api_log_print, api_log_check, api_no_log_check, api_no_property, api_no_log_check };

    g.pre_register = (int (*)(int)) sym("FLBPluginPreRegister");
    g.reg = (int (*)(struct flb_plugin_proxy_def *)) sym("FLBPluginRegister");
    if (!g.reg) {
        logm(LOG_ERROR, "[proxy] %s: FLBPluginRegister is not exported", path);
        exit(1);
    }
    struct flb_plugin_proxy_def *def = register_def(0);
    if (!def)
        exit(1);

    g.init = sym("FLBPluginInit"), g.collect = sym("FLBPluginInputCallback");
    g.cleanup = sym("FLBPluginInputCleanupCallback"), g.exit = sym("FLBPluginExit");
    /* Fluent Bit < 4.1 never looks the Ctx variants up. */
    g.collect_ctx = g.legacy ? NULL : sym("FLBPluginInputCallbackCtx");
    g.cleanup_ctx = g.legacy ? NULL : sym("FLBPluginInputCleanupCallbackCtx");
    if (!g.init) {
        logm(LOG_ERROR, "[go proxy]: could not load FLBPluginInit symbol");
        exit(1);
    }
    if (!g.collect && !g.collect_ctx) {     /* Fluent Bit would call NULL */
        logm(LOG_ERROR, "[go proxy]: %s exports no FLBPluginInputCallback%s",
             path, g.legacy ? "" : " nor FLBPluginInputCallbackCtx");
        exit(1);
    }
    setup_proxy(def);
    /* flb_plugin_proxy.c looks these up by name when it needs them. */
    g.pause = (void (*)(void)) sym("FLBPluginInputPause");
    g.resume = (void (*)(void)) sym("FLBPluginInputResume");
    g.pre_run = (int (*)(int)) sym("FLBPluginInputPreRun");
    g.pre_exit = (void (*)(int)) sym("FLBPluginInputPreExit");
    g.unregister = (void (*)(struct flb_plugin_proxy_def *)) sym("FLBPluginUnregister");
    logm(LOG_INFO, "[host] loaded %s: plugin '%s' (%s layout, collect=%s, cleanup=%s%s)",
         path, g.plugin_name, g.legacy ? "3.x" : ">= 4.1",
         g.collect_ctx ? "FLBPluginInputCallbackCtx" : "FLBPluginInputCallback",
         g.cleanup_ctx ? "FLBPluginInputCleanupCallbackCtx"
                       : g.cleanup ? "FLBPluginInputCleanupCallback" : "free()",
         g.hot_reload ? ", hot reload enabled" : "");
}

/* ---- Generations: start, stop, hot reload ---- */

/* flb_start(): the instances of g.conf, a thread each; the main thread
 * waits for each Init before it starts the next instance (as
 * flb_input_thread_instance_init()), and collectors start only once every
 * Init succeeded. */
static void start_generation(void)
{
    struct instance *ins = xcalloc(g.nconf * sizeof(*ins));
    for (size_t i = 0; i < g.nconf; i++)
        add_instance(&ins[i], i, &g.conf[i]);
    pthread_mutex_lock(&g.ins_lock);
    g.ins = ins, g.nins = g.nconf;
    pthread_mutex_unlock(&g.ins_lock);

    for (size_t i = 0; i < g.nins; i++) {
        struct instance *in = &g.ins[i];
        if (pthread_create(&in->tid, NULL, instance_thread, in) != 0) {
            logm(LOG_ERROR, "[host] pthread_create failed");
            die(1);
        }
        pthread_mutex_lock(&g.init_lock);
        while (in->init_status == 0)
            pthread_cond_wait(&g.init_cond, &g.init_lock);
        pthread_mutex_unlock(&g.init_lock);
        if (in->init_status < 0) {
            logm(LOG_ERROR, "[input:%s:%s] initialization failed", g.plugin_name,
                 ins_display(in));
            logm(LOG_ERROR, "[engine] input initialization failed");
            if (g.generation)
                logm(LOG_ERROR, "[reload] loaded configuration contains "
                     "error(s). Reloading is aborted");
            die(255);
        }
        logm(LOG_INFO, "[input:%s:%s] thread instance initialized", g.plugin_name,
             ins_display(in));
    }
    for (size_t i = 0; i < g.nins; i++)
        send_cmd(&g.ins[i], CMD_START);
}

/* flb_stop() + flb_destroy(): flb_engine_stop_ingestion() and
 * flb_engine_shutdown() each pause all inputs, flb_input_exit_all() exits
 * the instances one at a time, last first, joining each thread, then
 * flb_proxy_input_cb_destroy() unregisters the def. Prints the stats and
 * frees the generation; returns the instance array, which the caller frees
 * only after the next generation's is allocated (a pointer kept from this
 * generation then never matches a new instance). */
static struct instance *stop_generation(bool reload)
{
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < g.nins; i++)
            send_cmd(&g.ins[i], CMD_SHUTDOWN_PAUSE);
    for (size_t i = g.nins; i-- > 0;) {
        send_cmd(&g.ins[i], reload ? CMD_EXIT_RELOAD : CMD_EXIT);
        pthread_join(g.ins[i].tid, NULL);
    }
    if (g.unregister)
        g.unregister(g.def);

    if (reload || g.generation)
        logm(LOG_INFO, "[host] %sgeneration %u stopped, %zu instance(s):",
             reload ? "reload: " : "", g.generation, g.nins);
    pthread_mutex_lock(&g.ins_lock);
    struct instance *ins = g.ins;
    size_t nins = g.nins;
    g.ins = NULL, g.nins = 0;
    pthread_mutex_unlock(&g.ins_lock);
    for (size_t i = 0; i < nins; i++) {
        struct instance *in = &ins[i];
        logm(LOG_INFO, "[input:%s:%s] stats: collects=%" PRIu64 " nonempty=%" PRIu64
             " appends=%" PRIu64 " refused=%" PRIu64
             " records=%" PRIu64 " bytes=%" PRIu64 " max_buffer=%" PRIu64
             " max_collect_ms=%.3f", g.plugin_name, ins_display(in), in->collects,
             in->nonempty, in->appends, in->refused, in->records, in->bytes, in->max_buf,
             in->max_collect_ns / 1e6);
        cmt_finish(in);
        for (size_t k = 0; k < in->nprops; k++)
            free(in->props[k].key), free(in->props[k].val);
        free(in->props);
        free(in->ctx);
        close(in->cmd_rd);
        close(in->cmd_wr);
    }
    free(g.plugin);
    free(g.proxy);
    free(g.plugin_name);
    free(g.def);
    g.plugin = g.proxy = NULL, g.plugin_name = NULL, g.def = NULL;
    return ins;
}

/* flb_reload(): the new def is registered while the old instances still
 * run; then the old context is stopped and destroyed, and the same
 * configuration started again. The .so is not closed. */
static void hot_reload(void)
{
    logm(LOG_INFO, "reloading instance pid=%lu tid=%p", (unsigned long) getpid(),
         (void *) (uintptr_t) pthread_self());
    struct flb_plugin_proxy_def *def = register_def(1);
    if (!def) {
        logm(LOG_ERROR, "[reload] reloaded config is invalid. Reloading is halted");
        return;
    }
    logm(LOG_INFO, "[reload] stop everything of the old context");
    struct instance *old = stop_generation(true);
    g.generation++;
    logm(LOG_INFO, "[reload] start everything");
    setup_proxy(def);
    start_generation();
    free(old);
    logm(LOG_INFO, "[host] reload: generation %u running, %zu instance(s)",
         g.generation, g.nins);
    logm(LOG_DEBUG, "[reload] hot reloaded %u time(s)", g.generation);
}

/* Opens a --route FILE, as --out. Routes to one file (same device and
 * inode, --out's included) share its FILE, so their lines never overwrite
 * each other. */
static bool open_route(size_t idx)
{
    struct route *r = &g.routes[idx];
    struct stat st, o;
    if (!(r->f = fopen(r->path, "w")) || fstat(fileno(r->f), &st) != 0) {
        logm(LOG_ERROR, "[host] cannot open %s: %s", r->path, strerror(errno));
        return false;
    }
    for (size_t i = 0; i <= idx; i++) {
        FILE *f = i < idx ? g.routes[i].f : g.out;
        if (fstat(fileno(f), &o) == 0 && o.st_dev == st.st_dev && o.st_ino == st.st_ino) {
            fclose(r->f);
            r->f = f;
            break;
        }
    }
    return true;
}

/* ---- main: load, register, init, run, reload, shut down ---- */

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        { "legacy", no_argument, NULL, 'L' }, { "interval-ms", required_argument, NULL, 'I' },
        { "out", required_argument, NULL, 'o' }, { "duration-ms", required_argument, NULL, 'd' },
        { "max-chunk", required_argument, NULL, 'm' }, { "help", no_argument, NULL, 'h' },
        { "enable-hot-reload", no_argument, NULL, 'Y' }, { "collects", required_argument, NULL, 'C' },
        { "count-only", no_argument, NULL, 'N' }, { "collect-time", no_argument, NULL, 'T' },
        { "refuse-appends", required_argument, NULL, 'R' },
        { "route", required_argument, NULL, 'O' },
        { "log-file", required_argument, NULL, 'l' }, { "metrics", required_argument, NULL, 'M' },
        { "pause-only", required_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 } };
    /* Each -i with its -p options, in order (argv strings, kept as they are). */
    struct { char *plugin; char **kv; size_t nkv; } *pend = NULL;
    size_t npend = 0;
    int opt;

    while ((opt = getopt_long(argc, argv, "i:p:vhY", lopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            pend = xrealloc(pend, (npend + 1) * sizeof(*pend));
            pend[npend].plugin = optarg, pend[npend].kv = NULL, pend[npend++].nkv = 0;
            break;
        case 'p':
            if (!npend)
                usage_error("-p before any -i", optarg);
            if (!strchr(optarg, '='))
                usage_error("-p needs KEY=VALUE", optarg);
            pend[npend - 1].kv = xrealloc(pend[npend - 1].kv,
                                          (pend[npend - 1].nkv + 1) * sizeof(char *));
            pend[npend - 1].kv[pend[npend - 1].nkv++] = optarg;
            break;
        case 'L': g.legacy = true; break;
        case 'Y': g.hot_reload = true; break;
        case 'I':
            if ((g.interval_ms = parse_u64(optarg, "--interval-ms")) == 0)
                usage_error("--interval-ms must be at least 1", optarg);
            break;
        case 'o': g.out_path = optarg; break;
        case 'C': g.collects_path = optarg; break;
        case 'N': g.count_only = true; break;
        case 'T': g.collect_time = true; break;
        case 'R': g.refuse_path = optarg; break;
        case 'l': g.log_path = optarg; break;
        case 'M': g.metrics_path = optarg; break;
        case 'P': g.pause_only = optarg; break;
        case 'O': {
            char *eq = strchr(optarg, '=');
            if (!eq)
                usage_error("--route needs MATCH=FILE", optarg);
            if (eq == optarg || !eq[1])
                usage_error("--route with an empty MATCH or FILE", optarg);
            *eq = '\0';
            g.routes = xrealloc(g.routes, (g.nroutes + 1) * sizeof(*g.routes));
            g.routes[g.nroutes++] = (struct route) { optarg, eq + 1, NULL };
            break;
        }
        case 'd': g.duration_ms = parse_u64(optarg, "--duration-ms"); break;
        case 'm': g.max_chunk = parse_u64(optarg, "--max-chunk"); break;
        case 'v': g.verbose = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: usage_error("unknown option", NULL);
        }
    }
    if (optind != argc - 1)
        usage_error("exactly one PLUGIN.so is required", NULL);
    if (!npend)
        usage_error("no input instance (-i NAME)", NULL);
    if (g.count_only && g.nroutes)
        usage_error("--route needs the JSON lines --count-only does not make", NULL);

    /* Block the signals before dlopen: the Go runtime's threads and ours
     * inherit the mask, so only the signalfd ever sees them. */
    sigset_t sigs, hup;
    sigemptyset(&sigs);
    for (size_t i = 0; i < 5; i++)
        sigaddset(&sigs, (int[]) { SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP }[i]);
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    fb_thread = true;
    if (g.log_path &&
        (g.log_fd = open(g.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        g.log_fd = STDERR_FILENO;
        logm(LOG_ERROR, "[host] cannot open %s: %s", g.log_path, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    g.out = stdout;
    if (!g.out_path)
        g.out_path = "stdout";
    else if (!(g.out = fopen(g.out_path, "w"))) {
        logm(LOG_ERROR, "[host] cannot open %s: %s", g.out_path, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < g.nroutes; i++)
        if (!open_route(i))
            return 1;
    if (g.collects_path && !(g.collects = fopen(g.collects_path, "a"))) {
        logm(LOG_ERROR, "[host] cannot open %s: %s", g.collects_path, strerror(errno));
        return 1;
    }
    if (sfd < 0) {
        logm(LOG_ERROR, "[host] signalfd: %s", strerror(errno));
        return 1;
    }

    load_plugin(argv[optind]);
    g.nconf = npend;
    g.conf = xcalloc(npend * sizeof(struct conf_ins));
    for (size_t i = 0; i < npend; i++) {
        add_conf(i, pend[i].plugin, pend[i].kv, pend[i].nkv);
        free(pend[i].kv);
    }
    free(pend);

    start_generation();
    logm(LOG_INFO, "[host] %zu instance(s) running, interval %" PRIu64 " ms",
         g.nins, g.interval_ms);

    const char *why = "duration elapsed";
    int64_t end = g.duration_ms ? now_ns() + (int64_t) g.duration_ms * 1000000LL : 0;
    for (;;) {
        int64_t left = end ? end - now_ns() : -1;
        if (end && left <= 0)
            break;
        struct pollfd p = { .fd = sfd, .events = POLLIN };
        struct signalfd_siginfo si;
        if (poll(&p, 1, end ? (int) ((left + 999999) / 1000000) : -1) <= 0 ||
            read(sfd, &si, sizeof(si)) != (ssize_t) sizeof(si))
            continue;
        if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
            bool pause = si.ssi_signo == SIGUSR1;
            logm(LOG_INFO, "[host] %s: %s %s", pause ? "SIGUSR1" : "SIGUSR2",
                 pause ? "pausing" : "resuming", g.pause_only ? g.pause_only : "all inputs");
            for (size_t i = 0; i < g.nins; i++)
                if (!g.pause_only || strcmp(ins_display(&g.ins[i]), g.pause_only) == 0)
                    send_cmd(&g.ins[i], pause ? CMD_PAUSE : CMD_RESUME);
            continue;
        }
        if (si.ssi_signo == SIGHUP) {
            logm(LOG_INFO, "[engine] caught signal (SIGHUP)");
            if (!g.hot_reload) {    /* flb_reload(): FLB_RELOAD_NOT_ENABLED */
                logm(LOG_WARN, "[reload] hot reloading is not enabled");
                continue;
            }
            hot_reload();
            /* fluent-bit.c refuses a SIGHUP while a reload is in progress */
            struct timespec zero = { 0, 0 };
            while (sigtimedwait(&hup, NULL, &zero) == SIGHUP)
                logm(LOG_ERROR, "reloading in progress, aborting. (a SIGHUP "
                     "during the reload is dropped; the host keeps running)");
            continue;
        }
        why = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        logm(LOG_INFO, "[engine] caught signal (%s)", why);
        break;
    }

    logm(LOG_INFO, "[host] shutting down (%s)", why);
    free(stop_generation(false));
    for (size_t i = 0; i < g.nconf; i++)
        free(g.conf[i].props);
    free(g.conf);
    dlclose(g.dso);             /* Go's c-shared libraries are NODELETE */
    for (size_t i = g.nroutes; i-- > 0;) {
        bool shared = g.routes[i].f == g.out;    /* closed once, below */
        for (size_t k = 0; k < i; k++)
            shared |= g.routes[k].f == g.routes[i].f;
        if (!shared)
            fclose(g.routes[i].f);
    }
    free(g.routes);
    if (g.out != stdout)
        fclose(g.out);
    return 0;
}
