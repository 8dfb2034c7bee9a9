//! Files on the runtime's IO backend (io_uring, or system calls on the blocking pool), with the personalities of
//! `include/luminal.h`:
//!
//! * **Caller's buffer** — [`File::read_at`] / [`File::write_at`]: you own the memory, the kernel fills or drains
//!   it (no copy in between).
//! * **Runtime-owned buffer** — [`read`]: the runtime sizes and allocates it; [`Buffer`] releases it on drop.
//! * **Mapped file** — [`map`]: the whole file mapped read-only, zero copies; [`Mmap`] unmaps it on drop.
//!
//! ```no_run
//! use luminal::{fs, Runtime};
//! let rt = Runtime::new().unwrap();
//! let rt2 = rt.clone();
//! rt.block_on(async move {
//!     let f = fs::OpenOptions::new().read(true).write(true).create(true).truncate(true)
//!         .open(&rt2, "/tmp/luminal-doc.txt").await?;
//!     f.write_all_at(b"hello", 0).await?;
//!     let mut buf = [0u8; 5];
//!     assert_eq!(f.read_at(&mut buf, 0).await?, 5);
//!     assert_eq!(&*fs::read(&rt2, "/tmp/luminal-doc.txt").await?, b"hello");
//!     assert_eq!(&*fs::map(&rt2, "/tmp/luminal-doc.txt").await?, b"hello");
//!     std::io::Result::Ok(())
//! }).unwrap();
//! ```
//!
//! Every function takes the runtime explicitly (a [`Runtime`] or a [`Handle`](crate::Handle)), like
//! [`time::sleep`](crate::time::sleep). Errors are [`std::io::Error`]s: `LUMINAL_E_IO` with the errno
//! (`ErrorKind::NotFound` for a missing file, ...); runtime refusals (shut down, unsupported platform) map through
//! `From<RuntimeError>`.
//!
//! # Buffer safety
//!
//! A read or write future borrows your buffer. The runtime's IO future borrows it from the first poll until the
//! operation completes or the future is dropped, and its drop cancels an operation in flight and **waits** until
//! the kernel (or the pool thread) has let go of the buffer. The Rust futures here drop the runtime's future in
//! their own `Drop`: so dropping a pending read (aborting its task, losing a `select`, a [`time::timeout`]) is
//! safe — when the drop returns, the buffer is no longer written. The drop may block briefly (until the kernel
//! acknowledges the cancellation).
//!
//! The one way around that is leaking a polled future without dropping it (`std::mem::forget` of a pinned
//! box, or a reference cycle): the kernel may then still write into a buffer whose borrow has ended. Don't
//! forget IO futures — or use the owned-buffer variants ([`File::read_at_owned`], [`File::write_at_owned`],
//! [`TcpStream::read_owned`](crate::net::TcpStream::read_owned), ...), which take a `Vec<u8>` and hand it back
//! with the result: a leaked one leaks its buffer too, so nothing can ever be written into memory you got back.
//!
//! [`time::timeout`]: crate::time::timeout
//!
//! IO is supported on Linux; elsewhere the functions fail with `ErrorKind::Unsupported`.

use crate::ffi;
use crate::io_op::{with_owned_buffer, Extra, Op};
use crate::Runtime;
use std::ffi::{c_void, CString};
use std::fmt;
use std::io;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// open(2) flags (Linux, the same on x86-64 and arm64).
const O_RDONLY: i32 = 0;
const O_WRONLY: i32 = 1;
const O_RDWR: i32 = 2;
const O_CREAT: i32 = 0o100;
const O_EXCL: i32 = 0o200;
const O_TRUNC: i32 = 0o1000;
const O_APPEND: i32 = 0o2000;

pub(crate) fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// An open file: an owned file descriptor plus the runtime whose IO backend serves it. Closed on drop (a
/// synchronous `close(2)`), or asynchronously with [`File::close`].
///
/// The methods take `&self`: reads and writes are positional (`pread`/`pwrite`), so several may be in flight at
/// once (e.g. from tasks sharing an `Arc<File>`).
pub struct File {
    fd: OwnedFd,
    rt: Runtime,
}

