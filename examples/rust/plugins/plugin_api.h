/*
 * plugin_api.h — the C contract between the Rust plugin host (examples/rust/plugins/host) and its plugins.
 *
 * The host owns a Luminal runtime and mailboxes. It loads each plugin with dlopen and gives it a scope of its own
 * (luminal_scope_new): every task a plugin spawns goes into that scope (luminal_spawn_with; tasks they spawn with
 * luminal_context_spawn join it too). Closing the scope (luminal_scope_close returning LUMINAL_OK) guarantees that
 * no poll, drop or drop_output of the plugin's code runs any more, so the host can dlclose the plugin while the
 * runtime and the other plugin keep running.
 *
 * The two plugins (one in Rust, one in C) play ping-pong through the mailboxes: each blocks (asynchronously) on its
 * inbox by leaving its task's luminal_waker there, and the other plugin's send wakes it. Nothing but C types and
 * luminal handles cross the boundary; each plugin has its own copy of whatever language runtime it is written in.
 */
#ifndef LX_PLUGIN_API_H
#define LX_PLUGIN_API_H

#include <stdint.h>
#include "luminal.h"

typedef struct lx_mailbox lx_mailbox; /* owned by the host; a queue of uint64_t plus one waiting waker */

typedef struct lx_host_api {
  size_t struct_size;       /* sizeof(lx_host_api) */
  luminal_runtime *runtime; /* borrowed for the duration of lx_plugin_start; clone it to keep it */
  /* Queues `value` in `mb` and wakes the waker left there, if any. Any thread. */
  void (*mailbox_send)(lx_mailbox *mb, uint64_t value);
  /* If `mb` holds a value, stores the oldest in *out and returns 1. Otherwise keeps a clone of `waker` (replacing
   * the previous one), to be woken by the next send, and returns 0. `waker` is borrowed. */
  int (*mailbox_recv)(lx_mailbox *mb, const luminal_waker *waker, uint64_t *out);
} lx_host_api;

/* Spawns the plugin's player onto host->runtime, into `scope` (borrowed for the call). It receives from `inbox` and
 * sends to `outbox`, `rounds` times. On LUMINAL_OK, *out is an owned join handle; the task's output is a uint64_t
 * (cast to void*) checksum of what it received. */
typedef luminal_status (*lx_plugin_start_fn)(const lx_host_api *host, luminal_scope *scope, lx_mailbox *inbox,
                                             lx_mailbox *outbox, uint64_t rounds, luminal_task **out);
#define LX_PLUGIN_START_SYMBOL "lx_plugin_start"

/* Spawns `count` detached background tasks into `scope` that stay pending: the first waits on `mailbox` (so the
 * host holds its waker), the others sleep for an hour. Only closing the scope ends them. */
typedef luminal_status (*lx_plugin_park_fn)(const lx_host_api *host, luminal_scope *scope, lx_mailbox *mailbox,
                                            uint32_t count);
#define LX_PLUGIN_PARK_SYMBOL "lx_plugin_park"

/* The plugin's name, a static string. */
typedef const char *(*lx_plugin_name_fn)(void);
#define LX_PLUGIN_NAME_SYMBOL "lx_plugin_name"

#endif
