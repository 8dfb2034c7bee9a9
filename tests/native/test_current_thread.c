/*
 * test_current_thread.c — current-thread runtimes (LUMINAL_FLAVOR_CURRENT_THREAD), the paused clock and seeded
 * runs: tasks run only on the driving thread, wakes and spawns from other threads make the wakeup fd readable,
 * luminal_runtime_run never waits, BUSY / WOULD_DEADLOCK for a second or nested driver, timers on both clocks
 * (auto-advance inside block_on only), the seeded order replays, IO on both backends, shutdown drops every future
 * exactly once. IO_TEST cases run once per IO backend (see test_io.c).
 */
#include "test_util.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define IO_TEST(name) TEST(name)

static luminal_runtime *ct_runtime(luminal_clock clock, uint64_t seed) {
  luminal_runtime_options o = tu_options(0);
  o.flavor = LUMINAL_FLAVOR_CURRENT_THREAD;
  o.clock = clock;
  o.seed = seed;
  return tu_runtime_with(&o);
}

static int fd_readable(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms);
  CHECK(n >= 0);
  return n == 1 && (p.revents & POLLIN);
}

static int wakeup_fd(luminal_runtime *rt) {
  int fd = -1;
  CHECK_ST(luminal_runtime_wakeup_fd(rt, &fd), LUMINAL_OK);
  CHECK(fd >= 0);
  return fd;
}

static uint32_t run_all(luminal_runtime *rt) {
  uint32_t polled = 0;
  CHECK_ST(luminal_runtime_run(rt, 0, 0, &polled), LUMINAL_OK);
  return polled;
}

static int count_threads(void) {
  DIR *d = opendir("/proc/self/task");
  CHECK(d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Thread identity                                                                                                */
/* ------------------------------------------------------------------------------------------------------------- */

static pthread_t g_expected_thread;
static atomic_long g_polls_elsewhere;

/* Yields `value` times (spawning a child on its first poll), checking every poll runs on g_expected_thread. */
static luminal_poll ident_cb(tf *f, luminal_context *cx, void **out) {
  if (!pthread_equal(pthread_self(), g_expected_thread)) atomic_fetch_add(&g_polls_elsewhere, 1);
  if (f->step == 0 && f->user != NULL) {
    luminal_task *child = NULL;
    CHECK_ST(luminal_context_spawn(cx, tf_make(f->c, ident_cb, NULL, 2), &child), LUMINAL_OK);
    f->child = child;
  }
  return tf_cb_yield(f, cx, out);
}

TEST(ct_new_starts_no_thread) {
  luminal_runtime *warm = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0); /* the .NET runtime's own threads start first */
  tu_runtime_done(warm);
  int before = count_threads();
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  CHECK_EQ(count_threads(), before);
  CHECK_EQ(luminal_runtime_worker_count(rt), 1); /* its driving thread */
  tu_counters c;
  tu_counters_init(&c);
  luminal_task *t = tu_spawn(rt, tf_yield(&c, 3));
  CHECK_EQ(LOAD(c.polls), 0); /* nobody drives it: nothing ran */
  CHECK_EQ(count_threads(), before);
  run_all(rt);
  CHECK_EQ(tu_join_value(t), 3);
  luminal_task_release(t);
  CHECK_EQ(count_threads(), before);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

TEST(ct_thread_identity_block_on) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  g_expected_thread = pthread_self();
  atomic_store(&g_polls_elsewhere, 0);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task *tasks[16];
  for (int i = 0; i < 16; i++) tasks[i] = tu_spawn(rt, tf_make(&c, ident_cb, (void *)1, (uint64_t)(i + 1)));
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_make(&c, ident_cb, NULL, 40), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 40);
  run_all(rt); /* what block_on left ready */
  for (int i = 0; i < 16; i++) {
    CHECK_EQ(tu_join_value(tasks[i]), (uint64_t)(i + 1));
    luminal_task_release(tasks[i]);
  }
  CHECK_EQ(atomic_load(&g_polls_elsewhere), 0);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1 + 16 + 16); /* main, the tasks, their children */
}

typedef struct run_arg {
  luminal_runtime *rt;
  luminal_status st;
  uint32_t polled;
} run_arg;

static void *run_thread(void *p) {
  run_arg *a = (run_arg *)p;
  g_expected_thread = pthread_self();
  a->st = luminal_runtime_run(a->rt, 0, 0, &a->polled);
  return NULL;
}

TEST(ct_thread_identity_run_elsewhere) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  atomic_store(&g_polls_elsewhere, 0);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task *tasks[8];
  for (int i = 0; i < 8; i++) tasks[i] = tu_spawn(rt, tf_make(&c, ident_cb, (void *)1, 3));
  run_arg a = {rt, LUMINAL_E_INTERNAL, 0};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, run_thread, &a) == 0);
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_ST(a.st, LUMINAL_OK);
  CHECK_EQ(a.polled, 8 * 4 + 8 * 3); /* each task: 3 yields + 1; each child: 2 yields + 1 */
  CHECK_EQ(atomic_load(&g_polls_elsewhere), 0);
  for (int i = 0; i < 8; i++) {
    CHECK(luminal_task_is_finished(tasks[i]));
    CHECK_EQ(tu_join_value(tasks[i]), 3);
    luminal_task_release(tasks[i]);
  }
  tu_runtime_done(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* luminal_runtime_run and the wakeup fd                                                                          */
/* ------------------------------------------------------------------------------------------------------------- */

TEST(ct_run_never_waits_and_limits) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  int fd = wakeup_fd(rt);
  int fd2 = -1;
  CHECK_ST(luminal_runtime_wakeup_fd(rt, &fd2), LUMINAL_OK);
  CHECK_EQ(fd2, fd);
  CHECK(!fd_readable(fd, 0));
  CHECK_EQ(run_all(rt), 0); /* nothing to do: returns at once */

  tu_counters c;
  tu_counters_init(&c);
  luminal_task *forever = tu_spawn(rt, tf_forever(&c));
  luminal_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = tu_spawn(rt, tf_yield(&c, 5));
  CHECK(fd_readable(fd, 0)); /* spawned from a thread that was not driving it */
  uint32_t polled = 0;
  CHECK_ST(luminal_runtime_run(rt, 2, 0, &polled), LUMINAL_OK);
  CHECK_EQ(polled, 2);
  CHECK(fd_readable(fd, 0)); /* stopped by the limit with work left */
  CHECK_ST(luminal_runtime_run(rt, 0, 1, &polled), LUMINAL_OK); /* a 1 ns budget: one poll, then the check */
  CHECK_EQ(polled, 1);
  CHECK_EQ(run_all(rt), 1 + 3 * 6 - 3);
  CHECK(!fd_readable(fd, 0)); /* all idle now */
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(tu_join_value(t[i]), 5);
    luminal_task_release(t[i]);
  }
  CHECK(!luminal_task_is_finished(forever));
  CHECK_EQ(run_all(rt), 0);
  CHECK_ST(luminal_runtime_run(rt, 0, 0, NULL), LUMINAL_OK); /* polled may be NULL */
  luminal_task_release(forever);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 4);
}