impl File {
    /// Opens `path` read-only.
    pub async fn open<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(rt, path).await
    }

    /// Opens `path` write-only, creating it (mode 0o666 before the umask) or truncating it.
    pub async fn create<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(rt, path).await
    }

    /// Opens with raw `open(2)` `flags` and `mode` (`luminal_file_open`; `O_CLOEXEC` is added).
    pub async fn open_with_flags<R: AsRef<Runtime> + ?Sized>(
        rt: &R,
        path: impl AsRef<Path>,
        flags: i32,
        mode: u32,
    ) -> io::Result<File> {
        let rt = rt.as_ref();
        let path = c_path(path.as_ref())?;
        // SAFETY: the path is copied by the runtime; result/out are the Op's.
        let op = Op::new(rt, None, |res, out| unsafe {
            ffi::luminal_file_open(rt.as_raw(), path.as_ptr(), flags, mode, res, out)
        })?
        .fd_result();
        let fd = op.await?;
        // SAFETY: a new fd the runtime opened for us.
        Ok(File { fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) }, rt: rt.clone() })
    }

    /// Wraps an open file descriptor, to be served by `rt`'s IO backend.
    pub fn from_fd<R: AsRef<Runtime> + ?Sized>(rt: &R, fd: OwnedFd) -> File {
        File { fd, rt: rt.as_ref().clone() }
    }

    /// The runtime serving this file.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Reads up to `buf.len()` bytes at `offset` into `buf` (`luminal_file_read_at`). Returns the number of bytes
    /// read: fewer than asked is a short read, 0 is the end of the file. See the [module docs](self) on
    /// buffer safety.
    pub async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_at_op(buf, offset)?.await.map(to_usize)
    }

    /// Like [`read_at`](Self::read_at), with a buffer the operation owns while it runs: `buf` (its whole length)
    /// is moved in and handed back with the result; the bytes read are `buf[..n]`. Safe even if the future is
    /// leaked (see "Buffer safety" in the [module docs](self)).
    pub async fn read_at_owned(&self, buf: Vec<u8>, offset: u64) -> (io::Result<usize>, Vec<u8>) {
        let op = {
            let (rt, fd) = (self.rt.as_raw(), self.fd.as_raw_fd());
            // SAFETY: the buffer's memory is owned by the operation until it is over.
            with_owned_buffer(&self.rt, buf, |ptr, len, res, out| unsafe {
                ffi::luminal_file_read_at(rt, fd, ptr, len, offset, res, out)
            })
        };
        let (r, buf) = op.run().await;
        (r.map(to_usize), buf)
    }

    /// Like [`write_at`](Self::write_at), with a buffer the operation owns while it runs (handed back with the
    /// number of bytes written). Safe even if the future is leaked.
    pub async fn write_at_owned(&self, buf: Vec<u8>, offset: u64) -> (io::Result<usize>, Vec<u8>) {
        let op = {
            let (rt, fd) = (self.rt.as_raw(), self.fd.as_raw_fd());
            // SAFETY: the buffer's memory is owned by the operation until it is over.
            with_owned_buffer(&self.rt, buf, |ptr, len, res, out| unsafe {
                ffi::luminal_file_write_at(rt, fd, ptr, len, offset, res, out)
            })
        };
        let (r, buf) = op.run().await;
        (r.map(to_usize), buf)
    }

    fn read_at_op(&self, buf: &mut [u8], offset: u64) -> io::Result<Op> {
        let (ptr, len) = (buf.as_mut_ptr() as *mut c_void, buf.len());
        // SAFETY: `buf` is borrowed by the future awaiting the Op, and the Op drops the runtime's future (waiting
        // for the kernel) before that borrow ends.
        Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_file_read_at(self.rt.as_raw(), self.fd.as_raw_fd(), ptr, len, offset, res, out)
        })
    }

    fn write_at_op(&self, buf: &[u8], offset: u64) -> io::Result<Op> {
        let (ptr, len) = (buf.as_ptr() as *const c_void, buf.len());
        // SAFETY: as in read_at_op.
        Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_file_write_at(self.rt.as_raw(), self.fd.as_raw_fd(), ptr, len, offset, res, out)
        })
    }

    fn stat_op(&self) -> io::Result<Op> {
        let info = Box::into_raw(Box::<ffi::luminal_file_info>::default());
        unsafe fn free(p: *mut c_void) {
            // SAFETY: `p` is the Box made above, freed once by the Op after the runtime's future is gone.
            drop(unsafe { Box::from_raw(p as *mut ffi::luminal_file_info) });
        }
        let extra = Extra { ptr: info as *mut c_void, free };
        // SAFETY: `info` is owned by the Op and freed after the runtime's future.
        Op::new(&self.rt, Some(extra), |res, out| unsafe {
            ffi::luminal_file_stat(self.rt.as_raw(), self.fd.as_raw_fd(), info, res, out)
        })
    }

    /// Reads exactly `buf.len()` bytes at `offset`; `ErrorKind::UnexpectedEof` if the file ends first.
    pub async fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }

    /// Writes up to `buf.len()` bytes from `buf` at `offset` (`luminal_file_write_at`); returns how many.
    pub async fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.write_at_op(buf, offset)?.await.map(to_usize)
    }

    /// Writes all of `buf` at `offset` (repeating short writes).
    pub async fn write_all_at(&self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write_at(buf, offset).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => {
                    buf = &buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }

    /// Flushes the file's data and metadata to the device (`fsync(2)`, `luminal_file_fsync`).
    pub async fn sync_all(&self) -> io::Result<()> {
        // SAFETY: result/out are the Op's.
        let op = Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_file_fsync(self.rt.as_raw(), self.fd.as_raw_fd(), res, out)
        })?;
        op.await.map(drop)
    }

    /// The file's size, mode and modification time (`fstat(2)`, `luminal_file_stat`).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let mut op = self.stat_op()?;
        (&mut op).await?;
        // SAFETY: completed: the runtime wrote it and let go of it.
        let i = unsafe { *(op.extra_ptr() as *const ffi::luminal_file_info) };
        Ok(Metadata { len: i.size, mode: i.mode, mtime_ns: i.mtime_ns })
    }

    /// Closes the file through the IO backend (`luminal_file_close`), reporting `close(2)`'s error.
    pub async fn close(self) -> io::Result<()> {
        let rt = self.rt;
        let fd = self.fd.into_raw_fd();
        // SAFETY: we gave up the fd; the runtime closes it (also if this future is dropped after submitting).
        let op = Op::new(&rt, None, |res, out| unsafe { ffi::luminal_file_close(rt.as_raw(), fd, res, out) });
        match op {
            Ok(op) => op.await.map(drop),
            Err(e) => {
                // The runtime refused: close it here.
                // SAFETY: still ours.
                drop(unsafe { OwnedFd::from_raw_fd(fd) });
                Err(e)
            }
        }
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<File> for OwnedFd {
    fn from(f: File) -> OwnedFd {
        f.fd
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("fd", &self.fd.as_raw_fd()).finish()
    }
}

/// What [`File::metadata`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    len: u64,
    mode: u32,
    mtime_ns: i64,
}

