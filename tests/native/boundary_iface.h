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

#include <luminal.h>
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

/* `scope` is a luminal_scope* (NULL = none).
 * Exported by each plugin (same names in both; the host resolves them per dlopen handle).
 * start: spawns the pair role's driver onto rt (rt is borrowed; the plugin keeps its own clone while it runs);
 *        *out receives the join handle. Output of a joined task: the pinger's sum of replies, or the ponger's
 *        number of rounds.
 * live:  futures of this plugin not yet dropped.
 * id:    'A' or 'B'. */
typedef luminal_status (*bnd_start_fn)(luminal_runtime *rt, void *scope, bnd_pair *pair, int role,
                                       luminal_task **out);
/* linger: spawns n tasks into `scope` (a luminal_scope*) that never finish on their own: half wait on `slot` (their
 * wakers stay stored there), half are ready at once with a malloc'ed output whose handle is released unjoined. */
typedef luminal_status (*bnd_linger_fn)(luminal_runtime *rt, void *scope, bnd_slot *slot, int n);
typedef long (*bnd_live_fn)(void);
typedef int (*bnd_id_fn)(void);

#endif