typedef struct opener {
  tu_gate *gate;
  luminal_runtime *rt;
  tu_counters *c;
  luminal_task *spawned;
} opener;

static void *open_later(void *p) {
  opener *o = (opener *)p;
  tu_sleep_ms(20);
  tu_gate_open(o->gate);
  return NULL;
}

static void *spawn_later(void *p) {
  opener *o = (opener *)p;
  tu_sleep_ms(20);
  o->spawned = tu_spawn(o->rt, tf_ready(o->c, 77));
  return NULL;
}

TEST(ct_cross_thread_wake_and_spawn) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  int fd = wakeup_fd(rt);
  tu_counters c;
  tu_counters_init(&c);
  tu_gate g;
  tu_gate_init(&g);
  luminal_task *t = tu_spawn(rt, tf_gate(&c, &g, 5));
  CHECK_EQ(run_all(rt), 1); /* registers its waker, pends */
  CHECK(!fd_readable(fd, 0));
  opener o = {&g, rt, &c, NULL};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, open_later, &o) == 0);
  CHECK(fd_readable(fd, 20000)); /* the wake from the other thread */
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_EQ(run_all(rt), 1);
  CHECK(luminal_task_is_finished(t));
  CHECK_EQ(tu_join_value(t), 5);
  luminal_task_release(t);
  CHECK(!fd_readable(fd, 0));

  CHECK(pthread_create(&th, NULL, spawn_later, &o) == 0);
  CHECK(fd_readable(fd, 20000)); /* a spawn from the other thread */
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_EQ(run_all(rt), 1);
  CHECK_EQ(tu_join_value(o.spawned), 77);
  luminal_task_release(o.spawned);

  /* block_on sleeps on the same fd: a wake from another thread ends its wait. */
  tu_gate g2;
  tu_gate_init(&g2);
  o.gate = &g2;
  CHECK(pthread_create(&th, NULL, open_later, &o) == 0);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_gate(&c, &g2, 6), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 6);
  CHECK(pthread_join(th, NULL) == 0);
  tu_gate_destroy(&g);
  tu_gate_destroy(&g2);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 3);
}

/* Four threads spawn and wake while this thread runs an event loop on the fd: no wake-up may be lost (a wait on
 * the fd that times out with work left fails the test). */
#define STORM_THREADS 4
#define STORM_EACH 2000

typedef struct storm {
  luminal_runtime *rt;
  tu_counters *c;
  tu_gate gates[STORM_EACH / 4];
} storm;

static void *storm_thread(void *p) {
  storm *s = (storm *)p;
  for (int i = 0; i < STORM_EACH; i++) {
    luminal_task *t = NULL;
    CHECK_ST(luminal_spawn(s->rt, tf_ready(s->c, (uint64_t)i), &t), LUMINAL_OK);
    luminal_task_release(t);
    if (i % 4 == 3) {
      tu_gate *g = &s->gates[i / 4];
      WAIT_UNTIL(atomic_load(&g->registrations) > 0); /* its task has pended on it */
      tu_gate_open(g);
    }
  }
  return NULL;
}

TEST(ct_cross_thread_storm_loses_no_wakeup) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  int fd = wakeup_fd(rt);
  tu_counters c;
  tu_counters_init(&c);
  static storm st[STORM_THREADS];
  pthread_t th[STORM_THREADS];
  for (int k = 0; k < STORM_THREADS; k++) {
    st[k].rt = rt;
    st[k].c = &c;
    for (int g = 0; g < STORM_EACH / 4; g++) {
      tu_gate_init(&st[k].gates[g]);
      luminal_task *t = NULL;
      CHECK_ST(luminal_spawn(rt, tf_gate(&c, &st[k].gates[g], 0), &t), LUMINAL_OK);
      luminal_task_release(t);
    }
  }
  run_all(rt); /* every gate task pends */
  for (int k = 0; k < STORM_THREADS; k++) CHECK(pthread_create(&th[k], NULL, storm_thread, &st[k]) == 0);
  const long total = STORM_THREADS * (STORM_EACH + STORM_EACH / 4);
  while (LOAD(c.drops) < total) {
    CHECK_MSG(fd_readable(fd, 10000), "lost wake-up: %ld of %ld tasks done and the fd stays unreadable",
              (long)LOAD(c.drops), total);
    luminal_runtime_run(rt, 100, 0, NULL); /* with a limit: work left must keep the fd readable */
  }
  for (int k = 0; k < STORM_THREADS; k++) CHECK(pthread_join(th[k], NULL) == 0);
  run_all(rt);
  CHECK(!fd_readable(fd, 0));
  for (int k = 0; k < STORM_THREADS; k++)
    for (int g = 0; g < STORM_EACH / 4; g++) tu_gate_destroy(&st[k].gates[g]);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), total);
  CHECK_EQ(LOAD(c.out_drops), total);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Misuse: two drivers, nested drivers, wrong flavors                                                             */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct busy_arg {
  luminal_runtime *rt;
  tu_counters *c;
  luminal_status run, block_on, advance;
} busy_arg;

static void *try_drive(void *p) {
  busy_arg *a = (busy_arg *)p;
  a->run = luminal_runtime_run(a->rt, 0, 0, NULL);
  a->block_on = luminal_block_on(a->rt, tf_ready(a->c, 1), NULL);
  a->advance = luminal_runtime_advance(a->rt, 1000);
  return NULL;
}

