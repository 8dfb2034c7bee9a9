// luminal::plugin (host side) and LUMINAL_CPP_PLUGIN (plugin side) with the coroutine test plugin (coro_plugin.cpp,
// its path in CPP_CORO_PLUGIN_PATH): unloading with suspended coroutine frames, a throwing constructor, misuse.
#include "coro_plugin_iface.hpp"
#include "test_util.hpp"

#include <dlfcn.h>

namespace {
const char *const path = CPP_CORO_PLUGIN_PATH;

bool is_loaded() {
  void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != nullptr;
}
bool is_mapped(void *code) {
  Dl_info info;
  return dladdr(code, &info) != 0;
}
// Every frame the plugin made is destroyed exactly once, all before fini, which ran once; the library is gone.
void check_unloaded(cp_shared &s) {
  CHECK(s.fini_calls == 1);
  CHECK(s.made == s.gone);
  CHECK(s.made_at_fini == s.made && s.gone_at_fini == s.gone);
  CHECK(!is_loaded());
  CHECK(!is_mapped(s.code));
}
} // namespace

TEST(plugin_close_destroys_suspended_coroutines) {
  auto r = tu::rt(2);
  cp_shared s;
  s.tasks = 100;
  CHECK(!is_loaded());
  luminal::plugin p(r, path, &s);
  CHECK(p && p.scope() != nullptr);
  // sleeper, waiter's child, joiner and joiner's sleeper: 4 suspended per i
  CHECK(tu::eventually([&] { return s.suspended == 4 * s.tasks; }));
  CHECK(p.stats().live == uint64_t(4 * s.tasks));
  CHECK(s.gone < s.made && s.fini_calls == 0);
  CHECK(is_loaded() && is_mapped(s.code));
  CHECK(p.close());
  CHECK(!p && p.scope() == nullptr);
  check_unloaded(s);
  // the runtime is fine afterwards
  CHECK(luminal::block_on(r, []() -> luminal::task<int> { co_return 7; }()) == 7);
}

TEST(plugin_destructor_closes) {
  auto r = tu::rt(2);
  cp_shared s;
  s.tasks = 10;
  {
    luminal::plugin p(r, std::string(path), &s);
    CHECK(tu::eventually([&] { return s.suspended == 4 * s.tasks; }));
  }
  check_unloaded(s);
}

TEST(plugin_closed_after_runtime_shutdown) {
  auto r = tu::rt(2);
  cp_shared s;
  s.tasks = 10;
  luminal::plugin p(r, path, &s);
  CHECK(tu::eventually([&] { return s.suspended == 4 * s.tasks; }));
  CHECK(r.shutdown());
  CHECK(s.made == s.gone && s.fini_calls == 0); // the frames went with the runtime's tasks; still loaded
  CHECK(is_loaded());
  CHECK(p.close());
  check_unloaded(s);
}

TEST(plugin_constructor_throws) {
  auto r = tu::rt(2);
  cp_shared s;
  s.tasks = 20;
  s.throw_in_ctor = true;
  CHECK(tu::status_of([&] { luminal::plugin p(r, path, &s); }) == LUMINAL_E_PLUGIN_INIT);
  CHECK(s.fini_calls == 0); // fini is not called after a failed init
  CHECK(s.made > 0 && s.made == s.gone); // what the constructor spawned was dropped before unloading
  CHECK(!is_loaded() && !is_mapped(s.code));
}

TEST(plugin_two_instances) {
  auto r = tu::rt(2);
  cp_shared a, b;
  a.tasks = b.tasks = 5;
  luminal::plugin pa(r, path, &a), pb(r, path, &b);
  CHECK(tu::eventually([&] { return a.suspended == 20 && b.suspended == 20; }));
  CHECK(pa.close());
  CHECK(a.fini_calls == 1 && a.made == a.gone && a.gone_at_fini == a.gone);
  CHECK(is_loaded()); // b still holds the library; its frames are untouched
  CHECK(b.gone < b.made && pb.stats().live == 20);
  CHECK(pb.close());
  check_unloaded(b);
}

TEST(plugin_misuse) {
  auto r = tu::rt(1);
  luminal::plugin empty;
  CHECK(!empty && empty.scope() == nullptr && empty.get() == nullptr);
  CHECK(tu::status_of([&] { empty.close(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { (void)empty.stats(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { luminal::plugin p(r, "/nonexistent/libnothing.so"); }) == LUMINAL_E_IO);
  CHECK(tu::status_of([&] { luminal::plugin p(r, "libm.so.6"); }) == LUMINAL_E_NOT_PLUGIN);
  CHECK(tu::status_of([&] { luminal::plugin p(luminal::runtime_ref(), path); }) == LUMINAL_E_INVALID_ARGUMENT);

  cp_shared s;
  luminal::plugin p(r, path, &s);
  CHECK(p.close());
  CHECK(tu::status_of([&] { p.close(); }) == LUMINAL_E_INVALID_ARGUMENT); // closed: the wrapper is empty
  CHECK(s.fini_calls == 1);

  // moved from: empty; the target closes it; release/adopt hand the handle over
  cp_shared s2;
  luminal::plugin a(r, path, &s2);
  luminal::plugin b(std::move(a));
  CHECK(!a && b);
  luminal::plugin c = luminal::plugin::adopt(b.release());
  CHECK(!b && c);
  CHECK(luminal_plugin_close(nullptr, 0) == LUMINAL_E_INVALID_ARGUMENT);
  c = luminal::plugin(); // assigning closes the old one
  CHECK(s2.fini_calls == 1 && !is_loaded());

  // opening on a shut-down runtime
  CHECK(r.shutdown());
  cp_shared s3;
  CHECK(tu::status_of([&] { luminal::plugin q(r, path, &s3); }) == LUMINAL_E_SHUTDOWN);
  CHECK(s3.fini_calls == 0);
}

// The destructor on one of the runtime's workers cannot wait (LUMINAL_E_WOULD_DEADLOCK): it closes with timeout 0,
// which unloads a plugin with nothing running.
TEST(plugin_destroyed_on_a_worker) {
  auto r = tu::rt(2);
  cp_shared s; // no tasks
  luminal::plugin p(r, path, &s);
  luminal::plugin *pp = &p;
  CHECK(luminal::spawn(r, [pp] {
          CHECK(tu::status_of([pp] { pp->close(std::chrono::seconds(1)); }) == LUMINAL_E_WOULD_DEADLOCK);
          luminal::plugin local(std::move(*pp)); // destroyed here, on the worker
          return 1;
        }).join() == 1);
  CHECK(!p);
  check_unloaded(s);
}
