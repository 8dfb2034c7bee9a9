/* Observing a runtime: metrics (exact values on a quiet runtime), per-scope CPU, log events, thread hooks on every
 * thread kind, task hooks, luminal_status_name. The unloaded-plugin check has its own host (observe_plugin_host.c);
 * the bench shows what the hooks cost when unset (bench/c). */
#include "test_util.h"

#include <sys/syscall.h>

static luminal_runtime_metrics metrics(luminal_runtime *rt) {
  luminal_runtime_metrics m;
  memset(&m, 0xAB, sizeof m);
  m.struct_size = sizeof m;
  CHECK_ST(luminal_runtime_get_metrics(rt, &m), LUMINAL_OK);
  CHECK_EQ(m.struct_size, sizeof m);
  return m;
}

static luminal_worker_metrics worker_metrics(luminal_runtime *rt, uint32_t i) {
  luminal_worker_metrics m;
  memset(&m, 0xAB, sizeof m);
  m.struct_size = sizeof m;
  CHECK_ST(luminal_runtime_get_worker_metrics(rt, i, &m), LUMINAL_OK);
  return m;
}

/* Every queue-shaped field of a quiet runtime is zero. */
static void check_queues_empty(const luminal_runtime_metrics *m) {
  CHECK_EQ(m->injector_depth, 0);
  CHECK_EQ(m->local_queue_depth, 0);
  CHECK_EQ(m->ready_user_interactive, 0);
  CHECK_EQ(m->ready_user_initiated, 0);
  CHECK_EQ(m->ready_utility, 0);
  CHECK_EQ(m->ready_background, 0);
  CHECK_EQ(m->blocking_queue_depth, 0);
  CHECK_EQ(m->io_in_flight, 0);
  CHECK_EQ(m->timers_pending, 0);
}

/* ---- status names ------------------------------------------------------------------------------------------- */

TEST(status_name_every_status) {
  static const struct { luminal_status s; const char *name; } all[] = {
      {LUMINAL_OK, "LUMINAL_OK"}, {LUMINAL_PENDING, "LUMINAL_PENDING"},
      {LUMINAL_E_INVALID_ARGUMENT, "LUMINAL_E_INVALID_ARGUMENT"}, {LUMINAL_E_INVALID_HANDLE, "LUMINAL_E_INVALID_HANDLE"},
      {LUMINAL_E_SHUTDOWN, "LUMINAL_E_SHUTDOWN"}, {LUMINAL_E_CANCELLED, "LUMINAL_E_CANCELLED"},
      {LUMINAL_E_TIMED_OUT, "LUMINAL_E_TIMED_OUT"}, {LUMINAL_E_WOULD_DEADLOCK, "LUMINAL_E_WOULD_DEADLOCK"},
      {LUMINAL_E_NO_MEMORY, "LUMINAL_E_NO_MEMORY"}, {LUMINAL_E_UNSUPPORTED, "LUMINAL_E_UNSUPPORTED"},
      {LUMINAL_E_INTERNAL, "LUMINAL_E_INTERNAL"}, {LUMINAL_E_ALREADY_TAKEN, "LUMINAL_E_ALREADY_TAKEN"},
      {LUMINAL_E_IO, "LUMINAL_E_IO"}, {LUMINAL_E_FORKED, "LUMINAL_E_FORKED"}, {LUMINAL_E_CLOSED, "LUMINAL_E_CLOSED"},
      {LUMINAL_E_FULL, "LUMINAL_E_FULL"}, {LUMINAL_E_EMPTY, "LUMINAL_E_EMPTY"}};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    CHECK_MSG(strcmp(luminal_status_name(all[i].s), all[i].name) == 0, "%d: %s", (int)all[i].s,
              luminal_status_name(all[i].s));
  CHECK(strcmp(luminal_status_name((luminal_status)-16), "LUMINAL_STATUS_UNKNOWN") == 0);
  CHECK(strcmp(luminal_status_name((luminal_status)12345), "LUMINAL_STATUS_UNKNOWN") == 0);
}

/* ---- metrics: misuse ---------------------------------------------------------------------------------------- */

