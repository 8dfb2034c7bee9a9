/* luminal_plugin_open / luminal_plugin_close / luminal_plugin_scope (include/luminal_plugin.h) with the probe plugin
 * (plugin_probe.c, driven through host_data) and a library that is not a plugin (plugin_nofini.c). Paths are
 * compiled in: PROBE_PLUGIN_PATH, NOFINI_PLUGIN_PATH. */
#include "plugin_probe.h"
#include "test_util.h"

#include <dlfcn.h>
#include <sys/wait.h>
#include <luminal_plugin.h>

static int is_loaded(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != NULL;
}

static probe_ctl *ctl_new(void) {
  probe_ctl *c = (probe_ctl *)calloc(1, sizeof *c);
  CHECK(c != NULL);
  return c;
}

static luminal_plugin *open_probe(luminal_runtime *rt, probe_ctl *c) {
  luminal_plugin *p = NULL;
  CHECK_ST(luminal_plugin_open(rt, PROBE_PLUGIN_PATH, c, &p), LUMINAL_OK);
  CHECK(p != NULL);
  c->self = p;
  return p;
}

/* What every successful close must leave behind: fini ran once, after every poll and drop had finished. */
static void check_closed_cleanly(probe_ctl *c) {
  CHECK_EQ(atomic_load(&c->fini_calls), 1);
  CHECK_EQ(c->live_at_fini, 0);
  CHECK_EQ(c->running_at_fini, 0);
  CHECK_EQ(c->scope_stats_in_fini, LUMINAL_OK);
  CHECK_EQ(c->scope_at_fini.live, 0);
  /* refused, and its future dropped: the scope is closed (or, once the runtime is gone, host->runtime stale) */
  CHECK_ST(c->spawn_in_fini, c->workers_in_fini ? LUMINAL_E_SHUTDOWN : LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(c->close_self_in_fini, LUMINAL_E_INVALID_HANDLE); /* fini cannot close itself again */
  CHECK_EQ(atomic_load(&c->live), 0);
  CHECK_EQ(atomic_load(&c->drops), atomic_load(&c->spawned)); /* every future dropped exactly once */
  CHECK(!is_loaded(PROBE_PLUGIN_PATH));
}

TEST(plugin_open_misuse) {
  luminal_runtime *rt = tu_runtime(2);
  probe_ctl *c = ctl_new();
  luminal_plugin *p = (luminal_plugin *)(uintptr_t)0x1234;
  CHECK_ST(luminal_plugin_open(NULL, PROBE_PLUGIN_PATH, c, &p), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(p == NULL);
  CHECK_ST(luminal_plugin_open(rt, NULL, c, &p), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_plugin_open(rt, PROBE_PLUGIN_PATH, c, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_plugin_open((luminal_runtime *)(uintptr_t)0xdead0003, PROBE_PLUGIN_PATH, c, &p),
           LUMINAL_E_INVALID_HANDLE);
  /* a scope handle where a runtime is expected */
  luminal_scope *scope = NULL;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  CHECK_ST(luminal_plugin_open((luminal_runtime *)scope, PROBE_PLUGIN_PATH, c, &p), LUMINAL_E_INVALID_HANDLE);
  luminal_scope_release(scope);
  /* not there, not a shared library, not a plugin */
  CHECK_ST(luminal_plugin_open(rt, "/nonexistent/libnothing.so", c, &p), LUMINAL_E_IO);
  CHECK(p == NULL);
  const char *why = dlerror(); /* the loader's reason, as the header says */
  CHECK_MSG(why != NULL && strstr(why, "/nonexistent/libnothing.so") != NULL, "dlerror: %s", why ? why : "(null)");
  CHECK_ST(luminal_plugin_open(rt, "libluminal-no-such-plugin.so", c, &p), LUMINAL_E_IO);
  CHECK_ST(luminal_plugin_open(rt, "/etc/hostname", c, &p), LUMINAL_E_IO);
  CHECK_ST(luminal_plugin_open(rt, NOFINI_PLUGIN_PATH, c, &p), LUMINAL_E_NOT_PLUGIN);
  CHECK(p == NULL);
  CHECK(!is_loaded(NOFINI_PLUGIN_PATH));
  CHECK_EQ(atomic_load(&c->init_calls), 0);
  CHECK(strcmp(luminal_status_str(LUMINAL_E_NOT_PLUGIN), "unknown status") != 0);
  CHECK(strcmp(luminal_status_str(LUMINAL_E_PLUGIN_INIT), "unknown status") != 0);
  /* a shut-down runtime */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_plugin_open(rt, PROBE_PLUGIN_PATH, c, &p), LUMINAL_E_SHUTDOWN);
  CHECK(!is_loaded(PROBE_PLUGIN_PATH));
  luminal_runtime *stale = rt;
  luminal_runtime_release(rt);
  CHECK_ST(luminal_plugin_open(stale, PROBE_PLUGIN_PATH, c, &p), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(atomic_load(&c->init_calls), 0);
  free(c);
}

/* init fails after spawning tasks into its scope: they are cancelled and waited for, then the library unloaded;
 * fini is not called. */
TEST(plugin_init_failure) {
  luminal_runtime *rt = tu_runtime(2);
  probe_ctl *c = ctl_new();
  c->pending = 50;
  c->loopers = 4;
  c->init_result = LUMINAL_E_INVALID_ARGUMENT;
  luminal_plugin *p = (luminal_plugin *)(uintptr_t)0x1234;
  CHECK_ST(luminal_plugin_open(rt, PROBE_PLUGIN_PATH, c, &p), LUMINAL_E_PLUGIN_INIT);
  CHECK(p == NULL);
  CHECK_EQ(atomic_load(&c->init_calls), 1);
  CHECK_EQ(atomic_load(&c->fini_calls), 0);
  CHECK_EQ(atomic_load(&c->spawned), 54);
  CHECK_EQ(atomic_load(&c->live), 0);
  CHECK_EQ(atomic_load(&c->running), 0);
  CHECK_EQ(atomic_load(&c->drops), 54);
  CHECK(!is_loaded(PROBE_PLUGIN_PATH));
  /* an init that fails with a status that is not an error is a failure too */
  probe_ctl *c2 = ctl_new();
  c2->init_result = LUMINAL_PENDING;
  CHECK_ST(luminal_plugin_open(rt, PROBE_PLUGIN_PATH, c2, &p), LUMINAL_E_PLUGIN_INIT);
  CHECK(!is_loaded(PROBE_PLUGIN_PATH));
  tu_runtime_done(rt);
  free(c);
  free(c2);
}

/* The host struct: sizes, versions, the host's runtime and the plugin's own scope. */
TEST(plugin_host_struct) {
  luminal_runtime *rt = tu_runtime(3);
  probe_ctl *c = ctl_new();
  luminal_plugin *p = open_probe(rt, c);
  CHECK(is_loaded(PROBE_PLUGIN_PATH));
  CHECK_EQ(c->host_struct_size, sizeof(luminal_plugin_host));
  CHECK_EQ(c->host_abi, luminal_abi_version());
  CHECK_EQ(c->host_abi, LUMINAL_ABI_VERSION);
  CHECK_EQ(c->workers_seen, 3);
  CHECK(c->host_scope != NULL);
  CHECK(luminal_plugin_scope(p) == c->host_scope);
  CHECK(luminal_plugin_scope(NULL) == NULL);
  CHECK(luminal_plugin_scope((luminal_plugin *)rt) == NULL);
  /* the plugin's scope is the library's to release: luminal_scope_release ignores it */
  luminal_scope_release(c->host_scope);
  luminal_scope_counters sc;
  memset(&sc, 0, sizeof sc);
  sc.struct_size = sizeof sc;
  CHECK_ST(luminal_scope_stats(luminal_plugin_scope(p), &sc), LUMINAL_OK);
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_OK);
  check_closed_cleanly(c);
  CHECK_EQ(c->workers_in_fini, 3);
  /* the scope went with the plugin */
  CHECK_ST(luminal_scope_stats(c->host_scope, &sc), LUMINAL_E_INVALID_HANDLE);
  CHECK(luminal_plugin_scope(p) == NULL);
  tu_runtime_done(rt);
  free(c);
}

TEST(plugin_close_misuse) {
  luminal_runtime *rt = tu_runtime(2);
  CHECK_ST(luminal_plugin_close(NULL, UINT64_MAX), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_plugin_close((luminal_plugin *)(uintptr_t)0xdead0001, 0), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_plugin_close((luminal_plugin *)rt, 0), LUMINAL_E_INVALID_HANDLE);
  /* other handles of the same tag (sync) and of the scope tag are refused by kind */
  luminal_sender *tx = NULL;
  luminal_receiver *rx = NULL;
  CHECK_ST(luminal_channel_new(rt, NULL, &tx, &rx), LUMINAL_OK);
  CHECK_ST(luminal_plugin_close((luminal_plugin *)tx, 0), LUMINAL_E_INVALID_HANDLE);
  CHECK(luminal_plugin_scope((luminal_plugin *)rx) == NULL);
  probe_ctl *c = ctl_new();
  c->pending = 3;
  luminal_plugin *p = open_probe(rt, c);
  CHECK_ST(luminal_plugin_close((luminal_plugin *)luminal_plugin_scope(p), 0), LUMINAL_E_INVALID_HANDLE);
  /* and a plugin handle is refused where another kind is expected */
  CHECK_ST(luminal_channel_try_send((luminal_sender *)p, NULL), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_scope_close((luminal_scope *)p, 0), LUMINAL_E_INVALID_HANDLE);
  luminal_sender_release((luminal_sender *)p); /* ignored */
  luminal_scope_release((luminal_scope *)p);   /* ignored */
  CHECK_EQ(atomic_load(&c->fini_calls), 0);
  CHECK(is_loaded(PROBE_PLUGIN_PATH));
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_OK);
  check_closed_cleanly(c);
  /* double close */
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_plugin_close(p, 0), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(atomic_load(&c->fini_calls), 1);
  luminal_sender_release(tx);
  luminal_receiver_release(rx);
  tu_runtime_done(rt);
  free(c);
}

/* A plugin with live tasks (pending, looping on timers with polls in progress, drops that take a while) closes
 * within its timeout: fini sees no poll or drop running and every future dropped. */
TEST(plugin_close_with_live_tasks) {
  luminal_runtime *rt = tu_runtime(4);
  for (int round = 0; round < 3; round++) {
    probe_ctl *c = ctl_new();
    c->pending = 500;
    c->loopers = 16;
    luminal_plugin *p = open_probe(rt, c);
    WAIT_UNTIL(atomic_load(&c->polls) >= 500 + 16 * 3);
    CHECK_EQ(atomic_load(&c->live), 516);
    CHECK_ST(luminal_plugin_close(p, 20ull * 1000000000ull), LUMINAL_OK);
    check_closed_cleanly(c);
    CHECK_EQ(c->scope_at_fini.spawned, 516);
    CHECK_EQ(c->scope_at_fini.cancelled, 516);
    free(c);
  }
  tu_runtime_done(rt);
}

/* A task whose poll does not return: close times out (TIMED_OUT), fini is not called and the plugin stays loaded,
 * its scope closed; once the poll returns, a later close succeeds. */
TEST(plugin_close_timeout_then_retry) {
  luminal_runtime *rt = tu_runtime(2);
  probe_ctl *c = ctl_new();
  c->pending = 10;
  c->blocker = 1;
  luminal_plugin *p = open_probe(rt, c);
  WAIT_UNTIL(atomic_load(&c->blocker_in_poll));
  CHECK_ST(luminal_plugin_close(p, MS_NS(30)), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_plugin_close(p, 0), LUMINAL_E_TIMED_OUT);
  CHECK_EQ(atomic_load(&c->fini_calls), 0);
  CHECK(is_loaded(PROBE_PLUGIN_PATH));
  CHECK(luminal_plugin_scope(p) == c->host_scope); /* still valid */
  WAIT_UNTIL(atomic_load(&c->live) == 1);          /* the idle ones are dropped by the workers */
  luminal_scope_counters sc;
  memset(&sc, 0, sizeof sc);
  sc.struct_size = sizeof sc;
  CHECK_ST(luminal_scope_stats(luminal_plugin_scope(p), &sc), LUMINAL_OK);
  CHECK_EQ(sc.live, 1); /* the blocker's poll is still running */
  atomic_store(&c->release, 1);
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_OK);
  check_closed_cleanly(c);
  CHECK_EQ(atomic_load(&c->blocker_in_poll), 0);
  tu_runtime_done(rt);
  free(c);
}

