/* Many connections (issue 15, IO part): a 64-connection TCP echo and 10k idle connections, on Luminal's io_uring
 * (or blocking-pool) backend. The counterpart: ../rust-tokio/src/bin/bench-tokio-conns.rs (same workloads, same
 * output names with `tokio` for the backend).
 *
 * Usage: bench_conns part   (one part per process; run.sh runs each in a fresh process)
 *   echo64_uring, echo64_pool   64 client tasks, each ping-ponging 64-byte messages (TCP_NODELAY) with its own
 *                 server task on 127.0.0.1 (an acceptor task spawns one per connection). After all are connected,
 *                 BENCH_CONNS_SECS (2) seconds are counted: total messages/s, and the slowest connection's count as
 *                 a share of the mean (1.0 = perfectly fair).
 *   idle_uring, idle_pool   BENCH_CONNS_IDLE (10000) connections made by a child process (`client PORT N`, plain
 *                 blocking connects; a child so that each process stays under RLIMIT_NOFILE), each accepted by an
 *                 acceptor task that spawns one task per connection parked in a 4 KiB stream read. Reports the RSS
 *                 growth per connection (the server process), the setup time (first connect to the last read
 *                 parked), the teardown time (the child closes all; every read sees EOF and its task ends), the
 *                 listen overflows meanwhile (TcpExtListenOverflows, system-wide) and the GCs during setup.
 *   client PORT N (internal) the idle workload's connecting child.
 * Prints `conns_<part>_<metric><TAB>value<TAB>1`.
 * env: BENCH_WORKERS (2), BENCH_CONNS_SECS (2), BENCH_CONNS_IDLE (10000), BENCH_CONNS_BACKLOG (1024: tokio's
 * TcpListener::bind default). */
#define _GNU_SOURCE
#include "luminal.h"
#include "bench_util.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
enum { MSG = 64, CONNS = 64, IDLE_BUF = 4096 };
static luminal_runtime *rt;

static void check(luminal_status s, const char *what) {
  if (s != LUMINAL_OK) { fprintf(stderr, "bench_conns: %s: %s\n", what, luminal_status_str(s)); exit(1); }
}
static void check_io(const luminal_io_result *r, const char *what) {
  if (r->status != LUMINAL_OK) {
    fprintf(stderr, "bench_conns: %s: %s (%s)\n", what, luminal_status_str(r->status), strerror(r->os_error));
    exit(1);
  }
}
static void nodelay(int fd) { int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
static long rss_bytes(void) {
  long size, res;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &size, &res) != 2) exit(1);
  fclose(f);
  return res * sysconf(_SC_PAGESIZE);
}
static long listen_overflows(void) { /* TcpExt: a header line of names, then a line of values */
  char names[4096], values[4096];
  long v = -1;
  FILE *f = fopen("/proc/net/netstat", "r");
  if (!f) return -1;
  while (fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
    if (strncmp(names, "TcpExt:", 7)) continue;
    char *sn, *sv, *n = strtok_r(names, " \n", &sn), *x = strtok_r(values, " \n", &sv);
    for (; n && x; n = strtok_r(NULL, " \n", &sn), x = strtok_r(NULL, " \n", &sv))
      if (!strcmp(n, "ListenOverflows")) v = atol(x);
  }
  fclose(f);
  return v;
}

typedef struct { luminal_future f; luminal_io_result r; } op;
static void op_release(op *o) {
  if (o->f.poll && o->f.drop) o->f.drop(o->f.state);
  o->f.poll = NULL;
}
static int op_done(op *o, luminal_context *cx, const char *what) {
  void *out;
  if (o->f.poll(o->f.state, cx, &out) == LUMINAL_POLL_PENDING) return 0;
  op_release(o);
  check_io(&o->r, what);
  return 1;
}
static void spawn_detached(luminal_context *cx, void *state, luminal_poll (*poll)(void *, luminal_context *, void **)) {
  check(luminal_spawn(luminal_context_runtime(cx), (luminal_future){.state = state, .poll = poll, .drop = free}, NULL),
        "spawn");
}