TEST(metrics_misuse) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_runtime_metrics m;
  luminal_worker_metrics w;
  memset(&m, 0, sizeof m);
  memset(&w, 0, sizeof w);
  m.struct_size = sizeof m;
  w.struct_size = sizeof w;
  CHECK_ST(luminal_runtime_get_metrics(NULL, &m), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_get_metrics(rt, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_get_metrics((luminal_runtime *)(uintptr_t)0x123450, &m), LUMINAL_E_INVALID_HANDLE);
  m.struct_size = 4;
  CHECK_ST(luminal_runtime_get_metrics(rt, &m), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_get_worker_metrics(NULL, 0, &w), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_get_worker_metrics(rt, 0, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_get_worker_metrics(rt, 2, &w), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_get_worker_metrics(rt, UINT32_MAX, &w), LUMINAL_E_INVALID_ARGUMENT);
  w.struct_size = 0;
  CHECK_ST(luminal_runtime_get_worker_metrics(rt, 0, &w), LUMINAL_E_INVALID_ARGUMENT);

  /* An older caller's smaller struct: only struct_size bytes are written. */
  luminal_runtime_metrics small;
  memset(&small, 0xAB, sizeof small);
  small.struct_size = offsetof(luminal_runtime_metrics, tasks_spawned);
  CHECK_ST(luminal_runtime_get_metrics(rt, &small), LUMINAL_OK);
  CHECK_EQ(small.workers, 2);
  CHECK_EQ(small.blocking_max, 512);
  CHECK(small.tasks_spawned == 0xABABABABABABABABull);

  luminal_runtime *stale = luminal_runtime_clone(rt);
  luminal_runtime_release(stale);
  m.struct_size = sizeof m;
  w.struct_size = sizeof w;
  CHECK_ST(luminal_runtime_get_metrics(stale, &m), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_runtime_get_worker_metrics(stale, 0, &w), LUMINAL_E_INVALID_HANDLE);
  tu_runtime_done(rt);
}

/* ---- metrics: exact counts ---------------------------------------------------------------------------------- */

TEST(metrics_tasks_exact) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_runtime_metrics m = metrics(rt);
  CHECK_EQ(m.workers, 1);
  CHECK_EQ(m.tasks_spawned, 0);
  CHECK_EQ(m.tasks_alive, 0);
  CHECK_EQ(m.polls, 0);
  CHECK_EQ(m.blocking_threads, 0);
  check_queues_empty(&m);

  tu_counters c;
  tu_counters_init(&c);
  luminal_task *t[10];
  for (int i = 0; i < 10; i++) CHECK_ST(luminal_spawn(rt, tf_yield(&c, (uint64_t)i % 3), &t[i]), LUMINAL_OK);
  for (int i = 0; i < 10; i++) {
    void *out = NULL;
    CHECK_ST(luminal_task_join(t[i], UINT64_MAX, &out), LUMINAL_OK);
    tu_box_take(out);
    luminal_task_release(t[i]);
  }
  m = metrics(rt);
  CHECK_EQ(m.tasks_spawned, 10);
  CHECK_EQ(m.tasks_completed, 10);
  CHECK_EQ(m.tasks_cancelled, 0);
  CHECK_EQ(m.tasks_alive, 0);
  CHECK_EQ(m.polls, LOAD(c.polls)); /* every poll, the yields' repeats included */
  CHECK_EQ(m.polls, 10 + (0 + 1 + 2) * 3 + 0);
  CHECK_EQ(m.steals, 0); /* one worker: nobody to steal from */
  check_queues_empty(&m);
  luminal_worker_metrics w = worker_metrics(rt, 0);
  CHECK_EQ(w.polls, m.polls);
  CHECK_EQ(w.steals, 0);
  CHECK_EQ(w.queue_depth, 0);

  /* A task pending on nothing is alive; aborting it counts it cancelled. */
  luminal_task *f;
  CHECK_ST(luminal_spawn(rt, tf_forever(&c), &f), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.polls) == 20);
  m = metrics(rt);
  CHECK_EQ(m.tasks_spawned, 11);
  CHECK_EQ(m.tasks_alive, 1);
  CHECK_EQ(m.polls, 20);
  luminal_task_abort(f);
  CHECK_ST(luminal_task_join(f, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(f);
  m = metrics(rt);
  CHECK_EQ(m.tasks_completed, 10);
  CHECK_EQ(m.tasks_cancelled, 1);
  CHECK_EQ(m.tasks_alive, 0);

  /* block_on futures count as tasks too (polled on the calling thread: not worker polls). */
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_ready(&c, 7), &out), LUMINAL_OK);
  tu_box_take(out);
  m = metrics(rt);
  CHECK_EQ(m.tasks_spawned, 12);
  CHECK_EQ(m.tasks_completed, 11);
  CHECK_EQ(m.polls, 20);

  /* After shutdown the counters are final and still readable. */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  luminal_runtime_metrics after = metrics(rt);
  CHECK_EQ(after.tasks_spawned, 12);
  CHECK_EQ(after.tasks_alive, 0);
  luminal_runtime_release(rt);
}

