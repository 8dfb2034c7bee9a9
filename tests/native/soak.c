/*
 * soak.c — a long run of mixed load on one runtime that watches the process for unbounded growth.
 *
 *   soak                    (LUMSOAK_SECONDS, default 300; LUMSOAK_SAMPLE_MS, default 1000; LUMSOAK_CSV=<file>
 *                            writes every sample; LUMSOAK_WORKERS, default 2)
 *
 * Load, all at once, for the whole run:
 *  - spawn/join churn: batches of 256 tiny tasks from a plain thread (half READY at once, half yield once), joined;
 *    and a task that fans out 64 children with luminal_context_spawn and awaits them with luminal_task_poll;
 *  - timers: batches of sleeps (0-3 ms) and timeouts around never-ready futures (1 ms), joined;
 *  - TCP echo over loopback: an accept loop (one task per connection echoing until EOF) and 4 client tasks that
 *    each connect, do 100 round trips of 64 bytes, close, and start over;
 *  - scopes: a scope gets 64 tasks (half pending forever), is closed (stats.live must be 0) and released;
 *  - the blocking pool: a blocking call (0-200 us) now and then.
 *
 * Every sample records RSS (anon / file), open fds, threads and the work done. At the end it prints the slope of
 * each over the second half of the run (after warm-up) and fails (exit 1) on growth that does not level off: the
 * last quarter's median must not exceed the second quarter's median by more than LUMSOAK_RSS_MB (default 48 MB),
 * 8 fds or 8 threads, and the second half's RSS slope must stay under LUMSOAK_RSS_SLOPE (default 4 MB/min).
 * /proc/self/smaps is summarised at start, middle and end (the GC heap reservation, malloc, stacks, the rest),
 * which is what bench/NOTES.md uses to explain RSS steps.
 */
#include <luminal.h>

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                                                                  \
  do {                                                                                                            \
    fprintf(stderr, "soak: FAILED: " __VA_ARGS__);                                                                \
    fprintf(stderr, "\n");                                                                                        \
    _exit(1);                                                                                                     \
  } while (0)
