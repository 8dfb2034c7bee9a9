/*
 * The C plugin: its player receives n from its inbox and answers n + 1, `rounds` times. It waits by leaving its
 * task's luminal waker in the mailbox; the Rust plugin's send (through the host) wakes it. Every task goes into the
 * scope the host gave (luminal_spawn_with), so the host can close the scope and unload this library at run time.
 */
#include <stdint.h>
#include <stdlib.h>
#include "plugin_api.h"

typedef struct player {
  lx_host_api host; /* copied: the host's api struct is borrowed only during lx_plugin_start */
  lx_mailbox *inbox, *outbox;
  uint64_t rounds, done, checksum;
} player;

static luminal_poll player_poll(void *state, luminal_context *cx, void **output) {
  player *p = state;
  while (p->done < p->rounds) {
    uint64_t v;
    if (!p->host.mailbox_recv(p->inbox, luminal_context_waker(cx), &v)) return LUMINAL_POLL_PENDING;
    p->checksum += v;
    p->done++;
    p->host.mailbox_send(p->outbox, v + 1);
  }
  *output = (void *)(uintptr_t)p->checksum;
  return LUMINAL_POLL_READY;
}

static void player_drop(void *state) { free(state); }

static luminal_status spawn_scoped(const lx_host_api *host, luminal_scope *scope, luminal_future f,
                                   luminal_task **out) {
  luminal_spawn_options o = {.struct_size = sizeof o, .scope = scope, .priority = 0};
  return luminal_spawn_with(host->runtime, f, &o, out);
}

/* A background task parked on a mailbox. */
typedef struct waiter {
  lx_host_api host;
  lx_mailbox *mailbox;
} waiter;

static luminal_poll waiter_poll(void *state, luminal_context *cx, void **output) {
  waiter *w = state;
  uint64_t v;
  if (!w->host.mailbox_recv(w->mailbox, luminal_context_waker(cx), &v)) return LUMINAL_POLL_PENDING;
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

__attribute__((visibility("default"))) const char *lx_plugin_name(void) { return "c_plugin"; }

__attribute__((visibility("default"))) luminal_status lx_plugin_start(const lx_host_api *host, luminal_scope *scope,
                                                                     lx_mailbox *inbox, lx_mailbox *outbox,
                                                                     uint64_t rounds, luminal_task **out) {
  if (!host || host->struct_size < sizeof(lx_host_api)) return LUMINAL_E_INVALID_ARGUMENT;
  player *p = calloc(1, sizeof *p);
  if (!p) return LUMINAL_E_NO_MEMORY;
  p->host = *host;
  p->inbox = inbox;
  p->outbox = outbox;
  p->rounds = rounds;
  luminal_future f = {.state = p, .poll = player_poll, .drop = player_drop, .drop_output = NULL};
  return spawn_scoped(host, scope, f, out);
}

__attribute__((visibility("default"))) luminal_status lx_plugin_park(const lx_host_api *host, luminal_scope *scope,
                                                                    lx_mailbox *mailbox, uint32_t count) {
  if (!host || host->struct_size < sizeof(lx_host_api)) return LUMINAL_E_INVALID_ARGUMENT;
  for (uint32_t i = 0; i < count; i++) {
    luminal_future f = {0};
    if (i == 0) {
      waiter *w = calloc(1, sizeof *w);
      if (!w) return LUMINAL_E_NO_MEMORY;
      w->host = *host;
      w->mailbox = mailbox;
      f = (luminal_future){.state = w, .poll = waiter_poll, .drop = free, .drop_output = NULL};
    } else {
      sleeper *s = calloc(1, sizeof *s);
      if (!s) return LUMINAL_E_NO_MEMORY;
      luminal_status st = luminal_sleep(host->runtime, 3600ull * 1000000000ull, &s->timer);
      if (st != LUMINAL_OK) {
        free(s);
        return st;
      }
      f = (luminal_future){.state = s, .poll = sleeper_poll, .drop = sleeper_drop, .drop_output = NULL};
    }
    luminal_status st = spawn_scoped(host, scope, f, NULL);
    if (st != LUMINAL_OK) return st;
  }
  return LUMINAL_OK;
}
