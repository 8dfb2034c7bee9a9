using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;

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
/// One IO operation: what to do (its kind, and its own argument struct from Args.cs, e.g. ReadAtArgs), where the
/// answer goes (the caller's luminal_io_result), and its lifecycle. Pooled and named by a token in the future's
/// state, like timers. What each kind does on each backend is in its own files (see <see cref="Operations"/>).
///
/// Lifecycle (under lock(this)): Idle → Submitted (at the first poll) → Completed (the backend reports the raw
/// result: ≥ 0 a value, &lt; 0 a negated errno). Dropping a Submitted operation asks the backend to cancel it, then
/// waits for Completed: only then has the kernel (or the pool thread) let go of the caller's buffer.
/// </summary>
sealed unsafe class IoOp : GenerationSlot
{
    public static readonly SlotTable<IoOp> Table = new(() => new IoOp());

    const int Idle = 0, Submitted = 1, Completed = 2;

    internal Runtime Runtime = null!;
    internal IoBackend Backend = null!;
    internal IoKind Kind;
    internal NativeIoResult* Result;  // the caller's
    internal int Priority;
    ArgsStorage _args;                // the kind's argument struct (Args&lt;T&gt;)
    internal ulong PoolTask;          // pool backend: the blocking task that runs the call (a task token)
    uint _poolClaim;                  // pool backend: this generation while its call is queued, 0 once claimed
    internal int WaitFd;              // pool backend: the fd the reactor waits on for this operation
    internal bool WaitRead;           // ... readable (else writable)
    internal bool WaitThenRun;        // ... and once ready, make the call on a pool thread (it may block)
    internal IoOp? NextWaiter;        // pool backend: the next operation waiting in the reactor on the same fd
    internal long SubmitOrder;        // io_uring backend: when it entered the ring (shutdown cancels newest first)
    internal volatile bool CancelRequested;
    // Guards the lifecycle; the dropper waits on it. A field, not lock(this): the object is pooled, reused op after op.
    readonly object _lock = new();
    int _state;
    bool _resultTaken;
    bool _holdsClock; // in Runtime.IoHoldingClock (paused clocks, file operations) until its result is taken or dropped
    long _raw;
    ulong _waker;

    public ulong Token => Handles.Token.Make(Handles.Token.Io, Index, Volatile.Read(ref Generation));

    public static IoOp? Create(Runtime runtime, IoKind kind, NativeIoResult* result)
    {
        IoOp? op = Table.Allocate();
        if (op is null) return null;
        op.Runtime = runtime;
        op.Backend = runtime.Io;
        op.Kind = kind;
        op.Result = result;
        op.Priority = Scheduler.Priority.Default;
        op._args = default;
        op.PoolTask = 0;
        op._poolClaim = 0;
        op.WaitFd = -1;
        op.WaitRead = op.WaitThenRun = false;
        op.CancelRequested = false;
        op._state = Idle;
        op._resultTaken = false;
        op._holdsClock = false;
        op._raw = 0;
        op._waker = 0;
        return op;
    }

    [InlineArray(6)]
    struct ArgsStorage { ulong _word; }

    /// <summary>This operation's arguments, as its kind's struct (Args.cs).</summary>
    public ref T Args<T>() where T : unmanaged
    {
        if (sizeof(T) > sizeof(ArgsStorage)) throw new System.InvalidOperationException("IoOp: argument struct too large");
        return ref Unsafe.As<ArgsStorage, T>(ref _args);
    }

    /// <summary>The live operation a future state (or io_uring user_data) names, or null.</summary>
    public static IoOp? FromToken(ulong token, out uint generation) => Table.FromToken(token, Handles.Token.Io, out generation);

    /// <summary>Hands the future to the caller: state = our token, poll/drop = ours, no drop_output.</summary>
    public void Fill(NativeFuture* output)
    {
        output->State = (void*)Token;
        output->Poll = &PollFn;
        output->Drop = &DropFn;
        output->DropOutput = null;
    }

    public bool IsCompleted { get { lock (_lock) return _state == Completed; } }

    /// <summary>
    /// Shutdown: flags the operation cancelled if it is in flight on <paramref name="backend"/> (true), so a
    /// backend can cancel all of its operations at once instead of one drop at a time.
    /// </summary>
    public bool RequestCancelIfInFlight(IoBackend backend)
    {
        lock (_lock)
        {
            // Submitted operations are live and keep their backend until they complete (Drop waits for that).
            if (_state != Submitted || !ReferenceEquals(Backend, backend)) return false;
            CancelRequested = true;
            return true;
        }
    }

    /// <summary>
    /// Pool backend: the operation's call is about to be queued for a pool thread. From here, whoever claims it
    /// first — the pool thread starting the call (<see cref="TryClaimPoolCall"/>), or a cancel before that — owns
    /// it; the other does nothing. The claim names this generation, so a late claim for an operation that has since
    /// been dropped and reused can never win.
    /// </summary>
    public void ArmPoolClaim() => Volatile.Write(ref _poolClaim, Volatile.Read(ref Generation));

