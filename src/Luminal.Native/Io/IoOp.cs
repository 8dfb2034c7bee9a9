using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Scheduler;
using Luminal.Tasks;

namespace Luminal.Io;

/// <summary>luminal_io_result.</summary>
[CStruct("luminal_io_result")]
[StructLayout(LayoutKind.Sequential)]
struct NativeIoResult
{
    public int Status;
    public int OsError;
    public ulong Value;
}

/// <summary>
/// One IO operation's storage, in native memory (see <see cref="IoOp"/>): no field is a managed reference, so
/// 100,000 pending reads cost the GC nothing to allocate or trace (issue 15). The runtime is named by its
/// <see cref="TaskRuntimes"/> id (kept registered while any of its operations lives, see Runtime.IoRefs), the
/// reactor's waiter list links cells by pointer (cells never move).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
unsafe struct IoCell : IPoolCell<IoCell>
{
    public long State;              // generation:32 | flags:32 (IoOp's lifecycle); the low half is a futex word
    public uint Generation;         // retired by a CAS (GenerationSlot's rule)
    public int Index;
    public int NextFree;            // free-list link; meaningful only while the slot is free
    public int RuntimeId;           // TaskRuntimes id
    public NativeIoResult* Result;  // the caller's
    public ulong Waker;             // the awaiting task's waker; taken by the completer
    public long Raw;                // the result (≥ 0, or -errno); written before Completed is published
    public ulong PoolTask;          // pool backend: the blocking task that runs the call (a task token)
    public IoCell* NextWaiter;      // pool backend: the next operation waiting in the reactor on the same fd
    public long SubmitOrder;        // io_uring backend: when it entered the ring (shutdown cancels newest first)
    public int UringRing;           // io_uring backend: which ring (0 the shared one, i + 1 worker i's)
    public uint PoolClaim;          // pool backend: this generation while its call is queued, 0 once claimed
    public int WaitFd;              // pool backend: the fd the reactor waits on for this operation
    public int Priority;
    public IoKind Kind;
    public byte WaitRead;           // ... readable (else writable)
    public byte WaitThenRun;        // ... and once ready, make the call on a pool thread (it may block)
    public byte ResultTaken;        // poller and dropper only (never concurrent)
    public byte HoldsClock;         // in Runtime.IoHoldingClock until its result is taken or it is dropped
    public IoOp.ArgsStorage Args;   // the kind's argument struct (Args&lt;T&gt;)

    public static int* IndexOf(IoCell* cell) => &cell->Index;
    public static int* NextFreeOf(IoCell* cell) => &cell->NextFree;
    public static void Init(IoCell* cell) => cell->Generation = 1;
}