/* Blocking calls from a worker are refused: open always, close with a non-zero timeout (nothing is done then);
 * close with timeout 0 works there. */
typedef struct worker_call {
  luminal_plugin *p;
  probe_ctl *ctl;
  luminal_status open_st, close_wait_st, close_now_st;
  int loaded_after_refusal;
} worker_call;

static void *call_from_worker(void *arg) {
  worker_call *w = (worker_call *)arg;
  luminal_plugin *other = NULL;
  w->open_st = luminal_plugin_open(w->ctl->host_runtime, PROBE_PLUGIN_PATH, w->ctl, &other);
  w->close_wait_st = luminal_plugin_close(w->p, UINT64_MAX);
  w->loaded_after_refusal = atomic_load(&w->ctl->fini_calls) == 0;
  w->close_now_st = luminal_plugin_close(w->p, 0);
  return NULL;
}

TEST(plugin_blocking_calls_from_a_worker) {
  luminal_runtime *rt = tu_runtime(2);
  probe_ctl *c = ctl_new();
  c->pending = 20;
  luminal_plugin *p = open_probe(rt, c);
  worker_call w = {p, c, LUMINAL_OK, LUMINAL_OK, LUMINAL_OK, 0};
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn_fn(rt, call_from_worker, &w, &t), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_ST(w.open_st, LUMINAL_E_WOULD_DEADLOCK);
  CHECK_EQ(atomic_load(&c->init_calls), 1);
  CHECK_ST(w.close_wait_st, LUMINAL_E_WOULD_DEADLOCK);
  CHECK(w.loaded_after_refusal);
  /* timeout 0 on a worker: the idle tasks are dropped at once, so the close completes right there */
  CHECK(w.close_now_st == LUMINAL_OK || w.close_now_st == LUMINAL_E_TIMED_OUT);
  if (w.close_now_st == LUMINAL_E_TIMED_OUT) CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_OK);
  check_closed_cleanly(c);
  tu_runtime_done(rt);
  free(c);
}

