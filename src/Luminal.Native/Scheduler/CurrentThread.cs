using System;
using System.Threading;
using Luminal.Interop;
using Luminal.Tasks;

namespace Luminal.Scheduler;

/// <summary>
/// The scheduler of a current-thread runtime (LUMINAL_FLAVOR_CURRENT_THREAD): no workers; tasks run on whichever
/// thread drives the runtime — luminal_block_on, luminal_runtime_run, luminal_runtime_advance — one at a time.
///
/// The run queues are the runtime's global queues (<see cref="Runtime.Injectors"/>, one per priority level): a
/// current-thread runtime has no worker, so <see cref="Runtime.Spawn"/> and <see cref="Runtime.Schedule"/> push
/// there from any thread and call <see cref="Runtime.NotifyOne"/>, whose "no worker to wake" branch lands in
/// <see cref="Notify"/>. Nothing on a multi-thread runtime's paths asks which flavor it is.
///
/// The driving role is one word, <see cref="_driver"/>: the managed id of the thread driving, or 0. Taking it is a
/// compare-and-swap that never waits: another thread gets BUSY, the driving thread itself (a call from inside one of
/// its polls) WOULD_DEADLOCK.
///
/// No lost wake-up, the wakeup fd's protocol: a notifier publishes its work (a queue push, the shutdown flag), then
/// exchanges <see cref="_signalled"/> to 1 and writes the eventfd if it was 0. The driver, before it looks for work
/// and before it waits, drains the eventfd and then exchanges <see cref="_signalled"/> to 0. Both exchanges are full
/// fences, so either the notifier saw 0 and wrote (the fd is readable), or the driver sees its work. Notifies made by
/// the driving thread itself write nothing: it looks at the queues before it waits. io_uring completions signal the
/// eventfd from the kernel (registered when the ring starts, <see cref="IoStarted"/>).
///
/// Shutdown: whoever holds the role when the flag is seen finishes it (<see cref="FinishShutdown"/>, which is the
/// multi-thread runtime's "last worker exits" step, <see cref="Runtime.WorkerExited"/>): a luminal_runtime_shutdown
/// on a thread that is not driving takes the role if it is free, and otherwise the driver, woken through the fd,
/// does it at its next turn (and <see cref="Exit"/> re-checks, so a driver leaving just then does it too).
/// </summary>
sealed unsafe class CurrentThread
{
    readonly Runtime _rt;
    readonly Scheduler.WakeupFd _fd;
    readonly Context _cx;      // the driving thread's luminal_context (one thread at a time: the role)
    readonly bool _seeded;
    ulong _rng;                // splitmix64 state, the driving thread's only
    uint _tick;
    int _driver;               // managed thread id of the driving thread, 0 = nobody
    int _signalled;            // 1: the eventfd was written and not yet drained (see the protocol above)
    bool _finished;            // shutdown's drops are done; the role holder's

    CurrentThread(Runtime runtime, Scheduler.WakeupFd fd, Context cx, ulong seed)
    {
        _rt = runtime;
        _fd = fd;
        _cx = cx;
        _seeded = seed != 0;
        _rng = seed;
    }

    /// <summary>The scheduler for <paramref name="runtime"/>, or null when out of descriptors or contexts.</summary>
    public static CurrentThread? Create(Runtime runtime, ulong seed)
    {
        Scheduler.WakeupFd? fd = Scheduler.WakeupFd.Create();
        if (fd is null) return null;
        Context? cx = Context.Acquire(runtime, -1);
        if (cx is null) { fd.Close(); return null; }
        return new CurrentThread(runtime, fd, cx, seed);
    }

    /// <summary>luminal_runtime_wakeup_fd (-1 once shut down).</summary>
    public int WakeupFdNumber => _fd.Fd;

    /// <summary>Is the calling thread driving this runtime (so a blocking wait here would wait for itself)?</summary>
    public bool IsDrivingThread => Volatile.Read(ref _driver) == Environment.CurrentManagedThreadId;

    // ---- the driving role -----------------------------------------------------------------------------------

    Status Enter()
    {
        int me = Environment.CurrentManagedThreadId;
        int holder = Interlocked.CompareExchange(ref _driver, me, 0);
        return holder == 0 ? Status.Ok : holder == me ? Status.WouldDeadlock : Status.Busy;
    }

    void Exit()
    {
        Interlocked.Exchange(ref _driver, 0); // full fence: the shutdown flag is read after the role is given up
        if (_rt.IsShutdown) TryFinishShutdown();
    }

    // ---- waking the driver ----------------------------------------------------------------------------------

    /// <summary>Work was published for this runtime (any thread; see the protocol above).</summary>
    public void Notify()
    {
        if (Volatile.Read(ref _driver) == Environment.CurrentManagedThreadId) return;
        if (Interlocked.Exchange(ref _signalled, 1) == 0) _fd.Signal();
    }

