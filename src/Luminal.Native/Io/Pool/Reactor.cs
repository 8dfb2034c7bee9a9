using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Io.Pool;

/// <summary>
/// Where a socket read or write that would block waits on the pool backend: an epoll set watched by one thread
/// for the whole runtime, instead of a blocking-pool thread per waiting operation (which capped a server at
/// max_blocking_threads idle connections, and starved the others once they were taken). When a socket is ready,
/// this thread tries the operation again (non-blocking recv/send) and completes it, which wakes its task.
///
/// Each fd has at most one waiting read and one waiting write here, registered EPOLLONESHOT (a level check at
/// registration, so readiness that arrived before is not lost); a second concurrent read or write of the same fd,
/// and pipes (not sockets: a blocking read could stall this thread), go to the pool as before. Started on first
/// use; stopped with the backend.
/// </summary>
sealed unsafe partial class Reactor
{
    const int EpollCtlAdd = 1, EpollCtlMod = 3, EpollCloexec = 0x80000, EfdCloexec = 0x80000, EfdNonblock = 0x800;
    const uint EpollIn = 0x1, EpollOut = 0x4, EpollErr = 0x8, EpollHup = 0x10, EpollRdHup = 0x2000,
        EpollOneShot = 1u << 30;
    const int ENOENT = 2, EBADF = 9;
    const ulong WakeMark = ulong.MaxValue; // the event data of the eventfd that stops the thread

    // struct epoll_event is packed (12 bytes, data at 4) on x86_64 only; elsewhere it is 16 bytes, data at 8.
    static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    static readonly int DataOffset = EventSize - 8;

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
    struct Waiters { public IoOp? Reader, Writer; public bool Registered; public uint Generation; }

    readonly int _epfd, _wakeFd;
    readonly object _lock = new();
    readonly Dictionary<int, Waiters> _fds = new();
    bool _stopping; // under _lock: nothing may wait any more

    readonly Action<IoOp> _fallback; // where an operation goes that cannot wait here any more (the pool)

    Reactor(int epfd, int wakeFd, Action<IoOp> fallback)
    {
        (_epfd, _wakeFd, _fallback) = (epfd, wakeFd, fallback);
        new Thread(Loop) { IsBackground = true, Name = "luminal-reactor" }.Start();
    }

