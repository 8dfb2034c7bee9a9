/*
 * example_plugin_host — a minimal plugin host. It creates the runtime, dlopen()s a plugin, passes it the
 * luminal_runtime*, lets the plugin spawn work onto it, and joins the results. The plugin needs no runtime of
 * its own. Shut the runtime down before dlclose(): the plugin's drop functions must still be loaded.
 */
#include <luminal.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef luminal_status (*greeter_spawn_fn)(luminal_runtime *rt, const char *who, luminal_task **out);
typedef const char *(*greeter_name_fn)(void);

int main(void) {
  void *plugin = dlopen(GREETER_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!plugin) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  greeter_spawn_fn greeter_spawn = (greeter_spawn_fn)dlsym(plugin, "greeter_spawn");
  greeter_name_fn greeter_name = (greeter_name_fn)dlsym(plugin, "greeter_name");
  if (!greeter_spawn || !greeter_name) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 1;
  }
  printf("loaded plugin \"%s\"\n", greeter_name());

  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(NULL, &rt) != LUMINAL_OK) return 1;

  const char *names[] = {"Ada", "Grace", "Barbara", "Edsger"};
  enum { COUNT = sizeof names / sizeof names[0] };
  luminal_task *tasks[COUNT];
  for (int i = 0; i < COUNT; i++) {
    luminal_status st = greeter_spawn(rt, names[i], &tasks[i]);
    if (st != LUMINAL_OK) {
      fprintf(stderr, "greeter_spawn: %s\n", luminal_status_str(st));
      return 1;
    }
  }
  /* also a detached one: the runtime frees its output with the plugin's drop_output */
  greeter_spawn(rt, "nobody", NULL);

  int ok = 1;
  for (int i = 0; i < COUNT; i++) {
    void *out = NULL;
    luminal_status st = luminal_task_join(tasks[i], UINT64_MAX, &out);
    if (st == LUMINAL_OK && out != NULL && strstr((const char *)out, names[i]) != NULL) {
      printf("  %s\n", (const char *)out);
    } else {
      fprintf(stderr, "task %d: %s\n", i, luminal_status_str(st));
      ok = 0;
    }
    free(out);
    luminal_task_release(tasks[i]);
  }

  luminal_runtime_shutdown(rt, UINT64_MAX); /* every plugin future has been dropped after this */
  luminal_runtime_release(rt);
  dlclose(plugin);
  printf(ok ? "plugin host: ok\n" : "plugin host: FAILED\n");
  return ok ? 0 : 1;
}