static luminal_poll spawn_driver_cb(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  busy_arg *a = (busy_arg *)f->user;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, try_drive, a) == 0); /* while this poll holds the driving role */
  CHECK(pthread_join(th, NULL) == 0);
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

TEST(ct_second_driver_gets_busy) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  tu_counters c;
  tu_counters_init(&c);
  busy_arg a = {rt, &c, LUMINAL_OK, LUMINAL_OK, LUMINAL_OK};
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_make(&c, spawn_driver_cb, &a, 0), &out), LUMINAL_OK);
  tu_box_take(out);
  CHECK_ST(a.run, LUMINAL_E_BUSY);
  CHECK_ST(a.block_on, LUMINAL_E_BUSY);
  CHECK_ST(a.advance, LUMINAL_E_BUSY);
  CHECK_EQ(LOAD(c.drops), 2); /* the refused block_on's future too */
  CHECK_EQ(LOAD(c.polls), 1);
  /* The same from luminal_runtime_run's driver. */
  luminal_task *t = tu_spawn(rt, tf_make(&c, spawn_driver_cb, &a, 0));
  CHECK_EQ(run_all(rt), 1);
  CHECK_ST(a.run, LUMINAL_E_BUSY);
  CHECK_ST(a.block_on, LUMINAL_E_BUSY);
  CHECK_EQ(tu_join_value(t), 1);
  luminal_task_release(t);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 4);
}

static luminal_status g_nested_run, g_nested_block_on, g_nested_join, g_nested_advance;

static luminal_poll nested_cb(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  luminal_runtime *rt = (luminal_runtime *)f->user;
  g_nested_run = luminal_runtime_run(rt, 0, 0, NULL);
  g_nested_block_on = luminal_block_on(rt, tf_ready(f->c, 1), NULL);
  luminal_task *other = tu_spawn(rt, tf_ready(f->c, 2));
  g_nested_join = luminal_task_join(other, MS_NS(10), NULL);
  luminal_task_release(other);
  g_nested_advance = luminal_runtime_advance(rt, MS_NS(1)); /* allowed: only fires timers */
  *out = tu_box_new(f->c, 3);
  return LUMINAL_POLL_READY;
}

TEST(ct_nested_driver_would_deadlock) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  tu_counters c;
  tu_counters_init(&c);
  uint64_t t0 = luminal_runtime_now_ns(rt);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_make(&c, nested_cb, rt, 0), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 3);
  CHECK_ST(g_nested_run, LUMINAL_E_WOULD_DEADLOCK);
  CHECK_ST(g_nested_block_on, LUMINAL_E_WOULD_DEADLOCK);
  CHECK_ST(g_nested_join, LUMINAL_E_WOULD_DEADLOCK);
  CHECK_ST(g_nested_advance, LUMINAL_OK);
  CHECK_EQ(luminal_runtime_now_ns(rt) - t0, MS_NS(1));
  run_all(rt);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 3);
  CHECK_EQ(LOAD(c.out_drops), 1); /* the spawned task's unjoined output */
}

