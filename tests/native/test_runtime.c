/* Versions, status strings, runtime creation/options, clone/release refcount, shutdown and bad handles. */
#include "test_util.h"

#include <stddef.h>

TEST(abi_and_version) {
  CHECK_EQ(luminal_abi_version(), LUMINAL_ABI_VERSION);
  const char *v = luminal_version();
  CHECK(v != NULL);
  CHECK(strlen(v) >= 5);
  unsigned a, b, c;
  CHECK_MSG(sscanf(v, "%u.%u.%u", &a, &b, &c) == 3, "version \"%s\" is not MAJOR.MINOR.PATCH", v);
  CHECK(luminal_version() == v || strcmp(luminal_version(), v) == 0); /* static string */
  /* The library was built from this header's version (the header is the one place it is written). */
  CHECK_MSG(strcmp(v, LUMINAL_VERSION_STRING) == 0, "library %s, header %s", v, LUMINAL_VERSION_STRING);
  CHECK_EQ(a, LUMINAL_VERSION_MAJOR);
  CHECK_EQ(b, LUMINAL_VERSION_MINOR);
  CHECK_EQ(c, LUMINAL_VERSION_PATCH);
  CHECK_EQ(LUMINAL_VERSION_HEX, (a << 16) | (b << 8) | c);
}

TEST(status_str) {
  static const luminal_status known[] = {
      LUMINAL_OK,          LUMINAL_PENDING,          LUMINAL_E_INVALID_ARGUMENT, LUMINAL_E_INVALID_HANDLE,
      LUMINAL_E_SHUTDOWN,  LUMINAL_E_CANCELLED,      LUMINAL_E_TIMED_OUT,        LUMINAL_E_WOULD_DEADLOCK,
      LUMINAL_E_NO_MEMORY, LUMINAL_E_UNSUPPORTED,    LUMINAL_E_INTERNAL,         LUMINAL_E_ALREADY_TAKEN};
  const size_t n = sizeof known / sizeof known[0];
  for (size_t i = 0; i < n; i++) {
    const char *s = luminal_status_str(known[i]);
    CHECK_MSG(s != NULL && s[0] != '\0', "status %d has no description", (int)known[i]);
    for (size_t j = 0; j < i; j++)
      CHECK_MSG(strcmp(s, luminal_status_str(known[j])) != 0, "statuses %d and %d share the description \"%s\"",
                (int)known[i], (int)known[j], s);
  }
  CHECK(strcmp(luminal_status_str(LUMINAL_OK), "ok") == 0);
  CHECK(strncmp(luminal_status_str(LUMINAL_E_INVALID_HANDLE), "invalid handle", 14) == 0);
  static const int unknown[] = {2, 3, 100, -11, -12, -1000, 0x7fffffff, -0x7fffffff - 1};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *s = luminal_status_str((luminal_status)unknown[i]);
    CHECK_MSG(s != NULL, "luminal_status_str(%d) returned NULL", unknown[i]);
    (void)strlen(s); /* readable */
  }
}

static uint32_t default_workers(void) {
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(NULL, &rt), LUMINAL_OK);
  uint32_t n = luminal_runtime_worker_count(rt);
  tu_runtime_done(rt);
  return n;
}

TEST(runtime_new_defaults) {
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(NULL, &rt), LUMINAL_OK);
  CHECK(rt != NULL);
  uint32_t n = luminal_runtime_worker_count(rt);
  long cpus = sysconf(_SC_NPROCESSORS_CONF);
  CHECK_MSG(n >= 1 && (cpus <= 0 || n <= (uint32_t)cpus), "default worker count %u with %ld CPUs", n, cpus);
  tu_counters c = TU_COUNTERS_INIT;
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&c, 7))), 7);
  tu_runtime_done(rt);

  /* worker_threads = 0 in a full struct also means the default */
  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = 0, .thread_name = NULL};
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_worker_count(rt), n);
  tu_runtime_done(rt);
}

TEST(runtime_new_invalid) {
  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = 2, .thread_name = NULL};
  CHECK_ST(luminal_runtime_new(&o, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_new(NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);

  luminal_runtime *rt = (luminal_runtime *)0x1;
  o.struct_size = 0;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  o.struct_size = sizeof(size_t) - 1;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  o.struct_size = sizeof o;
  o.worker_threads = 1025;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
  o.worker_threads = UINT32_MAX;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_INVALID_ARGUMENT);
}

