//! A program outside the repository that depends on the Rust binding: spawns and joins tasks, then says where
//! libluminal came from (for tests/consumers/run.sh to check). Exits 1 with the error if there is no runtime.
fn main() {
    let rt = match luminal::Runtime::builder().worker_threads(2).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // From outside the runtime, onto its global queue; joined by block_on.
    let outside: Vec<_> = (0..10u64).map(|i| rt.spawn(async move { i * i })).collect();
    let sum = rt.block_on(async move {
        // From inside a task, onto the worker's queue.
        let inside: Vec<_> = (0..100u64).map(|i| luminal::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in inside {
            sum += h.await.expect("task failed");
        }
        for h in outside {
            sum += h.await.expect("task failed");
        }
        sum
    });
    assert_eq!(sum, 4950 + 285);
    println!("sum={sum}");
    println!("source={}", luminal::library::BUILD_SOURCE);
    println!("build_dir={}", luminal::library::BUILD_DIR);
    println!("loaded={}", luminal::library::path().expect("the library is loaded").display());
}
