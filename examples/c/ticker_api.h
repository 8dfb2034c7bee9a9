/*
 * ticker_api.h — what example_plugin_reload and the ticker plugin (plugin_ticker.c) share beyond luminal_plugin.h:
 * the host passes a ticker_host as host_data.
 */
#ifndef TICKER_API_H
#define TICKER_API_H

#include <stdatomic.h>

typedef struct ticker_host {
  int tickers;       /* set by the host: how many tickers the plugin's init starts */
  atomic_long ticks; /* every tick of every ticker adds one */
  long live_at_fini; /* written by the plugin's fini: its tickers not yet dropped then (0: the scope was drained) */
  int fini_calls;    /* written by the plugin's fini */
} ticker_host;

#endif
