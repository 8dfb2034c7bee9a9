//! Raw declarations of `include/luminal.h`, one to one. Everything here is `unsafe` to use; the rest of the crate
//! wraps it. Exposed so that code crossing a plugin boundary can exchange plain C handles.
//!
//! The functions are not linked: each `luminal_*` here is an `unsafe fn` with the C signature that calls through
//! [`Functions`], the table of the library's functions loaded at run time (see [`library`](crate::library) for
//! where from, and why).
#![allow(non_camel_case_types, missing_docs)]

use crate::library::declare_library;
use std::os::raw::{c_char, c_int, c_void};

pub const LUMINAL_VERSION_MAJOR: u32 = 0;
pub const LUMINAL_VERSION_MINOR: u32 = 2;
pub const LUMINAL_VERSION_PATCH: u32 = 0;
pub const LUMINAL_VERSION_HEX: u32 = 0x00_02_00;
pub const LUMINAL_ABI_VERSION: u32 = 5;

pub type luminal_status = i32;
pub const LUMINAL_OK: luminal_status = 0;
pub const LUMINAL_PENDING: luminal_status = 1;
pub const LUMINAL_E_INVALID_ARGUMENT: luminal_status = -1;
pub const LUMINAL_E_INVALID_HANDLE: luminal_status = -2;
pub const LUMINAL_E_SHUTDOWN: luminal_status = -3;
pub const LUMINAL_E_CANCELLED: luminal_status = -4;
pub const LUMINAL_E_TIMED_OUT: luminal_status = -5;
pub const LUMINAL_E_WOULD_DEADLOCK: luminal_status = -6;
pub const LUMINAL_E_NO_MEMORY: luminal_status = -7;
pub const LUMINAL_E_UNSUPPORTED: luminal_status = -8;
pub const LUMINAL_E_INTERNAL: luminal_status = -9;
pub const LUMINAL_E_ALREADY_TAKEN: luminal_status = -10;
pub const LUMINAL_E_IO: luminal_status = -11;
pub const LUMINAL_E_FORKED: luminal_status = -12;
pub const LUMINAL_E_CLOSED: luminal_status = -13;
pub const LUMINAL_E_FULL: luminal_status = -14;
pub const LUMINAL_E_EMPTY: luminal_status = -15;
pub const LUMINAL_E_NOT_PLUGIN: luminal_status = -16;
pub const LUMINAL_E_PLUGIN_INIT: luminal_status = -17;
pub const LUMINAL_E_BUSY: luminal_status = -18;

/// Opaque runtime handle (a 64-bit token, not a pointer to readable memory).
#[repr(C)]
pub struct luminal_runtime {
    _private: [u8; 0],
}
/// Opaque join handle.
#[repr(C)]
pub struct luminal_task {
    _private: [u8; 0],
}
/// Opaque waker.
#[repr(C)]
pub struct luminal_waker {
    _private: [u8; 0],
}
/// Opaque poll context, valid for one poll call.
#[repr(C)]
pub struct luminal_context {
    _private: [u8; 0],
}

