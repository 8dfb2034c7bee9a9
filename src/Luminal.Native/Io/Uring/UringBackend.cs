using System;
using System.Threading;

namespace Luminal.Io.Uring;

/// <summary>
/// The io_uring backend: a ring per worker and one shared by the other threads (UringBackend.WorkerRings.cs).
/// Operations are submitted from whichever thread first polls them, to that thread's ring; each operation's SQE is
/// filled by its own small file (ReadAt.cs, Open.cs, ...). Mapping a file and reading a whole file have no single
/// io_uring opcode and go to the pool backend.
///
/// Completions are reaped by the workers themselves, so an idle runtime sleeps in one place: a worker that parks
/// while requests are in flight becomes the ring's waiter and sleeps in io_uring_enter (bounded by the next timer),
/// not on its futex; unparking it pokes the ring (UringBackend.Poke.cs). With nothing in flight workers park on
/// their futexes, as before any IO (an idle ring costs the scheduler nothing, see Park). Busy workers submit what
/// they queued and reap what is there every few turns of their loop (Worker.IoPollInterval) and whenever they run
/// out of work. Whoever reaps wakes the tasks, so on a worker they land in its own queue. (Kernels without timed
/// waits, before 5.11, get a reaper thread instead.)
/// </summary>
sealed unsafe partial class UringBackend : IoBackend, Scheduler.IParkSite
{
    readonly Ring _ring;
    readonly Runtime _runtime;
    readonly Pool.PoolBackend _pool;
    readonly object _reapLock = new();
    readonly Thread? _reaper;
    const ulong PokeTag = 1; // user_data of the NOP that wakes the worker sleeping in the ring (no op token is 1)
    int _waiter = -1;        // the worker sleeping in the ring (or keeping the role while it runs), or -1
    int _watcher = -1;       // the parked worker looking at the ring every millisecond, or -1 (see Worker.Park)
    volatile bool _stopping; // no new requests (CancelAll, then Stop)
    int _stopped;
    int _inFlight;           // submitted requests whose completion has not arrived: the ring lives until they are done
    long _submitOrder;       // counts submissions (IoOp.SubmitOrder)

    UringBackend(Runtime runtime, Ring ring)
    {
        _ring = ring;
        _runtime = runtime;
        _workerRings = CreateWorkerRings(runtime, ring);
        _ringPollArmed = new int[_workerRings.Length];
        _flushesSeen = new int[_workerRings.Length];
        _cqHeadSeen = new uint[_workerRings.Length + 1];
        _pool = new Pool.PoolBackend(runtime);
        if (ring.HasTimedWait) CreatePoke();
        else
        {
            _reaper = new Thread(() =>
            {
                runtime.ThreadStarted(Observe.ThreadKind.Io, 1); // IO thread 1: the reaper (kernels before 5.11)
                try { ReapLoop(); }
                finally { runtime.ThreadStopping(Observe.ThreadKind.Io, 1); }
            }) { IsBackground = true, Name = "luminal-uring" };
            _reaper.Start();
        }
    }

    public static UringBackend? TryCreate(Runtime runtime, out int errno)
    {
        Ring? ring = Ring.TryCreate(4096, out errno);
        return ring is null ? null : new UringBackend(runtime, ring);
    }

    public override uint Kind => UringKind;

    /// <summary>From an operation's Begin: its non-blocking try would block (EAGAIN), so the SQE is unlikely to
    /// complete inside the enter that submits it — a worker queues it for its next flush (see <see cref="Submit"/>).</summary>
    internal const long WouldBlock = long.MinValue + 1;

