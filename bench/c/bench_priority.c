/* Priority latency: how long an urgent task waits for a worker while every worker is busy with background work.
 *
 * One USER_INTERACTIVE task is woken every ~1 ms by an outside pthread (sleep 1 ms + 0-50 us jitter,
 * t0 = CLOCK_MONOTONIC, wake the task's stored waker); the task records t1 when it is polled; latency = t1 - t0.
 * Meanwhile 4 x workers BACKGROUND tasks keep every worker busy: each poll spins ~50 us on the clock, then yields
 * (wakes its own waker, returns PENDING). ../rust-tokio/src/bin/bench-tokio-priority.rs is the same workload on
 * tokio (which has one level).
 *
 * Usage: bench_priority [levels|flat|busy]...  (default: all three, each in a fresh process)
 *   levels: interactive task at LUMINAL_PRIORITY_USER_INTERACTIVE, background ones at LUMINAL_PRIORITY_BACKGROUND
 *   flat:   every task at the default level
 *   busy:   every task at the default level, woken every ~100 us (+0-20 us) while the background polls spin 20 us:
 *           the foreign-wake scenario of issue 15 (a default-priority wake must not wait for the global queue's
 *           turn); `bench-tokio-priority busy` is its tokio counterpart
 * Prints `priority_<config>_<stat><TAB>value<TAB>samples` lines: p50/p99/max wake-to-run latency in ns, the
 * background polls per second (proof that the workers were busy) and the wakes the thread had to skip because
 * the task had not run yet since the previous one.
 * env: BENCH_WORKERS (2), BENCH_PRIORITY_WAKES (2000 measured wakes, after 100 warm-up wakes). */
#include "luminal.h"
#include "bench_util.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { WARMUP_WAKES = 100 };
static uint64_t spin_ns = 50000, period_ns = 1000000; /* busy: 20 us, 100 us */

static void check(luminal_status s) {
  if (s != LUMINAL_OK) { fprintf(stderr, "luminal: %s\n", luminal_status_str(s)); exit(1); }
}

static atomic_bool stop;           /* background tasks finish at their next poll */
static atomic_bool finished;       /* the interactive task has all its samples: the waker thread stops */
static atomic_ullong bg_polls;     /* background polls so far */
static _Atomic(luminal_waker *) slot; /* the interactive task's waker, stored by the task, taken by the thread */
static atomic_ullong t0_ns;        /* when the thread woke the task (0 = no wake outstanding) */
static atomic_ullong skipped;      /* ticks where the task had not re-registered yet */
static size_t total, n;            /* samples wanted / taken (touched by the interactive task only) */
static uint64_t *samples;
static struct { pthread_mutex_t m; pthread_cond_t c; int done; } sig = {PTHREAD_MUTEX_INITIALIZER,
                                                                       PTHREAD_COND_INITIALIZER, 0};

/* A background task: ~50 us of CPU work per poll, then yield. */
static luminal_poll background(void *s, luminal_context *cx, void **out) {
  (void)s, (void)out;
  if (atomic_load_explicit(&stop, memory_order_relaxed)) return LUMINAL_POLL_READY;
  uint64_t start = now_ns();
  while (now_ns() - start < spin_ns) {}
  atomic_fetch_add_explicit(&bg_polls, 1, memory_order_relaxed);
  luminal_context_yield(cx); /* yield: poll me again after the others */
  return LUMINAL_POLL_PENDING;
}

/* The interactive task: records the latency of the wake that got it polled, then hands the thread its waker. */
static luminal_poll interactive(void *s, luminal_context *cx, void **out) {
  (void)s, (void)out;
  uint64_t t1 = now_ns(), t0 = atomic_exchange(&t0_ns, 0);
  if (t0 && n < total) samples[n++] = t1 - t0;
  if (n == total) {
    atomic_store(&finished, 1);
    pthread_mutex_lock(&sig.m);
    sig.done = 1;
    pthread_cond_signal(&sig.c);
    pthread_mutex_unlock(&sig.m);
    return LUMINAL_POLL_READY;
  }
  atomic_store(&slot, luminal_waker_clone(luminal_context_waker(cx)));
  return LUMINAL_POLL_PENDING;
}

/* The outside thread: every ~1 ms (busy: 100 us), wake the interactive task (if it has run since the last wake).
 * The sleep gets 0-50 us (busy: 0-20 us) of jitter, one poll's length, so the wakes do not phase-lock with the
 * background polls (which would flatter p50). */
