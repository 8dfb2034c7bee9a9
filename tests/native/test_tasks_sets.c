/* Task sets, join_all, select and scope_drain (luminal_task_set_*, luminal_join_all, luminal_select,
 * luminal_scope_drain): finishing order, abort_all, exactly-once drops of futures and unjoined outputs, dropped
 * join_next futures losing nothing, combinator outputs and losers, draining a scope whose tasks spawn tasks, misuse. */
#include "test_util.h"

/* Runs a runtime-made future (own output NULL) to completion on this thread. */
static void run_null(luminal_runtime *rt, luminal_future f) {
  void *out = (void *)1;
  CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
  CHECK(out == NULL);
}

/* join_next once, through block_on: returns *result; *value = the boxed output's value (or -1 for NULL). */
static luminal_status join_next(luminal_runtime *rt, luminal_task_set *set, long *value) {
  void *output = (void *)1;
  luminal_status result = LUMINAL_E_INTERNAL;
  luminal_future f;
  CHECK_ST(luminal_task_set_join_next(set, &output, &result, &f), LUMINAL_OK);
  run_null(rt, f);
  *value = output ? (long)tu_box_take(output) : -1;
  return result;
}

static luminal_task_set *new_set(luminal_runtime *rt) {
  luminal_task_set *set = NULL;
  CHECK_ST(luminal_task_set_new(rt, &set), LUMINAL_OK);
  CHECK(set != NULL);
  return set;
}

TEST(task_set_finishing_order) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  tu_gate g[3];
  luminal_task_set *set = new_set(rt);
  for (int i = 0; i < 3; i++) {
    tu_gate_init(&g[i]);
    CHECK_ST(luminal_task_set_spawn(set, tf_gate(&c, &g[i], (uint64_t)i + 10), NULL), LUMINAL_OK);
  }
  CHECK_EQ(luminal_task_set_len(set), 3);
  WAIT_UNTIL(LOAD(g[0].registrations) >= 1 && LOAD(g[1].registrations) >= 1 && LOAD(g[2].registrations) >= 1);
  int order[3] = {2, 0, 1};
  for (int k = 0; k < 3; k++) {
    tu_gate_open(&g[order[k]]);
    WAIT_UNTIL(LOAD(c.readies) == k + 1); /* finished before the next one opens */
    tu_sleep_ms(3);
  }
  CHECK_EQ(luminal_task_set_len(set), 3); /* finished but not joined still count */
  for (int k = 0; k < 3; k++) {
    long v = 0;
    CHECK_ST(join_next(rt, set, &v), LUMINAL_OK);
    CHECK_EQ(v, order[k] + 10);
    CHECK_EQ(luminal_task_set_len(set), 2 - k);
  }
  long v = 0;
  CHECK_ST(join_next(rt, set, &v), LUMINAL_E_EMPTY);
  CHECK_EQ(v, -1);
  WAIT_UNTIL(LOAD(c.drops) == 3);
  CHECK_EQ(LOAD(c.out_drops), 0);
  luminal_task_set_release(set);
  for (int i = 0; i < 3; i++) tu_gate_destroy(&g[i]);
  tu_runtime_done(rt);
}

TEST(task_set_join_next_waits) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task_set *set = new_set(rt);
  for (int i = 0; i < 20; i++) CHECK_ST(luminal_task_set_spawn(set, tf_yield(&c, (uint64_t)i), NULL), LUMINAL_OK);
  long sum = 0;
  for (int i = 0; i < 20; i++) {
    long v = 0;
    CHECK_ST(join_next(rt, set, &v), LUMINAL_OK);
    sum += v;
  }
  CHECK_EQ(sum, 190);
  long v;
  CHECK_ST(join_next(rt, set, &v), LUMINAL_E_EMPTY);
  luminal_task_set_release(set);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 20);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

