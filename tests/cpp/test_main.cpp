#include "test_util.hpp"

#include <cstring>
#include <vector>

// The NativeAOT library is not instrumented and installs its own SIGSEGV handler (null checks), and its GC heap
// looks like leaks: ASan must not take over those signals, and leak detection is off (the frame counters in the
// tests are the leak checks).
extern "C" const char *__asan_default_options() {
  return "use_sigaltstack=0:handle_segv=0:allow_user_segv_handler=1:detect_leaks=0:abort_on_error=0";
}

namespace {
struct entry {
  const char *name;
  tu::test_fn fn;
};
std::vector<entry> &all() {
  static std::vector<entry> v;
  return v;
}
void run(const entry &e) {
  auto t0 = std::chrono::steady_clock::now();
  std::printf("[ RUN  ] %s\n", e.name);
  std::fflush(stdout);
  e.fn();
  std::printf("[  OK  ] %s (%.1f ms)\n", e.name,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  std::fflush(stdout);
}
} // namespace

void tu::add(const char *name, test_fn fn) { all().push_back({name, fn}); }

int main(int argc, char **argv) {
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (auto &e : all()) std::printf("%s\n", e.name);
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "--all") == 0) {
    for (auto &e : all()) run(e);
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s TEST | --list | --all\n", argv[0]);
    return 2;
  }
  for (auto &e : all())
    if (std::strcmp(e.name, argv[1]) == 0) return run(e), 0;
  std::fprintf(stderr, "no test named %s\n", argv[1]);
  return 2;
}
