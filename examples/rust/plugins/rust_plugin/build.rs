//! Sets an rpath to libluminal for the plugin's shared library.
fn main() {
    if let Ok(dir) = std::env::var("DEP_LUMINAL_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
