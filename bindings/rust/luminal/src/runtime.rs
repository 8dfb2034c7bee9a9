//! [`Runtime`] and its [`Builder`].

use crate::context::Handle;
use crate::error::PanicPayload;
use crate::ffi::{self, luminal_context, luminal_runtime};
use crate::spawn::options;
use crate::task::{poll_in_context, spawn_on, JoinHandle, SpawnTarget};
use crate::RuntimeError;
use std::ffi::{c_void, CString};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use crate::hooks::{Hook, Hooks, LogHook, LogLevel, ThreadHook, ThreadKind};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// An owned handle to a Luminal runtime: a pool of worker threads running tasks, or a current-thread runtime
/// ([`Builder::new_current_thread`]) whose tasks run on the thread that drives it ([`block_on`](Self::block_on),
/// [`run`](Self::run), [`time::advance`](crate::time::advance)).
///
/// `Clone` makes another owned handle to the same runtime (`luminal_runtime_clone`); dropping a handle releases
/// it, and releasing the last one shuts the runtime down. `Runtime` is `Send + Sync`: every runtime function is
/// thread-safe.
///
/// Besides its owned handle, a `Runtime` knows the runtime's *borrowed token* (`luminal_context_runtime`: one per
/// runtime, valid as long as the runtime lives, whichever owned handles come and go). Join handles, sleeps and IO
/// operations keep that token, not an owned handle, to spawn their fallback helper task when they are awaited
/// outside of any luminal task (see [`JoinHandle`]): so they do not keep the runtime alive, and still work after
/// the `Runtime` value they were made through is dropped. A runtime built by [`Builder`] learns it at once (one
/// trivial `luminal_block_on` whose poll reads it); [`Runtime::from_raw`] learns it the same way the first time it
/// is needed, and where that is refused (on one of the runtime's own workers) falls back to its owned handle.
pub struct Runtime {
    raw: NonNull<ffi::luminal_runtime>,
    /// The borrowed token, or NULL while unknown (see above).
    home: AtomicPtr<luminal_runtime>,
}

// SAFETY: the handle and the token are thread-safe runtime tokens (the token is only ever passed to the runtime).
unsafe impl Send for Runtime {}
// SAFETY: as above; `home` is an atomic.
unsafe impl Sync for Runtime {}

/// The borrowed token of the runtime `raw`: a `luminal_block_on` of a future whose only poll returns
/// `luminal_context_runtime(cx)` as its output. `None` where `luminal_block_on` refuses (on one of the runtime's
/// workers, after shutdown).
fn probe_home(raw: *mut luminal_runtime) -> Option<*mut luminal_runtime> {
    unsafe extern "C" fn poll(_: *mut c_void, cx: *mut luminal_context, out: *mut *mut c_void) -> ffi::luminal_poll {
        // SAFETY: `cx` is the context of this poll; `out` is NULL or the runtime's output slot.
        unsafe {
            if !out.is_null() {
                *out = ffi::luminal_context_runtime(cx) as *mut c_void;
            }
        }
        ffi::LUMINAL_POLL_READY
    }
    let fut = ffi::luminal_future { state: ptr::null_mut(), poll: Some(poll), drop: None, drop_output: None };
    let mut out = ptr::null_mut();
    // SAFETY: the future owns nothing; `out` receives a plain token.
    let status = unsafe { ffi::luminal_block_on(raw, fut, &mut out) };
    (status == ffi::LUMINAL_OK && !out.is_null()).then_some(out as *mut luminal_runtime)
}

impl Runtime {
    /// Creates a runtime with default options (one worker per logical CPU).
    pub fn new() -> Result<Runtime, RuntimeError> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Wraps an owned `luminal_runtime*` (e.g. from `luminal_runtime_new` in C). Returns `None` for NULL.
    ///
    /// # Safety
    /// `raw` must be an owned handle that nobody else releases.
    pub unsafe fn from_raw(raw: *mut ffi::luminal_runtime) -> Option<Runtime> {
        NonNull::new(raw).map(|raw| Runtime { raw, home: AtomicPtr::new(ptr::null_mut()) })
    }

