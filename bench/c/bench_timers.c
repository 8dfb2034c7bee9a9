/* Timers: accuracy of short sleeps on an idle runtime, and the cost of a million pending ones.
 *
 * Usage: bench_timers [accuracy|timers|tasks]...  (default: all three, each in a fresh process)
 *   accuracy: one task awaits 1,000 sequential 1 ms sleeps (luminal_sleep, polled from its own poll function);
 *             lateness = time the task runs again - (time before luminal_sleep + 1 ms). p50/p99/max/min in ns.
 *   timers:   a few tasks each create and poll (once) an equal share of 1M 60 s sleep futures: RSS growth / timer.
 *   tasks:    1M tasks each awaiting its own 60 s sleep: RSS growth / (task + timer) ("task_timer").
 *             After `timers` and `tasks`: the time luminal_runtime_shutdown takes to drop them all (and a check
 *             that every future was dropped exactly once).
 * Prints `timer_<name><TAB>value<TAB>count` lines. env: BENCH_WORKERS (2). */
#include "luminal.h"
#include "bench_util.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLEEPS = 1000, MS = 1000000, PENDING = 1000000, HOLDERS = 4 };
static const uint64_t LONG_SLEEP = 60ull * 1000000000u;

static luminal_runtime *rt;
static void check(luminal_status s) {
  if (s != LUMINAL_OK) { fprintf(stderr, "luminal: %s\n", luminal_status_str(s)); exit(1); }
}
static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}
static long rss_bytes(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2) exit(1);
  fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}
static struct { pthread_mutex_t m; pthread_cond_t c; int done; } sig = {PTHREAD_MUTEX_INITIALIZER,
                                                                       PTHREAD_COND_INITIALIZER, 0};
static void signal_done(void) {
  pthread_mutex_lock(&sig.m);
  sig.done = 1;
  pthread_cond_signal(&sig.c);
  pthread_mutex_unlock(&sig.m);
}
static void wait_done(void) {
  pthread_mutex_lock(&sig.m);
  while (!sig.done) pthread_cond_wait(&sig.c, &sig.m);
  pthread_mutex_unlock(&sig.m);
}

