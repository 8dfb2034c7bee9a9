/*
 * THE BOUNDARY TEST: a host opens two separately built plugins (plugin_a, plugin_b) with luminal_plugin_open (each
 * gets the host's runtime and a scope of its own; luminal_plugin.h), and joins what they spawn. Pairs of futures, one in each plugin, ping-pong values
 * through slots, waking each other with wakers cloned across the plugin boundary, for many rounds; half the pairs
 * ping from A, half from B. At the end each plugin is closed with tasks in flight (luminal_plugin_close: scope
 * drained, fini, unload) while the runtime keeps running.
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

static int is_loaded(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != NULL;
}

static luminal_plugin *open_plugin(luminal_runtime *rt, const char *path, bnd_link *l) {
  memset(l, 0, sizeof *l);
  luminal_plugin *p = NULL;
  luminal_status st = luminal_plugin_open(rt, path, l, &p);
  if (st != LUMINAL_OK) {
    fprintf(stderr, "luminal_plugin_open(%s): %s\n", path, luminal_status_str(st));
    exit(1);
  }
  CHECK(l->start && l->linger && l->live && l->host);
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

  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = 2, .thread_name = "bnd-worker"};
  luminal_runtime *rt = NULL;
  CHECK(luminal_runtime_new(&o, &rt) == LUMINAL_OK);
  bnd_link a, b; /* each plugin's host_data, filled in by its init */
  luminal_plugin *pa = open_plugin(rt, PLUGIN_A_PATH, &a), *pb = open_plugin(rt, PLUGIN_B_PATH, &b);
  CHECK(a.id == 'A' && b.id == 'B');
  CHECK(a.start != b.start); /* two separate libraries */
  CHECK(a.host->scope == luminal_plugin_scope(pa) && b.host->scope == luminal_plugin_scope(pb));

  bnd_pair *pr = (bnd_pair *)calloc((size_t)pairs, sizeof *pr);
  luminal_task **ping = (luminal_task **)calloc((size_t)pairs, sizeof *ping);
  luminal_task **pong = (luminal_task **)calloc((size_t)pairs, sizeof *pong);
  CHECK(pr && ping && pong);
  for (int i = 0; i < pairs; i++) {
    slot_init(&pr[i].ping_inbox);
    slot_init(&pr[i].pong_inbox);
    pr[i].rounds = rounds;
    pr[i].seed = (uint64_t)i + 1;
    bnd_link *pinger = (i % 2) ? &b : &a, *ponger = (i % 2) ? &a : &b;
    /* start the ponger first for some pairs and the pinger first for others */
    if (i % 4 < 2) {
      CHECK(ponger->start(ponger, &pr[i], BND_ROLE_PONG, &pong[i]) == LUMINAL_OK);
      CHECK(pinger->start(pinger, &pr[i], BND_ROLE_PING, &ping[i]) == LUMINAL_OK);
    } else {
      CHECK(pinger->start(pinger, &pr[i], BND_ROLE_PING, &ping[i]) == LUMINAL_OK);
      CHECK(ponger->start(ponger, &pr[i], BND_ROLE_PONG, &pong[i]) == LUMINAL_OK);
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
   * outputs), and close each plugin (scope drained, fini, unload) while the runtime keeps running. */
  bnd_slot linger_slot_a, linger_slot_b;
  slot_init(&linger_slot_a);
  slot_init(&linger_slot_b);
  CHECK(a.linger(&a, &linger_slot_a, 100) == LUMINAL_OK);
  CHECK(b.linger(&b, &linger_slot_b, 100) == LUMINAL_OK);
  while (1) { /* wait until some of them are parked on their slots */
    pthread_mutex_lock(&linger_slot_a.mu);
    int ready = linger_slot_a.waiter != NULL;
    pthread_mutex_unlock(&linger_slot_a.mu);
    if (ready) break;
    sched_yield();
  }
  CHECK(a.live() > 0 && b.live() > 0);
  CHECK(luminal_plugin_close(pa, UINT64_MAX) == LUMINAL_OK);
  CHECK(luminal_plugin_close(pb, UINT64_MAX) == LUMINAL_OK);
  CHECK(luminal_plugin_close(pa, UINT64_MAX) == LUMINAL_E_INVALID_HANDLE); /* closed once */
  CHECK(a.fini_calls == 1 && b.fini_calls == 1);
  CHECK(a.scope_at_fini.live == 0 && b.scope_at_fini.live == 0);
  CHECK(a.scope_at_fini.spawned == (uint64_t)(2 * pairs + 100)); /* drivers + role futures + lingerers */
  if (a.live_at_fini != 0 || b.live_at_fini != 0) {
    fprintf(stderr, "at fini: plugin A %ld, plugin B %ld futures/outputs alive\n", a.live_at_fini, b.live_at_fini);
    return 1;
  }
  CHECK(!is_loaded(PLUGIN_A_PATH) && !is_loaded(PLUGIN_B_PATH));
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

  CHECK(luminal_runtime_shutdown(rt, UINT64_MAX) == LUMINAL_OK);
  luminal_runtime_release(rt);
  for (int i = 0; i < pairs; i++) {
    CHECK(!pr[i].ping_inbox.full && !pr[i].pong_inbox.full);
    luminal_waker_release(pr[i].ping_inbox.waiter); /* stale or NULL by now: ignored */
    luminal_waker_release(pr[i].pong_inbox.waiter);
    pthread_mutex_destroy(&pr[i].ping_inbox.mu);
    pthread_mutex_destroy(&pr[i].pong_inbox.mu);
  }
  free(pr);
  free(ping);
  free(pong);
  printf("boundary: %d pairs x %llu rounds across plugin A and B: ok (checksum %llu)\n", pairs,
         (unsigned long long)rounds, (unsigned long long)total);
  return 0;
}
