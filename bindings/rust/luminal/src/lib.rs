//! # luminal — a tokio-style async API over libluminal
//!
//! Luminal is an async runtime in one shared library with a plain C ABI (`include/luminal.h`). This crate (std
//! only, no dependencies) runs Rust futures on it:
//!
//! ```no_run
//! use luminal::Runtime;
//!
//! async fn hello_world() {
//!     println!("hello, world!");
//! }
//!
//! let rt = Runtime::new().unwrap();
//! let rt_clone = rt.clone();
//! rt.block_on(async move {
//!     let _ = rt_clone.spawn(hello_world()).await;
//!     // Inside a task, spawn onto the current worker's local queue:
//!     let answer = luminal::spawn(async { 6 * 7 }).await.unwrap();
//!     assert_eq!(answer, 42);
//! });
//! ```
//!
//! ## The API
//!
//! * [`Runtime`] (`Clone + Send + Sync`; a clone is `luminal_runtime_clone`, a drop is `luminal_runtime_release`)
//!   with [`Runtime::builder`], [`Runtime::spawn`], [`Runtime::block_on`] / [`Runtime::try_block_on`],
//!   [`Runtime::shutdown`].
//! * [`JoinHandle<T>`]: a `Future<Output = Result<T, JoinError>>` with [`abort`](JoinHandle::abort) and
//!   [`is_finished`](JoinHandle::is_finished); dropping it detaches the task. [`JoinError`] tells a cancelled
//!   task from a panicked one.
//! * [`Handle`] ([`Handle::current`] inside a task), [`spawn`] and [`yield_now`] for code running in a task.
//! * Spawning: [`Runtime::spawn`], [`Handle::spawn`] and [`spawn`] (inside a task) are the simple way;
//!   [`task::Builder`] is the one configurable way — a [`Priority`], a [`Scope`], a `Result` instead of a handle
//!   that fails later, onto the current task ([`Builder::spawn`](task::Builder::spawn)) or a `Runtime` / `Handle`
//!   ([`spawn_on`](task::Builder::spawn_on)), for blocking closures
//!   ([`spawn_blocking_on`](task::Builder::spawn_blocking_on)) and C-ABI outputs
//!   ([`spawn_raw_on`](task::Builder::spawn_raw_on)). Unset options inherit the current task's where the spawn is
//!   made from inside it.
//! * [`RawTask`], [`waker`] and [`ffi`] for crossing C / plugin boundaries.
//! * [`time`]: [`time::sleep`], [`time::sleep_until`], [`time::timeout`] and [`time::Instant`] on the runtime's
//!   timer wheel and clock. The runtime is passed explicitly (`time::sleep(&rt, d)`, with a [`Runtime`] or a
//!   [`Handle`]).
//! * [`Runtime::spawn_blocking`] / [`Handle::spawn_blocking`]: closures on the blocking pool (panics become
//!   [`JoinError`]; nothing leaks, also when shutdown cancels a queued call), sized with
//!   [`Builder::max_blocking_threads`] and [`Builder::blocking_keep_alive`].
//! * [`fs`] and [`net`]: files (caller's buffer, runtime-owned buffer, mapped view), TCP and pipes on io_uring
//!   or the blocking pool ([`Builder::io_backend`], [`IoBackend`]), with `std::io::Error`s. See
//!   [`fs`'s buffer-safety notes](fs#buffer-safety).
//! * [`sync`]: [`sync::mpsc`] channels, [`sync::oneshot`], [`sync::Notify`], [`sync::Semaphore`] and
//!   [`sync::Mutex`] on the runtime's own primitives, whose handles cross plugin boundaries (runtime-agnostic
//!   crates such as `tokio::sync` also work on Luminal inside one binary).
//! * [`task::JoinSet`] (tasks joined in finishing order), [`task::join_all`], [`task::select`] and [`join!`]: on the
//!   runtime's task sets and combinators (`luminal_task_set_*`, `luminal_join_all`, `luminal_select`), the
//!   combinators polling their children inside the awaiting task. Runtime-agnostic combinators and channels
//!   (`futures`, `tokio::sync`, ...) also work on Luminal inside a single binary, as they need only a `Waker`; only
//!   Luminal handles (a channel's sender, a task set) cross a plugin boundary.
//! * Current-thread runtimes ([`Builder::new_current_thread`]): tasks run on the thread that drives the runtime
//!   ([`Runtime::block_on`], [`Runtime::run`] with [`Runtime::wakeup_fd`] in an event loop); a paused clock
//!   ([`Builder::start_paused`], [`time::advance`]) and a seeded task order ([`Builder::seed`]) for tests, with
//!   [`testing::block_on_paused`] and [`paused_test!`] as `#[test]` helpers.
//! * [`Scope`]: tasks cancelled as one (spawned with [`task::Builder::scope`], [`Scope::close`],
//!   [`Scope::stats`]); closing a plugin's scope is what makes unloading the plugin safe while the runtime runs on.
//! * [`plugin`]: the plugin contract of include/luminal_plugin.h: a plugin in Rust ([`plugin::Entry`] and
//!   [`export_plugin!`]) and the host's [`plugin::Plugin`] (open, close with a timeout: scope drained, fini,
//!   unload).
//!
//! ## Design
//!
//! * **Futures.** A spawned future costs one allocation: a cell, the `state` of a `luminal_future`, that holds
//!   the future and, once it completed (the future is then dropped in place), its `Result<T, PanicPayload>`;
//!   the READY poll hands the cell out as the output, and the cell is freed when both the runtime
//!   (`drop(state)`) and the output's taker (the `JoinHandle`, or `drop_output` if nobody joins) let go. `block_on`'s future is not boxed: it
//!   stays on the caller's stack (so it need not be `Send` or `'static`) and is dropped there.
//! * **Wakers.** A Rust [`Waker`](std::task::Waker) is a `luminal_waker` one to one: the `RawWaker` data pointer
//!   *is* the `luminal_waker*`, and clone / wake / wake_by_ref / drop are the runtime's functions. A poll builds
//!   the `Waker` of the borrowed context waker on the stack: nothing is allocated per poll.
//! * **Panics** are caught at the poll boundary and never unwind through `extern "C"`. In a spawned task the
//!   panic becomes [`JoinError`] (`is_panic`, `into_panic`); in `block_on` it resumes on the caller. Panicking
//!   destructors are caught too.
//! * **Blocking on a worker** (`block_on` inside a task) is refused by the runtime with
//!   `LUMINAL_E_WOULD_DEADLOCK`: [`Runtime::try_block_on`] returns it as [`RuntimeError`]
//!   (`is_would_deadlock()`), [`Runtime::block_on`] panics with it (like tokio does) instead of hanging.
//! * **Context and plugins.** The runtime keeps no thread-local state; it passes a `luminal_context*` to each
//!   poll. This crate makes it reachable during the poll through a thread-local *of this copy of the crate*,
//!   set only around polls of futures spawned through this copy. Each plugin that links the crate has its own
//!   copy, so no copy ever sees another's context; see [`context`] for the full argument and
//!   for what degrades (gracefully) when futures cross copies.
//! * **Runtime-provided futures** (a [`JoinHandle`], a [`time::Sleep`], an IO operation) are awaited through one
//!   adapter: polled with the awaiting task's own `luminal_context` when the Rust waker is that task's own waker
//!   (no allocation); otherwise (combinators, other executors, another copy of the crate, a plain thread) a small
//!   helper task polls it with its own context and wakes the Rust waker. Outside any task the helper goes to the
//!   runtime the future belongs to: no OS thread is started per awaited handle.
//! * **Unsafe code**: the crate denies `unsafe_op_in_unsafe_fn` and `clippy::undocumented_unsafe_blocks`; every
//!   unsafe block and impl says why it is sound in a `// SAFETY:` comment.
//!
//! ## Finding the library
//!
//! The crate does not link libluminal: it loads it (`dlopen`) on first use, from `LUMINAL_LIB_DIR` if set at run
//! time, else from the directory `build.rs` found (`LUMINAL_LIB_DIR`, else `pkg-config luminal`, else the
//! repository's `build/lib`), else by its soname through the loader's search; a libluminal already loaded in the
//! process (by a host, for a plugin) is used first. So a program that depends on the crate starts without
//! `LD_LIBRARY_PATH` and needs no build script of its own. See [`library`] for the details and the reasons, and
//! [`ErrorKind::LibraryNotLoaded`] / [`ErrorKind::AbiMismatch`] for how `Runtime::new` reports a missing or
//! mismatched library. The package is named `libluminal` (the name `luminal` is taken on crates.io); the library
//! keeps the name `luminal` (`use luminal::Runtime`).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod addr;
mod await_raw;
mod blocking;
mod combine;
pub mod context;
mod error;
mod hooks;
mod metrics;
pub mod ffi;
pub mod fs;
pub mod io;
mod io_op;
mod join_set;
pub mod library;
pub mod net;
pub mod plugin;
mod priority;
pub mod process;
mod runtime;
mod scope;
pub mod signal;
mod spawn;
mod task_inline;
pub mod sync;
pub mod task;
pub mod testing;
pub mod time;
pub mod waker;

pub use context::{in_task, spawn, yield_now, Handle, YieldNow};
pub use error::{ErrorKind, JoinError, PanicPayload, RuntimeError};
pub use priority::Priority;
pub use hooks::{LogLevel, ThreadKind};
pub use metrics::{RuntimeMetrics, RuntimeStats, WorkerMetrics};
pub use runtime::{Builder, IoBackend, Runtime};
pub use scope::{Scope, ScopeStats};
pub use task::{JoinHandle, RawTask};

/// The library's version string (`luminal_version`), e.g. "0.1.0". Panics if libluminal cannot be loaded.
pub fn version() -> &'static str {
    // SAFETY: a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(ffi::luminal_version()) }.to_str().unwrap_or("?")
}

/// The ABI version of the loaded library (`luminal_abi_version`); compare with [`ffi::LUMINAL_ABI_VERSION`].
/// Panics if libluminal cannot be loaded.
pub fn abi_version() -> u32 {
    // SAFETY: never fails.
    unsafe { ffi::luminal_abi_version() }
}
