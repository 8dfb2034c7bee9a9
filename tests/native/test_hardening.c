/*
 * test_hardening.c — handles that must be refused without being read: stale and forged contexts, garbage wakers;
 * runtime-provided futures that cannot work complete instead of pending forever; runtimes inherited across fork().
 */
#include "test_util.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Values no runtime ever handed out: an unreadable page (tag bits 0), the same with the context tag, random bits
 * with the context tag, all ones. */
static void forged_contexts(luminal_context *out[4]) {
  void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(page != MAP_FAILED);
  out[0] = (luminal_context *)page;
  out[1] = (luminal_context *)((uintptr_t)page | 0xF);
  out[2] = (luminal_context *)(uintptr_t)0x9e3779b97f4a7c1fULL; /* tag 0xF, odd generation, huge index */
  out[3] = (luminal_context *)~(uintptr_t)0;
}

/* Every context call with `cx` must refuse it; a spawn through it drops its future exactly once. */
static void check_refused(luminal_context *cx, tu_counters *c) {
  CHECK(luminal_context_runtime(cx) == NULL);
  CHECK(luminal_context_waker(cx) == NULL);
  CHECK_ST(luminal_context_yield(cx), LUMINAL_E_INVALID_HANDLE);
  long drops = LOAD(c->drops);
  luminal_task *t = (luminal_task *)1;
  CHECK_ST(luminal_context_spawn(cx, tf_ready(c, 1), &t), LUMINAL_E_INVALID_HANDLE);
  CHECK(t == NULL);
  luminal_spawn_options o = {sizeof o, NULL, 0};
  CHECK_ST(luminal_context_spawn_with(cx, tf_ready(c, 1), &o, NULL), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(LOAD(c->drops), drops + 2);
}

static _Atomic(luminal_context *) saved_cx;

static luminal_poll cb_save_cx(tf *f, luminal_context *cx, void **out) {
  atomic_store(&saved_cx, cx);
  *out = tu_box_new(f->c, 7);
  return LUMINAL_POLL_READY;
}

TEST(context_stale_is_refused) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_save_cx, NULL, 0))), 7);
  luminal_context *stale = atomic_load(&saved_cx);
  CHECK(stale != NULL);
  check_refused(stale, &c);
  /* luminal_task_poll with a stale context. */
  tu_gate g;
  tu_gate_init(&g);
  luminal_task *t = tu_spawn(rt, tf_gate(&c, &g, 3));
  void *out = NULL;
  CHECK_ST(luminal_task_poll(t, stale, &out), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_task_poll(t, NULL, &out), LUMINAL_E_INVALID_ARGUMENT);
  tu_gate_open(&g);
  CHECK_EQ(tu_join_value(t), 3);
  /* A block_on poll's context is dead once block_on returned. */
  CHECK_ST(luminal_block_on(rt, tf_make(&c, cb_save_cx, NULL, 0), &out), LUMINAL_OK);
  CHECK_EQ(tu_box_take(out), 7);
  check_refused(atomic_load(&saved_cx), &c);
  tu_runtime_done(rt);
  tu_gate_destroy(&g);
  CHECK_EQ(LOAD(c.drops), 3 + 2 * 2);
}

/* Poll 1 keeps its context; poll 2 finds that context dead (the worker's context moved on) while its own works. */
static luminal_poll cb_previous_poll_cx(tf *f, luminal_context *cx, void **out) {
  if (f->step++ == 0) {
    f->user = cx;
    luminal_waker_wake_by_ref(luminal_context_waker(cx));
    return LUMINAL_POLL_PENDING;
  }
  luminal_context *previous = (luminal_context *)f->user;
  CHECK(previous != cx);
  CHECK(luminal_context_waker(previous) == NULL);
  CHECK(luminal_context_runtime(previous) == NULL);
  CHECK(luminal_context_waker(cx) != NULL);
  CHECK(luminal_context_runtime(cx) != NULL);
  *out = tu_box_new(f->c, 2);
  return LUMINAL_POLL_READY;
}

