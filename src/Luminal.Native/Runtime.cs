using System;
using System.Runtime.CompilerServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Scheduler;
using Luminal.Tasks;

namespace Luminal;

/// <summary>
/// A runtime: its workers, the global queue and the idle bookkeeping, spawning, scheduling and shutdown.
/// Nothing here is found through thread-local state: callers come with a handle or a context, and "am I on one of
/// this runtime's workers" is answered by looking the current thread's id up in <see cref="_workerByThreadId"/>.
///
/// Shutdown, the whole protocol (luminal_runtime_shutdown, or the last luminal_runtime_release):
/// 1. <see cref="BeginShutdown"/> sets the flag (once). From then on every spawn fails with SHUTDOWN and drops its
///    future, <see cref="RawTask.Run"/> drops a task's future instead of polling it, and a wake of an idle task
///    (<see cref="Schedule"/>) drops it on the waking thread. Every worker is unparked; the blocking pool refuses
///    new calls and drops the queued ones (running calls run to their end).
/// 2. Each worker leaves its loop at its next turn (a poll in progress finishes first), drops the tasks in its LIFO
///    slot and local queues, and calls <see cref="WorkerExited"/>.
/// 3. The last worker to exit: cancels every IO operation in flight as one batch (so the drops below do not wait
///    for the kernel one by one), drops what is left in the global queues, sweeps the task table for this
///    runtime's idle tasks (waiting on a waker) and drops them, stops the IO backend, and signals termination.
///    Every future has then been dropped exactly once, and every joiner woken with CANCELLED.
/// 4. <see cref="Shutdown"/> (on a non-worker thread) waits for that signal, joins the workers and the blocking
///    pool's threads within its timeout: TIMED_OUT if a poll or a drop function was still running at the deadline
///    (the rest then completes in the background). On a worker thread it returns WOULD_DEADLOCK after step 1.
/// 5. The runtime's borrowed token (what contexts name) is released when both the last owning handle is gone and
///    the workers have exited, whichever comes second.
/// A current-thread runtime (<see cref="CurrentThread"/>) has no workers: it counts as one worker, and steps 2-3 are
/// done by whichever thread holds its driving role when the flag is seen (see CurrentThread).
/// </summary>
sealed unsafe partial class Runtime
{
    public const int MaxWorkers = 1024;

    public readonly Worker[] Workers;
    public readonly Injector[] Injectors = NewInjectors(); // one global queue per priority level
    public readonly BlockingPool Blocking;
    readonly object _ioLock = new();
    Io.IoBackend? _io;
    internal uint IoRequested; // luminal_io_backend asked for at creation (0 = auto)

    /// <summary>luminal_io_backend of the backend in use, or of the one the first IO operation will start (a pure
    /// query: starts nothing).</summary>
    public uint IoKind => IoIfStarted?.Kind ?? Luminal.Io.IoBackend.Planned(IoRequested);

    /// <summary>The IO backend if one was started (null for a runtime that did no IO yet).</summary>
    public Io.IoBackend? IoIfStarted => Volatile.Read(ref _io);