    /// An owned handle made from the runtime's borrowed token `home` (from `luminal_context_runtime`), which is
    /// then known. `None` if `home` is NULL or stale.
    ///
    /// # Safety
    /// `home` must be NULL or a luminal handle value.
    pub(crate) unsafe fn clone_from_home(home: *mut luminal_runtime) -> Option<Runtime> {
        // SAFETY: the runtime validates the token (the caller's contract says it is one).
        let raw = NonNull::new(unsafe { ffi::luminal_runtime_clone(home) })?;
        Some(Runtime { raw, home: AtomicPtr::new(home) })
    }

    /// The runtime's borrowed token (see the type docs), or the owned handle where it cannot be learnt.
    pub(crate) fn home(&self) -> *mut luminal_runtime {
        let home = self.home.load(Ordering::Relaxed);
        if !home.is_null() {
            return home;
        }
        match probe_home(self.as_raw()) {
            Some(h) => {
                // Relaxed: the token is a plain value; racing stores write the same one.
                self.home.store(h, Ordering::Relaxed);
                h
            }
            None => self.as_raw(),
        }
    }

    /// Makes an owned handle from a *borrowed* `luminal_runtime*`, e.g. one a host passed to a plugin. Returns
    /// `None` if `raw` is NULL or stale.
    ///
    /// # Safety
    /// `raw` must be NULL or a luminal handle value (a stale or foreign one is detected by the runtime).
    pub unsafe fn clone_from_raw(raw: *mut ffi::luminal_runtime) -> Option<Runtime> {
        // SAFETY: the runtime validates `raw` (a stale or foreign one gives NULL); the clone is ours to own.
        unsafe { Runtime::from_raw(ffi::luminal_runtime_clone(raw)) }
    }

    /// The underlying handle, borrowed for as long as `self` lives (pass it to C or to a plugin).
    pub fn as_raw(&self) -> *mut ffi::luminal_runtime {
        self.raw.as_ptr()
    }

    /// Gives up ownership of the underlying handle; release it with `luminal_runtime_release`.
    pub fn into_raw(self) -> *mut ffi::luminal_runtime {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// A [`Handle`] to this runtime. Spawning through it from outside a task goes to the global queue.
    pub fn handle(&self) -> Handle {
        Handle::from_runtime(self.clone())
    }

    /// The number of worker threads (1 for a current-thread runtime: the thread that drives it).
    pub fn worker_count(&self) -> usize {
        // SAFETY: a valid handle (a bad one gives 0).
        unsafe { ffi::luminal_runtime_worker_count(self.as_raw()) as usize }
    }

    /// Spawns `future` onto the runtime's global queue and returns its [`JoinHandle`]. If the runtime is shut
    /// down, the future is dropped and the handle resolves to a cancelled [`JoinError`](crate::JoinError).
    /// Options (priority, scope) and errors at once: [`task::Builder`](crate::task::Builder).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(SpawnTarget::Runtime(self.as_raw()), self.home(), future).unwrap_or_else(JoinHandle::failed)
    }

