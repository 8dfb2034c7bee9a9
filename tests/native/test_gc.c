/*
 * test_gc.c — the runtime's own work causes no garbage collection (issue 15): a collection pauses every host
 * thread inside a Luminal call. Growing the number of live tasks to 250,000 and back must not run one, because
 * task slots live in native memory (Tasks/TaskTable.cs), not in managed objects.
 * Counted with luminal_debug_gc_count (a diagnostic export). No timing assertion.
 */
#include "test_util.h"

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

TEST(gc_count_export) {
  /* Callable before any runtime exists, and monotonic. */
  uint64_t a = luminal_debug_gc_count();
  uint64_t b = luminal_debug_gc_count();
  CHECK(b >= a);
}
