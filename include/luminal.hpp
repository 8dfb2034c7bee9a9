// luminal.hpp — C++ over Luminal's C ABI (include/luminal.h), header-only, namespace `luminal`.
//
// Two layers:
//  - C++17: RAII owners for every handle (runtime + builder, join_handle<T>, raw_join_handle, future, scope, waker,
//    context, sender/receiver, oneshot, notify, semaphore, task_set, plugin, addr_list, dir_list, process,
//    signal_listener), plain socket calls (addresses, listeners, options, UDP bind/connect), spawn of callables and
//    of any object with a `poll(luminal_context*)` member; runtime metrics, observer hooks, current-thread runtimes
//    and the paused clock (runtime::builder, runtime::run / advance / now); LUMINAL_CPP_PLUGIN(Type) to write a
//    plugin as a class.
//  - C++20 (when the compiler has coroutines, `__cpp_impl_coroutine`): luminal::task<T>, a coroutine that runs as
//    one Luminal task; co_await join handles, sleep, timeout, every IO operation, channels, notify, semaphore,
//    signal_listener::recv, yield_now; spawn(rt, task<T>) -> join_handle<T>, block_on(rt, task<T>) -> T.
//
// Errors are exceptions: luminal::error (a std::exception carrying the luminal_status, and the errno for IO).
// Why not an expected-style result: constructors (runtime, scope, channels) cannot return one; co_await chains
// would need a check after every await, which coroutines make noisy (no `?` operator in C++); std::expected is
// C++23 and we support C++17; and the Rust binding's panics already set the model "failure travels to the joiner".
// Conditions that are normal outcomes are not errors: a closed channel (recv -> nullopt, send -> false; a released
// signal_listener's recv -> false likewise), a full or empty try_send / try_recv (a status), a timeout (nullopt),
// a shutdown that timed out (false).
//
// Exceptions never cross into the runtime. Every function the runtime calls (poll, drop, drop_output, drop_message)
// is noexcept: a poll catches what escapes a coroutine or a callable and stores it in the task's output, and
// join() / co_await rethrows it (as the Rust binding does with panics); a drop swallows what a destructor throws
// (a destructor declared noexcept(false) that throws while an aborted frame is destroyed: the frame's other locals
// are still destroyed by the unwinding and the exception has nobody to go to, but g++ 12 and clang 14 skip the
// frame's own deallocation when destroy() unwinds, so that frame's memory is leaked: don't throw from destructors).
//
// Allocation: spawning a task<T> allocates its coroutine frame and nothing else on the C++ side: the
// result (value or exception) lives in the frame's promise, and the output handed to the joiner is a pointer into
// that frame (the frame is freed by whoever takes the output: join, co_await, or the runtime's drop_output for an
// unjoined task). Frames come from a lock-free pool per module (detail::frame_pool: bounded, freed at exit or
// unload; LUMINAL_FRAME_POOL=0 turns it off), not from a malloc per task. Beyond that there is only the runtime's own task record, which it recycles. A task awaited inline
// (co_await child_task()) is a second frame, not a second Luminal task. spawn(rt, callable) and spawn_poll(rt, obj)
// allocate one box (the object and its result). Channels of T allocate one box per message (the T).
//
// Frames are destroyed exactly once: by the joiner after completion (or drop_output if unjoined), or by the
// runtime's drop on abort, scope close, shutdown or a failed spawn (for spawn_detached, always by the drop: such a
// task has no output). An inline-awaited child frame is owned by the
// task<T> object inside its parent's frame, and goes with it.
//
// Not wrapped (call the C functions; luminal::future owns what they make and co_await luminal::await_future(f)
// polls it inside a task): luminal_spawn_blocking and luminal_spawn_blocking_with (their output has no drop
// function, so a typed result would leak when nobody joins), luminal_join_all and luminal_select.
//
// Contexts: a luminal_context* is valid only during one poll, and the runtime keeps none in thread-locals; neither
// does this header. A coroutine's awaitables get the context of the current poll from the root task's promise (set
// by the poll before it resumes the coroutine), never from a thread-local.
#ifndef LUMINAL_HPP
#define LUMINAL_HPP

#include "luminal.h"
#include "luminal_plugin.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#if defined(__linux__) && defined(_GNU_SOURCE)
#include <sched.h> // sched_getcpu: the frame pool's shard
#endif
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#if defined(__cpp_impl_coroutine) && __cpp_impl_coroutine >= 201902L && __has_include(<coroutine>)
#include <coroutine>
#define LUMINAL_HPP_COROUTINES 1
#ifndef LUMINAL_FRAME_POOL
#define LUMINAL_FRAME_POOL 1 // coroutine frames from detail::frame_pool (0: plain operator new/delete)
#endif
#endif

// The frame pool's symbols stay in the module (executable or shared object) that includes this header.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#define LUMINAL_HPP_HIDDEN __attribute__((visibility("hidden")))
#else
#define LUMINAL_HPP_HIDDEN
#endif
// Under AddressSanitizer, pooled frames are poisoned.
#if defined(__SANITIZE_ADDRESS__)
#define LUMINAL_HPP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LUMINAL_HPP_ASAN 1
#endif
#endif
#if defined(LUMINAL_HPP_ASAN) && __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#define LUMINAL_HPP_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define LUMINAL_HPP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define LUMINAL_HPP_POISON(p, n) ((void)(p), (void)(n))
#define LUMINAL_HPP_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace luminal {

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

class error : public std::exception {
 public:
  explicit error(luminal_status s, int os_error = 0) noexcept : status_(s), os_error_(os_error) {}
  luminal_status status() const noexcept { return status_; }
  int os_error() const noexcept { return os_error_; } // the errno of an IO error (status LUMINAL_E_IO), else 0
  const char *what() const noexcept override { return luminal_status_str(status_); }

 private:
  luminal_status status_;
  int os_error_;
};

// The library's version string and ABI version (compare abi_version() with LUMINAL_ABI_VERSION: a library older
// than this header may lack functions).
inline const char *version() noexcept { return luminal_version(); }
inline uint32_t abi_version() noexcept { return luminal_abi_version(); }

// The enumerator's name ("LUMINAL_E_TIMED_OUT"; "LUMINAL_STATUS_UNKNOWN" for a value the library does not know).
inline const char *status_name(luminal_status s) noexcept { return luminal_status_name(s); }

// Diagnostic (luminal_debug_gc_count): collections of the library's managed heap so far (not for program logic).
inline uint64_t debug_gc_count() noexcept { return luminal_debug_gc_count(); }

// Throws luminal::error unless s is LUMINAL_OK.
inline void check(luminal_status s) {
  if (s != LUMINAL_OK) throw error(s);
}

using duration = std::chrono::nanoseconds;

namespace detail {
inline uint64_t to_ns(duration d) noexcept { return d.count() <= 0 ? 0 : static_cast<uint64_t>(d.count()); }
inline uint64_t to_timeout_ns(std::optional<duration> d) noexcept { return d ? to_ns(*d) : UINT64_MAX; }

// A task's output as the joiner sees it: a value or an exception, plus who frees the storage it lives in (the
// coroutine frame, or a spawn box). The luminal output pointer of every typed C++ task points at one of these.
template <class T>
struct result_box {
  static_assert(!std::is_reference_v<T>, "a task cannot return a reference");
  void (*free_owner)(void *owner) noexcept = nullptr; // frees the frame or box holding this result
  void *owner = nullptr;
  std::exception_ptr exception;
  std::optional<T> value;
  template <class U>
  void set(U &&v) { value.emplace(std::forward<U>(v)); }
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};
template <>
struct result_box<void> {
  void (*free_owner)(void *owner) noexcept = nullptr;
  void *owner = nullptr;
  std::exception_ptr exception;
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
};

template <class T>
void drop_output(void *out) noexcept {
  auto *r = static_cast<result_box<T> *>(out);
  r->free_owner(r->owner);
}

// Takes the output of a typed task: reads the value (or the exception), frees the storage, returns or rethrows.
template <class T>
T take_output(void *out) {
  auto *r = static_cast<result_box<T> *>(out);
  struct freer {
    result_box<T> *r;
    ~freer() { r->free_owner(r->owner); }
  } f{r};
  return r->take();
}
} // namespace detail

// ---------------------------------------------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------------------------------------------

// A borrowed runtime handle (what a function that only uses the runtime takes): from a runtime, a context, or a
// raw luminal_runtime*.
struct runtime_ref {
  luminal_runtime *handle = nullptr;
  runtime_ref() = default;
  runtime_ref(luminal_runtime *h) noexcept : handle(h) {} // NOLINT: implicit on purpose
};

