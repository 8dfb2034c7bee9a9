// The C++20 part of luminal.hpp: luminal::task<T>, its awaitables, exceptions at the poll boundary, and frames
// destroyed exactly once (completion, abort, scope close, shutdown).
#include "test_util.hpp"
#include <algorithm>
#include <csignal>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <pthread.h>
#include <sched.h>
#include <set>
#include <sys/socket.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace luminal;
using namespace std::chrono_literals;

static task<int> answer() { co_return 42; }
static task<int> add_after_yield(int a, int b) {
  co_await yield_now();
  co_return a + b;
}

TEST(task_block_on_and_spawn) {
  runtime r = tu::rt();
  CHECK(block_on(r, answer()) == 42);
  CHECK(spawn(r, add_after_yield(2, 3)).join() == 5);
  auto t = []() -> task<void> { co_return; };
  block_on(r, t());
  auto s = []() -> task<std::string> { co_return std::string(100, 'y'); };
  CHECK(spawn(r, s()).join() == std::string(100, 'y'));
}

static task<int> depth(int n) {
  if (n == 0) co_return 0;
  co_await yield_now();
  co_return 1 + co_await depth(n - 1);
}

TEST(task_inline_children) {
  runtime r = tu::rt();
  CHECK(block_on(r, depth(50)) == 50);
  auto parent = []() -> task<int> {
    int sum = 0;
    for (int i = 0; i < 1000; i++) sum += co_await answer(); // completes without suspending
    task<int> lvalue = add_after_yield(1, 1);
    sum += co_await lvalue;
    co_return sum;
  };
  CHECK(block_on(r, parent()) == 42002);
}

TEST(task_awaits_join_handles) {
  runtime r = tu::rt();
  auto parent = [](runtime_ref rt) -> task<int> {
    join_handle<int> a = spawn(rt, add_after_yield(1, 2));
    auto cx = co_await this_context();
    join_handle<int> b = spawn(context(cx), answer()); // onto this worker's queue
    int x = co_await a;
    int y = co_await std::move(b);
    join_handle<int> c = spawn(rt, [] { return 100; }); // a callable's handle awaits the same way
    co_return x + y + co_await c;
  };
  CHECK(spawn(r, parent(r)).join() == 145);
}

static task<int> throws_at_once() {
  throw std::runtime_error("before the first suspension");
  co_return 0;
}
static task<int> throws_later() {
  co_await luminal::sleep(1ms);
  throw std::logic_error("after a suspension");
  co_return 0;
}

TEST(task_exceptions_rethrown_from_join) {
  runtime r = tu::rt();
  try {
    spawn(r, throws_at_once()).join();
    CHECK(false);
  } catch (const std::runtime_error &e) {
    CHECK(std::string(e.what()) == "before the first suspension");
  }
  try {
    block_on(r, throws_later());
    CHECK(false);
  } catch (const std::logic_error &e) {
    CHECK(std::string(e.what()) == "after a suspension");
  }
  auto catcher = []() -> task<int> { // an inline child's exception reaches its parent's co_await
    try {
      co_await throws_later();
    } catch (const std::logic_error &) {
      co_return 1;
    }
    co_return 0;
  };
  CHECK(block_on(r, catcher()) == 1);
  auto awaits_join = [](runtime_ref rt) -> task<int> { // and a spawned task's, its joiner's co_await
    auto h = spawn(rt, throws_at_once());
    try {
      co_await h;
    } catch (const std::runtime_error &) {
      co_return 2;
    }
    co_return 0;
  };
  CHECK(block_on(r, awaits_join(r)) == 2);
}

// Suspends until `n` is notified (never, in the abort tests), holding probes in its frame and its child's.
static task<void> child_waits(tu::counts &c, const notify &n) {
  tu::probe p(c);
  co_await n.wait();
}
static task<void> parent_waits(tu::counts &c, const notify &n) {
  tu::probe p(c);
  co_await child_waits(c, n);
}

TEST(abort_destroys_suspended_frames_once) {
  runtime r = tu::rt();
  tu::counts c;
  notify n(r);
  std::vector<join_handle<void>> hs;
  for (int i = 0; i < 100; i++) hs.push_back(spawn(r, parent_waits(c, n)));
  CHECK(tu::eventually([&] { return c.made == 200; }));
  for (auto &h : hs) h.abort();
  for (auto &h : hs) CHECK(tu::status_of([&] { h.join(); }) == LUMINAL_E_CANCELLED);
  CHECK(c.made == 200 && c.gone == 200);
}

