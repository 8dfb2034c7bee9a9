/* An unload-test plugin (built twice, as unload_plugin_x and unload_plugin_y, from this one source: UNL_PLUGIN_ID),
 * implementing luminal_plugin.h. It has no runtime of its own. Every poll and drop touches this library's static data, so a call into it after
 * dlclose() crashes (and valgrind reports it). */
#include "unload_iface.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef UNL_PLUGIN_ID
#error "define UNL_PLUGIN_ID"
#endif

#define MS(x) ((uint64_t)(x) * 1000000ull)
#define HOUR (3600ull * 1000000000ull)

static atomic_long g_live;    /* future states of this plugin not yet dropped */
static atomic_long g_parked;  /* pending tasks that have finished their first poll */
static atomic_long g_repolls; /* polls of waiting tasks after their first */
static atomic_long g_polls;   /* all polls */

static void fail(const char *what) {
  fprintf(stderr, "unload plugin %c: %s\n", UNL_PLUGIN_ID, what);
  fflush(stderr);
  abort();
}

static luminal_status spawn_in(luminal_runtime *rt, luminal_scope *scope, luminal_future f, luminal_task **out) {
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = scope;
  return luminal_spawn_with(rt, f, &o, out);
}

/* ================================ X: pending tasks ================================ */

enum { K_SLEEP, K_WAIT_HOST, K_LOOP };

typedef struct pend_state {
  unl_host *h;
  int kind;
  int index;
  int batch_left; /* > 0: a batch task that still has to spawn this many children */
  int first_done;
  int have_sleep;
  luminal_future sleep;
} pend_state;

static int kind_of(int i) { return UNL_IS_LOOP(i) ? K_LOOP : (UNL_IS_WAITER(i) ? K_WAIT_HOST : K_SLEEP); }

static luminal_poll pend_poll(void *p, luminal_context *cx, void **out);
static void pend_drop(void *p);

static pend_state *pend_new(unl_host *h, int index) {
  pend_state *s = (pend_state *)calloc(1, sizeof *s);
  if (!s) fail("out of memory");
  s->h = h;
  s->index = index;
  s->kind = kind_of(index);
  atomic_fetch_add(&g_live, 1);
  return s;
}

static luminal_poll pend_poll(void *p, luminal_context *cx, void **out) {
  (void)out;
  pend_state *s = (pend_state *)p;
  atomic_fetch_add(&g_polls, 1);
  luminal_runtime *rt = luminal_context_runtime(cx);
  for (; s->batch_left > 0; s->batch_left--) { /* children join this task's scope */
    pend_state *c = pend_new(s->h, s->index + s->batch_left);
    luminal_future f = {c, pend_poll, pend_drop, NULL};
    luminal_status st = luminal_context_spawn(cx, f, NULL);
    if (st != LUMINAL_OK) fail(luminal_status_str(st));
  }
  switch (s->kind) {
  case K_SLEEP:
    if (!s->have_sleep) {
      if (luminal_sleep(rt, HOUR, &s->sleep) != LUMINAL_OK) fail("luminal_sleep");
      s->have_sleep = 1;
    }
    {
      void *o = NULL;
      if (s->sleep.poll(s->sleep.state, cx, &o) == LUMINAL_POLL_READY) fail("an hour-long sleep completed");
    }
    break;
  case K_WAIT_HOST:
    if (!s->first_done) {
      luminal_waker *w = luminal_waker_clone(luminal_context_waker(cx));
      if (!w) fail("luminal_waker_clone returned NULL");
      s->h->hold_waker(s->h, w);
    } else {
      atomic_fetch_add(&g_repolls, 1); /* a wake from the host; the task keeps waiting */
    }
    break;
  case K_LOOP:
    for (int i = 0;; i++) {
      if (!s->have_sleep) {
        if (luminal_sleep(rt, MS(1), &s->sleep) != LUMINAL_OK) fail("luminal_sleep");
        s->have_sleep = 1;
      }
      void *o = NULL;
      if (s->sleep.poll(s->sleep.state, cx, &o) == LUMINAL_POLL_PENDING) break;
      s->sleep.drop(s->sleep.state);
      s->have_sleep = 0;
      if (i > 1000) fail("1 ms sleeps ready at once, 1000 times in a row");
    }
    break;
  }
  if (!s->first_done) {
    s->first_done = 1;
    atomic_fetch_add(&g_parked, 1);
  }
  return LUMINAL_POLL_PENDING;
}

static void pend_drop(void *p) {
  pend_state *s = (pend_state *)p;
  if (s->have_sleep) s->sleep.drop(s->sleep.state);
  memset(s, 0xDD, sizeof *s);
  free(s);
  atomic_fetch_sub(&g_live, 1);
}

