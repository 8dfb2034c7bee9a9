/* Not a plugin: it has luminal_plugin_init but no luminal_plugin_fini (luminal_plugin_open: LUMINAL_E_NOT_PLUGIN). */
#include <luminal_plugin.h>

LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {
  (void)host, (void)plugin_state;
  return LUMINAL_OK;
}
