//! Multi-producer, single-consumer channels on `luminal_channel_*`: [`channel`] (bounded) and
//! [`unbounded_channel`].
//!
//! Each message is a boxed node (`Box<T>` plus one pointer) passed as the channel's `void*` message; the channel's
//! `drop_message` frees a node that is never received (queued when the receiver goes, or refused), so every
//! message is dropped exactly once. A small plain value (no drop glue, at most a pointer's size: `usize`, a raw
//! pointer, ...) travels in the pointer's bits instead ([`Inline`]), with no allocation and no `drop_message`.
//!
//! ## How `send` gives the value back
//!
//! The C send future drops a refused message with `drop_message` (on `LUMINAL_E_CLOSED`, or when it is dropped
//! before it completed). [`Sender::send`] first tries `luminal_channel_try_send`, which leaves a refused message
//! the caller's: most sends end there (one allocation, the node). Only on a full channel does it make a send
//! future, and then the node carries an `Arc` to a one-value cell shared with the [`SendFuture`] future: `drop_message`
//! moves the value into that cell instead of dropping it. If the send future completes with `CLOSED`, it takes
//! the value back out (`Err(SendError(value))`); in every other case (delivered and later dropped unreceived at
//! close, or the future cancelled) the value is dropped with the cell's last reference. So the value is dropped
//! exactly once, and a refused send returns it — the C runtime calls a send future's `drop_message` only from
//! that future's own poll or drop, so the value is in the cell when the future sees `CLOSED`. An inline value has
//! no drop glue, so the future keeps a copy of its bits and hands that back instead (the channel's copy is
//! discarded without a call).
use super::{Inline, RawFut, RecvOp};
use crate::await_raw::{AwaitRaw, RawPoll};
use crate::ffi::{self, luminal_context, luminal_receiver, luminal_runtime, luminal_sender};
use crate::{Runtime, RuntimeError};
use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll};

/// The message a channel carries: the value and, for a send that waited, the cell a refusal moves it into.
struct Node<T> {
    value: T,
    back: Option<Arc<SendBack<T>>>,
}

/// Shared by a waiting [`SendFuture`] and its node: the C future's `*result`, and the value `drop_message` hands back.
struct SendBack<T> {
    result: AtomicI32,
    value: StdMutex<Option<T>>,
}

/// The channel's `drop_message`: frees a node never received (see the module docs for `back`).
unsafe extern "C" fn drop_node<T>(p: *mut c_void) {
    if Inline::<T>::YES || p.is_null() {
        return; // nothing to drop (an inline value has no drop glue)
    }
    // SAFETY: every message of a channel made by `channel::<T>` is a `Box<Node<T>>` leaked into the channel;
    // the runtime calls drop_message exactly once per message never received, and then nobody else has it.
    let node = unsafe { Box::from_raw(p as *mut Node<T>) };
    // A panicking destructor must not unwind into the runtime.
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let Node { value, back } = *node;
        match back {
            Some(b) => *b.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(value),
            None => drop(value),
        }
    }));
}

/// Takes the value out of a received node.
///
/// # Safety
/// `p` must be a message of a `channel::<T>` channel, now the caller's.
unsafe fn take_node<T>(p: *mut c_void) -> T {
    if Inline::<T>::YES {
        // SAFETY: the caller's contract: an inline value's message.
        return unsafe { Inline::decode(p) };
    }
    // SAFETY: the caller's contract; the node is dropped here (its `back` reference with it).
    unsafe { Box::from_raw(p as *mut Node<T>) }.value
}

/// A value as this channel's message (see [`take_node`]); `back`: the cell of a send that waits (boxed nodes only).
fn make_node<T>(value: T, back: Option<Arc<SendBack<T>>>) -> *mut c_void {
    if Inline::<T>::YES {
        Inline::encode(value)
    } else {
        Box::into_raw(Box::new(Node { value, back })) as *mut c_void
    }
}

/// Makes a bounded channel of `capacity` messages on `rt` (the runtime that hosts the helper task of a send or
/// recv awaited outside a task; the channel itself is not tied to it). Panics if `capacity` is 0 (as tokio's) or if
/// the runtime refuses (shut down): see [`try_channel`].
pub fn channel<T: Send + 'static>(rt: &(impl AsRef<Runtime> + ?Sized), capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc bounded channel requires capacity > 0");
    try_channel(rt, capacity).expect("luminal::sync::mpsc::channel: the runtime refused the channel")
}

