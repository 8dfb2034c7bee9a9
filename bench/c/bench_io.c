/* IO: sequential reads of a 1 GiB file and a TCP echo over loopback, on Luminal's io_uring and blocking-pool
 * backends (the counterparts: ../rust-tokio/src/bin/bench-tokio-io.rs, and `cat file >/dev/null`).
 *
 * Usage: bench_io FILE part...   (run.sh runs each part in a fresh process)
 *   mkfile        write FILE: 1 GiB of pseudo-random bytes, fsync'ed (then read it once to warm the page cache)
 *   sync          no runtime: pread(2) 64 KiB at a time on the calling thread (the ceiling of a read loop)
 *   cat           time `cat FILE >/dev/null` (posix_spawn + waitpid)
 *   uring_qd1     a Luminal task reads FILE with luminal_file_read_at, 64 KiB at a time, one read in flight
 *   uring_qd8     the same with 8 reads in flight (8 buffers of 64 KiB, offsets issued in order)
 *   pool_qd1, pool_qd8   the same on the blocking-pool backend
 *   map_copy      a task maps FILE (luminal_file_map) and memcpy's it into one 64 KiB buffer, chunk by chunk
 *                 (the same one copy per byte a read does), then releases the view: map + copy + unmap timed
 *   map_sum       the same, summing the view as 64-bit words instead of copying
 *   tcp_uring, tcp_pool   TCP echo on 127.0.0.1: a server task (listen, accept, read/write loop) and a client task
 *                 sending 64-byte messages one at a time, each awaited back in full (ping-pong), TCP_NODELAY
 *   tcp6_uring, tcp6_pool   the same over IPv6 (::1)
 *   unix_uring, unix_pool   the same over a Unix socket (a Linux abstract name)
 * File parts print `io_file_<part>_gbps<TAB>median GB/s (1e9 bytes/s)<TAB>reps`; echo parts print
 * `io_<tcp|tcp6|unix>_echo_<backend>_msgs_per_s<TAB>median messages/s<TAB>reps`.
 * env: BENCH_WORKERS (2), BENCH_IO_REPS (5 file reads after 1 warm-up), BENCH_IO_TCP_REPS (3), BENCH_IO_MSGS (100000).
 * The page cache is kept warm (the file is read once after it is written, and every part reads it whole at least
 * once as warm-up): this measures the IO path's overhead, not the disk. */
#define _GNU_SOURCE
#include "luminal.h"
#include "bench_util.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
enum { CHUNK = 64 * 1024, MAXQD = 8, MSG = 64, MAXREPS = 64 };
static const uint64_t FILE_SIZE = 1ull << 30;

static luminal_runtime *rt;
static const char *path;

static void check(luminal_status s, const char *what) {
  if (s != LUMINAL_OK) { fprintf(stderr, "bench_io: %s: %s\n", what, luminal_status_str(s)); exit(1); }
}
static void check_io(const luminal_io_result *r, const char *what) {
  if (r->status != LUMINAL_OK) {
    fprintf(stderr, "bench_io: %s: %s (%s)\n", what, luminal_status_str(r->status), strerror(r->os_error));
    exit(1);
  }
}
static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp_dbl); return v[n / 2]; }
static uint8_t *chunk_buf(void) {
  uint8_t *b = aligned_alloc(4096, CHUNK);
  if (!b) exit(1);
  memset(b, 0, CHUNK);
  return b;
}
static uint64_t file_size(void) {
  struct stat st;
  if (stat(path, &st) != 0) { perror(path); exit(1); }
  return (uint64_t)st.st_size;
}
static volatile uint64_t sink; /* keeps the map_sum / sync loops honest */

/* An IO future polled inline from a task's own poll function, with its result slot. A completed future is
 * dropped at once and the next operation started right away (the natural loop). */
typedef struct { luminal_future f; luminal_io_result r; } op;
static void op_release(op *o) {
  if (o->f.poll && o->f.drop) o->f.drop(o->f.state);
  o->f.poll = NULL;
}
/* Polls o's future: 1 once it completed (dropped; o->r holds the result, checked), 0 while pending. */
static int op_done(op *o, luminal_context *cx, const char *what) {
  void *out;
  if (o->f.poll(o->f.state, cx, &out) == LUMINAL_POLL_PENDING) return 0;
  op_release(o);
  check_io(&o->r, what);
  return 1;
}


