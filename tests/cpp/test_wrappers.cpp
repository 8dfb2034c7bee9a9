// The C++17 part of luminal.hpp: RAII owners, spawn of callables and poll objects, errors, sync handles' plain calls.
#include "test_util.hpp"

#include <atomic>
#include <csignal>

#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

using namespace luminal;

TEST(runtime_builder_and_copies) {
  runtime r = runtime::builder().worker_threads(3).thread_name("cpp-test").max_blocking_threads(4)
                  .blocking_keep_alive(std::chrono::milliseconds(100)).io_backend(LUMINAL_IO_POOL).build();
  CHECK(r.worker_count() == 3);
  CHECK(r.io_backend() == LUMINAL_IO_POOL);
  runtime copy = r; // luminal_runtime_clone: another handle to the same runtime
  CHECK(copy.get() != r.get() && copy.worker_count() == 3);
  runtime moved = std::move(copy);
  CHECK(copy.get() == nullptr && moved.worker_count() == 3);
  CHECK(r.shutdown());
  CHECK(tu::status_of([&] { spawn(moved, [] { return 1; }); }) == LUMINAL_E_SHUTDOWN); // same runtime
  CHECK(r.shutdown(std::chrono::seconds(1))); // again: fine
}

TEST(runtime_bad_options_throw) {
  try {
    runtime::builder().worker_threads(5000).build();
    CHECK(false);
  } catch (const error &e) {
    CHECK(e.status() == LUMINAL_E_INVALID_ARGUMENT);
    CHECK(std::string(e.what()) == luminal_status_str(LUMINAL_E_INVALID_ARGUMENT));
  }
  runtime adopted = runtime::adopt(nullptr);
  CHECK(tu::status_of([&] { adopted.shutdown(); }) == LUMINAL_E_INVALID_ARGUMENT);
}

TEST(spawn_callable_values) {
  runtime r = tu::rt();
  CHECK(spawn(r, [] { return 42; }).join() == 42);
  CHECK(spawn(r, [] { return std::string(1000, 'x'); }).join().size() == 1000);
  int side = 0;
  spawn(r, [&] { side = 7; }).join(); // void
  CHECK(side == 7);
  auto h = spawn(r, [] { return 1; });
  CHECK(tu::eventually([&] { return h.is_finished(); }));
  CHECK(h.join() == 1);
}

TEST(spawn_callable_exception_rethrown_from_join) {
  runtime r = tu::rt();
  auto h = spawn(r, []() -> int { throw std::runtime_error("boom"); });
  try {
    h.join();
    CHECK(false);
  } catch (const std::runtime_error &e) {
    CHECK(std::string(e.what()) == "boom");
  }
  CHECK(tu::status_of([&] { h.join(); }) == LUMINAL_E_ALREADY_TAKEN); // the output was handed over once
}

static void *times_two(void *p) { return reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(p) * 2); }

TEST(spawn_fn_and_raw_future) {
  runtime r = tu::rt();
  raw_join_handle h = spawn(r, &times_two, reinterpret_cast<void *>(uintptr_t{21}));
  CHECK(reinterpret_cast<uintptr_t>(h.join()) == 42);
  future f;
  check(luminal_sleep(r.get(), 1000000, f.out_param()));
  CHECK(block_on(r, std::move(f)) == nullptr);
  future g;
  check(luminal_sleep(r.get(), 1000, g.out_param()));
  CHECK(spawn(r, std::move(g)).join(std::chrono::seconds(5)) == nullptr);
  future never_spawned; // dropped by its destructor
  check(luminal_sleep(r.get(), 1000, never_spawned.out_param()));
}

// spawn_inline: a trivially copyable state copied into the task; dropped once also when the spawn throws.
struct inline_sum {
  std::atomic<int> *drops;
  uintptr_t a, b;
};
static luminal_poll inline_sum_poll(void *st, luminal_context *, void **out) {
  auto *s = static_cast<inline_sum *>(st);
  *out = reinterpret_cast<void *>(s->a + s->b);
  return LUMINAL_POLL_READY;
}
static void inline_sum_drop(void *st) { static_cast<inline_sum *>(st)->drops->fetch_add(1); }