#define CHECK_ST(e, want)                                                                                          \
  do {                                                                                                            \
    luminal_status _s = (e);                                                                                      \
    if (_s != (want)) FAIL("%s:%d: %s = %d (%s)", __FILE__, __LINE__, #e, (int)_s, luminal_status_str(_s));      \
  } while (0)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static void sleep_us(unsigned us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}
static long env_long(const char *n, long d) {
  const char *v = getenv(n);
  return v && *v ? strtol(v, NULL, 0) : d;
}

static luminal_runtime *g_rt;
static atomic_int g_stop;
static atomic_llong n_tasks, n_echoes, n_timers, n_scopes, n_blocking, n_conns;
static atomic_llong n_created, n_dropped;

/* ---- tiny futures ------------------------------------------------------------------------------------------ */

typedef struct tiny {
  int yields;
  int forever;
} tiny;

static luminal_poll tiny_poll(void *s, luminal_context *cx, void **out) {
  tiny *t = s;
  if (t->forever) return LUMINAL_POLL_PENDING;
  if (t->yields > 0) {
    t->yields--;
    luminal_context_yield(cx);
    return LUMINAL_POLL_PENDING;
  }
  *out = NULL;
  return LUMINAL_POLL_READY;
}
static void tiny_drop(void *s) {
  free(s);
  atomic_fetch_add(&n_dropped, 1);
}
static luminal_future tiny_new(int yields, int forever) {
  tiny *t = malloc(sizeof *t);
  t->yields = yields;
  t->forever = forever;
  atomic_fetch_add(&n_created, 1);
  luminal_future f = {t, tiny_poll, tiny_drop, NULL};
  return f;
}

static void *blocking_fn(void *a) {
  sleep_us((unsigned)(uintptr_t)a);
  atomic_fetch_add(&n_blocking, 1);
  return NULL;
}

/* ---- fan-out: a task spawns 64 children and awaits them --------------------------------------------------- */

typedef struct fan {
  luminal_task *kids[64];
  int n, next;
} fan;

static luminal_poll fan_poll(void *s, luminal_context *cx, void **out) {
  fan *f = s;
  if (f->n == 0) {
    for (int i = 0; i < 64; i++) CHECK_ST(luminal_context_spawn(cx, tiny_new(i & 1, 0), &f->kids[i]), LUMINAL_OK);
    f->n = 64;
  }
  while (f->next < f->n) {
    void *o;
    luminal_status st = luminal_task_poll(f->kids[f->next], cx, &o);
    if (st == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
    if (st != LUMINAL_OK) FAIL("fan-out child: %s", luminal_status_str(st));
    luminal_task_release(f->kids[f->next]);
    f->kids[f->next++] = NULL;
  }
  atomic_fetch_add(&n_tasks, 65);
  *out = NULL;
  return LUMINAL_POLL_READY;
}
static void fan_drop(void *s) {
  fan *f = s;
  for (int i = 0; i < 64; i++) luminal_task_release(f->kids[i]);
  free(f);
  atomic_fetch_add(&n_dropped, 1);
}

static void *churn_thread(void *p) {
  (void)p;
  luminal_task *ts[256];
  unsigned k = 0;
  while (!atomic_load(&g_stop)) {
    for (int i = 0; i < 256; i++) CHECK_ST(luminal_spawn(g_rt, tiny_new(i & 1, 0), &ts[i]), LUMINAL_OK);
    for (int i = 0; i < 256; i++) {
      CHECK_ST(luminal_task_join(ts[i], UINT64_MAX, NULL), LUMINAL_OK);
      luminal_task_release(ts[i]);
    }
    atomic_fetch_add(&n_tasks, 256);
    fan *f = calloc(1, sizeof *f);
    atomic_fetch_add(&n_created, 1);
    luminal_future ff = {f, fan_poll, fan_drop, NULL};
    luminal_task *t;
    CHECK_ST(luminal_spawn(g_rt, ff, &t), LUMINAL_OK);
    CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(t);
    if (++k % 16 == 0) CHECK_ST(luminal_spawn_blocking(g_rt, blocking_fn, (void *)(uintptr_t)(k % 100), NULL), LUMINAL_OK);
  }
  return NULL;
}


/* ---- timers ------------------------------------------------------------------------------------------------ */

static void *timer_thread(void *p) {
  (void)p;
  unsigned seed = 7;
  luminal_task *ts[128];
  while (!atomic_load(&g_stop)) {
    for (int i = 0; i < 128; i++) {
      luminal_future f;
      if (i % 4 == 3) {
        CHECK_ST(luminal_timeout(g_rt, tiny_new(0, 1), 1000000, &f), LUMINAL_OK);
      } else {
        seed = seed * 1103515245u + 12345u;
        CHECK_ST(luminal_sleep(g_rt, (seed >> 8) % 3000000, &f), LUMINAL_OK);
      }
      CHECK_ST(luminal_spawn(g_rt, f, &ts[i]), LUMINAL_OK);
    }
    for (int i = 0; i < 128; i++) {
      void *o = NULL;
      CHECK_ST(luminal_task_join(ts[i], UINT64_MAX, &o), LUMINAL_OK);
      if (i % 4 == 3 && o != LUMINAL_TIMED_OUT_OUTPUT) FAIL("timeout output %p", o);
      luminal_task_release(ts[i]);
    }
    atomic_fetch_add(&n_timers, 128);
    seed = seed * 1103515245u + 12345u;
    luminal_task *b;
    CHECK_ST(luminal_spawn_blocking(g_rt, blocking_fn, (void *)(uintptr_t)((seed >> 8) % 200), &b), LUMINAL_OK);
    CHECK_ST(luminal_task_join(b, UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(b);
  }
  return NULL;
}

/* ---- scopes ------------------------------------------------------------------------------------------------ */

static void *scope_thread(void *p) {
  (void)p;
  while (!atomic_load(&g_stop)) {
    luminal_scope *sc;
    CHECK_ST(luminal_scope_new(g_rt, &sc), LUMINAL_OK);
    luminal_spawn_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.scope = sc;
    for (int i = 0; i < 64; i++) CHECK_ST(luminal_spawn_with(g_rt, tiny_new(i % 3, i & 1), &o, NULL), LUMINAL_OK);
    sleep_us(500);
    CHECK_ST(luminal_scope_close(sc, UINT64_MAX), LUMINAL_OK);
    luminal_scope_counters c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    CHECK_ST(luminal_scope_stats(sc, &c), LUMINAL_OK);
    if (c.live != 0 || c.spawned != 64) FAIL("scope after close: live %" PRIu64 " spawned %" PRIu64, c.live, c.spawned);
    luminal_scope_release(sc);
    atomic_fetch_add(&n_scopes, 1);
  }
  return NULL;
}

/* ---- TCP echo ---------------------------------------------------------------------------------------------- */

/* A connection's echo loop (server side): read, write it all back, until EOF. */
typedef struct echo_conn {
  int fd, phase; /* 0 reading, 1 writing */
  luminal_future op;
  int has_op;
  luminal_io_result res;
  char buf[256];
  size_t len, off;
} echo_conn;

static luminal_poll conn_poll(void *s, luminal_context *cx, void **out) {
  echo_conn *c = s;
  luminal_runtime *rt = luminal_context_runtime(cx);
  for (;;) {
    if (!c->has_op) {
      if (c->phase == 0) CHECK_ST(luminal_stream_read(rt, c->fd, c->buf, sizeof c->buf, &c->res, &c->op), LUMINAL_OK);
      else CHECK_ST(luminal_stream_write(rt, c->fd, c->buf + c->off, c->len - c->off, &c->res, &c->op), LUMINAL_OK);
      c->has_op = 1;
    }
    void *o;
    if (c->op.poll(c->op.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    c->op.drop(c->op.state);
    c->has_op = 0;
    if (c->res.status != LUMINAL_OK || (c->phase == 0 && c->res.value == 0)) { /* EOF or reset */
      *out = NULL;
      return LUMINAL_POLL_READY;
    }
    if (c->phase == 0) {
      c->len = c->res.value;
      c->off = 0;
      c->phase = 1;
    } else {
      c->off += c->res.value;
      if (c->off == c->len) c->phase = 0;
    }
  }
}
static void conn_drop(void *s) {
  echo_conn *c = s;
  if (c->has_op) c->op.drop(c->op.state);
  close(c->fd);
  free(c);
  atomic_fetch_add(&n_dropped, 1);
}

typedef struct acceptor {
  int lfd;
  luminal_future op;
  int has_op;
  luminal_io_result res;
} acceptor;

static luminal_poll acc_poll(void *s, luminal_context *cx, void **out) {
  acceptor *a = s;
  for (;;) {
    if (!a->has_op) {
      CHECK_ST(luminal_tcp_accept(luminal_context_runtime(cx), a->lfd, &a->res, &a->op), LUMINAL_OK);
      a->has_op = 1;
    }
    void *o;
    if (a->op.poll(a->op.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    a->op.drop(a->op.state);
    a->has_op = 0;
    if (a->res.status != LUMINAL_OK) FAIL("accept: %d errno %d", a->res.status, a->res.os_error);
    echo_conn *c = calloc(1, sizeof *c);
    c->fd = (int)a->res.value;
    atomic_fetch_add(&n_created, 1);
    luminal_future f = {c, conn_poll, conn_drop, NULL};
    CHECK_ST(luminal_context_spawn(cx, f, NULL), LUMINAL_OK);
    atomic_fetch_add(&n_conns, 1);
  }
  (void)out;
}
static void acc_drop(void *s) {
  acceptor *a = s;
  if (a->has_op) a->op.drop(a->op.state);
  free(a);
  atomic_fetch_add(&n_dropped, 1);
}

/* A client: connect, 100 round trips of 64 bytes, close, repeat (until stopped). */
typedef struct client {
  uint16_t port;
  int fd, step, trips;
  luminal_future op;
  int has_op;
  luminal_io_result res;
  char out[64], in[64];
  size_t got, sent;
} client;

static luminal_poll cli_poll(void *s, luminal_context *cx, void **out) {
  client *c = s;
  luminal_runtime *rt = luminal_context_runtime(cx);
  for (;;) {
    if (!c->has_op) {
      if (atomic_load(&g_stop) && c->step != 0) {
        /* finish the current connection quietly */
      }
      if (c->step == 0 && atomic_load(&g_stop)) {
        *out = NULL;
        return LUMINAL_POLL_READY;
      }
      switch (c->step) {
      case 0: CHECK_ST(luminal_tcp_connect(rt, "127.0.0.1", c->port, &c->res, &c->op), LUMINAL_OK); break;
      case 1: CHECK_ST(luminal_stream_write(rt, c->fd, c->out + c->sent, 64 - c->sent, &c->res, &c->op), LUMINAL_OK); break;
      default: CHECK_ST(luminal_stream_read(rt, c->fd, c->in + c->got, 64 - c->got, &c->res, &c->op), LUMINAL_OK); break;
      }
      c->has_op = 1;
    }
    void *o;
    if (c->op.poll(c->op.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    c->op.drop(c->op.state);
    c->has_op = 0;
    if (c->res.status != LUMINAL_OK) FAIL("client step %d: status %d errno %d", c->step, c->res.status, c->res.os_error);
    switch (c->step) {
    case 0:
      c->fd = (int)c->res.value;
      c->trips = 0;
      c->sent = c->got = 0;
      c->step = 1;
      break;
    case 1:
      c->sent += c->res.value;
      if (c->sent == 64) c->step = 2;
      break;
    default:
      if (c->res.value == 0) FAIL("echo server closed early");
      c->got += c->res.value;
      if (c->got == 64) {
        if (memcmp(c->in, c->out, 64) != 0) FAIL("echo mismatch");
        atomic_fetch_add(&n_echoes, 1);
        c->out[c->trips % 64]++;
        c->sent = c->got = 0;
        c->step = 1;
        if (++c->trips == 100) {
          close(c->fd);
          c->fd = -1;
          c->step = 0;
        }
      }
      break;
    }
  }
}
static void cli_drop(void *s) {
  client *c = s;
  if (c->has_op) c->op.drop(c->op.state);
  if (c->fd >= 0) close(c->fd);
  free(c);
  atomic_fetch_add(&n_dropped, 1);
}

/* ---- sampling ---------------------------------------------------------------------------------------------- */

typedef struct sample {
  double t;
  double rss_mb, anon_mb, file_mb;
  double kinds[7]; /* smaps: GC heap, [heap], arenas, stacks, libluminal, other anon, other files */
  int fds, threads;
  long long tasks, echoes, timers, scopes;
} sample;

static void read_status(double *rss, double *anon, double *file, int *threads) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  *rss = *anon = *file = 0;
  *threads = 0;
  while (f && fgets(line, sizeof line, f)) {
    long v;
    if (sscanf(line, "VmRSS: %ld", &v) == 1) *rss = v / 1024.0;
    else if (sscanf(line, "RssAnon: %ld", &v) == 1) *anon = v / 1024.0;
    else if (sscanf(line, "RssFile: %ld", &v) == 1) *file = v / 1024.0;
    else if (sscanf(line, "Threads: %ld", &v) == 1) *threads = (int)v;
  }
  if (f) fclose(f);
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  if (d) closedir(d);
  return n - 1; /* the directory's own fd */
}

/* Sums RSS by kind of mapping: the GC heap (anonymous mappings in a contiguous run of >= 1 GiB of address space:
 * the GC reserves its range up front and commits pieces of it, each piece its own mapping), malloc ([heap] and the
 * 64 MiB thread arenas), thread stacks, libluminal.so, other anonymous memory, other files. */
typedef struct vma {
  unsigned long lo, hi;
  int anon, kind;
  double rss;
} vma;

static void smaps_sum(double sum[7]) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return;
  static vma v[65536];
  int n = 0;
  char line[512], name[256];
  while (fgets(line, sizeof line, f)) {
    unsigned long a, b;
    int header = (line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f');
    name[0] = 0;
    if (header && sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &a, &b, name) >= 2) {
      if (n == 65536) break;
      vma *x = &v[n++];
      x->lo = a, x->hi = b, x->rss = 0;
      x->anon = name[0] == 0;
      double mb = (b - a) / 1048576.0;
      x->kind = strstr(name, "libluminal") ? 4 : strcmp(name, "[heap]") == 0 ? 1 : strncmp(name, "[stack", 6) == 0 ? 3
              : name[0] ? 6 : (mb >= 60 && mb <= 64.1) ? 2 : 5;
      continue;
    }
    long kb;
    if (n > 0 && sscanf(line, "Rss: %ld kB", &kb) == 1) v[n - 1].rss = kb / 1024.0;
  }
  fclose(f);
  /* contiguous anonymous runs of >= 1 GiB: the GC's range */
  for (int i = 0; i < n;) {
    int j = i;
    while (j + 1 < n && v[i].anon && v[j + 1].anon && v[j + 1].lo == v[j].hi) j++;
    if (v[i].anon && v[j].hi - v[i].lo >= (1ul << 30))
      for (int k = i; k <= j; k++) v[k].kind = 0;
    i = j + 1;
  }
  /* 8 MiB + guard anonymous mappings are thread stacks (glibc and NativeAOT threads) */
  for (int i = 0; i < n; i++)
    if (v[i].kind == 5 && v[i].hi - v[i].lo >= (7ul << 20) && v[i].hi - v[i].lo <= (9ul << 20)) v[i].kind = 3;
  for (int i = 0; i < 7; i++) sum[i] = 0;
  for (int i = 0; i < n; i++) sum[v[i].kind] += v[i].rss;
}

static void smaps_summary(const char *when) {
  double sum[7];
  smaps_sum(sum);
  printf("soak: smaps %-6s RSS MB: GC heap %.1f, malloc [heap] %.1f, malloc arenas %.1f, stacks %.1f, "
         "libluminal %.1f, other anon %.1f, other files %.1f\n",
         when, sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6]);
  fflush(stdout);
}

static double slope_per_min(const sample *s, int from, int to, size_t off) {
  /* least squares of the field at byte offset `off` (a double) against t */
  double n = 0, st = 0, sv = 0, stt = 0, stv = 0;
  for (int i = from; i < to; i++) {
    double t = s[i].t, v = *(const double *)((const char *)&s[i] + off);
    n++, st += t, sv += v, stt += t * t, stv += t * v;
  }
  double d = n * stt - st * st;
  return d > 0 ? (n * stv - st * sv) / d * 60.0 : 0;
}
static double slope_int_per_min(const sample *s, int from, int to, int fds) {
  double n = 0, st = 0, sv = 0, stt = 0, stv = 0;
  for (int i = from; i < to; i++) {
    double t = s[i].t, v = fds ? s[i].fds : s[i].threads;
    n++, st += t, sv += v, stt += t * t, stv += t * v;
  }
  double d = n * stt - st * st;
  return d > 0 ? (n * stv - st * sv) / d * 60.0 : 0;
}
static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(const sample *s, int from, int to, int what) {
  int n = to - from;
  if (n <= 0) return 0;
  double *v = malloc(sizeof(double) * (size_t)n);
  for (int i = 0; i < n; i++) v[i] = what == 0 ? s[from + i].rss_mb : what == 1 ? s[from + i].fds : s[from + i].threads;
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  double m = v[n / 2];
  free(v);
  return m;
}

int main(void) {
  long seconds = env_long("LUMSOAK_SECONDS", 300);
  long sample_ms = env_long("LUMSOAK_SAMPLE_MS", 1000);
  double rss_limit = (double)env_long("LUMSOAK_RSS_MB", 48);
  double rss_slope_limit = (double)env_long("LUMSOAK_RSS_SLOPE", 4);
  const char *csv = getenv("LUMSOAK_CSV");
  signal(SIGPIPE, SIG_IGN);

  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = (uint32_t)env_long("LUMSOAK_WORKERS", 2);
  CHECK_ST(luminal_runtime_new(&o, &g_rt), LUMINAL_OK);
  printf("soak: %ld s, sample every %ld ms, %u workers, io backend %s\n", seconds, sample_ms,
         luminal_runtime_worker_count(g_rt), luminal_runtime_io_backend(g_rt) == LUMINAL_IO_URING ? "io_uring" : "pool");

  int32_t lfd;
  uint16_t port;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 64, &lfd, &port, NULL), LUMINAL_OK);
  acceptor *a = calloc(1, sizeof *a);
  a->lfd = lfd;
  atomic_fetch_add(&n_created, 1);
  luminal_future af = {a, acc_poll, acc_drop, NULL};
  luminal_task *acc_task;
  CHECK_ST(luminal_spawn(g_rt, af, &acc_task), LUMINAL_OK);
  luminal_task *clients[4];
  for (int i = 0; i < 4; i++) {
    client *c = calloc(1, sizeof *c);
    c->port = port;
    c->fd = -1;
    for (int k = 0; k < 64; k++) c->out[k] = (char)(k * 7 + i);
    atomic_fetch_add(&n_created, 1);
    luminal_future cf = {c, cli_poll, cli_drop, NULL};
    CHECK_ST(luminal_spawn(g_rt, cf, &clients[i]), LUMINAL_OK);
  }
  pthread_t th[3];
  pthread_create(&th[0], NULL, churn_thread, NULL);
  pthread_create(&th[1], NULL, timer_thread, NULL);
  pthread_create(&th[2], NULL, scope_thread, NULL);

  int cap = (int)(seconds * 1000 / sample_ms) + 8;
  sample *s = calloc((size_t)cap, sizeof *s);
  FILE *out = csv ? fopen(csv, "w") : NULL;
  if (out) fprintf(out, "t_s,rss_mb,anon_mb,file_mb,gc_heap_mb,malloc_heap_mb,malloc_arenas_mb,stacks_mb,lib_mb,other_anon_mb,fds,threads,tasks,echoes,timers,scopes\n");
  uint64_t t0 = now_ns();
  int n = 0;
  smaps_summary("start");
  while (n < cap) {
    sample *x = &s[n];
    x->t = (double)(now_ns() - t0) / 1e9;
    read_status(&x->rss_mb, &x->anon_mb, &x->file_mb, &x->threads);
    x->fds = count_fds();
    smaps_sum(x->kinds);
    x->tasks = atomic_load(&n_tasks);
    x->echoes = atomic_load(&n_echoes);
    x->timers = atomic_load(&n_timers);
    x->scopes = atomic_load(&n_scopes);
    if (out) {
      fprintf(out, "%.1f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%d,%d,%lld,%lld,%lld,%lld\n", x->t, x->rss_mb,
              x->anon_mb, x->file_mb, x->kinds[0], x->kinds[1], x->kinds[2], x->kinds[3], x->kinds[4], x->kinds[5], x->fds,
              x->threads, x->tasks, x->echoes, x->timers, x->scopes);
      fflush(out);
    }
    if (n % 30 == 0)
      printf("soak: t=%5.0f s rss %.1f MB (GC heap %.1f, malloc %.1f) fds %d threads %d tasks %lld echoes %lld timers %lld "
             "scopes %lld\n", x->t, x->rss_mb, x->kinds[0], x->kinds[1] + x->kinds[2], x->fds, x->threads, x->tasks, x->echoes,
             x->timers, x->scopes);
    fflush(stdout);
    n++;
    if (x->t >= (double)seconds) break;
    if (n == cap / 2) smaps_summary("middle");
    sleep_us((unsigned)sample_ms * 1000u);
  }
  smaps_summary("end");
  atomic_store(&g_stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) {
    CHECK_ST(luminal_task_join(clients[i], UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(clients[i]);
  }
  luminal_task_abort(acc_task);
  luminal_task_release(acc_task);
  CHECK_ST(luminal_runtime_shutdown(g_rt, UINT64_MAX), LUMINAL_OK);
  luminal_runtime_release(g_rt);
  close(lfd);
  if (out) fclose(out);

  int h = n / 2, q2 = n / 4, q4 = 3 * n / 4;
  double rss_slope = slope_per_min(s, h, n, offsetof(sample, rss_mb));
  double anon_slope = slope_per_min(s, h, n, offsetof(sample, anon_mb));
  double fd_slope = slope_int_per_min(s, h, n, 1), th_slope = slope_int_per_min(s, h, n, 0);
  double rss_q2 = median(s, q2, h, 0), rss_q4 = median(s, q4, n, 0);
  double fd_q2 = median(s, q2, h, 1), fd_q4 = median(s, q4, n, 1);
  double th_q2 = median(s, q2, h, 2), th_q4 = median(s, q4, n, 2);
  double secs = s[n - 1].t;
  printf("soak: done after %.0f s: %lld tasks, %lld TCP echoes (%lld connections), %lld timers, %lld scopes, %lld blocking "
         "calls; futures created %lld, dropped %lld\n",
         secs, (long long)atomic_load(&n_tasks), (long long)atomic_load(&n_echoes), (long long)atomic_load(&n_conns),
         (long long)atomic_load(&n_timers), (long long)atomic_load(&n_scopes), (long long)atomic_load(&n_blocking),
         (long long)atomic_load(&n_created), (long long)atomic_load(&n_dropped));
  double rss_max = 0;
  for (int i = 0; i < n; i++)
    if (s[i].rss_mb > rss_max) rss_max = s[i].rss_mb;
  printf("soak: RSS first %.1f MB, 2nd-quarter median %.1f, last-quarter median %.1f, max %.1f MB\n", s[0].rss_mb, rss_q2,
         rss_q4, rss_max);
  printf("soak: slopes over the second half: RSS %+.3f MB/min (anon %+.3f), fds %+.3f /min, threads %+.3f /min\n",
         rss_slope, anon_slope, fd_slope, th_slope);
  printf("soak: fds %.0f -> %.0f, threads %.0f -> %.0f (2nd vs last quarter medians)\n", fd_q2, fd_q4, th_q2, th_q4);
  int bad = 0;
  if (atomic_load(&n_created) != atomic_load(&n_dropped)) bad = printf("soak: FAILED: futures created != dropped\n");
  if (rss_q4 - rss_q2 > rss_limit && rss_slope > rss_slope_limit)
    bad = printf("soak: FAILED: RSS grows without bound (+%.1f MB between quarters, %.2f MB/min)\n", rss_q4 - rss_q2, rss_slope);
  if (fd_q4 - fd_q2 > 8) bad = printf("soak: FAILED: open fds grow (%.0f -> %.0f)\n", fd_q2, fd_q4);
  if (th_q4 - th_q2 > 8) bad = printf("soak: FAILED: threads grow (%.0f -> %.0f)\n", th_q2, th_q4);
  if (!bad) printf("soak: OK\n");
  return bad ? 1 : 0;
}