static luminal_status spawn_pending(unl_link *l, int n) {
  luminal_runtime *rt = l->host->runtime;
  luminal_scope *scope = l->host->scope;
  unl_host *h = l->h;
  for (int base = 0; base < n; base += 100) {
    pend_state *s = pend_new(h, base);
    s->batch_left = (n - base < 100 ? n - base : 100) - 1; /* indexes base+1 .. base+batch_left */
    luminal_future f = {s, pend_poll, pend_drop, NULL};
    luminal_status st = spawn_in(rt, scope, f, NULL);
    if (st != LUMINAL_OK) return st;
  }
  return LUMINAL_OK;
}

/* ================================ Y: work that keeps going ================================ */

typedef struct loop_state {
  unl_host *h;
  luminal_future cur;
  int have;
  void *expect;
  uint64_t started, min_ns;
  uint64_t iter; /* selects the kind of timer; starts at a different value per loop */
  uint64_t done; /* iterations completed */
} loop_state;

static luminal_poll loop_poll(void *p, luminal_context *cx, void **out) {
  loop_state *s = (loop_state *)p;
  atomic_fetch_add(&g_polls, 1);
  luminal_runtime *rt = luminal_context_runtime(cx);
  for (;;) {
    if (!s->have) {
      if (atomic_load(&s->h->stop)) {
        *out = (void *)(uintptr_t)s->done;
        return LUMINAL_POLL_READY;
      }
      luminal_future inner;
      s->started = luminal_now_ns();
      switch (s->iter % 3) {
      case 0:
        if (luminal_sleep(rt, MS(1), &s->cur) != LUMINAL_OK) fail("luminal_sleep");
        s->expect = NULL;
        s->min_ns = MS(1);
        break;
      case 1:
        if (luminal_sleep(rt, HOUR, &inner) != LUMINAL_OK) fail("luminal_sleep");
        if (luminal_timeout(rt, inner, MS(1), &s->cur) != LUMINAL_OK) fail("luminal_timeout");
        s->expect = LUMINAL_TIMED_OUT_OUTPUT;
        s->min_ns = MS(1);
        break;
      default:
        if (luminal_sleep(rt, MS(1), &inner) != LUMINAL_OK) fail("luminal_sleep");
        if (luminal_timeout(rt, inner, HOUR, &s->cur) != LUMINAL_OK) fail("luminal_timeout");
        s->expect = NULL;
        s->min_ns = MS(1);
        break;
      }
      s->have = 1;
    }
    void *o = (void *)(uintptr_t)1;
    if (s->cur.poll(s->cur.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    if (o != s->expect) fail(s->expect ? "timeout(sleep 1 h, 1 ms) did not time out" : "wrong timer output");
    if (luminal_now_ns() - s->started < s->min_ns) fail("a timer completed before its deadline");
    s->cur.drop(s->cur.state);
    s->have = 0;
    s->iter++;
    s->done++;
    atomic_fetch_add(&s->h->y_ticks, 1);
  }
}

static void loop_drop(void *p) {
  loop_state *s = (loop_state *)p;
  if (s->have) s->cur.drop(s->cur.state);
  free(s);
  atomic_fetch_sub(&g_live, 1);
}

/* A ping-pong pair through two one-value slots, each side waking the other through a stored waker clone. */
typedef struct slot {
  pthread_mutex_t mu;
  int full;
  uint64_t value;
  luminal_waker *waiter;
} slot;

typedef struct pp_shared {
  slot to_ping, to_pong;
  atomic_int refs;
} pp_shared;

static int slot_take(slot *s, luminal_context *cx, uint64_t *v) {
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
    }
  }
  pthread_mutex_unlock(&s->mu);
  return got;
}

static void slot_put(slot *s, uint64_t v) {
  pthread_mutex_lock(&s->mu);
  if (s->full) fail("slot full: protocol broken");
  s->value = v;
  s->full = 1;
  luminal_waker *w = s->waiter;
  s->waiter = NULL;
  pthread_mutex_unlock(&s->mu);
  if (w) luminal_waker_wake(w);
}

typedef struct pp_state {
  unl_host *h;
  pp_shared *sh;
  int ping;
  int sent;
  uint64_t seq;
} pp_state;

#define PP_REPLY(v) ((v)*3u + 1u)