impl Metadata {
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a zero-length file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `st_mode`: the file type and permission bits.
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & 0o170000 == 0o100000
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }

    /// The last modification time.
    pub fn modified(&self) -> SystemTime {
        let d = Duration::from_nanos(self.mtime_ns.unsigned_abs());
        if self.mtime_ns >= 0 {
            UNIX_EPOCH + d
        } else {
            UNIX_EPOCH - d
        }
    }
}

/// Options for opening a file, like [`std::fs::OpenOptions`]; finish with [`open`](OpenOptions::open).
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off; mode 0o666 for created files.
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
        }
    }
    /// Open for reading.
    pub fn read(&mut self, v: bool) -> &mut Self {
        self.read = v;
        self
    }
    /// Open for writing.
    pub fn write(&mut self, v: bool) -> &mut Self {
        self.write = v;
        self
    }
    /// Writes go to the end (`O_APPEND`; implies write).
    pub fn append(&mut self, v: bool) -> &mut Self {
        self.append = v;
        self
    }
    /// Truncate an existing file (`O_TRUNC`).
    pub fn truncate(&mut self, v: bool) -> &mut Self {
        self.truncate = v;
        self
    }
    /// Create the file if missing (`O_CREAT`).
    pub fn create(&mut self, v: bool) -> &mut Self {
        self.create = v;
        self
    }
    /// Create the file, failing if it exists (`O_CREAT | O_EXCL`).
    pub fn create_new(&mut self, v: bool) -> &mut Self {
        self.create_new = v;
        self
    }
    /// Permission bits for a created file (before the umask; default 0o666).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// The `open(2)` flags these options mean.
    pub fn flags(&self) -> i32 {
        let write = self.write || self.append;
        let mut f = match (self.read, write) {
            (true, true) => O_RDWR,
            (false, true) => O_WRONLY,
            _ => O_RDONLY,
        };
        if self.append {
            f |= O_APPEND;
        }
        if self.truncate {
            f |= O_TRUNC;
        }
        if self.create || self.create_new {
            f |= O_CREAT;
        }
        if self.create_new {
            f |= O_EXCL;
        }
        f
    }

    /// Opens `path` on `rt`'s IO backend.
    pub async fn open<R: AsRef<Runtime> + ?Sized>(&self, rt: &R, path: impl AsRef<Path>) -> io::Result<File> {
        if !self.read && !self.write && !self.append {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "neither read nor write access requested"));
        }
        File::open_with_flags(rt, path, self.flags(), self.mode).await
    }
}