    /// <summary>The IO backend, chosen and started at the first use (a runtime that does no IO has no ring).</summary>
    public Io.IoBackend Io
    {
        get
        {
            Io.IoBackend? io = Volatile.Read(ref _io);
            if (io is not null) return io;
            string? why = null;
            lock (_ioLock)
            {
                // After shutdown nothing may start a ring that no one would stop: the pool backend holds nothing
                // (and refuses work, as the blocking pool does).
                if (_io is null)
                {
                    Io.IoBackend created = IsShutdown ? new Luminal.Io.Pool.PoolBackend(this)
                        : Luminal.Io.IoBackend.Create(this, IoRequested, out why) ?? new Luminal.Io.Pool.PoolBackend(this);
                    if (CurrentThread is CurrentThread ct) created = ct.IoStarted(created); // before anyone can submit
                    Volatile.Write(ref _io, created);
                }
                io = _io;
            }
            if (why is not null) Log.Write(Observe.LogLevel.Info, why); // outside the lock: the callback may call in
            return io;
        }
    }
    public readonly Idle Idle;
    public readonly Time.TimerDriver Timers;
    /// <summary>A current-thread runtime's scheduler (it then has no workers), else null.</summary>
    public readonly CurrentThread? CurrentThread;
    /// <summary>Paused-clock runtimes count their file operations in flight (<see cref="IoHoldingClock"/>), which hold
    /// off auto-advance; others don't pay for the counting. (Not the metrics' IoInFlight, which counts every kind.)</summary>
    public readonly bool CountsIo;
    internal int IoHoldingClock;
    /// <summary>Peer-waiting IO operations (<see cref="Io.IoOp.WaitsForPeer"/>) running on a blocking-pool thread
    /// (the pool backend's fallback when its reactor cannot take the fd), counted on paused-clock runtimes only:
    /// those threads are busy but do not hold the clock (see <see cref="ExternalWorkPending"/>).</summary>
    internal int PeerWaitsOnPool;
    /// <summary>What workers poll on every turn and park in (the timer driver around the IO backend).</summary>
    /// (Typed as the sealed timer driver, so the workers' calls are direct and inlined; it is a Driver.)
    public Time.TimerDriver Driver => Timers;
    /// <summary>A token that names this runtime for as long as it lives; what luminal_context_runtime returns.</summary>
    public ulong BorrowedToken { get; private set; }

    Worker?[] _workerByThreadId = Array.Empty<Worker?>();
    readonly ManualResetEventSlim _started = new(false);
    readonly ManualResetEventSlim _terminated = new(false);
    int _shutdown;
    readonly int _forkGeneration = Fork.Generation; // see Fork
    int _liveWorkers;
    int _owners = 1; // owning luminal_runtime* handles
    /// <summary>How tasks (native memory) name this runtime: see <see cref="TaskRuntimes"/>.</summary>
    internal readonly int TaskRuntimeId;

    Runtime(int workers, int maxBlocking, int blockingKeepAliveMs, bool currentThread = false, bool paused = false,
        ulong seed = 0)
    {
        Workers = new Worker[workers];
        Blocking = new BlockingPool(this, maxBlocking, blockingKeepAliveMs);
        Idle = new Idle(workers);
        Timers = new Time.TimerDriver(this, paused);
        CountsIo = paused;
        Counters.IoRefs = 1; // the tokens' reference (see AddIoRef)
        _liveWorkers = workers;
        TaskRuntimeId = TaskRuntimes.Register(this);
        if (!currentThread) return;
        // No workers: its driving threads stand in for one worker, which "exits" once, at shutdown.
        _liveWorkers = 1;
        CurrentThread = Scheduler.CurrentThread.Create(this, seed);
        if (CurrentThread is not null) return;
        TaskRuntimes.Unregister(TaskRuntimeId); // never handed out: nothing else will release its id
        throw new OutOfMemoryException("no eventfd or context for a current-thread runtime");
    }

    public bool IsShutdown => Volatile.Read(ref _shutdown) != 0;

    /// <summary>Is this a copy inherited across fork() (no threads, maybe locks held by threads that are gone)?</summary>
    public bool IsForked => _forkGeneration != Fork.Generation;

    /// <summary>Creates a runtime and starts its workers. Returns the first owning token, or 0 if out of handles.</summary>
    public static ulong Create(int workers, string threadName, int maxBlocking = 512, int blockingKeepAliveMs = 10_000,
        uint ioBackend = 0, Observe.Observers? observers = null)
    {
        Fork.EnsureWatching();
        var rt = new Runtime(workers, maxBlocking, blockingKeepAliveMs) { IoRequested = Luminal.Io.IoBackend.Requested(ioBackend) };
        rt.Attach(observers, ioBackend);
        return rt.Register(threadName);
    }