/* ---- file reads through luminal_file_read_at, `depth` reads in flight ---- */
typedef struct {
  int fd, depth;
  uint64_t size, next, bytes;
  op ops[MAXQD];
  uint64_t off[MAXQD];
  uint8_t *buf[MAXQD];
} reader;
static luminal_poll read_file(void *s, luminal_context *cx, void **out) {
  reader *z = s;
  (void)out;
  for (;;) {
    int pending = 0, completed = 0;
    for (int i = 0; i < z->depth; i++) {
      op *o = &z->ops[i];
      if (!o->f.poll && z->next < z->size) { /* a free slot: issue the next chunk */
        z->off[i] = z->next;
        z->next += CHUNK;
        check(luminal_file_read_at(luminal_context_runtime(cx), z->fd, z->buf[i], CHUNK, z->off[i], &o->r, &o->f),
              "luminal_file_read_at");
      }
      if (!o->f.poll) continue;
      if (!op_done(o, cx, "read_at")) { pending++; continue; }
      uint64_t want = z->size - z->off[i] < CHUNK ? z->size - z->off[i] : CHUNK;
      if (o->r.value != want) { fprintf(stderr, "bench_io: short read %llu\n", (unsigned long long)o->r.value); exit(1); }
      z->bytes += o->r.value;
      completed++;
    }
    if (!pending && z->next >= z->size) {
      for (int i = 0; i < z->depth; i++) op_release(&z->ops[i]);
      return LUMINAL_POLL_READY;
    }
    if (!completed) return LUMINAL_POLL_PENDING;
  }
}
static void run_task(luminal_future f) {
  luminal_task *t;
  check(luminal_spawn(rt, f, &t), "luminal_spawn");
  check(luminal_task_join(t, UINT64_MAX, NULL), "luminal_task_join");
  luminal_task_release(t);
}
static double read_once(int depth) {
  static reader z;
  if (!z.buf[0])
    for (int i = 0; i < MAXQD; i++) z.buf[i] = chunk_buf();
  z.fd = open(path, O_RDONLY | O_CLOEXEC);
  if (z.fd < 0) { perror(path); exit(1); }
  z.depth = depth, z.size = file_size(), z.next = 0, z.bytes = 0;
  uint64_t t = now_ns();
  run_task((luminal_future){.state = &z, .poll = read_file});
  t = now_ns() - t;
  close(z.fd);
  if (z.bytes != z.size) { fprintf(stderr, "bench_io: read %llu bytes\n", (unsigned long long)z.bytes); exit(1); }
  return (double)z.bytes / (double)t; /* bytes per ns = GB/s */
}

/* ---- mapped view: map, touch every byte (memcpy into a 64 KiB buffer, or a 64-bit sum), unmap ---- */
typedef struct { op o; luminal_view v; int copy; uint8_t *buf; uint64_t bytes; } mapper;
static luminal_poll map_file(void *s, luminal_context *cx, void **out) {
  mapper *z = s;
  (void)out;
  if (!z->o.f.poll)
    check(luminal_file_map(luminal_context_runtime(cx), path, &z->v, &z->o.r, &z->o.f), "luminal_file_map");
  if (!op_done(&z->o, cx, "file_map")) return LUMINAL_POLL_PENDING;
  if (z->copy) {
    for (size_t off = 0; off < z->v.len; off += CHUNK)
      memcpy(z->buf, z->v.data + off, z->v.len - off < CHUNK ? z->v.len - off : CHUNK);
    sink += z->buf[CHUNK - 1];
  } else {
    const uint64_t *w = (const uint64_t *)z->v.data;
    uint64_t sum = 0;
    for (size_t i = 0; i < z->v.len / 8; i++) sum += w[i];
    sink += sum;
  }
  z->bytes = z->v.len;
  luminal_view_release(&z->v);
  op_release(&z->o);
  return LUMINAL_POLL_READY;
}
static double map_once(int copy) {
  static mapper z;
  if (!z.buf) z.buf = chunk_buf();
  z.copy = copy, z.bytes = 0;
  uint64_t t = now_ns();
  run_task((luminal_future){.state = &z, .poll = map_file});
  t = now_ns() - t;
  if (z.bytes != file_size()) exit(1);
  return (double)z.bytes / (double)t;
}

/* ---- baselines without the runtime ---- */
static double sync_once(void) {
  static uint8_t *buf;
  if (!buf) buf = chunk_buf();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) exit(1);
  uint64_t t = now_ns(), bytes = 0;
  ssize_t n;
  while ((n = pread(fd, buf, CHUNK, (off_t)bytes)) > 0) bytes += (uint64_t)n;
  t = now_ns() - t;
  close(fd);
  return (double)bytes / (double)t;
}
static double cat_once(void) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  char *argv[] = {"cat", (char *)path, NULL};
  pid_t pid;
  int status;
  uint64_t t = now_ns();
  if (posix_spawnp(&pid, "cat", &fa, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) != pid || status != 0) {
    fprintf(stderr, "bench_io: cat failed\n");
    exit(1);
  }
  t = now_ns() - t;
  posix_spawn_file_actions_destroy(&fa);
  return (double)file_size() / (double)t;
}

