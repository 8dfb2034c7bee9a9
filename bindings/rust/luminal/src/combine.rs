//! [`join_all`], [`select`] and the [`join!`](crate::join!) macro on `luminal_join_all` / `luminal_select`: the
//! children are polled inside the one task that awaits the combinator, with that task's own context (no task per
//! child, no allocation per poll).
//!
//! Each child is turned into a `luminal_future` (its task cell: one allocation, as for a spawn) and handed to the
//! runtime, which drops every child exactly once: right after its READY poll, or — a loser of a select, or all of
//! them when the combinator is dropped early — with the combinator. Children must therefore be `Send + 'static`
//! (a helper task may poll them when the combinator is awaited outside a Luminal task); for borrowed or `!Send`
//! futures, any runtime-agnostic combinator (`futures::join!`, ...) works on Luminal too.
//!
//! Panics: a child's panic is caught at its poll (as for a task) and resumed in the awaiting task once the
//! combinator completes — `join_all` still waits for the other children first; a `select` resumes it if the
//! panicking child is the winner.
use crate::await_raw::{AwaitRaw, RawPoll};
use crate::context;
use crate::ffi::{self, luminal_context, luminal_runtime};
use crate::sync::RawFut;
use crate::task::{into_raw_future, take_cell_output, Output, TakeOutput};
use crate::{Runtime, RuntimeError};
use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

/// Outputs handed over by a completed C combinator: freed with their children's `drop_output` unless taken.
pub struct RawOutputs {
    outs: Vec<*mut c_void>,
    drops: Vec<Option<ffi::luminal_drop_fn>>,
}

// SAFETY: the outputs are task cells of `Send` outputs, owned here.
unsafe impl Send for RawOutputs {}

impl RawOutputs {
    /// Takes output `i` out (NULL if taken already or never written).
    fn take(&mut self, i: usize) -> *mut c_void {
        std::mem::replace(&mut self.outs[i], ptr::null_mut())
    }
}

impl Drop for RawOutputs {
    fn drop(&mut self) {
        for (out, d) in self.outs.iter().zip(&self.drops) {
            if let (false, Some(d)) = (out.is_null(), d) {
                // SAFETY: an output handed over to us and never taken; `d` is its child's own drop_output, which
                // catches panics of the value's destructor.
                unsafe { d(*out) }
            }
        }
    }
}

impl fmt::Debug for RawOutputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawOutputs").field("len", &self.outs.len()).finish()
    }
}

/// A C combinator future and where its outputs land.
struct CombineOp {
    fut: RawFut,
    /// join_all: one slot per child; select: the winner's output in slot 0.
    outs: Box<[*mut c_void]>,
    winner: Box<usize>,
    drops: Vec<Option<ffi::luminal_drop_fn>>,
    select: bool,
}

// SAFETY: the boxed out-parameters are owned heap memory; the C future may be polled and dropped on any thread.
unsafe impl Send for CombineOp {}

/// What a combinator completed with: the outputs, and the winner for a select (`None`: it failed).
struct Combined {
    outs: RawOutputs,
    winner: Option<usize>,
}

impl RawPoll for CombineOp {
    type Output = Result<Combined, RuntimeError>;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<Self::Output> {
        // SAFETY: `lcx` is live (the caller's contract). On READY the C future is dropped already.
        let out = std::task::ready!(unsafe { self.fut.poll(lcx) });
        if out == ffi::LUMINAL_FAILED_OUTPUT {
            return Poll::Ready(Err(RuntimeError::from_status(ffi::LUMINAL_E_INVALID_ARGUMENT)));
        }
        let outs = std::mem::take(&mut self.outs).into_vec();
        let mut drops = std::mem::take(&mut self.drops);
        let winner = self.select.then_some(*self.winner);
        if let Some(w) = winner {
            // The one output is the winner's: free it with the winner's own drop_output.
            drops = vec![drops.get(w).copied().flatten()];
        }
        Poll::Ready(Ok(Combined { outs: RawOutputs { outs, drops }, winner }))
    }

    fn helper_failed(&mut self, e: RuntimeError) -> Self::Output {
        self.fut.drop_now(); // drops the children, and the outputs collected so far
        Err(e)
    }
}

impl Drop for CombineOp {
    fn drop(&mut self) {
        // The C future (if not completed) drops its children and what they output; then the boxes may go.
        self.fut.drop_now();
    }
}