    /// <summary>
    /// Starts an operation: its row (<see cref="Operations"/>) says what to do before the ring (Begin: a check, a
    /// socket to create, a non-blocking try that may be the whole operation), and fills the SQE (Prepare).
    ///
    /// When to enter the kernel. An operation that may complete inside io_uring_enter (a cached file read, an
    /// open, a pipe read with data) is submitted at once: the poll that submits reaps right after
    /// (<see cref="PollAfterSubmit"/>), so it is ready in that same poll, with no wake and no second poll. An
    /// operation whose non-blocking try just said "would block" (<see cref="WouldBlock"/>: a socket read or write,
    /// an accept) waits for data from a peer anyway: on a worker thread its SQE is only queued, and the worker's
    /// loop submits everything queued with one enter at its next IO turn (Worker.Main: every
    /// <c>IoPollInterval</c> turns, and whenever it runs out of work, before it steals or parks) — in a busy
    /// server one enter then carries the reads of many connections (issue 15: the 64-connection echo entered the
    /// kernel 0.81 times per message). Any enter submits all queued entries (the kernel takes them in order), so a
    /// non-worker's submit or a cancel flushes too, and a cancel always reaches the kernel after its target.
    /// Threads that are not this runtime's workers (luminal_block_on's caller, a blocking-pool thread, the
    /// current-thread runtime's driver, C code polling by hand) have no loop to flush for them: they enter at once.
    /// (A task that busy-waits on an operation inside one poll, polling it again and again, no longer moves it along
    /// on its worker — as with tokio, whose driver is not polled inside a task's poll either; the parked watcher
    /// submits what a worker stuck in one poll queued on its ring within a millisecond or two, if another worker
    /// exists: FlushStalled.)
    /// </summary>
    public override void Submit(IoOp op)
    {
        ref readonly UringOp row = ref Operations.Of(op.Kind).Uring;
        if (row.RunsOnPool) { _pool.Submit(op); return; }
        if (_stopping) { op.Complete(-Libc.ECANCELED); return; }
        long now = row.Begin == null ? UringOp.Pending : row.Begin(op);
        if (now != UringOp.Pending && now != WouldBlock) { op.Complete(now); return; } // done (or refused) without the ring
        Scheduler.Worker? worker = _runtime.CurrentWorker();
        int r = Start(op, queue: now == WouldBlock && worker is not null, RingIndexFor(worker));
        if (r < 0) op.Complete(row.Finish == null ? r : row.Finish(op, r)); // finished like a failed CQE (connect closes its socket)
    }

    /// <summary>Hands the operation's SQE to ring <paramref name="ringIndex"/>: queued for the worker's next flush, or
    /// submitted at once. 0, or a negated errno (then it is not in flight).</summary>
    int Start(IoOp op, bool queue, int ringIndex)
    {
        Interlocked.Increment(ref _inFlight);
        // The low bit tells PollAfterSubmit that nothing entered the kernel (the order is for CancelAll).
        op.SubmitOrder = Interlocked.Increment(ref _submitOrder) * 2 + (queue ? 1 : 0);
        op.UringRing = ringIndex;
        Ring ring = RingAt(ringIndex);
        int r = queue ? ring.Queue(&Prepare, op) : ring.Submit(&Prepare, op);
        if (r < 0) Interlocked.Decrement(ref _inFlight);
        return r;
    }

    /// <summary>Right after the poll that submitted <paramref name="op"/>: reap what its enter completed (an
    /// operation that was only queued entered nothing: its completion comes with the worker's next IO turn).</summary>
    public override void PollAfterSubmit(IoOp op)
    {
        // Reap only: the submitter may be any thread, and queued entries are a worker's to submit (Ring.Submit).
        // Nothing to reap when the operation never reached the ring (SubmitOrder 0: done by its try, such as
        // every send that had room, refused, or sent to the pool): the reap cost ~600 instructions per send.
        if (op.SubmitOrder != 0 && (op.SubmitOrder & 1) == 0 && Volatile.Read(ref _inFlight) != 0) ReapAvailable();
        // Still in flight (queued, or the kernel did not complete it inside the enter): someone must look at the
        // ring. Not asked before the reap: a parked worker sleeps on its futex while nothing is in flight (see
        // Park), and an operation that completed at once (a cached read) must not wake it for nothing.
        if (op.SubmitOrder != 0 && !op.IsCompleted && _reaper is null) EnsureWatched();
    }

