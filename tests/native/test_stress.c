/* Volume and race tests: 100k futures, abort races, shutdown with tasks in flight, shutdown timeout. */
#include "test_util.h"

enum { HUNDRED_K = 100000 };

TEST(spawn_100k_join_all) {
  luminal_runtime *rt = tu_runtime(0);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task **tasks = (luminal_task **)malloc(sizeof(luminal_task *) * HUNDRED_K);
  CHECK(tasks != NULL);
  uint64_t expected = 0;
  for (int i = 0; i < HUNDRED_K; i++) {
    /* every 10th future yields 3 times before it is ready (output 3) */
    tasks[i] = tu_spawn(rt, (i % 10 == 0) ? tf_yield(&c, 3) : tf_ready(&c, (uint64_t)i));
    expected += (i % 10 == 0) ? 3 : (uint64_t)i;
  }
  uint64_t sum = 0;
  for (int i = 0; i < HUNDRED_K; i++) {
    sum += tu_join_value(tasks[i]);
    luminal_task_release(tasks[i]);
  }
  CHECK_EQ(sum, expected);
  CHECK_EQ(LOAD(c.polls), HUNDRED_K + 3 * (HUNDRED_K / 10));
  free(tasks);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), HUNDRED_K);
  CHECK_EQ(LOAD(c.readies), HUNDRED_K);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

/* 100k detached futures spawned from inside polls (the workers' own queues) by 4 spawner tasks. */
typedef struct {
  atomic_long done;
  tu_counters *children;
} k_arg;
static luminal_poll cb_count_ready(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  atomic_fetch_add(&((k_arg *)f->user)->done, 1);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}
static luminal_poll cb_spawner(tf *f, luminal_context *cx, void **out) {
  /* spawn in chunks of 1000 per poll, yielding in between */
  for (int i = 0; i < 1000 && f->step < (long)f->value; i++, f->step++) {
    luminal_future child = tf_make(((k_arg *)f->user)->children, cb_count_ready, f->user, 0);
    CHECK_ST(luminal_context_spawn(cx, child, NULL), LUMINAL_OK);
  }
  if (f->step < (long)f->value) {
    luminal_waker_wake_by_ref(luminal_context_waker(cx));
    return LUMINAL_POLL_PENDING;
  }
  *out = NULL;
  return LUMINAL_POLL_READY;
}

TEST(context_spawn_100k_detached) {
  luminal_runtime *rt = tu_runtime(0);
  tu_counters c = TU_COUNTERS_INIT, cs = TU_COUNTERS_INIT;
  k_arg a;
  atomic_init(&a.done, 0);
  a.children = &c;
  luminal_task *sp[4];
  for (int i = 0; i < 4; i++) sp[i] = tu_spawn(rt, tf_make(&cs, cb_spawner, &a, HUNDRED_K / 4));
  for (int i = 0; i < 4; i++) {
    void *out = (void *)(uintptr_t)1;
    CHECK_ST(luminal_task_join(sp[i], UINT64_MAX, &out), LUMINAL_OK);
    CHECK(out == NULL);
    luminal_task_release(sp[i]);
  }
  WAIT_UNTIL(LOAD(c.out_drops) == HUNDRED_K);
  CHECK_EQ(LOAD(a.done), HUNDRED_K);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), HUNDRED_K);
  CHECK_EQ(LOAD(c.polls), HUNDRED_K);
  CHECK_EQ(LOAD(cs.drops), 4);
}

/* ---- abort races ---------------------------------------------------------------------------------------- */

typedef struct {
  luminal_task *volatile task;
  atomic_int go;
  atomic_int stop;
  unsigned spin;
} aborter_arg;

static void *aborter(void *p) {
  aborter_arg *a = (aborter_arg *)p;
  for (;;) {
    while (!atomic_load(&a->go)) {
      if (atomic_load(&a->stop)) return NULL;
      sched_yield();
    }
    for (volatile unsigned i = 0; i < a->spin; i++) {
    }
    luminal_task_abort(a->task);
    atomic_store(&a->go, 0);
  }
}

/* Tasks that yield a few times (or wait on a foreign wake), aborted from another thread at varied moments:
 * pending, running, or already finished. Every future is dropped exactly once; every output is taken or freed. */
