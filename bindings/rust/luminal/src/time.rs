//! Time: [`Instant`] on the runtime's clock, [`sleep`] / [`sleep_until`] ([`Sleep`]) and [`timeout`]
//! ([`Timeout`], [`Elapsed`]).
//!
//! ```no_run
//! use luminal::{time, Runtime};
//! use std::time::Duration;
//!
//! let rt = Runtime::new().unwrap();
//! let rt2 = rt.clone();
//! rt.block_on(async move {
//!     let start = time::Instant::now();
//!     time::sleep(&rt2, Duration::from_millis(20)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(20));
//!
//!     let slow = time::sleep(&rt2, Duration::from_secs(60));
//!     assert!(time::timeout(&rt2, Duration::from_millis(10), slow).await.is_err());
//! });
//! ```
//!
//! # The runtime is passed explicitly
//!
//! The runtime keeps no thread-local state, and a plugin's copy of this crate cannot see the host's, so every
//! timer function takes the runtime whose timer wheel it uses: anything that is `AsRef<Runtime>` — a
//! [`Runtime`], a [`Handle`](crate::Handle) (e.g. `&Handle::current()` inside a task) or an
//! `Arc<Runtime>`. Timers run on their runtime's clock: `luminal_now_ns` (which [`Instant::now`] reads), unless
//! the runtime was built with a paused clock ([`Builder::start_paused`](crate::runtime::Builder::start_paused)):
//! then only [`advance`] (and `block_on` when nothing can run) moves it, and [`now`] reads it.
//!
//! # How a [`Sleep`] is polled
//!
//! A `Sleep` owns a runtime timer future (`luminal_sleep_until`) and calls its `drop` exactly once: when it
//! completes, or when the `Sleep` is dropped (a pending timer is then taken out of the wheel; it never wakes
//! anyone afterwards). It is awaited through the crate's one adapter for runtime-provided futures
//! (`AwaitRaw`, like a `JoinHandle` or an IO operation): awaited directly by a task of this
//! copy of the crate, the timer is polled with the task's own context and the wheel wakes the task; under any
//! other waker (a combinator's, a foreign executor's, another copy of the crate's) a small helper task polls it
//! and wakes the Rust waker. The helper is spawned on the current context if there is one (so inside a scoped
//! task it joins the same [`Scope`](crate::Scope)), else on the runtime the `Sleep` was made with. Plugins should
//! await their sleeps from their own tasks, so that no helper task outside their scope runs their code.
//!
//! The binding itself guarantees that a `Sleep` never completes before its deadline: if the runtime's timer
//! fires and [`Instant::now`] is still before the deadline, a new timer is armed. Each runtime timer is set at
//! most ~198 days ahead (longer sleeps re-arm), which also works around a runtime bug with timers beyond the
//! timing wheel's span (~795 days).
//!
//! A `Sleep` keeps only the runtime's borrowed token, so a sleeping task does not keep its runtime alive. If the
//! runtime refused the timer ([`try_sleep_until`] returns that error), or is shut down before a fallback helper
//! could see the timer fire, polling the `Sleep` panics with a message saying so: a sleep that can never complete
//! must not silently hang nor return early.

use crate::await_raw::{AwaitRaw, RawPoll};
use crate::context;
use crate::ffi::{self, luminal_context};
use crate::{Runtime, RuntimeError};
use std::fmt;
use std::future::Future;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};
use std::time::Duration;

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The time on the clock of the runtime `rt` (a handle or its borrowed token; 0 for a stale one).
fn clock_ns(rt: *mut ffi::luminal_runtime) -> u64 {
    // SAFETY: a runtime handle value; a stale one is detected (0).
    unsafe { ffi::luminal_runtime_now_ns(rt) }
}

/// The current time on `rt`'s clock (`luminal_runtime_now_ns`): [`Instant::now`] unless its clock is paused.
pub fn now<R: AsRef<Runtime> + ?Sized>(rt: &R) -> Instant {
    Instant { ns: clock_ns(rt.as_ref().as_raw()) }
}

/// Moves the paused clock of the current-thread runtime `rt` forward by exactly `d` (`luminal_runtime_advance`),
/// visiting each timer on the way in deadline order: the timers due fire and, called outside the runtime's
/// tasks, the tasks they wake run before time goes on. Called from inside one of its tasks (say, in a
/// `block_on`), it only fires the timers: what they wake runs when that task yields.
///
/// # Panics
/// If the runtime refuses: its clock is not paused, another thread drives it, it is shut down. See
/// [`try_advance`].
pub fn advance<R: AsRef<Runtime> + ?Sized>(rt: &R, d: Duration) {
    if let Err(e) = try_advance(rt, d) {
        panic!("luminal::time::advance failed: {e}");
    }
}