/// <summary>
/// One IO operation: what to do (its kind, and its own argument struct from Args.cs, e.g. ReadAtArgs), where the
/// answer goes (the caller's luminal_io_result), and its lifecycle. A pooled native cell (<see cref="IoCell"/>)
/// named by a token in the future's state, like timers; this is a pointer to it with the operation's behaviour.
/// What each kind does on each backend is in its own files (see <see cref="Operations"/>).
///
/// Lifecycle, in one state word (<c>generation:32 | flags:32</c>, every change a CAS or an exchange, no lock):
/// Idle → Submitted (at the first poll) → Completed (the backend reports the raw result: ≥ 0 a value, &lt; 0 a
/// negated errno). Dropping a Submitted operation asks the backend to cancel it, then waits for Completed: only
/// then has the kernel (or the pool thread) let go of the caller's buffer. The completer publishes Completed with
/// <see cref="Busy"/> set and clears it once it has taken the waker and is done with the cell; a drop frees the
/// cell only after that, so a completer never touches a reused cell. A dropper that must wait sleeps on the state
/// word (a futex: cells never move) with <see cref="Sleeper"/> set, which tells the completer to wake it. The
/// generation in the word makes a stale cancel request (shutdown's sweep of the table) fail its CAS instead of
/// flagging the operation that reuses the cell.
/// </summary>
readonly unsafe struct IoOp : IEquatable<IoOp>
{
    const long Idle = 0, Submitted = 1, Completed = 2, PhaseMask = 3;
    const long Busy = 4;       // the completer still uses the cell (Completed is set)
    const long Sleeper = 8;    // a dropper sleeps on the word until Completed without Busy
    const long Cancel = 16;    // CancelRequested
    const long FlagsMask = 0xFFFF_FFFF;

    readonly IoCell* _p;

    IoOp(IoCell* cell) => _p = cell;

    public int Index => _p->Index;
    internal ref uint Generation => ref _p->Generation;
    /// <summary>The runtime that made the operation (registered while the operation lives: never null then).</summary>
    internal Runtime Runtime => TaskRuntimes.Get(_p->RuntimeId)!;
    /// <summary>Where it goes: the runtime's backend (started by <see cref="Create"/>, never replaced).</summary>
    internal IoBackend Backend => Runtime.IoIfStarted!;
    internal IoKind Kind => _p->Kind;
    internal NativeIoResult* Result => _p->Result;
    internal ref int Priority => ref _p->Priority;
    internal ref ulong PoolTask => ref _p->PoolTask;
    internal ref int WaitFd => ref _p->WaitFd;
    internal bool WaitRead { get => _p->WaitRead != 0; set => _p->WaitRead = value ? (byte)1 : (byte)0; }
    internal bool WaitThenRun { get => _p->WaitThenRun != 0; set => _p->WaitThenRun = value ? (byte)1 : (byte)0; }
    internal IoOp? NextWaiter { get => Of(_p->NextWaiter); set => _p->NextWaiter = CellOf(value); }
    internal ref long SubmitOrder => ref _p->SubmitOrder;
    internal ref int UringRing => ref _p->UringRing;

    /// <summary>Cancel was asked for (a drop, a backend's cancel, shutdown's sweep): the operation must not start
    /// anything new. Set only while the operation is in flight; cleared when the cell is reused.</summary>
    internal bool CancelRequested
    {
        get => (Volatile.Read(ref _p->State) & Cancel) != 0;
        set { if (value) Interlocked.Or(ref _p->State, Cancel); }
    }

    static IoOp? Of(IoCell* cell) => cell == null ? null : new IoOp(cell);
    static IoCell* CellOf(IoOp? op) => op is IoOp o ? o._p : null;

    public bool Equals(IoOp other) => _p == other._p;
    public override bool Equals(object? obj) => obj is IoOp o && Equals(o);
    public override int GetHashCode() => ((nint)_p).GetHashCode();
    public static bool operator ==(IoOp a, IoOp b) => a._p == b._p;
    public static bool operator !=(IoOp a, IoOp b) => a._p != b._p;

    public ulong Token => Handles.Token.Make(Handles.Token.Io, Index, Volatile.Read(ref _p->Generation));

    long Phase => Volatile.Read(ref _p->State) & PhaseMask;
    /// <summary>The state word's flags half, as the futex sees it (little-endian: the low half is at the start).</summary>
    int* FutexWord => (int*)&_p->State;

    /// <summary>A new operation of <paramref name="runtime"/> (whose backend this starts): NoMemory when the table
    /// is full, InvalidHandle when the runtime's last handle went since the caller resolved it (a release racing
    /// this call on another thread).</summary>
    public static Status Create(Runtime runtime, IoKind kind, NativeIoResult* result, out IoOp op)
    {
        op = default;
        IoBackend backend = runtime.Io; // started before the operation exists: Backend reads it, never starts it
        _ = backend;
        if (!runtime.AddIoRef()) return Status.InvalidHandle; // released: nothing may name it any more
        if (Allocate() is not IoOp made) { runtime.ReleaseIoRef(); return Status.NoMemory; }
        op = made;
        IoCell* p = op._p;
        uint generation = Volatile.Read(ref p->Generation);
        p->RuntimeId = runtime.TaskRuntimeId;
        p->Kind = kind;
        p->Result = result;
        p->Priority = Scheduler.Priority.Default;
        p->Args = default;
        p->PoolTask = 0;
        p->PoolClaim = 0;
        p->WaitFd = -1;
        p->WaitRead = p->WaitThenRun = 0;
        p->NextWaiter = null;
        p->ResultTaken = p->HoldsClock = 0;
        p->Raw = 0;
        p->Waker = 0;
        p->SubmitOrder = 0;
        p->UringRing = 0;
        // Release: the fields above before the state that names this generation (the sweep reads it first).
        Volatile.Write(ref p->State, (long)generation << 32 | Idle);
        return Status.Ok;
    }

    [InlineArray(6)]
    internal struct ArgsStorage { ulong _word; }

    /// <summary>This operation's arguments, as its kind's struct (Args.cs).</summary>
    public ref T Args<T>() where T : unmanaged
    {
        if (sizeof(T) > sizeof(ArgsStorage)) throw new InvalidOperationException("IoOp: argument struct too large");
        return ref Unsafe.As<ArgsStorage, T>(ref _p->Args);
    }

    /// <summary>The live operation a future state (or io_uring user_data) names, or null.</summary>
    public static IoOp? FromToken(ulong token, out uint generation)
    {
        if (!Handles.Token.TryDecode(token, Handles.Token.Io, out int index, out generation)) return null;
        IoCell* cell = Cell(index);
        return cell != null && Volatile.Read(ref cell->Generation) == generation ? new IoOp(cell) : null;
    }

    /// <summary>Hands the future to the caller: state = our token, poll/drop = ours, no drop_output.</summary>
    public void Fill(NativeFuture* output)
    {
        output->State = (void*)Token;
        output->Poll = &PollFn;
        output->Drop = &DropFn;
        output->DropOutput = null;
    }

    /// <summary>The backend has reported the result (the completer may still be finishing with the cell).</summary>
    public bool IsCompleted => Phase == Completed;

    /// <summary>
    /// Shutdown: flags the operation cancelled if it is in flight on <paramref name="backend"/> (true), so a
    /// backend can cancel all of its operations at once instead of one drop at a time. Called on any cell of the
    /// table: the CAS names the state's generation, so an operation that completed and whose cell was reused
    /// meanwhile is left alone.
    /// </summary>
    public bool RequestCancelIfInFlight(IoBackend backend)
    {
        long s = Volatile.Read(ref _p->State);
        // Submitted operations are live and keep their backend until they complete (Drop waits for that).
        if ((s & PhaseMask) != Submitted || (uint)(s >> 32) != Volatile.Read(ref _p->Generation)) return false;
        if (!ReferenceEquals(TaskRuntimes.Get(_p->RuntimeId)?.IoIfStarted, backend)) return false;
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref _p->State, s | Cancel, s);
            if (seen == s) return true;
            // Only flags of this generation may have changed (Sleeper, Cancel); anything else: not ours to flag.
            if ((seen & ~(Sleeper | Cancel)) != (s & ~(Sleeper | Cancel))) return false;
            s = seen;
        }
    }

    /// <summary>
    /// Pool backend: the operation's call is about to be queued for a pool thread. From here, whoever claims it
    /// first — the pool thread starting the call (<see cref="TryClaimPoolCall"/>), or a cancel before that — owns
    /// it; the other does nothing. The claim names this generation, so a late claim for an operation that has since
    /// been dropped and reused can never win.
    /// </summary>
    public void ArmPoolClaim() => Volatile.Write(ref _p->PoolClaim, Volatile.Read(ref _p->Generation));

    /// <summary>Claims the queued pool call of generation <paramref name="generation"/>; false if someone else
    /// did, or it is not queued for a pool thread.</summary>
    public bool TryClaimPoolCall(uint generation) =>
        generation != 0 && Interlocked.CompareExchange(ref _p->PoolClaim, 0, generation) == generation; // full fence: one winner

    /// <summary>
    /// Cancel before the pool call started: if this claims it, the operation completes as cancelled at once (the
    /// call will never touch the caller's buffer) and true; false if the call has started (or was cancelled).
    /// </summary>
    public bool CancelPoolCallIfNotStarted(uint generation)
    {
        if (!TryClaimPoolCall(generation)) return false;
        Complete(-Libc.ECANCELED);
        return true;
    }

    /// <summary>Pool backend, in a TryNow: the operation would block; wait in the reactor until <paramref name="fd"/>
    /// is readable (or writable), then TryNow again — or, <paramref name="thenRun"/>, make the call on a pool thread.</summary>
    public long WaitUntilReady(int fd, bool read, bool thenRun = false)
    {
        WaitFd = fd;
        WaitRead = read;
        WaitThenRun = thenRun;
        return -Libc.EAGAIN;
    }

    /// <summary>Blocks until the backend has reported the result and the completer is done with the cell: spins
    /// briefly, then sleeps on the state word (the completer wakes it, see <see cref="Sleeper"/>).</summary>
    public void WaitCompleted()
    {
        var spin = new SpinWait();
        while (true)
        {
            long s = Volatile.Read(ref _p->State);
            if ((s & PhaseMask) == Completed && (s & Busy) == 0) return;
            if (!spin.NextSpinWillYield || !Futex.Supported) { spin.SpinOnce(sleep1Threshold: -1); continue; }
            if ((s & Sleeper) == 0 && Interlocked.CompareExchange(ref _p->State, s | Sleeper, s) != s) continue;
            Futex.Wait(FutexWord, (int)(s | Sleeper), -1); // returns at once if the word changed meanwhile
        }
    }

    /// <summary>Waits until a completer that published Completed is done with the cell (a few instructions; it
    /// may be preempted, so this yields). Nothing to wait for on an operation that never completed.</summary>
    void WaitQuiet()
    {
        var spin = new SpinWait();
        while ((Volatile.Read(ref _p->State) & Busy) != 0) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>A copy of a string argument, in native memory the operation owns until it is dropped.</summary>
    public static byte* CopyString(byte* s)
    {
        nuint n = 0;
        while (s[n] != 0) n++;
        var copy = (byte*)NativeMemory.Alloc(n + 1);
        System.Buffer.MemoryCopy(s, copy, (long)n + 1, (long)n + 1);
        return copy;
    }

    public static void FreeString(ref byte* s)
    {
        if (s != null) NativeMemory.Free(s);
        s = null;
    }

    /// <summary>Called by the backend, exactly once per submission: the raw result (≥ 0, or -errno).</summary>
    public void Complete(long raw)
    {
        ulong waker = CompleteWithoutWake(raw);
        if (waker != 0) Tasks.Waker.Wake(waker);
    }

    /// <summary>
    /// <see cref="Complete"/> without the wake: returns the waker to wake (0: none). For completing several
    /// operations at once, all of them before any task is woken — a task woken during shutdown is dropped at once, on
    /// this thread, and its drop waits for its other operations, which must not be among those still to complete.
    /// </summary>
    public ulong CompleteWithoutWake(long raw)
    {
        Runtime runtime = Runtime; // read while the operation is surely live
        _p->Raw = raw;             // published by the exchange below
        long s = Volatile.Read(ref _p->State);
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref _p->State, (s & ~PhaseMask) | Completed | Busy, s);
            if (seen == s) break;
            s = seen;
        }
        if ((s & PhaseMask) == Submitted) Interlocked.Decrement(ref runtime.Counters.IoInFlight); // metrics: io_in_flight
        // After Completed is published: a poller that stored its waker before it saw Submitted is seen here (both
        // sides exchange, full fences), and one that stores it later sees Completed itself.
        ulong waker = Interlocked.Exchange(ref _p->Waker, 0);
        // Done with the cell: from here a drop may free it. Clears Sleeper too, waking the dropper that set it.
        s = Interlocked.And(ref _p->State, ~(Busy | Sleeper));
        if ((s & Sleeper) != 0) Futex.WakeOne(FutexWord);
        return waker;
    }

    [UnmanagedCallersOnly]
    static int PollFn(void* state, void* cx, void** output)
    {
        IoOp op = default;
        try
        {
            *output = null;
            if (FromToken((ulong)state, out _) is not IoOp found) return 1; // polled after its drop: detected, harmless (luminal.h)
            op = found;
            Runtime runtime = op.Runtime;
            // The rule for runtime-provided futures (luminal.h): what cannot work completes now, with the reason.
            Status refused = Context.Check((nint)cx, out _, out ulong waker);
            if (refused == Status.Ok && runtime.IsForked) refused = Status.Forked;
            if (refused != Status.Ok) return op.Refuse(refused, output);
            long phase = op.Phase;
            if (phase == Completed) return op.TakeResult(output);
            if (phase != Idle) return op.AwaitCompletion(waker, output);
            // The first poll: only the poller changes an Idle operation (a future is polled by one thread at a time).
            IoCell* p = op._p;
            // The priority of the task awaiting the operation travels into the request.
            if (Tasks.RawTask.FromToken(waker, Handles.Token.Waker, out _) is Tasks.RawTask task) p->Priority = task.Priority;
            if (runtime.CountsIo && !WaitsForPeer(p->Kind))
            {
                p->HoldsClock = 1;
                Interlocked.Increment(ref runtime.IoHoldingClock);
            }
            Interlocked.Increment(ref runtime.Counters.IoInFlight); // metrics: io_in_flight (before any completion's decrement)
            Interlocked.Or(ref p->State, Submitted);
            // No waker yet: an operation that completes right here must not wake the task being polled (it would
            // be polled again for nothing, and a worker would nudge another one awake for it).
            IoBackend backend = runtime.IoIfStarted!;
            backend.Submit(op);
            // Operations often complete at once (a cached read, data already in the socket, room to send): reap
            // here and finish in this same poll instead of waking the task from another thread.
            backend.PollAfterSubmit(op); // the driver hands out what completed (io_uring: reaps; the pool: nothing to do)
            return op.AwaitCompletion(waker, output);
        }
        catch
        {
            // Internal failure: the same rule. (If the operation was submitted, its completion still comes and the
            // drop waits for it as usual.)
            return op._p == null ? 1 : op.Refuse(Status.Internal, output);
        }
    }

    /// <summary>Submitted: the result if it has come, else registers <paramref name="waker"/> for the completion.</summary>
    int AwaitCompletion(ulong waker, void** output)
    {
        if (Phase == Completed) return TakeResult(output);
        Interlocked.Exchange(ref _p->Waker, waker); // full fence: then read the phase (the completer's mirror image)
        if (Phase != Completed) return 0;
        // Completed meanwhile: take the waker back if the completer did not (else it wakes the task once more).
        Interlocked.CompareExchange(ref _p->Waker, 0, waker);
        return TakeResult(output);
    }

    /// <summary>Completed: the result into the caller's struct; the future is ready.</summary>
    int TakeResult(void** output)
    {
        WriteResult();
        _p->ResultTaken = 1;
        ReleaseClock();
        *output = _p->Result;
        return 1;
    }

    /// <summary>Completes the future without doing the operation, reporting <paramref name="status"/> in the
    /// caller's result (the rule for runtime-provided futures that cannot work, see luminal.h).</summary>
    int Refuse(Status status, void** output)
    {
        if (Result != null) *Result = new NativeIoResult { Status = (int)status };
        *output = Result;
        return 1;
    }

    void WriteResult()
    {
        NativeIoResult* result = Result;
        if (result == null) return;
        long raw = _p->Raw;
        if (raw >= 0) { result->Status = (int)Status.Ok; result->OsError = 0; result->Value = (ulong)raw; }
        else if (-raw == Libc.ECANCELED) { result->Status = (int)Status.Cancelled; result->OsError = 0; result->Value = 0; }
        else { result->Status = (int)Status.Io; result->OsError = (int)-raw; result->Value = 0; }
    }

    [UnmanagedCallersOnly]
    static void DropFn(void* state)
    {
        try
        {
            // Inherited across fork: the ring is shared with the parent and the backends' locks may be held by
            // threads that are gone, so the operation is left alone (it leaks in the child).
            if (FromToken((ulong)state, out uint generation) is IoOp op && !op.Runtime.IsForked) op.Drop(generation);
        }
        catch { /* drop has no status; a failure here leaves the operation allocated (a leak, never a free in use) */ }
    }

    /// <summary>
    /// Does this kind wait for another party (a peer to send, to make room, to connect or to answer, an fd to become
    /// ready, a child to exit)? That may never happen — it is what timeouts are for — so such operations do not hold
    /// a paused clock still; file operations finish by themselves, and block_on's auto-advance waits for them (see
    /// Runtime.ExternalWorkPending).
    /// </summary>
    internal static bool WaitsForPeer(IoKind kind) =>
        kind is IoKind.StreamRead or IoKind.StreamWrite or IoKind.Accept or IoKind.Connect or IoKind.FdReady
            or IoKind.RecvFrom or IoKind.ProcessWait;

    /// <summary>Poller or dropper (never both at once): the operation no longer holds a paused clock still (see
    /// Runtime.ExternalWorkPending).</summary>
    void ReleaseClock()
    {
        if (_p->HoldsClock == 0) return;
        _p->HoldsClock = 0;
        Interlocked.Decrement(ref Runtime.IoHoldingClock);
    }

    void Drop(uint generation)
    {
        if (Phase == Submitted)
        {
            // Cancel, then wait until the kernel or the pool thread is done with the caller's buffer.
            CancelRequested = true;
            IoBackend backend = Backend;
            backend.Cancel(this);
            backend.WaitCompleted(this);
        }
        WaitQuiet(); // the completer is done with the cell
        if (Interlocked.CompareExchange(ref _p->Generation, Generations.Next(generation), generation) != generation) return;
        Runtime runtime = Runtime;
        ReleaseClock();
        // What the operation holds (a path copy, scratch memory) and, if nobody read a successful result, what that
        // result owns: an fd, a mapping, a buffer.
        Operations.Of(Kind).Release(this, _p->Raw, Phase == Completed && _p->ResultTaken == 0);
        Free(this);
        runtime.ReleaseIoRef(); // last: may unregister the runtime (its id then names nothing)
    }

    // ---- the pool -----------------------------------------------------------------------------------------------

    /// <summary>The process-wide table of operation cells (for the backends' shutdown sweeps).</summary>
    public static class Table
    {
        public static int Count => NativeCellPool<IoCell>.Count;
        public static IoOp? Get(int index) { IoCell* cell = Cell(index); return cell == null ? null : new IoOp(cell); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static IoCell* Cell(int index) => NativeCellPool<IoCell>.Cell(index);

    static IoOp? Allocate()
    {
        IoCell* cell = NativeCellPool<IoCell>.Allocate();
        return cell == null ? null : new IoOp(cell);
    }

    static void Free(IoOp op) => NativeCellPool<IoCell>.Free(op._p);
}
