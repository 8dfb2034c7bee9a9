// The coroutine test plugin: a C++ class exported with LUMINAL_CPP_PLUGIN. Its constructor spawns root coroutine
// tasks into its scope that suspend for good: on a 1-hour sleep, on a notify inside an inline-awaited child frame,
// and on the join handle of a task it spawned from inside a poll (which inherits the scope). Each frame holds a
// probe (a by-value coroutine parameter) counted in the host's cp_shared, so the host can check that closing the
// plugin destroys every frame exactly once, before fini.
#include "coro_plugin_iface.hpp"
#include "luminal.hpp"

#include <chrono>
#include <stdexcept>

namespace {
struct probe {
  cp_shared *s;
  explicit probe(cp_shared *sh) noexcept : s(sh) { s->made++; }
  probe(const probe &o) noexcept : s(o.s) { s->made++; }
  probe(probe &&o) noexcept : s(o.s) { s->made++; }
  probe &operator=(const probe &) = delete;
  ~probe() { s->gone++; }
};

luminal::task<void> sleeper(probe p) {
  p.s->suspended++;
  co_await luminal::sleep(std::chrono::hours(1));
}

luminal::task<int> waiter_child(probe p, const luminal::notify *n) {
  p.s->suspended++;
  co_await n->wait();
  co_return 1;
}
luminal::task<void> waiter(probe p, const luminal::notify *n) {
  co_await waiter_child(probe(p.s), n); // an inline child: a second frame owned by this one
}

luminal::task<void> joiner(probe p) {
  luminal::context cx = co_await luminal::this_context();
  auto h = luminal::spawn(cx, sleeper(probe(p.s))); // inherits the plugin's scope
  p.s->suspended++;
  co_await h;
}

class coro_plugin {
 public:
  explicit coro_plugin(const luminal::plugin_host &host)
      : s_(static_cast<cp_shared *>(host.host_data())), never_(host.runtime()) {
    s_->code = reinterpret_cast<void *>(&sleeper);
    for (int i = 0; i < s_->tasks; i++) {
      luminal::spawn_detached(host.runtime(), sleeper(probe(s_)), &host.options());
      // not when the constructor throws: a worker could poll it after never_ is gone
      if (!s_->throw_in_ctor) luminal::spawn_detached(host.runtime(), waiter(probe(s_), &never_), &host.options());
      luminal::spawn_detached(host.runtime(), joiner(probe(s_)), &host.options());
    }
    if (s_->throw_in_ctor) throw std::runtime_error("init refused");
  }
  ~coro_plugin() {
    s_->made_at_fini = s_->made.load();
    s_->gone_at_fini = s_->gone.load();
    s_->fini_calls++;
  }

 private:
  cp_shared *s_;
  luminal::notify never_; // never notified
};
} // namespace

LUMINAL_CPP_PLUGIN(coro_plugin)