static void mkfile(void) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) { perror(path); exit(1); }
  uint64_t *buf = (uint64_t *)chunk_buf(), x = 0x9E3779B97F4A7C15ull;
  for (uint64_t off = 0; off < FILE_SIZE; off += CHUNK) {
    for (size_t i = 0; i < CHUNK / 8; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = x; } /* xorshift */
    if (write(fd, buf, CHUNK) != CHUNK) { perror("write"); exit(1); }
  }
  if (fsync(fd) != 0 || close(fd) != 0) { perror("fsync"); exit(1); } /* no writeback left to disturb the runs */
}

/* ---- TCP echo (also over IPv6 and a Unix socket) ---- */
enum { TCP4, TCP6, UNIX } transport;
static luminal_socket_addr unix_addr; /* UNIX: the abstract name the server listens at */
static void nodelay(int fd) { int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
typedef struct { int lfd, fd, state; op o; size_t n, w; uint8_t buf[4096]; } server;
static luminal_poll echo_server(void *s, luminal_context *cx, void **out) {
  server *z = s;
  luminal_runtime *r = luminal_context_runtime(cx);
  (void)out;
  for (;;) switch (z->state) {
    case 0: /* accept */
      if (!z->o.f.poll) check(luminal_tcp_accept(r, z->lfd, &z->o.r, &z->o.f), "luminal_tcp_accept");
      if (!op_done(&z->o, cx, "accept")) return LUMINAL_POLL_PENDING;
      z->fd = (int)z->o.r.value;
      nodelay(z->fd);
      z->state = 1;
      break;
    case 1: /* read what came */
      if (!z->o.f.poll) check(luminal_stream_read(r, z->fd, z->buf, sizeof z->buf, &z->o.r, &z->o.f), "stream_read");
      if (!op_done(&z->o, cx, "server read")) return LUMINAL_POLL_PENDING;
      if (z->o.r.value == 0) { op_release(&z->o); close(z->fd); return LUMINAL_POLL_READY; } /* client closed */
      z->n = z->o.r.value, z->w = 0, z->state = 2;
      break;
    case 2: /* echo it back, all of it */
      if (!z->o.f.poll)
        check(luminal_stream_write(r, z->fd, z->buf + z->w, z->n - z->w, &z->o.r, &z->o.f), "stream_write");
      if (!op_done(&z->o, cx, "server write")) return LUMINAL_POLL_PENDING;
      z->w += z->o.r.value;
      if (z->w == z->n) z->state = 1;
      break;
  }
}
typedef struct { uint16_t port; int fd, state, warm, msgs, sent; op o; size_t w, got; uint64_t t0, t1;
                 uint8_t msg[MSG], back[MSG]; } client;
static luminal_poll echo_client(void *s, luminal_context *cx, void **out) {
  client *z = s;
  luminal_runtime *r = luminal_context_runtime(cx);
  (void)out;
  for (;;) switch (z->state) {
    case 0: /* connect */
      if (!z->o.f.poll)
        check(transport == UNIX ? luminal_unix_connect(r, &unix_addr, &z->o.r, &z->o.f)
                                : luminal_tcp_connect(r, transport == TCP6 ? "::1" : "127.0.0.1", z->port, &z->o.r, &z->o.f),
              "connect");
      if (!op_done(&z->o, cx, "connect")) return LUMINAL_POLL_PENDING;
      z->fd = (int)z->o.r.value;
      nodelay(z->fd);
      z->state = 1, z->w = 0;
      break;
    case 1: /* send one message */
      if (z->sent == z->warm) z->t0 = now_ns(); /* the first `warm` round trips are not timed */
      if (!z->o.f.poll)
        check(luminal_stream_write(r, z->fd, z->msg + z->w, MSG - z->w, &z->o.r, &z->o.f), "stream_write");
      if (!op_done(&z->o, cx, "client write")) return LUMINAL_POLL_PENDING;
      z->w += z->o.r.value;
      if (z->w == MSG) z->state = 2, z->got = 0;
      break;
    case 2: /* await its echo */
      if (!z->o.f.poll)
        check(luminal_stream_read(r, z->fd, z->back + z->got, MSG - z->got, &z->o.r, &z->o.f), "stream_read");
      if (!op_done(&z->o, cx, "client read")) return LUMINAL_POLL_PENDING;
      if (z->o.r.value == 0) { fprintf(stderr, "bench_io: server closed\n"); exit(1); }
      z->got += z->o.r.value;
      if (z->got < MSG) break;
      if (memcmp(z->msg, z->back, MSG) != 0) { fprintf(stderr, "bench_io: echo differs\n"); exit(1); }
      z->msg[0]++;
      if (++z->sent == z->warm + z->msgs) {
        z->t1 = now_ns();
        op_release(&z->o);
        close(z->fd);
        return LUMINAL_POLL_READY;
      }
      z->state = 1, z->w = 0;
      break;
  }
}
static double echo_once(int msgs) {
  static server sv;
  static client cl;
  luminal_io_result err;
  memset(&sv, 0, sizeof sv);
  memset(&cl, 0, sizeof cl);
  if (transport == UNIX) {
    char name[64];
    int n = snprintf(name, sizeof name, "%cluminal-bench-%d", 0, (int)getpid());
    check(luminal_socket_addr_unix(name, (size_t)n, &unix_addr), "luminal_socket_addr_unix");
    check(luminal_unix_listen(&unix_addr, 16, &sv.lfd, &err), "luminal_unix_listen");
  } else {
    check(luminal_tcp_listen(transport == TCP6 ? "::1" : "127.0.0.1", 0, 16, &sv.lfd, &cl.port, &err), "luminal_tcp_listen");
  }
  cl.msgs = msgs, cl.warm = msgs / 100;
  memset(cl.msg, 'x', MSG);
  luminal_task *ts, *tc;
  check(luminal_spawn(rt, (luminal_future){.state = &sv, .poll = echo_server}, &ts), "spawn server");
  check(luminal_spawn(rt, (luminal_future){.state = &cl, .poll = echo_client}, &tc), "spawn client");
  check(luminal_task_join(tc, UINT64_MAX, NULL), "join client");
  check(luminal_task_join(ts, UINT64_MAX, NULL), "join server");
  luminal_task_release(tc);
  luminal_task_release(ts);
  close(sv.lfd);
  return msgs * 1e9 / (double)(cl.t1 - cl.t0);
}

static void new_runtime(uint32_t backend) {
  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = (uint32_t)env("BENCH_WORKERS", 2),
                               .io_backend = backend};
  check(luminal_runtime_new(&o, &rt), "luminal_runtime_new");
  if (luminal_runtime_io_backend(rt) != backend) { fprintf(stderr, "bench_io: wrong backend\n"); exit(1); }
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: bench_io FILE part...\n"); return 2; }
  path = argv[1];
  int reps = env("BENCH_IO_REPS", 5), tcp_reps = env("BENCH_IO_TCP_REPS", 3), msgs = env("BENCH_IO_MSGS", 100000);
  if (reps < 1 || reps > MAXREPS || tcp_reps < 1 || tcp_reps > MAXREPS) return 2;
  for (int a = 2; a < argc; a++) {
    const char *p = argv[a];
    double v[MAXREPS];
    if (!strcmp(p, "mkfile")) { mkfile(); continue; }
    const char *under = strchr(p, '_');
    if (under && (!strncmp(p, "tcp_", 4) || !strncmp(p, "tcp6_", 5) || !strncmp(p, "unix_", 5))) {
      transport = p[0] == 'u' ? UNIX : p[3] == '6' ? TCP6 : TCP4;
      new_runtime(!strcmp(under + 1, "uring") ? LUMINAL_IO_URING : LUMINAL_IO_POOL);
      echo_once(msgs / 10); /* warm-up: a tenth of the messages */
      for (int i = 0; i < tcp_reps; i++) v[i] = echo_once(msgs);
      printf("io_%.*s_echo_%s_msgs_per_s\t%.0f\t%d\n", (int)(under - p), p, under + 1, median(v, tcp_reps), tcp_reps);
    } else {
      int kind = !strcmp(p, "sync") ? 0 : !strcmp(p, "cat") ? 1 : !strncmp(p, "map_", 4) ? 2 : 3;
      int depth = strstr(p, "qd8") ? 8 : 1;
      if (kind == 3 && strcmp(p, "uring_qd1") && strcmp(p, "uring_qd8") && strcmp(p, "pool_qd1") && strcmp(p, "pool_qd8")) {
        fprintf(stderr, "bench_io: unknown part %s\n", p);
        return 2;
      }
      if (kind >= 2) new_runtime(!strncmp(p, "pool", 4) ? LUMINAL_IO_POOL : LUMINAL_IO_URING);
      for (int i = -1; i < reps; i++) { /* i = -1: warm-up */
        double g = kind == 0 ? sync_once() : kind == 1 ? cat_once() : kind == 2 ? map_once(!strcmp(p, "map_copy"))
                                                                                : read_once(depth);
        if (i >= 0) v[i] = g;
      }
      printf("io_file_%s_gbps\t%.3f\t%d\n", p, median(v, reps), reps);
    }
    fflush(stdout);
    if (rt) {
      check(luminal_runtime_shutdown(rt, UINT64_MAX), "shutdown");
      luminal_runtime_release(rt);
      rt = NULL;
    }
  }
  return 0;
}