/* An older caller whose struct ends before some fields: those take their defaults and are never read. */
TEST(runtime_options_older_struct_size) {
  uint32_t def = default_workers();
  struct {
    luminal_runtime_options o;
  } s;
  memset(&s, 0, sizeof s);

  /* Only struct_size: worker_threads past the end (garbage) must be ignored -> defaults. */
  s.o.struct_size = sizeof(size_t);
  s.o.worker_threads = 5000;                  /* would be invalid if read */
  s.o.thread_name = (const char *)(uintptr_t)0x10; /* would crash if read */
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&s.o, &rt), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_worker_count(rt), def);
  tu_counters c = TU_COUNTERS_INIT;
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&c, 1))), 1);
  tu_runtime_done(rt);

  /* struct_size up to worker_threads: worker_threads read, thread_name (garbage) ignored. */
  s.o.struct_size = offsetof(luminal_runtime_options, worker_threads) + sizeof(uint32_t);
  s.o.worker_threads = 3;
  CHECK_ST(luminal_runtime_new(&s.o, &rt), LUMINAL_OK);
  CHECK_EQ(luminal_runtime_worker_count(rt), 3);
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&c, 2))), 2);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 2);
}

TEST(runtime_worker_counts) {
  const uint32_t counts[] = {1, 2, 3, 8};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    luminal_runtime *rt = tu_runtime(counts[i]);
    CHECK_EQ(luminal_runtime_worker_count(rt), counts[i]);
    tu_runtime_done(rt);
  }
  CHECK_EQ(luminal_runtime_worker_count(NULL), 0);
  CHECK_EQ(luminal_runtime_worker_count((luminal_runtime *)(uintptr_t)0x1234), 0);
}

/* Worker threads carry the thread_name prefix (Linux truncates thread names to 15 bytes). */
static luminal_poll cb_thread_name(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  char name[64] = {0};
#if defined(__linux__)
  pthread_getname_np(pthread_self(), name, sizeof name);
#endif
  tu_box *b = (tu_box *)tu_box_new(f->c, 0);
  memcpy(&b->value, name, sizeof b->value); /* first 8 bytes */
  *out = b;
  return LUMINAL_POLL_READY;
}

TEST(runtime_thread_name) {
#if defined(__linux__)
  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = 2, .thread_name = "lmtst"};
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT;
  uint64_t v = tu_join_value(tu_spawn(rt, tf_make(&c, cb_thread_name, NULL, 0)));
  char name[9] = {0};
  memcpy(name, &v, 8);
  CHECK_MSG(strncmp(name, "lmtst", 5) == 0, "worker thread is named \"%s\", expected prefix \"lmtst\"", name);
  tu_runtime_done(rt);

  CHECK_ST(luminal_runtime_new(NULL, &rt), LUMINAL_OK);
  v = tu_join_value(tu_spawn(rt, tf_make(&c, cb_thread_name, NULL, 0)));
  memcpy(name, &v, 8);
  CHECK_MSG(strncmp(name, "luminal-", 8) == 0, "worker thread is named \"%s\", expected prefix \"luminal-w\"",
            name);
  tu_runtime_done(rt);
#endif
}