TEST(spawn_inline_state) {
  std::atomic<int> drops{0};
  {
    runtime r = tu::rt();
    raw_join_handle h = spawn_inline(r, inline_sum{&drops, 40, 2}, &inline_sum_poll, &inline_sum_drop);
    CHECK(reinterpret_cast<uintptr_t>(h.join()) == 42);
    CHECK(drops.load() == 1);
    r.shutdown();
    bool threw = false;
    try {
      spawn_inline(r, inline_sum{&drops, 1, 1}, &inline_sum_poll, &inline_sum_drop);
    } catch (const error &e) {
      threw = e.status() == LUMINAL_E_SHUTDOWN;
    }
    CHECK(threw);
    CHECK(drops.load() == 2);
  }
}

// A poll object: yields three times, then completes with the number of polls.
struct yield_three {
  int polls = 0;
  std::optional<int> poll(luminal_context *cx) {
    if (++polls <= 3) {
      context(cx).yield();
      return std::nullopt;
    }
    return polls;
  }
};

TEST(spawn_poll_object) {
  runtime r = tu::rt();
  CHECK(spawn_poll(r, yield_three{}).join() == 4);
  struct done_at_once {
    bool poll(luminal_context *) { return true; }
  };
  spawn_poll(r, done_at_once{}).join();
}

// Pends until its stored waker is woken from outside; counts its destruction.
struct wait_for_flag {
  tu::probe p;
  std::atomic<bool> *flag;
  waker *slot;
  bool poll(luminal_context *cx) {
    if (flag->load()) return true;
    *slot = context(cx).waker();
    return flag->load();
  }
};

TEST(waker_wakes_a_poll_object) {
  runtime r = tu::rt();
  tu::counts c;
  std::atomic<bool> flag{false};
  waker w;
  auto h = spawn_poll(r, wait_for_flag{tu::probe(c), &flag, &w});
  CHECK(tu::eventually([&] { return bool(w); }));
  waker copy = w; // luminal_waker_clone
  CHECK(copy.will_wake(w.get()));
  flag = true;
  std::move(copy).wake();
  CHECK(!copy);
  h.join();
  CHECK(c.made == c.gone);
}

TEST(abort_drops_poll_object_once) {
  runtime r = tu::rt();
  tu::counts c;
  std::atomic<bool> flag{false};
  waker w;
  auto h = spawn_poll(r, wait_for_flag{tu::probe(c), &flag, &w});
  CHECK(tu::eventually([&] { return bool(w); }));
  h.abort();
  CHECK(tu::status_of([&] { h.join(); }) == LUMINAL_E_CANCELLED);
  CHECK(c.made == c.gone);
}

TEST(unjoined_outputs_are_freed) {
  runtime r = tu::rt();
  tu::counts c;
  {
    auto h = spawn(r, [&] { return tu::probe(c); });
    CHECK(tu::eventually([&] { return h.is_finished(); }));
  } // released unjoined: drop_output destroys the value
  spawn(r, [&] { return tu::probe(c); }).detach();
  CHECK(tu::eventually([&] { return c.made == c.gone; }));
  r.shutdown();
  CHECK(c.made == c.gone);
}

TEST(scope_close_cancels_its_tasks) {
  runtime r = tu::rt();
  scope s(r);
  tu::counts c;
  std::atomic<bool> flag{false};
  waker ws[8];
  spawn_options o = s.options();
  o.priority(LUMINAL_PRIORITY_UTILITY);
  std::vector<join_handle<void>> hs;
  for (auto &w : ws) hs.push_back(spawn_poll(r, wait_for_flag{tu::probe(c), &flag, &w}, &o));
  CHECK(tu::eventually([&] { return s.stats().spawned == 8; }));
  CHECK(s.close(std::chrono::seconds(10)));
  luminal_scope_counters st = s.stats();
  CHECK(st.live == 0 && st.cancelled + st.completed == 8);
  CHECK(c.made == c.gone);
  for (auto &h : hs) CHECK(tu::status_of([&] { h.join(); }) == LUMINAL_E_CANCELLED);
  CHECK(tu::status_of([&] { spawn(r, [] {}, &o); }) == LUMINAL_E_SHUTDOWN);
}

TEST(channel_try_send_recv) {
  runtime r = tu::rt();
  auto [tx, rx] = channel<std::string>(r, 2);
  CHECK(tx.try_send("a") == LUMINAL_OK);
  std::string b = "b", c = "c";
  CHECK(tx.try_send(std::move(b)) == LUMINAL_OK);
  CHECK(tx.try_send(std::move(c)) == LUMINAL_E_FULL);
  CHECK(c == "c"); // not taken: still the caller's
  std::string got;
  CHECK(rx.try_recv(got) == LUMINAL_OK && got == "a");
  CHECK(rx.try_recv(got) == LUMINAL_OK && got == "b");
  CHECK(rx.try_recv(got) == LUMINAL_E_EMPTY);
  sender<std::string> tx2 = tx; // luminal_sender_clone
  { auto drop = std::move(tx); }
  CHECK(tx2.try_send("d") == LUMINAL_OK);
  { auto drop = std::move(tx2); }
  CHECK(rx.try_recv(got) == LUMINAL_OK && got == "d");
  CHECK(rx.try_recv(got) == LUMINAL_E_CLOSED);
}