/// Reads the whole file at `path` into a buffer the runtime allocates and sizes (`luminal_file_read_all`).
pub async fn read<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<Buffer> {
    let raw = run_out_cell(rt.as_ref(), path.as_ref(), ffi::luminal_file_read_all).await?;
    Ok(Buffer { raw })
}

/// Maps the whole regular file at `path` read-only (`luminal_file_map`): zero copies.
pub async fn map<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<Mmap> {
    let raw = run_out_cell(rt.as_ref(), path.as_ref(), ffi::luminal_file_map).await?;
    Ok(Mmap { raw })
}

/// A result the runtime writes into a cell the caller provides and later releases (a buffer, a mapped view).
trait OutCell: Sized {
    /// What a cell holds before the runtime fills it and after it is taken over: release ignores it.
    const EMPTY: Self;
    /// Frees what an unclaimed cell holds (`luminal_buffer_release`, `luminal_view_release`).
    unsafe fn release(cell: *mut Self);
}

impl OutCell for ffi::luminal_buffer {
    const EMPTY: Self = ffi::luminal_buffer { data: std::ptr::null_mut(), len: 0 };
    unsafe fn release(cell: *mut Self) {
        // SAFETY: the caller passes a cell the runtime filled (or EMPTY, which it ignores).
        unsafe { ffi::luminal_buffer_release(cell) }
    }
}

impl OutCell for ffi::luminal_view {
    const EMPTY: Self = ffi::luminal_view { data: std::ptr::null(), len: 0 };
    unsafe fn release(cell: *mut Self) {
        // SAFETY: as for the buffer (an unclaimed view is unmapped).
        unsafe { ffi::luminal_view_release(cell) }
    }
}

type OutCellStart<T> = unsafe fn(
    *mut ffi::luminal_runtime,
    *const std::os::raw::c_char,
    *mut T,
    *mut ffi::luminal_io_result,
    *mut ffi::luminal_future,
) -> ffi::luminal_status;

/// Runs a path operation that answers through an out-cell (`start`: luminal_file_read_all or luminal_file_map)
/// and takes the filled cell over.
async fn run_out_cell<T: OutCell>(rt: &Runtime, path: &Path, start: OutCellStart<T>) -> io::Result<T> {
    let mut op = out_cell_op(rt, path, start)?;
    (&mut op).await?;
    // SAFETY: completed; we take the cell over and leave EMPTY behind so the Op's cleanup ignores it.
    Ok(unsafe { std::ptr::replace(op.extra_ptr() as *mut T, T::EMPTY) })
}

fn out_cell_op<T: OutCell>(rt: &Runtime, path: &Path, start: OutCellStart<T>) -> io::Result<Op> {
    let path = c_path(path)?;
    let cell = Box::into_raw(Box::new(T::EMPTY));
    unsafe fn free<T: OutCell>(p: *mut c_void) {
        let cell = p as *mut T;
        // SAFETY: `p` is the Box made above, freed once by the Op after the runtime's future is gone; what is in
        // it is an unclaimed result (or EMPTY, which release ignores).
        unsafe {
            T::release(cell);
            drop(Box::from_raw(cell));
        }
    }
    let extra = Extra { ptr: cell as *mut c_void, free: free::<T> };
    // SAFETY: the path is copied; `cell` is owned by the Op and freed after the runtime's future.
    Op::new(rt, Some(extra), |res, out| unsafe { start(rt.as_raw(), path.as_ptr(), cell, res, out) })
}

