/*
 * THE BOUNDARY TEST: a host dlopen()s two separately built plugins (plugin_a, plugin_b), hands each the
 * luminal_runtime* it created, and joins what they spawn. Pairs of futures, one in each plugin, ping-pong values
 * through slots, waking each other with wakers cloned across the plugin boundary, for many rounds; half the pairs
 * ping from A, half from B.
 *
 *   boundary_host [PAIRS [ROUNDS]]   (plugin paths are compiled in: PLUGIN_A_PATH, PLUGIN_B_PATH)
 */
#include "boundary_iface.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                                    \
  do {                                                                                                             \
    if (!(c)) {                                                                                                    \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #c);                                              \
      exit(1);                                                                                                     \
    }                                                                                                              \
  } while (0)

typedef struct plugin {
  void *dl;
  bnd_start_fn start;
  bnd_live_fn live;
  bnd_id_fn id;
  bnd_linger_fn linger;
} plugin;

static plugin load(const char *path) {
  plugin p;
  p.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!p.dl) {
    fprintf(stderr, "dlopen(%s): %s\n", path, dlerror());
    exit(1);
  }
  p.start = (bnd_start_fn)dlsym(p.dl, "boundary_plugin_start");
  p.live = (bnd_live_fn)dlsym(p.dl, "boundary_plugin_live");
  p.id = (bnd_id_fn)dlsym(p.dl, "boundary_plugin_id");
  p.linger = (bnd_linger_fn)dlsym(p.dl, "boundary_plugin_linger");
  CHECK(p.start && p.live && p.id && p.linger);
  return p;
}

static void *host_strlen(void *s) { return (void *)(uintptr_t)strlen((const char *)s); }

static void slot_init(bnd_slot *s) {
  pthread_mutex_init(&s->mu, NULL);
  s->full = 0;
  s->value = 0;
  s->waiter = NULL;
}

