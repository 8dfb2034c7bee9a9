//! Finds the directory of libluminal for `library::BUILD_DIR` (the crate loads the library at run time, so
//! nothing is linked here). In this order:
//! 1. `LUMINAL_LIB_DIR`, if set;
//! 2. `pkg-config --variable=libdir luminal`, if pkg-config knows a luminal of this crate's major.minor version
//!    (an install tree: `./build.sh install PREFIX`, with `PKG_CONFIG_PATH=PREFIX/lib/pkgconfig`);
//! 3. `../../../build/lib` relative to this crate: the repository's own build output (`./build.sh lib`).
//!
//! Emits `LUMINAL_BUILD_LIB_DIR` and `LUMINAL_BUILD_LIB_SOURCE` for the crate, and (`links = "luminal"`) the
//! metadata `DEP_LUMINAL_LIB_DIR` and `DEP_LUMINAL_INCLUDE_DIR` for dependents' build scripts (the plugin example
//! compiles a C plugin against them).
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config(args: &[&str]) -> Option<String> {
    let exe = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(exe).args(args).arg("luminal").output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn canonical(p: PathBuf) -> PathBuf {
    p.canonicalize().unwrap_or(p)
}

fn main() {
    for v in ["LUMINAL_LIB_DIR", "PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_SYSROOT_DIR"] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let version = env::var("CARGO_PKG_VERSION").unwrap();
    let major_minor: Vec<&str> = version.split('.').take(2).collect();
    let soname = if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        "libluminal.dylib".to_string()
    } else {
        format!("libluminal.so.{}", major_minor[0])
    };

    let mut include = None;
    let (dir, source) = match env::var_os("LUMINAL_LIB_DIR") {
        Some(d) if !d.is_empty() => (canonical(PathBuf::from(d)), "LUMINAL_LIB_DIR"),
        _ => {
            let found = pkg_config(&["--modversion"]).and_then(|v| {
                let vm: Vec<&str> = v.split('.').take(2).collect();
                if vm == major_minor {
                    pkg_config(&["--variable=libdir"])
                } else {
                    println!(
                        "cargo:warning=pkg-config's luminal is version {v}, this crate needs {}.{}.x: not using it",
                        major_minor[0], major_minor[1]
                    );
                    None
                }
            });
            match found {
                Some(libdir) => {
                    include = pkg_config(&["--variable=includedir"]).map(|d| canonical(PathBuf::from(d)));
                    (canonical(PathBuf::from(libdir)), "pkg-config")
                }
                None => (canonical(manifest.join("../../../build/lib")), "repository"),
            }
        }
    };
    if !dir.join(&soname).exists() {
        println!(
            "cargo:warning=libluminal: no {soname} in {} (found by {source}); the program will look for it at run time \
             (LUMINAL_LIB_DIR, then the loader's search path). Build it (./build.sh lib), install it where pkg-config \
             finds it (./build.sh install PREFIX; PKG_CONFIG_PATH=PREFIX/lib/pkgconfig) or set LUMINAL_LIB_DIR",
            dir.display()
        );
    }
    let d = dir.to_str().expect("the libluminal directory must be valid UTF-8");
    println!("cargo:rustc-env=LUMINAL_BUILD_LIB_DIR={d}");
    println!("cargo:rustc-env=LUMINAL_BUILD_LIB_SOURCE={source}");
    println!("cargo:lib_dir={d}");

    // The header: pkg-config's includedir, else the include/ beside the library's lib/, else the repository's.
    let include = include
        .filter(|i| i.join("luminal.h").exists())
        .or_else(|| Some(canonical(dir.join("../include"))).filter(|i| i.join("luminal.h").exists()))
        .unwrap_or_else(|| canonical(manifest.join("../../../include")));
    println!("cargo:include_dir={}", include.display());

    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-lib=dylib=dl"); // dlopen lives in libdl before glibc 2.34
    }
}