/// Writes `data` to the file at `path`, creating or truncating it.
pub async fn write<R: AsRef<Runtime> + ?Sized>(
    rt: &R,
    path: impl AsRef<Path>,
    data: impl AsRef<[u8]>,
) -> io::Result<()> {
    let f = File::create(rt, path).await?;
    f.write_all_at(data.as_ref(), 0).await?;
    f.close().await
}

/// A buffer the runtime allocated ([`read`]); released (`luminal_buffer_release`) on drop.
pub struct Buffer {
    raw: ffi::luminal_buffer,
}

// SAFETY: plain owned memory.
unsafe impl Send for Buffer {}
// SAFETY: `&Buffer` only reads the memory.
unsafe impl Sync for Buffer {}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.raw.data.is_null() {
            &[]
        } else {
            // SAFETY: owned memory of `len` bytes, alive until drop.
            unsafe { std::slice::from_raw_parts(self.raw.data, self.raw.len) }
        }
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.raw.data.is_null() {
            &mut []
        } else {
            // SAFETY: as above, and we own it exclusively.
            unsafe { std::slice::from_raw_parts_mut(self.raw.data, self.raw.len) }
        }
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Buffer> for Vec<u8> {
    fn from(b: Buffer) -> Vec<u8> {
        b.to_vec()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: filled by luminal_file_read_all, released once.
        unsafe { ffi::luminal_buffer_release(&mut self.raw) }
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer").field("len", &self.raw.len).finish()
    }
}

/// A read-only mapping of a whole file ([`map`]); unmapped (`luminal_view_release`) on drop.
///
/// As with any shared file mapping, another process truncating the file while it is mapped makes reads of the
/// vanished pages fault (`SIGBUS`); map files that are not modified while mapped.
pub struct Mmap {
    raw: ffi::luminal_view,
}

// SAFETY: a read-only mapping.
unsafe impl Send for Mmap {}
// SAFETY: a read-only mapping: `&Mmap` only reads it.
unsafe impl Sync for Mmap {}

impl Deref for Mmap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.raw.data.is_null() {
            &[]
        } else {
            // SAFETY: mapped for `len` bytes until drop.
            unsafe { std::slice::from_raw_parts(self.raw.data, self.raw.len) }
        }
    }
}

impl AsRef<[u8]> for Mmap {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: filled by luminal_file_map, released once.
        unsafe { ffi::luminal_view_release(&mut self.raw) }
    }
}

impl fmt::Debug for Mmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mmap").field("len", &self.raw.len).finish()
    }
}

/// The size, mode and modification time of the file at `path`, links followed (`luminal_fs_stat`: statx on
/// io_uring).
pub async fn metadata<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<Metadata> {
    let rt = rt.as_ref();
    let p = c_path(path.as_ref())?;
    let (info, extra) = crate::addr::slot(ffi::luminal_file_info::default());
    let info_addr = info as usize; // heap memory the Op owns (kept out of the future: Send)
                                   // SAFETY: the path is copied by the call; `info` is owned by the Op and freed after the runtime's future.
    let mut op = Op::new(rt, Some(extra), |res, out| unsafe {
        ffi::luminal_fs_stat(rt.as_raw(), p.as_ptr(), info_addr as *mut _, res, out)
    })?;
    (&mut op).await?;
    // SAFETY: completed: the runtime wrote it and let go of it.
    let i = unsafe { *(op.extra_ptr() as *const ffi::luminal_file_info) };
    Ok(Metadata { len: i.size, mode: i.mode, mtime_ns: i.mtime_ns })
}

/// Renames `from` to `to`, replacing a file there (`luminal_fs_rename`).
pub async fn rename<R: AsRef<Runtime> + ?Sized>(
    rt: &R,
    from: impl AsRef<Path>,
    to: impl AsRef<Path>,
) -> io::Result<()> {
    let rt = rt.as_ref();
    let (f, t) = (c_path(from.as_ref())?, c_path(to.as_ref())?);
    // SAFETY: the paths are copied by the call.
    let op =
        Op::new(rt, None, |res, out| unsafe { ffi::luminal_fs_rename(rt.as_raw(), f.as_ptr(), t.as_ptr(), res, out) })?;
    op.await.map(drop)
}