// An owned runtime handle. Copy = luminal_runtime_clone (another handle to the same runtime); the runtime shuts
// down when the last handle goes (the destructor releases one).
class runtime {
 public:
  class builder;
  runtime() { check(luminal_runtime_new(nullptr, &h_)); }
  explicit runtime(const luminal_runtime_options &o) { check(luminal_runtime_new(&o, &h_)); }
  // Adopts an owned handle (it will be released by this object).
  static runtime adopt(luminal_runtime *owned) noexcept { return runtime(owned, 0); }
  runtime(const runtime &o) : h_(o.h_ ? luminal_runtime_clone(o.h_) : nullptr) {
    if (o.h_ && !h_) throw error(LUMINAL_E_INVALID_HANDLE);
  }
  runtime(runtime &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  runtime &operator=(runtime o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~runtime() { luminal_runtime_release(h_); }

  luminal_runtime *get() const noexcept { return h_; }
  operator runtime_ref() const noexcept { return runtime_ref(h_); } // NOLINT: implicit on purpose
  luminal_runtime *release() noexcept { return std::exchange(h_, nullptr); }
  // true when shut down; false when a poll or drop was still running at the timeout (call again to wait more).
  // Throws for a bad handle and on one of the runtime's own workers (LUMINAL_E_WOULD_DEADLOCK).
  bool shutdown(std::optional<duration> timeout = std::nullopt) {
    luminal_status s = luminal_runtime_shutdown(h_, detail::to_timeout_ns(timeout));
    if (s == LUMINAL_E_TIMED_OUT) return false;
    check(s);
    return true;
  }
  uint32_t worker_count() const noexcept { return luminal_runtime_worker_count(h_); }
  luminal_io_backend io_backend() const noexcept { return luminal_runtime_io_backend(h_); }

  // Observing (luminal_runtime_get_metrics / _get_worker_metrics): snapshots; work after shutdown too. Throws for a
  // bad handle, and worker_metrics for an index >= worker_count() (LUMINAL_E_INVALID_ARGUMENT).
  luminal_runtime_metrics metrics() const {
    luminal_runtime_metrics m{};
    m.struct_size = sizeof m;
    check(luminal_runtime_get_metrics(h_, &m));
    return m;
  }
  luminal_worker_metrics worker_metrics(uint32_t index) const {
    luminal_worker_metrics m{};
    m.struct_size = sizeof m;
    check(luminal_runtime_get_worker_metrics(h_, index, &m));
    return m;
  }

  // Current-thread runtimes (builder().current_thread()): runs the ready tasks on this thread, at most max_polls
  // polls (0 = no limit) and about max_time of real time (0 = no limit); returns the number of polls made. Never
  // waits and never advances a paused clock. Throws LUMINAL_E_INVALID_ARGUMENT on a multi-thread runtime,
  // LUMINAL_E_BUSY (another thread drives it), LUMINAL_E_WOULD_DEADLOCK (inside one of its polls), LUMINAL_E_SHUTDOWN.
  uint32_t run(uint32_t max_polls = 0, duration max_time = duration::zero()) const {
    uint32_t polled = 0;
    check(luminal_runtime_run(h_, max_polls, detail::to_ns(max_time), &polled));
    return polled;
  }
  // The fd to watch for readability in an event loop (owned by the runtime: never read, write or close it).
  // Current-thread runtimes only (else throws LUMINAL_E_INVALID_ARGUMENT); LUMINAL_E_SHUTDOWN once shut down.
  int wakeup_fd() const {
    int fd = -1;
    check(luminal_runtime_wakeup_fd(h_, &fd));
    return fd;
  }
  // When the earliest timer is due, on the runtime's clock (compare with now()); nullopt when no timer is set.
  std::optional<duration> next_deadline() const {
    uint64_t d = 0;
    check(luminal_runtime_next_deadline_ns(h_, &d));
    if (d == UINT64_MAX) return std::nullopt;
    return duration(static_cast<duration::rep>(d));
  }
  // The runtime's clock (luminal_runtime_now_ns): the monotonic clock, or a paused clock's time. 0 for a bad handle.
  duration now() const noexcept { return duration(static_cast<duration::rep>(luminal_runtime_now_ns(h_))); }
  // Moves a paused clock forward by d, firing the timers on the way and running what they wake (outside a poll).
  // Throws LUMINAL_E_INVALID_ARGUMENT (clock not paused), LUMINAL_E_BUSY, LUMINAL_E_SHUTDOWN.
  void advance(duration d) const { check(luminal_runtime_advance(h_, detail::to_ns(d))); }

 private:
  runtime(luminal_runtime *h, int) noexcept : h_(h) {}
  luminal_runtime *h_ = nullptr;
};

// runtime::builder().worker_threads(4).thread_name("app").build()
class runtime::builder {
 public:
  builder() noexcept : o_{} { o_.struct_size = sizeof o_; }
  builder &worker_threads(uint32_t n) noexcept { return o_.worker_threads = n, *this; }
  builder &thread_name(std::string name) { return name_ = std::move(name), *this; }
  builder &max_blocking_threads(uint32_t n) noexcept { return o_.max_blocking_threads = n, *this; }
  builder &blocking_keep_alive(std::chrono::milliseconds d) noexcept {
    return o_.blocking_keep_alive_ms = static_cast<uint32_t>(d.count()), *this;
  }
  builder &io_backend(luminal_io_backend b) noexcept { return o_.io_backend = b, *this; }
  // Observers: plain function pointers plus a user pointer (no std::function: they are called on the runtime's
  // threads, inline, and must not throw; see luminal.h "Observing a runtime"). level 0 = LUMINAL_LOG_INFO.
  builder &log(luminal_log_fn fn, void *user, luminal_log_level level = luminal_log_level(0)) noexcept {
    return o_.log = fn, o_.log_user = user, o_.log_level = level, *this;
  }
  builder &thread_hooks(luminal_thread_hook_fn on_start, luminal_thread_hook_fn on_stop, void *user) noexcept {
    return o_.on_thread_start = on_start, o_.on_thread_stop = on_stop, o_.thread_hook_user = user, *this;
  }
  builder &task_hook(luminal_task_hook_fn fn, void *user) noexcept {
    return o_.task_hook = fn, o_.task_hook_user = user, *this;
  }
  builder &debug_plugins(bool on = true) noexcept { return o_.debug_plugins = on ? 1 : 0, *this; }
  // Current-thread runtimes, the paused clock, seeded runs (paused clock and seed need the current-thread flavor:
  // build() throws LUMINAL_E_INVALID_ARGUMENT otherwise).
  builder &flavor(luminal_flavor f) noexcept { return o_.flavor = f, *this; }
  builder &current_thread() noexcept { return flavor(LUMINAL_FLAVOR_CURRENT_THREAD); }
  builder &clock(luminal_clock c) noexcept { return o_.clock = c, *this; }
  builder &paused_clock() noexcept { return clock(LUMINAL_CLOCK_PAUSED); }
  builder &seed(uint64_t s) noexcept { return o_.seed = s, *this; }
  luminal_runtime_options options() const noexcept {
    luminal_runtime_options o = o_;
    o.thread_name = name_.empty() ? nullptr : name_.c_str(); // copied by luminal_runtime_new
    return o;
  }
  runtime build() const { return runtime(options()); }

 private:
  luminal_runtime_options o_;
  std::string name_;
};

// ---------------------------------------------------------------------------------------------------------------
// Wakers and contexts
// ---------------------------------------------------------------------------------------------------------------

// An owned waker. Copy = luminal_waker_clone (never allocates).
class waker {
 public:
  waker() = default;
  explicit waker(const luminal_waker *borrowed) noexcept : w_(luminal_waker_clone(borrowed)) {}
  static waker adopt(luminal_waker *owned) noexcept {
    waker w;
    w.w_ = owned;
    return w;
  }
  waker(const waker &o) noexcept : w_(luminal_waker_clone(o.w_)) {}
  waker(waker &&o) noexcept : w_(std::exchange(o.w_, nullptr)) {}
  waker &operator=(waker o) noexcept {
    std::swap(w_, o.w_);
    return *this;
  }
  ~waker() { luminal_waker_release(w_); }
  explicit operator bool() const noexcept { return w_ != nullptr; }
  void wake() && noexcept { luminal_waker_wake(std::exchange(w_, nullptr)); } // consumes this waker
  void wake_by_ref() const noexcept { luminal_waker_wake_by_ref(w_); }
  bool will_wake(const luminal_waker *other) const noexcept { return luminal_waker_will_wake(w_, other) != 0; }
  const luminal_waker *get() const noexcept { return w_; }
  luminal_waker *release() noexcept { return std::exchange(w_, nullptr); }

 private:
  luminal_waker *w_ = nullptr;
};

// A borrowed luminal_context*: valid only during the poll that received it.
class context {
 public:
  context(luminal_context *cx) noexcept : cx_(cx) {} // NOLINT: implicit on purpose
  luminal_context *get() const noexcept { return cx_; }
  runtime_ref runtime() const noexcept { return luminal_context_runtime(cx_); }
  const luminal_waker *borrowed_waker() const noexcept { return luminal_context_waker(cx_); }
  luminal::waker waker() const noexcept { return luminal::waker(luminal_context_waker(cx_)); } // a clone
  // Asks to be polled again after the other runnable tasks; return "pending" from the poll after it.
  void yield() const { check(luminal_context_yield(cx_)); }

 private:
  luminal_context *cx_;
};

// ---------------------------------------------------------------------------------------------------------------
// Futures, spawn options, join handles
// ---------------------------------------------------------------------------------------------------------------

// An owned luminal_future: dropped exactly once (by the destructor, unless released to the runtime).
class future {
 public:
  future() noexcept : f_{} {}
  explicit future(luminal_future f) noexcept : f_(f) {}
  future(future &&o) noexcept : f_(std::exchange(o.f_, luminal_future{})) {}
  future &operator=(future o) noexcept {
    std::swap(f_, o.f_);
    return *this;
  }
  ~future() { reset(); }
  explicit operator bool() const noexcept { return f_.poll != nullptr; }
  // Polls it with the context of the current poll; true when ready (*output receives the output).
  bool poll(luminal_context *cx, void **output) noexcept {
    return f_.poll(f_.state, cx, output) == LUMINAL_POLL_READY;
  }
  luminal_future release() noexcept { return std::exchange(f_, luminal_future{}); }
  luminal_future *out_param() noexcept { return reset(), &f_; } // for a C function that makes a future
  void reset() noexcept {
    if (f_.drop) f_.drop(f_.state);
    f_ = luminal_future{};
  }

 private:
  luminal_future f_;
};

class scope;

// Options of a spawn: scope and priority.
class spawn_options {
 public:
  spawn_options() noexcept : o_{} { o_.struct_size = sizeof o_; }
  spawn_options &priority(luminal_priority p) noexcept { return o_.priority = p, *this; }
  spawn_options &in(const scope &s) noexcept;
  spawn_options &in(luminal_scope *s) noexcept { return o_.scope = s, *this; } // a borrowed scope (a plugin's)
  const luminal_spawn_options *get() const noexcept { return &o_; }

 private:
  luminal_spawn_options o_;
};

namespace detail {
// luminal_spawn / luminal_context_spawn when there are no options (the cheaper entry points), else the _with ones.
inline luminal_status spawn_raw(luminal_runtime *rt, luminal_future f, const spawn_options *o, luminal_task **out) {
  return o ? luminal_spawn_with(rt, f, o->get(), out) : luminal_spawn(rt, f, out);
}
inline luminal_status spawn_raw(luminal_context *cx, luminal_future f, const spawn_options *o, luminal_task **out) {
  return o ? luminal_context_spawn_with(cx, f, o->get(), out) : luminal_context_spawn(cx, f, out);
}
} // namespace detail

namespace detail {
class task_handle_base {
 public:
  task_handle_base() = default;
  explicit task_handle_base(luminal_task *t) noexcept : t_(t) {}
  task_handle_base(task_handle_base &&o) noexcept : t_(std::exchange(o.t_, nullptr)), out_(o.out_), ready_(o.ready_) {
    o.ready_ = false;
  }
  task_handle_base &operator=(task_handle_base &&o) noexcept {
    std::swap(t_, o.t_), std::swap(out_, o.out_), std::swap(ready_, o.ready_);
    return *this;
  }
  // Unjoined: the task runs on detached, its output is freed. (Empty, e.g. moved from: no call, as in detach;
  // each spawn made one, and a push_back of the handle another, through the runtime for nothing.)
  ~task_handle_base() {
    if (t_) luminal_task_release(t_);
  }
  explicit operator bool() const noexcept { return t_ != nullptr; }
  bool is_finished() const noexcept { return luminal_task_is_finished(t_) != 0; }
  void abort() const noexcept { luminal_task_abort(t_); }
  void detach() noexcept {
    if (t_) luminal_task_release(std::exchange(t_, nullptr));
  }
  luminal_task *get() const noexcept { return t_; }
  luminal_task *release() noexcept { return std::exchange(t_, nullptr); }
  luminal_task **out_param() noexcept { return detach(), &t_; }

  // Awaits the task from a poll: true once it finished (then take the result); false = pending, cx's waker is
  // registered. Throws luminal::error for CANCELLED, ALREADY_TAKEN or a bad handle.
  bool poll(luminal_context *cx) {
    if (ready_) return true;
    luminal_status s = luminal_task_poll(t_, cx, &out_);
    if (s == LUMINAL_PENDING) return false;
    check(s);
    return ready_ = true;
  }

 protected:
  void *join_raw(std::optional<duration> timeout) {
    if (!ready_) {
      luminal_status s = luminal_task_join(t_, detail::to_timeout_ns(timeout), &out_);
      check(s);
      ready_ = true;
    }
    ready_ = false;
    return std::exchange(out_, nullptr);
  }
  void *take_raw() {
    if (!ready_) throw error(LUMINAL_E_INVALID_ARGUMENT);
    ready_ = false;
    return std::exchange(out_, nullptr);
  }
  luminal_task *t_ = nullptr;
  void *out_ = nullptr; // the output after a poll returned ready, until taken
  bool ready_ = false;
};
} // namespace detail

// The join handle of a typed C++ task (coroutine, callable, poll object): move-only, as the C handle has one holder.
// Destroying it detaches the task; an output nobody joined is freed (value destroyed, frame freed).
template <class T>
class join_handle : public detail::task_handle_base {
 public:
  using is_luminal_awaitable = void;
  using detail::task_handle_base::task_handle_base;
  join_handle(join_handle &&) noexcept = default;
  join_handle &operator=(join_handle &&) noexcept = default;
  ~join_handle() {
    if (ready_) detail::drop_output<T>(out_); // polled ready, never taken
  }
  // Blocks until the task finishes; returns its value or rethrows its exception. Throws luminal::error
  // (LUMINAL_E_CANCELLED if aborted or dropped by shutdown; LUMINAL_E_WOULD_DEADLOCK on a worker of the runtime:
  // co_await the handle there instead).
  T join() { return detail::take_output<T>(join_raw(std::nullopt)); }
  // After poll() returned true: the value, or the task's exception.
  T take() { return detail::take_output<T>(take_raw()); }
#ifdef LUMINAL_HPP_COROUTINES
  auto operator co_await() & noexcept;
  auto operator co_await() && noexcept;
#endif
};

// The join handle of a task made from a plain luminal_future or function pointer: the output is the raw void*.
class raw_join_handle : public detail::task_handle_base {
 public:
  using detail::task_handle_base::task_handle_base;
  // Blocks until the task finishes (nullopt timeout = forever); returns its output (the caller owns it).
  void *join(std::optional<duration> timeout = std::nullopt) { return join_raw(timeout); }
  void *take() { return take_raw(); }
};

// Spawns a C future (taken, also on failure) -> a raw join handle.
inline raw_join_handle spawn(runtime_ref rt, future f, const spawn_options *o = nullptr) {
  raw_join_handle h;
  check(detail::spawn_raw(rt.handle, f.release(), o, h.out_param()));
  return h;
}
// A plain function on a worker (luminal_spawn_fn): fn(arg) once; the output is its return value.
inline raw_join_handle spawn(runtime_ref rt, void *(*fn)(void *), void *arg) {
  raw_join_handle h;
  check(luminal_spawn_fn(rt.handle, fn, arg, h.out_param()));
  return h;
}
// Spawns a poll state held by value (luminal_spawn_inline): `state` is copied into the task's own storage, no
// allocation per task for states up to LUMINAL_SPAWN_INLINE_SMALL bytes. poll/drop/drop_output get the runtime's copy
// (drop ends its life, it does not free it; see the header for an output that points into the state). Only for
// trivially copyable states: the runtime moves them with memcpy. The state is dropped also on failure (check throws).
template <class S, class = std::enable_if_t<std::is_trivially_copyable_v<S>>>
raw_join_handle spawn_inline(runtime_ref rt, const S &state, luminal_poll_fn poll, luminal_drop_fn drop = nullptr,
                             luminal_drop_fn drop_output = nullptr, const spawn_options *o = nullptr) {
  raw_join_handle h;
  S copy = state; // the runtime takes these bytes (drop(copy) on failure), the caller keeps `state`
  check(luminal_spawn_inline(rt.handle, &copy, sizeof copy, alignof(S), poll, drop, drop_output, o ? o->get() : nullptr,
                             h.out_param()));
  return h;
}

// Runs a C future (taken) to completion on this thread; returns its output.
inline void *block_on(runtime_ref rt, future f) {
  void *out = nullptr;
  check(luminal_block_on(rt.handle, f.release(), &out));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Spawning C++ objects: callables and poll objects
//
// A poll object has `R poll(luminal_context *cx)` where R is bool (true = done, output void) or std::optional<T>
// (engaged = done with that value); pending means it arranged for cx's waker to be woken. An exception from poll
// completes the task with it. The object and its result share one box, freed by whoever takes the output.
// ---------------------------------------------------------------------------------------------------------------

namespace detail {
template <class R>
struct poll_output;
template <>
struct poll_output<bool> {
  using type = void;
};
template <class T>
struct poll_output<std::optional<T>> {
  using type = T;
};
template <class F>
using poll_output_t = typename poll_output<decltype(std::declval<F &>().poll(std::declval<luminal_context *>()))>::type;

template <class F, class T>
struct poll_box {
  result_box<T> result; // the output pointer points here
  F obj;
  bool done = false;
  template <class U>
  explicit poll_box(U &&o) : obj(std::forward<U>(o)) {
    result.owner = this;
    result.free_owner = [](void *self) noexcept { delete static_cast<poll_box *>(self); };
  }
  bool step(luminal_context *cx) {
    if constexpr (std::is_void_v<T>) {
      return obj.poll(cx);
    } else {
      auto v = obj.poll(cx);
      if (!v) return false;
      result.set(std::move(*v));
      return true;
    }
  }
  static luminal_poll poll(void *state, luminal_context *cx, void **out) noexcept {
    auto *b = static_cast<poll_box *>(state);
    try {
      if (!b->step(cx)) return LUMINAL_POLL_PENDING;
    } catch (...) { // an exception completes the task with it: the joiner rethrows it
      b->result.exception = std::current_exception();
    }
    b->done = true;
    *out = &b->result;
    return LUMINAL_POLL_READY;
  }
  static void drop(void *state) noexcept {
    auto *b = static_cast<poll_box *>(state);
    if (!b->done) delete b; // once done, the box is the output: its taker frees it
  }
  static luminal_future make(poll_box *b) noexcept {
    return luminal_future{b, &poll, &drop, &drop_output<T>};
  }
};

// A callable run once, as a poll object.
template <class F>
struct call_once {
  F f;
  using R = std::invoke_result_t<F &>;
  auto poll(luminal_context *) {
    if constexpr (std::is_void_v<R>) {
      f();
      return true;
    } else {
      return std::optional<R>(f());
    }
  }
};
} // namespace detail

// Wraps a poll object into a luminal_future whose output is a typed result (join it with join_handle<T>).
template <class F, class T = detail::poll_output_t<std::decay_t<F>>>
future make_future(F &&obj) {
  auto *b = new detail::poll_box<std::decay_t<F>, T>(std::forward<F>(obj));
  return future(detail::poll_box<std::decay_t<F>, T>::make(b));
}

template <class F, class T = detail::poll_output_t<std::decay_t<F>>>
join_handle<T> spawn_poll(runtime_ref rt, F &&obj, const spawn_options *o = nullptr) {
  future f = make_future(std::forward<F>(obj));
  join_handle<T> h;
  check(detail::spawn_raw(rt.handle, f.release(), o, h.out_param()));
  return h;
}

// Runs `fn()` once on a worker; join returns its result or rethrows its exception. (Not over luminal_spawn_fn: that
// has no drop for its argument or output, so the callable would leak on abort, shutdown or an unjoined handle.)
template <class F, class = std::enable_if_t<std::is_invocable_v<std::decay_t<F> &>>>
auto spawn(runtime_ref rt, F &&fn, const spawn_options *o = nullptr) {
  return spawn_poll(rt, detail::call_once<std::decay_t<F>>{std::forward<F>(fn)}, o);
}

// ---------------------------------------------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------------------------------------------

class scope {
 public:
  explicit scope(runtime_ref rt) { check(luminal_scope_new(rt.handle, &s_)); }
  scope(scope &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  scope &operator=(scope o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~scope() { luminal_scope_release(s_); } // an open scope's tasks run on
  // Closes it (aborts its tasks, frees unjoined outputs); true once nothing of the scope can run any more, false at
  // the timeout (call again). Throws LUMINAL_E_WOULD_DEADLOCK on a worker with a non-zero timeout.
  bool close(std::optional<duration> timeout = std::nullopt) {
    luminal_status s = luminal_scope_close(s_, detail::to_timeout_ns(timeout));
    if (s == LUMINAL_E_TIMED_OUT) return false;
    check(s);
    return true;
  }
  luminal_scope_counters stats() const {
    luminal_scope_counters c{};
    c.struct_size = sizeof c;
    check(luminal_scope_stats(s_, &c));
    return c;
  }
  // A C future completing when every task of the scope finished (luminal_scope_drain).
  future drain_future() const {
    future f;
    check(luminal_scope_drain(s_, f.out_param()));
    return f;
  }
  luminal_scope *get() const noexcept { return s_; }
  spawn_options options() const noexcept { return spawn_options().in(*this); }

 private:
  luminal_scope *s_ = nullptr;
};

inline spawn_options &spawn_options::in(const scope &s) noexcept { return o_.scope = s.get(), *this; }

// ---------------------------------------------------------------------------------------------------------------
// Plugins (the contract: include/luminal_plugin.h)
// ---------------------------------------------------------------------------------------------------------------

// Host side: an owned loaded plugin (luminal_plugin_open / luminal_plugin_close). Move-only.
//
// The destructor closes it and waits without limit for its scope to drain (the plugin's tasks are aborted; the wait
// is for polls and drops already running), then fini runs and the library is unloaded; errors are ignored. So:
//  - never destroy it inside the plugin's own code (it would wait for itself forever);
//  - destroyed on one of the runtime's workers, it closes with timeout 0: unloaded if nothing of the plugin is
//    running at that instant, else the plugin stays loaded for good (safe, leaked): call close() elsewhere first;
//  - after a fork(), in the child, it does nothing (the child leaves the plugin loaded, LUMINAL_E_FORKED).
// Call close(timeout) yourself to bound the wait or to see errors.
class plugin {
 public:
  plugin() = default;
  // Loads the library at path and runs its init on this thread (not on a worker of rt). Throws luminal::error:
  // LUMINAL_E_IO (cannot be loaded; dlerror() tells why), LUMINAL_E_NOT_PLUGIN, LUMINAL_E_PLUGIN_INIT (its init
  // failed: a C++ plugin's constructor threw), LUMINAL_E_SHUTDOWN, LUMINAL_E_WOULD_DEADLOCK, a bad handle.
  plugin(runtime_ref rt, const char *path, void *host_data = nullptr) {
    check(luminal_plugin_open(rt.handle, path, host_data, &p_));
  }
  plugin(runtime_ref rt, const std::string &path, void *host_data = nullptr) : plugin(rt, path.c_str(), host_data) {}
  static plugin adopt(luminal_plugin *owned) noexcept {
    plugin p;
    p.p_ = owned;
    return p;
  }
  plugin(plugin &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  plugin &operator=(plugin o) noexcept { // the plugin held before is closed (by o's destructor)
    std::swap(p_, o.p_);
    return *this;
  }
  ~plugin() {
    if (!p_) return;
    if (luminal_plugin_close(p_, UINT64_MAX) == LUMINAL_E_WOULD_DEADLOCK) luminal_plugin_close(p_, 0);
  }

  // Unloads it: true once fini ran and the library was unloaded (this object is then empty); false at the timeout
  // (nullopt = wait forever): a poll or drop of its tasks was still running, fini not called, the scope stays
  // closed; call again. Throws LUMINAL_E_INVALID_ARGUMENT when empty (closed already, moved from),
  // LUMINAL_E_WOULD_DEADLOCK (a non-zero timeout on one of the runtime's workers), LUMINAL_E_FORKED.
  bool close(std::optional<duration> timeout = std::nullopt) {
    luminal_status s = luminal_plugin_close(p_, detail::to_timeout_ns(timeout));
    if (s == LUMINAL_E_TIMED_OUT) return false;
    check(s);
    p_ = nullptr;
    return true;
  }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  luminal_plugin *get() const noexcept { return p_; }
  luminal_plugin *release() noexcept { return std::exchange(p_, nullptr); }
  // Its scope, borrowed until close (luminal_plugin_scope): NULL when empty.
  luminal_scope *scope() const noexcept { return luminal_plugin_scope(p_); }
  // Its scope's counters (live tasks, polls, poll time). Throws when empty.
  luminal_scope_counters stats() const {
    luminal_scope_counters c{};
    c.struct_size = sizeof c;
    luminal_scope *s = scope();
    check(s ? luminal_scope_stats(s, &c) : LUMINAL_E_INVALID_ARGUMENT);
    return c;
  }

 private:
  luminal_plugin *p_ = nullptr;
};

// Plugin side: what a C++ plugin's class receives (a view of luminal_plugin_host, valid until fini returns).
class plugin_host {
 public:
  explicit plugin_host(const luminal_plugin_host *h) noexcept : h_(h) { o_.in(h->scope); }
  plugin_host(const plugin_host &) = delete;
  plugin_host &operator=(const plugin_host &) = delete;
  runtime_ref runtime() const noexcept { return h_->runtime; } // borrowed: clone it (luminal::runtime) to keep it
  luminal_scope *scope() const noexcept { return h_->scope; }
  void *host_data() const noexcept { return h_->host_data; }
  uint32_t abi_version() const noexcept { return h_->abi_version; }
  // Spawn options putting a task into the plugin's scope: luminal::spawn(host.runtime(), t(), &host.options()).
  const spawn_options &options() const noexcept { return o_; }
  const luminal_plugin_host *get() const noexcept { return h_; }

 private:
  const luminal_plugin_host *h_;
  spawn_options o_;
};

namespace detail {
template <class P>
struct plugin_instance {
  plugin_host host;
  P plugin;
  explicit plugin_instance(const luminal_plugin_host *h) : host(h), plugin(host) {}
};
// Exceptions never cross into the library: a throwing constructor becomes an error status (the host then gets
// LUMINAL_E_PLUGIN_INIT; fini is not called, what the constructor spawned into the scope is cancelled by the
// library before it unloads), and fini swallows what a noexcept(false) destructor throws.
template <class P>
luminal_status plugin_init(const luminal_plugin_host *h, void **state) noexcept {
  if (!h || !state) return LUMINAL_E_INVALID_ARGUMENT;
  try {
    *state = new plugin_instance<P>(h);
    return LUMINAL_OK;
  } catch (const error &e) {
    return e.status() == LUMINAL_OK ? LUMINAL_E_INTERNAL : e.status();
  } catch (const std::bad_alloc &) {
    return LUMINAL_E_NO_MEMORY;
  } catch (...) { // any other exception: the host only sees LUMINAL_E_PLUGIN_INIT anyway
    return LUMINAL_E_INTERNAL;
  }
}
template <class P>
void plugin_fini(void *state) noexcept {
  try {
    delete static_cast<plugin_instance<P> *>(state);
  } catch (...) { // a destructor declared noexcept(false) threw: nobody to give it to
  }
}
} // namespace detail

// Defines luminal_plugin_init and luminal_plugin_fini (exported, C linkage) for a class: init constructs
// Type(const luminal::plugin_host &) (the reference stays valid until the object is destroyed), fini destroys it.
// By the time the destructor runs, every task the plugin spawned into its scope has been dropped (their frames
// destroyed); the destructor must stop whatever else could call into the library (threads, callbacks).
// Use once per plugin library, at namespace scope. Build the library with -fvisibility=hidden (its copies of this
// header's inline functions stay its own) and, with g++, -fno-gnu-unique: task<T> uses std::noop_coroutine, whose
// static frame libstdc++ makes a STB_GNU_UNIQUE symbol, and glibc never unloads a library holding one (dlclose
// returns, the code stays mapped). clang emits no such symbols.
#define LUMINAL_CPP_PLUGIN(Type)                                                                                     \
  LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {   \
    return ::luminal::detail::plugin_init<Type>(host, plugin_state);                                                 \
  }                                                                                                                  \
  LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) { ::luminal::detail::plugin_fini<Type>(plugin_state); }

// ---------------------------------------------------------------------------------------------------------------
// Sync: channels of T, oneshot, notify, semaphore, task_set (their awaitable operations are in the C++20 part)
// ---------------------------------------------------------------------------------------------------------------

namespace detail {
// How a T travels as a channel's or oneshot's void* message: a trivially copyable T that fits in a pointer (int,
// a pointer, a small enum or struct) in the pointer's own bits, with no allocation and nothing for the runtime to
// delete (the primitive gets no drop_message); anything else boxed (one allocation), deleted by drop_message.
template <class T>
inline constexpr bool inline_message =
    std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(void *) && alignof(T) <= alignof(void *);

template <class T>
void delete_message(void *p) noexcept {
  if constexpr (!inline_message<T>) delete static_cast<T *>(p);
}

template <class T>
constexpr luminal_drop_fn message_drop() noexcept {
  if constexpr (inline_message<T>) return nullptr;
  else return &delete_message<T>;
}

template <class T>
void *make_message(T &&v) {
  if constexpr (inline_message<T>) {
    std::uintptr_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return reinterpret_cast<void *>(bits);
  } else {
    return new T(std::move(v));
  }
}

// The value of a message made by make_message<T> (consumed: a box is freed).
template <class T>
T take_message_value(void *m) {
  if constexpr (inline_message<T>) {
    std::uintptr_t bits = reinterpret_cast<std::uintptr_t>(m);
    alignas(T) unsigned char storage[sizeof(T)];
    std::memcpy(storage, &bits, sizeof(T)); // a trivially copyable T's bytes make the T
    return *std::launder(reinterpret_cast<T *>(storage));
  } else {
    std::unique_ptr<T> box(static_cast<T *>(m));
    return std::move(*box);
  }
}
} // namespace detail

template <class T>
class sender;
template <class T>
class receiver;
template <class T>
std::pair<sender<T>, receiver<T>> channel(runtime_ref rt, size_t capacity = 0);

// A sending handle of a channel of T (messages are boxed, one allocation each, unless T is trivially copyable and
// fits in a pointer: see detail::inline_message). Copy = luminal_sender_clone.
template <class T>
class sender {
 public:
  sender() = default;
  sender(const sender &o) : s_(o.s_ ? luminal_sender_clone(o.s_) : nullptr) {
    if (o.s_ && !s_) throw error(LUMINAL_E_INVALID_HANDLE);
  }
  sender(sender &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  sender &operator=(sender o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~sender() { luminal_sender_release(s_); }
  // Queues v now if there is room: LUMINAL_OK; else LUMINAL_E_FULL or LUMINAL_E_CLOSED and v is left unchanged.
  luminal_status try_send(T &&v) {
    void *m = detail::make_message<T>(std::move(v));
    luminal_status s = luminal_channel_try_send(s_, m);
    if (s != LUMINAL_OK) v = detail::take_message_value<T>(m); // not taken: the message stays the caller's
    return s;
  }
  luminal_status try_send(const T &v) {
    T copy(v);
    return try_send(std::move(copy));
  }
  luminal_sender *get() const noexcept { return s_; }
#ifdef LUMINAL_HPP_COROUTINES
  // co_await tx.send(v): true once queued, false if the receiver is gone (the message is dropped).
  auto send(T v) const;
#endif

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(runtime_ref, size_t);
  luminal_sender *s_ = nullptr;
};

// The receiving handle of a channel of T: move-only (one receiver).
template <class T>
class receiver {
 public:
  receiver() = default;
  receiver(receiver &&o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  receiver &operator=(receiver o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  ~receiver() { luminal_receiver_release(r_); }
  // LUMINAL_OK (out holds the message), LUMINAL_E_EMPTY, LUMINAL_E_CLOSED.
  luminal_status try_recv(T &out) {
    void *m = nullptr;
    luminal_status s = luminal_channel_try_recv(r_, &m);
    if (s == LUMINAL_OK) out = detail::take_message_value<T>(m);
    return s;
  }
  luminal_receiver *get() const noexcept { return r_; }
#ifdef LUMINAL_HPP_COROUTINES
  // co_await rx.recv(): the next message, or nullopt once every sender is gone and the queue is empty.
  auto recv() const;
#endif

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(runtime_ref, size_t);
  luminal_receiver *r_ = nullptr;
};

// A multi-producer, single-consumer channel of T; capacity 0 = unbounded.
template <class T>
std::pair<sender<T>, receiver<T>> channel(runtime_ref rt, size_t capacity) {
  luminal_channel_options o{};
  o.struct_size = sizeof o;
  o.capacity = capacity;
  o.drop_message = detail::message_drop<T>();
  std::pair<sender<T>, receiver<T>> p;
  check(luminal_channel_new(rt.handle, &o, &p.first.s_, &p.second.r_));
  return p;
}

// A oneshot (luminal_oneshot_*): one value of T from one sender to one receiver; both ends move-only. The value is
// boxed (one allocation; none for a small trivially copyable T: see detail::inline_message); one sent and never
// received is deleted by the runtime's drop_message.
template <class T>
class oneshot_sender;
template <class T>
class oneshot_receiver;
template <class T>
std::pair<oneshot_sender<T>, oneshot_receiver<T>> oneshot(runtime_ref rt);

template <class T>
class oneshot_sender {
 public:
  oneshot_sender() = default;
  oneshot_sender(oneshot_sender &&o) noexcept : tx_(std::exchange(o.tx_, nullptr)) {}
  oneshot_sender &operator=(oneshot_sender o) noexcept {
    std::swap(tx_, o.tx_);
    return *this;
  }
  ~oneshot_sender() { luminal_oneshot_sender_release(tx_); } // unsent: the receiver gets closed
  // Sends v and gives up the sender: true, or false if the receiver is gone (v is dropped). Throws
  // luminal::error(LUMINAL_E_INVALID_ARGUMENT) on an empty (moved-from or already used) sender.
  bool send(T v) && {
    luminal_oneshot_sender *tx = std::exchange(tx_, nullptr); // released by the send whatever it answers
    void *m = detail::make_message<T>(std::move(v));
    luminal_status s = luminal_oneshot_send(tx, m);
    if (s == LUMINAL_OK) return true;
    (void)detail::take_message_value<T>(m); // not taken: still ours
    if (s == LUMINAL_E_CLOSED) return false;
    throw error(s);
  }
  explicit operator bool() const noexcept { return tx_ != nullptr; }
  luminal_oneshot_sender *get() const noexcept { return tx_; }

 private:
  friend std::pair<oneshot_sender<T>, oneshot_receiver<T>> oneshot<T>(runtime_ref);
  luminal_oneshot_sender *tx_ = nullptr;
};

template <class T>
class oneshot_receiver {
 public:
  oneshot_receiver() = default;
  oneshot_receiver(oneshot_receiver &&o) noexcept : rx_(std::exchange(o.rx_, nullptr)) {}
  oneshot_receiver &operator=(oneshot_receiver o) noexcept {
    std::swap(rx_, o.rx_);
    return *this;
  }
  ~oneshot_receiver() { luminal_oneshot_receiver_release(rx_); }
  // LUMINAL_OK (out holds the value), LUMINAL_E_EMPTY (not sent yet), LUMINAL_E_CLOSED (the sender went without
  // sending, or the value was taken already); other statuses throw luminal::error.
  luminal_status try_recv(T &out) {
    void *m = nullptr;
    luminal_status s = luminal_oneshot_try_recv(rx_, &m);
    if (s == LUMINAL_OK) {
      out = detail::take_message_value<T>(m);
    } else if (s != LUMINAL_E_EMPTY && s != LUMINAL_E_CLOSED) {
      throw error(s);
    }
    return s;
  }
  luminal_oneshot_receiver *get() const noexcept { return rx_; }
#ifdef LUMINAL_HPP_COROUTINES
  // co_await rx.recv(): the value, or nullopt if the sender went without sending (or it was taken already). One
  // recv at a time: a second concurrent one throws luminal::error(LUMINAL_E_ALREADY_TAKEN).
  auto recv() const;
#endif

 private:
  friend std::pair<oneshot_sender<T>, oneshot_receiver<T>> oneshot<T>(runtime_ref);
  luminal_oneshot_receiver *rx_ = nullptr;
};

template <class T>
std::pair<oneshot_sender<T>, oneshot_receiver<T>> oneshot(runtime_ref rt) {
  std::pair<oneshot_sender<T>, oneshot_receiver<T>> p;
  check(luminal_oneshot_new(rt.handle, detail::message_drop<T>(), &p.first.tx_, &p.second.rx_));
  return p;
}

// A notify (one stored permit, as tokio's Notify): move-only.
class notify {
 public:
  explicit notify(runtime_ref rt) { check(luminal_notify_new(rt.handle, &n_)); }
  notify(notify &&o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  notify &operator=(notify o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~notify() { luminal_notify_release(n_); }
  void notify_one() const { check(luminal_notify_one(n_)); }
  void notify_all() const { check(luminal_notify_all(n_)); }
  luminal_notify *get() const noexcept { return n_; }
#ifdef LUMINAL_HPP_COROUTINES
  auto wait() const; // co_await n.wait(): until notified (or at once, consuming a stored permit)
#endif

 private:
  luminal_notify *n_ = nullptr;
};

// A fair counting semaphore: move-only. Acquired permits are given back with add_permits.
class semaphore {
 public:
  semaphore(runtime_ref rt, uint64_t permits) { check(luminal_semaphore_new(rt.handle, permits, &s_)); }
  semaphore(semaphore &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  semaphore &operator=(semaphore o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~semaphore() { luminal_semaphore_release(s_); }
  // LUMINAL_OK (taken), LUMINAL_E_EMPTY (too few free, or requests are waiting), LUMINAL_E_CLOSED.
  luminal_status try_acquire(uint32_t n = 1) const {
    luminal_status s = luminal_semaphore_try_acquire(s_, n);
    if (s != LUMINAL_OK && s != LUMINAL_E_EMPTY && s != LUMINAL_E_CLOSED) throw error(s);
    return s;
  }
  void add_permits(uint32_t n = 1) const { check(luminal_semaphore_add_permits(s_, n)); }
  void close() const { check(luminal_semaphore_close(s_)); }
  luminal_semaphore *get() const noexcept { return s_; }
#ifdef LUMINAL_HPP_COROUTINES
  auto acquire(uint32_t n = 1) const; // co_await s.acquire(n): true once taken, false if closed
#endif

 private:
  luminal_semaphore *s_ = nullptr;
};

// A listener of one POSIX signal (luminal_signal_listen; see the header's Signals section): move-only; releasing
// it stops listening (pending recvs end with false) and the last listener of a signal restores its disposition.
// Each listener sees every delivery; deliveries between two recvs coalesce into one.
class signal_listener {
 public:
  signal_listener() noexcept = default; // empty: recv throws LUMINAL_E_INVALID_ARGUMENT
  // Throws luminal::error: LUMINAL_E_INVALID_ARGUMENT (signo refused: SIGKILL, SIGSTOP, faults, 32..34, out of
  // 1..64), LUMINAL_E_INTERNAL (.NET refused it), LUMINAL_E_SHUTDOWN, LUMINAL_E_INVALID_HANDLE...
  static signal_listener listen(runtime_ref rt, int signo) {
    signal_listener l;
    check(luminal_signal_listen(rt.handle, signo, &l.s_));
    return l;
  }
  signal_listener(signal_listener &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  signal_listener &operator=(signal_listener o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~signal_listener() { luminal_signal_release(s_); }
  luminal_signal *get() const noexcept { return s_; }
#ifdef LUMINAL_HPP_COROUTINES
  // co_await l.recv(): true at the next delivery (at once if one came since the last recv); false once the listener
  // is released meanwhile (LUMINAL_E_CLOSED: a normal outcome, as a closed channel's send -> false). Throws
  // luminal::error for an empty or stale listener.
  auto recv() const;
#endif

 private:
  luminal_signal *s_ = nullptr;
};

#ifdef LUMINAL_HPP_COROUTINES
template <class T>
class task;
#endif

// A set of typed tasks joined in finishing order (tokio's JoinSet): move-only. Releasing it aborts what is left.
template <class T>
class task_set {
 public:
  explicit task_set(runtime_ref rt) { check(luminal_task_set_new(rt.handle, &s_)); }
  task_set(task_set &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  task_set &operator=(task_set o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~task_set() { luminal_task_set_release(s_); }
  size_t size() const noexcept { return luminal_task_set_len(s_); }
  void abort_all() const { check(luminal_task_set_abort_all(s_)); }
  template <class F, class = std::enable_if_t<std::is_invocable_v<std::decay_t<F> &>>>
  void spawn(F &&fn, const spawn_options *o = nullptr) const {
    spawn_future(make_future(detail::call_once<std::decay_t<F>>{std::forward<F>(fn)}), o);
  }
  // A future made by make_future over a poll object (or a task's into_future) whose output type is T.
  void spawn_future(future f, const spawn_options *o = nullptr) const {
    check(luminal_task_set_spawn(s_, f.release(), o ? o->get() : nullptr));
  }
#ifdef LUMINAL_HPP_COROUTINES
  void spawn(task<T> t, const spawn_options *o = nullptr) const;
  // co_await set.join_next(): the next member to finish, in finishing order: its value (void: true), or nullopt
  // (void: false) when the set is empty. A member that was cancelled throws luminal::error(LUMINAL_E_CANCELLED), one
  // that threw rethrows its exception; either way it has left the set.
  auto join_next() const;
#endif
  luminal_task_set *get() const noexcept { return s_; }

 private:
  luminal_task_set *s_ = nullptr;
};

// ---------------------------------------------------------------------------------------------------------------
// Plain IO helpers (not futures: creating sockets and pipes does not block)
// ---------------------------------------------------------------------------------------------------------------

struct listener {
  int32_t fd;
  uint16_t port;
};
// A TCP listener on IPv4 ip:port (0 = any port); throws luminal::error (with the errno) on failure.
inline listener tcp_listen(const char *ip, uint16_t port = 0, int32_t backlog = 128) {
  listener l{-1, 0};
  luminal_io_result r{};
  luminal_status s = luminal_tcp_listen(ip, port, backlog, &l.fd, &l.port, &r);
  if (s != LUMINAL_OK) throw error(s, r.os_error);
  return l;
}
inline void stream_shutdown(int32_t fd, int32_t how) {
  luminal_io_result r{};
  luminal_status s = luminal_stream_shutdown(fd, how, &r);
  if (s != LUMINAL_OK) throw error(s, r.os_error);
}
// pipe2(O_CLOEXEC | O_NONBLOCK): {read end, write end}.
inline std::pair<int32_t, int32_t> make_pipe() {
  int32_t fds[2] = {-1, -1};
  luminal_io_result r{};
  luminal_status s = luminal_pipe(fds, &r);
  if (s != LUMINAL_OK) throw error(s, r.os_error);
  return {fds[0], fds[1]};
}

namespace detail {
inline void io_check(luminal_status s, const luminal_io_result &r) {
  if (s != LUMINAL_OK) throw error(s, s == LUMINAL_E_IO ? r.os_error : 0);
}
} // namespace detail

// ---- addresses, more sockets (plain calls: they throw luminal::error, with the errno for LUMINAL_E_IO) --------

// A sockaddr_in / _in6 / _un as the kernel takes it (cast raw; len bytes in use, 0 = none).
using socket_addr = luminal_socket_addr;

// ip:port from an IPv4 or IPv6 literal (never resolves; co_await luminal::resolve does).
inline socket_addr socket_addr_parse(const char *ip, uint16_t port) {
  socket_addr a{};
  check(luminal_socket_addr_parse(ip, port, &a));
  return a;
}
// A Unix socket path (a first byte NUL: a Linux abstract name; every byte of `path` counts).
inline socket_addr socket_addr_unix(std::string_view path) {
  socket_addr a{};
  check(luminal_socket_addr_unix(path.data(), path.size(), &a));
  return a;
}

// A socket and the address it is bound to (tcp_listen_addr, udp_bind).
struct bound_socket {
  int32_t fd;
  socket_addr addr;
};
// A TCP listener on addr (IPv4 or IPv6; port 0 = any), flags = luminal_bind_flags.
inline bound_socket tcp_listen_addr(const socket_addr &addr, int32_t backlog = 128, uint32_t flags = 0) {
  bound_socket b{-1, {}};
  luminal_io_result r{};
  detail::io_check(luminal_tcp_listen_addr(&addr, backlog, flags, &b.fd, &b.addr, &r), r);
  return b;
}
// A Unix stream listener (the path must not exist yet); accept with tcp_accept.
inline int32_t unix_listen(const socket_addr &addr, int32_t backlog = 128) {
  int32_t fd = -1;
  luminal_io_result r{};
  detail::io_check(luminal_unix_listen(&addr, backlog, &fd, &r), r);
  return fd;
}
inline socket_addr socket_local_addr(int32_t fd) {
  socket_addr a{};
  luminal_io_result r{};
  detail::io_check(luminal_socket_local_addr(fd, &a, &r), r);
  return a;
}
inline socket_addr socket_peer_addr(int32_t fd) {
  socket_addr a{};
  luminal_io_result r{};
  detail::io_check(luminal_socket_peer_addr(fd, &a, &r), r);
  return a;
}
inline void socket_set_option(int32_t fd, luminal_socket_option option, int64_t value) {
  luminal_io_result r{};
  detail::io_check(luminal_socket_set_option(fd, option, value, &r), r);
}
inline int64_t socket_get_option(int32_t fd, luminal_socket_option option) {
  int64_t v = 0;
  luminal_io_result r{};
  detail::io_check(luminal_socket_get_option(fd, option, &v, &r), r);
  return v;
}
// A UDP socket bound to addr (port 0 = any), flags = luminal_bind_flags.
inline bound_socket udp_bind(const socket_addr &addr, uint32_t flags = 0) {
  bound_socket b{-1, {}};
  luminal_io_result r{};
  detail::io_check(luminal_udp_bind(&addr, flags, &b.fd, &b.addr, &r), r);
  return b;
}
// The default peer of a UDP socket (it then receives only from it).
inline void udp_connect(int32_t fd, const socket_addr &addr) {
  luminal_io_result r{};
  detail::io_check(luminal_udp_connect(fd, &addr, &r), r);
}

// The addresses co_await luminal::resolve found: move-only, freed by the destructor.
class addr_list {
 public:
  addr_list() noexcept : l_{} {}
  explicit addr_list(luminal_addr_list l) noexcept : l_(l) {}
  addr_list(addr_list &&o) noexcept : l_(std::exchange(o.l_, luminal_addr_list{})) {}
  addr_list &operator=(addr_list o) noexcept {
    std::swap(l_, o.l_);
    return *this;
  }
  ~addr_list() { luminal_addr_list_release(&l_); }
  size_t size() const noexcept { return l_.count; }
  const socket_addr &operator[](size_t i) const noexcept { return l_.addrs[i]; }
  const socket_addr *begin() const noexcept { return l_.addrs; }
  const socket_addr *end() const noexcept { return l_.addrs + l_.count; }

 private:
  luminal_addr_list l_;
};

// The entries of a directory (co_await luminal::fs_read_dir): move-only, freed by the destructor. An entry's kind
// is a d_type value (DT_REG, DT_DIR...).
class dir_list {
 public:
  dir_list() noexcept : l_{} {}
  explicit dir_list(luminal_dir_list l) noexcept : l_(l) {}
  dir_list(dir_list &&o) noexcept : l_(std::exchange(o.l_, luminal_dir_list{})) {}
  dir_list &operator=(dir_list o) noexcept {
    std::swap(l_, o.l_);
    return *this;
  }
  ~dir_list() { luminal_dir_list_release(&l_); }
  size_t size() const noexcept { return l_.count; }
  const luminal_dir_entry &operator[](size_t i) const noexcept { return l_.entries[i]; }
  const luminal_dir_entry *begin() const noexcept { return l_.entries; }
  const luminal_dir_entry *end() const noexcept { return l_.entries + l_.count; }

 private:
  luminal_dir_list l_;
};

// A spawned child process (luminal_process_spawn): move-only. The destructor closes the pidfd and the pipe ends
// still held (take_*_fd to keep one) and does not wait: co_await p.wait() reaps it (a child never waited for stays
// a zombie until this process exits).
class process {
 public:
  process() noexcept : p_{-1, -1, -1, -1, -1, -1} {}
  // Spawns what `o` describes (struct_size 0 is taken as sizeof o).
  static process spawn(luminal_process_options o) {
    if (o.struct_size == 0) o.struct_size = sizeof o;
    process p;
    luminal_io_result r{};
    detail::io_check(luminal_process_spawn(&o, &p.p_, &r), r);
    return p;
  }
  // Spawns path (searched in PATH without a '/') with argv (NULL-terminated, argv[0] first; NULL = {path}).
  static process spawn(const char *path, char *const *argv, luminal_stdio in = LUMINAL_STDIO_INHERIT,
                       luminal_stdio out = LUMINAL_STDIO_INHERIT, luminal_stdio err = LUMINAL_STDIO_INHERIT) {
    luminal_process_options o{};
    o.struct_size = sizeof o;
    o.path = path, o.argv = argv;
    o.stdin_mode = in, o.stdout_mode = out, o.stderr_mode = err;
    return spawn(o);
  }
  process(process &&o) noexcept : process() { std::swap(p_, o.p_); }
  process &operator=(process o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~process() {
    if (p_.pid > 0) luminal_process_release(&p_);
  }
  int32_t pid() const noexcept { return p_.pid; }
  // The parent's pipe ends (-1 when not a pipe); still owned by this object.
  int32_t stdin_fd() const noexcept { return p_.stdin_fd; }
  int32_t stdout_fd() const noexcept { return p_.stdout_fd; }
  int32_t stderr_fd() const noexcept { return p_.stderr_fd; }
  // Takes a pipe end: the caller closes it (e.g. stdin, to give the child end of file).
  int32_t take_stdin_fd() noexcept { return std::exchange(p_.stdin_fd, -1); }
  int32_t take_stdout_fd() noexcept { return std::exchange(p_.stdout_fd, -1); }
  int32_t take_stderr_fd() noexcept { return std::exchange(p_.stderr_fd, -1); }
  // Sends signal signo (0: only checks the child is there); throws luminal::error (ESRCH once reaped).
  void kill(int32_t signo) const {
    luminal_io_result r{};
    detail::io_check(luminal_process_kill(&p_, signo, &r), r);
  }
  const luminal_process &get() const noexcept { return p_; }
#ifdef LUMINAL_HPP_COROUTINES
  // co_await p.wait(): the wait status (WIFEXITED / WEXITSTATUS...), once the child exits; reaps it.
  auto wait() const;
#endif

 private:
  luminal_process p_;
};

// A whole file mapped read-only (luminal_file_map): move-only, unmapped by the destructor.
class mapped_file {
 public:
  mapped_file() noexcept : v_{} {}
  explicit mapped_file(luminal_view v) noexcept : v_(v) {}
  mapped_file(mapped_file &&o) noexcept : v_(std::exchange(o.v_, luminal_view{})) {}
  mapped_file &operator=(mapped_file o) noexcept {
    std::swap(v_, o.v_);
    return *this;
  }
  ~mapped_file() { luminal_view_release(&v_); }
  const uint8_t *data() const noexcept { return v_.data; }
  size_t size() const noexcept { return v_.len; }

 private:
  luminal_view v_;
};

// A buffer the runtime allocated (luminal_file_read_all): move-only, freed by the destructor.
class buffer {
 public:
  buffer() noexcept : b_{} {}
  explicit buffer(luminal_buffer b) noexcept : b_(b) {}
  buffer(buffer &&o) noexcept : b_(std::exchange(o.b_, luminal_buffer{})) {}
  buffer &operator=(buffer o) noexcept {
    std::swap(b_, o.b_);
    return *this;
  }
  ~buffer() { luminal_buffer_release(&b_); }
  uint8_t *data() const noexcept { return b_.data; }
  size_t size() const noexcept { return b_.len; }

 private:
  luminal_buffer b_;
};

#ifdef LUMINAL_HPP_COROUTINES
// ===============================================================================================================
// C++20: luminal::task<T>
//
// A task<T> is lazy: nothing runs until it is spawned, block_on'ed, or co_awaited from another task (then it runs
// inline, as part of its parent's Luminal task: no new task, no new runtime record). The Luminal task's poll
// resumes the innermost suspended coroutine; every awaitable in this header, when it cannot complete at once,
// parks itself in the root promise (`waiting`) after registering the poll's waker, and the next poll polls it
// before resuming. Awaiting anything else in a task is a compile error (it would suspend with nobody to wake it):
// write your own awaitable on luminal::poll_awaitable.
// ===============================================================================================================

namespace detail {

// ---- coroutine frame pool --------------------------------------------------------------------------------------
// Why: a task's frame is allocated by the spawning thread and freed by the worker that completes it; through glibc
// that is the slow path on both sides (tcache overflows at 7 blocks, the rest goes through the arena), and the C
// program it is compared with allocates nothing. So promise_base's operator new/delete take frames from this pool.
//
// Shape: 8 size classes of 64-byte steps (frames up to 496 bytes; bigger ones go to malloc), each a set of 8
// lock-free stacks (Treiber) of block indices, one per CPU (a hint: sched_getcpu on Linux, elsewhere the stack
// address, so threads with their own stacks tend to their own shard). Blocks are carved from chunks of 64 blocks;
// a 16-byte header before the frame says which class and index it is (or that it came from malloc). No
// thread-locals (the header keeps none).
//  - Why shards: the spawning worker pops and the finishing worker pushes; on one stack every frame was a CAS on
//    a cache line both cores write (frame_pool::allocate was 14% of a spawn-heavy profile). A thread pushes to its
//    own shard and pops from it; when its shard is empty it takes another shard's whole stack with one exchange
//    and keeps the rest, so the cross-core traffic is one exchange per batch, not one CAS per frame.
//  - ABA: each stack head is generation:32 | index+1:32 and every successful CAS bumps the generation, so a pop
//    that read a stale `next` fails its CAS. The links (`next`) live in the pool object itself, never in block
//    memory, so a racing pop only ever reads static memory (no use-after-free, even while chunks are being freed
//    at exit).
//  - Bounded: at most 1 MiB of chunks per class (16,384 frames of 64 bytes ... 2,048 of 512; 8 MiB if every class
//    fills up); past that, frames come from malloc and go back to free at once. Chunks are kept for the module's lifetime: memory returns when the
//    module goes (exit, or dlclose of a plugin): an atexit handler, registered by the first chunk, frees them if
//    every block is back in the pool; if some frame still lives (a runtime still running at exit), it leaks them
//    instead (frees after that go nowhere, allocations go to malloc).
//  - One pool per module (executable or shared object), not per process: everything here is hidden
//    (LUMINAL_HPP_HIDDEN), so a plugin's copy of this header never binds to the host's pool and vice versa. A
//    plugin's frames are allocated and freed by the plugin's own code (its coroutines' ramp and destroy
//    functions), into the plugin's pool; luminal_plugin_close has destroyed them all (scope drained) before fini
//    and the unload, and the unload (dlclose) runs the atexit handler registered with the plugin's __dso_handle,
//    which frees the plugin's chunks. (A runtime-exported allocator would need new C functions and a call into the
//    library per frame; a per-module pool needs neither.)
//  - Define LUMINAL_FRAME_POOL=0 to use plain operator new/delete for frames.
// Under AddressSanitizer pooled blocks are poisoned, so a use of a freed frame is still reported.
class LUMINAL_HPP_HIDDEN frame_pool {
 public:
  static constexpr size_t unit = 64, classes = 8, per_chunk = 64, class_bytes = size_t(1) << 20;
  static constexpr size_t max_chunks = class_bytes / unit / per_chunk; // of the smallest class
  // The bound of class c (frames of up to (c + 1) * 64 - 16 bytes).
  static constexpr size_t max_frames(size_t c) noexcept { return class_bytes / ((c + 1) * unit); }

  // at_exit: registered with atexit when the first chunk is made (the module's pool: close_frame_pool). The pool
  // has no such member: all zeros, the module's pool is in .bss, not 0.5 MB of .data in every module.
  void *allocate(size_t n, void (*at_exit)() = nullptr) {
    size_t c = (n + sizeof(header) - 1) / unit;
    header *h = nullptr;
    if (c < classes && !closed_.load(std::memory_order_relaxed)) {
      size_class &sc = class_[c];
      stack &own = sc.shard[shard_hint()];
      uint32_t i = own.pop(sc.next);
      if (i == none) i = sc.take_other(own);
      if (i != none) {
        h = sc.block(i, c);
        LUMINAL_HPP_UNPOISON(h, (c + 1) * unit);
      } else {
        h = grow(c, own, i, at_exit);
      }
      if (h) *h = header{i, static_cast<uint32_t>(c)};
    }
    if (!h) {
      h = static_cast<header *>(std::malloc(n + sizeof(header)));
      if (!h) throw std::bad_alloc();
      *h = header{none, none};
    }
    return h + 1;
  }

  void deallocate(void *p) noexcept {
    header *h = static_cast<header *>(p) - 1;
    header hd = *h;
    if (hd.cls == none) return std::free(h);
    if (closed_.load(std::memory_order_relaxed)) return; // after close: see the top
    LUMINAL_HPP_POISON(h, (hd.cls + 1) * unit);
    size_class &sc = class_[hd.cls];
    sc.shard[shard_hint()].push(sc.next, hd.index, hd.index);
  }

  // The atexit handler: frees the chunks of every class whose blocks are all back.
  void close() noexcept {
    closed_.store(true);
    for (size_t c = 0; c < classes; c++) {
      size_class &sc = class_[c];
      size_t back = 0, total = 0;
      for (stack &st : sc.shard)
        while (st.pop(sc.next) != none) back++;
      uint32_t k = sc.chunks.load();
      if (k > max_frames(c) / per_chunk) k = static_cast<uint32_t>(max_frames(c) / per_chunk);
      for (uint32_t j = 0; j < k; j++) total += sc.chunk[j].load() ? per_chunk : 0;
      if (back != total) continue; // a frame still lives: leave its chunks
      for (uint32_t j = 0; j < k; j++) {
        if (unsigned char *m = sc.chunk[j].exchange(nullptr)) { // (null: its malloc failed)
          LUMINAL_HPP_UNPOISON(m, per_chunk * (c + 1) * unit);
          std::free(m);
        }
      }
    }
  }

 private:
  static constexpr uint32_t none = UINT32_MAX;
  struct alignas(16) header {
    uint32_t index; // in the class; none: from malloc
    uint32_t cls;   // none: from malloc
  };
  static constexpr size_t shards = 8;
  // One Treiber stack of free block indices; the links are the class's `next` array.
  struct stack {
    alignas(64) std::atomic<uint64_t> head{0}; // generation:32 | (top index + 1):32 (0: empty)

    uint32_t pop(std::atomic<uint32_t> *next) noexcept {
      uint64_t h = head.load(std::memory_order_acquire);
      for (;;) {
        uint32_t top = static_cast<uint32_t>(h);
        if (top == 0) return none;
        uint64_t to = (((h >> 32) + 1) << 32) | next[top - 1].load(std::memory_order_relaxed);
        if (head.compare_exchange_weak(h, to, std::memory_order_acquire, std::memory_order_acquire)) return top - 1;
      }
    }
    // Pushes the run first..last, already linked first -> ... -> last.
    void push(std::atomic<uint32_t> *next, uint32_t first, uint32_t last) noexcept {
      uint64_t h = head.load(std::memory_order_relaxed);
      do {
        next[last].store(static_cast<uint32_t>(h), std::memory_order_relaxed);
      } while (!head.compare_exchange_weak(h, (((h >> 32) + 1) << 32) | (first + 1), std::memory_order_release,
                                           std::memory_order_relaxed));
    }
    // Empties the stack in one exchange: its top index + 1 (0: it was empty). The run is the caller's alone.
    uint32_t take_all() noexcept {
      uint64_t h = head.load(std::memory_order_relaxed);
      while (static_cast<uint32_t>(h) != 0 &&
             !head.compare_exchange_weak(h, ((h >> 32) + 1) << 32, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
      }
      return static_cast<uint32_t>(h);
    }
  };
  struct size_class {
    stack shard[shards];
    std::atomic<uint32_t> chunks{0};                           // chunk slots reserved
    std::atomic<unsigned char *> chunk[max_chunks]{};          // published before any of their blocks is pushed
    std::atomic<uint32_t> next[max_chunks * per_chunk]{};      // link below each free block (index + 1)

    header *block(uint32_t i, size_t c) const noexcept {
      return reinterpret_cast<header *>(chunk[i / per_chunk].load(std::memory_order_acquire) +
                                        (i % per_chunk) * (c + 1) * unit);
    }
    // `own` is empty: takes the first non-empty other shard whole, returns its top block and moves the rest to
    // `own`. none if every shard was empty.
    uint32_t take_other(stack &own) noexcept {
      for (stack &other : shard) {
        if (&other == &own) continue;
        uint32_t top = other.take_all();
        if (top == 0) continue;
        uint32_t rest = next[top - 1].load(std::memory_order_relaxed);
        if (rest != 0) {
          uint32_t last = rest - 1;
          while (uint32_t n = next[last].load(std::memory_order_relaxed)) last = n - 1;
          own.push(next, rest - 1, last);
        }
        return top - 1;
      }
      return none;
    }
  };

  // The shard of the calling thread (a hint only: every shard is safe from every thread).
  static size_t shard_hint() noexcept {
#if defined(__linux__) && defined(_GNU_SOURCE)
    int cpu = sched_getcpu();
    if (cpu >= 0) return static_cast<size_t>(cpu) % shards;
#endif
    unsigned char probe; // each thread's stack is its own: its address tells threads apart
    return static_cast<size_t>((reinterpret_cast<uintptr_t>(&probe) >> 16) * 0x9E3779B97F4A7C15ull >> 32) % shards;
  }

  // A new chunk for class c: its first block is returned (index in i), the others pushed. nullptr: at the bound.
  header *grow(size_t c, stack &own, uint32_t &i, void (*at_exit)()) noexcept {
    size_class &sc = class_[c];
    uint32_t k = sc.chunks.load(std::memory_order_relaxed);
    if (k >= max_frames(c) / per_chunk) return nullptr; // (checked first, so the counter stays near the bound)
    k = sc.chunks.fetch_add(1);
    if (k >= max_frames(c) / per_chunk) return nullptr;
    auto *m = static_cast<unsigned char *>(std::malloc(per_chunk * (c + 1) * unit));
    if (!m) return nullptr;
    if (at_exit && !registered_.exchange(true)) std::atexit(at_exit);
    sc.chunk[k].store(m, std::memory_order_release);
    uint32_t base = k * per_chunk;
    for (uint32_t j = base + 1; j + 1 < base + per_chunk; j++) sc.next[j].store(j + 2, std::memory_order_relaxed);
    LUMINAL_HPP_POISON(m + (c + 1) * unit, (per_chunk - 1) * (c + 1) * unit);
    own.push(sc.next, base + 1, base + per_chunk - 1);
    i = base;
    return reinterpret_cast<header *>(m);
  }
  alignas(64) std::atomic<bool> closed_{false};
  std::atomic<bool> registered_{false};
  size_class class_[classes];
};
LUMINAL_HPP_HIDDEN inline frame_pool frame_pool_instance; // one per module: see above
LUMINAL_HPP_HIDDEN inline void close_frame_pool() { frame_pool_instance.close(); }
LUMINAL_HPP_HIDDEN inline void *allocate_frame(size_t n) { return frame_pool_instance.allocate(n, &close_frame_pool); }

// Something a suspended task waits on: the task's poll polls it (noexcept: failures are kept for await_resume)
// and resumes the coroutine once it returns true.
struct waiter {
  bool (*poll)(waiter *self, luminal_context *cx) noexcept;
};

struct promise_base {
  promise_base *root = this;                    // the promise of the spawned (outermost) coroutine
  std::coroutine_handle<> continuation;         // inline-awaited child: the parent to resume when done
  // Used in the root only:
  luminal_context *cx = nullptr;                // the context of the poll in progress (nullptr between polls)
  waiter *waiting = nullptr;                    // what the suspended task waits on
  std::coroutine_handle<> resume_at;            // the innermost suspended coroutine

#if LUMINAL_FRAME_POOL
  // Every coroutine frame of a task<T> (root or inline-awaited): see frame_pool.
  LUMINAL_HPP_HIDDEN static void *operator new(std::size_t n) { return allocate_frame(n); }
  LUMINAL_HPP_HIDDEN static void operator delete(void *p) noexcept { frame_pool_instance.deallocate(p); }
#endif

  // Parks w (already polled once, pending) and suspends h.
  void park(waiter *w, std::coroutine_handle<> h) noexcept {
    root->waiting = w;
    root->resume_at = h;
  }
};

template <class A, class = void>
struct is_luminal_awaitable : std::false_type {};
template <class A>
struct is_luminal_awaitable<A, std::void_t<typename std::decay_t<A>::is_luminal_awaitable>> : std::true_type {};

// What every awaitable of this header shares: the marker await_transform checks, no await_ready shortcut (the
// work starts in await_suspend, which has the coroutine and so the root promise: the poll's context and the
// place to park).
struct awaitable_base {
  using is_luminal_awaitable = void;
  bool await_ready() const noexcept { return false; }
  template <class P>
  static promise_base &root(std::coroutine_handle<P> h) noexcept {
    return *h.promise().root;
  }
};

template <class T>
struct promise;

template <class T>
struct promise_result {
  result_box<T> result;
  template <class U = T>
  void return_value(U &&v) {
    result.set(std::forward<U>(v));
  }
};
template <>
struct promise_result<void> {
  result_box<void> result;
  void return_void() noexcept {}
};

struct final_awaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
    auto c = h.promise().continuation;
    return c ? c : std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

template <class T>
struct promise : promise_base, promise_result<T> {
  using handle = std::coroutine_handle<promise>;
  promise() noexcept {
    this->result.owner = this;
    this->result.free_owner = &free_frame;
  }
  task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { this->result.exception = std::current_exception(); }
  template <class A>
  A &&await_transform(A &&a) const noexcept {
    static_assert(is_luminal_awaitable<A>::value,
                  "a luminal::task can only co_await Luminal awaitables (see luminal::poll_awaitable)");
    return std::forward<A>(a);
  }

  static void destroy_frame(handle h) noexcept {
    try {
      h.destroy();
    } catch (...) { // a local's destructor declared noexcept(false) threw: nobody to give it to (see the top)
    }
  }
  static void free_frame(void *p) noexcept { destroy_frame(handle::from_promise(*static_cast<promise *>(p))); }

  // The luminal_future of a root task: state = this promise. Detached (spawn_detached: nobody can take the
  // output): no output and no drop_output, and drop frees the frame whether done or not; that saves the runtime's
  // drop_output call (a transition out of managed code) per task.
  template <bool Detached = false>
  static luminal_poll poll(void *state, luminal_context *cx, void **out) noexcept {
    auto &p = *static_cast<promise *>(state);
    if (p.waiting) {
      if (!p.waiting->poll(p.waiting, cx)) return LUMINAL_POLL_PENDING;
      p.waiting = nullptr;
    }
    p.cx = cx;
    p.resume_at.resume(); // cannot throw: unhandled_exception keeps what escapes the coroutine
    p.cx = nullptr;
    if (!handle::from_promise(p).done()) return LUMINAL_POLL_PENDING;
    // The frame now belongs to the output: freed by its taker (join, co_await, drop_output).
    if constexpr (!Detached) *out = &p.result;
    return LUMINAL_POLL_READY;
  }
  static void drop(void *state) noexcept {
    auto h = handle::from_promise(*static_cast<promise *>(state));
    if (!h.done()) destroy_frame(h); // done: the output owns the frame
  }
  static void drop_detached(void *state) noexcept { destroy_frame(handle::from_promise(*static_cast<promise *>(state))); }
};
} // namespace detail

template <class T = void>
class task;
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using handle = std::coroutine_handle<promise_type>;
  using is_luminal_awaitable = void;

  task() = default;
  task(task &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  task &operator=(task o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~task() {
    if (h_) promise_type::destroy_frame(h_);
  }
  explicit operator bool() const noexcept { return bool(h_); }

  // Gives the frame to a luminal_future (spawn it, block_on it, hand it to a C combinator); its output is a typed
  // result: join it with join_handle<T> (or take it with luminal::take_output<T>).
  future into_future() && noexcept {
    auto &p = std::exchange(h_, nullptr).promise();
    p.resume_at = handle::from_promise(p);
    return future(luminal_future{&p, &promise_type::template poll<>, &promise_type::drop, &detail::drop_output<T>});
  }
  // The same for a task whose output nobody takes (spawn_detached): no output; the runtime's drop frees the frame.
  future into_detached_future() && noexcept {
    auto &p = std::exchange(h_, nullptr).promise();
    p.resume_at = handle::from_promise(p);
    return future(luminal_future{&p, &promise_type::template poll<true>, &promise_type::drop_detached, nullptr});
  }

  // co_await child(): runs the child inline in this task; returns its value or rethrows its exception.
  struct awaiter {
    handle child;
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
      child.promise().root = parent.promise().root;
      child.promise().continuation = parent;
      return child; // symmetric transfer: start the child now
    }
    T await_resume() { return child.promise().result.take(); }
  };
  awaiter operator co_await() && noexcept { return awaiter{h_}; }
  awaiter operator co_await() & noexcept { return awaiter{h_}; }

 private:
  friend struct detail::promise<T>;
  explicit task(handle h) noexcept : h_(h) {}
  handle h_;
};

template <class T>
task<T> detail::promise<T>::get_return_object() noexcept {
  return task<T>(handle::from_promise(*this));
}

// Takes a typed output (from raw C code: luminal_task_join on a join_handle's get(), a task_set, block_on).
template <class T>
T take_output(void *out) {
  return detail::take_output<T>(out);
}

// ---- awaitables ------------------------------------------------------------------------------------------------

// Base of an awaitable you write yourself: derive (CRTP), implement `bool poll(luminal_context *cx) noexcept`
// (true = done; pending = it arranged for cx's waker to be woken) and `R await_resume()`.
template <class D>
struct poll_awaitable : detail::waiter, detail::awaitable_base {
  poll_awaitable() noexcept : detail::waiter{&poll_thunk} {}
  poll_awaitable(const poll_awaitable &) noexcept : detail::waiter{&poll_thunk} {}
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    detail::promise_base &r = root(h);
    if (static_cast<D *>(this)->start(r.cx)) return false; // done at once: no suspension
    r.park(this, h);
    return true;
  }
  // First poll; may throw (then the co_await throws). Default: poll().
  bool start(luminal_context *cx) { return static_cast<D *>(this)->poll(cx); }

 private:
  static bool poll_thunk(detail::waiter *w, luminal_context *cx) noexcept {
    return static_cast<D *>(static_cast<poll_awaitable *>(w))->poll(cx);
  }
};

namespace detail {
template <class A>
using await_result_t = decltype(std::declval<A &&>().await_resume());
template <class T>
using timeout_result_t = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;

// A typed task output as an optional result: its value (void: true).
template <class T>
timeout_result_t<T> take_some(void *out) {
  if constexpr (std::is_void_v<T>) {
    take_output<void>(out);
    return true;
  } else {
    return take_output<T>(out);
  }
}

// Out-parameter storage of a C future awaitable beyond its own (Out of c_future_awaitable): none.
struct no_out {
  void release() noexcept {}
};

// An awaitable over a C future made by the runtime (made at the start of the co_await, dropped by the destructor).
// D states only its kind: `luminal_status make(luminal_runtime *, luminal_future *)` (or `make(luminal_future *)`
// for the sync handles' futures, made without a runtime: derive from sync_future_awaitable) and `await_resume()`.
// The out-parameters the C side borrows until completion live here, so they outlive the future: the common ones as
// members, D's own in Out (a base, so the destructor drops the future before they go; Out::release then frees what
// the C side filled in but nobody took).
template <class D, class Out = no_out>
struct c_future_awaitable : poll_awaitable<c_future_awaitable<D, Out>>, Out {
  runtime_ref rt;                  // nullptr: the runtime of the task's poll
  luminal_future fut{};
  void *output = nullptr;
  luminal_io_result io{};
  luminal_status status = LUMINAL_OK;
  void *msg = nullptr;

  c_future_awaitable() = default;
  c_future_awaitable(c_future_awaitable &&o) noexcept
      : Out(std::exchange(static_cast<Out &>(o), Out{})), rt(o.rt), fut(std::exchange(o.fut, luminal_future{})) {}
  ~c_future_awaitable() {
    drop();
    Out::release();
  }
  void drop() noexcept {
    if (fut.drop) fut.drop(fut.state);
    fut = luminal_future{};
  }
  static constexpr bool needs_runtime = true;
  bool start(luminal_context *cx) {
    D &self = static_cast<D &>(*this);
    if constexpr (D::needs_runtime) {
      check(self.make(rt.handle ? rt.handle : luminal_context_runtime(cx), &fut));
    } else {
      check(self.make(&fut));
    }
    return poll(cx);
  }
  bool poll(luminal_context *cx) noexcept { return fut.poll(fut.state, cx, &output) == LUMINAL_POLL_READY; }

  // What await_resume makes of the outcome, by kind:
  // sleep and other futures whose failure is LUMINAL_FAILED_OUTPUT.
  void check_output() const {
    if (output == LUMINAL_FAILED_OUTPUT) throw error(LUMINAL_E_SHUTDOWN);
  }
  // IO: the value, or luminal::error with the errno.
  uint64_t io_value() const {
    if (io.status != LUMINAL_OK) throw error(io.status, io.os_error);
    return io.value;
  }
  // A sync operation (send, acquire, signal recv): false once closed, else throws unless OK.
  bool open() const {
    if (status == LUMINAL_E_CLOSED) return false;
    check(status);
    return true;
  }
  // A received message (see make_message): nullopt once closed.
  template <class T>
  std::optional<T> take_message() {
    if (status == LUMINAL_E_CLOSED) return std::nullopt;
    check(status);
    return std::optional<T>(take_message_value<T>(std::exchange(msg, nullptr)));
  }
};

// A C future awaitable over a sync handle (channel, notify, semaphore, signal, task set, scope): its future is made
// without a runtime, by `luminal_status make(luminal_future *)`.
template <class D, class Out = no_out>
struct sync_future_awaitable : c_future_awaitable<D, Out> {
  static constexpr bool needs_runtime = false;
};
} // namespace detail

// co_await luminal::this_context(): the luminal_context* of the current poll (valid until the next suspension).
struct this_context : detail::awaitable_base {
  luminal_context *cx = nullptr;
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    cx = root(h).cx;
    return false;
  }
  luminal_context *await_resume() const noexcept { return cx; }
};

// co_await luminal::current_runtime(): the runtime running this task (borrowed).
struct current_runtime : this_context {
  runtime_ref await_resume() const noexcept { return luminal_context_runtime(cx); }
};

// co_await luminal::yield_now(): lets the other runnable tasks of this priority run first.
struct yield_now : detail::awaitable_base {
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    detail::promise_base &r = root(h);
    check(luminal_context_yield(r.cx));
    r.park(nullptr, h); // nothing to poll: the next poll resumes h at once
  }
  void await_resume() const noexcept {}
};

// co_await luminal::sleep(rt, d) (or sleep(d): the task's runtime). Throws luminal::error(LUMINAL_E_SHUTDOWN) if
// the runtime shuts down meanwhile.
struct sleep : detail::c_future_awaitable<sleep> {
  uint64_t ns;
  bool until;
  explicit sleep(duration d) noexcept : ns(detail::to_ns(d)), until(false) {}
  sleep(runtime_ref r, duration d) noexcept : ns(detail::to_ns(d)), until(false) { rt = r; }
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    return until ? luminal_sleep_until(r, ns, f) : luminal_sleep(r, ns, f);
  }
  void await_resume() const { check_output(); }
};
// Until an absolute deadline on the luminal_now_ns() clock.
inline sleep sleep_until(runtime_ref rt, uint64_t deadline_ns) {
  sleep s(rt, duration(0));
  s.ns = deadline_ns, s.until = true;
  return s;
}

namespace detail {
template <class A>
task<await_result_t<A>> await_in_task(A a) {
  co_return co_await std::move(a);
}

// luminal_timeout over a task made root of its own luminal_future.
template <class T>
struct timeout_awaitable : c_future_awaitable<timeout_awaitable<T>> {
  task<T> inner;
  uint64_t ns;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    return luminal_timeout(r, std::move(inner).into_future().release(), ns, f);
  }
  timeout_result_t<T> await_resume() {
    this->check_output();
    if (this->output == LUMINAL_TIMED_OUT_OUTPUT) return {};
    return take_some<T>(std::exchange(this->output, nullptr));
  }
};
} // namespace detail

// co_await luminal::timeout(d, t): t's value (void: true) if it completes within d, else nullopt (void: false) and
// t is dropped (its frame destroyed). `t` is a task<T> or any Luminal awaitable (moved into a task<T> frame).
template <class T>
detail::timeout_awaitable<T> timeout(duration d, task<T> t) {
  detail::timeout_awaitable<T> a;
  a.inner = std::move(t), a.ns = detail::to_ns(d);
  return a;
}
template <class T>
detail::timeout_awaitable<T> timeout(runtime_ref rt, duration d, task<T> t) {
  auto a = timeout(d, std::move(t));
  a.rt = rt;
  return a;
}
template <class A, class = std::enable_if_t<detail::is_luminal_awaitable<A>::value && !std::is_reference_v<A>>>
auto timeout(duration d, A &&awaitable) {
  return timeout(d, detail::await_in_task(std::move(awaitable)));
}
template <class A, class = std::enable_if_t<detail::is_luminal_awaitable<A>::value && !std::is_reference_v<A>>>
auto timeout(runtime_ref rt, duration d, A &&awaitable) {
  return timeout(rt, d, detail::await_in_task(std::move(awaitable)));
}

// ---- co_await on join handles ----------------------------------------------------------------------------------

namespace detail {
template <class T>
struct join_awaitable : poll_awaitable<join_awaitable<T>> {
  join_handle<T> &h;
  luminal_status s = LUMINAL_PENDING;
  explicit join_awaitable(join_handle<T> &jh) noexcept : h(jh) {}
  bool poll(luminal_context *cx) noexcept {
    try {
      return h.poll(cx);
    } catch (const error &e) { // CANCELLED, ALREADY_TAKEN, bad handle: thrown by await_resume
      s = e.status();
      return true;
    }
  }
  T await_resume() {
    if (s != LUMINAL_PENDING) throw error(s);
    return h.take();
  }
};
} // namespace detail

template <class T>
auto join_handle<T>::operator co_await() & noexcept {
  return detail::join_awaitable<T>(*this);
}
template <class T>
auto join_handle<T>::operator co_await() && noexcept {
  return detail::join_awaitable<T>(*this);
}

// ---- spawn and block_on of tasks -------------------------------------------------------------------------------

template <class T>
join_handle<T> spawn(runtime_ref rt, task<T> t, const spawn_options *o = nullptr) {
  join_handle<T> h;
  check(detail::spawn_raw(rt.handle, std::move(t).into_future().release(), o, h.out_param()));
  return h;
}
// From inside a poll (co_await luminal::this_context()): onto this worker's queue; inherits scope and priority.
template <class T>
join_handle<T> spawn(context cx, task<T> t, const spawn_options *o = nullptr) {
  join_handle<T> h;
  check(detail::spawn_raw(cx.get(), std::move(t).into_future().release(), o, h.out_param()));
  return h;
}
// Without a join handle: the output is dropped when the task completes.
template <class T>
void spawn_detached(runtime_ref rt, task<T> t, const spawn_options *o = nullptr) {
  check(detail::spawn_raw(rt.handle, std::move(t).into_detached_future().release(), o, nullptr));
}
template <class T>
void spawn_detached(context cx, task<T> t, const spawn_options *o = nullptr) {
  check(detail::spawn_raw(cx.get(), std::move(t).into_detached_future().release(), o, nullptr));
}
// Runs t to completion on this thread (not on one of rt's workers): its value, or rethrows its exception.
template <class T>
T block_on(runtime_ref rt, task<T> t) {
  void *out = nullptr;
  check(luminal_block_on(rt.handle, std::move(t).into_future().release(), &out));
  return detail::take_output<T>(out);
}

// Runs any Luminal awaitable (an IO operation, a recv, ...) to completion on this thread, inside a task<T> frame.
template <class A, class = std::enable_if_t<detail::is_luminal_awaitable<A>::value && !std::is_reference_v<A>>>
auto block_on(runtime_ref rt, A &&awaitable) {
  return block_on(rt, detail::await_in_task(std::move(awaitable)));
}

// ---- IO: every operation of luminal.h's "IO with personalities", on the task's runtime --------------------------
// Each returns the operation's value, or throws luminal::error (LUMINAL_E_IO with os_error() = the errno,
// LUMINAL_E_CANCELLED when cut short by shutdown). Buffers and paths are borrowed until the co_await completes.

namespace io_detail {
// Out-parameter storage (c_future_awaitable's Out) for the operations that fill in more than an io result.
struct info_out {
  luminal_file_info info{};
  void release() noexcept {}
};
struct view_out {
  luminal_view view{};
  void release() noexcept { luminal_view_release(&view); } // filled but never handed over (zeroed views are ignored)
};
struct buffer_out {
  luminal_buffer buf{};
  void release() noexcept { luminal_buffer_release(&buf); }
};
struct addr_list_out {
  luminal_addr_list list{};
  void release() noexcept { luminal_addr_list_release(&list); } // filled but never handed over (zeroed: ignored)
};
struct dir_list_out {
  luminal_dir_list list{};
  void release() noexcept { luminal_dir_list_release(&list); }
};
struct from_out {
  socket_addr from{};
  void release() noexcept {}
};

struct file_open : detail::c_future_awaitable<file_open> {
  const char *path;
  int32_t flags;
  uint32_t mode;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    return luminal_file_open(r, path, flags, mode, &io, f);
  }
  int32_t await_resume() const { return static_cast<int32_t>(io_value()); }
};
struct fd_op : detail::c_future_awaitable<fd_op> {
  luminal_status (*fn)(luminal_runtime *, int32_t, luminal_io_result *, luminal_future *);
  int32_t fd;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return fn(r, fd, &io, f); }
  int32_t await_resume() const { return static_cast<int32_t>(io_value()); }
};
struct file_stat : detail::c_future_awaitable<file_stat, info_out> {
  int32_t fd;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_file_stat(r, fd, &info, &io, f); }
  luminal_file_info await_resume() const { return io_value(), info; }
};
struct rw_at : detail::c_future_awaitable<rw_at> {
  bool write;
  int32_t fd;
  void *buf;
  size_t len;
  uint64_t offset;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    return write ? luminal_file_write_at(r, fd, buf, len, offset, &io, f)
                 : luminal_file_read_at(r, fd, buf, len, offset, &io, f);
  }
  size_t await_resume() const { return static_cast<size_t>(io_value()); }
};
struct file_map : detail::c_future_awaitable<file_map, view_out> {
  const char *path;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_file_map(r, path, &view, &io, f); }
  mapped_file await_resume() {
    io_value();
    return mapped_file(std::exchange(view, luminal_view{}));
  }
};
struct read_all : detail::c_future_awaitable<read_all, buffer_out> {
  const char *path;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_file_read_all(r, path, &buf, &io, f); }
  buffer await_resume() {
    io_value();
    return buffer(std::exchange(buf, luminal_buffer{}));
  }
};
struct tcp_connect : detail::c_future_awaitable<tcp_connect> {
  const char *ip;
  uint16_t port;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_tcp_connect(r, ip, port, &io, f); }
  int32_t await_resume() const { return static_cast<int32_t>(io_value()); }
};
struct stream_rw : detail::c_future_awaitable<stream_rw> {
  bool write;
  int32_t fd;
  void *buf;
  size_t len;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    return write ? luminal_stream_write(r, fd, buf, len, &io, f) : luminal_stream_read(r, fd, buf, len, &io, f);
  }
  size_t await_resume() const { return static_cast<size_t>(io_value()); }
};
} // namespace io_detail

// open(2) (O_CLOEXEC added) -> the new fd.
inline io_detail::file_open file_open(const char *path, int32_t flags, uint32_t mode = 0644) {
  io_detail::file_open a;
  a.path = path, a.flags = flags, a.mode = mode;
  return a;
}
inline io_detail::fd_op file_close(int32_t fd) {
  io_detail::fd_op a;
  a.fn = &luminal_file_close, a.fd = fd;
  return a;
}
inline io_detail::fd_op file_fsync(int32_t fd) {
  io_detail::fd_op a;
  a.fn = &luminal_file_fsync, a.fd = fd;
  return a;
}
inline io_detail::file_stat file_stat(int32_t fd) {
  io_detail::file_stat a;
  a.fd = fd;
  return a;
}
// -> bytes read (0 at end of file).
inline io_detail::rw_at read_at(int32_t fd, void *buf, size_t len, uint64_t offset) {
  io_detail::rw_at a;
  a.write = false, a.fd = fd, a.buf = buf, a.len = len, a.offset = offset;
  return a;
}
inline io_detail::rw_at write_at(int32_t fd, const void *buf, size_t len, uint64_t offset) {
  io_detail::rw_at a;
  a.write = true, a.fd = fd, a.buf = const_cast<void *>(buf), a.len = len, a.offset = offset;
  return a;
}
inline io_detail::file_map file_map(const char *path) {
  io_detail::file_map a;
  a.path = path;
  return a;
}
inline io_detail::read_all read_all(const char *path) {
  io_detail::read_all a;
  a.path = path;
  return a;
}
// -> the connected fd.
inline io_detail::fd_op tcp_accept(int32_t listener_fd) {
  io_detail::fd_op a;
  a.fn = &luminal_tcp_accept, a.fd = listener_fd;
  return a;
}
inline io_detail::tcp_connect tcp_connect(const char *ip, uint16_t port) {
  io_detail::tcp_connect a;
  a.ip = ip, a.port = port;
  return a;
}
// -> bytes read (at least 1, or 0 when the peer closed).
inline io_detail::stream_rw stream_read(int32_t fd, void *buf, size_t len) {
  io_detail::stream_rw a;
  a.write = false, a.fd = fd, a.buf = buf, a.len = len;
  return a;
}
// -> bytes written (may be fewer than len).
inline io_detail::stream_rw stream_write(int32_t fd, const void *buf, size_t len) {
  io_detail::stream_rw a;
  a.write = true, a.fd = fd, a.buf = const_cast<void *>(buf), a.len = len;
  return a;
}
// Writes all of buf (several writes if needed).
inline task<void> stream_write_all(int32_t fd, const void *buf, size_t len) {
  auto *p = static_cast<const char *>(buf);
  while (len > 0) {
    size_t n = co_await stream_write(fd, p, len);
    p += n, len -= n;
  }
}

// ---- names, more sockets, paths, child processes -------------------------------------------------------------

namespace io_detail {
struct resolve : detail::c_future_awaitable<resolve, addr_list_out> {
  const char *host;
  uint16_t port;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_resolve(r, host, port, &list, &io, f); }
  addr_list await_resume() {
    io_value();
    return addr_list(std::exchange(list, luminal_addr_list{}));
  }
};
// tcp_connect_host, tcp_connect_addr, unix_connect: -> the connected fd. The address is kept here by value.
struct connect_op : detail::c_future_awaitable<connect_op> {
  enum kind_t { host, tcp, unix_stream } kind;
  const char *name;
  uint16_t port;
  socket_addr addr;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    switch (kind) {
    case host: return luminal_tcp_connect_host(r, name, port, &io, f);
    case tcp: return luminal_tcp_connect_addr(r, &addr, &io, f);
    default: return luminal_unix_connect(r, &addr, &io, f);
    }
  }
  int32_t await_resume() const { return static_cast<int32_t>(io_value()); }
};
struct fd_ready : detail::c_future_awaitable<fd_ready> {
  int32_t fd;
  uint32_t interest;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_fd_ready(r, fd, interest, &io, f); }
  uint32_t await_resume() const { return static_cast<uint32_t>(io_value()); }
};
struct udp_send_to : detail::c_future_awaitable<udp_send_to> {
  int32_t fd;
  const void *buf;
  size_t len;
  bool has_to;
  socket_addr to;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    return luminal_udp_send_to(r, fd, buf, len, has_to ? &to : nullptr, &io, f);
  }
  size_t await_resume() const { return static_cast<size_t>(io_value()); }
};
} // namespace io_detail

// A datagram received by udp_recv_from: its size and its sender.
struct datagram {
  size_t size;
  socket_addr from;
};

namespace io_detail {
struct udp_recv_from : detail::c_future_awaitable<udp_recv_from, from_out> {
  int32_t fd;
  void *buf;
  size_t len;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    return luminal_udp_recv_from(r, fd, buf, len, &from, &io, f);
  }
  datagram await_resume() const { return datagram{static_cast<size_t>(io_value()), from}; }
};
struct fs_stat : detail::c_future_awaitable<fs_stat, info_out> {
  const char *path;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_fs_stat(r, path, &info, &io, f); }
  luminal_file_info await_resume() const { return io_value(), info; }
};
// rename, unlink, mkdir, rmdir: nothing to return.
struct fs_op : detail::c_future_awaitable<fs_op> {
  enum kind_t { rename, unlink, mkdir, remove_dir } kind;
  const char *path;
  const char *to;
  uint32_t mode;
  luminal_status make(luminal_runtime *r, luminal_future *f) {
    switch (kind) {
    case rename: return luminal_fs_rename(r, path, to, &io, f);
    case unlink: return luminal_fs_unlink(r, path, &io, f);
    case mkdir: return luminal_fs_mkdir(r, path, mode, &io, f);
    default: return luminal_fs_remove_dir(r, path, &io, f);
    }
  }
  void await_resume() const { io_value(); }
};
struct fs_read_dir : detail::c_future_awaitable<fs_read_dir, dir_list_out> {
  const char *path;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_fs_read_dir(r, path, &list, &io, f); }
  dir_list await_resume() {
    io_value();
    return dir_list(std::exchange(list, luminal_dir_list{}));
  }
};
struct process_wait : detail::c_future_awaitable<process_wait> {
  const luminal_process *p;
  luminal_status make(luminal_runtime *r, luminal_future *f) { return luminal_process_wait(r, p, &io, f); }
  int await_resume() const { return static_cast<int>(io_value()); }
};
} // namespace io_detail

