/*
 * unload_iface.h — what the unload host and its plugins (unload_plugin_x, unload_plugin_y: one source, built twice,
 * implementing luminal_plugin.h) share. The host owns the runtime and the unl_host; it opens each plugin with
 * luminal_plugin_open, passing an unl_link as host_data that the plugin's init fills in. Plugins spawn onto the
 * host's runtime into the scope luminal_plugin_open made for them.
 */
#ifndef LUMINAL_UNLOAD_IFACE_H
#define LUMINAL_UNLOAD_IFACE_H

#include <luminal_plugin.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct unl_host unl_host;
typedef struct unl_link unl_link;
struct unl_host {
  /* Takes `w` (an owned clone of a plugin task's waker): the host keeps it and may wake it at any time, also after
   * the plugin is unloaded. Called from a plugin's poll, on a worker thread. */
  void (*hold_waker)(unl_host *h, luminal_waker *w);
  atomic_int stop;     /* set by the host: the plugin's workers finish (Y) */
  atomic_long y_ticks; /* timer iterations completed by Y's workers */
  void *impl;          /* the host's own data */
  /* Called by each plugin's fini (its scope closed and drained, its library still loaded), on the closing thread. */
  void (*at_fini)(unl_host *h, unl_link *l);
};

/* Spawns `n` tasks into the plugin's scope that never finish on their own: n/100 (rounded up) batch tasks spawned with
 * luminal_spawn_with, each spawning the rest of its batch (up to 100 in all) with luminal_context_spawn in its first
 * poll. Kinds by index: even = sleeps an hour (luminal_sleep); odd = hands a clone of its waker to
 * host->hold_waker and waits for a wake that means nothing; every 50th = sleeps 1 ms in a loop forever (so polls
 * are running when the scope is closed). */
#define UNL_IS_LOOP(i) ((i) % 50 == 49)
#define UNL_IS_WAITER(i) (!UNL_IS_LOOP(i) && (i) % 2 == 1)
typedef luminal_status (*unl_spawn_pending_fn)(unl_link *l, int n);

/* Spawns `loopers` timer loops (sleep 1 ms; timeout(sleep 1 h, 1 ms); timeout(sleep 1 ms, 1 h); ... until
 * h->stop; output = iterations) and one ping-pong pair (waking each other through cloned wakers until h->stop;
 * output = rounds) into the plugin's scope. out[] receives loopers + 2 join handles. */
typedef luminal_status (*unl_start_work_fn)(unl_link *l, int loopers, luminal_task **out);

typedef long (*unl_count_fn)(void);

/* One per plugin: the host_data of its luminal_plugin_open. */
struct unl_link {
  unl_host *h; /* set by the host */
  /* filled by the plugin's init; callable until the plugin is closed */
  int id; /* 'X' or 'Y' */
  unl_spawn_pending_fn spawn_pending;
  unl_start_work_fn start_work;
  unl_count_fn live, parked, repolls, polls; /* futures not dropped; parked; re-polls of waiters; all polls */
  const luminal_plugin_host *host;
  /* written by the plugin's fini */
  int fini_calls;
  long live_at_fini, polls_at_fini;
  luminal_scope_counters scope_at_fini;
};

#endif
