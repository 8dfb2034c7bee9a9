//! Where libluminal comes from: found when this crate is built, loaded (`dlopen`) when it is first used.
//!
//! # Why the library is loaded at run time
//!
//! A program that depends on this crate must start without `LD_LIBRARY_PATH`, in this repository and in any
//! other project. Linking libluminal the usual way (`cargo:rustc-link-lib`) would need an rpath in the final
//! binary, but cargo does not pass a dependency's link arguments (`cargo:rustc-link-arg`) on to the binaries
//! that depend on it: every dependent would have to write a build script of its own. So this crate does not link
//! libluminal at all. Its [`ffi`] functions are thin `unsafe fn` wrappers over one table of function
//! pointers ([`ffi::Functions`]), resolved all at once with `dlsym` the first time any of
//! them is needed, from a library opened by absolute path.
//!
//! # Build time (`build.rs`)
//!
//! The library's directory is, in this order:
//! 1. `LUMINAL_LIB_DIR`, if set;
//! 2. `pkg-config --variable=libdir luminal` (an install tree from `./build.sh install PREFIX`, found through
//!    `PKG_CONFIG_PATH` or the system's pkg-config directories), if its version has this crate's major.minor;
//! 3. the repository's own build output, `build/lib` (where `./build.sh lib` puts it), relative to this crate.
//!
//! The choice is compiled in: [`BUILD_DIR`] and [`BUILD_SOURCE`].
//!
//! # Run time
//!
//! On first use the crate takes, in this order:
//! 1. **the libluminal already loaded in the process**, if there is one (`dlopen` of the soname with
//!    `RTLD_NOLOAD`). A process must have one instance of the library: runtimes, tasks, scopes and wakers are
//!    tokens of one instance. So a Rust plugin (a cdylib with its own copy of this crate) loaded into a host that
//!    already uses libluminal (a Rust host through this crate, or a C host linked to it) shares the host's;
//! 2. `$LUMINAL_LIB_DIR/`[`FILE_NAME`] if `LUMINAL_LIB_DIR` is set at run time (an override; if that fails,
//!    nothing else is tried);
//! 3. [`BUILD_DIR`]`/`[`FILE_NAME`], the directory found at build time;
//! 4. the plain soname [`FILE_NAME`] through the loader's normal search (`LD_LIBRARY_PATH`, the binary's
//!    `RUNPATH`, `/etc/ld.so.cache`, the system directories): a binary moved to a machine where libluminal is
//!    installed system-wide.
//!
//! The file is the soname, `libluminal.so.<major>`: a library of another major version is never picked up. Within
//! a major version [`Runtime::new`](crate::Runtime::new) and [`Builder::build`](crate::Builder::build) compare
//! `luminal_abi_version()` with [`ffi::LUMINAL_ABI_VERSION`] and refuse a
//! mismatch ([`ErrorKind::AbiMismatch`](crate::ErrorKind::AbiMismatch)).
//!
//! If no library can be loaded, building a runtime fails with
//! [`ErrorKind::LibraryNotLoaded`](crate::ErrorKind::LibraryNotLoaded), whose message lists every path tried and
//! names `LUMINAL_LIB_DIR`; any other use of the crate panics with that message. [`load`] reports it up front.
//!
//! Loading at run time is implemented with `dlopen` (Linux and macOS); elsewhere [`load`] fails.

use crate::ffi;
use std::ffi::OsString;
use std::fmt;
use std::os::raw::c_void;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The directory `build.rs` found libluminal in (see [the module docs](self)); tried at run time after
/// `LUMINAL_LIB_DIR`.
pub const BUILD_DIR: &str = env!("LUMINAL_BUILD_LIB_DIR");

/// How `build.rs` found [`BUILD_DIR`]: `"LUMINAL_LIB_DIR"`, `"pkg-config"` or `"repository"`.
pub const BUILD_SOURCE: &str = env!("LUMINAL_BUILD_LIB_SOURCE");

/// The file loaded: the library's soname (`libluminal.so.<major>`; `libluminal.dylib` on macOS).
#[cfg(not(target_os = "macos"))]
pub const FILE_NAME: &str = "libluminal.so.0";
/// The file loaded: the library's soname (`libluminal.so.<major>`; `libluminal.dylib` on macOS).
#[cfg(target_os = "macos")]
pub const FILE_NAME: &str = "libluminal.dylib";