/// Like [`advance`], returning the runtime's error: `ErrorKind::InvalidArgument` (the clock is not paused),
/// `ErrorKind::Busy` (another thread drives it), `ErrorKind::Shutdown`.
pub fn try_advance<R: AsRef<Runtime> + ?Sized>(rt: &R, d: Duration) -> Result<(), RuntimeError> {
    // SAFETY: a valid handle.
    RuntimeError::check(unsafe { ffi::luminal_runtime_advance(rt.as_ref().as_raw(), duration_ns(d)) })
}

// ------------------------------------------------------------------------------------------------------------
// Instant
// ------------------------------------------------------------------------------------------------------------

/// A point in time on a runtime's clock: the monotonic clock (`luminal_now_ns`) that every runtime's timers use
/// unless its clock is paused (then [`now`] reads that runtime's time).
///
/// Like [`std::time::Instant`], but comparable with timer deadlines exactly: a [`Sleep`] until `t` completes at
/// the earliest when `Instant::now() >= t`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    ns: u64,
}

impl Instant {
    /// The current time (`luminal_now_ns`).
    pub fn now() -> Instant {
        // SAFETY: never fails.
        Instant { ns: unsafe { ffi::luminal_now_ns() } }
    }

    /// The instant `ns` nanoseconds after the clock's (arbitrary) start, as `luminal_now_ns` counts.
    pub const fn from_nanos(ns: u64) -> Instant {
        Instant { ns }
    }

    /// Nanoseconds since the clock's start: the value to pass to `luminal_sleep_until`.
    pub const fn as_nanos(&self) -> u64 {
        self.ns
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later (like `std::time::Instant`).
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.ns.checked_sub(earlier.ns).map(Duration::from_nanos)
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.ns.saturating_sub(earlier.ns))
    }

    /// The time passed since `self`.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        u64::try_from(d.as_nanos()).ok().and_then(|n| self.ns.checked_add(n)).map(Instant::from_nanos)
    }

    /// `self - d`, or `None` before the clock's start.
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        u64::try_from(d.as_nanos()).ok().and_then(|n| self.ns.checked_sub(n)).map(Instant::from_nanos)
    }

    /// `self + d`, capped at the far future (useful for "no deadline").
    pub fn saturating_add(&self, d: Duration) -> Instant {
        Instant { ns: self.ns.saturating_add(duration_ns(d)) }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// On overflow (use [`Instant::checked_add`] or [`Instant::saturating_add`]).
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d).expect("overflow when adding a duration to a luminal::time::Instant")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// Before the clock's start (use [`Instant::checked_sub`]).
    fn sub(self, d: Duration) -> Instant {
        self.checked_sub(d).expect("overflow when subtracting a duration from a luminal::time::Instant")
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Same as [`Instant::duration_since`] (zero if `earlier` is later).
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.ns))
    }
}

// ------------------------------------------------------------------------------------------------------------
// Sleep
// ------------------------------------------------------------------------------------------------------------

/// Waits until `duration` has passed, on `rt`'s timer wheel. See [`Sleep`].
///
/// # Panics
/// Awaiting it panics if the runtime refused the timer (shut down); use [`try_sleep_until`] to get that error.
pub fn sleep<R: AsRef<Runtime> + ?Sized>(rt: &R, duration: Duration) -> Sleep {
    sleep_until(rt, now(rt).saturating_add(duration))
}

/// Waits until `deadline` (a past deadline completes at the first poll). See [`Sleep`].
///
/// # Panics
/// Awaiting it panics if the runtime refused the timer (shut down); use [`try_sleep_until`] to get that error.
pub fn sleep_until<R: AsRef<Runtime> + ?Sized>(rt: &R, deadline: Instant) -> Sleep {
    let rt = rt.as_ref();
    try_sleep_until(rt, deadline).unwrap_or_else(|e| Sleep {
        deadline,
        clock: rt.as_raw() as usize,
        state: State::Failed(e),
    })
}

