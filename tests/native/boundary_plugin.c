/* A boundary-test plugin (built twice, as plugin_a and plugin_b, from this one source: BND_PLUGIN_ID), implementing
 * luminal_plugin.h. It has no runtime of its own: it spawns onto the runtime luminal_plugin_open hands it, into the
 * scope made for it. */
#include "boundary_iface.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BND_PLUGIN_ID
#error "define BND_PLUGIN_ID"
#endif

static atomic_long g_live;

static void fail(const char *what) {
  fprintf(stderr, "plugin %c: %s\n", BND_PLUGIN_ID, what);
  fflush(stderr);
  abort();
}

/* ---- slots (this plugin's own copy of the code) ---- */

/* Reader: takes the value, or registers (a clone of) the context's waker and returns 0. */
static int slot_take(bnd_slot *s, luminal_context *cx, uint64_t *v) {
  pthread_mutex_lock(&s->mu);
  int got = s->full;
  if (got) {
    *v = s->value;
    s->full = 0;
  } else {
    const luminal_waker *w = luminal_context_waker(cx);
    if (s->waiter == NULL || !luminal_waker_will_wake(s->waiter, w)) {
      luminal_waker_release(s->waiter);
      s->waiter = luminal_waker_clone(w);
      if (s->waiter == NULL) fail("luminal_waker_clone returned NULL");
    }
  }
  pthread_mutex_unlock(&s->mu);
  return got;
}

/* Writer: fills the slot (it must be empty), then wakes the reader through a clone made here, on this side. */
static void slot_put(bnd_slot *s, uint64_t v) {
  pthread_mutex_lock(&s->mu);
  if (s->full) fail("slot already full: protocol broken");
  s->value = v;
  s->full = 1;
  luminal_waker *stored = s->waiter;
  s->waiter = NULL;
  luminal_waker *mine = stored ? luminal_waker_clone(stored) : NULL;
  pthread_mutex_unlock(&s->mu);
  if (stored) {
    if (mine == NULL) fail("luminal_waker_clone of a foreign waker returned NULL");
    luminal_waker_release(stored); /* the reader's clone, released by the writer */
    luminal_waker_wake(mine);
  }
}

/* ---- the ping and pong futures ---- */

typedef struct role_state {
  bnd_pair *pair;
  int role;
  uint64_t round;
  uint64_t acc;
  int sent; /* pinger: sent this round's value */
} role_state;

static luminal_poll role_poll(void *p, luminal_context *cx, void **out) {
  role_state *s = (role_state *)p;
  bnd_pair *pr = s->pair;
  while (s->round < pr->rounds) {
    uint64_t v;
    if (s->role == BND_ROLE_PING) {
      uint64_t send = BND_SEND(pr->seed, s->round);
      if (!s->sent) {
        slot_put(&pr->pong_inbox, send);
        s->sent = 1;
      }
      if (!slot_take(&pr->ping_inbox, cx, &v)) return LUMINAL_POLL_PENDING;
      if (v != BND_REPLY(send)) fail("wrong reply");
      s->acc += v;
      s->sent = 0;
    } else {
      if (!slot_take(&pr->pong_inbox, cx, &v)) return LUMINAL_POLL_PENDING;
      slot_put(&pr->ping_inbox, BND_REPLY(v));
      s->acc++;
    }
    s->round++;
    /* be fair to other tasks now and then */
    if (s->round % 64 == 0 && s->round < pr->rounds) {
      luminal_waker_wake_by_ref(luminal_context_waker(cx));
      return LUMINAL_POLL_PENDING;
    }
  }
  *out = (void *)(uintptr_t)s->acc;
  return LUMINAL_POLL_READY;
}

static void state_drop(void *p) {
  free(p);
  atomic_fetch_sub(&g_live, 1);
}

/* Plugin B spawns with the state inside the task (luminal_spawn_inline): the runtime owns the bytes, the drop only
 * ends their life. Plugin A keeps luminal_future states it allocates itself: both kinds cross the boundary. */
#define BND_INLINE (BND_PLUGIN_ID == 'B')
static void inline_drop(void *p) {
  (void)p;
  atomic_fetch_sub(&g_live, 1);
}

/* ---- the driver: spawned with luminal_spawn; spawns the role future with luminal_context_spawn, awaits it ---- */

typedef struct driver_state {
  luminal_runtime *rt; /* the plugin's own clone of the host's runtime handle */
  bnd_pair *pair;
  int role;
  luminal_task *child;
} driver_state;