TEST(channel_drops_queued_messages) {
  runtime r = tu::rt();
  tu::counts c;
  {
    auto [tx, rx] = channel<tu::probe>(r);
    for (int i = 0; i < 5; i++) CHECK(tx.try_send(tu::probe(c)) == LUMINAL_OK);
  } // the receiver goes with 5 queued: each deleted by drop_message
  CHECK(c.made == c.gone);
  auto [tx, rx] = channel<int>(r);
  { auto drop = std::move(rx); }
  int v = 5;
  CHECK(tx.try_send(std::move(v)) == LUMINAL_E_CLOSED && v == 5);
}

TEST(oneshot_send_once) {
  runtime r = tu::rt();
  auto [tx, rx] = oneshot<int>(r);
  CHECK(bool(tx));
  CHECK(std::move(tx).send(9));
  CHECK(!tx);
  int v = 0;
  CHECK(rx.try_recv(v) == LUMINAL_OK && v == 9);
  CHECK(rx.try_recv(v) == LUMINAL_E_CLOSED);
}

TEST(notify_and_semaphore_plain_calls) {
  runtime r = tu::rt();
  notify n(r);
  n.notify_one();
  n.notify_all();
  notify moved = std::move(n);
  CHECK(moved.get() != nullptr && n.get() == nullptr);
  CHECK(tu::status_of([&] { n.notify_one(); }) == LUMINAL_E_INVALID_ARGUMENT);
  semaphore s(r, 2);
  CHECK(s.try_acquire(2) == LUMINAL_OK);
  CHECK(s.try_acquire() == LUMINAL_E_EMPTY);
  s.add_permits(1);
  CHECK(s.try_acquire() == LUMINAL_OK);
  s.close();
  CHECK(s.try_acquire() == LUMINAL_E_CLOSED);
}