/// libluminal could not be loaded (or lacks a function this crate needs). The message names every path tried.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LoadError {
    message: String,
}

impl LoadError {
    /// What was tried and what to do about it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

/// The function table, or why there is none. Loaded once per copy of this crate; a failure is kept too (the
/// process's environment does not change in a way that would make a retry succeed).
static LIBRARY: OnceLock<Result<ffi::Functions, LoadError>> = OnceLock::new();

/// Loads libluminal now (if this copy of the crate has not yet) and tells whether that worked. Every other use of
/// the crate loads it on demand; call this to report a missing library before doing anything else.
pub fn load() -> Result<(), LoadError> {
    functions().map(|_| ()).map_err(Clone::clone)
}

/// The path of the loaded libluminal (as the loader reports it), or `None` if it is not loaded (yet).
pub fn path() -> Option<PathBuf> {
    let f = LIBRARY.get()?.as_ref().ok()?;
    sys::object_path(f.luminal_abi_version as *const c_void)
}

/// The table of the library's functions (loading it on first use): each field is the C function itself, e.g. to
/// hand to C code, or to compare two copies of this crate (a host's and a plugin's) that must share one library.
pub fn functions() -> Result<&'static ffi::Functions, &'static LoadError> {
    LIBRARY.get_or_init(open).as_ref()
}

/// The table for the `ffi` wrappers: panics with the load error's message if the library cannot be loaded.
#[inline]
pub(crate) fn table() -> &'static ffi::Functions {
    match LIBRARY.get() {
        Some(Ok(f)) => f,
        _ => table_slow(),
    }
}

#[cold]
#[inline(never)]
fn table_slow() -> &'static ffi::Functions {
    match functions() {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    }
}

/// One place to look for the library, in the order of the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Candidate {
    /// An instance already in the process, found by its soname.
    AlreadyLoaded,
    /// `LUMINAL_LIB_DIR/FILE_NAME` (run time): the last candidate when present.
    Override(PathBuf),
    /// `BUILD_DIR/FILE_NAME`.
    BuildDir(PathBuf),
    /// The soname through the loader's search path.
    SearchPath,
}

/// The candidates for a run-time `LUMINAL_LIB_DIR` of `env_dir` and a build-time directory `build_dir`.
pub(crate) fn candidates(env_dir: Option<OsString>, build_dir: &str) -> Vec<Candidate> {
    let mut c = vec![Candidate::AlreadyLoaded];
    match env_dir {
        Some(d) if !d.is_empty() => c.push(Candidate::Override(Path::new(&d).join(FILE_NAME))),
        _ => {
            if !build_dir.is_empty() {
                c.push(Candidate::BuildDir(Path::new(build_dir).join(FILE_NAME)));
            }
            c.push(Candidate::SearchPath);
        }
    }
    c
}

