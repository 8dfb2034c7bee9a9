/*
 * example_plugin_reload — unloading and reloading a plugin while the runtime keeps running.
 *
 * Each round opens the ticker plugin with luminal_plugin_open (its init starts tickers in the scope the library
 * made for it), lets it tick, and closes it with luminal_plugin_close: the scope is closed and drained (every
 * ticker dropped, no poll or drop of the plugin's code running), then the plugin's fini runs, then the library is
 * unloaded. Then it opens the plugin again, and again.
 */
#include "ticker_api.h"

#include <dlfcn.h>
#include <luminal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int run_once(luminal_runtime *rt, int round) {
  enum { TICKERS = 3 };
  ticker_host th;
  memset(&th, 0, sizeof th);
  th.tickers = TICKERS;
  atomic_init(&th.ticks, 0);
  luminal_plugin *plugin = NULL;
  luminal_status st = luminal_plugin_open(rt, TICKER_PLUGIN_PATH, &th, &plugin);
  if (st != LUMINAL_OK) {
    fprintf(stderr, "luminal_plugin_open: %s\n", luminal_status_str(st));
    return 0;
  }
  printf("[%d] loaded the ticker plugin\n", round);

  /* let it tick for a while (each ticker: every 5 ms) */
  for (int waited = 0; atomic_load(&th.ticks) < 10 * TICKERS && waited < 10000; waited += 10) sleep_ms(10);
  long before = atomic_load(&th.ticks);
  printf("[%d] %d tickers ran: %ld ticks\n", round, TICKERS, before);
  if (before < 10 * TICKERS) return 0;

  luminal_scope_counters c;
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  luminal_scope_stats(luminal_plugin_scope(plugin), &c);
  /* close: cancels the tickers (their pending sleeps are dropped), waits until none can run, fini, unload */
  st = luminal_plugin_close(plugin, 10ull * 1000000000ull);
  printf("[%d] closed the plugin: %s (its scope had %llu live tickers; at fini: %ld alive, fini ran %d time)\n",
         round, luminal_status_str(st), (unsigned long long)c.live, th.live_at_fini, th.fini_calls);
  if (st != LUMINAL_OK || c.live != TICKERS || th.live_at_fini != 0 || th.fini_calls != 1) return 0;

  long closed_at = atomic_load(&th.ticks);
  int gone = dlopen(TICKER_PLUGIN_PATH, RTLD_NOW | RTLD_NOLOAD) == NULL;
  printf("[%d] the plugin's library: %s\n", round, gone ? "unloaded" : "STILL LOADED");
  sleep_ms(30); /* several would-be ticks later: nothing ticks any more */
  long after = atomic_load(&th.ticks);
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