TEST(shutdown_destroys_suspended_frames_once) {
  tu::counts c;
  std::vector<join_handle<void>> hs;
  {
    runtime r = tu::rt();
    notify n(r);
    for (int i = 0; i < 100; i++) hs.push_back(spawn(r, parent_waits(c, n)));
    for (int i = 0; i < 100; i++) spawn_detached(r, parent_waits(c, n));
    auto sleeper = [](tu::counts &k) -> task<void> {
      tu::probe p(k);
      co_await luminal::sleep(1h);
    };
    for (int i = 0; i < 50; i++) spawn_detached(r, sleeper(c));
    CHECK(tu::eventually([&] { return c.made == 450; }));
    CHECK(r.shutdown());
    CHECK(c.gone == 450);
  }
  for (auto &h : hs) CHECK(tu::status_of([&] { h.join(); }) == LUMINAL_E_CANCELLED);
  CHECK(c.made == 450 && c.gone == 450);
}

TEST(scope_close_destroys_suspended_frames_once) {
  runtime r = tu::rt();
  tu::counts c;
  notify n(r);
  scope s(r);
  spawn_options o = s.options();
  for (int i = 0; i < 100; i++) spawn_detached(r, parent_waits(c, n), &o);
  CHECK(tu::eventually([&] { return c.made == 200; }));
  CHECK(s.close(10s));
  CHECK(c.made == 200 && c.gone == 200);
}

TEST(completed_frames_freed_once) {
  runtime r = tu::rt();
  tu::counts c;
  auto body = [](tu::counts &k) -> task<tu::probe> {
    tu::probe p(k);
    co_await yield_now();
    co_return p;
  };
  { auto v = spawn(r, body(c)).join(); } // joined
  { auto h = spawn(r, body(c)); CHECK(tu::eventually([&] { return h.is_finished(); })); } // unjoined
  spawn_detached(r, body(c)); // detached
  { auto v = block_on(r, body(c)); }
  CHECK(tu::eventually([&] { return c.made == c.gone; }));
  r.shutdown();
  CHECK(c.made == c.gone);
}

// A local whose destructor throws: declared noexcept(false), so the throw leaves the destructor.
struct throws_on_destroy {
  tu::counts *c;
  ~throws_on_destroy() noexcept(false) {
    c->gone++;
    throw std::runtime_error("from a destructor");
  }
};

TEST(exception_in_destructor_during_abort) {
  runtime r = tu::rt();
  tu::counts c;
  notify n(r);
  auto body = [](tu::counts &k, const notify &nn) -> task<void> {
    tu::probe outer(k);
    throws_on_destroy t{&k};
    k.made++;
    co_await nn.wait();
  };
  auto h = spawn(r, body(c, n));
  CHECK(tu::eventually([&] { return c.made == 2; }));
  // The frame's destruction throws: swallowed at the drop boundary, the other local still destroyed (the frame's
  // memory itself is leaked by both compilers' destroy(), see luminal.hpp).
  h.abort();
  CHECK(tu::status_of([&] { h.join(); }) == LUMINAL_E_CANCELLED);
  CHECK(tu::eventually([&] { return c.gone == 2; }));
  CHECK(spawn(r, answer()).join() == 42); // the runtime is fine
}

TEST(sleep_and_timeouts) {
  runtime r = tu::rt();
  auto body = [](runtime_ref rt) -> task<int> {
    uint64_t t0 = luminal_now_ns();
    co_await luminal::sleep(rt, 5ms);
    CHECK(luminal_now_ns() - t0 >= 5000000);
    co_await sleep_until(rt, luminal_now_ns() + 1000000);
    int score = 0;
    if (!co_await timeout(1ms, luminal::sleep(1h))) score += 1;       // timed out: false
    if (co_await timeout(rt, 10s, luminal::sleep(1ms))) score += 10;  // completed: true
    std::optional<int> v = co_await timeout(10s, answer());
    if (v && *v == 42) score += 100;
    auto [tx, rx] = channel<int>(rt);
    std::optional<std::optional<int>> none = co_await timeout(1ms, rx.recv());
    if (!none) score += 1000;
    co_return score;
  };
  CHECK(block_on(r, body(r)) == 1111);
}

