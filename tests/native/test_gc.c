/*
 * test_gc.c — the runtime's own work causes no garbage collection (issue 15): a collection pauses every host
 * thread inside a Luminal call. Growing the number of live tasks to 250,000 and back must not run one, because
 * task slots live in native memory (Tasks/TaskTable.cs), not in managed objects.
 * Counted with luminal_debug_gc_count (a diagnostic export). No timing assertion. The same with tasks that each
 * await a luminal_sleep: timers are native cells too (Time/TimerEntry.cs). And with 100,000 pending stream reads
 * on both IO backends: IO operations are native cells too (Io/IoOp.cs), and so is the pool reactor's per-fd table.
 * And with a scope of 100,000 pending tasks closed (its member list is copied into native memory).
 */
#include "test_io_util.h"

#include <sys/resource.h>
#include <unistd.h>

enum { GC_TASKS = 250000 };

/* One pending task: parks its waker here at its first poll, completes when `go` is set and it is woken. */
typedef struct gc_cell {
  luminal_waker *waker;
  atomic_int go;
} gc_cell;

static gc_cell *gc_cells;
static atomic_long gc_parked, gc_dropped;

static luminal_poll gc_poll(void *state, luminal_context *cx, void **output) {
  gc_cell *c = state;
  (void)output;
  if (atomic_load(&c->go)) return LUMINAL_POLL_READY;
  if (c->waker == NULL) {
    c->waker = luminal_waker_clone(luminal_context_waker(cx));
    atomic_fetch_add(&gc_parked, 1); /* published after the waker: the host reads it then */
  }
  return LUMINAL_POLL_PENDING;
}

static void gc_drop(void *state) {
  (void)state;
  atomic_fetch_add(&gc_dropped, 1);
}

