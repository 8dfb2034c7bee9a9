//! Compiles the C plugin (../c_plugin/c_plugin.c) into a shared library with the system C compiler (`$CC`, default
//! `cc`) and tells the host where it is (`LX_C_PLUGIN_PATH`). The host itself needs no rpath: the luminal crate
//! loads libluminal at run time.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let plugins = manifest.parent().unwrap().to_path_buf();
    let source = plugins.join("c_plugin/c_plugin.c");
    let lib_dir = env::var("DEP_LUMINAL_LIB_DIR").expect("the luminal crate exports its library directory");
    let include_dir = env::var("DEP_LUMINAL_INCLUDE_DIR").expect("the luminal crate exports its include directory");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap()).join("libc_plugin.so");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed={}", plugins.join("plugin_api.h").display());
    println!("cargo:rerun-if-env-changed=CC");

    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden"])
        .arg(format!("-I{include_dir}"))
        .arg(format!("-I{}", plugins.display()))
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{lib_dir}"))
        .arg("-lluminal")
        .arg(format!("-Wl,-rpath,{lib_dir}"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(status.success(), "compiling {} failed", source.display());

    println!("cargo:rustc-env=LX_C_PLUGIN_PATH={}", out.display());
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-lib=dylib=dl"); // dlopen lives in libdl before glibc 2.34
    }
}
