/*
 * luminal.h — the C contract of Luminal, an async runtime in one shared library (libluminal.so, luminal.dll,
 * libluminal.dylib).
 *
 * General rules (they hold for every function unless its comment says otherwise):
 *  - Every function is thread-safe and may be called from any thread, including from inside a poll.
 *  - Handles (`luminal_runtime*`, `luminal_task*`, `luminal_waker*`, `luminal_scope*`, `luminal_context*`, and
 *    those of the sync section and of plugins) are
 *    opaque tokens, not pointers: the library never reads memory through them. They carry a type tag and a
 *    generation: a NULL handle gives LUMINAL_E_INVALID_ARGUMENT, a released, double-released, stale, forged or
 *    wrong-type handle gives LUMINAL_E_INVALID_HANDLE wherever the function returns a status, NULL where it returns
 *    a handle, 0 where it returns a count or a flag, and is ignored by functions that return void. Nothing is
 *    corrupted either way.
 *  - Statuses every function may return besides those its comment lists: LUMINAL_E_NO_MEMORY (an allocation
 *    failed or a table is full), LUMINAL_E_INTERNAL (a bug in Luminal) and, for a function taking a handle,
 *    LUMINAL_E_FORKED (see "fork" below). Every other status a function can return is listed in its comment.
 *  - No exception, signal or unwinding ever crosses this boundary; internal failures map to LUMINAL_E_INTERNAL.
 *  - The runtime keeps no context in thread-local storage: everything it needs comes from the handle you pass, or
 *    from the `luminal_context` it hands to a running poll. A plugin (shared library) that receives a
 *    `luminal_runtime*` from its host can spawn onto the host's runtime; it needs no runtime of its own.
 *  - Handles are 64-bit tokens; Luminal supports 64-bit platforms only.
 *  - Side effects on the host process (the .NET runtime inside the library is initialized at the first call into
 *    it): SIGPIPE is set to SIG_IGN (restore it after your first Luminal call if you need it: Luminal's socket
 *    writes use MSG_NOSIGNAL, its pipe writes follow whatever disposition is in force); handlers are installed for
 *    SIGSEGV and SIGFPE (they chain to the handlers that were there before, for faults outside Luminal's code) and
 *    for SIGRTMIN (used to stop threads for garbage collection); one thread (".NET Finalizer") is started; one fd
 *    on /dev/urandom is opened at the first wait on an internal lock (the seed of the .NET runtime's object hash
 *    codes) and kept; each thread that calls into Luminal gets a small per-thread record in the .NET runtime,
 *    freed when the thread exits. A runtime adds its worker threads (a current-thread runtime: none, but one
 *    eventfd), a blocking-pool thread per concurrent blocking
 *    call (they exit when idle), and at the first IO operation an io_uring fd or, on the pool backend, an epoll
 *    fd, an eventfd and one reactor thread; all of them go when the runtime is shut down. The first
 *    luminal_signal_listen starts .NET's signal handling, kept from then on: one thread reading a pipe (two fds)
 *    that its handlers write to, and handlers for SIGINT, SIGQUIT and SIGCONT that keep their behaviour (a handler
 *    the host had installed before is called; at SIG_DFL the default action still happens) but show in sigaction;
 *    deliveries to listeners run on .NET thread-pool threads (they exit when idle). An atfork handler is
 *    registered at the first runtime (see fork below). Nothing else: no other fds, no environment changes.
 *  - fork(): a child process inherits a copy of every runtime but none of its threads (and an io_uring instance it
 *    shares with the parent). In the child, every call on an inherited runtime, or on its tasks, scopes, contexts
 *    and futures, returns LUMINAL_E_FORKED (functions returning void, a handle or a count do nothing and return
 *    NULL / 0); a spawn drops its future exactly once, as any failed spawn does. luminal_runtime_release of an
 *    inherited runtime returns at once, and the inherited copy's memory is leaked in the child (its futures are
 *    never dropped there: the parent's copies are the live ones). Runtimes created in the child work normally.
 *    Detection costs no system call: the library registers an atfork child handler when it creates its first
 *    runtime (on a C library without atfork registration, fork is not detected: create runtimes after forking).
 *
 * Ownership vocabulary: "takes" = ownership moves to the callee, also when it fails; "returns an owned X" = the
 * caller must release it; "borrowed" = valid only as long as the comment says, never release it.
 *
 * Structs: those that start with `size_t struct_size` (luminal_runtime_options, luminal_spawn_options,
 * luminal_scope_counters, luminal_channel_options, luminal_runtime_metrics, luminal_worker_metrics,
 * luminal_process_options) grow at their end in later versions: the caller sets struct_size = sizeof(the struct it
 * was compiled with), and the library reads or writes only that much (fields it does not get take their
 * defaults). luminal_plugin_host goes the other way (the library writes it, a plugin reads it): its struct_size is
 * the library's, and a plugin reads only the fields it covers. Every other struct (luminal_future, luminal_io_result,
 * luminal_file_info, luminal_view, luminal_buffer, luminal_socket_addr, luminal_addr_list, luminal_dir_entry,
 * luminal_dir_list, luminal_process) is frozen: its layout never changes within an ABI version.
 */
#ifndef LUMINAL_H
#define LUMINAL_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(LUMINAL_BUILDING)
#    define LUMINAL_API __declspec(dllexport)
#  else
#    define LUMINAL_API __declspec(dllimport)
#  endif
#else
#  define LUMINAL_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Versions and status codes
 * ------------------------------------------------------------------------------------------------------------- */

/* The library's version (semantic versioning). This header is the one place it is written: the library, the Rust
 * crate and the build read it from here. The shared library's soname carries the major version. */
#define LUMINAL_VERSION_MAJOR 0
#define LUMINAL_VERSION_MINOR 2
#define LUMINAL_VERSION_PATCH 0
#define LUMINAL_VERSION_STRING "0.2.0"
/* MAJOR << 16 | MINOR << 8 | PATCH, for #if comparisons. */
#define LUMINAL_VERSION_HEX ((LUMINAL_VERSION_MAJOR << 16) | (LUMINAL_VERSION_MINOR << 8) | LUMINAL_VERSION_PATCH)

/* Compile-time ABI version; compare with luminal_abi_version() to detect a library older than this header. It
 * changes when a function, struct or constant changes meaning or layout; adding functions bumps it too (a program
 * built against the newer header may call them). */
#define LUMINAL_ABI_VERSION 5

/* The ABI version the loaded library implements. Never fails. */
LUMINAL_API uint32_t luminal_abi_version(void);

/* The library's version as a static NUL-terminated string (LUMINAL_VERSION_STRING of the header it was built
 * with). Never NULL; never free it. */
LUMINAL_API const char *luminal_version(void);

typedef enum luminal_status {
  LUMINAL_OK = 0,                  /* success */
  LUMINAL_PENDING = 1,             /* not ready yet; the context's waker will be woken (luminal_task_poll) */
  LUMINAL_E_INVALID_ARGUMENT = -1, /* NULL where a value is required, a missing poll function, a bad option */
  LUMINAL_E_INVALID_HANDLE = -2,   /* released, double-released, foreign or wrong-type handle */
  LUMINAL_E_SHUTDOWN = -3,         /* the runtime is shut down (or shutting down) */
  LUMINAL_E_CANCELLED = -4,        /* the task was aborted, or dropped by shutdown, before it completed */
  LUMINAL_E_TIMED_OUT = -5,        /* the timeout elapsed first; nothing was consumed */
  LUMINAL_E_WOULD_DEADLOCK = -6,   /* a blocking call on one of the runtime's own worker (or driving) threads */
  LUMINAL_E_NO_MEMORY = -7,        /* an allocation failed, or a table is full */
  LUMINAL_E_UNSUPPORTED = -8,      /* not available on this platform or build */
  LUMINAL_E_INTERNAL = -9,         /* a bug in Luminal; please report it */
  LUMINAL_E_ALREADY_TAKEN = -10,   /* the task's output was already handed over by an earlier join or poll */
  LUMINAL_E_IO = -11,              /* the operating system refused an IO operation: see os_error (an errno) */
  LUMINAL_E_FORKED = -12,          /* the handle belongs to a runtime inherited across fork(): unusable here */
  LUMINAL_E_CLOSED = -13,          /* the channel's other side is gone, or the semaphore was closed */
  LUMINAL_E_FULL = -14,            /* the channel has no room now (luminal_channel_try_send) */
  LUMINAL_E_EMPTY = -15,           /* no message waiting, or too few permits free (try_recv, try_acquire) */
  LUMINAL_E_NOT_PLUGIN = -16,      /* the library lacks luminal_plugin_init or luminal_plugin_fini (luminal_plugin.h) */
  LUMINAL_E_PLUGIN_INIT = -17,     /* the plugin's luminal_plugin_init returned an error; it was unloaded again */
  LUMINAL_E_BUSY = -18             /* another thread is driving this current-thread runtime (never waited for) */
} luminal_status;

/* A static English description of `s` ("ok", "invalid handle", ...). Never NULL, also for unknown values. */
LUMINAL_API const char *luminal_status_str(luminal_status s);

/* The constant's name of `s` as a static string ("LUMINAL_E_INVALID_HANDLE"); "LUMINAL_STATUS_UNKNOWN" for a value
 * that is not a luminal_status. Never NULL. */
LUMINAL_API const char *luminal_status_name(luminal_status s);

/* Diagnostic, for benchmarks and tests (not for program logic; it may move into a statistics struct): how many
 * garbage collections the library's own managed heap has run since the process loaded it (every collection counts
 * once, whatever its generation). The runtime is built to cause none once warm, nor while its number of live tasks
 * grows, nor when channels, oneshots, notifies and semaphores are created, used and released; a collection pauses
 * every thread that is inside a Luminal call. Never fails; any thread. */
LUMINAL_API uint64_t luminal_debug_gc_count(void);

/* ---------------------------------------------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_runtime luminal_runtime; /* a runtime; each handle is owned by one holder; thread-safe */
typedef struct luminal_task luminal_task;       /* a join handle for one task, owned by one holder */
typedef struct luminal_waker luminal_waker;     /* wakes one task; cheap to clone, never allocates */
typedef struct luminal_context luminal_context; /* given to a poll; a token valid only during that one poll call */

/* ---------------------------------------------------------------------------------------------------------------
 * Runtime
 * ------------------------------------------------------------------------------------------------------------- */

/* Where IO operations go (see "IO with personalities" below). */
typedef enum luminal_io_backend {
  LUMINAL_IO_AUTO = 0,    /* io_uring when the kernel allows it, else POOL: io_uring_disabled, seccomp, ENOSYS, and
                             a ring that cannot be made (EMFILE, ENOMEM at the first IO operation) all fall back */
  LUMINAL_IO_URING = 1,   /* io_uring only: luminal_runtime_new fails with LUMINAL_E_UNSUPPORTED without it */
  LUMINAL_IO_POOL = 2     /* system calls on the blocking pool */
} luminal_io_backend;

/* Observers a runtime can be given at creation (see "Observing a runtime" at the end for what each receives). */
typedef enum luminal_log_level {
  LUMINAL_LOG_ERROR = 1, /* something failed: an internal error, a call into unmapped plugin code refused */
  LUMINAL_LOG_WARN = 2,  /* a likely mistake: an unknown LUMINAL_IO_BACKEND, a scope released with live tasks */
  LUMINAL_LOG_INFO = 3,  /* decisions: the IO backend chosen and why */
  LUMINAL_LOG_DEBUG = 4  /* lifecycle: runtime created and shut down */
} luminal_log_level;

/* Receives one log line (no trailing newline). `message` is borrowed for the call. Called on any thread, never with
 * a Luminal lock held; it may call Luminal functions but must not block for long. */
typedef void (*luminal_log_fn)(void *user, luminal_log_level level, const char *message);

typedef enum luminal_thread_kind {
  LUMINAL_THREAD_WORKER = 0,   /* a worker (index 0 .. worker_threads-1) */
  LUMINAL_THREAD_BLOCKING = 1, /* a blocking-pool thread (index: a slot number below max_blocking_threads, reused) */
  LUMINAL_THREAD_IO = 2        /* an IO helper thread (the pool backend's reactor; io_uring's reaper on old kernels) */
} luminal_thread_kind;

/* Called on the runtime's thread itself: at its start before it runs anything, or just before it exits. */
typedef void (*luminal_thread_hook_fn)(void *user, luminal_thread_kind kind, uint32_t index);

typedef enum luminal_task_event {
  LUMINAL_TASK_SPAWNED = 0,    /* on the spawning thread, before the task can run */
  LUMINAL_TASK_POLL_START = 1, /* on the polling thread, right before poll (or a spawn_fn / blocking fn) */
  LUMINAL_TASK_POLL_END = 2,   /* right after it returned */
  LUMINAL_TASK_COMPLETED = 3,  /* the future returned READY and was dropped */
  LUMINAL_TASK_CANCELLED = 4   /* the future was dropped unfinished (abort, scope close, shutdown) */
} luminal_task_event;

/* One task event. `task_id` is the token its join handle has (the luminal_task* value), unique among live tasks;
 * `priority` its luminal_priority (1-4); `scope` the luminal_scope* value of its scope or 0; `worker` the index
 * of the worker running the event, or -1 on another thread. Called inline: keep it short (append to a buffer). */
typedef void (*luminal_task_hook_fn)(void *user, luminal_task_event event, uint64_t task_id, uint32_t priority,
                                     uint64_t scope, int32_t worker);
/* Who runs the tasks (see "Current-thread runtimes" below). */
typedef enum luminal_flavor {
  LUMINAL_FLAVOR_MULTI_THREAD = 0,  /* worker threads, started by luminal_runtime_new */
  LUMINAL_FLAVOR_CURRENT_THREAD = 1 /* no workers: tasks run on a thread that drives the runtime */
} luminal_flavor;

/* The runtime's clock: what its timers (sleep, sleep_until, timeout) and luminal_runtime_now_ns read. */
typedef enum luminal_clock {
  LUMINAL_CLOCK_MONOTONIC = 0, /* luminal_now_ns */
  LUMINAL_CLOCK_PAUSED = 1     /* stands still until luminal_runtime_advance (or block_on's auto-advance) moves it */
} luminal_clock;