// -> host's addresses (a name or an IP literal; getaddrinfo on the blocking pool), port set, at least one.
inline io_detail::resolve resolve(const char *host, uint16_t port) {
  io_detail::resolve a;
  a.host = host, a.port = port;
  return a;
}
// -> the connected fd: host a name or an IP literal, each address tried in turn.
inline io_detail::connect_op tcp_connect_host(const char *host, uint16_t port) {
  io_detail::connect_op a;
  a.kind = io_detail::connect_op::host, a.name = host, a.port = port, a.addr = socket_addr{};
  return a;
}
inline io_detail::connect_op tcp_connect_addr(const socket_addr &addr) {
  io_detail::connect_op a;
  a.kind = io_detail::connect_op::tcp, a.name = nullptr, a.port = 0, a.addr = addr;
  return a;
}
inline io_detail::connect_op unix_connect(const socket_addr &addr) {
  io_detail::connect_op a;
  a.kind = io_detail::connect_op::unix_stream, a.name = nullptr, a.port = 0, a.addr = addr;
  return a;
}
// -> the luminal_ready bits that hold once fd is ready for interest (LUMINAL_READY_READABLE or _WRITABLE).
inline io_detail::fd_ready fd_ready(int32_t fd, luminal_ready interest) {
  io_detail::fd_ready a;
  a.fd = fd, a.interest = static_cast<uint32_t>(interest);
  return a;
}
// -> bytes sent: one datagram to `to`, or to the connected peer (udp_connect) with udp_send.
inline io_detail::udp_send_to udp_send_to(int32_t fd, const void *buf, size_t len, const socket_addr &to) {
  io_detail::udp_send_to a;
  a.fd = fd, a.buf = buf, a.len = len, a.has_to = true, a.to = to;
  return a;
}
inline io_detail::udp_send_to udp_send(int32_t fd, const void *buf, size_t len) {
  io_detail::udp_send_to a;
  a.fd = fd, a.buf = buf, a.len = len, a.has_to = false, a.to = socket_addr{};
  return a;
}
// -> one datagram (truncated to len) and its sender.
inline io_detail::udp_recv_from udp_recv_from(int32_t fd, void *buf, size_t len) {
  io_detail::udp_recv_from a;
  a.fd = fd, a.buf = buf, a.len = len;
  return a;
}
// stat(2) of a path (links followed).
inline io_detail::fs_stat fs_stat(const char *path) {
  io_detail::fs_stat a;
  a.path = path;
  return a;
}
inline io_detail::fs_op fs_rename(const char *from, const char *to) {
  io_detail::fs_op a;
  a.kind = io_detail::fs_op::rename, a.path = from, a.to = to, a.mode = 0;
  return a;
}
inline io_detail::fs_op fs_unlink(const char *path) {
  io_detail::fs_op a;
  a.kind = io_detail::fs_op::unlink, a.path = path, a.to = nullptr, a.mode = 0;
  return a;
}
inline io_detail::fs_op fs_mkdir(const char *path, uint32_t mode = 0777) {
  io_detail::fs_op a;
  a.kind = io_detail::fs_op::mkdir, a.path = path, a.to = nullptr, a.mode = mode;
  return a;
}
inline io_detail::fs_op fs_remove_dir(const char *path) {
  io_detail::fs_op a;
  a.kind = io_detail::fs_op::remove_dir, a.path = path, a.to = nullptr, a.mode = 0;
  return a;
}
// -> every entry but "." and "..", in the file system's order.
inline io_detail::fs_read_dir fs_read_dir(const char *path) {
  io_detail::fs_read_dir a;
  a.path = path;
  return a;
}
// The process must outlive the co_await (its pidfd is used until the child exits).
inline auto process::wait() const {
  io_detail::process_wait a;
  a.p = &p_;
  return a;
}