TEST(abort_race) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  aborter_arg a;
  a.task = NULL;
  atomic_init(&a.go, 0);
  atomic_init(&a.stop, 0);
  a.spin = 0;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, aborter, &a) == 0);
  enum { ITERS = 3000 };
  long ok = 0, cancelled = 0;
  for (int i = 0; i < ITERS; i++) {
    a.spin = (unsigned)((i * 7919) % 20000);
    luminal_task *t = tu_spawn(rt, tf_yield(&c, (uint64_t)(i % 8)));
    a.task = t;
    atomic_store(&a.go, 1);
    void *out = NULL;
    luminal_status st = luminal_task_join(t, UINT64_MAX, &out);
    if (st == LUMINAL_OK) {
      ok++;
      CHECK_EQ(tu_box_take(out), i % 8);
    } else {
      CHECK_ST(st, LUMINAL_E_CANCELLED);
      cancelled++;
    }
    while (atomic_load(&a.go)) sched_yield(); /* the abort has been issued */
    CHECK_EQ(luminal_task_is_finished(t), 1);
    CHECK_ST(luminal_task_join(t, 0, NULL), st == LUMINAL_OK ? LUMINAL_E_ALREADY_TAKEN : LUMINAL_E_CANCELLED);
    if (i % 2) luminal_task_abort(t); /* after the fact: no effect */
    luminal_task_release(t);
  }
  atomic_store(&a.stop, 1);
  pthread_join(th, NULL);
  tu_runtime_done(rt);
  printf("abort_race: %ld completed, %ld cancelled\n", ok, cancelled);
  CHECK_EQ(ok + cancelled, ITERS);
  CHECK_EQ(LOAD(c.drops), ITERS);
  /* an output produced by a READY poll is either taken by the join or freed by drop_output */
  CHECK_EQ(LOAD(c.readies), ok + LOAD(c.out_drops));
}

/* Abort racing with wakes from a foreign thread and with the handle being released. */
typedef struct {
  tu_gate *gates;
  int n;
} opener_all_arg;
static void *open_all(void *p) {
  opener_all_arg *a = (opener_all_arg *)p;
  for (int i = 0; i < a->n; i++) tu_gate_open(&a->gates[i]);
  return NULL;
}

TEST(abort_race_with_foreign_wakes) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 2000 };
  tu_gate *gates = (tu_gate *)calloc(N, sizeof(tu_gate));
  luminal_task **tasks = (luminal_task **)calloc(N, sizeof(luminal_task *));
  for (int i = 0; i < N; i++) {
    tu_gate_init(&gates[i]);
    tasks[i] = tu_spawn(rt, tf_gate(&c, &gates[i], (uint64_t)i));
  }
  opener_all_arg oa = {gates, N};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, open_all, &oa) == 0);
  for (int i = N - 1; i >= 0; i--) {
    if (i % 3 != 2) luminal_task_abort(tasks[i]);
  }
  long ok = 0, cancelled = 0, released = 0;
  for (int i = 0; i < N; i++) {
    if (i % 5 == 4) { /* released without joining: detached; output (if any) freed */
      luminal_task_release(tasks[i]);
      released++;
      continue;
    }
    void *out = NULL;
    luminal_status st = luminal_task_join(tasks[i], UINT64_MAX, &out);
    if (st == LUMINAL_OK) {
      ok++;
      CHECK_EQ(tu_box_take(out), i);
    } else {
      CHECK_ST(st, LUMINAL_E_CANCELLED);
      CHECK_MSG(i % 3 != 2, "task %d was never aborted but got CANCELLED", i);
      cancelled++;
    }
    luminal_task_release(tasks[i]);
  }
  pthread_join(th, NULL);
  tu_runtime_done(rt);
  CHECK_EQ(ok + cancelled + released, N);
  CHECK_EQ(LOAD(c.drops), N);
  CHECK_EQ(LOAD(c.readies), ok + LOAD(c.out_drops));
  for (int i = 0; i < N; i++) tu_gate_destroy(&gates[i]);
  free(gates);
  free(tasks);
}

/* ---- shutdown --------------------------------------------------------------------------------------------- */

typedef struct {
  luminal_runtime *rt;
  tu_counters *c;
  luminal_status st;
  tu_latch started;
} bo_thread_arg;

static luminal_poll cb_announce_forever(tf *f, luminal_context *cx, void **out) {
  (void)cx, (void)out;
  tu_latch_set((tu_latch *)f->user);
  return LUMINAL_POLL_PENDING;
}
static void *block_on_forever_thread(void *p) {
  bo_thread_arg *a = (bo_thread_arg *)p;
  void *out = NULL;
  a->st = luminal_block_on(a->rt, tf_make(a->c, cb_announce_forever, &a->started, 0), &out);
  return NULL;
}