typedef struct luminal_runtime_options {
  size_t struct_size;      /* set to sizeof(luminal_runtime_options); fields past it take their defaults */
  uint32_t worker_threads; /* 0 = the number of logical CPUs; at most 1024 */
  const char *thread_name; /* worker thread name prefix, copied; NULL = "luminal-w". Threads are named PREFIX-INDEX
                              (Linux keeps 15 bytes of a name: the default leaves room for 4 digits) */
  uint32_t max_blocking_threads;  /* cap of the blocking pool (luminal_spawn_blocking); 0 = 512; at most 65536 */
  uint32_t blocking_keep_alive_ms; /* a blocking-pool thread idle this long exits; 0 = 10000 */
  luminal_io_backend io_backend;   /* 0 = AUTO (the LUMINAL_IO_BACKEND variable may force one) */
  /* Observability (see "Observing a runtime"). NULL / 0 = off; off costs one predictable branch per event. */
  luminal_log_fn log;                     /* NULL: log to stderr at the level LUMINAL_LOG names, else silent */
  void *log_user;                         /* passed to log */
  luminal_log_level log_level;            /* the most verbose level passed to log; 0 = LUMINAL_LOG_INFO */
  int32_t debug_plugins;                  /* 1: check before each poll/drop call that its code is still mapped
                                             (LUMINAL_DEBUG_PLUGINS=1 turns it on too) */
  luminal_thread_hook_fn on_thread_start; /* on each worker, blocking-pool and IO thread as it starts */
  luminal_thread_hook_fn on_thread_stop;  /* on each of them as it exits */
  void *thread_hook_user;                 /* passed to both thread hooks */
  luminal_task_hook_fn task_hook;         /* every task event (the basis for tracing) */
  void *task_hook_user;                   /* passed to task_hook */
  /* Current-thread runtimes, the paused clock and seeded runs (see "Current-thread runtimes" below). */
  luminal_flavor flavor;           /* 0 = LUMINAL_FLAVOR_MULTI_THREAD */
  luminal_clock clock;             /* 0 = LUMINAL_CLOCK_MONOTONIC; PAUSED needs LUMINAL_FLAVOR_CURRENT_THREAD */
  uint64_t seed;                   /* 0 = off; else ready tasks run in a pseudo-random order drawn from it
                                      (needs LUMINAL_FLAVOR_CURRENT_THREAD) */
} luminal_runtime_options;

/* Creates a runtime and starts its worker threads (a current-thread runtime starts none). `opts` is borrowed for
 * the call (NULL = defaults). On LUMINAL_OK, *out is an owned handle: release it with luminal_runtime_release.
 * Returns LUMINAL_E_INVALID_ARGUMENT if out is NULL, opts->struct_size is too small to hold struct_size itself,
 * worker_threads > 1024, max_blocking_threads > 65536, io_backend, flavor or clock is not one of its enum's
 * values, clock = LUMINAL_CLOCK_PAUSED or seed != 0 on a multi-thread runtime, log_level is not 0 or a
 * luminal_log_level, or debug_plugins is not 0 or 1;
 * LUMINAL_E_UNSUPPORTED if io_uring is demanded (io_backend = LUMINAL_IO_URING, or LUMINAL_IO_BACKEND=uring with
 * AUTO) and the kernel refuses it (too old, io_uring_disabled, seccomp, no memory for a ring). */
LUMINAL_API luminal_status luminal_runtime_new(const luminal_runtime_options *opts, luminal_runtime **out);

/* Returns another owned handle to the same runtime (release each handle once), or NULL if `rt` is NULL, stale or
 * foreign. Cloning a shut-down runtime works; spawning onto it gives LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_runtime *luminal_runtime_clone(luminal_runtime *rt);

/* Releases one handle. When the last handle goes, the runtime shuts down as by luminal_runtime_shutdown with no
 * timeout; if that last release happens on one of the runtime's own workers, shutdown is started and the workers
 * finish it themselves (a thread cannot join itself). NULL, stale or double releases are ignored. */
LUMINAL_API void luminal_runtime_release(luminal_runtime *rt);

/* Shuts the runtime down; the handle stays valid (release it as usual). In order: new spawns fail with
 * LUMINAL_E_SHUTDOWN (the future is dropped); polls in progress run to their end; every unfinished future is
 * dropped exactly once (its drop function runs on a worker or on the calling thread); every joiner is woken and
 * gets LUMINAL_E_CANCELLED; the worker threads are joined.
 * `timeout_ns`: UINT64_MAX = wait forever. Returns LUMINAL_OK when all of that is done, LUMINAL_E_TIMED_OUT if a
 * poll, or a drop / drop_output function, was still running at the timeout (the rest then completes in the
 * background when it returns; call again to wait more), LUMINAL_E_WOULD_DEADLOCK on one of the runtime's own worker
 * threads, or inside a poll of a current-thread runtime (shutdown has still been started; there the driving thread
 * completes it when that poll returns), LUMINAL_E_INVALID_ARGUMENT / LUMINAL_E_INVALID_HANDLE for a bad handle.
 * Calling it again is fine. A current-thread runtime's drops run on the calling thread if nobody drives it, else on
 * the driving thread, which is woken for it.
 * Plugins open on the runtime stay loaded (their tasks are dropped like all others; see luminal_plugin_close). */
LUMINAL_API luminal_status luminal_runtime_shutdown(luminal_runtime *rt, uint64_t timeout_ns);

/* The number of worker threads of `rt` (1 for a current-thread runtime: the thread driving it), or 0 for a bad
 * handle. */
LUMINAL_API uint32_t luminal_runtime_worker_count(luminal_runtime *rt);

/* ---------------------------------------------------------------------------------------------------------------
 * Current-thread runtimes, the paused clock, seeded runs
 *
 * A runtime made with flavor = LUMINAL_FLAVOR_CURRENT_THREAD starts no thread (its blocking pool and IO helpers
 * start at their first use, as on any runtime; its fds are one eventfd, plus the IO backend's at the first IO
 * operation). Its tasks run only on the thread that drives it: inside luminal_block_on (which also runs every
 * other ready task while it waits), luminal_runtime_run and luminal_runtime_advance. One thread drives at a time:
 * another thread that tries gets LUMINAL_E_BUSY at once (it never waits); the driving thread itself, from inside
 * one of the runtime's polls, gets LUMINAL_E_WOULD_DEADLOCK from luminal_block_on and luminal_runtime_run (and
 * from a blocking luminal_task_join, luminal_scope_close or luminal_runtime_shutdown with a timeout: only it could
 * run what they wait for). Any thread may spawn, wake, abort and join (a blocking join waits until someone drives
 * the runtime far enough). Priorities order the ready tasks as on a multi-thread runtime. The blocking pool and IO
 * (both backends) work as usual; their completions make the runtime's wakeup fd readable.
 *
 * For an event loop (GTK's GSource, Qt's QSocketNotifier, epoll, poll(2)): watch luminal_runtime_wakeup_fd for
 * readability, wake up at luminal_runtime_next_deadline_ns, and call luminal_runtime_run then
 * (examples/c/example_gui_loop.c).
 *
 * The paused clock (clock = LUMINAL_CLOCK_PAUSED, current-thread runtimes only) starts at the runtime's creation
 * and stands still: only luminal_runtime_advance moves it, and luminal_block_on when nothing is runnable, no file
 * IO operation is in flight and the blocking pool is idle: it then jumps to the next timer's tick by itself
 * (auto-advance; luminal_runtime_run never does). Operations that wait for a peer that may never come (stream read
 * and write on sockets and pipes, accept, connect, luminal_fd_ready, luminal_udp_recv_from, luminal_process_wait),
 * which is what timeouts are for, do not hold the clock, also when the pool backend waits for them on a pool
 * thread. Timers fire on 250 us ticks as on the monotonic clock: advancing
 * by less than what is left to the next tick fires nothing. A test of a one-hour timeout then runs in microseconds.
 *
 * seed != 0 (current-thread runtimes only): whenever a task is picked to run, it is drawn pseudo-randomly from the
 * ready tasks of the most urgent priority level, from a generator seeded with `seed`. Two runs with one seed make
 * the same choices, so an interleaving found with seed N (and a paused clock, which removes the timing) replays
 * with seed N; wakes from other threads (IO, the blocking pool, your threads) still arrive when they arrive.
 * ------------------------------------------------------------------------------------------------------------- */

/* Runs the tasks of a current-thread runtime that are ready, on the calling thread: first it fires the timers due
 * and reaps IO completions (without blocking), then polls ready tasks (tasks woken or spawned meanwhile included)
 * until none is ready, `max_polls` polls were made (0 = no limit) or `max_ns` nanoseconds of real time have passed
 * (checked after each poll; 0 = no limit). It never waits for work and never advances a paused clock. A task that
 * always wakes itself keeps it busy until a limit: event loops should pass one. *polled (may be NULL) receives the
 * number of polls made. If ready tasks are left, the wakeup fd is readable when it returns.
 * Returns LUMINAL_OK; LUMINAL_E_BUSY (another thread drives it); LUMINAL_E_WOULD_DEADLOCK (called from inside one
 * of its polls); LUMINAL_E_SHUTDOWN (shut down, also when shutdown began during the call: the calling thread then
 * completed the shutdown's drops); LUMINAL_E_INVALID_ARGUMENT (rt NULL, or a multi-thread runtime);
 * LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_runtime_run(luminal_runtime *rt, uint32_t max_polls, uint64_t max_ns,
                                               uint32_t *polled);

/* Stores in *fd a file descriptor that is readable when the current-thread runtime has work to run (a task was
 * woken or spawned, an IO operation completed): watch it for readability (poll, epoll, a GSource), never read or
 * write it. It stays readable until the next luminal_runtime_run (or other driving call) starts. Timers do not make
 * it readable: use luminal_runtime_next_deadline_ns. The runtime owns the fd: it is closed when the runtime has
 * shut down (take it out of your event loop first). The same fd every time.
 * Returns LUMINAL_OK; LUMINAL_E_INVALID_ARGUMENT (rt or fd NULL, or a multi-thread runtime);
 * LUMINAL_E_INVALID_HANDLE; LUMINAL_E_SHUTDOWN (after shutdown, the fd is gone). */
LUMINAL_API luminal_status luminal_runtime_wakeup_fd(luminal_runtime *rt, int *fd);

/* Stores in *deadline the time, on the runtime's clock (luminal_runtime_now_ns), at which the runtime's earliest
 * timer is due (at or before its deadline: the wheel's next tick to visit), or UINT64_MAX when no timer is set.
 * Any runtime; on a current-thread one, call luminal_runtime_run once that time has come.
 * Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rt or deadline NULL), LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_runtime_next_deadline_ns(luminal_runtime *rt, uint64_t *deadline);

/* The runtime's time in nanoseconds: luminal_now_ns() on a monotonic clock; on a paused clock, its creation time
 * plus every advance since. What sleep, sleep_until and timeout of this runtime measure against. 0 for a bad handle. */
LUMINAL_API uint64_t luminal_runtime_now_ns(luminal_runtime *rt);

/* Moves a paused clock forward by exactly `ns`, visiting each timer tick on the way in deadline order: at each, it
 * fires the timers due and, when called outside the runtime's polls, runs every task that is then ready (as
 * luminal_runtime_run with no limit) before going on, so a task woken at t that sleeps again may fire again within
 * the same advance. Called from inside one of the runtime's polls (on its driving thread), it only fires the
 * timers: what they wake runs once that poll returns. Any thread may call it when nobody drives the runtime.
 * Returns LUMINAL_OK; LUMINAL_E_INVALID_ARGUMENT (rt NULL, or the runtime's clock is not paused); LUMINAL_E_BUSY
 * (another thread drives it); LUMINAL_E_SHUTDOWN; LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_runtime_advance(luminal_runtime *rt, uint64_t ns);

/* ---------------------------------------------------------------------------------------------------------------
 * Futures
 * ------------------------------------------------------------------------------------------------------------- */

typedef enum luminal_poll { LUMINAL_POLL_PENDING = 0, LUMINAL_POLL_READY = 1 } luminal_poll;

/* Polls a future. On READY it stores its result in *output (any pointer, NULL allowed; ownership of what it points
 * to passes to whoever joins the task). On PENDING it must have arranged for the context's waker (or a clone) to
 * be woken when progress is possible, or the task sleeps forever. `cx` is borrowed for this call only.
 * Never called again after it returned READY; never called concurrently with itself or with `drop`. */
typedef luminal_poll
    (*luminal_poll_fn)(void *state, luminal_context *cx, void **output);
typedef void (*luminal_drop_fn)(void *p);

/* A future, passed by value. The runtime takes it: `drop(state)` is called exactly once whatever happens (after the
 * READY poll, on abort, on shutdown, or at once when the spawn fails), never during a poll, on any thread. */
typedef struct luminal_future {
  void *state;                 /* the future's data, owned by the future */
  luminal_poll_fn poll;        /* required */
  luminal_drop_fn drop;        /* frees state; may be NULL */
  luminal_drop_fn drop_output; /* frees an output nobody took (handle released unjoined, or detached); may be NULL */
} luminal_future;

/* ---------------------------------------------------------------------------------------------------------------
 * Context and wakers
 * ------------------------------------------------------------------------------------------------------------- */

/* A `luminal_context*` is a token that names one poll: it is valid from the moment the runtime hands it to a poll
 * function until that call returns, from any thread. Kept and used after its poll (from any thread), or forged, it
 * is refused: LUMINAL_E_INVALID_HANDLE, NULL or ignored as the general rules say; nothing is read through it. */

/* The runtime running this poll: a borrowed handle valid as long as the runtime lives (clone it to keep it).
 * NULL if cx is NULL, stale or forged. */
LUMINAL_API luminal_runtime *luminal_context_runtime(luminal_context *cx);

/* The waker of the task being polled: borrowed, valid during the poll; clone it to keep it. NULL if cx is NULL,
 * stale or forged. */
