// The C++ plugin of examples/cpp/plugin_host.cpp: a class exported with LUMINAL_CPP_PLUGIN, speaking the protocol
// of examples/rust/plugins/plugin_api.h (the one the C plugin speaks to the Rust plugin): its player receives n
// from its inbox and answers n + 1, `rounds` times, as a luminal::task<uint64_t> coroutine spawned into the
// plugin's scope. It waits by leaving its task's waker in the host's mailbox (an awaitable written with
// luminal::poll_awaitable).
#include "../../rust/plugins/plugin_api.h"
#include "luminal.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace {
// co_await recv{api, mb}: the next value of the mailbox.
struct recv : luminal::poll_awaitable<recv> {
  lx_host_api *api;
  lx_mailbox *mb;
  uint64_t value = 0;
  recv(lx_host_api *a, lx_mailbox *m) noexcept : api(a), mb(m) {}
  bool poll(luminal_context *cx) noexcept { return api->mailbox_recv(mb, luminal_context_waker(cx), &value) != 0; }
  uint64_t await_resume() const noexcept { return value; }
};

luminal::task<uint64_t> player(lx_host_api *api, lx_mailbox *inbox, lx_mailbox *outbox, uint64_t rounds) {
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < rounds; i++) {
    uint64_t v = co_await recv(api, inbox);
    checksum += v;
    api->mailbox_send(outbox, v + 1);
  }
  co_return checksum;
}

luminal::task<void> parked(lx_host_api *api, lx_mailbox *mb, uint32_t i) {
  if (i == 0)
    (void)co_await recv(api, mb); // the host holds this task's waker
  else
    co_await luminal::sleep(std::chrono::hours(1));
}

// A C future over a join handle of the player: its output is the checksum as a void* (no drop_output needed).
struct checksum_future {
  luminal::join_handle<uint64_t> h;
  static luminal_poll poll(void *state, luminal_context *cx, void **out) noexcept {
    auto *f = static_cast<checksum_future *>(state);
    try {
      if (!f->h.poll(cx)) return LUMINAL_POLL_PENDING;
      *out = reinterpret_cast<void *>(static_cast<uintptr_t>(f->h.take()));
    } catch (...) { // the player failed or was cancelled: checksum 0 (the host checks it)
      *out = nullptr;
    }
    return LUMINAL_POLL_READY;
  }
  static void drop(void *state) noexcept { delete static_cast<checksum_future *>(state); }
};

class cpp_plugin {
 public:
  explicit cpp_plugin(const luminal::plugin_host &host) : host_(host), api_(static_cast<lx_host_api *>(host.host_data())) {
    if (!api_ || api_->struct_size < sizeof(lx_host_api)) throw luminal::error(LUMINAL_E_INVALID_ARGUMENT);
    api_->name = "cpp_plugin";
    api_->luminal_spawn_address = reinterpret_cast<const void *>(&luminal_spawn);
    api_->plugin = this;
    api_->start = &start;
    api_->park = &park;
  }
  ~cpp_plugin() { // fini: every task of the scope is gone; report and stop being callable
    api_->scope_at_fini.struct_size = sizeof api_->scope_at_fini;
    luminal_scope_stats(host_.scope(), &api_->scope_at_fini);
    api_->start = nullptr;
    api_->park = nullptr;
    api_->plugin = nullptr;
    api_->fini_calls++;
  }

 private:
  // The C entry points of lx_host_api: exceptions stay here (they become statuses).
  static luminal_status start(void *self, lx_mailbox *inbox, lx_mailbox *outbox, uint64_t rounds,
                              luminal_task **out) noexcept {
    auto *p = static_cast<cpp_plugin *>(self);
    if (!p || !out) return LUMINAL_E_INVALID_ARGUMENT;
    try {
      // The protocol's output is the checksum cast to void*, a luminal::task's is a typed box: the host gets a
      // plain C future that awaits the coroutine's join handle and converts.
      auto h = luminal::spawn(p->host_.runtime(), player(p->api_, inbox, outbox, rounds), &p->host_.options());
      auto *f = new checksum_future{std::move(h)};
      luminal_future fut{f, &checksum_future::poll, &checksum_future::drop, nullptr};
      *out = luminal::spawn(p->host_.runtime(), luminal::future(fut), &p->host_.options()).release();
      return LUMINAL_OK;
    } catch (const luminal::error &e) {
      return e.status();
    } catch (...) {
      return LUMINAL_E_NO_MEMORY;
    }
  }
  static luminal_status park(void *self, lx_mailbox *mb, uint32_t count) noexcept {
    auto *p = static_cast<cpp_plugin *>(self);
    if (!p) return LUMINAL_E_INVALID_ARGUMENT;
    try {
      for (uint32_t i = 0; i < count; i++)
        luminal::spawn_detached(p->host_.runtime(), parked(p->api_, mb, i), &p->host_.options());
      return LUMINAL_OK;
    } catch (const luminal::error &e) {
      return e.status();
    } catch (...) {
      return LUMINAL_E_NO_MEMORY;
    }
  }

  const luminal::plugin_host &host_;
  lx_host_api *api_;
};
} // namespace

LUMINAL_CPP_PLUGIN(cpp_plugin)