/* The runtime goes (last handle released) while the plugin is open: its tasks are dropped by the shutdown with the
 * library still loaded, fini is not called; the later close calls fini and unloads. */
TEST(plugin_close_after_runtime_release) {
  luminal_runtime *rt = tu_runtime(2);
  probe_ctl *c = ctl_new();
  c->pending = 100;
  c->loopers = 4;
  luminal_plugin *p = open_probe(rt, c);
  WAIT_UNTIL(atomic_load(&c->polls) >= 104);
  luminal_runtime_release(rt); /* the last handle: shuts down */
  CHECK_EQ(atomic_load(&c->live), 0);
  CHECK_EQ(atomic_load(&c->running), 0);
  CHECK_EQ(atomic_load(&c->fini_calls), 0);
  CHECK(is_loaded(PROBE_PLUGIN_PATH));
  CHECK(luminal_plugin_scope(p) != NULL);
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_OK);
  check_closed_cleanly(c);
  CHECK_EQ(c->workers_in_fini, 0); /* host->runtime is stale by then: refused, not a crash */
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_E_INVALID_HANDLE);
  free(c);
}

/* Explicit shutdown with the plugin open, then close; and a plugin opened twice (the library is loaded once, init
 * runs per open with its own scope). */
TEST(plugin_open_twice_and_shutdown) {
  luminal_runtime *rt = tu_runtime(2);
  probe_ctl *c1 = ctl_new(), *c2 = ctl_new();
  c1->pending = c2->pending = 10;
  luminal_plugin *p1 = open_probe(rt, c1), *p2 = open_probe(rt, c2);
  CHECK(p1 != p2);
  CHECK(luminal_plugin_scope(p1) != luminal_plugin_scope(p2));
  CHECK_ST(luminal_plugin_close(p1, UINT64_MAX), LUMINAL_OK);
  CHECK_EQ(atomic_load(&c1->fini_calls), 1);
  CHECK_EQ(c1->live_at_fini, 0);
  CHECK(is_loaded(PROBE_PLUGIN_PATH)); /* the second open holds it */
  CHECK_EQ(atomic_load(&c2->live), 10);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_EQ(atomic_load(&c2->live), 0);
  CHECK_EQ(atomic_load(&c2->fini_calls), 0);
  CHECK_ST(luminal_plugin_close(p2, UINT64_MAX), LUMINAL_OK);
  check_closed_cleanly(c2);
  CHECK_EQ(c2->workers_in_fini, 2); /* shut down, but the handle is still live */
  luminal_runtime_release(rt);
  free(c1);
  free(c2);
}

