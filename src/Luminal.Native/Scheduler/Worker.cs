using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Interop;
using Luminal.Handles;
using Luminal.Tasks;

namespace Luminal.Scheduler;

/// <summary>
/// One worker thread's run loop (after tokio's multi_thread worker): run local work, take from the global queue
/// every <see cref="GlobalQueueInterval"/> ticks so injected tasks are not starved, steal when out of work, park
/// when stealing finds nothing. Everything here except the queue's steal side is touched only by the worker's own
/// thread.
/// </summary>
sealed unsafe class Worker
{
    const int GlobalQueueInterval = 61; // tokio's value: a prime, so it doesn't beat with task patterns
    const int MaxLifoPolls = 64;        // consecutive LIFO-slot polls before the slot's task goes to the back
    // Turns between two IO turns of a busy worker (tokio's event_interval; a worker out of work does one at once).
    // Reaping on every turn made the 64-connection echo unfair (the slowest connection got 0.005-0.5 of the mean):
    // the connections whose completions happened to be reaped first kept the LIFO slot, the rest waited in the
    // queue; reaped as a batch, the woken tasks queue up in completion order and run in turn (issue 15).
    const int IoPollInterval = 61;

    readonly Runtime _rt;
    public readonly int Index;
    public readonly LocalQueue[] Locals = NewLocals(); // one ring per priority level
    public readonly SlotCache<RawTask> TaskSlots = new(); // free task objects; this worker's thread only
    internal Counters Counted;                            // written by this worker's thread only (Runtime.Unfinished)

    /// <summary>Tasks spawned and finished on this worker's thread, on a cache line of their own: they change on
    /// every spawn and finish, while other workers read this object's queues and parker when they steal or wake.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    internal struct Counters
    {
        [FieldOffset(64)] public long TasksSpawned;
        [FieldOffset(72)] public long TasksFinished;
        // Metrics (luminal_runtime_get_metrics sums them on read): plain increments by this worker's thread.
        [FieldOffset(80)] public long TasksCompleted; // of TasksFinished, those that returned READY
        [FieldOffset(88)] public long Polls;
        [FieldOffset(96)] public long Steals;
        [FieldOffset(104)] public long Parks;
        [FieldOffset(112)] public long ParkedNs;      // finished parks
        [FieldOffset(120)] public long ParkedSince;   // clock at the start of the park in progress, or 0
        [FieldOffset(128)] public long StartedNs;     // clock when the thread started
        [FieldOffset(136)] public long StoppedNs;     // clock when it exited, or 0
    }
    public readonly Parker Parker = Parker.Rent(); // kept for the runtime's life (it may be unparked late)
    RawTask? _lifo;         // the task most recently woken by this worker: runs next (cache-hot message passing)
    readonly Deferred _deferred = new(); // yielded tasks: they run after the global queue was looked at
    Context _cx = null!;    // this worker's luminal_context (a new token per poll)
    bool _searching;
    uint _tick;
    int _ioTurns;           // turns since this worker's last IO turn (see IoPollInterval)
    internal bool IoFlushHeld; // the IO driver's, this thread only: its last IO turn ran woken tasks before flushing
    uint _rng;
    Thread? _thread;
    public int ManagedThreadId;
    nint _threadSelf; // pthread_self() of this worker's thread (see ThreadSelf)

    /// <summary>Is the caller this worker's own thread?</summary>
    public bool IsCurrentThread => ThreadSelf.Supported
        ? ThreadSelf.Current == _threadSelf
        : Environment.CurrentManagedThreadId == ManagedThreadId;

    public Worker(Runtime runtime, int index)
    {
        _rt = runtime;
        Index = index;
        _rng = (uint)(index * 0x9E3779B9 + 1);
    }