/// Makes an unbounded channel on `rt`. Panics if the runtime refuses (shut down): see [`try_channel`].
pub fn unbounded_channel<T: Send + 'static>(rt: &(impl AsRef<Runtime> + ?Sized)) -> (Sender<T>, Receiver<T>) {
    try_channel(rt, 0).expect("luminal::sync::mpsc::unbounded_channel: the runtime refused the channel")
}

/// Like [`channel`] (`capacity` 0 = unbounded), returning the runtime's error (`ErrorKind::Shutdown`, ...).
pub fn try_channel<T: Send + 'static>(
    rt: &(impl AsRef<Runtime> + ?Sized),
    capacity: usize,
) -> Result<(Sender<T>, Receiver<T>), RuntimeError> {
    let rt = rt.as_ref();
    let opts = ffi::luminal_channel_options {
        struct_size: std::mem::size_of::<ffi::luminal_channel_options>(),
        capacity,
        drop_message: if Inline::<T>::YES { None } else { Some(drop_node::<T>) },
    };
    let (mut tx, mut rx) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `rt` is a runtime handle (a stale one is reported); the options are borrowed for the call.
    RuntimeError::check(unsafe { ffi::luminal_channel_new(rt.as_raw(), &opts, &mut tx, &mut rx) })?;
    let (Some(tx), Some(rx)) = (NonNull::new(tx), NonNull::new(rx)) else {
        return Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
    };
    let home = rt.home();
    Ok((Sender { raw: tx, home, _t: PhantomData }, Receiver { raw: rx, home, stash: None, _t: PhantomData }))
}

/// The error of [`Sender::send`]: the receiver is gone; the value is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}
impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed")
    }
}
impl<T> std::error::Error for SendError<T> {}

/// The error of [`Sender::try_send`]; both variants hand the value back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// No room now (or earlier sends are waiting for room).
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}
impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}
impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "no available capacity",
            TrySendError::Closed(_) => "channel closed",
        })
    }
}
impl<T> std::error::Error for TrySendError<T> {}

/// The error of [`Receiver::try_recv`].
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing queued; senders remain.
    Empty,
    /// Nothing queued and every sender is gone.
    Disconnected,
}
impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "channel empty",
            TryRecvError::Disconnected => "channel closed",
        })
    }
}
impl std::error::Error for TryRecvError {}

/// A sending handle (`luminal_sender`). `Clone` (one more C sender), `Send + Sync` for `T: Send`; the channel
/// closes for the receiver when every sender (and every pending [`SendFuture`]) is gone.
pub struct Sender<T> {
    raw: NonNull<luminal_sender>,
    home: *mut luminal_runtime,
    _t: PhantomData<fn(T) -> T>,
}

// SAFETY: the C handle may be used from any thread concurrently; `home` is a plain token value; the values sent
// are `T: Send`.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: as above: every method takes `&self` and goes through the thread-safe C handle.
unsafe impl<T: Send> Sync for Sender<T> {}

