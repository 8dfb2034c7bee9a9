/* Spawning, joining, task_poll, block_on, contexts, wakers, abort, drop_output and WOULD_DEADLOCK. */
#include "test_util.h"

/* ---- spawn + join ---------------------------------------------------------------------------------------- */

TEST(spawn_join_basic) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *t = tu_spawn(rt, tf_ready(&c, 42));
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 42);
  CHECK_EQ(luminal_task_is_finished(t), 1);
  /* handed over once */
  out = (void *)(uintptr_t)0x77;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_E_ALREADY_TAKEN);
  CHECK_ST(luminal_task_join(t, 0, &out), LUMINAL_E_ALREADY_TAKEN);
  CHECK_ST(luminal_task_join(t, 0, NULL), LUMINAL_E_ALREADY_TAKEN);
  luminal_task_release(t);
  CHECK_ST(luminal_task_join(t, 0, NULL), LUMINAL_E_INVALID_HANDLE);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.polls), 1);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

/* Outputs may be NULL or any pointer; they pass through untouched. */
static luminal_poll cb_raw_output(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  *out = (void *)(uintptr_t)f->value;
  return LUMINAL_POLL_READY;
}
static luminal_poll plain_ready(void *state, luminal_context *cx, void **out) {
  (void)cx;
  *out = state;
  return LUMINAL_POLL_READY;
}
static void no_output_drop(void *p) {
  if (p != NULL) TEST_FAIL("drop_output called for an output that was taken (%p)", p);
}

TEST(join_raw_and_null_outputs) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  const uint64_t values[] = {0, 1, 0xdeadbeefull, UINT64_MAX};
  for (size_t i = 0; i < 4; i++) {
    luminal_future f = tf_make(&c, cb_raw_output, NULL, values[i]);
    f.drop_output = no_output_drop;
    luminal_task *t = tu_spawn(rt, f);
    void *out = (void *)(uintptr_t)0x5555;
    CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
    CHECK(out == (void *)(uintptr_t)values[i]);
    luminal_task_release(t);
  }
  /* no drop functions at all */
  luminal_future plain = {(void *)(uintptr_t)0x42, plain_ready, NULL, NULL};
  luminal_task *t = tu_spawn(rt, plain);
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  CHECK(out == (void *)(uintptr_t)0x42);
  luminal_task_release(t);
  CHECK_ST(luminal_spawn(rt, plain, NULL), LUMINAL_OK);      /* detached, nothing to free */
  CHECK_ST(luminal_spawn(rt, plain, &t), LUMINAL_OK);        /* released unjoined */
  luminal_task_release(t);
  CHECK_ST(luminal_block_on(rt, plain, NULL), LUMINAL_OK);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 4);
}

TEST(join_timeouts) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  tu_gate g;
  tu_gate_init(&g);
  luminal_task *t = tu_spawn(rt, tf_gate(&c, &g, 11));
  void *out = (void *)(uintptr_t)0x99;
  CHECK_ST(luminal_task_join(t, 0, &out), LUMINAL_E_TIMED_OUT);
  CHECK(out == (void *)(uintptr_t)0x99); /* nothing consumed */
  uint64_t t0 = tu_now_ns();
  CHECK_ST(luminal_task_join(t, MS_NS(30), &out), LUMINAL_E_TIMED_OUT);
  uint64_t waited = tu_now_ns() - t0;
  CHECK_MSG(waited >= MS_NS(25), "join(30 ms) returned TIMED_OUT after only %.1f ms", waited / 1e6);
  CHECK_MSG(waited < 10ull * 1000000000ull, "join(30 ms) took %.1f ms", waited / 1e6);
  CHECK_EQ(luminal_task_is_finished(t), 0);
  CHECK_ST(luminal_task_join(t, 1, NULL), LUMINAL_E_TIMED_OUT);
  tu_gate_open(&g);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 11);
  CHECK_EQ(luminal_task_is_finished(t), 1);
  CHECK_ST(luminal_task_join(t, 0, NULL), LUMINAL_E_ALREADY_TAKEN);
  luminal_task_release(t);

  /* join with timeout 0 on a finished task hands the output over */
  t = tu_spawn(rt, tf_ready(&c, 12));
  WAIT_UNTIL(luminal_task_is_finished(t));
  CHECK_ST(luminal_task_join(t, 0, &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 12);
  luminal_task_release(t);
  tu_runtime_done(rt);
  tu_gate_destroy(&g);
  CHECK_EQ(LOAD(c.drops), 2);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

/* Several threads join the same handle: exactly one gets the output. */
typedef struct {
  luminal_task *t;
  luminal_status st;
  void *out;
} join_arg;
static void *join_thread(void *p) {
  join_arg *a = (join_arg *)p;
  a->st = luminal_task_join(a->t, UINT64_MAX, &a->out);
  return NULL;
}

TEST(concurrent_joiners_one_winner) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  for (int round = 0; round < 50; round++) {
    tu_gate g;
    tu_gate_init(&g);
    luminal_task *t = tu_spawn(rt, tf_gate(&c, &g, (uint64_t)round));
    enum { N = 4 };
    join_arg args[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
      args[i].t = t;
      args[i].st = LUMINAL_E_INTERNAL;
      args[i].out = NULL;
      CHECK(pthread_create(&th[i], NULL, join_thread, &args[i]) == 0);
    }
    if (round % 2) tu_sleep_ms(1);
    tu_gate_open(&g);
    int ok = 0;
    for (int i = 0; i < N; i++) {
      pthread_join(th[i], NULL);
      if (args[i].st == LUMINAL_OK) {
        ok++;
        CHECK_EQ(tu_box_take(args[i].out), round);
      } else {
        CHECK_ST(args[i].st, LUMINAL_E_ALREADY_TAKEN);
      }
    }
    CHECK_EQ(ok, 1);
    luminal_task_release(t);
    tu_gate_destroy(&g);
  }
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 50);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

