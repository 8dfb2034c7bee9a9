// What the test host (test_plugins.cpp) shares with the coroutine test plugin (coro_plugin.cpp) through host_data.
// Everything the checks read lives here, in the host: it must outlive the plugin's unloading.
#pragma once
#include <atomic>

struct cp_shared {
  int tasks = 0;             // root tasks of each kind the plugin spawns into its scope
  bool throw_in_ctor = false; // the constructor spawns its tasks, then throws
  std::atomic<int> made{0};  // coroutine frame probes (a by-value parameter copied into each frame, and the
  std::atomic<int> gone{0};  // call's argument): made == gone once every frame is destroyed, and never gone > made
  std::atomic<int> suspended{0}; // tasks that reached their suspension point (they never resume)
  std::atomic<int> fini_calls{0};
  int made_at_fini = -1, gone_at_fini = -1; // the counts when the plugin's destructor (fini) ran
  void *code = nullptr;      // a function of the plugin (dladdr: mapped or not)
};