TEST(context_of_previous_poll_is_refused) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c = TU_COUNTERS_INIT;
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_previous_poll_cx, NULL, 0))), 2);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

TEST(context_forged_is_refused) {
  luminal_context *forged[4];
  forged_contexts(forged);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_runtime *rt = tu_runtime(1);
  for (int i = 0; i < 4; i++) check_refused(forged[i], &c);
  luminal_task *t = tu_spawn(rt, tf_ready(&c, 4));
  void *out = NULL;
  for (int i = 0; i < 4; i++) CHECK_ST(luminal_task_poll(t, forged[i], &out), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(tu_join_value(t), 4);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 4 * 2 + 1);
}

/* During its poll a context is valid on any thread (a Rust waker borrowed from it may be used elsewhere). */
static void *use_cx_elsewhere(void *arg) {
  luminal_context *cx = (luminal_context *)arg;
  return (void *)(uintptr_t)(luminal_context_waker(cx) != NULL && luminal_context_runtime(cx) != NULL);
}

static luminal_poll cb_cx_on_other_thread(tf *f, luminal_context *cx, void **out) {
  pthread_t th;
  void *ok = NULL;
  CHECK(pthread_create(&th, NULL, use_cx_elsewhere, cx) == 0);
  CHECK(pthread_join(th, &ok) == 0);
  CHECK(ok == (void *)1);
  *out = tu_box_new(f->c, 9);
  return LUMINAL_POLL_READY;
}

TEST(context_valid_on_another_thread_during_its_poll) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  for (int i = 0; i < 20; i++) CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_cx_on_other_thread, NULL, 0))), 9);
  tu_runtime_done(rt);
}

/* ---- wakers ------------------------------------------------------------------------------------------------- */

static luminal_poll cb_keep_waker(tf *f, luminal_context *cx, void **out) {
  f->waker = NULL;
  *(luminal_waker **)f->user = luminal_waker_clone(luminal_context_waker(cx));
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

TEST(waker_garbage_is_refused) {
  luminal_waker *garbage[] = {(luminal_waker *)(uintptr_t)0x123456789ULL, (luminal_waker *)(uintptr_t)0x9,
                              (luminal_waker *)(uintptr_t)0xFFFFFFFF00000009ULL,
                              (luminal_waker *)(uintptr_t)0x0000000100000019ULL};
  luminal_runtime *rt = tu_runtime(1);
  for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
    CHECK(luminal_waker_clone(garbage[i]) == NULL);
    CHECK_EQ(luminal_waker_will_wake(garbage[i], garbage[i]), 0);
    luminal_waker_wake_by_ref(garbage[i]);
    luminal_waker_wake(garbage[i]);
    luminal_waker_release(garbage[i]);
  }
  /* A waker of a task that finished and was recycled is stale: it clones to NULL and never "will wake". */
  tu_counters c = TU_COUNTERS_INIT;
  luminal_waker *kept = NULL;
  luminal_task *t = tu_spawn(rt, tf_make(&c, cb_keep_waker, &kept, 0));
  CHECK_EQ(tu_join_value(t), 1);
  CHECK(kept != NULL);
  CHECK(luminal_waker_clone(kept) == kept); /* finished, but the join handle keeps its slot: still clonable */
  luminal_task_release(t);
  /* The worker recycles the task just after the joiner saw it finish. */
  WAIT_UNTIL(luminal_waker_clone(kept) == NULL);
  CHECK_EQ(luminal_waker_will_wake(kept, kept), 0);
  luminal_waker_wake(kept); /* ignored */
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 1);
}

/* ---- runtime-provided futures that cannot work complete at once ---------------------------------------------- */

static void check_sleep_fails(luminal_future f, luminal_context *cx) {
  void *out = NULL;
  CHECK_EQ(f.poll(f.state, cx, &out), LUMINAL_POLL_READY);
  CHECK(out == LUMINAL_FAILED_OUTPUT);
  f.drop(f.state);
  out = (void *)1;
  CHECK_EQ(f.poll(f.state, cx, &out), LUMINAL_POLL_READY); /* after drop: detected, output NULL */
  CHECK(out == NULL);
  f.drop(f.state); /* a second drop is harmless */
}