/// Like [`sleep_until`], but returns the runtime's error (`ErrorKind::Shutdown`, ...) instead of a `Sleep` that
/// panics when polled.
pub fn try_sleep_until<R: AsRef<Runtime> + ?Sized>(rt: &R, deadline: Instant) -> Result<Sleep, RuntimeError> {
    let rt = rt.as_ref();
    let fut = new_timer(rt.as_raw(), deadline.ns)?;
    let home = rt.home();
    let timer = Timer { fut, deadline_ns: deadline.ns, home: home as usize };
    Ok(Sleep { deadline, clock: home as usize, state: State::Timer(AwaitRaw::new(timer, home)) })
}

/// The farthest a single runtime timer is set: about 198 days (2^34 ms). A longer sleep re-arms when it fires.
///
/// Works around a runtime bug: a timer more than the timing wheel's span (2^36 ticks of 1 ms, ~2.2 years) ahead
/// lands on a wheel level that does not exist, the poll throws internally, and the runtime's poll reports that as
/// READY, so the sleep completed at once.
const HORIZON_NS: u64 = (1u64 << 34) * 1_000_000;

/// Makes a runtime timer future for `deadline_ns`, capped at `HORIZON_NS` from now.
fn new_timer(rt: *mut ffi::luminal_runtime, deadline_ns: u64) -> Result<ffi::luminal_future, RuntimeError> {
    let cap = clock_ns(rt).saturating_add(HORIZON_NS);
    let mut fut = ffi::luminal_future { state: ptr::null_mut(), poll: None, drop: None, drop_output: None };
    // SAFETY: `rt` is a runtime handle (a stale one is reported); `fut` receives an owned future.
    RuntimeError::check(unsafe { ffi::luminal_sleep_until(rt, deadline_ns.min(cap), &mut fut) })?;
    if fut.poll.is_none() {
        drop_raw(fut);
        return Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
    }
    Ok(fut)
}

/// Polls the owned timer future `*fut` of the runtime `home` (its borrowed token, whose clock the deadline is on)
/// with the context `lcx` until the real `deadline_ns` has passed. A timer
/// that fires before it (a capped long sleep, or a runtime that fired early) is replaced by a new one, so the
/// binding itself guarantees that a sleep never completes early. On `Ready` or `Err` the caller still owns
/// `*fut` and must drop it.
///
/// # Safety
/// `*fut` must be an owned, undropped timer future and `lcx` the context of the poll in progress.
unsafe fn poll_timer(
    fut: &mut ffi::luminal_future,
    deadline_ns: u64,
    home: *mut ffi::luminal_runtime,
    lcx: *mut luminal_context,
) -> Result<Poll<()>, RuntimeError> {
    for _ in 0..2 {
        let mut out = ptr::null_mut();
        let poll = fut.poll.expect("checked by new_timer");
        // SAFETY: an owned, undropped timer future polled with the live context (the caller's contract).
        if unsafe { poll(fut.state, lcx, &mut out) } != ffi::LUMINAL_POLL_READY {
            return Ok(Poll::Pending);
        }
        if out == ffi::LUMINAL_FAILED_OUTPUT {
            // The runtime could not run the timer (shut down, inherited across fork): it will never fire.
            return Err(RuntimeError::from_status(ffi::LUMINAL_E_SHUTDOWN));
        }
        // The timer's own runtime (a task of any runtime may await it); if that handle went stale (an owned handle
        // stood in for the token, see Runtime::home), the runtime of the poll's context, as before.
        let mut rt = home;
        let mut now = clock_ns(rt);
        if now == 0 {
            // SAFETY: `lcx` is live (the caller's contract); the token it gives is valid while the runtime lives.
            rt = unsafe { ffi::luminal_context_runtime(lcx) };
            now = clock_ns(rt);
        }
        if now >= deadline_ns {
            return Ok(Poll::Ready(()));
        }
        let next = new_timer(rt, deadline_ns)?;
        drop_raw(std::mem::replace(fut, next));
    }
    // The runtime keeps firing early: try again at the next poll rather than spin here.
    // SAFETY: `lcx` is live; its waker is borrowed for the call.
    unsafe { ffi::luminal_waker_wake_by_ref(context::waker_of(lcx)) };
    Ok(Poll::Pending)
}

/// The runtime's timer future for one deadline: the [`RawPoll`] source a [`Sleep`] awaits.
struct Timer {
    /// Owned: its `drop` runs once, in `Drop for Timer`.
    fut: ffi::luminal_future,
    deadline_ns: u64,
    /// The runtime's borrowed token, as an integer (the clock the deadline is on, and where a re-armed timer goes).
    home: usize,
}

