using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Io.Pool;

/// <summary>
/// Where an operation that would block waits on the pool backend — a stream read or write (sockets, pipes, any fd
/// epoll can watch), an accept, a connect in progress: an epoll set watched by one thread for the whole runtime, instead of a blocking-pool thread per waiting
/// operation (which capped a server at max_blocking_threads idle connections or pipes, and starved
/// luminal_spawn_blocking once they were taken). When an fd is ready, this thread tries the operation again the
/// way that never blocks it (the operation's TryNow, e.g. <see cref="NonBlocking"/>), and completes it, which wakes its task; an fd that
/// can only be read by a call that might block gets just its readiness here, and the call on a pool thread.
///
/// Each fd has a queue of waiting reads and one of waiting writes (oldest first, linked through IoOp.NextWaiter:
/// no allocation), registered EPOLLONESHOT (a level check at registration, so readiness that arrived before is not
/// lost). A ready event retries the oldest waiter of each ready direction; if the fd is still ready, the re-armed
/// registration fires again at once for the next. Files epoll refuses (regular files) go to the pool. Started on
/// first use; stopped with the backend.
/// </summary>
sealed unsafe partial class Reactor
{
    // internal, as EventSize and DataOffset: tests/layout checks them against the kernel headers per architecture.
    internal const int EpollCtlAdd = 1, EpollCtlMod = 3, EpollCloexec = 0x80000, EfdCloexec = 0x80000, EfdNonblock = 0x800;
    internal const uint EpollIn = 0x1, EpollOut = 0x4, EpollErr = 0x8, EpollHup = 0x10, EpollRdHup = 0x2000,
        EpollOneShot = 1u << 30;
    const ulong WakeMark = ulong.MaxValue; // the event data of the eventfd that stops the thread

    // struct epoll_event is packed (12 bytes, data at 4) on x86_64 only; elsewhere it is 16 bytes, data at 8.
    internal static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    internal static readonly int DataOffset = EventSize - 8;

    static void PutEvent(byte* e, uint events, ulong data)
    {
        *(uint*)e = events;
        Unsafe.WriteUnaligned(e + DataOffset, data);
    }