/* ---- spawn_fn --------------------------------------------------------------------------------------------- */

typedef struct {
  pthread_t main_thread;
  atomic_long calls;
  atomic_int on_main;
} fn_arg;
static void *fn_square(void *p) {
  fn_arg *a = (fn_arg *)p;
  if (pthread_equal(pthread_self(), a->main_thread)) atomic_store(&a->on_main, 1);
  long n = atomic_fetch_add(&a->calls, 1) + 1;
  return (void *)(uintptr_t)(n * 1000);
}

TEST(spawn_fn) {
  luminal_runtime *rt = tu_runtime(2);
  fn_arg a;
  a.main_thread = pthread_self();
  atomic_init(&a.calls, 0);
  atomic_init(&a.on_main, 0);
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn_fn(rt, fn_square, &a, &t), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  CHECK(out == (void *)(uintptr_t)1000);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_E_ALREADY_TAKEN);
  luminal_task_release(t);
  /* detached */
  for (int i = 0; i < 100; i++) CHECK_ST(luminal_spawn_fn(rt, fn_square, &a, NULL), LUMINAL_OK);
  WAIT_UNTIL(LOAD(a.calls) == 101);
  /* unjoined handles */
  for (int i = 0; i < 10; i++) {
    CHECK_ST(luminal_spawn_fn(rt, fn_square, &a, &t), LUMINAL_OK);
    luminal_task_release(t);
  }
  WAIT_UNTIL(LOAD(a.calls) == 111); /* released handles: the tasks still run, detached */
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(a.calls), 111); /* once each */
  CHECK_EQ(LOAD(a.on_main), 0);
}

/* ---- block_on ------------------------------------------------------------------------------------------- */

typedef struct {
  pthread_t caller;
  luminal_runtime *rt;
  tu_counters *child_counters;
} bo_arg;

/* On the calling thread: spawns a child through the context, awaits it with task_poll, returns child*2. */
static luminal_poll cb_block_on_root(tf *f, luminal_context *cx, void **out) {
  bo_arg *a = (bo_arg *)f->user;
  CHECK(pthread_equal(pthread_self(), a->caller));
  CHECK(luminal_context_runtime(cx) != NULL);
  CHECK(luminal_context_waker(cx) != NULL);
  CHECK_EQ(luminal_runtime_worker_count(luminal_context_runtime(cx)), luminal_runtime_worker_count(a->rt));
  if (f->child == NULL) {
    CHECK_ST(luminal_context_spawn(cx, tf_yield(a->child_counters, 5), &f->child), LUMINAL_OK);
    CHECK(f->child != NULL);
  }
  void *child_out = NULL;
  luminal_status st = luminal_task_poll(f->child, cx, &child_out);
  if (st == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
  CHECK_ST(st, LUMINAL_OK);
  *out = tu_box_new(f->c, tu_box_take(child_out) * 2);
  return LUMINAL_POLL_READY;
}

TEST(block_on_basic) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT, cc = TU_COUNTERS_INIT;
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_ready(&c, 3), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 3);
  CHECK_EQ(LOAD(c.drops), 1); /* dropped by the time block_on returns (it ran on this thread) */

  bo_arg a = {pthread_self(), rt, &cc};
  CHECK_ST(luminal_block_on(rt, tf_make(&c, cb_block_on_root, &a, 0), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 10);
  CHECK_EQ(LOAD(c.drops), 2);

  /* output discarded -> drop_output frees it */
  CHECK_ST(luminal_block_on(rt, tf_ready(&c, 4), NULL), LUMINAL_OK);
  CHECK_EQ(LOAD(c.out_drops), 1);
  /* a future that yields many times */
  CHECK_ST(luminal_block_on(rt, tf_yield(&c, 1000), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 1000);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 4);
  CHECK_EQ(LOAD(cc.drops), 1);
  CHECK_EQ(LOAD(cc.out_drops), 0);
}

/* block_on of a future completed from a foreign thread. */
typedef struct {
  tu_gate *g;
  unsigned delay_ms;
} opener_arg;
static void *opener_thread(void *p) {
  opener_arg *a = (opener_arg *)p;
  tu_sleep_ms(a->delay_ms);
  tu_gate_open(a->g);
  return NULL;
}

