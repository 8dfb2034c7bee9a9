//! Task priorities ([`Priority`]); spawn one with [`task::Builder`](crate::task::Builder).
//!
//! Every task has a priority. At every scheduling point a worker runs the most urgent runnable task it can find;
//! within one level the order is FIFO-fair. A running poll is never interrupted, and on every 257th scheduling
//! tick a worker serves the least urgent non-empty level first, so background work is never starved forever.
//! A task spawned from inside a task ([`crate::spawn`], [`Handle::spawn`](crate::Handle::spawn)) inherits the
//! spawning task's priority (and scope) unless told otherwise; tasks spawned from outside a task default to
//! [`Priority::UserInitiated`]. Set a priority with [`task::Builder::priority`](crate::task::Builder::priority). The priority of the task awaiting an IO operation travels into the request
//! (io_uring's ioprio for file reads and writes, queue order on the blocking pool), and
//! [`Runtime::spawn_blocking`](crate::Runtime::spawn_blocking) queues by priority too.

use crate::ffi;

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
