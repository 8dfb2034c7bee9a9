// The benchmark workloads of ../c/bench_luminal.c, written with luminal::task<T> (C++20 coroutines over
// include/luminal.hpp): the cost of the C++ layer over Luminal-from-C. Same output format:
// `name<TAB>value<TAB>reps` (median ns per op unless the name says otherwise).
// Usage: bench_luminal_cpp [workload...]; env BENCH_REPS, BENCH_WARMUP, BENCH_WORKERS.
// Each task is one coroutine frame (from luminal.hpp's frame pool) where the C program's tasks need no allocation.
#include "luminal.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sys/resource.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

using luminal::task;

enum { NUM_SPAWN = 10000, NUM_YIELD = 1000, TASKS = 200, NUM_PINGS = 1000, CHAIN = 1000, PENDING = 1000000,
       LATENCY_SAMPLES = 2000 };

static luminal::runtime *rt;
static int warmup, reps, workers;
static std::atomic<size_t> rem; // tasks left before the last one signals `done`

// The clock the C program reads (clock_gettime, a vDSO call): luminal_now_ns is a call into the runtime, which
// added two runtime calls to each spawn_join sample that the C program's samples do not have.
static uint64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}
static int env(const char *name, int dflt) {
  const char *v = std::getenv(name);
  return v ? std::atoi(v) : dflt;
}

// `done`: a counting signal from the tasks to the main thread.
static struct {
  std::mutex m;
  std::condition_variable c;
  int n = 0;
} done;
static void done_signal() {
  std::lock_guard<std::mutex> g(done.m);
  done.n++;
  done.c.notify_one();
}
static void done_wait(int k) {
  std::unique_lock<std::mutex> g(done.m);
  done.c.wait(g, [&] { return done.n >= k; });
  done.n -= k;
}

template <class F>
static void measure(const char *name, int ops, F f) {
  std::vector<uint64_t> v;
  for (int i = 0; i < warmup; i++) f();
  for (int i = 0; i < reps; i++) {
    uint64_t t = now_ns();
    f();
    v.push_back((now_ns() - t) * 10 / ops); // tenths of ns
  }
  std::sort(v.begin(), v.end());
  std::printf("%s\t%.1f\t%d\n", name, v[v.size() / 2] / 10.0, reps);
  std::fflush(stdout);
}

// ---- spawn_many_local: one task spawns 10k tiny tasks onto its worker's queue ----
static task<void> count_down() {
  if (rem.fetch_sub(1, std::memory_order_relaxed) == 1) done_signal();
  co_return;
}
static task<void> spawn_10k() {
  luminal::context cx = co_await luminal::this_context();
  for (int i = 0; i < NUM_SPAWN; i++) luminal::spawn_detached(cx, count_down());
}
static void spawn_many_local() {
  rem = NUM_SPAWN;
  luminal::spawn_detached(*rt, spawn_10k());
  done_wait(1);
}

// ---- spawn_many_remote_*: the main thread spawns 10k empty tasks, then a block_on awaits them all ----
static task<void> empty() { co_return; }
static task<void> join_all(std::vector<luminal::join_handle<void>> &hs) {
  for (auto &h : hs) co_await h;
}
static void spawn_many_remote() {
  std::vector<luminal::join_handle<void>> hs;
  hs.reserve(NUM_SPAWN);
  for (int i = 0; i < NUM_SPAWN; i++) hs.push_back(luminal::spawn(*rt, empty()));
  luminal::block_on(*rt, join_all(hs));
}
static std::atomic<bool> busy;
static task<void> yield_while_busy() {
  while (busy.load(std::memory_order_relaxed)) co_await luminal::yield_now();
}
static void spawn_many_remote_busy() {
  busy = true; // keep every worker busy with tasks that yield in a loop
  for (int i = 0; i < 2 * workers; i++) luminal::spawn_detached(*rt, yield_while_busy());
  measure("spawn_many_remote_busy", NUM_SPAWN, spawn_many_remote);
  busy = false;
}

// ---- yield_many: 200 tasks yield 1,000 times each ----
static task<void> yield_1000() {
  for (int i = 0; i < NUM_YIELD; i++) co_await luminal::yield_now();
  done_signal();
}
static void yield_many() {
  for (int i = 0; i < TASKS; i++) luminal::spawn_detached(*rt, yield_1000());
  done_wait(TASKS);
}

// ---- ping_pong: 1,000 pairs of tasks, ping sends over a oneshot, pong answers on another: the runtime's own
// (luminal::oneshot<T>, over luminal_oneshot_*), as the C program uses luminal_oneshot_* and tokio its own ----
static task<void> pong_task(luminal::oneshot_receiver<int> ping, luminal::oneshot_sender<int> pong) {
  co_await ping.recv();
  std::move(pong).send(1);
}
static task<void> ping_task() {
  luminal::context cx = co_await luminal::this_context();
  auto [ping_tx, ping_rx] = luminal::oneshot<int>(cx.runtime());
  auto [pong_tx, pong_rx] = luminal::oneshot<int>(cx.runtime());
  luminal::spawn_detached(cx, pong_task(std::move(ping_rx), std::move(pong_tx)));
  std::move(ping_tx).send(1);
  co_await pong_rx.recv();
  if (rem.fetch_sub(1, std::memory_order_relaxed) == 1) done_signal();
}
static task<void> spawn_pings() {
  luminal::context cx = co_await luminal::this_context();
  for (int i = 0; i < NUM_PINGS; i++) luminal::spawn_detached(cx, ping_task());
}
static void ping_pong() {
  rem = NUM_PINGS;
  luminal::spawn_detached(*rt, spawn_pings());
  done_wait(1);
}

