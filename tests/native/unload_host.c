/*
 * THE UNLOAD TEST: a host opens two plugins, X and Y, with luminal_plugin_open (luminal_plugin.h) onto one runtime;
 * each gets a scope of its own.
 *   - Y keeps working: timer loops (sleeps, timeouts that fire and that don't) and a ping-pong pair.
 *   - X spawns N pending tasks into its scope: sleeping an hour, or waiting on wakers X handed to the host through
 *     a host callback, or looping on 1 ms sleeps (so polls are running when the scope closes).
 *   - The host closes X with luminal_plugin_close (LUMINAL_OK; at X's fini: scope live 0, cancelled N, no future
 *     alive, a spawn into the closed scope refused) and checks X is really unmapped, then calls every waker it held
 *     (no-ops: X's code is gone, any poll would crash), then checks Y still works, stops Y, joins it and closes Y
 *     too.
 *
 *   unload_host [N]   (default 10000; plugin paths are compiled in: UNL_PLUGIN_X_PATH, UNL_PLUGIN_Y_PATH)
 */
#include "unload_iface.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(c)                                                                                                    \
  do {                                                                                                             \
    if (!(c)) {                                                                                                    \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #c);                                              \
      fflush(stderr);                                                                                              \
      exit(1);                                                                                                     \
    }                                                                                                              \
  } while (0)

#define CHECK_ST(expr, expected)                                                                                    \
  do {                                                                                                             \
    luminal_status _s = (expr);                                                                                    \
    if (_s != (expected)) {                                                                                        \
      fprintf(stderr, "%s:%d: FAILED: %s returned %s, expected %s\n", __FILE__, __LINE__, #expr,                   \
              luminal_status_str(_s), luminal_status_str(expected));                                               \
      exit(1);                                                                                                     \
    }                                                                                                              \
  } while (0)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Waits (1 ms steps) until cond holds; fails after 120 s (valgrind is slow; a correct run takes far less). */
#define WAIT_FOR(cond)                                                                                              \
  do {                                                                                                             \
    uint64_t _dl = now_ns() + 120ull * 1000000000ull;                                                              \
    while (!(cond)) {                                                                                              \
      if (now_ns() > _dl) {                                                                                        \
        fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__, #cond);                           \
        exit(1);                                                                                                   \
      }                                                                                                            \
      sleep_ms(1);                                                                                                 \
    }                                                                                                              \
  } while (0)

static int is_loaded(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != NULL;
}

static luminal_plugin *open_plugin(luminal_runtime *rt, const char *path, unl_host *h, unl_link *l) {
  CHECK(!is_loaded(path)); /* not loaded yet */
  memset(l, 0, sizeof *l);
  l->h = h;
  luminal_plugin *p = NULL;
  luminal_status st = luminal_plugin_open(rt, path, l, &p);
  if (st != LUMINAL_OK) {
    fprintf(stderr, "luminal_plugin_open(%s): %s\n", path, luminal_status_str(st));
    exit(1);
  }
  CHECK(l->spawn_pending && l->start_work && l->live && l->polls && l->host);
  return p;
}

/* luminal_plugin_close()s the plugin and checks that it is really gone: not loadable with RTLD_NOLOAD, and no
 * loaded object contains its code any more. */
static void close_plugin(luminal_plugin *p, const char *path, unl_link *l) {
  void *code = (void *)l->polls;
  Dl_info info;
  CHECK(dladdr(code, &info) != 0); /* mapped now */
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_OK);
  CHECK(l->fini_calls == 1);
  CHECK_ST(luminal_plugin_close(p, UINT64_MAX), LUMINAL_E_INVALID_HANDLE);
  if (is_loaded(path)) {
    fprintf(stderr, "%s is still loaded after luminal_plugin_close\n", path);
    exit(1);
  }
  if (dladdr(code, &info) != 0) {
    fprintf(stderr, "%s: its code is still mapped (in %s) after luminal_plugin_close\n", path,
            info.dli_fname ? info.dli_fname : "?");
    exit(1);
  }
}

/* ---- the host's side of the waker hand-over ---- */

typedef struct held {
  pthread_mutex_t mu;
  luminal_waker **w;
  size_t n, cap;
} held;

static void hold_waker(unl_host *h, luminal_waker *w) {
  held *hd = (held *)h->impl;
  pthread_mutex_lock(&hd->mu);
  if (hd->n == hd->cap) {
    hd->cap = hd->cap ? hd->cap * 2 : 1024;
    hd->w = (luminal_waker **)realloc(hd->w, hd->cap * sizeof *hd->w);
    CHECK(hd->w != NULL);
  }
  hd->w[hd->n++] = w;
  pthread_mutex_unlock(&hd->mu);
}

