/* The probe plugin of test_plugins.c: implements luminal_plugin.h, driven by the probe_ctl the host passes as
 * host_data (see plugin_probe.h). Every poll and drop counts itself in and out of ctl->running, so fini can record
 * whether any call of the plugin's tasks was still running when it was called. */
#include "plugin_probe.h"

#include <luminal_plugin.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct probe {
  probe_ctl *ctl;
  const luminal_plugin_host *host;
} probe;

enum { K_PENDING, K_LOOPER, K_BLOCKER };

typedef struct task_state {
  probe_ctl *ctl;
  int kind;
  int have_sleep;
  luminal_future sleep;
} task_state;

static void nap_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static luminal_poll task_poll(void *p, luminal_context *cx, void **out) {
  (void)out;
  task_state *s = (task_state *)p;
  atomic_fetch_add(&s->ctl->running, 1);
  atomic_fetch_add(&s->ctl->polls, 1);
  if (s->kind == K_LOOPER) {
    for (;;) {
      if (!s->have_sleep) {
        if (luminal_sleep(luminal_context_runtime(cx), 1000000ull, &s->sleep) != LUMINAL_OK) break;
        s->have_sleep = 1;
      }
      void *o = NULL;
      if (s->sleep.poll(s->sleep.state, cx, &o) == LUMINAL_POLL_PENDING) break;
      s->sleep.drop(s->sleep.state);
      s->have_sleep = 0;
    }
  } else if (s->kind == K_BLOCKER) {
    atomic_store(&s->ctl->blocker_in_poll, 1);
    while (!atomic_load(&s->ctl->release)) nap_ms(1);
    nap_ms(20); /* still inside the plugin's code for a while after the release */
    atomic_store(&s->ctl->blocker_in_poll, 0);
  }
  /* K_PENDING: nobody will wake it */
  atomic_fetch_sub(&s->ctl->running, 1);
  return LUMINAL_POLL_PENDING;
}

static void task_drop(void *p) {
  task_state *s = (task_state *)p;
  probe_ctl *ctl = s->ctl;
  atomic_fetch_add(&ctl->running, 1);
  if (s->have_sleep) s->sleep.drop(s->sleep.state);
  nap_ms(s->kind == K_LOOPER ? 2 : 0); /* a drop that takes a while: close must wait for it */
  memset(s, 0xDD, sizeof *s);
  free(s);
  atomic_fetch_add(&ctl->drops, 1);
  atomic_fetch_sub(&ctl->live, 1);
  atomic_fetch_sub(&ctl->running, 1);
}

static luminal_status spawn(probe *pr, int kind) {
  task_state *s = (task_state *)calloc(1, sizeof *s);
  if (!s) return LUMINAL_E_NO_MEMORY;
  s->ctl = pr->ctl;
  s->kind = kind;
  atomic_fetch_add(&pr->ctl->spawned, 1);
  atomic_fetch_add(&pr->ctl->live, 1);
  luminal_future f = {s, task_poll, task_drop, NULL};
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = pr->host->scope;
  return luminal_spawn_with(pr->host->runtime, f, &o, NULL); /* detached; takes f also on failure */
}

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  probe_ctl *ctl = (probe_ctl *)host->host_data;
  atomic_fetch_add(&ctl->init_calls, 1);
  ctl->host_struct_size = host->struct_size;
  ctl->host_abi = host->abi_version;
  ctl->host_runtime = host->runtime;
  ctl->host_scope = host->scope;
  ctl->workers_seen = luminal_runtime_worker_count(host->runtime);
  if (*plugin_state != NULL) return LUMINAL_E_INTERNAL; /* the contract: it starts NULL */
  probe *pr = (probe *)calloc(1, sizeof *pr);
  if (!pr) return LUMINAL_E_NO_MEMORY;
  pr->ctl = ctl;
  pr->host = host;
  luminal_status st = LUMINAL_OK;
  for (int i = 0; i < ctl->pending && st == LUMINAL_OK; i++) st = spawn(pr, K_PENDING);
  for (int i = 0; i < ctl->loopers && st == LUMINAL_OK; i++) st = spawn(pr, K_LOOPER);
  if (ctl->blocker && st == LUMINAL_OK) st = spawn(pr, K_BLOCKER);
  if (st == LUMINAL_OK) st = ctl->init_result;
  if (st != LUMINAL_OK) {
    free(pr); /* fini is not called after a failed init */
    return st;
  }
  *plugin_state = pr;
  return LUMINAL_OK;
}

LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) {
  probe *pr = (probe *)plugin_state;
  probe_ctl *ctl = pr->ctl;
  ctl->live_at_fini = atomic_load(&ctl->live);
  ctl->running_at_fini = atomic_load(&ctl->running);
  ctl->drops_at_fini = atomic_load(&ctl->drops);
  memset(&ctl->scope_at_fini, 0, sizeof ctl->scope_at_fini);
  ctl->scope_at_fini.struct_size = sizeof ctl->scope_at_fini;
  ctl->scope_stats_in_fini = luminal_scope_stats(pr->host->scope, &ctl->scope_at_fini);
  ctl->spawn_in_fini = spawn(pr, K_PENDING); /* refused: the scope is closed (the future is dropped at once) */
  ctl->close_self_in_fini = ctl->self ? luminal_plugin_close(ctl->self, 0) : LUMINAL_OK;
  ctl->workers_in_fini = luminal_runtime_worker_count(pr->host->runtime); /* 0 once the runtime is gone */
  free(pr);
  atomic_fetch_add(&ctl->fini_calls, 1);
}
