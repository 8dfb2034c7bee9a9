/* IO with personalities (luminal_file_*, luminal_stream_*, luminal_tcp_*, luminal_pipe), on BOTH backends.
 *
 * IO_TEST(name) cases are registered by CMake twice: native.<name>.uring and native.<name>.pool, with the
 * environment variable LUMTEST_IO_BACKEND=uring|pool; every runtime they create forces that backend through
 * luminal_runtime_options.io_backend and asserts luminal_runtime_io_backend reports it. Plain TEST(name) cases
 * (the LUMINAL_IO_BACKEND variable, and the cross-backend comparison) run once.
 *
 * Results are pre-filled with a garbage pattern, so a test cannot pass on an answer the library never wrote; every
 * file lives under a mkdtemp directory that is removed at the end. */
#include "test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#define IO_TEST(name) TEST(name)

#define GARBAGE 0x5A
#define SENTINEL 0xCD

/* ------------------------------------------------------------------------------------------------------------- */
/* Runtimes, temp dirs, patterns                                                                                  */
/* ------------------------------------------------------------------------------------------------------------- */

static const char *backend_name(uint32_t b) {
  return b == LUMINAL_IO_URING ? "uring" : b == LUMINAL_IO_POOL ? "pool" : "?";
}

static uint32_t io_backend_under_test(void) {
  const char *e = getenv("LUMTEST_IO_BACKEND");
  CHECK_MSG(e != NULL, "LUMTEST_IO_BACKEND is not set (CTest sets it to uring or pool for every IO_TEST)");
  if (strcmp(e, "uring") == 0) return LUMINAL_IO_URING;
  if (strcmp(e, "pool") == 0) return LUMINAL_IO_POOL;
  TEST_FAIL("LUMTEST_IO_BACKEND=%s: expected uring or pool", e);
}

static luminal_runtime *io_runtime_with(uint32_t backend, uint32_t workers) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = workers;
  o.thread_name = "lumio";
  o.io_backend = backend;
  luminal_runtime *rt = NULL;
  luminal_status st = luminal_runtime_new(&o, &rt);
  CHECK_MSG(st == LUMINAL_OK, "luminal_runtime_new(io_backend=%s) returned %d (%s)", backend_name(backend), (int)st,
            luminal_status_str(st));
  CHECK(rt != NULL);
  if (backend != LUMINAL_IO_AUTO) {
    uint32_t got = luminal_runtime_io_backend(rt);
    CHECK_MSG(got == backend, "forced io_backend %s, luminal_runtime_io_backend reports %u", backend_name(backend),
              got);
  }
  return rt;
}

static luminal_io_result io_finish(luminal_runtime *rt, luminal_status made, luminal_future f, luminal_io_result *r,
                                   const char *what, int line);

/* A runtime whose IO backend has started (it starts at the first operation), so that baselines of fds and threads
 * taken afterwards include the ring or the pool's threads. */
static luminal_runtime *io_rt(void) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 2);
  luminal_io_result r;
  luminal_future f;
  io_finish(rt, luminal_file_fsync(rt, -1, &r, &f), f, &r, "warm-up fsync(-1)", __LINE__); /* EBADF */
  /* An accept that waits, then times out: starts what waiting operations use (pool backend: the reactor's epoll fd
   * and eventfd), which accept and connect start on their own otherwise. */
  int32_t lfd = -1;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 1, &lfd, NULL, NULL), LUMINAL_OK);
  luminal_future accept, timed;
  CHECK_ST(luminal_tcp_accept(rt, lfd, &r, &accept), LUMINAL_OK);
  CHECK_ST(luminal_timeout(rt, accept, MS_NS(5), &timed), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, timed, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  close(lfd);
  return rt;
}

static char g_dir[128];

static const char *tmpdir_new(void) {
  strcpy(g_dir, "/tmp/luminal-io-XXXXXX");
  CHECK(mkdtemp(g_dir) != NULL);
  CHECK(chmod(g_dir, 0755) == 0);
  return g_dir;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  remove(p);
  return 0;
}

static void tmpdir_done(void) {
  if (g_dir[0]) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  struct stat st;
  CHECK_MSG(stat(g_dir, &st) != 0, "could not remove %s", g_dir);
  g_dir[0] = 0;
}

/* A path under the temp dir (8 rotating buffers). */
static const char *P(const char *name) {
  static char bufs[8][256];
  static int k;
  char *b = bufs[k++ & 7];
  snprintf(b, 256, "%s/%s", g_dir, name);
  return b;
}

static uint8_t pat(uint64_t pos, uint32_t seed) {
  uint64_t x = (pos + 1) * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 32;
  return (uint8_t)x;
}

static void fill_pat(uint8_t *b, size_t n, uint64_t pos0, uint32_t seed) {
  for (size_t i = 0; i < n; i++) b[i] = pat(pos0 + i, seed);
}

/* Index of the first byte differing from the pattern, or -1. */
static long check_pat(const uint8_t *b, size_t n, uint64_t pos0, uint32_t seed) {
  for (size_t i = 0; i < n; i++)
    if (b[i] != pat(pos0 + i, seed)) return (long)i;
  return -1;
}

static long first_not(const uint8_t *b, size_t n, uint8_t v) {
  for (size_t i = 0; i < n; i++)
    if (b[i] != v) return (long)i;
  return -1;
}

/* Writes a file with plain libc (test setup independent of the library). */
static void write_file_libc(const char *path, size_t n, uint32_t seed) {
  uint8_t *b = (uint8_t *)malloc(n ? n : 1);
  CHECK(b != NULL);
  fill_pat(b, n, 0, seed);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, b + off, n - off);
    CHECK(w > 0);
    off += (size_t)w;
  }
  CHECK(close(fd) == 0);
  free(b);
}

static int count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  CHECK(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the DIR's own fd */
}

/* The process's baseline fd count: the least of a few samples, since the .NET runtime inside libluminal may hold
 * an fd for a moment (e.g. while a thread starts). Leak checks then wait for the count to settle back to it. */
static int baseline_fds(void) {
  int least = count_open_fds();
  for (int i = 0; i < 5; i++) {
    tu_sleep_ms(5);
    int n = count_open_fds();
    if (n < least) least = n;
  }
  return least;
}

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/* ------------------------------------------------------------------------------------------------------------- */
/* Running an IO future: block_on from this (non-worker) thread; the output must be the result pointer           */
/* ------------------------------------------------------------------------------------------------------------- */

static luminal_io_result io_finish(luminal_runtime *rt, luminal_status made, luminal_future f, luminal_io_result *r,
                                   const char *what, int line) {
  if (made != LUMINAL_OK)
    TEST_FAIL("line %d: %s returned %d (%s) creating the future", line, what, (int)made, luminal_status_str(made));
  if (f.poll == NULL) TEST_FAIL("line %d: %s returned OK but the future has no poll function", line, what);
  static int trace = -1;
  if (trace < 0) trace = getenv("LUMTEST_IO_TRACE") != NULL;
  if (trace) fprintf(stderr, "[io] line %d: %s\n", line, what);
  void *out = (void *)(uintptr_t)1;
  luminal_status st = luminal_block_on(rt, f, &out);
  if (st != LUMINAL_OK) TEST_FAIL("line %d: block_on(%s) returned %d (%s)", line, what, (int)st, luminal_status_str(st));
  if (out != (void *)r) TEST_FAIL("line %d: %s: output %p is not the result pointer %p", line, what, out, (void *)r);
  if (r->status == LUMINAL_OK) {
    if (r->os_error != 0) TEST_FAIL("line %d: %s: status OK but os_error %d", line, what, r->os_error);
  } else if (r->status == LUMINAL_E_IO) {
    if (r->os_error <= 0 || r->os_error > 4095) TEST_FAIL("line %d: %s: E_IO with os_error %d", line, what, r->os_error);
    if (r->value != 0) TEST_FAIL("line %d: %s: E_IO with value %" PRIu64, line, what, r->value);
  } else {
    TEST_FAIL("line %d: %s: result status %d (%s), os_error %d", line, what, r->status,
              luminal_status_str((luminal_status)r->status), r->os_error);
  }
  return *r;
}

/* IO(rt, CALL): CALL names `&_r` and `&_f`; returns the luminal_io_result by value. */
#define IO(rt, CALL)                                                                                                \
  ({                                                                                                               \
    luminal_io_result _r;                                                                                          \
    luminal_future _f;                                                                                             \
    memset(&_r, GARBAGE, sizeof _r);                                                                               \
    memset(&_f, 0, sizeof _f);                                                                                     \
    luminal_status _made = (CALL);                                                                                 \
    io_finish((rt), _made, _f, &_r, #CALL, __LINE__);                                                              \
  })

/* Bounded variant for the error tables: spawns the future and joins for at most 5 s; an operation that hangs is
 * aborted and reported as status IO_HUNG, so one hang does not hide the other answers. */
#define IO_HUNG 9999
static luminal_io_result io_finish_bounded(luminal_runtime *rt, luminal_status made, luminal_future f,
                                           luminal_io_result *r, const char *what, int line) {
  if (made != LUMINAL_OK)
    TEST_FAIL("line %d: %s returned %d (%s) creating the future", line, what, (int)made, luminal_status_str(made));
  luminal_task *t = tu_spawn(rt, f);
  void *out = NULL;
  luminal_status st = luminal_task_join(t, 5ull * 1000000000ull, &out);
  if (st == LUMINAL_E_TIMED_OUT) {
    luminal_task_abort(t);
    CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_E_CANCELLED);
    luminal_task_release(t);
    fprintf(stderr, "line %d: %s did not complete within 5 s (aborted)\n", line, what);
    luminal_io_result h = {IO_HUNG, 0, 0};
    return h;
  }
  luminal_task_release(t);
  if (st != LUMINAL_OK) TEST_FAIL("line %d: join(%s) returned %d (%s)", line, what, (int)st, luminal_status_str(st));
  if (out != (void *)r) TEST_FAIL("line %d: %s: output %p is not the result pointer %p", line, what, out, (void *)r);
  return *r;
}

