/*
 * test_util.h — a tiny self-contained test harness for Luminal's C ABI (no dependency beyond libc + pthreads).
 *
 * TEST(name) { ... } registers a test case; the runner (test_main.c) runs the one named on its command line, so
 * CTest runs every case in its own process (a crash or hang in one case cannot hide the others).
 * CHECK* failures print the location and exit the process with status 1 at once.
 *
 * Also here: atomic counters and a handful of reusable futures that count their polls, drops and output drops, so
 * tests can assert "dropped exactly once" and "drop_output called for an output nobody took".
 */
#ifndef LUMINAL_TEST_UTIL_H
#define LUMINAL_TEST_UTIL_H

#include <luminal.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* ------------------------------------------------------------------------------------------------------------- */
/* Assertions                                                                                                     */
/* ------------------------------------------------------------------------------------------------------------- */

#define TEST_FAIL(...)                                                                                              \
  do {                                                                                                             \
    fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);                                                        \
    fprintf(stderr, __VA_ARGS__);                                                                                  \
    fprintf(stderr, "\n");                                                                                         \
    fflush(stderr);                                                                                                \
    fflush(stdout);                                                                                                \
    _exit(1);                                                                                                      \
  } while (0)

#define CHECK(cond)                                                                                                 \
  do {                                                                                                             \
    if (!(cond)) TEST_FAIL("CHECK(%s)", #cond);                                                                    \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                                        \
  do {                                                                                                             \
    if (!(cond)) TEST_FAIL(__VA_ARGS__);                                                                           \
  } while (0)

#define CHECK_EQ(a, b)                                                                                              \
  do {                                                                                                             \
    long long _a = (long long)(a), _b = (long long)(b);                                                            \
    if (_a != _b) TEST_FAIL("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, _a, _b);                                     \
  } while (0)

/* Compares two luminal_status values and prints both names on failure. */
#define CHECK_ST(expr, expected)                                                                                    \
  do {                                                                                                             \
    luminal_status _s = (expr), _e = (expected);                                                                   \
    if (_s != _e)                                                                                                  \
      TEST_FAIL("%s returned %d (%s), expected %d (%s)", #expr, (int)_s, luminal_status_str(_s), (int)_e,          \
                luminal_status_str(_e));                                                                           \
  } while (0)

/* Waits (polling every millisecond) until `cond` holds; fails after a generous bound that cannot flake. */
#define WAIT_UNTIL(cond)                                                                                            \
  do {                                                                                                             \
    uint64_t _deadline = tu_now_ns() + 20ull * 1000000000ull;                                                      \
    while (!(cond)) {                                                                                              \
      if (tu_now_ns() > _deadline) TEST_FAIL("timed out (20 s) waiting for %s", #cond);                            \
      tu_sleep_ms(1);                                                                                              \
    }                                                                                                              \
  } while (0)

#define MS_NS(ms) ((uint64_t)(ms) * 1000000ull)

/* ------------------------------------------------------------------------------------------------------------- */
/* Registration                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------- */

typedef void (*tu_test_fn)(void);
void tu_register(const char *name, tu_test_fn fn);

#define TEST(name)                                                                                                  \
  static void test_##name(void);                                                                                   \
  __attribute__((constructor)) static void tu_reg_##name(void) { tu_register(#name, test_##name); }                \
  static void test_##name(void)

/* ------------------------------------------------------------------------------------------------------------- */
/* Time                                                                                                           */
/* ------------------------------------------------------------------------------------------------------------- */

static inline uint64_t tu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void tu_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Runtime helpers                                                                                                */
/* ------------------------------------------------------------------------------------------------------------- */

/* Options with struct_size set and everything else at its default, but `workers` worker threads. */
static inline luminal_runtime_options tu_options(uint32_t workers) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = workers;
  o.thread_name = "lumtest";
  return o;
}

static inline luminal_runtime *tu_runtime_with(const luminal_runtime_options *o) {
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(o, &rt), LUMINAL_OK);
  CHECK(rt != NULL);
  return rt;
}

static inline luminal_runtime *tu_runtime(uint32_t workers) {
  luminal_runtime_options o = tu_options(workers);
  return tu_runtime_with(&o);
}

/* Shuts down (waiting forever) and releases. */
static inline void tu_runtime_done(luminal_runtime *rt) {
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  luminal_runtime_release(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Counters and boxed outputs                                                                                     */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct tu_counters {
  atomic_long polls;     /* poll calls */
  atomic_long readies;   /* polls that returned READY */
  atomic_long drops;     /* drop(state) calls */
  atomic_long out_drops; /* drop_output calls */
} tu_counters;

#define TU_COUNTERS_INIT {0, 0, 0, 0}

static inline void tu_counters_init(tu_counters *c) {
  atomic_init(&c->polls, 0);
  atomic_init(&c->readies, 0);
  atomic_init(&c->drops, 0);
  atomic_init(&c->out_drops, 0);
}

#define LOAD(x) atomic_load(&(x))

/* Outputs are heap boxes that remember their counters, so drop_output can count (it gets only the pointer). */
#define TU_BOX_MAGIC 0x4c554d424f58ull /* "LUMBOX" */
typedef struct tu_box {
  uint64_t magic;
  tu_counters *c;
  uint64_t value;
} tu_box;

static inline void *tu_box_new(tu_counters *c, uint64_t value) {
  tu_box *b = (tu_box *)malloc(sizeof *b);
  CHECK(b != NULL);
  b->magic = TU_BOX_MAGIC;
  b->c = c;
  b->value = value;
  return b;
}

/* Takes a box handed over by join/poll/block_on: returns its value and frees it. */
static inline uint64_t tu_box_take(void *p) {
  tu_box *b = (tu_box *)p;
  CHECK_MSG(b != NULL, "expected a boxed output, got NULL");
  CHECK_MSG(b->magic == TU_BOX_MAGIC, "output is not a live box (magic %" PRIx64 ")", b->magic);
  uint64_t v = b->value;
  b->magic = 0;
  free(b);
  return v;
}

/* drop_output for boxes: validates (a double drop_output or a foreign pointer is caught) and counts. */
static void tu_box_drop_output(void *p) {
  tu_box *b = (tu_box *)p;
  if (b == NULL) return; /* a future whose output was NULL (e.g. a spawner); nothing to free */
  if (p == LUMINAL_TIMED_OUT_OUTPUT) TEST_FAIL("drop_output called with LUMINAL_TIMED_OUT_OUTPUT");
  if (p == LUMINAL_FAILED_OUTPUT) TEST_FAIL("drop_output called with LUMINAL_FAILED_OUTPUT");
  if (b->magic != TU_BOX_MAGIC) TEST_FAIL("drop_output called on a dead or foreign box (double drop_output?)");
  b->magic = 0;
  if (b->c) atomic_fetch_add(&b->c->out_drops, 1);
  free(b);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* A generic callback future: state "tf" with counters; poll forwards to a test-provided callback.               */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct tf tf;
typedef luminal_poll (*tf_cb)(tf *self, luminal_context *cx, void **out);

#define TF_MAGIC 0x54465354ull
struct tf {
  uint64_t magic;
  tu_counters *c;
  tf_cb cb;
  void *user;         /* test data */
  uint64_t value;     /* test data */
  long step;          /* free for the callback */
  luminal_task *child; /* released by drop if set */
  luminal_waker *waker; /* released by drop if set */
  atomic_int in_poll; /* catches concurrent polls */
};

static luminal_poll tf_poll(void *state, luminal_context *cx, void **out) {
  tf *f = (tf *)state;
  if (f->magic != TF_MAGIC) TEST_FAIL("poll called on a dead future state (poll after drop?)");
  if (atomic_exchange(&f->in_poll, 1) != 0) TEST_FAIL("poll called concurrently with itself");
  CHECK(cx != NULL);
  CHECK(out != NULL);
  if (f->c) atomic_fetch_add(&f->c->polls, 1);
  luminal_poll r = f->cb(f, cx, out);
  if (r == LUMINAL_POLL_READY && f->c) atomic_fetch_add(&f->c->readies, 1);
  atomic_store(&f->in_poll, 0);
  return r;
}

static void tf_drop(void *state) {
  tf *f = (tf *)state;
  if (f == NULL) TEST_FAIL("drop called with NULL state");
  if (f->magic != TF_MAGIC) TEST_FAIL("drop called twice (or on a foreign state)");
  if (atomic_load(&f->in_poll)) TEST_FAIL("drop called during a poll");
  f->magic = 0;
  if (f->child) luminal_task_release(f->child);
  if (f->waker) luminal_waker_release(f->waker);
  if (f->c) atomic_fetch_add(&f->c->drops, 1);
  free(f);
}

static inline luminal_future tf_make(tu_counters *c, tf_cb cb, void *user, uint64_t value) {
  tf *f = (tf *)calloc(1, sizeof *f);
  CHECK(f != NULL);
  f->magic = TF_MAGIC;
  f->c = c;
  f->cb = cb;
  f->user = user;
  f->value = value;
  atomic_init(&f->in_poll, 0);
  luminal_future fut = {f, tf_poll, tf_drop, tu_box_drop_output};
  return fut;
}

/* Ready at once with a boxed `value`. */
static luminal_poll tf_cb_ready(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  *out = tu_box_new(f->c, f->value);
  return LUMINAL_POLL_READY;
}
static inline luminal_future tf_ready(tu_counters *c, uint64_t value) { return tf_make(c, tf_cb_ready, NULL, value); }

/* Pending forever and never arranges a wake (only abort or shutdown ends it). */
static luminal_poll tf_cb_forever(tf *f, luminal_context *cx, void **out) {
  (void)f, (void)cx, (void)out;
  return LUMINAL_POLL_PENDING;
}
static inline luminal_future tf_forever(tu_counters *c) { return tf_make(c, tf_cb_forever, NULL, 0); }

/* Yields (asks to be polled again, returns PENDING) `n` times, then is ready with a box holding `n`. The two ways
 * to yield alternate, so every test using it covers both: waking its own waker, and luminal_context_yield. */
static luminal_poll tf_cb_yield(tf *f, luminal_context *cx, void **out) {
  if (f->step >= (long)f->value) {
    *out = tu_box_new(f->c, f->value);
    return LUMINAL_POLL_READY;
  }
  if (f->step++ % 2 == 0) luminal_waker_wake_by_ref(luminal_context_waker(cx));
  else CHECK_ST(luminal_context_yield(cx), LUMINAL_OK);
  return LUMINAL_POLL_PENDING;
}
static inline luminal_future tf_yield(tu_counters *c, uint64_t n) { return tf_make(c, tf_cb_yield, NULL, n); }

/* ------------------------------------------------------------------------------------------------------------- */
/* Gate: an external event a future waits for, completed from any thread through a stored, cloned waker.         */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct tu_gate {
  pthread_mutex_t mu;
  int open;
  luminal_waker *waker; /* owned clone of the waiting task's waker */
  atomic_long registrations;
} tu_gate;

static inline void tu_gate_init(tu_gate *g) {
  pthread_mutex_init(&g->mu, NULL);
  g->open = 0;
  g->waker = NULL;
  atomic_init(&g->registrations, 0);
}

static inline void tu_gate_open(tu_gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  luminal_waker *w = g->waker;
  g->waker = NULL;
  pthread_mutex_unlock(&g->mu);
  if (w) luminal_waker_wake(w);
}

static inline void tu_gate_destroy(tu_gate *g) {
  pthread_mutex_lock(&g->mu);
  luminal_waker *w = g->waker;
  g->waker = NULL;
  pthread_mutex_unlock(&g->mu);
  luminal_waker_release(w);
  pthread_mutex_destroy(&g->mu);
}

/* Returns 1 if open; else stores (or keeps) the context's waker and returns 0. */
static inline int tu_gate_poll(tu_gate *g, luminal_context *cx) {
  pthread_mutex_lock(&g->mu);
  int open = g->open;
  if (!open) {
    const luminal_waker *cur = luminal_context_waker(cx);
    CHECK(cur != NULL);
    if (g->waker == NULL || !luminal_waker_will_wake(g->waker, cur)) {
      luminal_waker *old = g->waker;
      g->waker = luminal_waker_clone(cur);
      CHECK(g->waker != NULL);
      luminal_waker_release(old);
      atomic_fetch_add(&g->registrations, 1);
    }
  }
  pthread_mutex_unlock(&g->mu);
  return open;
}

/* Waits for the gate (user = tu_gate*), then is ready with a box holding `value`. */
static luminal_poll tf_cb_gate(tf *f, luminal_context *cx, void **out) {
  if (!tu_gate_poll((tu_gate *)f->user, cx)) return LUMINAL_POLL_PENDING;
  *out = tu_box_new(f->c, f->value);
  return LUMINAL_POLL_READY;
}
static inline luminal_future tf_gate(tu_counters *c, tu_gate *g, uint64_t value) {
  return tf_make(c, tf_cb_gate, g, value);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Latch: a thread blocks until another thread signals (used to hold a poll "in progress").                      */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct tu_latch {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int set;
} tu_latch;

static inline void tu_latch_init(tu_latch *l) {
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  l->set = 0;
}
static inline void tu_latch_set(tu_latch *l) {
  pthread_mutex_lock(&l->mu);
  l->set = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}
static inline void tu_latch_wait(tu_latch *l) {
  pthread_mutex_lock(&l->mu);
  while (!l->set) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
}
static inline int tu_latch_is_set(tu_latch *l) {
  pthread_mutex_lock(&l->mu);
  int s = l->set;
  pthread_mutex_unlock(&l->mu);
  return s;
}

/* A poll that announces it has started, then blocks until released (user = tu_blocker*). */
typedef struct tu_blocker {
  tu_latch entered;
  tu_latch release;
  int wake_self_before_return; /* 1: wake_by_ref its own waker before returning PENDING */
  int ready;                   /* 1: return READY (box) instead of PENDING */
} tu_blocker;

static inline void tu_blocker_init(tu_blocker *b) {
  tu_latch_init(&b->entered);
  tu_latch_init(&b->release);
  b->wake_self_before_return = 0;
  b->ready = 0;
}

static luminal_poll tf_cb_block(tf *f, luminal_context *cx, void **out) {
  tu_blocker *b = (tu_blocker *)f->user;
  if (f->step++ == 0) {
    tu_latch_set(&b->entered);
    tu_latch_wait(&b->release);
  }
  if (b->ready) {
    *out = tu_box_new(f->c, f->value);
    return LUMINAL_POLL_READY;
  }
  if (b->wake_self_before_return) luminal_waker_wake_by_ref(luminal_context_waker(cx));
  return LUMINAL_POLL_PENDING;
}
static inline luminal_future tf_block(tu_counters *c, tu_blocker *b, uint64_t value) {
  return tf_make(c, tf_cb_block, b, value);
}

/* Spawns and checks OK; returns the join handle. */
static inline luminal_task *tu_spawn(luminal_runtime *rt, luminal_future f) {
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  CHECK(t != NULL);
  return t;
}

/* Joins forever, expects OK, returns the box value. */
static inline uint64_t tu_join_value(luminal_task *t) {
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  return tu_box_take(out);
}

/* A TCP port on 127.0.0.1 where a connect is refused. A socket bound there that never listens holds the port, so a
 * test running in parallel cannot be given it; a port bound and then closed can be handed out again, and a connect
 * then meets that test's listener (reset or accepted instead of refused). Returns the socket: close it after. */
static inline int tu_refusing_port(uint16_t *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(s >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
  socklen_t len = sizeof a;
  CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
  *port = ntohs(a.sin_port);
  return s;
}

#endif /* LUMINAL_TEST_UTIL_H */
