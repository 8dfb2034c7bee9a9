/* No GC caused by the runtime (issue 15): a garbage collection in libluminal pauses every host thread that is
 * inside a Luminal call, so growing the number of live tasks must not run one.
 *
 *   grow:  a host thread spawns 1,000,000 tasks that stay pending (each parks its waker), then wakes them all and
 *          waits until every one has finished; twice (the second round reuses the slots). Prints the collections
 *          each round caused (luminal_debug_gc_count) and the seconds it took.
 *   storm: the same growth to 1,000,000 live tasks while another host thread reads a file through the runtime
 *          (luminal_file_read_at, 64 KiB, in a block_on loop); each luminal_spawn call of the spawning thread is
 *          timed (CLOCK_MONOTONIC): p50/p99/p99.99/max in ns, and the collections during the storm.
 *   io:    a host thread starts 100,000 one-byte stream reads on pipes (20 per pipe, RLIMIT_NOFILE raised as far as
 *          the hard limit allows), each awaited by a task, waits until all are in flight at once, then writes one
 *          byte per read; twice. Prints the collections each round caused and the seconds it took.
 * Prints `gc_<part>_<stat><TAB>value<TAB>samples` lines. Usage: bench_gc [grow|storm|io]... (default all, each in a
 * fresh process). env: BENCH_WORKERS (2), BENCH_GC_TASKS (1000000), BENCH_GC_READS (100000), BENCH_GC_FILE (a 4 MiB
 * file made under /tmp).
 * BENCH_GC_WHY=1 (storm): also reads the spawning thread's context-switch counts (getrusage(RUSAGE_THREAD), two
 * system calls per spawn, so the p50 is not comparable) and prints how many calls took over 50 us and how many of
 * those had the thread switched out meanwhile (descheduled: preempted by the OS, or "slept": blocked in the kernel,
 * which would be a wait inside Luminal) or, on CPU, took
 * page faults. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "luminal.h"
#include "bench_util.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void check(luminal_status s, const char *what) {
  if (s != LUMINAL_OK) { fprintf(stderr, "%s: %s\n", what, luminal_status_str(s)); exit(1); }
}

/* ---- a task that stays pending until told ---- */
typedef struct cell { luminal_waker *waker; atomic_int go; } cell;
static cell *cells;
static atomic_long parked, dropped;
static int why;                 /* BENCH_GC_WHY */
static long slow_calls, slow_switched, slow_slept, slow_faulted;

/* The calling thread's context switches; *voluntary: those where it slept (blocked in the kernel), the others
 * are preemptions. */
static long switches(long *faults, long *voluntary) {
  struct rusage u;
  getrusage(RUSAGE_THREAD, &u);
  *faults = u.ru_minflt + u.ru_majflt;
  *voluntary = u.ru_nvcsw;
  return u.ru_nvcsw + u.ru_nivcsw;
}

static luminal_poll pending_poll(void *s, luminal_context *cx, void **out) {
  cell *c = s;
  (void)out;
  if (atomic_load(&c->go)) return LUMINAL_POLL_READY;
  if (!c->waker) { c->waker = luminal_waker_clone(luminal_context_waker(cx)); atomic_fetch_add(&parked, 1); }
  return LUMINAL_POLL_PENDING;
}
static void count_drop(void *s) { (void)s; atomic_fetch_add(&dropped, 1); }

/* Spawns n pending tasks (timing each call into lat, if given), waits until all are parked, wakes them all and
 * waits until all are dropped. */
static void grow_and_shrink(luminal_runtime *rt, int n, uint64_t *lat) {
  atomic_store(&parked, 0);
  atomic_store(&dropped, 0);
  memset(cells, 0, sizeof(cell) * (size_t)n);
  for (int i = 0; i < n; i++) {
    luminal_future f = {&cells[i], pending_poll, count_drop, NULL};
    long pf0 = 0, pf1 = 0, v0 = 0, v1 = 0, sw0 = why && lat ? switches(&pf0, &v0) : 0;
    uint64_t t0 = lat ? now_ns() : 0;
    check(luminal_spawn(rt, f, NULL), "luminal_spawn");
    if (lat) lat[i] = now_ns() - t0;
    if (why && lat && lat[i] > 50000) {
      slow_calls++;
      if (switches(&pf1, &v1) != sw0) slow_switched++, slow_slept += v1 != v0;
      else if (pf1 != pf0) slow_faulted++; /* on CPU, but page faults (first touch of new table memory) */
    }
  }
  while (atomic_load(&parked) < n) usleep(1000);
  for (int i = 0; i < n; i++) { atomic_store(&cells[i].go, 1); luminal_waker_wake(cells[i].waker); }
  while (atomic_load(&dropped) < n) usleep(1000);
}