TEST(timeout_drops_inner_frame_once) {
  runtime r = tu::rt();
  tu::counts c;
  notify n(r);
  auto body = [](tu::counts &k, const notify &nn) -> task<bool> {
    co_return co_await timeout(2ms, parent_waits(k, nn));
  };
  CHECK(!block_on(r, body(c, n)));
  CHECK(c.made == 2 && c.gone == 2);
}

TEST(yield_now_many) {
  runtime r = tu::rt();
  auto body = []() -> task<int> {
    int i = 0;
    for (; i < 10000; i++) co_await yield_now();
    co_return i;
  };
  std::vector<join_handle<int>> hs;
  for (int i = 0; i < 8; i++) hs.push_back(spawn(r, body()));
  for (auto &h : hs) CHECK(h.join() == 10000);
}

TEST(channels_async) {
  runtime r = tu::rt();
  auto producer = [](sender<std::string> tx, int from) -> task<void> {
    for (int i = 0; i < 500; i++) CHECK(co_await tx.send(std::to_string(from + i)));
  };
  auto consumer = [](receiver<std::string> rx) -> task<long> {
    long sum = 0;
    while (auto m = co_await rx.recv()) sum += std::stol(*m);
    co_return sum;
  };
  auto [tx, rx] = channel<std::string>(r, 4); // bounded: senders wait
  auto c = spawn(r, consumer(std::move(rx)));
  spawn_detached(r, producer(tx, 0));
  spawn_detached(r, producer(tx, 1000));
  { auto drop = std::move(tx); }
  CHECK(c.join() == 2 * (499 * 500 / 2) + 500 * 1000);

  auto [tx2, rx2] = channel<int>(r);
  { auto drop = std::move(rx2); }
  auto closed = [](sender<int> t) -> task<bool> { co_return co_await t.send(1); };
  CHECK(!block_on(r, closed(tx2)));
}

// A trivially copyable T that fits in a pointer travels in the message's bits (no box): 0 is a value like any
// other (a NULL message, not the end), and the small struct's bytes arrive intact.
TEST(channel_small_values_inline) {
  runtime r = tu::rt();
  static_assert(detail::inline_message<int> && detail::inline_message<void *> && !detail::inline_message<std::string>);
  struct pair16 {
    int32_t a;
    int16_t b;
  };
  static_assert(detail::inline_message<pair16>);
  auto [tx, rx] = channel<int>(r, 2);
  CHECK(tx.try_send(0) == LUMINAL_OK);
  CHECK(tx.try_send(-7) == LUMINAL_OK);
  int full = 0;
  CHECK(tx.try_send(std::move(full)) == LUMINAL_E_FULL && full == 0);
  auto take2 = [](receiver<int> rx) -> task<int> {
    auto a = co_await rx.recv();
    auto b = co_await rx.recv();
    co_return a && b && *a == 0 ? *b : 1;
  };
  CHECK(block_on(r, take2(std::move(rx))) == -7);

  auto [ptx, prx] = channel<pair16>(r);
  CHECK(ptx.try_send(pair16{123456, -3}) == LUMINAL_OK);
  pair16 got{};
  CHECK(prx.try_recv(got) == LUMINAL_OK && got.a == 123456 && got.b == -3);

  auto [otx, orx] = oneshot<int>(r);
  auto waiter = [](oneshot_receiver<int> rx) -> task<int> {
    auto v = co_await rx.recv();
    co_return v ? *v : 1;
  };
  auto h = spawn(r, waiter(std::move(orx)));
  std::this_thread::sleep_for(2ms);
  CHECK(std::move(otx).send(0));
  CHECK(h.join() == 0);
}

TEST(oneshot_async) {
  runtime r = tu::rt();
  auto [tx, rx] = oneshot<std::string>(r);
  auto waiter = [](oneshot_receiver<std::string> rx) -> task<std::string> { co_return *co_await rx.recv(); };
  auto h = spawn(r, waiter(std::move(rx)));
  std::this_thread::sleep_for(2ms);
  CHECK(std::move(tx).send("hi"));
  CHECK(h.join() == "hi");
  auto [tx2, rx2] = oneshot<int>(r);
  { auto drop = std::move(tx2); }
  auto none = [](oneshot_receiver<int> rx) -> task<bool> { co_return !(co_await rx.recv()).has_value(); };
  CHECK(block_on(r, none(std::move(rx2))));
}