/// Makes the C combinator over `futs` (taken, also on failure); `None` for select's `winner` means join_all.
fn combine(rt: *mut luminal_runtime, mut futs: Vec<ffi::luminal_future>, select: bool) -> Result<CombineOp, RuntimeError> {
    let drops = futs.iter().map(|f| f.drop_output).collect();
    let n = futs.len();
    let mut outs = vec![ptr::null_mut(); if select { 1 } else { n }].into_boxed_slice();
    let mut winner = Box::new(usize::MAX);
    let mut fut = RawFut::empty();
    // SAFETY: the runtime copies the array and takes every child (also on failure); `outs` and `winner` are heap
    // memory owned by the op, which drops the C future before them.
    let st = unsafe {
        if select {
            ffi::luminal_select(rt, futs.as_mut_ptr(), n, &mut *winner, outs.as_mut_ptr(), &mut fut)
        } else {
            ffi::luminal_join_all(rt, futs.as_mut_ptr(), n, outs.as_mut_ptr(), &mut fut)
        }
    };
    RuntimeError::check(st)?;
    Ok(CombineOp { fut: RawFut::new(fut), outs, winner, drops, select })
}

/// The combinator as a Rust future (or the error making it failed with, reported at the first poll).
struct Awaited {
    state: Result<AwaitRaw<CombineOp>, Option<RuntimeError>>,
}

impl Awaited {
    fn new(home: *mut luminal_runtime, futs: Vec<ffi::luminal_future>, select: bool) -> Awaited {
        Awaited { state: combine(home, futs, select).map(|op| AwaitRaw::new(op, home)).map_err(Some) }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Combined> {
        let r = match &mut self.state {
            Ok(a) => std::task::ready!(Pin::new(a).poll(cx)),
            Err(e) => Err(e.take().expect("a luminal combinator was polled after it completed")),
        };
        Poll::Ready(r.unwrap_or_else(|e| panic!("luminal combinator failed: {e}")))
    }
}

/// Takes a child's output out of the cell it was handed over in, resuming a panic of the child.
///
/// # Safety
/// `out` is the output of a child made by `into_raw_future` whose taker is `take`, now the caller's.
unsafe fn take_or_resume<T>(take: TakeOutput<T>, out: *mut c_void) -> T {
    assert!(!out.is_null(), "luminal combinator: a child completed without its output");
    // SAFETY: the caller's contract.
    match unsafe { take(out) } {
        Ok(v) => v,
        Err(p) => resume_unwind(p),
    }
}

/// Polls every future of `futs` inside the awaiting task and completes with their outputs, in the order given,
/// when all have completed (`luminal_join_all`). `rt` hosts the helper task when it is awaited outside a Luminal
/// task. A child's panic is resumed in the awaiting task once every child has completed (the other outputs are
/// dropped). Dropping the future drops the children (and the outputs collected so far) exactly once. Panics when
/// polled if the runtime refused it (a stale runtime).
pub fn join_all<R, I, F>(rt: &R, futs: I) -> JoinAll<F::Output>
where
    R: AsRef<Runtime> + ?Sized,
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let futs: Vec<_> = futs.into_iter().map(into_raw_future).collect();
    JoinAll { inner: Awaited::new(rt.as_ref().home(), futs, false), take: take_cell_output::<F> }
}

/// The future of [`join_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<T> {
    inner: Awaited,
    take: TakeOutput<T>,
}

impl<T> Unpin for JoinAll<T> {}

impl<T> Future for JoinAll<T> {
    type Output = Vec<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let mut done = std::task::ready!(self.inner.poll(cx));
        let take = self.take;
        // Take every output first (a panic's payload included), so that resuming one drops all the others.
        let outs: Vec<Output<T>> = (0..done.outs.outs.len())
            .map(|i| {
                let out = done.outs.take(i);
                assert!(!out.is_null(), "luminal join_all: a child completed without its output");
                // SAFETY: child i's output, from `into_raw_future::<F>` whose taker is `take`; ours now.
                unsafe { take(out) }
            })
            .collect();
        Poll::Ready(outs.into_iter().collect::<Result<Vec<T>, _>>().unwrap_or_else(|p| resume_unwind(p)))
    }
}

impl<T> fmt::Debug for JoinAll<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinAll")
    }
}

/// Polls every future of `futs` inside the awaiting task and completes with the first to finish: its index and
/// output (`luminal_select`; the lowest index when several finish in one poll). The others are dropped at once,
/// exactly once, and never polled again. `rt` hosts the helper task when it is awaited outside a Luminal task.
/// Panics if `futs` is empty (when polled), and resumes the winner's panic.
pub fn select<R, I, F>(rt: &R, futs: I) -> Select<F::Output>
where
    R: AsRef<Runtime> + ?Sized,
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let futs: Vec<_> = futs.into_iter().map(into_raw_future).collect();
    Select { inner: Awaited::new(rt.as_ref().home(), futs, true), take: take_cell_output::<F> }
}