TEST(task_set_abort_all) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task_set *set = new_set(rt);
  for (int i = 0; i < 4; i++) CHECK_ST(luminal_task_set_spawn(set, tf_forever(&c), NULL), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.polls) == 4);
  CHECK_ST(luminal_task_set_abort_all(set), LUMINAL_OK);
  for (int i = 0; i < 4; i++) {
    long v = 0;
    CHECK_ST(join_next(rt, set, &v), LUMINAL_E_CANCELLED);
    CHECK_EQ(v, -1);
  }
  long v;
  CHECK_ST(join_next(rt, set, &v), LUMINAL_E_EMPTY);
  CHECK_EQ(LOAD(c.drops), 4);
  CHECK_ST(luminal_task_set_abort_all(set), LUMINAL_OK); /* empty: nothing to do */
  luminal_task_set_release(set);
  tu_runtime_done(rt);
}

TEST(task_set_release_drops_unjoined_outputs_once) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c, f;
  tu_counters_init(&c);
  tu_counters_init(&f);
  luminal_task_set *set = new_set(rt);
  for (int i = 0; i < 5; i++) CHECK_ST(luminal_task_set_spawn(set, tf_ready(&c, (uint64_t)i), NULL), LUMINAL_OK);
  for (int i = 0; i < 3; i++) CHECK_ST(luminal_task_set_spawn(set, tf_forever(&f), NULL), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.readies) == 5 && LOAD(f.polls) == 3);
  long v = 0;
  CHECK_ST(join_next(rt, set, &v), LUMINAL_OK); /* one output taken: the other four are never joined */
  luminal_task_set_release(set);
  luminal_task_set_release(set); /* double release: ignored */
  WAIT_UNTIL(LOAD(c.out_drops) == 4 && LOAD(f.drops) == 3);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.out_drops), 4);
  CHECK_EQ(LOAD(c.drops), 5);
  CHECK_EQ(LOAD(f.drops), 3);
  CHECK_EQ(LOAD(f.out_drops), 0);
}

TEST(task_set_dropped_join_next_loses_nothing) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  tu_gate g;
  tu_gate_init(&g);
  luminal_task_set *set = new_set(rt);
  CHECK_ST(luminal_task_set_spawn(set, tf_gate(&c, &g, 42), NULL), LUMINAL_OK);
  /* A join_next that pends (polled, so it waits in the set) and is dropped by a timeout. */
  for (int i = 0; i < 3; i++) {
    void *output = NULL;
    luminal_status result = LUMINAL_OK;
    luminal_future jn, to;
    CHECK_ST(luminal_task_set_join_next(set, &output, &result, &jn), LUMINAL_OK);
    CHECK_ST(luminal_timeout(rt, jn, MS_NS(5), &to), LUMINAL_OK);
    void *out = NULL;
    CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
    CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  }
  /* One never polled, dropped directly. */
  {
    void *output = NULL;
    luminal_status result = LUMINAL_OK;
    luminal_future jn;
    CHECK_ST(luminal_task_set_join_next(set, &output, &result, &jn), LUMINAL_OK);
    jn.drop(jn.state);
    jn.drop(jn.state); /* a second drop is harmless */
    void *o = (void *)1;
    CHECK(jn.poll(jn.state, NULL, &o) == LUMINAL_POLL_READY && o == NULL); /* after drop: touches nothing */
  }
  CHECK_EQ(luminal_task_set_len(set), 1);
  tu_gate_open(&g);
  long v = 0;
  CHECK_ST(join_next(rt, set, &v), LUMINAL_OK);
  CHECK_EQ(v, 42);
  CHECK_ST(join_next(rt, set, &v), LUMINAL_E_EMPTY);
  luminal_task_set_release(set);
  tu_gate_destroy(&g);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

