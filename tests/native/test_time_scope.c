/* Timers (luminal_now_ns, luminal_sleep, luminal_sleep_until, luminal_timeout) and scopes (luminal_scope_*,
 * luminal_spawn_with). Timing checks are "never early" (a documented guarantee) and generous upper bounds only. */
#include "test_util.h"

#include <stddef.h>

#define TEN_S (10ull * 1000000000ull)

/* Joins with a generous bound, so a timer that never fires fails in 20 s with a message instead of hanging. */
static luminal_status join_bounded(luminal_task *t, void **out) {
  luminal_status st = luminal_task_join(t, 20ull * 1000000000ull, out);
  CHECK_MSG(st != LUMINAL_E_TIMED_OUT, "task (a timer, or a future waiting on one) did not complete within 20 s");
  return st;
}

/* ---- clock ------------------------------------------------------------------------------------------------- */

TEST(now_ns_monotonic) {
  uint64_t a = luminal_now_ns();
  uint64_t prev = a;
  for (int i = 0; i < 100000; i++) {
    uint64_t n = luminal_now_ns();
    CHECK_MSG(n >= prev, "luminal_now_ns went backwards: %" PRIu64 " after %" PRIu64, n, prev);
    prev = n;
  }
  uint64_t m0 = tu_now_ns();
  uint64_t l0 = luminal_now_ns();
  tu_sleep_ms(30);
  uint64_t l1 = luminal_now_ns();
  uint64_t m1 = tu_now_ns();
  CHECK_MSG(l1 - l0 >= MS_NS(29), "30 ms of sleep advanced luminal_now_ns by only %.2f ms", (l1 - l0) / 1e6);
  CHECK_MSG(l1 - l0 <= (m1 - m0) + MS_NS(5), "luminal_now_ns advanced %.2f ms in %.2f ms", (l1 - l0) / 1e6,
            (m1 - m0) / 1e6);
}

/* ---- sleep ------------------------------------------------------------------------------------------------- */

