//! Child processes (`luminal_process_*`): [`Command`] spawns, [`Child::wait`] is a future on the child's pidfd
//! (no thread waits), and piped stdio are async streams ([`PipeWriter`] / [`PipeReader`]).
//!
//! ```no_run
//! use luminal::{io::AsyncReadExt, process::{Command, Stdio}, Runtime};
//! let rt = Runtime::new().unwrap();
//! let rt2 = rt.clone();
//! let out = rt.block_on(async move {
//!     let mut child = Command::new("echo").arg("hi").stdout(Stdio::Piped).spawn(&rt2)?;
//!     let mut text = Vec::new();
//!     child.stdout.take().unwrap().read_to_end(&mut text).await?;
//!     child.wait().await?;
//!     std::io::Result::Ok(text)
//! }).unwrap();
//! assert_eq!(out, b"hi\n");
//! ```

use crate::ffi;
use crate::io_op::Op;
use crate::net::{check, PipeReader, PipeWriter};
use crate::Runtime;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;

/// What becomes of a child's stdin, stdout or stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stdio {
    /// This process's.
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// A pipe: [`Child::stdin`] / [`Child::stdout`] / [`Child::stderr`].
    Piped,
}

impl Stdio {
    fn mode(self) -> u32 {
        match self {
            Stdio::Inherit => ffi::LUMINAL_STDIO_INHERIT,
            Stdio::Null => ffi::LUMINAL_STDIO_NULL,
            Stdio::Piped => ffi::LUMINAL_STDIO_PIPE,
        }
    }
}

/// A program to run, its arguments, environment, directory and stdio (std's `Command`, spawned by the runtime).
#[derive(Clone, Debug)]
pub struct Command {
    program: CString,
    args: Vec<CString>,
    env: Option<Vec<CString>>,
    cwd: Option<CString>,
    stdio: [Stdio; 3],
}

fn c(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a command"))
}

impl Command {
    /// Runs `program` (searched in `PATH` unless it contains a `/`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        let program = CString::new(program.as_ref().as_bytes()).unwrap_or_default();
        Command { args: vec![program.clone()], program, env: None, cwd: None, stdio: [Stdio::Inherit; 3] }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(CString::new(arg.as_ref().as_bytes()).unwrap_or_default());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Command {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Sets one variable; the child then gets this process's environment with it.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        let env = self.env.get_or_insert_with(|| {
            let pairs = std::env::vars_os().map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat());
            pairs.filter_map(|kv| CString::new(kv).ok()).collect()
        });
        let prefix = [key.as_ref().as_bytes(), b"="].concat();
        env.retain(|e| !e.as_bytes().starts_with(&prefix));
        if let Ok(e) = c(OsStr::from_bytes(&[&prefix[..], value.as_ref().as_bytes()].concat())) {
            env.push(e);
        }
        self
    }

    /// Starts the child with no environment variables but those set after this.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env = Some(Vec::new());
        self
    }

    /// The child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = c(dir.as_ref().as_os_str()).ok();
        self
    }

    /// The child's stdin.
    pub fn stdin(&mut self, s: Stdio) -> &mut Command {
        self.stdio[0] = s;
        self
    }

    /// The child's stdout.
    pub fn stdout(&mut self, s: Stdio) -> &mut Command {
        self.stdio[1] = s;
        self
    }

    /// The child's stderr.
    pub fn stderr(&mut self, s: Stdio) -> &mut Command {
        self.stdio[2] = s;
        self
    }

    /// Starts the child (`luminal_process_spawn`). `NotFound` if there is no such program.
    pub fn spawn<R: AsRef<Runtime> + ?Sized>(&self, rt: &R) -> io::Result<Child> {
        if self.program.as_bytes().is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty program name"));
        }
        let mut argv: Vec<*mut std::ffi::c_char> = self.args.iter().map(|a| a.as_ptr() as *mut _).collect();
        argv.push(std::ptr::null_mut());
        let mut envp: Option<Vec<*mut std::ffi::c_char>> =
            self.env.as_ref().map(|e| e.iter().map(|s| s.as_ptr() as *mut _).chain([std::ptr::null_mut()]).collect());
        let o = ffi::luminal_process_options {
            struct_size: std::mem::size_of::<ffi::luminal_process_options>(),
            path: self.program.as_ptr(),
            argv: argv.as_ptr(),
            envp: envp.as_mut().map_or(std::ptr::null(), |e| e.as_ptr()),
            cwd: self.cwd.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
            stdin_mode: self.stdio[0].mode(),
            stdout_mode: self.stdio[1].mode(),
            stderr_mode: self.stdio[2].mode(),
            reserved: 0,
        };
        let mut p =
            ffi::luminal_process { pid: -1, pidfd: -1, stdin_fd: -1, stdout_fd: -1, stderr_fd: -1, reserved: 0 };
        let mut err = ffi::luminal_io_result::default();
        // SAFETY: every string and array lives across the call; out-pointers to locals.
        check(unsafe { ffi::luminal_process_spawn(&o, &mut p, &mut err) }, &err)?;
        let rt = rt.as_ref();
        let take = |fd: &mut i32| {
            let f = std::mem::replace(fd, -1);
            // SAFETY: a pipe end the runtime made for us; `Child` owns it from here (taken out of `p`).
            (f >= 0).then(|| unsafe { OwnedFd::from_raw_fd(f) })
        };
        let stdin = take(&mut p.stdin_fd).map(|fd| PipeWriter::from_fd(rt, fd));
        let stdout = take(&mut p.stdout_fd).map(|fd| PipeReader::from_fd(rt, fd));
        let stderr = take(&mut p.stderr_fd).map(|fd| PipeReader::from_fd(rt, fd));
        Ok(Child { p, rt: rt.clone(), stdin, stdout, stderr })
    }
}

/// A running (or exited, not yet waited for) child. Dropping it neither waits nor kills: the child runs on, and
/// stays a zombie after it exits until this process ends — wait for it.
#[derive(Debug)]
pub struct Child {
    p: ffi::luminal_process,
    rt: Runtime,
    /// The child's stdin, if piped.
    pub stdin: Option<PipeWriter>,
    /// The child's stdout, if piped.
    pub stdout: Option<PipeReader>,
    /// The child's stderr, if piped.
    pub stderr: Option<PipeReader>,
}

impl Child {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.p.pid as u32
    }

    /// Waits for the child to exit and reaps it (`luminal_process_wait`: the pidfd's readiness, no thread
    /// waits). The child's stdin, if still here, is closed first so a child reading it sees end of input.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let p = self.p;
        // SAFETY: `p` is read during the call; result/out are the Op's.
        let op =
            Op::new(&self.rt, None, |res, out| unsafe { ffi::luminal_process_wait(self.rt.as_raw(), &p, res, out) })?;
        op.await.map(|status| ExitStatus::from_raw(status as i32))
    }

    /// Sends `SIGKILL` (through the pidfd: never another process that reused the pid).
    pub fn kill(&self) -> io::Result<()> {
        self.signal(9)
    }

    /// Sends signal `signo`.
    pub fn signal(&self, signo: i32) -> io::Result<()> {
        let mut err = ffi::luminal_io_result::default();
        // SAFETY: an out-pointer to a local.
        check(unsafe { ffi::luminal_process_kill(&self.p, signo, &mut err) }, &err)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: closes the pidfd (the pipe ends were taken out of `p` at spawn).
        unsafe { ffi::luminal_process_release(&mut self.p) }
    }
}