    /// <summary>Creates a current-thread runtime (no thread is started). Returns the first owning token.</summary>
    public static ulong CreateCurrentThread(bool paused, ulong seed, int maxBlocking, int blockingKeepAliveMs,
        uint ioBackend, Observe.Observers? observers = null)
    {
        Fork.EnsureWatching();
        var rt = new Runtime(0, maxBlocking, blockingKeepAliveMs, currentThread: true, paused, seed)
            { IoRequested = Luminal.Io.IoBackend.Requested(ioBackend) };
        rt.Attach(observers, ioBackend);
        return rt.Register("");
    }

    /// <summary>Hands out the runtime's tokens and starts its workers (if it has any).</summary>
    ulong Register(string threadName)
    {
        // .NET opens /dev/urandom (and keeps it) the first time any object needs a hash code, which the first
        // Monitor.Wait does (the blocking pool's threads wait so): do it now, so that the fd a runtime holds is
        // there from its creation, not from its first blocking call (hosts compare fd counts around their work).
        _ = RuntimeHelpers.GetHashCode(_started);
        int workers = Workers.Length;
        BorrowedToken = RuntimeHandles.Create(this);
        ulong owner = RuntimeHandles.Create(this);
        if (BorrowedToken == 0 || owner == 0) throw new OutOfMemoryException("runtime handle table is full");
        using var started = new CountdownEvent(workers);
        for (int i = 0; i < workers; i++) Workers[i] = new Worker(this, i);
        // string.Concat, not interpolation: no pooled buffer (the array pool sets up per-thread state on first use).
        for (int i = 0; i < workers; i++) Workers[i].Start(string.Concat(threadName, "-", i.ToString()), started);
        started.Wait();
        int maxId = 0;
        foreach (Worker w in Workers) maxId = Math.Max(maxId, w.ManagedThreadId);
        var map = new Worker?[maxId + 1];
        foreach (Worker w in Workers) map[w.ManagedThreadId] = w;
        _workerByThreadId = map;
        _started.Set();
        if (Log.Enabled(Observe.LogLevel.Debug))
            Log.Write(Observe.LogLevel.Debug, string.Concat("runtime created: ", CurrentThread is null ? workers.ToString() : "current-thread, 0",
                " workers, IO backend ", IoRequested == Luminal.Io.IoBackend.PoolKind ? "pool" : IoRequested == Luminal.Io.IoBackend.UringKind ? "io_uring" : "auto"));
        return owner;
    }

    public void WaitStarted() => _started.Wait();

    static Injector[] NewInjectors()
    {
        var injectors = new Injector[Priority.Levels];
        for (int i = 0; i < injectors.Length; i++) injectors[i] = new Injector();
        return injectors;
    }

    /// <summary>The worker whose thread is calling, or null (a foreign thread, or another runtime's worker).</summary>
    public Worker? CurrentWorker()
    {
        int id = Environment.CurrentManagedThreadId;
        Worker?[] map = _workerByThreadId;
        return (uint)id < (uint)map.Length ? map[id] : null;
    }

    // ---- owners ---------------------------------------------------------------------------------------------

    public ulong AddOwner()
    {
        Interlocked.Increment(ref _owners);
        ulong token = RuntimeHandles.Create(this);
        if (token == 0) Interlocked.Decrement(ref _owners);
        return token;
    }

    /// <summary>One owning handle went away; the last one shuts the runtime down.</summary>
    public void RemoveOwner()
    {
        if (Interlocked.Decrement(ref _owners) != 0) return;
        if (Shutdown(ulong.MaxValue) == Status.Ok) ReleaseBorrowedToken();
        // On a worker thread the workers finish the shutdown themselves; the borrowed token stays valid (stale
        // contexts can't reach anything: every queue refuses work).
    }

    // ---- spawning and scheduling ----------------------------------------------------------------------------