/* ---- accuracy: 1,000 sequential 1 ms sleeps ---- */
typedef struct { luminal_future sleep; uint64_t deadline; int i; int64_t late[SLEEPS]; } sleeper;
static luminal_poll sleep_loop(void *s, luminal_context *cx, void **out) {
  sleeper *z = s;
  for (;;) {
    if (!z->sleep.poll) {
      if (z->i == SLEEPS) { signal_done(); return LUMINAL_POLL_READY; }
      z->deadline = luminal_now_ns() + MS;
      check(luminal_sleep(luminal_context_runtime(cx), MS, &z->sleep));
    }
    if (z->sleep.poll(z->sleep.state, cx, out) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    z->late[z->i++] = (int64_t)(luminal_now_ns() - z->deadline);
    if (z->sleep.drop) z->sleep.drop(z->sleep.state);
    z->sleep.poll = NULL;
  }
}
static void accuracy(void) {
  static sleeper z;
  check(luminal_spawn(rt, (luminal_future){.state = &z, .poll = sleep_loop}, NULL));
  wait_done();
  qsort(z.late, SLEEPS, sizeof z.late[0], cmp_i64);
  printf("timer_sleep_1ms_late_p50_ns\t%lld\t%d\n", (long long)z.late[SLEEPS / 2], SLEEPS);
  printf("timer_sleep_1ms_late_p99_ns\t%lld\t%d\n", (long long)z.late[SLEEPS * 99 / 100], SLEEPS);
  printf("timer_sleep_1ms_late_max_ns\t%lld\t%d\n", (long long)z.late[SLEEPS - 1], SLEEPS);
  printf("timer_sleep_1ms_late_min_ns\t%lld\t%d\n", (long long)z.late[0], SLEEPS); /* < 0: fired early */
}

/* ---- scale: 1M pending 60 s sleeps, held by a few tasks or by one task each ---- */
static luminal_future *sleeps;  /* one slot per sleep future; allocated and touched before the baseline */
static atomic_size_t polled;    /* sleeps created and polled once */
static atomic_size_t dropped;   /* sleeps dropped (by shutdown) */
static luminal_poll hold_share(void *s, luminal_context *cx, void **out) { /* a holder: PENDING / HOLDERS sleeps */
  (void)out;
  size_t first = (uintptr_t)s * (PENDING / HOLDERS);
  if (sleeps[first].poll) return LUMINAL_POLL_PENDING; /* woken before 60 s: nothing to do */
  for (size_t i = first; i < first + PENDING / HOLDERS; i++) {
    check(luminal_sleep(luminal_context_runtime(cx), LONG_SLEEP, &sleeps[i]));
    void *o;
    if (sleeps[i].poll(sleeps[i].state, cx, &o) != LUMINAL_POLL_PENDING) { fprintf(stderr, "fired\n"); exit(1); }
  }
  atomic_fetch_add(&polled, PENDING / HOLDERS);
  return LUMINAL_POLL_PENDING;
}
static void drop_share(void *s) {
  size_t first = (uintptr_t)s * (PENDING / HOLDERS);
  for (size_t i = first; i < first + PENDING / HOLDERS; i++)
    if (sleeps[i].poll) {
      if (sleeps[i].drop) sleeps[i].drop(sleeps[i].state);
      atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    }
}
static luminal_poll await_own(void *s, luminal_context *cx, void **out) { /* a task awaiting its own sleep */
  luminal_future *f = s;
  if (!f->poll) {
    check(luminal_sleep(luminal_context_runtime(cx), LONG_SLEEP, f));
    atomic_fetch_add_explicit(&polled, 1, memory_order_relaxed);
  }
  return f->poll(f->state, cx, out);
}
static void drop_own(void *s) {
  luminal_future *f = s;
  if (f->poll) {
    if (f->drop) f->drop(f->state);
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
  }
}
static void scale(int per_task) {
  sleeps = calloc(PENDING, sizeof *sleeps);
  memset(sleeps, 0, PENDING * sizeof *sleeps); /* touch it: its pages are not part of the growth */
  long before = rss_bytes();
  uint64_t t = luminal_now_ns();
  if (per_task)
    for (size_t i = 0; i < PENDING; i++)
      check(luminal_spawn(rt, (luminal_future){.state = &sleeps[i], .poll = await_own, .drop = drop_own}, NULL));
  else
    for (uintptr_t h = 0; h < HOLDERS; h++)
      check(luminal_spawn(rt, (luminal_future){.state = (void *)h, .poll = hold_share, .drop = drop_share}, NULL));
  while (atomic_load(&polled) < PENDING) usleep(1000);
  uint64_t setup = luminal_now_ns() - t;
  long grown = rss_bytes() - before;
  const char *what = per_task ? "task_timer" : "timer";
  printf("timer_pending_bytes_per_%s\t%ld\t%d\n", what, grown / PENDING, PENDING);
  printf("timer_pending_setup_ns_per_%s\t%llu\t%d\n", what, (unsigned long long)(setup / PENDING), PENDING);
  t = luminal_now_ns();
  luminal_status s = luminal_runtime_shutdown(rt, 30ull * 1000000000u);
  uint64_t took = luminal_now_ns() - t;
  printf("timer_pending_shutdown_ms_%s\t%.1f\t%d\n", what, took / 1e6, PENDING); /* all 1M of them */
  if (s != LUMINAL_OK || atomic_load(&dropped) != PENDING) {
    fprintf(stderr, "shutdown: %s, %zu of %d sleeps dropped\n", luminal_status_str(s), atomic_load(&dropped),
            PENDING);
    exit(1);
  }
}
static void timers(void) { scale(0); }
static void tasks(void) { scale(1); }

int main(int argc, char **argv) {
  static const struct { const char *name; void (*run)(void); } all[] = {
      {"accuracy", accuracy}, {"timers", timers}, {"tasks", tasks}};
  if (argc == 2) {
    for (size_t w = 0; w < sizeof all / sizeof all[0]; w++)
      if (strcmp(argv[1], all[w].name) == 0) {
        luminal_runtime_options opts = {.struct_size = sizeof opts,
                                        .worker_threads = (uint32_t)env("BENCH_WORKERS", 2)};
        check(luminal_runtime_new(&opts, &rt));
        all[w].run();
        fflush(stdout);
        luminal_runtime_release(rt);
        return 0;
      }
    fprintf(stderr, "unknown workload %s\n", argv[1]);
    return 2;
  }
  /* Several workloads (or none = all): each in a fresh process, so RSS starts clean. */
  char self[2048] = {0}, cmd[4096];
  if (readlink("/proc/self/exe", self, sizeof self - 1) < 0) return 1;
  for (int i = 0; i < (argc > 1 ? argc - 1 : 3); i++) {
    snprintf(cmd, sizeof cmd, "'%s' '%s'", self, argc > 1 ? argv[i + 1] : all[i].name);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}
