//! Awaiting `JoinHandle`s outside of any luminal task (a plain thread with a foreign waker): each handle gets a
//! small helper task on its runtime, never an OS thread of its own, and the wake-ups really arrive.
use luminal::{JoinHandle, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// The `Threads:` line of /proc/self/status.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("Threads:")).expect("a Threads: line");
    line["Threads:".len()..].trim().parse().expect("a thread count")
}

/// A gate tasks wait on (pending, without blocking a worker) until the test opens it.
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, Vec<Waker>)>,
}

impl Gate {
    fn open(&self) {
        let wakers = {
            let mut st = self.state.lock().unwrap();
            st.0 = true;
            std::mem::take(&mut st.1)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    fn wait(self: Arc<Self>) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            let mut st = self.state.lock().unwrap();
            if st.0 {
                return Poll::Ready(());
            }
            st.1.push(cx.waker().clone());
            Poll::Pending
        })
    }
}

/// A foreign waker that counts its wakes.
#[derive(Default)]
struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn many_handles_awaited_on_a_plain_thread_start_no_thread_per_handle() {
    const N: usize = 256;
    let rt = Runtime::builder().worker_threads(2).thread_name("luminal-join").build().unwrap();
    let gate = Arc::new(Gate::default());
    let mut handles: Vec<JoinHandle<usize>> = (0..N)
        .map(|i| {
            let g = gate.clone();
            rt.spawn(async move {
                g.wait().await;
                i
            })
        })
        .collect();
    wait_for("every task to wait at the gate", || gate.state.lock().unwrap().1.len() == N);

    let before = threads();
    let wakes = Arc::new(CountWakes::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    // Not inside any luminal task: every handle must fall back, and not by starting a thread.
    assert!(!luminal::in_task());
    for h in &mut handles {
        assert!(Pin::new(h).poll(&mut cx).is_pending());
    }
    let pending = threads();

    gate.open();
    // Every handle's helper wakes the foreign waker once its task finished (no polling loop hides a lost wake).
    wait_for("a wake per handle", || wakes.0.load(Ordering::SeqCst) >= N);
    for (i, h) in handles.iter_mut().enumerate() {
        match Pin::new(h).poll(&mut cx) {
            Poll::Ready(r) => assert_eq!(r.unwrap(), i),
            Poll::Pending => panic!("handle {i} was woken but is not ready"),
        }
    }
    let after = threads();
    eprintln!("Threads (/proc/self/status): {before} before, {pending} with {N} JoinHandles pending on a plain thread, {after} after");
    assert!(pending <= before + 2, "{N} handles awaited outside a task took {} threads", pending - before);
    assert!(after <= before + 2, "threads grew from {before} to {after}");
}

#[test]
fn a_handle_outlives_the_runtime_value_it_was_spawned_through() {
    // The helper goes to the runtime's borrowed token, not to the (released) owned handle of the `Runtime` the
    // task was spawned through.
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let gate = Arc::new(Gate::default());
    let g = gate.clone();
    let mut h = {
        let rt2 = rt.clone();
        rt2.spawn(async move {
            g.wait().await;
            5
        })
    };
    let wakes = Arc::new(CountWakes::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
    gate.open();
    wait_for("the wake", || wakes.0.load(Ordering::SeqCst) >= 1);
    assert_eq!(Pin::new(&mut h).poll(&mut cx).map(|r| r.unwrap()), Poll::Ready(5));
}

#[test]
fn a_pending_handle_dropped_on_a_plain_thread_detaches_its_task_and_its_helper() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let gate = Arc::new(Gate::default());
    let (g, ran) = (gate.clone(), Arc::new(AtomicUsize::new(0)));
    let r = ran.clone();
    let mut h = rt.spawn(async move {
        g.wait().await;
        r.fetch_add(1, Ordering::SeqCst);
    });
    let wakes = Arc::new(CountWakes::default());
    let waker = Waker::from(wakes.clone());
    assert!(Pin::new(&mut h).poll(&mut Context::from_waker(&waker)).is_pending());
    drop(h); // the helper is aborted; the task runs on, detached
    gate.open();
    wait_for("the detached task", || ran.load(Ordering::SeqCst) == 1);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "a dropped handle's waker is never woken");
}