TEST(sleep_invalid) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_future f;
  memset(&f, 0, sizeof f);
  CHECK_ST(luminal_sleep(NULL, 1, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_sleep(rt, 1, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_sleep_until(NULL, 1, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_sleep_until(rt, 1, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_sleep((luminal_runtime *)(uintptr_t)0x1234, 1, &f), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_sleep_until((luminal_runtime *)(uintptr_t)0x1234, 1, &f), LUMINAL_E_INVALID_HANDLE);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_future inner = tf_ready(&c, 1);
  CHECK_ST(luminal_timeout(NULL, inner, 1, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 1); /* taken also on failure */
  CHECK_ST(luminal_timeout(rt, tf_ready(&c, 1), 1, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 2);
  CHECK_ST(luminal_timeout((luminal_runtime *)(uintptr_t)0x1234, tf_ready(&c, 1), 1, &f), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(LOAD(c.drops), 3);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_sleep(rt, 1, &f), LUMINAL_E_SHUTDOWN);
  CHECK_ST(luminal_sleep_until(rt, 1, &f), LUMINAL_E_SHUTDOWN);
  CHECK_ST(luminal_timeout(rt, tf_ready(&c, 1), 1, &f), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(c.drops), 4);
  luminal_runtime_release(rt);
  CHECK_EQ(LOAD(c.polls), 0);
}

TEST(sleep_never_early) {
  luminal_runtime *rt = tu_runtime(2);
  const uint64_t durations[] = {0, 1, MS_NS(1), MS_NS(5), MS_NS(20), MS_NS(50)};
  for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
    luminal_future f;
    uint64_t t0 = luminal_now_ns();
    CHECK_ST(luminal_sleep(rt, durations[i], &f), LUMINAL_OK);
    CHECK(f.poll != NULL);
    luminal_task *t = tu_spawn(rt, f);
    void *out = (void *)(uintptr_t)1;
    CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
    uint64_t el = luminal_now_ns() - t0;
    CHECK(out == NULL);
    CHECK_MSG(el >= durations[i], "sleep(%" PRIu64 " ns) completed after %" PRIu64 " ns", durations[i], el);
    CHECK_MSG(el < TEN_S, "sleep took %.1f ms", el / 1e6);
    luminal_task_release(t);
  }
  /* absolute deadlines */
  luminal_future f;
  uint64_t deadline = luminal_now_ns() + MS_NS(15);
  CHECK_ST(luminal_sleep_until(rt, deadline, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f);
  CHECK_ST(join_bounded(t, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK(luminal_now_ns() >= deadline);
  tu_runtime_done(rt);
}

/* A wrapper that polls a timer future with its own context (embedding), records when it completed, and drops it
 * exactly once. Output: box with (completion time - deadline). */
typedef struct {
  luminal_future inner;
  uint64_t deadline; /* a lower bound of the timer's deadline */
  int past;          /* sleep_until with a deadline already past: ready at the first poll */
  int done;
} embed_state;

static luminal_poll cb_embed(tf *f, luminal_context *cx, void **out) {
  embed_state *e = (embed_state *)f->user;
  void *o = (void *)(uintptr_t)1;
  if (e->inner.poll(e->inner.state, cx, &o) == LUMINAL_POLL_PENDING) {
    if (f->step++ == 0 && e->past) TEST_FAIL("a timer whose deadline had passed was PENDING at its first poll");
    return LUMINAL_POLL_PENDING;
  }
  uint64_t now = luminal_now_ns();
  CHECK(o == NULL);
  CHECK_MSG(now >= e->deadline, "timer fired %" PRIu64 " ns early", e->deadline - now);
  e->done = 1;
  if (e->inner.drop) e->inner.drop(e->inner.state);
  e->inner.drop = NULL;
  *out = tu_box_new(f->c, now - e->deadline);
  return LUMINAL_POLL_READY;
}

TEST(sleep_many_timers_embedded) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 2000 };
  static embed_state es[N];
  static luminal_task *tasks[N];
  uint64_t now = luminal_now_ns();
  for (int i = 0; i < N; i++) {
    /* a spread of deadlines, some already in the past */
    uint64_t d = (i % 5 == 0) ? now - 1 : now + MS_NS((uint64_t)(i * 37 % 120));
    es[i].deadline = d; /* for a relative sleep, started after `now`, the real deadline is later still */
    es[i].done = 0;
    es[i].past = (i % 2) && d < now;
    if (i % 2) CHECK_ST(luminal_sleep_until(rt, d, &es[i].inner), LUMINAL_OK);
    else CHECK_ST(luminal_sleep(rt, d > now ? d - now : 0, &es[i].inner), LUMINAL_OK);
    tasks[i] = tu_spawn(rt, tf_make(&c, cb_embed, &es[i], 0));
  }
  for (int i = 0; i < N; i++) {
    void *out = NULL;
    CHECK_ST(join_bounded(tasks[i], &out), LUMINAL_OK);
    (void)tu_box_take(out);
    luminal_task_release(tasks[i]);
  }
  uint64_t el = luminal_now_ns() - now;
  CHECK_MSG(el < TEN_S, "2000 timers of at most 120 ms took %.1f ms", el / 1e6);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), N);
}

TEST(sleep_drop_unspawned_and_after_drop) {
  luminal_runtime *rt = tu_runtime(2);
  for (int i = 0; i < 100; i++) {
    luminal_future f;
    CHECK_ST(luminal_sleep(rt, MS_NS(1000), &f), LUMINAL_OK);
    if (f.drop) f.drop(f.state);
    if (i % 2 == 0 && f.drop) f.drop(f.state); /* after its drop: detected and harmless */
  }
  /* a long sleep spawned and aborted: dropped at once */
  luminal_future f;
  CHECK_ST(luminal_sleep(rt, 3600ull * 1000000000ull, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f);
  tu_sleep_ms(5);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  /* an hour-long sleep in flight does not hold up shutdown */
  CHECK_ST(luminal_sleep(rt, 3600ull * 1000000000ull, &f), LUMINAL_OK);
  t = tu_spawn(rt, f);
  uint64_t t0 = tu_now_ns();
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK(tu_now_ns() - t0 < TEN_S);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  luminal_runtime_release(rt);
}

/* A sleep polled once (so it sits in its runtime's timer wheel) whose future outlives the runtime: dropped after
 * the runtime is gone, its pooled timer cell went back to the pool still marked as "in a wheel", and the next sleep
 * made from that cell, on another runtime, was never put in the wheel: it never fired (the fuzzer's rare hang). */
static luminal_future g_kept_sleep;
static luminal_poll poll_sleep_once_and_keep(void *state, luminal_context *cx, void **out) {
  (void)state;
  void *o = NULL;
  CHECK_EQ(g_kept_sleep.poll(g_kept_sleep.state, cx, &o), LUMINAL_POLL_PENDING); /* in the wheel now */
  *out = NULL;
  return LUMINAL_POLL_READY; /* the sleep stays the test's, pending */
}

TEST(sleep_dropped_after_its_runtime_leaves_no_stale_timer) {
  for (int round = 0; round < 8; round++) {
    luminal_runtime *old = tu_runtime(1);
    CHECK_ST(luminal_sleep(old, 3600ull * 1000000000ull, &g_kept_sleep), LUMINAL_OK);
    luminal_task *t = tu_spawn(old, (luminal_future){NULL, poll_sleep_once_and_keep, NULL, NULL});
    CHECK_ST(join_bounded(t, NULL), LUMINAL_OK);
    luminal_task_release(t);
    CHECK_ST(luminal_runtime_shutdown(old, UINT64_MAX), LUMINAL_OK);
    luminal_runtime_release(old); /* gone: the sleep's runtime no longer resolves */
    g_kept_sleep.drop(g_kept_sleep.state); /* its cell goes back to the pool */

    luminal_runtime *rt = tu_runtime(1);
    luminal_future f;
    CHECK_ST(luminal_sleep(rt, MS_NS(1), &f), LUMINAL_OK); /* most likely the same cell */
    t = tu_spawn(rt, f);
    CHECK_ST(luminal_task_join(t, 10ull * 1000000000ull, NULL), LUMINAL_OK); /* TIMED_OUT before the fix */
    luminal_task_release(t);
    tu_runtime_done(rt);
  }
}

/* ---- timeout ----------------------------------------------------------------------------------------------- */

TEST(timeout_wrapper) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_future w;
  void *out = NULL;

  /* inner ready at once wins even with a zero timeout */
  CHECK_ST(luminal_timeout(rt, tf_ready(&c, 7), 0, &w), LUMINAL_OK);
  CHECK(w.drop_output == tu_box_drop_output); /* the wrapper's drop_output is inner's */
  luminal_task *t = tu_spawn(rt, w);
  CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 7);
  luminal_task_release(t);

  /* inner never completes: time runs out, inner dropped, special output */
  uint64_t t0 = luminal_now_ns();
  CHECK_ST(luminal_timeout(rt, tf_forever(&c), MS_NS(20), &w), LUMINAL_OK);
  t = tu_spawn(rt, w);
  CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  CHECK(luminal_now_ns() - t0 >= MS_NS(20));
  WAIT_UNTIL(LOAD(c.drops) == 2);
  luminal_task_release(t);

  /* inner completes (from a foreign thread) before the deadline */
  tu_gate g;
  tu_gate_init(&g);
  CHECK_ST(luminal_timeout(rt, tf_gate(&c, &g, 9), 3600ull * 1000000000ull, &w), LUMINAL_OK);
  t = tu_spawn(rt, w);
  WAIT_UNTIL(LOAD(g.registrations) == 1);
  tu_gate_open(&g);
  CHECK_EQ(tu_join_value(t), 9);
  luminal_task_release(t);
  tu_gate_destroy(&g);

  /* detached timed-out wrappers: drop_output is never called with LUMINAL_TIMED_OUT_OUTPUT (it would fail) */
  for (int i = 0; i < 20; i++) {
    CHECK_ST(luminal_timeout(rt, tf_forever(&c), MS_NS(1), &w), LUMINAL_OK);
    CHECK_ST(luminal_spawn(rt, w, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(LOAD(c.drops) == 23);
  /* detached completed wrappers: inner's output freed by inner's drop_output */
  for (int i = 0; i < 20; i++) {
    CHECK_ST(luminal_timeout(rt, tf_yield(&c, 2), 3600ull * 1000000000ull, &w), LUMINAL_OK);
    CHECK_ST(luminal_spawn(rt, w, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(LOAD(c.out_drops) == 20);

  /* as a block_on future */
  CHECK_ST(luminal_timeout(rt, tf_forever(&c), MS_NS(5), &w), LUMINAL_OK);
  t = tu_spawn(rt, w);
  CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  luminal_task_release(t);

  /* an unspawned wrapper is dropped by its owner: the inner goes with it */
  CHECK_ST(luminal_timeout(rt, tf_forever(&c), MS_NS(5), &w), LUMINAL_OK);
  w.drop(w.state);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1 + 1 + 1 + 20 + 20 + 1 + 1);
  CHECK_EQ(LOAD(c.out_drops), 20);
}

/* A missing poll function in the inner future. */
static atomic_long g_inner_drops;
static void inner_drop(void *p) {
  (void)p;
  atomic_fetch_add(&g_inner_drops, 1);
}
TEST(timeout_invalid_inner) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_future bad = {NULL, NULL, inner_drop, NULL};
  luminal_future w;
  CHECK_ST(luminal_timeout(rt, bad, 1, &w), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(g_inner_drops), 1);
  tu_runtime_done(rt);
}

/* ---- scopes ------------------------------------------------------------------------------------------------ */

static luminal_scope_counters scope_stats(luminal_scope *s) {
  luminal_scope_counters st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  CHECK_ST(luminal_scope_stats(s, &st), LUMINAL_OK);
  return st;
}

static luminal_task *spawn_in(luminal_runtime *rt, luminal_scope *s, luminal_future f) {
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = s;
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn_with(rt, f, &o, &t), LUMINAL_OK);
  CHECK(t != NULL);
  return t;
}

TEST(scope_invalid) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_runtime *rt2 = tu_runtime(1);
  luminal_scope *s = NULL;
  CHECK_ST(luminal_scope_new(NULL, &s), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_scope_new(rt, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_scope_new((luminal_runtime *)(uintptr_t)0x1234, &s), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_scope_close(NULL, 0), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_scope_close((luminal_scope *)(uintptr_t)0x1234, 0), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_scope_close((luminal_scope *)rt, 0), LUMINAL_E_INVALID_HANDLE);
  luminal_scope_counters st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  CHECK_ST(luminal_scope_stats(NULL, &st), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_scope_stats((luminal_scope *)(uintptr_t)0x1234, &st), LUMINAL_E_INVALID_HANDLE);
  luminal_scope_release(NULL);
  luminal_scope_release((luminal_scope *)(uintptr_t)0x1234);

  CHECK_ST(luminal_scope_new(rt, &s), LUMINAL_OK);
  CHECK(s != NULL);
  CHECK_ST(luminal_scope_stats(s, NULL), LUMINAL_E_INVALID_ARGUMENT);

  tu_counters c = TU_COUNTERS_INIT;
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = s;
  luminal_task *t = NULL;
  /* spawn_with: the scope must belong to the same runtime */
  CHECK_ST(luminal_spawn_with(rt2, tf_ready(&c, 1), &o, &t), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_ST(luminal_spawn_with(NULL, tf_ready(&c, 1), &o, &t), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 2);
  CHECK_ST(luminal_spawn_with((luminal_runtime *)(uintptr_t)0x1234, tf_ready(&c, 1), &o, &t),
           LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(LOAD(c.drops), 3);
  luminal_future nopoll = tf_ready(&c, 1);
  nopoll.poll = NULL;
  CHECK_ST(luminal_spawn_with(rt, nopoll, &o, &t), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 4);
  o.scope = (luminal_scope *)(uintptr_t)0x1234;
  luminal_status bad = luminal_spawn_with(rt, tf_ready(&c, 1), &o, &t);
  CHECK_MSG(bad == LUMINAL_E_INVALID_HANDLE || bad == LUMINAL_E_INVALID_ARGUMENT, "spawn_with(bad scope): %s",
            luminal_status_str(bad));
  CHECK_EQ(LOAD(c.drops), 5);
  o.struct_size = 0;
  o.scope = s;
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 1), &o, &t), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 6);
  CHECK_EQ(scope_stats(s).spawned, 0);

  /* opts NULL = plain spawn; a struct_size that ends before `scope` = no scope */
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 2), NULL, &t), LUMINAL_OK);
  CHECK_EQ(tu_join_value(t), 2);
  luminal_task_release(t);
  o.struct_size = sizeof(size_t);
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 3), &o, &t), LUMINAL_OK);
  CHECK_EQ(tu_join_value(t), 3);
  luminal_task_release(t);
  CHECK_EQ(scope_stats(s).spawned, 0);

  /* closed scope: spawns refused and dropped */
  CHECK_ST(luminal_scope_close(s, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_scope_close(s, UINT64_MAX), LUMINAL_OK); /* again */
  o.struct_size = sizeof o;
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 1), &o, &t), LUMINAL_E_SHUTDOWN);
  WAIT_UNTIL(LOAD(c.drops) == 9); /* 6 refused, 2 completed, this one refused */
  luminal_scope_release(s);
  luminal_scope_release(s); /* double release: ignored */
  CHECK_ST(luminal_scope_stats(s, &st), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_scope_close(s, 0), LUMINAL_E_INVALID_HANDLE);

  /* a shut-down runtime has no new scopes */
  CHECK_ST(luminal_runtime_shutdown(rt2, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_scope_new(rt2, &s), LUMINAL_E_SHUTDOWN);
  luminal_runtime_release(rt2);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 9);
}