TEST(metrics_parks_unparks_and_time) {
  luminal_runtime *rt = tu_runtime(1);
  WAIT_UNTIL(metrics(rt).parks >= 1); /* an idle worker parks */
  tu_sleep_ms(20);
  luminal_runtime_metrics m = metrics(rt);
  uint64_t parks = m.parks, unparks = m.unparks;
  CHECK(m.parked_ns >= MS_NS(10)); /* it is parked now: the park in progress counts */
  /* One spawn onto a parked worker wakes it once; it then parks again. */
  tu_counters c;
  tu_counters_init(&c);
  luminal_task *t;
  CHECK_ST(luminal_spawn(rt, tf_ready(&c, 1), &t), LUMINAL_OK);
  void *out;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  tu_box_take(out);
  luminal_task_release(t);
  WAIT_UNTIL(metrics(rt).parks == parks + 1);
  m = metrics(rt);
  CHECK_EQ(m.unparks, unparks + 1);
  luminal_worker_metrics w = worker_metrics(rt, 0);
  CHECK_EQ(w.parks, parks + 1);
  CHECK(w.parked_ns > 0 && w.busy_ns > 0);
  CHECK(m.parked_ns + m.busy_ns > MS_NS(20));
  tu_runtime_done(rt);
}

/* A poll that holds its worker until the main thread says so (so queues stay as the test left them). */
static atomic_int hold_release;
static atomic_int hold_entered;
static luminal_poll cb_hold(tf *f, luminal_context *cx, void **out) {
  (void)out;
  if (f->value > 0) { /* spawn that many tasks onto this worker's own queue first */
    for (uint64_t i = 0; i < f->value; i++) CHECK_ST(luminal_context_spawn(cx, tf_ready(f->c, i), NULL), LUMINAL_OK);
  }
  atomic_store(&hold_entered, 1);
  while (!atomic_load(&hold_release)) tu_sleep_ms(1);
  return LUMINAL_POLL_READY;
}

TEST(metrics_queues_by_priority) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c;
  tu_counters_init(&c);
  atomic_store(&hold_release, 0);
  atomic_store(&hold_entered, 0);
  CHECK_ST(luminal_spawn(rt, tf_make(&c, cb_hold, NULL, 3), NULL), LUMINAL_OK);
  WAIT_UNTIL(atomic_load(&hold_entered));
  /* The held worker spawned 3 onto its own queue: one waits in its next-task slot, two in its local queue. */
  luminal_spawn_options o = {sizeof o, NULL, LUMINAL_PRIORITY_UTILITY};
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 1), &o, NULL), LUMINAL_OK);
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 2), &o, NULL), LUMINAL_OK);
  o.priority = LUMINAL_PRIORITY_BACKGROUND;
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 3), &o, NULL), LUMINAL_OK);
  luminal_runtime_metrics m = metrics(rt);
  CHECK_EQ(m.injector_depth, 3);
  CHECK_EQ(m.local_queue_depth, 2);
  CHECK_EQ(m.ready_user_interactive, 0);
  CHECK_EQ(m.ready_user_initiated, 2);
  CHECK_EQ(m.ready_utility, 2);
  CHECK_EQ(m.ready_background, 1);
  CHECK_EQ(m.tasks_alive, 7);
  CHECK_EQ(worker_metrics(rt, 0).queue_depth, 3);
  atomic_store(&hold_release, 1);
  WAIT_UNTIL(metrics(rt).tasks_completed == 7);
  m = metrics(rt);
  check_queues_empty(&m);
  CHECK_EQ(m.polls, 7);
  tu_runtime_done(rt);
}

TEST(metrics_steals) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c;
  tu_counters_init(&c);
  atomic_store(&hold_release, 0);
  atomic_store(&hold_entered, 0);
  /* The held worker's queued tasks can only run if the other worker steals them. */
  CHECK_ST(luminal_spawn(rt, tf_make(&c, cb_hold, NULL, 8), NULL), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.readies) >= 7);
  luminal_runtime_metrics m = metrics(rt);
  CHECK(m.steals >= 1);
  CHECK_EQ(worker_metrics(rt, 0).steals + worker_metrics(rt, 1).steals, m.steals);
  atomic_store(&hold_release, 1);
  WAIT_UNTIL(metrics(rt).tasks_alive == 0);
  m = metrics(rt);
  CHECK_EQ(m.tasks_completed, 9);
  CHECK_EQ(m.polls, 9);
  CHECK_EQ(worker_metrics(rt, 0).polls + worker_metrics(rt, 1).polls, 9);
  tu_runtime_done(rt);
}

