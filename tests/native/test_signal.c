/* Signals (luminal_signal_*): deliveries by kill and raise reach every listener, coalesce while no recv is
 * pending, are not kept for later listeners; the last release restores the previous disposition; misuse; fork. */
#include "test_util.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct sig_recv {
  luminal_status st;
  luminal_task *t;
  luminal_future inner; /* the recv future, polled through first_poll_seen */
  atomic_int polled;
} sig_recv;

/* Forwards to the recv future and tells when it was first polled: from then on the recv is pending on its
 * listener, so a delivery sent afterwards is this recv's (sent before, it could be coalesced with another's). */
static luminal_poll first_poll_seen(void *state, luminal_context *cx, void **out) {
  sig_recv *r = state;
  luminal_poll p = r->inner.poll(r->inner.state, cx, out);
  atomic_store(&r->polled, 1);
  return p;
}
static void drop_inner(void *state) {
  sig_recv *r = state;
  r->inner.drop(r->inner.state);
}

/* Spawns a recv and returns once it is pending (or done). */
static void recv_start(luminal_runtime *rt, luminal_signal *s, sig_recv *r) {
  r->st = LUMINAL_PENDING;
  atomic_init(&r->polled, 0);
  CHECK_ST(luminal_signal_recv(s, &r->st, &r->inner), LUMINAL_OK);
  luminal_future f = {r, first_poll_seen, drop_inner, NULL};
  CHECK_ST(luminal_spawn(rt, f, &r->t), LUMINAL_OK);
  WAIT_UNTIL(atomic_load(&r->polled));
}

static luminal_status recv_finish(sig_recv *r) {
  CHECK_ST(luminal_task_join(r->t, MS_NS(10000), NULL), LUMINAL_OK);
  luminal_task_release(r->t);
  return r->st;
}

static void (*handler_of(int signo))(int) {
  struct sigaction sa;
  CHECK(sigaction(signo, NULL, &sa) == 0);
  return sa.sa_handler;
}

static atomic_int g_host_usr2;
static void host_usr2(int signo) {
  (void)signo;
  atomic_fetch_add(&g_host_usr2, 1);
}

TEST(signal_every_listener_sees_every_delivery) {
  luminal_runtime *rt = tu_runtime(2);
  CHECK(handler_of(SIGUSR1) == SIG_DFL);
  luminal_signal *a, *b, *c;
  CHECK_ST(luminal_signal_listen(rt, SIGUSR1, &a), LUMINAL_OK);
  CHECK_ST(luminal_signal_listen(rt, SIGUSR1, &b), LUMINAL_OK);
  for (int i = 0; i < 20; i++) {
    sig_recv ra, rb1, rb2;
    recv_start(rt, a, &ra);
    recv_start(rt, b, &rb1);
    recv_start(rt, b, &rb2); /* two recvs on one listener: both complete */
    if (i % 2) CHECK(kill(getpid(), SIGUSR1) == 0); else CHECK(raise(SIGUSR1) == 0);
    CHECK_ST(recv_finish(&ra), LUMINAL_OK);
    CHECK_ST(recv_finish(&rb1), LUMINAL_OK);
    CHECK_ST(recv_finish(&rb2), LUMINAL_OK);
  }
  /* A delivery while c does not exist yet is not kept for it; b has no recv pending: it keeps one, coalesced. */
  sig_recv ra;
  recv_start(rt, a, &ra);
  CHECK(kill(getpid(), SIGUSR1) == 0);
  CHECK(kill(getpid(), SIGUSR1) == 0);
  CHECK_ST(recv_finish(&ra), LUMINAL_OK);
  tu_sleep_ms(50); /* the second delivery may still be on its way */
  CHECK_ST(luminal_signal_listen(rt, SIGUSR1, &c), LUMINAL_OK);
  sig_recv rb, rc;
  recv_start(rt, b, &rb);
  CHECK_ST(recv_finish(&rb), LUMINAL_OK); /* remembered */
  recv_start(rt, b, &rb);
  recv_start(rt, c, &rc);
  CHECK_ST(luminal_task_join(rb.t, MS_NS(50), NULL), LUMINAL_E_TIMED_OUT); /* coalesced: only one was kept */
  CHECK_ST(luminal_task_join(rc.t, MS_NS(1), NULL), LUMINAL_E_TIMED_OUT);  /* c saw nothing */
  luminal_signal_release(b); /* pending recvs: CLOSED */
  CHECK_ST(recv_finish(&rb), LUMINAL_E_CLOSED);
  luminal_signal_release(a);
  CHECK(handler_of(SIGUSR1) != SIG_DFL); /* c still listens */
  CHECK(raise(SIGUSR1) == 0);
  CHECK_ST(recv_finish(&rc), LUMINAL_OK);
  luminal_signal_release(c);
  CHECK(handler_of(SIGUSR1) == SIG_DFL); /* the last listener restored the default */
  tu_runtime_done(rt);
}