TEST(block_on_foreign_wake) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c = TU_COUNTERS_INIT;
  for (int i = 0; i < 20; i++) {
    tu_gate g;
    tu_gate_init(&g);
    opener_arg oa = {&g, (unsigned)(i % 3)};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, opener_thread, &oa) == 0);
    void *out = NULL;
    CHECK_ST(luminal_block_on(rt, tf_gate(&c, &g, (uint64_t)i), &out), LUMINAL_OK);
    CHECK_EQ(tu_box_take(out), i);
    pthread_join(th, NULL);
    tu_gate_destroy(&g);
  }
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 20);
}

/* ---- task_poll -------------------------------------------------------------------------------------------- */

typedef struct {
  luminal_task *target;
  int discard;
  luminal_status results[8];
  int n;
} tp_arg;

/* Awaits `target` via task_poll; after it is ready, polls it again (ALREADY_TAKEN). Output: the target's value. */
static luminal_poll cb_task_poll(tf *f, luminal_context *cx, void **out) {
  tp_arg *a = (tp_arg *)f->user;
  CHECK_ST(luminal_task_poll(NULL, cx, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_poll(a->target, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_poll((luminal_task *)(uintptr_t)0x1234, cx, NULL), LUMINAL_E_INVALID_HANDLE);
  void *o = NULL;
  luminal_status st = luminal_task_poll(a->target, cx, a->discard ? NULL : &o);
  if (a->n < 8) a->results[a->n++] = st;
  if (st == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
  uint64_t v = 0;
  if (st == LUMINAL_OK && !a->discard) v = tu_box_take(o);
  CHECK_ST(luminal_task_poll(a->target, cx, &o), st == LUMINAL_OK ? LUMINAL_E_ALREADY_TAKEN : st);
  *out = tu_box_new(f->c, v);
  return LUMINAL_POLL_READY;
}

TEST(task_poll_states) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT, ct = TU_COUNTERS_INIT;

  /* PENDING then OK, on a worker */
  tu_gate g;
  tu_gate_init(&g);
  tp_arg a;
  memset(&a, 0, sizeof a);
  a.target = tu_spawn(rt, tf_gate(&ct, &g, 77));
  luminal_task *waiter = tu_spawn(rt, tf_make(&c, cb_task_poll, &a, 0));
  WAIT_UNTIL(LOAD(c.polls) >= 1);
  CHECK_EQ(luminal_task_is_finished(waiter), 0);
  tu_gate_open(&g);
  CHECK_EQ(tu_join_value(waiter), 77);
  CHECK(a.n >= 2);
  CHECK_ST(a.results[0], LUMINAL_PENDING);
  CHECK_ST(a.results[a.n - 1], LUMINAL_OK);
  /* the output was handed over by poll: join says ALREADY_TAKEN */
  CHECK_ST(luminal_task_join(a.target, UINT64_MAX, NULL), LUMINAL_E_ALREADY_TAKEN);
  luminal_task_release(a.target);
  luminal_task_release(waiter);
  tu_gate_destroy(&g);

  /* CANCELLED: target aborted while the waiter is registered */
  memset(&a, 0, sizeof a);
  a.target = tu_spawn(rt, tf_forever(&ct));
  waiter = tu_spawn(rt, tf_make(&c, cb_task_poll, &a, 0));
  WAIT_UNTIL(LOAD(c.polls) >= 3);
  luminal_task_abort(a.target);
  CHECK_EQ(tu_join_value(waiter), 0);
  CHECK_ST(a.results[a.n - 1], LUMINAL_E_CANCELLED);
  luminal_task_release(a.target);
  luminal_task_release(waiter);

  /* discarding the output through task_poll(NULL) frees it with drop_output */
  memset(&a, 0, sizeof a);
  a.discard = 1;
  a.target = tu_spawn(rt, tf_ready(&ct, 5));
  waiter = tu_spawn(rt, tf_make(&c, cb_task_poll, &a, 0));
  CHECK_ST(luminal_task_join(waiter, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(waiter);
  CHECK_ST(a.results[a.n - 1], LUMINAL_OK);
  WAIT_UNTIL(LOAD(ct.out_drops) == 1);
  luminal_task_release(a.target);

  tu_runtime_done(rt);
  CHECK_EQ(LOAD(ct.drops), 3);
  CHECK_EQ(LOAD(ct.out_drops), 1);
  CHECK_EQ(LOAD(c.drops), 3);
  CHECK_EQ(LOAD(c.out_drops), 1); /* the third waiter's box was discarded by join(NULL) */
}

/* ---- context_spawn ---------------------------------------------------------------------------------------- */

/* Spawns f->value children through the context (half detached), joins the attached ones via task_poll. */
typedef struct {
  luminal_task *children[64];
  int n;
  int next;
  uint64_t sum;
  tu_counters *cc;
} cs_arg;

static luminal_poll cb_context_spawner(tf *f, luminal_context *cx, void **out) {
  cs_arg *a = (cs_arg *)f->user;
  if (f->step == 0) {
    f->step = 1;
    for (uint64_t i = 0; i < f->value; i++) {
      if (i % 2) {
        CHECK_ST(luminal_context_spawn(cx, tf_ready(a->cc, i), NULL), LUMINAL_OK);
      } else {
        CHECK_ST(luminal_context_spawn(cx, tf_yield(a->cc, i), &a->children[a->n]), LUMINAL_OK);
        a->n++;
      }
    }
    /* also spawn onto the context's runtime handle directly */
    CHECK_ST(luminal_spawn(luminal_context_runtime(cx), tf_ready(a->cc, 1000), &a->children[a->n]), LUMINAL_OK);
    a->n++;
  }
  while (a->next < a->n) {
    void *o = NULL;
    luminal_status st = luminal_task_poll(a->children[a->next], cx, &o);
    if (st == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
    CHECK_ST(st, LUMINAL_OK);
    a->sum += tu_box_take(o);
    luminal_task_release(a->children[a->next]);
    a->next++;
  }
  *out = tu_box_new(f->c, a->sum);
  return LUMINAL_POLL_READY;
}

TEST(context_spawn) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT, cc = TU_COUNTERS_INIT;
  cs_arg a;
  memset(&a, 0, sizeof a);
  a.cc = &cc;
  /* from a worker */
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_context_spawner, &a, 20))), 90 + 1000);
  /* from a block_on poll (global queue) */
  memset(&a, 0, sizeof a);
  a.cc = &cc;
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_make(&c, cb_context_spawner, &a, 20), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 90 + 1000);
  WAIT_UNTIL(LOAD(cc.out_drops) == 20); /* the detached children's outputs */
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(cc.drops), 42);
  CHECK_EQ(LOAD(cc.out_drops), 20);
  CHECK_EQ(LOAD(c.drops), 2);
}

