/* Shutdown with many IO operations in flight: N tasks each parked on a pipe read that never gets data, then
 * luminal_runtime_shutdown + luminal_runtime_release are timed (every read has to be cancelled and its future
 * dropped exactly once; the program checks both).
 *
 * Usage: bench_shutdown uring|pool   (run.sh runs each backend in a fresh process)
 * Prints `io_shutdown_reads_<backend>_ms<TAB>median ms<TAB>reps` (shutdown + release), and on stderr the setup
 * time and each rep. env: BENCH_WORKERS (2), BENCH_SHUTDOWN_OPS (100000 reads in flight), BENCH_SHUTDOWN_REPS (5).
 * The reads share the pipes (several reads per pipe) so that the fds fit RLIMIT_NOFILE, raised to its hard limit. */
#define _GNU_SOURCE
#include "luminal.h"
#include "bench_util.h"
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { MAXREPS = 32, MAXPIPES = 8000 };

typedef struct parked {
  int fd;
  int live;
  atomic_int dropped;
  char buf[16];
  luminal_io_result r;
  luminal_future op;
} parked;

static atomic_long submitted;

static void die(const char *what, luminal_status s) {
  fprintf(stderr, "bench_shutdown: %s: %s\n", what, luminal_status_str(s));
  exit(1);
}
static double cpu_ms(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}
static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static luminal_poll parked_poll(void *state, luminal_context *cx, void **out) {
  parked *p = state;
  if (!p->live) {
    luminal_status s = luminal_stream_read(luminal_context_runtime(cx), p->fd, p->buf, sizeof p->buf, &p->r, &p->op);
    if (s != LUMINAL_OK) die("luminal_stream_read", s);
    p->live = 1;
    atomic_fetch_add(&submitted, 1);
  }
  void *o = NULL;
  if (p->op.poll(p->op.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  fprintf(stderr, "bench_shutdown: a read on an idle pipe completed (status %d)\n", p->r.status);
  exit(1);
  (void)out;
}

static void parked_drop(void *state) {
  parked *p = state;
  if (p->live) p->op.drop(p->op.state);
  p->live = 0;
  atomic_fetch_add(&p->dropped, 1);
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "uring") && strcmp(argv[1], "pool"))) {
    fprintf(stderr, "usage: bench_shutdown uring|pool\n");
    return 2;
  }
  uint32_t backend = strcmp(argv[1], "uring") == 0 ? LUMINAL_IO_URING : LUMINAL_IO_POOL;
  int n = env("BENCH_SHUTDOWN_OPS", 100000), reps = env("BENCH_SHUTDOWN_REPS", 5);
  if (reps < 1) reps = 1;
  if (reps > MAXREPS) reps = MAXREPS;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  long pipes = ((long)(rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : rl.rlim_cur) - 64) / 2;
  if (pipes > MAXPIPES) pipes = MAXPIPES;
  if (pipes > n) pipes = n;
  if (pipes < 1) { fprintf(stderr, "bench_shutdown: RLIMIT_NOFILE too small\n"); return 1; }
  int32_t(*fds)[2] = calloc((size_t)pipes, sizeof *fds);
  parked *ps = calloc((size_t)n, sizeof *ps);
  if (!fds || !ps) return 1;
  for (long i = 0; i < pipes; i++) {
    luminal_status s = luminal_pipe(fds[i], NULL);
    if (s != LUMINAL_OK) die("luminal_pipe", s);
  }
  double ms[MAXREPS];
  for (int rep = 0; rep < reps; rep++) {
    luminal_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.worker_threads = (uint32_t)env("BENCH_WORKERS", 2);
    o.io_backend = backend;
    luminal_runtime *rt = NULL;
    luminal_status s = luminal_runtime_new(&o, &rt);
    if (s != LUMINAL_OK) die("luminal_runtime_new", s);
    if (luminal_runtime_io_backend(rt) != backend) { fprintf(stderr, "bench_shutdown: backend unavailable\n"); return 1; }
    atomic_store(&submitted, 0);
    memset(ps, 0, (size_t)n * sizeof *ps);
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
      ps[i].fd = fds[i % pipes][0];
      luminal_future f = {&ps[i], parked_poll, parked_drop, NULL};
      s = luminal_spawn(rt, f, NULL);
      if (s != LUMINAL_OK) die("luminal_spawn", s);
    }
    while (atomic_load(&submitted) < n) usleep(1000);
    usleep(50 * 1000); /* every read is parked */
    uint64_t t1 = now_ns();
    double c1 = cpu_ms();
    s = luminal_runtime_shutdown(rt, UINT64_MAX);
    if (s != LUMINAL_OK) die("luminal_runtime_shutdown", s);
    luminal_runtime_release(rt);
    uint64_t t2 = now_ns();
    double c2 = cpu_ms();
    for (int i = 0; i < n; i++)
      if (atomic_load(&ps[i].dropped) != 1) {
        fprintf(stderr, "bench_shutdown: read %d dropped %d times\n", i, atomic_load(&ps[i].dropped));
        return 1;
      }
    ms[rep] = (t2 - t1) / 1e6;
    fprintf(stderr, "bench_shutdown %s: %d reads on %ld pipes, setup %.0f ms, shutdown + release %.1f ms (CPU %.0f ms)\n",
            argv[1], n, pipes, (t1 - t0) / 1e6 - 50, ms[rep], c2 - c1);
  }
  qsort(ms, (size_t)reps, sizeof ms[0], cmp_d);
  printf("io_shutdown_reads_%s_ms\t%.1f\t%d\n", argv[1], ms[reps / 2], reps);
  for (long i = 0; i < pipes; i++) close(fds[i][0]), close(fds[i][1]);
  free(ps);
  free(fds);
  return 0;
}
