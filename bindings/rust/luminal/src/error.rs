//! Error types: [`RuntimeError`] for failed runtime calls, [`JoinError`] for tasks that did not complete.

use crate::ffi;
use crate::library::LoadError;
use std::any::Any;
use std::ffi::CStr;
use std::fmt;

/// What went wrong in a runtime call; one variant per `luminal_status` error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `LUMINAL_E_INVALID_ARGUMENT`: a bad option (e.g. more than 1024 worker threads, a NUL in a thread name).
    InvalidArgument,
    /// `LUMINAL_E_INVALID_HANDLE`: a released, stale or foreign handle.
    InvalidHandle,
    /// `LUMINAL_E_SHUTDOWN`: the runtime is shut down or shutting down.
    Shutdown,
    /// `LUMINAL_E_CANCELLED`: the task was aborted or dropped by shutdown.
    Cancelled,
    /// `LUMINAL_E_TIMED_OUT`: a timeout elapsed first.
    TimedOut,
    /// `LUMINAL_E_WOULD_DEADLOCK`: a blocking call (e.g. [`Runtime::block_on`](crate::Runtime::block_on)) on one of
    /// the runtime's own worker threads.
    WouldDeadlock,
    /// `LUMINAL_E_NO_MEMORY`: an allocation failed or a table is full.
    NoMemory,
    /// `LUMINAL_E_UNSUPPORTED`: not available on this platform.
    Unsupported,
    /// `LUMINAL_E_INTERNAL`: a bug in Luminal.
    Internal,
    /// `LUMINAL_E_ALREADY_TAKEN`: a task's output was already handed over.
    AlreadyTaken,
    /// `LUMINAL_E_IO`: the operating system refused an IO operation (the IO functions of [`fs`](crate::fs) and
    /// [`net`](crate::net) report that as a [`std::io::Error`] with the errno instead).
    Io,
    /// `LUMINAL_E_FORKED`: the runtime was inherited across `fork()`; it cannot be used in this process.
    Forked,
    /// `LUMINAL_E_CLOSED`: the other side of a channel is gone, or a semaphore was closed.
    Closed,
    /// `LUMINAL_E_FULL`: a channel has no room now.
    Full,
    /// `LUMINAL_E_EMPTY`: no message waiting, or too few permits free.
    Empty,
    /// `LUMINAL_E_NOT_PLUGIN`: the library lacks `luminal_plugin_init` or `luminal_plugin_fini`
    /// ([`plugin::Plugin::open`](crate::plugin::Plugin::open)).
    NotPlugin,
    /// `LUMINAL_E_PLUGIN_INIT`: the plugin's `luminal_plugin_init` failed; it was unloaded again.
    PluginInit,
    /// `LUMINAL_E_BUSY`: another thread is driving this current-thread runtime.
    Busy,
    /// A status this binding does not know.
    Other,
    /// Not a status of the library but of this crate: libluminal could not be loaded (not found where
    /// [`library`](crate::library) looks, or lacking a function). The message names every path tried and
    /// `LUMINAL_LIB_DIR`. [`RuntimeError::status`] is then `LUMINAL_E_UNSUPPORTED`.
    LibraryNotLoaded,
    /// Not a status of the library but of this crate: the loaded libluminal's `luminal_abi_version()` is not the
    /// [`ffi::LUMINAL_ABI_VERSION`] this crate was written for, so no runtime is created. [`RuntimeError::status`]
    /// is then `LUMINAL_E_UNSUPPORTED`.
    AbiMismatch,
}

/// A failed runtime call: the `luminal_status` it returned (or, for [`ErrorKind::LibraryNotLoaded`] and
/// [`ErrorKind::AbiMismatch`], a failure of this crate to use the library at all).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuntimeError {
    status: ffi::luminal_status,
    binding: Option<BindingError>,
}

/// The errors of the binding itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum BindingError {
    Library(&'static LoadError),
    Abi { found: u32 },
}

impl RuntimeError {
    /// The error for a `luminal_status` (e.g. to fail a plugin's [`Entry::init`](crate::plugin::Entry::init) with
    /// a status of one's choice).
    pub fn from_status(status: ffi::luminal_status) -> RuntimeError {
        RuntimeError { status, binding: None }
    }

