//! The seed's "hello world", on Luminal: a runtime, `block_on`, spawning from inside the runtime, and an explicitly
//! configured runtime whose tasks spawn onto their worker's local queue.
use luminal::{Handle, Runtime};

async fn hello_world() {
    println!("hello, world!");
}

fn main() {
    // Basic usage (as in the seed, with the crate name changed).
    let rt = Runtime::new().unwrap();
    let rt_clone = rt.clone();
    rt.block_on(async move {
        rt_clone.spawn(hello_world()).await.unwrap();
    });

    // An explicitly configured runtime.
    let rt = Runtime::builder().worker_threads(2).thread_name("hello-worker").build().unwrap();
    println!("runtime with {} workers (libluminal {})", rt.worker_count(), luminal::version());
    let total = rt.block_on(async {
        let handles: Vec<_> = (1..=10u64)
            .map(|i| {
                // Handle::current() works inside any task of this runtime; luminal::spawn is its shorthand.
                Handle::current().spawn(async move {
                    let square = luminal::spawn(async move { i * i }).await.unwrap();
                    luminal::yield_now().await;
                    square
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        total
    });
    println!("sum of squares 1..=10 = {total}");
    assert_eq!(total, 385);

    // A panic inside a task becomes a JoinError; the runtime keeps going. (A quiet hook keeps the output short.)
    std::panic::set_hook(Box::new(|info| {
        eprintln!("(a task panicked: {})", info.payload().downcast_ref::<&str>().unwrap_or(&"?"))
    }));
    let err = rt.block_on(rt.spawn(async { panic!("oops") })).unwrap_err();
    println!("a panicking task gives: {err}");
    assert!(err.is_panic());
}