LUMINAL_API const luminal_waker *luminal_context_waker(luminal_context *cx);

/* A cooperative yield in one call: the task being polled is polled again after the other runnable tasks of its
 * priority, those queued from outside the workers included (yielding tasks never hold up a foreign wake), exactly
 * as if the poll had called luminal_waker_wake_by_ref(luminal_context_waker(cx)); return PENDING after it (a READY
 * poll ignores the request). Call it on the thread running the poll, during the poll. A future
 * that polls other futures with its own cx (a combinator) yields the whole task when one of them yields.
 * Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT if cx is NULL, LUMINAL_E_INVALID_HANDLE if cx is stale (its poll
 * has returned) or forged; a request that arrives after its poll returned is ignored. */
LUMINAL_API luminal_status luminal_context_yield(luminal_context *cx);

/* Returns an owned clone of `w` (release it with luminal_waker_release or consume it with luminal_waker_wake).
 * Never allocates. Returns NULL if w is NULL, forged, or names a task slot that has since been reused (a waker of
 * a finished task stays clonable until then; it wakes nothing). */
LUMINAL_API luminal_waker *luminal_waker_clone(const luminal_waker *w);

/* Schedules the waker's task to be polled again and releases `w`. Waking a finished, aborted or released task does
 * nothing. Waking a task whose runtime is shut down (or shutting down) drops that task's future instead, on the
 * calling thread, right away: don't wake while holding a lock the future's drop function takes. Several wakes
 * before the next poll cause one poll. Any thread. */
LUMINAL_API void luminal_waker_wake(luminal_waker *w);

/* Like luminal_waker_wake, but `w` stays owned by the caller. */
LUMINAL_API void luminal_waker_wake_by_ref(const luminal_waker *w);

/* Releases `w` without waking. NULL and stale wakers are ignored. */
LUMINAL_API void luminal_waker_release(luminal_waker *w);

/* 1 if `a` and `b` wake the same task (so a future may skip replacing a stored waker), else 0 (also for NULL,
 * forged or stale wakers). */
LUMINAL_API int luminal_waker_will_wake(const luminal_waker *a, const luminal_waker *b);

/* ---------------------------------------------------------------------------------------------------------------
 * Spawning and joining
 * ------------------------------------------------------------------------------------------------------------- */

/* Spawns `fut` onto `rt` (the global queue; an idle worker is woken). Takes `fut` also on failure (it is dropped
 * at once). `out`: NULL = detached (the output is freed with drop_output); else *out receives an owned join
 * handle (release it with luminal_task_release). Returns LUMINAL_E_SHUTDOWN after shutdown,
 * LUMINAL_E_INVALID_ARGUMENT if fut.poll is NULL or rt is NULL, LUMINAL_E_INVALID_HANDLE for a bad rt. */
LUMINAL_API luminal_status luminal_spawn(luminal_runtime *rt, luminal_future fut, luminal_task **out);

/* Like luminal_spawn, from inside a poll: the task goes to the current worker's own queue (cheapest; other workers
 * steal it if this one is busy). Outside a worker (a block_on poll) it goes to the global queue.
 * Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (cx NULL or fut.poll NULL), LUMINAL_E_INVALID_HANDLE (cx stale
 * or forged), LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_context_spawn(luminal_context *cx, luminal_future fut, luminal_task **out);

/* Spawns a task that calls fn(arg) once on a worker; its output is fn's return value (no drop_output: a detached
 * or unjoined output is not freed). `fn` must not block for long: it occupies a worker while it runs.
 * Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rt or fn NULL), LUMINAL_E_INVALID_HANDLE, LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_spawn_fn(luminal_runtime *rt, void *(*fn)(void *arg), void *arg,
                                            luminal_task **out);

/* Runs `fut` to completion on the calling thread, which parks between polls while the runtime's workers run
 * everything else. On a current-thread runtime the calling thread drives it: it runs every ready task (`fut`
 * among them) until `fut` completes, waits on the wakeup fd and the next timer when none is ready, and on a
 * paused clock auto-advances (see "Current-thread runtimes"); tasks still ready when `fut` completes stay queued.
 * Takes `fut` (dropped exactly once, also on failure). On LUMINAL_OK, *output (may be NULL to discard it, then
 * drop_output frees it) receives the output. Returns LUMINAL_E_WOULD_DEADLOCK on one of the runtime's workers (or
 * from inside a poll of the current-thread runtime), LUMINAL_E_BUSY if another thread drives the current-thread
 * runtime, LUMINAL_E_SHUTDOWN if the runtime is or gets shut down first (the future is dropped),
 * LUMINAL_E_INVALID_ARGUMENT (rt or fut.poll NULL), LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_block_on(luminal_runtime *rt, luminal_future fut, void **output);

/* Waits for the task to finish. `timeout_ns`: 0 = just check, UINT64_MAX = forever.
 * LUMINAL_OK: *output (may be NULL to discard; then drop_output frees it) receives the output — handed over once:
 * a later join or poll returns LUMINAL_E_ALREADY_TAKEN. LUMINAL_E_CANCELLED: aborted or dropped by shutdown.
 * LUMINAL_E_TIMED_OUT: still running (the handle stays valid). LUMINAL_E_WOULD_DEADLOCK: called on a worker thread
 * of the task's runtime (or inside a poll of its current-thread runtime) with a non-zero timeout (use
 * luminal_task_poll inside futures). On a current-thread runtime the task runs only while a thread drives it. The
 * handle stays owned by the caller in every case. */
LUMINAL_API luminal_status luminal_task_join(luminal_task *t, uint64_t timeout_ns, void **output);

/* Awaits the task from inside a poll: LUMINAL_OK (output handed over as in join), LUMINAL_E_CANCELLED,
 * LUMINAL_E_ALREADY_TAKEN, or LUMINAL_PENDING after registering cx's waker (the latest registration wins).
 * LUMINAL_E_INVALID_ARGUMENT if t or cx is NULL, LUMINAL_E_INVALID_HANDLE if t or cx is stale or forged. */
LUMINAL_API luminal_status luminal_task_poll(luminal_task *t, luminal_context *cx, void **output);

/* Requests cancellation: the future is dropped at its next scheduling point (at once if it is idle, right after
 * the current poll if it is running) and joiners get LUMINAL_E_CANCELLED. No effect on a finished task. */
LUMINAL_API void luminal_task_abort(luminal_task *t);

/* 1 if the task has finished (completed, aborted or dropped by shutdown), 0 if not or for a bad handle. */
LUMINAL_API int luminal_task_is_finished(const luminal_task *t);

/* Releases the join handle; the task runs on, detached. An output nobody took is freed with drop_output. */
LUMINAL_API void luminal_task_release(luminal_task *t);

/* ---------------------------------------------------------------------------------------------------------------
 * Time
 *
 * Timers live in a hierarchical timing wheel per runtime (250 us ticks), fired by the workers (on a current-thread
 * runtime by its driving thread, see luminal_runtime_next_deadline_ns): an idle runtime parks
 * one worker until the next deadline and never polls the clock in a loop. A timer fires on the first tick at or
 * after its deadline, so it never fires early; insertion at the first poll and removal on drop are O(1).
 * The futures below are ordinary luminal_future values: spawn them, or poll them from your own poll function with
 * your context (`f.poll(f.state, cx, &out)`), and drop them exactly once with `f.drop(f.state)` if you never spawn
 * them. Polling or dropping one after its drop is detected and harmless.
 *
 * The rule for every future the runtime makes (sleep, timeout, IO operations): one that cannot do its work never
 * pends forever, it completes (READY) at once and says why. That is: polled with a NULL, stale or forged context,
 * its runtime shut down or inherited across fork, or an internal failure. An IO future writes the reason into its
 * `result->status` (LUMINAL_E_INVALID_ARGUMENT for a NULL cx, LUMINAL_E_INVALID_HANDLE for a stale or forged one,
 * LUMINAL_E_FORKED, LUMINAL_E_INTERNAL; an operation cut short by shutdown is LUMINAL_E_CANCELLED) and its output
 * is `result` as always. A sleep or timeout, which has no result struct, completes with the output
 * LUMINAL_FAILED_OUTPUT (a timeout drops its inner future first). Polled after its drop, any of them completes with
 * output NULL and touches nothing.
 * ------------------------------------------------------------------------------------------------------------- */

/* The monotonic clock the timers use, in nanoseconds since an arbitrary start. Never fails. */
LUMINAL_API uint64_t luminal_now_ns(void);

/* Makes a future that completes (output NULL) once `duration_ns` has passed from now on the runtime's clock
 * (luminal_runtime_now_ns: the monotonic clock unless the runtime's clock is paused). *out receives it; the
 * caller owns it (spawn it or drop it). LUMINAL_E_INVALID_ARGUMENT (NULL rt or out), LUMINAL_E_INVALID_HANDLE,
 * LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_sleep(luminal_runtime *rt, uint64_t duration_ns, luminal_future *out);

/* Like luminal_sleep, until the absolute deadline `deadline_ns` on the runtime's clock (a past deadline
 * completes at the first poll). */
LUMINAL_API luminal_status luminal_sleep_until(luminal_runtime *rt, uint64_t deadline_ns, luminal_future *out);

/* The output of a luminal_timeout future whose time ran out. drop_output is never called with it. */
#define LUMINAL_TIMED_OUT_OUTPUT ((void *)~(uintptr_t)4)

/* The output of a sleep or timeout that could not work (see the rule above). drop_output is never called with it. */
#define LUMINAL_FAILED_OUTPUT ((void *)~(uintptr_t)8)

/* Wraps `inner` (taken, also on failure) in a future that completes with inner's output if inner completes within
 * `timeout_ns`, else drops inner at the deadline and completes with LUMINAL_TIMED_OUT_OUTPUT. The inner future is
 * polled first, so an inner that is ready at once wins even with a zero timeout. The wrapper's drop_output is
 * inner's. Same status codes as luminal_sleep. */
LUMINAL_API luminal_status luminal_timeout(luminal_runtime *rt, luminal_future inner, uint64_t timeout_ns,
                                           luminal_future *out);

/* ---------------------------------------------------------------------------------------------------------------
 * Scopes: the plugin-unload guarantee
 *
 * A scope groups tasks so they can be cancelled as one. Spawn a plugin's tasks into its scope (tasks spawned with
 * luminal_context_spawn from a scoped task join the same scope). Before unloading the plugin, close the scope:
 * when luminal_scope_close returns LUMINAL_OK, every future of the scope has been dropped, every output it
 * produced has been taken or freed, and no poll, drop or drop_output call into the scope's code is running or
 * can start — so the plugin's code can be unloaded. Wakers of its tasks stay valid to call (they do nothing).
 * luminal_plugin_open / luminal_plugin_close (Plugins, below) do all of this for a plugin: a scope per plugin,
 * closed and drained before the plugin's fini runs and its library is unloaded.
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_scope luminal_scope; /* a scope handle, owned by one holder */

/* Creates an open scope on `rt`; *out receives an owned handle (release it with luminal_scope_release).
 * LUMINAL_E_INVALID_ARGUMENT, LUMINAL_E_INVALID_HANDLE, LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_scope_new(luminal_runtime *rt, luminal_scope **out);

/* Closes the scope: refuses new spawns into it (they fail with LUMINAL_E_SHUTDOWN), aborts all its tasks (each
 * future is dropped at its next scheduling point: at once if idle, after the current poll if running), frees the
 * outputs nobody took (a later join gets LUMINAL_E_CANCELLED), then waits up to `timeout_ns` (0 = don't wait,
 * UINT64_MAX = forever) until the guarantee above holds. LUMINAL_OK, or LUMINAL_E_TIMED_OUT (a poll is still
 * running; call again later), LUMINAL_E_WOULD_DEADLOCK on one of the runtime's workers (or inside a poll of its
 * current-thread runtime) with a non-zero timeout (the scope is still closed and its tasks aborted; only the wait
 * is skipped: call again from another thread).
 * Tasks are aborted one after another: one that was woken (say, by a child that was cancelled first) may still
 * run to completion before its own abort takes effect; it then counts as completed, not cancelled. */
LUMINAL_API luminal_status luminal_scope_close(luminal_scope *scope, uint64_t timeout_ns);

/* Releases the handle. An open scope's tasks run on; closed or not, the scope is freed when its last task is.
 * A plugin's scope (luminal_plugin_host.scope, luminal_plugin_scope) is ignored: luminal_plugin_close releases it. */
LUMINAL_API void luminal_scope_release(luminal_scope *scope);

typedef struct luminal_scope_counters {
  size_t struct_size; /* set by the caller to sizeof(luminal_scope_counters); only that much is written */
  uint64_t live;      /* tasks that may still call the scope's code (future or unclaimed output alive) */
  uint64_t spawned;   /* tasks ever spawned into the scope */
  uint64_t completed; /* tasks whose future returned READY */
  uint64_t cancelled; /* tasks dropped before completing (abort, scope close, shutdown) */
  /* CPU use, to rank plugins: polls of the scope's tasks and the time spent in them (spawn_fn and blocking
   * calls included), measured with the monotonic clock around each call. */
  uint64_t polls;
  uint64_t poll_ns;
} luminal_scope_counters;