/* context accessors from a worker poll */
static luminal_poll cb_context_accessors(tf *f, luminal_context *cx, void **out) {
  luminal_runtime *crt = luminal_context_runtime(cx);
  CHECK(crt != NULL);
  CHECK_EQ(luminal_runtime_worker_count(crt), 3);
  const luminal_waker *w = luminal_context_waker(cx);
  CHECK(w != NULL);
  luminal_waker *w2 = luminal_waker_clone(w);
  CHECK(w2 != NULL);
  CHECK_EQ(luminal_waker_will_wake(w, w2), 1);
  CHECK_EQ(luminal_waker_will_wake(w2, w), 1);
  CHECK_EQ(luminal_waker_will_wake(w, NULL), 0);
  CHECK_EQ(luminal_waker_will_wake(NULL, w), 0);
  luminal_waker *w3 = luminal_waker_clone(w2);
  CHECK_EQ(luminal_waker_will_wake(w2, w3), 1);
  luminal_waker_release(w2);
  luminal_waker_release(w3);
  /* keep the runtime: clone the borrowed handle, spawn through it, release it */
  luminal_runtime *mine = luminal_runtime_clone(crt);
  CHECK(mine != NULL);
  CHECK_ST(luminal_spawn(mine, tf_ready(f->c, 1), NULL), LUMINAL_OK);
  luminal_runtime_release(mine);
  if (f->user) {
    /* wakers of different tasks */
    const luminal_waker *other = (const luminal_waker *)f->user;
    CHECK_EQ(luminal_waker_will_wake(w, other), 0);
  } else {
    f->user = luminal_waker_clone(w); /* stored; released below */
    f->waker = (luminal_waker *)f->user;
  }
  *out = tu_box_new(f->c, 0);
  return LUMINAL_POLL_READY;
}

static luminal_poll cb_will_wake_other(tf *f, luminal_context *cx, void **out) {
  const luminal_waker *other = (const luminal_waker *)f->user;
  CHECK_EQ(luminal_waker_will_wake(luminal_context_waker(cx), other), 0);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

TEST(context_and_waker_accessors) {
  luminal_runtime *rt = tu_runtime(3);
  tu_counters c = TU_COUNTERS_INIT;
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_context_accessors, NULL, 0))), 0);
  /* a waker of a task that is still pending (gate) vs another task's context waker */
  tu_gate g;
  tu_gate_init(&g);
  luminal_task *t = tu_spawn(rt, tf_gate(&c, &g, 3));
  WAIT_UNTIL(LOAD(g.registrations) == 1);
  pthread_mutex_lock(&g.mu);
  luminal_waker *gw = luminal_waker_clone(g.waker);
  pthread_mutex_unlock(&g.mu);
  CHECK(gw != NULL);
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_will_wake_other, gw, 0))), 1);
  tu_gate_open(&g);
  CHECK_EQ(tu_join_value(t), 3);
  /* waking a finished task does nothing */
  luminal_waker_wake_by_ref(gw);
  luminal_waker_wake(gw); /* consumes it */
  luminal_waker_release(gw); /* stale now: ignored */
  luminal_task_release(t);
  tu_gate_destroy(&g);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.polls), 1 + 1 + 2 + 1);
  CHECK_EQ(LOAD(c.drops), 4);
  CHECK_EQ(LOAD(c.out_drops), 1);
}

