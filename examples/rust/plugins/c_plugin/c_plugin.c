/*
 * The C plugin (include/luminal_plugin.h): its player receives n from its inbox and answers n + 1, `rounds` times.
 * It waits by leaving its task's luminal waker in the mailbox; the Rust plugin's send (through the host) wakes it.
 * Every task goes into the scope luminal_plugin_open made for it (luminal_spawn_with), so the host can close it
 * with luminal_plugin_close and have it unloaded at run time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_api.h"

typedef struct c_plugin {
  const luminal_plugin_host *host; /* valid until fini returns */
  lx_host_api *api;                /* the host's, likewise */
} c_plugin;

typedef struct player {
  lx_host_api *api;
  lx_mailbox *inbox, *outbox;
  uint64_t rounds, done, checksum;
} player;

static luminal_poll player_poll(void *state, luminal_context *cx, void **output) {
  player *p = state;
  while (p->done < p->rounds) {
    uint64_t v;
    if (!p->api->mailbox_recv(p->inbox, luminal_context_waker(cx), &v)) return LUMINAL_POLL_PENDING;
    p->checksum += v;
    p->done++;
    p->api->mailbox_send(p->outbox, v + 1);
  }
  *output = (void *)(uintptr_t)p->checksum;
  return LUMINAL_POLL_READY;
}

static luminal_status spawn_scoped(c_plugin *cp, luminal_future f, luminal_task **out) {
  luminal_spawn_options o = {.struct_size = sizeof o, .scope = cp->host->scope, .priority = 0};
  return luminal_spawn_with(cp->host->runtime, f, &o, out);
}

/* A background task parked on a mailbox. */
typedef struct waiter {
  lx_host_api *api;
  lx_mailbox *mailbox;
} waiter;

static luminal_poll waiter_poll(void *state, luminal_context *cx, void **output) {
  waiter *w = state;
  uint64_t v;
  if (!w->api->mailbox_recv(w->mailbox, luminal_context_waker(cx), &v)) return LUMINAL_POLL_PENDING;
  *output = (void *)(uintptr_t)v;
  return LUMINAL_POLL_READY;
}

/* A background task sleeping on a runtime timer that it owns and polls itself (plugin code stays on the stack). */
typedef struct sleeper {
  luminal_future timer;
} sleeper;

static luminal_poll sleeper_poll(void *state, luminal_context *cx, void **output) {
  sleeper *s = state;
  void *out = NULL;
  if (s->timer.poll(s->timer.state, cx, &out) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  *output = NULL;
  return LUMINAL_POLL_READY;
}

static void sleeper_drop(void *state) {
  sleeper *s = state;
  if (s->timer.drop) s->timer.drop(s->timer.state);
  free(s);
}

static luminal_status start(void *plugin, lx_mailbox *inbox, lx_mailbox *outbox, uint64_t rounds, luminal_task **out) {
  c_plugin *cp = plugin;
  player *p = calloc(1, sizeof *p);
  if (!p) return LUMINAL_E_NO_MEMORY;
  p->api = cp->api;
  p->inbox = inbox;
  p->outbox = outbox;
  p->rounds = rounds;
  luminal_future f = {.state = p, .poll = player_poll, .drop = free, .drop_output = NULL};
  return spawn_scoped(cp, f, out);
}

static luminal_status park(void *plugin, lx_mailbox *mailbox, uint32_t count) {
  c_plugin *cp = plugin;
  for (uint32_t i = 0; i < count; i++) {
    luminal_future f = {0};
    if (i == 0) {
      waiter *w = calloc(1, sizeof *w);
      if (!w) return LUMINAL_E_NO_MEMORY;
      w->api = cp->api;
      w->mailbox = mailbox;
      f = (luminal_future){.state = w, .poll = waiter_poll, .drop = free, .drop_output = NULL};
    } else {
      sleeper *s = calloc(1, sizeof *s);
      if (!s) return LUMINAL_E_NO_MEMORY;
      luminal_status st = luminal_sleep(cp->host->runtime, 3600ull * 1000000000ull, &s->timer);
      if (st != LUMINAL_OK) {
        free(s);
        return st;
      }
      f = (luminal_future){.state = s, .poll = sleeper_poll, .drop = sleeper_drop, .drop_output = NULL};
    }
    luminal_status st = spawn_scoped(cp, f, NULL);
    if (st != LUMINAL_OK) return st;
  }
  return LUMINAL_OK;
}

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  lx_host_api *api = host->host_data;
  if (!api || api->struct_size < sizeof(lx_host_api)) return LUMINAL_E_INVALID_ARGUMENT;
  c_plugin *cp = calloc(1, sizeof *cp);
  if (!cp) return LUMINAL_E_NO_MEMORY;
  cp->host = host;
  cp->api = api;
  api->name = "c_plugin";
  api->luminal_spawn_address = (const void *)&luminal_spawn;
  api->plugin = cp;
  api->start = start;
  api->park = park;
  *plugin_state = cp;
  return LUMINAL_OK;
}

LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) {
  c_plugin *cp = plugin_state;
  lx_host_api *api = cp->api;
  memset(&api->scope_at_fini, 0, sizeof api->scope_at_fini);
  api->scope_at_fini.struct_size = sizeof api->scope_at_fini;
  luminal_scope_stats(cp->host->scope, &api->scope_at_fini);
  api->start = NULL;
  api->park = NULL;
  api->plugin = NULL;
  api->fini_calls++;
  free(cp);
}