    public void Start(string name, CountdownEvent started)
    {
        _thread = new Thread(() => Main(started)) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public bool Join(int timeoutMs) => _thread is null || _thread.Join(timeoutMs);

    void Main(CountdownEvent started)
    {
        ManagedThreadId = Environment.CurrentManagedThreadId;
        if (ThreadSelf.Supported) _threadSelf = ThreadSelf.Current;
        Volatile.Write(ref Counted.StartedNs, (long)Time.Clock.NowNs());
        _rt.ThreadStarted(Observe.ThreadKind.Worker, Index); // before runtime_new returns, before any task runs
        _cx = Context.Acquire(_rt, Index) ?? throw new OutOfMemoryException("context table is full");
        started.Signal();
        _rt.WaitStarted(); // the thread-id map must be complete before we run anything
        try
        {
            while (!_rt.IsShutdown)
            {
                // Due timers wake their tasks (into this worker's queue) on every turn; IO every IoPollInterval
                // turns, and before looking elsewhere for work: submit what this worker's polls queued, reap.
                _rt.Driver.FireDue();
                bool io = ++_ioTurns >= IoPollInterval;
                if (io) { _ioTurns = 0; IoTurn(); }
                RawTask? task = NextTask();
                if (task is null && !io && _rt.IoIfStarted is not null)
                {
                    // Out of work: an IO turn before stealing or parking; the queues again only if it woke tasks
                    // (with nothing in flight it is one read, and this path is the same as before any IO).
                    _ioTurns = 0;
                    if (_rt.IoIfStarted?.PollOutOfWork() ?? false) task = NextTask();
                }
                task ??= Search();
                if (task is RawTask t) RunTask(t);
                else Park();
            }
            if (_searching) { _searching = false; _rt.Idle.StopSearching(); }
            // Shutdown: every queued task is dropped (Run cancels once the runtime is shut down), including one
            // that a completion reaped while parking left in the LIFO slot.
            if (_lifo is RawTask woken) { _lifo = null; woken.Run(_cx); }
            for (int level = 0; level < Priority.Levels; level++)
                for (RawTask? c = _deferred.TakeLevel(level, out _); c is RawTask t;) { c = t.Next; t.Next = null; t.Run(_cx); }
            foreach (LocalQueue local in Locals)
                while (local.Pop() is RawTask t) t.Run(_cx);
            _rt.WorkerExited(_cx);
        }
        finally
        {
            RawTask.Table.ReturnAll(TaskSlots); // after the last Run on this thread
            _cx.Release();
            Volatile.Write(ref Counted.StoppedNs, (long)Time.Clock.NowNs());
            _rt.ThreadStopping(Observe.ThreadKind.Worker, Index);
        }
    }

    bool IoTurn() => _rt.IoIfStarted?.Poll() ?? false;

    RawTask? NextTask()
    {
        // Wakes that happen on this thread outside a poll (timers fired in the loop) land in the LIFO slot.
        if (_lifo is RawTask woken) { _lifo = null; return woken; }
        _tick++;
        if (_tick % StarvationInterval == 0)
        {
            // Anti-starvation: the least urgent level goes first now and then (see Priority).
            for (int level = Priority.Levels - 1; level >= 0; level--)
                if ((Locals[level].Pop() ?? TakeInjected(level) ?? TakeDeferred(level)) is RawTask starved) return starved;
        }
        bool globalFirst = _tick % GlobalQueueInterval == 0;
        // Yielded tasks join the local queue now and then too, or work that keeps arriving (a ping-pong through
        // the LIFO slot) would hold them back for ever.
        if (globalFirst) FlushDeferred();
        for (int level = 0; level < Priority.Levels; level++)
        {
            // Fairness: every so often the global queue goes first, and a batch of it joins the local queue, so
            // outside spawns are not starved by tasks that keep yielding into the local queue.
            RawTask? task = globalFirst
                ? TakeInjected(level) ?? Locals[level].Pop()
                : Locals[level].Pop() ?? TakeInjected(level);
            // Yielded tasks last: after the global queue, so a foreign wake is not stuck behind busy yielders.
            if ((task ?? TakeDeferred(level)) is RawTask found) return found;
        }
        return null;
    }

    const int StarvationInterval = Priority.StarvationInterval;

    static LocalQueue[] NewLocals()
    {
        var locals = new LocalQueue[Priority.Levels];
        for (int i = 0; i < locals.Length; i++) locals[i] = new LocalQueue();
        return locals;
    }

    /// <summary>Is there queued work here or globally more urgent than <paramref name="level"/>?</summary>
    bool MoreUrgentWaiting(int level)
    {
        for (int l = 0; l < level; l++)
            if (!Locals[l].IsEmpty || !_rt.Injectors[l].IsEmpty || _deferred.Any(l)) return true;
        return false;
    }

    /// <summary>Pushes to the local queue of the task's level (overflow goes to that level's global queue).</summary>
    void PushLocal(RawTask task) => Locals[task.Priority].Push(task, _rt.Injectors[task.Priority]);

    /// <summary>Takes a fair share of a level's global queue: runs the first, queues the rest locally.</summary>
    // The empty check is inlined: NextTask looks at every level more urgent than the task it finds (a yield at the
    // default level probed level 0 through three calls: ~110 of its ~700 instructions).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    RawTask? TakeInjected(int level) => _rt.Injectors[level].IsEmpty ? null : TakeInjectedBatch(_rt.Injectors[level], level);

    RawTask? TakeInjectedBatch(Injector injector, int level)
    {
        int max = Math.Min(injector.Count / _rt.Workers.Length + 1, LocalQueue.Capacity / 2);
        // A whole overflow chain may come at once (no walk under the injector's lock): the local queue has room
        // for half its capacity plus the one run now; thieves spread it.
        if (injector.PopBatch(max, out _, LocalQueue.Capacity / 2 + 1) is not RawTask first) return null;
        RawTask? chain = first.Next;
        first.Next = null;
        while (chain is RawTask t)
        {
            chain = t.Next;
            t.Next = null;
            Locals[level].Push(t, injector);
        }
        return first;
    }

    RawTask? Search()
    {
        if (!_searching)
        {
            if (!_rt.Idle.TryStartSearching()) return null;
            _searching = true;
        }
        Worker[] workers = _rt.Workers;
        _rng ^= _rng << 13; _rng ^= _rng >> 17; _rng ^= _rng << 5; // xorshift: a random first victim
        int start = (int)(_rng % (uint)workers.Length);
        // Level by level, so stealing prefers urgent work; within a level, victims in random order.
        for (int level = 0; level < Priority.Levels; level++)
        {
            for (int i = 0; i < workers.Length; i++)
            {
                Worker victim = workers[(start + i) % workers.Length];
                if (victim != this && victim.Locals[level].StealInto(Locals[level]) is RawTask stolen)
                {
                    Counted.Steals++;
                    return stolen;
                }
            }
            if (TakeInjected(level) is RawTask injected) return injected;
        }
        return null;
    }

    void RunTask(RawTask task)
    {
        if (_searching)
        {
            _searching = false;
            // The last searcher found work: wake another worker to look for more.
            if (_rt.Idle.StopSearching()) _rt.NotifyOne();
        }
        for (int lifoPolls = 0; ; lifoPolls++)
        {
            if (task.Run(_cx, _rt, this)) ScheduleYielded(task);
            if (_lifo is not RawTask next) return;
            _lifo = null;
            if (lifoPolls >= MaxLifoPolls || _rt.IsShutdown || MoreUrgentWaiting(next.Priority))
            {
                // Don't let two tasks ping-ponging through the LIFO slot starve the queue, or hold up more urgent
                // work. No other worker is woken: this one reaches the task soon (idle ones may steal it).
                PushLocal(next);
                return;
            }
            task = next;
        }
    }

    /// <summary>A task that woke itself during its poll goes behind every other runnable task of its level, the
    /// global queue's included (see <see cref="Deferred"/>) — when every worker is awake. While one is parked, the
    /// task goes to the local queue instead and that worker is woken to steal it (a deferred task is invisible to
    /// thieves, and a parked worker would take a foreign wake at once anyway).</summary>
    void ScheduleYielded(RawTask task)
    {
        if (_rt.Idle.UnparkedCount == _rt.Workers.Length) { _deferred.Push(task); return; }
        PushLocal(task);
        _rt.NotifyOne();
    }

    /// <summary>Busy (not parked) and parked time so far, for metrics read on another thread (racy by a park at most).</summary>
    public void Times(ulong now, out ulong busy, out ulong parked)
    {
        long started = Volatile.Read(ref Counted.StartedNs), stopped = Volatile.Read(ref Counted.StoppedNs);
        long since = Volatile.Read(ref Counted.ParkedSince);
        long p = Volatile.Read(ref Counted.ParkedNs) + (since != 0 && stopped == 0 ? Math.Max(0, (long)now - since) : 0);
        long alive = started == 0 ? 0 : (stopped != 0 ? stopped : (long)now) - started;
        parked = (ulong)Math.Max(0, p);
        busy = (ulong)Math.Max(0, alive - p);
    }

    /// <summary>Tasks of <paramref name="level"/> in this worker's local queue and deferred yields (a snapshot: metrics).</summary>
    public int QueuedAt(int level) => Math.Max(0, Locals[level].Count) + _deferred.CountAt(level);

    /// <summary>Tasks in this worker's queues, LIFO slot and deferred yields (read from another thread: a snapshot).</summary>
    public int QueueDepth()
    {
        int n = (_lifo.HasValue ? 1 : 0) + _deferred.Count; // racy reads: a snapshot
        foreach (LocalQueue local in Locals) n += Math.Max(0, local.Count);
        return n;
    }

    void FlushDeferred()
    {
        bool any = false;
        for (int level = 0; level < Priority.Levels; level++)
        {
            for (RawTask? chain = _deferred.TakeLevel(level, out _); chain is RawTask t; any = true)
            {
                chain = t.Next;
                t.Next = null;
                PushLocal(t);
            }
        }
        if (any) _rt.NotifyOne();
    }

    /// <summary>Runs the first yielded task of a level and queues the others locally, where idle workers may steal
    /// them (so one is woken when there are several).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    RawTask? TakeDeferred(int level) => _deferred.Any(level) ? TakeDeferredChain(level) : null;

    RawTask? TakeDeferredChain(int level)
    {
        if (_deferred.TakeLevel(level, out int n) is not RawTask first) return null;
        RawTask? chain = first.Next;
        first.Next = null;
        while (chain is RawTask t)
        {
            chain = t.Next;
            t.Next = null;
            PushLocal(t);
        }
        if (n > 1) _rt.NotifyOne();
        return first;
    }

    /// <summary>Has a task been woken into this worker's LIFO slot (it runs next)? This worker's thread only.</summary>
    public bool HasWokenTask => _lifo is not null;

    /// <summary>Called on this worker's thread when a task is woken here (usually by the task being polled).</summary>
    public void ScheduleWoken(RawTask task)
    {
        RawTask? previous = _lifo;
        _lifo = task;
        if (previous is not RawTask displaced) return;
        PushLocal(displaced);
        _rt.NotifyOne();
    }

    /// <summary>
    /// luminal_context_spawn on this worker's thread: like a wake, the new task takes the LIFO slot (it runs next,
    /// while its data is hot) and the task it displaces goes to the local queue, where idle workers may steal it.
    /// Only a displacement wakes another worker, so a chain of spawns costs no thread wake-ups.
    /// </summary>
    public void ScheduleSpawned(RawTask task) => ScheduleWoken(task);

    void Park()
    {
        bool lastSearcher = _rt.Idle.Park(Index, _searching);
        _searching = false;
        // The last searcher to leave must look once more, or work pushed while everyone was busy could sit
        // unnoticed (see Idle). Notifying may pick this very worker; then the park below returns at once.
        if (lastSearcher && _rt.HasPendingWork()) _rt.NotifyOne();
        // The driver decides where this worker sleeps (the io_uring ring, its futex) and for how long (the next
        // timer); any Unpark of its parker wakes it there.
        if (!_rt.IsShutdown)
        {
            Counted.Parks++;
            long since = (long)Time.Clock.NowNs(); // a park is a system call anyway: two clock reads are noise
            Volatile.Write(ref Counted.ParkedSince, since);
            _rt.Driver.Park(this, -1, othersAwake: _rt.Idle.UnparkedCount > 0);
            Counted.ParkedNs += (long)Time.Clock.NowNs() - since;
            Volatile.Write(ref Counted.ParkedSince, 0);
        }
        _searching = _rt.Idle.ReturnFromPark(Index);
    }
}
