// The benchmark workloads that have a natural equivalent in Intel TBB's task_group (after tokio's
// benches/rt_multi_threaded.rs; see ../rust-tokio). TBB tasks run to completion: they cannot yield or wait for a
// message without blocking a thread, so yield_many, ping_pong, spawn_many_remote_busy and pending_task_bytes have
// no TBB counterpart. TBB's model also differs in one way that matters: the thread that calls task_group::wait()
// runs tasks itself, so "2 workers" here means global_control(max_allowed_parallelism, 2): the main thread plus one
// TBB worker. Prints `name<TAB>value<TAB>reps` lines. Usage: bench_tbb [workload...]; env BENCH_*.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>
#include <sys/resource.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

constexpr int NUM_SPAWN = 10'000, CHAIN = 1'000, LATENCY_SAMPLES = 2'000;
static int warmup, reps, workers;
using clk = std::chrono::steady_clock;

static int env(const char *name, int dflt) { const char *v = std::getenv(name); return v ? std::atoi(v) : dflt; }
static double ns_since(clk::time_point t) { return std::chrono::duration<double, std::nano>(clk::now() - t).count(); }

// Runs f warmup times, then reps times; prints the median of (elapsed ns / ops).
static void measure(const char *name, int ops, const std::function<void()> &f) {
  for (int i = 0; i < warmup; i++) f();
  std::vector<double> v;
  for (int i = 0; i < reps; i++) {
    auto t = clk::now();
    f();
    v.push_back(ns_since(t) / ops);
  }
  std::sort(v.begin(), v.end());
  std::printf("%s\t%.1f\t%d\n", name, v[v.size() / 2], reps);
}

static void spawn_many_local() {  // one task spawns 10k tiny tasks
  std::atomic<int> rem{NUM_SPAWN};
  tbb::task_group tg;
  tg.run([&] {
    for (int i = 0; i < NUM_SPAWN; i++) tg.run([&] { rem.fetch_sub(1, std::memory_order_relaxed); });
  });
  tg.wait();
}

static void spawn_many_remote() {  // the main thread spawns 10k empty tasks, then waits for them (helping)
  tbb::task_group tg;
  for (int i = 0; i < NUM_SPAWN; i++) tg.run([] {});
  tg.wait();
}

static void chain(tbb::task_group &tg, int n) {
  if (n > 0) tg.run([&tg, n] { chain(tg, n - 1); });
}
static void chained_spawn() {
  tbb::task_group tg;
  tg.run([&] { chain(tg, CHAIN); });
  tg.wait();
}

static void spawn_join() {  // run + wait of one empty task from the main thread
  std::vector<double> v;
  for (int i = 0; i < (warmup + reps) * LATENCY_SAMPLES; i++) {
    auto t = clk::now();
    tbb::task_group tg;
    tg.run([] {});
    tg.wait();
    if (i >= warmup * LATENCY_SAMPLES) v.push_back(ns_since(t));
  }
  std::sort(v.begin(), v.end());
  std::printf("spawn_join_p50_ns\t%.0f\t%d\n", v[v.size() / 2], reps);
  std::printf("spawn_join_p99_ns\t%.0f\t%d\n", v[v.size() * 99 / 100], reps);
}

static double cpu_us() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}
static void idle_cpu() {  // CPU time of the whole process per second of idle wall time
  chained_spawn();          // wake the worker once, then leave it idle
  std::vector<double> v;
  for (int i = 0; i < 3; i++) {
    double c = cpu_us();
    auto t = clk::now();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    v.push_back((cpu_us() - c) * 1e9 / ns_since(t));
  }
  std::sort(v.begin(), v.end());
  std::printf("idle_cpu_us_per_s\t%.0f\t3\n", v[1]);
}

int main(int argc, char **argv) {
  warmup = env("BENCH_WARMUP", 3), reps = env("BENCH_REPS", 15), workers = env("BENCH_WORKERS", 2);
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, workers);
  const std::pair<const char *, std::function<void()>> all[] = {
      {"spawn_many_local", [] { measure("spawn_many_local", NUM_SPAWN, spawn_many_local); }},
      {"spawn_many_remote_idle", [] { measure("spawn_many_remote_idle", NUM_SPAWN, spawn_many_remote); }},
      {"chained_spawn", [] { measure("chained_spawn", CHAIN, chained_spawn); }},
      {"spawn_join", spawn_join},
      {"idle_cpu", idle_cpu},
  };
  for (auto &[name, run] : all) {
    bool selected = argc == 1;
    for (int a = 1; a < argc; a++) selected |= std::strcmp(argv[a], name) == 0;
    if (selected) run();
  }
  std::fflush(stdout);
}