/* Fills *stats (up to stats->struct_size bytes). LUMINAL_E_INVALID_ARGUMENT, LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_scope_stats(luminal_scope *scope, luminal_scope_counters *stats);

/* ---------------------------------------------------------------------------------------------------------------
 * Sync: channels, notify, semaphores
 *
 * Runtime-owned building blocks behind the same token handles as everything else, so a host and its plugins (or C,
 * C++ and Rust code in one process) can share them: a plugin may be handed a luminal_sender* and send on it.
 * Rules for all of them:
 *  - Handles (luminal_sender*, luminal_receiver*, luminal_notify*, luminal_semaphore*) are tokens as in the general
 *    rules: a NULL handle gives LUMINAL_E_INVALID_ARGUMENT; a released, forged or wrong-type one (a sender where a
 *    semaphore is expected) LUMINAL_E_INVALID_HANDLE; one made on a runtime inherited across fork LUMINAL_E_FORKED.
 *    Each is created on a runtime (for fork detection; creating on a shut-down runtime gives LUMINAL_E_SHUTDOWN)
 *    but works afterwards without it: its futures may be awaited by tasks of any runtime, or by luminal_block_on.
 *  - A function that makes a future fails only for bad arguments or handles (NULL out pointers ->
 *    LUMINAL_E_INVALID_ARGUMENT, bad handles -> LUMINAL_E_INVALID_HANDLE, LUMINAL_E_FORKED); on failure *out is
 *    zeroed. Conditions (closed, empty) arrive through `*result` when the future completes. The futures' own output
 *    is NULL: results come only through the out-parameters (`result`, `msg`), which are BORROWED by the future
 *    until it completes or is dropped, and written only at completion.
 *  - Every function that takes a message takes it also when it fails (it is dropped with the channel's
 *    drop_message), except that a NULL, released or forged sender has no channel and so no drop_message: then the
 *    message stays the caller's. luminal_channel_try_send takes the message only when it returns LUMINAL_OK.
 *  - A future made here counts as a handle of its kind until it completes or is dropped: a pending send keeps the
 *    channel open for the receiver (as a sender would), a pending recv keeps it open for senders.
 *  - Every waiter list is woken in order of arrival; a wake is a plain wake of the waiting task, which keeps its
 *    priority. The runtime-provided-future rule (see Time) holds: polled with a NULL, stale or forged context or
 *    after fork, a future completes at once with the reason in *result (notify_wait: output
 *    LUMINAL_FAILED_OUTPUT), giving up what it held as a drop would. Polled after its drop, it completes with
 *    output NULL and touches nothing; a second drop is detected and harmless.
 *  - Cancellation safety: dropping a pending recv loses no message; dropping a send before it completed never
 *    delivers its message and drops it with drop_message exactly once; dropping an acquire returns any permits
 *    granted to it; dropping a notify_wait woken by notify_one passes the notification on.
 *  - No allocation per message or operation once warm: waiter records are pooled; a channel's queue is a ring in
 *    native memory that doubles while it fills (up to the capacity; an unbounded channel without limit). Channels,
 *    oneshots, notifies and semaphores themselves come from pools too: making and releasing them allocates nothing
 *    once warm.
 *  - A handle must not be released while another thread still uses it; if it is, the other call answers
 *    LUMINAL_E_INVALID_HANDLE or acts as it would have before the release, never on another object.
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_sender luminal_sender;       /* one sending handle of a channel (clone for more senders) */
typedef struct luminal_receiver luminal_receiver;   /* the one receiving handle of a channel */
typedef struct luminal_notify luminal_notify;       /* a notify (one stored permit, as tokio's Notify) */
typedef struct luminal_semaphore luminal_semaphore; /* a fair counting semaphore */

typedef struct luminal_channel_options {
  size_t struct_size;           /* set to sizeof(luminal_channel_options); fields past it take their defaults */
  size_t capacity;              /* messages queued at most; 0 = unbounded */
  luminal_drop_fn drop_message; /* called exactly once for every message never received (queued when the receiver
                                   goes, or refused by a send future); may be NULL; any thread, outside locks */
} luminal_channel_options;

/* Creates a multi-producer, single-consumer channel of `void*` messages (NULL is a valid message). `opts` is
 * borrowed (NULL = unbounded, no drop_message). On LUMINAL_OK, *tx and *rx are owned handles (release them with
 * luminal_sender_release / luminal_receiver_release). LUMINAL_E_INVALID_ARGUMENT (rt, tx or rx NULL,
 * opts->struct_size too small to hold struct_size itself), LUMINAL_E_INVALID_HANDLE, LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_channel_new(luminal_runtime *rt, const luminal_channel_options *opts,
                                               luminal_sender **tx, luminal_receiver **rx);

/* Returns another owned sender of the same channel, or NULL if tx is NULL, released, forged or not a sender. */
LUMINAL_API luminal_sender *luminal_sender_clone(luminal_sender *tx);

/* Releases a sender. When the last sender (and the last pending send future) is gone, the receiver gets the queued
 * messages, then LUMINAL_E_CLOSED. NULL, stale or double releases are ignored. */
LUMINAL_API void luminal_sender_release(luminal_sender *tx);

/* Releases the receiver: the channel is closed for sending (once its pending recv futures are gone too); queued
 * messages are dropped with drop_message (on this thread); waiting send futures complete with LUMINAL_E_CLOSED and
 * drop their messages. NULL, stale or double releases are ignored. */
LUMINAL_API void luminal_receiver_release(luminal_receiver *rx);

/* Makes a future that queues `msg` (taken, see the rules above) and completes when it is queued: *result =
 * LUMINAL_OK, or LUMINAL_E_CLOSED if the receiver is gone (msg is dropped with drop_message). On a full bounded
 * channel it waits; waiting sends are served in FIFO order (a later send or try_send never overtakes them).
 * `result` is borrowed until completion. Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (tx, result or out NULL),
 * LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_channel_send(luminal_sender *tx, void *msg, luminal_status *result,
                                                luminal_future *out);

/* Queues `msg` now if there is room: LUMINAL_OK (msg is taken), LUMINAL_E_FULL (no room, or sends are waiting: msg
 * stays the caller's), LUMINAL_E_CLOSED (the receiver is gone: msg stays the caller's),
 * LUMINAL_E_INVALID_ARGUMENT (tx NULL), LUMINAL_E_INVALID_HANDLE. Never blocks. */
LUMINAL_API luminal_status luminal_channel_try_send(luminal_sender *tx, void *msg);

/* Makes a future that receives the oldest message: *result = LUMINAL_OK with *msg (now the caller's), or
 * LUMINAL_E_CLOSED (*msg = NULL) once every sender is released and the queue is empty. `msg` and `result` are
 * borrowed until completion. Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rx, msg, result or out NULL),
 * LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_channel_recv(luminal_receiver *rx, void **msg, luminal_status *result,
                                                luminal_future *out);

/* Takes the oldest message now: LUMINAL_OK (*msg is the caller's), LUMINAL_E_EMPTY (nothing queued, senders
 * remain), LUMINAL_E_CLOSED (nothing queued and no sender left); *msg = NULL unless OK.
 * LUMINAL_E_INVALID_ARGUMENT (rx or msg NULL), LUMINAL_E_INVALID_HANDLE. Never blocks. */
LUMINAL_API luminal_status luminal_channel_try_recv(luminal_receiver *rx, void **msg);

/* A oneshot: one value from one sender to one receiver. A channel of capacity 1 would do, but costs ~10x more per
 * use (a lock, a queue, a send and a release call); a oneshot is one lock-free cell with a state word, its send
 * releases the sender, and nothing is allocated per oneshot once warm. The sync rules above hold (handles, futures,
 * borrowed out-parameters, fork), with these differences: luminal_oneshot_send takes the message only when it
 * returns LUMINAL_OK (as luminal_channel_try_send); drop_message runs only for a value sent and never received
 * (the receiver and its recv future released first). */
typedef struct luminal_oneshot_sender luminal_oneshot_sender;     /* the sending handle: sends once */
typedef struct luminal_oneshot_receiver luminal_oneshot_receiver; /* the receiving handle */

/* Creates a oneshot; `drop_message` (may be NULL) is called exactly once for a value sent and never received, on the
 * thread that releases the receiver side last, outside every lock. On LUMINAL_OK, *tx and *rx are owned handles
 * (*tx is released by luminal_oneshot_send or luminal_oneshot_sender_release; *rx by
 * luminal_oneshot_receiver_release). LUMINAL_E_INVALID_ARGUMENT (rt, tx or rx NULL), LUMINAL_E_INVALID_HANDLE,
 * LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_oneshot_new(luminal_runtime *rt, luminal_drop_fn drop_message,
                                               luminal_oneshot_sender **tx, luminal_oneshot_receiver **rx);

/* Sends `msg` and releases tx (whatever the result, for a valid tx): LUMINAL_OK (msg is taken; a pending recv is
 * woken), LUMINAL_E_CLOSED (the receiver and its recv future are gone: msg stays the caller's),
 * LUMINAL_E_INVALID_ARGUMENT (tx NULL), LUMINAL_E_INVALID_HANDLE (released or already sent: msg stays the caller's).
 * Never blocks. */
LUMINAL_API luminal_status luminal_oneshot_send(luminal_oneshot_sender *tx, void *msg);

/* Releases a sender that did not send: the receiver gets LUMINAL_E_CLOSED. NULL, stale or double releases (also
 * after luminal_oneshot_send) are ignored. */
LUMINAL_API void luminal_oneshot_sender_release(luminal_oneshot_sender *tx);

/* Makes a future that receives the value: *result = LUMINAL_OK with *msg (now the caller's), or LUMINAL_E_CLOSED
 * (*msg = NULL) if the sender was released without sending or the value was received already. While pending it
 * keeps the receiver side open (as the handle does). `msg` and `result` are borrowed until completion. At most one
 * recv future of a oneshot exists at a time. Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rx, msg, result or out
 * NULL), LUMINAL_E_INVALID_HANDLE, LUMINAL_E_ALREADY_TAKEN (another recv future of this oneshot is not dropped yet). */
LUMINAL_API luminal_status luminal_oneshot_recv(luminal_oneshot_receiver *rx, void **msg, luminal_status *result,
                                                luminal_future *out);

/* Takes the value now: LUMINAL_OK (*msg is the caller's), LUMINAL_E_EMPTY (not sent yet), LUMINAL_E_CLOSED (the
 * sender was released without sending, or the value was received already); *msg = NULL unless OK.
 * LUMINAL_E_INVALID_ARGUMENT (rx or msg NULL), LUMINAL_E_INVALID_HANDLE. Never blocks. */
LUMINAL_API luminal_status luminal_oneshot_try_recv(luminal_oneshot_receiver *rx, void **msg);

/* Releases the receiver. If no recv future is pending, the receiver side is gone: a later send answers
 * LUMINAL_E_CLOSED, and a value sent and never received is dropped with drop_message (on this thread). NULL, stale or
 * double releases are ignored. */
LUMINAL_API void luminal_oneshot_receiver_release(luminal_oneshot_receiver *rx);

/* Creates a notify; *out is an owned handle (release it with luminal_notify_release).
 * LUMINAL_E_INVALID_ARGUMENT (rt or out NULL), LUMINAL_E_INVALID_HANDLE, LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_notify_new(luminal_runtime *rt, luminal_notify **out);

/* Wakes the oldest waiting notify_wait future; with none waiting, stores one permit (at most one: repeated calls
 * store one) that the next wait consumes at once. LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT, LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_notify_one(luminal_notify *n);

/* Wakes every notify_wait future that exists now (also those made but not polled yet); stores no permit.
 * LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT, LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_notify_all(luminal_notify *n);

/* Makes a future that completes (output NULL) when notified, or at once if a permit is stored (consuming it).
 * Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (n or out NULL), LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_notify_wait(luminal_notify *n, luminal_future *out);

/* Releases the notify; wait futures still pending are woken (they complete: nobody could notify them any more).
 * NULL, stale or double releases are ignored. */
LUMINAL_API void luminal_notify_release(luminal_notify *n);

/* Creates a semaphore with `permits` free permits; *out is an owned handle (luminal_semaphore_release).
 * LUMINAL_E_INVALID_ARGUMENT (rt or out NULL), LUMINAL_E_INVALID_HANDLE, LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_semaphore_new(luminal_runtime *rt, uint64_t permits, luminal_semaphore **out);

/* Makes a future that takes `n` permits at once: *result = LUMINAL_OK (the caller now holds them; give them back
 * with luminal_semaphore_add_permits) or LUMINAL_E_CLOSED. Strict FIFO: a request waits behind every earlier one,
 * so a later request for 1 waits behind an earlier request for 2 even while 1 permit is free (n = 0 too).
 * Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (s, result or out NULL), LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_semaphore_acquire(luminal_semaphore *s, uint32_t n, luminal_status *result,
                                                     luminal_future *out);

/* Takes `n` permits now: LUMINAL_OK, LUMINAL_E_EMPTY (too few free, or requests are waiting), LUMINAL_E_CLOSED,
 * LUMINAL_E_INVALID_ARGUMENT (s NULL), LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_semaphore_try_acquire(luminal_semaphore *s, uint32_t n);

/* Adds `n` permits (C has no permit objects: this is how acquired permits go back) and serves the waiting requests
 * they satisfy, oldest first. Ignored after close (LUMINAL_OK). LUMINAL_E_INVALID_ARGUMENT also if the count would
 * pass UINT64_MAX (nothing is added); LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_semaphore_add_permits(luminal_semaphore *s, uint32_t n);

/* Closes the semaphore: waiting and later acquires complete with LUMINAL_E_CLOSED, try_acquire answers it.
 * Requests already granted keep their permits. LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT, LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_semaphore_close(luminal_semaphore *s);

/* Releases the handle; the semaphore is closed first (pending acquires get LUMINAL_E_CLOSED). NULL, stale or
 * double releases are ignored. */
LUMINAL_API void luminal_semaphore_release(luminal_semaphore *s);


/* ---------------------------------------------------------------------------------------------------------------
 * Priorities and the blocking pool
 *
 * Every task has a priority. At every scheduling point a worker runs the most urgent runnable task it can find —
 * its own queues, the global queues, then stealing, which also prefers urgent work; within one level the order
 * stays FIFO-fair (a yielding task goes behind the others of its level). A running poll is never interrupted, so
 * an urgent task waits at most for the polls in progress to return. Starvation: strict priority would let a flood
 * of urgent work starve background tasks forever, so on every 257th scheduling tick a worker serves the least
 * urgent non-empty level first; a background task therefore still runs under any load, just rarely.
 * A task spawned with luminal_context_spawn inherits the spawning task's priority (and scope); a woken task keeps
 * its priority; tasks spawned from outside a task default to USER_INITIATED.
 * ------------------------------------------------------------------------------------------------------------- */