TEST(signal_release_restores_host_handler) {
  luminal_runtime *rt = tu_runtime(1);
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = host_usr2;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGUSR2, &sa, &old) == 0);
  atomic_store(&g_host_usr2, 0);
  void (*before_term)(int) = handler_of(SIGTERM), (*before_hup)(int) = handler_of(SIGHUP);
  luminal_signal *s;
  CHECK_ST(luminal_signal_listen(rt, SIGUSR2, &s), LUMINAL_OK);
  CHECK(handler_of(SIGUSR2) != host_usr2);
  CHECK(handler_of(SIGTERM) == before_term); /* other signals untouched (but SIGINT, SIGQUIT, SIGCONT: see below) */
  CHECK(handler_of(SIGHUP) == before_hup);
  sig_recv r;
  recv_start(rt, s, &r);
  CHECK(kill(getpid(), SIGUSR2) == 0);
  CHECK_ST(recv_finish(&r), LUMINAL_OK);
  CHECK_EQ(atomic_load(&g_host_usr2), 1); /* .NET chained to the host's handler */
  luminal_signal_release(s);
  CHECK(handler_of(SIGUSR2) == host_usr2);
  int seen = atomic_load(&g_host_usr2);
  CHECK(raise(SIGUSR2) == 0);
  CHECK_EQ(atomic_load(&g_host_usr2), seen + 1);
  CHECK(sigaction(SIGUSR2, &old, NULL) == 0);
  tu_runtime_done(rt);
}

TEST(signal_misuse_and_drops) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_signal *s = (luminal_signal *)1;
  luminal_status st;
  luminal_future f;
  CHECK_ST(luminal_signal_listen(rt, SIGUSR1, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_signal_listen(NULL, SIGUSR1, &s), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(s == NULL);
  CHECK_ST(luminal_signal_listen((luminal_runtime *)(uintptr_t)0xdead0001, SIGUSR1, &s), LUMINAL_E_INVALID_HANDLE);
  const int refused[] = {0, -1, 65, SIGKILL, SIGSTOP, SIGSEGV, SIGFPE, SIGBUS, SIGILL, SIGTRAP, 32, 33, 34};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    CHECK_ST(luminal_signal_listen(rt, refused[i], &s), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_signal_recv(NULL, &st, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_signal_recv((luminal_signal *)(uintptr_t)0xbad1, &st, &f), LUMINAL_E_INVALID_HANDLE);
  luminal_signal_release(NULL);
  luminal_signal_release((luminal_signal *)(uintptr_t)0xbad1);
  CHECK_ST(luminal_signal_listen(rt, SIGUSR1, &s), LUMINAL_OK);
  CHECK_ST(luminal_signal_recv(s, NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_signal_recv(s, &st, NULL), LUMINAL_E_INVALID_ARGUMENT);
  /* a notify handle is not a listener (same tag, other kind) */
  luminal_notify *n;
  CHECK_ST(luminal_notify_new(rt, &n), LUMINAL_OK);
  CHECK_ST(luminal_signal_recv((luminal_signal *)n, &st, &f), LUMINAL_E_INVALID_HANDLE);
  luminal_signal_release((luminal_signal *)n); /* ignored */
  CHECK_ST(luminal_notify_one(n), LUMINAL_OK);
  luminal_notify_release(n);
  /* a future dropped unpolled, twice: exactly once */
  CHECK_ST(luminal_signal_recv(s, &st, &f), LUMINAL_OK);
  f.drop(f.state);
  f.drop(f.state);
  /* a future outliving its listener completes with CLOSED */
  CHECK_ST(luminal_signal_recv(s, &st, &f), LUMINAL_OK);
  luminal_signal_release(s);
  luminal_signal_release(s); /* double: ignored */
  luminal_future g;
  CHECK_ST(luminal_signal_recv(s, &st, &g), LUMINAL_E_INVALID_HANDLE);
  CHECK(handler_of(SIGUSR1) == SIG_DFL);
  f.drop(f.state); /* the recv made before the release: dropped once, its listener freed then */
  tu_runtime_done(rt);
}

TEST(signal_recv_after_release_is_closed) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_signal *s;
  luminal_status st = LUMINAL_PENDING;
  luminal_future f;
  luminal_task *t;
  CHECK_ST(luminal_signal_listen(rt, SIGUSR1, &s), LUMINAL_OK);
  CHECK_ST(luminal_signal_recv(s, &st, &f), LUMINAL_OK);
  luminal_signal_release(s);
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_ST(st, LUMINAL_E_CLOSED);
  tu_runtime_done(rt);
}

TEST(signal_forked) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_signal *s;
  CHECK_ST(luminal_signal_listen(rt, SIGUSR1, &s), LUMINAL_OK);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(20);
    luminal_status st;
    luminal_future f;
    luminal_signal *s2;
    CHECK_ST(luminal_signal_recv(s, &st, &f), LUMINAL_E_FORKED);
    CHECK_ST(luminal_signal_listen(rt, SIGUSR2, &s2), LUMINAL_E_FORKED);
    luminal_signal_release(s);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)", status);
  luminal_signal_release(s);
  CHECK(handler_of(SIGUSR1) == SIG_DFL);
  tu_runtime_done(rt);
}

/* .NET's signal handling wraps SIGINT, SIGQUIT and SIGCONT (documented side effect) but keeps their behaviour: a
 * SIGINT at its default disposition still ends the process by SIGINT, during and after listening. */
TEST(signal_sigint_default_kept) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(20);
    signal(SIGINT, SIG_DFL);
    luminal_runtime *rt = tu_runtime(1);
    luminal_signal *s;
    CHECK_ST(luminal_signal_listen(rt, SIGUSR1, &s), LUMINAL_OK);
    luminal_signal_release(s);
    raise(SIGINT);
    for (;;) pause();
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "child status 0x%x", status);
}
