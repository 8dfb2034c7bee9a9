/* Waking a parked worker from a host thread (issue 15: idle IO must cost the wake-ups nothing). Each sample: the
 * workers have parked (200 µs of sleep), the host calls luminal_spawn (which unparks one: a futex wake, or a NOP
 * through the io_uring ring when a worker sleeps there), then spins until the task has run.
 * Usage: bench_wake. Prints `wake_spawn_call_ns` (the luminal_spawn call: the waker's cost) and
 * `wake_spawn_to_run_ns` (call to the task's first instruction), both the p50 over BENCH_WAKE_SAMPLES (3000).
 * env: BENCH_WORKERS (2), BENCH_IO_FIRST (1: one file read through the runtime first, so its io_uring ring exists
 * with nothing in flight; names get `_after_io`; 0: names get `_no_io`). */
#include "luminal.h"
#include "bench_util.h"
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static atomic_uint_fast64_t ran; /* when the task ran (ns), 0 before */

static void check(luminal_status s) {
  if (s != LUMINAL_OK) { fprintf(stderr, "luminal: %s\n", luminal_status_str(s)); exit(1); }
}
static luminal_poll mark(void *s, luminal_context *cx, void **out) {
  (void)s, (void)cx, (void)out;
  atomic_store(&ran, now_ns());
  return LUMINAL_POLL_READY;
}

int main(void) {
  int n = env("BENCH_WAKE_SAMPLES", 3000);
  if (n < 10) return 2;
  luminal_runtime *rt;
  luminal_runtime_options opts = {.struct_size = sizeof opts, .worker_threads = (uint32_t)env("BENCH_WORKERS", 2)};
  check(luminal_runtime_new(&opts, &rt));
  const char *suffix = "";
  const char *io_suffix = bench_io_first(rt); /* BENCH_IO_FIRST */
  if (io_suffix) suffix = io_suffix;
  uint64_t *call = malloc((size_t)n * sizeof *call), *run = malloc((size_t)n * sizeof *run);
  if (!call || !run) return 1;
  for (int i = 0; i < n; i++) {
    usleep(200); /* the workers park */
    atomic_store(&ran, 0);
    uint64_t t0 = now_ns();
    check(luminal_spawn(rt, (luminal_future){.poll = mark}, NULL));
    uint64_t t1 = now_ns(), r;
    while (!(r = atomic_load(&ran))) {}
    call[i] = t1 - t0;
    run[i] = r - t0;
  }
  qsort(call, (size_t)n, sizeof *call, cmp_u64);
  qsort(run, (size_t)n, sizeof *run, cmp_u64);
  printf("wake_spawn_call_ns%s\t%llu\t%d\n", suffix, (unsigned long long)call[n / 2], n);
  printf("wake_spawn_to_run_ns%s\t%llu\t%d\n", suffix, (unsigned long long)run[n / 2], n);
  free(call);
  free(run);
  luminal_runtime_release(rt);
  return 0;
}