TEST(scope_stats_struct_size) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_scope *s = NULL;
  CHECK_ST(luminal_scope_new(rt, &s), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *t = spawn_in(rt, s, tf_ready(&c, 1));
  CHECK_EQ(tu_join_value(t), 1);
  luminal_task_release(t);
  WAIT_UNTIL(scope_stats(s).live == 0);
  luminal_scope_counters st;
  memset(&st, 0xAB, sizeof st);
  st.struct_size = offsetof(luminal_scope_counters, spawned) + sizeof(uint64_t); /* an older caller */
  CHECK_ST(luminal_scope_stats(s, &st), LUMINAL_OK);
  CHECK_EQ(st.live, 0);
  CHECK_EQ(st.spawned, 1);
  uint64_t poison;
  memset(&poison, 0xAB, sizeof poison);
  CHECK_MSG(st.completed == poison && st.cancelled == poison, "fields past struct_size were written");
  luminal_scope_counters full = scope_stats(s);
  CHECK_EQ(full.completed, 1);
  CHECK_EQ(full.cancelled, 0);
  CHECK_ST(luminal_scope_close(s, UINT64_MAX), LUMINAL_OK);
  luminal_scope_release(s);
  tu_runtime_done(rt);
}

/* Children spawned through the context of a scoped task join the scope. */
static luminal_poll cb_scoped_parent(tf *f, luminal_context *cx, void **out) {
  tu_counters *cc = (tu_counters *)f->user;
  for (int i = 0; i < 10; i++) CHECK_ST(luminal_context_spawn(cx, tf_forever(cc), NULL), LUMINAL_OK);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

TEST(scope_close_cancels_everything) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_scope *s = NULL;
  CHECK_ST(luminal_scope_new(rt, &s), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT, kids = TU_COUNTERS_INIT, outside = TU_COUNTERS_INIT;
  /* outside the scope: must be unaffected */
  luminal_task *free_task = tu_spawn(rt, tf_forever(&outside));

  luminal_task *pending[20], *done[5];
  for (int i = 0; i < 20; i++) pending[i] = spawn_in(rt, s, (i % 2) ? tf_forever(&c) : tf_yield(&c, 1ull << 40));
  for (int i = 0; i < 5; i++) done[i] = spawn_in(rt, s, tf_ready(&c, (uint64_t)i));
  for (int i = 0; i < 5; i++) WAIT_UNTIL(luminal_task_is_finished(done[i]));
  for (int i = 0; i < 5; i++) {
    luminal_task *t = spawn_in(rt, s, tf_ready(&c, 100)); /* released unjoined */
    luminal_task_release(t);
  }
  WAIT_UNTIL(LOAD(c.readies) == 5 + 5); /* they ran (not yet polled when the scope closes: cancelled, as under qemu) */
  CHECK_EQ(tu_join_value(spawn_in(rt, s, tf_make(&c, cb_scoped_parent, &kids, 0))), 1);
  /* a poll in progress when the scope closes */
  tu_blocker b;
  tu_blocker_init(&b);
  luminal_task *running = spawn_in(rt, s, tf_block(&c, &b, 0));
  tu_latch_wait(&b.entered);

  luminal_scope_counters st = scope_stats(s);
  CHECK_EQ(st.spawned, 20 + 5 + 5 + 1 + 10 + 1);
  CHECK(st.live >= 20 + 10 + 1);

  CHECK_ST(luminal_scope_close(s, 0), LUMINAL_E_TIMED_OUT);       /* the poll is still running */
  CHECK_ST(luminal_scope_close(s, MS_NS(20)), LUMINAL_E_TIMED_OUT); /* still */
  tu_latch_set(&b.release);
  CHECK_ST(luminal_scope_close(s, UINT64_MAX), LUMINAL_OK);
  /* the guarantee: every future dropped, every output taken or freed, nothing running */
  st = scope_stats(s);
  CHECK_EQ(st.live, 0);
  CHECK_EQ(LOAD(kids.drops), 10);
  long spawned_in_c = 20 + 5 + 5 + 1 + 1;
  CHECK_EQ(LOAD(c.drops), spawned_in_c);
  CHECK_EQ(LOAD(c.readies), 5 + 5 + 1);
  CHECK_EQ(LOAD(c.out_drops), 5 + 5); /* unjoined (done[]) and released outputs; the parent's was joined */
  CHECK_EQ(st.completed, 5 + 5 + 1);
  CHECK_EQ(st.cancelled, 20 + 10 + 1);
  for (int i = 0; i < 20; i++) {
    CHECK_ST(luminal_task_join(pending[i], UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(pending[i]);
  }
  for (int i = 0; i < 5; i++) { /* completed but unjoined: the output was freed, join says CANCELLED */
    CHECK_ST(luminal_task_join(done[i], 0, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(done[i]);
  }
  CHECK_ST(luminal_task_join(running, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(running);
  /* the runtime and unscoped tasks are unaffected */
  CHECK_EQ(luminal_task_is_finished(free_task), 0);
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&outside, 5))), 5);
  luminal_scope_release(s);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(outside.drops), 2);
  CHECK_EQ(LOAD(c.out_drops), 10);
  luminal_task_release(free_task);
}

/* Closing from a worker with a timeout would deadlock; with 0 it just checks. */
typedef struct {
  luminal_scope *s;
  luminal_status with_timeout, without;
} close_arg;
static luminal_poll cb_close_from_worker(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  close_arg *a = (close_arg *)f->user;
  a->with_timeout = luminal_scope_close(a->s, MS_NS(100));
  a->without = luminal_scope_close(a->s, 0);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

TEST(scope_close_on_worker) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_scope *s = NULL;
  CHECK_ST(luminal_scope_new(rt, &s), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT, sc = TU_COUNTERS_INIT;
  luminal_task *inside = spawn_in(rt, s, tf_forever(&sc));
  close_arg a = {s, LUMINAL_E_INTERNAL, LUMINAL_E_INTERNAL};
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_close_from_worker, &a, 0))), 1);
  CHECK_ST(a.with_timeout, LUMINAL_E_WOULD_DEADLOCK);
  CHECK_MSG(a.without == LUMINAL_OK || a.without == LUMINAL_E_TIMED_OUT, "close(0) on a worker: %s",
            luminal_status_str(a.without));
  CHECK_ST(luminal_scope_close(s, UINT64_MAX), LUMINAL_OK);
  CHECK_EQ(LOAD(sc.drops), 1);
  CHECK_ST(luminal_task_join(inside, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(inside);
  luminal_scope_release(s);
  tu_runtime_done(rt);
}

/* An open scope released: its tasks run on. */
TEST(scope_release_open) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_scope *s = NULL;
  CHECK_ST(luminal_scope_new(rt, &s), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT;
  tu_gate g;
  tu_gate_init(&g);
  luminal_task *t = spawn_in(rt, s, tf_gate(&c, &g, 4));
  luminal_scope_release(s);
  CHECK_ST(luminal_scope_close(s, 0), LUMINAL_E_INVALID_HANDLE);
  tu_gate_open(&g);
  CHECK_EQ(tu_join_value(t), 4);
  luminal_task_release(t);
  tu_gate_destroy(&g);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

/* ================================================================================================================
 * Ordering, accuracy, timeouts firing and not firing, cancellation of pending sleeps, volume.
 * Every timing assertion is either exact and documented ("never before the deadline"; "fires on the first tick at
 * or after its deadline", so a later deadline is never seen fired while an earlier one is not) or a generous upper
 * bound (seconds), so none can flake on a loaded machine.
 * ============================================================================================================== */

#define LATE_BOUND_NS (5ull * 1000000000ull) /* generous upper bound on lateness */

/* ---- ordering: one task owns N sleeps and polls them all, latest deadline first, on every poll ------------- */

enum { ORD_N = 64 };
typedef struct {
  luminal_future f[ORD_N];
  uint64_t deadline[ORD_N]; /* exact (sleep_until), strictly increasing by >= 2 ms */
  uint64_t ready_at[ORD_N]; /* luminal_now_ns() when seen ready; 0 = pending */
  long ready_round[ORD_N];  /* the poll in which it was seen ready */
  int remaining;
  long rounds;
} order_state;

static luminal_poll cb_order(tf *f, luminal_context *cx, void **out) {
  order_state *s = (order_state *)f->user;
  s->rounds++;
  int later_ready = -1; /* the latest-deadline sleep seen ready so far (this round or earlier) */
  for (int k = ORD_N - 1; k >= 0; k--) {
    if (s->ready_at[k]) {
      if (later_ready < 0) later_ready = k;
      continue;
    }
    void *o = (void *)(uintptr_t)1;
    luminal_poll r = s->f[k].poll(s->f[k].state, cx, &o);
    if (r == LUMINAL_POLL_READY) {
      uint64_t now = luminal_now_ns();
      CHECK(o == NULL);
      CHECK_MSG(now >= s->deadline[k], "sleep_until #%d ready %" PRIu64 " ns before its deadline", k,
                s->deadline[k] - now);
      s->ready_at[k] = now;
      s->ready_round[k] = s->rounds;
      s->f[k].drop(s->f[k].state);
      s->remaining--;
      if (later_ready < 0) later_ready = k;
    } else if (later_ready >= 0) {
      TEST_FAIL("order: sleep #%d (deadline +%.1f ms) is ready but #%d (deadline %.1f ms earlier) is still pending",
                later_ready, (s->deadline[later_ready] - s->deadline[0]) / 1e6, k,
                (s->deadline[later_ready] - s->deadline[k]) / 1e6);
    }
  }
  if (s->remaining > 0) return LUMINAL_POLL_PENDING;
  *out = tu_box_new(f->c, (uint64_t)s->rounds);
  return LUMINAL_POLL_READY;
}

TEST(sleep_ordering) {
  for (uint32_t workers = 1; workers <= 2; workers++) {
    luminal_runtime *rt = tu_runtime(workers);
    tu_counters c = TU_COUNTERS_INIT;
    static order_state s;
    memset(&s, 0, sizeof s);
    uint64_t base = luminal_now_ns() + MS_NS(5);
    for (int k = 0; k < ORD_N; k++) s.deadline[k] = base + MS_NS(2) * (uint64_t)k + (uint64_t)(k % 3) * 100000u;
    /* created in a scrambled order, so creation order says nothing */
    for (int i = 0; i < ORD_N; i++) {
      int k = (i * 37) % ORD_N;
      CHECK_ST(luminal_sleep_until(rt, s.deadline[k], &s.f[k]), LUMINAL_OK);
    }
    s.remaining = ORD_N;
    luminal_task *t = tu_spawn(rt, tf_make(&c, cb_order, &s, 0));
    void *out = NULL;
    CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
    uint64_t rounds = tu_box_take(out);
    luminal_task_release(t);
    uint64_t max_late = 0;
    for (int k = 0; k < ORD_N; k++) {
      uint64_t late = s.ready_at[k] - s.deadline[k];
      if (late > max_late) max_late = late;
      if (k > 0) CHECK(s.ready_round[k] >= s.ready_round[k - 1]);
    }
    CHECK_MSG(max_late < LATE_BOUND_NS, "a sleep was %.1f ms late", max_late / 1e6);
    printf("  %u worker(s): %d sleeps over %.0f ms seen in order in %" PRIu64 " polls, max lateness %.2f ms\n",
           workers, ORD_N, (s.deadline[ORD_N - 1] - s.deadline[0]) / 1e6, rounds, max_late / 1e6);
    tu_runtime_done(rt);
    CHECK_EQ(LOAD(c.drops), 1);
  }
}

/* ---- accuracy of spawned sleeps: exact lower bound, generous upper bound ------------------------------------ */

typedef struct {
  luminal_future inner;
  uint64_t lower;    /* a lower bound of the real deadline */
  uint64_t ready_at; /* 0 = pending */
} acc_state;

static luminal_poll cb_acc(tf *f, luminal_context *cx, void **out) {
  acc_state *a = (acc_state *)f->user;
  void *o = (void *)(uintptr_t)1;
  if (a->inner.poll(a->inner.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  uint64_t now = luminal_now_ns();
  CHECK(o == NULL);
  CHECK_MSG(now >= a->lower, "sleep ready %" PRIu64 " ns before its deadline", a->lower - now);
  a->ready_at = now;
  a->inner.drop(a->inner.state);
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

TEST(sleep_accuracy_bounds) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 400 };
  static acc_state st[N];
  static luminal_task *tasks[N];
  static uint64_t late[N];
  for (int i = 0; i < N; i++) {
    uint64_t d = MS_NS((uint64_t)(i * 7 % 101)) + (uint64_t)(i % 13) * 77777u; /* 0 .. ~101 ms, sub-ms parts too */
    uint64_t before = luminal_now_ns();
    if (i % 2) {
      CHECK_ST(luminal_sleep(rt, d, &st[i].inner), LUMINAL_OK);
      st[i].lower = before + d; /* the real deadline is creation time + d, which is later */
    } else {
      st[i].lower = before + d;
      CHECK_ST(luminal_sleep_until(rt, st[i].lower, &st[i].inner), LUMINAL_OK);
    }
    st[i].ready_at = 0;
    tasks[i] = tu_spawn(rt, tf_make(&c, cb_acc, &st[i], 0));
  }
  for (int i = 0; i < N; i++) {
    CHECK_ST(join_bounded(tasks[i], NULL), LUMINAL_OK);
    luminal_task_release(tasks[i]);
    CHECK(st[i].ready_at != 0);
    late[i] = st[i].ready_at - st[i].lower;
    CHECK_MSG(late[i] < LATE_BOUND_NS, "sleep #%d was %.1f ms late", i, late[i] / 1e6);
  }
  qsort(late, N, sizeof late[0], cmp_u64);
  printf("  lateness over %d sleeps: median %.2f ms, p99 %.2f ms, max %.2f ms\n", N, late[N / 2] / 1e6,
         late[N * 99 / 100] / 1e6, late[N - 1] / 1e6);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), N);
}

/* ---- a probe future for timeout's inner: owned by the test (never freed by drop), so a poll or a drop after
 *      the drop is caught without touching freed memory ------------------------------------------------------- */

typedef struct {
  tu_counters *c;
  tu_gate *gate;          /* NULL = pending forever (no wake arranged) */
  uint64_t value;
  atomic_int dropped;
  atomic_ullong dropped_at; /* luminal_now_ns() at drop */
  luminal_waker *kept;      /* a clone of the last waker, kept past the drop (the test wakes it afterwards) */
} probe;

static luminal_poll probe_poll(void *p, luminal_context *cx, void **out) {
  probe *pr = (probe *)p;
  if (atomic_load(&pr->dropped)) TEST_FAIL("timeout polled its inner future after dropping it");
  atomic_fetch_add(&pr->c->polls, 1);
  if (pr->kept == NULL) pr->kept = luminal_waker_clone(luminal_context_waker(cx));
  if (pr->gate == NULL || !tu_gate_poll(pr->gate, cx)) return LUMINAL_POLL_PENDING;
  atomic_fetch_add(&pr->c->readies, 1);
  *out = tu_box_new(pr->c, pr->value);
  return LUMINAL_POLL_READY;
}

static void probe_drop(void *p) {
  probe *pr = (probe *)p;
  if (atomic_exchange(&pr->dropped, 1)) TEST_FAIL("timeout dropped its inner future twice");
  atomic_store(&pr->dropped_at, luminal_now_ns());
  atomic_fetch_add(&pr->c->drops, 1);
}

static void probe_init(probe *pr, tu_counters *c, tu_gate *g, uint64_t value) {
  pr->c = c;
  pr->gate = g;
  pr->value = value;
  atomic_init(&pr->dropped, 0);
  atomic_init(&pr->dropped_at, 0);
  pr->kept = NULL;
}

static luminal_future probe_future(probe *pr) {
  luminal_future f = {pr, probe_poll, probe_drop, tu_box_drop_output};
  return f;
}

TEST(timeout_fires) {
  luminal_runtime *rt = tu_runtime(2);
  const uint64_t timeouts[] = {0, 1, MS_NS(1), MS_NS(10), MS_NS(30)};
  for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
    tu_counters c = TU_COUNTERS_INIT;
    static probe pr;
    probe_init(&pr, &c, NULL, 0);
    luminal_future w;
    uint64_t t0 = luminal_now_ns();
    CHECK_ST(luminal_timeout(rt, probe_future(&pr), timeouts[i], &w), LUMINAL_OK);
    luminal_task *t = tu_spawn(rt, w);
    void *out = NULL;
    CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
    uint64_t t1 = luminal_now_ns();
    CHECK_MSG(out == LUMINAL_TIMED_OUT_OUTPUT, "timeout(%" PRIu64 " ns) of a never-ready inner: output %p",
              timeouts[i], out);
    /* the inner was dropped exactly once, at or after the deadline, before the wrapper completed */
    CHECK_EQ(LOAD(c.drops), 1);
    CHECK(LOAD(c.polls) >= 1);
    CHECK_EQ(LOAD(c.readies), 0);
    CHECK_MSG(atomic_load(&pr.dropped_at) >= t0 + timeouts[i], "inner dropped %.3f ms before the deadline",
              (double)(t0 + timeouts[i] - atomic_load(&pr.dropped_at)) / 1e6);
    CHECK_MSG(t1 - t0 >= timeouts[i], "timed out after %" PRIu64 " ns < %" PRIu64, t1 - t0, timeouts[i]);
    CHECK_MSG(t1 - t0 < LATE_BOUND_NS, "timeout took %.1f ms", (t1 - t0) / 1e6);
    if (timeouts[i] == 0) CHECK_EQ(LOAD(c.polls), 1); /* polled once (inner first), then timed out */
    long polls = LOAD(c.polls);
    /* the dropped inner's waker: calling it now does nothing (a poll of the inner would fail the test) */
    CHECK(pr.kept != NULL);
    luminal_waker_wake_by_ref(pr.kept);
    luminal_waker_wake(pr.kept);
    tu_sleep_ms(5);
    CHECK_EQ(LOAD(c.polls), polls);
    CHECK_EQ(LOAD(c.drops), 1);
    luminal_task_release(t);
  }

  /* a long sleep as the inner: the sleep is dropped (its timer removed), the timeout fires */
  luminal_future inner, w;
  CHECK_ST(luminal_sleep(rt, 3600ull * 1000000000ull, &inner), LUMINAL_OK);
  uint64_t t0 = luminal_now_ns();
  CHECK_ST(luminal_timeout(rt, inner, MS_NS(15), &w), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, w);
  void *out = NULL;
  CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  CHECK(luminal_now_ns() - t0 >= MS_NS(15));
  luminal_task_release(t);
  /* the hour-long timer is gone: shutdown does not wait for it, nor does anything fire later */
  uint64_t s0 = tu_now_ns();
  tu_runtime_done(rt);
  CHECK(tu_now_ns() - s0 < TEN_S);
}