/* ---- luminal_context_yield -------------------------------------------------------------------------------- */

/* A shared log of which future ran when (single worker, so the order is the scheduler's). */
typedef struct yield_log {
  atomic_int n;
  int order[8];
} yield_log;
static void log_run(yield_log *l, int who) { l->order[atomic_fetch_add(&l->n, 1)] = who; }

static luminal_poll cb_log_ready(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  log_run((yield_log *)f->user, (int)f->value);
  *out = tu_box_new(f->c, f->value);
  return LUMINAL_POLL_READY;
}

/* First poll: spawns two tasks (2 and 3), then yields; second poll: ready. */
static luminal_poll cb_spawn_then_yield(tf *f, luminal_context *cx, void **out) {
  yield_log *l = (yield_log *)f->user;
  log_run(l, 1);
  if (f->step++ == 0) {
    CHECK_ST(luminal_context_spawn(cx, tf_make(f->c, cb_log_ready, l, 2), NULL), LUMINAL_OK);
    CHECK_ST(luminal_context_spawn(cx, tf_make(f->c, cb_log_ready, l, 3), NULL), LUMINAL_OK);
    CHECK_ST(luminal_context_yield(cx), LUMINAL_OK);
    return LUMINAL_POLL_PENDING;
  }
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

/* Asks to yield, then returns READY anyway: the request is ignored. */
static luminal_poll cb_yield_then_ready(tf *f, luminal_context *cx, void **out) {
  CHECK_ST(luminal_context_yield(cx), LUMINAL_OK);
  CHECK_ST(luminal_context_yield(cx), LUMINAL_OK); /* twice is once */
  *out = tu_box_new(f->c, 5);
  return LUMINAL_POLL_READY;
}

TEST(context_yield) {
  CHECK_ST(luminal_context_yield(NULL), LUMINAL_E_INVALID_ARGUMENT);
  uint64_t not_a_context[4] = {0, 0, 0, 0};
  CHECK_ST(luminal_context_yield((luminal_context *)not_a_context), LUMINAL_E_INVALID_HANDLE);

  luminal_runtime *rt = tu_runtime(1);
  tu_counters c = TU_COUNTERS_INIT;
  /* A yielding task goes behind every task that was runnable when it yielded. */
  yield_log l = {0};
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_spawn_then_yield, &l, 0))), 1);
  WAIT_UNTIL(LOAD(c.drops) == 3);
  CHECK_EQ(LOAD(l.n), 4);
  CHECK_EQ(l.order[0], 1);
  CHECK_EQ(l.order[3], 1);
  CHECK(l.order[1] + l.order[2] == 5 && l.order[1] != l.order[2]);
  /* A READY poll ignores the request: polled once. */
  long polls = LOAD(c.polls);
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_yield_then_ready, NULL, 0))), 5);
  CHECK_EQ(LOAD(c.polls), polls + 1);
  /* From block_on (the caller's thread polls): each yield is one more poll. */
  void *out = NULL;
  polls = LOAD(c.polls);
  CHECK_ST(luminal_block_on(rt, tf_yield(&c, 101), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 101);
  CHECK_EQ(LOAD(c.polls), polls + 102);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 5);
}

/* ---- wakers ----------------------------------------------------------------------------------------------- */

/* Poll 1 wakes itself through 10 clones and by ref several times; poll 2 arranges nothing. Exactly 2 polls. */
static luminal_poll cb_coalesce(tf *f, luminal_context *cx, void **out) {
  (void)out;
  if (f->step++ == 0) {
    const luminal_waker *w = luminal_context_waker(cx);
    for (int i = 0; i < 10; i++) luminal_waker_wake(luminal_waker_clone(w));
    for (int i = 0; i < 10; i++) luminal_waker_wake_by_ref(w);
  }
  return LUMINAL_POLL_PENDING;
}

TEST(waker_wakes_coalesce) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *t = tu_spawn(rt, tf_make(&c, cb_coalesce, NULL, 0));
  WAIT_UNTIL(LOAD(c.polls) >= 2);
  tu_sleep_ms(100);
  CHECK_EQ(LOAD(c.polls), 2);
  CHECK_EQ(luminal_task_is_finished(t), 0);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

/* A future that must be signalled `target` times; signals come from foreign pthreads through a stored waker. */
typedef struct {
  pthread_mutex_t mu;
  luminal_waker *waker;
  long signals;
  long target;
} sig_state;

static luminal_poll cb_signalled(tf *f, luminal_context *cx, void **out) {
  sig_state *s = (sig_state *)f->user;
  pthread_mutex_lock(&s->mu);
  const luminal_waker *cur = luminal_context_waker(cx);
  if (s->waker == NULL || !luminal_waker_will_wake(s->waker, cur)) {
    luminal_waker_release(s->waker);
    s->waker = luminal_waker_clone(cur);
  }
  long n = s->signals;
  pthread_mutex_unlock(&s->mu);
  if (n < s->target) return LUMINAL_POLL_PENDING;
  *out = tu_box_new(f->c, (uint64_t)n);
  return LUMINAL_POLL_READY;
}

