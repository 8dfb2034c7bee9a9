using System.Threading;
using System.Runtime.InteropServices;
using Luminal.Interop;

namespace Luminal.Io.Pool;

/// <summary>
/// The fallback backend: every operation is one plain system call made on the runtime's blocking pool (queued by
/// the awaiting task's priority) — except a stream (socket, pipe) read or write that would block, which waits in
/// the <see cref="Reactor"/> (one thread for all of them). Cancelling sets a flag: an operation that has not
/// started completes with ECANCELED; one in the reactor at once; an accept, connect or stream call waiting for
/// readiness on a pool thread notices within <see cref="Readiness.SliceMs"/>; a file call in progress finishes
/// (and the dropper waits for it, so the buffer is never used after the drop).
/// </summary>
sealed unsafe class PoolBackend(Runtime runtime) : IoBackend
{
    readonly object _reactorLock = new();
    Reactor? _reactor;
    bool _reactorTried, _stopped; // under _reactorLock

    public override uint Kind => PoolKind;

    /// <summary>The reactor, started on first use (null where epoll is unavailable, or once stopped).</summary>
    Reactor? StartedReactor()
    {
        if (Volatile.Read(ref _reactor) is Reactor r) return r;
        lock (_reactorLock)
        {
            if (!_reactorTried && !_stopped)
            {
                _reactorTried = true;
                Volatile.Write(ref _reactor, Reactor.TryStart(RunOnPool));
            }
            return _reactor;
        }
    }

    /// <summary>
    /// Shutdown: every operation still in flight is flagged at once, so those on pool threads all let go within
    /// one <see cref="Readiness.SliceMs"/> slice together (not one drop, and one slice, after another), and the
    /// reactor completes its waiters as cancelled in one sweep. (Calls still queued for a pool thread were
    /// dropped, and so completed as cancelled, when the blocking pool shut down.)
    /// </summary>
    public override void CancelAll()
    {
        int count = IoOp.Table.Count;
        for (int i = 0; i < count; i++) IoOp.Table.Get(i)?.RequestCancelIfInFlight(this);
        Stop();
    }

    public override void Stop()
    {
        lock (_reactorLock) _stopped = true;
        Volatile.Read(ref _reactor)?.Stop();
    }

    public override void Submit(IoOp op)
    {
        if (op.Kind is IoKind.StreamRead or IoKind.StreamWrite)
        {
            // A stream that is ready needs no thread; one that is not waits in the reactor.
            long now = NonBlocking.Try(op);
            if (now != -Libc.EAGAIN) { op.Complete(now); return; }
            if (StartedReactor() is Reactor reactor && reactor.Arm(op)) return;
        }
        RunOnPool(op);
    }

    /// <summary>The operation's system call on a pool thread (for a socket: a wait there, then the call).</summary>
    void RunOnPool(IoOp op)
    {
        NativeFuture f = default;
        f.State = (void*)op.Token;
        f.Drop = &Dropped;
        // If the spawn fails (shutdown), it drops the future: Dropped completes the operation as cancelled.
        runtime.Spawn(f, &Execute, false, null, out ulong poolTask, null, op.Priority, blocking: true);
        op.PoolTask = poolTask;
    }

    /// <summary>
    /// Still queued (every pool thread busy, maybe for long: stream calls wait for data): the pool task is taken
    /// out and the operation completes as cancelled at once. Already running: the flag makes a stream call stop
    /// waiting within a slice; a file call just finishes.
    /// </summary>
    public override void Cancel(IoOp op)
    {
        op.CancelRequested = true;
        if (Volatile.Read(ref _reactor) is Reactor reactor && reactor.Cancel(op)) return;
        if (Tasks.RawTask.FromToken(op.PoolTask, Handles.Token.Task, out uint generation) is Tasks.RawTask task)
            task.AbortInternal(generation);
    }

    [UnmanagedCallersOnly]
    static void* Execute(void* state)
    {
        try
        {
            if (IoOp.FromToken((ulong)state, out _) is not IoOp op) return null;
            op.Complete(op.CancelRequested ? -Libc.ECANCELED : Run(op));
        }
        catch { /* only Complete can throw here, after the result was recorded: the waiter still sees it */ }
        return null;
    }

    /// <summary>The pool task was dropped without running (cancelled, shutdown): complete the operation.</summary>
    [UnmanagedCallersOnly]
    static void Dropped(void* state)
    {
        try
        {
            // This also runs after Execute (the pool task's future is dropped once it ran): by then the operation
            // may have been completed, dropped and its object reused for a new operation, so only an operation of
            // this very generation that is still waiting for its call is completed here.
            if (IoOp.FromToken((ulong)state, out uint generation) is IoOp op) op.CancelIfStillSubmitted(generation);
        }
        catch { /* a drop has no status; at worst the op stays Submitted and its dropper's cancel completes it */ }
    }

    static long Run(IoOp op) => op.Kind switch
    {
        IoKind.Open => Open.Run(op),
        IoKind.Close => Close.Run(op),
        IoKind.Fsync => Fsync.Run(op),
        IoKind.Stat => Stat.Run(op),
        IoKind.ReadAt => ReadAt.Run(op),
        IoKind.WriteAt => WriteAt.Run(op),
        IoKind.MapFile => MapFile.Run(op),
        IoKind.ReadAll => ReadAll.Run(op),
        IoKind.Accept => Accept.Run(op),
        IoKind.Connect => Connect.Run(op),
        IoKind.StreamRead => StreamRead.Run(op),
        IoKind.StreamWrite => StreamWrite.Run(op),
        _ => -Libc.ENOSYS,
    };
}

/// <summary>Result of a libc call as the backends report it: the value, or the negated errno.</summary>
static class Raw
{
    public static long Of(long result) => result >= 0 ? result : -Libc.Errno;
}