    pub(crate) fn library_not_loaded(e: &'static LoadError) -> RuntimeError {
        RuntimeError { status: ffi::LUMINAL_E_UNSUPPORTED, binding: Some(BindingError::Library(e)) }
    }

    pub(crate) fn abi_mismatch(found: u32) -> RuntimeError {
        RuntimeError { status: ffi::LUMINAL_E_UNSUPPORTED, binding: Some(BindingError::Abi { found }) }
    }

    /// Turns a `luminal_status` into `Ok(())` (for `LUMINAL_OK`) or an error.
    pub fn check(status: ffi::luminal_status) -> Result<(), RuntimeError> {
        if status == ffi::LUMINAL_OK {
            Ok(())
        } else {
            Err(RuntimeError::from_status(status))
        }
    }

    /// The raw status code.
    pub fn status(&self) -> ffi::luminal_status {
        self.status
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        match self.binding {
            Some(BindingError::Library(_)) => return ErrorKind::LibraryNotLoaded,
            Some(BindingError::Abi { .. }) => return ErrorKind::AbiMismatch,
            None => {}
        }
        match self.status {
            ffi::LUMINAL_E_INVALID_ARGUMENT => ErrorKind::InvalidArgument,
            ffi::LUMINAL_E_INVALID_HANDLE => ErrorKind::InvalidHandle,
            ffi::LUMINAL_E_SHUTDOWN => ErrorKind::Shutdown,
            ffi::LUMINAL_E_CANCELLED => ErrorKind::Cancelled,
            ffi::LUMINAL_E_TIMED_OUT => ErrorKind::TimedOut,
            ffi::LUMINAL_E_WOULD_DEADLOCK => ErrorKind::WouldDeadlock,
            ffi::LUMINAL_E_NO_MEMORY => ErrorKind::NoMemory,
            ffi::LUMINAL_E_UNSUPPORTED => ErrorKind::Unsupported,
            ffi::LUMINAL_E_INTERNAL => ErrorKind::Internal,
            ffi::LUMINAL_E_ALREADY_TAKEN => ErrorKind::AlreadyTaken,
            ffi::LUMINAL_E_IO => ErrorKind::Io,
            ffi::LUMINAL_E_FORKED => ErrorKind::Forked,
            ffi::LUMINAL_E_CLOSED => ErrorKind::Closed,
            ffi::LUMINAL_E_FULL => ErrorKind::Full,
            ffi::LUMINAL_E_EMPTY => ErrorKind::Empty,
            ffi::LUMINAL_E_NOT_PLUGIN => ErrorKind::NotPlugin,
            ffi::LUMINAL_E_PLUGIN_INIT => ErrorKind::PluginInit,
            ffi::LUMINAL_E_BUSY => ErrorKind::Busy,
            _ => ErrorKind::Other,
        }
    }

    /// True for `LUMINAL_E_WOULD_DEADLOCK` (a blocking call on a worker thread).
    pub fn is_would_deadlock(&self) -> bool {
        self.binding.is_none() && self.status == ffi::LUMINAL_E_WOULD_DEADLOCK
    }

    /// True for `LUMINAL_E_SHUTDOWN`.
    pub fn is_shutdown(&self) -> bool {
        self.binding.is_none() && self.status == ffi::LUMINAL_E_SHUTDOWN
    }

    /// The library's description of the status (`luminal_status_str`); for the crate's own errors, its message.
    pub fn description(&self) -> &'static str {
        match self.binding {
            Some(BindingError::Library(e)) => e.message(),
            Some(BindingError::Abi { .. }) => "the loaded libluminal has another ABI version than this crate needs",
            None => {
                // SAFETY: luminal_status_str returns a static NUL-terminated string, never NULL.
                unsafe { CStr::from_ptr(ffi::luminal_status_str(self.status)) }.to_str().unwrap_or("unknown status")
            }
        }
    }
}

