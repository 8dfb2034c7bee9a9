//! Task priorities ([`Priority`]) and spawn options ([`SpawnOptions`]).
//!
//! Every task has a priority. At every scheduling point a worker runs the most urgent runnable task it can find;
//! within one level the order is FIFO-fair. A running poll is never interrupted, and on every 257th scheduling
//! tick a worker serves the least urgent non-empty level first, so background work is never starved forever.
//! A task spawned from inside a task ([`crate::spawn`], [`Handle::spawn`](crate::Handle::spawn)) inherits the
//! spawning task's priority (and scope) unless told otherwise; tasks spawned from outside a task default to
//! [`Priority::UserInitiated`]. The priority of the task awaiting an IO operation travels into the request
//! (io_uring's ioprio for file reads and writes, queue order on the blocking pool), and
//! [`Runtime::spawn_blocking`](crate::Runtime::spawn_blocking) queues by priority too.

use crate::ffi;
use crate::Scope;

/// How urgent a task is (`luminal_priority`), most urgent first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Priority {
    /// The spawning task's priority (from inside a task), [`UserInitiated`](Self::UserInitiated) elsewhere.
    #[default]
    Inherit = ffi::LUMINAL_PRIORITY_INHERIT,
    /// The user is waiting on it right now (input, animation, audio).
    UserInteractive = ffi::LUMINAL_PRIORITY_USER_INTERACTIVE,
    /// The user asked for it and waits for the result: the default outside of tasks.
    UserInitiated = ffi::LUMINAL_PRIORITY_USER_INITIATED,
    /// Long-running work the user knows about (progress bars).
    Utility = ffi::LUMINAL_PRIORITY_UTILITY,
    /// Work the user does not see (indexing, prefetch, cache fills).
    Background = ffi::LUMINAL_PRIORITY_BACKGROUND,
}

impl Priority {
    /// The `luminal_priority` value.
    pub fn as_raw(self) -> ffi::luminal_priority {
        self as ffi::luminal_priority
    }
}

/// Options for a spawn: a [`Priority`] and an optional [`Scope`] (borrowed for the spawn call only).
///
/// ```no_run
/// # let rt = luminal::Runtime::new().unwrap();
/// use luminal::{Priority, Scope, SpawnOptions};
/// let scope = Scope::new(&rt).unwrap();
/// let h = rt.spawn_opts(SpawnOptions::new().priority(Priority::Background).scope(&scope), async { 1 });
/// ```
///
/// Unset fields inherit: from inside a task ([`Handle::spawn_opts`](crate::Handle::spawn_opts),
/// [`crate::spawn_opts`]) the spawning task's priority and scope; from outside,
/// [`Priority::UserInitiated`] and no scope. A scope must belong to the runtime spawned on, else the spawn fails
/// with `ErrorKind::InvalidArgument`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpawnOptions<'a> {
    pub(crate) priority: Priority,
    pub(crate) scope: Option<&'a Scope>,
}

impl<'a> SpawnOptions<'a> {
    /// Inherit everything.
    pub fn new() -> SpawnOptions<'a> {
        SpawnOptions::default()
    }

    /// The task's priority.
    pub fn priority(mut self, p: Priority) -> SpawnOptions<'a> {
        self.priority = p;
        self
    }

    /// Spawn into `scope`.
    pub fn scope(mut self, scope: &'a Scope) -> SpawnOptions<'a> {
        self.scope = Some(scope);
        self
    }

    pub(crate) fn raw_scope(&self) -> *mut ffi::luminal_scope {
        self.scope.map_or(std::ptr::null_mut(), |s| s.as_raw())
    }
}

impl From<Priority> for SpawnOptions<'_> {
    fn from(p: Priority) -> Self {
        SpawnOptions::new().priority(p)
    }
}

impl<'a> From<&'a Scope> for SpawnOptions<'a> {
    fn from(s: &'a Scope) -> Self {
        SpawnOptions::new().scope(s)
    }
}