#define IOB(rt, CALL)                                                                                               \
  ({                                                                                                               \
    luminal_io_result _r;                                                                                          \
    luminal_future _f;                                                                                             \
    memset(&_r, GARBAGE, sizeof _r);                                                                               \
    memset(&_f, 0, sizeof _f);                                                                                     \
    luminal_status _made = (CALL);                                                                                 \
    io_finish_bounded((rt), _made, _f, &_r, #CALL, __LINE__);                                                      \
  })

/* Soft expectation (error tables): prints and counts a mismatch, the test fails at its end. */
static int g_soft_failures;
#define SOFT_ERRNO(expr, err)                                                                                       \
  do {                                                                                                             \
    luminal_io_result _q = (expr);                                                                                 \
    if (_q.status != LUMINAL_E_IO || _q.os_error != (err)) {                                                       \
      fprintf(stderr, "%s:%d: FAILED (continuing): %s: status %d (%s) os_error %d (%s) value %" PRIu64             \
              ", expected E_IO with %s (%d)\n", __FILE__, __LINE__, #expr, _q.status,                              \
              _q.status == IO_HUNG ? "HUNG" : luminal_status_str((luminal_status)_q.status), _q.os_error,          \
              strerror(_q.os_error), _q.value, #err, (int)(err));                                                  \
      g_soft_failures++;                                                                                           \
    }                                                                                                              \
  } while (0)
#define SOFT_DONE() CHECK_MSG(g_soft_failures == 0, "%d expectation(s) failed (listed above)", g_soft_failures)

/* Expect success; evaluates to value. */
#define OKV(expr)                                                                                                   \
  ({                                                                                                               \
    luminal_io_result _q = (expr);                                                                                 \
    if (_q.status != LUMINAL_OK)                                                                                   \
      TEST_FAIL("%s: status %d (%s), os_error %d (%s)", #expr, _q.status, luminal_status_str((luminal_status)_q.status), \
                _q.os_error, strerror(_q.os_error));                                                               \
    _q.value;                                                                                                      \
  })

/* Expect LUMINAL_E_IO with this errno. */
#define EXPECT_ERRNO(expr, err)                                                                                     \
  do {                                                                                                             \
    luminal_io_result _q = (expr);                                                                                 \
    if (_q.status != LUMINAL_E_IO || _q.os_error != (err))                                                         \
      TEST_FAIL("%s: status %d (%s) os_error %d (%s) value %" PRIu64 ", expected E_IO with %s (%d)", #expr,        \
                _q.status, luminal_status_str((luminal_status)_q.status), _q.os_error, strerror(_q.os_error),      \
                _q.value, #err, (int)(err));                                                                       \
  } while (0)

#define IO_OPEN(rt, path, flags, mode) IO(rt, luminal_file_open(rt, path, flags, mode, &_r, &_f))
#define IO_CLOSE(rt, fd) IO(rt, luminal_file_close(rt, fd, &_r, &_f))
#define IO_FSYNC(rt, fd) IO(rt, luminal_file_fsync(rt, fd, &_r, &_f))
#define IO_STAT(rt, fd, info) IO(rt, luminal_file_stat(rt, fd, info, &_r, &_f))
#define IO_READ_AT(rt, fd, buf, len, off) IO(rt, luminal_file_read_at(rt, fd, buf, len, off, &_r, &_f))
#define IO_WRITE_AT(rt, fd, buf, len, off) IO(rt, luminal_file_write_at(rt, fd, buf, len, off, &_r, &_f))
#define IO_MAP(rt, path, view) IO(rt, luminal_file_map(rt, path, view, &_r, &_f))
#define IO_READ_ALL(rt, path, buffer) IO(rt, luminal_file_read_all(rt, path, buffer, &_r, &_f))
#define IO_ACCEPT(rt, l) IO(rt, luminal_tcp_accept(rt, l, &_r, &_f))
#define IO_CONNECT(rt, ip, port) IO(rt, luminal_tcp_connect(rt, ip, port, &_r, &_f))
#define IO_SREAD(rt, fd, buf, len) IO(rt, luminal_stream_read(rt, fd, buf, len, &_r, &_f))
#define IO_SWRITE(rt, fd, buf, len) IO(rt, luminal_stream_write(rt, fd, buf, len, &_r, &_f))

#define IOB_OPEN(rt, path, flags, mode) IOB(rt, luminal_file_open(rt, path, flags, mode, &_r, &_f))
#define IOB_CLOSE(rt, fd) IOB(rt, luminal_file_close(rt, fd, &_r, &_f))
#define IOB_FSYNC(rt, fd) IOB(rt, luminal_file_fsync(rt, fd, &_r, &_f))
#define IOB_STAT(rt, fd, info) IOB(rt, luminal_file_stat(rt, fd, info, &_r, &_f))
#define IOB_READ_AT(rt, fd, buf, len, off) IOB(rt, luminal_file_read_at(rt, fd, buf, len, off, &_r, &_f))
#define IOB_WRITE_AT(rt, fd, buf, len, off) IOB(rt, luminal_file_write_at(rt, fd, buf, len, off, &_r, &_f))
#define IOB_MAP(rt, path, view) IOB(rt, luminal_file_map(rt, path, view, &_r, &_f))
#define IOB_READ_ALL(rt, path, buffer) IOB(rt, luminal_file_read_all(rt, path, buffer, &_r, &_f))
#define IOB_ACCEPT(rt, l) IOB(rt, luminal_tcp_accept(rt, l, &_r, &_f))
#define IOB_CONNECT(rt, ip, port) IOB(rt, luminal_tcp_connect(rt, ip, port, &_r, &_f))
#define IOB_SREAD(rt, fd, buf, len) IOB(rt, luminal_stream_read(rt, fd, buf, len, &_r, &_f))
#define IOB_SWRITE(rt, fd, buf, len) IOB(rt, luminal_stream_write(rt, fd, buf, len, &_r, &_f))

static void write_all_at(luminal_runtime *rt, int fd, const uint8_t *b, size_t n, uint64_t off) {
  size_t done = 0;
  do {
    uint64_t w = OKV(IO_WRITE_AT(rt, fd, (void *)(b + done), n - done, off + done));
    CHECK_MSG(w <= n - done, "write_at reported %" PRIu64 " bytes of %zu", w, n - done);
    if (n == 0) break;
    CHECK_MSG(w > 0, "write_at of %zu bytes to a regular file wrote 0", n - done);
    done += w;
  } while (done < n);
}

/* Reads exactly n bytes at off (loops over short reads, fails at EOF). */
static void read_exact_at(luminal_runtime *rt, int fd, uint8_t *b, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    uint64_t r = OKV(IO_READ_AT(rt, fd, b + done, n - done, off + done));
    CHECK_MSG(r > 0 && r <= n - done, "read_at returned %" PRIu64 " of %zu (before EOF)", r, n - done);
    done += r;
  }
}

static void stream_write_all(luminal_runtime *rt, int fd, const uint8_t *b, size_t n) {
  size_t done = 0;
  while (done < n) {
    uint64_t w = OKV(IO_SWRITE(rt, fd, (void *)(b + done), n - done));
    CHECK_MSG(w > 0 && w <= n - done, "stream_write returned %" PRIu64 " of %zu", w, n - done);
    done += w;
  }
}

static void stream_read_exact(luminal_runtime *rt, int fd, uint8_t *b, size_t n) {
  size_t done = 0;
  while (done < n) {
    uint64_t r = OKV(IO_SREAD(rt, fd, b + done, n - done));
    CHECK_MSG(r > 0, "stream_read hit end of stream after %zu of %zu bytes", done, n);
    CHECK_MSG(r <= n - done, "stream_read returned %" PRIu64 " > %zu asked", r, n - done);
    done += r;
  }
}

/* A connected TCP pair over loopback: *client from luminal_tcp_connect, *server from luminal_tcp_accept. */
static void tcp_pair(luminal_runtime *rt, int *client, int *server) {
  int32_t lfd = -1;
  uint16_t port = 0;
  luminal_io_result lr = {-7, -7, 0};
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 16, &lfd, &port, &lr), LUMINAL_OK);
  CHECK(lfd >= 0 && port != 0);
  CHECK(lr.status == LUMINAL_OK && lr.os_error == 0 && lr.value == (uint64_t)lfd); /* the plain calls' result */
  *client = (int)OKV(IO_CONNECT(rt, "127.0.0.1", port));
  *server = (int)OKV(IO_ACCEPT(rt, lfd));
  CHECK(*client >= 0 && *server >= 0 && *client != *server);
  CHECK(close(lfd) == 0);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Sub-futures: an IO future polled from our own poll function                                                   */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct sub_io {
  luminal_future f;
  int active;
  luminal_io_result r;
} sub_io;

static void sub_start(sub_io *s, luminal_status made) {
  CHECK_MSG(made == LUMINAL_OK, "creating an IO future inside a poll returned %d (%s)", (int)made,
            luminal_status_str(made));
  CHECK(s->f.poll != NULL);
  s->active = 1;
}

/* 1 when complete (s->r valid, future dropped), 0 when pending. */
static int sub_poll(sub_io *s, luminal_context *cx) {
  CHECK(s->active);
  void *out = (void *)(uintptr_t)1;
  luminal_poll p = s->f.poll(s->f.state, cx, &out);
  if (p == LUMINAL_POLL_PENDING) return 0;
  CHECK_MSG(out == &s->r, "sub-future output %p is not its result %p", out, (void *)&s->r);
  if (s->f.drop) s->f.drop(s->f.state);
  s->active = 0;
  return 1;
}

static void sub_drop(sub_io *s) {
  if (s->active && s->f.drop) s->f.drop(s->f.state);
  s->active = 0;
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 1. Backend selection                                                                                          */
/* ------------------------------------------------------------------------------------------------------------- */

IO_TEST(io_backend_forced) {
  uint32_t b = io_backend_under_test();
  luminal_runtime *rt = io_runtime_with(b, 1);
  /* Also after the first IO operation (the backend may be chosen lazily) and from a second runtime. */
  tmpdir_new();
  luminal_io_result r = IO_OPEN(rt, P("x"), O_CREAT | O_RDWR, 0600);
  CHECK_EQ(r.status, LUMINAL_OK);
  CHECK_EQ(luminal_runtime_io_backend(rt), b);
  OKV(IO_CLOSE(rt, (int)r.value));
  luminal_runtime *rt2 = io_runtime_with(b, 1);
  CHECK_EQ(luminal_runtime_io_backend(rt2), b);
  luminal_runtime *c = luminal_runtime_clone(rt);
  CHECK_EQ(luminal_runtime_io_backend(c), b);
  luminal_runtime_release(c);
  tu_runtime_done(rt2);
  tu_runtime_done(rt);
  CHECK_EQ(luminal_runtime_io_backend(rt), 0); /* released handle */
  CHECK_EQ(luminal_runtime_io_backend(NULL), 0);
  CHECK_EQ(luminal_runtime_io_backend((luminal_runtime *)(uintptr_t)0x1234), 0);
  tmpdir_done();
}

/* LUMINAL_IO_BACKEND=pool with io_backend = AUTO forces the pool. setenv happens before any runtime exists. */
TEST(io_env_forces_pool) {
  CHECK(setenv("LUMINAL_IO_BACKEND", "pool", 1) == 0);
  luminal_runtime *rt = io_runtime_with(LUMINAL_IO_AUTO, 2);
  CHECK_MSG(luminal_runtime_io_backend(rt) == LUMINAL_IO_POOL,
            "LUMINAL_IO_BACKEND=pool + AUTO: luminal_runtime_io_backend = %u, expected POOL (2)",
            luminal_runtime_io_backend(rt));
  /* and it really works through the pool */
  tmpdir_new();
  write_file_libc(P("f"), 1000, 3);
  luminal_buffer b = {NULL, 0};
  CHECK_EQ(OKV(IO_READ_ALL(rt, P("f"), &b)), 1000);
  CHECK_EQ(check_pat(b.data, b.len, 0, 3), -1);
  luminal_buffer_release(&b);
  CHECK_EQ(luminal_runtime_io_backend(rt), LUMINAL_IO_POOL);
  /* An explicit option beats the variable. */
  luminal_runtime *u = io_runtime_with(LUMINAL_IO_URING, 1);
  CHECK_EQ(luminal_runtime_io_backend(u), LUMINAL_IO_URING);
  tu_runtime_done(u);
  tu_runtime_done(rt);
  tmpdir_done();
}

/* The header: the variable is "read at runtime creation". So a runtime created while it says pool stays on the
 * pool after the variable changes, and one created after a change follows the new value. */
TEST(io_env_read_at_creation) {
  CHECK(unsetenv("LUMINAL_IO_BACKEND") == 0);
  luminal_runtime *a = io_runtime_with(LUMINAL_IO_AUTO, 1);
  CHECK_MSG(luminal_runtime_io_backend(a) == LUMINAL_IO_URING,
            "AUTO without the variable on a kernel with io_uring gives %u", luminal_runtime_io_backend(a));
  CHECK(setenv("LUMINAL_IO_BACKEND", "pool", 1) == 0);
  luminal_runtime *b = io_runtime_with(LUMINAL_IO_AUTO, 1);
  CHECK(unsetenv("LUMINAL_IO_BACKEND") == 0);
  uint32_t got = luminal_runtime_io_backend(b);
  CHECK_MSG(got == LUMINAL_IO_POOL,
            "runtime created (AUTO) while LUMINAL_IO_BACKEND=pool, variable unset before the first IO call: "
            "luminal_runtime_io_backend = %u (%s), expected POOL: the variable is read lazily, not at creation",
            got, backend_name(got));
  CHECK_EQ(luminal_runtime_io_backend(a), LUMINAL_IO_URING);
  CHECK(setenv("LUMINAL_IO_BACKEND", "uring", 1) == 0);
  luminal_runtime *c = io_runtime_with(LUMINAL_IO_AUTO, 1);
  CHECK_EQ(luminal_runtime_io_backend(c), LUMINAL_IO_URING);
  CHECK(unsetenv("LUMINAL_IO_BACKEND") == 0);
  tu_runtime_done(c);
  tu_runtime_done(b);
  tu_runtime_done(a);
}

TEST(io_backend_option_invalid) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 1;
  o.io_backend = 3;
  luminal_runtime *rt = (luminal_runtime *)(uintptr_t)0x77;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  /* an older caller's struct without io_backend: AUTO */
  o.io_backend = 3;
  o.struct_size = offsetof(luminal_runtime_options, io_backend);
  CHECK(unsetenv("LUMINAL_IO_BACKEND") == 0);
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  uint32_t b = luminal_runtime_io_backend(rt);
  CHECK(b == LUMINAL_IO_URING || b == LUMINAL_IO_POOL);
  tu_runtime_done(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 2. Files: open / write_at / fsync / read_at / stat                                                             */
/* ------------------------------------------------------------------------------------------------------------- */

IO_TEST(io_file_roundtrip) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  umask(022);
  const size_t sizes[] = {0, 1, 4095, 4096, 65537, 1u << 20};
  const uint64_t offsets[] = {0, 123, (1u << 20) + 7};
  uint8_t *w = (uint8_t *)malloc((1u << 20) + 64);
  uint8_t *rd = (uint8_t *)malloc((1u << 20) + 64);
  CHECK(w && rd);
  int n = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    for (size_t oi = 0; oi < sizeof offsets / sizeof *offsets; oi++, n++) {
      size_t size = sizes[si];
      uint64_t off = offsets[oi];
      char name[64];
      snprintf(name, sizeof name, "rt_%zu_%" PRIu64, size, off);
      const char *path = P(name);
      struct timespec before;
      clock_gettime(CLOCK_REALTIME, &before);
      int fd = (int)OKV(IO_OPEN(rt, path, O_CREAT | O_TRUNC | O_RDWR, 0640));
      CHECK(fd >= 0 && fd_is_open(fd));
      CHECK_MSG(fcntl(fd, F_GETFD) & FD_CLOEXEC, "open did not add O_CLOEXEC");
      fill_pat(w, size, off, (uint32_t)n);
      write_all_at(rt, fd, w, size, off);
      CHECK_EQ(OKV(IO_FSYNC(rt, fd)), 0);
      struct timespec after;
      clock_gettime(CLOCK_REALTIME, &after);
      luminal_file_info info;
      memset(&info, GARBAGE, sizeof info);
      CHECK_EQ(OKV(IO_STAT(rt, fd, &info)), 0);
      uint64_t expect_size = size ? off + size : 0;
      CHECK_MSG(info.size == expect_size, "stat size %" PRIu64 ", expected %" PRIu64, info.size, expect_size);
      CHECK_MSG(S_ISREG(info.mode), "stat mode %o is not a regular file", info.mode);
      CHECK_MSG((info.mode & 07777) == 0640, "stat permissions %o, expected 640", info.mode & 07777);
      int64_t lo = (int64_t)before.tv_sec * 1000000000 + before.tv_nsec - 2000000000ll;
      int64_t hi = (int64_t)after.tv_sec * 1000000000 + after.tv_nsec + 2000000000ll;
      CHECK_MSG(info.mtime_ns >= lo && info.mtime_ns <= hi, "stat mtime_ns %" PRId64 " not within [%" PRId64 ", %" PRId64 "]",
                info.mtime_ns, lo, hi);
      /* compare with fstat(2) */
      struct stat st;
      CHECK(fstat(fd, &st) == 0);
      CHECK_EQ(info.size, (uint64_t)st.st_size);
      CHECK_EQ(info.mode, st.st_mode);
      CHECK_EQ(info.mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
      /* read back exactly */
      memset(rd, SENTINEL, size + 64);
      read_exact_at(rt, fd, rd, size, off);
      long bad = check_pat(rd, size, off, (uint32_t)n);
      CHECK_MSG(bad < 0, "size %zu at %" PRIu64 ": byte %ld differs after the round trip", size, off, bad);
      CHECK_EQ(first_not(rd + size, 64, SENTINEL), -1); /* nothing written past len */
      /* a zero-length read and the hole before the data */
      CHECK_EQ(OKV(IO_READ_AT(rt, fd, rd, 0, 0)), 0);
      if (off > 0 && size > 0) {
        memset(rd, SENTINEL, 123);
        read_exact_at(rt, fd, rd, 123, 0);
        CHECK_EQ(first_not(rd, 123, 0), -1);
      }
      /* what the library wrote is what libc reads */
      if (size > 0) {
        memset(rd, 0, size);
        CHECK_EQ(pread(fd, rd, size, (off_t)off), (ssize_t)size);
        CHECK_EQ(check_pat(rd, size, off, (uint32_t)n), -1);
      }
      CHECK_EQ(OKV(IO_CLOSE(rt, fd)), 0);
      CHECK_MSG(!fd_is_open(fd), "fd %d still open after luminal_file_close", fd);
    }
  }
  /* exact mtime: set one with utimensat, stat reports it to the nanosecond */
  int fd = (int)OKV(IO_OPEN(rt, P("mt"), O_CREAT | O_RDWR, 0600));
  struct timespec ts[2] = {{1000000000, 123456789}, {1000000000, 123456789}};
  CHECK(futimens(fd, ts) == 0);
  luminal_file_info info;
  memset(&info, GARBAGE, sizeof info);
  OKV(IO_STAT(rt, fd, &info));
  CHECK_EQ(info.mtime_ns, 1000000000123456789ll);
  CHECK_EQ(info.size, 0);
  OKV(IO_CLOSE(rt, fd));
  /* stat of a directory and of a pipe */
  fd = (int)OKV(IO_OPEN(rt, g_dir, O_RDONLY | O_DIRECTORY, 0));
  memset(&info, GARBAGE, sizeof info);
  OKV(IO_STAT(rt, fd, &info));
  CHECK_MSG(S_ISDIR(info.mode), "stat of a directory: mode %o", info.mode);
  OKV(IO_CLOSE(rt, fd));
  int32_t pfd[2];
  CHECK_ST(luminal_pipe(pfd, NULL), LUMINAL_OK);
  memset(&info, GARBAGE, sizeof info);
  OKV(IO_STAT(rt, pfd[0], &info));
  CHECK_MSG(S_ISFIFO(info.mode), "stat of a pipe: mode %o", info.mode);
  CHECK_EQ(info.size, 0);
  close(pfd[0]);
  close(pfd[1]);
  free(w);
  free(rd);
  tu_runtime_done(rt);
  tmpdir_done();
}

IO_TEST(io_short_read_eof) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  write_file_libc(P("f"), 100, 9);
  int fd = (int)OKV(IO_OPEN(rt, P("f"), O_RDONLY, 0));
  uint8_t b[300];
  memset(b, SENTINEL, sizeof b);
  CHECK_EQ(OKV(IO_READ_AT(rt, fd, b, 200, 0)), 100); /* value < len */
  CHECK_EQ(check_pat(b, 100, 0, 9), -1);
  CHECK_EQ(first_not(b + 100, 200, SENTINEL), -1);
  memset(b, SENTINEL, sizeof b);
  CHECK_EQ(OKV(IO_READ_AT(rt, fd, b, 200, 60)), 40);
  CHECK_EQ(check_pat(b, 40, 60, 9), -1);
  CHECK_EQ(first_not(b + 40, 260, SENTINEL), -1);
  memset(b, SENTINEL, sizeof b);
  CHECK_EQ(OKV(IO_READ_AT(rt, fd, b, 200, 100)), 0); /* exactly at EOF */
  CHECK_EQ(OKV(IO_READ_AT(rt, fd, b, 200, 101)), 0); /* past EOF */
  CHECK_EQ(OKV(IO_READ_AT(rt, fd, b, 200, 1ull << 40)), 0);
  CHECK_EQ(first_not(b, sizeof b, SENTINEL), -1);
  /* read_at does not move the file position: plain read(2) still starts at 0 */
  uint8_t c[10];
  CHECK_EQ(read(fd, c, 10), 10);
  CHECK_EQ(check_pat(c, 10, 0, 9), -1);
  OKV(IO_CLOSE(rt, fd));
  tu_runtime_done(rt);
  tmpdir_done();
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 3. Errors with distinct answers                                                                               */
/* ------------------------------------------------------------------------------------------------------------- */

IO_TEST(io_errors) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  uint8_t b[64];
  luminal_file_info info;
  /* missing file */
  SOFT_ERRNO(IOB_OPEN(rt, P("missing"), O_RDONLY, 0), ENOENT);
  SOFT_ERRNO(IOB_OPEN(rt, P("nodir/x"), O_CREAT | O_RDWR, 0600), ENOENT);
  luminal_view v = {NULL, 0};
  SOFT_ERRNO(IOB_MAP(rt, P("missing"), &v), ENOENT);
  CHECK(v.data == NULL && v.len == 0);
  luminal_buffer bb = {NULL, 0};
  SOFT_ERRNO(IOB_READ_ALL(rt, P("missing"), &bb), ENOENT);
  CHECK(bb.data == NULL && bb.len == 0);
  /* exists */
  write_file_libc(P("f"), 10, 1);
  SOFT_ERRNO(IOB_OPEN(rt, P("f"), O_CREAT | O_EXCL | O_RDWR, 0600), EEXIST);
  SOFT_ERRNO(IOB_OPEN(rt, P("f/sub"), O_RDONLY, 0), ENOTDIR);
  SOFT_ERRNO(IOB_OPEN(rt, g_dir, O_RDWR, 0), EISDIR);
  /* bad fd: a number that is surely closed, and -1 */
  int closed_fd = open("/dev/null", O_RDONLY);
  CHECK(closed_fd >= 0);
  close(closed_fd);
  int bad[] = {closed_fd, -1, 1000000};
  for (int i = 0; i < 3; i++) {
    int fd = bad[i];
    SOFT_ERRNO(IOB_READ_AT(rt, fd, b, sizeof b, 0), EBADF);
    SOFT_ERRNO(IOB_WRITE_AT(rt, fd, b, sizeof b, 0), EBADF);
    SOFT_ERRNO(IOB_FSYNC(rt, fd), EBADF);
    SOFT_ERRNO(IOB_STAT(rt, fd, &info), EBADF);
    SOFT_ERRNO(IOB_CLOSE(rt, fd), EBADF);
    SOFT_ERRNO(IOB_SREAD(rt, fd, b, sizeof b), EBADF);
    SOFT_ERRNO(IOB_SWRITE(rt, fd, b, sizeof b), EBADF);
    SOFT_ERRNO(IOB_ACCEPT(rt, fd), EBADF);
  }
  /* wrong mode: write to a read-only fd, read from a write-only fd */
  int ro = (int)OKV(IO_OPEN(rt, P("f"), O_RDONLY, 0));
  SOFT_ERRNO(IOB_WRITE_AT(rt, ro, b, 4, 0), EBADF);
  int wo = (int)OKV(IO_OPEN(rt, P("f"), O_WRONLY, 0));
  SOFT_ERRNO(IOB_READ_AT(rt, wo, b, 4, 0), EBADF);
  /* read_at on a pipe: ESPIPE */
  int32_t pfd[2];
  CHECK_ST(luminal_pipe(pfd, NULL), LUMINAL_OK);
  SOFT_ERRNO(IOB_READ_AT(rt, pfd[0], b, 4, 0), ESPIPE);
  /* accept on a non-socket, a non-listening socket */
  SOFT_ERRNO(IOB_ACCEPT(rt, ro), ENOTSOCK);
  /* connect to a port nobody listens on */
  uint16_t port;
  int held = tu_refusing_port(&port);
  SOFT_ERRNO(IOB_CONNECT(rt, "127.0.0.1", port), ECONNREFUSED);
  close(held);
  /* listen on a port in use */
  int32_t l1, l2 = -5;
  luminal_io_result err = {0, 0, 0};
  uint16_t p1;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 1, &l1, &p1, NULL), LUMINAL_OK);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(p1);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) != 0 && errno == EADDRINUSE); /* SO_REUSEADDR does not share a listener */
  close(s);
  CHECK_ST(luminal_tcp_listen("127.0.0.1", p1, 1, &l2, NULL, &err), LUMINAL_E_IO);
  CHECK_EQ(err.status, LUMINAL_E_IO);
  CHECK_EQ(err.os_error, EADDRINUSE);
  CHECK_EQ(l2, -5);
  close(l1);
  luminal_io_result e2 = {0, 0, 0};
  CHECK_ST(luminal_stream_shutdown(ro, 1, &e2), LUMINAL_E_IO);
  CHECK_EQ(e2.os_error, ENOTSOCK);
  CHECK_ST(luminal_stream_shutdown(-1, 1, &e2), LUMINAL_E_IO);
  CHECK_EQ(e2.os_error, EBADF);
  close(pfd[0]);
  close(pfd[1]);
  OKV(IO_CLOSE(rt, ro));
  OKV(IO_CLOSE(rt, wo));
  tu_runtime_done(rt);
  tmpdir_done();
  SOFT_DONE();
}

static void eacces_checks(uint32_t backend) {
  luminal_runtime *rt = io_runtime_with(backend, 1);
  EXPECT_ERRNO(IO_OPEN(rt, P("secret"), O_RDONLY, 0), EACCES);
  EXPECT_ERRNO(IO_OPEN(rt, P("secret"), O_WRONLY, 0), EACCES);
  EXPECT_ERRNO(IO_OPEN(rt, P("locked/inner"), O_RDONLY, 0), EACCES);
  EXPECT_ERRNO(IO_OPEN(rt, P("locked/new"), O_CREAT | O_WRONLY, 0600), EACCES);
  luminal_view v = {NULL, 0};
  EXPECT_ERRNO(IO_MAP(rt, P("secret"), &v), EACCES);
  CHECK(v.data == NULL);
  luminal_buffer b = {NULL, 0};
  EXPECT_ERRNO(IO_READ_ALL(rt, P("secret"), &b), EACCES);
  CHECK(b.data == NULL);
  /* a readable file still works for this user (so the EACCES above is about permissions, not a broken setup) */
  int fd = (int)OKV(IO_OPEN(rt, P("public"), O_RDONLY, 0));
  OKV(IO_CLOSE(rt, fd));
  tu_runtime_done(rt);
}