    /// <summary>
    /// Spawns a task. Takes the future: on failure it is dropped here. <paramref name="local"/>: the worker whose
    /// thread is calling (its local queue is used), or null for the global queue.
    /// <paramref name="inlineSize"/> != 0 (luminal_spawn_inline): future.State is the caller's bytes, checked
    /// against TaskStorage's limits; they are copied into storage the task owns, and until then every failure
    /// drops them where they are.
    /// </summary>
    public Status Spawn(in NativeFuture future, delegate* unmanaged<void*, void*> fn, bool wantHandle, Worker? local,
        out ulong taskToken, Scopes.Scope? scope = null, int priority = Priority.Default, bool blocking = false,
        nuint inlineSize = 0, nuint inlineAlign = 0, uint scopeGeneration = 0)
    {
        taskToken = 0;
        if (IsShutdown) { DropFuture(future); return Status.Shutdown; }
        byte storage = inlineSize == 0 ? TaskStorage.None : TaskStorage.KindFor(inlineSize, inlineAlign);
        void* separate = null;
        if (storage == TaskStorage.Separate)
        {
            try { separate = TaskStorage.AllocateSeparate(inlineSize, inlineAlign); }
            catch (OutOfMemoryException) { DropFuture(future); return Status.NoMemory; }
        }
        if (RawTask.Create(this, future, wantHandle, null, local?.TaskSlots, storage, separate, inlineSize) is not RawTask task)
        {
            if (separate != null) TaskStorage.FreeSeparate(separate);
            DropFuture(future);
            return Status.NoMemory;
        }
        CountSpawned(local);
        task.Fn = fn;
        task.Priority = (byte)priority;
        task.Blocking = blocking;
        // Read the token before the task can run: a detached task may finish and be recycled right away.
        ulong token = task.TaskToken;
        Status entered = scope is null ? Status.Ok : scope.Enter(task, scopeGeneration);
        if (entered != Status.Ok)
        {
            // The scope is closed (or its handle was released meanwhile): never poll it. Abort (we own SCHEDULED)
            // and let Run drop the future.
            if (TaskHook != null) TaskEventAt(Observe.TaskEvent.Spawned, task, token, local);
            task.AbortInternal((uint)(token >> 32));
            task.Run(null);
            if (wantHandle) task.ReleaseHandle((uint)(token >> 32));
            return entered;
        }
        taskToken = token; // callers hand it out only as a join handle when they asked for one
        if (TaskHook != null) TaskEventAt(Observe.TaskEvent.Spawned, task, token, local);
        if (blocking)
        {
            if (Blocking.Submit(task)) return Status.Ok;
        }
        else if (local is not null)
        {
            local.ScheduleSpawned(task);
            return Status.Ok;
        }
        else if (Injectors[task.Priority].Push(task)) { NotifyOne(); return Status.Ok; }
        // Shutdown won the race: the task is ours to cancel; give no handle back.
        task.Run(null);
        if (wantHandle) task.ReleaseHandle((uint)(taskToken >> 32));
        taskToken = 0;
        return Status.Shutdown;
    }

    public static void DropFuture(in NativeFuture future)
    {
        if (future.Drop != null && !Observe.PluginCheck.Skip(future.Drop, "drop")) future.Drop(future.State);
    }

    /// <summary>Queues a task whose SCHEDULED flag the caller just set.</summary>
    public void Schedule(RawTask task)
    {
        if (task.BlockOn is Parker blockOn) { blockOn.Unpark(); return; }
        if (task.Blocking) { if (!Blocking.Submit(task)) task.Run(null); return; }
        if (!IsShutdown)
        {
            if (CurrentWorker() is Worker worker) { worker.ScheduleWoken(task); return; }
            if (Injectors[task.Priority].Push(task)) { NotifyOne(); return; }
        }
        task.Run(null); // shut down: this drops the future (Run never polls once the runtime is shut down)
    }