impl fmt::Debug for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RuntimeError");
        d.field("kind", &self.kind()).field("status", &self.status);
        match self.binding {
            Some(BindingError::Library(e)) => d.field("message", &e.message()),
            Some(BindingError::Abi { found }) => d.field("found", &found).field("expected", &ffi::LUMINAL_ABI_VERSION),
            None => &mut d,
        };
        d.finish()
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.binding {
            Some(BindingError::Library(e)) => write!(f, "luminal: {e}"),
            Some(BindingError::Abi { found }) => {
                let path = crate::library::path().map_or_else(|| "?".into(), |p| p.display().to_string());
                write!(
                    f,
                    "luminal: libluminal at {path} has ABI version {found}, but this crate (libluminal {}) needs ABI \
                     version {}: use a libluminal of the crate's version (point LUMINAL_LIB_DIR at its directory)",
                    env!("CARGO_PKG_VERSION"),
                    ffi::LUMINAL_ABI_VERSION
                )
            }
            None => write!(f, "luminal: {} (status {})", self.description(), self.status),
        }
    }
}

impl std::error::Error for RuntimeError {}

impl From<RuntimeError> for std::io::Error {
    /// `ErrorKind::Unsupported` becomes [`std::io::ErrorKind::Unsupported`], `InvalidArgument`
    /// [`std::io::ErrorKind::InvalidInput`], `TimedOut` [`std::io::ErrorKind::TimedOut`], `NoMemory`
    /// [`std::io::ErrorKind::OutOfMemory`]; anything else is [`std::io::ErrorKind::Other`] carrying the error.
    fn from(e: RuntimeError) -> std::io::Error {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            ErrorKind::Unsupported => K::Unsupported,
            ErrorKind::InvalidArgument => K::InvalidInput,
            ErrorKind::TimedOut => K::TimedOut,
            ErrorKind::NoMemory => K::OutOfMemory,
            _ => K::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// The payload of a panic caught at a poll boundary (what `std::panic::catch_unwind` returns).
pub type PanicPayload = Box<dyn Any + Send + 'static>;

/// Why awaiting a [`JoinHandle`](crate::JoinHandle) did not produce the task's output.
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(PanicPayload),
    Runtime(RuntimeError),
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError { repr: Repr::Cancelled }
    }

    pub(crate) fn panic(p: PanicPayload) -> JoinError {
        JoinError { repr: Repr::Panic(p) }
    }

    /// Maps a non-OK join status: `LUMINAL_E_CANCELLED` and `LUMINAL_E_SHUTDOWN` mean cancelled; anything else
    /// is a runtime failure (which indicates a misuse or a runtime bug).
    pub(crate) fn from_status(status: ffi::luminal_status) -> JoinError {
        match status {
            ffi::LUMINAL_E_CANCELLED | ffi::LUMINAL_E_SHUTDOWN => JoinError::cancelled(),
            s => JoinError { repr: Repr::Runtime(RuntimeError::from_status(s)) },
        }
    }

    /// True if the task was aborted, dropped by runtime shutdown, or could not be spawned because the runtime
    /// was shut down.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task's future panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The runtime error, if the join failed for another reason than cancellation or panic (for instance a
    /// spawn rejected with `LUMINAL_E_INVALID_HANDLE`).
    pub fn runtime_error(&self) -> Option<RuntimeError> {
        match self.repr {
            Repr::Runtime(e) => Some(e),
            _ => None,
        }
    }

    /// The panic payload. Panics if this error is not a panic (check [`is_panic`](Self::is_panic) first).
    pub fn into_panic(self) -> PanicPayload {
        self.try_into_panic().expect("`JoinError::into_panic` called on an error that is not a panic")
    }

    /// The panic payload, or `self` back if this error is not a panic.
    pub fn try_into_panic(self) -> Result<PanicPayload, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            repr => Err(JoinError { repr }),
        }
    }
}

fn panic_message(p: &PanicPayload) -> &str {
    if let Some(s) = p.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(p) => write!(f, "task panicked: {}", panic_message(p)),
            Repr::Runtime(e) => write!(f, "task failed: {e}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(p) => write!(f, "JoinError::Panic({:?})", panic_message(p)),
            Repr::Runtime(e) => write!(f, "JoinError::Runtime({e:?})"),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}