IO_TEST(io_eacces) {
  uint32_t backend = io_backend_under_test();
  tmpdir_new();
  write_file_libc(P("secret"), 10, 1);
  write_file_libc(P("public"), 10, 1);
  CHECK(chmod(P("secret"), 0) == 0);
  CHECK(mkdir(P("locked"), 0700) == 0);
  write_file_libc(P("locked/inner"), 10, 1);
  CHECK(chmod(P("locked"), 0) == 0);
  CHECK(chmod(P("public"), 0644) == 0);
  if (geteuid() != 0) {
    eacces_checks(backend);
  } else {
    /* root bypasses permissions: run the checks in a child that drops to nobody first. No runtime exists in this
     * process yet, so the fork is clean. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(77);
      eacces_checks(backend);
      _exit(0);
    }
    int ws = 0;
    CHECK(waitpid(pid, &ws, 0) == pid);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 77) {
      printf("SKIP: running as root and setuid(65534) failed: the EACCES check cannot run\n");
    } else {
      CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the unprivileged child failed (status 0x%x; see above)", ws);
    }
  }
  chmod(P("locked"), 0700);
  tmpdir_done();
}

/* A closed peer: reads give value 0, writes give EPIPE / ECONNRESET. */
IO_TEST(io_closed_peer) {
  luminal_runtime *rt = io_rt();
  uint8_t b[4096];
  /* TCP */
  int c, s;
  tcp_pair(rt, &c, &s);
  fill_pat(b, 100, 0, 4);
  stream_write_all(rt, c, b, 100);
  uint8_t got[100];
  stream_read_exact(rt, s, got, 100);
  CHECK_EQ(check_pat(got, 100, 0, 4), -1);
  CHECK(close(s) == 0);
  memset(b, SENTINEL, sizeof b);
  CHECK_EQ(OKV(IO_SREAD(rt, c, b, sizeof b)), 0); /* FIN: value 0 */
  CHECK_EQ(OKV(IO_SREAD(rt, c, b, sizeof b)), 0); /* and again */
  CHECK_EQ(first_not(b, sizeof b, SENTINEL), -1);
  /* The first write after the peer closed may still be accepted by the kernel (the peer answers with RST); a
   * following one must fail with EPIPE or ECONNRESET. */
  int failed = 0, tries = 0;
  for (; tries < 200 && !failed; tries++) {
    luminal_io_result r = IO_SWRITE(rt, c, b, sizeof b);
    if (r.status == LUMINAL_E_IO) {
      CHECK_MSG(r.os_error == EPIPE || r.os_error == ECONNRESET, "write to a closed TCP peer: errno %d (%s)",
                r.os_error, strerror(r.os_error));
      failed = 1;
    } else {
      CHECK_EQ(r.status, LUMINAL_OK);
      tu_sleep_ms(5);
    }
  }
  CHECK_MSG(failed, "200 writes to a closed TCP peer all succeeded");
  /* once reset, every later write fails too */
  luminal_io_result r = IO_SWRITE(rt, c, b, 10);
  CHECK_EQ(r.status, LUMINAL_E_IO);
  CHECK(r.os_error == EPIPE || r.os_error == ECONNRESET);
  close(c);

  /* TCP, half close: the peer shuts down its write side only: read gives 0, and writing still works. */
  tcp_pair(rt, &c, &s);
  luminal_io_result e = {-1, -1, 9};
  CHECK_ST(luminal_stream_shutdown(s, 1, &e), LUMINAL_OK);
  CHECK(e.status == LUMINAL_OK && e.os_error == 0 && e.value == 0);
  CHECK_EQ(OKV(IO_SREAD(rt, c, b, sizeof b)), 0);
  fill_pat(b, 50, 0, 5);
  stream_write_all(rt, c, b, 50);
  stream_read_exact(rt, s, got, 50);
  CHECK_EQ(check_pat(got, 50, 0, 5), -1);
  /* SHUT_RDWR on our side: our own write then fails with EPIPE */
  CHECK_ST(luminal_stream_shutdown(c, 2, NULL), LUMINAL_OK);
  EXPECT_ERRNO(IO_SWRITE(rt, c, b, 10), EPIPE);
  close(c);
  close(s);

  /* Pipes: write end closed -> read gives 0; read end closed -> write gives EPIPE (and no SIGPIPE kills us). */
  int32_t p[2];
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  fill_pat(b, 10, 0, 6);
  stream_write_all(rt, p[1], b, 10);
  close(p[1]);
  memset(got, 0, sizeof got);
  CHECK_EQ(OKV(IO_SREAD(rt, p[0], got, sizeof got)), 10);
  CHECK_EQ(check_pat(got, 10, 0, 6), -1);
  CHECK_EQ(OKV(IO_SREAD(rt, p[0], got, sizeof got)), 0);
  close(p[0]);
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  close(p[0]);
  EXPECT_ERRNO(IO_SWRITE(rt, p[1], b, 10), EPIPE);
  close(p[1]);
  tu_runtime_done(rt);
}

/* "A closed peer gives LUMINAL_E_IO with EPIPE or ECONNRESET (never SIGPIPE)": with a counting SIGPIPE handler
 * installed (instead of whatever disposition the process had), no SIGPIPE may be raised. */
static atomic_int g_sigpipes;
static void on_sigpipe(int sig) {
  (void)sig;
  atomic_fetch_add(&g_sigpipes, 1);
}

IO_TEST(io_no_sigpipe) {
  luminal_runtime *rt = io_rt();
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigpipe;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGPIPE, &sa, &old) == 0);
  uint8_t b[256];
  memset(b, 1, sizeof b);
  /* socket */
  int c, s;
  tcp_pair(rt, &c, &s);
  close(s);
  int failed = 0;
  for (int i = 0; i < 200 && !failed; i++) {
    luminal_io_result r = IO_SWRITE(rt, c, b, sizeof b);
    if (r.status == LUMINAL_E_IO) failed = 1;
    else tu_sleep_ms(5);
  }
  CHECK(failed);
  IO_SWRITE(rt, c, b, sizeof b);
  close(c);
  tu_sleep_ms(20);
  int after_socket = atomic_load(&g_sigpipes);
  /* pipe */
  int32_t p[2];
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  close(p[0]);
  EXPECT_ERRNO(IO_SWRITE(rt, p[1], b, sizeof b), EPIPE);
  EXPECT_ERRNO(IO_SWRITE(rt, p[1], b, sizeof b), EPIPE);
  close(p[1]);
  tu_sleep_ms(20);
  int after_pipe = atomic_load(&g_sigpipes) - after_socket;
  CHECK(sigaction(SIGPIPE, &old, NULL) == 0);
  CHECK_MSG(after_socket == 0, "stream_write to a closed TCP peer raised SIGPIPE %d time(s)", after_socket);
  /* A pipe has no MSG_NOSIGNAL: like write(2), a write to a pipe without reader follows the process's SIGPIPE
   * disposition (the header says so); what the library owes is the EPIPE answer, checked above. */
  (void)after_pipe;
  tu_runtime_done(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 4. Mapped file and runtime-owned buffer                                                                       */
/* ------------------------------------------------------------------------------------------------------------- */

IO_TEST(io_file_map) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  const size_t sizes[] = {1, 4096, 200001};
  for (int i = 0; i < 3; i++) {
    write_file_libc(P("m"), sizes[i], 20 + i);
    luminal_view v;
    memset(&v, GARBAGE, sizeof v);
    CHECK_EQ(OKV(IO_MAP(rt, P("m"), &v)), sizes[i]);
    CHECK(v.data != NULL);
    CHECK_EQ(v.len, sizes[i]);
    CHECK_EQ(check_pat(v.data, v.len, 0, 20 + i), -1);
    luminal_view_release(&v);
    CHECK(v.data == NULL && v.len == 0);
    luminal_view_release(&v); /* a zeroed view is ignored */
  }
  /* the fd is closed once mapped: no fd leak over many maps */
  int fds0 = baseline_fds();
  luminal_view vs[50];
  for (int i = 0; i < 50; i++) OKV(IO_MAP(rt, P("m"), &vs[i]));
  WAIT_UNTIL(count_open_fds() <= fds0);
  for (int i = 0; i < 50; i++) {
    CHECK_EQ(check_pat(vs[i].data, vs[i].len, 0, 22), -1);
    luminal_view_release(&vs[i]);
  }
  /* empty file: OK, NULL, 0 */
  write_file_libc(P("empty"), 0, 0);
  luminal_view v;
  memset(&v, GARBAGE, sizeof v);
  CHECK_EQ(OKV(IO_MAP(rt, P("empty"), &v)), 0);
  CHECK_MSG(v.data == NULL && v.len == 0, "empty file mapped to data %p len %zu", (void *)v.data, v.len);
  luminal_view_release(&v);
  /* a directory is refused */
  memset(&v, 0, sizeof v);
  luminal_io_result r = IO_MAP(rt, g_dir, &v);
  CHECK_MSG(r.status == LUMINAL_E_IO, "mapping a directory: status %d", r.status);
  CHECK(v.data == NULL && v.len == 0);
  /* a pipe is refused (its /proc path, with the write end open so open(2) does not wait) */
  int32_t p[2];
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  char pp[64];
  snprintf(pp, sizeof pp, "/proc/self/fd/%d", p[0]);
  memset(&v, 0, sizeof v);
  r = IO_MAP(rt, pp, &v);
  CHECK_MSG(r.status == LUMINAL_E_IO, "mapping a pipe: status %d", r.status);
  CHECK(v.data == NULL && v.len == 0);
  close(p[0]);
  close(p[1]);
  /* a named FIFO that has a writer is refused */
  CHECK(mkfifo(P("fifo"), 0600) == 0);
  int keep = open(P("fifo"), O_RDWR | O_NONBLOCK);
  CHECK(keep >= 0);
  memset(&v, 0, sizeof v);
  r = IO_MAP(rt, P("fifo"), &v);
  CHECK_MSG(r.status == LUMINAL_E_IO, "mapping a FIFO: status %d", r.status);
  CHECK(v.data == NULL && v.len == 0);
  close(keep);
  /* the mapping survives the file being replaced/removed */
  write_file_libc(P("gone"), 5000, 33);
  memset(&v, 0, sizeof v);
  OKV(IO_MAP(rt, P("gone"), &v));
  CHECK(unlink(P("gone")) == 0);
  CHECK_EQ(check_pat(v.data, 5000, 0, 33), -1);
  luminal_view_release(&v);
  tu_runtime_done(rt);
  tmpdir_done();
}

/* Mapping a FIFO nobody writes to must be refused, not hang in open(2) forever. */
IO_TEST(io_map_fifo_no_writer) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  CHECK(mkfifo(P("fifo"), 0600) == 0);
  luminal_view v = {NULL, 0};
  luminal_io_result r;
  memset(&r, GARBAGE, sizeof r);
  luminal_future f;
  CHECK_ST(luminal_file_map(rt, P("fifo"), &v, &r, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f);
  void *out = NULL;
  luminal_status st = luminal_task_join(t, 5ull * 1000000000ull, &out);
  if (st == LUMINAL_E_TIMED_OUT) {
    /* unblock the library's open(2) so the process can end cleanly, then report */
    int w = open(P("fifo"), O_WRONLY | O_NONBLOCK);
    luminal_task_join(t, 5ull * 1000000000ull, &out);
    if (w >= 0) close(w);
    TEST_FAIL("luminal_file_map of a FIFO without a writer did not complete in 5 s (blocked in open(2))");
  }
  CHECK_ST(st, LUMINAL_OK);
  CHECK(out == &r);
  CHECK_MSG(r.status == LUMINAL_E_IO, "mapping a FIFO: status %d", r.status);
  CHECK(v.data == NULL);
  luminal_task_release(t);
  tu_runtime_done(rt);
  tmpdir_done();
}

IO_TEST(io_read_all) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  const size_t n = 3u << 20;
  write_file_libc(P("big"), n, 77);
  luminal_buffer b;
  memset(&b, GARBAGE, sizeof b);
  CHECK_EQ(OKV(IO_READ_ALL(rt, P("big"), &b)), n);
  CHECK(b.data != NULL);
  CHECK_EQ(b.len, n);
  CHECK_EQ(check_pat(b.data, b.len, 0, 77), -1);
  b.data[0] ^= 1; /* ours to write */
  luminal_buffer_release(&b);
  CHECK(b.data == NULL && b.len == 0);
  luminal_buffer_release(&b);
  /* small and empty files */
  write_file_libc(P("one"), 1, 2);
  memset(&b, GARBAGE, sizeof b);
  CHECK_EQ(OKV(IO_READ_ALL(rt, P("one"), &b)), 1);
  CHECK_EQ(b.len, 1);
  CHECK_EQ(b.data[0], pat(0, 2));
  luminal_buffer_release(&b);
  write_file_libc(P("empty"), 0, 0);
  memset(&b, GARBAGE, sizeof b);
  CHECK_EQ(OKV(IO_READ_ALL(rt, P("empty"), &b)), 0);
  CHECK_EQ(b.len, 0);
  luminal_buffer_release(&b);
  CHECK(b.data == NULL && b.len == 0);
  /* a directory */
  memset(&b, 0, sizeof b);
  luminal_io_result r = IO_READ_ALL(rt, g_dir, &b);
  CHECK_MSG(r.status == LUMINAL_E_IO && r.os_error == EISDIR, "read_all of a directory: status %d errno %d", r.status,
            r.os_error);
  CHECK(b.data == NULL);
  /* no fd leak */
  int fds0 = baseline_fds();
  for (int i = 0; i < 30; i++) {
    OKV(IO_READ_ALL(rt, P("one"), &b));
    luminal_buffer_release(&b);
  }
  WAIT_UNTIL(count_open_fds() <= fds0);
  tu_runtime_done(rt);
  tmpdir_done();
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 5. Cancellation: the abandoned buffer is never written after the drop returned                                */
/* ------------------------------------------------------------------------------------------------------------- */

/* A wrapper that polls an IO future as a sub-future. mode 0: stays pending (the test aborts the task);
 * mode 1: after the inner future went pending once, waits `sleep_ms` on a timer and then drops the inner future
 * itself (from its own poll) and completes. */
typedef struct cw {
  luminal_future inner;
  int inner_live;
  int mode;
  unsigned sleep_ms;
  luminal_future sleep;
  int sleep_live;
  atomic_int pending_polls;
  atomic_int inner_ready; /* the inner future completed (unexpected for mode 0 on an idle stream) */
  void *inner_out;
  atomic_int dropped_inner_in_poll;
  atomic_int dropped;
} cw;

static luminal_poll cw_poll(void *state, luminal_context *cx, void **out) {
  cw *w = (cw *)state;
  *out = NULL;
  if (w->sleep_live) {
    void *o = NULL;
    if (w->sleep.poll(w->sleep.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    w->sleep.drop(w->sleep.state);
    w->sleep_live = 0;
    if (w->inner_live) {
      w->inner.drop(w->inner.state); /* waits for the kernel / pool thread to let go of the buffer */
      w->inner_live = 0;
      atomic_store(&w->dropped_inner_in_poll, 1);
    }
    return LUMINAL_POLL_READY;
  }
  if (!w->inner_live) return LUMINAL_POLL_READY;
  void *o = NULL;
  if (w->inner.poll(w->inner.state, cx, &o) == LUMINAL_POLL_READY) {
    w->inner_out = o;
    w->inner.drop(w->inner.state);
    w->inner_live = 0;
    atomic_store(&w->inner_ready, 1);
    return LUMINAL_POLL_READY;
  }
  atomic_fetch_add(&w->pending_polls, 1);
  if (w->mode == 1 && !w->sleep_live) {
    CHECK_ST(luminal_sleep(luminal_context_runtime(cx), MS_NS(w->sleep_ms), &w->sleep), LUMINAL_OK);
    w->sleep_live = 1;
    /* Poll the new sleep at once (the branch above): under valgrind on a loaded machine its 40 ms may already
     * have passed, which must end the wait just the same. */
    return cw_poll(state, cx, out);
  }
  return LUMINAL_POLL_PENDING;
}

static void cw_drop(void *state) {
  cw *w = (cw *)state;
  if (w->inner_live) w->inner.drop(w->inner.state);
  w->inner_live = 0;
  if (w->sleep_live) w->sleep.drop(w->sleep.state);
  w->sleep_live = 0;
  atomic_store(&w->dropped, 1);
}

static luminal_future cw_future(cw *w) {
  luminal_future f = {w, cw_poll, cw_drop, NULL};
  return f;
}

/* After the read on `rfd` was abandoned: data written to `wfd` must not reach `buf` or `r`, and must still be
 * there for the next reader. */
static void check_abandoned(luminal_runtime *rt, int rfd, int wfd, const uint8_t *buf, size_t len,
                            const luminal_io_result *r, uint32_t seed, const char *how) {
  uint8_t data[64];
  fill_pat(data, sizeof data, 0, seed);
  CHECK_EQ(write(wfd, data, sizeof data), (ssize_t)sizeof data);
  tu_sleep_ms(100);
  long bad = first_not(buf, len, SENTINEL);
  CHECK_MSG(bad < 0, "%s: the abandoned buffer was written after the drop returned (byte %ld = 0x%02x)", how, bad,
            bad >= 0 ? buf[bad] : 0);
  CHECK_MSG(first_not((const uint8_t *)r, sizeof *r, GARBAGE) < 0,
            "%s: the abandoned result was written (status %d, os_error %d, value %" PRIu64 ")", how, r->status,
            r->os_error, r->value);
  /* the bytes are still in the stream: the cancelled read consumed nothing */
  uint8_t got[256];
  memset(got, 0, sizeof got);
  uint64_t n = OKV(IO_SREAD(rt, rfd, got, sizeof got));
  CHECK_MSG(n == sizeof data, "%s: after the cancelled read, the next read got %" PRIu64 " bytes, expected %zu", how, n,
            sizeof data);
  CHECK_EQ(check_pat(got, sizeof data, 0, seed), -1);
}

static void cancel_by_abort(luminal_runtime *rt, int rfd, int wfd, const char *kind) {
  static uint8_t buf[4096];
  memset(buf, SENTINEL, sizeof buf);
  luminal_io_result r;
  memset(&r, GARBAGE, sizeof r);
  cw w;
  memset(&w, 0, sizeof w);
  CHECK_ST(luminal_stream_read(rt, rfd, buf, sizeof buf, &r, &w.inner), LUMINAL_OK);
  w.inner_live = 1;
  w.mode = 0;
  luminal_task *t = tu_spawn(rt, cw_future(&w));
  WAIT_UNTIL(atomic_load(&w.pending_polls) >= 1 || atomic_load(&w.inner_ready));
  tu_sleep_ms(30); /* the kernel / pool thread is now waiting on the empty stream */
  CHECK_MSG(!atomic_load(&w.inner_ready),
            "%s: stream_read with no data available completed at once: status %d (%s) os_error %d (%s) value %" PRIu64,
            kind, r.status, luminal_status_str((luminal_status)r.status), r.os_error, strerror(r.os_error), r.value);
  CHECK_EQ(atomic_load(&w.dropped), 0);
  luminal_task_abort(t);
  void *out = (void *)(uintptr_t)1;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_E_CANCELLED);
  WAIT_UNTIL(atomic_load(&w.dropped) == 1);
  luminal_task_release(t);
  char how[64];
  snprintf(how, sizeof how, "%s, task aborted", kind);
  check_abandoned(rt, rfd, wfd, buf, sizeof buf, &r, 41, how);
}

static void cancel_in_own_poll(luminal_runtime *rt, int rfd, int wfd, const char *kind) {
  static uint8_t buf[4096];
  memset(buf, SENTINEL, sizeof buf);
  luminal_io_result r;
  memset(&r, GARBAGE, sizeof r);
  cw w;
  memset(&w, 0, sizeof w);
  CHECK_ST(luminal_stream_read(rt, rfd, buf, sizeof buf, &r, &w.inner), LUMINAL_OK);
  w.inner_live = 1;
  w.mode = 1;
  w.sleep_ms = 40;
  luminal_task *t = tu_spawn(rt, cw_future(&w));
  void *out = (void *)(uintptr_t)1;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  CHECK_MSG(!atomic_load(&w.inner_ready), "%s: stream_read with no data completed: status %d os_error %d (%s)", kind,
            r.status, r.os_error, strerror(r.os_error));
  CHECK_EQ(atomic_load(&w.dropped_inner_in_poll), 1);
  CHECK_EQ(atomic_load(&w.pending_polls) >= 1, 1);
  luminal_task_release(t);
  char how[64];
  snprintf(how, sizeof how, "%s, dropped in own poll", kind);
  check_abandoned(rt, rfd, wfd, buf, sizeof buf, &r, 42, how);
}

static void cancel_by_timeout(luminal_runtime *rt, int rfd, int wfd, const char *kind) {
  static uint8_t buf[4096];
  memset(buf, SENTINEL, sizeof buf);
  luminal_io_result r;
  memset(&r, GARBAGE, sizeof r);
  luminal_future inner, to;
  CHECK_ST(luminal_stream_read(rt, rfd, buf, sizeof buf, &r, &inner), LUMINAL_OK);
  CHECK_ST(luminal_timeout(rt, inner, MS_NS(50), &to), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
  CHECK_MSG(out == LUMINAL_TIMED_OUT_OUTPUT, "%s: stream_read on an idle stream beat a 50 ms timeout (out %p, status %d os_error %d)",
            kind, out, r.status, r.os_error);
  char how[64];
  snprintf(how, sizeof how, "%s, timed out", kind);
  check_abandoned(rt, rfd, wfd, buf, sizeof buf, &r, 43, how);
}

IO_TEST(io_cancel_pipe) {
  luminal_runtime *rt = io_rt();
  int32_t p[2];
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  cancel_by_abort(rt, p[0], p[1], "pipe");
  cancel_in_own_poll(rt, p[0], p[1], "pipe");
  cancel_by_timeout(rt, p[0], p[1], "pipe");
  close(p[0]);
  close(p[1]);
  tu_runtime_done(rt);
}

IO_TEST(io_cancel_socket) {
  luminal_runtime *rt = io_rt();
  int c, s;
  tcp_pair(rt, &c, &s);
  cancel_by_abort(rt, c, s, "tcp");
  cancel_in_own_poll(rt, c, s, "tcp");
  cancel_by_timeout(rt, s, c, "tcp(server side)");
  close(c);
  close(s);
  tu_runtime_done(rt);
}

/* Many reads pending on idle pipes, then the runtime shuts down: every one is cancelled and no buffer is touched. */
IO_TEST(io_cancel_by_shutdown) {
  luminal_runtime *rt = io_rt();
  enum { N = 16 };
  int32_t p[N][2];
  static uint8_t bufs[N][512];
  luminal_io_result rs[N];
  luminal_task *ts[N];
  memset(bufs, SENTINEL, sizeof bufs);
  memset(rs, GARBAGE, sizeof rs);
  for (int i = 0; i < N; i++) {
    CHECK_ST(luminal_pipe(p[i], NULL), LUMINAL_OK);
    luminal_future f;
    CHECK_ST(luminal_stream_read(rt, p[i][0], bufs[i], sizeof bufs[i], &rs[i], &f), LUMINAL_OK);
    ts[i] = tu_spawn(rt, f);
  }
  tu_sleep_ms(50);
  for (int i = 0; i < N; i++) CHECK_MSG(!luminal_task_is_finished(ts[i]), "read %d on an idle pipe finished (status %d os_error %d)", i, rs[i].status, rs[i].os_error);
  CHECK_ST(luminal_runtime_shutdown(rt, 10ull * 1000000000ull), LUMINAL_OK);
  for (int i = 0; i < N; i++) {
    void *out = NULL;
    luminal_status st = luminal_task_join(ts[i], 0, &out);
    /* Either the task was dropped by shutdown, or (a slow machine: its first poll was still running when shutdown
     * began) the read itself was refused and completed as cancelled. */
    CHECK_MSG(st == LUMINAL_E_CANCELLED || (st == LUMINAL_OK && out == &rs[i] && rs[i].status == LUMINAL_E_CANCELLED),
              "read %d after shutdown: join %d, result status %d", i, st, rs[i].status);
    luminal_task_release(ts[i]);
    CHECK_EQ(write(p[i][1], "0123456789", 10), 10);
  }
  tu_sleep_ms(50);
  for (int i = 0; i < N; i++) {
    CHECK_MSG(first_not(bufs[i], sizeof bufs[i], SENTINEL) < 0, "buffer %d written after shutdown", i);
    char got[16];
    CHECK_EQ(read(p[i][0], got, sizeof got), 10);
    close(p[i][0]);
    close(p[i][1]);
  }
  luminal_runtime_release(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 6. Dropping futures that were never polled, or whose result nobody read                                       */
/* ------------------------------------------------------------------------------------------------------------- */

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  CHECK(f != NULL);
  long size = 0, res = 0;
  CHECK(fscanf(f, "%ld %ld", &size, &res) == 2);
  fclose(f);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

IO_TEST(io_drop_never_polled) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  int fds0 = baseline_fds();
  luminal_io_result r;
  luminal_future f;
  /* open(O_CREAT) never polled: no file appears */
  memset(&r, GARBAGE, sizeof r);
  CHECK_ST(luminal_file_open(rt, P("never"), O_CREAT | O_RDWR, 0600, &r, &f), LUMINAL_OK);
  CHECK(f.drop != NULL);
  f.drop(f.state);
  tu_sleep_ms(20);
  CHECK_MSG(access(P("never"), F_OK) != 0, "a never-polled open(O_CREAT) future created the file");
  CHECK_EQ(first_not((uint8_t *)&r, sizeof r, GARBAGE), -1);
  /* write_at never polled: the file is unchanged */
  write_file_libc(P("f"), 100, 5);
  int fd = open(P("f"), O_RDWR);
  uint8_t zeros[100] = {0};
  CHECK_ST(luminal_file_write_at(rt, fd, zeros, sizeof zeros, 0, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  uint8_t b[100];
  CHECK_EQ(pread(fd, b, 100, 0), 100);
  CHECK_EQ(check_pat(b, 100, 0, 5), -1);
  /* read_at, fsync, stat, close never polled: nothing touched; close did not close */
  memset(b, SENTINEL, sizeof b);
  luminal_file_info info;
  memset(&info, GARBAGE, sizeof info);
  CHECK_ST(luminal_file_read_at(rt, fd, b, sizeof b, 0, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  CHECK_ST(luminal_file_fsync(rt, fd, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  CHECK_ST(luminal_file_stat(rt, fd, &info, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  CHECK_ST(luminal_file_close(rt, fd, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  tu_sleep_ms(20);
  CHECK_EQ(first_not(b, sizeof b, SENTINEL), -1);
  CHECK_EQ(first_not((uint8_t *)&info, sizeof info, GARBAGE), -1);
  CHECK_EQ(first_not((uint8_t *)&r, sizeof r, GARBAGE), -1);
  CHECK_MSG(fd_is_open(fd), "a never-polled close future closed the fd");
  close(fd);
  /* map / read_all never polled: view and buffer untouched */
  luminal_view v;
  luminal_buffer bb;
  memset(&v, GARBAGE, sizeof v);
  memset(&bb, GARBAGE, sizeof bb);
  CHECK_ST(luminal_file_map(rt, P("f"), &v, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  CHECK_ST(luminal_file_read_all(rt, P("f"), &bb, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  tu_sleep_ms(20);
  CHECK_EQ(first_not((uint8_t *)&v, sizeof v, GARBAGE), -1);
  CHECK_EQ(first_not((uint8_t *)&bb, sizeof bb, GARBAGE), -1);
  /* stream read on a pipe with data, never polled: the data stays; connect never polled: no connection */
  int32_t p[2];
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  CHECK_EQ(write(p[1], "abc", 3), 3);
  CHECK_ST(luminal_stream_read(rt, p[0], b, sizeof b, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  CHECK_ST(luminal_stream_write(rt, p[1], "xyz", 3, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  char got[8];
  CHECK_EQ(read(p[0], got, sizeof got), 3);
  CHECK(memcmp(got, "abc", 3) == 0);
  int32_t lfd;
  uint16_t port;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 4, &lfd, &port, NULL), LUMINAL_OK);
  CHECK_ST(luminal_tcp_connect(rt, "127.0.0.1", port, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  CHECK_ST(luminal_tcp_accept(rt, lfd, &r, &f), LUMINAL_OK);
  f.drop(f.state);
  tu_sleep_ms(20);
  CHECK_MSG(accept4(lfd, NULL, NULL, SOCK_NONBLOCK) < 0 && errno == EAGAIN, "a never-polled connect connected");
  close(lfd);
  close(p[0]);
  close(p[1]);
  CHECK_EQ(first_not((uint8_t *)&r, sizeof r, GARBAGE), -1);
  WAIT_UNTIL(count_open_fds() <= fds0); /* a leaked fd never goes away: this then fails after 20 s */

  /* A future dropped twice: the second drop is ignored and does not disturb a newer operation that may reuse
   * its slot. */
  luminal_future f1, f2;
  luminal_io_result r1, r2;
  CHECK_ST(luminal_file_open(rt, P("f"), O_RDONLY, 0, &r1, &f1), LUMINAL_OK);
  f1.drop(f1.state);
  CHECK_ST(luminal_file_open(rt, P("f"), O_RDONLY, 0, &r2, &f2), LUMINAL_OK);
  f1.drop(f1.state);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, f2, &out), LUMINAL_OK);
  CHECK(out == &r2);
  CHECK_EQ(r2.status, LUMINAL_OK);
  close((int)r2.value);

  /* No leak: 200,000 never-polled futures carrying a 4,000-byte path; a leak of the path copy alone would be
   * ~780 MiB. */
  static char longpath[4001];
  memset(longpath, 'a', 4000);
  longpath[0] = '/';
  for (int i = 0; i < 20000; i++) {
    CHECK_ST(luminal_file_open(rt, longpath, O_RDONLY, 0, &r, &f), LUMINAL_OK);
    f.drop(f.state);
  }
  long rss0 = rss_kib();
  for (int i = 0; i < 200000; i++) {
    luminal_status st = luminal_file_open(rt, longpath, O_RDONLY, 0, &r, &f);
    CHECK_MSG(st == LUMINAL_OK, "open future #%d: %s", i, luminal_status_str(st));
    f.drop(f.state);
    st = luminal_file_read_at(rt, 0, b, sizeof b, 0, &r, &f);
    CHECK_MSG(st == LUMINAL_OK, "read_at future #%d: %s", i, luminal_status_str(st));
    f.drop(f.state);
  }
  long grew = rss_kib() - rss0;
  CHECK_MSG(grew < 64 * 1024, "RSS grew %ld KiB over 400,000 created-and-dropped IO futures", grew);
  tu_runtime_done(rt);
  tmpdir_done();
}

/* An operation that completed but whose result was never read (the future dropped without a last poll) gives back
 * what it produced: opened fds are closed. */
IO_TEST(io_drop_completed_unread) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  write_file_libc(P("f"), 4096, 8);
  int32_t lfd;
  uint16_t port;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 64, &lfd, &port, NULL), LUMINAL_OK);
  int fds0 = baseline_fds();
  enum { N = 24 };
  static cw ws[N];
  static luminal_io_result rs[N];
  static luminal_buffer bufs[N];
  luminal_task *ts[N];
  memset(ws, 0, sizeof ws);
  memset(rs, GARBAGE, sizeof rs);
  memset(bufs, 0, sizeof bufs);
  for (int i = 0; i < N; i++) {
    switch (i % 3) {
      case 0: CHECK_ST(luminal_file_open(rt, P("f"), O_RDONLY, 0, &rs[i], &ws[i].inner), LUMINAL_OK); break;
      case 1: CHECK_ST(luminal_tcp_connect(rt, "127.0.0.1", port, &rs[i], &ws[i].inner), LUMINAL_OK); break;
      case 2: CHECK_ST(luminal_file_read_all(rt, P("f"), &bufs[i], &rs[i], &ws[i].inner), LUMINAL_OK); break;
    }
    ws[i].inner_live = 1;
    ws[i].mode = 1;
    ws[i].sleep_ms = 1000;
    ts[i] = tu_spawn(rt, cw_future(&ws[i]));
  }
  /* Some operation produces an fd well before the wrappers drop them (1 s): look for it until 0.9 s (a fixed short
   * wait failed on a loaded machine). */
  int seen_fd = 0;
  for (int waited = 0; waited < 900 && !seen_fd; waited += 10) {
    if (count_open_fds() > fds0) seen_fd = 1;
    else tu_sleep_ms(10);
  }
  CHECK_MSG(seen_fd, "no operation has produced an fd after 0.9 s");
  int completed_first = 0;
  for (int i = 0; i < N; i++) {
    void *out = NULL;
    CHECK_ST(luminal_task_join(ts[i], UINT64_MAX, &out), LUMINAL_OK);
    luminal_task_release(ts[i]);
    if (atomic_load(&ws[i].inner_ready)) {
      /* An operation may complete inside its first poll (io_uring reaps right after submitting; a pool thread can
       * be that quick too): then its result was handed over and is ours to free. */
      CHECK_EQ(rs[i].status, LUMINAL_OK);
      if (i % 3 == 2) luminal_buffer_release(&bufs[i]);
      else close((int)rs[i].value);
      completed_first++;
      continue;
    }
    CHECK_EQ(atomic_load(&ws[i].dropped_inner_in_poll), 1);
  }
  /* accept the connections the connects made, so their client sides' fate is visible, then close them */
  int accepted = 0, a;
  while ((a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
    close(a);
    accepted++;
  }
  CHECK_EQ(accepted, N / 3);
  CHECK_MSG(completed_first < N, "every operation completed in its first poll: nothing was dropped unread");
  WAIT_UNTIL(count_open_fds() <= fds0); /* fails after 20 s if dropped, completed, unread open/connect leaked fds */
  for (int i = 2; i < N; i += 3)
    CHECK_MSG(bufs[i].data == NULL && bufs[i].len == 0, "dropped unread read_all left buffer %d (%p, %zu) for the caller",
              i, (void *)bufs[i].data, bufs[i].len);
  close(lfd);
  tu_runtime_done(rt);
  tmpdir_done();
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 7. 1,000 concurrent read_at on one file                                                                       */
/* ------------------------------------------------------------------------------------------------------------- */

enum { CR_N = 1000, CR_BLOCK = 1024 };
typedef struct cr_op {
  int fd;
  uint64_t off;
  sub_io sub;
  uint8_t buf[CR_BLOCK + 16];
  int started;
} cr_op;

static luminal_poll cr_poll(void *state, luminal_context *cx, void **out) {
  cr_op *o = (cr_op *)state;
  if (!o->started) {
    o->started = 1;
    memset(&o->sub.r, GARBAGE, sizeof o->sub.r);
    sub_start(&o->sub, luminal_file_read_at(luminal_context_runtime(cx), o->fd, o->buf, CR_BLOCK, o->off, &o->sub.r,
                                            &o->sub.f));
  }
  if (!sub_poll(&o->sub, cx)) return LUMINAL_POLL_PENDING;
  int good = o->sub.r.status == LUMINAL_OK && o->sub.r.value == CR_BLOCK &&
             check_pat(o->buf, CR_BLOCK, o->off, 99) < 0 && first_not(o->buf + CR_BLOCK, 16, SENTINEL) < 0;
  *out = tu_box_new(NULL, (uint64_t)good);
  return LUMINAL_POLL_READY;
}

static void cr_drop(void *state) { sub_drop(&((cr_op *)state)->sub); }

IO_TEST(io_concurrent_read_at) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  write_file_libc(P("f"), (size_t)CR_N * CR_BLOCK, 99);
  int fd = (int)OKV(IO_OPEN(rt, P("f"), O_RDONLY, 0));
  static cr_op ops[CR_N];
  static luminal_io_result raw_r[CR_N];
  luminal_task *ts[CR_N];
  memset(ops, 0, sizeof ops);
  memset(raw_r, GARBAGE, sizeof raw_r);
  uint64_t t0 = tu_now_ns();
  for (int i = 0; i < CR_N; i++) {
    cr_op *o = &ops[i];
    o->fd = fd;
    o->off = (uint64_t)((i * 7919) % CR_N) * CR_BLOCK + (uint64_t)(i % 3); /* scattered, some unaligned */
    memset(o->buf, SENTINEL, sizeof o->buf);
    if (i % 2 == 0) {
      luminal_future f = {o, cr_poll, cr_drop, tu_box_drop_output};
      ts[i] = tu_spawn(rt, f); /* polled as a sub-future from our own poll */
    } else {
      luminal_future f;
      size_t len = (i % 3 == 2) ? CR_BLOCK - 2 : CR_BLOCK; /* don't read past the end */
      CHECK_ST(luminal_file_read_at(rt, fd, o->buf, len, o->off, &raw_r[i], &f), LUMINAL_OK);
      ts[i] = tu_spawn(rt, f); /* the IO future spawned directly as a task */
    }
  }
  int good = 0;
  for (int i = 0; i < CR_N; i++) {
    void *out = NULL;
    CHECK_ST(luminal_task_join(ts[i], UINT64_MAX, &out), LUMINAL_OK);
    luminal_task_release(ts[i]);
    if (i % 2 == 0) {
      uint64_t g = tu_box_take(out);
      CHECK_MSG(g == 1, "read %d (sub-future) at %" PRIu64 ": status %d os_error %d value %" PRIu64 " or bytes wrong", i,
                ops[i].off, ops[i].sub.r.status, ops[i].sub.r.os_error, ops[i].sub.r.value);
      good++;
    } else {
      size_t len = (i % 3 == 2) ? CR_BLOCK - 2 : CR_BLOCK;
      CHECK_MSG(out == &raw_r[i], "read %d: output %p is not its result", i, out);
      CHECK_MSG(raw_r[i].status == LUMINAL_OK && raw_r[i].value == len,
                "read %d (spawned) at %" PRIu64 ": status %d os_error %d value %" PRIu64, i, ops[i].off,
                raw_r[i].status, raw_r[i].os_error, raw_r[i].value);
      CHECK_MSG(check_pat(ops[i].buf, len, ops[i].off, 99) < 0, "read %d: wrong bytes", i);
      CHECK_EQ(first_not(ops[i].buf + len, sizeof ops[i].buf - len, SENTINEL), -1);
      good++;
    }
  }
  CHECK_EQ(good, CR_N);
  printf("1000 concurrent read_at: %.1f ms\n", (tu_now_ns() - t0) / 1e6);
  OKV(IO_CLOSE(rt, fd));
  tu_runtime_done(rt);
  tmpdir_done();
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 8. TCP echo server (tasks) and clients; pipes both directions                                                 */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct echo {
  int rfd, wfd;
  uint8_t buf[4096];
  size_t n, off;
  int writing;
  uint64_t total;
  sub_io sub;
} echo;

static luminal_poll echo_poll(void *state, luminal_context *cx, void **out) {
  echo *e = (echo *)state;
  luminal_runtime *rt = luminal_context_runtime(cx);
  for (;;) {
    if (!e->sub.active) {
      memset(&e->sub.r, GARBAGE, sizeof e->sub.r);
      if (!e->writing)
        sub_start(&e->sub, luminal_stream_read(rt, e->rfd, e->buf, sizeof e->buf, &e->sub.r, &e->sub.f));
      else
        sub_start(&e->sub, luminal_stream_write(rt, e->wfd, e->buf + e->off, e->n - e->off, &e->sub.r, &e->sub.f));
    }
    if (!sub_poll(&e->sub, cx)) return LUMINAL_POLL_PENDING;
    if (e->sub.r.status != LUMINAL_OK)
      TEST_FAIL("echo task: %s failed: status %d os_error %d (%s)", e->writing ? "stream_write" : "stream_read",
                e->sub.r.status, e->sub.r.os_error, strerror(e->sub.r.os_error));
    if (!e->writing) {
      if (e->sub.r.value == 0) {
        close(e->rfd);
        if (e->wfd != e->rfd) close(e->wfd);
        *out = tu_box_new(NULL, e->total);
        return LUMINAL_POLL_READY;
      }
      CHECK(e->sub.r.value <= sizeof e->buf);
      e->n = e->sub.r.value;
      e->off = 0;
      e->writing = 1;
    } else {
      CHECK(e->sub.r.value > 0 && e->sub.r.value <= e->n - e->off);
      e->off += e->sub.r.value;
      e->total += e->sub.r.value;
      if (e->off == e->n) e->writing = 0;
    }
  }
}

static void echo_drop(void *state) {
  echo *e = (echo *)state;
  sub_drop(&e->sub);
  free(e);
}

static luminal_future echo_future(int rfd, int wfd) {
  echo *e = (echo *)calloc(1, sizeof *e);
  CHECK(e != NULL);
  e->rfd = rfd;
  e->wfd = wfd;
  luminal_future f = {e, echo_poll, echo_drop, tu_box_drop_output};
  return f;
}

typedef struct server {
  int lfd;
  int n, accepted;
  sub_io sub;
  luminal_task_set *echoes; /* one echo task per connection; the test joins them */
} server;

static luminal_poll server_poll(void *state, luminal_context *cx, void **out) {
  server *s = (server *)state;
  for (;;) {
    if (s->accepted == s->n) {
      *out = tu_box_new(NULL, (uint64_t)s->accepted);
      return LUMINAL_POLL_READY;
    }
    if (!s->sub.active) {
      memset(&s->sub.r, GARBAGE, sizeof s->sub.r);
      sub_start(&s->sub, luminal_tcp_accept(luminal_context_runtime(cx), s->lfd, &s->sub.r, &s->sub.f));
    }
    if (!sub_poll(&s->sub, cx)) return LUMINAL_POLL_PENDING;
    if (s->sub.r.status != LUMINAL_OK)
      TEST_FAIL("accept failed: status %d os_error %d (%s)", s->sub.r.status, s->sub.r.os_error,
                strerror(s->sub.r.os_error));
    int fd = (int)s->sub.r.value;
    CHECK(fd >= 0);
    CHECK_ST(luminal_task_set_spawn(s->echoes, echo_future(fd, fd), NULL), LUMINAL_OK);
    s->accepted++;
  }
}

static void server_drop(void *state) { sub_drop(&((server *)state)->sub); }

enum { ECHO_CLIENTS = 8, ECHO_MSGS = 40 };
typedef struct client_arg {
  luminal_runtime *rt;
  uint16_t port;
  int id;
  int ok;
} client_arg;

static void *client_main(void *p) {
  client_arg *a = (client_arg *)p;
  luminal_runtime *rt = a->rt;
  int fd = (int)OKV(IO_CONNECT(rt, "127.0.0.1", a->port));
  uint8_t msg[6000], got[6000];
  uint64_t pos = 0;
  for (int m = 0; m < ECHO_MSGS; m++) {
    size_t len = 1 + (size_t)((a->id * 131 + m * 977) % 5999);
    fill_pat(msg, len, pos, (uint32_t)a->id);
    stream_write_all(rt, fd, msg, len);
    memset(got, 0, len);
    stream_read_exact(rt, fd, got, len);
    long bad = check_pat(got, len, pos, (uint32_t)a->id);
    CHECK_MSG(bad < 0, "client %d message %d: echo differs at byte %ld", a->id, m, bad);
    pos += len;
  }
  CHECK_ST(luminal_stream_shutdown(fd, 1, NULL), LUMINAL_OK);
  CHECK_EQ(OKV(IO_SREAD(rt, fd, got, sizeof got)), 0); /* the echo task saw our FIN and closed */
  OKV(IO_CLOSE(rt, fd));
  a->ok = 1;
  return NULL;
}

IO_TEST(io_tcp_echo) {
  luminal_runtime *rt = io_rt();
  int32_t lfd = -1;
  uint16_t port = 0;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 64, &lfd, &port, NULL), LUMINAL_OK);
  server sv;
  memset(&sv, 0, sizeof sv);
  sv.lfd = lfd;
  sv.n = ECHO_CLIENTS;
  CHECK_ST(luminal_task_set_new(rt, &sv.echoes), LUMINAL_OK);
  luminal_future sf = {&sv, server_poll, server_drop, tu_box_drop_output};
  luminal_task *st = tu_spawn(rt, sf);
  pthread_t th[ECHO_CLIENTS];
  client_arg args[ECHO_CLIENTS];
  for (int i = 0; i < ECHO_CLIENTS; i++) {
    args[i] = (client_arg){rt, port, i + 1, 0};
    CHECK(pthread_create(&th[i], NULL, client_main, &args[i]) == 0);
  }
  for (int i = 0; i < ECHO_CLIENTS; i++) {
    CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(args[i].ok);
  }
  CHECK_EQ(tu_join_value(st), ECHO_CLIENTS);
  luminal_task_release(st);
  /* every echo task finishes (the client's FIN) with the bytes it echoed: all of them, once */
  uint64_t echoed = 0, sent = 0;
  for (int id = 1; id <= ECHO_CLIENTS; id++)
    for (int m = 0; m < ECHO_MSGS; m++) sent += 1 + (uint64_t)((id * 131 + m * 977) % 5999);
  for (int i = 0; i < ECHO_CLIENTS; i++) {
    void *o = NULL;
    luminal_status res = LUMINAL_E_INTERNAL;
    luminal_future next;
    CHECK_ST(luminal_task_set_join_next(sv.echoes, &o, &res, &next), LUMINAL_OK);
    CHECK_ST(luminal_block_on(rt, next, NULL), LUMINAL_OK);
    CHECK_ST(res, LUMINAL_OK);
    echoed += tu_box_take(o);
  }
  CHECK_EQ(echoed, sent);
  CHECK_EQ(luminal_task_set_len(sv.echoes), 0);
  luminal_task_set_release(sv.echoes);
  close(lfd);
  tu_runtime_done(rt);
}

/* A listener in blocking mode (made by hand, not by luminal_tcp_listen): accept never blocks the polling thread
 * (io_uring tries accept4 on the submitting thread only for a non-blocking listener): with no connection it waits
 * (here: times out, the thread free), with one waiting it completes; the new socket is non-blocking, close-on-exec.
 * And a non-blocking listener with several connections waiting: each accept takes one (io_uring: the accept4 try). */
IO_TEST(io_accept_blocking_listener) {
  luminal_runtime *rt = io_rt();
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(lfd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
  CHECK(listen(lfd, 4) == 0);
  CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
  luminal_io_result r;
  luminal_future accept, timed;
  void *out = NULL;
  CHECK_ST(luminal_tcp_accept(rt, lfd, &r, &accept), LUMINAL_OK);
  CHECK_ST(luminal_timeout(rt, accept, MS_NS(20), &timed), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, timed, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(c >= 0);
  CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
  int fd = (int)OKV(IO_ACCEPT(rt, lfd));
  CHECK(fd >= 0);
  CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  close(fd);
  close(c);
  close(lfd);

  int32_t nlfd = -1;
  uint16_t port = 0;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 8, &nlfd, &port, NULL), LUMINAL_OK);
  int cs[3];
  sa.sin_port = htons(port);
  for (int i = 0; i < 3; i++) {
    cs[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(cs[i] >= 0);
    CHECK(connect(cs[i], (struct sockaddr *)&sa, sizeof sa) == 0);
  }
  for (int i = 0; i < 3; i++) {
    int a = (int)OKV(IO_ACCEPT(rt, nlfd));
    CHECK(a >= 0);
    CHECK((fcntl(a, F_GETFL) & O_NONBLOCK) != 0);
    close(a);
  }
  CHECK_MSG(accept4(nlfd, NULL, NULL, SOCK_NONBLOCK) < 0 && errno == EAGAIN, "a connection was accepted twice");
  for (int i = 0; i < 3; i++) close(cs[i]);
  close(nlfd);
  tu_runtime_done(rt);
}

typedef struct pipe_writer {
  luminal_runtime *rt;
  int fd;
  size_t n;
} pipe_writer;

static void *pipe_writer_main(void *p) {
  pipe_writer *w = (pipe_writer *)p;
  uint8_t *b = (uint8_t *)malloc(w->n);
  fill_pat(b, w->n, 0, 55);
  stream_write_all(w->rt, w->fd, b, w->n);
  close(w->fd);
  free(b);
  return NULL;
}

IO_TEST(io_pipes_both_directions) {
  luminal_runtime *rt = io_rt();
  int32_t a[2], b[2];
  CHECK_ST(luminal_pipe(a, NULL), LUMINAL_OK); /* us -> task */
  CHECK_ST(luminal_pipe(b, NULL), LUMINAL_OK); /* task -> us */
  CHECK_MSG(fcntl(a[0], F_GETFD) & FD_CLOEXEC, "luminal_pipe fds are not close-on-exec");
  luminal_task *t = tu_spawn(rt, echo_future(a[0], b[1]));
  /* ping-pong of small messages */
  uint8_t msg[3000], got[3000];
  uint64_t pos = 0;
  for (int m = 0; m < 100; m++) {
    size_t len = 1 + (size_t)((m * 613) % 2999);
    fill_pat(msg, len, pos, 66);
    stream_write_all(rt, a[1], msg, len);
    stream_read_exact(rt, b[0], got, len);
    CHECK_EQ(check_pat(got, len, pos, 66), -1);
    pos += len;
  }
  /* then 1 MiB streamed through (needs a concurrent writer: the pipes hold only 64 KiB), and end of stream */
  pipe_writer w = {rt, a[1], 1u << 20};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, pipe_writer_main, &w) == 0);
  uint8_t *big = (uint8_t *)malloc(w.n + 1);
  size_t have = 0;
  for (;;) {
    uint64_t n = OKV(IO_SREAD(rt, b[0], big + have, w.n + 1 - have));
    if (n == 0) break;
    have += n;
    CHECK(have <= w.n);
  }
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_EQ(have, w.n);
  CHECK_EQ(check_pat(big, have, 0, 55), -1);
  free(big);
  CHECK_EQ(tu_join_value(t), pos + w.n); /* finished: it echoed everything */
  luminal_task_release(t);
  close(b[0]);
  tu_runtime_done(rt);
}

/* An operation that completes inside the poll that submitted it (room in the socket buffer) is not a wake: the
 * task is not polled again for it. Here the task then waits on a gate, so a spurious wake would show as a second
 * poll (and gate registration) before the gate opens. One worker, so "before" is well defined. */
typedef struct inline_write {
  int fd;
  tu_gate *gate;
  luminal_io_result r;
  luminal_future op;
  int submitted;
} inline_write;

static luminal_poll cb_inline_write(tf *f, luminal_context *cx, void **out) {
  inline_write *w = (inline_write *)f->user;
  if (!w->submitted) {
    static const char msg[] = "inline";
    CHECK_ST(luminal_stream_write(luminal_context_runtime(cx), w->fd, msg, sizeof msg, &w->r, &w->op), LUMINAL_OK);
    void *res = NULL;
    CHECK_MSG(w->op.poll(w->op.state, cx, &res) == LUMINAL_POLL_READY, "a write with room did not complete at once");
    CHECK_ST((luminal_status)w->r.status, LUMINAL_OK);
    CHECK_EQ(w->r.value, sizeof msg);
    w->op.drop(w->op.state);
    w->submitted = 1;
  }
  if (!tu_gate_poll(w->gate, cx)) return LUMINAL_POLL_PENDING;
  *out = tu_box_new(f->c, 7);
  return LUMINAL_POLL_READY;
}

IO_TEST(io_inline_completion_is_not_a_wake) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 1);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  tu_counters c = TU_COUNTERS_INIT;
  tu_gate g;
  tu_gate_init(&g);
  inline_write w = {.fd = sv[0], .gate = &g};
  luminal_task *t = tu_spawn(rt, tf_make(&c, cb_inline_write, &w, 0));
  WAIT_UNTIL(LOAD(g.registrations) >= 1);
  /* A task spawned now runs after anything the worker had queued (a spurious re-poll included). */
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&c, 1))), 1);
  CHECK_EQ(LOAD(g.registrations), 1);
  CHECK_EQ(LOAD(c.polls), 2); /* the gated task once, the ready one once */
  tu_gate_open(&g);
  CHECK_EQ(tu_join_value(t), 7);
  CHECK_EQ(LOAD(c.polls), 3);
  char buf[16];
  CHECK_EQ(read(sv[1], buf, sizeof buf), 7);
  close(sv[0]);
  close(sv[1]);
  tu_gate_destroy(&g);
  tu_runtime_done(rt);
}

/* One worker stuck inside a long poll must not hold up another task's IO: the idle worker reaps completions
 * (io_uring: it parked while the other was awake, so it looks at the ring every millisecond). A read on a socket
 * with no data yet is queued; its data arrives while the spinner spins; the read must finish before the spinner is
 * told to stop (it would spin 20 s at most). */
typedef struct spinner {
  atomic_int started, stop, done;
} spinner;

static luminal_poll spin_until_stopped(spinner *sp, tf *f, void **out) {
  atomic_store(&sp->started, 1);
  uint64_t t0 = tu_now_ns();
  while (!atomic_load(&sp->stop) && tu_now_ns() - t0 < 20ull * 1000000000ull) {}
  atomic_store(&sp->done, 1);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

static luminal_poll cb_spin(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  return spin_until_stopped((spinner *)f->user, f, out);
}

typedef struct late_writer { int fd; } late_writer;
static void *late_writer_main(void *p) {
  usleep(50 * 1000);
  CHECK_EQ(write(((late_writer *)p)->fd, "x", 1), 1);
  return NULL;
}

IO_TEST(io_completion_not_held_up_by_a_long_poll) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 2);
  tu_counters c = TU_COUNTERS_INIT;
  spinner sp;
  atomic_init(&sp.started, 0), atomic_init(&sp.stop, 0), atomic_init(&sp.done, 0);
  luminal_task *spin = tu_spawn(rt, tf_make(&c, cb_spin, &sp, 0));
  WAIT_UNTIL(atomic_load(&sp.started));
  /* The other worker runs this, then parks while the spinner is awake. */
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&c, 2))), 2);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  late_writer w = {sv[1]};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, late_writer_main, &w) == 0);
  char b[4];
  CHECK_EQ(OKV(IO_SREAD(rt, sv[0], b, sizeof b)), 1);
  CHECK_MSG(!atomic_load(&sp.done), "the read completed only after the long poll ended");
  atomic_store(&sp.stop, 1);
  CHECK_EQ(tu_join_value(spin), 1);
  CHECK(pthread_join(th, NULL) == 0);
  close(sv[0]);
  close(sv[1]);
  tu_runtime_done(rt);
}

/* The same when the long poll starts in a task that an IO completion just woke (its worker comes out of the ring
 * and runs it) while the other worker was already asleep: a read submitted meanwhile from a foreign thread must
 * still complete. */
typedef struct woken_spinner {
  int fd;
  spinner *sp;
  atomic_int submitted;
  luminal_io_result r;
  luminal_future op;
} woken_spinner;

static luminal_poll cb_read_then_spin(tf *f, luminal_context *cx, void **out) {
  woken_spinner *w = (woken_spinner *)f->user;
  if (!atomic_load(&w->submitted)) {
    static char b[4];
    CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), w->fd, b, sizeof b, &w->r, &w->op), LUMINAL_OK);
    atomic_store(&w->submitted, 1);
  }
  void *res = NULL;
  if (w->op.poll(w->op.state, cx, &res) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  w->op.drop(w->op.state);
  CHECK_EQ(w->r.value, 1);
  return spin_until_stopped(w->sp, f, out);
}

IO_TEST(io_completion_not_held_up_by_a_long_poll_after_a_wake) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 2);
  tu_counters c = TU_COUNTERS_INIT;
  spinner sp;
  atomic_init(&sp.started, 0), atomic_init(&sp.stop, 0), atomic_init(&sp.done, 0);
  int a[2], b[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
  woken_spinner ws = {.fd = a[0], .sp = &sp};
  atomic_init(&ws.submitted, 0);
  luminal_task *spin = tu_spawn(rt, tf_make(&c, cb_read_then_spin, &ws, 0));
  WAIT_UNTIL(atomic_load(&ws.submitted));
  usleep(20 * 1000); /* both workers asleep: one in the ring, one on its futex */
  CHECK_EQ(write(a[1], "s", 1), 1); /* the completion wakes a worker, which then spins */
  WAIT_UNTIL(atomic_load(&sp.started));
  late_writer w = {b[1]};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, late_writer_main, &w) == 0);
  char buf[4];
  CHECK_EQ(OKV(IO_SREAD(rt, b[0], buf, sizeof buf)), 1);
  CHECK_MSG(!atomic_load(&sp.done), "the read completed only after the long poll ended");
  atomic_store(&sp.stop, 1);
  CHECK_EQ(tu_join_value(spin), 1);
  CHECK(pthread_join(th, NULL) == 0);
  for (int i = 0; i < 2; i++) close(a[i]), close(b[i]);
  tu_runtime_done(rt);
}