    /// <summary>The driver is about to look for work: what was signalled so far is seen by that look.</summary>
    void Consume()
    {
        _fd.Drain();
        Interlocked.Exchange(ref _signalled, 0); // full fence: the queues are read after it
    }

    bool HasReady()
    {
        foreach (Injector q in _rt.Injectors) if (!q.IsEmpty) return true;
        return false;
    }

    // ---- running tasks --------------------------------------------------------------------------------------

    /// <summary>The next ready task: the most urgent level first, the least urgent now and then (see Priority); with
    /// a seed, a pseudo-random one of that level.</summary>
    RawTask? Next()
    {
        Injector[] queues = _rt.Injectors;
        _tick++;
        if (_tick % Priority.StarvationInterval == 0)
            for (int level = Priority.Levels - 1; level >= 0; level--)
                if (Take(queues[level]) is RawTask starved) return starved;
        for (int level = 0; level < Priority.Levels; level++)
            if (Take(queues[level]) is RawTask task) return task;
        return null;
    }

    RawTask? Take(Injector queue)
    {
        if (queue.IsEmpty) return null;
        return _seeded ? queue.PopAt(NextRandom()) : queue.PopBatch(1, out _);
    }

    ulong NextRandom()
    {
        // splitmix64: every seed gives a full-period, well-mixed sequence.
        ulong z = _rng += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    void RunOne(RawTask task)
    {
        if (task.Run(_cx)) Requeue(task); // woke itself during the poll: behind every other ready task
    }

    /// <summary>Queues a task whose SCHEDULED flag we own; once the queues are closed (shutdown), drops it.</summary>
    void Requeue(RawTask task)
    {
        if (!_rt.Injectors[task.Priority].Push(task)) task.Run(null); // shut down: Run drops the future
    }

    /// <summary>Due timers and IO completions wake their tasks (into the queues), without blocking.</summary>
    void PollDriver()
    {
        _rt.Timers.FireDueAt(_rt.Timers.NowNs());
        _rt.IoIfStarted?.Poll();
    }

    /// <summary>Runs ready tasks until none is, or a limit (0 = none) is reached. The role holder only.</summary>
    uint RunReady(uint maxPolls, ulong maxNs)
    {
        uint polled = 0;
        ulong start = maxNs != 0 ? Time.Clock.NowNs() : 0;
        while (!_rt.IsShutdown)
        {
            PollDriver();
            if (Next() is not RawTask task) break;
            RunOne(task);
            polled++;
            if (maxPolls != 0 && polled >= maxPolls) break;
            if (maxNs != 0 && Time.Clock.NowNs() - start >= maxNs) break;
        }
        return polled;
    }

    /// <summary>luminal_runtime_run.</summary>
    public Status Run(uint maxPolls, ulong maxNs, out uint polled)
    {
        polled = 0;
        if (IsDrivingThread) return Status.WouldDeadlock; // inside one of our polls, shutting down or not
        if (_rt.IsShutdown) return Status.Shutdown;
        Status s = Enter();
        if (s != Status.Ok) return s;
        try
        {
            Consume();
            polled = RunReady(maxPolls, maxNs);
            if (_rt.IsShutdown) { FinishShutdown(); return Status.Shutdown; }
            // Stopped by a limit with work left: the host's loop must come back.
            if (HasReady()) { Interlocked.Exchange(ref _signalled, 1); _fd.Signal(); }
            return Status.Ok;
        }
        finally { Exit(); }
    }

    /// <summary>luminal_block_on on this runtime: the calling thread drives it until the future completes.</summary>
    public Status BlockOn(in NativeFuture future, void** output)
    {
        // Inside one of our polls: WOULD_DEADLOCK even while shutting down (as on a multi-thread runtime's worker).
        if (IsDrivingThread) { Runtime.DropFuture(future); return Status.WouldDeadlock; }
        if (_rt.IsShutdown) { Runtime.DropFuture(future); return Status.Shutdown; }
        Status s = Enter();
        if (s != Status.Ok) { Runtime.DropFuture(future); return s; }
        RawTask task;
        uint generation;
        try
        {
            if (RawTask.Create(_rt, future, wantHandle: true) is not RawTask created) { Runtime.DropFuture(future); return Status.NoMemory; }
            task = created;
            _rt.CountSpawned(null);
            generation = (uint)(task.TaskToken >> 32);
            Requeue(task); // it is SCHEDULED: its first poll comes in queue order, like any spawned task
            Drive(task, generation);
        }
        finally { Exit(); }
        Status status = task.TakeOutput(generation, output);
        task.ReleaseHandle(generation);
        return status == Status.Cancelled ? Status.Shutdown : status;
    }

    void Drive(RawTask main, uint generation)
    {
        while ((main.State & TaskState.Closed) == 0)
        {
            if (_rt.IsShutdown)
            {
                FinishShutdown(); // drops main with everything else (queued, or idle: the sweep)
                if ((main.State & TaskState.Closed) == 0) main.Wake(generation); // claimed as a wake would: dropped
                continue;
            }
            PollDriver();
            if (Next() is RawTask task) RunOne(task);
            else WaitForWork();
        }
    }

    /// <summary>Nothing is ready: sleeps on the wakeup fd until work arrives or the next timer is due; a paused
    /// clock instead jumps to the next timer when nothing outside the tasks (IO, the blocking pool) can still
    /// wake one.</summary>
    void WaitForWork()
    {
        // Read before the queues (after Consume): work that finishes after this read has already pushed its wake
        // by the time it stops counting (see Runtime.ExternalWorkPending), so the check below sees it.
        bool external = _rt.ExternalWorkPending();
        Consume();
        if (HasReady() || _rt.IsShutdown) return;
        Time.TimerDriver timers = _rt.Timers;
        ulong due = timers.NextDueNs();
        if (timers.Paused is Time.PausedClock clock)
        {
            if (!external && due != ulong.MaxValue) { clock.MoveTo(due); return; } // auto-advance; the loop fires it
            // IO or a blocking call may still wake a task: wait for it, looking again every millisecond (one that
            // completes without waking anything, say a detached blocking call, signals nothing).
            _fd.Wait(external ? 1_000_000 : -1);
            return;
        }
        ulong now = timers.NowNs();
        _fd.Wait(due == ulong.MaxValue ? -1 : due <= now ? 0 : (long)Math.Min(due - now, long.MaxValue));
    }

    // ---- the paused clock -----------------------------------------------------------------------------------

    /// <summary>luminal_runtime_advance.</summary>
    public Status Advance(ulong ns)
    {
        if (_rt.Timers.Paused is not Time.PausedClock clock) return Status.InvalidArgument;
        if (_rt.IsShutdown) return Status.Shutdown;
        Status s = Enter();
        if (s == Status.Busy) return s;
        // From inside one of our polls (WOULD_DEADLOCK from Enter): move the clock and fire, run nothing here.
        bool runTasks = s == Status.Ok;
        try
        {
            if (runTasks) Consume();
            ulong target = clock.NowNs > ulong.MaxValue - ns ? ulong.MaxValue : clock.NowNs + ns;
            // Tick by tick, so a task woken at t runs (and may set a timer that is also due) before time goes on.
            for (ulong due; (due = _rt.Timers.NextDueNs()) <= target && !_rt.IsShutdown;)
            {
                clock.MoveTo(due);
                _rt.Timers.FireDueAt(clock.NowNs);
                if (runTasks) RunReady(0, 0);
            }
            clock.MoveTo(target);
            _rt.Timers.FireDueAt(target);
            if (runTasks) RunReady(0, 0);
            if (runTasks && _rt.IsShutdown) FinishShutdown();
        }
        finally { if (runTasks) Exit(); }
        return _rt.IsShutdown ? Status.Shutdown : Status.Ok;
    }

    // ---- IO and shutdown ------------------------------------------------------------------------------------

    /// <summary>The runtime's IO backend is being started (before anyone can submit): an io_uring ring signals the
    /// wakeup fd on every completion, so nobody needs to sleep in the ring. A kernel that refuses (before 5.2) gets
    /// the pool backend instead.</summary>
    public Io.IoBackend IoStarted(Io.IoBackend io)
    {
        if (io is not Io.Uring.UringBackend uring || uring.SignalEventFd(_fd.Fd)) return io;
        uring.Stop();
        return new Io.Pool.PoolBackend(_rt);
    }

    /// <summary>
    /// luminal_runtime_shutdown's part (the flag is set): false on the driving thread (inside one of its polls:
    /// the drive finishes the shutdown when that poll returns); otherwise finishes it here if nobody drives, or
    /// leaves it to the driver, which was woken by the flag's notify.
    /// </summary>
    public bool BeginFinish()
    {
        if (IsDrivingThread) return false;
        TryFinishShutdown();
        return true;
    }

    void TryFinishShutdown()
    {
        if (Interlocked.CompareExchange(ref _driver, Environment.CurrentManagedThreadId, 0) != 0) return;
        try { FinishShutdown(); }
        finally { Interlocked.Exchange(ref _driver, 0); }
    }

    /// <summary>The role holder, once the runtime is shut down: every future is dropped (the "last worker exits"
    /// step of the shutdown protocol, see <see cref="Runtime"/>), then the eventfd and the context go.</summary>
    void FinishShutdown()
    {
        if (_finished) return;
        _finished = true;
        _rt.WorkerExited(_cx);
        _fd.Close();
        _cx.Release();
    }
}