impl<T: Send + 'static> Sender<T> {
    /// Sends `value`, waiting for room on a full bounded channel (FIFO among waiting senders). `Err(SendError(v))`
    /// hands the value back if the receiver is gone (or, outside a task, if the runtime that would host the
    /// helper task is gone). Dropping the future before it completed never delivers the value (it is dropped).
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture { tx: self, state: SendState::Init(Some(value)) }
    }

    /// Queues `value` now if there is room; never waits. `Full` also while earlier sends wait for room.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let node = make_node(value, None);
        // SAFETY: a live sender; the message is taken only on OK, else it stays ours.
        match unsafe { ffi::luminal_channel_try_send(self.raw.as_ptr(), node) } {
            ffi::LUMINAL_OK => Ok(()),
            // SAFETY: not taken (FULL, CLOSED, or a failure of the call): the message is still ours.
            ffi::LUMINAL_E_FULL => Err(TrySendError::Full(unsafe { take_node(node) })),
            // SAFETY: as above.
            _ => Err(TrySendError::Closed(unsafe { take_node(node) })),
        }
    }

    /// The raw sender, which this value no longer owns (release it with `luminal_sender_release`, or turn it back
    /// with [`from_raw`](Self::from_raw)). Messages are in an encoding private to this crate: C code must not send
    /// on a Rust channel's sender; hand it to Rust code (another copy of this crate, e.g. a plugin) instead.
    pub fn into_raw(self) -> *mut luminal_sender {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// An owned sender from [`into_raw`](Self::into_raw); `rt` hosts helper tasks outside a task.
    ///
    /// # Safety
    /// `raw` must be an owned sender of a channel made by [`channel`]/[`unbounded_channel`] of the same version of
    /// this crate, built by the same compiler, with the same `T` (the message layout), in a process where both
    /// copies allocate with the same global allocator (Rust's default: the system's).
    pub unsafe fn from_raw<R: AsRef<Runtime> + ?Sized>(rt: &R, raw: *mut luminal_sender) -> Sender<T> {
        Sender {
            raw: NonNull::new(raw).expect("Sender::from_raw: NULL sender"),
            home: rt.as_ref().home(),
            _t: PhantomData,
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        // SAFETY: a live sender handle.
        let raw = unsafe { ffi::luminal_sender_clone(self.raw.as_ptr()) };
        Sender { raw: NonNull::new(raw).expect("luminal_sender_clone failed"), home: self.home, _t: PhantomData }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // SAFETY: we own the handle; released exactly once.
        unsafe { ffi::luminal_sender_release(self.raw.as_ptr()) }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("raw", &self.raw).finish()
    }
}

/// The C send future and the cell its refusal hands the value back through.
struct SendOp<T> {
    fut: RawFut,
    back: Arc<SendBack<T>>,
}

impl<T: Send + 'static> RawPoll for SendOp<T> {
    type Output = ffi::luminal_status;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<ffi::luminal_status> {
        // SAFETY: `lcx` is live (the caller's contract). On READY the future is dropped already.
        match unsafe { self.fut.poll(lcx) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(self.back.result.load(Ordering::Acquire)),
        }
    }

    fn helper_failed(&mut self, e: RuntimeError) -> ffi::luminal_status {
        // Never completed, so never delivered: dropping it hands the value to `back`.
        self.fut.drop_now();
        if e.status() == ffi::LUMINAL_OK {
            ffi::LUMINAL_E_INTERNAL
        } else {
            e.status()
        }
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T: Send + 'static> {
    tx: &'a Sender<T>,
    state: SendState<T>,
}

enum SendState<T: Send + 'static> {
    Init(Option<T>),
    /// The C send future, the cell a refusal hands the value back through, and (inline values) the value's copy.
    Waiting(AwaitRaw<SendOp<T>>, Arc<SendBack<T>>, Option<T>),
    Done,
}

impl<T: Send + 'static> Unpin for SendFuture<'_, T> {}

impl<T: Send + 'static> SendFuture<'_, T> {
    /// The value back from the kept copy (inline) or the cell (a refused send); panics if it is not there (a bug:
    /// see the module docs).
    fn give_back(back: &SendBack<T>, kept: Option<T>) -> SendError<T> {
        let v = kept.or_else(|| back.value.lock().unwrap_or_else(|e| e.into_inner()).take());
        SendError(v.expect("luminal::sync::mpsc: a refused message was not handed back"))
    }
}

impl<T: Send + 'static> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let SendState::Init(v) = &mut this.state {
            let value = v.take().expect("a luminal Send was polled after it completed");
            let value = match this.tx.try_send(value) {
                Ok(()) => {
                    this.state = SendState::Done;
                    return Poll::Ready(Ok(()));
                }
                Err(TrySendError::Closed(v)) => {
                    this.state = SendState::Done;
                    return Poll::Ready(Err(SendError(v)));
                }
                Err(TrySendError::Full(v)) => v,
            };
            let back = Arc::new(SendBack { result: AtomicI32::new(ffi::LUMINAL_E_CLOSED), value: StdMutex::new(None) });
            // An inline value: a copy of its bits to hand back (it has no drop glue, so the copy the channel
            // discards and this one are never both dropped).
            // SAFETY: `Inline::YES` means no drop glue: duplicating the bits duplicates no ownership.
            let kept = if Inline::<T>::YES { Some(unsafe { ptr::read(&value) }) } else { None };
            let node = make_node(value, Some(back.clone()));
            let mut fut = RawFut::empty();
            // SAFETY: a live sender; `result` lives in the Arc, which the future (through `SendOp`) keeps alive
            // until the C future is dropped; the node is taken (on failure: dropped into `back`, see below).
            let st =
                unsafe { ffi::luminal_channel_send(this.tx.raw.as_ptr(), node, back.result.as_ptr(), &mut fut) };
            if st != ffi::LUMINAL_OK {
                this.state = SendState::Done;
                if st == ffi::LUMINAL_E_INVALID_ARGUMENT || st == ffi::LUMINAL_E_INVALID_HANDLE {
                    // No channel took it: the message is still ours.
                    // SAFETY: not taken.
                    return Poll::Ready(Err(SendError(unsafe { take_node(node) })));
                }
                return Poll::Ready(Err(Self::give_back(&back, kept)));
            }
            let op = SendOp { fut: RawFut::new(fut), back: back.clone() };
            this.state = SendState::Waiting(AwaitRaw::new(op, this.tx.home), back, kept);
        }
        let SendState::Waiting(op, back, kept) = &mut this.state else {
            panic!("a luminal Send was polled after it completed")
        };
        let st = std::task::ready!(Pin::new(op).poll(cx));
        let result = if st == ffi::LUMINAL_OK { Ok(()) } else { Err(Self::give_back(back, kept.take())) };
        this.state = SendState::Done;
        Poll::Ready(result)
    }
}