/* io_uring: a socket read that would block is only queued by the worker that polls it, and submitted at that
 * worker's next IO turn. A worker that never runs out of work (a task yielding in a loop) must still take IO turns
 * (every few dozen turns of its loop): the read's SQE reaches the kernel, its completion is reaped, the reader
 * finishes while the yielder keeps yielding. One worker, so nobody else can do it. The same on the pool. */
typedef struct busy_reader {
  int fd;
  atomic_int submitted, done;
  luminal_io_result r;
  luminal_future op;
} busy_reader;

static luminal_poll cb_read_on_worker(tf *f, luminal_context *cx, void **out) {
  busy_reader *b = (busy_reader *)f->user;
  if (!atomic_load(&b->submitted)) {
    static char buf[4];
    CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), b->fd, buf, sizeof buf, &b->r, &b->op), LUMINAL_OK);
    atomic_store(&b->submitted, 1);
  }
  void *res = NULL;
  if (b->op.poll(b->op.state, cx, &res) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  b->op.drop(b->op.state);
  CHECK_EQ(b->r.value, 1);
  atomic_store(&b->done, 1);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

static luminal_poll cb_yield_until_read(tf *f, luminal_context *cx, void **out) {
  busy_reader *b = (busy_reader *)f->user;
  static uint64_t t0;
  if (!t0) t0 = tu_now_ns();
  if (!atomic_load(&b->done) && tu_now_ns() - t0 < 20ull * 1000000000ull) {
    luminal_waker_wake_by_ref(luminal_context_waker(cx)); /* runnable again at once: the worker never idles */
    return LUMINAL_POLL_PENDING;
  }
  *out = tu_box_new(f->c, atomic_load(&b->done) ? 2 : 0);
  return LUMINAL_POLL_READY;
}

IO_TEST(io_queued_read_completes_while_its_worker_stays_busy) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 1);
  tu_counters c = TU_COUNTERS_INIT;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  busy_reader b = {.fd = sv[0]};
  atomic_init(&b.submitted, 0), atomic_init(&b.done, 0);
  luminal_task *reader = tu_spawn(rt, tf_make(&c, cb_read_on_worker, &b, 0));
  WAIT_UNTIL(atomic_load(&b.submitted));
  luminal_task *yielder = tu_spawn(rt, tf_make(&c, cb_yield_until_read, &b, 0));
  usleep(10 * 1000);
  CHECK_EQ(write(sv[1], "r", 1), 1);
  CHECK_EQ(tu_join_value(reader), 1);
  CHECK_EQ(tu_join_value(yielder), 2); /* the read finished while the yielder was still yielding */
  close(sv[0]);
  close(sv[1]);
  tu_runtime_done(rt);
}