fn open() -> Result<ffi::Functions, LoadError> {
    let mut tried = Vec::new();
    for c in candidates(std::env::var_os("LUMINAL_LIB_DIR"), BUILD_DIR) {
        let (name, what) = match &c {
            Candidate::AlreadyLoaded => (PathBuf::from(FILE_NAME), None),
            Candidate::Override(p) => (p.clone(), Some(format!("{} (LUMINAL_LIB_DIR at run time)", p.display()))),
            Candidate::BuildDir(p) => {
                (p.clone(), Some(format!("{} (found by {BUILD_SOURCE} when the crate was built)", p.display())))
            }
            Candidate::SearchPath => {
                (PathBuf::from(FILE_NAME), Some(format!("{FILE_NAME} (the loader's search path)")))
            }
        };
        let handle = match sys::open(&name, c == Candidate::AlreadyLoaded) {
            Ok(h) => h,
            Err(e) => {
                if let Some(what) = what {
                    tried.push(format!("{what}: {e}"));
                }
                continue;
            }
        };
        let shown = match &c {
            Candidate::AlreadyLoaded => format!("the {FILE_NAME} already loaded in the process"),
            _ => name.display().to_string(),
        };
        return ffi::Functions::resolve(|symbol| sys::symbol(handle, symbol)).map_err(|e| LoadError {
            message: format!(
                "libluminal at {shown} cannot be used by this crate (libluminal {}): {e}; point LUMINAL_LIB_DIR at \
                 the directory of a matching {FILE_NAME}",
                env!("CARGO_PKG_VERSION")
            ),
        });
    }
    Err(LoadError {
        message: format!(
            "libluminal not found; tried {}. Set LUMINAL_LIB_DIR to the directory holding {FILE_NAME} (at run time, \
             or when building this crate), install it where pkg-config finds it (./build.sh install PREFIX, then \
             PKG_CONFIG_PATH=PREFIX/lib/pkgconfig) or build it in the repository (./build.sh lib)",
            tried.join("; ")
        ),
    })
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
mod sys {
    use std::ffi::{CStr, CString};
    use std::os::raw::{c_char, c_int, c_void};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    #[cfg(target_os = "linux")]
    const RTLD_NOW: c_int = 2;
    #[cfg(target_os = "linux")]
    const RTLD_LOCAL: c_int = 0;
    #[cfg(target_os = "linux")]
    const RTLD_NOLOAD: c_int = 4;
    #[cfg(target_os = "macos")]
    const RTLD_NOW: c_int = 2;
    #[cfg(target_os = "macos")]
    const RTLD_LOCAL: c_int = 4;
    #[cfg(target_os = "macos")]
    const RTLD_NOLOAD: c_int = 0x10;

    #[repr(C)]
    struct DlInfo {
        dli_fname: *const c_char,
        dli_fbase: *mut c_void,
        dli_sname: *const c_char,
        dli_saddr: *mut c_void,
    }

    extern "C" {
        fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
        fn dlerror() -> *mut c_char;
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
    }

    /// A library handle; never closed (libluminal cannot be unloaded, and the table points into it).
    #[derive(Clone, Copy)]
    pub(super) struct Handle(*mut c_void);

    fn last_error() -> String {
        // SAFETY: dlerror returns NULL or a NUL-terminated string that stays valid until the next dl* call on this
        // thread; it is copied at once.
        let e = unsafe { dlerror() };
        if e.is_null() {
            "unknown error".into()
        } else {
            // SAFETY: as above.
            unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
        }
    }

    /// `dlopen(name, RTLD_NOW | RTLD_LOCAL)`, with `RTLD_NOLOAD` if `only_if_loaded`. A `name` without a slash
    /// goes through the loader's search (and matches an already loaded object by its soname).
    pub(super) fn open(name: &Path, only_if_loaded: bool) -> Result<Handle, String> {
        let c = CString::new(name.as_os_str().as_bytes()).map_err(|_| "the path contains a NUL byte".to_string())?;
        let flags = RTLD_NOW | RTLD_LOCAL | if only_if_loaded { RTLD_NOLOAD } else { 0 };
        // SAFETY: a NUL-terminated path; loading libluminal runs its initializers, which have no preconditions.
        let h = unsafe { dlopen(c.as_ptr(), flags) };
        if h.is_null() {
            Err(if only_if_loaded { "not loaded".into() } else { last_error() })
        } else {
            Ok(Handle(h))
        }
    }

    /// The address of `symbol` (NUL-terminated) in `h`.
    pub(super) fn symbol(h: Handle, symbol: &'static str) -> Result<*mut c_void, String> {
        let c = CStr::from_bytes_with_nul(symbol.as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: `h` is a live handle (never closed) and `c` a NUL-terminated name.
        let p = unsafe { dlsym(h.0, c.as_ptr()) };
        if p.is_null() {
            Err(format!("no function {}: {}", c.to_string_lossy(), last_error()))
        } else {
            Ok(p)
        }
    }

    /// The file of the loaded object that holds `addr`.
    pub(super) fn object_path(addr: *const c_void) -> Option<PathBuf> {
        let mut info = DlInfo {
            dli_fname: std::ptr::null(),
            dli_fbase: std::ptr::null_mut(),
            dli_sname: std::ptr::null(),
            dli_saddr: std::ptr::null_mut(),
        };
        // SAFETY: dladdr only inspects the address and fills `info`.
        if unsafe { dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
            return None;
        }
        // SAFETY: dli_fname is the loader's NUL-terminated name of an object that is never unloaded.
        let name = unsafe { CStr::from_ptr(info.dli_fname) };
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes())))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod sys {
    use std::os::raw::c_void;
    use std::path::{Path, PathBuf};

    #[derive(Clone, Copy)]
    pub(super) struct Handle;

    pub(super) fn open(_: &Path, _: bool) -> Result<Handle, String> {
        Err("loading libluminal at run time is implemented with dlopen (Linux, macOS) only".into())
    }

    pub(super) fn symbol(_: Handle, _: &'static str) -> Result<*mut c_void, String> {
        Err("unsupported".into())
    }

    pub(super) fn object_path(_: *const c_void) -> Option<PathBuf> {
        None
    }
}

/// Declares libluminal's functions once: `pub fn name(arg: Type, ..) -> Ret;` items, as in an `extern "C"` block.
/// Generates [`ffi::Functions`] (one `unsafe extern "C" fn` pointer per function, resolved
/// by name) and, per function, `pub unsafe fn name(..)` with the same signature that calls through the table
/// (loading the library on first use). tests/managed's ABI check reads these items from ffi.rs.
macro_rules! declare_library {
    ($( pub fn $name:ident ( $( $arg:ident : $ty:ty ),* $(,)? ) $( -> $ret:ty )? ; )*) => {
        /// libluminal's functions, resolved by name with `dlsym` all at once when the library is loaded (see
        /// [`library`](crate::library)). The `unsafe fn`s of this module call through it; a field is the C
        /// function itself (e.g. to hand to C code as a callback).
        #[derive(Clone, Copy, Debug)]
        pub struct Functions {
            $( pub $name: unsafe extern "C" fn($($ty),*) $(-> $ret)?, )*
        }

        impl Functions {
            /// Resolves every function through `lookup` (a symbol name with its NUL; the function's address).
            pub(crate) fn resolve(
                mut lookup: impl FnMut(&'static str) -> Result<*mut ::std::os::raw::c_void, String>,
            ) -> Result<Functions, String> {
                Ok(Functions {
                    $( $name: {
                        let p = lookup(concat!(stringify!($name), "\0"))?;
                        // SAFETY: `p` is the non-NULL address of the library's function of this name, which
                        // include/luminal.h declares with this signature (the ABI check in tests/managed compares
                        // the declarations below with the header).
                        unsafe {
                            ::std::mem::transmute::<*mut ::std::os::raw::c_void, unsafe extern "C" fn($($ty),*) $(-> $ret)?>(p)
                        }
                    }, )*
                })
            }
        }

        $(
            #[doc = concat!("`", stringify!($name), "` of include/luminal.h.")]
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = "The C function's contract (include/luminal.h). Panics if libluminal cannot be loaded."]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: the caller keeps the C function's contract; the table holds that very function.
                unsafe { ($crate::library::table().$name)($($arg),*) }
            }
        )*
    };
}
pub(crate) use declare_library;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_is_the_soname_of_the_crates_major_version() {
        #[cfg(not(target_os = "macos"))]
        assert_eq!(FILE_NAME, format!("libluminal.so.{}", ffi::LUMINAL_VERSION_MAJOR));
    }

    #[test]
    fn run_time_override_replaces_the_build_dir_and_the_search() {
        let c = candidates(Some("/opt/l/lib".into()), "/b/lib");
        assert_eq!(c, vec![Candidate::AlreadyLoaded, Candidate::Override(Path::new("/opt/l/lib").join(FILE_NAME))]);
    }

    #[test]
    fn without_override_build_dir_then_loader_search() {
        for env in [None, Some(OsString::new())] {
            let c = candidates(env, "/b/lib");
            assert_eq!(
                c,
                vec![
                    Candidate::AlreadyLoaded,
                    Candidate::BuildDir(Path::new("/b/lib").join(FILE_NAME)),
                    Candidate::SearchPath
                ]
            );
        }
        assert_eq!(candidates(None, ""), vec![Candidate::AlreadyLoaded, Candidate::SearchPath]);
    }
}
