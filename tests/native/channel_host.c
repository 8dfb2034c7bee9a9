/*
 * THE CHANNEL BOUNDARY TEST: a host creates a channel (and owns its drop_message), opens two separately built
 * plugins (channel_plugin_a, channel_plugin_b) with luminal_plugin_open and hands each a borrowed luminal_sender*;
 * each plugin spawns tasks on the host's runtime, into the scope luminal_plugin_open made for it, that send messages (try_send first half the time, else a send
 * future that waits on the bounded channel). The host receives every message exactly once, in order per task, then
 * sees CLOSED when every plugin's sender is gone.
 * Round 2, closing: the same with the host releasing the receiver after a part of the messages: every message a
 * plugin made is received or dropped exactly once by the host's drop_message (queued ones at the release, refused
 * sends in their future). Then both plugins are closed (luminal_plugin_close: scope drained, fini, unload) while the
 * runtime runs on.
 *
 *   channel_host [TASKS_PER_PLUGIN [MESSAGES_PER_TASK]]   (plugin paths compiled in: PLUGIN_A_PATH, PLUGIN_B_PATH)
 */
#include "channel_iface.h"

#include <stdatomic.h>
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

static luminal_plugin *open_plugin(luminal_runtime *rt, const char *path, chan_link *l) {
  memset(l, 0, sizeof *l);
  luminal_plugin *p = NULL;
  luminal_status st = luminal_plugin_open(rt, path, l, &p);
  if (st != LUMINAL_OK) {
    fprintf(stderr, "luminal_plugin_open(%s): %s\n", path, luminal_status_str(st));
    exit(1);
  }
  CHECK(l->start && l->made && l->live);
  return p;
}

static atomic_ulong g_dropped;

/* The host's drop_message: runs for every message never received, exactly once. */
static void drop_msg(void *m) {
  CHECK(m != NULL);
  atomic_fetch_add(&g_dropped, 1);
  free(m);
}

/* Receives one message: try_recv, else a recv future run with block_on. Returns the status (OK or CLOSED). */
static luminal_status recv_one(luminal_runtime *rt, luminal_receiver *rx, chan_msg **out) {
  void *msg = NULL;
  luminal_status st = luminal_channel_try_recv(rx, &msg);
  if (st == LUMINAL_E_EMPTY) {
    luminal_status res = LUMINAL_E_INTERNAL;
    luminal_future f;
    CHECK(luminal_channel_recv(rx, &msg, &res, &f) == LUMINAL_OK);
    void *output = (void *)1;
    CHECK(luminal_block_on(rt, f, &output) == LUMINAL_OK);
    CHECK(output == NULL); /* the sync futures' own output is NULL */
    st = res;
  }
  CHECK(st == LUMINAL_OK || st == LUMINAL_E_CLOSED);
  CHECK((st == LUMINAL_OK) == (msg != NULL));
  *out = (chan_msg *)msg;
  return st;
}