// ---- sync awaitables -----------------------------------------------------------------------------------------

namespace detail {
template <class T>
struct send_awaitable : sync_future_awaitable<send_awaitable<T>> {
  luminal_sender *tx;
  std::optional<T> value;
  luminal_status make(luminal_future *f) {
    void *m = make_message<T>(std::move(*value));
    luminal_status s = luminal_channel_send(tx, m, &this->status, f);
    // No channel: still ours.
    if (s == LUMINAL_E_INVALID_ARGUMENT || s == LUMINAL_E_INVALID_HANDLE) (void)take_message_value<T>(m);
    return s;
  }
  bool await_resume() const { return this->open(); }
};
template <class T>
struct recv_awaitable : sync_future_awaitable<recv_awaitable<T>> {
  luminal_receiver *rx;
  luminal_status make(luminal_future *f) { return luminal_channel_recv(rx, &this->msg, &this->status, f); }
  std::optional<T> await_resume() { return this->template take_message<T>(); }
};
template <class T>
struct oneshot_recv_awaitable : sync_future_awaitable<oneshot_recv_awaitable<T>> {
  luminal_oneshot_receiver *rx;
  luminal_status make(luminal_future *f) { return luminal_oneshot_recv(rx, &this->msg, &this->status, f); }
  std::optional<T> await_resume() { return this->template take_message<T>(); }
};
struct notify_awaitable : sync_future_awaitable<notify_awaitable> {
  luminal_notify *n;
  luminal_status make(luminal_future *f) { return luminal_notify_wait(n, f); }
  void await_resume() const { check_output(); }
};
struct acquire_awaitable : sync_future_awaitable<acquire_awaitable> {
  luminal_semaphore *s;
  uint32_t n;
  luminal_status make(luminal_future *f) { return luminal_semaphore_acquire(s, n, &status, f); }
  bool await_resume() const { return open(); }
};
struct signal_recv_awaitable : sync_future_awaitable<signal_recv_awaitable> {
  luminal_signal *sig;
  luminal_status make(luminal_future *f) { return luminal_signal_recv(sig, &status, f); }
  bool await_resume() const { return open(); }
};
template <class T>
struct join_next_awaitable : sync_future_awaitable<join_next_awaitable<T>> {
  luminal_task_set *set;
  luminal_status make(luminal_future *f) { return luminal_task_set_join_next(set, &this->msg, &this->status, f); }
  timeout_result_t<T> await_resume() {
    if (this->status == LUMINAL_E_EMPTY) return {};
    check(this->status);
    return take_some<T>(std::exchange(this->msg, nullptr));
  }
};
} // namespace detail