enum { SIG_TASKS = 16, SIG_THREADS = 8, SIG_ROUNDS = 500 };
typedef struct {
  sig_state *states;
  int thread_index;
} sig_thread_arg;

static void *signaller(void *p) {
  sig_thread_arg *a = (sig_thread_arg *)p;
  for (int r = 0; r < SIG_ROUNDS; r++) {
    for (int k = 0; k < SIG_TASKS; k++) {
      sig_state *s = &a->states[(k + a->thread_index) % SIG_TASKS];
      pthread_mutex_lock(&s->mu);
      s->signals++;
      luminal_waker *w = luminal_waker_clone(s->waker);
      pthread_mutex_unlock(&s->mu);
      if (w == NULL) continue; /* not polled yet: the first poll sees the count */
      switch ((r + k) % 3) {
      case 0: luminal_waker_wake(w); break;
      case 1: luminal_waker_wake_by_ref(w); luminal_waker_release(w); break;
      default: luminal_waker_wake_by_ref(w); luminal_waker_wake(w); break;
      }
    }
    if (r % 64 == 0) sched_yield();
  }
  return NULL;
}

TEST(wake_from_foreign_threads) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  static sig_state states[SIG_TASKS];
  luminal_task *tasks[SIG_TASKS];
  for (int i = 0; i < SIG_TASKS; i++) {
    pthread_mutex_init(&states[i].mu, NULL);
    states[i].waker = NULL;
    states[i].signals = 0;
    states[i].target = (long)SIG_THREADS * SIG_ROUNDS;
    tasks[i] = tu_spawn(rt, tf_make(&c, cb_signalled, &states[i], 0));
  }
  pthread_t th[SIG_THREADS];
  sig_thread_arg args[SIG_THREADS];
  for (int i = 0; i < SIG_THREADS; i++) {
    args[i].states = states;
    args[i].thread_index = i;
    CHECK(pthread_create(&th[i], NULL, signaller, &args[i]) == 0);
  }
  for (int i = 0; i < SIG_THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < SIG_TASKS; i++) {
    CHECK_EQ(tu_join_value(tasks[i]), (long)SIG_THREADS * SIG_ROUNDS);
    luminal_task_release(tasks[i]);
  }
  /* wakers of finished tasks, woken from here: nothing happens */
  long polls = LOAD(c.polls);
  for (int i = 0; i < SIG_TASKS; i++) luminal_waker_wake_by_ref(states[i].waker);
  tu_sleep_ms(20);
  CHECK_EQ(LOAD(c.polls), polls);
  CHECK(polls <= (long)SIG_TASKS * (SIG_THREADS * SIG_ROUNDS + 1));
  tu_runtime_done(rt);
  for (int i = 0; i < SIG_TASKS; i++) {
    luminal_waker_wake(states[i].waker); /* runtime shut down: does nothing, releases */
    luminal_waker_release(states[i].waker); /* stale: ignored */
    pthread_mutex_destroy(&states[i].mu);
  }
  CHECK_EQ(LOAD(c.drops), SIG_TASKS);
}

/* ---- abort ------------------------------------------------------------------------------------------------ */

TEST(abort_pending_task) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  tu_gate g;
  tu_gate_init(&g);
  luminal_task *t = tu_spawn(rt, tf_gate(&c, &g, 1));
  WAIT_UNTIL(LOAD(g.registrations) == 1);
  CHECK_EQ(luminal_task_is_finished(t), 0);
  luminal_task_abort(t);
  WAIT_UNTIL(LOAD(c.drops) == 1);
  CHECK_EQ(luminal_task_is_finished(t), 1);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_ST(luminal_task_join(t, 0, NULL), LUMINAL_E_CANCELLED);
  luminal_task_abort(t); /* again: no effect */
  tu_gate_open(&g);      /* waking an aborted task does nothing */
  tu_sleep_ms(20);
  CHECK_EQ(LOAD(c.polls), 1);
  luminal_task_release(t);
  tu_gate_destroy(&g);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

TEST(abort_before_first_poll) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters cb = TU_COUNTERS_INIT, c = TU_COUNTERS_INIT;
  tu_blocker b;
  tu_blocker_init(&b);
  b.ready = 1;
  luminal_task *blocker = tu_spawn(rt, tf_block(&cb, &b, 0));
  tu_latch_wait(&b.entered); /* the only worker is busy */
  luminal_task *t = tu_spawn(rt, tf_ready(&c, 1));
  luminal_task_abort(t);
  tu_latch_set(&b.release);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_EQ(tu_join_value(blocker), 0);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.polls), 0);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(LOAD(c.out_drops), 0);
  luminal_task_release(t);
  luminal_task_release(blocker);
}

