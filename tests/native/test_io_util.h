/* Helpers for IO tests kept outside test_io.c (test_net.c, test_fs.c): the same conventions as test_io.c's own
 * (IO_TEST cases run on both backends, chosen by LUMTEST_IO_BACKEND; results pre-filled with garbage; the output
 * of an IO future must be its result pointer). */
#ifndef LUMINAL_TEST_IO_UTIL_H
#define LUMINAL_TEST_IO_UTIL_H

#include "test_util.h"

#include <sys/resource.h>

#define IO_TEST(name) TEST(name)
#define IOU_GARBAGE 0x5A

static inline uint32_t iou_backend(void) {
  const char *e = getenv("LUMTEST_IO_BACKEND");
  CHECK_MSG(e != NULL, "LUMTEST_IO_BACKEND is not set (CTest sets it to uring or pool for every IO_TEST)");
  if (strcmp(e, "uring") == 0) return LUMINAL_IO_URING;
  if (strcmp(e, "pool") == 0) return LUMINAL_IO_POOL;
  TEST_FAIL("LUMTEST_IO_BACKEND=%s: expected uring or pool", e);
}

/* A runtime on the backend under test, with `workers` workers and at most `pool_threads` blocking-pool threads
 * (0 = the default). */
static inline luminal_runtime *iou_runtime_pool(uint32_t workers, uint32_t pool_threads) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = workers;
  o.max_blocking_threads = pool_threads;
  o.thread_name = "lumio";
  o.io_backend = iou_backend();
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_io_backend(rt), o.io_backend);
  return rt;
}

/* A runtime on the backend under test, with `workers` workers. */
static inline luminal_runtime *iou_runtime(uint32_t workers) { return iou_runtime_pool(workers, 0); }

/* IO operations submitted and not yet completed (the runtime's metrics). */
static inline uint64_t iou_in_flight(luminal_runtime *rt) {
  luminal_runtime_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  CHECK_ST(luminal_runtime_get_metrics(rt, &m), LUMINAL_OK);
  return m.io_in_flight;
}

/* `pipes` pipes need 2 fds each: raises the soft RLIMIT_NOFILE if it is too low (and the hard one allows). */
static inline void iou_allow_pipes(int pipes) {
  struct rlimit lim;
  rlim_t need = 2 * (rlim_t)pipes + 256;
  CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_cur < need && lim.rlim_max >= need) {
    lim.rlim_cur = need;
    CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  }
  CHECK_MSG(lim.rlim_cur >= need, "RLIMIT_NOFILE %lu is too low for %d pipes", (unsigned long)lim.rlim_cur, pipes);
}

/* Runs an IO future to completion (spawned, joined for at most 20 s) and returns its result. */
static inline luminal_io_result iou_finish(luminal_runtime *rt, luminal_status made, luminal_future f,
                                           luminal_io_result *r, const char *what, int line) {
  if (made != LUMINAL_OK)
    TEST_FAIL("line %d: %s returned %d (%s) creating the future", line, what, (int)made, luminal_status_str(made));
  luminal_task *t = tu_spawn(rt, f);
  void *out = NULL;
  luminal_status st = luminal_task_join(t, 20ull * 1000000000ull, &out);
  luminal_task_release(t);
  if (st != LUMINAL_OK) TEST_FAIL("line %d: join(%s) returned %d (%s)", line, what, (int)st, luminal_status_str(st));
  if (out != (void *)r) TEST_FAIL("line %d: %s: output %p is not the result pointer %p", line, what, out, (void *)r);
  if (r->status == LUMINAL_OK && r->os_error != 0) TEST_FAIL("line %d: %s: OK with os_error %d", line, what, r->os_error);
  if (r->status == LUMINAL_E_IO && (r->os_error <= 0 || r->value != 0))
    TEST_FAIL("line %d: %s: E_IO with os_error %d value %" PRIu64, line, what, r->os_error, r->value);
  return *r;
}

/* IOU(rt, CALL): CALL names `&_r` and `&_f`; evaluates to the luminal_io_result. */
#define IOU(rt, CALL)                                                                                               \
  ({                                                                                                               \
    luminal_io_result _r;                                                                                          \
    luminal_future _f;                                                                                             \
    memset(&_r, IOU_GARBAGE, sizeof _r);                                                                           \
    memset(&_f, 0, sizeof _f);                                                                                     \
    luminal_status _made = (CALL);                                                                                 \
    iou_finish((rt), _made, _f, &_r, #CALL, __LINE__);                                                             \
  })

/* Expect success; evaluates to value. */
#define IOU_OK(expr)                                                                                                \
  ({                                                                                                               \
    luminal_io_result _q = (expr);                                                                                 \
    if (_q.status != LUMINAL_OK)                                                                                   \
      TEST_FAIL("%s: status %d (%s), os_error %d (%s)", #expr, _q.status,                                          \
                luminal_status_str((luminal_status)_q.status), _q.os_error, strerror(_q.os_error));                \
    _q.value;                                                                                                      \
  })

/* Expect LUMINAL_E_IO with this errno. */
#define IOU_ERRNO(expr, err)                                                                                        \
  do {                                                                                                             \
    luminal_io_result _q = (expr);                                                                                 \
    if (_q.status != LUMINAL_E_IO || _q.os_error != (err))                                                         \
      TEST_FAIL("%s: status %d (%s) os_error %d (%s), expected E_IO with %s", #expr, _q.status,                    \
                luminal_status_str((luminal_status)_q.status), _q.os_error, strerror(_q.os_error), #err);          \
  } while (0)

/* A plain call's result: its status equals result.status; evaluates to the result. */
#define PLAIN(CALL)                                                                                                 \
  ({                                                                                                               \
    luminal_io_result _r;                                                                                          \
    memset(&_r, IOU_GARBAGE, sizeof _r);                                                                           \
    luminal_status _s = (CALL);                                                                                    \
    if ((int)_s != _r.status) TEST_FAIL("%s returned %d but wrote status %d", #CALL, (int)_s, _r.status);          \
    _r;                                                                                                            \
  })

/* A future created and dropped without a poll: what its creation allocated must go with it (valgrind). */
static inline void iou_drop_unpolled(luminal_status made, luminal_future f) {
  CHECK_ST(made, LUMINAL_OK);
  CHECK(f.drop != NULL);
  f.drop(f.state);
}

/* A call that must refuse: the status, and a zeroed future. */
#define REFUSED(CALL, expected)                                                                                     \
  do {                                                                                                             \
    luminal_future _f;                                                                                             \
    memset(&_f, 0x77, sizeof _f);                                                                                  \
    luminal_io_result _r;                                                                                          \
    (void)_r;                                                                                                      \
    CHECK_ST((CALL), (expected));                                                                                  \
    CHECK(_f.poll == NULL && _f.drop == NULL && _f.state == NULL);                                                 \
  } while (0)

#endif
