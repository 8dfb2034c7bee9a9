/*
 * greeter_api.h — what example_plugin_host and the greeter plugin (plugin_greeter.c) share beyond
 * luminal_plugin.h: the host passes a greeter_api as host_data, and the plugin's luminal_plugin_init fills it in.
 */
#ifndef GREETER_API_H
#define GREETER_API_H

#include <luminal.h>

typedef struct greeter_api {
  /* filled by the plugin's init; valid until the plugin is closed */
  const char *name;
  /* Spawns a task into the plugin's scope whose output is a malloc'ed greeting for `who` (free() it). out: NULL =
   * detached (the runtime frees the output with the plugin's drop_output). */
  luminal_status (*greet)(void *self, const char *who, luminal_task **out);
  void *self;
} greeter_api;

#endif