int main(int argc, char **argv) {
  int pairs = argc > 1 ? atoi(argv[1]) : 16;
  uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 5000;
  CHECK(pairs > 0 && rounds > 0);

  plugin a = load(PLUGIN_A_PATH), b = load(PLUGIN_B_PATH);
  CHECK(a.id() == 'A' && b.id() == 'B');
  CHECK(a.start != b.start); /* two separate libraries */

  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = 2, .thread_name = "bnd-worker"};
  luminal_runtime *rt = NULL;
  CHECK(luminal_runtime_new(&o, &rt) == LUMINAL_OK);
  void *scope_a = NULL, *scope_b = NULL; /* one scope per plugin */
  CHECK(luminal_scope_new(rt, (luminal_scope **)&scope_a) == LUMINAL_OK);
  CHECK(luminal_scope_new(rt, (luminal_scope **)&scope_b) == LUMINAL_OK);

  bnd_pair *pr = (bnd_pair *)calloc((size_t)pairs, sizeof *pr);
  luminal_task **ping = (luminal_task **)calloc((size_t)pairs, sizeof *ping);
  luminal_task **pong = (luminal_task **)calloc((size_t)pairs, sizeof *pong);
  CHECK(pr && ping && pong);
  for (int i = 0; i < pairs; i++) {
    slot_init(&pr[i].ping_inbox);
    slot_init(&pr[i].pong_inbox);
    pr[i].rounds = rounds;
    pr[i].seed = (uint64_t)i + 1;
    plugin *pinger = (i % 2) ? &b : &a, *ponger = (i % 2) ? &a : &b;
    void *ping_scope = (i % 2) ? scope_b : scope_a, *pong_scope = (i % 2) ? scope_a : scope_b;
    /* start the ponger first for some pairs and the pinger first for others */
    if (i % 4 < 2) {
      CHECK(ponger->start(rt, pong_scope, &pr[i], BND_ROLE_PONG, &pong[i]) == LUMINAL_OK);
      CHECK(pinger->start(rt, ping_scope, &pr[i], BND_ROLE_PING, &ping[i]) == LUMINAL_OK);
    } else {
      CHECK(pinger->start(rt, ping_scope, &pr[i], BND_ROLE_PING, &ping[i]) == LUMINAL_OK);
      CHECK(ponger->start(rt, pong_scope, &pr[i], BND_ROLE_PONG, &pong[i]) == LUMINAL_OK);
    }
  }

  uint64_t total = 0;
  for (int i = 0; i < pairs; i++) {
    void *out = NULL;
    luminal_status st = luminal_task_join(ping[i], UINT64_MAX, &out);
    if (st != LUMINAL_OK) {
      fprintf(stderr, "pair %d: ping join: %s\n", i, luminal_status_str(st));
      return 1;
    }
    uint64_t expect = 0;
    for (uint64_t r = 0; r < rounds; r++) expect += BND_REPLY(BND_SEND(pr[i].seed, r));
    if ((uint64_t)(uintptr_t)out != expect) {
      fprintf(stderr, "pair %d: sum %llu, expected %llu\n", i, (unsigned long long)(uintptr_t)out,
              (unsigned long long)expect);
      return 1;
    }
    total += expect;
    st = luminal_task_join(pong[i], UINT64_MAX, &out);
    CHECK(st == LUMINAL_OK);
    CHECK((uint64_t)(uintptr_t)out == rounds);
    luminal_task_release(ping[i]);
    luminal_task_release(pong[i]);
  }

  /* The plugin-unload guarantee: leave tasks in flight in both plugins (waiting, and finished with unclaimed
   * outputs), close each plugin's scope, and unload the plugins while the runtime keeps running. */
  bnd_slot linger_slot_a, linger_slot_b;
  slot_init(&linger_slot_a);
  slot_init(&linger_slot_b);
  CHECK(a.linger(rt, scope_a, &linger_slot_a, 100) == LUMINAL_OK);
  CHECK(b.linger(rt, scope_b, &linger_slot_b, 100) == LUMINAL_OK);
  while (1) { /* wait until some of them are parked on their slots */
    pthread_mutex_lock(&linger_slot_a.mu);
    int ready = linger_slot_a.waiter != NULL;
    pthread_mutex_unlock(&linger_slot_a.mu);
    if (ready) break;
    sched_yield();
  }
  CHECK(luminal_scope_close((luminal_scope *)scope_a, UINT64_MAX) == LUMINAL_OK);
  CHECK(luminal_scope_close((luminal_scope *)scope_b, UINT64_MAX) == LUMINAL_OK);
  luminal_scope_counters sc;
  memset(&sc, 0, sizeof sc);
  sc.struct_size = sizeof sc;
  CHECK(luminal_scope_stats((luminal_scope *)scope_a, &sc) == LUMINAL_OK);
  CHECK(sc.live == 0);
  CHECK(sc.spawned == (uint64_t)(2 * pairs + 100)); /* drivers + role futures + lingerers */
  if (a.live() != 0 || b.live() != 0) {
    fprintf(stderr, "after scope close: plugin A %ld, plugin B %ld futures/outputs alive\n", a.live(), b.live());
    return 1;
  }
  luminal_scope_release((luminal_scope *)scope_a);
  luminal_scope_release((luminal_scope *)scope_b);
  dlclose(a.dl);
  dlclose(b.dl);
  a.dl = b.dl = NULL;
  /* wakers of the unloaded plugins' tasks stay valid to call and do nothing */
  luminal_waker_wake(linger_slot_a.waiter);
  luminal_waker_wake_by_ref(linger_slot_b.waiter);
  luminal_waker_release(linger_slot_b.waiter);
  /* the runtime is unaffected */
  luminal_task *after = NULL;
  CHECK(luminal_spawn_fn(rt, host_strlen, (void *)"still running", &after) == LUMINAL_OK);
  void *len = NULL;
  CHECK(luminal_task_join(after, UINT64_MAX, &len) == LUMINAL_OK && (uintptr_t)len == 13);
  luminal_task_release(after);

  /* Plugins' drop functions must all have run before their code is unloaded: shut down first (a no-op for
   * plugins already unloaded after closing their scopes). */
  CHECK(luminal_runtime_shutdown(rt, UINT64_MAX) == LUMINAL_OK);
  if (a.dl && (a.live() != 0 || b.live() != 0)) {
    fprintf(stderr, "futures not dropped: plugin A %ld, plugin B %ld\n", a.live(), b.live());
    return 1;
  }
  luminal_runtime_release(rt);
  for (int i = 0; i < pairs; i++) {
    CHECK(!pr[i].ping_inbox.full && !pr[i].pong_inbox.full);
    luminal_waker_release(pr[i].ping_inbox.waiter); /* stale or NULL by now: ignored */
    luminal_waker_release(pr[i].pong_inbox.waiter);
    pthread_mutex_destroy(&pr[i].ping_inbox.mu);
    pthread_mutex_destroy(&pr[i].pong_inbox.mu);
  }
  if (a.dl) dlclose(a.dl);
  if (b.dl) dlclose(b.dl);
  free(pr);
  free(ping);
  free(pong);
  printf("boundary: %d pairs x %llu rounds across plugin A and B: ok (checksum %llu)\n", pairs,
         (unsigned long long)rounds, (unsigned long long)total);
  return 0;
}
