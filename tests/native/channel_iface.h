/* The interface between channel_host.c and the two channel plugins (channel_plugin.c built twice). The host makes
 * the channel and owns its drop_message; a plugin only gets a luminal_sender* (a runtime token) and sends on it
 * from tasks it spawns onto the host's runtime, into a scope the host closes before unloading it. */
#ifndef CHANNEL_IFACE_H
#define CHANNEL_IFACE_H

#include <luminal.h>
#include <stdint.h>

/* One message: malloc'd by a plugin, freed by the host (received, or through drop_message). */
typedef struct chan_msg {
  uint32_t plugin; /* 'A' or 'B' */
  uint32_t task;
  uint64_t seq;
} chan_msg;

/* Spawns `tasks` tasks into `scope`, each sending `per_task` messages on its own clone of `tx` (borrowed: the
 * plugin clones it), every other one with try_send first; a task stops early when the channel answers CLOSED.
 * Tasks are detached: the host learns they are done from the channel (every sender released) and scope_close. */
typedef luminal_status (*chan_start_fn)(luminal_runtime *rt, luminal_scope *scope, luminal_sender *tx, uint32_t tasks,
                                        uint64_t per_task);
/* Messages this plugin made (each ends up received by the host or dropped exactly once with drop_message). */
typedef uint64_t (*chan_made_fn)(void);
/* Tasks of this plugin still running. */
typedef long (*chan_live_fn)(void);

#endif
