using System.Threading;

namespace Luminal.Io.Uring;

/// <summary>
/// The io_uring backend: one ring per runtime. Operations are submitted from whichever thread first polls them;
/// one completion thread sleeps in io_uring_enter until the kernel posts completions, then hands each result to
/// its operation (which wakes the awaiting task). Each operation's SQE is filled by its own small file
/// (ReadAt.cs, Open.cs, ...). Mapping a file and reading a whole file have no single io_uring opcode and go to
/// the pool backend.
/// </summary>
sealed unsafe class UringBackend : IoBackend
{
    readonly Ring _ring;
    readonly Pool.PoolBackend _pool;
    readonly Thread _reaper;
    volatile bool _stopping;
    int _inFlight; // submitted requests whose completion has not arrived: the ring lives until they are done

    UringBackend(Runtime runtime, Ring ring)
    {
        _ring = ring;
        _pool = new Pool.PoolBackend(runtime);
        _reaper = new Thread(ReapLoop) { IsBackground = true, Name = "luminal-io_uring" };
        _reaper.Start();
    }

    public static UringBackend? TryCreate(Runtime runtime, out int errno)
    {
        Ring? ring = Ring.TryCreate(4096, out errno);
        return ring is null ? null : new UringBackend(runtime, ring);
    }

    public override uint Kind => UringKind;

    public override void Submit(IoOp op)
    {
        if (op.Kind is IoKind.MapFile or IoKind.ReadAll) { _pool.Submit(op); return; }
        if (_stopping) { op.Complete(-Libc.ECANCELED); return; }
        long prepared = op.Kind switch
        {
            IoKind.Connect => Connect.CreateSocket(op), // the SQE needs the socket first
            _ => 0,
        };
        if (prepared < 0) { op.Complete(prepared); return; }
        Interlocked.Increment(ref _inFlight);
        int r = _ring.Submit(&Prepare, op);
        if (r < 0) { Interlocked.Decrement(ref _inFlight); op.Complete(r); }
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->UserData = op.Token;
        switch (op.Kind)
        {
            case IoKind.Open: Open.Prepare(sqe, op); break;
            case IoKind.Close: Close.Prepare(sqe, op); break;
            case IoKind.Fsync: Fsync.Prepare(sqe, op); break;
            case IoKind.Stat: Stat.Prepare(sqe, op); break;
            case IoKind.ReadAt: ReadAt.Prepare(sqe, op); break;
            case IoKind.WriteAt: WriteAt.Prepare(sqe, op); break;
            case IoKind.Accept: Accept.Prepare(sqe, op); break;
            case IoKind.Connect: Connect.Prepare(sqe, op); break;
            case IoKind.StreamRead: StreamRead.Prepare(sqe, op); break;
            case IoKind.StreamWrite: StreamWrite.Prepare(sqe, op); break;
        }
    }

    public override void Cancel(IoOp op)
    {
        if (op.Kind is IoKind.MapFile or IoKind.ReadAll) { _pool.Cancel(op); return; }
        // IORING_OP_ASYNC_CANCEL finds the request by its user_data; its own completion (user_data 0) is ignored:
        // what matters is the cancelled request's completion, which IoOp waits for.
        _ring.Submit(&PrepareCancel, op.Token);
    }

    static void PrepareCancel(Sqe* sqe, ulong target)
    {
        sqe->Opcode = Sqe.OpAsyncCancel;
        sqe->Fd = -1;
        sqe->Addr = target;
        sqe->UserData = 0;
    }

    static void PrepareNop(Sqe* sqe, int unused) => sqe->Opcode = Sqe.OpNop;

    void ReapLoop()
    {
        var handle = OnCompletion;
        while (true)
        {
            _ring.Reap(handle);
            if (_stopping && Volatile.Read(ref _inFlight) == 0) break;
            _ring.WaitForCompletion();
        }
        _ring.Dispose();
    }

    void OnCompletion(ulong userData, int res)
    {
        if (userData == 0 || IoOp.FromToken(userData, out _) is not IoOp op) return; // cancel/NOP completions
        Interlocked.Decrement(ref _inFlight);
        long raw = op.Kind switch
        {
            IoKind.Stat => Stat.Finish(op, res),
            IoKind.Connect => Connect.Finish(op, res),
            IoKind.StreamWrite when StreamWrite.NeedsWrite(op, res) => Resubmit(op),
            _ => res,
        };
        if (raw != long.MinValue) op.Complete(raw);
    }

    /// <summary>Submits the operation again (its Prepare saw why); long.MinValue = "not complete yet".</summary>
    long Resubmit(IoOp op)
    {
        Interlocked.Increment(ref _inFlight);
        int r = _ring.Submit(&Prepare, op);
        if (r < 0) Interlocked.Decrement(ref _inFlight);
        return r < 0 ? r : long.MinValue;
    }

    /// <summary>
    /// No new submissions; the reaper exits (and unmaps the ring) once every in-flight request has completed —
    /// a buffer the kernel still holds keeps the ring alive.
    /// </summary>
    public override void Stop()
    {
        if (_stopping) return;
        _stopping = true;
        _ring.Submit(&PrepareNop, 0); // wakes the reaper
    }
}