TEST(timeout_does_not_fire) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;

  /* inner completed from another thread long before an hour-long timeout */
  static probe pr;
  tu_gate g;
  tu_gate_init(&g);
  probe_init(&pr, &c, &g, 42);
  luminal_future w;
  CHECK_ST(luminal_timeout(rt, probe_future(&pr), 3600ull * 1000000000ull, &w), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, w);
  WAIT_UNTIL(LOAD(g.registrations) >= 1);
  tu_sleep_ms(10);
  CHECK_EQ(LOAD(c.drops), 0);
  tu_gate_open(&g);
  void *out = NULL;
  CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
  CHECK(out != LUMINAL_TIMED_OUT_OUTPUT);
  CHECK_EQ(tu_box_take(out), 42);
  CHECK_EQ(LOAD(c.readies), 1);
  CHECK_EQ(LOAD(c.drops), 1); /* dropped once, after its READY */
  luminal_task_release(t);
  luminal_waker_release(pr.kept);
  tu_gate_destroy(&g);

  /* a short sleep inside a long timeout: the sleep wins, output NULL (not the timed-out sentinel) */
  for (int i = 0; i < 10; i++) {
    luminal_future inner;
    uint64_t t0 = luminal_now_ns();
    CHECK_ST(luminal_sleep(rt, MS_NS(i), &inner), LUMINAL_OK);
    CHECK_ST(luminal_timeout(rt, inner, TEN_S, &w), LUMINAL_OK);
    t = tu_spawn(rt, w);
    out = (void *)(uintptr_t)1;
    CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
    CHECK_MSG(out == NULL, "sleep(%d ms) inside timeout(10 s): output %p", i, out);
    uint64_t el = luminal_now_ns() - t0;
    CHECK(el >= MS_NS(i));
    CHECK_MSG(el < LATE_BOUND_NS, "took %.1f ms", el / 1e6);
    luminal_task_release(t);
  }

  /* ready at once wins over an already-expired (zero) timeout, and over a 1 ns one */
  for (uint64_t to = 0; to < 2; to++) {
    CHECK_ST(luminal_timeout(rt, tf_ready(&c, 5), to, &w), LUMINAL_OK);
    t = tu_spawn(rt, w);
    CHECK_ST(join_bounded(t, &out), LUMINAL_OK);
    CHECK_EQ(tu_box_take(out), 5);
    luminal_task_release(t);
  }

  /* many at once, half firing, half not: exact counts */
  enum { M = 1000 };
  tu_counters fire = TU_COUNTERS_INIT, nofire = TU_COUNTERS_INIT;
  static luminal_task *ts[M];
  for (int i = 0; i < M; i++) {
    if (i % 2) CHECK_ST(luminal_timeout(rt, tf_forever(&fire), MS_NS(i % 20), &w), LUMINAL_OK);
    else CHECK_ST(luminal_timeout(rt, tf_yield(&nofire, 3), TEN_S, &w), LUMINAL_OK);
    ts[i] = tu_spawn(rt, w);
  }
  for (int i = 0; i < M; i++) {
    CHECK_ST(join_bounded(ts[i], &out), LUMINAL_OK);
    if (i % 2) CHECK_MSG(out == LUMINAL_TIMED_OUT_OUTPUT, "#%d: expected a timeout", i);
    else CHECK_EQ(tu_box_take(out), 3);
    luminal_task_release(ts[i]);
  }
  CHECK_EQ(LOAD(fire.drops), M / 2);
  CHECK_EQ(LOAD(fire.readies), 0);
  CHECK_EQ(LOAD(nofire.drops), M / 2);
  CHECK_EQ(LOAD(nofire.readies), M / 2);
  CHECK_EQ(LOAD(nofire.out_drops), 0);
  uint64_t s0 = tu_now_ns();
  tu_runtime_done(rt); /* M/2 ten-second timers were removed when their wrappers completed */
  CHECK(tu_now_ns() - s0 < TEN_S);
  CHECK_EQ(LOAD(c.drops), 1 + 2);
}