static luminal_poll pp_poll(void *p, luminal_context *cx, void **out) {
  pp_state *s = (pp_state *)p;
  atomic_fetch_add(&g_polls, 1);
  for (int n = 0;; n++) {
    uint64_t v;
    if (s->ping) {
      if (!s->sent) {
        int stop = atomic_load(&s->h->stop);
        slot_put(&s->sh->to_pong, stop ? 0 : s->seq + 1);
        if (stop) {
          *out = (void *)(uintptr_t)s->seq;
          return LUMINAL_POLL_READY;
        }
        s->sent = 1;
      }
      if (!slot_take(&s->sh->to_ping, cx, &v)) return LUMINAL_POLL_PENDING;
      if (v != PP_REPLY(s->seq + 1)) fail("wrong pong");
      s->sent = 0;
      s->seq++;
    } else {
      if (!slot_take(&s->sh->to_pong, cx, &v)) return LUMINAL_POLL_PENDING;
      if (v == 0) {
        *out = (void *)(uintptr_t)s->seq;
        return LUMINAL_POLL_READY;
      }
      slot_put(&s->sh->to_ping, PP_REPLY(v));
      s->seq++;
    }
    if (n == 32) { /* be fair */
      luminal_waker_wake_by_ref(luminal_context_waker(cx));
      return LUMINAL_POLL_PENDING;
    }
  }
}

static void pp_drop(void *p) {
  pp_state *s = (pp_state *)p;
  if (atomic_fetch_sub(&s->sh->refs, 1) == 1) {
    luminal_waker_release(s->sh->to_ping.waiter);
    luminal_waker_release(s->sh->to_pong.waiter);
    pthread_mutex_destroy(&s->sh->to_ping.mu);
    pthread_mutex_destroy(&s->sh->to_pong.mu);
    free(s->sh);
  }
  free(s);
  atomic_fetch_sub(&g_live, 1);
}

static luminal_status start_work(unl_link *l, int loopers, luminal_task **out) {
  luminal_runtime *rt = l->host->runtime;
  luminal_scope *scope = l->host->scope;
  unl_host *h = l->h;
  for (int i = 0; i < loopers; i++) {
    loop_state *s = (loop_state *)calloc(1, sizeof *s);
    if (!s) return LUMINAL_E_NO_MEMORY;
    s->h = h;
    s->iter = (uint64_t)i; /* start the loops on different kinds of timers */
    atomic_fetch_add(&g_live, 1);
    luminal_future f = {s, loop_poll, loop_drop, NULL};
    luminal_status st = spawn_in(rt, scope, f, &out[i]);
    if (st != LUMINAL_OK) return st;
  }
  pp_shared *sh = (pp_shared *)calloc(1, sizeof *sh);
  if (!sh) return LUMINAL_E_NO_MEMORY;
  pthread_mutex_init(&sh->to_ping.mu, NULL);
  pthread_mutex_init(&sh->to_pong.mu, NULL);
  atomic_init(&sh->refs, 2);
  for (int r = 0; r < 2; r++) {
    pp_state *s = (pp_state *)calloc(1, sizeof *s);
    if (!s) return LUMINAL_E_NO_MEMORY;
    s->h = h;
    s->sh = sh;
    s->ping = r == 0;
    atomic_fetch_add(&g_live, 1);
    luminal_future f = {s, pp_poll, pp_drop, NULL};
    luminal_status st = spawn_in(rt, scope, f, &out[loopers + r]);
    if (st != LUMINAL_OK) return st;
  }
  return LUMINAL_OK;
}

static long live(void) { return atomic_load(&g_live); }
static long parked(void) { return atomic_load(&g_parked); }
static long repolls(void) { return atomic_load(&g_repolls); }
static long polls(void) { return atomic_load(&g_polls); }

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  unl_link *l = (unl_link *)host->host_data;
  if (!l || !l->h) return LUMINAL_E_INVALID_ARGUMENT;
  l->id = UNL_PLUGIN_ID;
  l->spawn_pending = spawn_pending;
  l->start_work = start_work;
  l->live = live;
  l->parked = parked;
  l->repolls = repolls;
  l->polls = polls;
  l->host = host;
  *plugin_state = l;
  return LUMINAL_OK;
}

/* Runs after the scope is drained: records what the host checks once the library is gone. */
LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) {
  unl_link *l = (unl_link *)plugin_state;
  l->live_at_fini = atomic_load(&g_live);
  l->polls_at_fini = atomic_load(&g_polls);
  memset(&l->scope_at_fini, 0, sizeof l->scope_at_fini);
  l->scope_at_fini.struct_size = sizeof l->scope_at_fini;
  if (luminal_scope_stats(l->host->scope, &l->scope_at_fini) != LUMINAL_OK) fail("luminal_scope_stats in fini");
  if (l->h->at_fini) l->h->at_fini(l->h, l);
  l->spawn_pending = NULL;
  l->start_work = NULL;
  l->fini_calls++;
}