TEST(runtime_clone_release_refcount) {
  luminal_runtime *rt1 = tu_runtime(2);
  luminal_runtime *rt2 = luminal_runtime_clone(rt1);
  CHECK(rt2 != NULL);
  CHECK(rt2 != rt1); /* each handle is owned (and released) separately */
  luminal_runtime *rt3 = luminal_runtime_clone(rt2);
  CHECK(rt3 != NULL && rt3 != rt1 && rt3 != rt2);
  CHECK_EQ(luminal_runtime_worker_count(rt3), 2);

  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *pending = tu_spawn(rt1, tf_forever(&c));

  luminal_runtime_release(rt1);
  luminal_runtime_release(rt1); /* double release: ignored */
  /* rt1 is stale now; the runtime lives on through rt2/rt3 */
  tu_counters c2 = TU_COUNTERS_INIT;
  CHECK_ST(luminal_spawn(rt1, tf_ready(&c2, 1), NULL), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(LOAD(c2.drops), 1);
  CHECK(luminal_runtime_clone(rt1) == NULL);
  CHECK_EQ(luminal_runtime_worker_count(rt1), 0);
  CHECK_EQ(luminal_task_is_finished(pending), 0);
  CHECK_EQ(tu_join_value(tu_spawn(rt2, tf_ready(&c2, 5))), 5);

  luminal_runtime_release(rt3);
  CHECK_EQ(tu_join_value(tu_spawn(rt2, tf_ready(&c2, 6))), 6);
  CHECK_EQ(LOAD(c.drops), 0);
  CHECK_EQ(luminal_task_is_finished(pending), 0);

  /* last handle: shuts down as by shutdown with no timeout, so the in-flight future is dropped by the time it
   * returns */
  luminal_runtime_release(rt2);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(luminal_task_is_finished(pending), 1);
  CHECK_ST(luminal_task_join(pending, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(pending);
  luminal_runtime_release(rt2);
  CHECK(luminal_runtime_clone(rt2) == NULL);
  CHECK(luminal_runtime_clone(NULL) == NULL);
  CHECK(luminal_runtime_clone((luminal_runtime *)(uintptr_t)0x1234) == NULL);
  CHECK_EQ(LOAD(c2.drops), 3);
}

/* The last release happening inside a poll on one of the runtime's own workers. */
static luminal_poll cb_release_runtime(tf *f, luminal_context *cx, void **out) {
  (void)cx;
  luminal_runtime_release((luminal_runtime *)f->user); /* the last handle */
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

TEST(runtime_last_release_on_worker) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_runtime *inner = luminal_runtime_clone(rt);
  CHECK(inner != NULL);
  tu_counters cp = TU_COUNTERS_INIT, cr = TU_COUNTERS_INIT;
  luminal_task *pending = tu_spawn(rt, tf_forever(&cp));
  tu_gate g;
  tu_gate_init(&g);
  luminal_task *releaser = tu_spawn(rt, tf_gate(&cr, &g, 0));
  luminal_task_release(releaser); /* detached */
  luminal_runtime_release(rt);    /* not the last */
  CHECK_EQ(luminal_task_is_finished(pending), 0);

  /* now the task releases the last handle on a worker; the workers finish the shutdown themselves */
  luminal_task *last = NULL;
  {
    luminal_runtime *tmp = luminal_runtime_clone(inner);
    CHECK(tmp != NULL);
    CHECK_ST(luminal_spawn(tmp, tf_make(&cr, cb_release_runtime, inner, 0), &last), LUMINAL_OK);
    luminal_runtime_release(tmp);
  }
  WAIT_UNTIL(LOAD(cp.drops) == 1);
  WAIT_UNTIL(LOAD(cr.drops) == 2);
  CHECK_ST(luminal_task_join(pending, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  /* the releasing task itself completed (or was dropped right after) */
  luminal_status st = luminal_task_join(last, UINT64_MAX, NULL);
  CHECK_MSG(st == LUMINAL_OK || st == LUMINAL_E_CANCELLED, "join returned %s", luminal_status_str(st));
  /* a box was produced exactly once; it was discarded either by join(NULL) or by drop_output */
  CHECK_EQ(LOAD(cr.out_drops), 1);
  luminal_task_release(pending);
  luminal_task_release(last);
  tu_gate_open(&g); /* waking a dropped task does nothing */
  tu_gate_destroy(&g);
  CHECK(luminal_runtime_clone(inner) == NULL);
}

static void *fn_count(void *arg) {
  atomic_fetch_add((atomic_long *)arg, 1);
  return (void *)(uintptr_t)0xabc;
}

TEST(calls_after_shutdown) {
  luminal_runtime *rt = tu_runtime(2);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK); /* again is fine */
  CHECK_ST(luminal_runtime_shutdown(rt, 0), LUMINAL_OK);

  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *t = (luminal_task *)(uintptr_t)0x1;
  CHECK_ST(luminal_spawn(rt, tf_ready(&c, 1), &t), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(c.drops), 1);
  CHECK_EQ(LOAD(c.polls), 0);
  CHECK_ST(luminal_spawn(rt, tf_ready(&c, 1), NULL), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(c.drops), 2);

  void *out = (void *)(uintptr_t)0x1;
  CHECK_ST(luminal_block_on(rt, tf_ready(&c, 1), &out), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(c.drops), 3);
  CHECK_ST(luminal_block_on(rt, tf_ready(&c, 1), NULL), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(c.drops), 4);
  CHECK_EQ(LOAD(c.polls), 0);
  CHECK_EQ(LOAD(c.out_drops), 0);

  atomic_long calls = 0;
  CHECK_ST(luminal_spawn_fn(rt, fn_count, &calls, NULL), LUMINAL_E_SHUTDOWN);
  luminal_task *ft = NULL;
  CHECK_ST(luminal_spawn_fn(rt, fn_count, &calls, &ft), LUMINAL_E_SHUTDOWN);

  /* cloning a shut-down runtime works; spawning onto the clone fails */
  luminal_runtime *rt2 = luminal_runtime_clone(rt);
  CHECK(rt2 != NULL);
  CHECK_ST(luminal_spawn(rt2, tf_ready(&c, 1), NULL), LUMINAL_E_SHUTDOWN);
  CHECK_EQ(LOAD(c.drops), 5);
  CHECK_ST(luminal_runtime_shutdown(rt2, UINT64_MAX), LUMINAL_OK);
  luminal_runtime_release(rt2);
  luminal_runtime_release(rt);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_E_INVALID_HANDLE);
  tu_sleep_ms(20);
  CHECK_EQ(LOAD(calls), 0);
}

TEST(shutdown_invalid) {
  CHECK_ST(luminal_runtime_shutdown(NULL, UINT64_MAX), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_runtime_shutdown((luminal_runtime *)(uintptr_t)0x1234, UINT64_MAX), LUMINAL_E_INVALID_HANDLE);
  int local = 0;
  CHECK_ST(luminal_runtime_shutdown((luminal_runtime *)&local, 0), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(local, 0);
}

/* Every function given NULL, foreign (0x1234, stack address), stale and wrong-type handles. */
TEST(bad_handles) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  long drops = 0;
  uint64_t stackvar[4] = {0, 0, 0, 0};

  luminal_task *done = tu_spawn(rt, tf_ready(&c, 9));
  CHECK_EQ(tu_join_value(done), 9);
  drops++;
  WAIT_UNTIL(LOAD(c.drops) == drops);
  luminal_task *stale_task = tu_spawn(rt, tf_ready(&c, 1));
  CHECK_EQ(tu_join_value(stale_task), 1);
  drops++;
  luminal_task_release(stale_task);
  WAIT_UNTIL(LOAD(c.drops) == drops);
  luminal_runtime *stale_rt = luminal_runtime_clone(rt);
  luminal_runtime_release(stale_rt);

  luminal_runtime *bad_rts[] = {(luminal_runtime *)(uintptr_t)0x1234, (luminal_runtime *)(void *)stackvar, stale_rt,
                                (luminal_runtime *)done, (luminal_runtime *)(uintptr_t)UINT64_MAX};
  for (size_t i = 0; i < sizeof bad_rts / sizeof bad_rts[0]; i++) {
    luminal_runtime *b = bad_rts[i];
    luminal_task *t = NULL;
    CHECK_ST(luminal_spawn(b, tf_ready(&c, 1), &t), LUMINAL_E_INVALID_HANDLE);
    CHECK_EQ(LOAD(c.drops), ++drops);
    CHECK(t == NULL);
    CHECK_ST(luminal_spawn(b, tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_HANDLE);
    CHECK_EQ(LOAD(c.drops), ++drops);
    CHECK_ST(luminal_spawn_fn(b, fn_count, NULL, &t), LUMINAL_E_INVALID_HANDLE);
    CHECK_ST(luminal_block_on(b, tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_HANDLE);
    CHECK_EQ(LOAD(c.drops), ++drops);
    CHECK_ST(luminal_runtime_shutdown(b, 0), LUMINAL_E_INVALID_HANDLE);
    CHECK(luminal_runtime_clone(b) == NULL);
    CHECK_EQ(luminal_runtime_worker_count(b), 0);
    luminal_runtime_release(b); /* ignored */
  }
  /* NULL runtime */
  CHECK_ST(luminal_spawn(NULL, tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), ++drops);
  CHECK_ST(luminal_block_on(NULL, tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), ++drops);
  CHECK_ST(luminal_spawn_fn(NULL, fn_count, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  luminal_runtime_release(NULL);

  luminal_task *bad_tasks[] = {(luminal_task *)(uintptr_t)0x1234, (luminal_task *)(void *)stackvar, stale_task,
                               (luminal_task *)rt, (luminal_task *)(uintptr_t)UINT64_MAX};
  for (size_t i = 0; i < sizeof bad_tasks / sizeof bad_tasks[0]; i++) {
    luminal_task *b = bad_tasks[i];
    void *out = NULL;
    CHECK_ST(luminal_task_join(b, 0, &out), LUMINAL_E_INVALID_HANDLE);
    CHECK_ST(luminal_task_join(b, UINT64_MAX, &out), LUMINAL_E_INVALID_HANDLE);
    CHECK(out == NULL);
    CHECK_EQ(luminal_task_is_finished(b), 0);
    luminal_task_abort(b);   /* ignored */
    luminal_task_release(b); /* ignored */
  }
  CHECK_ST(luminal_task_join(NULL, 0, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_task_join(NULL, UINT64_MAX, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(luminal_task_is_finished(NULL), 0);
  luminal_task_abort(NULL);
  luminal_task_release(NULL);

  /* wakers: NULL and foreign are ignored by the void functions */
  CHECK(luminal_waker_clone(NULL) == NULL);
  luminal_waker_wake(NULL);
  luminal_waker_wake_by_ref(NULL);
  luminal_waker_release(NULL);
  luminal_waker *bad_wakers[] = {(luminal_waker *)(uintptr_t)0x1234, (luminal_waker *)(void *)stackvar,
                                 (luminal_waker *)done, (luminal_waker *)rt};
  for (size_t i = 0; i < sizeof bad_wakers / sizeof bad_wakers[0]; i++) {
    luminal_waker_wake_by_ref(bad_wakers[i]);
    luminal_waker_wake(bad_wakers[i]);
    luminal_waker_release(bad_wakers[i]);
  }
  CHECK_EQ(luminal_waker_will_wake(NULL, NULL), 0);
  CHECK(luminal_context_runtime(NULL) == NULL);
  CHECK(luminal_context_waker(NULL) == NULL);
  CHECK_ST(luminal_context_spawn(NULL, tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), ++drops);

  /* nothing corrupted: the stack memory is untouched, the valid handles still work */
  for (int i = 0; i < 4; i++) CHECK_EQ(stackvar[i], 0);
  CHECK_ST(luminal_task_join(done, 0, NULL), LUMINAL_E_ALREADY_TAKEN);
  CHECK_EQ(luminal_task_is_finished(done), 1);
  luminal_task_release(done);
  luminal_task_release(done); /* double release: ignored */
  CHECK_ST(luminal_task_join(done, 0, NULL), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_ready(&c, 3))), 3);
  drops++;
  CHECK_EQ(luminal_runtime_worker_count(rt), 2);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), drops);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

/* Invalid futures: a missing poll function. */
static atomic_long g_plain_drops;
static void plain_drop(void *p) {
  CHECK(p == (void *)&g_plain_drops);
  atomic_fetch_add(&g_plain_drops, 1);
}

static luminal_poll cb_ctx_spawn_nopoll(tf *f, luminal_context *cx, void **out) {
  luminal_future bad = {&g_plain_drops, NULL, plain_drop, NULL};
  luminal_task *t = NULL;
  luminal_status st = luminal_context_spawn(cx, bad, &t);
  *out = tu_box_new(f->c, (uint64_t)(int64_t)st);
  return LUMINAL_POLL_READY;
}

TEST(missing_poll_fn) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_future bad = {&g_plain_drops, NULL, plain_drop, NULL};
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn(rt, bad, &t), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(t == NULL);
  CHECK_EQ(LOAD(g_plain_drops), 1);
  CHECK_ST(luminal_block_on(rt, bad, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(g_plain_drops), 2);
  CHECK_ST(luminal_spawn_fn(rt, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT);
  /* drop may be NULL: nothing to call, nothing crashes */
  luminal_future bad2 = {NULL, NULL, NULL, NULL};
  CHECK_ST(luminal_spawn(rt, bad2, NULL), LUMINAL_E_INVALID_ARGUMENT);
  tu_counters c = TU_COUNTERS_INIT;
  CHECK_EQ((int64_t)tu_join_value(tu_spawn(rt, tf_make(&c, cb_ctx_spawn_nopoll, NULL, 0))),
           LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(g_plain_drops), 3);
  tu_runtime_done(rt);
}

/* Slots of released handles are reused; stale tokens (older generations) must stay invalid. */
TEST(stale_handle_generations) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *old[64];
  for (int round = 0; round < 64; round++) {
    luminal_task *t = tu_spawn(rt, tf_ready(&c, (uint64_t)round));
    CHECK_EQ(tu_join_value(t), round);
    luminal_task_release(t);
    old[round] = t;
    for (int j = 0; j <= round; j++) {
      CHECK_ST(luminal_task_join(old[j], 0, NULL), LUMINAL_E_INVALID_HANDLE);
      CHECK_EQ(luminal_task_is_finished(old[j]), 0);
    }
  }
  /* old runtime tokens too */
  luminal_runtime *olds[16];
  for (int i = 0; i < 16; i++) {
    olds[i] = luminal_runtime_clone(rt);
    CHECK(olds[i] != NULL);
    luminal_runtime_release(olds[i]);
  }
  luminal_runtime *live = luminal_runtime_clone(rt);
  for (int i = 0; i < 16; i++) {
    if (olds[i] == live) continue; /* identical token only if generations are not used; checked below */
    CHECK_EQ(luminal_runtime_worker_count(olds[i]), 0);
  }
  CHECK_ST(luminal_spawn(olds[15], tf_ready(&c, 1), NULL), LUMINAL_E_INVALID_HANDLE);
  for (int i = 0; i < 16; i++) CHECK_MSG(olds[i] != live, "a released runtime token was handed out again");
  luminal_runtime_release(live);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 65);
}

/* A context handed to another thread while its poll runs: a spawn through it from there must not touch the
 * worker's own queues (only the worker's thread may push there), so the new task goes to the global queue. The
 * poll looks at its worker's queue depth once the foreign spawn is done: 0, not the task in the next-task slot. */
typedef struct {
  luminal_runtime *rt;
  luminal_context *cx;
  atomic_int phase; /* 1: cx published; 2: the helper has spawned */
  luminal_status spawned;
  atomic_int child_ran;
} smuggled_cx;

static luminal_poll smuggled_child(void *s, luminal_context *cx, void **out) {
  (void)cx, (void)out;
  atomic_store(&((smuggled_cx *)s)->child_ran, 1);
  return LUMINAL_POLL_READY;
}

static void *smuggled_helper(void *arg) {
  smuggled_cx *m = arg;
  while (atomic_load(&m->phase) != 1) sched_yield();
  luminal_future f = {m, smuggled_child, NULL, NULL};
  m->spawned = luminal_context_spawn(m->cx, f, NULL);
  atomic_store(&m->phase, 2);
  return NULL;
}

static luminal_poll smuggling_poll(void *s, luminal_context *cx, void **out) {
  smuggled_cx *m = s;
  m->cx = cx;
  atomic_store(&m->phase, 1);
  while (atomic_load(&m->phase) != 2) sched_yield(); /* the helper spawns while this poll runs */
  luminal_worker_metrics wm = {.struct_size = sizeof wm};
  luminal_status st = luminal_runtime_get_worker_metrics(m->rt, 0, &wm);
  *out = (void *)(uintptr_t)(st == LUMINAL_OK ? wm.queue_depth : 99);
  return LUMINAL_POLL_READY;
}

TEST(context_spawn_from_another_thread_goes_to_the_global_queue) {
  luminal_runtime *rt = tu_runtime(1);
  smuggled_cx m = {.rt = rt};
  pthread_t helper;
  CHECK_EQ(pthread_create(&helper, NULL, smuggled_helper, &m), 0);
  luminal_future f = {&m, smuggling_poll, NULL, NULL};
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  void *depth = NULL;
  CHECK_ST(luminal_task_join(t, MS_NS(10000), &depth), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_EQ(pthread_join(helper, NULL), 0);
  CHECK_ST(m.spawned, LUMINAL_OK);
  CHECK_EQ((uintptr_t)depth, 0);
  WAIT_UNTIL(atomic_load(&m.child_ran));
  tu_runtime_done(rt);
}
