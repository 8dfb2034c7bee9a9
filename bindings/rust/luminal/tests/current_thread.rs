//! Current-thread runtimes, the paused clock and seeded runs against the real libluminal.
use luminal::time::{self, Instant};
use luminal::{testing, Builder, ErrorKind, Runtime};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn current_thread() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}
extern "C" {
    fn poll(fds: *mut PollFd, n: u64, timeout_ms: i32) -> i32;
}

fn readable(fd: i32, timeout_ms: i32) -> bool {
    let mut p = PollFd { fd, events: 1, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { poll(&mut p, 1, timeout_ms) == 1 && p.revents & 1 != 0 }
}

#[test]
fn tasks_run_on_the_driving_thread_only() {
    let rt = current_thread();
    assert_eq!(rt.worker_count(), 1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let seen = seen.clone();
            rt.spawn(async move {
                seen.lock().unwrap().push(thread::current().id());
                luminal::yield_now().await;
                seen.lock().unwrap().push(thread::current().id());
                i
            })
        })
        .collect();
    assert!(seen.lock().unwrap().is_empty(), "nothing runs until someone drives it");
    let rt2 = rt.clone();
    let driver = thread::spawn(move || (thread::current().id(), rt2.run(None, None).unwrap()));
    let (driver_id, polled) = driver.join().unwrap();
    assert_eq!(polled, 16);
    assert!(seen.lock().unwrap().iter().all(|id| *id == driver_id));
    let sum: i32 = rt.block_on(async move {
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 28);
}

#[test]
fn run_limits_and_wakeup_fd() {
    let rt = current_thread();
    let fd = rt.wakeup_fd().unwrap();
    assert!(!readable(fd, 0));
    let rt2 = rt.clone();
    thread::spawn(move || drop(rt2.spawn(async { luminal::yield_now().await }))).join().unwrap();
    assert!(readable(fd, 0), "a spawn from another thread makes the fd readable");
    assert_eq!(rt.run(Some(1), None).unwrap(), 1);
    assert!(readable(fd, 0), "work left after the limit");
    assert_eq!(rt.run(None, Some(Duration::from_secs(5))).unwrap(), 1);
    assert!(!readable(fd, 0));
    assert_eq!(rt.run(None, None).unwrap(), 0);
}

#[test]
fn a_second_driver_is_busy_and_a_nested_one_would_deadlock() {
    let rt = current_thread();
    let rt2 = rt.clone();
    let (other_run, nested) = rt.block_on(async move {
        let rt3 = rt2.clone();
        let other = thread::spawn(move || rt3.run(None, None).map_err(|e| e.kind())).join().unwrap();
        (other, rt2.run(None, None).map_err(|e| e.kind()))
    });
    assert_eq!(other_run, Err(ErrorKind::Busy));
    assert_eq!(nested, Err(ErrorKind::WouldDeadlock));
    // Multi-thread runtimes have no run, and no paused clock.
    let mt = Runtime::builder().worker_threads(1).build().unwrap();
    assert_eq!(mt.run(None, None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(time::try_advance(&mt, HOUR).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Builder::new().start_paused(true).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Builder::new().seed(1).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(time::try_advance(&rt, HOUR).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // not paused
}

#[test]
fn paused_sleep_and_timeout_take_no_real_time() {
    testing::block_on_paused(|rt| async move {
        let start = time::now(&rt);
        let real = Instant::now();
        time::sleep(&rt, HOUR).await;
        assert_eq!(time::now(&rt) - start, HOUR);
        let never = std::future::pending::<()>();
        assert!(time::timeout(&rt, HOUR, never).await.is_err());
        assert_eq!(time::now(&rt) - start, 2 * HOUR);
        assert!(real.elapsed() < HOUR);
    });
}

#[test]
fn advance_fires_timers_in_order_and_runs_their_tasks() {
    let rt = testing::paused_runtime();
    let start = time::now(&rt);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (rt2, seen2) = (rt.clone(), seen.clone());
    let ticker = rt.spawn(async move {
        for k in 1..=5u32 {
            time::sleep_until(&rt2, start + Duration::from_millis(10) * k).await;
            seen2.lock().unwrap().push(time::now(&rt2) - start);
        }
    });
    rt.run(None, None).unwrap();
    assert_eq!(rt.next_deadline(), Some(start + Duration::from_millis(10)));
    time::advance(&rt, Duration::from_millis(25));
    assert_eq!(*seen.lock().unwrap(), vec![Duration::from_millis(10), Duration::from_millis(20)]);
    assert!(!ticker.is_finished());
    time::advance(&rt, Duration::from_millis(100));
    assert!(ticker.is_finished());
    let expected: Vec<_> = (1..=5u32).map(|k| Duration::from_millis(10) * k).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    assert_eq!(time::now(&rt) - start, Duration::from_millis(125));
    assert_eq!(rt.next_deadline(), None);
}

#[test]
fn run_never_advances_a_paused_clock() {
    let rt = testing::paused_runtime();
    let start = time::now(&rt);
    let rt2 = rt.clone();
    let sleeper = rt.spawn(async move { time::sleep(&rt2, Duration::from_millis(1)).await });
    rt.run(None, None).unwrap();
    thread::sleep(Duration::from_millis(5));
    rt.run(None, None).unwrap();
    assert!(!sleeper.is_finished());
    assert_eq!(time::now(&rt), start);
}

fn traced(seed: u64) -> Vec<usize> {
    testing::block_on_seeded(seed, |rt| async move {
        let trace = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let trace = trace.clone();
                rt.spawn(async move {
                    for _ in 0..3 {
                        trace.lock().unwrap().push(i);
                        luminal::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        let t = trace.lock().unwrap().clone();
        t
    })
}

#[test]
fn a_seed_replays_its_order() {
    let a = traced(42);
    assert_eq!(a.len(), 30);
    assert_eq!(a, traced(42));
    assert_ne!(a, traced(43));
    let fifo = traced(0);
    assert_eq!(fifo, (0..30).map(|i| i % 10).collect::<Vec<_>>());
}

#[test]
fn blocking_pool_and_cross_thread_wakes() {
    let rt = current_thread();
    let rt2 = rt.clone();
    let v = rt.block_on(async move {
        let blocking = rt2.spawn_blocking(|| {
            thread::sleep(Duration::from_millis(10));
            7
        });
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let woken = rt2.spawn(async move {
            luminal::yield_now().await;
            let _ = rx;
            3
        });
        thread::spawn(move || drop(tx));
        blocking.await.unwrap() + woken.await.unwrap()
    });
    assert_eq!(v, 10);
}

luminal::paused_test!(fn the_macro_gives_a_paused_runtime(rt) {
    let start = time::now(&rt);
    time::sleep(&rt, Duration::from_secs(60)).await;
    assert_eq!(time::now(&rt) - start, Duration::from_secs(60));
});