static void abort_while_running(int wake_self) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  tu_blocker b;
  tu_blocker_init(&b);
  b.wake_self_before_return = wake_self;
  luminal_task *t = tu_spawn(rt, tf_block(&c, &b, 0));
  tu_latch_wait(&b.entered);
  luminal_task_abort(t);
  luminal_status st = luminal_task_join(t, 0, NULL); /* still running its poll */
  CHECK_MSG(st == LUMINAL_E_TIMED_OUT || st == LUMINAL_E_CANCELLED, "join returned %s", luminal_status_str(st));
  CHECK_EQ(LOAD(c.drops), 0); /* never during a poll */
  tu_latch_set(&b.release);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  WAIT_UNTIL(LOAD(c.drops) == 1);
  tu_sleep_ms(20);
  CHECK_EQ(LOAD(c.polls), 1); /* not polled again after the abort */
  luminal_task_release(t);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

TEST(abort_while_running) { abort_while_running(0); }
TEST(abort_while_running_self_woken) { abort_while_running(1); }

/* The running poll completes (READY) after abort was requested: either outcome is allowed, nothing leaks. */
TEST(abort_while_running_then_ready) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  tu_blocker b;
  tu_blocker_init(&b);
  b.ready = 1;
  luminal_task *t = tu_spawn(rt, tf_block(&c, &b, 5));
  tu_latch_wait(&b.entered);
  luminal_task_abort(t);
  tu_latch_set(&b.release);
  void *out = NULL;
  luminal_status st = luminal_task_join(t, UINT64_MAX, &out);
  luminal_task_release(t);
  tu_runtime_done(rt);
  if (st == LUMINAL_OK) {
    CHECK_EQ(tu_box_take(out), 5);
    CHECK_EQ(LOAD(c.out_drops), 0);
  } else {
    CHECK_ST(st, LUMINAL_E_CANCELLED);
    CHECK_EQ(LOAD(c.out_drops), 1);
  }
  CHECK_EQ(LOAD(c.drops), 1);
}

/* A task aborting itself from inside its own poll: dropped right after that poll, never polled again. */
static luminal_poll cb_abort_self(tf *f, luminal_context *cx, void **out) {
  (void)out;
  luminal_task *self = *(luminal_task *volatile *)f->user;
  if (self == NULL) { /* the handle is not stored yet: try again */
    luminal_waker_wake_by_ref(luminal_context_waker(cx));
    return LUMINAL_POLL_PENDING;
  }
  luminal_task_abort(self);
  luminal_waker_wake_by_ref(luminal_context_waker(cx)); /* would re-poll, were it not aborted */
  f->step = 1;
  return LUMINAL_POLL_PENDING;
}

TEST(abort_self_from_poll) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  for (int i = 0; i < 100; i++) {
    luminal_task *volatile slot = NULL;
    luminal_task *t = NULL;
    tu_counters ci = TU_COUNTERS_INIT;
    CHECK_ST(luminal_spawn(rt, tf_make(&ci, cb_abort_self, (void *)&slot, 0), &t), LUMINAL_OK);
    slot = t;
    CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    WAIT_UNTIL(LOAD(ci.drops) == 1);
    long polls = LOAD(ci.polls);
    tu_sleep_ms(i == 0 ? 20 : 0);
    CHECK_EQ(LOAD(ci.polls), polls);
    luminal_task_release(t);
    atomic_fetch_add(&c.drops, LOAD(ci.drops));
  }
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 100);
}

TEST(abort_finished_task) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *t = tu_spawn(rt, tf_ready(&c, 8));
  WAIT_UNTIL(luminal_task_is_finished(t));
  luminal_task_abort(t); /* no effect */
  CHECK_EQ(tu_join_value(t), 8);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, 0, NULL), LUMINAL_E_ALREADY_TAKEN);
  luminal_task_release(t);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

/* ---- drop_output ------------------------------------------------------------------------------------------ */

TEST(drop_output_unjoined_and_detached) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  /* finished, then the handle is released unjoined */
  luminal_task *t = tu_spawn(rt, tf_ready(&c, 1));
  WAIT_UNTIL(luminal_task_is_finished(t));
  CHECK_EQ(LOAD(c.out_drops), 0);
  luminal_task_release(t);
  WAIT_UNTIL(LOAD(c.out_drops) == 1);
  /* released before it finishes */
  tu_gate g;
  tu_gate_init(&g);
  t = tu_spawn(rt, tf_gate(&c, &g, 2));
  WAIT_UNTIL(LOAD(g.registrations) == 1);
  luminal_task_release(t);
  CHECK_EQ(LOAD(c.out_drops), 1);
  tu_gate_open(&g); /* the released task still runs, detached */
  WAIT_UNTIL(LOAD(c.out_drops) == 2);
  /* detached spawns */
  for (int i = 0; i < 100; i++) CHECK_ST(luminal_spawn(rt, tf_yield(&c, (uint64_t)(i % 4)), NULL), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.out_drops) == 102);
  /* joined with output NULL */
  t = tu_spawn(rt, tf_ready(&c, 3));
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_EQ(LOAD(c.out_drops), 103);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_ALREADY_TAKEN);
  luminal_task_release(t);
  /* joined with an output: never dropped by the runtime */
  t = tu_spawn(rt, tf_ready(&c, 4));
  CHECK_EQ(tu_join_value(t), 4);
  luminal_task_release(t);
  tu_runtime_done(rt);
  tu_gate_destroy(&g);
  CHECK_EQ(LOAD(c.out_drops), 103);
  CHECK_EQ(LOAD(c.readies), 104);
  CHECK_EQ(LOAD(c.drops), 104);
}