static size_t held_count(held *hd) {
  pthread_mutex_lock(&hd->mu);
  size_t n = hd->n;
  pthread_mutex_unlock(&hd->mu);
  return n;
}

static luminal_scope_counters stats(luminal_scope *s) {
  luminal_scope_counters c;
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  CHECK_ST(luminal_scope_stats(s, &c), LUMINAL_OK);
  return c;
}

static atomic_int g_host_drops;
static luminal_status g_spawn_at_fini[2] = {LUMINAL_E_INTERNAL, LUMINAL_E_INTERNAL};
static luminal_poll host_never(void *s, luminal_context *cx, void **out) {
  (void)s, (void)cx, (void)out;
  return LUMINAL_POLL_PENDING;
}
static void host_drop(void *s) {
  (void)s;
  atomic_fetch_add(&g_host_drops, 1);
}
static void *host_strlen(void *s) { return (void *)(uintptr_t)strlen((const char *)s); }

/* Each plugin's fini calls this: its scope is closed, so a spawn into it is refused and its future dropped. */
static void at_fini(unl_host *h, unl_link *l) {
  (void)h;
  luminal_spawn_options so;
  memset(&so, 0, sizeof so);
  so.struct_size = sizeof so;
  so.scope = l->host->scope;
  luminal_future never = {NULL, host_never, host_drop, NULL};
  g_spawn_at_fini[l->id == 'Y'] = luminal_spawn_with(l->host->runtime, never, &so, NULL);
}

