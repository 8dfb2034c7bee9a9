/* A channel-test plugin (built twice, as channel_plugin_a and channel_plugin_b, from this source: CHAN_PLUGIN_ID),
 * implementing luminal_plugin.h. It has no runtime and no channel of its own: it sends on the host's channel from
 * tasks on the host's runtime, in the scope luminal_plugin_open made for it. */
#include "channel_iface.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef CHAN_PLUGIN_ID
#error "define CHAN_PLUGIN_ID"
#endif

static atomic_ulong g_made;
static atomic_long g_live;

static void fail(const char *what, luminal_status st) {
  fprintf(stderr, "channel plugin %c: %s (%d)\n", CHAN_PLUGIN_ID, what, (int)st);
  fflush(stderr);
  abort();
}

typedef struct producer {
  luminal_sender *tx; /* owned clone */
  uint32_t task;
  uint64_t next, n;
  luminal_future pending; /* a send future in flight (pending.poll != NULL) */
  luminal_status result;
} producer;

static chan_msg *make(producer *p) {
  chan_msg *m = malloc(sizeof *m);
  if (!m) fail("out of memory", 0);
  m->plugin = CHAN_PLUGIN_ID;
  m->task = p->task;
  m->seq = p->next;
  atomic_fetch_add(&g_made, 1);
  return m;
}

static void finish(producer *p) {
  luminal_sender_release(p->tx);
  p->tx = NULL;
}

static luminal_poll producer_poll(void *state, luminal_context *cx, void **output) {
  producer *p = state;
  *output = NULL;
  for (;;) {
    if (p->pending.poll) {
      void *out = NULL;
      if (p->pending.poll(p->pending.state, cx, &out) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
      p->pending.drop(p->pending.state);
      p->pending.poll = NULL;
      if (p->result == LUMINAL_E_CLOSED) break; /* the message went to the host's drop_message */
      if (p->result != LUMINAL_OK) fail("send future", p->result);
      p->next++;
    }
    if (p->next == p->n) break;
    chan_msg *m = make(p);
    if (p->next % 2 == 0) {
      luminal_status st = luminal_channel_try_send(p->tx, m);
      if (st == LUMINAL_OK) {
        p->next++;
        continue;
      }
      if (st == LUMINAL_E_CLOSED) {
        free(m); /* try_send leaves a refused message ours */
        atomic_fetch_sub(&g_made, 1);
        break;
      }
      if (st != LUMINAL_E_FULL) fail("try_send", st);
    }
    luminal_status st = luminal_channel_send(p->tx, m, &p->result, &p->pending);
    if (st != LUMINAL_OK) fail("channel_send", st);
  }
  finish(p);
  return LUMINAL_POLL_READY;
}

static void producer_drop(void *state) {
  producer *p = state;
  if (p->pending.poll) p->pending.drop(p->pending.state); /* a cancelled send: its message goes to drop_message */
  if (p->tx) finish(p);
  free(p);
  atomic_fetch_sub(&g_live, 1);
}

static luminal_status start(chan_link *l, luminal_sender *tx, uint32_t tasks, uint64_t per_task) {
  luminal_runtime *rt = l->host->runtime;
  luminal_scope *scope = l->host->scope;
  for (uint32_t i = 0; i < tasks; i++) {
    producer *p = calloc(1, sizeof *p);
    if (!p) return LUMINAL_E_NO_MEMORY;
    p->tx = luminal_sender_clone(tx);
    if (!p->tx) {
      free(p);
      return LUMINAL_E_INVALID_HANDLE;
    }
    p->task = i;
    p->n = per_task;
    atomic_fetch_add(&g_live, 1);
    luminal_future f = {p, producer_poll, producer_drop, NULL};
    luminal_spawn_options o = {sizeof o, scope, 0};
    luminal_task *t = NULL;
    luminal_status st = luminal_spawn_with(rt, f, &o, &t); /* takes f also on failure */
    if (st != LUMINAL_OK) return st;
    luminal_task_release(t); /* detached */
  }
  return LUMINAL_OK;
}

static luminal_poll report_poll(void *state, luminal_context *cx, void **output) {
  (void)cx;
  *output = NULL;
  luminal_status st = luminal_oneshot_send(state, (void *)(uintptr_t)(atomic_load(&g_made) + 1)); /* releases it */
  if (st != LUMINAL_OK) fail("oneshot_send", st);
  return LUMINAL_POLL_READY;
}

static void report_drop(void *state) { luminal_oneshot_sender_release(state); } /* ignored after the send */

static luminal_status report(chan_link *l, luminal_oneshot_sender *tx) {
  luminal_future f = {tx, report_poll, report_drop, NULL};
  luminal_spawn_options o = {sizeof o, l->host->scope, 0};
  return luminal_spawn_with(l->host->runtime, f, &o, NULL); /* takes f also on failure */
}

static uint64_t made(void) { return atomic_load(&g_made); }
static long live(void) { return atomic_load(&g_live); }

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  chan_link *l = (chan_link *)host->host_data;
  if (!l) return LUMINAL_E_INVALID_ARGUMENT;
  l->start = start;
  l->made = made;
  l->live = live;
  l->report = report;
  l->host = host;
  *plugin_state = l;
  return LUMINAL_OK;
}

LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) {
  chan_link *l = (chan_link *)plugin_state;
  l->made_at_fini = atomic_load(&g_made);
  l->live_at_fini = atomic_load(&g_live);
  l->start = NULL;
  l->made = NULL;
  l->live = NULL;
  l->fini_calls++;
}