/* ---- the accept loop: `left` connections, each handed to a new task made by `make` ---- */
typedef struct {
  int lfd, left;
  op o;
  void *(*make)(int fd);
  luminal_poll (*poll)(void *, luminal_context *, void **);
} acceptor;
static luminal_poll accept_loop(void *s, luminal_context *cx, void **out) {
  acceptor *z = s;
  (void)out;
  while (z->left > 0) {
    if (!z->o.f.poll) check(luminal_tcp_accept(luminal_context_runtime(cx), z->lfd, &z->o.r, &z->o.f), "accept");
    if (!op_done(&z->o, cx, "accept")) return LUMINAL_POLL_PENDING;
    z->left--;
    spawn_detached(cx, z->make((int)z->o.r.value), z->poll);
  }
  return LUMINAL_POLL_READY;
}

/* ---- 64-connection echo ---- */
static atomic_int connected, finished, go, stop;
typedef struct { int fd, state; op o; size_t n, w; uint8_t buf[4096]; } server;
static void *make_server(int fd) {
  server *z = calloc(1, sizeof *z);
  z->fd = fd;
  nodelay(fd);
  return z;
}
static luminal_poll echo_server(void *s, luminal_context *cx, void **out) {
  server *z = s;
  luminal_runtime *r = luminal_context_runtime(cx);
  (void)out;
  for (;;) switch (z->state) {
    case 0:
      if (!z->o.f.poll) {
        luminal_status st = luminal_stream_read(r, z->fd, z->buf, sizeof z->buf, &z->o.r, &z->o.f);
        /* The measurement is over and main is shutting the runtime down while this connection closes: done. */
        if (st == LUMINAL_E_SHUTDOWN) { close(z->fd); return LUMINAL_POLL_READY; }
        check(st, "server read");
      }
      if (!op_done(&z->o, cx, "server read")) return LUMINAL_POLL_PENDING;
      if (z->o.r.value == 0) { close(z->fd); return LUMINAL_POLL_READY; }
      z->n = z->o.r.value, z->w = 0, z->state = 1;
      break;
    case 1:
      if (!z->o.f.poll) {
        luminal_status st = luminal_stream_write(r, z->fd, z->buf + z->w, z->n - z->w, &z->o.r, &z->o.f);
        if (st == LUMINAL_E_SHUTDOWN) { close(z->fd); return LUMINAL_POLL_READY; } /* as for the read */
        check(st, "server write");
      }
      if (!op_done(&z->o, cx, "server write")) return LUMINAL_POLL_PENDING;
      z->w += z->o.r.value;
      if (z->w == z->n) z->state = 0;
      break;
  }
}
typedef struct { uint16_t port; int fd, state; long count; op o; size_t w, got; uint8_t msg[MSG], back[MSG]; } client;
static client clients[CONNS];
static luminal_poll echo_client(void *s, luminal_context *cx, void **out) {
  client *z = s;
  luminal_runtime *r = luminal_context_runtime(cx);
  (void)out;
  for (;;) switch (z->state) {
    case 0:
      if (!z->o.f.poll) check(luminal_tcp_connect(r, "127.0.0.1", z->port, &z->o.r, &z->o.f), "connect");
      if (!op_done(&z->o, cx, "connect")) return LUMINAL_POLL_PENDING;
      z->fd = (int)z->o.r.value;
      nodelay(z->fd);
      atomic_fetch_add(&connected, 1);
      z->state = 1, z->w = 0;
      break;
    case 1:
      if (!z->o.f.poll)
        check(luminal_stream_write(r, z->fd, z->msg + z->w, MSG - z->w, &z->o.r, &z->o.f), "client write");
      if (!op_done(&z->o, cx, "client write")) return LUMINAL_POLL_PENDING;
      z->w += z->o.r.value;
      if (z->w == MSG) z->state = 2, z->got = 0;
      break;
    case 2:
      if (!z->o.f.poll)
        check(luminal_stream_read(r, z->fd, z->back + z->got, MSG - z->got, &z->o.r, &z->o.f), "client read");
      if (!op_done(&z->o, cx, "client read")) return LUMINAL_POLL_PENDING;
      if (z->o.r.value == 0) { fprintf(stderr, "bench_conns: server closed\n"); exit(1); }
      z->got += z->o.r.value;
      if (z->got < MSG) break;
      if (memcmp(z->msg, z->back, MSG) != 0) { fprintf(stderr, "bench_conns: echo differs\n"); exit(1); }
      z->msg[0]++;
      if (atomic_load_explicit(&stop, memory_order_relaxed)) {
        close(z->fd);
        atomic_fetch_add(&finished, 1);
        return LUMINAL_POLL_READY;
      }
      if (atomic_load_explicit(&go, memory_order_relaxed)) z->count++;
      z->state = 1, z->w = 0;
      break;
  }
}
static void sleep_ms(long ms) { nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000}, NULL); }
static void echo64(const char *part) {
  int lfd;
  uint16_t port;
  luminal_io_result err;
  check(luminal_tcp_listen("127.0.0.1", 0, env("BENCH_CONNS_BACKLOG", 1024), &lfd, &port, &err), "listen");
  acceptor *a = calloc(1, sizeof *a);
  *a = (acceptor){.lfd = lfd, .left = CONNS, .make = make_server, .poll = echo_server};
  check(luminal_spawn(rt, (luminal_future){.state = a, .poll = accept_loop, .drop = free}, NULL), "spawn acceptor");
  for (int i = 0; i < CONNS; i++) {
    clients[i] = (client){.port = port};
    memset(clients[i].msg, 'x', MSG);
    check(luminal_spawn(rt, (luminal_future){.state = &clients[i], .poll = echo_client}, NULL), "spawn client");
  }
  while (atomic_load(&connected) < CONNS) sleep_ms(1);
  sleep_ms(200); /* warm-up */
  struct rusage u0, u1;
  getrusage(RUSAGE_SELF, &u0);
  uint64_t t0 = now_ns();
  atomic_store(&go, 1);
  sleep_ms(env("BENCH_CONNS_SECS", 2) * 1000L);
  atomic_store(&stop, 1);
  uint64_t t1 = now_ns();
  getrusage(RUSAGE_SELF, &u1);
  while (atomic_load(&finished) < CONNS) sleep_ms(1);
  long total = 0, least = clients[0].count;
  for (int i = 0; i < CONNS; i++) total += clients[i].count, least = clients[i].count < least ? clients[i].count : least;
  printf("conns_%s_msgs_per_s\t%.0f\t1\n", part, total * 1e9 / (double)(t1 - t0));
  printf("conns_%s_slowest_share\t%.3f\t1\n", part, least / ((double)total / CONNS));
  /* all threads of the process, per echoed message (the main thread sleeps meanwhile: ~0) */
  printf("conns_%s_cswitch_per_msg\t%.3f\t1\n", part,
         (double)(u1.ru_nvcsw - u0.ru_nvcsw + u1.ru_nivcsw - u0.ru_nivcsw) / (double)(total ? total : 1));
  printf("conns_%s_cpu_us_per_msg\t%.3f\t1\n", part,
         ((u1.ru_utime.tv_sec - u0.ru_utime.tv_sec + u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) * 1e6 +
          (u1.ru_utime.tv_usec - u0.ru_utime.tv_usec + u1.ru_stime.tv_usec - u0.ru_stime.tv_usec)) / (double)(total ? total : 1));
  fflush(stdout); /* before the shutdown: a failure there must not lose the figures */
  close(lfd);
}