enum { LOOPERS = 4 };

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  CHECK(n > 0);
  long waiters = 0;
  for (int i = 0; i < n; i++) waiters += UNL_IS_WAITER(i);

  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 2;
  o.thread_name = "unl-worker";
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);

  held hd;
  memset(&hd, 0, sizeof hd);
  pthread_mutex_init(&hd.mu, NULL);
  unl_host h;
  memset(&h, 0, sizeof h);
  h.hold_waker = hold_waker;
  atomic_init(&h.stop, 0);
  atomic_init(&h.y_ticks, 0);
  h.impl = &hd;
  h.at_fini = at_fini;

  unl_link x, y;
  luminal_plugin *px = open_plugin(rt, UNL_PLUGIN_X_PATH, &h, &x);
  luminal_plugin *py = open_plugin(rt, UNL_PLUGIN_Y_PATH, &h, &y);
  CHECK(x.id == 'X' && y.id == 'Y');
  CHECK((void *)x.polls != (void *)y.polls); /* two separate libraries */

  /* Y starts working */
  luminal_task *yt[LOOPERS + 2];
  CHECK_ST(y.start_work(&y, LOOPERS, yt), LUMINAL_OK);
  WAIT_FOR(atomic_load(&h.y_ticks) >= 20);
  printf("plugin Y: %d timer loops and a ping-pong pair running\n", LOOPERS);

  /* X parks n tasks in its scope */
  uint64_t t0 = now_ns();
  CHECK_ST(x.spawn_pending(&x, n), LUMINAL_OK);
  WAIT_FOR(x.parked() == n);
  WAIT_FOR(held_count(&hd) == (size_t)waiters);
  luminal_scope_counters c = stats(luminal_plugin_scope(px));
  CHECK(c.spawned == (uint64_t)n && c.live == (uint64_t)n && c.completed == 0 && c.cancelled == 0);
  CHECK(x.live() == n);
  printf("plugin X: %d tasks pending in its scope after %.1f ms (%ld holding wakers the host has)\n", n,
         (now_ns() - t0) / 1e6, waiters);

  /* the held wakers work while X is loaded: each wake causes a poll of X's code */
  long re0 = x.repolls();
  for (size_t i = 0; i < hd.n; i += 100) luminal_waker_wake_by_ref(hd.w[i]);
  long woken = (long)((hd.n + 99) / 100);
  WAIT_FOR(x.repolls() >= re0 + woken);

  /* close X while Y runs: its scope is drained, then its fini runs, then it is unloaded */
  long yticks0 = atomic_load(&h.y_ticks);
  uint64_t c0 = now_ns();
  close_plugin(px, UNL_PLUGIN_X_PATH, &x);
  uint64_t c1 = now_ns();
  c = x.scope_at_fini;
  if (c.live != 0 || c.cancelled != (uint64_t)n || c.completed != 0 || c.spawned != (uint64_t)n) {
    fprintf(stderr, "X's scope at fini: live %llu, spawned %llu, completed %llu, cancelled %llu (expected 0, %d, "
                    "0, %d)\n",
            (unsigned long long)c.live, (unsigned long long)c.spawned, (unsigned long long)c.completed,
            (unsigned long long)c.cancelled, n, n);
    return 1;
  }
  if (x.live_at_fini != 0) {
    fprintf(stderr, "at X's fini, %ld of X's futures were not dropped\n", x.live_at_fini);
    return 1;
  }
  /* a spawn into the closed scope (made from X's fini) was refused, and its future dropped */
  CHECK_ST(g_spawn_at_fini[0], LUMINAL_E_SHUTDOWN);
  CHECK(atomic_load(&g_host_drops) == 1);
  printf("closed X in %.1f ms (scope drained: live 0, cancelled %llu; fini; unloaded: dlopen RTLD_NOLOAD finds "
         "nothing, dladdr: its code is unmapped); X made %ld polls\n",
         (c1 - c0) / 1e6, (unsigned long long)c.cancelled, x.polls_at_fini);

  /* every waker the host held: no-ops now (a poll would jump into unmapped code) */
  for (size_t i = 0; i < hd.n; i++) luminal_waker_wake_by_ref(hd.w[i]);
  for (size_t i = 0; i < hd.n; i++) {
    luminal_waker *cl = luminal_waker_clone(hd.w[i]);
    if (i % 2) luminal_waker_wake(cl);
    else luminal_waker_release(cl);
  }
  for (size_t i = 0; i < hd.n; i++) {
    if (i % 2) luminal_waker_wake(hd.w[i]);
    else luminal_waker_release(hd.w[i]);
  }
  printf("called all %zu held wakers of X's tasks: no-ops\n", hd.n);

  /* Y still works: its timers keep firing and the pair keeps ping-ponging */
  long yticks1 = atomic_load(&h.y_ticks);
  WAIT_FOR(atomic_load(&h.y_ticks) >= yticks1 + 30);
  atomic_store(&h.stop, 1);
  uint64_t iters = 0, rounds_ping = 0, rounds_pong = 0;
  for (int i = 0; i < LOOPERS + 2; i++) {
    void *out = NULL;
    CHECK_ST(luminal_task_join(yt[i], UINT64_MAX, &out), LUMINAL_OK);
    if (i < LOOPERS) iters += (uint64_t)(uintptr_t)out;
    else if (i == LOOPERS) rounds_ping = (uint64_t)(uintptr_t)out;
    else rounds_pong = (uint64_t)(uintptr_t)out;
    luminal_task_release(yt[i]);
  }
  CHECK(iters == (uint64_t)atomic_load(&h.y_ticks));
  CHECK(rounds_ping == rounds_pong && rounds_ping > 0);
  printf("plugin Y: %llu timer iterations (%ld while X was closed and unloaded), %llu ping-pong rounds; finished\n",
         (unsigned long long)iters, (long)(atomic_load(&h.y_ticks) - yticks0), (unsigned long long)rounds_ping);

  /* close Y (all finished: nothing cancelled) */
  close_plugin(py, UNL_PLUGIN_Y_PATH, &y);
  c = y.scope_at_fini;
  CHECK(c.live == 0 && c.spawned == LOOPERS + 2 && c.completed == LOOPERS + 2 && c.cancelled == 0);
  if (y.live_at_fini != 0) {
    fprintf(stderr, "at Y's fini, %ld of Y's futures were not dropped\n", y.live_at_fini);
    return 1;
  }
  CHECK_ST(g_spawn_at_fini[1], LUMINAL_E_SHUTDOWN);
  CHECK(atomic_load(&g_host_drops) == 2);
  printf("closed Y and unloaded it\n");

  /* the runtime is unaffected */
  luminal_task *after = NULL;
  CHECK_ST(luminal_spawn_fn(rt, host_strlen, (void *)"still running", &after), LUMINAL_OK);
  void *len = NULL;
  CHECK_ST(luminal_task_join(after, UINT64_MAX, &len), LUMINAL_OK);
  CHECK((uintptr_t)len == 13);
  luminal_task_release(after);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  luminal_runtime_release(rt);
  free(hd.w);
  pthread_mutex_destroy(&hd.mu);
  printf("unload: ok\n");
  return 0;
}
