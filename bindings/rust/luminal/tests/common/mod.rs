//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A future that completes after `d`, woken by a helper thread (exercises wakers cloned and woken off-worker).
pub fn sleep(d: Duration) -> Sleep {
    Sleep { state: Arc::new(SleepState { done: AtomicBool::new(false), waker: Mutex::new(None) }), started: false, d }
}

pub struct Sleep {
    state: Arc<SleepState>,
    started: bool,
    d: Duration,
}

struct SleepState {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *self.state.waker.lock().unwrap() = Some(cx.waker().clone());
        if !self.started {
            self.started = true;
            let (state, d) = (self.state.clone(), self.d);
            std::thread::spawn(move || {
                std::thread::sleep(d);
                state.done.store(true, Ordering::Release);
                if let Some(w) = state.waker.lock().unwrap().take() {
                    w.wake();
                }
            });
        }
        if self.state.done.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A future that never completes.
pub struct Forever;
impl Future for Forever {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// Counts its drops.
pub struct DropCounter(pub Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls all futures with a waker of its own (like `join_all` in the futures crate): a JoinHandle inside must not
/// rely on the task's own luminal waker.
pub struct JoinAll<F: Future> {
    futs: Vec<Option<Pin<Box<F>>>>,
    outs: Vec<Option<F::Output>>,
}

pub fn join_all<F: Future>(futs: impl IntoIterator<Item = F>) -> JoinAll<F> {
    let futs: Vec<_> = futs.into_iter().map(|f| Some(Box::pin(f))).collect();
    let outs = futs.iter().map(|_| None).collect();
    JoinAll { futs, outs }
}

struct Forward(Waker);
impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.0.wake_by_ref()
    }
}

impl<F: Future> Future for JoinAll<F>
where
    F::Output: Unpin,
{
    type Output = Vec<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let waker = Waker::from(Arc::new(Forward(cx.waker().clone())));
        let mut cx2 = Context::from_waker(&waker);
        let this = &mut *self;
        let mut pending = false;
        for (slot, out) in this.futs.iter_mut().zip(this.outs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(&mut cx2) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(this.outs.iter_mut().map(|o| o.take().unwrap()).collect())
        }
    }
}

/// A minimal executor on the current thread (thread-park waker): a foreign executor, with no luminal context.
pub fn foreign_block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark()
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = Box::pin(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

/// A port on 127.0.0.1 where a connect is refused. A socket bound there that never listens holds the port, so a test
/// running in parallel cannot be given it; a port bound and then closed can be handed out again, and a connect then
/// meets that test's listener (reset or accepted instead of refused). The port is held until the value drops.
pub struct RefusingPort {
    fd: i32,
    pub port: u16,
}

#[cfg(target_os = "linux")]
impl RefusingPort {
    pub fn new() -> RefusingPort {
        // struct sockaddr_in on Linux: family (u16), port (network order), address (network order), 8 zero bytes.
        #[repr(C)]
        struct SockaddrIn {
            family: u16,
            port: u16,
            addr: u32,
            zero: [u8; 8],
        }
        extern "C" {
            fn socket(domain: i32, ty: i32, protocol: i32) -> i32;
            fn bind(fd: i32, addr: *const SockaddrIn, len: u32) -> i32;
            fn getsockname(fd: i32, addr: *mut SockaddrIn, len: *mut u32) -> i32;
        }
        const AF_INET: i32 = 2;
        const SOCK_STREAM_CLOEXEC: i32 = 1 | 0o2000000;
        let mut a = SockaddrIn { family: AF_INET as u16, port: 0, addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(), zero: [0; 8] };
        let mut len = std::mem::size_of::<SockaddrIn>() as u32;
        // SAFETY: plain libc calls on a socket this value owns, with a correctly sized sockaddr_in.
        unsafe {
            let fd = socket(AF_INET, SOCK_STREAM_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            assert_eq!(bind(fd, &a, len), 0, "bind: {}", std::io::Error::last_os_error());
            assert_eq!(getsockname(fd, &mut a, &mut len), 0);
            RefusingPort { fd, port: u16::from_be(a.port) }
        }
    }
}

impl Drop for RefusingPort {
    fn drop(&mut self) {
        extern "C" {
            fn close(fd: i32) -> i32;
        }
        // SAFETY: the socket is this value's and is closed once.
        unsafe { close(self.fd) };
    }
}
