using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;

namespace Luminal.Io;

enum IoKind : byte { Open, Close, Fsync, Stat, ReadAt, WriteAt, MapFile, ReadAll, Accept, Connect, StreamRead, StreamWrite }

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
/// One IO operation: what to do (kind, fd, buffer, offset...), where the answer goes (the caller's
/// luminal_io_result), and its lifecycle. Pooled and named by a token in the future's state, like timers.
///
/// Lifecycle (under lock(this)): Idle → Submitted (at the first poll) → Completed (the backend reports the raw
/// result: ≥ 0 a value, &lt; 0 a negated errno). Dropping a Submitted operation asks the backend to cancel it, then
/// waits for Completed: only then has the kernel (or the pool thread) let go of the caller's buffer.
/// </summary>
sealed unsafe class IoOp : Slot
{
    public static readonly SlotTable<IoOp> Table = new(() => new IoOp());

    const int Idle = 0, Submitted = 1, Completed = 2;

    internal uint Generation = 1;
    internal Runtime Runtime = null!;
    internal IoBackend Backend = null!;
    internal IoKind Kind;
    internal int Fd;
    internal byte* Buffer;
    internal ulong Length;
    internal long Offset;
    internal int Flags;
    internal uint Mode;
    internal byte* Path;              // a NUL-terminated copy (native memory), owned by the operation
    internal void* Target;            // the caller's luminal_file_info / luminal_view / luminal_buffer
    internal NativeIoResult* Result;  // the caller's
    internal int Priority;
    internal void* Scratch;           // backend-owned memory for the request (a statx buffer, a sockaddr)
    internal ulong PoolTask;          // pool backend: the blocking task that runs the call (a task token)
    internal IoOp? NextWaiter;        // pool backend: the next operation waiting in the reactor on the same fd
    internal long SubmitOrder;        // io_uring backend: when it entered the ring (shutdown cancels newest first)
    internal volatile bool CancelRequested;
    int _state;
    bool _resultTaken;
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
        op.Fd = -1;
        op.Buffer = null;
        op.Length = 0;
        op.Offset = 0;
        op.Flags = 0;
        op.Mode = 0;
        op.Path = null;
        op.Target = null;
        op.Result = result;
        op.Priority = Scheduler.Priority.Default;
        op.Scratch = null;
        op.PoolTask = 0;
        op.CancelRequested = false;
        op._state = Idle;
        op._resultTaken = false;
        op._raw = 0;
        op._waker = 0;
        return op;
    }

    /// <summary>The live operation a future state (or io_uring user_data) names, or null.</summary>
    public static IoOp? FromToken(ulong token, out uint generation)
    {
        if (!Handles.Token.TryDecode(token, Handles.Token.Io, out int index, out generation)) return null;
        IoOp? op = Table.Get(index);
        return op is not null && Volatile.Read(ref op.Generation) == generation ? op : null;
    }

    /// <summary>Hands the future to the caller: state = our token, poll/drop = ours, no drop_output.</summary>
    public void Fill(NativeFuture* output)
    {
        output->State = (void*)Token;
        output->Poll = &PollFn;
        output->Drop = &DropFn;
        output->DropOutput = null;
    }

    public bool IsCompleted { get { lock (this) return _state == Completed; } }

    /// <summary>
    /// Shutdown: flags the operation cancelled if it is in flight on <paramref name="backend"/> (true), so a
    /// backend can cancel all of its operations at once instead of one drop at a time.
    /// </summary>
    public bool RequestCancelIfInFlight(IoBackend backend)
    {
        lock (this)
        {
            // Submitted operations are live and keep their backend until they complete (Drop waits for that).
            if (_state != Submitted || !ReferenceEquals(Backend, backend)) return false;
            CancelRequested = true;
            return true;
        }
    }

    /// <summary>
    /// Completes the operation as cancelled if it is still generation <paramref name="generation"/> and still
    /// waiting for its backend (the pool task that would have run it was dropped without running).
    /// </summary>
    public void CancelIfStillSubmitted(uint generation)
    {
        lock (this)
        {
            // Drop bumps the generation only after the operation completed, so under the lock "same generation and
            // Submitted" means: nobody has reported this operation's result yet.
            if (Volatile.Read(ref Generation) != generation || _state != Submitted) return;
        }
        Complete(-Libc.ECANCELED);
    }

    /// <summary>Blocks until the backend has reported the result.</summary>
    public void WaitCompleted()
    {
        lock (this) while (_state != Completed) Monitor.Wait(this);
    }

    /// <summary>Copies a string argument into memory the operation owns until it is dropped.</summary>
    public bool CopyPath(byte* path)
    {
        if (path == null) return false;
        nuint n = 0;
        while (path[n] != 0) n++;
        Path = (byte*)NativeMemory.Alloc(n + 1);
        System.Buffer.MemoryCopy(path, Path, (long)n + 1, (long)n + 1);
        return true;
    }

    /// <summary>Called by the backend, exactly once per submission: the raw result (≥ 0, or -errno).</summary>
    public void Complete(long raw)
    {
        ulong waker;
        lock (this)
        {
            _raw = raw;
            _state = Completed;
            waker = _waker;
            Monitor.PulseAll(this);
        }
        if (waker != 0) Tasks.Waker.Wake(waker);
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
            lock (op)
            {
                if (op._state == Completed)
                {
                    op.WriteResult();
                    op._resultTaken = true;
                    *output = op.Result;
                    return 1;
                }
                if (op._state != Idle)
                {
                    op._waker = waker;
                    return 0;
                }
                op._state = Submitted;
                // The priority of the task awaiting the operation travels into the request.
                if (Tasks.RawTask.FromToken(waker, Handles.Token.Waker, out _) is Tasks.RawTask task)
                    op.Priority = task.Priority;
            }
            // No waker yet: an operation that completes right here must not wake the task being polled (it would
            // be polled again for nothing, and a worker would nudge another one awake for it).
            op.Backend.Submit(op);
            // Operations often complete at once (a cached read, data already in the socket, room to send): reap
            // here and finish in this same poll instead of waking the task from another thread.
            if (op.Backend is Uring.UringBackend uring) uring.ReapAvailable();
            lock (op)
            {
                if (op._state != Completed)
                {
                    op._waker = waker; // under the lock Complete takes: a later completion sees it
                    return 0;
                }
                op.WriteResult();
                op._resultTaken = true;
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

    void Drop(uint generation)
    {
        bool inFlight;
        lock (this) inFlight = _state == Submitted;
        if (inFlight)
        {
            // Cancel, then wait until the kernel or the pool thread is done with the caller's buffer.
            CancelRequested = true;
            Backend.Cancel(this);
            Backend.WaitCompleted(this);
        }
        uint next = generation + 1 == 0 ? 1 : generation + 1;
        if (Interlocked.CompareExchange(ref Generation, next, generation) != generation) return;
        // A completed operation whose result nobody read may own something: an fd, a mapping, a buffer.
        if (_state == Completed && _raw >= 0 && !_resultTaken) IoBackend.DiscardUnreadResult(this, _raw);
        if (Path != null) { NativeMemory.Free(Path); Path = null; }
        if (Scratch != null) { NativeMemory.Free(Scratch); Scratch = null; }
        Runtime = null!;
        Backend = null!;
        Table.Free(this);
    }
}
