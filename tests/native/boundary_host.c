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
  CHECK(p.start && p.live && p.id);
  return p;
}

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

  luminal_runtime_options o = {sizeof o, 2, "bnd-worker"};
  luminal_runtime *rt = NULL;
  CHECK(luminal_runtime_new(&o, &rt) == LUMINAL_OK);

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
    /* start the ponger first for some pairs and the pinger first for others */
    if (i % 4 < 2) {
      CHECK(ponger->start(rt, &pr[i], BND_ROLE_PONG, &pong[i]) == LUMINAL_OK);
      CHECK(pinger->start(rt, &pr[i], BND_ROLE_PING, &ping[i]) == LUMINAL_OK);
    } else {
      CHECK(pinger->start(rt, &pr[i], BND_ROLE_PING, &ping[i]) == LUMINAL_OK);
      CHECK(ponger->start(rt, &pr[i], BND_ROLE_PONG, &pong[i]) == LUMINAL_OK);
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

  /* Plugins' drop functions must all have run before their code is unloaded: shut down first. */
  CHECK(luminal_runtime_shutdown(rt, UINT64_MAX) == LUMINAL_OK);
  if (a.live() != 0 || b.live() != 0) {
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
  dlclose(a.dl);
  dlclose(b.dl);
  free(pr);
  free(ping);
  free(pong);
  printf("boundary: %d pairs x %llu rounds across plugin A and B: ok (checksum %llu)\n", pairs,
         (unsigned long long)rounds, (unsigned long long)total);
  return 0;
}
