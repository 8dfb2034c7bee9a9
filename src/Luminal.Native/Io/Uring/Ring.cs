using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Io.Uring;

/// <summary>
/// One io_uring instance through the raw system calls (no liburing): io_uring_setup, the three mmap'ed regions
/// (submission ring, completion ring, SQE array), io_uring_enter. Submissions take a lock (any thread may submit,
/// at once or queued for the next flush; a worker's own ring sees other threads only for cancels, see
/// UringBackend.WorkerRings.cs); completions are reaped by one thread at a time (<see cref="UringBackend"/>).
/// </summary>
sealed unsafe partial class Ring : IDisposable
{
    // internal, as the structs below: tests/layout checks them against the kernel headers on each architecture.
    internal const long SysSetup = 425, SysEnter = 426;
    internal const uint EnterGetEvents = 1, EnterExtArg = 8;
    internal const uint FeatSingleMmap = 1, FeatExtArg = 1 << 8;
    internal const long OffSqRing = 0, OffCqRing = 0x8000000, OffSqes = 0x10000000;
    internal const int ProtRW = 3, MapShared = 1, MapPopulate = 0x8000;

    [StructLayout(LayoutKind.Sequential)]
    internal struct SqOffsets { public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1; public ulong UserAddr; }

    [StructLayout(LayoutKind.Sequential)]
    internal struct CqOffsets { public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1; public ulong UserAddr; }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
        public SqOffsets SqOff;
        public CqOffsets CqOff;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Cqe { public ulong UserData; public int Res; public uint Flags; }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall2(long n, uint entries, Params* p);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall6(long n, int fd, uint toSubmit, uint minComplete, uint flags, void* sig, nuint sigsz);
    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* addr, nuint len, int prot, int flags, int fd, long offset);
    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* addr, nuint len);

    [StructLayout(LayoutKind.Sequential)]
    internal struct GetEventsArg { public ulong SigMask; public uint SigMaskSize, Pad; public ulong Ts; }

    [StructLayout(LayoutKind.Sequential)]
    internal struct KernelTimespec { public long Sec, Nsec; }

    readonly int _fd;
    /// <summary>The ring's descriptor (another ring polls it: UringBackend.WorkerRings.cs).</summary>
    internal int Fd => _fd;
    bool _disposed; // under _submitLock; waits and reaps check it too (see UringBackend)

    /// <summary>The kernel can bound a completion wait with a timeout (IORING_FEAT_EXT_ARG, Linux 5.11).</summary>
    public readonly bool HasTimedWait;
    readonly object _submitLock = new();
    int _queued;      // entries filled but not taken by the kernel (see HasQueued)
    int _entering;    // workers' flushes inside io_uring_enter without the lock (see Flush)
    int _flushes;     // Flush calls so far (under the lock): a watcher tells a stalled owner by it
    uint _fillTail;   // under _submitLock: entries [*_sqTail, _fillTail) are queued, not yet published (Queue)
    readonly void* _sqMap, _cqMap;
    readonly nuint _sqMapLen, _cqMapLen, _sqesLen;
    readonly uint* _sqHead, _sqTail, _sqArray, _sqFlags, _cqHead, _cqTail;
    readonly uint _sqMask, _cqMask, _sqEntries;
    readonly Sqe* _sqes;
    readonly Cqe* _cqes;

    Ring(int fd, in Params p)
    {
        _fd = fd;
        _sqEntries = p.SqEntries;
        HasTimedWait = (p.Features & FeatExtArg) != 0;
        _sqMapLen = p.SqOff.Array + p.SqEntries * sizeof(uint);
        _cqMapLen = p.CqOff.Cqes + p.CqEntries * (uint)sizeof(Cqe);
        bool single = (p.Features & FeatSingleMmap) != 0;
        if (single) _sqMapLen = _cqMapLen = Math.Max(_sqMapLen, _cqMapLen);
        _sqMap = Mmap(null, _sqMapLen, ProtRW, MapShared | MapPopulate, fd, OffSqRing);
        if (_sqMap == (void*)-1) throw new InvalidOperationException("io_uring: mmap of the submission ring failed");
        _cqMap = single ? _sqMap : Mmap(null, _cqMapLen, ProtRW, MapShared | MapPopulate, fd, OffCqRing);
        if (_cqMap == (void*)-1) throw new InvalidOperationException("io_uring: mmap of the completion ring failed");
        _sqesLen = p.SqEntries * (nuint)sizeof(Sqe);
        _sqes = (Sqe*)Mmap(null, _sqesLen, ProtRW, MapShared | MapPopulate, fd, OffSqes);
        if (_sqes == (void*)-1) throw new InvalidOperationException("io_uring: mmap of the SQE array failed");
        byte* sq = (byte*)_sqMap, cq = (byte*)_cqMap;
        _sqHead = (uint*)(sq + p.SqOff.Head);
        _sqTail = (uint*)(sq + p.SqOff.Tail);
        _sqMask = *(uint*)(sq + p.SqOff.RingMask);
        _sqArray = (uint*)(sq + p.SqOff.Array);
        _sqFlags = (uint*)(sq + p.SqOff.Flags);
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        _cqes = (Cqe*)(cq + p.CqOff.Cqes);
    }

    /// <summary>A ring with <paramref name="entries"/> submission slots, or null with the errno (ENOSYS, EPERM...).</summary>
    public static Ring? TryCreate(uint entries, out int errno, uint flags = 0)
    {
        errno = 0;
        // io_uring_disabled = 2 forbids it for everyone (1 limits it to a group: trying tells).
        try
        {
            if (System.IO.File.Exists("/proc/sys/kernel/io_uring_disabled")
                && System.IO.File.ReadAllText("/proc/sys/kernel/io_uring_disabled").Trim() == "2")
            {
                errno = Libc.EPERM;
                return null;
            }
        }
        catch { /* unreadable (no /proc, no permission): io_uring_setup itself tells us below */ }
        Params p = default;
        p.Flags = flags;
        long fd = Syscall2(SysSetup, entries, &p);
        if (fd < 0) { errno = Marshal.GetLastPInvokeError(); return null; }
        try { return new Ring((int)fd, p); }
        catch { Libc.Close((int)fd); errno = Libc.ENOSYS; return null; } // a ring we cannot map: AUTO falls back to the pool
    }

    static int _available; // 1 once a ring could be made (a "no" may be passing, e.g. EMFILE: it is not kept)

    /// <summary>Can this process create a ring? (Creates one and closes it until one could be made.)</summary>
    public static bool IsAvailable()
    {
        if (Volatile.Read(ref _available) == 1) return true;
        using Ring? ring = TryCreate(8, out _);
        if (ring is not null) Volatile.Write(ref _available, 1);
        return ring is not null;
    }

    /// <summary>
    /// Fills one SQE (zeroed first) under the submission lock and submits it at once, alone: entries the workers
    /// queued (<see cref="Queue"/>) stay queued for a worker's <see cref="Flush"/>. The kernel ties a request to
    /// the thread whose io_uring_enter submitted it, and a request whose thread has exited is completed with
    /// ECANCELED when its wait ends; so a thread that may exit (a host thread, a blocking-pool thread) must never
    /// submit another task's read (issue 15's batching did: io_tcp_echo's reads failed CANCELLED once their client
    /// threads had gone). 0 once the kernel took ours, else a negated errno (ours is taken back).
    /// </summary>
    public int Submit<TState>(delegate*<Sqe*, TState, void> prepare, TState state)
    {
        lock (_submitLock)
        {
            AwaitFlushesLocked(); // their entries go with their threads, not with ours
            int filled = FillNextLocked(prepare, state, publish: true, out uint at);
            if (filled != 0) return filled;
            while (true)
            {
                uint before = Volatile.Read(ref *_sqHead);
                long n = Syscall6(SysEnter, _fd, at + 1 - before, 0, 0, null, 0);
                if ((int)(Volatile.Read(ref *_sqHead) - (at + 1)) >= 0) { CountQueued(); return 0; } // ours was taken
                int e = n > 0 ? 0 : n == 0 ? Libc.EAGAIN : Marshal.GetLastPInvokeError();
                if (e is 0 or Libc.EINTR) continue; // progress (an earlier entry failed its prep), or a signal
                // Not taken (EBUSY with a completion backlog, EAGAIN, ...): take ours back — the last published
                // entry — or the next enter would hand the kernel this stale one, whose buffer the caller is about
                // to free.
                Volatile.Write(ref *_sqTail, at);
                RemoveUnpublishedAt(at);
                CountQueued();
                return -e;
            }
        }
    }

    /// <summary>
    /// Fills one SQE without entering the kernel: a worker's next <see cref="Flush"/> submits it, with everything
    /// else queued, in one io_uring_enter. 0, or a negated errno (the ring is gone, or full even after submitting
    /// what it holds).
    /// </summary>
    public int Queue<TState>(delegate*<Sqe*, TState, void> prepare, TState state)
    {
        lock (_submitLock)
        {
            int filled = FillNextLocked(prepare, state, publish: false, out _);
            if (filled == 0) CountQueued();
            return filled;
        }
    }

    /// <summary>
    /// Under the lock: fills an SQE, either queued (after the others, unpublished) or published at once at
    /// position <paramref name="at"/> ahead of the queued ones — the queued entry that held that position moves
    /// to the end (SQEs are copied, so slot i always belongs to ring position i mod size and the kernel's array
    /// stays the identity). 0, or a negated errno: the ring is gone, or full even after submitting what it holds.
    /// </summary>
    int FillNextLocked<TState>(delegate*<Sqe*, TState, void> prepare, TState state, bool publish, out uint at)
    {
        at = 0;
        if (_disposed) return -Libc.ECANCELED;
        // Without SQPOLL the kernel only reads entries inside io_uring_enter: a full ring means entries not yet
        // submitted; submit them all (only then may a queued one go with this thread), then refuse rather than
        // overwrite an entry the kernel has not read.
        if (_fillTail - Volatile.Read(ref *_sqHead) >= _sqEntries
            && (EnterAllLocked() < 0 || _fillTail - Volatile.Read(ref *_sqHead) >= _sqEntries))
            return -Libc.EBUSY;
        uint published = *_sqTail;
        at = publish ? published : _fillTail;
        if (publish && published != _fillTail) Fill(_fillTail, &CopySqe, (nint)(&_sqes[published & _sqMask]));
        Fill(at, prepare, state);
        _fillTail++;
        if (publish) Volatile.Write(ref *_sqTail, at + 1); // release: the kernel reads the SQE after seeing the tail
        return 0;
    }

    static void CopySqe(Sqe* sqe, nint from) => *sqe = *(Sqe*)from;

    /// <summary>Under the lock: drops the unpublished entry at <paramref name="position"/> (the last one takes its
    /// place).</summary>
    void RemoveUnpublishedAt(uint position)
    {
        uint last = --_fillTail;
        if (position != last) _sqes[position & _sqMask] = _sqes[last & _sqMask];
    }

    /// <summary>
    /// Takes a queued, not yet submitted entry for <paramref name="userData"/> back out of the ring (a dropped
    /// operation whose request the kernel never saw: a cancel would arrive before it). True if it was there.
    /// </summary>
    public bool Unqueue(ulong userData)
    {
        lock (_submitLock)
        {
            if (_disposed) return false;
            for (uint p = *_sqTail; p != _fillTail; p++)
            {
                if (_sqes[p & _sqMask].UserData != userData) continue;
                RemoveUnpublishedAt(p);
                CountQueued();
                return true;
            }
            return false;
        }
    }

    /// <summary>Are entries queued that the kernel has not taken yet? (A racy hint without the lock — and without
    /// touching the mapped ring, which may be unmapped by now: the count is kept by the locked operations.)</summary>
    public bool HasQueued => Volatile.Read(ref _queued) != 0;

    /// <summary>How many flushes were made so far (a racy read: it only has to change when the owner flushes).</summary>
    public int Flushes => Volatile.Read(ref _flushes);

    /// <summary>Under the lock, after any change of the ring's tail or an enter: what is still queued.</summary>
    void CountQueued() => Volatile.Write(ref _queued, (int)(_fillTail - Volatile.Read(ref *_sqHead)));

    /// <summary>
    /// Submits every queued entry with one io_uring_enter: for the workers' loops (threads that live as long as the
    /// ring), see <see cref="Submit"/>. Entries the kernel does not take (EBUSY with a completion backlog, EAGAIN)
    /// stay published for the next flush: their operations are still in flight.
    ///
    /// The enter is made after the lock is released. It can take microseconds (the kernel tries each read it
    /// takes, and runs this thread's task work on the way out), and every other worker's <see cref="Queue"/> waited
    /// for it, spinning and yielding the CPU (issue 15's echo: ~0.4 sched_yield per message). Workers may carry
    /// each other's entries (the kernel takes min(to_submit, published) in ring order, so racing flushes submit
    /// each entry once); only a thread that may exit must not, so <see cref="Submit"/> and
    /// <see cref="SubmitBatch"/> wait for flushes in progress (<see cref="_entering"/>) before they enter.
    /// </summary>
    public int Flush()
    {
        uint pending;
        lock (_submitLock)
        {
            _flushes++;
            if (_disposed) return 0;
            Volatile.Write(ref *_sqTail, _fillTail); // release: the kernel reads the SQEs after seeing the tail
            pending = _fillTail - Volatile.Read(ref *_sqHead);
            if (pending == 0) { CountQueued(); return 0; }
            Interlocked.Increment(ref _entering); // under the lock: a Submit that holds it sees this flush
        }
        long n;
        int e;
        do
        {
            n = Syscall6(SysEnter, _fd, pending, 0, 0, null, 0);
            e = n >= 0 ? 0 : Marshal.GetLastPInvokeError();
        } while (e == Libc.EINTR);
        // Out first, then count again under the lock (a Submit holding it waits for us: the other order would
        // deadlock); the rings are still mapped if the lock finds the ring not disposed (Dispose unmaps after).
        Interlocked.Decrement(ref _entering);
        lock (_submitLock)
        {
            if (!_disposed) CountQueued();
        }
        return n >= 0 ? (int)n : -e;
    }

    /// <summary>Under the lock: waits for the workers' flushes inside io_uring_enter (no new one starts while we
    /// hold the lock); their entries are then taken, or published for the next enter.</summary>
    void AwaitFlushesLocked()
    {
        if (Volatile.Read(ref _entering) == 0) return;
        SpinWait spin = default;
        while (Volatile.Read(ref _entering) != 0) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>Under the lock: publishes everything queued and enters the kernel with it. How many it took, or a
    /// negated errno.</summary>
    int EnterAllLocked()
    {
        Volatile.Write(ref *_sqTail, _fillTail); // release: the kernel reads the SQEs after seeing the tail
        while (true)
        {
            uint pending = *_sqTail - Volatile.Read(ref *_sqHead);
            if (pending == 0) { CountQueued(); return 0; }
            long n = Syscall6(SysEnter, _fd, pending, 0, 0, null, 0);
            int e = n >= 0 ? 0 : Marshal.GetLastPInvokeError();
            if (e == Libc.EINTR) continue;
            CountQueued();
            return n >= 0 ? (int)n : -e;
        }
    }

    void Fill<TState>(uint tail, delegate*<Sqe*, TState, void> prepare, TState state)
    {
        uint index = tail & _sqMask;
        Sqe* sqe = &_sqes[index];
        *sqe = default;
        prepare(sqe, state);
        _sqArray[index] = index;
    }

    /// <summary>
    /// Fills one SQE per state (as many as the submission ring has room for) and submits them — after whatever was
    /// queued, which goes with them: this is shutdown's cancel sweep, whose targets may be queued — with one
    /// io_uring_enter. Returns how many of ours the kernel took — the rest were taken back, submit them again — or
    /// a negated errno when it took none. (Cancelling thousands of operations one enter each is what made
    /// shutdown slow.)
    /// </summary>
    public int SubmitBatch<TState>(delegate*<Sqe*, TState, void> prepare, ReadOnlySpan<TState> states)
    {
        lock (_submitLock)
        {
            if (_disposed) return -Libc.ECANCELED;
            AwaitFlushesLocked(); // (the count of ours below reads the head: no one else may move it meanwhile)
            uint head = Volatile.Read(ref *_sqHead), tail = _fillTail, queued = tail - head;
            uint n = Math.Min((uint)states.Length, _sqEntries - queued);
            if (n == 0) return -Libc.EBUSY;
            for (uint i = 0; i < n; i++) Fill(tail + i, prepare, states[(int)i]);
            _fillTail = tail + n;
            Volatile.Write(ref *_sqTail, tail + n); // release: the kernel reads the SQEs after seeing the tail
            while (true)
            {
                long r = Syscall6(SysEnter, _fd, queued + n, 0, 0, null, 0);
                int e = r < 0 ? Marshal.GetLastPInvokeError() : 0;
                if (r < 0 && e == Libc.EINTR) continue;
                // What the kernel did not take (a suffix: it takes entries in order) goes back, as in Submit; the
                // entries queued before ours stay (published: the next enter takes them).
                uint taken = Volatile.Read(ref *_sqHead) - head;
                uint ours = taken > queued ? taken - queued : 0;
                if (ours < n) { _fillTail = tail + ours; Volatile.Write(ref *_sqTail, tail + ours); }
                CountQueued();
                return ours > 0 ? (int)ours : r < 0 ? -e : -Libc.EAGAIN;
            }
        }
    }

    /// <summary>Room the completion ring has (the kernel keeps what does not fit, but only in memory it must
    /// allocate: a batch keeps its completions within this).</summary>
    public uint CqEntries => _cqMask + 1;

    /// <summary>Blocks until at least one completion is available (or a signal interrupts).</summary>
    public void WaitForCompletion() => Syscall6(SysEnter, _fd, 0, 1, EnterGetEvents, null, 0);

    /// <summary>Like <see cref="WaitForCompletion()"/>, for at most <paramref name="timeoutNs"/> (-1 = forever).
    /// Needs <see cref="HasTimedWait"/>.</summary>
    public void WaitForCompletion(long timeoutNs)
    {
        KernelTimespec ts = new() { Sec = timeoutNs / 1_000_000_000, Nsec = timeoutNs % 1_000_000_000 };
        GetEventsArg arg = new() { SigMaskSize = 8, Ts = timeoutNs < 0 ? 0 : (ulong)&ts };
        Syscall6(SysEnter, _fd, 0, 1, EnterGetEvents | EnterExtArg, &arg, (nuint)sizeof(GetEventsArg));
    }

    public bool IsDisposed => Volatile.Read(ref _disposed);

    internal const uint SqCqOverflow = 1 << 1; // IORING_SQ_CQ_OVERFLOW, in the submission ring's flags

    /// <summary>
    /// Did completions overflow the completion ring? The kernel keeps those in a list of its own and moves them into
    /// the ring only inside an io_uring_enter with GETEVENTS (<see cref="FlushOverflow"/>): a reaper that only
    /// reads the ring would never see them (a burst of 100k reads finishing at once: 92k beyond the ring's 8k).
    /// </summary>
    public bool CqOverflowed => (Volatile.Read(ref *_sqFlags) & SqCqOverflow) != 0;

    /// <summary>Moves overflowed completions into the ring (as many as fit); returns at once.</summary>
    public void FlushOverflow() => Syscall6(SysEnter, _fd, 0, 0, EnterGetEvents, null, 0);

    /// <summary>Are completions waiting to be reaped? (A cheap read of the two indices.)</summary>
    public bool HasCompletions => *_cqHead != Volatile.Read(ref *_cqTail);

    /// <summary>Where reaping has got to (it moves only when someone reaps; under the reaper's lock).</summary>
    public uint CqHead => Volatile.Read(ref *_cqHead);

    /// <summary>
    /// Copies up to <paramref name="into"/>.Length completions out and hands their slots back to the kernel; the
    /// caller handles them afterwards (outside its lock: handling can run user code that reaps again).
    /// One thread at a time (the caller's lock).
    /// </summary>
    public int Reap(Span<Cqe> into)
    {
        uint head = *_cqHead;
        uint tail = Volatile.Read(ref *_cqTail); // acquire: the CQEs up to tail are written
        int n = 0;
        for (; head != tail && n < into.Length; head++, n++) into[n] = _cqes[head & _cqMask];
        Volatile.Write(ref *_cqHead, head); // release: the kernel may reuse those entries
        return n;
    }

    public void Dispose()
    {
        lock (_submitLock)
        {
            if (_disposed) return;
            _disposed = true;
            _queued = 0;
        }
        // A flush that entered before may still be in the kernel (not holding the lock): the rings stay mapped
        // until it is out.
        SpinWait spin = default;
        while (Volatile.Read(ref _entering) != 0) spin.SpinOnce();
        Munmap(_sqes, _sqesLen);
        if (_cqMap != _sqMap) Munmap(_cqMap, _cqMapLen);
        Munmap(_sqMap, _sqMapLen);
        Libc.Close(_fd);
    }
}

/// <summary>struct io_uring_sqe (64 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
unsafe struct Sqe
{
    [FieldOffset(0)] public byte Opcode;
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPrio;
    [FieldOffset(4)] public int Fd;
    [FieldOffset(8)] public ulong Off;       // also addr2
    [FieldOffset(16)] public ulong Addr;
    [FieldOffset(24)] public uint Len;
    [FieldOffset(28)] public uint OpFlags;   // rw_flags, fsync_flags, msg_flags, accept_flags, open_flags, statx_flags...
    [FieldOffset(32)] public ulong UserData;

    public const byte OpNop = 0, OpFsync = 3, OpPollAdd = 6, OpAccept = 13, OpAsyncCancel = 14, OpConnect = 16, OpOpenAt = 18,
        OpClose = 19, OpStatx = 21, OpRead = 22, OpWrite = 23, OpSend = 26;
}