/* io_uring ties a request to the thread whose io_uring_enter submitted it, and completes it with ECANCELED when that
 * thread has exited by the time its wait ends. So a worker's queued read must never be submitted by another thread's
 * enter: here a host thread submits its own read (a pipe: straight to the ring) while the worker holds a queued
 * socket read inside one long poll, then the host thread exits; the socket read must still complete with the data
 * (it failed CANCELLED when any enter submitted everything queued: io_tcp_echo's flake). The same on the pool. */
typedef struct held_reader {
  int fd;
  atomic_int queued, release;
  luminal_io_result r;
  luminal_future op;
  char buf[4];
} held_reader;

static luminal_poll cb_read_and_hold(tf *f, luminal_context *cx, void **out) {
  held_reader *h = (held_reader *)f->user;
  void *res = NULL;
  if (!atomic_load(&h->queued)) {
    CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), h->fd, h->buf, sizeof h->buf, &h->r, &h->op), LUMINAL_OK);
    CHECK(h->op.poll(h->op.state, cx, &res) == LUMINAL_POLL_PENDING); /* nothing there yet */
    atomic_store(&h->queued, 1);
    WAIT_UNTIL(atomic_load(&h->release)); /* no IO turn on this (the only) worker meanwhile */
    return LUMINAL_POLL_PENDING;
  }
  if (h->op.poll(h->op.state, cx, &res) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  h->op.drop(h->op.state);
  *out = tu_box_new(f->c, h->r.status == LUMINAL_OK ? h->r.value : 1000 + (uint64_t)-h->r.status);
  return LUMINAL_POLL_READY;
}

