/* A plugin for observe_plugin_host.c: spawns one task into the host's scope that parks its waker in the host's
 * memory and stays pending. The host then unloads this plugin without closing the scope (the mistake the
 * debug_plugins option catches) and wakes the task. */
#include <luminal.h>

#include <stdint.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

static luminal_poll park_poll(void *state, luminal_context *cx, void **out) {
  (void)out;
  luminal_waker **slot = (luminal_waker **)state;
  if (*slot == NULL) *slot = luminal_waker_clone(luminal_context_waker(cx));
  return LUMINAL_POLL_PENDING;
}

static void park_drop(void *state) { (void)state; }

EXPORT uintptr_t obs_plugin_poll_address(void) { return (uintptr_t)park_poll; }
EXPORT uintptr_t obs_plugin_drop_address(void) { return (uintptr_t)park_drop; }

/* The same task wrapped in a 60 s luminal_timeout: the runtime's wrapper polls the plugin's future. */
EXPORT luminal_status obs_plugin_start_wrapped(luminal_runtime *rt, luminal_scope *scope, luminal_waker **slot) {
  luminal_future inner = {slot, park_poll, park_drop, NULL}, f;
  luminal_status s = luminal_timeout(rt, inner, 60ull * 1000000000ull, &f);
  if (s != LUMINAL_OK) return s;
  luminal_spawn_options o = {sizeof o, scope, 0};
  return luminal_spawn_with(rt, f, &o, NULL);
}

EXPORT luminal_status obs_plugin_start(luminal_runtime *rt, luminal_scope *scope, luminal_waker **slot) {
  luminal_future f = {slot, park_poll, park_drop, NULL};
  luminal_spawn_options o = {sizeof o, scope, 0};
  return luminal_spawn_with(rt, f, &o, NULL);
}