// ---- chained_spawn: each task spawns the next, 1,000 deep ----
static task<void> chain(int n) {
  if (n == 0) done_signal();
  else luminal::spawn_detached(co_await luminal::this_context(), chain(n - 1));
}
static void chained_spawn() {
  luminal::spawn_detached(*rt, chain(CHAIN));
  done_wait(1);
}

// ---- spawn_join: a task spawns an empty task and awaits it; p50/p99 over all samples ----
static task<void> spawn_and_await(std::vector<uint64_t> &samples) {
  for (auto &s : samples) {
    uint64_t t0 = now_ns();
    // A named handle: released after the sample is taken, as the C program releases its handle (a temporary would
    // be released, a runtime call, inside the sample).
    auto child = luminal::spawn(co_await luminal::this_context(), empty());
    co_await child;
    s = now_ns() - t0;
  }
  done_signal();
}
static void spawn_join() {
  std::vector<uint64_t> samples(static_cast<size_t>(warmup + reps) * LATENCY_SAMPLES);
  luminal::spawn_detached(*rt, spawn_and_await(samples));
  done_wait(1);
  std::vector<uint64_t> v(samples.begin() + warmup * LATENCY_SAMPLES, samples.end());
  std::sort(v.begin(), v.end());
  std::printf("spawn_join_p50_ns\t%llu\t%d\n", static_cast<unsigned long long>(v[v.size() / 2]), reps);
  std::printf("spawn_join_p99_ns\t%llu\t%d\n", static_cast<unsigned long long>(v[v.size() * 99 / 100]), reps);
}

// ---- pending_task_bytes: RSS growth with 1M spawned tasks, each polled once and never woken ----
static std::atomic<size_t> polled;
struct never : luminal::poll_awaitable<never> {
  bool poll(luminal_context *) noexcept { return false; }
  void await_resume() const noexcept {}
};
static task<void> forever_pending() {
  polled.fetch_add(1, std::memory_order_relaxed);
  co_await never();
}
static long rss_bytes() {
  long pages = 0, resident = 0;
  FILE *f = std::fopen("/proc/self/statm", "r");
  if (!f || std::fscanf(f, "%ld %ld", &pages, &resident) != 2) std::exit(1);
  std::fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}
static void pending_task_bytes() {
  long before = rss_bytes();
  for (int i = 0; i < PENDING; i++) luminal::spawn_detached(*rt, forever_pending());
  while (polled.load() < PENDING) usleep(1000);
  std::printf("pending_task_bytes\t%ld\t1\n", (rss_bytes() - before) / PENDING);
}

// ---- idle_cpu: CPU time (user + system) of the whole process per second of idle wall time ----
static uint64_t cpu_us() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
         static_cast<uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
static void idle_cpu() {
  chained_spawn(); // wake the workers once, then leave them idle
  uint64_t v[3];
  for (auto &x : v) {
    uint64_t c = cpu_us(), t = now_ns();
    sleep(1);
    x = (cpu_us() - c) * 1000000000u / (now_ns() - t);
  }
  std::sort(v, v + 3);
  std::printf("idle_cpu_us_per_s\t%llu\t3\n", static_cast<unsigned long long>(v[1]));
}

int main(int argc, char **argv) {
  struct workload {
    const char *name;
    void (*run)();
  };
  static const workload all[] = {
      {"spawn_many_local", [] { measure("spawn_many_local", NUM_SPAWN, spawn_many_local); }},
      {"spawn_many_remote_idle", [] { measure("spawn_many_remote_idle", NUM_SPAWN, spawn_many_remote); }},
      {"spawn_many_remote_busy", spawn_many_remote_busy},
      {"yield_many", [] { measure("yield_many", TASKS * NUM_YIELD, yield_many); }},
      {"ping_pong", [] { measure("ping_pong", NUM_PINGS, ping_pong); }},
      {"chained_spawn", [] { measure("chained_spawn", CHAIN, chained_spawn); }},
      {"spawn_join", spawn_join},
      {"pending_task_bytes", pending_task_bytes},
      {"idle_cpu", idle_cpu}};
  warmup = env("BENCH_WARMUP", 3), reps = env("BENCH_REPS", 15), workers = env("BENCH_WORKERS", 2);
  if (reps < 1 || reps > 1000) return 2;
  luminal::runtime r = luminal::runtime::builder().worker_threads(static_cast<uint32_t>(workers)).build();
  rt = &r;
  for (const auto &w : all) {
    bool selected = argc == 1;
    for (int a = 1; a < argc; a++) selected |= std::strcmp(argv[a], w.name) == 0;
    if (selected) w.run();
  }
  return 0;
}
