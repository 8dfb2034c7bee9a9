using System.Threading;
using System.Runtime.InteropServices;
using Luminal.Interop;

namespace Luminal.Io.Pool;

/// <summary>
/// The fallback backend: every operation is one plain system call made on the runtime's blocking pool (queued by
/// the awaiting task's priority) — except what can wait for readiness (stream reads and writes, accept, connect:
/// the operations with a TryNow in their row, see <see cref="Operations"/>), which is tried without blocking and,
/// if it would block, waits in the <see cref="Reactor"/> (one thread for all of them). Cancelling sets a flag: a
/// call still queued for a pool thread completes with ECANCELED at once and never runs (the claim, see
/// <see cref="IoOp.ArmPoolClaim"/>); one in the reactor at once; a call waiting for readiness on a pool thread
/// notices within <see cref="Readiness.SliceMs"/>; a file call in progress finishes (and the dropper waits for
/// it, so the buffer is never used after the drop).
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
                Volatile.Write(ref _reactor, Reactor.TryStart(RunOnPool, runtime));
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
        ref readonly PoolOp row = ref Operations.Of(op.Kind).Pool;
        if (row.TryNow != null)
        {
            // Ready (data there, a connection waiting...): no thread needed. Would block: wait in the reactor.
            long now = row.TryNow(op);
            if (now != -Libc.EAGAIN && now != PoolOp.OnPoolThread) { op.Complete(now); return; }
            if (now == -Libc.EAGAIN && StartedReactor() is Reactor reactor && reactor.Arm(op)) return;
        }
        RunOnPool(op);
    }

    /// <summary>The operation's system call on a pool thread (for a socket: a wait there, then the call).</summary>
    void RunOnPool(IoOp op)
    {
        NativeFuture f = default;
        f.State = (void*)op.Token;
        f.Drop = &Dropped;
        op.ArmPoolClaim(); // before the pool task exists: its Execute must find the claim armed
        // If the spawn fails (shutdown), it drops the future: Dropped completes the operation as cancelled.
        runtime.Spawn(f, &Execute, false, null, out ulong poolTask, null, op.Priority, blocking: true);
        op.PoolTask = poolTask;
    }

    /// <summary>
    /// Waiting in the reactor: it completes as cancelled at once. Still queued for a pool thread (every pool thread
    /// busy, maybe for long): the cancel claims the call, so it completes as cancelled now and its pool task does
    /// nothing when it runs (it is also taken out of the queue). Already running: the flag makes a readiness wait
    /// stop within a slice; a file call just finishes.
    /// </summary>
    public override void Cancel(IoOp op)
    {
        op.CancelRequested = true;
        if (Volatile.Read(ref _reactor) is Reactor reactor && reactor.Cancel(op)) return;
        ulong poolTask = op.PoolTask; // read before the claim: once completed, the operation may be reused
        if (!op.CancelPoolCallIfNotStarted(Volatile.Read(ref op.Generation))) return;
        if (Tasks.RawTask.FromToken(poolTask, Handles.Token.Task, out uint generation) is Tasks.RawTask task)
            task.AbortInternal(generation);
    }

    [UnmanagedCallersOnly]
    static void* Execute(void* state)
    {
        try
        {
            // Only the claim's winner acts: a cancel that won already completed the operation.
            if (IoOp.FromToken((ulong)state, out uint generation) is not IoOp op || !op.TryClaimPoolCall(generation))
                return null;
            // A peer wait on this thread must not hold a paused clock (Runtime.PeerWaitsOnPool): counted while it
            // runs, uncounted after its completion pushed the wake.
            Runtime? rt = IoOp.WaitsForPeer(op.Kind) && op.Runtime is { CountsIo: true } paused ? paused : null;
            if (rt is not null) Interlocked.Increment(ref rt.PeerWaitsOnPool);
            try { op.Complete(op.CancelRequested ? -Libc.ECANCELED : Operations.Of(op.Kind).Pool.Run(op)); }
            finally { if (rt is not null) Interlocked.Decrement(ref rt.PeerWaitsOnPool); }
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
            // This also runs after Execute (the pool task's future is dropped once it ran), and after a cancel that
            // claimed the call: the claim, tied to this generation, lets only a call nobody claimed complete here.
            if (IoOp.FromToken((ulong)state, out uint generation) is IoOp op) op.CancelPoolCallIfNotStarted(generation);
        }
        catch { /* a drop has no status; at worst the op stays Submitted and its dropper's cancel completes it */ }
    }
}

/// <summary>Result of a libc call as the backends report it: the value, or the negated errno.</summary>
static class Raw
{
    public static long Of(long result) => result >= 0 ? result : -Libc.Errno;
}
