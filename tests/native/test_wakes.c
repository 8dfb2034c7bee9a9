/*
 * test_wakes.c — a task woken from a foreign thread is not stuck behind busy tasks that keep yielding (issue 15):
 * yielded tasks go behind the global queue (Scheduler/Deferred.cs), so the woken task runs within about one round
 * of the yielders, not after the global queue's 61-tick interval. Counted in polls of the busy tasks between the
 * wake and the woken task's poll; no timing assertion.
 */
#include "test_util.h"

enum { WK_BUSY = 4, WK_WAKES = 30, WK_MAX_POLLS_BETWEEN = 3 * WK_BUSY };

static atomic_long wk_busy_polls;   /* polls of the busy tasks so far */
static atomic_int wk_stop;
static atomic_int wk_busy_dropped;

static luminal_poll wk_busy_poll(void *state, luminal_context *cx, void **output) {
  (void)state;
  (void)output;
  if (atomic_load(&wk_stop)) return LUMINAL_POLL_READY;
  atomic_fetch_add(&wk_busy_polls, 1);
  for (volatile int spin = 0; spin < 200; spin++) {
  }
  CHECK_ST(luminal_context_yield(cx), LUMINAL_OK);
  return LUMINAL_POLL_PENDING;
}

static void wk_busy_drop(void *state) {
  (void)state;
  atomic_fetch_add(&wk_busy_dropped, 1);
}

/* The woken task: parks its waker, and at each poll records the busy polls so far. */
typedef struct wk_target {
  _Atomic(luminal_waker *) waker;
  atomic_long polled_at; /* busy polls when it was last polled; -1 = not polled since the host reset it */
  atomic_int done;
} wk_target;

static luminal_poll wk_target_poll(void *state, luminal_context *cx, void **output) {
  wk_target *t = state;
  (void)output;
  atomic_store(&t->polled_at, atomic_load(&wk_busy_polls));
  if (atomic_load(&t->done)) return LUMINAL_POLL_READY;
  if (atomic_load(&t->waker) == NULL) atomic_store(&t->waker, luminal_waker_clone(luminal_context_waker(cx)));
  return LUMINAL_POLL_PENDING;
}

TEST(foreign_wake_runs_before_busy_yielders_go_round_many_times) {
  luminal_runtime *rt = tu_runtime(1); /* one worker: every busy task and the woken one share it */
  for (int i = 0; i < WK_BUSY; i++) {
    luminal_future f = {NULL, wk_busy_poll, wk_busy_drop, NULL};
    CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  }
  wk_target target = {.waker = NULL, .polled_at = -1, .done = 0};
  luminal_future tf = {&target, wk_target_poll, NULL, NULL};
  luminal_task *tt = NULL;
  CHECK_ST(luminal_spawn(rt, tf, &tt), LUMINAL_OK);
  WAIT_UNTIL(atomic_load(&target.waker) != NULL);
  long worst = 0;
  for (int i = 0; i < WK_WAKES; i++) {
    long start = atomic_load(&wk_busy_polls);
    WAIT_UNTIL(atomic_load(&wk_busy_polls) > start + 2 * WK_BUSY); /* the busy tasks are going round */
    atomic_store(&target.polled_at, -1);
    luminal_waker_wake_by_ref(atomic_load(&target.waker));
    /* Counted from after the wake returned: a preemption of this thread (a loaded machine) then shortens the
     * count instead of lengthening it, so the bound cannot flake; before the fix the wait was up to 61 polls. */
    long after = atomic_load(&wk_busy_polls);
    WAIT_UNTIL(atomic_load(&target.polled_at) >= 0);
    long between = atomic_load(&target.polled_at) - after;
    if (between > worst) worst = between;
  }
  /* Before the fix a foreign wake waited for the global queue's turn: up to 61 busy polls. */
  CHECK_MSG(worst <= WK_MAX_POLLS_BETWEEN, "a foreign wake waited %ld busy polls (at most %d expected)", worst,
            WK_MAX_POLLS_BETWEEN);
  atomic_store(&target.done, 1);
  luminal_waker_wake_by_ref(atomic_load(&target.waker));
  CHECK_ST(luminal_task_join(tt, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(tt);
  luminal_waker_release(atomic_load(&target.waker));
  atomic_store(&wk_stop, 1);
  WAIT_UNTIL(atomic_load(&wk_busy_dropped) == WK_BUSY); /* each busy task saw the stop, completed and was dropped */
  tu_runtime_done(rt);
}
