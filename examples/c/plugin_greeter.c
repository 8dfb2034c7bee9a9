/*
 * A minimal Luminal plugin (include/luminal_plugin.h): it has no runtime of its own. luminal_plugin_open hands it
 * the host's runtime and a scope of its own; it spawns its work there, into its scope, so luminal_plugin_close can
 * unload it safely. Built as a MODULE library (libluminal_greeter_plugin.so), opened by example_plugin_host.
 */
#include "greeter_api.h"

#include <luminal_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct greet_state {
  char who[64];
  int step;
} greet_state;

/* Builds the greeting in two steps, yielding once in between (asks to be polled again, returns PENDING). */
static luminal_poll greet_poll(void *state, luminal_context *cx, void **output) {
  greet_state *s = (greet_state *)state;
  if (s->step++ == 0) {
    luminal_context_yield(cx);
    return LUMINAL_POLL_PENDING;
  }
  char *msg = (char *)malloc(128);
  if (msg) snprintf(msg, 128, "hello, %s, from the plugin", s->who);
  *output = msg; /* owned by whoever joins; freed with drop_output if nobody does */
  return LUMINAL_POLL_READY;
}

/* The host struct is valid until fini returns: keeping the pointer is enough. */
static luminal_status greet(void *self, const char *who, luminal_task **out) {
  const luminal_plugin_host *host = (const luminal_plugin_host *)self;
  greet_state *s = (greet_state *)calloc(1, sizeof *s);
  if (!s) return LUMINAL_E_NO_MEMORY;
  snprintf(s->who, sizeof s->who, "%s", who);
  luminal_future f = {s, greet_poll, free, free};
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = host->scope; /* every task of the plugin goes into its scope */
  return luminal_spawn_with(host->runtime, f, &o, out);
}

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  if (host->abi_version < LUMINAL_ABI_VERSION) return LUMINAL_E_UNSUPPORTED; /* a library older than our header */
  greeter_api *api = (greeter_api *)host->host_data;
  if (!api) return LUMINAL_E_INVALID_ARGUMENT;
  api->name = "greeter 1.0";
  api->greet = greet;
  api->self = (void *)host;
  *plugin_state = api;
  return LUMINAL_OK;
}

LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) {
  greeter_api *api = (greeter_api *)plugin_state;
  api->greet = NULL; /* the host must not call into the plugin any more */
  api->self = NULL;
}
