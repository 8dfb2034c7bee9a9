/* Priorities, inheritance and the blocking pool through the C ABI. */
#include "test_util.h"

#include <semaphore.h>

static sem_t g_gate;      /* holds the only worker so tasks queue up behind it */
static atomic_int g_log[64];
static atomic_int g_log_n;

static luminal_poll hold_worker(void *s, luminal_context *cx, void **out) {
  (void)s, (void)cx, (void)out;
  sem_wait(&g_gate);
  return LUMINAL_POLL_READY;
}

static luminal_poll log_id(void *s, luminal_context *cx, void **out) {
  (void)cx, (void)out;
  atomic_store(&g_log[atomic_fetch_add(&g_log_n, 1)], (int)(intptr_t)s);
  return LUMINAL_POLL_READY;
}

static luminal_status spawn_prio(luminal_runtime *rt, luminal_future f, int32_t priority, luminal_task **t) {
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.priority = priority;
  return luminal_spawn_with(rt, f, &o, t);
}

TEST(priority_queued_tasks_run_most_urgent_first) {
  luminal_runtime *rt = tu_runtime(1);
  sem_init(&g_gate, 0, 0);
  atomic_store(&g_log_n, 0);
  luminal_task *gate = NULL, *ts[8];
  CHECK_ST(spawn_prio(rt, (luminal_future){NULL, hold_worker, NULL, NULL}, 0, &gate), LUMINAL_OK);
  const int32_t prio[8] = {LUMINAL_PRIORITY_BACKGROUND,      LUMINAL_PRIORITY_UTILITY,
                           LUMINAL_PRIORITY_USER_INTERACTIVE, LUMINAL_PRIORITY_USER_INITIATED,
                           LUMINAL_PRIORITY_BACKGROUND,      LUMINAL_PRIORITY_USER_INTERACTIVE,
                           LUMINAL_PRIORITY_INHERIT /* from outside: USER_INITIATED */, LUMINAL_PRIORITY_UTILITY};
  for (int i = 0; i < 8; i++)
    CHECK_ST(spawn_prio(rt, (luminal_future){(void *)(intptr_t)i, log_id, NULL, NULL}, prio[i], &ts[i]), LUMINAL_OK);
  sem_post(&g_gate);
  CHECK_ST(luminal_task_join(gate, UINT64_MAX, NULL), LUMINAL_OK);
  for (int i = 0; i < 8; i++) CHECK_ST(luminal_task_join(ts[i], UINT64_MAX, NULL), LUMINAL_OK);
  /* most urgent first, spawn order within a level */
  const int expected[8] = {2, 5, 3, 6, 1, 7, 0, 4};
  CHECK_EQ(atomic_load(&g_log_n), 8);
  for (int i = 0; i < 8; i++) CHECK_MSG(atomic_load(&g_log[i]) == expected[i], "position %d ran task %d, expected %d", i,
                                        atomic_load(&g_log[i]), expected[i]);
  luminal_task_release(gate);
  for (int i = 0; i < 8; i++) luminal_task_release(ts[i]);
  tu_runtime_done(rt);
}

