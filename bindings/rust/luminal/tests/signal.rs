//! luminal::signal against the real libluminal: two listeners see every delivery (kill and raise), a recv
//! awaited inside a task and on a plain thread, coalescing, release. One test: the listeners share process state.
use luminal::{signal, Runtime};
use std::time::Duration;

extern "C" {
    fn signal(sig: i32, handler: extern "C" fn(i32)) -> usize;
    fn raise(sig: i32) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn getpid() -> i32;
}
const SIGUSR2: i32 = 12;

extern "C" fn host_handler(_: i32) {}

#[test]
fn listeners_see_every_delivery() {
    // The host's own handler, installed first: a delivery still on its way when the last listener goes is handled
    // by the disposition that release restores (this one) instead of SIGUSR2's default action, termination.
    // SAFETY: installs a handler that does nothing.
    unsafe { signal(SIGUSR2, host_handler) };
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let mut a = signal::listen(&rt, SIGUSR2).unwrap();
    let mut b = signal::listen(&rt, SIGUSR2).unwrap();
    assert_eq!(a.signo(), SIGUSR2);
    for i in 0..5 {
        let ta = rt.spawn(async move {
            a.recv().await.unwrap();
            a
        });
        std::thread::sleep(Duration::from_millis(5));
        // SAFETY: plain libc calls; SIGUSR2 is listened to, so it does not end the process.
        unsafe { if i % 2 == 0 { raise(SIGUSR2) } else { kill(getpid(), SIGUSR2) } };
        a = rt.block_on(ta).unwrap();
        // b had no recv pending: the delivery was kept for it (awaited on this thread: a helper task polls it).
        rt.block_on(b.recv()).unwrap();
    }
    // Deliveries with no recv pending are kept (coalesced: a recv tells "at least one").
    // SAFETY: as above.
    unsafe {
        raise(SIGUSR2);
        raise(SIGUSR2);
    }
    rt.block_on(a.recv()).unwrap();
    assert!(signal::listen(&rt, 9).is_err()); // SIGKILL
    drop(a);
    drop(b);
}