TEST(task_set_join_next_closed_on_release) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task_set *set = new_set(rt);
  CHECK_ST(luminal_task_set_spawn(set, tf_forever(&c), NULL), LUMINAL_OK);
  void *output = (void *)1;
  luminal_status result = LUMINAL_OK;
  luminal_future jn;
  luminal_task *t = NULL;
  CHECK_ST(luminal_task_set_join_next(set, &output, &result, &jn), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, jn, &t), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.polls) == 1);
  tu_sleep_ms(5);
  luminal_task_set_release(set);
  void *o = (void *)1;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &o), LUMINAL_OK);
  CHECK(o == NULL);
  CHECK_ST(result, LUMINAL_E_CLOSED);
  CHECK(output == NULL);
  luminal_task_release(t);
  WAIT_UNTIL(LOAD(c.drops) == 1);
  tu_runtime_done(rt);
}

TEST(task_set_misuse) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task_set *set = NULL;
  CHECK_ST(luminal_task_set_new(NULL, &set), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_set_new(rt, NULL), LUMINAL_E_INVALID_ARGUMENT);
  set = new_set(rt);
  void *output;
  luminal_status result;
  luminal_future f;
  /* NULL */
  CHECK_ST(luminal_task_set_spawn(NULL, tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_set_join_next(NULL, &output, &result, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(f.poll == NULL);
  CHECK_ST(luminal_task_set_join_next(set, NULL, &result, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_set_join_next(set, &output, NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_set_join_next(set, &output, &result, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_set_abort_all(NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(luminal_task_set_len(NULL), 0);
  luminal_task_set_release(NULL);
  luminal_future nopoll = tf_ready(&c, 1);
  nopoll.poll = NULL;
  CHECK_ST(luminal_task_set_spawn(set, nopoll, NULL), LUMINAL_E_INVALID_ARGUMENT);
  luminal_spawn_options bad;
  memset(&bad, 0, sizeof bad);
  bad.struct_size = sizeof bad;
  bad.priority = (luminal_priority)99;
  CHECK_ST(luminal_task_set_spawn(set, tf_ready(&c, 1), &bad), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 3); /* every refused future dropped once */
  /* wrong kind and forged */
  luminal_notify *n = NULL;
  CHECK_ST(luminal_notify_new(rt, &n), LUMINAL_OK);
  luminal_task_set *wrong = (luminal_task_set *)n;
  luminal_task_set *forged = (luminal_task_set *)(uintptr_t)0x7777777770001ull;
  luminal_task_set *handles[2] = {wrong, forged};
  for (int i = 0; i < 2; i++) {
    CHECK_ST(luminal_task_set_spawn(handles[i], tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_HANDLE);
    CHECK_ST(luminal_task_set_join_next(handles[i], &output, &result, &f), LUMINAL_E_INVALID_HANDLE);
    CHECK_ST(luminal_task_set_abort_all(handles[i]), LUMINAL_E_INVALID_HANDLE);
    CHECK_EQ(luminal_task_set_len(handles[i]), 0);
    luminal_task_set_release(handles[i]); /* ignored: the notify survives */
  }
  CHECK_ST(luminal_notify_one(n), LUMINAL_OK);
  CHECK_ST(luminal_notify_one((luminal_notify *)set), LUMINAL_E_INVALID_HANDLE); /* a set is not a notify */
  luminal_notify_release(n);
  CHECK_EQ(LOAD(c.drops), 5);
  /* released */
  luminal_task_set_release(set);
  CHECK_ST(luminal_task_set_spawn(set, tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_task_set_join_next(set, &output, &result, &f), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_task_set_abort_all(set), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(luminal_task_set_len(set), 0);
  CHECK_EQ(LOAD(c.drops), 6);
  /* a join_next polled with a bad context completes at once with the reason */
  set = new_set(rt);
  output = (void *)1;
  CHECK_ST(luminal_task_set_join_next(set, &output, &result, &f), LUMINAL_OK);
  void *o = (void *)1;
  CHECK(f.poll(f.state, NULL, &o) == LUMINAL_POLL_READY && o == NULL);
  CHECK_ST(result, LUMINAL_E_INVALID_ARGUMENT);
  CHECK(output == NULL);
  f.drop(f.state);
  CHECK_ST(luminal_task_set_join_next(set, &output, &result, &f), LUMINAL_OK);
  CHECK(f.poll(f.state, (luminal_context *)(uintptr_t)0x12345f, &o) == LUMINAL_POLL_READY);
  CHECK_ST(result, LUMINAL_E_INVALID_HANDLE);
  f.drop(f.state);
  luminal_task_set_release(set);
  /* shut down */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_task_set_new(rt, &set), LUMINAL_E_SHUTDOWN);
  luminal_runtime_release(rt);
}

/* ---- join_all and select ----------------------------------------------------------------------------------- */

TEST(join_all_outputs) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  luminal_future futs[4] = {tf_yield(&c, 3), tf_ready(&c, 7), tf_yield(&c, 10), tf_yield(&c, 1)};
  void *outputs[4] = {0};
  luminal_future f;
  CHECK_ST(luminal_join_all(rt, futs, 4, outputs, &f), LUMINAL_OK);
  memset(futs, 0, sizeof futs); /* the array was copied */
  run_null(rt, f);
  uint64_t expect[4] = {3, 7, 10, 1};
  for (int i = 0; i < 4; i++) CHECK_EQ(tu_box_take(outputs[i]), expect[i]);
  CHECK_EQ(LOAD(c.drops), 4);
  CHECK_EQ(LOAD(c.out_drops), 0);
  /* n = 0 completes at once */
  CHECK_ST(luminal_join_all(rt, NULL, 0, NULL, &f), LUMINAL_OK);
  run_null(rt, f);
  /* spawned, with a gate opened from another thread: the child's wake wakes the outer task */
  tu_gate g;
  tu_gate_init(&g);
  luminal_future futs2[2] = {tf_gate(&c, &g, 5), tf_ready(&c, 6)};
  CHECK_ST(luminal_join_all(rt, futs2, 2, outputs, &f), LUMINAL_OK);
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  WAIT_UNTIL(LOAD(g.registrations) >= 1);
  CHECK(!luminal_task_is_finished(t));
  tu_gate_open(&g);
  void *o = (void *)1;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &o), LUMINAL_OK);
  CHECK(o == NULL);
  luminal_task_release(t);
  CHECK_EQ(tu_box_take(outputs[0]), 5);
  CHECK_EQ(tu_box_take(outputs[1]), 6);
  CHECK_EQ(LOAD(c.drops), 6);
  tu_gate_destroy(&g);
  tu_runtime_done(rt);
}

TEST(join_all_dropped_early_drops_children_and_outputs_once) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c;
  tu_counters_init(&c);
  luminal_future futs[3] = {tf_ready(&c, 1), tf_forever(&c), tf_ready(&c, 2)};
  void *outputs[3] = {0};
  luminal_future f, to;
  CHECK_ST(luminal_join_all(rt, futs, 3, outputs, &f), LUMINAL_OK);
  CHECK_ST(luminal_timeout(rt, f, MS_NS(5), &to), LUMINAL_OK);
  void *o = NULL;
  CHECK_ST(luminal_block_on(rt, to, &o), LUMINAL_OK);
  CHECK(o == LUMINAL_TIMED_OUT_OUTPUT);
  CHECK_EQ(LOAD(c.drops), 3);
  CHECK_EQ(LOAD(c.out_drops), 2); /* collected, never handed over */
  CHECK(outputs[0] == NULL && outputs[2] == NULL);
  tu_runtime_done(rt);
}

TEST(select_winner_losers_dropped_once) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters losers, win;
  tu_counters_init(&losers);
  tu_counters_init(&win);
  luminal_future futs[3] = {tf_forever(&losers), tf_yield(&win, 4), tf_forever(&losers)};
  size_t winner = 99;
  void *output = NULL;
  luminal_future f;
  CHECK_ST(luminal_select(rt, futs, 3, &winner, &output, &f), LUMINAL_OK);
  run_null(rt, f);
  CHECK_EQ(winner, 1);
  CHECK_EQ(tu_box_take(output), 4);
  CHECK_EQ(LOAD(losers.drops), 2);
  CHECK_EQ(LOAD(win.drops), 1);
  long polls = LOAD(losers.polls);
  CHECK_EQ(polls, 5 + 4); /* child 0 at each of the 5 polls, child 2 except in the last; never after */
  tu_sleep_ms(5);
  CHECK_EQ(LOAD(losers.polls), polls);
  /* ready together: the lowest index wins, the other is dropped with its output never made */
  luminal_future futs2[2] = {tf_ready(&win, 8), tf_ready(&win, 9)};
  CHECK_ST(luminal_select(rt, futs2, 2, &winner, &output, &f), LUMINAL_OK);
  run_null(rt, f);
  CHECK_EQ(winner, 0);
  CHECK_EQ(tu_box_take(output), 8);
  CHECK_EQ(LOAD(win.drops), 3);
  CHECK_EQ(LOAD(win.out_drops), 0);
  tu_runtime_done(rt);
}

TEST(join_all_select_misuse) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c;
  tu_counters_init(&c);
  luminal_future f, futs[2];
  void *outputs[2];
  size_t winner = 0;
  void *output = NULL;
#define TWO() (futs[0] = tf_ready(&c, 1), futs[1] = tf_forever(&c), futs)
  CHECK_ST(luminal_select(rt, NULL, 0, &winner, &output, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(f.poll == NULL);
  CHECK_ST(luminal_select(rt, TWO(), 0, &winner, &output, &f), LUMINAL_E_INVALID_ARGUMENT); /* n = 0 */
  futs[0].drop(futs[0].state); /* n = 0 names no child: these two were not taken */
  futs[1].drop(futs[1].state);
  CHECK_ST(luminal_select(rt, TWO(), 2, NULL, &output, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_select(rt, TWO(), 2, &winner, NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_select(rt, TWO(), 2, &winner, &output, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_select(NULL, TWO(), 2, &winner, &output, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_join_all(rt, TWO(), 2, NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_join_all(rt, TWO(), 2, outputs, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_join_all(rt, NULL, 2, outputs, &f), LUMINAL_E_INVALID_ARGUMENT);
  luminal_runtime *forged = (luminal_runtime *)(uintptr_t)0x5555555550003ull;
  CHECK_ST(luminal_join_all(forged, TWO(), 2, outputs, &f), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_select(forged, TWO(), 2, &winner, &output, &f), LUMINAL_E_INVALID_HANDLE);
  TWO();
  futs[1].poll = NULL;
  CHECK_ST(luminal_join_all(rt, futs, 2, outputs, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 2 * 10); /* every refused child dropped exactly once */
  /* bad context: gives up at once, dropping the children */
  long before = LOAD(c.drops);
  CHECK_ST(luminal_join_all(rt, TWO(), 2, outputs, &f), LUMINAL_OK);
  void *o = NULL;
  CHECK(f.poll(f.state, NULL, &o) == LUMINAL_POLL_READY && o == LUMINAL_FAILED_OUTPUT);
  CHECK_EQ(LOAD(c.drops), before + 2);
  f.drop(f.state);
  f.drop(f.state);
  CHECK(f.poll(f.state, NULL, &o) == LUMINAL_POLL_READY && o == NULL);
  CHECK_ST(luminal_select(rt, TWO(), 2, &winner, &output, &f), LUMINAL_OK);
  CHECK(f.poll(f.state, (luminal_context *)(uintptr_t)0x4242f, &o) == LUMINAL_POLL_READY && o == LUMINAL_FAILED_OUTPUT);
  CHECK_EQ(winner, SIZE_MAX);
  CHECK_EQ(LOAD(c.drops), before + 4);
  f.drop(f.state);
  CHECK_EQ(LOAD(c.drops), before + 4);
  CHECK_EQ(LOAD(c.out_drops), 0);
#undef TWO
  tu_runtime_done(rt);
}

/* ---- scope_drain ------------------------------------------------------------------------------------------- */

/* Spawns `value` children (tf_yield(20)) into its own scope with luminal_context_spawn, then is ready. */
static luminal_poll tf_cb_spawner(tf *f, luminal_context *cx, void **out) {
  for (uint64_t i = 0; i < f->value; i++)
    CHECK_ST(luminal_context_spawn(cx, tf_yield(f->c, 20), NULL), LUMINAL_OK);
  *out = tu_box_new(f->c, f->value);
  return LUMINAL_POLL_READY;
}

TEST(scope_drain_waits_for_grandchildren) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  luminal_scope *scope = NULL;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  luminal_future f;
  CHECK_ST(luminal_scope_drain(scope, &f), LUMINAL_OK); /* empty scope: completes at once */
  run_null(rt, f);
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = scope;
  luminal_task *parents[3];
  for (int i = 0; i < 3; i++)
    CHECK_ST(luminal_spawn_with(rt, tf_make(&c, tf_cb_spawner, NULL, 4), &o, &parents[i]), LUMINAL_OK);
  CHECK_ST(luminal_scope_drain(scope, &f), LUMINAL_OK);
  run_null(rt, f);
  CHECK_EQ(LOAD(c.readies), 3 + 12); /* every task finished running */
  luminal_scope_counters st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  CHECK_ST(luminal_scope_stats(scope, &st), LUMINAL_OK);
  CHECK_EQ(st.spawned, 15);
  CHECK_EQ(st.completed, 15);
  CHECK(st.live >= 3); /* the parents' outputs are not joined yet: they do not hold the drain */
  /* the scope stays open */
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn_with(rt, tf_yield(&c, 2), &o, &t), LUMINAL_OK);
  CHECK_ST(luminal_scope_drain(scope, &f), LUMINAL_OK);
  run_null(rt, f);
  CHECK(luminal_task_is_finished(t));
  luminal_task_release(t);
  for (int i = 0; i < 3; i++) {
    void *out = NULL;
    CHECK_ST(luminal_task_join(parents[i], 0, &out), LUMINAL_OK);
    CHECK_EQ(tu_box_take(out), 4);
    luminal_task_release(parents[i]);
  }
  CHECK_ST(luminal_scope_close(scope, UINT64_MAX), LUMINAL_OK);
  luminal_scope_release(scope);
  tu_runtime_done(rt);
}

TEST(scope_drain_misuse) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c;
  tu_counters_init(&c);
  luminal_scope *scope = NULL;
  luminal_future f;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  CHECK_ST(luminal_scope_drain(NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_scope_drain(scope, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_scope_drain((luminal_scope *)(uintptr_t)0x999999990000dull, &f), LUMINAL_E_INVALID_HANDLE);
  luminal_task_set *set = new_set(rt);
  CHECK_ST(luminal_scope_drain((luminal_scope *)set, &f), LUMINAL_E_INVALID_HANDLE);
  luminal_task_set_release(set);
  /* a drain waiting when the handle is released completes with LUMINAL_FAILED_OUTPUT */
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = scope;
  luminal_task *forever = NULL, *drainer = NULL;
  CHECK_ST(luminal_spawn_with(rt, tf_forever(&c), &o, &forever), LUMINAL_OK);
  CHECK_ST(luminal_scope_drain(scope, &f), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, f, &drainer), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.polls) == 1);
  tu_sleep_ms(5);
  CHECK(!luminal_task_is_finished(drainer));
  luminal_scope_release(scope);
  void *out = NULL;
  CHECK_ST(luminal_task_join(drainer, UINT64_MAX, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_FAILED_OUTPUT);
  luminal_task_release(drainer);
  CHECK_ST(luminal_scope_drain(scope, &f), LUMINAL_E_INVALID_HANDLE);
  /* bad context */
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  CHECK_ST(luminal_scope_drain(scope, &f), LUMINAL_OK);
  CHECK(f.poll(f.state, NULL, &out) == LUMINAL_POLL_READY && out == LUMINAL_FAILED_OUTPUT);
  f.drop(f.state);
  f.drop(f.state);
  luminal_scope_release(scope);
  luminal_task_abort(forever);
  luminal_task_release(forever);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}