TEST(ct_misuse) {
  luminal_runtime *mt = tu_runtime(1);
  luminal_runtime *ct = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  int fd = 5;
  uint32_t polled = 9;
  uint64_t deadline = 0;
  /* Functions of current-thread runtimes on a multi-thread one. */
  CHECK_ST(luminal_runtime_run(mt, 0, 0, &polled), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(polled, 0);
  CHECK_ST(luminal_runtime_wakeup_fd(mt, &fd), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(fd, -1);
  /* advance needs a paused clock. */
  CHECK_ST(luminal_runtime_advance(mt, 1), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_advance(ct, 1), LUMINAL_E_INVALID_ARGUMENT);
  /* next_deadline and now work on both. */
  CHECK_ST(luminal_runtime_next_deadline_ns(mt, &deadline), LUMINAL_OK);
  CHECK_EQ(deadline, UINT64_MAX);
  CHECK_ST(luminal_runtime_next_deadline_ns(ct, &deadline), LUMINAL_OK);
  CHECK_EQ(deadline, UINT64_MAX);
  uint64_t a = luminal_now_ns(), b = luminal_runtime_now_ns(ct), c2 = luminal_now_ns();
  CHECK(a <= b && b <= c2);
  CHECK(luminal_runtime_now_ns(mt) >= a);
  /* NULL, forged and released handles; NULL outputs. */
  luminal_runtime *forged = (luminal_runtime *)(uintptr_t)0xdead0001;
  CHECK_ST(luminal_runtime_run(NULL, 0, 0, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_run(forged, 0, 0, NULL), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_runtime_wakeup_fd(NULL, &fd), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_wakeup_fd(ct, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_wakeup_fd(forged, &fd), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_runtime_next_deadline_ns(NULL, &deadline), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_next_deadline_ns(ct, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_next_deadline_ns(forged, &deadline), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_runtime_advance(NULL, 1), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_advance(forged, 1), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(luminal_runtime_now_ns(NULL), 0);
  CHECK_EQ(luminal_runtime_now_ns(forged), 0);
  luminal_runtime *clone = luminal_runtime_clone(ct);
  luminal_runtime_release(clone);
  CHECK_ST(luminal_runtime_run(clone, 0, 0, NULL), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_runtime_wakeup_fd(clone, &fd), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_runtime_advance(clone, 1), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(luminal_runtime_now_ns(clone), 0);
  /* Options: a paused clock or a seed need a current-thread runtime; enums are checked. */
  luminal_runtime *rt = NULL;
  luminal_runtime_options o = tu_options(1);
  o.clock = LUMINAL_CLOCK_PAUSED;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  o = tu_options(1);
  o.seed = 42;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  o = tu_options(1);
  o.flavor = (luminal_flavor)2;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  o = tu_options(1);
  o.flavor = LUMINAL_FLAVOR_CURRENT_THREAD;
  o.clock = (luminal_clock)-1;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(rt == NULL);
  /* An older caller's struct (without the new fields) gets a multi-thread runtime. */
  o = tu_options(1);
  o.flavor = LUMINAL_FLAVOR_CURRENT_THREAD;
  o.struct_size = offsetof(luminal_runtime_options, flavor);
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_worker_count(rt), 1);
  tu_runtime_done(rt);
  CHECK(strcmp(luminal_status_str(LUMINAL_E_BUSY), "unknown status") != 0);
  /* After shutdown. */
  CHECK_ST(luminal_runtime_shutdown(ct, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_runtime_run(ct, 0, 0, NULL), LUMINAL_E_SHUTDOWN);
  CHECK_ST(luminal_runtime_wakeup_fd(ct, &fd), LUMINAL_E_SHUTDOWN);
  tu_counters c;
  tu_counters_init(&c);
  CHECK_ST(luminal_block_on(ct, tf_ready(&c, 1), NULL), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(c.drops), 1);
  luminal_runtime_release(ct);
  tu_runtime_done(mt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Timers on the monotonic clock                                                                                  */
/* ------------------------------------------------------------------------------------------------------------- */

TEST(ct_timers_monotonic) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  int fd = wakeup_fd(rt);
  luminal_future s;
  uint64_t t0 = luminal_now_ns();
  CHECK_ST(luminal_sleep(rt, MS_NS(20), &s), LUMINAL_OK);
  void *out = (void *)1;
  CHECK_ST(luminal_block_on(rt, s, &out), LUMINAL_OK); /* waits on the fd until the deadline */
  CHECK(out == NULL);
  CHECK(luminal_now_ns() - t0 >= MS_NS(20));

  /* An event loop: run, then sleep in poll(2) until the next deadline, then run again. */
  CHECK_ST(luminal_sleep(rt, MS_NS(30), &s), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, s);
  uint64_t deadline = 0;
  CHECK_ST(luminal_runtime_next_deadline_ns(rt, &deadline), LUMINAL_OK);
  CHECK_EQ(deadline, UINT64_MAX); /* not polled yet: no timer */
  CHECK_EQ(run_all(rt), 1);
  CHECK_ST(luminal_runtime_next_deadline_ns(rt, &deadline), LUMINAL_OK);
  uint64_t now = luminal_runtime_now_ns(rt);
  CHECK(deadline > now && deadline <= now + MS_NS(31));
  int loops = 0;
  while (!luminal_task_is_finished(t)) {
    CHECK(loops++ < 100000);
    CHECK_ST(luminal_runtime_next_deadline_ns(rt, &deadline), LUMINAL_OK);
    now = luminal_runtime_now_ns(rt);
    int ms = deadline == UINT64_MAX ? 1000 : deadline <= now ? 0 : (int)((deadline - now + 999999) / 1000000);
    fd_readable(fd, ms);
    run_all(rt);
  }
  CHECK(luminal_now_ns() - t0 >= MS_NS(50));
  CHECK_ST(luminal_runtime_next_deadline_ns(rt, &deadline), LUMINAL_OK);
  CHECK_EQ(deadline, UINT64_MAX);
  luminal_task_release(t);
  tu_runtime_done(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* The paused clock                                                                                               */
/* ------------------------------------------------------------------------------------------------------------- */

#define HOUR_NS (3600ull * 1000000000ull)

TEST(ct_paused_sleep_auto_advances_in_block_on) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  uint64_t t0 = luminal_runtime_now_ns(rt);
  uint64_t real0 = luminal_now_ns();
  luminal_future s;
  CHECK_ST(luminal_sleep(rt, HOUR_NS, &s), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, s, NULL), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_now_ns(rt) - t0, HOUR_NS); /* an hour is a whole number of 250 us ticks */
  CHECK(luminal_now_ns() - real0 < HOUR_NS);
  /* sleep_until on the runtime's clock. */
  CHECK_ST(luminal_sleep_until(rt, t0 + 2 * HOUR_NS + 1, &s), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, s, NULL), LUMINAL_OK);
  CHECK(luminal_runtime_now_ns(rt) >= t0 + 2 * HOUR_NS + 1);
  CHECK(luminal_runtime_now_ns(rt) <= t0 + 2 * HOUR_NS + 250000); /* the first tick at or after it */
  tu_runtime_done(rt);
}

TEST(ct_paused_run_never_advances) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  uint64_t t0 = luminal_runtime_now_ns(rt);
  luminal_future s;
  CHECK_ST(luminal_sleep(rt, MS_NS(10), &s), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, s);
  CHECK_EQ(run_all(rt), 1);
  tu_sleep_ms(15); /* real time passes; the runtime's does not */
  CHECK_EQ(run_all(rt), 0);
  CHECK(!luminal_task_is_finished(t));
  CHECK_EQ(luminal_runtime_now_ns(rt), t0);
  uint64_t deadline = 0;
  CHECK_ST(luminal_runtime_next_deadline_ns(rt, &deadline), LUMINAL_OK);
  CHECK_EQ(deadline, t0 + MS_NS(10));
  CHECK_ST(luminal_runtime_advance(rt, MS_NS(5)), LUMINAL_OK);
  CHECK(!luminal_task_is_finished(t));
  CHECK_EQ(luminal_runtime_now_ns(rt), t0 + MS_NS(5));
  CHECK_ST(luminal_runtime_advance(rt, MS_NS(5)), LUMINAL_OK); /* fires it and runs the task */
  CHECK(luminal_task_is_finished(t));
  CHECK_EQ(luminal_runtime_now_ns(rt), t0 + MS_NS(10));
  CHECK_ST(luminal_runtime_advance(rt, 0), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_now_ns(rt), t0 + MS_NS(10));
  luminal_task_release(t);
  tu_runtime_done(rt);
}

TEST(ct_paused_timeout) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  tu_counters c;
  tu_counters_init(&c);
  uint64_t t0 = luminal_runtime_now_ns(rt);
  luminal_future to;
  CHECK_ST(luminal_timeout(rt, tf_forever(&c), HOUR_NS, &to), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(luminal_runtime_now_ns(rt) - t0, HOUR_NS);
  /* An inner future that finishes first (a task sleeping a minute) wins over the hour. */
  luminal_future nap;
  CHECK_ST(luminal_sleep(rt, 60ull * 1000000000ull, &nap), LUMINAL_OK);
  luminal_task *napper = tu_spawn(rt, nap);
  CHECK_ST(luminal_timeout(rt, tf_ready(&c, 9), HOUR_NS, &to), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 9);
  CHECK_EQ(luminal_runtime_now_ns(rt) - t0, HOUR_NS); /* no timer needed: time did not move */
  luminal_task_release(napper);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 2);
}

/* A task that wakes on an interval: sleep_until(start + k * period) for k = 1..n, recording the runtime's time. */
typedef struct ticker {
  luminal_runtime *rt;
  uint64_t start, period;
  int n, k;
  uint64_t seen[16];
  luminal_future sleep;
  int sleeping;
} ticker;

static luminal_poll ticker_poll(void *state, luminal_context *cx, void **out) {
  ticker *t = (ticker *)state;
  while (t->k < t->n) {
    if (!t->sleeping) {
      CHECK_ST(luminal_sleep_until(t->rt, t->start + (uint64_t)(t->k + 1) * t->period, &t->sleep), LUMINAL_OK);
      t->sleeping = 1;
    }
    void *o = NULL;
    if (t->sleep.poll(t->sleep.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    t->sleep.drop(t->sleep.state);
    t->sleeping = 0;
    t->seen[t->k++] = luminal_runtime_now_ns(t->rt);
  }
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static void ticker_drop(void *state) {
  ticker *t = (ticker *)state;
  if (t->sleeping) t->sleep.drop(t->sleep.state);
  t->sleeping = 0;
}

TEST(ct_paused_interval) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  ticker tk;
  memset(&tk, 0, sizeof tk);
  tk.rt = rt;
  tk.start = luminal_runtime_now_ns(rt);
  tk.period = MS_NS(10);
  tk.n = 5;
  luminal_future f = {&tk, ticker_poll, ticker_drop, NULL};
  luminal_task *t = tu_spawn(rt, f);
  CHECK_EQ(run_all(rt), 1);
  CHECK_ST(luminal_runtime_advance(rt, MS_NS(35)), LUMINAL_OK); /* fires k = 1, 2, 3, each at its own time */
  CHECK_EQ(tk.k, 3);
  for (int i = 0; i < 3; i++) CHECK_EQ(tk.seen[i] - tk.start, (uint64_t)(i + 1) * MS_NS(10));
  CHECK(!luminal_task_is_finished(t));
  CHECK_ST(luminal_runtime_advance(rt, MS_NS(100)), LUMINAL_OK);
  CHECK(luminal_task_is_finished(t));
  for (int i = 0; i < 5; i++) CHECK_EQ(tk.seen[i] - tk.start, (uint64_t)(i + 1) * MS_NS(10));
  CHECK_EQ(luminal_runtime_now_ns(rt) - tk.start, MS_NS(135));
  luminal_task_release(t);
  /* The same inside block_on: auto-advance visits every deadline. */
  memset(&tk, 0, sizeof tk);
  tk.rt = rt;
  tk.start = luminal_runtime_now_ns(rt);
  tk.period = HOUR_NS;
  tk.n = 16;
  luminal_future f2 = {&tk, ticker_poll, ticker_drop, NULL};
  CHECK_ST(luminal_block_on(rt, f2, NULL), LUMINAL_OK);
  for (int i = 0; i < 16; i++) CHECK_EQ(tk.seen[i] - tk.start, (uint64_t)(i + 1) * HOUR_NS);
  tu_runtime_done(rt);
}

static void *blocking_nap(void *arg) {
  tu_sleep_ms(30);
  return arg;
}

/* Polls the join handle in f->child. */
static luminal_poll join_child_cb(tf *f, luminal_context *cx, void **out) {
  void *o = NULL;
  luminal_status st = luminal_task_poll(f->child, cx, &o);
  if (st == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
  CHECK_ST(st, LUMINAL_OK);
  *out = tu_box_new(f->c, (uint64_t)(uintptr_t)o);
  return LUMINAL_POLL_READY;
}

TEST(ct_paused_blocking_call_holds_time) {
  /* A blocking call in progress keeps block_on from jumping to the timeout's deadline. */
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  tu_counters c;
  tu_counters_init(&c);
  uint64_t t0 = luminal_runtime_now_ns(rt);
  luminal_task *b = NULL;
  CHECK_ST(luminal_spawn_blocking(rt, blocking_nap, (void *)(uintptr_t)41, &b), LUMINAL_OK);
  luminal_future j = tf_make(&c, join_child_cb, NULL, 0);
  ((tf *)j.state)->child = b;
  luminal_future to;
  CHECK_ST(luminal_timeout(rt, j, MS_NS(1), &to), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
  CHECK_MSG(out != LUMINAL_TIMED_OUT_OUTPUT, "auto-advance jumped over a running blocking call");
  CHECK_EQ(tu_box_take(out), 41);
  CHECK_EQ(luminal_runtime_now_ns(rt), t0);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Seeded order, priorities                                                                                       */
/* ------------------------------------------------------------------------------------------------------------- */

static int g_trace[1024];
static int g_trace_n;

static luminal_poll traced_cb(tf *f, luminal_context *cx, void **out) {
  if (g_trace_n < 1024) g_trace[g_trace_n++] = (int)(uintptr_t)f->user;
  return tf_cb_yield(f, cx, out);
}

/* Runs 12 tasks of 4 polls each (plus a sleeper on the paused clock) on a runtime with `seed`; *n gets the length. */
static void traced_run(uint64_t seed, int *trace, int *n) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_PAUSED, seed);
  tu_counters c;
  tu_counters_init(&c);
  g_trace_n = 0;
  for (int i = 0; i < 12; i++) {
    luminal_task *t = NULL;
    CHECK_ST(luminal_spawn(rt, tf_make(&c, traced_cb, (void *)(uintptr_t)i, 3), &t), LUMINAL_OK);
    luminal_task_release(t);
  }
  run_all(rt);
  CHECK_EQ(g_trace_n, 48);
  memcpy(trace, g_trace, sizeof(int) * (size_t)g_trace_n);
  *n = g_trace_n;
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 12);
}

TEST(ct_seed_replays) {
  static int a[1024], b[1024], d[1024], fifo[1024];
  int na, nb, nd, nf;
  traced_run(12345, a, &na);
  traced_run(12345, b, &nb);
  traced_run(777, d, &nd);
  traced_run(0, fifo, &nf);
  CHECK_EQ(na, nb);
  CHECK_MSG(memcmp(a, b, sizeof(int) * (size_t)na) == 0, "two runs with one seed ran tasks in different orders");
  CHECK_MSG(memcmp(a, d, sizeof(int) * (size_t)na) != 0, "seeds 12345 and 777 gave the same order");
  /* Without a seed: FIFO, so round after round in spawn order. */
  for (int i = 0; i < nf; i++) CHECK_EQ(fifo[i], i % 12);
  CHECK_MSG(memcmp(a, fifo, sizeof(int) * (size_t)na) != 0, "the seeded order is the FIFO order");
  /* Every task still ran all of its polls. */
  int per[12] = {0};
  for (int i = 0; i < na; i++) per[a[i]]++;
  for (int i = 0; i < 12; i++) CHECK_EQ(per[i], 4);
}

TEST(ct_priorities_order_ready_tasks) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 99); /* also with a seed: levels still come first */
  tu_counters c;
  tu_counters_init(&c);
  g_trace_n = 0;
  luminal_priority prio[4] = {LUMINAL_PRIORITY_BACKGROUND, LUMINAL_PRIORITY_UTILITY, LUMINAL_PRIORITY_USER_INITIATED,
                              LUMINAL_PRIORITY_USER_INTERACTIVE};
  for (int i = 0; i < 4; i++) {
    luminal_spawn_options so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.priority = prio[i];
    luminal_task *t = NULL;
    CHECK_ST(luminal_spawn_with(rt, tf_make(&c, traced_cb, (void *)(uintptr_t)i, 0), &so, &t), LUMINAL_OK);
    luminal_task_release(t);
  }
  run_all(rt);
  CHECK_EQ(g_trace_n, 4);
  for (int i = 0; i < 4; i++) CHECK_EQ(g_trace[i], 3 - i);
  tu_runtime_done(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Blocking pool, shutdown                                                                                        */
/* ------------------------------------------------------------------------------------------------------------- */

TEST(ct_blocking_pool_starts_on_first_use) {
  luminal_runtime *warm = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  tu_runtime_done(warm);
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  int before = count_threads();
  tu_counters c;
  tu_counters_init(&c);
  luminal_task *b = NULL;
  CHECK_ST(luminal_spawn_blocking(rt, blocking_nap, (void *)(uintptr_t)5, &b), LUMINAL_OK);
  CHECK(count_threads() > before); /* a pool thread now */
  luminal_future j = tf_make(&c, join_child_cb, NULL, 0);
  ((tf *)j.state)->child = b;
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, j, &out), LUMINAL_OK); /* woken through the fd by the pool thread */
  CHECK_EQ(tu_box_take(out), 5);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

TEST(ct_shutdown_drops_everything_once) {
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task *idle = tu_spawn(rt, tf_forever(&c));
  luminal_future s;
  CHECK_ST(luminal_sleep(rt, HOUR_NS, &s), LUMINAL_OK);
  luminal_task *sleeper = tu_spawn(rt, s);
  CHECK_EQ(run_all(rt), 2); /* both pend: one on nothing, one on its timer */
  luminal_task *queued = tu_spawn(rt, tf_yield(&c, 3)); /* never runs */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK); /* nobody drives it: done here */
  CHECK_EQ(LOAD(c.drops), 2);
  CHECK_ST(luminal_task_join(idle, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_ST(luminal_task_join(queued, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_ST(luminal_task_join(sleeper, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(idle);
  luminal_task_release(queued);
  luminal_task_release(sleeper);
  luminal_runtime_release(rt);
}

typedef struct shut_arg {
  luminal_runtime *rt;
  luminal_status st;
} shut_arg;

static void *shutdown_later(void *p) {
  shut_arg *a = (shut_arg *)p;
  tu_sleep_ms(20);
  a->st = luminal_runtime_shutdown(a->rt, UINT64_MAX);
  return NULL;
}

static luminal_status g_after_shutdown_block_on, g_after_shutdown_run;

static luminal_poll shutdown_in_poll_cb(tf *f, luminal_context *cx, void **out) {
  (void)cx, (void)out;
  f->value = (uint64_t)luminal_runtime_shutdown((luminal_runtime *)f->user, UINT64_MAX);
  /* still inside its poll, now shutting down: a nested drive is WOULD_DEADLOCK, as before the shutdown */
  g_after_shutdown_block_on = luminal_block_on((luminal_runtime *)f->user, tf_ready(f->c, 1), NULL);
  g_after_shutdown_run = luminal_runtime_run((luminal_runtime *)f->user, 0, 0, NULL);
  *(luminal_status *)f->child = (luminal_status)(int64_t)f->value; /* child reused as a result slot */
  f->child = NULL;
  return LUMINAL_POLL_PENDING;
}

TEST(ct_shutdown_while_driven) {
  /* Another thread shuts down while this one waits in block_on: block_on finishes the shutdown. */
  luminal_runtime *rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  tu_counters c;
  tu_counters_init(&c);
  luminal_task *other = tu_spawn(rt, tf_forever(&c));
  shut_arg a = {rt, LUMINAL_E_INTERNAL};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, shutdown_later, &a) == 0);
  CHECK_ST(luminal_block_on(rt, tf_forever(&c), NULL), LUMINAL_E_SHUTDOWN);
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_ST(a.st, LUMINAL_OK);
  CHECK_EQ(LOAD(c.drops), 2);
  luminal_task_release(other);
  luminal_runtime_release(rt);

  /* Shutdown from inside one of its polls: WOULD_DEADLOCK, and the drive completes it. */
  rt = ct_runtime(LUMINAL_CLOCK_MONOTONIC, 0);
  tu_counters_init(&c);
  luminal_status inner = LUMINAL_E_INTERNAL;
  luminal_future f = tf_make(&c, shutdown_in_poll_cb, rt, 0);
  ((tf *)f.state)->child = (luminal_task *)(void *)&inner;
  other = tu_spawn(rt, tf_forever(&c));
  CHECK_ST(luminal_block_on(rt, f, NULL), LUMINAL_E_SHUTDOWN);
  CHECK_ST(inner, LUMINAL_E_WOULD_DEADLOCK);
  CHECK_ST(g_after_shutdown_block_on, LUMINAL_E_WOULD_DEADLOCK); /* was SHUTDOWN (the fuzzer's finding) */
  CHECK_ST(g_after_shutdown_run, LUMINAL_E_WOULD_DEADLOCK);
  CHECK_EQ(LOAD(c.drops), 3); /* the nested block_on's future too */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  luminal_task_release(other);
  luminal_runtime_release(rt);

  /* The last release of a current-thread runtime that nobody drives drops what it holds. */
  rt = ct_runtime(LUMINAL_CLOCK_PAUSED, 0);
  tu_counters_init(&c);
  luminal_task *t = tu_spawn(rt, tf_forever(&c));
  luminal_task_release(t);
  luminal_runtime_release(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* IO on both backends                                                                                            */
/* ------------------------------------------------------------------------------------------------------------- */

/* A current-thread runtime on the backend CTest chose, with `clock`. */
static luminal_runtime *ct_io_runtime_clock(luminal_clock clock) {
  const char *e = getenv("LUMTEST_IO_BACKEND");
  CHECK_MSG(e != NULL, "LUMTEST_IO_BACKEND is not set (CTest sets it to uring or pool for every IO_TEST)");
  luminal_runtime_options o = tu_options(0);
  o.flavor = LUMINAL_FLAVOR_CURRENT_THREAD;
  o.clock = clock;
  o.io_backend = strcmp(e, "uring") == 0 ? LUMINAL_IO_URING : LUMINAL_IO_POOL;
  luminal_runtime *rt = tu_runtime_with(&o);
  CHECK_EQ(luminal_runtime_io_backend(rt), o.io_backend);
  return rt;
}

static luminal_runtime *ct_io_runtime(void) { return ct_io_runtime_clock(LUMINAL_CLOCK_MONOTONIC); }

/* A future reading one stream chunk; its output is the byte count (as a pointer-sized integer). Its drop drops the
 * IO future in flight (which cancels the read and waits for it) and counts in g_reader_drops. */
typedef struct reader {
  int fd;
  char buf[64];
  luminal_future f;
  luminal_io_result r;
  int started;
} reader;
static atomic_long g_reader_drops;

static luminal_poll reader_poll(void *state, luminal_context *cx, void **out) {
  reader *rd = (reader *)state;
  if (!rd->started) {
    CHECK_ST(luminal_stream_read(luminal_context_runtime(cx), rd->fd, rd->buf, sizeof rd->buf, &rd->r, &rd->f),
             LUMINAL_OK);
    rd->started = 1;
  }
  void *o = NULL;
  if (rd->f.poll(rd->f.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  rd->f.drop(rd->f.state);
  rd->started = 0;
  CHECK_ST((luminal_status)rd->r.status, LUMINAL_OK);
  *out = (void *)(uintptr_t)rd->r.value;
  return LUMINAL_POLL_READY;
}

static void reader_drop(void *state) {
  reader *rd = (reader *)state;
  if (rd->started) rd->f.drop(rd->f.state);
  atomic_fetch_add(&g_reader_drops, 1);
  free(rd);
}

static luminal_future reader_new(int fd) {
  reader *rd = (reader *)calloc(1, sizeof *rd);
  CHECK(rd != NULL);
  rd->fd = fd;
  luminal_future f = {rd, reader_poll, reader_drop, NULL};
  return f;
}

static void *write_later(void *p) {
  int fd = *(int *)p;
  tu_sleep_ms(20);
  CHECK(write(fd, "hello", 5) == 5);
  return NULL;
}

IO_TEST(ct_io_stream_wakes_fd) {
  luminal_runtime *rt = ct_io_runtime();
  int wfd = wakeup_fd(rt);
  atomic_store(&g_reader_drops, 0);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  luminal_task *t = tu_spawn(rt, reader_new(sv[0]));
  CHECK_EQ(run_all(rt), 1); /* submits the read, pends */
  CHECK(!luminal_task_is_finished(t));
  pthread_t th;
  CHECK(pthread_create(&th, NULL, write_later, &sv[1]) == 0);
  int loops = 0;
  while (!luminal_task_is_finished(t)) { /* an event loop: the fd tells when the read completed */
    CHECK(loops++ < 1000);
    CHECK(fd_readable(wfd, 20000));
    run_all(rt);
  }
  CHECK(pthread_join(th, NULL) == 0);
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, 0, &out), LUMINAL_OK);
  CHECK_EQ((uintptr_t)out, 5);
  luminal_task_release(t);

  /* block_on with IO and a timer: a read that completes, then one that times out. */
  CHECK(pthread_create(&th, NULL, write_later, &sv[1]) == 0);
  luminal_future to;
  CHECK_ST(luminal_timeout(rt, reader_new(sv[0]), 20ull * 1000000000ull, &to), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
  CHECK_EQ((uintptr_t)out, 5);
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_ST(luminal_timeout(rt, reader_new(sv[0]), MS_NS(10), &to), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT); /* the read in flight was cancelled by the drop */
  CHECK_EQ(atomic_load(&g_reader_drops), 3);
  const char *e = getenv("LUMTEST_IO_BACKEND"); /* the ring accepted the wakeup fd: no fallback to the pool */
  CHECK_EQ(luminal_runtime_io_backend(rt), strcmp(e, "uring") == 0 ? LUMINAL_IO_URING : LUMINAL_IO_POOL);
  close(sv[0]);
  close(sv[1]);
  tu_runtime_done(rt);
}

/* A read that waits for a peer (who may never write: that is what timeouts are for) does not hold a paused clock
 * still; auto-advance jumps over it. */
IO_TEST(ct_io_peer_wait_does_not_hold_paused_clock) {
  luminal_runtime *rt = ct_io_runtime_clock(LUMINAL_CLOCK_PAUSED);
  atomic_store(&g_reader_drops, 0);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  luminal_task *idle_reader = tu_spawn(rt, reader_new(sv[0])); /* nobody ever writes */
  uint64_t t0 = luminal_runtime_now_ns(rt);
  luminal_future to;
  CHECK_ST(luminal_timeout(rt, reader_new(sv[0]), HOUR_NS, &to), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK);
  CHECK(out == LUMINAL_TIMED_OUT_OUTPUT);
  CHECK_EQ(luminal_runtime_now_ns(rt) - t0, HOUR_NS);
  CHECK(!luminal_task_is_finished(idle_reader));
  luminal_task_release(idle_reader);
  tu_runtime_done(rt); /* cancels the idle read */
  CHECK_EQ(atomic_load(&g_reader_drops), 2);
  close(sv[0]);
  close(sv[1]);
}

/* The other peer waits do not hold it either: a readiness wait, a datagram receive and a child's exit, all pending
 * (nobody writes, nobody sends, the child sleeps an hour); auto-advance jumps over them to the timeout. */
typedef struct {
  luminal_future f;
  luminal_io_result r;
  char buf[16];
  luminal_socket_addr from;
} peer_wait;

static luminal_poll peer_wait_poll(void *state, luminal_context *cx, void **out) {
  peer_wait *w = (peer_wait *)state;
  return w->f.poll(w->f.state, cx, out);
}

static void peer_wait_drop(void *state) {
  peer_wait *w = (peer_wait *)state;
  w->f.drop(w->f.state);
  atomic_fetch_add(&g_reader_drops, 1);
  free(w);
}

static luminal_future peer_wait_future(peer_wait *w) {
  luminal_future f = {w, peer_wait_poll, peer_wait_drop, NULL};
  return f;
}

IO_TEST(ct_io_other_peer_waits_do_not_hold_paused_clock) {
  luminal_runtime *rt = ct_io_runtime_clock(LUMINAL_CLOCK_PAUSED);
  atomic_store(&g_reader_drops, 0);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  luminal_socket_addr any;
  memset(&any, 0, sizeof any);
  CHECK_ST(luminal_socket_addr_parse("127.0.0.1", 0, &any), LUMINAL_OK);
  int32_t ufd = -1;
  luminal_io_result ur;
  CHECK_ST(luminal_udp_bind(&any, 0, &ufd, NULL, &ur), LUMINAL_OK);
  char *argv[] = {"sleep", "3600", NULL};
  luminal_process_options po;
  memset(&po, 0, sizeof po);
  po.struct_size = sizeof po;
  po.path = "sleep";
  po.argv = argv;
  luminal_process child;
  luminal_io_result pr;
  CHECK_ST(luminal_process_spawn(&po, &child, &pr), LUMINAL_OK);
  CHECK_ST((luminal_status)pr.status, LUMINAL_OK);

  peer_wait *w[3];
  for (int i = 0; i < 3; i++) CHECK((w[i] = (peer_wait *)calloc(1, sizeof *w[i])) != NULL);
  CHECK_ST(luminal_fd_ready(rt, sv[0], LUMINAL_READY_READABLE, &w[0]->r, &w[0]->f), LUMINAL_OK);
  CHECK_ST(luminal_udp_recv_from(rt, ufd, w[1]->buf, sizeof w[1]->buf, &w[1]->from, &w[1]->r, &w[1]->f), LUMINAL_OK);
  CHECK_ST(luminal_process_wait(rt, &child, &w[2]->r, &w[2]->f), LUMINAL_OK);
  luminal_task *waiting[3];
  for (int i = 0; i < 3; i++) waiting[i] = tu_spawn(rt, peer_wait_future(w[i]));
  uint64_t t0 = luminal_runtime_now_ns(rt);
  luminal_future to;
  CHECK_ST(luminal_sleep(rt, HOUR_NS, &to), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, to, &out), LUMINAL_OK); /* hung before: each of the three held the clock */
  CHECK_EQ(luminal_runtime_now_ns(rt) - t0, HOUR_NS);
  for (int i = 0; i < 3; i++) {
    CHECK(!luminal_task_is_finished(waiting[i]));
    luminal_task_release(waiting[i]);
  }
  tu_runtime_done(rt); /* cancels the three waits */
  CHECK_EQ(atomic_load(&g_reader_drops), 3);
  int killed = 0;
  CHECK(kill(child.pid, SIGKILL) == 0);
  CHECK(waitpid(child.pid, &killed, 0) == child.pid);
  luminal_process_release(&child);
  close(ufd);
  close(sv[0]);
  close(sv[1]);
}

IO_TEST(ct_io_tcp_and_files) {
  luminal_runtime *rt = ct_io_runtime();
  int32_t lfd = -1;
  uint16_t port = 0;
  CHECK_ST(luminal_tcp_listen("127.0.0.1", 0, 4, &lfd, &port, NULL), LUMINAL_OK);
  luminal_io_result ra, rc;
  luminal_future acc, con;
  CHECK_ST(luminal_tcp_accept(rt, lfd, &ra, &acc), LUMINAL_OK);
  luminal_task *at = tu_spawn(rt, acc);
  CHECK_ST(luminal_tcp_connect(rt, "127.0.0.1", port, &rc, &con), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, con, &out), LUMINAL_OK); /* runs the accept too */
  CHECK(out == &rc && rc.status == LUMINAL_OK);
  int wfd = wakeup_fd(rt);
  for (int loops = 0; !luminal_task_is_finished(at); loops++) {
    CHECK(loops < 1000);
    run_all(rt);
    if (!luminal_task_is_finished(at)) CHECK(fd_readable(wfd, 20000));
  }
  CHECK_ST(luminal_task_join(at, 0, &out), LUMINAL_OK);
  CHECK(out == &ra && ra.status == LUMINAL_OK);
  luminal_task_release(at);
  /* A file written and read back through a current-thread runtime. */
  char path[] = "/tmp/lumct_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  unlink(path);
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_file_write_at(rt, fd, "abcdef", 6, 0, &r, &f), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
  CHECK(r.status == LUMINAL_OK && r.value == 6);
  char back[8] = {0};
  CHECK_ST(luminal_file_read_at(rt, fd, back, 6, 0, &r, &f), LUMINAL_OK);
  CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
  CHECK(r.status == LUMINAL_OK && r.value == 6 && memcmp(back, "abcdef", 6) == 0);
  close(fd);
  close((int)ra.value);
  close((int)rc.value);
  close(lfd);
  tu_runtime_done(rt);
}