TEST(runtime_futures_fail_instead_of_pending) {
  luminal_context *forged[4];
  forged_contexts(forged);
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_context *bad[5] = {NULL, forged[0], forged[1], forged[2], forged[3]};
  for (int i = 0; i < 5; i++) {
    luminal_future f;
    CHECK_ST(luminal_sleep(rt, MS_NS(10000), &f), LUMINAL_OK);
    check_sleep_fails(f, bad[i]);
    /* A timeout drops its inner future and fails the same way. */
    long drops = LOAD(c.drops);
    CHECK_ST(luminal_timeout(rt, tf_forever(&c), MS_NS(10000), &f), LUMINAL_OK);
    check_sleep_fails(f, bad[i]);
    CHECK_EQ(LOAD(c.drops), drops + 1);
    CHECK_EQ(LOAD(c.polls), 0);
    /* IO: the reason lands in result->status; the output is the result as always. */
    int fds[2];
    CHECK_ST(luminal_pipe(fds, NULL), LUMINAL_OK);
    char buf[8];
    luminal_io_result r = {LUMINAL_OK, 0, 99};
    CHECK_ST(luminal_stream_read(rt, fds[0], buf, sizeof buf, &r, &f), LUMINAL_OK);
    void *out = NULL;
    CHECK_EQ(f.poll(f.state, bad[i], &out), LUMINAL_POLL_READY);
    CHECK(out == &r);
    CHECK_ST((luminal_status)r.status, i == 0 ? LUMINAL_E_INVALID_ARGUMENT : LUMINAL_E_INVALID_HANDLE);
    f.drop(f.state);
    close(fds[0]);
    close(fds[1]);
  }
  /* A stale context (from a finished poll) is refused the same way. */
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_save_cx, NULL, 0))), 7);
  luminal_future f;
  CHECK_ST(luminal_sleep(rt, MS_NS(10000), &f), LUMINAL_OK);
  check_sleep_fails(f, atomic_load(&saved_cx));
  tu_runtime_done(rt);
}

/* ---- fork ----------------------------------------------------------------------------------------------------- */

/* In the child: every call on the inherited runtime answers LUMINAL_E_FORKED; a runtime made here works. */
static void *null_fn(void *arg) { return arg; }