    /// <summary>A reactor with its thread running, or null where epoll is unavailable. <paramref name="fallback"/>
    /// takes an operation that was ready but would block again and cannot wait here (see Retry).</summary>
    public static Reactor? TryStart(Action<IoOp> fallback)
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
        return new Reactor(ep, efd, fallback);
    }

    /// <summary>
    /// Parks <paramref name="op"/> (a socket read or write that just returned EAGAIN) until its fd is ready. False
    /// if it cannot wait here (another op of the same direction waits on that fd, or stopping): use the pool.
    /// </summary>
    public bool Arm(IoOp op)
    {
        bool read = op.Kind == IoKind.StreamRead;
        List<IoOp>? stale = null;
        bool armed;
        lock (_lock)
        {
            if (_stopping) return false;
            ref Waiters w = ref CollectionsMarshal.GetValueRefOrAddDefault(_fds, op.Fd, out _);
            // An operation still waiting on this number may belong to a file that was closed since (its epoll
            // registration went with it, and the number may now name another socket): evict such waiters.
            if (w.Registered && (w.Reader is not null || w.Writer is not null) && !Register(op.Fd, ref w, probe: true))
                stale = Evict(ref w);
            armed = (read ? w.Reader : w.Writer) is null;
            if (armed)
            {
                if (read) w.Reader = op; else w.Writer = op;
                if (!Register(op.Fd, ref w))
                {
                    if (read) w.Reader = null; else w.Writer = null;
                    armed = false;
                }
                // Cancel sets the flag before it looks here (under this lock): if it looked already, nobody else
                // will.
                else if (op.CancelRequested)
                {
                    Take(op, ref w);
                    (stale ??= new()).Add(op);
                }
            }
        }
        if (stale is not null)
            foreach (IoOp s in stale) s.Complete(s == op ? -Libc.ECANCELED : -EBADF);
        return armed;
    }

    /// <summary>Takes every waiter of an entry whose file is gone (under _lock).</summary>
    static List<IoOp> Evict(ref Waiters w)
    {
        var gone = new List<IoOp>(2);
        if (w.Reader is IoOp r) gone.Add(r);
        if (w.Writer is IoOp x) gone.Add(x);
        w.Reader = w.Writer = null;
        w.Registered = false;
        return gone;
    }

    /// <summary>Cancels a waiting operation; false if it does not wait here (it may be being retried right now:
    /// that retry sees CancelRequested).</summary>
    public bool Cancel(IoOp op)
    {
        lock (_lock)
        {
            ref Waiters w = ref CollectionsMarshal.GetValueRefOrNullRef(_fds, op.Fd);
            if (Unsafe.IsNullRef(ref w) || (w.Reader != op && w.Writer != op)) return false;
            Take(op, ref w);
        }
        op.Complete(-Libc.ECANCELED);
        return true;
    }

    /// <summary>Stopping: every waiting operation completes as cancelled, later ones use the pool, the thread ends.</summary>
    public void Stop()
    {
        var taken = new List<IoOp>();
        lock (_lock)
        {
            if (_stopping) return;
            _stopping = true;
            foreach (Waiters w in _fds.Values)
            {
                if (w.Reader is IoOp r) taken.Add(r);
                if (w.Writer is IoOp x) taken.Add(x);
            }
            _fds.Clear();
        }
        foreach (IoOp op in taken) op.Complete(-Libc.ECANCELED);
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
    }

    void Dispatch(int fd, uint generation, uint events)
    {
        IoOp? reader = null, writer = null;
        lock (_lock)
        {
            ref Waiters w = ref CollectionsMarshal.GetValueRefOrNullRef(_fds, fd);
            if (Unsafe.IsNullRef(ref w) || w.Generation != generation) return; // an event of a closed file
            if ((events & (EpollIn | EpollErr | EpollHup | EpollRdHup)) != 0 && w.Reader is IoOp r) { reader = r; Take(r, ref w); }
            if ((events & (EpollOut | EpollErr | EpollHup)) != 0 && w.Writer is IoOp x) { writer = x; Take(x, ref w); }
            // The other direction still waits: re-arm it (if that fails, the file is gone: its retry will tell).
            if ((w.Reader is not null || w.Writer is not null) && !Register(fd, ref w))
            {
                reader ??= w.Reader;
                writer ??= w.Writer;
                w.Reader = w.Writer = null;
            }
        }
        Retry(reader);
        Retry(writer);
    }

    /// <summary>The fd was ready: try the operation again; if it would still block, wait again — here, or (another
    /// operation took its place meanwhile, or stopping) on the pool, which also reports errors of the fd itself.</summary>
    void Retry(IoOp? op)
    {
        if (op is null) return;
        long r = op.Kind == IoKind.StreamRead ? StreamNow.Read(op) : StreamNow.Write(op);
        if (r != -Libc.EAGAIN) op.Complete(r);
        else if (!Arm(op)) _fallback(op);
    }

    /// <summary>Removes a waiting operation (under _lock).</summary>
    static void Take(IoOp op, ref Waiters w)
    {
        if (w.Reader == op) w.Reader = null;
        else if (w.Writer == op) w.Writer = null;
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
        uint mask = EpollOneShot | (w.Reader is not null ? EpollIn | EpollRdHup : 0) | (w.Writer is not null ? EpollOut : 0);
        byte* ev = stackalloc byte[16];
        if (w.Registered)
        {
            PutEvent(ev, mask, (ulong)w.Generation << 32 | (uint)fd);
            if (EpollCtl(_epfd, EpollCtlMod, fd, ev) == 0) return true;
            if (probe || Libc.Errno != ENOENT) return false;
        }
        w.Generation++;
        PutEvent(ev, mask, (ulong)w.Generation << 32 | (uint)fd);
        if (EpollCtl(_epfd, EpollCtlAdd, fd, ev) != 0) return false; // EBADF (closed), EPERM (a regular file)...
        w.Registered = true;
        return true;
    }
}