    /// <summary>Submits what the workers queued (see <see cref="Submit"/>) with one enter — on this runtime's
    /// workers only: the kernel would tie those requests to any other caller's thread, which may exit (see
    /// Ring.Submit).</summary>
    public void Flush() => Flush(_runtime.CurrentWorker());

    /// <summary><see cref="Flush()"/> with the calling thread's worker already looked up (null: not a worker).</summary>
    void Flush(Scheduler.Worker? worker)
    {
        if (worker is null) return;
        if (_ring.HasQueued) _ring.Flush(); // (a poll the sleeper armed, a resubmission from a thread that is no worker)
        int own = RingIndexFor(worker);
        if (own > 0 && RingAt(own).HasQueued) RingAt(own).Flush();
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->UserData = op.Token;
        Operations.Of(op.Kind).Uring.Prepare(sqe, op);
    }

    /// <summary>Runs on the blocking pool: no io_uring opcode does it (MapFile, ReadAll).</summary>
    static bool OnPool(IoOp op) => Operations.Of(op.Kind).Uring.RunsOnPool;

    public override void Cancel(IoOp op)
    {
        if (OnPool(op)) { _pool.Cancel(op); return; }
        // Still queued for a worker's flush: the kernel never saw it (a cancel would reach it first and find
        // nothing), so it ends here, as a failed CQE would end it.
        Ring ring = RingAt(op.UringRing);
        if ((op.SubmitOrder & 1) != 0 && ring.Unqueue(op.Token))
        {
            Interlocked.Decrement(ref _inFlight);
            ref readonly UringOp row = ref Operations.Of(op.Kind).Uring;
            op.Complete(row.Finish == null ? -Libc.ECANCELED : row.Finish(op, -Libc.ECANCELED));
            return;
        }
        // IORING_OP_ASYNC_CANCEL finds the request by its user_data; its own completion (user_data 0) is ignored:
        // what matters is the cancelled request's completion, which IoOp waits for.
        ring.Submit(&PrepareCancel, op.Token); // (the same ring: a cancel finds only its own ring's requests)
    }

    /// <summary>
    /// A dropped operation waits for its completion here. It reaps itself rather than trusting someone else to:
    /// the runtime's workers may all be busy, parked elsewhere, or gone (shutdown).
    /// </summary>
    public override void WaitCompleted(IoOp op)
    {
        if (OnPool(op)) { base.WaitCompleted(op); return; }
        // Not a flush: this may be any thread (see Ring.Submit); Cancel took the operation's own SQE out of the queue
        // if it was still there, and queued entries are a worker's to submit.
        while (!op.IsCompleted)
        {
            if (ReapAvailable() == 0 && !op.IsCompleted)
            {
                if (_ring.HasTimedWait) RingAt(op.UringRing).WaitForCompletion(1_000_000);
                else base.WaitCompleted(op); // the reaper thread completes it
            }
        }
    }

    static void PrepareCancel(Sqe* sqe, ulong target)
    {
        sqe->Opcode = Sqe.OpAsyncCancel;
        sqe->Fd = -1;
        sqe->Addr = target;
        sqe->UserData = 0;
    }

    static void PrepareNop(Sqe* sqe, ulong userData)
    {
        sqe->Opcode = Sqe.OpNop;
        sqe->UserData = userData;
    }