TEST(notify_async) {
  runtime r = tu::rt();
  notify n(r);
  std::atomic<int> woke{0};
  auto waiter = [](const notify &nn, std::atomic<int> &w) -> task<void> {
    co_await nn.wait();
    w++;
  };
  std::vector<join_handle<void>> hs;
  for (int i = 0; i < 4; i++) hs.push_back(spawn(r, waiter(n, woke)));
  std::this_thread::sleep_for(5ms);
  n.notify_all();
  for (auto &h : hs) h.join();
  CHECK(woke == 4);
  n.notify_one(); // stored permit: the next wait completes at once
  block_on(r, waiter(n, woke));
  CHECK(woke == 5);
}

TEST(signal_listener_async) {
  runtime r = tu::rt();
  signal_listener a = signal_listener::listen(r, SIGUSR1), b = signal_listener::listen(r, SIGUSR1);
  auto both = [](const signal_listener &x, const signal_listener &y) -> task<bool> {
    bool gx = co_await x.recv(), gy = co_await y.recv();
    co_return gx && gy;
  };
  join_handle<bool> h = spawn(r, both(a, b));
  CHECK(std::raise(SIGUSR1) == 0); // pending or remembered: each listener sees the delivery
  CHECK(h.join());
  // An empty listener: recv throws.
  auto on_empty = [](const signal_listener &x) -> task<bool> { co_return co_await x.recv(); };
  signal_listener empty;
  CHECK(tu::status_of([&] { block_on(r, on_empty(empty)); }) == LUMINAL_E_INVALID_ARGUMENT);
}

TEST(signal_listener_recv_after_release) {
  // A current-thread runtime, so the recv is surely pending before the release.
  runtime r = runtime::builder().current_thread().build();
  signal_listener l = signal_listener::listen(r, SIGUSR1);
  int got = -1;
  auto waiter = [](const signal_listener &x, int &g) -> task<void> { g = (co_await x.recv()) ? 1 : 0; };
  join_handle<void> h = spawn(r, waiter(l, got));
  r.run();
  CHECK(got == -1);
  l = signal_listener(); // released: the pending recv completes with false (LUMINAL_E_CLOSED)
  r.run();
  CHECK(got == 0);
  h.join();
}

TEST(semaphore_async) {
  runtime r = tu::rt(4);
  semaphore s(r, 2);
  std::atomic<int> inside{0}, peak{0};
  auto worker = [](const semaphore &sem, std::atomic<int> &in, std::atomic<int> &pk) -> task<void> {
    for (int i = 0; i < 20; i++) {
      CHECK(co_await sem.acquire());
      int now = ++in;
      int p = pk.load();
      while (now > p && !pk.compare_exchange_weak(p, now)) {
      }
      co_await yield_now();
      --in;
      sem.add_permits(1);
    }
  };
  std::vector<join_handle<void>> hs;
  for (int i = 0; i < 8; i++) hs.push_back(spawn(r, worker(s, inside, peak)));
  for (auto &h : hs) h.join();
  CHECK(peak <= 2 && peak >= 1);
  s.close();
  auto closed = [](const semaphore &sem) -> task<bool> { co_return co_await sem.acquire(5); };
  CHECK(!block_on(r, closed(s)));
}

TEST(task_set_join_next) {
  runtime r = tu::rt();
  auto body = [](runtime_ref rt) -> task<int> {
    task_set<int> set(rt);
    for (int i = 1; i <= 10; i++) set.spawn(add_after_yield(i, 0));
    set.spawn([] { return 1000; });
    int sum = 0;
    while (auto v = co_await set.join_next()) sum += *v;
    task_set<int> failing(rt);
    failing.spawn(throws_at_once());
    try {
      co_await failing.join_next();
    } catch (const std::runtime_error &) {
      sum += 1;
    }
    task_set<void> voids(rt);
    notify n(rt);
    voids.spawn([](const notify &nn) -> task<void> { co_await nn.wait(); }(n));
    voids.abort_all();
    if (tu::status_of([&] { throw error(LUMINAL_E_CANCELLED); }) == LUMINAL_E_CANCELLED) {
      try {
        co_await voids.join_next();
      } catch (const error &e) {
        if (e.status() == LUMINAL_E_CANCELLED) sum += 10;
      }
    }
    if (!co_await voids.join_next()) sum += 100; // empty
    co_return sum;
  };
  CHECK(block_on(r, body(r)) == 55 + 1000 + 111);
}