/* ---- cancellation of pending sleeps: a dropped sleep never wakes its task ----------------------------------- */

typedef struct {
  luminal_runtime *rt;
  uint64_t dur;
  int drop_in_first_poll; /* 1: create, poll (registers the timer) and drop in the first poll */
  tu_gate *gate;          /* else: first poll creates+polls the sleep and waits on the gate; second poll drops */
  luminal_future sleep;
  int have_sleep;
  uint64_t created;       /* luminal_now_ns() just before luminal_sleep: the deadline is at least created + dur */
  atomic_long polls;
  int inconclusive; /* the drop completed at or after the deadline (a very loaded machine): a wake is allowed */
} cancel_state;

/* Drops the pending sleep; only if that finished before the deadline may the test insist on "no wake". */
static void cancel_drop_sleep(cancel_state *s, luminal_context *cx) {
  void *o = NULL;
  if (s->sleep.poll(s->sleep.state, cx, &o) == LUMINAL_POLL_READY) s->inconclusive = 1;
  s->sleep.drop(s->sleep.state);
  s->have_sleep = 0;
  if (luminal_now_ns() >= s->created + s->dur) s->inconclusive = 1;
}

static luminal_poll cb_cancel(tf *f, luminal_context *cx, void **out) {
  (void)out;
  cancel_state *s = (cancel_state *)f->user;
  long n = atomic_fetch_add(&s->polls, 1);
  if (n == 0) {
    s->created = luminal_now_ns();
    CHECK_ST(luminal_sleep(s->rt, s->dur, &s->sleep), LUMINAL_OK);
    s->have_sleep = 1;
    if (s->drop_in_first_poll) {
      cancel_drop_sleep(s, cx); /* polled (timer in the wheel), then dropped */
      return LUMINAL_POLL_PENDING;
    }
    void *o = NULL;
    if (s->sleep.poll(s->sleep.state, cx, &o) == LUMINAL_POLL_READY) s->inconclusive = 1;
    if (tu_gate_poll(s->gate, cx)) TEST_FAIL("gate open too early");
    return LUMINAL_POLL_PENDING;
  }
  if (n == 1 && s->have_sleep) { /* woken by the gate (or, on a very loaded machine, by the timer) */
    cancel_drop_sleep(s, cx);
    return LUMINAL_POLL_PENDING;
  }
  if (!s->inconclusive)
    TEST_FAIL("a task was polled again (poll #%ld) after dropping its pending sleep before its deadline: the "
              "dropped timer woke it", n + 1);
  return LUMINAL_POLL_PENDING;
}

