/* The interface between channel_host.c and the two channel plugins (channel_plugin.c built twice). The host makes
 * the channel and owns its drop_message; a plugin only gets a luminal_sender* (a runtime token) and sends on it
 * from tasks it spawns onto the host's runtime, into its own scope, which luminal_plugin_close drains before it
 * unloads the plugin. */
#ifndef CHANNEL_IFACE_H
#define CHANNEL_IFACE_H

#include <luminal_plugin.h>
#include <stdint.h>

/* One message: malloc'd by a plugin, freed by the host (received, or through drop_message). */
typedef struct chan_msg {
  uint32_t plugin; /* 'A' or 'B' */
  uint32_t task;
  uint64_t seq;
} chan_msg;

/* Each plugin implements luminal_plugin.h; the host opens it with luminal_plugin_open, passing its own chan_link as
 * host_data, and the plugin's init fills it in.
 * start: spawns `tasks` tasks into the plugin's scope, each sending `per_task` messages on its own clone of `tx`
 *        (borrowed: the plugin clones it), every other one with try_send first; a task stops early when the channel
 *        answers CLOSED. Tasks are detached: the host learns they are done from the channel (every sender released)
 *        and from luminal_plugin_close.
 * made:  messages this plugin made (each ends up received by the host or dropped exactly once with drop_message).
 * live:  tasks of this plugin still running.
 * fini records made and live into the link (the host reads them after the close). */
typedef struct chan_link chan_link;
struct chan_link {
  /* filled by the plugin's init; callable until the plugin is closed */
  luminal_status (*start)(chan_link *l, luminal_sender *tx, uint32_t tasks, uint64_t per_task);
  uint64_t (*made)(void);
  long (*live)(void);
  const luminal_plugin_host *host;
  /* report: spawns a task into the plugin's scope that sends, over the oneshot `tx` (taken), the number of messages
   * this plugin made so far, as a pointer-sized integer + 1 (a oneshot's sender crossing the boundary). */
  luminal_status (*report)(chan_link *l, luminal_oneshot_sender *tx);
  /* written by the plugin's fini */
  int fini_calls;
  uint64_t made_at_fini;
  long live_at_fini;
};

#endif
