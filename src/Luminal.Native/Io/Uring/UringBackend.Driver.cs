using System.Threading;
using Luminal.Scheduler;

namespace Luminal.Io.Uring;

/// <summary>
/// io_uring as the scheduler's driver (see <see cref="Driver"/>): workers reap completions in their IO turns, and
/// while requests are in flight the last worker to go idle sleeps in the ring, so an idle runtime sleeps in one place.
/// </summary>
sealed partial class UringBackend
{
    const long WatchNs = 1_000_000; // how often a watching worker looks at the ring (see Park)

    /// <summary>A worker's IO turn (every Worker.IoPollInterval turns of its loop, and when it runs out of work),
    /// and the other pollers (the current-thread runtime's loop): submits what the workers queued, then reaps.
    /// Idle IO must cost nothing there (issue 15): with no request in
    /// flight there is no completion anyone waits for, so one read of the counter is the whole check — no stack
    /// buffers, no lock. (A poke's or a cancel's completion, which nobody counts, stays in the ring until the next
    /// reap: the worker sleeping in the ring reaps it itself, see Sleep.)</summary>
    public override bool Poll()
    {
        if (Volatile.Read(ref _inFlight) == 0) return false;
        Worker? worker = _runtime.CurrentWorker();
        if (worker is not null) worker.IoFlushHeld = false;
        Flush(worker); // what this worker's polls queued (Submit)
        return ReapAvailable() > 0;
    }

    /// <summary>
    /// A worker out of work reaps before it flushes, every other time: when completions wake tasks, it runs them
    /// at once and holds back what its polls queued, so the requests those tasks make go into the kernel with the
    /// held ones, in one enter. In request/response traffic on one worker (an echo's two ends) that is one enter
    /// per round trip instead of two, and a reply that arrives before its receive is submitted is found when the
    /// receive's poll is armed instead of waking a waiting request. Only here, where the woken tasks are the next
    /// thing the worker runs (the periodic IO turn of a busy worker always flushes), and every other time, so a
    /// worker whose reaps keep finding something still submits.
    /// </summary>
    public override bool PollOutOfWork()
    {
        if (Volatile.Read(ref _inFlight) == 0) return false;
        Worker? worker = _runtime.CurrentWorker();
        if (worker is null || worker.IoFlushHeld || ReapAvailable() == 0) return Poll();
        worker.IoFlushHeld = true;
        return true;
    }

    public override void Park(Worker worker, long timeoutNs, bool othersAwake)
    {
        // Nothing in flight (queued entries count too): there is no completion to wait for, so the worker sleeps on
        // its futex as before any IO — a wake is then a futex wake, not a NOP submitted through the ring's lock and
        // an io_uring_enter, a reap and the poke's bookkeeping; nor does it watch every millisecond (issue 15: idle IO
        // must cost nothing). A submission after this read sees this worker parked (Idle.Park came first; both sides
        // fence) and its EnsureWatched (PollAfterSubmit) wakes it, to sleep in the ring or watch.
        if (Volatile.Read(ref _inFlight) == 0)
        {
            Interlocked.CompareExchange(ref _waiter, -1, worker.Index); // a role kept from the last wait
            worker.Parker.Park(timeoutNs);
            return;
        }
        // Nothing queued may wait for this worker's next turn: it is about to sleep. (The loop flushed before it
        // looked for work to steal; this covers a flush the kernel refused — EBUSY/EAGAIN leave entries queued —
        // by watching: the watcher's loop flushes again every millisecond.)
        Flush(worker);
        if (HasQueuedFor(worker) && (ulong)timeoutNs > WatchNs) timeoutNs = WatchNs;
        if (TryBeginWait(worker.Index, othersAwake))
        {
            // This worker sleeps in the ring: completions wake it directly.
            worker.Parker.ParkIn(this, timeoutNs);
            // Woken with IO work (the tasks its reaping woke are in its LIFO slot): keep the role while running
            // them, so those tasks' next completions come back here instead of waking another worker — with
            // request/response traffic one hot worker then does everything while the others sleep (as in tokio,
            // whose driver stays with the worker that last parked on it). Woken for anything else (a notification,
            // a timer), give the role up.
            if (!worker.HasWokenTask) EndWait();
            // Off to run what woke it (IO, a timer, a notification): nobody sleeps in the ring now. If IO is in
            // flight, make sure a parked worker watches it, or one long poll here would hold it up.
            if (HasInFlight) EnsureWatched();
            return;
        }
        // An awake worker reaps the ring on every turn of its loop — unless it is inside one long poll. So while
        // others are awake, one parked worker (the watcher) looks every WatchNs: a completion never waits longer than
        // that for someone else's poll to end.
        if (!(othersAwake && TryBeginWatch(worker.Index)))
        {
            worker.Parker.Park(timeoutNs);
            return;
        }
        Watch(worker, timeoutNs);
        EndWatch(worker.Index);
    }

    /// <summary>
    /// The watcher's park: looks every WatchNs, and goes back to its loop (which reaps) only when a completion sat
    /// a whole period with nobody reaping it, when it is woken, when its own timeout (a timer) is due, or when no
    /// other worker is awake any more. It used to go back after every period, and its loop's reap took the awake
    /// workers' completions: the tasks they woke then ran on the watcher, away from the other end of their
    /// conversation (the single echo's two ends split across the workers for a while, every request a cross-thread
    /// hand-off). Each look also submits what a worker stuck in one poll queued (FlushStalled).
    /// </summary>
    void Watch(Worker worker, long timeoutNs)
    {
        long deadline = timeoutNs < 0 ? long.MaxValue : (long)Time.Clock.NowNs() + timeoutNs;
        CompletionsStalled(); // the first look only records where each ring's completions are
        while (true)
        {
            long left = deadline == long.MaxValue ? WatchNs : deadline - (long)Time.Clock.NowNs();
            if (left <= 0 || worker.Parker.Park(System.Math.Min(left, WatchNs))) return;
            Flush(worker); // (a flush the kernel refused earlier: EBUSY/EAGAIN leave entries queued)
            FlushStalled(worker);
            if (CompletionsStalled() || _runtime.Idle.UnparkedCount == 0) return;
        }
    }

    /// <summary>The watcher's look: did completions wait in a ring since its last look without anyone reaping them
    /// (every awake worker inside a long poll)? Records each ring's completion head for the next look.</summary>
    bool CompletionsStalled()
    {
        if (!Monitor.TryEnter(_reapLock)) return false; // someone is reaping right now
        try // (under the reap lock: disposal takes it too, so the rings' memory is mapped while we look)
        {
            bool stalled = Stalled(_ring, ref _cqHeadSeen[0]);
            for (int i = 0; i < _workerRings.Length; i++) stalled |= Stalled(_workerRings[i], ref _cqHeadSeen[i + 1]);
            return stalled;
        }
        finally { Monitor.Exit(_reapLock); }
    }

    static bool Stalled(Ring ring, ref uint seen)
    {
        if (ring.IsDisposed) return false;
        uint head = ring.CqHead;
        bool stalled = head == seen && ring.HasCompletions;
        seen = head;
        return stalled;
    }
}