    // ---- reaping ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Hands every waiting completion, on every ring, to its operation; any thread, one reaper at a time. Returns how many.
    /// Completions are copied out under the lock and handled after it (handling wakes tasks, which can run user
    /// code that drops other operations and reaps again).
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the batch buffers are written before they are read
    public int ReapAvailable()
    {
        Span<Ring.Cqe> batch = stackalloc Ring.Cqe[64];
        Span<ulong> wakers = stackalloc ulong[64];
        int total = 0;
        while (true)
        {
            int n;
            if (!Monitor.TryEnter(_reapLock)) return total;
            // Checked under the lock: disposal takes it too, so the ring's memory is mapped while we look.
            try
            {
                n = ReapRing(_ring, batch, 0);
                for (int i = 0; i < _workerRings.Length && n < batch.Length; i++)
                    n = ReapRing(_workerRings[i], batch, n);
            }
            finally { Monitor.Exit(_reapLock); }
            var wakes = new Wakes(wakers); // the whole batch completes before any task is woken (see Wakes)
            for (int i = 0; i < n; i++) OnCompletion(batch[i].UserData, batch[i].Res, batch[i].Flags, ref wakes);
            wakes.WakeAll();
            total += n;
            if (n < batch.Length) break;
        }
        DisposeIfDone();
        return total;
    }

    /// <summary>
    /// May this parking worker sleep in the ring? Only the last worker to go idle does (one at a time; it may keep
    /// the role between waits, see Worker.Park; never with a reaper thread). While another worker is awake, that
    /// one reaps as it goes, and a sleeper in the ring would only be woken for every completion it posts — e.g. each
    /// 64 KiB read that the kernel completes inside the submitting call. A role holder that is not the last to go
    /// idle gives the role up.
    /// </summary>
    public bool TryBeginWait(int worker, bool othersAwake)
    {
        if (_reaper is not null || _stopping) return false;
        if (othersAwake)
        {
            Interlocked.CompareExchange(ref _waiter, -1, worker);
            return false;
        }
        int holder = Interlocked.CompareExchange(ref _waiter, worker, -1);
        return holder == -1 || holder == worker;
    }

    public void EndWait() => Volatile.Write(ref _waiter, -1);

    /// <summary>
    /// Someone must look at the ring while IO is in flight: the worker sleeping in it, or a parked worker watching
    /// it. An awake worker reaps on every turn of its loop, but may be inside one long poll; so if nobody sleeps in
    /// the ring and nobody watches, wake a parked worker (it becomes the ring's sleeper if it is the last to go
    /// idle, else the watcher). Does nothing when every worker is awake.
    /// </summary>
    public void EnsureWatched()
    {
        int sleeper = Volatile.Read(ref _waiter);
        if (sleeper >= 0 && _runtime.Workers[sleeper].Parker.IsParkedInSite) return;
        if (Volatile.Read(ref _watcher) >= 0) return;
        _runtime.NotifyOne();
    }

    /// <summary>Entries were queued by a thread that is not a worker: make a worker run its loop, which flushes
    /// them (the one sleeping in the ring wakes for a NOP's completion; else a parked one is notified; awake workers
    /// flush at their next IO turn anyway).</summary>
    void WakeAFlusher()
    {
        int sleeper = Volatile.Read(ref _waiter);
        if (sleeper >= 0 && _runtime.Workers[sleeper].Parker.IsParkedInSite) Wake();
        else _runtime.NotifyOne();
    }

    /// <summary>Are requests in flight (completions still to come)?</summary>
    public bool HasInFlight => Volatile.Read(ref _inFlight) > 0;

    /// <summary>May this parking worker be the watcher? One at a time (the others sleep without a timeout).</summary>
    public bool TryBeginWatch(int worker)
    {
        int w = Interlocked.CompareExchange(ref _watcher, worker, -1);
        return w == -1 || w == worker;
    }

    public void EndWatch(int worker) => Interlocked.CompareExchange(ref _watcher, -1, worker);

    /// <summary>The waiting worker sleeps here until a completion (or a poke) arrives, then reaps.</summary>
    public void Sleep(long timeoutNs)
    {
        ArmPoke(); // (queued: the flush submits it from this worker's thread)
        bool armed = ArmRingPolls();
        Flush();
        // Without polls on the workers' rings, their completions would not end the wait: look every millisecond.
        // So when the kernel refuses them, a poll could not be queued, or the flush left entries queued (EBUSY,
        // EAGAIN: the polls and the poke may be among them).
        if ((_ringPollRefused || !armed || _ring.HasQueued) && (ulong)timeoutNs > WatchNs)
            timeoutNs = WatchNs;
        if (ReapAvailable() > 0) return;
        _ring.WaitForCompletion(timeoutNs);
        ReapAvailable();
    }