    /// Runs `f` on the runtime's blocking pool (`luminal_spawn_blocking_with`), never on a worker: for calls that
    /// block (file systems, DNS, legacy APIs). The pool starts a thread when work arrives and none is idle, up to
    /// [`Builder::max_blocking_threads`]; beyond that, calls wait in a queue (most urgent priority first).
    ///
    /// The handle resolves to `f`'s return value; a panic in `f` becomes [`JoinError`](crate::JoinError)
    /// (`is_panic`). [`abort`](JoinHandle::abort) before `f` started cancels it (`f` is dropped, never called); a
    /// running call always runs to its end. Dropping the handle detaches the call; its result is then dropped
    /// when it finishes. Nothing leaks (a call cancelled by shutdown drops its closure too). Priority, scope and
    /// errors at once: [`task::Builder::spawn_blocking_on`](crate::task::Builder::spawn_blocking_on).
    pub fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::blocking::spawn_blocking(self.as_raw(), self.home(), &options(ptr::null_mut(), 0), f)
            .unwrap_or_else(JoinHandle::failed)
    }

    /// The IO backend this runtime uses ([`IoBackend::Uring`] or [`IoBackend::Pool`]; never `Auto`).
    pub fn io_backend(&self) -> IoBackend {
        // SAFETY: a valid handle.
        match unsafe { ffi::luminal_runtime_io_backend(self.as_raw()) } {
            ffi::LUMINAL_IO_URING => IoBackend::Uring,
            ffi::LUMINAL_IO_POOL => IoBackend::Pool,
            _ => IoBackend::Auto,
        }
    }

    /// Runs `future` to completion on the calling thread (which parks between polls while the workers run
    /// everything else) and returns its output. On a current-thread runtime the calling thread drives it: it
    /// runs every ready task while it waits, and a paused clock jumps to the next timer when nothing can run.
    /// The future need not be `Send` or `'static`: it stays on this thread's stack and is dropped here.
    ///
    /// A panic inside `future` resumes on the caller.
    ///
    /// # Panics
    /// If the runtime refuses: when called on one of the runtime's own worker threads, or from inside a task of
    /// a current-thread runtime (`WouldDeadlock`; a blocking call there could deadlock), while another thread
    /// drives a current-thread runtime (`Busy`), or when the runtime is shut down. [`try_block_on`](Self::try_block_on)
    /// returns those errors instead.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.try_block_on(future) {
            Ok(v) => v,
            Err(e) => panic!("luminal::Runtime::block_on failed: {e}"),
        }
    }

    /// Like [`block_on`](Self::block_on), but returns `Err` instead of panicking when the runtime refuses:
    /// `ErrorKind::WouldDeadlock` on one of its worker threads, `ErrorKind::Shutdown` if it is (or gets) shut
    /// down before the future completes. The future has been dropped in either case.
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, RuntimeError> {
        let (status, out) = {
            let mut slot = BlockOn { future, output: None };
            let fut = ffi::luminal_future {
                state: &mut slot as *mut BlockOn<F> as *mut c_void,
                poll: Some(poll_block_on::<F>),
                // `slot` is dropped by this function, on this thread, after luminal_block_on returned.
                drop: None,
                drop_output: None,
            };
            // SAFETY: `slot` outlives the call and is not moved while the runtime may poll it.
            let status = unsafe { ffi::luminal_block_on(self.as_raw(), fut, ptr::null_mut()) };
            (status, slot.output.take())
        };
        RuntimeError::check(status)?;
        match out {
            Some(Ok(v)) => Ok(v),
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL)),
        }
    }

    /// Runs the ready tasks of a current-thread runtime on the calling thread (`luminal_runtime_run`): fires due
    /// timers, reaps IO, then polls until no task is ready, `max_polls` polls were made or `max_time` has passed
    /// (`None`: no limit). Never waits for work and never advances a paused clock. Returns the number of polls.
    ///
    /// Errors: `ErrorKind::Busy` if another thread drives the runtime, `ErrorKind::WouldDeadlock` from inside one
    /// of its tasks, `ErrorKind::InvalidArgument` on a multi-thread runtime, `ErrorKind::Shutdown`.
    pub fn run(&self, max_polls: Option<u32>, max_time: Option<Duration>) -> Result<u32, RuntimeError> {
        let ns = max_time.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1));
        let mut polled = 0u32;
        // SAFETY: a valid handle; `polled` outlives the call.
        RuntimeError::check(unsafe {
            ffi::luminal_runtime_run(self.as_raw(), max_polls.unwrap_or(0), ns, &mut polled)
        })?;
        Ok(polled)
    }

    /// The file descriptor of a current-thread runtime that is readable when it has work to run
    /// (`luminal_runtime_wakeup_fd`): watch it in an event loop and call [`run`](Self::run) when it is. Owned by
    /// the runtime (closed when it shuts down); never read it.
    pub fn wakeup_fd(&self) -> Result<std::os::raw::c_int, RuntimeError> {
        let mut fd = -1;
        // SAFETY: a valid handle; `fd` outlives the call.
        RuntimeError::check(unsafe { ffi::luminal_runtime_wakeup_fd(self.as_raw(), &mut fd) })?;
        Ok(fd)
    }

    /// When the runtime's next timer is due, on its clock (`luminal_runtime_next_deadline_ns`); `None` without
    /// timers.
    pub fn next_deadline(&self) -> Option<crate::time::Instant> {
        let mut ns = u64::MAX;
        // SAFETY: a valid handle; `ns` outlives the call.
        let status = unsafe { ffi::luminal_runtime_next_deadline_ns(self.as_raw(), &mut ns) };
        (status == ffi::LUMINAL_OK && ns != u64::MAX).then(|| crate::time::Instant::from_nanos(ns))
    }

    /// Shuts the runtime down (see `luminal_runtime_shutdown`): new spawns fail, unfinished futures are dropped,
    /// joiners get cancelled, the workers are joined. `timeout` `None` waits as long as it takes; on timeout
    /// (`ErrorKind::TimedOut`) the rest completes in the background. On a worker thread it returns
    /// `ErrorKind::WouldDeadlock` after starting the shutdown. The handle stays valid.
    pub fn shutdown(&self, timeout: Option<Duration>) -> Result<(), RuntimeError> {
        let ns = timeout.map_or(u64::MAX, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        // SAFETY: a valid handle.
        RuntimeError::check(unsafe { ffi::luminal_runtime_shutdown(self.as_raw(), ns) })
    }
}