TEST(io_file_operations) {
  runtime r = tu::rt();
  char path[] = "/tmp/luminal-cpp-test-XXXXXX";
  int tmp = mkstemp(path);
  CHECK(tmp >= 0);
  close(tmp);
  auto body = [](const char *p) -> task<std::string> {
    int32_t fd = co_await file_open(p, O_RDWR | O_TRUNC);
    const char text[] = "hello, file";
    CHECK(co_await write_at(fd, text, sizeof text - 1, 0) == sizeof text - 1);
    co_await file_fsync(fd);
    luminal_file_info info = co_await file_stat(fd);
    CHECK(info.size == sizeof text - 1);
    char buf[64] = {};
    size_t n = co_await read_at(fd, buf, sizeof buf, 7);
    CHECK(n == 4 && std::memcmp(buf, "file", 4) == 0);
    co_await file_close(fd);
    buffer all = co_await read_all(p);
    mapped_file map = co_await file_map(p);
    CHECK(map.size() == all.size() && std::memcmp(map.data(), all.data(), all.size()) == 0);
    try {
      co_await file_open("/nonexistent/luminal", O_RDONLY);
      CHECK(false);
    } catch (const error &e) {
      CHECK(e.status() == LUMINAL_E_IO && e.os_error() == ENOENT);
    }
    co_return std::string(reinterpret_cast<const char *>(all.data()), all.size());
  };
  CHECK(block_on(r, body(path)) == "hello, file");
  unlink(path);
}

TEST(io_tcp_and_pipes) {
  runtime r = tu::rt();
  listener l = tcp_listen("127.0.0.1");
  auto server = [](int32_t lfd) -> task<size_t> {
    int32_t fd = co_await tcp_accept(lfd);
    char buf[256];
    size_t total = 0;
    for (;;) {
      size_t n = co_await stream_read(fd, buf, sizeof buf);
      if (n == 0) break;
      co_await stream_write_all(fd, buf, n);
      total += n;
    }
    co_await file_close(fd);
    co_return total;
  };
  auto client = [](uint16_t port) -> task<std::string> {
    int32_t fd = co_await tcp_connect("127.0.0.1", port);
    std::string msg(1000, 'e');
    co_await stream_write_all(fd, msg.data(), msg.size());
    stream_shutdown(fd, SHUT_WR);
    std::string back;
    char buf[300];
    while (size_t n = co_await stream_read(fd, buf, sizeof buf)) back.append(buf, n);
    co_await file_close(fd);
    co_return back;
  };
  auto s = spawn(r, server(l.fd));
  CHECK(spawn(r, client(l.port)).join() == std::string(1000, 'e'));
  CHECK(s.join() == 1000);
  close(l.fd);
  auto [rd, wr] = make_pipe();
  auto pipes = [](int32_t a, int32_t b) -> task<char> {
    co_await stream_write(b, "p", 1);
    char c = 0;
    co_await stream_read(a, &c, 1);
    co_return c;
  };
  CHECK(block_on(r, pipes(rd, wr)) == 'p');
  close(rd), close(wr);
}

TEST(drain_and_raw_futures) {
  runtime r = tu::rt();
  scope s(r);
  spawn_options o = s.options();
  std::atomic<int> ran{0};
  auto body = [](runtime_ref rt, const scope &sc, spawn_options opts, std::atomic<int> &k) -> task<int> {
    for (int i = 0; i < 10; i++) {
      spawn_detached(rt, [](std::atomic<int> &kk) -> task<void> {
        co_await yield_now();
        kk++;
      }(k), &opts);
    }
    co_await drain(sc);
    future f;
    check(luminal_sleep(rt.handle, 1000, f.out_param()));
    void *out = co_await await_future(std::move(f));
    co_return out == nullptr ? k.load() : -1;
  };
  CHECK(block_on(r, body(r, s, o, ran)) == 10);
}

TEST(join_of_aborted_task_in_task) {
  runtime r = tu::rt();
  notify n(r);
  tu::counts c;
  auto body = [](runtime_ref rt, tu::counts &k, const notify &nn) -> task<luminal_status> {
    auto h = spawn(rt, parent_waits(k, nn));
    co_await luminal::sleep(1ms);
    h.abort();
    try {
      co_await h;
    } catch (const error &e) {
      co_return e.status();
    }
    co_return LUMINAL_OK;
  };
  CHECK(block_on(r, body(r, c, n)) == LUMINAL_E_CANCELLED);
  CHECK(c.made == c.gone);
}