typedef enum luminal_priority {
  LUMINAL_PRIORITY_INHERIT = 0,          /* spawn options: the spawning task's priority (USER_INITIATED outside) */
  LUMINAL_PRIORITY_USER_INTERACTIVE = 1, /* the user is waiting on it right now (input, animation, audio) */
  LUMINAL_PRIORITY_USER_INITIATED = 2,   /* the user asked for it and waits for the result: the default */
  LUMINAL_PRIORITY_UTILITY = 3,          /* long-running work the user knows about (progress bars) */
  LUMINAL_PRIORITY_BACKGROUND = 4        /* work the user does not see (indexing, prefetch, cache fills) */
} luminal_priority;

/* Options for spawning. Zero-initialise, then set struct_size = sizeof(luminal_spawn_options). */
typedef struct luminal_spawn_options {
  size_t struct_size;   /* fields past it take their defaults */
  luminal_scope *scope; /* borrowed; NULL = no scope (or, from a task, its scope). Same runtime, else INVALID_ARGUMENT */
  luminal_priority priority; /* 0 = LUMINAL_PRIORITY_INHERIT; values outside the enum give INVALID_ARGUMENT */
} luminal_spawn_options;

/* luminal_spawn with options (`opts` borrowed, NULL = defaults). Takes `fut` also on failure. Returns what
 * luminal_spawn returns, and: LUMINAL_E_SHUTDOWN if the scope is closed, LUMINAL_E_INVALID_HANDLE if the scope
 * handle is released or forged, LUMINAL_E_INVALID_ARGUMENT for another runtime's scope, a struct_size too small to
 * hold struct_size itself, or an unknown priority. */
LUMINAL_API luminal_status luminal_spawn_with(luminal_runtime *rt, luminal_future fut,
                                              const luminal_spawn_options *opts, luminal_task **out);

/* luminal_context_spawn with options: unset fields inherit from the task being polled (scope, priority). Returns
 * what luminal_context_spawn and luminal_spawn_with return. */
LUMINAL_API luminal_status luminal_context_spawn_with(luminal_context *cx, luminal_future fut,
                                                      const luminal_spawn_options *opts, luminal_task **out);

/* Spawning with the state inside the task: luminal_spawn_with, except that the future's state is not a pointer the
 * caller allocated but `size` bytes at `state` that the runtime moves, by memcpy, into storage the task owns (no
 * allocation per task for states up to LUMINAL_SPAWN_INLINE_SMALL bytes once the runtime is warm: the storage
 * comes with the task's slot; a larger state gets a native block of its own, allocated at the spawn and freed with
 * the slot). Meant for bindings whose future is a value (a Rust future before its first poll, a C++ callable):
 * one task, no allocation of the caller's own.
 *  - The bytes must be trivially relocatable: valid after a plain memcpy to another address (no pointer into
 *    themselves). Every Rust value is, until it is pinned (a future is pinned by its first poll, after the move).
 *  - On LUMINAL_OK the bytes at `state` are moved-from: the caller must not drop or use them again (it may reuse
 *    the memory). From then on poll(copy, cx, output), drop(copy) and the task's output follow luminal_future's
 *    contract, where `copy` is the runtime's copy: aligned to `align`, at a fixed address from the spawn until the
 *    task's slot is recycled. That storage outlives drop(copy): it lasts until the task's output has been disposed
 *    of (handed to a join, dropped by drop_output) and its join handle released (or, detached, until it finished).
 *    A poll may therefore return a pointer into its own state as the output (to avoid another allocation); then
 *    drop(copy) must leave the output alone, and whoever joins must take what the output points to before it
 *    releases the join handle.
 *  - Takes the state also on failure: every failing call calls drop(state) on the caller's bytes, in place, once,
 *    before it returns (not when `state` is NULL or `drop` is NULL). drop is called exactly once in every case:
 *    after the READY poll, on abort, scope close, shutdown, or at once when the spawn fails.
 *  - `align`: a power of two, at most LUMINAL_SPAWN_INLINE_MAX_ALIGN (64); `size`: 1 to LUMINAL_SPAWN_INLINE_MAX_SIZE
 *    (1 MiB). Outside those, or with `state` or `poll` NULL: LUMINAL_E_INVALID_ARGUMENT (keep such a state behind a
 *    pointer and use luminal_spawn_with).
 * Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rt, state or poll NULL, size or align out of range, or options as
 * for luminal_spawn_with), LUMINAL_E_INVALID_HANDLE (rt released or forged, a released or forged scope),
 * LUMINAL_E_SHUTDOWN (the runtime is shut down, or the scope closed). `opts` borrowed, NULL = defaults; `out` as
 * for luminal_spawn. */
#define LUMINAL_SPAWN_INLINE_SMALL 256
#define LUMINAL_SPAWN_INLINE_MAX_ALIGN 64
#define LUMINAL_SPAWN_INLINE_MAX_SIZE ((size_t)1 << 20)
LUMINAL_API luminal_status luminal_spawn_inline(luminal_runtime *rt, void *state, size_t size, size_t align,
                                                luminal_poll_fn poll, luminal_drop_fn drop,
                                                luminal_drop_fn drop_output, const luminal_spawn_options *opts,
                                                luminal_task **out);

/* luminal_spawn_inline from inside a poll, placed and inheriting as luminal_context_spawn_with does. Returns what
 * luminal_spawn_inline and luminal_context_spawn_with return (LUMINAL_E_INVALID_ARGUMENT also for a NULL cx,
 * LUMINAL_E_INVALID_HANDLE for a stale or forged cx). */
LUMINAL_API luminal_status luminal_context_spawn_inline(luminal_context *cx, void *state, size_t size, size_t align,
                                                        luminal_poll_fn poll, luminal_drop_fn drop,
                                                        luminal_drop_fn drop_output,
                                                        const luminal_spawn_options *opts, luminal_task **out);

/* Runs fn(arg) on the runtime's blocking pool, never on a worker: for calls that block (file systems, DNS,
 * legacy APIs). The pool starts a thread when work arrives and none is idle, up to max_blocking_threads; beyond
 * that, work waits in a queue (most urgent priority first). The task is joined like any other; its output is
 * fn's return value (not freed if nobody joins). An abort before it starts cancels it; a running call always
 * runs to its end. Shutdown cancels queued calls and waits for running ones (within its timeout). */
LUMINAL_API luminal_status luminal_spawn_blocking(luminal_runtime *rt, void *(*fn)(void *arg), void *arg,
                                                  luminal_task **out);

/* luminal_spawn_blocking with a drop function for `arg` (may be NULL) and options (`opts` borrowed, NULL =
 * defaults; the priority orders the pool's queue, a scope makes scope close wait for the call).
 * drop_arg(arg) is called exactly once: after fn returned, or when the call is cancelled before it started
 * (abort, scope close, shutdown), or at once when the spawn fails. */
LUMINAL_API luminal_status luminal_spawn_blocking_with(luminal_runtime *rt, void *(*fn)(void *arg), void *arg,
                                                       void (*drop_arg)(void *arg), const luminal_spawn_options *opts,
                                                       luminal_task **out);

/* ---------------------------------------------------------------------------------------------------------------
 * Task sets, join-all, select, scope drain
 *
 * The Sync rules above hold here too: handles (luminal_task_set*) are tokens (NULL -> LUMINAL_E_INVALID_ARGUMENT;
 * released, forged or wrong-type -> LUMINAL_E_INVALID_HANDLE; on a runtime inherited across fork LUMINAL_E_FORKED);
 * a function that makes a future fails only for bad arguments or handles and zeroes *out on failure; the futures'
 * own output is NULL (results come only through the out-parameters, borrowed until the future completes or is
 * dropped, written only at completion); the runtime-provided-future rule holds (a join_next polled with a bad
 * context completes at once with the reason in *result; join_all, select and scope_drain, which have no result,
 * complete at once with the output LUMINAL_FAILED_OUTPUT after dropping what they hold); polled after its drop a
 * future completes with output NULL and touches nothing, and a second drop is harmless.
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_task_set luminal_task_set; /* a set of tasks joined in finishing order (tokio's JoinSet) */

/* Creates an empty task set on `rt`; *out is an owned handle (release it with luminal_task_set_release).
 * LUMINAL_E_INVALID_ARGUMENT (rt or out NULL), LUMINAL_E_INVALID_HANDLE, LUMINAL_E_SHUTDOWN. */
LUMINAL_API luminal_status luminal_task_set_new(luminal_runtime *rt, luminal_task_set **out);

/* Spawns `fut` onto the set's runtime as a member of the set. Takes `fut`, also on failure (dropped at once).
 * `opts` is borrowed for the call (NULL = defaults; as for luminal_spawn_with). The set holds the task's join
 * handle. Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (set NULL, fut.poll NULL, a bad option),
 * LUMINAL_E_INVALID_HANDLE (set or opts->scope bad, or the set released during the call), LUMINAL_E_SHUTDOWN (the
 * runtime is shut down or the scope closed). */
LUMINAL_API luminal_status luminal_task_set_spawn(luminal_task_set *set, luminal_future fut,
                                                  const luminal_spawn_options *opts);

/* Makes a future that takes the next member to finish, in finishing order: *result = the task's join status
 * (LUMINAL_OK with *output, now the caller's; LUMINAL_E_CANCELLED if it was aborted or dropped by shutdown, *output
 * NULL), LUMINAL_E_EMPTY (*output NULL) when the set has no member left, or LUMINAL_E_CLOSED if the set is released
 * while the future waits. Several join_next futures may wait; each member goes to exactly one. A join_next dropped
 * before it completed takes nothing: the member stays in the set. `output` and `result` are borrowed until
 * completion. Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (set, output, result or out NULL),
 * LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_task_set_join_next(luminal_task_set *set, void **output, luminal_status *result,
                                                      luminal_future *out);

/* The number of members spawned and not yet returned by a join_next (finished or not), or 0 for a bad handle. */
LUMINAL_API size_t luminal_task_set_len(const luminal_task_set *set);

/* Aborts every member still running (as luminal_task_abort); they stay members, and join_next returns them as they
 * finish (LUMINAL_E_CANCELLED, or LUMINAL_OK for one that completed before its abort took effect).
 * LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT, LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_task_set_abort_all(luminal_task_set *set);

/* Releases the set: aborts what is left; outputs never joined are freed with their future's drop_output (exactly
 * once, when each task finishes); waiting join_next futures complete with LUMINAL_E_CLOSED. NULL, stale or double
 * releases are ignored. */
LUMINAL_API void luminal_task_set_release(luminal_task_set *set);

/* Makes a future that polls the `n` children `futs` inside the one task that polls it, with that poll's context (a
 * wake of any child wakes the task; every poll polls each unfinished child again, in index order), and completes
 * when all have: then outputs[i] receives child i's output (the caller owns them). The `futs` array is copied at the
 * call (the caller may free it); the children are taken, also on failure, and each is dropped exactly once (right
 * after its READY poll, or with the future). Dropped before it completed, the future drops the outputs it
 * collected with their drop_output. n = 0 completes at once. `outputs` (n entries) is borrowed until completion.
 * `rt` is borrowed (fork detection). Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rt or out NULL; futs or
 * outputs NULL with n > 0; a child's poll NULL), LUMINAL_E_INVALID_HANDLE (rt bad). */
LUMINAL_API luminal_status luminal_join_all(luminal_runtime *rt, luminal_future *futs, size_t n, void **outputs,
                                            luminal_future *out);

/* Makes a future that polls its `n` children as join_all does and completes with the first to finish: *winner =
 * its index (the lowest index when several are ready in one poll), *output = its output (the caller's). The losers
 * are dropped with `drop` at once and never polled again; the winner is dropped after its READY poll. On the failure
 * rule above *winner = SIZE_MAX. The array is copied, the children taken also on failure (each dropped exactly
 * once). `winner` and `output` are borrowed until completion. Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rt,
 * winner, output or out NULL; n = 0; futs NULL; a child's poll NULL), LUMINAL_E_INVALID_HANDLE (rt bad). */
LUMINAL_API luminal_status luminal_select(luminal_runtime *rt, luminal_future *futs, size_t n, size_t *winner,
                                          void **output, luminal_future *out);

/* Makes a future that completes (output NULL) when every task spawned into the scope (also by its tasks) has
 * finished running, without cancelling anything; outputs not yet joined do not hold it; the scope stays open (a
 * task spawned before it completes is waited for too). Completes with LUMINAL_FAILED_OUTPUT if the scope handle is
 * released before that. Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (scope or out NULL),
 * LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_scope_drain(luminal_scope *scope, luminal_future *out);

/* ---------------------------------------------------------------------------------------------------------------
 * IO with personalities
 *
 * The caller states intent by choosing a function; each one calls the operating system's preferred API directly
 * (io_uring on Linux: a ring per worker thread and one shared by other threads) or, when io_uring is unavailable or
 * not wanted, plain system calls on the blocking pool.
 *  - Mapped file (luminal_file_map): the whole regular file mmap'ed read-only: zero copies.
 *  - Caller's buffer (luminal_file_read_at / write_at): you own the memory, the kernel fills or drains it.
 *  - Runtime-owned buffer (luminal_file_read_all): the runtime sizes and allocates it; you release it.
 *  - Streams (TCP and pipes: luminal_stream_read / write): data as it arrives, no offsets.
 * Files and sockets are plain POSIX file descriptors (int). IO is supported on Linux; elsewhere the functions
 * return LUMINAL_E_UNSUPPORTED.
 *
 * Every function below that makes a future returns LUMINAL_OK (*out holds the future; spawn it or drop it),
 * LUMINAL_E_INVALID_ARGUMENT (NULL rt, result, out or a required pointer argument, a NULL buffer with a non-zero
 * length, an offset beyond INT64_MAX), LUMINAL_E_INVALID_HANDLE (rt released or forged), LUMINAL_E_SHUTDOWN (the
 * runtime is shut down) or LUMINAL_E_UNSUPPORTED (not Linux); on any failure *out is zeroed and nothing is
 * allocated. What the operating system says arrives later, in `result`.
 *
 * Every operation is a future whose output is the `result` pointer you passed, filled in when it completes:
 * status LUMINAL_OK and `value` (bytes transferred, a new fd, ...), or LUMINAL_E_IO with the errno in os_error
 * (ENOENT for a missing file, EACCES for a permission denial, EPIPE / ECONNRESET for a closed peer; a read at end of
 * file or from a peer that closed its side completes with value 0), or LUMINAL_E_CANCELLED.
 * `result` and every buffer are BORROWED by the future until it completes or is dropped. Dropping a future whose
 * operation is in flight cancels it in the kernel and WAITS for the kernel to let go of the buffer before drop
 * returns (the classic io_uring lifetime bug is a buffer freed while the kernel still writes into it: not here).
 * The task's priority travels into the request (io_uring's ioprio for file reads and writes; queue order on the
 * blocking pool).
 * ------------------------------------------------------------------------------------------------------------- */