/// The state of a `block_on` future: it lives on the caller's stack.
struct BlockOn<F: Future> {
    future: F,
    output: Option<Result<F::Output, PanicPayload>>,
}

unsafe extern "C" fn poll_block_on<F: Future>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    // SAFETY: state is the caller's `BlockOn<F>`, pinned on its stack for the whole luminal_block_on call, and
    // polled by one thread at a time.
    let slot = unsafe { &mut *(state as *mut BlockOn<F>) };
    // SAFETY: the future is never moved while the runtime may poll it (see above); `cx` is this poll's context.
    match unsafe { poll_in_context(Pin::new_unchecked(&mut slot.future), cx) } {
        Poll::Pending => ffi::LUMINAL_POLL_PENDING,
        Poll::Ready(r) => {
            slot.output = Some(r);
            if !output.is_null() {
                // SAFETY: the runtime's output slot for this poll.
                unsafe { *output = ptr::null_mut() };
            }
            ffi::LUMINAL_POLL_READY
        }
    }
}

impl AsRef<Runtime> for Runtime {
    fn as_ref(&self) -> &Runtime {
        self
    }
}

impl Clone for Runtime {
    fn clone(&self) -> Runtime {
        // SAFETY: a valid handle; cloning never fails for one.
        let raw = unsafe { ffi::luminal_runtime_clone(self.as_raw()) };
        let raw = NonNull::new(raw).expect("luminal_runtime_clone failed on a live handle");
        Runtime { raw, home: AtomicPtr::new(self.home.load(Ordering::Relaxed)) }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // SAFETY: we own the handle.
        unsafe { ffi::luminal_runtime_release(self.as_raw()) }
    }
}

/// `luminal_abi_version()`, or in this crate's unit tests the fake answer [`tests::fake_abi_version`] set on this
/// thread.
fn library_abi_version() -> u32 {
    #[cfg(test)]
    if let Some(v) = tests::FAKE_ABI_VERSION.get() {
        return v;
    }
    // SAFETY: no preconditions.
    unsafe { ffi::luminal_abi_version() }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("raw", &self.raw).finish()
    }
}

/// Configures and creates a [`Runtime`]: `Runtime::builder().worker_threads(4).thread_name("app").build()`.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    worker_threads: usize,
    thread_name: Option<String>,
    max_blocking_threads: usize,
    blocking_keep_alive: Option<Duration>,
    io_backend: IoBackend,
    on_thread_start: Option<ThreadHook>,
    on_thread_stop: Option<ThreadHook>,
    log: Option<(LogLevel, LogHook)>,
    current_thread: bool,
    start_paused: bool,
    seed: u64,
}

/// Which IO backend a runtime uses for [`fs`](crate::fs) and [`net`](crate::net) (`luminal_io_backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IoBackend {
    /// io_uring when the kernel allows it, else `Pool`. The environment variable `LUMINAL_IO_BACKEND=uring|pool`
    /// (read when the runtime is created) forces one.
    #[default]
    Auto,
    /// io_uring only: building the runtime fails with `ErrorKind::Unsupported` without it.
    Uring,
    /// Plain system calls on the blocking pool.
    Pool,
}

impl Builder {
    /// A builder with the defaults.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// A builder for a current-thread runtime (`LUMINAL_FLAVOR_CURRENT_THREAD`): it starts no thread, and its
    /// tasks run only on a thread that drives it — [`Runtime::block_on`], [`Runtime::run`] (an event loop's way,
    /// with [`Runtime::wakeup_fd`]) or [`time::advance`](crate::time::advance). Any thread may spawn onto it and
    /// wake its tasks; one thread drives it at a time (others get `ErrorKind::Busy`). What its tasks do — and a
    /// [`JoinHandle`] or [`time::Sleep`](crate::time::Sleep) of it awaited outside its tasks, whose helper task
    /// runs there too — progresses only while some thread drives it.
    pub fn new_current_thread() -> Builder {
        Builder { current_thread: true, ..Builder::default() }
    }

