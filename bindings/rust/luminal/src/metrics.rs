//! What a running [`Runtime`] is doing: its counters ([`Runtime::metrics`], per worker
//! [`Runtime::worker_metrics`]) and a one-line summary ([`Runtime::stats`]). Reading them is cheap (the library
//! sums per-worker counters); see `luminal_runtime_get_metrics` in `luminal.h` for what each counts.

use crate::ffi;
use crate::Runtime;
use std::fmt;
use std::time::Duration;

/// A snapshot of a runtime's counters (`luminal_runtime_metrics`). On a quiet runtime every field is exact; on a
/// busy one each is exact at some instant during the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeMetrics {
    /// Worker threads.
    pub workers: usize,
    /// Blocking-pool threads alive.
    pub blocking_threads: usize,
    /// Of those, the ones waiting for work.
    pub blocking_idle: usize,
    /// The pool's cap.
    pub blocking_max: usize,
    /// Tasks ever made (every spawn, and `block_on` futures).
    pub tasks_spawned: u64,
    /// Tasks whose future completed.
    pub tasks_completed: u64,
    /// Tasks dropped unfinished.
    pub tasks_cancelled: u64,
    /// Tasks queued, running or waiting on a waker.
    pub tasks_alive: u64,
    /// Polls run by the workers.
    pub polls: u64,
    /// Successful steals from another worker's queue.
    pub steals: u64,
    /// Times a worker went to sleep for want of work.
    pub parks: u64,
    /// Times a spawn or wake woke a sleeping worker.
    pub unparks: u64,
    /// Tasks in the global queues.
    pub injector_depth: u64,
    /// Tasks in the workers' own queues.
    pub local_queue_depth: u64,
    /// Runnable tasks per priority level, most urgent first ([`Priority`](crate::Priority) order).
    pub ready: [u64; 4],
    /// Blocking calls waiting for a pool thread.
    pub blocking_queue_depth: u64,
    /// IO operations submitted and not yet completed.
    pub io_in_flight: u64,
    /// Sleeps and timeouts waiting in the timer wheel.
    pub timers_pending: u64,
    /// Time the workers were not parked, summed over workers.
    pub busy: Duration,
    /// Time the workers were parked, summed over workers.
    pub parked: Duration,
}

/// One worker's counters (`luminal_worker_metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerMetrics {
    /// Polls it ran.
    pub polls: u64,
    /// Successful steals it made.
    pub steals: u64,
    /// Times it went to sleep.
    pub parks: u64,
    /// Tasks in its own queues now.
    pub queue_depth: u64,
    /// Time since it started that it was not parked.
    pub busy: Duration,
    /// Time it was parked.
    pub parked: Duration,
}

/// A summary of [`RuntimeMetrics`] for logs and dashboards; `Display` prints it on one line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RuntimeStats {
    /// Worker threads.
    pub workers: usize,
    /// Tasks alive (queued, running or waiting).
    pub tasks_alive: u64,
    /// Tasks ever spawned.
    pub tasks_spawned: u64,
    /// Runnable tasks waiting in any queue.
    pub queued: u64,
    /// Polls run by the workers.
    pub polls: u64,
    /// Blocking-pool threads alive.
    pub blocking_threads: usize,
    /// The share of the workers' time spent not parked, 0.0 ..= 1.0.
    pub utilization: f64,
}

impl fmt::Display for RuntimeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} workers {:.0}% busy, {} tasks alive ({} queued) of {} spawned, {} polls, {} blocking threads",
            self.workers,
            self.utilization * 100.0,
            self.tasks_alive,
            self.queued,
            self.tasks_spawned,
            self.polls,
            self.blocking_threads
        )
    }
}

impl From<RuntimeMetrics> for RuntimeStats {
    fn from(m: RuntimeMetrics) -> RuntimeStats {
        let total = m.busy + m.parked;
        RuntimeStats {
            workers: m.workers,
            tasks_alive: m.tasks_alive,
            tasks_spawned: m.tasks_spawned,
            queued: m.injector_depth + m.local_queue_depth,
            polls: m.polls,
            blocking_threads: m.blocking_threads,
            utilization: if total.is_zero() { 0.0 } else { m.busy.as_secs_f64() / total.as_secs_f64() },
        }
    }
}

impl Runtime {
    /// The runtime's counters (all zero if the library refuses: a handle inherited across fork).
    pub fn metrics(&self) -> RuntimeMetrics {
        let mut m = ffi::luminal_runtime_metrics {
            struct_size: std::mem::size_of::<ffi::luminal_runtime_metrics>(),
            ..Default::default()
        };
        // SAFETY: `m` is borrowed for the call; struct_size says how much may be written.
        if unsafe { ffi::luminal_runtime_get_metrics(self.as_raw(), &mut m) } != ffi::LUMINAL_OK {
            return RuntimeMetrics::default();
        }
        RuntimeMetrics {
            workers: m.workers as usize,
            blocking_threads: m.blocking_threads as usize,
            blocking_idle: m.blocking_idle as usize,
            blocking_max: m.blocking_max as usize,
            tasks_spawned: m.tasks_spawned,
            tasks_completed: m.tasks_completed,
            tasks_cancelled: m.tasks_cancelled,
            tasks_alive: m.tasks_alive,
            polls: m.polls,
            steals: m.steals,
            parks: m.parks,
            unparks: m.unparks,
            injector_depth: m.injector_depth,
            local_queue_depth: m.local_queue_depth,
            ready: [m.ready_user_interactive, m.ready_user_initiated, m.ready_utility, m.ready_background],
            blocking_queue_depth: m.blocking_queue_depth,
            io_in_flight: m.io_in_flight,
            timers_pending: m.timers_pending,
            busy: Duration::from_nanos(m.busy_ns),
            parked: Duration::from_nanos(m.parked_ns),
        }
    }

    /// Worker `index`'s counters, or `None` if there is no such worker.
    pub fn worker_metrics(&self, index: usize) -> Option<WorkerMetrics> {
        let index = u32::try_from(index).ok()?;
        let mut m = ffi::luminal_worker_metrics {
            struct_size: std::mem::size_of::<ffi::luminal_worker_metrics>(),
            ..Default::default()
        };
        // SAFETY: as in `metrics`.
        if unsafe { ffi::luminal_runtime_get_worker_metrics(self.as_raw(), index, &mut m) } != ffi::LUMINAL_OK {
            return None;
        }
        Some(WorkerMetrics {
            polls: m.polls,
            steals: m.steals,
            parks: m.parks,
            queue_depth: m.queue_depth,
            busy: Duration::from_nanos(m.busy_ns),
            parked: Duration::from_nanos(m.parked_ns),
        })
    }

    /// A summary of [`metrics`](Self::metrics), e.g. to print now and then: `println!("{}", rt.stats())`.
    pub fn stats(&self) -> RuntimeStats {
        self.metrics().into()
    }
}