/* Two threads close one plugin at once: one wins, the other finds it closed; fini runs once. */
typedef struct racer {
  luminal_plugin *p;
  atomic_int *go;
  luminal_status st;
} racer;

static void *race_close(void *arg) {
  racer *r = (racer *)arg;
  while (!atomic_load(r->go)) {
  }
  r->st = luminal_plugin_close(r->p, UINT64_MAX);
  return NULL;
}

TEST(plugin_concurrent_close) {
  luminal_runtime *rt = tu_runtime(2);
  for (int round = 0; round < 20; round++) {
    probe_ctl *c = ctl_new();
    c->pending = 20;
    c->loopers = 2;
    luminal_plugin *p = open_probe(rt, c);
    atomic_int go;
    atomic_init(&go, 0);
    racer r[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
      r[i].p = p;
      r[i].go = &go;
      r[i].st = LUMINAL_E_INTERNAL;
      CHECK(pthread_create(&th[i], NULL, race_close, &r[i]) == 0);
    }
    atomic_store(&go, 1);
    int ok = 0;
    for (int i = 0; i < 3; i++) {
      pthread_join(th[i], NULL);
      if (r[i].st == LUMINAL_OK) ok++;
      else CHECK_ST(r[i].st, LUMINAL_E_INVALID_HANDLE);
    }
    CHECK_EQ(ok, 1);
    check_closed_cleanly(c);
    free(c);
  }
  tu_runtime_done(rt);
}