/* ---- the file-reading host thread (storm) ---- */
static atomic_int io_stop;
static atomic_long io_reads;
typedef struct reader { luminal_runtime *rt; int fd; } reader;

static void *read_loop(void *arg) {
  reader *r = arg;
  static char buf[65536];
  uint64_t off = 0;
  while (!atomic_load(&io_stop)) {
    luminal_io_result res;
    luminal_future f;
    check(luminal_file_read_at(r->rt, r->fd, buf, sizeof buf, off, &res, &f), "luminal_file_read_at");
    check(luminal_block_on(r->rt, f, NULL), "luminal_block_on");
    if (res.status != LUMINAL_OK || res.value == 0) off = 0; else off += res.value;
    if (off >= 4u << 20) off = 0;
    atomic_fetch_add(&io_reads, 1);
  }
  return NULL;
}

static int make_file(void) {
  char path[] = "/tmp/bench_gc_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) { perror("mkstemp"); exit(1); }
  unlink(path);
  static char block[65536];
  memset(block, 'x', sizeof block);
  for (int i = 0; i < 64; i++)
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) { perror("write"); exit(1); }
  return fd;
}

/* ---- pending stream reads (io) ---- */
typedef struct pending_read { luminal_future read; luminal_io_result result; char byte; } pending_read;