static luminal_poll driver_poll(void *p, luminal_context *cx, void **out) {
  driver_state *d = (driver_state *)p;
  if (d->child == NULL) {
    if (luminal_runtime_worker_count(luminal_context_runtime(cx)) != luminal_runtime_worker_count(d->rt))
      fail("context runtime differs from the host's runtime");
    luminal_status st;
    atomic_fetch_add(&g_live, 1);
    if (BND_INLINE) {
      role_state s = {d->pair, d->role, 0, 0, 0};
      st = luminal_context_spawn_inline(cx, &s, sizeof s, _Alignof(role_state), role_poll, inline_drop, NULL, NULL,
                                        &d->child);
    } else {
      role_state *s = (role_state *)calloc(1, sizeof *s);
      if (!s) fail("out of memory");
      s->pair = d->pair;
      s->role = d->role;
      luminal_future f = {s, role_poll, state_drop, NULL};
      st = luminal_context_spawn(cx, f, &d->child);
    }
    if (st != LUMINAL_OK) fail(luminal_status_str(st));
  }
  void *o = NULL;
  luminal_status st = luminal_task_poll(d->child, cx, &o);
  if (st == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
  if (st != LUMINAL_OK) fail(luminal_status_str(st));
  *out = o;
  return LUMINAL_POLL_READY;
}

static void driver_drop(void *p) {
  driver_state *d = (driver_state *)p;
  luminal_task_release(d->child);
  luminal_runtime_release(d->rt);
  free(d);
  atomic_fetch_sub(&g_live, 1);
}

static luminal_status spawn_scoped(luminal_runtime *rt, luminal_scope *scope, luminal_future f, luminal_task **out) {
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = scope;
  return luminal_spawn_with(rt, f, &o, out);
}

/* ---- lingering tasks, cancelled by the host closing the scope before it unloads this plugin ---- */

typedef struct linger_state {
  bnd_slot *slot;
  int ready_at_once;
} linger_state;

static luminal_poll linger_poll(void *p, luminal_context *cx, void **out) {
  linger_state *s = (linger_state *)p;
  if (s->ready_at_once) {
    char *msg = (char *)malloc(32);
    if (!msg) fail("out of memory");
    snprintf(msg, 32, "unclaimed output %c", BND_PLUGIN_ID);
    atomic_fetch_add(&g_live, 1); /* the output is this plugin's too, until drop_output */
    *out = msg;
    return LUMINAL_POLL_READY;
  }
  uint64_t v;
  if (slot_take(s->slot, cx, &v)) fail("nobody fills the linger slot");
  return LUMINAL_POLL_PENDING;
}

static void output_drop(void *p) {
  free(p);
  atomic_fetch_sub(&g_live, 1);
}

static luminal_status linger(bnd_link *l, bnd_slot *slot, int n) {
  luminal_runtime *rt = l->host->runtime;
  luminal_scope *scope = l->host->scope;
  for (int i = 0; i < n; i++) {
    luminal_task *t = NULL;
    if (BND_INLINE && i % 4 < 2) {
      linger_state ls = {slot, i % 2};
      atomic_fetch_add(&g_live, 1);
      luminal_spawn_options o;
      memset(&o, 0, sizeof o);
      o.struct_size = sizeof o;
      o.scope = scope;
      luminal_status st = luminal_spawn_inline(rt, &ls, sizeof ls, _Alignof(linger_state), linger_poll, inline_drop,
                                               output_drop, &o, &t);
      if (st != LUMINAL_OK) return st;
      luminal_task_release(t);
      continue;
    }
    linger_state *s = (linger_state *)calloc(1, sizeof *s);
    if (!s) return LUMINAL_E_NO_MEMORY;
    s->slot = slot;
    s->ready_at_once = i % 2;
    atomic_fetch_add(&g_live, 1);
    luminal_future f = {s, linger_poll, state_drop, output_drop};
    luminal_status st = spawn_scoped(rt, scope, f, &t);
    if (st != LUMINAL_OK) return st;
    luminal_task_release(t);
  }
  return LUMINAL_OK;
}

static luminal_status start(bnd_link *l, bnd_pair *pair, int role, luminal_task **out) {
  driver_state *d = (driver_state *)calloc(1, sizeof *d);
  if (!d) return LUMINAL_E_NO_MEMORY;
  d->rt = luminal_runtime_clone(l->host->runtime);
  if (d->rt == NULL) {
    free(d);
    return LUMINAL_E_INVALID_HANDLE;
  }
  d->pair = pair;
  d->role = role;
  atomic_fetch_add(&g_live, 1);
  luminal_future f = {d, driver_poll, driver_drop, NULL};
  return spawn_scoped(d->rt, l->host->scope, f, out);
}

static long live(void) { return atomic_load(&g_live); }

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  bnd_link *l = (bnd_link *)host->host_data;
  if (!l || !LUMINAL_PLUGIN_HOST_HAS(host, host_data)) return LUMINAL_E_INVALID_ARGUMENT;
  l->id = BND_PLUGIN_ID;
  l->start = start;
  l->linger = linger;
  l->live = live;
  l->host = host;
  *plugin_state = l;
  return LUMINAL_OK;
}

LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) {
  bnd_link *l = (bnd_link *)plugin_state;
  l->live_at_fini = atomic_load(&g_live);
  memset(&l->scope_at_fini, 0, sizeof l->scope_at_fini);
  l->scope_at_fini.struct_size = sizeof l->scope_at_fini;
  if (luminal_scope_stats(l->host->scope, &l->scope_at_fini) != LUMINAL_OK) fail("scope_stats in fini");
  l->start = NULL;
  l->linger = NULL;
  l->live = NULL;
  l->fini_calls++;
}