/* The backend `rt` uses or will use (LUMINAL_IO_URING or LUMINAL_IO_POOL), or LUMINAL_IO_AUTO (0) for a bad
 * handle. A pure query: it starts nothing (the backend starts at the first IO operation). With AUTO, the
 * environment variable LUMINAL_IO_BACKEND=uring|pool (read at runtime creation) forces one. */
LUMINAL_API luminal_io_backend luminal_runtime_io_backend(luminal_runtime *rt);

typedef struct luminal_io_result {
  luminal_status status; /* LUMINAL_OK, LUMINAL_E_IO, LUMINAL_E_CANCELLED (or a reason: see "runtime-provided futures") */
  int32_t os_error; /* the errno when status is LUMINAL_E_IO, else 0 */
  uint64_t value;   /* bytes transferred, or the new file descriptor */
} luminal_io_result;

/* open(2): `path` is copied; flags/mode as for open(2) (O_CLOEXEC is added). value = the new fd. */
LUMINAL_API luminal_status luminal_file_open(luminal_runtime *rt, const char *path, int32_t flags, uint32_t mode,
                                             luminal_io_result *result, luminal_future *out);
/* close(2). */
LUMINAL_API luminal_status luminal_file_close(luminal_runtime *rt, int32_t fd, luminal_io_result *result,
                                              luminal_future *out);
/* fsync(2). */
LUMINAL_API luminal_status luminal_file_fsync(luminal_runtime *rt, int32_t fd, luminal_io_result *result,
                                              luminal_future *out);

typedef struct luminal_file_info {
  uint64_t size;     /* bytes */
  uint32_t mode;     /* st_mode: type and permission bits */
  uint32_t reserved;
  int64_t mtime_ns;  /* last modification, nanoseconds since the Unix epoch */
} luminal_file_info;

/* fstat(2) of an open fd into *info (borrowed until completion). */
LUMINAL_API luminal_status luminal_file_stat(luminal_runtime *rt, int32_t fd, luminal_file_info *info,
                                             luminal_io_result *result, luminal_future *out);

/* Reads up to `len` bytes at `offset` into the caller's `buf`. value = bytes read; fewer than asked (0 at end of
 * file) is a short read, not an error. For seekable files: a pipe or socket gives LUMINAL_E_IO with ESPIPE (use
 * luminal_stream_read). */
LUMINAL_API luminal_status luminal_file_read_at(luminal_runtime *rt, int32_t fd, void *buf, size_t len,
                                                uint64_t offset, luminal_io_result *result, luminal_future *out);
/* Writes up to `len` bytes from `buf` at `offset`. value = bytes written. */
LUMINAL_API luminal_status luminal_file_write_at(luminal_runtime *rt, int32_t fd, const void *buf, size_t len,
                                                 uint64_t offset, luminal_io_result *result, luminal_future *out);

/* A read-only view of a whole mapped file. */
typedef struct luminal_view {
  const uint8_t *data; /* NULL for an empty file */
  size_t len;
} luminal_view;

/* Maps the whole regular file at `path` read-only into *view (filled on completion; release it with
 * luminal_view_release). Zero copies; the fd is closed once mapped. value = the length. Anything but a regular
 * file gives LUMINAL_E_IO with EISDIR (a directory) or EINVAL (a FIFO, device, socket). */
LUMINAL_API luminal_status luminal_file_map(luminal_runtime *rt, const char *path, luminal_view *view,
                                            luminal_io_result *result, luminal_future *out);
/* Unmaps a view filled by luminal_file_map and zeroes it. A zeroed view is ignored. */
LUMINAL_API void luminal_view_release(luminal_view *view);

/* A buffer the runtime allocated. */
typedef struct luminal_buffer {
  uint8_t *data;
  size_t len;
} luminal_buffer;

/* Reads the whole regular file at `path` into a buffer the runtime allocates (*buffer, filled on completion;
 * release it with luminal_buffer_release). value = the length. Files whose size stat cannot tell (in /proc) are
 * read to their end; anything but a regular file gives LUMINAL_E_IO with EISDIR or EINVAL, as for the map. */
LUMINAL_API luminal_status luminal_file_read_all(luminal_runtime *rt, const char *path, luminal_buffer *buffer,
                                                 luminal_io_result *result, luminal_future *out);
/* Frees a buffer filled by luminal_file_read_all and zeroes it. A zeroed buffer is ignored. */
LUMINAL_API void luminal_buffer_release(luminal_buffer *buffer);

/* Streams. Creating sockets and pipes does not block, so these three are plain calls (not futures), with the same
 * error style as the futures: the status is returned and, if `result` is not NULL, also written to result->status
 * with the errno in result->os_error (LUMINAL_E_IO) and the value (the new fd for a listener). Each returns
 * LUMINAL_OK, LUMINAL_E_IO, LUMINAL_E_INVALID_ARGUMENT (as its comment says) or LUMINAL_E_UNSUPPORTED (not Linux).
 * Close fds with luminal_file_close or close(2). */
/* A TCP listener on `ip`, an IPv4 or IPv6 literal ("127.0.0.1", "0.0.0.0", "::1", "[::]"; IPv6 only, see
 * luminal_tcp_listen_addr for dual stack), and `port` (0 = any; *bound_port, if not NULL, receives the port).
 * *fd receives the listening fd (also result->value). INVALID_ARGUMENT: ip or fd NULL, ip not an IP literal. */
LUMINAL_API luminal_status luminal_tcp_listen(const char *ip, uint16_t port, int32_t backlog, int32_t *fd,
                                              uint16_t *bound_port, luminal_io_result *result);
/* Shuts down one or both directions of a socket: how = SHUT_RD (0), SHUT_WR (1), SHUT_RDWR (2); INVALID_ARGUMENT for
 * another `how`. */
LUMINAL_API luminal_status luminal_stream_shutdown(int32_t fd, int32_t how, luminal_io_result *result);
/* pipe2(O_CLOEXEC | O_NONBLOCK): fds[0] reads, fds[1] writes. INVALID_ARGUMENT: fds NULL. */
LUMINAL_API luminal_status luminal_pipe(int32_t fds[2], luminal_io_result *result);

/* Accepts a connection on a listener. value = the connected fd. */
LUMINAL_API luminal_status luminal_tcp_accept(luminal_runtime *rt, int32_t listener, luminal_io_result *result,
                                              luminal_future *out);
/* Connects to `ip`:`port`, `ip` an IPv4 or IPv6 literal ("127.0.0.1", "::1", "[::1]"; names: see
 * luminal_tcp_connect_host). value = the connected fd. INVALID_ARGUMENT: ip NULL or not an IP literal. */
LUMINAL_API luminal_status luminal_tcp_connect(luminal_runtime *rt, const char *ip, uint16_t port,
                                               luminal_io_result *result, luminal_future *out);
/* Reads what is available (up to `len`, at least 1 byte unless the peer closed: then value 0) from a socket or
 * pipe. */
LUMINAL_API luminal_status luminal_stream_read(luminal_runtime *rt, int32_t fd, void *buf, size_t len,
                                               luminal_io_result *result, luminal_future *out);
/* Writes up to `len` bytes to a socket or pipe; value = bytes written (may be fewer: write the rest again). A
 * closed peer gives LUMINAL_E_IO with EPIPE or ECONNRESET; on a socket never SIGPIPE (MSG_NOSIGNAL), while a pipe,
 * which has no such flag, follows the process's SIGPIPE disposition exactly like write(2) (ignore SIGPIPE). */
LUMINAL_API luminal_status luminal_stream_write(luminal_runtime *rt, int32_t fd, const void *buf, size_t len,
                                                luminal_io_result *result, luminal_future *out);

/* ---------------------------------------------------------------------------------------------------------------
 * Addresses, names and more sockets
 *
 * One address type serves every socket call: a luminal_socket_addr holds a struct sockaddr_in, sockaddr_in6 or
 * sockaddr_un exactly as the kernel takes it (`raw`, `len` bytes of it in use): cast `raw` to read it, or build
 * it with luminal_socket_addr_parse / luminal_socket_addr_unix / luminal_resolve. Plain calls (those without a
 * future) report like luminal_tcp_listen: the status is returned and, if `result` is not NULL, also written there
 * with the errno (LUMINAL_E_IO) and the value. Each returns LUMINAL_OK, LUMINAL_E_IO, LUMINAL_E_INVALID_ARGUMENT
 * (as its comment says) or LUMINAL_E_UNSUPPORTED (not Linux). The futures return what every IO future returns
 * (see "IO with personalities"), plus LUMINAL_E_INVALID_ARGUMENT as their comment says.
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_socket_addr {
  uint32_t len;      /* bytes of `raw` in use (a socklen_t); 0 = no address */
  uint32_t reserved; /* 0 */
  uint8_t raw[128];  /* a struct sockaddr_in / sockaddr_in6 / sockaddr_un (4-byte aligned: cast it) */
} luminal_socket_addr;

/* Addresses luminal_resolve found, in one allocation the runtime owns until luminal_addr_list_release. */
typedef struct luminal_addr_list {
  luminal_socket_addr *addrs;
  size_t count;
} luminal_addr_list;

/* Flags of luminal_tcp_listen_addr and luminal_udp_bind. */
typedef enum luminal_bind_flags {
  LUMINAL_BIND_DUAL_STACK = 1, /* an IPv6 address also takes IPv4 (IPV6_V6ONLY off); without it, IPv6 only */
  LUMINAL_BIND_REUSEPORT = 2   /* SO_REUSEPORT: several sockets share the port, the kernel balances between them */
} luminal_bind_flags;

/* *out = `ip`:`port`, `ip` an IPv4 ("127.0.0.1") or IPv6 literal ("::1", "[::1]", "fe80::1%eth0" or "%2" for a
 * scope). Never resolves names (luminal_resolve does). OK, INVALID_ARGUMENT (ip or out NULL, not a literal: *out
 * is zeroed), UNSUPPORTED. */
LUMINAL_API luminal_status luminal_socket_addr_parse(const char *ip, uint16_t port, luminal_socket_addr *out);
/* *out = the Unix socket path of `path_len` bytes (no terminating NUL needed, none allowed inside); a first byte
 * NUL makes it a Linux abstract name (every byte after it, NULs included, is the name; nothing on disk).
 * OK, INVALID_ARGUMENT (path or out NULL, path_len 0, over 107 bytes for a path or 108 for an abstract name). */
LUMINAL_API luminal_status luminal_socket_addr_unix(const char *path, size_t path_len, luminal_socket_addr *out);

/* Resolves `host` (a name or an IP literal) with getaddrinfo(3) on the blocking pool, never on a worker: a slow
 * DNS answer holds a pool thread, not your tasks. On completion *list holds the IPv4 and IPv6 addresses (port
 * set) in the system's preference order, value = their count (at least 1); release it with
 * luminal_addr_list_release. *list is zeroed at once and owned by the future until it completes (a list nobody
 * took is freed with the future). Errors (LUMINAL_E_IO): ENOENT (no such host), EAGAIN (temporary DNS failure),
 * EAFNOSUPPORT, ENOMEM, EIO (another resolver failure), or the errno of a system error. A resolver the host
 * process interposes (a `getaddrinfo` in the executable or LD_PRELOAD) is the one used. getaddrinfo may load the
 * system's NSS modules, which keep what they keep (e.g. a socket to nscd): a side effect of resolving, not of
 * Luminal.
 * INVALID_ARGUMENT: host NULL or empty, list NULL. */
LUMINAL_API luminal_status luminal_resolve(luminal_runtime *rt, const char *host, uint16_t port,
                                           luminal_addr_list *list, luminal_io_result *result, luminal_future *out);
/* Frees a list filled by luminal_resolve and zeroes it. A zeroed list, or NULL, is ignored. */
LUMINAL_API void luminal_addr_list_release(luminal_addr_list *list);

/* A TCP listener on `addr` (IPv4 or IPv6; port 0 = any), non-blocking, close-on-exec, SO_REUSEADDR, with
 * luminal_bind_flags. *fd receives it (also result->value); *bound, if not NULL, its actual address. Errors:
 * EADDRINUSE, EACCES (a privileged port), EADDRNOTAVAIL... INVALID_ARGUMENT: addr or fd NULL, addr not IPv4/IPv6,
 * unknown flags. */
LUMINAL_API luminal_status luminal_tcp_listen_addr(const luminal_socket_addr *addr, int32_t backlog, uint32_t flags,
                                                   int32_t *fd, luminal_socket_addr *bound, luminal_io_result *result);
/* Connects to `host`:`port`, `host` a name ("localhost", "example.com") or an IP literal (connected at once, as
 * luminal_tcp_connect). A name is resolved on the blocking pool as luminal_resolve does (never on a worker), then
 * each address is tried in order, on that pool thread, until one connects. value = the connected fd. Errors:
 * luminal_resolve's (ENOENT: no such host...), else the last address's (ECONNREFUSED...). INVALID_ARGUMENT: host
 * NULL or empty. */
LUMINAL_API luminal_status luminal_tcp_connect_host(luminal_runtime *rt, const char *host, uint16_t port,
                                                    luminal_io_result *result, luminal_future *out);
/* Connects to `addr` (IPv4 or IPv6; copied). value = the connected fd. Errors: ECONNREFUSED, ENETUNREACH,
 * ETIMEDOUT... INVALID_ARGUMENT: addr NULL or not IPv4/IPv6. */
