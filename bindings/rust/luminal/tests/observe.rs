//! Observing a runtime from Rust: Runtime::metrics / worker_metrics / stats, Scope CPU counters, the thread hooks
//! on every thread kind, the log hook, worker names that keep their index.
use luminal::task::Builder;
use luminal::{IoBackend, LogLevel, Runtime, Scope, ThreadKind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn metrics_count_exactly_on_a_quiet_runtime() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    // The builder's own probe (one block_on) is the only task so far.
    let m = rt.metrics();
    assert_eq!((m.workers, m.tasks_spawned, m.tasks_completed, m.tasks_alive, m.polls), (1, 1, 1, 0, 0), "{m:?}");
    let handles: Vec<_> = (0..5).map(|i| rt.spawn(async move { i * 2 })).collect();
    let sum = rt.block_on(async move {
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 20);
    let m = rt.metrics();
    assert_eq!(m.tasks_spawned, 7, "{m:?}"); // the probe, 5 spawns, the block_on
    assert_eq!(m.tasks_completed, 7, "{m:?}");
    assert_eq!((m.tasks_cancelled, m.tasks_alive), (0, 0), "{m:?}");
    assert_eq!(m.polls, 5, "{m:?}"); // each ready at its first poll; block_on polls on this thread
    assert_eq!((m.steals, m.injector_depth, m.local_queue_depth, m.ready), (0, 0, 0, [0; 4]), "{m:?}");
    assert_eq!((m.io_in_flight, m.timers_pending, m.blocking_queue_depth), (0, 0, 0), "{m:?}");
    let w = rt.worker_metrics(0).unwrap();
    assert_eq!(w.polls, 5);
    assert!(rt.worker_metrics(1).is_none());
    wait_until("a park", || rt.metrics().parks > 0);
    let stats = rt.stats();
    assert_eq!((stats.workers, stats.tasks_alive, stats.tasks_spawned, stats.polls), (1, 0, 7, 5));
    assert!((0.0..=1.0).contains(&stats.utilization));
    let line = stats.to_string();
    assert!(line.starts_with("1 workers ") && line.contains("0 tasks alive (0 queued) of 7 spawned, 5 polls"), "{line}");
}

#[test]
fn scope_stats_count_polls_and_cpu() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let busy = Scope::new(&rt).unwrap();
    let quiet = Scope::new(&rt).unwrap();
    let spin = |ms| {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {}
    };
    let a = Builder::new().scope(&busy).spawn_on(&rt, async move { spin(10) }).unwrap();
    let b = Builder::new().scope(&quiet).spawn_on(&rt, async {}).unwrap();
    rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
    let (s, q) = (busy.stats(), quiet.stats());
    assert_eq!((s.polls, q.polls), (1, 1));
    assert!(s.poll_time >= Duration::from_millis(10) && q.poll_time < s.poll_time, "{s:?} {q:?}");
}

fn comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm").unwrap().trim_end().to_string()
}

#[test]
fn thread_hooks_run_on_every_thread_kind() {
    type Seen = Arc<Mutex<Vec<(ThreadKind, usize, String)>>>;
    let (started, stopped): (Seen, Seen) = Default::default();
    let (s1, s2) = (started.clone(), stopped.clone());
    let rt = Runtime::builder()
        .worker_threads(2)
        .io_backend(IoBackend::Pool)
        .on_thread_start(move |kind, index| s1.lock().unwrap().push((kind, index, comm())))
        .on_thread_stop(move |kind, index| s2.lock().unwrap().push((kind, index, comm())))
        .build()
        .unwrap();
    {
        let seen = started.lock().unwrap();
        assert!(seen.contains(&(ThreadKind::Worker, 0, "luminal-w-0".into())), "{seen:?}");
        assert!(seen.contains(&(ThreadKind::Worker, 1, "luminal-w-1".into())), "{seen:?}");
    }
    let name = rt.block_on(rt.spawn_blocking(comm)).unwrap();
    assert_eq!(name, "luminal-b-0");
    assert!(started.lock().unwrap().contains(&(ThreadKind::Blocking, 0, "luminal-b-0".into())));
    // The pool backend's reactor: an IO helper thread, started by the first read that must wait for readiness.
    let (reader, writer) = luminal::net::pipe(&rt).unwrap();
    let read = rt.spawn(async move {
        let mut buf = [0u8; 1];
        reader.read(&mut buf).await.unwrap()
    });
    wait_until("the reactor", || started.lock().unwrap().iter().any(|e| e.0 == ThreadKind::Io));
    assert!(started.lock().unwrap().contains(&(ThreadKind::Io, 0, "luminal-reactor".into())));
    assert_eq!(rt.block_on(async move { writer.write(b"x").await.unwrap() }), 1);
    assert_eq!(rt.block_on(read).unwrap(), 1);
    rt.shutdown(None).unwrap();
    wait_until("the reactor's stop", || stopped.lock().unwrap().iter().any(|e| e.0 == ThreadKind::Io));
    let seen = stopped.lock().unwrap();
    assert!(seen.contains(&(ThreadKind::Worker, 0, "luminal-w-0".into())), "{seen:?}");
    assert!(seen.contains(&(ThreadKind::Worker, 1, "luminal-w-1".into())), "{seen:?}");
    assert!(seen.contains(&(ThreadKind::Blocking, 0, "luminal-b-0".into())), "{seen:?}");
}

#[test]
fn the_log_hook_hears_the_io_backend_choice() {
    let lines = Arc::new(Mutex::new(Vec::<(LogLevel, String)>::new()));
    let l = lines.clone();
    let rt = Runtime::builder()
        .worker_threads(1)
        .io_backend(IoBackend::Pool)
        .on_log(LogLevel::Debug, move |level, line| l.lock().unwrap().push((level, line.to_string())))
        .build()
        .unwrap();
    assert!(lines.lock().unwrap().iter().any(|(l, s)| *l == LogLevel::Debug && s.starts_with("runtime created: 1 workers")));
    let r = rt.clone();
    rt.block_on(async move { luminal::fs::File::open(&r, "/proc/self/stat").await.unwrap() });
    let seen = lines.lock().unwrap().clone();
    assert!(
        seen.iter().any(|(l, s)| *l == LogLevel::Info && s.starts_with("IO backend: pool (asked for")),
        "{seen:?}"
    );
    // A scope released with live tasks: a warning.
    let scope = Scope::new(&rt).unwrap();
    drop(Builder::new().scope(&scope).spawn_on(&rt, std::future::pending::<()>()).unwrap());
    drop(scope);
    let seen = lines.lock().unwrap().clone();
    assert!(seen.iter().any(|(l, s)| *l == LogLevel::Warn && s.contains("released while open with 1 live tasks")), "{seen:?}");
}
