/*
 * plugin_api.h — what the Rust plugin host (examples/rust/plugins/host) and its plugins share beyond the plugin
 * contract of include/luminal_plugin.h.
 *
 * Each plugin (one in Rust, one in C) is a shared library exporting luminal_plugin_init / luminal_plugin_fini. The
 * host opens it with luminal_plugin_open (the Rust binding's luminal::plugin::Plugin), which gives it the host's
 * runtime and a scope of its own, and passes an lx_host_api (one per plugin) as host_data: the mailbox functions
 * in, the plugin's functions out (its init fills them in). Every task a plugin spawns goes into its scope, so
 * luminal_plugin_close can unload it while the runtime and the other plugin keep running: the scope is drained (no
 * poll, drop or drop_output of the plugin's code runs any more), then fini runs, then the library is unloaded.
 *
 * The two plugins play ping-pong through the mailboxes: each blocks (asynchronously) on its inbox by leaving its
 * task's luminal_waker there, and the other plugin's send wakes it. Nothing but C types and luminal handles cross
 * the boundary; each plugin has its own copy of whatever language runtime it is written in.
 */
#ifndef LX_PLUGIN_API_H
#define LX_PLUGIN_API_H

#include <stdint.h>
#include "luminal_plugin.h"

typedef struct lx_mailbox lx_mailbox; /* owned by the host; a queue of uint64_t plus one waiting waker */

typedef struct lx_host_api {
  size_t struct_size; /* sizeof(lx_host_api) */
  /* ---- set by the host ---- */
  /* Queues `value` in `mb` and wakes the waker left there, if any. Any thread. */
  void (*mailbox_send)(lx_mailbox *mb, uint64_t value);
  /* If `mb` holds a value, stores the oldest in *out and returns 1. Otherwise keeps a clone of `waker` (replacing
   * the previous one), to be woken by the next send, and returns 0. `waker` is borrowed. */
  int (*mailbox_recv)(lx_mailbox *mb, const luminal_waker *waker, uint64_t *out);
  /* ---- filled by the plugin's luminal_plugin_init; callable until the plugin is closed ---- */
  const char *name;                   /* a static string */
  const void *luminal_spawn_address;  /* the luminal_spawn the plugin calls: one libluminal in the process? */
  void *plugin;                       /* passed back to start and park */
  /* Spawns the plugin's player into its scope. It receives from `inbox` and sends to `outbox`, `rounds` times. On
   * LUMINAL_OK, *out is an owned join handle; the task's output is a uint64_t (cast to void*) checksum of what it
   * received. */
  luminal_status (*start)(void *plugin, lx_mailbox *inbox, lx_mailbox *outbox, uint64_t rounds, luminal_task **out);
  /* Spawns `count` detached background tasks into its scope that stay pending: the first waits on `mailbox` (so
   * the host holds its waker), the others sleep for an hour. Only closing the plugin ends them. */
  luminal_status (*park)(void *plugin, lx_mailbox *mailbox, uint32_t count);
  /* ---- written by the plugin's luminal_plugin_fini ---- */
  luminal_scope_counters scope_at_fini; /* its scope's counters when fini ran (live 0: the scope was drained) */
  uint32_t fini_calls;
} lx_host_api;

#endif