LUMINAL_API luminal_status luminal_tcp_connect_addr(luminal_runtime *rt, const luminal_socket_addr *addr,
                                                    luminal_io_result *result, luminal_future *out);
/* A Unix stream listener on `addr` (from luminal_socket_addr_unix; a path must not exist yet: EADDRINUSE, remove
 * it first), non-blocking, close-on-exec; accept with luminal_tcp_accept, use streams as for TCP. *fd receives it
 * (also result->value). INVALID_ARGUMENT: addr or fd NULL, addr not a Unix address. */
LUMINAL_API luminal_status luminal_unix_listen(const luminal_socket_addr *addr, int32_t backlog, int32_t *fd,
                                               luminal_io_result *result);
/* Connects a Unix stream socket to `addr` (copied). value = the connected fd. Errors: ENOENT (no such path),
 * ECONNREFUSED (nobody listens), EAGAIN (the listener's backlog is full). INVALID_ARGUMENT: addr NULL or not a Unix
 * address. */
LUMINAL_API luminal_status luminal_unix_connect(luminal_runtime *rt, const luminal_socket_addr *addr,
                                                luminal_io_result *result, luminal_future *out);
/* The local (getsockname) or peer (getpeername: ENOTCONN if none) address of socket `fd` into *out.
 * INVALID_ARGUMENT: out NULL. */
LUMINAL_API luminal_status luminal_socket_local_addr(int32_t fd, luminal_socket_addr *out, luminal_io_result *result);
LUMINAL_API luminal_status luminal_socket_peer_addr(int32_t fd, luminal_socket_addr *out, luminal_io_result *result);

/* Socket options (luminal_socket_set_option / get_option). Flags take 0 / 1 (any non-zero sets it). */
typedef enum luminal_socket_option {
  LUMINAL_SOCKOPT_NODELAY = 1,     /* TCP_NODELAY */
  LUMINAL_SOCKOPT_KEEPALIVE = 2,   /* SO_KEEPALIVE */
  LUMINAL_SOCKOPT_REUSEADDR = 3,   /* SO_REUSEADDR */
  LUMINAL_SOCKOPT_REUSEPORT = 4,   /* SO_REUSEPORT */
  LUMINAL_SOCKOPT_RECV_BUFFER = 5, /* SO_RCVBUF, bytes 1..INT32_MAX (get reports the kernel's value: double) */
  LUMINAL_SOCKOPT_SEND_BUFFER = 6, /* SO_SNDBUF, likewise */
  LUMINAL_SOCKOPT_LINGER = 7,      /* SO_LINGER: -1 off, else seconds close waits for unsent data (0: reset) */
  LUMINAL_SOCKOPT_BROADCAST = 8,   /* SO_BROADCAST (UDP) */
  LUMINAL_SOCKOPT_V6ONLY = 9       /* IPV6_V6ONLY (before bind) */
} luminal_socket_option;

/* setsockopt(2) of one option on `fd`. Errors: EBADF, ENOTSOCK, ENOPROTOOPT (e.g. NODELAY on UDP).
 * INVALID_ARGUMENT: unknown option, a buffer size outside 1..INT32_MAX, a linger above INT32_MAX. */
LUMINAL_API luminal_status luminal_socket_set_option(int32_t fd, luminal_socket_option option, int64_t value,
                                                     luminal_io_result *result);
/* getsockopt(2): *value receives the option as set_option takes it. INVALID_ARGUMENT: unknown option, value
 * NULL. */
LUMINAL_API luminal_status luminal_socket_get_option(int32_t fd, luminal_socket_option option, int64_t *value,
                                                     luminal_io_result *result);

/* Readiness, for protocols the host drives itself (luminal_fd_ready's interest and its value's bits). */
typedef enum luminal_ready {
  LUMINAL_READY_READABLE = 1,
  LUMINAL_READY_WRITABLE = 2,
  LUMINAL_READY_ERROR = 4 /* an error or hang-up is pending: the next read or write reports it */
} luminal_ready;

/* A future that completes once `fd` (any pollable fd: socket, pipe, eventfd, tty...) is readable or writable,
 * without reading or writing anything: IORING_OP_POLL_ADD on io_uring, the reactor's epoll on the pool backend (no
 * thread waits). value = the luminal_ready bits that hold (the interest asked, and/or ERROR). A closed fd gives
 * EBADF. INVALID_ARGUMENT: interest is not exactly LUMINAL_READY_READABLE or LUMINAL_READY_WRITABLE. */
LUMINAL_API luminal_status luminal_fd_ready(luminal_runtime *rt, int32_t fd, uint32_t interest,
                                            luminal_io_result *result, luminal_future *out);

/* A UDP socket bound to `addr` (IPv4 or IPv6; port 0 = any), non-blocking, close-on-exec, with luminal_bind_flags.
 * *fd receives it (also result->value); *bound, if not NULL, its actual address. Errors: EADDRINUSE...
 * INVALID_ARGUMENT: addr or fd NULL, addr not IPv4/IPv6, unknown flags. */
LUMINAL_API luminal_status luminal_udp_bind(const luminal_socket_addr *addr, uint32_t flags, int32_t *fd,
                                            luminal_socket_addr *bound, luminal_io_result *result);
/* Sets the default peer of UDP socket `fd` (and receives only from it); never blocks. INVALID_ARGUMENT: addr NULL
 * or not IPv4/IPv6. */
LUMINAL_API luminal_status luminal_udp_connect(int32_t fd, const luminal_socket_addr *addr, luminal_io_result *result);
/* Sends one datagram of `len` bytes to `to` (copied), or to the connected peer if `to` is NULL. value = bytes sent.
 * Errors: EDESTADDRREQ (no `to`, not connected), EMSGSIZE, ECONNREFUSED (an earlier datagram to a connected peer
 * was refused). INVALID_ARGUMENT: buf NULL with len > 0, `to` not IPv4/IPv6. */
LUMINAL_API luminal_status luminal_udp_send_to(luminal_runtime *rt, int32_t fd, const void *buf, size_t len,
                                               const luminal_socket_addr *to, luminal_io_result *result,
                                               luminal_future *out);
/* Receives one datagram into `buf` (a longer one is truncated to `len`); *from, if not NULL (borrowed until
 * completion), receives the sender's address. value = bytes received. INVALID_ARGUMENT: buf NULL with len > 0. */
LUMINAL_API luminal_status luminal_udp_recv_from(luminal_runtime *rt, int32_t fd, void *buf, size_t len,
                                                 luminal_socket_addr *from, luminal_io_result *result,
                                                 luminal_future *out);

/* ---------------------------------------------------------------------------------------------------------------
 * Paths
 *
 * Futures on paths (copied; relative ones from the working directory), in the style of "IO with personalities":
 * io_uring's own opcodes where the kernel has them (statx; renameat, unlinkat since Linux 5.11; mkdirat since
 * 5.15), else the system call on the blocking pool. Each returns what every IO future returns, plus
 * LUMINAL_E_INVALID_ARGUMENT for a NULL path or required pointer. Errors arrive in `result` as LUMINAL_E_IO with
 * the errno: ENOENT (no such file or parent), EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EACCES...
 * ------------------------------------------------------------------------------------------------------------- */

/* stat(2) of `path` (symbolic links followed) into *info (borrowed until completion). */
LUMINAL_API luminal_status luminal_fs_stat(luminal_runtime *rt, const char *path, luminal_file_info *info,
                                           luminal_io_result *result, luminal_future *out);
/* rename(2): `from` to `to` (replacing a file there). INVALID_ARGUMENT also for `to` NULL. */
LUMINAL_API luminal_status luminal_fs_rename(luminal_runtime *rt, const char *from, const char *to,
                                             luminal_io_result *result, luminal_future *out);
/* unlink(2): removes a file (EISDIR for a directory: luminal_fs_remove_dir). */
LUMINAL_API luminal_status luminal_fs_unlink(luminal_runtime *rt, const char *path, luminal_io_result *result,
                                             luminal_future *out);
/* mkdir(2) with `mode` (before the umask). EEXIST if something is there. */
LUMINAL_API luminal_status luminal_fs_mkdir(luminal_runtime *rt, const char *path, uint32_t mode,
                                            luminal_io_result *result, luminal_future *out);
/* rmdir(2): removes an empty directory (ENOTEMPTY otherwise, ENOTDIR for a file). */
LUMINAL_API luminal_status luminal_fs_remove_dir(luminal_runtime *rt, const char *path, luminal_io_result *result,
                                                 luminal_future *out);

/* One directory entry: its name (NUL-terminated, inside the list's allocation) and kind, a d_type value of
 * readdir(3): DT_REG 8, DT_DIR 4, DT_LNK 10, DT_FIFO 1, DT_SOCK 12, DT_CHR 2, DT_BLK 6, DT_UNKNOWN 0 (some file
 * systems: stat it). */
typedef struct luminal_dir_entry {
  const char *name;
  uint32_t kind;
  uint32_t reserved;
} luminal_dir_entry;

/* The entries of a directory, in one allocation the runtime owns until luminal_dir_list_release. */
typedef struct luminal_dir_list {
  luminal_dir_entry *entries;
  size_t count;
} luminal_dir_list;

/* Reads the directory at `path` (on the blocking pool: no io_uring opcode does it): every entry but "." and "..",
 * in the file system's order, into *list (zeroed at once; owned by the future until it completes: a list nobody
 * took is freed with it). value = the count. Release it with luminal_dir_list_release. INVALID_ARGUMENT also for
 * list NULL. */
LUMINAL_API luminal_status luminal_fs_read_dir(luminal_runtime *rt, const char *path, luminal_dir_list *list,
                                               luminal_io_result *result, luminal_future *out);
/* Frees a list filled by luminal_fs_read_dir and zeroes it. A zeroed list, or NULL, is ignored. */
LUMINAL_API void luminal_dir_list_release(luminal_dir_list *list);

/* ---------------------------------------------------------------------------------------------------------------
 * Child processes
 *
 * luminal_process_spawn starts a program (posix_spawnp: glibc's clone-and-exec, safe in a threaded process; it
 * returns once the child has exec'ed or failed to) and returns its pid, a pidfd (Linux 5.3+) and the parent's ends
 * of the pipes asked for, which are plain non-blocking fds: use luminal_stream_read / write on them.
 * luminal_process_wait is an IO future that completes when the child exits (the pidfd's readiness: io_uring
 * POLL_ADD, or the reactor's epoll; no thread waits) and reaps it. The child gets SIGPIPE back at its default
 * disposition (the runtime ignores it, see the general rules) and an empty signal mask.
 * ------------------------------------------------------------------------------------------------------------- */

/* What becomes of a child's stdin, stdout or stderr. */
typedef enum luminal_stdio {
  LUMINAL_STDIO_INHERIT = 0, /* the parent's fd 0 / 1 / 2 */
  LUMINAL_STDIO_NULL = 1,    /* /dev/null */
  LUMINAL_STDIO_PIPE = 2     /* a pipe; the parent's end lands in luminal_process (stdin_fd, stdout_fd, stderr_fd) */
} luminal_stdio;

typedef struct luminal_process_options {
  size_t struct_size;      /* sizeof(luminal_process_options); fields past it take their defaults (0 / NULL) */
  const char *path;        /* the program: with a '/' as is, else searched in PATH (required) */
  char *const *argv;       /* NULL-terminated, argv[0] first; NULL = { path, NULL } */
  char *const *envp;       /* NULL-terminated "NAME=value" list; NULL = this process's environment */
  const char *cwd;         /* the child's working directory; NULL = this process's */
  uint32_t stdin_mode;     /* luminal_stdio */
  uint32_t stdout_mode;
  uint32_t stderr_mode;
  uint32_t reserved;
} luminal_process_options;

/* A spawned child. Fields are -1 when absent. */
typedef struct luminal_process {
  int32_t pid;
  int32_t pidfd;     /* -1 on kernels before 5.3 (waits then poll on the pool backend) */
  int32_t stdin_fd;  /* the parent's write end of the child's stdin pipe */
  int32_t stdout_fd; /* the parent's read end of the child's stdout pipe */
  int32_t stderr_fd;
  int32_t reserved;
} luminal_process;

/* Spawns the program `options` describe; *process receives it (value = the pid). Errors (LUMINAL_E_IO): ENOENT (no
 * such program, or cwd missing), EACCES, ENOEXEC, EMFILE... (nothing is left open then). INVALID_ARGUMENT: options,
 * process or options->path NULL, struct_size < sizeof(size_t), a stdio mode beyond PIPE. */
LUMINAL_API luminal_status luminal_process_spawn(const luminal_process_options *options, luminal_process *process,
                                                 luminal_io_result *result);
/* A future that completes when the child exits, and reaps it. value = its wait status as waitpid(2) reports it
 * (WIFEXITED / WEXITSTATUS, WIFSIGNALED / WTERMSIG). ECHILD: already waited for (or not our child); ENOSYS on
 * io_uring without pidfds (a kernel 5.1-5.2: use the pool backend). `process` is read at the call (not borrowed).
 * INVALID_ARGUMENT: process NULL or its pid not positive. */
LUMINAL_API luminal_status luminal_process_wait(luminal_runtime *rt, const luminal_process *process,
                                                luminal_io_result *result, luminal_future *out);
/* Sends signal `signo` (0: only checks the child is there) to the child: through its pidfd when it has one (never
 * another process that reused the pid), else kill(2). Errors: ESRCH (already reaped). INVALID_ARGUMENT: process NULL,
 * pid not positive, signo outside 0..64. */
LUMINAL_API luminal_status luminal_process_kill(const luminal_process *process, int32_t signo,
                                                luminal_io_result *result);
/* Closes the pidfd and every pipe end `process` still holds (set a field to -1 first to keep that fd) and marks
 * them -1. Does not wait: a child never waited for stays a zombie until this process exits. NULL is ignored. */
LUMINAL_API void luminal_process_release(luminal_process *process);

