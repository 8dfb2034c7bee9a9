/*
 * example_plugin_host — a minimal plugin host. It creates the runtime and opens a plugin with luminal_plugin_open
 * (include/luminal_plugin.h: the plugin's init receives the runtime, a scope of its own and the host's host_data),
 * lets the plugin spawn work onto the runtime, joins the results and closes the plugin with luminal_plugin_close:
 * its scope is drained (no poll or drop of its code runs any more), its fini runs, and only then is it unloaded,
 * while the runtime keeps running.
 */
#include "greeter_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(NULL, &rt) != LUMINAL_OK) return 1;

  greeter_api api;
  memset(&api, 0, sizeof api);
  luminal_plugin *plugin = NULL;
  luminal_status st = luminal_plugin_open(rt, GREETER_PLUGIN_PATH, &api, &plugin);
  if (st != LUMINAL_OK) {
    fprintf(stderr, "luminal_plugin_open(%s): %s\n", GREETER_PLUGIN_PATH, luminal_status_str(st));
    return 1;
  }
  printf("loaded plugin \"%s\"\n", api.name);

  const char *names[] = {"Ada", "Grace", "Barbara", "Edsger"};
  enum { COUNT = sizeof names / sizeof names[0] };
  luminal_task *tasks[COUNT];
  for (int i = 0; i < COUNT; i++) {
    st = api.greet(api.self, names[i], &tasks[i]);
    if (st != LUMINAL_OK) {
      fprintf(stderr, "greet: %s\n", luminal_status_str(st));
      return 1;
    }
  }
  /* also a detached one: the runtime frees its output with the plugin's drop_output (before the unload) */
  api.greet(api.self, "nobody", NULL);

  int ok = 1;
  for (int i = 0; i < COUNT; i++) {
    void *out = NULL;
    st = luminal_task_join(tasks[i], UINT64_MAX, &out);
    if (st == LUMINAL_OK && out != NULL && strstr((const char *)out, names[i]) != NULL) {
      printf("  %s\n", (const char *)out);
    } else {
      fprintf(stderr, "task %d: %s\n", i, luminal_status_str(st));
      ok = 0;
    }
    free(out);
    luminal_task_release(tasks[i]);
  }

  /* unload while the runtime runs: scope drained, fini, dlclose (wait up to 10 s) */
  st = luminal_plugin_close(plugin, 10ull * 1000000000ull);
  printf("closed the plugin: %s\n", luminal_status_str(st));
  ok = ok && st == LUMINAL_OK && api.greet == NULL;

  luminal_runtime_shutdown(rt, UINT64_MAX);
  luminal_runtime_release(rt);
  printf(ok ? "plugin host: ok\n" : "plugin host: FAILED\n");
  return ok ? 0 : 1;
}