/// The future of [`select`].
#[must_use = "futures do nothing unless awaited"]
pub struct Select<T> {
    inner: Awaited,
    take: TakeOutput<T>,
}

impl<T> Unpin for Select<T> {}

impl<T> Future for Select<T> {
    type Output = (usize, T);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(usize, T)> {
        let mut done = std::task::ready!(self.inner.poll(cx));
        let winner = done.winner.expect("a select completes with a winner");
        let out = done.outs.take(0);
        // SAFETY: the winner's output, from `into_raw_future::<F>` whose taker is `take`; ours now.
        Poll::Ready((winner, unsafe { take_or_resume(self.take, out) }))
    }
}

impl<T> fmt::Debug for Select<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Select")
    }
}

/// What [`join!`](crate::join!) expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    pub use super::RawOutputs;

    /// One child of a `join!`: how to take its output.
    pub struct Child<T>(TakeOutput<T>);

    /// Turns `f` into a C child appended to `raws`.
    pub fn child<F>(f: F, raws: &mut Vec<ffi::luminal_future>) -> Child<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        raws.push(into_raw_future(f));
        Child(take_cell_output::<F>)
    }

    /// Joins `raws` on the runtime of the task being polled; panics outside a Luminal task. A named future (not
    /// an `async fn`, whose state would hold raw pointers across the await): `Send`, so `join!` works in spawned
    /// tasks.
    pub fn join_raw(raws: Vec<ffi::luminal_future>) -> JoinRaw {
        let Some(cx) = context::current() else {
            drop(raws);
            panic!("luminal::join! awaited outside a Luminal task: use luminal::task::join_all with a runtime");
        };
        // SAFETY: `cx` is the context of the poll running on this thread.
        let home = unsafe { context::runtime_of(cx) };
        JoinRaw(Awaited::new(home, raws, false))
    }

    /// The future of [`join_raw`].
    pub struct JoinRaw(Awaited);

    impl Future for JoinRaw {
        type Output = RawOutputs;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RawOutputs> {
            self.0.poll(cx).map(|c| c.outs)
        }
    }

    /// Takes every child's output out of a completed `join!` (a tuple of [`Child`]ren).
    pub trait TakeAll {
        /// The tuple of outputs.
        type Out;
        /// Takes them all, then resumes the first panic (the other outputs dropped).
        fn take_all(self, outs: RawOutputs) -> Self::Out;
    }

    macro_rules! take_all_tuple {
        ($($t:ident $v:ident $i:tt),+) => {
            impl<$($t),+> TakeAll for ($(Child<$t>,)+) {
                type Out = ($($t,)+);
                fn take_all(self, mut outs: RawOutputs) -> Self::Out {
                    // SAFETY: output i is child i's (the order `child` appended them), ours now.
                    $(let $v = unsafe { (self.$i.0)(outs.take($i)) };)+
                    ($(match $v { Ok(v) => v, Err(p) => resume_unwind(p) },)+)
                }
            }
        };
    }
    take_all_tuple!(A a 0);
    take_all_tuple!(A a 0, B b 1);
    take_all_tuple!(A a 0, B b 1, C c 2);
    take_all_tuple!(A a 0, B b 1, C c 2, D d 3);
    take_all_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4);
    take_all_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5);
    take_all_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6);
    take_all_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7);
}

/// Awaits up to 8 futures of any types concurrently inside the current Luminal task (`luminal_join_all`) and
/// evaluates to the tuple of their outputs: `let (a, b) = luminal::join!(fa, fb);`. Only inside an `async` block
/// polled by a Luminal task (it panics elsewhere; use [`task::join_all`](crate::task::join_all) with a runtime
/// there). The futures must be `Send + 'static`; a child's panic is resumed once all have completed.
#[macro_export]
macro_rules! join {
    ($($fut:expr),+ $(,)?) => {{
        // `raws` (raw C futures: not `Send`) ends with this block, before the await: the enclosing future stays `Send`.
        let (children, join) = {
            let mut raws = ::std::vec::Vec::new();
            let children = ($($crate::task::__private::child($fut, &mut raws),)+);
            (children, $crate::task::__private::join_raw(raws))
        };
        $crate::task::__private::TakeAll::take_all(children, join.await)
    }};
}