static void forked_child(luminal_runtime *rt, luminal_task *pending, luminal_scope *scope, luminal_waker *waker) {
  alarm(20); /* a hang fails the test instead of blocking CTest */
  tu_counters c = TU_COUNTERS_INIT;
  luminal_task *t = (luminal_task *)1;
  CHECK_ST(luminal_spawn(rt, tf_ready(&c, 1), &t), LUMINAL_E_FORKED);
  CHECK(t == NULL);
  CHECK_ST(luminal_spawn_fn(rt, null_fn, NULL, NULL), LUMINAL_E_FORKED);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, tf_ready(&c, 1), &out), LUMINAL_E_FORKED);
  CHECK_EQ(LOAD(c.drops), 2); /* each failed spawn dropped its future once */
  CHECK_EQ(LOAD(c.polls), 0);
  luminal_future f;
  CHECK_ST(luminal_sleep(rt, 1, &f), LUMINAL_E_FORKED);
  CHECK_ST(luminal_timeout(rt, tf_ready(&c, 1), 1, &f), LUMINAL_E_FORKED);
  CHECK_EQ(LOAD(c.drops), 3);
  luminal_io_result r;
  CHECK_ST(luminal_file_open(rt, "/dev/null", 0, 0, &r, &f), LUMINAL_E_FORKED);
  CHECK_ST(luminal_task_join(pending, UINT64_MAX, &out), LUMINAL_E_FORKED);
  CHECK_EQ(luminal_task_is_finished(pending), 0);
  luminal_task_abort(pending);
  luminal_waker_wake_by_ref(waker); /* ignored: nothing runs the task here */
  luminal_scope *s2 = NULL;
  CHECK_ST(luminal_scope_new(rt, &s2), LUMINAL_E_FORKED);
  luminal_scope_counters st = {sizeof st, 0, 0, 0, 0, 0, 0};
  CHECK_ST(luminal_scope_stats(scope, &st), LUMINAL_E_FORKED);
  luminal_runtime_metrics rm;
  memset(&rm, 0, sizeof rm);
  rm.struct_size = sizeof rm;
  CHECK_ST(luminal_runtime_get_metrics(rt, &rm), LUMINAL_E_FORKED);
  luminal_worker_metrics wm;
  memset(&wm, 0, sizeof wm);
  wm.struct_size = sizeof wm;
  CHECK_ST(luminal_runtime_get_worker_metrics(rt, 0, &wm), LUMINAL_E_FORKED);
  CHECK_ST(luminal_scope_close(scope, 0), LUMINAL_E_FORKED);
  CHECK(luminal_runtime_clone(rt) == NULL);
  CHECK_EQ(luminal_runtime_worker_count(rt), 0);
  CHECK_ST(luminal_runtime_shutdown(rt, MS_NS(1000)), LUMINAL_E_FORKED);
  luminal_task_release(pending);
  luminal_scope_release(scope);
  luminal_runtime_release(rt); /* returns at once */
  luminal_runtime_release(rt); /* and a double release is ignored, as always */
  /* A runtime created in the child works. */
  luminal_runtime *fresh = tu_runtime(2);
  CHECK_EQ(tu_join_value(tu_spawn(fresh, tf_ready(&c, 42))), 42);
  CHECK_EQ(tu_join_value(tu_spawn(fresh, tf_yield(&c, 10))), 10);
  tu_runtime_done(fresh);
  CHECK_EQ(LOAD(c.drops), 5);
  _exit(0);
}

TEST(fork_inherited_runtime_is_refused) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  tu_gate g;
  tu_gate_init(&g);
  luminal_scope *scope = NULL;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  luminal_task *pending = tu_spawn(rt, tf_gate(&c, &g, 5));
  WAIT_UNTIL(atomic_load(&g.registrations) >= 1);
  pthread_mutex_lock(&g.mu);
  luminal_waker *waker = luminal_waker_clone(g.waker);
  pthread_mutex_unlock(&g.mu);
  CHECK(waker != NULL);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) forked_child(rt, pending, scope, waker);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "forked child failed (status 0x%x)", status);
  /* The parent's runtime is untouched by all that. */
  tu_gate_open(&g);
  CHECK_EQ(tu_join_value(pending), 5);
  luminal_waker_release(waker);
  CHECK_ST(luminal_scope_close(scope, UINT64_MAX), LUMINAL_OK);
  luminal_scope_release(scope);
  tu_runtime_done(rt);
  tu_gate_destroy(&g);
  CHECK_EQ(LOAD(c.drops), 1);
}

/* ---- statuses the header now lists (issue: each was returned but undocumented) --------------------------------- */