TEST(signal_listener_listen_misuse_move) {
  runtime r = tu::rt();
  CHECK(tu::status_of([&] { signal_listener::listen(r, SIGKILL); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { signal_listener::listen(r, 0); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { signal_listener::listen(r, 65); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { signal_listener::listen(runtime_ref(), SIGUSR1); }) == LUMINAL_E_INVALID_ARGUMENT);
  signal_listener a = signal_listener::listen(r, SIGUSR1);
  signal_listener b = signal_listener::listen(r, SIGUSR1); // several listeners of one signal
  CHECK(a.get() != nullptr && b.get() != nullptr && a.get() != b.get());
  signal_listener moved = std::move(a);
  CHECK(moved.get() != nullptr && a.get() == nullptr);
  b = std::move(moved); // b's listener is released; b now holds moved's
  CHECK(b.get() != nullptr && moved.get() == nullptr);
  b = signal_listener(); // released: the last listener of SIGUSR1, its disposition is restored
  CHECK(b.get() == nullptr);
}

TEST(task_set_plain_calls) {
  runtime r = tu::rt();
  tu::counts c;
  {
    task_set<tu::probe> set(r);
    for (int i = 0; i < 4; i++) set.spawn([&] { return tu::probe(c); });
    CHECK(set.size() == 4);
    set.abort_all();
  } // released: outputs never joined are freed
  CHECK(tu::eventually([&] { return c.made == c.gone; }));
}

TEST(scope_drain_future) {
  runtime r = tu::rt();
  scope s(r);
  spawn_options o = s.options();
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; i++) spawn(r, [&] { ran++; }, &o).detach();
  block_on(r, s.drain_future());
  CHECK(ran == 10);
}

// A poll object that awaits another task through join_handle::poll / take (the C++17 way to await).
struct await_child {
  join_handle<int> child;
  std::optional<int> poll(luminal_context *cx) {
    if (!child.poll(cx)) return std::nullopt;
    return child.take() + 1;
  }
};

TEST(join_handle_poll_from_a_poll_object) {
  runtime r = tu::rt();
  CHECK(spawn_poll(r, await_child{spawn_poll(r, yield_three{})}).join() == 5);
  struct child_throws {
    std::optional<int> poll(luminal_context *) { throw std::out_of_range("child"); }
  };
  {
    bool caught = false;
    try {
      spawn_poll(r, await_child{spawn_poll(r, child_throws{})}).join();
    } catch (const std::out_of_range &) {
      caught = true;
    }
    CHECK(caught);
  }
}

TEST(make_future_and_task_set_spawn_future) {
  runtime r = tu::rt();
  future f = make_future(yield_three{});
  void *out = block_on(r, std::move(f));
  CHECK(detail::take_output<int>(out) == 4);
  tu::counts c;
  {
    task_set<int> set(r);
    set.spawn_future(make_future(yield_three{}));
    future unspawned = make_future(wait_for_flag{tu::probe(c), nullptr, nullptr}); // dropped: box freed
  }
  CHECK(c.made == c.gone);
}

TEST(handles_adopt_and_release) {
  runtime r = tu::rt();
  luminal_runtime *raw = runtime(r).release(); // a clone, given up
  runtime back = runtime::adopt(raw);
  CHECK(back.worker_count() == 2);
  struct grab_waker {
    luminal_waker **slot;
    luminal_runtime **rt;
    bool poll(luminal_context *cx) {
      context c(cx);
      *rt = c.runtime().handle;
      waker w = c.waker();
      *slot = w.release(); // owned by the test now
      CHECK(c.borrowed_waker() != nullptr);
      return true;
    }
  };
  luminal_waker *w = nullptr;
  luminal_runtime *seen = nullptr;
  spawn_poll(r, grab_waker{&w, &seen}).join();
  CHECK(w != nullptr && seen != nullptr);
  waker owned = waker::adopt(w);
  owned.wake_by_ref(); // a finished task: nothing happens
  raw_join_handle h = spawn(r, &times_two, nullptr);
  luminal_task *t = h.release();
  CHECK(!h && t != nullptr);
  luminal_task_release(t);
}

TEST(oneshot_plain_calls_and_drops) {
  runtime r = tu::rt();
  auto ends = oneshot<int>(r); // not a structured binding: C++17 lambdas cannot capture those
  oneshot_sender<int> &tx = ends.first;
  oneshot_receiver<int> &rx = ends.second;
  int v = 0;
  CHECK(rx.try_recv(v) == LUMINAL_E_EMPTY);
  oneshot_sender<int> moved = std::move(tx);
  CHECK(!tx && bool(moved));
  CHECK(tu::status_of([&] { std::move(tx).send(1); }) == LUMINAL_E_INVALID_ARGUMENT);
  { auto drop = std::move(moved); } // released unsent: closed
  CHECK(rx.try_recv(v) == LUMINAL_E_CLOSED);

  tu::counts c;
  {
    auto [tx2, rx2] = oneshot<tu::probe>(r);
    { auto drop = std::move(rx2); }
    CHECK(!std::move(tx2).send(tu::probe(c))); // the receiver is gone: not taken, deleted here
  }
  CHECK(c.made == c.gone);
  {
    auto [tx3, rx3] = oneshot<tu::probe>(r);
    CHECK(std::move(tx3).send(tu::probe(c)));
  } // sent, never received: deleted by drop_message when the receiver goes
  CHECK(c.made == c.gone);
}

TEST(socket_plain_calls) {
  runtime r = tu::rt();
  bound_socket l = tcp_listen_addr(socket_addr_parse("127.0.0.1", 0), 16, LUMINAL_BIND_REUSEPORT);
  CHECK(l.fd >= 0 && l.addr.len > 0);
  CHECK(socket_local_addr(l.fd).len == l.addr.len);
  socket_set_option(l.fd, LUMINAL_SOCKOPT_RECV_BUFFER, 8192);
  CHECK(socket_get_option(l.fd, LUMINAL_SOCKOPT_RECV_BUFFER) >= 8192);
  CHECK(tu::status_of([&] { socket_set_option(l.fd, LUMINAL_SOCKOPT_RECV_BUFFER, 0); }) ==
        LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { socket_peer_addr(l.fd); }) == LUMINAL_E_IO); // ENOTCONN
  CHECK(tu::status_of([&] { udp_bind(socket_addr_unix("/tmp/x")); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { unix_listen(l.addr); }) == LUMINAL_E_INVALID_ARGUMENT);
  socket_addr abstract = socket_addr_unix(std::string_view("\0luminal-cpp-abstract", 21));
  int32_t u = unix_listen(abstract);
  CHECK(u >= 0);
  close(u);
  close(l.fd);
  CHECK(debug_gc_count() < UINT64_MAX);
}