    /// <summary>Claims the queued pool call of generation <paramref name="generation"/>; false if someone else
    /// did, or it is not queued for a pool thread.</summary>
    public bool TryClaimPoolCall(uint generation) =>
        generation != 0 && Interlocked.CompareExchange(ref _poolClaim, 0, generation) == generation; // full fence: one winner

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

    /// <summary>Blocks until the backend has reported the result.</summary>
    public void WaitCompleted()
    {
        lock (_lock) while (_state != Completed) Monitor.Wait(_lock);
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
        lock (_lock)
        {
            if (_state == Submitted) Interlocked.Decrement(ref Runtime.IoInFlight); // metrics: io_in_flight
            _raw = raw;
            _state = Completed;
            Monitor.PulseAll(_lock);
            return _waker;
        }
    }

    [UnmanagedCallersOnly]
    static int PollFn(void* state, void* cx, void** output)
    {
        IoOp? op = null;
        try
        {
            *output = null;
            op = FromToken((ulong)state, out _);
            if (op is null) return 1; // polled after its drop: detected, harmless (luminal.h)
            // The rule for runtime-provided futures (luminal.h): what cannot work completes now, with the reason.
            Status refused = Context.Check((nint)cx, out _, out ulong waker);
            if (refused == Status.Ok && op.Runtime.IsForked) refused = Status.Forked;
            if (refused != Status.Ok) return op.Refuse(refused, output);
            lock (op._lock)
            {
                if (op._state == Completed)
                {
                    op.WriteResult();
                    op._resultTaken = true;
                    op.ReleaseClock();
                    *output = op.Result;
                    return 1;
                }
                if (op._state != Idle)
                {
                    op._waker = waker;
                    return 0;
                }
                op._state = Submitted;
                Interlocked.Increment(ref op.Runtime.IoInFlight); // metrics: io_in_flight
                if (op.Runtime.CountsIo && !WaitsForPeer(op.Kind))
                {
                    op._holdsClock = true;
                    Interlocked.Increment(ref op.Runtime.IoHoldingClock);
                }
                // The priority of the task awaiting the operation travels into the request.
                if (Tasks.RawTask.FromToken(waker, Handles.Token.Waker, out _) is Tasks.RawTask task)
                    op.Priority = task.Priority;
            }
            // No waker yet: an operation that completes right here must not wake the task being polled (it would
            // be polled again for nothing, and a worker would nudge another one awake for it).
            op.Backend.Submit(op);
            // Operations often complete at once (a cached read, data already in the socket, room to send): reap
            // here and finish in this same poll instead of waking the task from another thread.
            op.Backend.PollAfterSubmit(op); // the driver hands out what completed (io_uring: reaps; the pool: nothing to do)
            lock (op._lock)
            {
                if (op._state != Completed)
                {
                    op._waker = waker; // under the lock Complete takes: a later completion sees it
                    return 0;
                }
                op.WriteResult();
                op._resultTaken = true;
                op.ReleaseClock();
                *output = op.Result;
                return 1;
            }
        }
        catch
        {
            // Internal failure: the same rule. (If the operation was submitted, its completion still comes and the
            // drop waits for it as usual.)
            return op is null ? 1 : op.Refuse(Status.Internal, output);
        }
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
        if (Result == null) return;
        if (_raw >= 0) { Result->Status = (int)Status.Ok; Result->OsError = 0; Result->Value = (ulong)_raw; }
        else if (-_raw == Libc.ECANCELED) { Result->Status = (int)Status.Cancelled; Result->OsError = 0; Result->Value = 0; }
        else { Result->Status = (int)Status.Io; Result->OsError = (int)-_raw; Result->Value = 0; }
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
    /// Does this kind wait for another party (a peer to send, to make room, to connect or to answer)? That may never
    /// happen — it is what timeouts are for — so such operations do not hold a paused clock still; file operations
    /// finish by themselves, and block_on's auto-advance waits for them (see Runtime.ExternalWorkPending).
    /// </summary>
    static bool WaitsForPeer(IoKind kind) =>
        kind is IoKind.StreamRead or IoKind.StreamWrite or IoKind.Accept or IoKind.Connect;

    /// <summary>Under the lock: the operation no longer holds a paused clock still (see Runtime.ExternalWorkPending).</summary>
    void ReleaseClock()
    {
        if (!_holdsClock) return;
        _holdsClock = false;
        Interlocked.Decrement(ref Runtime.IoHoldingClock);
    }

    void Drop(uint generation)
    {
        bool inFlight;
        lock (_lock) inFlight = _state == Submitted;
        if (inFlight)
        {
            // Cancel, then wait until the kernel or the pool thread is done with the caller's buffer.
            CancelRequested = true;
            Backend.Cancel(this);
            Backend.WaitCompleted(this);
        }
        if (!TryRetire(generation)) return;
        lock (_lock) ReleaseClock();
        // What the operation holds (a path copy, scratch memory) and, if nobody read a successful result, what that
        // result owns: an fd, a mapping, a buffer.
        Operations.Of(Kind).Release(this, _raw, _state == Completed && !_resultTaken);
        Runtime = null!;
        Backend = null!;
        Table.Free(this);
    }
}