static luminal_poll read_poll(void *s, luminal_context *cx, void **out) {
  pending_read *r = s;
  if (r->read.poll(r->read.state, cx, out) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  *out = NULL;
  return LUMINAL_POLL_READY;
}
static void read_drop(void *s) {
  pending_read *r = s;
  r->read.drop(r->read.state);
  atomic_fetch_add(&dropped, 1);
}

static uint64_t io_in_flight(luminal_runtime *rt) {
  luminal_runtime_metrics m = {.struct_size = sizeof m};
  check(luminal_runtime_get_metrics(rt, &m), "luminal_runtime_get_metrics");
  return m.io_in_flight;
}

/* n reads, per_pipe on each pipe of fds, all in flight at once; then one byte per read. */
static void reads_grow_and_shrink(luminal_runtime *rt, pending_read *reads, int (*fds)[2], int n, int per_pipe) {
  int pipes = (n + per_pipe - 1) / per_pipe;
  atomic_store(&dropped, 0);
  for (int i = 0; i < n; i++) {
    check(luminal_stream_read(rt, fds[i % pipes][0], &reads[i].byte, 1, &reads[i].result, &reads[i].read),
          "luminal_stream_read");
    luminal_future f = {&reads[i], read_poll, read_drop, NULL};
    check(luminal_spawn(rt, f, NULL), "luminal_spawn");
  }
  while (io_in_flight(rt) < (uint64_t)n) usleep(1000);
  static char ones[64];
  memset(ones, 1, sizeof ones);
  for (int p = 0; p < pipes; p++) {
    int k = n / pipes + (p < n % pipes);
    if (write(fds[p][1], ones, (size_t)k) != k) { perror("write"); exit(1); }
  }
  while (atomic_load(&dropped) < n) usleep(1000);
}

static void run_io(luminal_runtime *rt) {
  int n = env("BENCH_GC_READS", 100000), per_pipe = 20, pipes = (n + per_pipe - 1) / per_pipe;
  struct rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  rlim_t want = (rlim_t)(2 * pipes + 256);
  if (lim.rlim_cur < want) {
    lim.rlim_cur = lim.rlim_max < want ? lim.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < want) { fprintf(stderr, "RLIMIT_NOFILE %lu: too low for %d pipes\n", (unsigned long)lim.rlim_cur, pipes); exit(1); }
  int(*fds)[2] = calloc((size_t)pipes, sizeof *fds);
  pending_read *reads = calloc((size_t)n, sizeof *reads);
  for (int p = 0; p < pipes; p++)
    if (pipe(fds[p]) != 0) { perror("pipe"); exit(1); }
  reads_grow_and_shrink(rt, reads, fds, 100, 2); /* warm-up: the backend and its threads */
  for (int round = 1; round <= 2; round++) {
    uint64_t g0 = luminal_debug_gc_count(), t0 = now_ns();
    reads_grow_and_shrink(rt, reads, fds, n, per_pipe);
    double secs = (now_ns() - t0) / 1e9;
    printf("gc_io_round%d_collections\t%llu\t%d\n", round, (unsigned long long)(luminal_debug_gc_count() - g0), n);
    printf("gc_io_round%d_s\t%.3f\t%d\n", round, secs, n);
  }
  for (int p = 0; p < pipes; p++) close(fds[p][0]), close(fds[p][1]);
  free(reads);
  free(fds);
}

static void run(const char *part) {
  int n = env("BENCH_GC_TASKS", 1000000);
  why = env("BENCH_GC_WHY", 0);
  cells = calloc((size_t)n, sizeof(cell));
  luminal_runtime *rt;
  luminal_runtime_options opts = {.struct_size = sizeof opts, .worker_threads = (uint32_t)env("BENCH_WORKERS", 2)};
  check(luminal_runtime_new(&opts, &rt), "luminal_runtime_new");
  grow_and_shrink(rt, 1000, NULL); /* warm-up: what is made once */
  if (strcmp(part, "io") == 0) {
    run_io(rt);
  } else if (strcmp(part, "grow") == 0) {
    for (int round = 1; round <= 2; round++) {
      uint64_t g0 = luminal_debug_gc_count(), t0 = now_ns();
      grow_and_shrink(rt, n, NULL);
      double secs = (now_ns() - t0) / 1e9;
      printf("gc_grow_round%d_collections\t%llu\t%d\n", round, (unsigned long long)(luminal_debug_gc_count() - g0), n);
      printf("gc_grow_round%d_s\t%.3f\t%d\n", round, secs, n);
    }
  } else if (strcmp(part, "storm") == 0) {
    reader r = {rt, make_file()};
    pthread_t th;
    pthread_create(&th, NULL, read_loop, &r);
    while (atomic_load(&io_reads) < 100) usleep(1000); /* the reader is going */
    uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)n);
    uint64_t g0 = luminal_debug_gc_count();
    long reads0 = atomic_load(&io_reads);
    grow_and_shrink(rt, n, lat);
    uint64_t gcs = luminal_debug_gc_count() - g0;
    long reads = atomic_load(&io_reads) - reads0;
    atomic_store(&io_stop, 1);
    pthread_join(th, NULL);
    close(r.fd);
    qsort(lat, (size_t)n, sizeof lat[0], cmp_u64);
    printf("gc_storm_collections\t%llu\t%d\n", (unsigned long long)gcs, n);
    printf("gc_storm_spawn_p50_ns\t%llu\t%d\n", (unsigned long long)lat[n / 2], n);
    printf("gc_storm_spawn_p99_ns\t%llu\t%d\n", (unsigned long long)lat[(size_t)n * 99 / 100], n);
    printf("gc_storm_spawn_p9999_ns\t%llu\t%d\n", (unsigned long long)lat[(size_t)n * 9999 / 10000], n);
    printf("gc_storm_spawn_max_ns\t%llu\t%d\n", (unsigned long long)lat[n - 1], n);
    printf("gc_storm_file_reads\t%ld\t%d\n", reads, n);
    if (why) {
      printf("gc_storm_why_slow_calls\t%ld\t%d\n", slow_calls, n);
      printf("gc_storm_why_slow_switched_out\t%ld\t%d\n", slow_switched, n);
      printf("gc_storm_why_slow_slept\t%ld\t%d\n", slow_slept, n); /* of those: blocked, not preempted */
      printf("gc_storm_why_slow_page_faults\t%ld\t%d\n", slow_faulted, n);
    }
    free(lat);
  } else {
    fprintf(stderr, "unknown part %s\n", part);
    exit(2);
  }
  fflush(stdout);
  check(luminal_runtime_shutdown(rt, 10000000000u), "luminal_runtime_shutdown");
  luminal_runtime_release(rt);
  free(cells);
}

int main(int argc, char **argv) {
  if (argc == 2) { run(argv[1]); return 0; }
  static const char *dflt[] = {"grow", "storm", "io"};
  const char **parts = argc > 1 ? (const char **)argv + 1 : dflt;
  int count = argc > 1 ? argc - 1 : 3;
  char self[2048] = {0}, cmd[4096];
  if (readlink("/proc/self/exe", self, sizeof self - 1) < 0) return 1;
  for (int i = 0; i < count; i++) {
    snprintf(cmd, sizeof cmd, "'%s' '%s'", self, parts[i]);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}
