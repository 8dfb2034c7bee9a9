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