typedef struct { luminal_runtime *rt; int fd; } pipe_reader_arg;
static void *host_pipe_read(void *p) {
  pipe_reader_arg *a = (pipe_reader_arg *)p;
  char b[4];
  CHECK_EQ(OKV(IO_SREAD(a->rt, a->fd, b, sizeof b)), 1);
  return NULL;
}

IO_TEST(io_queued_read_outlives_a_host_thread_that_submitted) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 1);
  tu_counters c = TU_COUNTERS_INIT;
  int sv[2], pp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK(pipe2(pp, O_CLOEXEC) == 0);
  held_reader h = {.fd = sv[0]};
  atomic_init(&h.queued, 0), atomic_init(&h.release, 0);
  luminal_task *reader = tu_spawn(rt, tf_make(&c, cb_read_and_hold, &h, 0));
  WAIT_UNTIL(atomic_load(&h.queued));
  CHECK_EQ(write(pp[1], "p", 1), 1);
  pthread_t th;
  pipe_reader_arg a = {rt, pp[0]};
  CHECK(pthread_create(&th, NULL, host_pipe_read, &a) == 0);
  CHECK(pthread_join(th, NULL) == 0); /* gone: whatever its enters submitted is tied to a dead thread */
  atomic_store(&h.release, 1);
  usleep(20 * 1000);
  CHECK_EQ(write(sv[1], "s", 1), 1);
  CHECK_EQ(tu_join_value(reader), 1); /* the byte, not 1000 + CANCELLED */
  close(sv[0]), close(sv[1]), close(pp[0]), close(pp[1]);
  tu_runtime_done(rt);
}

/* A read dropped while its SQE is still queued (never seen by the kernel) ends at once as cancelled, on the
 * dropping thread, without a flush: a byte written afterwards is still in the socket for the next reader. */
static luminal_poll cb_read_then_drop(tf *f, luminal_context *cx, void **out) {
  held_reader *h = (held_reader *)f->user;
  void *res = NULL;
  CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), h->fd, h->buf, sizeof h->buf, &h->r, &h->op), LUMINAL_OK);
  CHECK(h->op.poll(h->op.state, cx, &res) == LUMINAL_POLL_PENDING);
  h->op.drop(h->op.state); /* returns: nothing in the kernel to wait for */
  *out = tu_box_new(f->c, 7);
  return LUMINAL_POLL_READY;
}

IO_TEST(io_queued_read_dropped_before_its_flush) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 1);
  tu_counters c = TU_COUNTERS_INIT;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  held_reader h = {.fd = sv[0]};
  for (int i = 0; i < 50; i++) CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_read_then_drop, &h, 0))), 7);
  usleep(10 * 1000); /* a read that had reached the kernel anyway would take the byte now */
  CHECK_EQ(write(sv[1], "x", 1), 1);
  char b = 0;
  CHECK_EQ(read(sv[0], &b, 1), 1);
  CHECK_EQ(b, 'x');
  close(sv[0]), close(sv[1]);
  tu_runtime_done(rt);
}

/* io_uring: a read queued by a worker must not enter the kernel on a host thread. The kernel ties a request to the
 * thread whose io_uring_enter submitted it, and a waiting socket read whose submitter has exited completes with
 * -ECANCELED when data comes: a host thread's submission that carried the worker's queued read, followed by that
 * thread's exit, failed the read (io_tcp_echo.uring, ~1 run in 4). One worker: a task queues a read, another keeps
 * the worker inside one poll (no IO turn), a pthread does one file read through the runtime and drops one pending
 * socket read (its cancel enters on that thread too) and exits, then the data comes. The same on the pool. */
typedef struct carried {
  int fd, pfd, idle_fd;
  atomic_int submitted, spinning, stop;
  tu_counters *c;
  luminal_task *spinner;
  char buf[4];
  luminal_io_result r;
  luminal_future op;
} carried;

static luminal_poll cb_spin_until_stop(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  carried *k = (carried *)f->user;
  atomic_store(&k->spinning, 1);
  uint64_t t0 = tu_now_ns(); /* bounded: the pthread's read must not wait for this worker forever */
  while (!atomic_load(&k->stop) && tu_now_ns() - t0 < 5ull * 1000000000ull) {}
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

static luminal_poll cb_carried_read(tf *f, luminal_context *cx, void **out) {
  carried *k = (carried *)f->user;
  if (!atomic_load(&k->submitted)) {
    CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), k->fd, k->buf, sizeof k->buf, &k->r, &k->op),
             LUMINAL_OK);
    void *res = NULL;
    CHECK(k->op.poll(k->op.state, cx, &res) == LUMINAL_POLL_PENDING); /* queued: no data yet */
    /* The spinner takes the LIFO slot and runs right after this poll, before the worker's next IO turn. */
    CHECK_ST(luminal_context_spawn(cx, tf_make(k->c, cb_spin_until_stop, k, 0), &k->spinner), LUMINAL_OK);
    atomic_store(&k->submitted, 1);
    return LUMINAL_POLL_PENDING;
  }
  void *res = NULL;
  if (k->op.poll(k->op.state, cx, &res) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  k->op.drop(k->op.state);
  *out = tu_box_new(f->c, k->r.status == LUMINAL_OK ? k->r.value : 1000 + (uint64_t)-k->r.status);
  return LUMINAL_POLL_READY;
}

static luminal_runtime *g_carried_rt;
static luminal_poll poll_once_then_drop(void *state, luminal_context *cx, void **out) {
  luminal_future *inner = (luminal_future *)state;
  void *o = NULL;
  *out = (void *)(uintptr_t)(inner->poll(inner->state, cx, &o) == LUMINAL_POLL_PENDING);
  inner->drop(inner->state);
  return LUMINAL_POLL_READY;
}
static void *host_reads_once(void *p) {
  carried *k = (carried *)p;
  char b[64];
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_file_read_at(g_carried_rt, k->pfd, b, sizeof b, 0, &r, &f), LUMINAL_OK);
  CHECK_ST(luminal_block_on(g_carried_rt, f, NULL), LUMINAL_OK);
  CHECK_ST(r.status, LUMINAL_OK);
  /* A socket read polled once and dropped: its cancel enters on this thread too (and must not carry either). */
  void *out = NULL;
  CHECK_ST(luminal_stream_read(g_carried_rt, k->idle_fd, b, sizeof b, &r, &f), LUMINAL_OK);
  CHECK_ST(luminal_block_on(g_carried_rt, (luminal_future){.state = &f, .poll = poll_once_then_drop}, &out),
           LUMINAL_OK);
  CHECK(out == (void *)1); /* it was pending: dropped in flight */
  return NULL; /* the thread exits: requests its enters submitted are cancelled by the kernel */
}

IO_TEST(io_queued_read_survives_a_host_thread_exit) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 1);
  g_carried_rt = rt;
  tu_counters c = TU_COUNTERS_INIT;
  int sv[2], idle[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, idle) == 0);
  carried k = {.fd = sv[0], .pfd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), .idle_fd = idle[0], .c = &c};
  CHECK(k.pfd >= 0);
  atomic_init(&k.submitted, 0), atomic_init(&k.spinning, 0), atomic_init(&k.stop, 0);
  luminal_task *reader = tu_spawn(rt, tf_make(&c, cb_carried_read, &k, 0));
  WAIT_UNTIL(atomic_load(&k.submitted) && atomic_load(&k.spinning));
  pthread_t th;
  CHECK(pthread_create(&th, NULL, host_reads_once, &k) == 0);
  CHECK(pthread_join(th, NULL) == 0);
  atomic_store(&k.stop, 1);
  CHECK_EQ(tu_join_value(k.spinner), 1);
  CHECK_EQ(write(sv[1], "r", 1), 1);
  CHECK_EQ(tu_join_value(reader), 1); /* 1004: LUMINAL_E_CANCELLED, the read died with the host thread */
  close(k.pfd);
  close(sv[0]);
  close(sv[1]);
  close(idle[0]);
  close(idle[1]);
  tu_runtime_done(rt);
}

/* io_uring: a read that a worker queued on its own ring, followed by a long poll on that worker (the spinner takes
 * the LIFO slot, so no IO turn comes between): the other worker, parked and watching the ring, must submit it, or
 * the read waits for the long poll to end although its data came long before (each worker's ring is flushed by its
 * own loop). Two workers; the spinner stops after 5 s at the latest, the read must complete well before. The same
 * on the pool (its reactor has the read at once). */
IO_TEST(io_read_queued_by_a_busy_worker_is_submitted_by_the_watcher) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 2);
  tu_counters c = TU_COUNTERS_INIT;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  carried k = {.fd = sv[0], .pfd = -1, .idle_fd = -1, .c = &c};
  atomic_init(&k.submitted, 0), atomic_init(&k.spinning, 0), atomic_init(&k.stop, 0);
  luminal_task *reader = tu_spawn(rt, tf_make(&c, cb_carried_read, &k, 0));
  WAIT_UNTIL(atomic_load(&k.submitted) && atomic_load(&k.spinning));
  uint64_t t0 = tu_now_ns();
  CHECK_EQ(write(sv[1], "r", 1), 1);
  CHECK_EQ(tu_join_value(reader), 1);
  uint64_t took = tu_now_ns() - t0;
  CHECK_MSG(took < 2500ull * 1000000ull, "the read completed only when the long poll ended");
  atomic_store(&k.stop, 1);
  CHECK_EQ(tu_join_value(k.spinner), 1);
  close(sv[0]);
  close(sv[1]);
  tu_runtime_done(rt);
}

/* The same rule for a cancel entering on a host thread: its target, still queued by a worker, must go along with it
 * (ahead of it), and nothing else. One worker: a task starts two socket reads (both queued, the worker never takes
 * an IO turn: a spinner holds it) and hands the futures to the host, which drops one — the drop waits for that read's
 * completion, so it returns only if the read reached the kernel with its cancel (a cancel without its target would
 * never be answered: the drop hangs) — and then awaits the other. */
typedef struct handed {
  int fd_a, fd_b;
  atomic_int ready, spinning, stop, spun;
  tu_counters *c;
  luminal_task *spinner;
  char a[4], b[4];
  luminal_io_result ra, rb;
  luminal_future fa, fb;
} handed;

static luminal_poll cb_spin_handed(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  handed *h = (handed *)f->user;
  atomic_store(&h->spinning, 1);
  uint64_t t0 = tu_now_ns();
  while (!atomic_load(&h->stop) && tu_now_ns() - t0 < 5ull * 1000000000ull) {}
  atomic_store(&h->spun, 1);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

static luminal_poll cb_start_and_hand_over(tf *f, luminal_context *cx, void **out) {
  handed *h = (handed *)f->user;
  luminal_runtime *rt = luminal_context_runtime(cx);
  void *o = NULL;
  CHECK_ST(luminal_stream_read(rt, h->fd_a, h->a, sizeof h->a, &h->ra, &h->fa), LUMINAL_OK);
  CHECK(h->fa.poll(h->fa.state, cx, &o) == LUMINAL_POLL_PENDING);
  CHECK_ST(luminal_stream_read(rt, h->fd_b, h->b, sizeof h->b, &h->rb, &h->fb), LUMINAL_OK);
  CHECK(h->fb.poll(h->fb.state, cx, &o) == LUMINAL_POLL_PENDING);
  CHECK_ST(luminal_context_spawn(cx, tf_make(h->c, cb_spin_handed, h, 0), &h->spinner), LUMINAL_OK);
  atomic_store(&h->ready, 1);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY; /* the two read futures now belong to the host */
}

IO_TEST(io_queued_read_dropped_on_a_host_thread) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 1);
  tu_counters c = TU_COUNTERS_INIT;
  int sa[2], sb[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sa) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sb) == 0);
  handed h = {.fd_a = sa[0], .fd_b = sb[0], .c = &c};
  atomic_init(&h.ready, 0), atomic_init(&h.spinning, 0), atomic_init(&h.stop, 0), atomic_init(&h.spun, 0);
  luminal_task *starter = tu_spawn(rt, tf_make(&c, cb_start_and_hand_over, &h, 0));
  WAIT_UNTIL(atomic_load(&h.ready) && atomic_load(&h.spinning));
  h.fa.drop(h.fa.state);          /* cancels read A from this thread, and waits for its completion */
  CHECK(!atomic_load(&h.spun));   /* ... which did not need the worker's IO turn */
  atomic_store(&h.stop, 1);
  CHECK_EQ(tu_join_value(h.spinner), 1);
  CHECK_EQ(tu_join_value(starter), 1);
  CHECK_EQ(write(sb[1], "b", 1), 1);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, h.fb, &out), LUMINAL_OK);
  CHECK(out == &h.rb);
  CHECK_ST(h.rb.status, LUMINAL_OK);
  CHECK_EQ(h.rb.value, 1);
  close(sa[0]), close(sa[1]), close(sb[0]), close(sb[1]);
  tu_runtime_done(rt);
}

/* Many sockets waiting for data must not need a thread each: with the blocking pool capped at 2 threads, 16
 * pending reads wait, and the one whose data arrives completes (on io_uring they wait in the kernel anyway). */
typedef struct waiting_read {
  int fd;
  char b[8];
  luminal_io_result r;
  luminal_future op;
  int submitted;
} waiting_read;

static luminal_poll cb_waiting_read(tf *f, luminal_context *cx, void **out) {
  waiting_read *w = (waiting_read *)f->user;
  if (!w->submitted) {
    CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), w->fd, w->b, sizeof w->b, &w->r, &w->op), LUMINAL_OK);
    w->submitted = 1;
  }
  void *res = NULL;
  if (w->op.poll(w->op.state, cx, &res) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  w->op.drop(w->op.state);
  *out = tu_box_new(f->c, w->r.status == LUMINAL_OK ? w->r.value : 1000 + (uint64_t)-w->r.status);
  return LUMINAL_POLL_READY;
}

IO_TEST(io_many_waiting_sockets_need_no_thread_each) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 2;
  o.max_blocking_threads = 2;
  o.io_backend = io_backend_under_test();
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 16 };
  int sv[N][2];
  waiting_read w[N];
  luminal_task *t[N];
  memset(w, 0, sizeof w);
  for (int i = 0; i < N; i++) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) == 0);
    w[i].fd = sv[i][0];
    t[i] = tu_spawn(rt, tf_make(&c, cb_waiting_read, &w[i], 0));
  }
  WAIT_UNTIL(LOAD(c.polls) >= N);
  usleep(20 * 1000); /* every read is queued and waiting */
  CHECK_EQ(write(sv[N - 1][1], "last", 4), 4);
  CHECK_EQ(tu_join_value(t[N - 1]), 4);
  /* the others still wait; dropping them (abort) cancels their reads */
  for (int i = 0; i < N - 1; i++) {
    CHECK_EQ(luminal_task_is_finished(t[i]), 0);
    luminal_task_abort(t[i]);
    void *out = NULL;
    CHECK_ST(luminal_task_join(t[i], UINT64_MAX, &out), LUMINAL_E_CANCELLED);
    luminal_task_release(t[i]);
  }
  luminal_task_release(t[N - 1]);
  for (int i = 0; i < N; i++) close(sv[i][0]), close(sv[i][1]);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), N);
}

/* ---- parked reads: a read that waits for data until it is dropped, counting its drops ------------------------ */

typedef struct parked_read {
  int fd;
  int live;              /* the IO future exists and is not dropped */
  atomic_int done;       /* the read completed (value in r) */
  atomic_int dropped;    /* drop calls: must end at exactly 1 */
  atomic_int *submitted; /* shared: reads submitted so far */
  char b[8];
  luminal_io_result r;
  luminal_future op;
} parked_read;