TEST(metrics_timers_pending) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_task *t[3];
  for (int i = 0; i < 3; i++) {
    luminal_future s;
    CHECK_ST(luminal_sleep(rt, MS_NS(60000), &s), LUMINAL_OK);
    CHECK_ST(luminal_spawn(rt, s, &t[i]), LUMINAL_OK);
  }
  WAIT_UNTIL(metrics(rt).polls == 3);
  luminal_runtime_metrics m = metrics(rt);
  CHECK_EQ(m.timers_pending, 3);
  CHECK_EQ(m.tasks_alive, 3);
  for (int i = 0; i < 3; i++) {
    luminal_task_abort(t[i]);
    CHECK_ST(luminal_task_join(t[i], UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
    luminal_task_release(t[i]);
  }
  m = metrics(rt);
  CHECK_EQ(m.timers_pending, 0);
  CHECK_EQ(m.tasks_cancelled, 3);
  tu_runtime_done(rt);
}

static atomic_int blocking_go;
static void *blocking_wait(void *arg) {
  while (!atomic_load(&blocking_go)) tu_sleep_ms(1);
  return arg;
}

TEST(metrics_blocking_pool) {
  luminal_runtime_options o = tu_options(1);
  o.max_blocking_threads = 1;
  luminal_runtime *rt = tu_runtime_with(&o);
  atomic_store(&blocking_go, 0);
  luminal_task *a, *b;
  CHECK_ST(luminal_spawn_blocking(rt, blocking_wait, NULL, &a), LUMINAL_OK);
  CHECK_ST(luminal_spawn_blocking(rt, blocking_wait, NULL, &b), LUMINAL_OK);
  WAIT_UNTIL(metrics(rt).blocking_queue_depth == 1); /* the thread took the first call */
  luminal_runtime_metrics m = metrics(rt);
  CHECK_EQ(m.blocking_threads, 1);
  CHECK_EQ(m.blocking_max, 1);
  CHECK_EQ(m.blocking_idle, 0);
  CHECK_EQ(m.blocking_queue_depth, 1); /* the second waits for the only thread */
  atomic_store(&blocking_go, 1);
  CHECK_ST(luminal_task_join(a, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_ST(luminal_task_join(b, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(a);
  luminal_task_release(b);
  WAIT_UNTIL(metrics(rt).blocking_idle == 1);
  m = metrics(rt);
  CHECK_EQ(m.blocking_threads, 1);
  CHECK_EQ(m.blocking_queue_depth, 0);
  CHECK_EQ(m.tasks_completed, 2);
  CHECK_EQ(m.polls, 0); /* blocking calls are not worker polls */
  tu_runtime_done(rt);
}

/* Awaits one stream read into a static buffer; ready with the byte count. */
typedef struct {
  luminal_future op;
  luminal_io_result r;
  char buf[8];
  int fd;
} pipe_read;
static luminal_poll cb_pipe_read(tf *f, luminal_context *cx, void **out) {
  pipe_read *p = (pipe_read *)f->user;
  if (p->op.poll == NULL) CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), p->fd, p->buf, sizeof p->buf, &p->r, &p->op), LUMINAL_OK);
  void *o = NULL;
  if (p->op.poll(p->op.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  p->op.drop(p->op.state);
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static void io_in_flight_with(luminal_io_backend backend) {
  luminal_runtime_options o = tu_options(1);
  o.io_backend = backend;
  luminal_runtime *rt = tu_runtime_with(&o);
  int32_t fds[2];
  CHECK_ST(luminal_pipe(fds, NULL), LUMINAL_OK);
  static pipe_read p;
  memset(&p, 0, sizeof p);
  p.fd = fds[0];
  luminal_task *t;
  CHECK_ST(luminal_spawn(rt, tf_make(NULL, cb_pipe_read, &p, 0), &t), LUMINAL_OK);
  WAIT_UNTIL(metrics(rt).io_in_flight == 1);
  CHECK_EQ(write(fds[1], "x", 1), 1);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_EQ(p.r.status, LUMINAL_OK);
  CHECK_EQ(p.r.value, 1);
  CHECK_EQ(metrics(rt).io_in_flight, 0);
  close(fds[0]);
  close(fds[1]);
  tu_runtime_done(rt);
}

TEST(metrics_io_in_flight) {
  io_in_flight_with(LUMINAL_IO_POOL);
  io_in_flight_with(LUMINAL_IO_AUTO);
}

/* ---- per-scope CPU ------------------------------------------------------------------------------------------ */

static luminal_poll cb_spin(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  uint64_t until = tu_now_ns() + f->value;
  while (tu_now_ns() < until) {
  }
  *out = NULL;
  return LUMINAL_POLL_READY;
}

TEST(scope_counts_polls_and_cpu) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_scope *busy, *idle;
  CHECK_ST(luminal_scope_new(rt, &busy), LUMINAL_OK);
  CHECK_ST(luminal_scope_new(rt, &idle), LUMINAL_OK);
  tu_counters c;
  tu_counters_init(&c);
  luminal_spawn_options o = {sizeof o, busy, 0};
  luminal_task *t[4];
  for (int i = 0; i < 3; i++) CHECK_ST(luminal_spawn_with(rt, tf_make(&c, cb_spin, NULL, MS_NS(5)), &o, &t[i]), LUMINAL_OK);
  o.scope = idle;
  CHECK_ST(luminal_spawn_with(rt, tf_yield(&c, 4), &o, &t[3]), LUMINAL_OK); /* 5 polls */
  for (int i = 0; i < 4; i++) {
    void *out = NULL;
    CHECK_ST(luminal_task_join(t[i], UINT64_MAX, &out), LUMINAL_OK);
    if (out) tu_box_take(out);
    luminal_task_release(t[i]);
  }
  luminal_scope_counters s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_ST(luminal_scope_stats(busy, &s), LUMINAL_OK);
  CHECK_EQ(s.polls, 3);
  CHECK(s.poll_ns >= MS_NS(15));
  uint64_t busy_ns = s.poll_ns;
  CHECK_ST(luminal_scope_stats(idle, &s), LUMINAL_OK);
  CHECK_EQ(s.polls, 5);
  CHECK(s.poll_ns < busy_ns); /* the ranking a host wants */
  /* An older caller's struct ends before the new fields: they are not written. */
  luminal_scope_counters old;
  memset(&old, 0xAB, sizeof old);
  old.struct_size = offsetof(luminal_scope_counters, polls);
  CHECK_ST(luminal_scope_stats(idle, &old), LUMINAL_OK);
  CHECK_EQ(old.spawned, 1);
  CHECK(old.polls == 0xABABABABABABABABull);
  CHECK_ST(luminal_scope_close(busy, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_scope_close(idle, UINT64_MAX), LUMINAL_OK);
  luminal_scope_release(busy);
  luminal_scope_release(idle);
  tu_runtime_done(rt);
}

/* ---- logging ------------------------------------------------------------------------------------------------ */

typedef struct {
  pthread_mutex_t mu;
  int n;
  luminal_log_level level[64];
  char text[64][512];
} log_sink;

static void log_to_sink(void *user, luminal_log_level level, const char *message) {
  log_sink *s = (log_sink *)user;
  CHECK(message != NULL);
  pthread_mutex_lock(&s->mu);
  if (s->n < 64) {
    s->level[s->n] = level;
    snprintf(s->text[s->n], sizeof s->text[0], "%s", message);
    s->n++;
  }
  pthread_mutex_unlock(&s->mu);
}

/* The index of the first line at `level` containing `needle`, or -1. */
static int log_find(log_sink *s, luminal_log_level level, const char *needle) {
  pthread_mutex_lock(&s->mu);
  int found = -1;
  for (int i = 0; i < s->n && found < 0; i++)
    if (s->level[i] == level && strstr(s->text[i], needle) != NULL) found = i;
  pthread_mutex_unlock(&s->mu);
  return found;
}

static luminal_runtime *logged_runtime(log_sink *s, luminal_log_level level, luminal_io_backend backend) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  luminal_runtime_options o = tu_options(1);
  o.log = log_to_sink;
  o.log_user = s;
  o.log_level = level;
  o.io_backend = backend;
  return tu_runtime_with(&o);
}

static void read_a_file(luminal_runtime *rt) {
  luminal_buffer b = {0};
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_file_read_all(rt, "/proc/self/stat", &b, &r, &f), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, f, NULL), LUMINAL_OK);
  CHECK_ST(r.status, LUMINAL_OK);
  luminal_buffer_release(&b);
}

TEST(log_io_backend_choice) {
  log_sink s;
  luminal_runtime *rt = logged_runtime(&s, LUMINAL_LOG_INFO, LUMINAL_IO_POOL);
  CHECK_EQ(log_find(&s, LUMINAL_LOG_INFO, "IO backend"), -1); /* chosen at the first IO operation */
  read_a_file(rt);
  CHECK(log_find(&s, LUMINAL_LOG_INFO, "IO backend: pool (asked for") >= 0);
  tu_runtime_done(rt);

  rt = logged_runtime(&s, LUMINAL_LOG_INFO, LUMINAL_IO_AUTO);
  read_a_file(rt);
  int uring = log_find(&s, LUMINAL_LOG_INFO, "IO backend: io_uring (available)");
  int fallback = log_find(&s, LUMINAL_LOG_INFO, "io_uring_setup failed: errno ");
  CHECK_MSG((uring >= 0) != (fallback >= 0), "expected one backend line, got uring %d fallback %d", uring, fallback);
  CHECK_EQ(luminal_runtime_io_backend(rt), uring >= 0 ? LUMINAL_IO_URING : LUMINAL_IO_POOL);
  tu_runtime_done(rt);
}

TEST(log_levels_filter_and_lifecycle) {
  log_sink s;
  luminal_runtime *rt = logged_runtime(&s, LUMINAL_LOG_DEBUG, LUMINAL_IO_POOL);
  CHECK(log_find(&s, LUMINAL_LOG_DEBUG, "runtime created: 1 workers") >= 0);
  tu_runtime_done(rt);
  CHECK(log_find(&s, LUMINAL_LOG_DEBUG, "shut down") >= 0);

  /* WARN: the INFO and DEBUG lines are not passed on. */
  rt = logged_runtime(&s, LUMINAL_LOG_WARN, LUMINAL_IO_POOL);
  read_a_file(rt);
  tu_runtime_done(rt);
  CHECK_EQ(s.n, 0);

  luminal_runtime_options o = tu_options(1);
  o.log_level = (luminal_log_level)5;
  luminal_runtime *bad = NULL;
  CHECK_ST(luminal_runtime_new(&o, &bad), LUMINAL_E_INVALID_ARGUMENT);
  o.log_level = 0;
  o.debug_plugins = 2;
  CHECK_ST(luminal_runtime_new(&o, &bad), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(bad == NULL);
}

TEST(log_scope_released_with_live_tasks) {
  log_sink s;
  luminal_runtime *rt = logged_runtime(&s, LUMINAL_LOG_INFO, LUMINAL_IO_AUTO);
  luminal_scope *scope;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  tu_counters c;
  tu_counters_init(&c);
  luminal_spawn_options o = {sizeof o, scope, 0};
  CHECK_ST(luminal_spawn_with(rt, tf_forever(&c), &o, NULL), LUMINAL_OK);
  CHECK_ST(luminal_spawn_with(rt, tf_forever(&c), &o, NULL), LUMINAL_OK);
  char expected[128];
  snprintf(expected, sizeof expected, "scope 0x%" PRIxPTR " released while open with 2 live tasks", (uintptr_t)scope);
  luminal_scope_release(scope);
  CHECK_MSG(log_find(&s, LUMINAL_LOG_WARN, expected) >= 0, "no line \"%s\" (%d lines)", expected, s.n);

  /* A closed scope released: no warning (its tasks are on their way out). */
  int lines = s.n;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  o.scope = scope;
  CHECK_ST(luminal_spawn_with(rt, tf_forever(&c), &o, NULL), LUMINAL_OK);
  CHECK_ST(luminal_scope_close(scope, UINT64_MAX), LUMINAL_OK);
  luminal_scope_release(scope);
  CHECK_EQ(s.n, lines);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 3);
}

/* Runs with LUMINAL_IO_BACKEND=bogus in the environment (CMakeLists.txt): read when the library starts. */
TEST(log_unknown_io_backend_variable) {
  const char *env = getenv("LUMINAL_IO_BACKEND");
  CHECK_MSG(env != NULL && strcmp(env, "bogus") == 0, "run me with LUMINAL_IO_BACKEND=bogus (ctest does)");
  log_sink s;
  luminal_runtime *rt = logged_runtime(&s, LUMINAL_LOG_WARN, LUMINAL_IO_AUTO);
  CHECK(log_find(&s, LUMINAL_LOG_WARN, "LUMINAL_IO_BACKEND=bogus is not one of") >= 0);
  read_a_file(rt); /* AUTO is used: IO works */
  tu_runtime_done(rt);
  /* An explicit option wins: nothing to warn about. */
  rt = logged_runtime(&s, LUMINAL_LOG_WARN, LUMINAL_IO_POOL);
  CHECK_EQ(s.n, 0);
  tu_runtime_done(rt);
}

/* Runs with LUMINAL_LOG=debug (CMakeLists.txt): without a callback, lines go to stderr. */
TEST(log_stderr_from_environment) {
  const char *env = getenv("LUMINAL_LOG");
  CHECK_MSG(env != NULL && strcmp(env, "debug") == 0, "run me with LUMINAL_LOG=debug (ctest does)");
  char path[] = "/tmp/luminal_log_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  int saved = dup(2);
  CHECK(dup2(fd, 2) == 2);
  luminal_runtime *rt = tu_runtime(1);
  tu_runtime_done(rt);
  dup2(saved, 2);
  close(saved);
  char text[4096] = {0};
  CHECK(pread(fd, text, sizeof text - 1, 0) > 0);
  close(fd);
  unlink(path);
  CHECK_MSG(strstr(text, "luminal: debug: runtime created: 1 workers") != NULL, "stderr was: %s", text);
  CHECK_MSG(strstr(text, "luminal: debug: runtime with 1 workers shut down") != NULL, "stderr was: %s", text);
}

/* ---- thread hooks ------------------------------------------------------------------------------------------- */

typedef struct {
  luminal_thread_kind kind;
  uint32_t index;
  pid_t tid;
  char name[16];
} thread_event;

typedef struct {
  pthread_mutex_t mu;
  int starts, stops;
  thread_event start[64], stop[64];
} thread_log;

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static void on_start(void *user, luminal_thread_kind kind, uint32_t index) {
  thread_log *l = (thread_log *)user;
  pthread_mutex_lock(&l->mu);
  thread_event *e = &l->start[l->starts++ % 64];
  e->kind = kind;
  e->index = index;
  e->tid = gettid_();
  pthread_getname_np(pthread_self(), e->name, sizeof e->name);
  pthread_mutex_unlock(&l->mu);
}

static void on_stop(void *user, luminal_thread_kind kind, uint32_t index) {
  thread_log *l = (thread_log *)user;
  pthread_mutex_lock(&l->mu);
  thread_event *e = &l->stop[l->stops++ % 64];
  e->kind = kind;
  e->index = index;
  e->tid = gettid_();
  pthread_mutex_unlock(&l->mu);
}

static const thread_event *find_event(thread_log *l, int stop, luminal_thread_kind kind, uint32_t index) {
  const thread_event *found = NULL;
  pthread_mutex_lock(&l->mu);
  int n = stop ? l->stops : l->starts;
  for (int i = 0; i < n; i++) {
    const thread_event *e = stop ? &l->stop[i] : &l->start[i];
    if (e->kind == kind && e->index == index) found = e;
  }
  pthread_mutex_unlock(&l->mu);
  return found;
}

static atomic_int blocking_tid;
static void *record_tid(void *arg) {
  atomic_store(&blocking_tid, gettid_());
  return arg;
}

TEST(thread_hooks_every_kind) {
  static thread_log l;
  memset(&l, 0, sizeof l);
  pthread_mutex_init(&l.mu, NULL);
  luminal_runtime_options o = tu_options(2);
  o.thread_name = NULL; /* the default prefix */
  o.io_backend = LUMINAL_IO_POOL; /* its reactor is an IO helper thread */
  o.on_thread_start = on_start;
  o.on_thread_stop = on_stop;
  o.thread_hook_user = &l;
  luminal_runtime *rt = tu_runtime_with(&o);
  /* Workers: both started (on their own threads, named PREFIX-INDEX) before runtime_new returned. */
  CHECK_EQ(l.starts, 2);
  const thread_event *w0 = find_event(&l, 0, LUMINAL_THREAD_WORKER, 0), *w1 = find_event(&l, 0, LUMINAL_THREAD_WORKER, 1);
  CHECK(w0 && w1 && w0->tid != w1->tid && w0->tid != gettid_());
  CHECK_MSG(strcmp(w0->name, "luminal-w-0") == 0, "worker 0 is named %s", w0->name);
  CHECK(strcmp(w1->name, "luminal-w-1") == 0);

  /* A blocking-pool thread: the hook runs on the thread that then runs the call. */
  luminal_task *t;
  CHECK_ST(luminal_spawn_blocking(rt, record_tid, NULL, &t), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  const thread_event *b = find_event(&l, 0, LUMINAL_THREAD_BLOCKING, 0);
  CHECK(b != NULL);
  CHECK_EQ(b->tid, atomic_load(&blocking_tid));
  CHECK_MSG(strcmp(b->name, "luminal-b-0") == 0, "blocking thread is named %s", b->name);

  /* The pool backend's reactor starts with the first operation that waits for readiness. */
  int32_t fds[2];
  CHECK_ST(luminal_pipe(fds, NULL), LUMINAL_OK);
  static pipe_read p;
  memset(&p, 0, sizeof p);
  p.fd = fds[0];
  CHECK_ST(luminal_spawn(rt, tf_make(NULL, cb_pipe_read, &p, 0), &t), LUMINAL_OK);
  WAIT_UNTIL(find_event(&l, 0, LUMINAL_THREAD_IO, 0) != NULL);
  CHECK_EQ(write(fds[1], "x", 1), 1);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  const thread_event *io = find_event(&l, 0, LUMINAL_THREAD_IO, 0);
  CHECK(strcmp(io->name, "luminal-reactor") == 0);

  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  /* Workers and pool threads are joined by shutdown: their stop hooks ran, each on its own thread. */
  const thread_event *s0 = find_event(&l, 1, LUMINAL_THREAD_WORKER, 0), *s1 = find_event(&l, 1, LUMINAL_THREAD_WORKER, 1);
  CHECK(s0 && s1 && s0->tid == w0->tid && s1->tid == w1->tid);
  const thread_event *sb = find_event(&l, 1, LUMINAL_THREAD_BLOCKING, 0);
  CHECK(sb && sb->tid == b->tid);
  WAIT_UNTIL(find_event(&l, 1, LUMINAL_THREAD_IO, 0) != NULL);
  CHECK_EQ(find_event(&l, 1, LUMINAL_THREAD_IO, 0)->tid, io->tid);
  CHECK_EQ(l.starts, l.stops);
  luminal_runtime_release(rt);
  close(fds[0]);
  close(fds[1]);
}

TEST(worker_names_keep_their_index) {
  static thread_log l;
  memset(&l, 0, sizeof l);
  pthread_mutex_init(&l.mu, NULL);
  luminal_runtime_options o = tu_options(12);
  o.thread_name = NULL;
  o.on_thread_start = on_start;
  o.thread_hook_user = &l;
  luminal_runtime *rt = tu_runtime_with(&o);
  const thread_event *e = find_event(&l, 0, LUMINAL_THREAD_WORKER, 11);
  CHECK(e != NULL);
  CHECK_MSG(strcmp(e->name, "luminal-w-11") == 0, "worker 11 is named %s", e->name);
  tu_runtime_done(rt);
}

/* ---- task hooks --------------------------------------------------------------------------------------------- */

typedef struct {
  luminal_task_event event;
  uint64_t id;
  uint32_t priority;
  uint64_t scope;
  int32_t worker;
} task_event;

typedef struct {
  pthread_mutex_t mu;
  int n;
  task_event e[256];
} task_log;

static void on_task(void *user, luminal_task_event event, uint64_t id, uint32_t priority, uint64_t scope, int32_t worker) {
  task_log *l = (task_log *)user;
  pthread_mutex_lock(&l->mu);
  if (l->n < 256) l->e[l->n++] = (task_event){event, id, priority, scope, worker};
  pthread_mutex_unlock(&l->mu);
}

/* The events of task `id`, in order, as a string of digits ("0123" = spawned, poll start, poll end, completed). */
static void events_of(task_log *l, uint64_t id, char *out, size_t cap) {
  size_t k = 0;
  pthread_mutex_lock(&l->mu);
  for (int i = 0; i < l->n && k + 1 < cap; i++)
    if (l->e[i].id == id) out[k++] = (char)('0' + l->e[i].event);
  pthread_mutex_unlock(&l->mu);
  out[k] = 0;
}

TEST(task_hooks_events) {
  static task_log l;
  memset(&l, 0, sizeof l);
  pthread_mutex_init(&l.mu, NULL);
  luminal_runtime_options o = tu_options(1);
  o.task_hook = on_task;
  o.task_hook_user = &l;
  luminal_runtime *rt = tu_runtime_with(&o);
  luminal_scope *scope;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  tu_counters c;
  tu_counters_init(&c);

  /* A task in a scope that yields once: spawned, two polls, completed; all but the spawn on worker 0. */
  luminal_spawn_options so = {sizeof so, scope, LUMINAL_PRIORITY_UTILITY};
  luminal_task *t;
  CHECK_ST(luminal_spawn_with(rt, tf_yield(&c, 1), &so, &t), LUMINAL_OK);
  void *out;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  tu_box_take(out);
  char ev[32];
  events_of(&l, (uint64_t)(uintptr_t)t, ev, sizeof ev);
  CHECK_MSG(strcmp(ev, "012123") == 0, "events %s", ev);
  pthread_mutex_lock(&l.mu);
  for (int i = 0; i < l.n; i++) {
    CHECK_EQ(l.e[i].priority, LUMINAL_PRIORITY_UTILITY);
    CHECK_EQ(l.e[i].scope, (uint64_t)(uintptr_t)scope);
    CHECK_EQ(l.e[i].worker, i == 0 ? -1 : 0); /* spawned from this (foreign) thread */
  }
  pthread_mutex_unlock(&l.mu);
  luminal_task_release(t);

  /* Aborted while pending: spawned, one poll, cancelled. */
  CHECK_ST(luminal_spawn(rt, tf_forever(&c), &t), LUMINAL_OK);
  WAIT_UNTIL(LOAD(c.polls) == 3);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  events_of(&l, (uint64_t)(uintptr_t)t, ev, sizeof ev);
  CHECK_MSG(strcmp(ev, "0124") == 0, "events %s", ev);
  luminal_task_release(t);

  /* block_on: its polls run on this thread (worker -1). */
  int before = l.n;
  CHECK_ST(luminal_block_on(rt, tf_ready(&c, 5), &out), LUMINAL_OK);
  tu_box_take(out);
  CHECK_EQ(l.n, before + 4);
  for (int i = before; i < l.n; i++) CHECK_EQ(l.e[i].worker, -1);
  CHECK_EQ(l.e[before].event, LUMINAL_TASK_SPAWNED);
  CHECK_EQ(l.e[before + 3].event, LUMINAL_TASK_COMPLETED);
  CHECK_EQ(l.e[before].priority, LUMINAL_PRIORITY_USER_INITIATED);
  CHECK_EQ(l.e[before].scope, 0);

  /* A spawn into a closed scope: spawned, then cancelled without a poll. */
  CHECK_ST(luminal_scope_close(scope, UINT64_MAX), LUMINAL_OK);
  before = l.n;
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 1), &so, NULL), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(l.n, before + 2);
  CHECK_EQ(l.e[before].event, LUMINAL_TASK_SPAWNED);
  CHECK_EQ(l.e[before + 1].event, LUMINAL_TASK_CANCELLED);
  luminal_scope_release(scope);
  tu_runtime_done(rt);
}
