/* What observing costs: the same hot workloads on a runtime without observers ("off"), with a task hook that does
 * nothing ("on"), and, run against an older libluminal through LD_LIBRARY_PATH, on a library without the hooks at
 * all ("before": the baseline for "off costs nothing measurable", see bench/hooks.sh).
 * Usage: bench_hooks off|on REPS. Prints one line per workload: name, median ns per operation. */
#include <luminal.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static atomic_long hook_calls;
static void noop_hook(void *user, luminal_task_event e, uint64_t id, uint32_t prio, uint64_t scope, int32_t worker) {
  (void)user, (void)e, (void)id, (void)prio, (void)scope, (void)worker;
  atomic_fetch_add_explicit(&hook_calls, 1, memory_order_relaxed);
}

/* ---- spawn_ready: N tasks ready at their first poll, spawned from outside, detached ------------------------- */
static atomic_long done;
static luminal_poll ready_poll(void *state, luminal_context *cx, void **out) {
  (void)state, (void)cx;
  *out = NULL;
  atomic_fetch_add_explicit(&done, 1, memory_order_release);
  return LUMINAL_POLL_READY;
}

static double spawn_ready(luminal_runtime *rt, long n) {
  atomic_store(&done, 0);
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    luminal_future f = {NULL, ready_poll, NULL, NULL};
    if (luminal_spawn(rt, f, NULL) != LUMINAL_OK) exit(1);
  }
  while (atomic_load_explicit(&done, memory_order_acquire) < n) {
  }
  return (double)(now_ns() - t0) / (double)n;
}

/* ---- yield_many: T tasks each yielding Y times -------------------------------------------------------------- */
typedef struct {
  long left;
} yielder;
static luminal_poll yield_poll(void *state, luminal_context *cx, void **out) {
  yielder *y = (yielder *)state;
  if (y->left-- > 0) {
    luminal_context_yield(cx);
    return LUMINAL_POLL_PENDING;
  }
  *out = NULL;
  atomic_fetch_add_explicit(&done, 1, memory_order_release);
  return LUMINAL_POLL_READY;
}

static double yield_many(luminal_runtime *rt, long tasks, long yields) {
  static yielder ys[1024];
  atomic_store(&done, 0);
  uint64_t t0 = now_ns();
  for (long i = 0; i < tasks; i++) {
    ys[i].left = yields;
    luminal_future f = {&ys[i], yield_poll, NULL, NULL};
    if (luminal_spawn(rt, f, NULL) != LUMINAL_OK) exit(1);
  }
  while (atomic_load_explicit(&done, memory_order_acquire) < tasks) {
  }
  return (double)(now_ns() - t0) / (double)(tasks * (yields + 1));
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], cmp);
  return v[n / 2];
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "off") != 0 && strcmp(argv[1], "on") != 0)) {
    fprintf(stderr, "usage: bench_hooks off|on REPS\n");
    return 2;
  }
  int reps = atoi(argv[2]);
  if (reps < 1 || reps > 1000) reps = 15;
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  /* "off" sets only the fields every library version knows, so the same program runs on an older library. */
  o.struct_size = strcmp(argv[1], "on") == 0 ? sizeof o : offsetof(luminal_runtime_options, log);
  o.worker_threads = 2;
  if (strcmp(argv[1], "on") == 0) o.task_hook = noop_hook;
  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(&o, &rt) != LUMINAL_OK) return 1;
  double a[1000], b[1000];
  for (int i = 0; i < 3; i++) spawn_ready(rt, 20000), yield_many(rt, 200, 100); /* warm-up */
  for (int i = 0; i < reps; i++) {
    a[i] = spawn_ready(rt, 100000);
    b[i] = yield_many(rt, 200, 500);
  }
  printf("spawn_ready %.1f\nyield_many %.1f\n", median(a, reps), median(b, reps));
  luminal_runtime_shutdown(rt, UINT64_MAX);
  luminal_runtime_release(rt);
  return 0;
}