int main(int argc, char **argv) {
  uint32_t tasks = argc > 1 ? (uint32_t)atoi(argv[1]) : 4;
  uint64_t per = argc > 2 ? strtoull(argv[2], NULL, 10) : 5000;
  CHECK(tasks > 0 && per > 0);

  luminal_runtime_options o = {.struct_size = sizeof o, .worker_threads = 2, .thread_name = "chan-worker"};
  luminal_runtime *rt = NULL;
  CHECK(luminal_runtime_new(&o, &rt) == LUMINAL_OK);
  chan_link a, b; /* each plugin's host_data, filled in by its init */
  luminal_plugin *pa = open_plugin(rt, PLUGIN_A_PATH, &a), *pb = open_plugin(rt, PLUGIN_B_PATH, &b);
  CHECK(a.start != b.start); /* two separate libraries */
  chan_link *pl[2] = {&a, &b};

  /* ---- round 1: every message received exactly once, in order per sending task ---- */
  luminal_channel_options co = {.struct_size = sizeof co, .capacity = 64, .drop_message = drop_msg};
  luminal_sender *tx = NULL;
  luminal_receiver *rx = NULL;
  CHECK(luminal_channel_new(rt, &co, &tx, &rx) == LUMINAL_OK);
  for (int i = 0; i < 2; i++) CHECK(pl[i]->start(pl[i], tx, tasks, per) == LUMINAL_OK);
  luminal_sender_release(tx); /* the plugins hold their own clones */

  uint64_t *next = calloc(2 * (size_t)tasks, sizeof *next);
  CHECK(next != NULL);
  uint64_t received = 0;
  chan_msg *m = NULL;
  while (recv_one(rt, rx, &m) == LUMINAL_OK) {
    CHECK(m->plugin == 'A' || m->plugin == 'B');
    CHECK(m->task < tasks);
    uint64_t *n = &next[(m->plugin - 'A') * tasks + m->task];
    CHECK(m->seq == *n); /* in order, none lost, none twice */
    (*n)++;
    received++;
    free(m);
  }
  CHECK(received == 2 * (uint64_t)tasks * per);
  for (size_t i = 0; i < 2 * (size_t)tasks; i++) CHECK(next[i] == per);
  CHECK(a.made() == (uint64_t)tasks * per && b.made() == (uint64_t)tasks * per);
  CHECK(atomic_load(&g_dropped) == 0);
  CHECK(luminal_channel_try_recv(rx, (void **)&m) == LUMINAL_E_CLOSED);
  luminal_receiver_release(rx);
  /* each plugin reports over a oneshot the host made (its sender crosses the boundary, taken by the plugin) */
  for (int i = 0; i < 2; i++) {
    luminal_oneshot_sender *otx;
    luminal_oneshot_receiver *orx;
    CHECK(luminal_oneshot_new(rt, NULL, &otx, &orx) == LUMINAL_OK);
    CHECK(pl[i]->report(pl[i], otx) == LUMINAL_OK);
    void *got = NULL, *output = (void *)1;
    luminal_status res = LUMINAL_PENDING;
    luminal_future f;
    CHECK(luminal_oneshot_recv(orx, &got, &res, &f) == LUMINAL_OK);
    CHECK(luminal_block_on(rt, f, &output) == LUMINAL_OK && output == NULL);
    CHECK(res == LUMINAL_OK && (uintptr_t)got == (uintptr_t)tasks * per + 1);
    luminal_oneshot_receiver_release(orx);
  }

  /* ---- round 2: the host stops receiving half-way and releases the receiver ---- */
  uint64_t made_before = a.made() + b.made();
  co.capacity = 16;
  CHECK(luminal_channel_new(rt, &co, &tx, &rx) == LUMINAL_OK);
  for (int i = 0; i < 2; i++) CHECK(pl[i]->start(pl[i], tx, tasks, per) == LUMINAL_OK);
  luminal_sender_release(tx);
  uint64_t got2 = 0;
  while (got2 < (uint64_t)tasks * per / 2 && recv_one(rt, rx, &m) == LUMINAL_OK) {
    free(m);
    got2++;
  }
  luminal_receiver_release(rx); /* queued messages dropped now; waiting sends fail with CLOSED */

  /* Closing the plugins waits until no code of their tasks runs (then fini, then the unload): then every message
   * is accounted for. */
  CHECK(luminal_plugin_close(pa, UINT64_MAX) == LUMINAL_OK);
  CHECK(luminal_plugin_close(pb, UINT64_MAX) == LUMINAL_OK);
  CHECK(a.fini_calls == 1 && b.fini_calls == 1);
  CHECK(a.live_at_fini == 0 && b.live_at_fini == 0);
  uint64_t made2 = a.made_at_fini + b.made_at_fini - made_before;
  uint64_t dropped = atomic_load(&g_dropped);
  if (got2 + dropped != made2) {
    fprintf(stderr, "round 2: made %llu, received %llu + dropped %llu\n", (unsigned long long)made2,
            (unsigned long long)got2, (unsigned long long)dropped);
    return 1;
  }
  /* The senders did stop at CLOSED: at most half was received, 16 queued and one send per task waiting. */
  if (per >= 16) CHECK(made2 <= (uint64_t)tasks * per / 2 + 16 + 2 * (uint64_t)tasks);

  /* the runtime and its channels are unaffected by the unload */
  CHECK(luminal_channel_new(rt, &co, &tx, &rx) == LUMINAL_OK);
  int *x = malloc(sizeof *x);
  CHECK(x != NULL);
  CHECK(luminal_channel_try_send(tx, x) == LUMINAL_OK);
  luminal_sender_release(tx);
  CHECK(recv_one(rt, rx, &m) == LUMINAL_OK && (void *)m == (void *)x);
  free(x);
  CHECK(recv_one(rt, rx, &m) == LUMINAL_E_CLOSED);
  luminal_receiver_release(rx);

  CHECK(luminal_runtime_shutdown(rt, UINT64_MAX) == LUMINAL_OK);
  luminal_runtime_release(rt);
  free(next);
  printf("channel boundary: 2 plugins x %u tasks x %llu messages: ok; round 2: %llu received, %llu dropped\n", tasks,
         (unsigned long long)per, (unsigned long long)got2, (unsigned long long)dropped);
  return 0;
}
