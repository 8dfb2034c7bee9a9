using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Scheduler;
using static Luminal.Tasks.TaskState;

namespace Luminal.Tasks;

/// <summary>
/// One task: the future's four C fields, its output, queue link and join bookkeeping, and one 64-bit state word
/// (<c>generation:32 | flags:32</c>, flags in <see cref="TaskState"/>). A task is a slot of <see cref="TaskTable"/>
/// in native memory (<see cref="TaskCell"/>); this is a pointer to it with the task's behaviour. Slots are pooled
/// — spawning allocates nothing once the pool is warm, and growing the pool allocates no managed memory — and a
/// token's generation must match the state word's, so handles and wakers of a finished task can never touch the
/// task that reuses its slot.
/// </summary>
readonly unsafe struct RawTask : IEquatable<RawTask>
{
    readonly TaskCell* _p;

    internal RawTask(TaskCell* cell) => _p = cell;

    internal TaskCell* Cell => _p;
    public int Index => _p->Index;

    internal Runtime? Runtime
    {
        get => TaskRuntimes.Get(_p->RuntimeId);
        set => _p->RuntimeId = value?.TaskRuntimeId ?? 0;
    }
    internal ref NativeFuture Future => ref _p->Future;
    internal delegate* unmanaged<void*, void*> Fn { get => _p->Fn; set => _p->Fn = value; } // spawn_fn tasks: called once with Future.State
    ref void* _output => ref _p->Output;
    /// <summary>Link in the injector's list.</summary>
    internal RawTask? Next { get => Link(_p->Next); set => _p->Next = CellOf(value); }
    /// <summary>A block_on task: scheduling it unparks this thread instead of queueing.</summary>
    internal Parker? BlockOn
    {
        get => _p->BlockOn == 0 ? null : Parker.FromIndex(_p->BlockOn - 1);
        set => _p->BlockOn = value is null ? 0 : value.Index + 1;
    }
    internal byte Priority { get => _p->Priority; set => _p->Priority = value; } // level (Scheduler.Priority); a woken task keeps it
    internal bool Blocking { get => _p->Blocking != 0; set => _p->Blocking = value ? (byte)1 : (byte)0; } // runs on the blocking pool
    /// <summary>Set by Scope.Enter before the task is queued.</summary>
    internal Scopes.Scope? Scope
    {
        get => _p->Scope == 0 ? null : Scopes.Scope.Table.Get(_p->Scope - 1);
        set => _p->Scope = value is null ? 0 : value.Index + 1;
    }
    /// <summary>The scope's member list, under the scope's lock.</summary>
    internal RawTask? ScopePrev { get => Link(_p->ScopePrev); set => _p->ScopePrev = CellOf(value); }
    internal RawTask? ScopeNext { get => Link(_p->ScopeNext); set => _p->ScopeNext = CellOf(value); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static RawTask? Link(TaskCell* cell) => cell == null ? null : new RawTask(cell);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TaskCell* CellOf(RawTask? task) => task is RawTask t ? t._p : null;

    // Join notification, without a lock on the common path: the joiner publishes its waker (or its presence) and
    // then reads the state; Finish publishes Closed and then takes the waker (or sees the waiters). Both sides use
    // interlocked operations (full fences), so at least one of them sees the other: never a lost wake-up, at
    // worst one spurious wake. _joinWaker: waker token registered by luminal_task_poll, or a task set's member
    // token; _joinWaiters: threads blocked in WaitFinished (they sleep on JoinLock).
    ref ulong _joinWaker => ref _p->JoinWaker;
    ref int _joinWaiters => ref _p->JoinWaiters;
    ref long _state => ref _p->State;

    public bool Equals(RawTask other) => _p == other._p;
    public override bool Equals(object? obj) => obj is RawTask t && Equals(t);
    public override int GetHashCode() => ((nint)_p).GetHashCode();
    public static bool operator ==(RawTask a, RawTask b) => a._p == b._p;
    public static bool operator !=(RawTask a, RawTask b) => a._p != b._p;

    /// <summary>The process-wide table of task slots (kept for the callers that sweep or stash slots).</summary>
    public static class Table
    {
        public static int Count => TaskTable.Count;
        public static RawTask? Get(int index) => TaskTable.Get(index);
        public static RawTask? Allocate(SlotCache<RawTask>? cache = null) => TaskTable.Allocate(cache);
        public static void Free(RawTask task, SlotCache<RawTask>? cache = null) => TaskTable.Free(task, cache);
        public static void ReturnAll(SlotCache<RawTask> cache) => TaskTable.ReturnAll(cache);
    }

    // Blocked joiners sleep on one of a few shared futex words picked by slot index, not on anything per task (32
    // bytes more per pending task). A finish bumps its stripe's word and wakes every waiter on it; each re-checks
    // its own task and generation (WaitFinished), so sharing is only a spurious wake-up, and blocking joins are the
    // rare path. Futexes, not Monitor.Wait: NativeAOT's Monitor.Wait ties a condition to the object through a
    // ConditionalWeakTable (an allocation, and the object's first hash code, which seeds .NET's Random: an fd on
    // /dev/urandom opened in the middle of a host's first join). Monitor stays where there is no futex.
    const int JoinStripes = 64;
    static readonly int* JoinWords = (int*)NativeMemory.AllocZeroed(JoinStripes * 16, sizeof(int)); // 64 bytes apart
    int* JoinWord => JoinWords + (Index & (JoinStripes - 1)) * 16;
    static readonly object[] JoinLocks = Scheduler.Futex.Supported ? Array.Empty<object>() : NewJoinLocks();
    object JoinLock => JoinLocks[Index & (JoinStripes - 1)];

    static object[] NewJoinLocks()
    {
        var locks = new object[JoinStripes];
        for (int i = 0; i < locks.Length; i++) locks[i] = new object();
        return locks;
    }

    public long State => Volatile.Read(ref _state);
    uint StateGeneration => TaskState.Generation(Volatile.Read(ref _state));

    public ulong TaskToken => Token.Make(Token.Task, Index, StateGeneration);
    public ulong WakerToken => Token.Make(Token.Waker, Index, StateGeneration);

    /// <summary>A new task (SCHEDULED: the caller queues it; HANDLE if a join handle is wanted), or null if the table
    /// is full. <paramref name="slots"/>: the calling worker's slot stash, if any.</summary>
    /// <paramref name="storage"/> != None: future.State is the caller's <paramref name="size"/> bytes, moved into
    /// the slot's area of that class or into <paramref name="separate"/> (see <see cref="TaskStorage"/>).
    public static RawTask? Create(Runtime runtime, in NativeFuture future, bool wantHandle, Parker? blockOn = null,
        SlotCache<RawTask>? slots = null, byte storage = TaskStorage.None, void* separate = null, nuint size = 0)
    {
        if (TaskTable.Allocate(slots) is not RawTask t) return null;
        t.Runtime = runtime;
        t.Future = future;
        if (storage != TaskStorage.None)
        {
            // The move: from here on the task owns the state (its drop runs on the copy, whatever happens next).
            void* copy = separate != null ? separate : TaskStorage.Area(t.Index, storage);
            Buffer.MemoryCopy(future.State, copy, size, size);
            t.Future.State = copy;
            t._p->Storage = storage;
        }
        t.Fn = null;
        t.BlockOn = blockOn;
        t.Priority = Scheduler.Priority.Default;
        t.Blocking = false;
        // Publishing the state (release) makes the fields above visible to whoever validates a token.
        Volatile.Write(ref t._state, Spawned(t.StateGeneration, wantHandle));
        return t;
    }

    /// <summary>The live task a token names (tag, index and generation all match), or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RawTask? FromToken(ulong token, uint tag, out uint generation) => TaskTable.FromToken(token, tag, out generation);

    // ---- waking -------------------------------------------------------------------------------------------------

    /// <summary>Wakes the task if it is still generation <paramref name="generation"/> and not finished.</summary>
    public void Wake(uint generation)
    {
        long s = Volatile.Read(ref _state);
        WakeAction act;
        while (true)
        {
            long next = ToNotified(s, generation, out act);
            if (next == s) return;
            long seen = Interlocked.CompareExchange(ref _state, next, s);
            if (seen == s) break;
            s = seen;
        }
        // A running task is re-queued by its poller when the poll returns (a self-woken task goes behind the others).
        if (act == WakeAction.Submit) ScheduleOrDrop();
    }

    /// <summary>We own SCHEDULED: queue the task on its runtime — or, if that runtime is gone (its last token went
    /// and shutdown's sweep did not find this task idle), drop its future here: it can never run again.</summary>
    void ScheduleOrDrop()
    {
        if (Runtime is Runtime rt) rt.Schedule(this);
        else Run(null);
    }

    /// <summary>Requests cancellation (see luminal_task_abort). False if the handle is not live.</summary>
    public bool RequestAbort(uint generation) => AbortCore(generation, requireHandle: true);

    /// <summary>Scope close: cancels a member whether or not a join handle exists.</summary>
    public void AbortInternal(uint generation) => AbortCore(generation, requireHandle: false);

    bool AbortCore(uint generation, bool requireHandle)
    {
        long s = Volatile.Read(ref _state);
        AbortAction act;
        while (true)
        {
            long next = ToAborted(s, generation, requireHandle, out act);
            if (next == s) break;
            long seen = Interlocked.CompareExchange(ref _state, next, s);
            if (seen == s) break;
            s = seen;
        }
        if (act == AbortAction.Submit) ScheduleOrDrop();
        // A blocking call still waiting for a pool thread (which may be busy for long): cancel it now.
        else if (act == AbortAction.Queued && Blocking && Runtime is Runtime rt && rt.Blocking.TryRemove(this)) Run(null);
        return act != AbortAction.NotLive;
    }

    // ---- running ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Polls the task once; the caller dequeued it (so owns SCHEDULED). If the task was aborted or its runtime is
    /// shutting down, drops the future instead. Returns true if the task was woken during the poll: the caller
    /// must queue it again (it is still SCHEDULED).
    /// </summary>
    public bool Run(Context? cx)
    {
        // A worker's own context: recycle into its slot stash and count on its counters (only that thread touches them).
        // (No runtime: its last token went while a racing spawn made this task; it can only be dropped.)
        Runtime? runtime = Runtime;
        return Run(cx, runtime, cx is not null && cx.WorkerIndex >= 0 && runtime is not null ? runtime.Workers[cx.WorkerIndex] : null);
    }

    /// <summary><see cref="Run(Context?)"/> from a worker's loop, which knows both (its queues hold only its
    /// runtime's tasks, and the runtime stays registered while its workers run): two lookups less per poll.</summary>
    public bool Run(Context? cx, Runtime? runtime, Worker? worker)
    {
        long s = Volatile.Read(ref _state);
        bool cancel;
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref _state, ToRunning(s, out cancel), s);
            if (seen == s) break;
            s = seen;
        }
        if (cancel || runtime is null || runtime.IsShutdown
            // Observers (task hook, plugin check): one branch when there are none. A refused call is a cancel.
            || (runtime.PollObserved && !runtime.PollStarting(this, TaskToken, Fn != null ? (void*)Fn : (void*)Future.Poll, worker)))
        {
            DropFuture();
            Finish(completed: false, worker);
            return false;
        }

        void* output = null;
        bool ready, yielded = false;
        Scopes.Scope? scope = Scope;
        ulong pollStart = scope is not null ? Time.Clock.NowNs() : 0; // per-scope CPU (luminal_scope_counters)
        if (Fn != null)
        {
            output = Fn(Future.State);
            ready = true;
        }
        else
        {
            // The poll gets a token valid for this poll only (see Context). luminal_context_yield during the poll
            // counts as a wake during the poll, without the waker's token lookup and its own compare-and-swap.
            ulong token = cx!.Begin(Token.Make(Token.Waker, Index, TaskState.Generation(s)));
            ready = Future.Poll(Future.State, (void*)token, &output) == 1;
            yielded = cx.End();
        }
        if (scope is not null) scope.CountPoll(Time.Clock.NowNs() - pollStart);
        if (worker is not null) worker.Counted.Polls++; // before Finish publishes: a joiner then sees the count
        if (runtime.TaskHook != null) runtime.TaskEventAt(Observe.TaskEvent.PollEnd, this, TaskToken, worker);

        if (ready)
        {
            _output = output;
            DropFuture();
            Finish(completed: true, worker);
            return false;
        }

        s = Volatile.Read(ref _state);
        bool requeue;
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref _state, ToIdle(s, yielded, out requeue), s);
            if (seen == s) return requeue;
            s = seen;
        }
    }

    void DropFuture()
    {
        NativeFuture f = Future;
        // Runtime-owned storage (luminal_spawn_inline) stays until Recycle: the output may point into it.
        if (_p->Storage == TaskStorage.None) Future.State = null;
        Future.Poll = null;
        Future.Drop = null;
        // (No runtime: see Run; nothing to check the plugin against.)
        if (f.Drop != null && (Runtime is not Runtime rt || !rt.DebugPlugins || Observe.PluginCheck.Callable(f.Drop, "drop", Scope, rt.Log)))
            f.Drop(f.State);
    }

    /// <summary>Marks the task finished while still holding RUNNING, tells the joiners, then lets go.
    /// <paramref name="worker"/>: the worker whose thread is running this, if any.</summary>
    void Finish(bool completed, Worker? worker)
    {
        if (Runtime is Runtime rt)
        {
            rt.CountFinished(worker, completed);
            if (rt.TaskHook != null)
                rt.TaskEventAt(completed ? Observe.TaskEvent.Completed : Observe.TaskEvent.Cancelled, this, TaskToken, worker);
        }
        long s = Volatile.Read(ref _state);
        bool notifyJoiner;
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref _state, ToFinished(s, completed, out notifyJoiner), s);
            if (seen == s) break;
            s = seen;
        }
        // Still RUNNING, so the slot cannot be recycled under the notification.
        if (Scope is Scopes.Scope scope)
        {
            scope.Finished(completed);
            if (!OutputKeepsScope(completed, Future.DropOutput != null)) scope.Leave(); // the future was its last call
        }
        BlockOn?.Unpark();
        if (notifyJoiner)
        {
            // Closed was published by the CAS above (a full fence) before these reads.
            ulong waker = Interlocked.Exchange(ref _joinWaker, 0);
            // A task set's member token (Sync tag) instead of a task's waker: see Sync.TaskSet.
            if ((waker & 0xF) == Token.Sync) Sync.TaskSet.MemberFinished(waker);
            else if (waker != 0) Waker.Wake(waker);
            if (Volatile.Read(ref _joinWaiters) > 0) WakeJoinWaiters();
        }
        ReleaseOwnership(Running, 0, worker?.TaskSlots);
    }

    /// <summary>
    /// Clears one owner flag; whoever leaves a closed task with no owner recycles it. With
    /// <paramref name="generation"/> != 0 the flag must be set in that generation, else false.
    /// </summary>
    bool ReleaseOwnership(long flag, uint generation, SlotCache<RawTask>? slots = null, bool slotsOfThisThread = false)
    {
        long s = Volatile.Read(ref _state);
        ReleaseAction act;
        long next;
        while (true)
        {
            next = ToReleased(s, flag, generation, out act);
            if (act == ReleaseAction.NotLive) return false;
            long seen = Interlocked.CompareExchange(ref _state, next, s);
            if (seen == s) break;
            s = seen;
        }
        // The calling thread's stash is looked up (a thread-id read) only when there is a cell to put in it.
        if (act == ReleaseAction.Recycle) Recycle(next, slotsOfThisThread ? Runtime?.CurrentWorker()?.TaskSlots : slots);
        return true;
    }

    void Recycle(long state, SlotCache<RawTask>? slots)
    {
        void* output = _output;
        var dropOutput = Future.DropOutput;
        Scopes.Scope? scope = Scope;
        _output = null;
        byte storage = _p->Storage;
        void* separate = storage == TaskStorage.Separate ? Future.State : null;
        _p->Storage = TaskStorage.None;
        Future = default;
        Fn = null;
        Runtime = null;
        BlockOn = null;
        Next = null;
        _joinWaker = 0;
        if (OutputUnclaimed(state)) DisposeOutput(dropOutput, output, drop: true, scope);
        // After the output is disposed of: an output nobody took may live in the state's storage (an area slot is
        // reused with the task slot itself; see TaskStorage).
        if (separate != null) TaskStorage.FreeSeparate(separate);
        scope?.Unlink(this);
        long recycled = Recycled(state);
        Volatile.Write(ref _state, recycled);
        Volatile.Write(ref _p->Generation, TaskState.Generation(recycled)); // the lookup's mirror (TaskCell.Generation)
        Table.Free(this, slots);
    }

    /// <summary>
    /// The output is disposed of (handed to a joiner, or dropped): its drop_output, if any, was the task's last
    /// call into its scope's code (see <see cref="TaskState.OutputKeepsScope"/>). Never drops
    /// LUMINAL_TIMED_OUT_OUTPUT or LUMINAL_FAILED_OUTPUT, which own nothing.
    /// </summary>
    static void DisposeOutput(delegate* unmanaged<void*, void> dropOutput, void* output, bool drop, Scopes.Scope? scope)
    {
        if (dropOutput == null) return; // nothing to free, and it never kept the scope
        if (drop && output != Time.TimeoutFuture.TimedOut && output != Time.SleepFuture.FailedOutput
            && (Volatile.Read(ref Observe.PluginCheck.Active) == 0
                || Observe.PluginCheck.Callable(dropOutput, "drop_output", scope, scope?.Runtime?.Log)))
            dropOutput(output);
        scope?.Leave();
    }

    // ---- the join handle ----------------------------------------------------------------------------------------

    /// <summary>True if <paramref name="generation"/> names this task and its join handle is alive.</summary>
    public bool HandleLive(uint generation)
    {
        long s = Volatile.Read(ref _state);
        return TaskState.Generation(s) == generation && (s & Handle) != 0;
    }

    public bool IsFinished => (Volatile.Read(ref _state) & Closed) != 0;

    /// <summary>Drops the join handle (detaches). False if it was not live.</summary>
    public bool ReleaseHandle(uint generation) => ReleaseOwnership(Handle, generation);

    /// <summary>
    /// <see cref="ReleaseHandle"/> for a join that completes on the calling thread (luminal_task_release, a task
    /// set's join_next): on one of this runtime's workers a slot recycled here goes to that worker's stash, where
    /// its next spawn takes it back while the cell is still in this core's cache, instead of through the shared
    /// free stack (a compare-and-swap out, a refill burst back, another cell each time).
    /// </summary>
    public bool ReleaseHandleHere(uint generation) => ReleaseOwnership(Handle, generation, slotsOfThisThread: true);

    /// <summary>Blocks until task <paramref name="generation"/> has finished (or its slot moved on to another task,
    /// which only a misused handle allows) or the timeout (ms, -1 = forever) passes; false on timeout.</summary>
    public bool WaitFinished(uint generation, long timeoutMs)
    {
        if (FinishedOrGone(generation)) return true;
        if (timeoutMs == 0) return false;
        long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
        if (Scheduler.Futex.Supported)
        {
            int* word = JoinWord;
            while (!FinishedOrGone(generation))
            {
                long left = deadline == long.MaxValue ? -1 : deadline - Environment.TickCount64;
                if (deadline != long.MaxValue && left <= 0) return false;
                int seen = Volatile.Read(ref *word);
                Interlocked.Increment(ref _joinWaiters); // full fence, then the state is read again
                // A finish after this re-check bumps the word first: the wait then returns at once.
                if (!FinishedOrGone(generation)) Scheduler.Futex.Wait(word, seen, left < 0 ? -1 : left * 1_000_000);
                Interlocked.Decrement(ref _joinWaiters);
            }
            return true;
        }
        object joinLock = JoinLock;
        lock (joinLock)
        {
            while (!FinishedOrGone(generation))
            {
                long left = deadline == long.MaxValue ? -1 : deadline - Environment.TickCount64;
                if (deadline != long.MaxValue && left <= 0) return false;
                Interlocked.Increment(ref _joinWaiters); // full fence, then the state is read again
                if (!FinishedOrGone(generation)) Monitor.Wait(joinLock, left < 0 ? -1 : (int)Math.Min(left, int.MaxValue));
                Interlocked.Decrement(ref _joinWaiters);
            }
            return true;
        }
    }

    void WakeJoinWaiters()
    {
        if (Scheduler.Futex.Supported)
        {
            Interlocked.Increment(ref *JoinWord);
            Scheduler.Futex.WakeAll(JoinWord);
        }
        else lock (JoinLock) Monitor.PulseAll(JoinLock); // the lock: a waiter between its check and its Wait holds it
    }

    bool FinishedOrGone(uint generation)
    {
        long s = Volatile.Read(ref _state);
        return (s & Closed) != 0 || TaskState.Generation(s) != generation;
    }

    /// <summary>Registers a waker to be woken when the task finishes; false if it is finished already.</summary>
    public bool RegisterJoinWaker(ulong wakerToken)
    {
        if (IsFinished) return false;
        Interlocked.Exchange(ref _joinWaker, wakerToken); // full fence: published before the state is read again
        return !IsFinished;
    }

    /// <summary>Hands the output of a finished task over, once (<paramref name="output"/> NULL: drops it).</summary>
    public Status TakeOutput(uint generation, void** output)
    {
        long s = Volatile.Read(ref _state);
        Status status;
        while (true)
        {
            long next = ToTaken(s, generation, out status);
            if (status != Status.Ok) return status;
            long seen = Interlocked.CompareExchange(ref _state, next, s);
            if (seen == s) break;
            s = seen;
        }
        // We hold the handle, so the task cannot be recycled under us.
        if (output != null) *output = _output;
        DisposeOutput(Future.DropOutput, _output, drop: output == null, Scope);
        _output = null;
        return Status.Ok;
    }

    /// <summary>
    /// Scope close: frees a completed task's output that its (still held) join handle has not taken, so no
    /// drop_output can run after the scope is closed. A later join gets LUMINAL_E_CANCELLED.
    /// </summary>
    public void DropUnclaimedOutput(uint generation)
    {
        // Read what we need first: once our CAS succeeds the handle's holder may release it and the task be
        // recycled at once; a CAS on the whole word (generation included) proves the snapshot was this task's.
        // The state before the fields: Finish writes the output before it publishes COMPLETE, so a state that says
        // complete (acquire) comes with its output; read the other way round, a task completing in between gave a
        // disclaim with the output still NULL (drop_output(NULL), the real output leaked).
        long s = Volatile.Read(ref _state);
        var dropOutput = Future.DropOutput;
        void* output = _output;
        Scopes.Scope? scope = Scope;
        while (true)
        {
            long next = ToDisclaimed(s, generation, out bool disclaimed);
            if (!disclaimed) return;
            long seen = Interlocked.CompareExchange(ref _state, next, s);
            if (seen == s) break;
            s = seen;
            dropOutput = Future.DropOutput;
            output = _output;
            scope = Scope;
        }
        DisposeOutput(dropOutput, output, drop: true, scope);
    }

    // ---- shutdown -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Shutdown's sweep: if this idle task belongs to <paramref name="runtime"/>, claims it (as a wake would) and
    /// runs it, which drops the future because the runtime is shut down. Queued or running tasks are left to
    /// whoever holds them.
    /// </summary>
    public void CancelIfIdle(Runtime runtime, Context? cx)
    {
        long s = Volatile.Read(ref _state);
        while (true)
        {
            if (!ReferenceEquals(Runtime, runtime)) return;
            long next = ToClaimedIdle(s, out bool claimed);
            if (!claimed) return;
            // A block_on task is run by its own thread: wake that thread, whose Run then drops the future.
            if (BlockOn is not null) { Wake(TaskState.Generation(s)); return; }
            long seen = Interlocked.CompareExchange(ref _state, next, s);
            if (seen == s) break;
            s = seen;
        }
        Run(cx);
    }
}