static void gc_grow_and_shrink(luminal_runtime *rt) {
  atomic_store(&gc_parked, 0);
  atomic_store(&gc_dropped, 0);
  memset(gc_cells, 0, sizeof(gc_cell) * GC_TASKS);
  for (int i = 0; i < GC_TASKS; i++) {
    luminal_future f = {&gc_cells[i], gc_poll, gc_drop, NULL};
    CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(atomic_load(&gc_parked) == GC_TASKS); /* every task is live and pending at once */
  for (int i = 0; i < GC_TASKS; i++) {
    atomic_store(&gc_cells[i].go, 1);
    luminal_waker_wake(gc_cells[i].waker);
  }
  WAIT_UNTIL(atomic_load(&gc_dropped) == GC_TASKS);
}

TEST(gc_none_while_live_tasks_grow) {
  gc_cells = calloc(GC_TASKS, sizeof(gc_cell));
  CHECK(gc_cells != NULL);
  luminal_runtime *rt = tu_runtime(2);
  /* Warm-up: the first spawns and joins set up what is made once (the runtime's structures, statics). */
  tu_counters c;
  tu_counters_init(&c);
  for (int i = 0; i < 100; i++) {
    luminal_task *t = NULL;
    CHECK_ST(luminal_spawn(rt, tf_yield(&c, 2), &t), LUMINAL_OK);
    CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(t);
  }
  uint64_t before = luminal_debug_gc_count();
  gc_grow_and_shrink(rt); /* the task table grows from ~100 slots to 250,000 */
  uint64_t grown = luminal_debug_gc_count();
  gc_grow_and_shrink(rt); /* and reuses them */
  uint64_t after = luminal_debug_gc_count();
  CHECK_MSG(grown == before, "%" PRIu64 " collections while 250,000 tasks became live", grown - before);
  CHECK_MSG(after == grown, "%" PRIu64 " collections while the tasks were reused", after - grown);
  tu_runtime_done(rt);
  free(gc_cells);
}

/* The same with every observer on (issue 16's task hook, thread hooks, metrics read while the tasks are live):
 * observing adds no managed allocation per task, and its counts stay exact. */
static atomic_long gc_events[5];

static void gc_task_hook(void *user, luminal_task_event event, uint64_t task_id, uint32_t priority, uint64_t scope,
                         int32_t worker) {
  (void)user, (void)task_id, (void)priority, (void)scope, (void)worker;
  if ((unsigned)event < 5) atomic_fetch_add(&gc_events[event], 1);
}

static void gc_thread_hook(void *user, luminal_thread_kind kind, uint32_t index) { (void)user, (void)kind, (void)index; }

TEST(gc_none_while_observed_tasks_grow) {
  gc_cells = calloc(GC_TASKS, sizeof(gc_cell));
  CHECK(gc_cells != NULL);
  for (int i = 0; i < 5; i++) atomic_store(&gc_events[i], 0);
  luminal_runtime_options o = tu_options(2);
  o.task_hook = gc_task_hook;
  o.on_thread_start = gc_thread_hook;
  o.on_thread_stop = gc_thread_hook;
  luminal_runtime *rt = tu_runtime_with(&o);
  tu_counters c;
  tu_counters_init(&c);
  for (int i = 0; i < 100; i++) { /* warm-up, as above */
    luminal_task *t = NULL;
    CHECK_ST(luminal_spawn(rt, tf_yield(&c, 2), &t), LUMINAL_OK);
    CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(t);
  }
  luminal_runtime_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  CHECK_ST(luminal_runtime_get_metrics(rt, &m), LUMINAL_OK);
  uint64_t before = luminal_debug_gc_count();
  gc_grow_and_shrink(rt);
  CHECK_ST(luminal_runtime_get_metrics(rt, &m), LUMINAL_OK);
  uint64_t after = luminal_debug_gc_count();
  CHECK_MSG(after == before, "%" PRIu64 " collections while 250,000 observed tasks became live", after - before);
  CHECK_EQ(m.tasks_spawned, 100 + GC_TASKS);
  CHECK_EQ(atomic_load(&gc_events[LUMINAL_TASK_SPAWNED]), 100 + GC_TASKS);
  /* A task's drop runs before its COMPLETED event and the metric's count: wait for the last ones. */
  WAIT_UNTIL(atomic_load(&gc_events[LUMINAL_TASK_COMPLETED]) == 100 + GC_TASKS);
  CHECK_EQ(atomic_load(&gc_events[LUMINAL_TASK_POLL_START]), atomic_load(&gc_events[LUMINAL_TASK_POLL_END]));
  CHECK_EQ(atomic_load(&gc_events[LUMINAL_TASK_CANCELLED]), 0);
  tu_runtime_done(rt);
  free(gc_cells);
}

/* A task awaiting one sleep: forwards to the runtime's sleep future and counts its own drop. */
typedef struct gc_sleeper {
  luminal_future sleep;
} gc_sleeper;

static luminal_poll gc_sleeper_poll(void *state, luminal_context *cx, void **output) {
  gc_sleeper *s = state;
  if (s->sleep.poll(s->sleep.state, cx, output) == LUMINAL_POLL_PENDING) {
    atomic_fetch_add(&gc_parked, 1); /* counts polls that left the timer pending */
    return LUMINAL_POLL_PENDING;
  }
  *output = NULL;
  return LUMINAL_POLL_READY;
}

static void gc_sleeper_drop(void *state) {
  gc_sleeper *s = state;
  if (s->sleep.drop) s->sleep.drop(s->sleep.state);
  atomic_fetch_add(&gc_dropped, 1);
}

static void gc_sleep_round(luminal_runtime *rt, gc_sleeper *sleepers, int n) {
  atomic_store(&gc_parked, 0);
  atomic_store(&gc_dropped, 0);
  for (int i = 0; i < n; i++) {
    CHECK_ST(luminal_sleep(rt, MS_NS(1000), &sleepers[i].sleep), LUMINAL_OK);
    luminal_future f = {&sleepers[i], gc_sleeper_poll, gc_sleeper_drop, NULL};
    CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(atomic_load(&gc_dropped) == n);
}

TEST(gc_none_while_sleeping_tasks_grow) {
  enum { N = 200000 };
  gc_sleeper *sleepers = calloc(N, sizeof(gc_sleeper));
  CHECK(sleepers != NULL);
  luminal_runtime *rt = tu_runtime(2);
  gc_sleep_round(rt, sleepers, 100); /* warm-up */
  uint64_t before = luminal_debug_gc_count();
  gc_sleep_round(rt, sleepers, N); /* up to 200,000 tasks and timers live at once (1 s sleeps) */
  uint64_t grown = luminal_debug_gc_count();
  CHECK(atomic_load(&gc_parked) > 0);
  CHECK_MSG(grown == before, "%" PRIu64 " collections while 200,000 sleeping tasks became live", grown - before);
  tu_runtime_done(rt);
  free(sleepers);
}

/* A task awaiting one stream read of one byte (forwards to the runtime's read future, counts its own drop). */
typedef struct gc_reader {
  luminal_future read;
  luminal_io_result result;
  char byte;
} gc_reader;

static luminal_poll gc_reader_poll(void *state, luminal_context *cx, void **output) {
  gc_reader *r = state;
  if (r->read.poll(r->read.state, cx, output) == LUMINAL_POLL_PENDING) {
    atomic_fetch_add(&gc_parked, 1); /* counts polls that left the read pending */
    return LUMINAL_POLL_PENDING;
  }
  *output = NULL;
  return LUMINAL_POLL_READY;
}

static void gc_reader_drop(void *state) {
  gc_reader *r = state;
  if (r->read.drop) r->read.drop(r->read.state);
  atomic_fetch_add(&gc_dropped, 1);
}

/* `per_pipe` pending one-byte reads on each of `pipes` pipes, all in flight at once; then one byte per read is
 * written, so every read completes with 1. */
static void gc_read_round(luminal_runtime *rt, gc_reader *readers, int (*fds)[2], int pipes, int per_pipe) {
  int n = pipes * per_pipe;
  atomic_store(&gc_parked, 0);
  atomic_store(&gc_dropped, 0);
  for (int i = 0; i < n; i++) {
    gc_reader *r = &readers[i];
    memset(&r->result, 0x5A, sizeof r->result);
    CHECK_ST(luminal_stream_read(rt, fds[i % pipes][0], &r->byte, 1, &r->result, &r->read), LUMINAL_OK);
    luminal_future f = {r, gc_reader_poll, gc_reader_drop, NULL};
    CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(iou_in_flight(rt) == (uint64_t)n); /* every read submitted and in flight at once */
  char ones[64];
  memset(ones, 1, sizeof ones);
  CHECK(per_pipe <= (int)sizeof ones);
  for (int p = 0; p < pipes; p++) CHECK_EQ(write(fds[p][1], ones, (size_t)per_pipe), per_pipe);
  WAIT_UNTIL(atomic_load(&gc_dropped) == n);
  for (int i = 0; i < n; i++) {
    CHECK_ST(readers[i].result.status, LUMINAL_OK);
    CHECK_EQ(readers[i].result.value, 1);
  }
}

IO_TEST(gc_none_while_io_operations_grow) {
  enum { PIPES = 5000, PER_PIPE = 20, N = PIPES * PER_PIPE };
  iou_allow_pipes(PIPES);
  int(*fds)[2] = calloc(PIPES, sizeof *fds);
  gc_reader *readers = calloc(N, sizeof(gc_reader));
  CHECK(fds != NULL && readers != NULL);
  for (int p = 0; p < PIPES; p++) CHECK(pipe(fds[p]) == 0);
  luminal_runtime *rt = iou_runtime(2);
  gc_read_round(rt, readers, fds, 50, 2); /* warm-up: the backend, its threads and statics */
  uint64_t before = luminal_debug_gc_count();
  gc_read_round(rt, readers, fds, PIPES, PER_PIPE); /* up to 100,000 reads in flight at once */
  uint64_t grown = luminal_debug_gc_count();
  gc_read_round(rt, readers, fds, PIPES, PER_PIPE); /* and again: the operations' slots are reused */
  uint64_t after = luminal_debug_gc_count();
  CHECK_MSG(grown == before, "%" PRIu64 " collections while 100,000 stream reads became pending", grown - before);
  CHECK_MSG(after == grown, "%" PRIu64 " collections while the reads' slots were reused", after - grown);
  tu_runtime_done(rt);
  for (int p = 0; p < PIPES; p++) close(fds[p][0]), close(fds[p][1]);
  free(readers);
  free(fds);
}

static void gc_scope_round(luminal_runtime *rt, int n) {
  luminal_scope *scope = NULL;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  atomic_store(&gc_parked, 0);
  atomic_store(&gc_dropped, 0);
  memset(gc_cells, 0, sizeof(gc_cell) * (size_t)n);
  luminal_spawn_options so;
  memset(&so, 0, sizeof so);
  so.struct_size = sizeof so;
  so.scope = scope;
  for (int i = 0; i < n; i++) {
    luminal_future f = {&gc_cells[i], gc_poll, gc_drop, NULL};
    CHECK_ST(luminal_spawn_with(rt, f, &so, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(atomic_load(&gc_parked) == n);
  CHECK_ST(luminal_scope_close(scope, UINT64_MAX), LUMINAL_OK); /* aborts every member */
  CHECK_EQ(atomic_load(&gc_dropped), n);
  luminal_scope_release(scope);
  for (int i = 0; i < n; i++) luminal_waker_release(gc_cells[i].waker);
}

TEST(gc_none_while_a_large_scope_closes) {
  enum { N = 100000 };
  gc_cells = calloc(N, sizeof(gc_cell));
  CHECK(gc_cells != NULL);
  luminal_runtime *rt = tu_runtime(2);
  gc_scope_round(rt, 100); /* warm-up */
  uint64_t before = luminal_debug_gc_count();
  gc_scope_round(rt, N);
  gc_scope_round(rt, N);
  uint64_t after = luminal_debug_gc_count();
  CHECK_MSG(after == before, "%" PRIu64 " collections while scopes of 100,000 tasks closed", after - before);
  tu_runtime_done(rt);
  free(gc_cells);
}

TEST(gc_count_export) {
  /* Callable before any runtime exists, and monotonic. */
  uint64_t a = luminal_debug_gc_count();
  uint64_t b = luminal_debug_gc_count();
  CHECK(b >= a);
}
