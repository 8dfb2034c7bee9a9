//! Helpers for tests: a current-thread runtime with a paused clock, on which time moves only when the test (or
//! `block_on`, when nothing can run) moves it, so timeouts, retries and races run in microseconds and in the same
//! order every time.
//!
//! ```no_run
//! use luminal::{testing, time};
//! use std::time::Duration;
//!
//! #[test]
//! fn an_hour_passes_at_once() {
//!     testing::block_on_paused(|rt| async move {
//!         let start = time::now(&rt);
//!         time::sleep(&rt, Duration::from_secs(3600)).await; // auto-advance: no real hour passes
//!         assert_eq!(time::now(&rt) - start, Duration::from_secs(3600));
//!     });
//! }
//!
//! // The same as a macro: a #[test] fn whose body runs in block_on_paused with `rt` bound to the runtime.
//! luminal::paused_test!(fn a_minute_passes(rt) {
//!     time::sleep(&rt, Duration::from_secs(60)).await;
//! });
//! ```

use crate::{Builder, Runtime};
use std::future::Future;

/// A current-thread runtime with a paused clock (and, if `seed` is not 0, the seeded task order).
///
/// # Panics
/// If the runtime cannot be built (the library cannot be loaded, ...).
pub fn paused_runtime_with_seed(seed: u64) -> Runtime {
    match Builder::new_current_thread().start_paused(true).seed(seed).build() {
        Ok(rt) => rt,
        Err(e) => panic!("luminal::testing: cannot build a paused current-thread runtime: {e}"),
    }
}

/// A current-thread runtime with a paused clock.
pub fn paused_runtime() -> Runtime {
    paused_runtime_with_seed(0)
}

/// Builds a paused current-thread runtime, runs the future `f` makes from it with `block_on` on this thread, shuts
/// the runtime down (every task left is dropped) and returns the output.
pub fn block_on_paused<F, Fut>(f: F) -> Fut::Output
where
    F: FnOnce(Runtime) -> Fut,
    Fut: Future,
{
    block_on_seeded(0, f)
}

/// [`block_on_paused`] with the ready tasks run in the pseudo-random order drawn from `seed`: a failure seen with
/// one seed replays with it.
pub fn block_on_seeded<F, Fut>(seed: u64, f: F) -> Fut::Output
where
    F: FnOnce(Runtime) -> Fut,
    Fut: Future,
{
    let rt = paused_runtime_with_seed(seed);
    let out = rt.block_on(f(rt.clone()));
    let _ = rt.shutdown(None);
    out
}

/// Declares a `#[test]` whose body is an async block run by [`block_on_paused`], with the runtime bound to the
/// given name: `luminal::paused_test!(fn retries_give_up(rt) { ... });`
#[macro_export]
macro_rules! paused_test {
    ($(#[$meta:meta])* fn $name:ident($rt:ident) $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::testing::block_on_paused(|$rt| async move $body)
        }
    };
}