static void *waker_thread(void *arg) {
  (void)arg;
  uint32_t rnd = 2463534242u;
  while (!atomic_load(&finished)) {
    rnd ^= rnd << 13, rnd ^= rnd >> 17, rnd ^= rnd << 5; /* xorshift32 */
    struct timespec ms = {0, (long)(period_ns + rnd % spin_ns)};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ms, NULL);
    luminal_waker *w = atomic_exchange(&slot, NULL);
    if (!w) { atomic_fetch_add(&skipped, 1); continue; }
    atomic_store(&t0_ns, now_ns());
    luminal_waker_wake(w);
  }
  return NULL;
}

static void run(const char *config) {
  int levels = strcmp(config, "levels") == 0;
  if (strcmp(config, "busy") == 0) spin_ns = 20000, period_ns = 100000;
  else if (!levels && strcmp(config, "flat") != 0) { fprintf(stderr, "unknown config %s\n", config); exit(2); }
  int workers = env("BENCH_WORKERS", 2);
  size_t wakes = (size_t)env("BENCH_PRIORITY_WAKES", 2000);
  total = WARMUP_WAKES + wakes;
  samples = malloc(total * sizeof *samples);

  luminal_runtime *rt;
  luminal_runtime_options opts = {.struct_size = sizeof opts, .worker_threads = (uint32_t)workers};
  check(luminal_runtime_new(&opts, &rt));
  luminal_spawn_options bg = {.struct_size = sizeof bg, .priority = levels ? LUMINAL_PRIORITY_BACKGROUND : 0};
  luminal_spawn_options ui = {.struct_size = sizeof ui, .priority = levels ? LUMINAL_PRIORITY_USER_INTERACTIVE : 0};
  for (int i = 0; i < 4 * workers; i++)
    check(luminal_spawn_with(rt, (luminal_future){.poll = background}, &bg, NULL));
  usleep(50000); /* let the background tasks occupy the workers */

  check(luminal_spawn_with(rt, (luminal_future){.poll = interactive}, &ui, NULL));
  while (!atomic_load(&slot)) usleep(100);
  pthread_t th;
  pthread_create(&th, NULL, waker_thread, NULL);
  uint64_t start = 0, polls0 = 0;
  pthread_mutex_lock(&sig.m);
  while (!sig.done) {
    if (!start && n >= WARMUP_WAKES) start = now_ns(), polls0 = atomic_load(&bg_polls); /* racy read: fine */
    struct timespec ms;
    clock_gettime(CLOCK_REALTIME, &ms);
    ms.tv_nsec += 10000000;
    if (ms.tv_nsec >= 1000000000) ms.tv_sec++, ms.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&sig.c, &sig.m, &ms);
  }
  pthread_mutex_unlock(&sig.m);
  double secs = start ? (now_ns() - start) / 1e9 : 0;
  uint64_t polls = atomic_load(&bg_polls) - polls0;
  pthread_join(th, NULL);
  atomic_store(&stop, 1);
  check(luminal_runtime_shutdown(rt, 5000000000u));
  luminal_runtime_release(rt);

  uint64_t *v = samples + WARMUP_WAKES;
  qsort(v, wakes, sizeof v[0], cmp_u64);
  printf("priority_%s_p50_ns\t%llu\t%zu\n", config, (unsigned long long)v[wakes / 2], wakes);
  printf("priority_%s_p99_ns\t%llu\t%zu\n", config, (unsigned long long)v[wakes * 99 / 100], wakes);
  printf("priority_%s_max_ns\t%llu\t%zu\n", config, (unsigned long long)v[wakes - 1], wakes);
  printf("priority_%s_bg_polls_per_s\t%.0f\t%zu\n", config, secs > 0 ? polls / secs : 0, wakes);
  printf("priority_%s_skipped_wakes\t%llu\t%zu\n", config, (unsigned long long)atomic_load(&skipped), wakes);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc == 2) { run(argv[1]); return 0; }
  /* Several configurations (or none = both): each in a fresh process, one after the other. */
  static const char *dflt[] = {"levels", "flat", "busy"};
  const char **configs = argc > 1 ? (const char **)argv + 1 : dflt;
  int count = argc > 1 ? argc - 1 : 3;
  char self[2048] = {0}, cmd[4096];
  if (readlink("/proc/self/exe", self, sizeof self - 1) < 0) return 1;
  for (int i = 0; i < count; i++) {
    snprintf(cmd, sizeof cmd, "'%s' '%s'", self, configs[i]);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}