/// Removes a file (`luminal_fs_unlink`).
pub async fn remove_file<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<()> {
    let rt = rt.as_ref();
    let p = c_path(path.as_ref())?;
    // SAFETY: the path is copied by the call.
    let op = Op::new(rt, None, |res, out| unsafe { ffi::luminal_fs_unlink(rt.as_raw(), p.as_ptr(), res, out) })?;
    op.await.map(drop)
}

/// Creates a directory with mode 0o777 before the umask (`luminal_fs_mkdir`); `AlreadyExists` if something is there.
pub async fn create_dir<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<()> {
    let rt = rt.as_ref();
    let p = c_path(path.as_ref())?;
    // SAFETY: the path is copied by the call.
    let op = Op::new(rt, None, |res, out| unsafe { ffi::luminal_fs_mkdir(rt.as_raw(), p.as_ptr(), 0o777, res, out) })?;
    op.await.map(drop)
}

/// Removes an empty directory (`luminal_fs_remove_dir`).
pub async fn remove_dir<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<()> {
    let rt = rt.as_ref();
    let p = c_path(path.as_ref())?;
    // SAFETY: the path is copied by the call.
    let op = Op::new(rt, None, |res, out| unsafe { ffi::luminal_fs_remove_dir(rt.as_raw(), p.as_ptr(), res, out) })?;
    op.await.map(drop)
}

/// One entry of [`read_dir`].
#[derive(Clone, Debug)]
pub struct DirEntry {
    name: std::ffi::OsString,
    kind: u32,
}

impl DirEntry {
    /// The entry's name (not its path).
    pub fn file_name(&self) -> &std::ffi::OsStr {
        &self.name
    }

    /// Its type as readdir(3) reports it (`DT_REG` 8, `DT_DIR` 4, `DT_LNK` 10, ..., `DT_UNKNOWN` 0).
    pub fn kind(&self) -> u32 {
        self.kind
    }

    /// A directory (as readdir reports it; `DT_UNKNOWN` file systems need [`metadata`]).
    pub fn is_dir(&self) -> bool {
        self.kind == 4
    }

    /// A regular file (as readdir reports it).
    pub fn is_file(&self) -> bool {
        self.kind == 8
    }
}

/// The entries of the directory at `path`, but "." and ".." (`luminal_fs_read_dir`, on the blocking pool).
pub async fn read_dir<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<Vec<DirEntry>> {
    unsafe fn free(p: *mut c_void) {
        let p = p as *mut ffi::luminal_dir_list;
        // SAFETY: the Box made below, freed once; a zeroed list is ignored by the release.
        unsafe {
            ffi::luminal_dir_list_release(p);
            drop(Box::from_raw(p));
        }
    }
    let rt = rt.as_ref();
    let p = c_path(path.as_ref())?;
    let list = Box::into_raw(Box::new(ffi::luminal_dir_list { entries: std::ptr::null_mut(), count: 0 }));
    let list_addr = list as usize; // heap memory the Op owns (kept out of the future: Send)
    let extra = Extra { ptr: list as *mut c_void, free };
    // SAFETY: the path is copied by the call; the list is owned by the Op and released after the runtime's future.
    let mut op = Op::new(rt, Some(extra), |res, out| unsafe {
        ffi::luminal_fs_read_dir(rt.as_raw(), p.as_ptr(), list_addr as *mut _, res, out)
    })?;
    (&mut op).await?;
    // SAFETY: completed: the runtime filled the list; it lives until the Op is dropped.
    let l = unsafe { &*(op.extra_ptr() as *const ffi::luminal_dir_list) };
    let mut out = Vec::with_capacity(l.count);
    for i in 0..l.count {
        // SAFETY: `count` entries, each with a NUL-terminated name inside the list's allocation.
        let e = unsafe { &*l.entries.add(i) };
        // SAFETY: as above.
        let name = unsafe { std::ffi::CStr::from_ptr(e.name) };
        out.push(DirEntry { name: std::ffi::OsStr::from_bytes(name.to_bytes()).to_os_string(), kind: e.kind });
    }
    Ok(out)
}