    /// <summary>Wakes a parked worker if nobody is searching. Call after making work visible.</summary>
    public void NotifyOne()
    {
        Interlocked.MemoryBarrier(); // full fence: the push above must be visible before we read the idle state
        int index = Idle.WorkerToNotify();
        if (index >= 0) { CountUnpark(); Workers[index].Parker.Unpark(); }
        // A current-thread runtime has no worker (index is always -1): its driver is woken instead. Only the
        // nobody-to-wake branch pays for this test.
        else if (CurrentThread is CurrentThread ct) ct.Notify();
    }

    /// <summary>Is the calling thread one that runs this runtime's tasks (a worker, or the thread driving a
    /// current-thread runtime)? A blocking wait there could wait for itself.</summary>
    public bool OnOwnThread() => CurrentWorker() is not null || CurrentThread is { IsDrivingThread: true };

    /// <summary>Can something outside the tasks still wake one by itself: a file operation in flight (counted on
    /// paused-clock runtimes only; operations that wait for a peer that may never come do not count), a blocking
    /// call queued or running (other than such a peer wait on a pool thread)? What finishes has pushed its wakes
    /// before it stops counting: IO stops when its task takes the result, a blocking-pool thread after its call
    /// returned, a peer wait on the pool after it completed (and its thread still counts busy until it waits
    /// again, so the subtraction never hides another call).</summary>
    public bool ExternalWorkPending() =>
        Volatile.Read(ref IoHoldingClock) > 0 || Blocking.BusyBeyond(Volatile.Read(ref PeerWaitsOnPool));

    public bool HasPendingWork()
    {
        foreach (Injector injector in Injectors) if (!injector.IsEmpty) return true;
        foreach (Worker w in Workers)
            foreach (LocalQueue local in w.Locals)
                if (!local.IsEmpty) return true;
        return false;
    }

    // ---- counting tasks (so shutdown's sweep stops once it found them all) -----------------------------------


    /// <summary>A task of this runtime was made; <paramref name="worker"/>: the worker whose thread made it.</summary>
    public void CountSpawned(Worker? worker)
    {
        if (worker is not null) worker.Counted.TasksSpawned++; // that worker's thread only: no atomic needed
        else Interlocked.Increment(ref Counters.SpawnedElsewhere);
    }

    /// <summary>A task of this runtime finished (its future is gone); <paramref name="worker"/> as above;
    /// <paramref name="completed"/>: it returned READY (else it was cancelled).</summary>
    public void CountFinished(Worker? worker, bool completed)
    {
        if (worker is not null)
        {
            worker.Counted.TasksFinished++;
            if (completed) worker.Counted.TasksCompleted++;
            return;
        }
        Interlocked.Increment(ref Counters.FinishedElsewhere);
        if (completed) CountCompletedElsewhere();
    }

    /// <summary>Tasks whose future is still alive, or more: never fewer. The workers' counters are final once they
    /// have stopped (when shutdown's sweep reads this); other threads may still count. Finished is read before
    /// spawned: a task counted finished by then was counted spawned too, while reading spawned first could miss a
    /// spawn whose finish is then counted — one too few, and the sweep stopped before an idle task it had to drop
    /// (the fuzzer's rare hang with futures never dropped, and its later wake found no runtime).</summary>
    long Unfinished()
    {
        long finished = Volatile.Read(ref Counters.FinishedElsewhere);
        long n = Volatile.Read(ref Counters.SpawnedElsewhere) - finished;
        foreach (Worker w in Workers) n += Volatile.Read(ref w.Counted.TasksSpawned) - Volatile.Read(ref w.Counted.TasksFinished);
        return n;
    }

    // ---- shutdown -------------------------------------------------------------------------------------------

