/*
 * A reloadable Luminal plugin (include/luminal_plugin.h): its init starts tickers that sleep 5 ms and count a tick
 * in the host's ticker_host, forever, in the scope luminal_plugin_open gave it. Closing the plugin cancels them
 * (the scope is drained before fini runs and the library is unloaded). Built as a MODULE library
 * (libluminal_ticker_plugin.so), opened and closed over and over by example_plugin_reload.
 */
#include "ticker_api.h"

#include <luminal_plugin.h>
#include <stdlib.h>
#include <string.h>

static atomic_long live_tickers; /* this library's static data: every poll and drop below touches it */

typedef struct ticker {
  ticker_host *host;
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
    atomic_fetch_add(&t->host->ticks, 1);
  }
}

static void ticker_drop(void *state) {
  ticker *t = (ticker *)state;
  if (t->sleeping) t->sleep.drop(t->sleep.state); /* cancels the pending timer */
  free(t);
  atomic_fetch_sub(&live_tickers, 1);
}

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  ticker_host *th = (ticker_host *)host->host_data;
  if (!th) return LUMINAL_E_INVALID_ARGUMENT;
  for (int i = 0; i < th->tickers; i++) {
    ticker *t = (ticker *)calloc(1, sizeof *t);
    if (!t) return LUMINAL_E_NO_MEMORY; /* those already started are cancelled by the failed open */
    t->host = th;
    atomic_fetch_add(&live_tickers, 1);
    luminal_future f = {t, ticker_poll, ticker_drop, NULL};
    luminal_spawn_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.scope = host->scope;
    luminal_status st = luminal_spawn_with(host->runtime, f, &o, NULL); /* detached; the scope ends it */
    if (st != LUMINAL_OK) return st;
  }
  *plugin_state = th;
  return LUMINAL_OK;
}

LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) {
  ticker_host *th = (ticker_host *)plugin_state;
  th->live_at_fini = atomic_load(&live_tickers);
  th->fini_calls++;
}