/* ---- idle connections ---- */
static atomic_int parked, ended;
typedef struct { int fd; int parked; op o; uint8_t buf[IDLE_BUF]; } idle;
static void *make_idle(int fd) {
  idle *z = malloc(sizeof *z);
  z->fd = fd, z->parked = 0, z->o.f.poll = NULL;
  return z;
}
static luminal_poll idle_conn(void *s, luminal_context *cx, void **out) {
  idle *z = s;
  (void)out;
  for (;;) {
    if (!z->o.f.poll)
      check(luminal_stream_read(luminal_context_runtime(cx), z->fd, z->buf, sizeof z->buf, &z->o.r, &z->o.f), "read");
    if (!op_done(&z->o, cx, "idle read")) {
      if (!z->parked) z->parked = 1, atomic_fetch_add(&parked, 1);
      return LUMINAL_POLL_PENDING;
    }
    if (z->o.r.value == 0) { close(z->fd); atomic_fetch_add(&ended, 1); return LUMINAL_POLL_READY; }
  }
}
static void idle_conns(const char *part, const char *self) {
  int n = env("BENCH_CONNS_IDLE", 10000), lfd, to_child[2], from_child[2];
  uint16_t port;
  luminal_io_result err;
  check(luminal_tcp_listen("127.0.0.1", 0, env("BENCH_CONNS_BACKLOG", 1024), &lfd, &port, &err), "listen");
  acceptor *a = calloc(1, sizeof *a);
  *a = (acceptor){.lfd = lfd, .left = n, .make = make_idle, .poll = idle_conn};
  check(luminal_spawn(rt, (luminal_future){.state = a, .poll = accept_loop, .drop = free}, NULL), "spawn acceptor");
  sleep_ms(100); /* the acceptor is parked in its accept */
  if (pipe(to_child) || pipe(from_child)) exit(1);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  char ports[16], ns[16];
  snprintf(ports, sizeof ports, "%u", port), snprintf(ns, sizeof ns, "%d", n);
  char *argv[] = {(char *)self, "client", ports, ns, NULL};
  long rss0 = rss_bytes(), ovf0 = listen_overflows();
  uint64_t gc0 = luminal_debug_gc_count(), t0 = now_ns();
  pid_t pid;
  if (posix_spawn(&pid, self, &fa, NULL, argv, environ)) { perror("posix_spawn"); exit(1); }
  close(to_child[0]), close(from_child[1]);
  while (atomic_load(&parked) < n) sleep_ms(1);
  uint64_t t1 = now_ns(), gc1 = luminal_debug_gc_count();
  long rss1 = rss_bytes(), ovf1 = listen_overflows();
  char c;
  if (read(from_child[0], &c, 1) != 1) exit(1); /* the child has all connected */
  uint64_t t2 = now_ns();
  if (write(to_child[1], "x", 1) != 1) exit(1); /* close them all */
  while (atomic_load(&ended) < n) sleep_ms(1);
  uint64_t t3 = now_ns();
  int st;
  waitpid(pid, &st, 0);
  printf("conns_%s_rss_per_conn_bytes\t%.0f\t1\n", part, (double)(rss1 - rss0) / n);
  printf("conns_%s_setup_ms\t%.1f\t1\n", part, (t1 - t0) / 1e6);
  printf("conns_%s_teardown_ms\t%.1f\t1\n", part, (t3 - t2) / 1e6);
  printf("conns_%s_listen_overflows\t%ld\t1\n", part, ovf1 - ovf0);
  printf("conns_%s_setup_gcs\t%llu\t1\n", part, (unsigned long long)(gc1 - gc0));
  close(lfd);
}
static int client_main(int port, int n) {
  int *fds = malloc(sizeof(int) * (size_t)n);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof sa)) { perror("client connect"); return 1; }
  }
  char c;
  if (write(1, "x", 1) != 1 || read(0, &c, 1) != 1) return 1;
  for (int i = 0; i < n; i++) close(fds[i]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "client")) return client_main(atoi(argv[2]), atoi(argv[3]));
  if (argc != 2) { fprintf(stderr, "usage: bench_conns part\n"); return 2; }
  const char *p = argv[1], *under = strchr(p, '_');
  if (!under || (strncmp(p, "echo64_", 7) && strncmp(p, "idle_", 5))) { fprintf(stderr, "unknown part %s\n", p); return 2; }
  uint32_t backend = !strcmp(under + 1, "pool") ? LUMINAL_IO_POOL : LUMINAL_IO_URING;
  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = (uint32_t)env("BENCH_WORKERS", 2),
                               .io_backend = backend};
  check(luminal_runtime_new(&o, &rt), "luminal_runtime_new");
  if (luminal_runtime_io_backend(rt) != backend) { fprintf(stderr, "bench_conns: wrong backend\n"); return 1; }
  if (p[0] == 'e') echo64(p); else idle_conns(p, "/proc/self/exe");
  check(luminal_runtime_shutdown(rt, UINT64_MAX), "shutdown");
  luminal_runtime_release(rt);
  return 0;
}
