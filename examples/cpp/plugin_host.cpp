// A C++ plugin host: loads a C++ plugin (plugins/cpp_plugin.cpp, LUMINAL_CPP_PLUGIN, coroutines) and the Rust
// plugin (examples/rust/plugins/rust_plugin, luminal::export_plugin!) with luminal::plugin (luminal_plugin_open),
// hands each an lx_host_api (examples/rust/plugins/plugin_api.h: mailboxes in, start/park out) and lets them play
// ping-pong through the host's mailboxes: the Rust player sends 2i, the C++ player answers 2i + 1. Both also park
// background tasks that never finish on their own (a mailbox wait, 1-hour sleeps).
// Then the host plays against the C++ plugin itself, and halfway through unloads the Rust plugin (luminal_plugin_close:
// its parked tasks are cancelled, fini runs, the library is unmapped) while the C++ plugin's player and parked tasks
// keep going; the game finishes, and the C++ plugin is unloaded last.
//
// Usage: example_plugin_host [RUST_PLUGIN_PATH]. Exits 77 (skipped) when the Rust plugin is not built (cargo builds
// it: ./build.sh does so before running the examples and the tests).
#include "../rust/plugins/plugin_api.h"
#include "luminal.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

// The host's mailbox: a queue of values plus the waker of the task waiting on it (or the host thread, on cv).
struct lx_mailbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<uint64_t> q;
  luminal::waker waiting;
};

namespace {
void mailbox_send(lx_mailbox *mb, uint64_t v) {
  luminal::waker w;
  {
    std::lock_guard<std::mutex> g(mb->mu);
    mb->q.push_back(v);
    w = std::move(mb->waiting);
  }
  mb->cv.notify_all();
  if (w) std::move(w).wake(); // outside the lock: waking may run the task at once elsewhere
}
int mailbox_recv(lx_mailbox *mb, const luminal_waker *waker, uint64_t *out) {
  std::lock_guard<std::mutex> g(mb->mu);
  if (mb->q.empty()) {
    mb->waiting = luminal::waker(waker); // a clone, replacing the previous one
    return 0;
  }
  *out = mb->q.front();
  mb->q.pop_front();
  return 1;
}
uint64_t host_recv(lx_mailbox *mb) { // the host thread's blocking receive
  std::unique_lock<std::mutex> g(mb->mu);
  mb->cv.wait(g, [&] { return !mb->q.empty(); });
  uint64_t v = mb->q.front();
  mb->q.pop_front();
  return v;
}

lx_host_api make_api() {
  lx_host_api a{};
  a.struct_size = sizeof a;
  a.mailbox_send = &mailbox_send;
  a.mailbox_recv = &mailbox_recv;
  return a;
}

bool is_loaded(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != nullptr;
}

void require(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "plugin_host: %s\n", what);
    std::exit(1);
  }
}

// Closes a plugin and checks the contract: fini ran once, after its scope drained; the library is unmapped.
void unload(luminal::plugin &p, const lx_host_api &api, const char *name, const char *path) {
  require(p.close(std::chrono::seconds(10)), "a plugin did not drain within 10 s");
  require(api.fini_calls == 1, "fini did not run exactly once");
  require(api.scope_at_fini.live == 0, "fini ran before the scope drained");
  bool gone = !is_loaded(path);
  std::printf("unloaded %s: at fini its scope had live 0, spawned %llu, cancelled %llu; library %s\n", name,
              static_cast<unsigned long long>(api.scope_at_fini.spawned),
              static_cast<unsigned long long>(api.scope_at_fini.cancelled), gone ? "unmapped" : "still mapped");
  require(gone, "the library is still loaded after luminal_plugin_close");
}
} // namespace

int main(int argc, char **argv) {
  const char *rust_path = argc > 1 ? argv[1] : RUST_PLUGIN_PATH;
  if (access(rust_path, R_OK) != 0) {
    std::printf("skipped: the Rust plugin %s is not built (cargo build --release in bindings/rust)\n", rust_path);
    return 77;
  }
  try {
    auto rt = luminal::runtime::builder().worker_threads(2).build();
    lx_host_api cpp_api = make_api(), rust_api = make_api();
    lx_mailbox rust_to_cpp, cpp_to_rust, cpp_park, rust_park, host_to_cpp, cpp_to_host;

    luminal::plugin cpp(rt, CPP_PLUGIN_PATH, &cpp_api);
    luminal::plugin rust(rt, rust_path, &rust_api);
    std::printf("loaded %s and %s (%s libluminal)\n", cpp_api.name, rust_api.name,
                cpp_api.luminal_spawn_address == rust_api.luminal_spawn_address ? "one" : "two copies of");

    luminal::check(cpp_api.park(cpp_api.plugin, &cpp_park, 3));
    luminal::check(rust_api.park(rust_api.plugin, &rust_park, 3));

    // Rust against C++: 1000 rounds.
    const uint64_t rounds = 1000;
    luminal_task *t = nullptr;
    luminal::check(cpp_api.start(cpp_api.plugin, &rust_to_cpp, &cpp_to_rust, rounds, &t));
    luminal::raw_join_handle cpp_player(t);
    luminal::check(rust_api.start(rust_api.plugin, &cpp_to_rust, &rust_to_cpp, rounds, &t));
    luminal::raw_join_handle rust_player(t);
    auto rust_sum = reinterpret_cast<uintptr_t>(rust_player.join(std::chrono::seconds(30)));
    auto cpp_sum = reinterpret_cast<uintptr_t>(cpp_player.join(std::chrono::seconds(30)));
    require(cpp_sum == rounds * (rounds - 1), "the C++ player's checksum (sum of 2i)");
    require(rust_sum == rounds * rounds, "the Rust player's checksum (sum of 2i + 1)");
    std::printf("ping-pong: %llu rounds, checksums %llu (C++) and %llu (Rust); scopes: C++ %llu polls, Rust %llu\n",
                static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(cpp_sum),
                static_cast<unsigned long long>(rust_sum), static_cast<unsigned long long>(cpp.stats().polls),
                static_cast<unsigned long long>(rust.stats().polls));

    // The host against C++; the Rust plugin goes halfway through.
    luminal::check(cpp_api.start(cpp_api.plugin, &host_to_cpp, &cpp_to_host, rounds, &t));
    luminal::raw_join_handle game(t);
    for (uint64_t i = 0; i < rounds; i++) {
      if (i == rounds / 2) {
        require(rust.stats().live == 3, "the Rust plugin's parked tasks");
        unload(rust, rust_api, "rust_plugin", rust_path);
        require(cpp.stats().live == 3 + 2, "the C++ plugin's parked tasks and its player (two tasks)");
      }
      mailbox_send(&host_to_cpp, 2 * i);
      require(host_recv(&cpp_to_host) == 2 * i + 1, "the C++ plugin answers n + 1");
    }
    require(reinterpret_cast<uintptr_t>(game.join(std::chrono::seconds(30))) == rounds * (rounds - 1),
            "the C++ player's second checksum");
    std::printf("the C++ plugin played on while the Rust plugin was unloaded: %llu rounds\n",
                static_cast<unsigned long long>(rounds));
    unload(cpp, cpp_api, "cpp_plugin", CPP_PLUGIN_PATH);
    require(rt.shutdown(std::chrono::seconds(10)), "shutdown");
  } catch (const luminal::error &e) {
    std::fprintf(stderr, "plugin_host: %s (%s)\n", e.what(), luminal::status_name(e.status()));
    return 1;
  }
  return 0;
}