    /// Starts the runtime's clock paused (`LUMINAL_CLOCK_PAUSED`; current-thread runtimes only, else `build`
    /// fails with `ErrorKind::InvalidArgument`): time moves only by [`time::advance`](crate::time::advance), or
    /// inside [`Runtime::block_on`] when nothing can run (it then jumps to the next timer), so a test of an
    /// hour-long timeout runs in microseconds. Timers still fire on 250 us ticks.
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// Runs ready tasks in a pseudo-random order drawn from `seed` (0 = off, the default; current-thread runtimes
    /// only): two runs with one seed make the same choices, so an interleaving found with a seed replays with it.
    pub fn seed(&mut self, seed: u64) -> &mut Builder {
        self.seed = seed;
        self
    }

    /// The number of worker threads; 0 (the default) means one per logical CPU. At most 1024.
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        self.worker_threads = n;
        self
    }

    /// The worker thread name prefix (default "luminal-w"); workers are named PREFIX-INDEX. Linux keeps 15 bytes of
    /// a thread name: keep the prefix short enough for the index to survive.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = Some(name.into());
        self
    }

    /// The cap of the blocking pool ([`Runtime::spawn_blocking`], and the IO of the `Pool` backend); 0 (the
    /// default) means 512. At most 65536.
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking-pool thread lives before it exits (default 10 s; rounded up to whole
    /// milliseconds, at least 1 ms).
    pub fn blocking_keep_alive(&mut self, d: Duration) -> &mut Builder {
        self.blocking_keep_alive = Some(d);
        self
    }

    /// The IO backend (default [`IoBackend::Auto`]).
    pub fn io_backend(&mut self, backend: IoBackend) -> &mut Builder {
        self.io_backend = backend;
        self
    }

    /// Calls `f(kind, index)` on each runtime thread as it starts, before it runs anything: every worker (all of
    /// them before `build` returns), every blocking-pool thread, every IO helper thread. For thread names,
    /// affinity, or attaching another runtime (a JVM, Python) to the thread.
    pub fn on_thread_start(&mut self, f: impl Fn(ThreadKind, usize) + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_start = Some(Hook(Arc::new(f)));
        self
    }

    /// Calls `f(kind, index)` on each runtime thread just before it exits (workers: during shutdown).
    pub fn on_thread_stop(&mut self, f: impl Fn(ThreadKind, usize) + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_stop = Some(Hook(Arc::new(f)));
        self
    }

    /// Sends the runtime's log lines up to `level` to `f` instead of stderr (`LUMINAL_LOG=...` without a hook):
    /// the IO backend chosen and why, an unknown `LUMINAL_IO_BACKEND`, a scope released with live tasks,
    /// internal errors. Called on any thread, never with a runtime lock held.
    pub fn on_log(&mut self, level: LogLevel, f: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> &mut Builder {
        self.log = Some((level, Hook(Arc::new(f))));
        self
    }

    /// Creates the runtime and starts its workers. Fails with `ErrorKind::InvalidArgument` for more than 1024
    /// workers, more than 65536 blocking threads, a thread name containing NUL, or a paused clock or seed on a
    /// multi-thread runtime, and with
    /// `ErrorKind::Unsupported` for [`IoBackend::Uring`] where io_uring is unavailable.
    ///
    /// Before anything else it loads libluminal (see [`library`](crate::library)) and compares its
    /// `luminal_abi_version()` with [`ffi::LUMINAL_ABI_VERSION`]: it fails with `ErrorKind::LibraryNotLoaded` if
    /// no library can be loaded and with `ErrorKind::AbiMismatch` if the versions differ.
    pub fn build(&self) -> Result<Runtime, RuntimeError> {
        crate::library::functions().map_err(RuntimeError::library_not_loaded)?;
        let abi = library_abi_version();
        if abi != ffi::LUMINAL_ABI_VERSION {
            return Err(RuntimeError::abi_mismatch(abi));
        }
        let invalid = RuntimeError::from_status(ffi::LUMINAL_E_INVALID_ARGUMENT);
        let workers = u32::try_from(self.worker_threads).map_err(|_| invalid)?;
        let name = match &self.thread_name {
            Some(n) => Some(CString::new(n.as_str()).map_err(|_| invalid)?),
            None => None,
        };
        let max_blocking = u32::try_from(self.max_blocking_threads).map_err(|_| invalid)?;
        let keep_alive_ms = match self.blocking_keep_alive {
            None => 0,
            Some(d) => u32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX).max(1),
        };
        let mut opts = ffi::luminal_runtime_options {
            struct_size: std::mem::size_of::<ffi::luminal_runtime_options>(),
            worker_threads: workers,
            thread_name: name.as_ref().map_or(ptr::null(), |n| n.as_ptr()),
            max_blocking_threads: max_blocking,
            blocking_keep_alive_ms: keep_alive_ms,
            io_backend: match self.io_backend {
                IoBackend::Auto => ffi::LUMINAL_IO_AUTO,
                IoBackend::Uring => ffi::LUMINAL_IO_URING,
                IoBackend::Pool => ffi::LUMINAL_IO_POOL,
            },
            log: None,
            log_user: ptr::null_mut(),
            log_level: self.log.as_ref().map_or(0, |(level, _)| *level as ffi::luminal_log_level),
            debug_plugins: 0,
            on_thread_start: None,
            on_thread_stop: None,
            thread_hook_user: ptr::null_mut(),
            task_hook: None,
            task_hook_user: ptr::null_mut(),
            flavor: if self.current_thread {
                ffi::LUMINAL_FLAVOR_CURRENT_THREAD
            } else {
                ffi::LUMINAL_FLAVOR_MULTI_THREAD
            },
            clock: if self.start_paused { ffi::LUMINAL_CLOCK_PAUSED } else { ffi::LUMINAL_CLOCK_MONOTONIC },
            seed: self.seed,
        };
        Hooks {
            start: self.on_thread_start.clone(),
            stop: self.on_thread_stop.clone(),
            log: self.log.as_ref().map(|(_, f)| f.clone()),
        }
        .install(&mut opts);
        let mut raw = ptr::null_mut();
        // SAFETY: opts and the name are borrowed for the call only.
        RuntimeError::check(unsafe { ffi::luminal_runtime_new(&opts, &mut raw) })?;
        // SAFETY: a fresh owned handle.
        let rt = unsafe { Runtime::from_raw(raw) }.ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL))?;
        rt.home(); // learn the borrowed token now, on this (non-worker) thread
        Ok(rt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::cell::Cell;

    thread_local! {
        /// What `library_abi_version` answers on this thread instead of the library (test-only).
        pub(super) static FAKE_ABI_VERSION: Cell<Option<u32>> = const { Cell::new(None) };
    }

    /// Makes the library seem to answer `v` (or itself, for `None`) to `luminal_abi_version` on this thread.
    pub(super) fn fake_abi_version(v: Option<u32>) {
        FAKE_ABI_VERSION.set(v);
    }

    #[test]
    fn a_library_of_another_abi_version_is_refused() {
        for other in [ffi::LUMINAL_ABI_VERSION + 1, ffi::LUMINAL_ABI_VERSION.wrapping_sub(1), 0, u32::MAX] {
            if other == ffi::LUMINAL_ABI_VERSION {
                continue;
            }
            fake_abi_version(Some(other));
            let e = Runtime::builder().worker_threads(1).build().expect_err("a mismatched ABI must be refused");
            fake_abi_version(None);
            assert_eq!(e.kind(), ErrorKind::AbiMismatch);
            assert_eq!(e.status(), ffi::LUMINAL_E_UNSUPPORTED);
            assert!(!e.is_shutdown() && !e.is_would_deadlock());
            let text = e.to_string();
            assert!(text.contains(&format!("ABI version {other},")), "{text}");
            assert!(text.contains(&format!("needs ABI version {}", ffi::LUMINAL_ABI_VERSION)), "{text}");
            assert!(text.contains("LUMINAL_LIB_DIR"), "{text}");
            let io: std::io::Error = e.into();
            assert!(io.to_string().contains("ABI version"), "{io}");
            assert!(format!("{e:?}").contains("AbiMismatch"));
        }
        // The same builder works with the library's real answer.
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        assert_eq!(rt.block_on(async { 6 * 7 }), 42);
        assert_eq!(crate::abi_version(), ffi::LUMINAL_ABI_VERSION);
    }
}
