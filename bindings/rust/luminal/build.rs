//! Finds libluminal: `LUMINAL_LIB_DIR` if set, else `../../build/lib` relative to this crate (where `build.sh`
//! puts it). Links it dynamically and sets an rpath so this crate's tests run without `LD_LIBRARY_PATH`.
//! Dependent crates get the directory as `DEP_LUMINAL_LIB_DIR` (see `examples/rust/*/build.rs`).
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LUMINAL_LIB_DIR");
    let dir = match env::var_os("LUMINAL_LIB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../../../build/lib"),
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    let d = dir.display();
    if !dir.exists() {
        println!(
            "cargo:warning=libluminal directory {d} does not exist yet; run ./build.sh lib or set LUMINAL_LIB_DIR"
        );
    }
    println!("cargo:rustc-link-search=native={d}");
    println!("cargo:rustc-link-lib=dylib=luminal");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{d}");
    }
    println!("cargo:lib_dir={d}");
    let include = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../../../include");
    println!("cargo:include_dir={}", include.canonicalize().unwrap_or(include).display());
}
