// C glue between the Go shim and Fluent Bit: the layouts the proxy hands
// over (src/proxy/go/go.h, include/fluent-bit/flb_api.h,
// flb_plugin_proxy.h) and the symbols looked up in the fluent-bit
// executable, which exports its own (ENABLE_EXPORTS). Nothing is linked
// against Fluent Bit; every symbol may be missing.
#ifndef DOCKER_LOGS_FLB_H
#define DOCKER_LOGS_FLB_H

#include <stddef.h>
#include <stdint.h>

// Instance context: the token stored at Init, when the layout allows it.
int dl_has_ctx(void *plugin);
void dl_set_ctx(void *plugin, uintptr_t token);

// Fluent Bit's proxy context of the instance, and aiming the proxy's
// collector pause/resume at the instance (see flb.c).
void *dl_context(void *plugin);
void dl_aim_proxy(void *context, void *ins);

// Fluent Bit < 4.1 (the old layout): aim the proxy back at the accepted
// instance, and stop Fluent Bit with status (0, or -1 when this host cannot
// be stopped so: then init must fail). See flb.c.
void dl_aim_legacy_proxy(void *plugin, void *ins);
int dl_stop_fluent_bit(void *ins, int threaded, int status);

// The instance (struct flb_input_instance *) and its properties.
void *dl_ins(void *plugin);
char *dl_get_property(void *plugin, char *key);
// The instance's name as Fluent Bit shows it (its alias, else NAME.N);
// NULL when flb_input_name is not exported.
const char *dl_input_name(void *ins);
const char *dl_input_tag(void *ins);

// Appending straight into Fluent Bit (flb_input_log_append_records, else
// flb_input_log_append).
int dl_find_append(void);
int dl_append_records(void *ins, size_t records, const char *tag, size_t tag_len,
                      const void *buf, size_t size);

// An event collector of the plugin's own on the instance's thread
// (flb_input_set_collector_event), woken through an eventfd: the collector's
// ID, or -1 when Fluent Bit exports no such call or refuses it.
// dl_threaded says the calling thread is a threaded input's own.
int dl_threaded(void);
int dl_event_collector(void *ins, int fd);
int dl_collector_set(int id, void *ins, int running);

// Fluent Bit's logger. dl_use_log keeps the api when it has one and
// returns the instance's log_level in Fluent Bit's numbers (1 error ... 4
// debug, 0 none), or -1 without a logger.
int dl_use_log(void *plugin);
void dl_log(int type, const char *msg);

// The instance's cmetrics context, when metrics and cmetrics' calls are
// there; NULL otherwise.
void *dl_cmt(void *plugin);
void *dl_metric_create(void *cmt, int gauge, char *name, char *help);
int dl_metric_set(void *metric, int gauge, uint64_t ts, double value, char *label);

#endif