TEST(sleep_drop_pending_no_wake) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 1000, G = 50 };
  static cancel_state s1[N];
  static cancel_state s2[G];
  static luminal_task *t1[N], *t2[G];
  static tu_gate gates[G];
  for (int i = 0; i < N; i++) {
    memset(&s1[i], 0, sizeof s1[i]);
    s1[i].rt = rt;
    s1[i].dur = MS_NS(20 + i % 40);
    s1[i].drop_in_first_poll = 1;
    t1[i] = tu_spawn(rt, tf_make(&c, cb_cancel, &s1[i], 0));
  }
  for (int i = 0; i < G; i++) {
    memset(&s2[i], 0, sizeof s2[i]);
    tu_gate_init(&gates[i]);
    s2[i].rt = rt;
    s2[i].dur = MS_NS(150);
    s2[i].gate = &gates[i];
    t2[i] = tu_spawn(rt, tf_make(&c, cb_cancel, &s2[i], 0));
  }
  for (int i = 0; i < G; i++) WAIT_UNTIL(LOAD(gates[i].registrations) == 1);
  tu_sleep_ms(10);
  for (int i = 0; i < G; i++) tu_gate_open(&gates[i]);
  for (int i = 0; i < G; i++) WAIT_UNTIL(atomic_load(&s2[i].polls) >= 2);
  for (int i = 0; i < N; i++) WAIT_UNTIL(atomic_load(&s1[i].polls) >= 1);
  /* every deadline (at most 60 ms, resp. 150 ms) passes with margin; no dropped timer may wake anything */
  tu_sleep_ms(250);
  int inconclusive = 0;
  for (int i = 0; i < N; i++) {
    inconclusive += s1[i].inconclusive;
    if (!s1[i].inconclusive) CHECK_EQ(atomic_load(&s1[i].polls), 1);
  }
  for (int i = 0; i < G; i++) {
    inconclusive += s2[i].inconclusive;
    if (!s2[i].inconclusive) CHECK_EQ(atomic_load(&s2[i].polls), 2);
  }
  printf("  %d pending sleeps dropped before their deadlines, none woke its task (%d dropped too late to tell)\n",
         N + G - inconclusive, inconclusive);
  /* they are pending forever: abort them (no sleep left to drop) */
  for (int i = 0; i < N; i++) {
    luminal_task_abort(t1[i]);
    CHECK_ST(luminal_task_join(t1[i], UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(t1[i]);
  }
  for (int i = 0; i < G; i++) {
    luminal_task_abort(t2[i]);
    CHECK_ST(luminal_task_join(t2[i], UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(t2[i]);
  }
  tu_runtime_done(rt);
  for (int i = 0; i < G; i++) tu_gate_destroy(&gates[i]);
  CHECK_EQ(LOAD(c.drops), N + G);
}

/* Spawned sleeps aborted while pending: their tasks are dropped at once, never polled again, and nothing fires
 * later (an aborted timer that woke a dropped task would be harmless, but it must not poll anything). */
TEST(sleep_abort_pending_spawned) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 2000 };
  static acc_state st[N];
  static luminal_task *t[N];
  for (int i = 0; i < N; i++) {
    st[i].lower = luminal_now_ns() + MS_NS(40);
    st[i].ready_at = 0;
    CHECK_ST(luminal_sleep(rt, MS_NS(40), &st[i].inner), LUMINAL_OK);
    t[i] = tu_spawn(rt, tf_make(&c, cb_acc, &st[i], 0));
  }
  WAIT_UNTIL(LOAD(c.polls) >= N); /* all pending in the wheel */
  for (int i = 0; i < N; i += 2) luminal_task_abort(t[i]);
  for (int i = 0; i < N; i++) {
    luminal_status s = join_bounded(t[i], NULL);
    if (i % 2 == 0) {
      /* an abort can lose the race only to a sleep that had already completed */
      CHECK_MSG(s == LUMINAL_E_CANCELLED || (s == LUMINAL_OK && st[i].ready_at != 0), "#%d: %s", i,
                luminal_status_str(s));
    } else {
      CHECK_ST(s, LUMINAL_OK);
    }
    luminal_task_release(t[i]);
  }
  WAIT_UNTIL(LOAD(c.drops) == N);
  long polls = LOAD(c.polls);
  tu_sleep_ms(60); /* past every deadline: an aborted sleep's timer must not poll anything */
  CHECK_EQ(LOAD(c.polls), polls);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), N);
}

