/*
 * unload_iface.h — what the unload host and its plugins (unload_plugin_x, unload_plugin_y: one source, built twice)
 * share. The host owns the runtime, the scopes and this struct; plugins spawn onto the host's runtime into the
 * scope the host hands them.
 */
#ifndef LUMINAL_UNLOAD_IFACE_H
#define LUMINAL_UNLOAD_IFACE_H

#include <luminal.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct unl_host unl_host;
struct unl_host {
  /* Takes `w` (an owned clone of a plugin task's waker): the host keeps it and may wake it at any time, also after
   * the plugin is unloaded. Called from a plugin's poll, on a worker thread. */
  void (*hold_waker)(unl_host *h, luminal_waker *w);
  atomic_int stop;     /* set by the host: the plugin's workers finish (Y) */
  atomic_long y_ticks; /* timer iterations completed by Y's workers */
  void *impl;          /* the host's own data */
};

/* Spawns `n` tasks into `scope` that never finish on their own: n/100 (rounded up) batch tasks spawned with
 * luminal_spawn_with, each spawning the rest of its batch (up to 100 in all) with luminal_context_spawn in its first
 * poll. Kinds by index: even = sleeps an hour (luminal_sleep); odd = hands a clone of its waker to
 * host->hold_waker and waits for a wake that means nothing; every 50th = sleeps 1 ms in a loop forever (so polls
 * are running when the scope is closed). */
#define UNL_IS_LOOP(i) ((i) % 50 == 49)
#define UNL_IS_WAITER(i) (!UNL_IS_LOOP(i) && (i) % 2 == 1)
typedef luminal_status (*unl_spawn_pending_fn)(luminal_runtime *rt, luminal_scope *scope, unl_host *h, int n);

/* Spawns `loopers` timer loops (sleep 1 ms; timeout(sleep 1 h, 1 ms); timeout(sleep 1 ms, 1 h); ... until
 * h->stop; output = iterations) and one ping-pong pair (waking each other through cloned wakers until h->stop;
 * output = rounds) into `scope`. out[] receives loopers + 2 join handles. */
typedef luminal_status (*unl_start_work_fn)(luminal_runtime *rt, luminal_scope *scope, unl_host *h, int loopers,
                                            luminal_task **out);

typedef long (*unl_count_fn)(void);
typedef int (*unl_id_fn)(void);

#endif
