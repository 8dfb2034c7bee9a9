/*
 * example_plugin_reload — unloading and reloading a plugin while the runtime keeps running.
 *
 * The host owns the runtime. For each load of the ticker plugin it creates a scope, lets the plugin spawn its
 * periodic work into it, and before dlclose() closes the scope: when luminal_scope_close returns LUMINAL_OK every
 * future of the scope has been dropped and no call into the plugin's code is running or can start, so unloading
 * the code is safe. Then it loads the plugin again, and again.
 */
#include <luminal.h>

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef luminal_status (*ticker_start_fn)(luminal_runtime *rt, luminal_scope *scope, atomic_long *counter);
typedef long (*ticker_live_fn)(void);

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int run_once(luminal_runtime *rt, int round) {
  void *dl = dlopen(TICKER_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 0;
  }
  ticker_start_fn start = (ticker_start_fn)dlsym(dl, "ticker_start");
  ticker_live_fn live = (ticker_live_fn)dlsym(dl, "ticker_live");
  if (!start || !live) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 0;
  }
  printf("[%d] loaded the ticker plugin\n", round);

  luminal_scope *scope = NULL;
  if (luminal_scope_new(rt, &scope) != LUMINAL_OK) return 0;
  atomic_long ticks;
  atomic_init(&ticks, 0);
  enum { TICKERS = 3 };
  for (int i = 0; i < TICKERS; i++) {
    luminal_status st = start(rt, scope, &ticks);
    if (st != LUMINAL_OK) {
      fprintf(stderr, "ticker_start: %s\n", luminal_status_str(st));
      return 0;
    }
  }
  /* let it tick for a while (each ticker: every 5 ms) */
  for (int waited = 0; atomic_load(&ticks) < 10 * TICKERS && waited < 10000; waited += 10) sleep_ms(10);
  long before = atomic_load(&ticks);
  printf("[%d] %d tickers ran: %ld ticks\n", round, TICKERS, before);
  if (before < 10 * TICKERS) return 0;

  /* close the scope: cancels the tickers (their pending sleeps are dropped) and waits until none can run */
  luminal_status st = luminal_scope_close(scope, UINT64_MAX);
  luminal_scope_counters c;
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  luminal_scope_stats(scope, &c);
  luminal_scope_release(scope);
  printf("[%d] closed the scope: %s (live %llu, cancelled %llu); plugin futures alive: %ld\n", round,
         luminal_status_str(st), (unsigned long long)c.live, (unsigned long long)c.cancelled, live());
  if (st != LUMINAL_OK || c.live != 0 || live() != 0) return 0;

  long closed_at = atomic_load(&ticks);
  dlclose(dl);
  int gone = dlopen(TICKER_PLUGIN_PATH, RTLD_NOW | RTLD_NOLOAD) == NULL;
  printf("[%d] dlclose()d the plugin: %s\n", round, gone ? "unloaded" : "STILL LOADED");
  sleep_ms(30); /* several would-be ticks later: nothing ticks any more */
  long after = atomic_load(&ticks);
  printf("[%d] ticks after close: %ld\n", round, after - closed_at);
  return gone && after == closed_at;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(NULL, &rt) != LUMINAL_OK) return 1;
  int ok = 1;
  for (int round = 1; round <= 3 && ok; round++) ok = run_once(rt, round);
  luminal_runtime_shutdown(rt, UINT64_MAX);
  luminal_runtime_release(rt);
  printf(ok ? "plugin reload: ok\n" : "plugin reload: FAILED\n");
  return ok ? 0 : 1;
}