static luminal_poll parked_read_poll(void *state, luminal_context *cx, void **out) {
  parked_read *p = (parked_read *)state;
  CHECK_MSG(atomic_load(&p->dropped) == 0, "a parked read was polled after its drop");
  if (!p->live && !atomic_load(&p->done)) {
    CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), p->fd, p->b, sizeof p->b, &p->r, &p->op), LUMINAL_OK);
    p->live = 1;
    atomic_fetch_add(p->submitted, 1);
  }
  void *res = NULL;
  if (p->op.poll(p->op.state, cx, &res) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  p->op.drop(p->op.state); /* completed: nothing in flight any more */
  p->live = 0;
  atomic_store(&p->done, 1);
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static void parked_read_drop(void *state) {
  parked_read *p = (parked_read *)state;
  if (p->live) p->op.drop(p->op.state); /* cancels the read and waits until the buffer is let go */
  p->live = 0;
  atomic_fetch_add(&p->dropped, 1);
}

static luminal_future parked_read_future(parked_read *p) {
  luminal_future f = {p, parked_read_poll, parked_read_drop, NULL};
  return f;
}

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
static long raise_nofile(void) {
  struct rlimit rl;
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  }
  return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

/* Shutdown with 10,000 reads parked on idle pipes (several reads per pipe, to stay within the fd limit) cancels
 * them as one batch: it returns OK well within its timeout, and every future is dropped exactly once. (It used to
 * cancel one read at a time, each waiting for its own completion: ~4.5 ms a read on io_uring, ~10 ms per pool
 * thread holding a read on the pool backend; shutdown timed out and the release then blocked for a minute.) */
IO_TEST(io_shutdown_cancels_many_parked_reads_at_once) {
  luminal_runtime *rt = io_rt();
  enum { N = 10000 };
  long fdlim = raise_nofile();
  int pipes = (int)((fdlim - 128) / 2);
  if (pipes > 2500) pipes = 2500;
  CHECK_MSG(pipes >= 16, "RLIMIT_NOFILE %ld is too small for this test", fdlim);
  int32_t(*p)[2] = calloc((size_t)pipes, sizeof *p);
  parked_read *r = calloc(N, sizeof *r);
  CHECK(p != NULL && r != NULL);
  atomic_int submitted = 0;
  for (int i = 0; i < pipes; i++) CHECK_ST(luminal_pipe(p[i], NULL), LUMINAL_OK);
  for (int i = 0; i < N; i++) {
    r[i].fd = p[i % pipes][0];
    r[i].submitted = &submitted;
    CHECK_ST(luminal_spawn(rt, parked_read_future(&r[i]), NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(atomic_load(&submitted) == N);
  tu_sleep_ms(50); /* every read is parked: in the kernel, the reactor or (before) a pool thread */
  uint64_t t0 = tu_now_ns();
  luminal_status st = luminal_runtime_shutdown(rt, 5ull * 1000000000ull);
  double ms = (tu_now_ns() - t0) / 1e6;
  CHECK_MSG(st == LUMINAL_OK, "shutdown with %d parked reads returned %d (%s) after %.0f ms", N, (int)st,
            luminal_status_str(st), ms);
  for (int i = 0; i < N; i++) {
    CHECK_MSG(atomic_load(&r[i].dropped) == 1, "read %d dropped %d times", i, atomic_load(&r[i].dropped));
    CHECK_MSG(!atomic_load(&r[i].done), "read %d on an idle pipe completed (status %d)", i, r[i].r.status);
  }
  t0 = tu_now_ns();
  luminal_runtime_release(rt);
  double release_ms = (tu_now_ns() - t0) / 1e6;
  fprintf(stderr, "[%s] shutdown with %d parked reads: %.1f ms, release %.1f ms\n",
          backend_name(io_backend_under_test()), N, ms, release_ms);
  CHECK_MSG(ms + release_ms < 2000, "shutdown %.0f ms + release %.0f ms: not one batch", ms, release_ms);
  for (int i = 0; i < pipes; i++) close(p[i][0]), close(p[i][1]);
  free(r);
  free(p);
}

static void *mark_ran(void *arg) {
  atomic_store((atomic_int *)arg, 1);
  return NULL;
}

/* Waits (up to 5 s) until one of the reads r[0..n) completes; returns its index (fails if two did). */
static int one_completes(parked_read *r, int n, const char *what) {
  uint64_t deadline = tu_now_ns() + 5ull * 1000000000ull;
  while (tu_now_ns() < deadline) {
    int found = -1, count = 0;
    for (int i = 0; i < n; i++)
      if (atomic_load(&r[i].done)) found = i, count++;
    CHECK_MSG(count <= 1, "%s: %d reads completed with one write's data", what, count);
    if (found >= 0) return found;
    tu_sleep_ms(1);
  }
  TEST_FAIL("%s: no read completed within 5 s", what);
}

/* Pipe reads waiting for data must not hold a blocking-pool thread each (as sockets already did not): with the
 * pool capped at 2 threads and 128 reads parked on 64 pipes (two reads per pipe; half the pipes in blocking mode,
 * as pipe(2) makes them), luminal_spawn_blocking still runs at once, a pipe whose byte another reader takes first
 * does not stall the wait (a blocking read there would stop every later completion), and a pipe whose data arrives
 * completes exactly one of its reads. */
IO_TEST(io_many_waiting_pipes_need_no_thread_each) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 2;
  o.max_blocking_threads = 2;
  o.io_backend = io_backend_under_test();
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  enum { PIPES = 64, PER = 2, N = PIPES * PER };
  int p[PIPES][2];
  parked_read *r = calloc(N, sizeof *r);
  luminal_task *t[N];
  CHECK(r != NULL);
  atomic_int submitted = 0;
  for (int i = 0; i < PIPES; i++) {
    if (i % 2 == 0) CHECK_ST(luminal_pipe(p[i], NULL), LUMINAL_OK); /* O_NONBLOCK */
    else CHECK(pipe2(p[i], O_CLOEXEC) == 0);                          /* blocking mode */
  }
  for (int i = 0; i < N; i++) {
    r[i].fd = p[i / PER][0];
    r[i].submitted = &submitted;
    t[i] = tu_spawn(rt, parked_read_future(&r[i]));
  }
  WAIT_UNTIL(atomic_load(&submitted) == N);
  tu_sleep_ms(30);
  /* a blocking call gets a thread */
  atomic_int ran = 0;
  luminal_task *bt = NULL;
  CHECK_ST(luminal_spawn_blocking(rt, mark_ran, &ran, &bt), LUMINAL_OK);
  luminal_status js = luminal_task_join(bt, 2ull * 1000000000ull, NULL);
  CHECK_MSG(js == LUMINAL_OK, "spawn_blocking did not run within 2 s with %d pipe reads parked (join %d): the reads "
            "hold the pool's threads", N, (int)js);
  CHECK_EQ(atomic_load(&ran), 1);
  luminal_task_release(bt);
  /* blocking-mode pipe 1: its byte is taken by another reader (its own non-blocking open file) right away */
  char path[64], got[8];
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[1][0]);
  int thief = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  CHECK(thief >= 0);
  CHECK_EQ(write(p[1][1], "x", 1), 1);
  ssize_t stolen = read(thief, got, sizeof got);
  /* blocking-mode pipe 3 and non-blocking pipe 4: data arrives, one read of each completes with it */
  CHECK_EQ(write(p[3][1], "last", 4), 4);
  int k = one_completes(&r[3 * PER], PER, "blocking-mode pipe");
  CHECK_ST((luminal_status)r[3 * PER + k].r.status, LUMINAL_OK);
  CHECK_EQ(r[3 * PER + k].r.value, 4);
  CHECK(memcmp(r[3 * PER + k].b, "last", 4) == 0);
  CHECK_EQ(write(p[4][1], "ok", 2), 2);
  k = one_completes(&r[4 * PER], PER, "non-blocking pipe");
  CHECK_EQ(r[4 * PER + k].r.value, 2);
  /* pipe 1 still works: if the thief won, its reads still wait and the next byte completes one */
  if (stolen == 1) {
    for (int i = 0; i < PER; i++) CHECK_MSG(!atomic_load(&r[PER + i].done), "a read got the stolen byte");
    CHECK_EQ(write(p[1][1], "y", 1), 1);
  }
  k = one_completes(&r[PER], PER, "blocking-mode pipe after a stolen byte");
  CHECK_EQ(r[PER + k].r.value, 1);
  close(thief);
  /* the rest still wait; aborting them cancels their reads */
  int completed = 0;
  for (int i = 0; i < N; i++) {
    if (atomic_load(&r[i].done)) completed++;
    else luminal_task_abort(t[i]);
    luminal_status s = luminal_task_join(t[i], UINT64_MAX, NULL);
    CHECK(s == LUMINAL_OK || s == LUMINAL_E_CANCELLED);
    luminal_task_release(t[i]);
  }
  CHECK_EQ(completed, 3);
  tu_runtime_done(rt);
  for (int i = 0; i < N; i++) CHECK_MSG(atomic_load(&r[i].dropped) == 1, "read %d dropped %d times", i, atomic_load(&r[i].dropped));
  for (int i = 0; i < PIPES; i++) close(p[i][0]), close(p[i][1]);
  free(r);
}

/* Three reads waiting on one socket at once (one waits in the pool backend's reactor, the others on the pool):
 * each gets data; none reports CANCELLED. */
IO_TEST(io_three_reads_on_one_socket) {
  luminal_runtime *rt = io_rt();
  tu_counters c = TU_COUNTERS_INIT;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  waiting_read w[3];
  luminal_task *t[3];
  memset(w, 0, sizeof w);
  for (int i = 0; i < 3; i++) {
    w[i].fd = sv[0];
    t[i] = tu_spawn(rt, tf_make(&c, cb_waiting_read, &w[i], 0));
  }
  WAIT_UNTIL(LOAD(c.polls) >= 3);
  uint64_t total = 0;
  for (int i = 0; i < 3; i++) {
    usleep(20 * 1000);
    CHECK_EQ(write(sv[1], "x", 1), 1);
    /* One byte at a time: each read asks for more than one, so two bytes waiting together (a write landing before
     * the previous byte's reader ran, under load) would both go to one reader and leave another waiting forever. */
    WAIT_UNTIL(luminal_task_is_finished(t[0]) + luminal_task_is_finished(t[1]) + luminal_task_is_finished(t[2]) ==
               i + 1);
  }
  for (int i = 0; i < 3; i++) {
    uint64_t v = tu_join_value(t[i]);
    CHECK_MSG(v >= 1 && v <= 3, "read %d: %llu (1000 + status: an error, 1004 = CANCELLED)", i, (unsigned long long)v);
    total += v;
  }
  CHECK_EQ(total, 3);
  close(sv[0]);
  close(sv[1]);
  tu_runtime_done(rt);
}

/* A socket closed while a read waits on it, its number reused by a new socket: the new socket's data goes to the
 * new socket's reader, never to the stale one. (The stale read: on the pool backend it fails with EBADF once the
 * number is reused; on io_uring it keeps the old file and waits until dropped.) */
IO_TEST(io_fd_closed_and_reused_while_a_read_waits) {
  luminal_runtime *rt = io_rt();
  tu_counters c = TU_COUNTERS_INIT;
  int old[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, old) == 0);
  waiting_read stale = {.fd = old[0]};
  luminal_task *ts = tu_spawn(rt, tf_make(&c, cb_waiting_read, &stale, 0));
  WAIT_UNTIL(LOAD(c.polls) >= 1);
  usleep(20 * 1000);
  int number = old[0];
  close(old[0]);
  int fresh[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fresh) == 0);
  CHECK_MSG(fresh[0] == number || fresh[1] == number, "the closed number was not reused (%d, %d vs %d)", fresh[0],
            fresh[1], number);
  int mine = fresh[0] == number ? fresh[0] : fresh[1], peer = fresh[0] == number ? fresh[1] : fresh[0];
  waiting_read now = {.fd = mine};
  luminal_task *tn = tu_spawn(rt, tf_make(&c, cb_waiting_read, &now, 0));
  WAIT_UNTIL(LOAD(c.polls) >= 2);
  usleep(20 * 1000);
  CHECK_EQ(write(peer, "hello", 5), 5);
  CHECK_EQ(tu_join_value(tn), 5);
  CHECK(memcmp(now.b, "hello", 5) == 0);
  if (io_backend_under_test() == LUMINAL_IO_POOL) {
    uint64_t v = tu_join_value(ts);
    CHECK_MSG(v > 1000, "the stale read got data (%llu)", (unsigned long long)v);
    CHECK_EQ(stale.r.status, LUMINAL_E_IO);
    CHECK_EQ(stale.r.os_error, EBADF);
  } else {
    CHECK_EQ(luminal_task_is_finished(ts), 0);
    luminal_task_abort(ts);
    CHECK_ST(luminal_task_join(ts, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(ts);
  }
  close(old[1]);
  close(fresh[0]);
  close(fresh[1]);
  tu_runtime_done(rt);
}

/* A write waiting for room while the peer half-closes (shutdown SHUT_WR): the wait stays a sleep (no spinning on
 * the half-close), and the write completes once the peer reads. */
static double process_cpu_ms(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

typedef struct blocked_write {
  int fd;
  uint8_t *buf;
  size_t len;
  luminal_io_result r;
  luminal_future op;
  int submitted;
} blocked_write;

static luminal_poll cb_blocked_write(tf *f, luminal_context *cx, void **out) {
  blocked_write *w = (blocked_write *)f->user;
  if (!w->submitted) {
    CHECK_ST(luminal_stream_write(luminal_context_runtime(cx), w->fd, w->buf, w->len, &w->r, &w->op), LUMINAL_OK);
    w->submitted = 1;
  }
  void *res = NULL;
  if (w->op.poll(w->op.state, cx, &res) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  w->op.drop(w->op.state);
  CHECK_ST((luminal_status)w->r.status, LUMINAL_OK);
  *out = tu_box_new(f->c, w->r.value);
  return LUMINAL_POLL_READY;
}

IO_TEST(io_write_waiting_while_the_peer_half_closes) {
  luminal_runtime *rt = io_rt();
  tu_counters c = TU_COUNTERS_INIT;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  /* fill the socket so the next write waits */
  CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
  static uint8_t fill[1 << 16];
  while (write(sv[0], fill, sizeof fill) > 0) {}
  CHECK(fcntl(sv[0], F_SETFL, 0) == 0);
  blocked_write w = {.fd = sv[0], .buf = fill, .len = 4096};
  luminal_task *t = tu_spawn(rt, tf_make(&c, cb_blocked_write, &w, 0));
  WAIT_UNTIL(LOAD(c.polls) >= 1);
  usleep(20 * 1000);
  CHECK(shutdown(sv[1], SHUT_WR) == 0);
  double cpu0 = process_cpu_ms();
  usleep(300 * 1000);
  double spent = process_cpu_ms() - cpu0;
  CHECK_MSG(spent < 60, "the runtime used %.0f ms of CPU in 300 ms while a write waited", spent);
  CHECK_EQ(luminal_task_is_finished(t), 0);
  /* the peer drains: the write goes through */
  uint8_t sink[1 << 16];
  CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
  while (!luminal_task_is_finished(t)) {
    if (read(sv[1], sink, sizeof sink) <= 0) usleep(1000);
  }
  CHECK_EQ(tu_join_value(t), 4096);
  close(sv[0]);
  close(sv[1]);
  tu_runtime_done(rt);
}

/* A write waiting for room in a full pipe in blocking mode waits without a pool thread too: with the pool capped at
 * 1 thread, luminal_spawn_blocking still runs while it waits, and it completes once the reader drains the pipe. */
IO_TEST(io_write_waiting_on_a_full_blocking_pipe_needs_no_thread) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 2;
  o.max_blocking_threads = 1;
  o.io_backend = io_backend_under_test();
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT;
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0); /* blocking mode; the test fills and drains it through non-blocking opens */
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
  int wnb = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
  int rnb = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  CHECK(wnb >= 0 && rnb >= 0);
  static uint8_t fill[1 << 16];
  while (write(wnb, fill, sizeof fill) > 0) {}
  blocked_write w = {.fd = p[1], .buf = fill, .len = 4096};
  luminal_task *t = tu_spawn(rt, tf_make(&c, cb_blocked_write, &w, 0));
  WAIT_UNTIL(LOAD(c.polls) >= 1);
  usleep(20 * 1000);
  CHECK_EQ(luminal_task_is_finished(t), 0);
  atomic_int ran = 0;
  luminal_task *bt = NULL;
  CHECK_ST(luminal_spawn_blocking(rt, mark_ran, &ran, &bt), LUMINAL_OK);
  luminal_status js = luminal_task_join(bt, 2ull * 1000000000ull, NULL);
  CHECK_MSG(js == LUMINAL_OK, "spawn_blocking did not run within 2 s while a pipe write waited (join %d)", (int)js);
  luminal_task_release(bt);
  uint8_t sink[1 << 16];
  while (!luminal_task_is_finished(t)) {
    if (read(rnb, sink, sizeof sink) <= 0) usleep(1000);
  }
  CHECK_EQ(tu_join_value(t), 4096);
  close(wnb), close(rnb), close(p[0]), close(p[1]);
  tu_runtime_done(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 9. Invalid arguments, bad handles, shutdown                                                                   */
/* ------------------------------------------------------------------------------------------------------------- */

/* Every future-making function, with one argument broken: `what` selects NULL result (0), NULL out (1). */
static void all_ops_expect(luminal_runtime *rt, luminal_status want, int null_result, int null_out, const char *ctx) {
  luminal_io_result r;
  luminal_io_result *rp = null_result ? NULL : &r;
  luminal_future f;
  luminal_future *fp = null_out ? NULL : &f;
  luminal_file_info info;
  luminal_view v;
  luminal_buffer bb;
  uint8_t b[8];
  const char *path = "/tmp";
#define EXPECT_ST(call)                                                                                             \
  do {                                                                                                             \
    memset(&f, 0x77, sizeof f);                                                                                    \
    luminal_status _s = (call);                                                                                    \
    if (_s != want)                                                                                                \
      TEST_FAIL("%s: %s returned %d (%s), expected %d (%s)", ctx, #call, (int)_s, luminal_status_str(_s), (int)want, \
                luminal_status_str(want));                                                                         \
    if (_s == LUMINAL_OK && f.drop) f.drop(f.state);                                                               \
  } while (0)
  EXPECT_ST(luminal_file_open(rt, path, O_RDONLY, 0, rp, fp));
  EXPECT_ST(luminal_file_close(rt, 0, rp, fp));
  EXPECT_ST(luminal_file_fsync(rt, 0, rp, fp));
  EXPECT_ST(luminal_file_stat(rt, 0, &info, rp, fp));
  EXPECT_ST(luminal_file_read_at(rt, 0, b, sizeof b, 0, rp, fp));
  EXPECT_ST(luminal_file_write_at(rt, 0, b, sizeof b, 0, rp, fp));
  EXPECT_ST(luminal_file_map(rt, path, &v, rp, fp));
  EXPECT_ST(luminal_file_read_all(rt, path, &bb, rp, fp));
  EXPECT_ST(luminal_tcp_accept(rt, 0, rp, fp));
  EXPECT_ST(luminal_tcp_connect(rt, "127.0.0.1", 9, rp, fp));
  EXPECT_ST(luminal_stream_read(rt, 0, b, sizeof b, rp, fp));
  EXPECT_ST(luminal_stream_write(rt, 0, b, sizeof b, rp, fp));
#undef EXPECT_ST
}

/* ------------------------------------------------------------------------------------------------------------- */
/* A blocking pool of one thread                                                                                  */
/* ------------------------------------------------------------------------------------------------------------- */

static luminal_runtime *io_runtime_one_pool_thread(void) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 1;
  o.max_blocking_threads = 1;
  o.io_backend = io_backend_under_test();
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_io_backend(rt), o.io_backend);
  return rt;
}

/* Two IO futures polled by one task, each dropped once ready; the task ends when both are. */
typedef struct io_pair {
  luminal_future a, b;
  luminal_io_result ra, rb;
  int live_a, live_b;
  char buf_a[16], buf_b[16];
} io_pair;

static luminal_poll io_pair_poll(void *p, luminal_context *cx, void **out) {
  io_pair *s = (io_pair *)p;
  void *o;
  if (s->live_a && s->a.poll(s->a.state, cx, &o) == LUMINAL_POLL_READY) s->a.drop(s->a.state), s->live_a = 0;
  if (s->live_b && s->b.poll(s->b.state, cx, &o) == LUMINAL_POLL_READY) s->b.drop(s->b.state), s->live_b = 0;
  *out = NULL;
  return s->live_a || s->live_b ? LUMINAL_POLL_PENDING : LUMINAL_POLL_READY;
}

static void io_pair_drop(void *p) {
  io_pair *s = (io_pair *)p;
  if (s->live_a) s->a.drop(s->a.state);
  if (s->live_b) s->b.drop(s->b.state);
}

/* A waiting accept must not hold the only pool thread (the connect that would satisfy it queued behind it): with
 * max_blocking_threads = 1 one task polls an accept and a connect to the same listener; both must complete. (The
 * pool backend used to wait for readiness on a pool thread; now both wait in its reactor.) */
IO_TEST(io_accept_and_connect_share_one_pool_thread) {
  luminal_runtime *rt = io_runtime_one_pool_thread();
  int32_t lfd = -1;
  uint16_t port = 0;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 4, &lfd, &port, NULL), LUMINAL_OK);
  io_pair *s = (io_pair *)calloc(1, sizeof *s);
  CHECK_ST(luminal_tcp_accept(rt, lfd, &s->ra, &s->a), LUMINAL_OK);
  s->live_a = 1;
  CHECK_ST(luminal_tcp_connect(rt, "127.0.0.1", port, &s->rb, &s->b), LUMINAL_OK);
  s->live_b = 1;
  luminal_future f = {s, io_pair_poll, io_pair_drop, NULL};
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, MS_NS(10000), NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_EQ(s->ra.status, LUMINAL_OK);
  CHECK_EQ(s->rb.status, LUMINAL_OK);
  CHECK(write((int)s->rb.value, "x", 1) == 1);
  char c = 0;
  CHECK(read((int)s->ra.value, &c, 1) == 1 && c == 'x'); /* they are the two ends of one connection */
  close((int)s->ra.value);
  close((int)s->rb.value);
  close(lfd);
  free(s);
  tu_runtime_done(rt);
}

static void *sleep_300ms(void *arg) {
  (void)arg;
  tu_sleep_ms(300);
  return NULL;
}

typedef struct shutdown_call {
  luminal_runtime *rt;
  atomic_int done;
  luminal_status st;
} shutdown_call;

