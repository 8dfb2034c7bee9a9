/*
 * plugin_probe.h — what test_plugins.c and its probe plugin (plugin_probe.c, a MODULE library implementing
 * luminal_plugin.h) share: the host passes a probe_ctl as host_data; the plugin does what it says in init and
 * records into it everything the host must check after the library is gone (the host never calls the plugin's code
 * directly: it only has the luminal_plugin handle).
 */
#ifndef LUMINAL_PLUGIN_PROBE_H
#define LUMINAL_PLUGIN_PROBE_H

#include <luminal.h>
#include <stdatomic.h>

typedef struct probe_ctl {
  /* set by the host before luminal_plugin_open */
  int pending;            /* tasks spawned in init that wait forever on a waker nobody wakes */
  int loopers;            /* tasks spawned in init that sleep 1 ms in a loop forever (polls run at close time) */
  int blocker;            /* 1: a task whose poll does not return until `release` is set */
  luminal_status init_result; /* what init returns (after spawning the tasks above) */
  luminal_plugin *self;   /* set by the host after open: fini tries to close it again (must be refused) */
  atomic_int release;     /* set by the host: the blocker's poll returns (PENDING; it is then dropped) */

  /* written by the plugin */
  atomic_int init_calls, fini_calls;
  atomic_int blocker_in_poll; /* the blocker's poll is running */
  atomic_long spawned;        /* futures the plugin made */
  atomic_long live;           /* futures not yet dropped */
  atomic_long running;        /* polls and drops in progress */
  atomic_long polls, drops;
  /* recorded by fini, from inside the plugin */
  long live_at_fini, running_at_fini, drops_at_fini;
  luminal_status spawn_in_fini;      /* a spawn into the (closed) scope */
  luminal_status scope_stats_in_fini; /* luminal_scope_stats on host->scope */
  luminal_scope_counters scope_at_fini;
  luminal_status close_self_in_fini; /* luminal_plugin_close(self) from fini */
  uint32_t workers_in_fini;          /* luminal_runtime_worker_count(host->runtime) from fini */
  /* recorded by init */
  size_t host_struct_size;
  uint32_t host_abi;
  luminal_runtime *host_runtime;
  luminal_scope *host_scope;
  uint32_t workers_seen; /* luminal_runtime_worker_count(host->runtime) */
} probe_ctl;

#endif