/* ---------------------------------------------------------------------------------------------------------------
 * Signals
 *
 * A listener receives the deliveries of one POSIX signal to this process (kill, raise, a terminal's ^C...).
 * Several listeners, of one runtime or of several, may listen to the same signal: each sees every delivery. A
 * delivery completes every recv future pending on a listener; with none pending it is remembered for the next
 * recv, and further deliveries before that recv coalesce into it (as signalfd's standard signals do): a recv tells
 * "at least one delivery since the last recv", not how many. A delivery that arrives while a signal has no
 * listener at all takes the signal's disposition in force then (the default action for SIGUSR1 ends the process)
 * and is not kept for listeners made later.
 * How: the first listener of a signal installs .NET's handler for it (System.Runtime.InteropServices.
 * PosixSignalRegistration: the handler only writes the signal number to a pipe; .NET's signal thread reads it and
 * the listeners are completed on a .NET thread-pool thread, so no Luminal code runs in signal context and no thread
 * needs the signal blocked). While a signal has listeners, a handler the host had installed for it before is still
 * called first (.NET chains to it), and the default action does not happen. Releasing the last listener of a signal
 * restores the disposition that was in force before its first (SIG_DFL, SIG_IGN or the host's handler). The host's
 * handlers for other signals are never touched. Handles and futures follow the sync rules above (generation-checked
 * handles, exactly-once drops, LUMINAL_E_FORKED in a forked child: a listener is not inherited as a live one).
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_signal luminal_signal; /* one listener of one signal, owned by one holder */

/* Starts listening to `signo` (1..64, except SIGKILL, SIGSTOP, the faults SIGILL, SIGTRAP, SIGBUS, SIGFPE and
 * SIGSEGV, and 32..34 which glibc and .NET's garbage collector use); *out is an owned handle (release it with
 * luminal_signal_release). LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (out NULL, signo refused), LUMINAL_E_INVALID_HANDLE,
 * LUMINAL_E_SHUTDOWN, LUMINAL_E_FORKED, LUMINAL_E_NO_MEMORY, LUMINAL_E_INTERNAL (.NET refused the signal). */
LUMINAL_API luminal_status luminal_signal_listen(luminal_runtime *rt, int32_t signo, luminal_signal **out);

/* Makes a future that completes at the next delivery (at once if one arrived since the last recv completed):
 * *result = LUMINAL_OK; or LUMINAL_E_CLOSED once the listener is released. Any number of recv futures may be
 * pending on one listener: a delivery completes them all. A recv dropped after it was completed by a delivery but
 * before it returned it gives the delivery back to the listener. `result` is borrowed until completion (output
 * NULL). Returns LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (sig, result or out NULL), LUMINAL_E_INVALID_HANDLE,
 * LUMINAL_E_FORKED. */
LUMINAL_API luminal_status luminal_signal_recv(luminal_signal *sig, luminal_status *result, luminal_future *out);

/* Stops listening: pending recv futures complete with LUMINAL_E_CLOSED; the last listener of its signal restores
 * the previous disposition. NULL, stale or double releases are ignored.
 * Deliveries are handed to listeners by .NET's signal thread, a moment after the kernel delivered them: one that is
 * still on its way when the last listener is released gets the restored disposition, which for a signal at SIG_DFL
 * whose default action terminates (SIGUSR1, SIGUSR2, SIGTERM...) ends the process. Install your own handler (or
 * SIG_IGN) before listening if such a signal may still arrive around the release. */
LUMINAL_API void luminal_signal_release(luminal_signal *sig);

/* ---------------------------------------------------------------------------------------------------------------
 * Plugins: loading, running and safely unloading shared libraries that spawn onto the host's runtime
 *
 * A plugin is a shared library that exports the two entry points of include/luminal_plugin.h (the contract a
 * plugin implements, in any language: the lifecycle, the threads, what init and fini may do):
 *     luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state);
 *     void luminal_plugin_fini(void *plugin_state);
 * The host loads it with luminal_plugin_open, which gives it a scope of its own, and unloads it with
 * luminal_plugin_close, which closes that scope first: every task the plugin spawned into its scope is dropped,
 * and no poll or drop of its code is running, before fini runs and the library is unloaded.
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_plugin luminal_plugin; /* a loaded plugin, owned by one holder (closed once) */

/* What luminal_plugin_open hands to luminal_plugin_init. Written by the library, read by the plugin: the plugin
 * reads only the fields struct_size covers (later versions add fields at the end). The struct stays valid and
 * unchanged from init until luminal_plugin_fini returns, so a plugin may keep the pointer. */
typedef struct luminal_plugin_host {
  size_t struct_size;       /* sizeof(luminal_plugin_host) of the library */
  uint32_t abi_version;     /* luminal_abi_version() of the library: compare with the LUMINAL_ABI_VERSION the plugin
                               was compiled with (a library older than its header may lack functions) */
  luminal_runtime *runtime; /* the host's runtime, borrowed: valid as long as the runtime lives (what
                               luminal_context_runtime returns); clone it to keep the runtime alive */
  luminal_scope *scope;     /* the plugin's own scope, borrowed: valid until fini returns. Spawn every task into it
                               (luminal_spawn_options.scope; luminal_context_spawn from its tasks inherits it) */
  void *host_data;          /* the host's pointer given to luminal_plugin_open, passed through untouched */
} luminal_plugin_host;

/* Loads the shared library at `path` (borrowed, NUL-terminated; dlopen(RTLD_NOW | RTLD_LOCAL): a name without a
 * slash goes through the loader's search path), resolves luminal_plugin_init and luminal_plugin_fini, creates the
 * plugin's scope on `rt` and calls luminal_plugin_init on this thread with a luminal_plugin_host carrying `rt`, the
 * scope and `host_data` (borrowed by the library, handed to the plugin; any value, NULL allowed).
 * On LUMINAL_OK *out is an owned handle: close it with luminal_plugin_close. On failure *out is NULL and nothing
 * stays loaded. Returns LUMINAL_E_INVALID_ARGUMENT (rt, path or out NULL), LUMINAL_E_INVALID_HANDLE (rt stale or
 * forged), LUMINAL_E_SHUTDOWN (rt is shut down), LUMINAL_E_WOULD_DEADLOCK (called on one of rt's worker threads:
 * loading and a failed init's cleanup block; use luminal_spawn_blocking), LUMINAL_E_IO (the library cannot be
 * loaded: no such file, not a shared library for this machine, a missing dependency or symbol; on Unix, dlerror()
 * called on the same thread right after tells the loader's reason),
 * LUMINAL_E_NOT_PLUGIN (it lacks an entry point; it was unloaded again), LUMINAL_E_PLUGIN_INIT (init returned
 * something other than LUMINAL_OK: the library then closed the plugin's scope, waiting for whatever init had
 * spawned into it to be dropped, and unloaded it; fini is not called). Opening the same path twice loads the
 * library once (the loader counts) and calls init twice, each with its own scope: keep per-instance state in
 * *plugin_state, not in globals. */
LUMINAL_API luminal_status luminal_plugin_open(luminal_runtime *rt, const char *path, void *host_data,
                                               luminal_plugin **out);

/* Unloads the plugin, in this order: closes its scope (refuses new spawns into it, aborts its tasks, frees their
 * unclaimed outputs) and waits up to `timeout_ns` (0 = don't wait, UINT64_MAX = forever) until every poll and drop
 * of its tasks has finished; then calls luminal_plugin_fini on this thread; then releases the scope and unloads
 * the library (dlclose: it stays mapped if something else holds it, e.g. the same path opened twice).
 * Returns LUMINAL_OK (the handle is then invalid: a second close gives LUMINAL_E_INVALID_HANDLE),
 * LUMINAL_E_TIMED_OUT (a poll or drop of the plugin's tasks was still running at the timeout: fini was not called,
 * the plugin stays loaded and its handle valid, its scope stays closed; call again to wait more),
 * LUMINAL_E_WOULD_DEADLOCK (a non-zero timeout on one of the runtime's worker threads: nothing was done; close it
 * from another thread, or with timeout 0), LUMINAL_E_INVALID_ARGUMENT (p NULL), LUMINAL_E_INVALID_HANDLE (closed,
 * forged or not a plugin), LUMINAL_E_FORKED (opened before a fork(): the child leaves it loaded).
 * Any thread but the plugin's own code (a task of the plugin closing it would wait for itself until the timeout);
 * concurrent closes of one plugin are serialized (the second waits, within its timeout, then finds it closed).
 * A runtime shut down while plugins are open (luminal_runtime_shutdown, or the last luminal_runtime_release)
 * drops their tasks like every other task (their libraries are still loaded, so that is safe) and leaves the
 * plugins loaded, fini not called: close them afterwards as usual (LUMINAL_OK; their host->runtime is then shut
 * down or stale, so calls on it fail cleanly). */
LUMINAL_API luminal_status luminal_plugin_close(luminal_plugin *p, uint64_t timeout_ns);

/* The plugin's scope (borrowed: valid until the plugin is closed; do not release it), e.g. for
 * luminal_scope_stats or to spawn host work that must end with the plugin. NULL if p is NULL, closed or forged. */
LUMINAL_API luminal_scope *luminal_plugin_scope(luminal_plugin *p);

/* ---------------------------------------------------------------------------------------------------------------
 * Observing a runtime: metrics, logging, thread and task hooks
 *
 * Counters are kept per worker (each written only by its own thread, on cache lines of their own) and summed when
 * read, so reading them is cheap and counting costs no lock or atomic operation on the hot path. A snapshot is not
 * atomic across fields: on a busy runtime each field is exact at some instant during the call; on a quiet runtime
 * (no task running, none queued) all of them are exact.
 *
 * Log events (through options.log, or stderr with LUMINAL_LOG=error|warn|info|debug; silent by default):
 *   INFO  the IO backend chosen at the first IO operation, and why (asked for, or io_uring's errno when it failed)
 *   WARN  LUMINAL_IO_BACKEND set to an unknown value (names the variable and the value; AUTO is used)
 *   WARN  a scope released while tasks are still live in it (they run on; its code must stay loaded)
 *   ERROR an internal failure mapped to LUMINAL_E_INTERNAL (sent to every live runtime's log: it may have none)
 *   ERROR debug_plugins: a poll/drop/drop_output whose code is no longer mapped (names the scope and the address);
 *         the call is skipped: a poll counts as cancelled and its drop is not called (the memory is leaked). The
 *         futures the runtime wraps (luminal_timeout's inner future, join_all and select children) and channels'
 *         drop_message are checked too (while any runtime has the check on): a refused inner poll completes the
 *         wrapper with LUMINAL_FAILED_OUTPUT
 *   DEBUG a runtime created (workers, IO backend planned) and shut down
 * debug_plugins uses dladdr(3): code that no loaded object contains (JIT code, an unloaded plugin) is refused.
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct luminal_runtime_metrics {
  size_t struct_size;            /* set by the caller to sizeof(luminal_runtime_metrics); only that much is written */
  uint32_t workers;              /* worker threads */
  uint32_t blocking_threads;     /* blocking-pool threads alive */
  uint32_t blocking_idle;        /* of those, waiting for work */
  uint32_t blocking_max;         /* the pool's cap (max_blocking_threads) */
  uint64_t tasks_spawned;        /* tasks ever made (spawns of every kind, and block_on futures) */
  uint64_t tasks_completed;      /* tasks whose future returned READY (or whose fn returned) */
  uint64_t tasks_cancelled;      /* tasks dropped unfinished */
  uint64_t tasks_alive;          /* spawned - completed - cancelled: queued, running or waiting on a waker */
  uint64_t polls;                /* polls (and spawn_fn calls) run by the workers */
  uint64_t steals;               /* successful steals: a worker took work from another worker's queue */
  uint64_t parks;                /* times a worker went to sleep for want of work */
  uint64_t unparks;              /* times a spawn or wake woke a sleeping worker */
  uint64_t injector_depth;       /* tasks in the global queues */
  uint64_t local_queue_depth;    /* tasks in the workers' own queues (summed) */
  uint64_t ready_user_interactive; /* runnable tasks (global + local queues) per priority level */
  uint64_t ready_user_initiated;
  uint64_t ready_utility;
  uint64_t ready_background;
  uint64_t blocking_queue_depth; /* blocking calls waiting for a pool thread */
  uint64_t io_in_flight;         /* IO operations submitted and not yet completed */
  uint64_t timers_pending;       /* sleeps and timeouts waiting in the timer wheel */
  uint64_t busy_ns;              /* time the workers were not parked, summed over workers */
  uint64_t parked_ns;            /* time the workers were parked, summed over workers */
} luminal_runtime_metrics;

/* Fills *out (up to out->struct_size bytes) with a snapshot of `rt`'s counters; works after shutdown too (the
 * counters are then final). LUMINAL_OK, LUMINAL_E_INVALID_ARGUMENT (rt or out NULL, struct_size too small to hold
 * struct_size), LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_runtime_get_metrics(luminal_runtime *rt, luminal_runtime_metrics *out);

typedef struct luminal_worker_metrics {
  size_t struct_size;   /* set by the caller to sizeof(luminal_worker_metrics); only that much is written */
  uint64_t polls;       /* polls (and spawn_fn calls) this worker ran */
  uint64_t steals;      /* successful steals by this worker */
  uint64_t parks;       /* times it went to sleep */
  uint64_t queue_depth; /* tasks in its own queues now (all levels, and the slot of the task it runs next) */
  uint64_t busy_ns;     /* time since it started that it was not parked */
  uint64_t parked_ns;   /* time it was parked */
} luminal_worker_metrics;

/* Fills *out (up to out->struct_size bytes) for worker `index` (0 .. worker count - 1). LUMINAL_OK,
 * LUMINAL_E_INVALID_ARGUMENT (rt or out NULL, struct_size too small, index out of range),
 * LUMINAL_E_INVALID_HANDLE. */
LUMINAL_API luminal_status luminal_runtime_get_worker_metrics(luminal_runtime *rt, uint32_t index,
                                                              luminal_worker_metrics *out);
#ifdef __cplusplus
}
#endif

#endif /* LUMINAL_H */
