//! Where libluminal is loaded from, seen from outside: each case runs this test binary again as a child process
//! with another environment (a process loads the library once, on first use).
use luminal::library;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the child: which case to run.
const CHILD: &str = "LUMINAL_TEST_LIBRARY_CHILD";

/// Runs the test `name` of this binary in a child process with `LUMINAL_LIB_DIR=lib_dir`; its stdout.
fn child(name: &str, lib_dir: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env("LUMINAL_LIB_DIR", lib_dir)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child {name} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn in_child(name: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(name)
}

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    // (libtest prints the first line of a test's output after "test NAME ... ")
    out.lines().find_map(|l| l.split_once(key).map(|(_, v)| v)).unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

/// The directory this process loads the library from (the test's own LUMINAL_LIB_DIR, else the build-time one).
fn home_dir() -> PathBuf {
    match std::env::var_os("LUMINAL_LIB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(library::BUILD_DIR),
    }
}

#[test]
fn a_missing_library_is_reported_naming_luminal_lib_dir_and_the_path_tried() {
    const NAME: &str = "a_missing_library_is_reported_naming_luminal_lib_dir_and_the_path_tried";
    if in_child(NAME) {
        let e = luminal::Runtime::new().expect_err("no library: no runtime");
        println!("kind={:?}", e.kind());
        println!("status={}", e.status());
        println!("runtime_error={e}");
        println!("load_error={}", library::load().unwrap_err());
        println!("path={:?}", library::path());
        let panic = std::panic::catch_unwind(luminal::version).expect_err("an ffi call without a library panics");
        println!("panic={}", panic.downcast_ref::<String>().map_or("<not a String>", |s| s.as_str()));
        return;
    }
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-libluminal-here");
    let out = child(NAME, &missing);
    assert_eq!(line(&out, "kind="), "LibraryNotLoaded", "{out}");
    assert_eq!(line(&out, "status="), luminal::ffi::LUMINAL_E_UNSUPPORTED.to_string(), "{out}");
    assert_eq!(line(&out, "path="), "None", "{out}");
    let tried = missing.join(library::FILE_NAME);
    for key in ["runtime_error=", "load_error=", "panic="] {
        let m = line(&out, key);
        assert!(m.contains("LUMINAL_LIB_DIR"), "{key} {m}");
        assert!(m.contains(&tried.display().to_string()), "{key} names the path tried: {m}");
        // A run-time LUMINAL_LIB_DIR is an override: nothing else is tried after it.
        assert!(!m.contains(library::BUILD_DIR) || library::BUILD_DIR.is_empty(), "{key} {m}");
    }
}

#[test]
fn luminal_lib_dir_at_run_time_overrides_the_build_time_directory() {
    const NAME: &str = "luminal_lib_dir_at_run_time_overrides_the_build_time_directory";
    if in_child(NAME) {
        let rt = luminal::Runtime::builder().worker_threads(1).build().unwrap();
        let v = rt.block_on(async { luminal::spawn(async { 40 }).await.unwrap() + 2 });
        println!("value={v}");
        println!("path={}", library::path().unwrap().display());
        return;
    }
    // A copy of the library (another file: another inode) in a directory of its own.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libluminal-copy");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(library::FILE_NAME);
    let _ = std::fs::remove_file(&copy);
    std::fs::copy(home_dir().join(library::FILE_NAME), &copy).unwrap();
    let out = child(NAME, &dir);
    assert_eq!(line(&out, "value="), "42", "{out}");
    assert_eq!(Path::new(line(&out, "path=")).canonicalize().unwrap(), copy.canonicalize().unwrap(), "{out}");
}

#[test]
fn this_process_loads_the_library_of_its_lib_dir() {
    library::load().unwrap();
    let loaded = library::path().expect("loaded").canonicalize().unwrap();
    assert_eq!(loaded, home_dir().join(library::FILE_NAME).canonicalize().unwrap());
    let f = library::functions().unwrap();
    // SAFETY: no preconditions.
    assert_eq!(unsafe { (f.luminal_abi_version)() }, luminal::ffi::LUMINAL_ABI_VERSION);
    assert_eq!(luminal::abi_version(), luminal::ffi::LUMINAL_ABI_VERSION);
}