/* fork(): in the child, the inherited plugin and runtime are refused (FORKED); the child's own runtime can open the
 * plugin normally; the parent's plugin is untouched. */
TEST(plugin_fork_child_refuses_inherited) {
  luminal_runtime *rt = tu_runtime(2);
  probe_ctl *c = ctl_new();
  c->pending = 5;
  luminal_plugin *p = open_probe(rt, c);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    luminal_plugin *q = NULL;
    CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_E_FORKED);
    CHECK(luminal_plugin_scope(p) == NULL);
    CHECK_ST(luminal_plugin_open(rt, PROBE_PLUGIN_PATH, c, &q), LUMINAL_E_FORKED);
    CHECK_EQ(atomic_load(&c->fini_calls), 0);
    luminal_runtime *mine = tu_runtime(1);
    probe_ctl *cc = ctl_new();
    cc->pending = 3;
    CHECK_ST(luminal_plugin_open(mine, PROBE_PLUGIN_PATH, cc, &q), LUMINAL_OK);
    cc->self = q;
    CHECK_ST(luminal_plugin_close(q, UINT64_MAX), LUMINAL_OK);
    CHECK_EQ(atomic_load(&cc->fini_calls), 1);
    CHECK_EQ(cc->live_at_fini, 0);
    tu_runtime_done(mine);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "forked child failed (status 0x%x)", status);
  CHECK_EQ(atomic_load(&c->live), 5);
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_OK);
  check_closed_cleanly(c);
  tu_runtime_done(rt);
  free(c);
}