    void ReapLoop()
    {
        while (!(_stopping && Volatile.Read(ref _inFlight) == 0))
        {
            ReapAvailable();
            if (_stopping && Volatile.Read(ref _inFlight) == 0) break;
            _ring.WaitForCompletion();
        }
        DisposeIfDone();
    }

    /// <summary>A poke (Wake) is meant for the worker sleeping in the ring. Anyone may reap it; if someone else did,
    /// that worker may be about to sleep in the kernel with nothing to wake it: post it again. (Only while it is
    /// parked in the ring: the role holder may be running tasks, and re-posting then would loop.)</summary>
    void WakeSleeperIfReapedByOther()
    {
        int waiter = Volatile.Read(ref _waiter);
        if (waiter >= 0 && _runtime.CurrentWorker()?.Index != waiter && _runtime.Workers[waiter].Parker.IsParkedInSite)
            Wake();
    }

    void OnCompletion(ulong userData, int res, uint flags, ref Wakes wakes)
    {
        if (userData == PokeTag) { WakeSleeperIfReapedByOther(); return; }
        if (userData == PokePollTag) { OnPokePoll(res, flags); return; }
        if (IsRingPoll(userData)) { OnRingPoll(userData, res); return; }
        if (userData == 0 || IoOp.FromToken(userData, out _) is not IoOp op) return; // cancel completions
        Interlocked.Decrement(ref _inFlight);
        // The operation's own file turns the CQE into its result (or asks for the SQE again).
        ref readonly UringOp row = ref Operations.Of(op.Kind).Uring;
        long raw = row.Finish == null ? res : row.Finish(op, res);
        if (raw == UringOp.Pending) raw = Resubmit(op);
        if (raw != UringOp.Pending) wakes.Complete(op, raw);
    }

    /// <summary>Submits the operation again (its Finish saw why); <see cref="UringOp.Pending"/> = "not complete yet".</summary>
    long Resubmit(IoOp op)
    {
        // A cancel (a drop's, or CancelAll's) can only have found the first request: do not start another one.
        if (op.CancelRequested) return -Libc.ECANCELED;
        // Reaped by a thread that may exit (a dropper's wait, a block_on caller): queued for a worker instead, or
        // the request would be tied to that thread (see Ring.Submit). The reaper thread and the current-thread
        // runtime's driver submit themselves (no worker would flush for them).
        Scheduler.Worker? worker = _runtime.CurrentWorker();
        bool queue = _runtime.Workers.Length > 0 && _reaper is null && worker is null;
        int r = Start(op, queue, RingIndexFor(worker));
        if (r < 0) return r;
        if (queue) WakeAFlusher();
        else if (_reaper is null) EnsureWatched(); // the reaper may be no worker, and the workers asleep on futexes
        return UringOp.Pending;
    }

    /// <summary>
    /// No new submissions; the ring is unmapped once every in-flight request has completed — a buffer the kernel
    /// still holds keeps the ring alive (its dropper reaps it, see <see cref="WaitCompleted"/>).
    /// </summary>
    public override void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _stopping = true;
        if (_reaper is not null) _ring.Submit(&PrepareNop, 0UL); // wakes the reaper thread, which disposes
        else DisposeIfDone();
    }

    void DisposeIfDone()
    {
        if (!_stopping || Volatile.Read(ref _inFlight) != 0 || _reaper is not null && Thread.CurrentThread != _reaper) return;
        lock (_reapLock) // idempotent; later submissions and pokes fail quietly
        {
            DisposeWorkerRings();
            _ring.Dispose();
        }
        ClosePoke();
    }
}
