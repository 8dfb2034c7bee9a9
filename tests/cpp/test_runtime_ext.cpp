// The C++17 wrappers of the observing and current-thread APIs: status_name, builder options (log, thread and task
// hooks, debug_plugins, flavor, paused clock, seed), runtime::metrics / worker_metrics, run, wakeup_fd,
// next_deadline, now, advance; and their misuse.
#include "test_util.hpp"

#include <poll.h>

#include <cstring>

namespace {
struct hook_counts {
  std::atomic<int> logs{0}, started{0}, stopped{0}, spawned{0}, completed{0};
};
void on_log(void *u, luminal_log_level, const char *msg) {
  if (msg && *msg) static_cast<hook_counts *>(u)->logs++;
}
void on_start(void *u, luminal_thread_kind, uint32_t) { static_cast<hook_counts *>(u)->started++; }
void on_stop(void *u, luminal_thread_kind, uint32_t) { static_cast<hook_counts *>(u)->stopped++; }
void on_task(void *u, luminal_task_event e, uint64_t, uint32_t, uint64_t, int32_t) {
  if (e == LUMINAL_TASK_SPAWNED) static_cast<hook_counts *>(u)->spawned++;
  if (e == LUMINAL_TASK_COMPLETED) static_cast<hook_counts *>(u)->completed++;
}
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}
luminal::future sleep_future(luminal::runtime_ref rt, luminal::duration d) {
  luminal::future f;
  luminal::check(luminal_sleep(rt.handle, uint64_t(d.count()), f.out_param()));
  return f;
}
} // namespace

TEST(status_names) {
  CHECK(std::strcmp(luminal::status_name(LUMINAL_E_TIMED_OUT), "LUMINAL_E_TIMED_OUT") == 0);
  CHECK(std::strcmp(luminal::status_name(LUMINAL_OK), "LUMINAL_OK") == 0);
  CHECK(std::strcmp(luminal::status_name(luminal_status(12345)), "LUMINAL_STATUS_UNKNOWN") == 0);
  CHECK(luminal::abi_version() == LUMINAL_ABI_VERSION);
  CHECK(std::strcmp(luminal::version(), LUMINAL_VERSION_STRING) == 0);
}

TEST(metrics_wrappers) {
  auto r = tu::rt(2);
  for (int i = 0; i < 10; i++) CHECK(luminal::spawn(r, [] { return 1; }).join() == 1);
  auto m = r.metrics();
  CHECK(m.workers == 2 && m.tasks_spawned >= 10 && m.tasks_completed >= 10);
  CHECK(m.struct_size == sizeof m);
  uint64_t polls = 0;
  for (uint32_t w = 0; w < r.worker_count(); w++) polls += r.worker_metrics(w).polls;
  CHECK(polls >= 10);
  CHECK(tu::status_of([&] { (void)r.worker_metrics(2); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(r.shutdown());
  CHECK(r.metrics().tasks_alive == 0); // final counters after shutdown
  auto none = luminal::runtime::adopt(nullptr);
  CHECK(tu::status_of([&] { (void)none.metrics(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { (void)none.worker_metrics(0); }) == LUMINAL_E_INVALID_ARGUMENT);
}

TEST(builder_hooks) {
  hook_counts c;
  {
    auto r = luminal::runtime::builder()
                 .worker_threads(2)
                 .log(&on_log, &c, LUMINAL_LOG_DEBUG)
                 .thread_hooks(&on_start, &on_stop, &c)
                 .task_hook(&on_task, &c)
                 .debug_plugins()
                 .build();
    CHECK(tu::eventually([&] { return c.started >= 2; }));
    CHECK(luminal::spawn(r, [] { return 5; }).join() == 5);
    CHECK(c.spawned >= 1 && c.completed >= 1);
    CHECK(r.shutdown());
    CHECK(c.stopped >= 2);
  }
  CHECK(c.logs >= 1); // DEBUG: runtime created / shut down
}

TEST(builder_bad_options) {
  // the paused clock and a seed need a current-thread runtime
  CHECK(tu::status_of([] { luminal::runtime::builder().paused_clock().build(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([] { luminal::runtime::builder().seed(7).build(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([] { luminal::runtime::builder().flavor(luminal_flavor(9)).build(); }) ==
        LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([] { luminal::runtime::builder().log(nullptr, nullptr, luminal_log_level(9)).build(); }) ==
        LUMINAL_E_INVALID_ARGUMENT);
}

TEST(current_thread_run_and_wakeup_fd) {
  auto r = luminal::runtime::builder().current_thread().seed(42).build();
  CHECK(r.worker_count() == 1);
  int fd = r.wakeup_fd();
  CHECK(fd >= 0 && fd == r.wakeup_fd());
  CHECK(r.run() == 0); // nothing to do; returns at once
  std::atomic<int> ran{0};
  auto h = luminal::spawn(r, [&] { return ++ran; });
  CHECK(readable(fd));
  CHECK(ran == 0); // nobody drives it yet
  CHECK(r.run(1) == 1);
  CHECK(ran == 1 && h.is_finished());
  CHECK(h.join() == 1);
  for (int i = 0; i < 5; i++) luminal::spawn(r, [] { return 0; }).detach();
  CHECK(r.run(2) == 2); // max_polls
  CHECK(r.run(0, std::chrono::seconds(10)) == 3);
  CHECK(r.shutdown());
  CHECK(tu::status_of([&] { r.run(); }) == LUMINAL_E_SHUTDOWN);
  CHECK(tu::status_of([&] { (void)r.wakeup_fd(); }) == LUMINAL_E_SHUTDOWN);
}

TEST(current_thread_misuse) {
  auto mt = tu::rt(1); // multi-thread: no run, no wakeup fd, no advance
  CHECK(tu::status_of([&] { mt.run(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { (void)mt.wakeup_fd(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { mt.advance(std::chrono::seconds(1)); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(!mt.next_deadline());
  CHECK(mt.now().count() > 0);
  auto none = luminal::runtime::adopt(nullptr);
  CHECK(tu::status_of([&] { none.run(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { (void)none.wakeup_fd(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { (void)none.next_deadline(); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { none.advance(std::chrono::seconds(1)); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(none.now().count() == 0);
  // another thread driving: BUSY
  auto ct = luminal::runtime::builder().current_thread().build();
  std::atomic<bool> inside{false}, release{false};
  auto h = luminal::spawn(ct, [&] {
    inside = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 0;
  });
  std::thread driver([&] { ct.run(); });
  CHECK(tu::eventually([&] { return inside.load(); }));
  CHECK(tu::status_of([&] { ct.run(); }) == LUMINAL_E_BUSY);
  release = true;
  driver.join();
  CHECK(h.join() == 0);
}

TEST(paused_clock_advance) {
  auto r = luminal::runtime::builder().current_thread().paused_clock().build();
  auto t0 = r.now();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(r.now() == t0); // stands still
  CHECK(!r.next_deadline());
  auto h = luminal::spawn(r, sleep_future(r, std::chrono::hours(1)));
  r.run();
  CHECK(!h.is_finished());
  auto d = r.next_deadline();
  CHECK(d && *d <= t0 + std::chrono::hours(1) && *d > t0);
  r.advance(std::chrono::minutes(59));
  CHECK(!h.is_finished() && r.now() == t0 + std::chrono::minutes(59));
  r.advance(std::chrono::minutes(1));
  CHECK(h.is_finished());
  CHECK(r.now() == t0 + std::chrono::hours(1));
  CHECK(!r.next_deadline());
}