/* ---- volume: 100k sleeps pending at once ------------------------------------------------------------------- */

static atomic_long g_v_done;
static atomic_ullong g_v_max_late;
static atomic_long g_v_dropped;

typedef struct {
  luminal_future inner;
  uint64_t deadline;
} vol_state;

static luminal_poll vol_poll(void *p, luminal_context *cx, void **out) {
  vol_state *v = (vol_state *)p;
  void *o = NULL;
  if (v->inner.poll(v->inner.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  uint64_t now = luminal_now_ns();
  if (now < v->deadline) TEST_FAIL("one of 100k sleeps fired %" PRIu64 " ns early", v->deadline - now);
  uint64_t late = now - v->deadline, m = atomic_load(&g_v_max_late);
  while (late > m && !atomic_compare_exchange_weak(&g_v_max_late, &m, late)) {
  }
  atomic_fetch_add(&g_v_done, 1);
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static void vol_drop(void *p) {
  vol_state *v = (vol_state *)p;
  v->inner.drop(v->inner.state);
  free(v);
  atomic_fetch_add(&g_v_dropped, 1);
}

TEST(sleep_100k_concurrent) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_scope *longs = NULL;
  CHECK_ST(luminal_scope_new(rt, &longs), LUMINAL_OK);
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = longs;
  enum { N = 100000 };
  uint64_t t0 = luminal_now_ns();
  uint64_t start = t0 + MS_NS(150); /* after all are spawned, on any reasonable machine */
  for (int i = 0; i < N; i++) {
    vol_state *v = (vol_state *)malloc(sizeof *v);
    CHECK(v != NULL);
    luminal_future f = {v, vol_poll, vol_drop, NULL};
    if (i % 4 == 3) {
      /* a quarter sleep for an hour, in a scope that is closed below: 25k pending timers cancelled at once */
      v->deadline = start + 3600ull * 1000000000ull;
      CHECK_ST(luminal_sleep_until(rt, v->deadline, &v->inner), LUMINAL_OK);
      CHECK_ST(luminal_spawn_with(rt, f, &o, NULL), LUMINAL_OK);
    } else {
      v->deadline = start + (uint64_t)(i % 100) * 1000000u + (uint64_t)(i % 7) * 100000u;
      CHECK_ST(luminal_sleep_until(rt, v->deadline, &v->inner), LUMINAL_OK);
      CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
    }
  }
  uint64_t spawned = luminal_now_ns();
  const long short_n = N - N / 4;
  WAIT_UNTIL(atomic_load(&g_v_done) == short_n);
  uint64_t fired = luminal_now_ns();
  WAIT_UNTIL(atomic_load(&g_v_dropped) == short_n); /* drop follows the READY poll */
  luminal_scope_counters sc = scope_stats(longs);
  CHECK_EQ(sc.live, N / 4);
  CHECK_ST(luminal_scope_close(longs, UINT64_MAX), LUMINAL_OK);
  sc = scope_stats(longs);
  CHECK_EQ(sc.live, 0);
  CHECK_EQ(sc.cancelled, N / 4);
  CHECK_EQ(atomic_load(&g_v_dropped), N);
  CHECK_EQ(atomic_load(&g_v_done), short_n);
  luminal_scope_release(longs);
  printf("  %d sleeps: spawned in %.1f ms, %ld fired by +%.1f ms (max lateness %.2f ms), %d cancelled by scope "
         "close\n",
         N, (spawned - t0) / 1e6, short_n, (fired - t0) / 1e6, atomic_load(&g_v_max_late) / 1e6, N / 4);
  CHECK_MSG(atomic_load(&g_v_max_late) < LATE_BOUND_NS, "max lateness %.1f ms",
            atomic_load(&g_v_max_late) / 1e6);
  tu_runtime_done(rt);
}