template <class T>
auto sender<T>::send(T v) const {
  detail::send_awaitable<T> a;
  a.tx = s_, a.value.emplace(std::move(v));
  return a;
}
template <class T>
auto receiver<T>::recv() const {
  detail::recv_awaitable<T> a;
  a.rx = r_;
  return a;
}
inline auto notify::wait() const {
  detail::notify_awaitable a;
  a.n = n_;
  return a;
}
inline auto signal_listener::recv() const {
  detail::signal_recv_awaitable a;
  a.sig = s_;
  return a;
}
inline auto semaphore::acquire(uint32_t n) const {
  detail::acquire_awaitable a;
  a.s = s_, a.n = n;
  return a;
}
template <class T>
auto oneshot_receiver<T>::recv() const {
  detail::oneshot_recv_awaitable<T> a;
  a.rx = rx_;
  return a;
}
template <class T>
void task_set<T>::spawn(task<T> t, const spawn_options *o) const {
  spawn_future(std::move(t).into_future(), o);
}
template <class T>
auto task_set<T>::join_next() const {
  detail::join_next_awaitable<T> a;
  a.set = s_;
  return a;
}

// co_await luminal::drain(scope): until every task of the scope has finished (nothing is cancelled).
struct drain : detail::sync_future_awaitable<drain> {
  luminal_scope *s;
  explicit drain(const scope &sc) noexcept : s(sc.get()) {}
  luminal_status make(luminal_future *f) { return luminal_scope_drain(s, f); }
  void await_resume() const { check_output(); }
};

// co_await luminal::await_future(std::move(f)): polls a C future inside this task; returns its output.
struct await_future : poll_awaitable<await_future> {
  future f;
  void *output = nullptr;
  explicit await_future(future fut) noexcept : f(std::move(fut)) {}
  bool poll(luminal_context *cx) noexcept { return f.poll(cx, &output); }
  void *await_resume() noexcept { return output; }
};
#endif // LUMINAL_HPP_COROUTINES

} // namespace luminal

#endif // LUMINAL_HPP
