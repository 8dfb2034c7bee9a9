/*
 * A reloadable Luminal plugin: a ticker that sleeps 5 ms and increments a counter its host owns, forever. Its host
 * spawns it into a scope; closing that scope is what makes it safe to dlclose() this library afterwards.
 * Built as a MODULE library (libluminal_ticker_plugin.so), dlopen()ed by example_plugin_reload.
 */
#include <luminal.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_EXPORT __attribute__((visibility("default")))

static atomic_long live_tickers; /* this library's static data: every poll and drop below touches it */

typedef struct ticker {
  atomic_long *counter; /* the host's */
  luminal_future sleep; /* the current 5 ms sleep */
  int sleeping;
} ticker;

static luminal_poll ticker_poll(void *state, luminal_context *cx, void **output) {
  ticker *t = (ticker *)state;
  (void)output;
  for (;;) {
    if (!t->sleeping) {
      if (luminal_sleep(luminal_context_runtime(cx), 5 * 1000000ull, &t->sleep) != LUMINAL_OK) {
        return LUMINAL_POLL_PENDING; /* runtime shutting down: we are about to be dropped */
      }
      t->sleeping = 1;
    }
    void *out = NULL;
    if (t->sleep.poll(t->sleep.state, cx, &out) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    t->sleep.drop(t->sleep.state); /* the sleep is done: drop it, count a tick, sleep again */
    t->sleeping = 0;
    atomic_fetch_add(t->counter, 1);
  }
}

static void ticker_drop(void *state) {
  ticker *t = (ticker *)state;
  if (t->sleeping) t->sleep.drop(t->sleep.state); /* cancels the pending timer */
  free(t);
  atomic_fetch_sub(&live_tickers, 1);
}

/* Spawns one ticker into `scope` (detached: it never finishes; closing the scope ends it). */
PLUGIN_EXPORT luminal_status ticker_start(luminal_runtime *rt, luminal_scope *scope, atomic_long *counter) {
  ticker *t = (ticker *)calloc(1, sizeof *t);
  if (!t) return LUMINAL_E_NO_MEMORY;
  t->counter = counter;
  atomic_fetch_add(&live_tickers, 1);
  luminal_future f = {t, ticker_poll, ticker_drop, NULL};
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = scope;
  return luminal_spawn_with(rt, f, &o, NULL);
}

/* Tickers of this plugin not yet dropped. */
PLUGIN_EXPORT long ticker_live(void) { return atomic_load(&live_tickers); }