    static (uint Events, ulong Data) GetEvent(byte* events, int i)
    {
        byte* e = events + i * EventSize;
        return (*(uint*)e, Unsafe.ReadUnaligned<ulong>(e + DataOffset));
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);
    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, byte* ev);
    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epfd, byte* events, int max, int timeoutMs);
    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initval, int flags);

    /// <summary>What waits on one fd number. <c>Generation</c> changes whenever the number is registered anew (the
    /// old file was closed and the number reused): it travels in the event data, so a late event of the old file
    /// is never taken for the new one.</summary>
    struct Waiters
    {
        public WaitQueue Readers, Writers;
        public bool Registered;
        public uint Generation;

        public readonly bool Any => Readers.Head is not null || Writers.Head is not null;

        /// <summary>Moves every waiter onto <paramref name="chain"/> (linked through NextWaiter).</summary>
        public void TakeAllOnto(ref IoOp? chain)
        {
            while (Readers.Take() is IoOp r) { r.NextWaiter = chain; chain = r; }
            while (Writers.Take() is IoOp x) { x.NextWaiter = chain; chain = x; }
        }
    }

    /// <summary>The operations waiting on one fd in one direction, oldest first.</summary>
    struct WaitQueue
    {
        public IoOp? Head, Tail;

        public void Add(IoOp op)
        {
            op.NextWaiter = null;
            if (Tail is IoOp tail) tail.NextWaiter = op; else Head = op;
            Tail = op;
        }

        /// <summary>Back at the front: a waiter that was retried and must wait again keeps its place.</summary>
        public void AddFirst(IoOp op)
        {
            op.NextWaiter = Head;
            Head = op;
            Tail ??= op;
        }

        public IoOp? Take()
        {
            if (Head is not IoOp op) return null;
            Head = op.NextWaiter;
            if (Head is null) Tail = null;
            op.NextWaiter = null;
            return op;
        }

        public bool Remove(IoOp op)
        {
            for (IoOp? prev = null, at = Head; at is IoOp o; prev = o, at = o.NextWaiter)
            {
                if (o != op) continue;
                if (prev is IoOp p) p.NextWaiter = o.NextWaiter; else Head = o.NextWaiter;
                if (Tail == o) Tail = prev;
                o.NextWaiter = null;
                return true;
            }
            return false;
        }
    }

    readonly int _epfd, _wakeFd;
    readonly object _lock = new();
    // Under _lock: the waiters by fd number, in native memory (a server with 100,000 connections grows it without a
    // managed allocation, issue 15); grown by doubling, never shrunk, freed when the thread ends.
    Waiters* _fds;
    int _fdCapacity;
    bool _stopping; // under _lock: nothing may wait any more

    /// <summary>Under _lock: the waiters of <paramref name="fd"/>, the table grown to hold it.</summary>
    ref Waiters WaitersOf(int fd)
    {
        if (fd >= _fdCapacity)
        {
            int capacity = Math.Max(64, _fdCapacity);
            while (capacity <= fd) capacity *= 2;
            _fds = (Waiters*)NativeMemory.Realloc(_fds, (nuint)capacity * (nuint)sizeof(Waiters));
            NativeMemory.Clear(_fds + _fdCapacity, (nuint)(capacity - _fdCapacity) * (nuint)sizeof(Waiters));
            _fdCapacity = capacity;
        }
        return ref _fds[fd];
    }

    /// <summary>Under _lock: the waiters of <paramref name="fd"/>, or a null ref if it never had any.</summary>
    ref Waiters WaitersIfAny(int fd) => ref (uint)fd < (uint)_fdCapacity ? ref _fds[fd] : ref Unsafe.NullRef<Waiters>();

    readonly Action<IoOp> _fallback; // where an operation goes that cannot wait here any more (the pool)

    Reactor(int epfd, int wakeFd, Action<IoOp> fallback, Runtime runtime)
    {
        (_epfd, _wakeFd, _fallback) = (epfd, wakeFd, fallback);
        new Thread(() =>
        {
            runtime.ThreadStarted(Observe.ThreadKind.Io, 0); // IO thread 0: the reactor
            try { Loop(); }
            finally { runtime.ThreadStopping(Observe.ThreadKind.Io, 0); }
        }) { IsBackground = true, Name = "luminal-reactor" }.Start();
    }

    /// <summary>A reactor with its thread running, or null where epoll is unavailable. <paramref name="fallback"/>
    /// takes an operation that was ready but would block again and cannot wait here (see Retry).</summary>
    public static Reactor? TryStart(Action<IoOp> fallback, Runtime runtime)
    {
        if (!OperatingSystem.IsLinux()) return null;
        int ep = EpollCreate1(EpollCloexec);
        if (ep < 0) return null;
        int efd = EventFd(0, EfdCloexec | EfdNonblock);
        byte* ev = stackalloc byte[16];
        PutEvent(ev, EpollIn, WakeMark);
        if (efd < 0 || EpollCtl(ep, EpollCtlAdd, efd, ev) != 0)
        {
            if (efd >= 0) Libc.Close(efd);
            Libc.Close(ep);
            return null;
        }
        return new Reactor(ep, efd, fallback, runtime);
    }

    /// <summary>
    /// Parks <paramref name="op"/> (whose TryNow just asked to wait, see <see cref="IoOp.WaitUntilReady"/>) until its
    /// fd is ready, behind the operations already waiting in that direction. False if it cannot wait here (epoll
    /// refuses the fd, or stopping): use the pool.
    /// </summary>
    public bool Arm(IoOp op)
    {
        var wakes = new Wakes(stackalloc ulong[64]);
        bool armed = Arm(op, ref wakes, first: false);
        wakes.WakeAll();
        return armed;
    }

    /// <summary><see cref="Arm(IoOp)"/>, or with <paramref name="first"/> at the front (an operation that was retried
    /// and must wait again); what it completes joins <paramref name="wakes"/>.</summary>
    bool Arm(IoOp op, ref Wakes wakes, bool first)
    {
        bool read = op.WaitRead;
        IoOp? stale = null;
        bool armed = true, cancelled = false;
        lock (_lock)
        {
            if (_stopping) return false;
            ref Waiters w = ref WaitersOf(op.WaitFd);
            // Operations still waiting on this number may belong to a file that was closed since (its epoll
            // registration went with it, and the number may now name another file): evict such waiters.
            if (w.Registered && w.Any && !Register(op.WaitFd, ref w, probe: true))
            {
                w.TakeAllOnto(ref stale);
                w.Registered = false;
            }
            ref WaitQueue q = ref read ? ref w.Readers : ref w.Writers;
            if (first) q.AddFirst(op); else q.Add(op);
            if (!Register(op.WaitFd, ref w))
            {
                q.Remove(op);
                armed = false;
            }
            // Cancel sets the flag before it looks here (under this lock): if it looked already, nobody else will.
            else if (op.CancelRequested)
            {
                q.Remove(op);
                cancelled = true;
            }
        }
        CompleteAll(stale, -Libc.EBADF, ref wakes);
        if (cancelled) wakes.Complete(op, -Libc.ECANCELED);
        return armed;
    }

    /// <summary>Completes every operation of a chain (outside _lock: completing wakes tasks).</summary>
    static void CompleteAll(IoOp? chain, long raw, ref Wakes wakes)
    {
        while (chain is IoOp op)
        {
            chain = op.NextWaiter;
            op.NextWaiter = null; // before Complete: once completed, the operation may be reused at once
            wakes.Complete(op, raw);
        }
    }

    /// <summary>Cancels a waiting operation; false if it does not wait here (it may be being retried right now:
    /// that retry sees CancelRequested).</summary>
    public bool Cancel(IoOp op)
    {
        lock (_lock)
        {
            ref Waiters w = ref WaitersIfAny(op.WaitFd);
            if (Unsafe.IsNullRef(ref w)) return false;
            if (!(op.WaitRead ? w.Readers.Remove(op) : w.Writers.Remove(op))) return false;
        }
        op.Complete(-Libc.ECANCELED);
        return true;
    }

    /// <summary>Stopping: every waiting operation completes as cancelled, later ones use the pool, the thread ends.</summary>
    public void Stop()
    {
        IoOp? taken = null;
        lock (_lock)
        {
            if (_stopping) return;
            _stopping = true;
            for (int fd = 0; fd < _fdCapacity; fd++) _fds[fd].TakeAllOnto(ref taken);
        }
        var wakes = new Wakes(stackalloc ulong[64]);
        CompleteAll(taken, -Libc.ECANCELED, ref wakes);
        wakes.WakeAll();
        ulong one = 1;
        _ = Libc.Write(_wakeFd, &one, (nuint)sizeof(ulong));
    }

    void Loop()
    {
        const int Max = 64;
        byte* events = stackalloc byte[Max * 16];
        // Only Stop ends the loop (and closes the fds): leaving early would strand every waiting operation.
        while (true)
        {
            int n = EpollWait(_epfd, events, Max, -1);
            if (n < 0)
            {
                if (Libc.Errno != Libc.EINTR) Thread.Sleep(1); // cannot happen with a live epoll fd; don't spin
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                (uint ev, ulong data) = GetEvent(events, i);
                if (data == WakeMark) goto done;
                try { Dispatch((int)(uint)data, (uint)(data >> 32), ev); }
                catch { /* a failed completion must not take the reactor down; that op's dropper still waits (Complete runs at most once) */ }
            }
        }
    done:
        Libc.Close(_wakeFd);
        Libc.Close(_epfd);
        lock (_lock)
        {
            // Stopping emptied it; nothing adds to it any more.
            NativeMemory.Free(_fds);
            _fds = null;
            _fdCapacity = 0;
        }
    }

    void Dispatch(int fd, uint generation, uint events)
    {
        IoOp? reader = null, writer = null, gone = null;
        lock (_lock)
        {
            ref Waiters w = ref WaitersIfAny(fd);
            if (Unsafe.IsNullRef(ref w) || w.Generation != generation) return; // an event of a closed file
            if ((events & (EpollIn | EpollErr | EpollHup | EpollRdHup)) != 0) reader = w.Readers.Take();
            if ((events & (EpollOut | EpollErr | EpollHup)) != 0) writer = w.Writers.Take();
            // The others still wait: re-arm (if that fails, the file is gone: each one's retry will tell).
            if (w.Any && !Register(fd, ref w)) w.TakeAllOnto(ref gone);
        }
        var wakes = new Wakes(stackalloc ulong[64]);
        try
        {
            Retry(reader, ref wakes);
            Retry(writer, ref wakes);
            while (gone is IoOp op)
            {
                gone = op.NextWaiter;
                op.NextWaiter = null;
                Retry(op, ref wakes);
            }
        }
        finally { wakes.WakeAll(); } // what completed must be woken even if a retry failed
    }

    /// <summary>The fd was ready: try the operation again; if it would still block, wait again at the front of its
    /// queue — here, or (stopping, or the fd cannot be registered any more) on the pool, which also reports errors
    /// of the fd itself. An fd that only a blocking call can read (<see cref="NonBlocking.Blocking"/>) gets its
    /// call on the pool: the reactor thread never makes one.</summary>
    void Retry(IoOp? waiter, ref Wakes wakes)
    {
        if (waiter is not IoOp op) return;
        if (op.WaitThenRun) { _fallback(op); return; }
        long r = Operations.Of(op.Kind).Pool.TryNow(op); // the operation's own try (it may ask to wait again)
        if (r != -Libc.EAGAIN) wakes.Complete(op, r);
        else if (!Arm(op, ref wakes, first: true)) _fallback(op);
    }

    /// <summary>
    /// (Re-)arms the fd for the directions that have a waiter (under _lock). A fired one-shot registration stays in
    /// the interest list, disabled: MOD re-enables it. MOD failing with ENOENT means the file was closed (taking its
    /// registration along) — with <paramref name="probe"/>, report that (false) instead of registering anew; else
    /// ADD, under a new generation.
    /// </summary>
    bool Register(int fd, ref Waiters w, bool probe = false)
    {
        // RDHUP only for a reader: a writer that waits for room must not be woken (in a loop) by a half-close.
        uint mask = EpollOneShot | (w.Readers.Head is not null ? EpollIn | EpollRdHup : 0)
            | (w.Writers.Head is not null ? EpollOut : 0);
        byte* ev = stackalloc byte[16];
        if (w.Registered)
        {
            PutEvent(ev, mask, (ulong)w.Generation << 32 | (uint)fd);
            if (EpollCtl(_epfd, EpollCtlMod, fd, ev) == 0) return true;
            if (probe || Libc.Errno != Libc.ENOENT) return false;
        }
        w.Generation++;
        PutEvent(ev, mask, (ulong)w.Generation << 32 | (uint)fd);
        if (EpollCtl(_epfd, EpollCtlAdd, fd, ev) != 0) return false; // EBADF (closed), EPERM (a regular file)...
        w.Registered = true;
        return true;
    }
}