    public void BeginShutdown()
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0) return;
        foreach (Worker w in Workers) w.Parker.Unpark();
        CurrentThread?.Notify(); // the driver (if one waits) finishes the shutdown
        Blocking.Shutdown();
    }

    /// <summary>luminal_runtime_shutdown: starts shutdown and waits for it to finish.</summary>
    public Status Shutdown(ulong timeoutNs)
    {
        BeginShutdown();
        if (CurrentWorker() is not null) return Status.WouldDeadlock;
        if (CurrentThread is CurrentThread ct && !ct.BeginFinish()) return Status.WouldDeadlock;
        int timeoutMs = TimeoutMs(timeoutNs);
        long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
        if (!_terminated.Wait(timeoutMs)) return Status.TimedOut;
        foreach (Worker w in Workers)
        {
            int left = deadline == long.MaxValue ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
            if (!w.Join(left)) return Status.TimedOut;
        }
        // The workers are gone and their thread ids may be reused by unrelated threads: forget them.
        _workerByThreadId = Array.Empty<Worker?>();
        return Blocking.Join(deadline) ? Status.Ok : Status.TimedOut;
    }

    /// <summary>
    /// Each worker calls this after draining its own queue; the last one drains the global queue and sweeps the
    /// task table for idle tasks (waiting on a waker) of this runtime, so every future is dropped exactly once.
    /// </summary>
    public void WorkerExited(Context cx)
    {
        if (Interlocked.Decrement(ref _liveWorkers) != 0) return;
        // IO still in flight is cancelled all at once first: the drops below then find it completed.
        Volatile.Read(ref _io)?.CancelAll();
        foreach (Injector injector in Injectors)
        {
            for (RawTask? chain = injector.Close(); chain is RawTask t;)
            {
                RawTask? next = t.Next;
                t.Next = null;
                t.Run(cx);
                chain = next;
            }
        }
        // The task table is process-wide (tokens carry no runtime): sweep it for this runtime's idle tasks, but stop
        // as soon as none of this runtime's futures is left, so other runtimes' tasks cost little.
        int count = RawTask.Table.Count;
        for (int i = 0; i < count; i++)
        {
            if ((i & 255) == 0 && Unfinished() <= 0) break;
            RawTask.Table.Get(i)?.CancelIfIdle(this, cx);
        }
        Volatile.Read(ref _io)?.Stop();
        Detach();
        _terminated.Set();
        if (Volatile.Read(ref _owners) == 0) ReleaseBorrowedToken();
    }

    /// <summary>The runtime's last token goes: nothing can reach it any more (and every task of it has finished).</summary>
    void ReleaseBorrowedToken()
    {
        RuntimeHandles.Release(BorrowedToken);
        if (Interlocked.Exchange(ref _tokensGone, 1) == 0) ReleaseIoRef(); // unregisters once no IO operation is left
    }

    // IO operations (native cells, Io/IoOp.cs) name their runtime by its TaskRuntimes id, and a dropped one still
    // needs its runtime and backend (a drop after the last release waits for its buffer): the id stays registered
    // while the tokens or any operation live. One reference for the tokens, one per live operation.
    int _tokensGone; // (the IO references are Counters.IoRefs: two atomics per IO operation)

    /// <summary>A new IO operation names this runtime; false once the runtime is unreachable.</summary>
    internal bool AddIoRef()
    {
        int n = Volatile.Read(ref Counters.IoRefs);
        while (n > 0)
        {
            int seen = Interlocked.CompareExchange(ref Counters.IoRefs, n + 1, n);
            if (seen == n) return true;
            n = seen;
        }
        return false;
    }

    internal void ReleaseIoRef()
    {
        if (Interlocked.Decrement(ref Counters.IoRefs) == 0) TaskRuntimes.Unregister(TaskRuntimeId);
    }

    /// <summary>Nanoseconds to a Monitor-style timeout: -1 for "forever", rounded up to whole milliseconds.</summary>
    public static int TimeoutMs(ulong ns)
    {
        if (ns == ulong.MaxValue) return Timeout.Infinite;
        ulong ms = ns / 1_000_000 + (ns % 1_000_000 != 0 ? 1UL : 0UL);
        return ms >= int.MaxValue ? Timeout.Infinite : (int)ms;
    }
}
