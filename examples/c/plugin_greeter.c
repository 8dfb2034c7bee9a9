/*
 * A minimal Luminal plugin: it has no runtime of its own. Its host hands it the host's luminal_runtime*, and the
 * plugin spawns its work there. Built as a MODULE library (libluminal_greeter_plugin.so) and dlopen()ed by
 * example_plugin_host.
 */
#include <luminal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_EXPORT __attribute__((visibility("default")))

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

/* Spawns one greeting task per name onto the host's runtime. The outputs are malloc'ed strings: free() them. */
PLUGIN_EXPORT luminal_status greeter_spawn(luminal_runtime *rt, const char *who, luminal_task **out) {
  greet_state *s = (greet_state *)calloc(1, sizeof *s);
  if (!s) return LUMINAL_E_NO_MEMORY;
  snprintf(s->who, sizeof s->who, "%s", who);
  luminal_future f = {s, greet_poll, free, free};
  return luminal_spawn(rt, f, out);
}

PLUGIN_EXPORT const char *greeter_name(void) { return "greeter 1.0"; }