typedef struct {
  luminal_task *t;
  luminal_status st;
} joiner_arg;
static void *joiner_forever(void *p) {
  joiner_arg *a = (joiner_arg *)p;
  void *out = NULL;
  a->st = luminal_task_join(a->t, UINT64_MAX, &out);
  if (a->st == LUMINAL_OK) tu_box_take(out);
  return NULL;
}

/* Spurious wakes from a foreign thread through the gates' stored wakers, racing with shutdown. */
typedef struct {
  tu_gate *gates;
  int n;
  atomic_int stop;
  atomic_long pokes;
} poker_arg;
static void *poker(void *p) {
  poker_arg *a = (poker_arg *)p;
  while (!atomic_load(&a->stop)) {
    for (int i = 0; i < a->n; i++) {
      pthread_mutex_lock(&a->gates[i].mu);
      luminal_waker *w = luminal_waker_clone(a->gates[i].waker);
      pthread_mutex_unlock(&a->gates[i].mu);
      if (w) {
        luminal_waker_wake(w);
        atomic_fetch_add(&a->pokes, 1);
      }
    }
  }
  return NULL;
}

/* Per-future counters, so "exactly once" is checked for every single future. */
enum { INFLIGHT = 600, JOINERS = 8 };

TEST(shutdown_with_tasks_in_flight) {
  luminal_runtime *rt = tu_runtime(2);
  static tu_counters per[INFLIGHT];
  static luminal_task *tasks[INFLIGHT];
  static tu_gate gates[INFLIGHT];
  tu_counters done = TU_COUNTERS_INIT, detached = TU_COUNTERS_INIT, bo = TU_COUNTERS_INIT;
  for (int i = 0; i < INFLIGHT; i++) {
    tu_counters_init(&per[i]);
    tu_gate_init(&gates[i]);
    switch (i % 3) {
    case 0: tasks[i] = tu_spawn(rt, tf_forever(&per[i])); break;           /* idle forever */
    case 1: tasks[i] = tu_spawn(rt, tf_yield(&per[i], (uint64_t)1 << 40)); break; /* busy, always re-queued */
    default: tasks[i] = tu_spawn(rt, tf_gate(&per[i], &gates[i], 1)); break; /* waits on a stored waker */
    }
  }
  for (int i = 0; i < 300; i++) CHECK_ST(luminal_spawn(rt, tf_gate(&detached, &gates[i % INFLIGHT], 0), NULL), LUMINAL_OK);
  /* some finished but unjoined tasks: their outputs must not leak */
  luminal_task *finished[10];
  for (int i = 0; i < 10; i++) finished[i] = tu_spawn(rt, tf_ready(&done, (uint64_t)i));
  for (int i = 0; i < 10; i++) WAIT_UNTIL(luminal_task_is_finished(finished[i]));

  /* joiners blocked on unfinished tasks, and a block_on in progress on another thread */
  joiner_arg ja[JOINERS];
  pthread_t jt[JOINERS];
  for (int i = 0; i < JOINERS; i++) {
    ja[i].t = tasks[i * 7 % INFLIGHT];
    ja[i].st = LUMINAL_E_INTERNAL;
    CHECK(pthread_create(&jt[i], NULL, joiner_forever, &ja[i]) == 0);
  }
  bo_thread_arg ba;
  ba.rt = rt;
  ba.c = &bo;
  ba.st = LUMINAL_E_INTERNAL;
  tu_latch_init(&ba.started);
  pthread_t bt;
  CHECK(pthread_create(&bt, NULL, block_on_forever_thread, &ba) == 0);
  tu_latch_wait(&ba.started);
  for (int i = 0; i < INFLIGHT; i += 3) WAIT_UNTIL(LOAD(per[i].polls) >= 1);
  for (int i = 2; i < INFLIGHT; i += 3) WAIT_UNTIL(LOAD(per[i].polls) >= 1);
  poker_arg pk;
  pk.gates = gates;
  pk.n = INFLIGHT;
  atomic_init(&pk.stop, 0);
  atomic_init(&pk.pokes, 0);
  pthread_t pt;
  CHECK(pthread_create(&pt, NULL, poker, &pk) == 0);
  WAIT_UNTIL(LOAD(pk.pokes) >= 100);
  tu_sleep_ms(20); /* let the joiners block */

  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  tu_sleep_ms(5); /* a few more wakes, now of a shut-down runtime */
  atomic_store(&pk.stop, 1);
  pthread_join(pt, NULL);
  /* all done by the time shutdown returns OK: every unfinished future dropped exactly once */
  for (int i = 0; i < INFLIGHT; i++) {
    CHECK_MSG(LOAD(per[i].drops) == 1, "future %d dropped %ld times", i, LOAD(per[i].drops));
    CHECK_EQ(LOAD(per[i].out_drops), 0);
  }
  CHECK_EQ(LOAD(detached.drops), 300);
  CHECK_EQ(LOAD(done.drops), 10);
  for (int i = 0; i < JOINERS; i++) {
    pthread_join(jt[i], NULL);
    CHECK_ST(ja[i].st, LUMINAL_E_CANCELLED);
  }
  pthread_join(bt, NULL);
  CHECK_ST(ba.st, LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(bo.drops), 1);
  for (int i = 0; i < INFLIGHT; i++) {
    CHECK_EQ(luminal_task_is_finished(tasks[i]), 1);
    CHECK_ST(luminal_task_join(tasks[i], 0, NULL), LUMINAL_E_CANCELLED);
    CHECK_ST(luminal_task_join(tasks[i], UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(tasks[i]);
  }
  /* opening the gates now wakes wakers of a shut-down runtime: nothing happens */
  for (int i = 0; i < INFLIGHT; i++) tu_gate_open(&gates[i]);
  /* outputs of finished tasks: taken by a join, or freed exactly once */
  long taken = 0;
  for (int i = 0; i < 10; i++) {
    void *out = NULL;
    luminal_status st = luminal_task_join(finished[i], 0, &out);
    if (st == LUMINAL_OK) {
      CHECK_EQ(tu_box_take(out), i);
      taken++;
    } else {
      CHECK_ST(st, LUMINAL_E_CANCELLED);
    }
    luminal_task_release(finished[i]);
  }
  CHECK_EQ(taken + LOAD(done.out_drops), 10);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  luminal_runtime_release(rt);
  for (int i = 0; i < INFLIGHT; i++) {
    CHECK_EQ(LOAD(per[i].drops), 1);
    tu_gate_destroy(&gates[i]);
  }
  CHECK_EQ(LOAD(detached.out_drops), 0);
}

/* Shutdown while a poll is stuck: TIMED_OUT, new spawns refused; completes when the poll returns. */
TEST(shutdown_timeout_long_poll) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters cb = TU_COUNTERS_INIT, c = TU_COUNTERS_INIT;
  tu_blocker b;
  tu_blocker_init(&b);
  luminal_task *stuck = tu_spawn(rt, tf_block(&cb, &b, 0));
  luminal_task *idle[20];
  for (int i = 0; i < 20; i++) idle[i] = tu_spawn(rt, tf_forever(&c));
  tu_latch_wait(&b.entered);

  uint64_t t0 = tu_now_ns();
  CHECK_ST(luminal_runtime_shutdown(rt, MS_NS(100)), LUMINAL_E_TIMED_OUT);
  uint64_t waited = tu_now_ns() - t0;
  CHECK_MSG(waited < 10ull * 1000000000ull, "shutdown(100 ms) took %.1f ms", waited / 1e6);
  CHECK_ST(luminal_runtime_shutdown(rt, 0), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_runtime_shutdown(rt, MS_NS(10)), LUMINAL_E_TIMED_OUT);
  /* shutdown has begun: spawns are refused and dropped */
  tu_counters late = TU_COUNTERS_INIT;
  CHECK_ST(luminal_spawn(rt, tf_ready(&late, 1), NULL), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(late.drops), 1);
  CHECK_EQ(LOAD(cb.drops), 0); /* the stuck poll is still in progress */
  luminal_status st = luminal_task_join(idle[0], 0, NULL);
  CHECK_MSG(st == LUMINAL_E_TIMED_OUT || st == LUMINAL_E_CANCELLED, "join returned %s", luminal_status_str(st));

  tu_latch_set(&b.release); /* the poll returns PENDING */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_EQ(LOAD(cb.drops), 1);
  CHECK_EQ(LOAD(cb.polls), 1);
  CHECK_EQ(LOAD(c.drops), 20);
  CHECK_ST(luminal_task_join(stuck, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  for (int i = 0; i < 20; i++) {
    CHECK_ST(luminal_task_join(idle[i], UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(idle[i]);
  }
  luminal_task_release(stuck);
  luminal_runtime_release(rt);
}

/* A poll in progress when shutdown starts: it runs to its end; spawning from it is refused (and dropped). */
typedef struct {
  tu_latch entered, release;
  tu_counters *spawned;
  luminal_status st_ctx, st_rt;
} late_arg;
static luminal_poll cb_spawn_late(tf *f, luminal_context *cx, void **out) {
  (void)out;
  late_arg *a = (late_arg *)f->user;
  if (f->step++ == 0) {
    tu_latch_set(&a->entered);
    tu_latch_wait(&a->release);
    a->st_ctx = luminal_context_spawn(cx, tf_ready(a->spawned, 1), NULL);
    a->st_rt = luminal_spawn(luminal_context_runtime(cx), tf_ready(a->spawned, 2), NULL);
  }
  return LUMINAL_POLL_PENDING;
}

TEST(shutdown_refuses_spawns_from_running_poll) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT, sp = TU_COUNTERS_INIT;
  late_arg a;
  tu_latch_init(&a.entered);
  tu_latch_init(&a.release);
  a.spawned = &sp;
  a.st_ctx = a.st_rt = LUMINAL_E_INTERNAL;
  luminal_task *t = tu_spawn(rt, tf_make(&c, cb_spawn_late, &a, 0));
  tu_latch_wait(&a.entered);
  CHECK_ST(luminal_runtime_shutdown(rt, 0), LUMINAL_E_TIMED_OUT);
  tu_latch_set(&a.release);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(a.st_ctx, LUMINAL_E_SHUTDOWN);
  CHECK_ST(a.st_rt, LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(sp.drops), 2);
  CHECK_EQ(LOAD(sp.polls), 0);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(LOAD(c.polls), 1);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  luminal_runtime_release(rt);
}

/* The rest of a timed-out shutdown completes in the background once the stuck poll returns. */
TEST(shutdown_timeout_completes_in_background) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters cb = TU_COUNTERS_INIT, c = TU_COUNTERS_INIT;
  tu_blocker b;
  tu_blocker_init(&b);
  luminal_task *stuck = tu_spawn(rt, tf_block(&cb, &b, 0));
  tu_latch_wait(&b.entered);
  luminal_task *queued = tu_spawn(rt, tf_forever(&c));
  CHECK_ST(luminal_runtime_shutdown(rt, MS_NS(20)), LUMINAL_E_TIMED_OUT);
  tu_latch_set(&b.release);
  WAIT_UNTIL(LOAD(cb.drops) == 1 && LOAD(c.drops) == 1); /* without another shutdown call */
  CHECK_EQ(LOAD(c.polls), 0);
  CHECK_ST(luminal_task_join(queued, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_ST(luminal_task_join(stuck, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(queued);
  luminal_task_release(stuck);
  luminal_runtime_release(rt); /* last handle: waits for the rest */
}

/* Shutdown racing with spawns from other threads: every future is either run or dropped, exactly once. */
typedef struct {
  luminal_runtime *rt;
  tu_counters *c;
  long ok, refused;
} spam_arg;
static void *spawn_spammer(void *p) {
  spam_arg *a = (spam_arg *)p;
  for (int i = 0; i < 20000; i++) {
    luminal_status st = luminal_spawn(a->rt, (i % 2) ? tf_yield(a->c, 3) : tf_forever(a->c), NULL);
    if (st == LUMINAL_OK) a->ok++;
    else if (st == LUMINAL_E_SHUTDOWN) a->refused++;
    else TEST_FAIL("spawn returned %s", luminal_status_str(st));
  }
  return NULL;
}

TEST(shutdown_races_spawns) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  spam_arg a[3];
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    a[i].rt = rt;
    a[i].c = &c;
    a[i].ok = a[i].refused = 0;
    CHECK(pthread_create(&th[i], NULL, spawn_spammer, &a[i]) == 0);
  }
  tu_sleep_ms(5);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  long total = 0, refused = 0;
  for (int i = 0; i < 3; i++) {
    total += a[i].ok + a[i].refused;
    refused += a[i].refused;
  }
  CHECK_EQ(total, 60000);
  CHECK_EQ(LOAD(c.drops), 60000); /* accepted ones dropped by shutdown or after READY; refused ones at once */
  CHECK_EQ(LOAD(c.readies), LOAD(c.out_drops));
  printf("shutdown_races_spawns: %ld refused\n", refused);
  luminal_runtime_release(rt);
}