TEST(current_runtime_and_spawn_failures) {
  runtime r = tu::rt();
  auto body = []() -> task<uint32_t> {
    runtime_ref rt = co_await current_runtime();
    co_return luminal_runtime_worker_count(rt.handle);
  };
  CHECK(block_on(r, body()) == 2);
  tu::counts c;
  notify n(r);
  r.shutdown();
  CHECK(tu::status_of([&] { spawn(r, parent_waits(c, n)); }) == LUMINAL_E_SHUTDOWN);
  CHECK(tu::status_of([&] { block_on(r, parent_waits(c, n)); }) == LUMINAL_E_SHUTDOWN);
  CHECK(c.made == 0); // lazy: never started, and dropped by the failed spawn
  runtime r2 = tu::rt();
  auto deadlock = [](runtime_ref rt) -> task<luminal_status> {
    co_return tu::status_of([&] { block_on(rt, answer()); });
  };
  CHECK(spawn(r2, deadlock(r2)).join() == LUMINAL_E_WOULD_DEADLOCK);
}

// A user-written awaitable on luminal::poll_awaitable: ready after `n` polls, waking itself in between.
struct ready_after : poll_awaitable<ready_after> {
  int n;
  explicit ready_after(int k) noexcept : n(k) {}
  bool poll(luminal_context *cx) noexcept {
    if (n-- <= 0) return true;
    luminal_waker_wake_by_ref(luminal_context_waker(cx));
    return false;
  }
  int await_resume() const noexcept { return n; }
};

TEST(user_awaitable_and_block_on_awaitable) {
  runtime r = tu::rt();
  auto body = []() -> task<int> { co_return co_await ready_after(3); };
  CHECK(block_on(r, body()) == -1);
  CHECK(block_on(r, ready_after(0)) == -1); // any awaitable, run inside a task frame
  auto [rd, wr] = make_pipe();
  CHECK(block_on(r, stream_write(wr, "xy", 2)) == 2);
  char buf[2];
  CHECK(block_on(r, stream_read(rd, buf, 2)) == 2 && buf[1] == 'y');
  close(rd), close(wr);
}

// A paused clock (current-thread runtime): block_on auto-advances it when nothing is runnable, so a one-hour
// co_await luminal::sleep completes at once, and the runtime's clock moved by exactly the time slept.
TEST(paused_clock_hour_sleep) {
  auto r = luminal::runtime::builder().current_thread().paused_clock().build();
  auto t0 = r.now();
  auto hour = [](luminal::runtime_ref rt) -> luminal::task<int> {
    co_await luminal::sleep(std::chrono::hours(1));
    auto inner = luminal::spawn(rt, []() -> luminal::task<int> {
      co_await luminal::sleep(std::chrono::minutes(30));
      co_return 2;
    }());
    co_return 1 + co_await inner;
  };
  auto wall0 = std::chrono::steady_clock::now();
  CHECK(luminal::block_on(r, hour(r)) == 3);
  CHECK(r.now() - t0 >= std::chrono::minutes(90));
  CHECK(r.now() - t0 < std::chrono::minutes(91));
  CHECK(std::chrono::steady_clock::now() - wall0 < std::chrono::minutes(10)); // not really waited
}

// A detached task has no output: its frame (and an exception it ended with) is freed by the runtime's drop.
TEST(detached_frames_freed_once_also_with_exception) {
  tu::counts c;
  {
    runtime r = tu::rt();
    auto body = [](tu::counts &k, bool fail) -> task<int> {
      tu::probe p(k);
      co_await yield_now();
      if (fail) throw std::runtime_error("nobody joins this");
      co_return 1;
    };
    for (int i = 0; i < 200; i++) spawn_detached(r, body(c, i % 2 == 0));
    CHECK(tu::eventually([&] { return c.gone == 200; }));
    CHECK(r.shutdown());
  }
  CHECK(c.made == 200 && c.gone == 200);
}

// ---- the coroutine frame pool (detail::frame_pool, one instance per module; here private instances) ----