static void *shutdown_main(void *p) {
  shutdown_call *c = (shutdown_call *)p;
  c->st = luminal_runtime_shutdown(c->rt, UINT64_MAX);
  atomic_store(&c->done, 1);
  return NULL;
}

/* Shutdown cancels the pool calls still queued; cancelling the first wakes its task, which is dropped at once and
 * drops the second operation, whose drop must not wait for a queued call only this same shutdown would cancel (it
 * used to: shutdown never returned). The only pool thread is busy for 300 ms; one task polls two fsyncs. */
IO_TEST(io_shutdown_drops_a_task_with_two_queued_pool_calls) {
  luminal_runtime *rt = io_runtime_one_pool_thread();
  tmpdir_new();
  int fd = open(P("two_reads"), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK(write(fd, "hello", 5) == 5);
  CHECK_ST(luminal_spawn_blocking(rt, sleep_300ms, NULL, NULL), LUMINAL_OK);
  tu_sleep_ms(20);
  io_pair *s = (io_pair *)calloc(1, sizeof *s);
  /* fsync: a call the pool backend always makes on a pool thread (a read_at of cached data would not queue). */
  CHECK_ST(luminal_file_fsync(rt, fd, &s->ra, &s->a), LUMINAL_OK);
  s->live_a = 1;
  CHECK_ST(luminal_file_fsync(rt, fd, &s->rb, &s->b), LUMINAL_OK);
  s->live_b = 1;
  luminal_future f = {s, io_pair_poll, io_pair_drop, NULL};
  CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  tu_sleep_ms(20); /* pool backend: both calls now wait in the pool's queue behind the sleeper */
  shutdown_call c = {.rt = rt};
  atomic_init(&c.done, 0);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, shutdown_main, &c) == 0);
  uint64_t deadline = tu_now_ns() + MS_NS(10000);
  while (!atomic_load(&c.done) && tu_now_ns() < deadline) tu_sleep_ms(5);
  CHECK_MSG(atomic_load(&c.done), "luminal_runtime_shutdown did not return within 10 s");
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_EQ(c.st, LUMINAL_OK);
  luminal_runtime_release(rt);
  free(s);
  close(fd);
  tmpdir_done();
}

/* The same with two reads waiting for data (pool backend: in the reactor): stopping completes both as cancelled;
 * the first one's wake drops the task at once, whose drop waits for the second read — which the stopping reactor
 * must already have completed (it used to complete them one by one, waking each: shutdown never returned). */
IO_TEST(io_shutdown_drops_a_task_with_two_waiting_reads) {
  luminal_runtime *rt = io_runtime_one_pool_thread();
  int a[2], b[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
  io_pair *s = (io_pair *)calloc(1, sizeof *s);
  CHECK_ST(luminal_stream_read(rt, a[0], s->buf_a, sizeof s->buf_a, &s->ra, &s->a), LUMINAL_OK);
  s->live_a = 1;
  CHECK_ST(luminal_stream_read(rt, b[0], s->buf_b, sizeof s->buf_b, &s->rb, &s->b), LUMINAL_OK);
  s->live_b = 1;
  luminal_future f = {s, io_pair_poll, io_pair_drop, NULL};
  CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  tu_sleep_ms(20); /* both reads now wait for data */
  shutdown_call c = {.rt = rt};
  atomic_init(&c.done, 0);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, shutdown_main, &c) == 0);
  uint64_t deadline = tu_now_ns() + MS_NS(10000);
  while (!atomic_load(&c.done) && tu_now_ns() < deadline) tu_sleep_ms(5);
  CHECK_MSG(atomic_load(&c.done), "luminal_runtime_shutdown did not return within 10 s");
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_EQ(c.st, LUMINAL_OK);
  luminal_runtime_release(rt);
  free(s);
  close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

IO_TEST(io_invalid_arguments) {
  luminal_runtime *rt = io_rt();
  luminal_io_result r;
  luminal_future f;
  uint8_t b[8];
  /* sanity: the baseline calls are fine */
  all_ops_expect(rt, LUMINAL_OK, 0, 0, "valid");
  all_ops_expect(rt, LUMINAL_E_INVALID_ARGUMENT, 1, 0, "NULL result");
  all_ops_expect(rt, LUMINAL_E_INVALID_ARGUMENT, 0, 1, "NULL out");
  all_ops_expect(NULL, LUMINAL_E_INVALID_ARGUMENT, 0, 0, "NULL runtime");
  /* NULL path / info / view / buffer / ip / buffer with len > 0 */
  CHECK_ST(luminal_file_open(rt, NULL, O_RDONLY, 0, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_file_map(rt, NULL, (luminal_view[1]){{0}}, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_file_read_all(rt, NULL, (luminal_buffer[1]){{0}}, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_file_map(rt, "/tmp", NULL, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_file_read_all(rt, "/tmp", NULL, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_file_stat(rt, 0, NULL, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_file_read_at(rt, 0, NULL, 8, 0, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_file_write_at(rt, 0, NULL, 8, 0, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_stream_read(rt, 0, NULL, 8, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_stream_write(rt, 0, NULL, 8, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_tcp_connect(rt, NULL, 80, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_tcp_connect(rt, "not an ip", 80, &r, &f), LUMINAL_E_INVALID_ARGUMENT);
  /* plain calls */
  int32_t fd = -9;
  luminal_io_result err = {0, 0, 0};
  uint16_t port = 0;
  CHECK_ST(luminal_tcp_listen(NULL, 0, 1, &fd, &port, &err), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(err.status, LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 1, NULL, &port, &err), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_tcp_listen("999.1.1.1", 0, 1, &fd, &port, &err), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_pipe(NULL, &err), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_stream_shutdown(0, 3, &err), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_stream_shutdown(0, -1, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(fd, -9);
  /* zero-length with NULL buffer is allowed; value 0 */
  int32_t p[2];
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  CHECK_EQ(OKV(IO_SWRITE(rt, p[1], NULL, 0)), 0);
  close(p[0]);
  close(p[1]);
  luminal_view_release(NULL);
  luminal_buffer_release(NULL);
  /* bad runtime handles: forged, and released */
  luminal_runtime *forged = (luminal_runtime *)(uintptr_t)0x1234;
  all_ops_expect(forged, LUMINAL_E_INVALID_HANDLE, 0, 0, "forged runtime");
  luminal_runtime *clone = luminal_runtime_clone(rt);
  luminal_runtime_release(clone);
  all_ops_expect(clone, LUMINAL_E_INVALID_HANDLE, 0, 0, "released runtime handle");
  /* after shutdown */
  luminal_future made_before;
  luminal_io_result rb;
  memset(&rb, GARBAGE, sizeof rb);
  CHECK_ST(luminal_file_read_at(rt, 0, b, sizeof b, 0, &rb, &made_before), LUMINAL_OK);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  all_ops_expect(rt, LUMINAL_E_SHUTDOWN, 0, 0, "after shutdown");
  CHECK_EQ(luminal_runtime_io_backend(rt), io_backend_under_test()); /* the handle is still valid */
  /* a future made before shutdown: block_on and spawn refuse it (and drop it); nothing is written */
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, made_before, &out), LUMINAL_E_SHUTDOWN);
  CHECK_ST(luminal_file_read_at(forged, 0, b, sizeof b, 0, &rb, &made_before), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(first_not((uint8_t *)&rb, sizeof rb, GARBAGE), -1);
  luminal_runtime_release(rt);
  all_ops_expect(rt, LUMINAL_E_INVALID_HANDLE, 0, 0, "released runtime");
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 10. A sequence of IO sub-futures inside one poll function: spawned, and under block_on                         */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct seq {
  const char *path;
  int step;
  int fd;
  sub_io sub;
  uint8_t w[10000], r[10000];
  luminal_file_info info;
  luminal_buffer all;
  int polls;
} seq;

static luminal_poll seq_poll(void *state, luminal_context *cx, void **out) {
  seq *s = (seq *)state;
  luminal_runtime *rt = luminal_context_runtime(cx);
  s->polls++;
  for (;;) {
    if (!s->sub.active) {
      memset(&s->sub.r, GARBAGE, sizeof s->sub.r);
      switch (s->step) {
        case 0: sub_start(&s->sub, luminal_file_open(rt, s->path, O_CREAT | O_TRUNC | O_RDWR, 0600, &s->sub.r, &s->sub.f)); break;
        case 1: sub_start(&s->sub, luminal_file_write_at(rt, s->fd, s->w, sizeof s->w, 5, &s->sub.r, &s->sub.f)); break;
        case 2: sub_start(&s->sub, luminal_file_fsync(rt, s->fd, &s->sub.r, &s->sub.f)); break;
        case 3: sub_start(&s->sub, luminal_file_stat(rt, s->fd, &s->info, &s->sub.r, &s->sub.f)); break;
        case 4: sub_start(&s->sub, luminal_file_read_at(rt, s->fd, s->r, sizeof s->r, 5, &s->sub.r, &s->sub.f)); break;
        case 5: sub_start(&s->sub, luminal_file_close(rt, s->fd, &s->sub.r, &s->sub.f)); break;
        case 6: sub_start(&s->sub, luminal_file_read_all(rt, s->path, &s->all, &s->sub.r, &s->sub.f)); break;
        default: *out = tu_box_new(NULL, 1); return LUMINAL_POLL_READY;
      }
    }
    if (!sub_poll(&s->sub, cx)) return LUMINAL_POLL_PENDING;
    if (s->sub.r.status != LUMINAL_OK)
      TEST_FAIL("sequence step %d: status %d os_error %d (%s)", s->step, s->sub.r.status, s->sub.r.os_error,
                strerror(s->sub.r.os_error));
    uint64_t v = s->sub.r.value;
    switch (s->step) {
      case 0: s->fd = (int)v; break;
      case 1: CHECK_EQ(v, sizeof s->w); break;
      case 3: CHECK_EQ(s->info.size, sizeof s->w + 5); break;
      case 4: CHECK_EQ(v, sizeof s->r); CHECK_EQ(memcmp(s->r, s->w, sizeof s->w), 0); break;
      case 6: CHECK_EQ(v, sizeof s->w + 5); CHECK_EQ(memcmp(s->all.data + 5, s->w, sizeof s->w), 0); break;
    }
    s->step++;
  }
}

static void seq_drop(void *state) { sub_drop(&((seq *)state)->sub); }

IO_TEST(io_subfuture_sequence) {
  luminal_runtime *rt = io_rt();
  tmpdir_new();
  for (int mode = 0; mode < 2; mode++) {
    seq *s = (seq *)calloc(1, sizeof *s);
    s->path = P(mode ? "seq_block_on" : "seq_spawn");
    fill_pat(s->w, sizeof s->w, 0, 100 + mode);
    luminal_future f = {s, seq_poll, seq_drop, tu_box_drop_output};
    void *out = NULL;
    if (mode == 0) {
      luminal_task *t = tu_spawn(rt, f);
      CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
      luminal_task_release(t);
    } else {
      CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
    }
    CHECK_EQ(tu_box_take(out), 1);
    CHECK_EQ(s->step, 7);
    /* Operations may complete inside their first poll (io_uring reaps right after submitting, a pool thread may
     * be done before the poll looks), so the number of polls says nothing here; the values above do. */
    CHECK(s->polls >= 1);
    CHECK(!fd_is_open(s->fd));
    luminal_buffer_release(&s->all);
    free(s);
  }
  tu_runtime_done(rt);
  tmpdir_done();
}

/* ------------------------------------------------------------------------------------------------------------- */
/* 11. Both backends give the same answers to the same sequence                                                  */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct rec {
  char what[48];
  int32_t status, os_error;
  uint64_t value;
  uint64_t hash;
} rec;

static uint64_t fnv(const void *p, size_t n) {
  const uint8_t *b = (const uint8_t *)p;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static int seq_record(luminal_runtime *rt, const char *dir, rec *out) {
  int n = 0;
  char path[256], missing[256];
  snprintf(path, sizeof path, "%s/agree", dir);
  snprintf(missing, sizeof missing, "%s/missing", dir);
  static uint8_t w[300000], r[300000];
  fill_pat(w, sizeof w, 0, 1234);
#define REC(name, res, h)                                                                                           \
  do {                                                                                                             \
    luminal_io_result _x = (res);                                                                                  \
    snprintf(out[n].what, sizeof out[n].what, "%s", name);                                                         \
    out[n].status = _x.status;                                                                                     \
    out[n].os_error = _x.os_error;                                                                                 \
    out[n].value = _x.value;                                                                                       \
    out[n].hash = (h);                                                                                             \
    n++;                                                                                                           \
  } while (0)
  REC("open missing", IOB_OPEN(rt, missing, O_RDONLY, 0), 0);
  luminal_io_result o = IOB_OPEN(rt, path, O_CREAT | O_EXCL | O_RDWR, 0600);
  int fd = (int)o.value;
  o.value = fd >= 0; /* fd numbers may differ */
  REC("open create", o, 0);
  REC("open excl again", IOB_OPEN(rt, path, O_CREAT | O_EXCL | O_RDWR, 0600), 0);
  REC("write 0", IOB_WRITE_AT(rt, fd, w, 0, 0), 0);
  REC("write 1 at 0", IOB_WRITE_AT(rt, fd, w, 1, 0), 0);
  REC("write 300000 at 77", IOB_WRITE_AT(rt, fd, w, sizeof w, 77), 0);
  REC("fsync", IOB_FSYNC(rt, fd), 0);
  luminal_file_info info;
  memset(&info, 0, sizeof info);
  REC("stat", IOB_STAT(rt, fd, &info), info.size * 1000003u + info.mode);
  memset(r, 0, sizeof r);
  REC("read 300000 at 0", IOB_READ_AT(rt, fd, r, sizeof r, 0), fnv(r, sizeof r));
  memset(r, 0, sizeof r);
  REC("read at 299000", IOB_READ_AT(rt, fd, r, sizeof r, 299000), fnv(r, sizeof r));
  REC("read at eof", IOB_READ_AT(rt, fd, r, 10, 300077), 0);
  REC("read past eof", IOB_READ_AT(rt, fd, r, 10, 400000), 0);
  REC("read_at pipe-less bad fd", IOB_READ_AT(rt, -1, r, 10, 0), 0);
  REC("close", IOB_CLOSE(rt, fd), 0);
  REC("close again", IOB_CLOSE(rt, fd), 0);
  REC("fsync closed", IOB_FSYNC(rt, fd), 0);
  luminal_view v = {NULL, 0};
  luminal_io_result mr = IOB_MAP(rt, path, &v);
  REC("map", mr, v.data ? fnv(v.data, v.len) : 0);
  luminal_view_release(&v);
  REC("map missing", IOB_MAP(rt, missing, &v), 0);
  REC("map dir", IOB_MAP(rt, dir, &v), 0);
  luminal_buffer b = {NULL, 0};
  luminal_io_result ar = IOB_READ_ALL(rt, path, &b);
  REC("read_all", ar, b.data ? fnv(b.data, b.len) : 0);
  luminal_buffer_release(&b);
  REC("read_all missing", IOB_READ_ALL(rt, missing, &b), 0);
  REC("read_all dir", IOB_READ_ALL(rt, dir, &b), 0);
  int32_t p[2];
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  REC("pipe write", IOB_SWRITE(rt, p[1], w, 1000), 0);
  memset(r, 0, 2000);
  REC("pipe read", IOB_SREAD(rt, p[0], r, 2000), fnv(r, 2000));
  REC("pipe read_at", IOB_READ_AT(rt, p[0], r, 10, 0), 0);
  close(p[1]);
  REC("pipe read eof", IOB_SREAD(rt, p[0], r, 10), 0);
  close(p[0]);
  CHECK_ST(luminal_pipe(p, NULL), LUMINAL_OK);
  close(p[0]);
  REC("pipe write no reader", IOB_SWRITE(rt, p[1], w, 10), 0);
  close(p[1]);
  int c, s;
  tcp_pair(rt, &c, &s);
  REC("tcp write", IOB_SWRITE(rt, c, w, 5000), 0);
  memset(r, 0, 5000);
  stream_read_exact(rt, s, r, 5000);
  REC("tcp read", ((luminal_io_result){0, 0, 5000}), fnv(r, 5000));
  close(s);
  REC("tcp read after peer closed", IOB_SREAD(rt, c, r, 10), 0);
  close(c);
  REC("accept on a file fd", IOB_ACCEPT(rt, 0), 0);
#undef REC
  return n;
}

TEST(io_backends_agree) {
  const char *tmp = tmpdir_new();
  uint32_t backends[2] = {LUMINAL_IO_URING, LUMINAL_IO_POOL};
  static rec recs[2][64];
  int counts[2];
  for (int i = 0; i < 2; i++) {
    char dir[200];
    snprintf(dir, sizeof dir, "%s/%s", tmp, backend_name(backends[i]));
    CHECK(mkdir(dir, 0755) == 0);
    luminal_runtime *rt = io_runtime_with(backends[i], 2);
    counts[i] = seq_record(rt, dir, recs[i]);
    CHECK_EQ(luminal_runtime_io_backend(rt), backends[i]);
    tu_runtime_done(rt);
  }
  CHECK_EQ(counts[0], counts[1]);
  int diffs = 0;
  for (int k = 0; k < counts[0]; k++) {
    rec *a = &recs[0][k], *b = &recs[1][k];
    printf("  %-28s uring: %2d/%-3d %-8" PRIu64 " %016" PRIx64 "   pool: %2d/%-3d %-8" PRIu64 " %016" PRIx64 "%s\n",
           a->what, a->status, a->os_error, a->value, a->hash, b->status, b->os_error, b->value, b->hash,
           (a->status != b->status || a->os_error != b->os_error || a->value != b->value || a->hash != b->hash)
               ? "   <-- differs"
               : "");
    if (a->status != b->status || a->os_error != b->os_error || a->value != b->value || a->hash != b->hash) diffs++;
  }
  CHECK_MSG(diffs == 0, "%d step(s) differ between io_uring and the pool (see the table above)", diffs);
  tmpdir_done();
}

/* A stream read on an fd number that was a socket whose last read would block, now reused by a pipe: the io_uring
 * backend skips its receive try on such an fd and asks the ring for a receive, which a pipe refuses (ENOTSOCK);
 * the read must be made again as a read, never fail. (The pool backend has no such hint: the same reads pass.) */
IO_TEST(io_stream_read_on_a_reused_fd_number) {
  luminal_runtime *rt = io_runtime_with(io_backend_under_test(), 2);
  int sv[2], p[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  char buf[8] = {0};
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_stream_read(rt, sv[0], buf, sizeof buf, &r, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f); /* waits: its try would block, which marks the fd */
  tu_sleep_ms(20);
  CHECK_EQ(write(sv[1], "a", 1), 1);
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, 20ull * 1000000000ull, &out), LUMINAL_OK);
  luminal_task_release(t);
  CHECK(r.status == LUMINAL_OK && r.value == 1 && buf[0] == 'a');
  int fd = sv[0];
  CHECK(pipe(p) == 0);
  CHECK(dup2(p[0], fd) == fd); /* the socket's number is a pipe's read end now */
  close(p[0]);
  for (int i = 0; i < 4; i++) { /* more reads than the hint skips */
    CHECK_EQ(write(p[1], "xyz", 3), 3);
    memset(buf, 0, sizeof buf);
    luminal_io_result got = IO(rt, luminal_stream_read(rt, fd, buf, sizeof buf, &_r, &_f));
    CHECK_MSG(got.status == LUMINAL_OK && got.value == 3, "read %d: status %d, os_error %d, value %llu", i, got.status,
              got.os_error, (unsigned long long)got.value);
    CHECK(memcmp(buf, "xyz", 3) == 0);
  }
  close(fd);
  close(p[1]);
  close(sv[1]);
  tu_runtime_done(rt);
}