/// Opaque scope handle.
#[repr(C)]
pub struct luminal_scope {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_runtime_options {
    pub struct_size: usize,
    pub worker_threads: u32,
    pub thread_name: *const c_char,
    pub max_blocking_threads: u32,
    pub blocking_keep_alive_ms: u32,
    pub io_backend: luminal_io_backend,
    // Observability
    pub log: Option<luminal_log_fn>,
    pub log_user: *mut c_void,
    pub log_level: luminal_log_level,
    pub debug_plugins: i32,
    pub on_thread_start: Option<luminal_thread_hook_fn>,
    pub on_thread_stop: Option<luminal_thread_hook_fn>,
    pub thread_hook_user: *mut c_void,
    pub task_hook: Option<luminal_task_hook_fn>,
    pub task_hook_user: *mut c_void,
    // Current-thread runtimes, the paused clock and seeded runs.
    pub flavor: luminal_flavor,
    pub clock: luminal_clock,
    pub seed: u64,
}

pub type luminal_log_level = i32;
pub const LUMINAL_LOG_ERROR: luminal_log_level = 1;
pub const LUMINAL_LOG_WARN: luminal_log_level = 2;
pub const LUMINAL_LOG_INFO: luminal_log_level = 3;
pub const LUMINAL_LOG_DEBUG: luminal_log_level = 4;
pub type luminal_log_fn = unsafe extern "C" fn(user: *mut c_void, level: luminal_log_level, message: *const c_char);

pub type luminal_thread_kind = i32;
pub const LUMINAL_THREAD_WORKER: luminal_thread_kind = 0;
pub const LUMINAL_THREAD_BLOCKING: luminal_thread_kind = 1;
pub const LUMINAL_THREAD_IO: luminal_thread_kind = 2;
pub type luminal_thread_hook_fn = unsafe extern "C" fn(user: *mut c_void, kind: luminal_thread_kind, index: u32);

pub type luminal_task_event = i32;
pub const LUMINAL_TASK_SPAWNED: luminal_task_event = 0;
pub const LUMINAL_TASK_POLL_START: luminal_task_event = 1;
pub const LUMINAL_TASK_POLL_END: luminal_task_event = 2;
pub const LUMINAL_TASK_COMPLETED: luminal_task_event = 3;
pub const LUMINAL_TASK_CANCELLED: luminal_task_event = 4;
pub type luminal_task_hook_fn = unsafe extern "C" fn(
    user: *mut c_void,
    event: luminal_task_event,
    task_id: u64,
    priority: u32,
    scope: u64,
    worker: i32,
);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct luminal_runtime_metrics {
    pub struct_size: usize,
    pub workers: u32,
    pub blocking_threads: u32,
    pub blocking_idle: u32,
    pub blocking_max: u32,
    pub tasks_spawned: u64,
    pub tasks_completed: u64,
    pub tasks_cancelled: u64,
    pub tasks_alive: u64,
    pub polls: u64,
    pub steals: u64,
    pub parks: u64,
    pub unparks: u64,
    pub injector_depth: u64,
    pub local_queue_depth: u64,
    pub ready_user_interactive: u64,
    pub ready_user_initiated: u64,
    pub ready_utility: u64,
    pub ready_background: u64,
    pub blocking_queue_depth: u64,
    pub io_in_flight: u64,
    pub timers_pending: u64,
    pub busy_ns: u64,
    pub parked_ns: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct luminal_worker_metrics {
    pub struct_size: usize,
    pub polls: u64,
    pub steals: u64,
    pub parks: u64,
    pub queue_depth: u64,
    pub busy_ns: u64,
    pub parked_ns: u64,
}

pub type luminal_poll = c_int;
pub const LUMINAL_POLL_PENDING: luminal_poll = 0;
pub const LUMINAL_POLL_READY: luminal_poll = 1;

pub type luminal_poll_fn =
    unsafe extern "C" fn(state: *mut c_void, cx: *mut luminal_context, output: *mut *mut c_void) -> luminal_poll;
pub type luminal_drop_fn = unsafe extern "C" fn(p: *mut c_void);

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_future {
    pub state: *mut c_void,
    pub poll: Option<luminal_poll_fn>,
    pub drop: Option<luminal_drop_fn>,
    pub drop_output: Option<luminal_drop_fn>,
}

/// The output of a `luminal_timeout` future whose time ran out (`(void *)~(uintptr_t)4`).
pub const LUMINAL_TIMED_OUT_OUTPUT: *mut c_void = !4usize as *mut c_void;
pub const LUMINAL_FAILED_OUTPUT: *mut c_void = !8usize as *mut c_void;

pub const LUMINAL_SPAWN_INLINE_SMALL: usize = 256;
pub const LUMINAL_SPAWN_INLINE_MAX_ALIGN: usize = 64;
pub const LUMINAL_SPAWN_INLINE_MAX_SIZE: usize = 1048576;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct luminal_scope_counters {
    pub struct_size: usize,
    pub live: u64,
    pub spawned: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub polls: u64,
    pub poll_ns: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_spawn_options {
    pub struct_size: usize,
    pub scope: *mut luminal_scope,
    pub priority: luminal_priority,
}

// Priorities and the blocking pool
pub type luminal_priority = i32;
pub const LUMINAL_PRIORITY_INHERIT: luminal_priority = 0;
pub const LUMINAL_PRIORITY_USER_INTERACTIVE: luminal_priority = 1;
pub const LUMINAL_PRIORITY_USER_INITIATED: luminal_priority = 2;
pub const LUMINAL_PRIORITY_UTILITY: luminal_priority = 3;
pub const LUMINAL_PRIORITY_BACKGROUND: luminal_priority = 4;

pub type luminal_blocking_fn = unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void;

// IO with personalities
pub type luminal_flavor = u32;
pub const LUMINAL_FLAVOR_MULTI_THREAD: luminal_flavor = 0;
pub const LUMINAL_FLAVOR_CURRENT_THREAD: luminal_flavor = 1;

pub type luminal_clock = u32;
pub const LUMINAL_CLOCK_MONOTONIC: luminal_clock = 0;
pub const LUMINAL_CLOCK_PAUSED: luminal_clock = 1;

pub type luminal_io_backend = u32;
pub const LUMINAL_IO_AUTO: luminal_io_backend = 0;
pub const LUMINAL_IO_URING: luminal_io_backend = 1;
pub const LUMINAL_IO_POOL: luminal_io_backend = 2;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct luminal_io_result {
    pub status: luminal_status,
    pub os_error: i32,
    pub value: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct luminal_file_info {
    pub size: u64,
    pub mode: u32,
    pub reserved: u32,
    pub mtime_ns: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_view {
    pub data: *const u8,
    pub len: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_buffer {
    pub data: *mut u8,
    pub len: usize,
}

/// One socket address of any family: a sockaddr_in / sockaddr_in6 / sockaddr_un in `raw`, `len` bytes in use.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct luminal_socket_addr {
    pub len: u32,
    pub reserved: u32,
    pub raw: [u8; 128],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_addr_list {
    pub addrs: *mut luminal_socket_addr,
    pub count: usize,
}

pub type luminal_bind_flags = u32;
pub const LUMINAL_BIND_DUAL_STACK: luminal_bind_flags = 1;
pub const LUMINAL_BIND_REUSEPORT: luminal_bind_flags = 2;

pub type luminal_socket_option = u32;
pub const LUMINAL_SOCKOPT_NODELAY: luminal_socket_option = 1;
pub const LUMINAL_SOCKOPT_KEEPALIVE: luminal_socket_option = 2;
pub const LUMINAL_SOCKOPT_REUSEADDR: luminal_socket_option = 3;
pub const LUMINAL_SOCKOPT_REUSEPORT: luminal_socket_option = 4;
pub const LUMINAL_SOCKOPT_RECV_BUFFER: luminal_socket_option = 5;
pub const LUMINAL_SOCKOPT_SEND_BUFFER: luminal_socket_option = 6;
pub const LUMINAL_SOCKOPT_LINGER: luminal_socket_option = 7;
pub const LUMINAL_SOCKOPT_BROADCAST: luminal_socket_option = 8;
pub const LUMINAL_SOCKOPT_V6ONLY: luminal_socket_option = 9;

pub type luminal_ready = u32;
pub const LUMINAL_READY_READABLE: luminal_ready = 1;
pub const LUMINAL_READY_WRITABLE: luminal_ready = 2;
pub const LUMINAL_READY_ERROR: luminal_ready = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_dir_entry {
    pub name: *const c_char,
    pub kind: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_dir_list {
    pub entries: *mut luminal_dir_entry,
    pub count: usize,
}

pub type luminal_stdio = u32;
pub const LUMINAL_STDIO_INHERIT: luminal_stdio = 0;
pub const LUMINAL_STDIO_NULL: luminal_stdio = 1;
pub const LUMINAL_STDIO_PIPE: luminal_stdio = 2;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct luminal_process_options {
    pub struct_size: usize,
    pub path: *const c_char,
    pub argv: *const *mut c_char,
    pub envp: *const *mut c_char,
    pub cwd: *const c_char,
    pub stdin_mode: u32,
    pub stdout_mode: u32,
    pub stderr_mode: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_process {
    pub pid: i32,
    pub pidfd: i32,
    pub stdin_fd: i32,
    pub stdout_fd: i32,
    pub stderr_fd: i32,
    pub reserved: i32,
}

/// Opaque sending handle of a channel.
#[repr(C)]
pub struct luminal_sender {
    _private: [u8; 0],
}
/// Opaque receiving handle of a channel.
#[repr(C)]
pub struct luminal_receiver {
    _private: [u8; 0],
}
/// Opaque sending handle of a oneshot.
#[repr(C)]
pub struct luminal_oneshot_sender {
    _private: [u8; 0],
}
/// Opaque receiving handle of a oneshot.
#[repr(C)]
pub struct luminal_oneshot_receiver {
    _private: [u8; 0],
}
/// Opaque listener of one signal.
#[repr(C)]
pub struct luminal_signal {
    _private: [u8; 0],
}
/// Opaque notify handle.
#[repr(C)]
pub struct luminal_notify {
    _private: [u8; 0],
}
/// Opaque semaphore handle.
#[repr(C)]
pub struct luminal_semaphore {
    _private: [u8; 0],
}
/// Opaque task set handle.
#[repr(C)]
pub struct luminal_task_set {
    _private: [u8; 0],
}

/// Opaque handle of a loaded plugin (`luminal_plugin_open`).
#[repr(C)]
pub struct luminal_plugin {
    _private: [u8; 0],
}

/// What `luminal_plugin_open` hands to a plugin's `luminal_plugin_init` (include/luminal_plugin.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct luminal_plugin_host {
    pub struct_size: usize,
    pub abi_version: u32,
    pub runtime: *mut luminal_runtime,
    pub scope: *mut luminal_scope,
    pub host_data: *mut c_void,
}

/// `luminal_plugin_init`, the entry point a plugin exports (include/luminal_plugin.h).
pub type luminal_plugin_init_fn =
    unsafe extern "C" fn(host: *const luminal_plugin_host, plugin_state: *mut *mut c_void) -> luminal_status;
/// `luminal_plugin_fini`, the entry point a plugin exports (include/luminal_plugin.h).
pub type luminal_plugin_fini_fn = unsafe extern "C" fn(plugin_state: *mut c_void);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct luminal_channel_options {
    pub struct_size: usize,
    pub capacity: usize,
    pub drop_message: Option<luminal_drop_fn>,
}

// The functions, in the form of an `extern "C"` block: see `library` for how they are loaded and called.
declare_library! {
    // Runtimes, contexts, wakers, tasks
    pub fn luminal_abi_version() -> u32;
    pub fn luminal_version() -> *const c_char;
    pub fn luminal_status_str(s: luminal_status) -> *const c_char;
    pub fn luminal_status_name(s: luminal_status) -> *const c_char;
    pub fn luminal_debug_gc_count() -> u64;

    pub fn luminal_runtime_new(opts: *const luminal_runtime_options, out: *mut *mut luminal_runtime) -> luminal_status;
    pub fn luminal_runtime_clone(rt: *mut luminal_runtime) -> *mut luminal_runtime;
    pub fn luminal_runtime_release(rt: *mut luminal_runtime);
    pub fn luminal_runtime_shutdown(rt: *mut luminal_runtime, timeout_ns: u64) -> luminal_status;
    pub fn luminal_runtime_worker_count(rt: *mut luminal_runtime) -> u32;
    pub fn luminal_runtime_get_metrics(rt: *mut luminal_runtime, out: *mut luminal_runtime_metrics) -> luminal_status;
    pub fn luminal_runtime_get_worker_metrics(
        rt: *mut luminal_runtime,
        index: u32,
        out: *mut luminal_worker_metrics,
    ) -> luminal_status;

    // Current-thread runtimes, the paused clock
    pub fn luminal_runtime_run(rt: *mut luminal_runtime, max_polls: u32, max_ns: u64, polled: *mut u32) -> luminal_status;
    pub fn luminal_runtime_wakeup_fd(rt: *mut luminal_runtime, fd: *mut c_int) -> luminal_status;
    pub fn luminal_runtime_next_deadline_ns(rt: *mut luminal_runtime, deadline: *mut u64) -> luminal_status;
    pub fn luminal_runtime_now_ns(rt: *mut luminal_runtime) -> u64;
    pub fn luminal_runtime_advance(rt: *mut luminal_runtime, ns: u64) -> luminal_status;

    pub fn luminal_context_runtime(cx: *mut luminal_context) -> *mut luminal_runtime;
    pub fn luminal_context_waker(cx: *mut luminal_context) -> *const luminal_waker;
    pub fn luminal_context_yield(cx: *mut luminal_context) -> luminal_status;
    pub fn luminal_waker_clone(w: *const luminal_waker) -> *mut luminal_waker;
    pub fn luminal_waker_wake(w: *mut luminal_waker);
    pub fn luminal_waker_wake_by_ref(w: *const luminal_waker);
    pub fn luminal_waker_release(w: *mut luminal_waker);
    pub fn luminal_waker_will_wake(a: *const luminal_waker, b: *const luminal_waker) -> c_int;

    pub fn luminal_spawn(rt: *mut luminal_runtime, fut: luminal_future, out: *mut *mut luminal_task) -> luminal_status;
    pub fn luminal_context_spawn(
        cx: *mut luminal_context,
        fut: luminal_future,
        out: *mut *mut luminal_task,
    ) -> luminal_status;
    pub fn luminal_spawn_fn(
        rt: *mut luminal_runtime,
        f: Option<unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void>,
        arg: *mut c_void,
        out: *mut *mut luminal_task,
    ) -> luminal_status;
    pub fn luminal_block_on(rt: *mut luminal_runtime, fut: luminal_future, output: *mut *mut c_void) -> luminal_status;
    pub fn luminal_task_join(t: *mut luminal_task, timeout_ns: u64, output: *mut *mut c_void) -> luminal_status;
    pub fn luminal_task_poll(
        t: *mut luminal_task,
        cx: *mut luminal_context,
        output: *mut *mut c_void,
    ) -> luminal_status;
    pub fn luminal_task_abort(t: *mut luminal_task);
    pub fn luminal_task_is_finished(t: *const luminal_task) -> c_int;
    pub fn luminal_task_release(t: *mut luminal_task);

    // Time
    pub fn luminal_now_ns() -> u64;
    pub fn luminal_sleep(rt: *mut luminal_runtime, duration_ns: u64, out: *mut luminal_future) -> luminal_status;
    pub fn luminal_sleep_until(rt: *mut luminal_runtime, deadline_ns: u64, out: *mut luminal_future) -> luminal_status;
    pub fn luminal_timeout(
        rt: *mut luminal_runtime,
        inner: luminal_future,
        timeout_ns: u64,
        out: *mut luminal_future,
    ) -> luminal_status;

    // Scopes
    pub fn luminal_scope_new(rt: *mut luminal_runtime, out: *mut *mut luminal_scope) -> luminal_status;
    pub fn luminal_scope_close(scope: *mut luminal_scope, timeout_ns: u64) -> luminal_status;
    pub fn luminal_scope_release(scope: *mut luminal_scope);
    pub fn luminal_scope_stats(scope: *mut luminal_scope, stats: *mut luminal_scope_counters) -> luminal_status;
    pub fn luminal_spawn_with(
        rt: *mut luminal_runtime,
        fut: luminal_future,
        opts: *const luminal_spawn_options,
        out: *mut *mut luminal_task,
    ) -> luminal_status;

    // Sync: channels, notify, semaphores
    pub fn luminal_channel_new(
        rt: *mut luminal_runtime,
        opts: *const luminal_channel_options,
        tx: *mut *mut luminal_sender,
        rx: *mut *mut luminal_receiver,
    ) -> luminal_status;
    pub fn luminal_sender_clone(tx: *mut luminal_sender) -> *mut luminal_sender;
    pub fn luminal_sender_release(tx: *mut luminal_sender);
    pub fn luminal_receiver_release(rx: *mut luminal_receiver);
    pub fn luminal_channel_send(
        tx: *mut luminal_sender,
        msg: *mut c_void,
        result: *mut luminal_status,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_channel_try_send(tx: *mut luminal_sender, msg: *mut c_void) -> luminal_status;
    pub fn luminal_channel_recv(
        rx: *mut luminal_receiver,
        msg: *mut *mut c_void,
        result: *mut luminal_status,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_channel_try_recv(rx: *mut luminal_receiver, msg: *mut *mut c_void) -> luminal_status;
    pub fn luminal_oneshot_new(
        rt: *mut luminal_runtime,
        drop_message: Option<luminal_drop_fn>,
        tx: *mut *mut luminal_oneshot_sender,
        rx: *mut *mut luminal_oneshot_receiver,
    ) -> luminal_status;
    pub fn luminal_oneshot_send(tx: *mut luminal_oneshot_sender, msg: *mut c_void) -> luminal_status;
    pub fn luminal_oneshot_sender_release(tx: *mut luminal_oneshot_sender);
    pub fn luminal_oneshot_recv(
        rx: *mut luminal_oneshot_receiver,
        msg: *mut *mut c_void,
        result: *mut luminal_status,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_oneshot_try_recv(rx: *mut luminal_oneshot_receiver, msg: *mut *mut c_void) -> luminal_status;
    pub fn luminal_oneshot_receiver_release(rx: *mut luminal_oneshot_receiver);
    pub fn luminal_notify_new(rt: *mut luminal_runtime, out: *mut *mut luminal_notify) -> luminal_status;
    pub fn luminal_notify_one(n: *mut luminal_notify) -> luminal_status;
    pub fn luminal_notify_all(n: *mut luminal_notify) -> luminal_status;
    pub fn luminal_notify_wait(n: *mut luminal_notify, out: *mut luminal_future) -> luminal_status;
    pub fn luminal_notify_release(n: *mut luminal_notify);

    // Signals
    pub fn luminal_signal_listen(rt: *mut luminal_runtime, signo: i32, out: *mut *mut luminal_signal) -> luminal_status;
    pub fn luminal_signal_recv(
        sig: *mut luminal_signal,
        result: *mut luminal_status,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_signal_release(sig: *mut luminal_signal);
    pub fn luminal_semaphore_new(rt: *mut luminal_runtime, permits: u64, out: *mut *mut luminal_semaphore) -> luminal_status;
    pub fn luminal_semaphore_acquire(
        s: *mut luminal_semaphore,
        n: u32,
        result: *mut luminal_status,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_semaphore_try_acquire(s: *mut luminal_semaphore, n: u32) -> luminal_status;
    pub fn luminal_semaphore_add_permits(s: *mut luminal_semaphore, n: u32) -> luminal_status;
    pub fn luminal_semaphore_close(s: *mut luminal_semaphore) -> luminal_status;
    pub fn luminal_semaphore_release(s: *mut luminal_semaphore);

    // Task sets, join-all, select, scope drain
    pub fn luminal_task_set_new(rt: *mut luminal_runtime, out: *mut *mut luminal_task_set) -> luminal_status;
    pub fn luminal_task_set_spawn(
        set: *mut luminal_task_set,
        fut: luminal_future,
        opts: *const luminal_spawn_options,
    ) -> luminal_status;
    pub fn luminal_task_set_join_next(
        set: *mut luminal_task_set,
        output: *mut *mut c_void,
        result: *mut luminal_status,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_task_set_len(set: *const luminal_task_set) -> usize;
    pub fn luminal_task_set_abort_all(set: *mut luminal_task_set) -> luminal_status;
    pub fn luminal_task_set_release(set: *mut luminal_task_set);
    pub fn luminal_join_all(
        rt: *mut luminal_runtime,
        futs: *mut luminal_future,
        n: usize,
        outputs: *mut *mut c_void,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_select(
        rt: *mut luminal_runtime,
        futs: *mut luminal_future,
        n: usize,
        winner: *mut usize,
        output: *mut *mut c_void,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_scope_drain(scope: *mut luminal_scope, out: *mut luminal_future) -> luminal_status;

    // Priorities and the blocking pool
    pub fn luminal_context_spawn_with(
        cx: *mut luminal_context,
        fut: luminal_future,
        opts: *const luminal_spawn_options,
        out: *mut *mut luminal_task,
    ) -> luminal_status;
    pub fn luminal_spawn_blocking(
        rt: *mut luminal_runtime,
        f: Option<luminal_blocking_fn>,
        arg: *mut c_void,
        out: *mut *mut luminal_task,
    ) -> luminal_status;
    pub fn luminal_spawn_inline(
        rt: *mut luminal_runtime,
        state: *mut c_void,
        size: usize,
        align: usize,
        poll: Option<luminal_poll_fn>,
        drop: Option<luminal_drop_fn>,
        drop_output: Option<luminal_drop_fn>,
        opts: *const luminal_spawn_options,
        out: *mut *mut luminal_task,
    ) -> luminal_status;
    pub fn luminal_context_spawn_inline(
        cx: *mut luminal_context,
        state: *mut c_void,
        size: usize,
        align: usize,
        poll: Option<luminal_poll_fn>,
        drop: Option<luminal_drop_fn>,
        drop_output: Option<luminal_drop_fn>,
        opts: *const luminal_spawn_options,
        out: *mut *mut luminal_task,
    ) -> luminal_status;
    pub fn luminal_spawn_blocking_with(
        rt: *mut luminal_runtime,
        f: Option<luminal_blocking_fn>,
        arg: *mut c_void,
        drop_arg: Option<luminal_drop_fn>,
        opts: *const luminal_spawn_options,
        out: *mut *mut luminal_task,
    ) -> luminal_status;

    // IO
    pub fn luminal_runtime_io_backend(rt: *mut luminal_runtime) -> luminal_io_backend;

    pub fn luminal_file_open(
        rt: *mut luminal_runtime,
        path: *const c_char,
        flags: i32,
        mode: u32,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_file_close(
        rt: *mut luminal_runtime,
        fd: i32,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_file_fsync(
        rt: *mut luminal_runtime,
        fd: i32,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_file_stat(
        rt: *mut luminal_runtime,
        fd: i32,
        info: *mut luminal_file_info,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_file_read_at(
        rt: *mut luminal_runtime,
        fd: i32,
        buf: *mut c_void,
        len: usize,
        offset: u64,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_file_write_at(
        rt: *mut luminal_runtime,
        fd: i32,
        buf: *const c_void,
        len: usize,
        offset: u64,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_file_map(
        rt: *mut luminal_runtime,
        path: *const c_char,
        view: *mut luminal_view,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_view_release(view: *mut luminal_view);
    pub fn luminal_file_read_all(
        rt: *mut luminal_runtime,
        path: *const c_char,
        buffer: *mut luminal_buffer,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_buffer_release(buffer: *mut luminal_buffer);

    pub fn luminal_tcp_listen(
        ip: *const c_char,
        port: u16,
        backlog: i32,
        fd: *mut i32,
        bound_port: *mut u16,
        result: *mut luminal_io_result,
    ) -> luminal_status;
    pub fn luminal_stream_shutdown(fd: i32, how: i32, result: *mut luminal_io_result) -> luminal_status;
    pub fn luminal_pipe(fds: *mut i32, result: *mut luminal_io_result) -> luminal_status;
    pub fn luminal_tcp_accept(
        rt: *mut luminal_runtime,
        listener: i32,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_tcp_connect(
        rt: *mut luminal_runtime,
        ip: *const c_char,
        port: u16,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_stream_read(
        rt: *mut luminal_runtime,
        fd: i32,
        buf: *mut c_void,
        len: usize,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_stream_write(
        rt: *mut luminal_runtime,
        fd: i32,
        buf: *const c_void,
        len: usize,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    // Plugins
    pub fn luminal_plugin_open(
        rt: *mut luminal_runtime,
        path: *const c_char,
        host_data: *mut c_void,
        out: *mut *mut luminal_plugin,
    ) -> luminal_status;
    pub fn luminal_plugin_close(p: *mut luminal_plugin, timeout_ns: u64) -> luminal_status;
    pub fn luminal_plugin_scope(p: *mut luminal_plugin) -> *mut luminal_scope;

    // Addresses, names and more sockets
    pub fn luminal_socket_addr_parse(ip: *const c_char, port: u16, out: *mut luminal_socket_addr) -> luminal_status;
    pub fn luminal_socket_addr_unix(
        path: *const c_char,
        path_len: usize,
        out: *mut luminal_socket_addr,
    ) -> luminal_status;
    pub fn luminal_resolve(
        rt: *mut luminal_runtime,
        host: *const c_char,
        port: u16,
        list: *mut luminal_addr_list,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_addr_list_release(list: *mut luminal_addr_list);
    pub fn luminal_tcp_listen_addr(
        addr: *const luminal_socket_addr,
        backlog: i32,
        flags: u32,
        fd: *mut i32,
        bound: *mut luminal_socket_addr,
        result: *mut luminal_io_result,
    ) -> luminal_status;
    pub fn luminal_tcp_connect_host(
        rt: *mut luminal_runtime,
        host: *const c_char,
        port: u16,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_tcp_connect_addr(
        rt: *mut luminal_runtime,
        addr: *const luminal_socket_addr,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_unix_listen(
        addr: *const luminal_socket_addr,
        backlog: i32,
        fd: *mut i32,
        result: *mut luminal_io_result,
    ) -> luminal_status;
    pub fn luminal_unix_connect(
        rt: *mut luminal_runtime,
        addr: *const luminal_socket_addr,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_socket_local_addr(fd: i32, out: *mut luminal_socket_addr, result: *mut luminal_io_result) -> luminal_status;
    pub fn luminal_socket_peer_addr(fd: i32, out: *mut luminal_socket_addr, result: *mut luminal_io_result) -> luminal_status;
    pub fn luminal_socket_set_option(
        fd: i32,
        option: luminal_socket_option,
        value: i64,
        result: *mut luminal_io_result,
    ) -> luminal_status;
    pub fn luminal_socket_get_option(
        fd: i32,
        option: luminal_socket_option,
        value: *mut i64,
        result: *mut luminal_io_result,
    ) -> luminal_status;
    pub fn luminal_fd_ready(
        rt: *mut luminal_runtime,
        fd: i32,
        interest: u32,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_udp_bind(
        addr: *const luminal_socket_addr,
        flags: u32,
        fd: *mut i32,
        bound: *mut luminal_socket_addr,
        result: *mut luminal_io_result,
    ) -> luminal_status;
    pub fn luminal_udp_connect(fd: i32, addr: *const luminal_socket_addr, result: *mut luminal_io_result) -> luminal_status;
    pub fn luminal_udp_send_to(
        rt: *mut luminal_runtime,
        fd: i32,
        buf: *const c_void,
        len: usize,
        to: *const luminal_socket_addr,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_udp_recv_from(
        rt: *mut luminal_runtime,
        fd: i32,
        buf: *mut c_void,
        len: usize,
        from: *mut luminal_socket_addr,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;

    // Paths
    pub fn luminal_fs_stat(
        rt: *mut luminal_runtime,
        path: *const c_char,
        info: *mut luminal_file_info,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_fs_rename(
        rt: *mut luminal_runtime,
        from: *const c_char,
        to: *const c_char,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_fs_unlink(
        rt: *mut luminal_runtime,
        path: *const c_char,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_fs_mkdir(
        rt: *mut luminal_runtime,
        path: *const c_char,
        mode: u32,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_fs_remove_dir(
        rt: *mut luminal_runtime,
        path: *const c_char,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_fs_read_dir(
        rt: *mut luminal_runtime,
        path: *const c_char,
        list: *mut luminal_dir_list,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_dir_list_release(list: *mut luminal_dir_list);

    // Child processes
    pub fn luminal_process_spawn(
        options: *const luminal_process_options,
        process: *mut luminal_process,
        result: *mut luminal_io_result,
    ) -> luminal_status;
    pub fn luminal_process_wait(
        rt: *mut luminal_runtime,
        process: *const luminal_process,
        result: *mut luminal_io_result,
        out: *mut luminal_future,
    ) -> luminal_status;
    pub fn luminal_process_kill(process: *const luminal_process, signo: i32, result: *mut luminal_io_result) -> luminal_status;
    pub fn luminal_process_release(process: *mut luminal_process);
}
