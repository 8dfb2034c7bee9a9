//! Sets an rpath to libluminal (cargo does not forward the luminal crate's link arguments to its dependents).
fn main() {
    if let Ok(dir) = std::env::var("DEP_LUMINAL_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
