/*
 * The C plugin: its player receives n from its inbox and answers n + 1, `rounds` times. It waits by leaving its
 * task's luminal waker in the mailbox; the Rust plugin's send (through the host) wakes it.
 */
#include <stdint.h>
#include <stdlib.h>
#include "plugin_api.h"

typedef struct player {
  lx_host_api host; /* copied: the host's api struct is borrowed only during lx_plugin_start */
  lx_mailbox *inbox, *outbox;
  uint64_t rounds, done, checksum;
} player;

static luminal_poll player_poll(void *state, luminal_context *cx, void **output) {
  player *p = state;
  while (p->done < p->rounds) {
    uint64_t v;
    if (!p->host.mailbox_recv(p->inbox, luminal_context_waker(cx), &v)) return LUMINAL_POLL_PENDING;
    p->checksum += v;
    p->done++;
    p->host.mailbox_send(p->outbox, v + 1);
  }
  *output = (void *)(uintptr_t)p->checksum;
  return LUMINAL_POLL_READY;
}

static void player_drop(void *state) { free(state); }

__attribute__((visibility("default"))) const char *lx_plugin_name(void) { return "c_plugin"; }

__attribute__((visibility("default"))) luminal_status lx_plugin_start(const lx_host_api *host, lx_mailbox *inbox,
                                                                     lx_mailbox *outbox, uint64_t rounds,
                                                                     luminal_task **out) {
  if (!host || host->struct_size < sizeof(lx_host_api)) return LUMINAL_E_INVALID_ARGUMENT;
  player *p = calloc(1, sizeof *p);
  if (!p) return LUMINAL_E_NO_MEMORY;
  p->host = *host;
  p->inbox = inbox;
  p->outbox = outbox;
  p->rounds = rounds;
  luminal_future f = {.state = p, .poll = player_poll, .drop = player_drop, .drop_output = NULL};
  return luminal_spawn(host->runtime, f, out);
}