// SAFETY: the timer future may be polled and dropped on any thread (never concurrently: that takes `&mut`).
unsafe impl Send for Timer {}

impl RawPoll for Timer {
    type Output = Result<(), RuntimeError>;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<Self::Output> {
        // SAFETY: `fut` is owned and undropped (dropped only in `Drop`); `lcx` is live (the caller's contract).
        match unsafe { poll_timer(&mut self.fut, self.deadline_ns, self.home as *mut ffi::luminal_runtime, lcx) } {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn helper_failed(&mut self, e: RuntimeError) -> Self::Output {
        // A helper dropped unfinished: its runtime was shut down (or its scope closed) before the timer fired.
        Err(if e.status() == ffi::LUMINAL_E_CANCELLED { RuntimeError::from_status(ffi::LUMINAL_E_SHUTDOWN) } else { e })
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        drop_raw(self.fut);
    }
}

/// The future of [`sleep`] and [`sleep_until`]: completes (with `()`) once [`Instant::now`] has reached its
/// deadline, never earlier.
///
/// It wraps the runtime's timer future (see the [module docs](self) for how it is polled). Dropping a pending
/// `Sleep` cancels the timer: it is removed from the wheel at once and wakes nobody. After completing, polling
/// it again returns `Ready(())` again.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The runtime whose clock the deadline is on (its borrowed token, as an integer: `Sleep` stays `Send`).
    clock: usize,
    state: State,
}

enum State {
    Timer(AwaitRaw<Timer>),
    Done,
    /// The runtime refused the timer (or its helper): polling panics with this error.
    Failed(RuntimeError),
}

// SAFETY: `&Sleep` only reads the deadline and the state's discriminant; everything else needs `&mut`.
unsafe impl Sync for Sleep {}

fn drop_raw(fut: ffi::luminal_future) {
    if let Some(d) = fut.drop {
        // SAFETY: called exactly once per owned future, by whoever owns it.
        unsafe { d(fut.state) }
    }
}

impl Sleep {
    /// The instant at which the sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True if the deadline has passed (the `Sleep` may not have been polled to completion yet).
    pub fn is_elapsed(&self) -> bool {
        matches!(self.state, State::Done) || clock_ns(self.clock as *mut ffi::luminal_runtime) >= self.deadline.ns
    }

    fn fail(&mut self, e: RuntimeError) -> ! {
        self.state = State::Failed(e);
        panic!(
            "luminal::time::Sleep cannot complete: the runtime refused its timer ({e}); the runtime is shut down or \
             its handle was released"
        )
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match &mut this.state {
            State::Done => Poll::Ready(()),
            State::Failed(e) => {
                let e = *e;
                this.fail(e)
            }
            State::Timer(t) => match std::task::ready!(Pin::new(t).poll(cx)) {
                Ok(()) => {
                    this.state = State::Done; // drops the timer future
                    Poll::Ready(())
                }
                Err(e) => this.fail(e),
            },
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Timer(_) => "timer",
            State::Done => "done",
            State::Failed(_) => "failed",
        };
        f.debug_struct("Sleep").field("deadline", &self.deadline).field("state", &state).finish()
    }
}

// ------------------------------------------------------------------------------------------------------------
// Timeout
// ------------------------------------------------------------------------------------------------------------

/// Runs `future` with a time limit: `Ok(output)` if it completes within `duration`, else `Err(Elapsed)` (the
/// future is then dropped with the `Timeout`). The future is polled before the timer, so a future that is ready
/// at once wins even with a zero duration.
pub fn timeout<R: AsRef<Runtime> + ?Sized, F: Future>(rt: &R, duration: Duration, future: F) -> Timeout<F> {
    Timeout { future, sleep: sleep(rt, duration) }
}

/// Like [`timeout`], with an absolute deadline.
pub fn timeout_at<R: AsRef<Runtime> + ?Sized, F: Future>(rt: &R, deadline: Instant, future: F) -> Timeout<F> {
    Timeout { future, sleep: sleep_until(rt, deadline) }
}

/// The future of [`timeout`]: `Result<F::Output, Elapsed>`.
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// Gives the wrapped future back (the timer is cancelled).
    pub fn into_inner(self) -> F {
        self.future
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out while pinned: `into_inner` takes `self` by
        // value, which requires `Timeout: Unpin` once pinned); `sleep` is Unpin.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above: `this.future` is never moved while `self` is pinned.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").field("sleep", &self.sleep).finish_non_exhaustive()
    }
}

/// The error of a [`timeout`] whose time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}