TEST(priority_invalid_values_are_refused) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c;
  tu_counters_init(&c);
  CHECK_ST(spawn_prio(rt, tf_ready(&c, 1), 5, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(spawn_prio(rt, tf_ready(&c, 1), -1, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(atomic_load(&c.drops), 2); /* refused futures are dropped */
  tu_runtime_done(rt);
}

/* A parent at `priority` spawns two children with luminal_context_spawn_with: one inheriting, one BACKGROUND. With one
 * worker held, a USER_INTERACTIVE marker queued after them shows where each child landed. */
typedef struct { luminal_task *inherit, *background; } parent_state;
static luminal_poll parent(void *s, luminal_context *cx, void **out) {
  (void)out;
  parent_state *p = s;
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  CHECK_ST(luminal_context_spawn_with(cx, (luminal_future){(void *)(intptr_t)10, log_id, NULL, NULL}, &o, &p->inherit),
           LUMINAL_OK);
  o.priority = LUMINAL_PRIORITY_BACKGROUND;
  CHECK_ST(luminal_context_spawn_with(cx, (luminal_future){(void *)(intptr_t)11, log_id, NULL, NULL}, &o,
                                      &p->background),
           LUMINAL_OK);
  /* hold this worker: children are queued; the marker arrives from outside meanwhile */
  sem_wait(&g_gate);
  return LUMINAL_POLL_READY;
}

TEST(priority_is_inherited_by_context_spawn) {
  luminal_runtime *rt = tu_runtime(1);
  sem_init(&g_gate, 0, 0);
  atomic_store(&g_log_n, 0);
  parent_state p = {0};
  luminal_task *pt = NULL, *marker = NULL;
  CHECK_ST(spawn_prio(rt, (luminal_future){&p, parent, NULL, NULL}, LUMINAL_PRIORITY_UTILITY, &pt), LUMINAL_OK);
  WAIT_UNTIL(p.background != NULL);
  CHECK_ST(spawn_prio(rt, (luminal_future){(void *)(intptr_t)12, log_id, NULL, NULL}, LUMINAL_PRIORITY_USER_INITIATED,
                      &marker),
           LUMINAL_OK);
  sem_post(&g_gate);
  CHECK_ST(luminal_task_join(pt, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_ST(luminal_task_join(p.inherit, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_ST(luminal_task_join(p.background, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_ST(luminal_task_join(marker, UINT64_MAX, NULL), LUMINAL_OK);
  /* marker (USER_INITIATED) before the inherited UTILITY child, which runs before the BACKGROUND one */
  CHECK_EQ(atomic_load(&g_log_n), 3);
  CHECK_EQ(atomic_load(&g_log[0]), 12);
  CHECK_EQ(atomic_load(&g_log[1]), 10);
  CHECK_EQ(atomic_load(&g_log[2]), 11);
  luminal_task_release(pt);
  luminal_task_release(p.inherit);
  luminal_task_release(p.background);
  luminal_task_release(marker);
  tu_runtime_done(rt);
}

static atomic_int g_running, g_arg_drops;
static sem_t g_block;
static void *blocking_call(void *arg) {
  atomic_fetch_add(&g_running, 1);
  sem_wait(&g_block);
  return arg;
}
static void drop_arg(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_arg_drops, 1);
}

TEST(blocking_pool_runs_off_the_workers_with_a_cap_and_drops_args_once) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 1;
  o.max_blocking_threads = 2;
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  sem_init(&g_block, 0, 0);
  atomic_store(&g_running, 0);
  atomic_store(&g_arg_drops, 0);
  luminal_task *t[5];
  for (int i = 0; i < 5; i++)
    CHECK_ST(luminal_spawn_blocking_with(rt, blocking_call, (void *)(intptr_t)(100 + i), drop_arg, NULL, &t[i]),
             LUMINAL_OK);
  WAIT_UNTIL(atomic_load(&g_running) == 2);
  tu_sleep_ms(30);
  CHECK_MSG(atomic_load(&g_running) == 2, "%d calls running past a cap of 2", atomic_load(&g_running));
  /* the only worker is free: an ordinary task completes while both pool threads block */
  tu_counters c;
  tu_counters_init(&c);
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&c, 7))), 7);
  /* abort one still queued: it never runs and its arg is dropped */
  luminal_task_abort(t[4]);
  CHECK_ST(luminal_task_join(t[4], UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_EQ(atomic_load(&g_arg_drops), 1);
  for (int i = 0; i < 4; i++) sem_post(&g_block);
  for (int i = 0; i < 4; i++) {
    void *out = NULL;
    CHECK_ST(luminal_task_join(t[i], UINT64_MAX, &out), LUMINAL_OK);
    CHECK_EQ((intptr_t)out, 100 + i);
  }
  CHECK_EQ(atomic_load(&g_running), 4);
  CHECK_EQ(atomic_load(&g_arg_drops), 5);
  for (int i = 0; i < 5; i++) luminal_task_release(t[i]);
  tu_runtime_done(rt);
  /* after shutdown the spawn fails and drops the arg at once */
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_spawn_blocking_with(rt, blocking_call, NULL, drop_arg, NULL, NULL), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(atomic_load(&g_arg_drops), 6);
  CHECK_ST(luminal_spawn_blocking_with(rt, NULL, NULL, drop_arg, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(atomic_load(&g_arg_drops), 7);
  luminal_runtime_release(rt);
}