/* ---- WOULD_DEADLOCK --------------------------------------------------------------------------------------- */

typedef struct {
  luminal_runtime *rt;    /* the runtime this poll runs on */
  luminal_runtime *other; /* another runtime */
  luminal_task *sibling;  /* a pending task on rt */
  luminal_task *foreign;  /* a task on `other` */
  tu_counters *inner;
} dl_arg;

static luminal_poll cb_deadlocks(tf *f, luminal_context *cx, void **out) {
  dl_arg *a = (dl_arg *)f->user;
  (void)cx;
  void *o = (void *)(uintptr_t)0x1;
  CHECK_ST(luminal_block_on(a->rt, tf_ready(a->inner, 1), &o), LUMINAL_E_WOULD_DEADLOCK);
  CHECK(o == (void *)(uintptr_t)0x1);
  CHECK_ST(luminal_block_on(luminal_context_runtime(cx), tf_ready(a->inner, 1), NULL), LUMINAL_E_WOULD_DEADLOCK);
  CHECK_ST(luminal_task_join(a->sibling, MS_NS(100), NULL), LUMINAL_E_WOULD_DEADLOCK);
  CHECK_ST(luminal_task_join(a->sibling, UINT64_MAX, NULL), LUMINAL_E_WOULD_DEADLOCK);
  CHECK_ST(luminal_task_join(a->sibling, 0, NULL), LUMINAL_E_TIMED_OUT); /* just checking is fine */
  /* another runtime's task and runtime are not this worker's: blocking on them is allowed */
  CHECK_EQ(tu_join_value(a->foreign), 21);
  o = NULL;
  CHECK_ST(luminal_block_on(a->other, tf_ready(a->inner, 22), &o), LUMINAL_OK);
  CHECK_EQ(tu_box_take(o), 22);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

TEST(would_deadlock_on_worker) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_runtime *other = tu_runtime(1);
  tu_counters c = TU_COUNTERS_INIT, inner = TU_COUNTERS_INIT, sib = TU_COUNTERS_INIT;
  dl_arg a = {rt, other, NULL, NULL, &inner};
  a.sibling = tu_spawn(rt, tf_forever(&sib));
  a.foreign = tu_spawn(other, tf_ready(&inner, 21));
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_deadlocks, &a, 0))), 1);
  luminal_task_abort(a.sibling);
  CHECK_ST(luminal_task_join(a.sibling, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(a.sibling);
  luminal_task_release(a.foreign);
  tu_runtime_done(other);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(sib.drops), 1);
  /* futures passed to the failing block_on calls were dropped exactly once, never polled */
  CHECK_EQ(LOAD(inner.drops), 4);
  CHECK_EQ(LOAD(inner.polls), 2);
  CHECK_EQ(LOAD(inner.out_drops), 0);
}

/* spawn_fn runs on a worker too: joining from there deadlocks */
static void *fn_join_from_worker(void *p) {
  luminal_task *sibling = (luminal_task *)p;
  return (void *)(intptr_t)luminal_task_join(sibling, UINT64_MAX, NULL);
}

TEST(would_deadlock_from_spawn_fn) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *sibling = tu_spawn(rt, tf_forever(&c));
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn_fn(rt, fn_join_from_worker, sibling, &t), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  CHECK_ST((luminal_status)(intptr_t)out, LUMINAL_E_WOULD_DEADLOCK);
  luminal_task_release(t);
  luminal_task_release(sibling);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

static luminal_poll cb_shutdown_from_worker(tf *f, luminal_context *cx, void **out) {
  luminal_status st = luminal_runtime_shutdown(luminal_context_runtime(cx), UINT64_MAX);
  *out = tu_box_new(f->c, (uint64_t)(int64_t)st);
  return LUMINAL_POLL_READY;
}

TEST(shutdown_from_worker) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT, p = TU_COUNTERS_INIT;
  luminal_task *pending = tu_spawn(rt, tf_forever(&p));
  luminal_task *t = tu_spawn(rt, tf_make(&c, cb_shutdown_from_worker, NULL, 0));
  void *out = NULL;
  luminal_status st = luminal_task_join(t, UINT64_MAX, &out);
  if (st == LUMINAL_OK) CHECK_EQ((int64_t)tu_box_take(out), LUMINAL_E_WOULD_DEADLOCK);
  else CHECK_ST(st, LUMINAL_E_CANCELLED); /* the output was dropped by the shutdown it started */
  /* shutdown has been started */
  CHECK_ST(luminal_spawn(rt, tf_ready(&c, 1), NULL), LUMINAL_E_SHUTDOWN);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_EQ(LOAD(p.drops), 1);
  CHECK_ST(luminal_task_join(pending, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(pending);
  luminal_task_release(t);
  luminal_runtime_release(rt);
  CHECK_EQ(LOAD(c.readies), 1);
  CHECK_EQ(LOAD(c.polls), 1);
  CHECK_EQ(LOAD(c.drops), 2);
}