TEST(frame_pool_reuses_bounds_and_falls_back) {
  using luminal::detail::frame_pool;
  auto *pool = new frame_pool();
  void *a = pool->allocate(40);
  pool->deallocate(a);
  CHECK(pool->allocate(40) == a); // last freed, first reused (same class)
  pool->deallocate(a);
  // More live frames of one class than the bound, and frames above the biggest class: malloc'ed, freed to free.
  std::vector<unsigned char *> live;
  for (size_t i = 0; i < frame_pool::max_frames(1) + 100; i++) { // 100 bytes: class 1
    auto *p = static_cast<unsigned char *>(pool->allocate(100));
    std::memset(p, static_cast<int>(i), 100);
    live.push_back(p);
  }
  for (size_t i = 0; i < 10; i++) live.push_back(static_cast<unsigned char *>(pool->allocate(5000)));
  for (size_t i = 0; i < live.size() - 10; i++) CHECK(live[i][99] == static_cast<unsigned char>(i));
  for (auto *p : live) pool->deallocate(p);
  pool->close(); // every block back: the chunks are freed (ASan's leak check sees it in cpp.asan)
  void *late = pool->allocate(40); // after close: plain malloc
  pool->deallocate(late);
  delete pool;
}

// Threads allocating and freeing at once (each block filled with its owner's mark and checked before it goes):
// no block is ever handed out twice.
TEST(frame_pool_concurrent_alloc_free) {
  using luminal::detail::frame_pool;
  auto *pool = new frame_pool();
  std::vector<std::thread> ts;
  std::atomic<bool> bad{false};
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&, t] {
      std::vector<std::pair<unsigned char *, size_t>> mine;
      unsigned seed = 17u + static_cast<unsigned>(t);
      for (int i = 0; i < 100000; i++) {
        seed = seed * 1103515245u + 12345u;
        if (mine.size() < 64 && (seed >> 16) % 3 != 0) {
          size_t n = 16 + (seed >> 8) % 480;
          auto *p = static_cast<unsigned char *>(pool->allocate(n));
          std::memset(p, t + 1, n);
          mine.emplace_back(p, n);
        } else if (!mine.empty()) {
          auto [p, n] = mine.back();
          mine.pop_back();
          for (size_t k = 0; k < n; k++)
            if (p[k] != t + 1) bad = true;
          pool->deallocate(p);
        }
      }
      for (auto [p, n] : mine) pool->deallocate(p);
    });
  for (auto &th : ts) th.join();
  CHECK(!bad);
  pool->close();
  delete pool;
}

// One thread allocates, another frees (a spawner and the worker that finishes its tasks): the freed blocks land in
// the freeing thread's shard, and the allocating thread takes them back from there instead of carving new chunks.
// Pinned to two CPUs where there are two, so the shards differ; a block is never handed out twice, and the blocks
// in use stay few (without the take-back, 100,000 frames would walk through all 16,384 of the class and on to
// malloc).
TEST(frame_pool_blocks_freed_on_another_thread_come_back) {
  using luminal::detail::frame_pool;
  auto *pool = new frame_pool();
  constexpr int total = 100000;
  std::vector<std::atomic<unsigned char *>> ring(256);
  std::atomic<int> produced{0}, consumed{0};
  std::atomic<bool> bad{false};
  auto pin = [](int cpu) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % std::max(1u, std::thread::hardware_concurrency()), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)cpu;
#endif
  };
  std::mutex mu;
  std::set<unsigned char *> seen;
  std::thread producer([&] {
    pin(0);
    std::set<unsigned char *> mine;
    for (int i = 0; i < total; i++) {
      while (produced.load() - consumed.load() >= static_cast<int>(ring.size())) std::this_thread::yield();
      auto *p = static_cast<unsigned char *>(pool->allocate(40));
      std::memset(p, static_cast<unsigned char>(i), 40);
      mine.insert(p);
      ring[static_cast<size_t>(i) % ring.size()].store(p);
      produced.fetch_add(1);
    }
    std::lock_guard<std::mutex> g(mu);
    seen = std::move(mine);
  });
  std::thread consumer([&] {
    pin(1);
    for (int i = 0; i < total; i++) {
      while (consumed.load() == produced.load()) std::this_thread::yield();
      unsigned char *p = ring[static_cast<size_t>(i) % ring.size()].exchange(nullptr);
      for (int k = 0; k < 40; k++)
        if (p[k] != static_cast<unsigned char>(i)) bad = true;
      pool->deallocate(p);
      consumed.fetch_add(1);
    }
  });
  producer.join();
  consumer.join();
  CHECK(!bad);
  CHECK(seen.size() <= 2048); // at most 256 live at once: blocks are reused, not new each time
  pool->close(); // every block back: the chunks are freed (ASan's leak check sees it in cpp.asan)
  delete pool;
}