TEST(spawn_with_released_scope_is_invalid_handle) {
  luminal_runtime *rt = tu_runtime(1);
  tu_counters c = TU_COUNTERS_INIT;
  luminal_scope *s = NULL;
  CHECK_ST(luminal_scope_new(rt, &s), LUMINAL_OK);
  luminal_scope_release(s);
  luminal_spawn_options o = {sizeof o, s, 0};
  luminal_task *t = (luminal_task *)1;
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 1), &o, &t), LUMINAL_E_INVALID_HANDLE);
  CHECK(t == NULL);
  CHECK_EQ(LOAD(c.drops), 1); /* taken also on failure */
  /* Another runtime's scope is INVALID_ARGUMENT. */
  luminal_runtime *rt2 = tu_runtime(1);
  luminal_scope *s2 = NULL;
  CHECK_ST(luminal_scope_new(rt2, &s2), LUMINAL_OK);
  o.scope = s2;
  CHECK_ST(luminal_spawn_with(rt, tf_ready(&c, 1), &o, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(LOAD(c.drops), 2);
  luminal_scope_release(s2);
  tu_runtime_done(rt2);
  tu_runtime_done(rt);
}

/* A future whose drop takes a while: shutdown's TIMED_OUT covers slow drop functions, not only polls. */
static void slow_drop(void *state) {
  tu_sleep_ms(400);
  atomic_fetch_add((atomic_long *)state, 1);
}
static luminal_poll pend(void *state, luminal_context *cx, void **out) {
  (void)state, (void)cx, (void)out;
  return LUMINAL_POLL_PENDING; /* never woken: idle until shutdown drops it */
}

TEST(shutdown_times_out_on_a_slow_drop) {
  luminal_runtime *rt = tu_runtime(1);
  static atomic_long dropped;
  luminal_future f = {&dropped, pend, slow_drop, NULL};
  CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  tu_sleep_ms(20); /* polled once, now idle */
  CHECK_ST(luminal_runtime_shutdown(rt, MS_NS(50)), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK); /* call again to wait more */
  CHECK_EQ(atomic_load(&dropped), 1);
  luminal_runtime_release(rt);
}

/* AUTO falls back to the pool when the ring cannot be made: here, every fd is taken (EMFILE) when the first IO
 * operation starts the backend. */
TEST(auto_backend_falls_back_on_emfile) {
  luminal_runtime_options o = tu_options(1);
  o.io_backend = LUMINAL_IO_AUTO;
  luminal_runtime *rt = tu_runtime_with(&o);
  struct rlimit old, low;
  CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
  low = old;
  low.rlim_cur = 256;
  CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
  static int hold[256];
  int n = 0;
  for (; n < 256; n++) {
    hold[n] = dup(0);
    if (hold[n] < 0) break;
  }
  CHECK_MSG(n < 256 && errno == EMFILE, "could not exhaust the fd table (%d fds)", n);
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_file_fsync(rt, 0, &r, &f), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
  for (int i = 0; i < n; i++) close(hold[i]);
  CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
  CHECK(out == &r);
  CHECK_EQ(luminal_runtime_io_backend(rt), LUMINAL_IO_POOL);
  tu_runtime_done(rt);
}

/* io_uring forbidden (a seccomp filter answers EPERM to io_uring_setup, as Docker's default profile does): a runtime
 * that demands it, by option or by LUMINAL_IO_BACKEND=uring, is refused with UNSUPPORTED; AUTO uses the pool. In a
 * child process, so the filter stays there. */
static void seccomp_no_io_uring(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 425 /* io_uring_setup, the same number on x86_64 and arm64 */, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof *f), f};
  CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
  CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

TEST(io_uring_demanded_but_forbidden_is_unsupported) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(20);
    seccomp_no_io_uring();
    luminal_runtime_options o = tu_options(1);
    o.io_backend = LUMINAL_IO_URING;
    luminal_runtime *rt = NULL;
    CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_UNSUPPORTED);
    CHECK(rt == NULL);
    o.io_backend = LUMINAL_IO_AUTO;
    CHECK(setenv("LUMINAL_IO_BACKEND", "uring", 1) == 0);
    CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_E_UNSUPPORTED);
    CHECK(unsetenv("LUMINAL_IO_BACKEND") == 0);
    rt = tu_runtime_with(&o);
    CHECK_EQ(luminal_runtime_io_backend(rt), LUMINAL_IO_POOL);
    luminal_io_result r;
    luminal_future f;
    CHECK_ST(luminal_file_fsync(rt, -1, &r, &f), LUMINAL_OK);
    void *out = NULL;
    CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
    CHECK(r.status == LUMINAL_E_IO && r.os_error == EBADF);
    CHECK_EQ(luminal_runtime_io_backend(rt), LUMINAL_IO_POOL);
    tu_runtime_done(rt);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)", status);
}
