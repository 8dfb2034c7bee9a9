/* The unloaded-plugin check (luminal_runtime_options.debug_plugins, or LUMINAL_DEBUG_PLUGINS=1): a plugin's task is
 * woken after the plugin was unloaded without closing its scope. With the check the runtime logs the scope and the
 * address and cancels the task instead of jumping into unmapped memory.
 * Usage: observe_plugin_host PLUGIN option|env   ("env": the option stays 0, LUMINAL_DEBUG_PLUGINS=1 must be set). */
#define _GNU_SOURCE
#include <luminal.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAIL(...) do { fprintf(stderr, "observe_plugin_host: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char lines[16][512];
static int nlines;

static void sink(void *user, luminal_log_level level, const char *message) {
  (void)user;
  pthread_mutex_lock(&mu);
  if (nlines < 16) snprintf(lines[nlines++], sizeof lines[0], "%d %s", (int)level, message);
  pthread_mutex_unlock(&mu);
}

static int logged(const char *needle) {
  pthread_mutex_lock(&mu);
  int found = 0;
  for (int i = 0; i < nlines; i++) found |= strstr(lines[i], needle) != NULL;
  pthread_mutex_unlock(&mu);
  return found;
}

static int count(const char *needle) {
  pthread_mutex_lock(&mu);
  int n = 0;
  for (int i = 0; i < nlines; i++) n += strstr(lines[i], needle) != NULL;
  pthread_mutex_unlock(&mu);
  return n;
}

static void sleep_ms(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  if (argc != 3) FAIL("usage: observe_plugin_host PLUGIN option|env");
  int use_env = strcmp(argv[2], "env") == 0;
  if (use_env && (getenv("LUMINAL_DEBUG_PLUGINS") == NULL || strcmp(getenv("LUMINAL_DEBUG_PLUGINS"), "1") != 0))
    FAIL("run with LUMINAL_DEBUG_PLUGINS=1");
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 1;
  o.log = sink;
  o.debug_plugins = use_env ? 0 : 1;
  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(&o, &rt) != LUMINAL_OK) FAIL("runtime_new");
  luminal_scope *scope = NULL;
  if (luminal_scope_new(rt, &scope) != LUMINAL_OK) FAIL("scope_new");

  void *plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!plugin) FAIL("dlopen: %s", dlerror());
  luminal_status (*start)(luminal_runtime *, luminal_scope *, luminal_waker **) =
      (luminal_status (*)(luminal_runtime *, luminal_scope *, luminal_waker **))dlsym(plugin, "obs_plugin_start");
  uintptr_t (*poll_address)(void) = (uintptr_t (*)(void))dlsym(plugin, "obs_plugin_poll_address");
  uintptr_t (*drop_address)(void) = (uintptr_t (*)(void))dlsym(plugin, "obs_plugin_drop_address");
  luminal_status (*start_wrapped)(luminal_runtime *, luminal_scope *, luminal_waker **) =
      (luminal_status (*)(luminal_runtime *, luminal_scope *, luminal_waker **))dlsym(plugin, "obs_plugin_start_wrapped");
  if (!start || !start_wrapped || !poll_address || !drop_address) FAIL("dlsym");
  uintptr_t poll_at = poll_address(), drop_at = drop_address();

  static luminal_waker *_Atomic slot, *_Atomic wrapped_slot;
  if (start(rt, scope, (luminal_waker **)&slot) != LUMINAL_OK) FAIL("spawn");
  if (start_wrapped(rt, scope, (luminal_waker **)&wrapped_slot) != LUMINAL_OK) FAIL("spawn (wrapped)");
  for (int i = 0; atomic_load(&slot) == NULL || atomic_load(&wrapped_slot) == NULL; i++) {
    if (i > 20000) FAIL("the plugin's task was never polled");
    sleep_ms(1);
  }
  /* The mistake: unload without luminal_scope_close. */
  if (dlclose(plugin) != 0) FAIL("dlclose: %s", dlerror());
  Dl_info info;
  if (dladdr((void *)poll_at, &info) != 0 && info.dli_fbase != NULL) FAIL("the plugin is still mapped after dlclose");

  luminal_waker_wake(atomic_load(&slot)); /* without the check: a jump into unmapped memory */
  luminal_waker_wake(atomic_load(&wrapped_slot));
  luminal_runtime_metrics m;
  for (int i = 0;; i++) {
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    if (luminal_runtime_get_metrics(rt, &m) != LUMINAL_OK) FAIL("metrics");
    if (m.tasks_alive == 0) break;
    if (i > 20000) FAIL("the tasks did not finish");
    sleep_ms(1);
  }
  /* The plain task is cancelled; the wrapped one's timeout completes (with LUMINAL_FAILED_OUTPUT). */
  if (m.tasks_cancelled != 1 || m.tasks_completed != 1)
    FAIL("cancelled %" PRIu64 ", completed %" PRIu64 ", expected 1 and 1", m.tasks_cancelled, m.tasks_completed);
  char poll_line[128], drop_line[128], scope_text[64];
  snprintf(poll_line, sizeof poll_line, "%d poll function 0x%" PRIxPTR " ", (int)LUMINAL_LOG_ERROR, poll_at);
  snprintf(drop_line, sizeof drop_line, "%d drop function 0x%" PRIxPTR " ", (int)LUMINAL_LOG_ERROR, drop_at);
  snprintf(scope_text, sizeof scope_text, "in scope 0x%" PRIxPTR " ", (uintptr_t)scope);
  if (count(poll_line) != 2 || count(drop_line) != 2 || !logged(scope_text)) {
    for (int i = 0; i < nlines; i++) fprintf(stderr, "  log: %s\n", lines[i]);
    FAIL("expected \"%s\", \"%s\" and \"%s\"", poll_line, drop_line, scope_text);
  }
  if (luminal_scope_close(scope, UINT64_MAX) != LUMINAL_OK) FAIL("scope_close");
  luminal_scope_release(scope);
  if (luminal_runtime_shutdown(rt, UINT64_MAX) != LUMINAL_OK) FAIL("shutdown");
  luminal_runtime_release(rt);
  printf("observe_plugin_host (%s): the calls into the unloaded plugin were refused and logged:\n", argv[2]);
  for (int i = 0; i < nlines; i++) printf("  %s\n", lines[i]);
  return 0;
}
