/*
 * boundary_iface.h — what the boundary host and its two plugins (plugin_a, plugin_b) share.
 *
 * The host creates the runtime and the slots; each plugin gets the host's luminal_runtime* and spawns futures onto
 * it. A slot is a one-value mailbox: its reader (a future in one plugin) stores a clone of its waker in the slot;
 * the writer (a future in the *other* plugin) fills the slot, clones that waker again and wakes it. So every wake
 * crosses from one separately built shared library into a task owned by another.
 * The slot code below is compiled into each plugin separately (static functions), on purpose.
 */
#ifndef LUMINAL_BOUNDARY_IFACE_H
#define LUMINAL_BOUNDARY_IFACE_H

#include <luminal_plugin.h>
#include <pthread.h>
#include <stdint.h>

typedef struct bnd_slot {
  pthread_mutex_t mu;
  int full;
  uint64_t value;
  luminal_waker *waiter; /* owned clone of the reader's waker, or NULL */
} bnd_slot;

/* One ping-pong pair: the pinger sends to pong_inbox and reads ping_inbox; the ponger the other way round. */
typedef struct bnd_pair {
  bnd_slot ping_inbox;
  bnd_slot pong_inbox;
  uint64_t rounds;
  uint64_t seed;
} bnd_pair;

/* The pong reply to `v`; the pinger checks every reply. */
#define BND_REPLY(v) ((v)*3u + 1u)
/* The value the pinger sends in round r. */
#define BND_SEND(seed, r) ((seed)*1000003u + (r))

enum { BND_ROLE_PING = 0, BND_ROLE_PONG = 1 };

/* Each plugin implements luminal_plugin.h; the host opens it with luminal_plugin_open, passing its own bnd_link as
 * host_data, and the plugin's luminal_plugin_init fills the link in. Both plugins spawn onto the host's runtime,
 * each into the scope luminal_plugin_open made for it.
 * start:  spawns the pair role's driver (a runtime clone of its own while it runs); *out receives the join handle.
 *         Output of a joined task: the pinger's sum of replies, or the ponger's number of rounds.
 * linger: spawns n tasks that never finish on their own: half wait on `slot` (their wakers stay stored there), half
 *         are ready at once with a malloc'ed output whose handle is released unjoined. luminal_plugin_close ends them.
 * live:   futures (and outputs) of this plugin not yet dropped. Only while the plugin is loaded.
 * fini records live and the scope's counters into the link (the host reads them after the close). */
typedef struct bnd_link bnd_link;
struct bnd_link {
  /* filled by the plugin's init; callable until the plugin is closed */
  int id; /* 'A' or 'B' */
  luminal_status (*start)(bnd_link *l, bnd_pair *pair, int role, luminal_task **out);
  luminal_status (*linger)(bnd_link *l, bnd_slot *slot, int n);
  long (*live)(void);
  const luminal_plugin_host *host; /* kept by the plugin: its runtime and scope */
  /* written by the plugin's fini */
  int fini_calls;
  long live_at_fini;
  luminal_scope_counters scope_at_fini;
};

#endif