/// The receiving handle (`luminal_receiver`). Dropping it closes the channel for sending and drops the queued
/// messages.
pub struct Receiver<T> {
    raw: NonNull<luminal_receiver>,
    home: *mut luminal_runtime,
    /// A message a dropped [`Recv`] had received but not returned: the next one out.
    stash: Option<T>,
    _t: PhantomData<fn(T) -> T>,
}

// SAFETY: the C handle may be used from any thread; the stash holds `T: Send`; `&Receiver` gives no access to
// anything (every method takes `&mut self`).
unsafe impl<T: Send> Send for Receiver<T> {}
// SAFETY: see above.
unsafe impl<T: Send> Sync for Receiver<T> {}

impl<T: Send + 'static> Receiver<T> {
    /// Receives the next message; `None` once every sender is gone and the queue is empty (or, outside a task,
    /// when the runtime that would host the helper task is gone). Cancellation-safe: dropping the future loses
    /// nothing.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { rx: self, op: None }
    }

    /// Takes the next message now, never waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(v) = self.stash.take() {
            return Ok(v);
        }
        let mut msg = ptr::null_mut();
        // SAFETY: a live receiver; on OK the message is ours.
        match unsafe { ffi::luminal_channel_try_recv(self.raw.as_ptr(), &mut msg) } {
            // SAFETY: a message of this channel, now ours.
            ffi::LUMINAL_OK => Ok(unsafe { take_node(msg) }),
            ffi::LUMINAL_E_EMPTY => Err(TryRecvError::Empty),
            _ => Err(TryRecvError::Disconnected),
        }
    }

    /// Polls for the next message with the op slot `op` (kept by the caller across polls).
    pub(crate) fn poll_recv(&mut self, op: &mut Option<AwaitRaw<RecvOp<T>>>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if op.is_none() {
            match self.try_recv() {
                Ok(v) => return Poll::Ready(Some(v)),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {}
            }
            let raw = self.raw.as_ptr();
            // SAFETY: a live receiver; the out-parameters are the op's, live until its C future is dropped.
            let make = |msg, res, fut| unsafe { ffi::luminal_channel_recv(raw, msg, res, fut) };
            // SAFETY: a recv on a `channel::<T>` channel, whose messages `drop_node::<T>` drops.
            let src = unsafe { RecvOp::<T>::start(drop_node::<T>, make) };
            let Ok(src) = src else { return Poll::Ready(None) };
            *op = Some(AwaitRaw::new(src, self.home));
        }
        let a = op.as_mut().expect("set above");
        let st = std::task::ready!(Pin::new(&mut *a).poll(cx));
        let got = a.source_mut(|s| s.take()).flatten();
        *op = None;
        Poll::Ready(match (st, got) {
            // SAFETY: the message the C future handed over, ours now.
            (ffi::LUMINAL_OK, Some(msg)) => Some(unsafe { take_node(msg) }),
            _ => None,
        })
    }

    /// Puts back what a dropped op had received (at the front: it was the oldest message).
    pub(crate) fn recover(&mut self, op: AwaitRaw<RecvOp<T>>) {
        if let Some(mut src) = op.into_source() {
            if let Some(msg) = src.take() {
                // SAFETY: the message the C future handed over, ours now.
                self.stash = Some(unsafe { take_node(msg) });
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // SAFETY: we own the handle; released exactly once (queued messages go to drop_message).
        unsafe { ffi::luminal_receiver_release(self.raw.as_ptr()) }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("raw", &self.raw).finish()
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T: Send + 'static> {
    rx: &'a mut Receiver<T>,
    op: Option<AwaitRaw<RecvOp<T>>>,
}

impl<T: Send + 'static> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        this.rx.poll_recv(&mut this.op, cx)
    }
}

impl<T: Send + 'static> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            self.rx.recover(op);
        }
    }
}
