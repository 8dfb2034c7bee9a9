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
    const int ENOENT = 2, EEXIST = 17;
    const ulong WakeMark = ulong.MaxValue; // the event data of the eventfd that stops the thread

    [StructLayout(LayoutKind.Sequential, Pack = 4)] // packed on x86_64 (12 bytes)
    struct EpollEvent { public uint Events; public ulong Data; }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);
    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);
    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epfd, EpollEvent* events, int max, int timeoutMs);
    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initval, int flags);

    struct Waiters { public IoOp? Reader, Writer; public bool Registered; }

    readonly int _epfd, _wakeFd;
    readonly object _lock = new();
    readonly Dictionary<int, Waiters> _fds = new();
    bool _stopping; // under _lock: nothing may wait any more

    Reactor(int epfd, int wakeFd)
    {
        (_epfd, _wakeFd) = (epfd, wakeFd);
        new Thread(Loop) { IsBackground = true, Name = "luminal-reactor" }.Start();
    }

    /// <summary>A reactor with its thread running, or null where epoll is unavailable.</summary>
    public static Reactor? TryStart()
    {
        if (!OperatingSystem.IsLinux()) return null;
        int ep = EpollCreate1(EpollCloexec);
        if (ep < 0) return null;
        int efd = EventFd(0, EfdCloexec | EfdNonblock);
        EpollEvent ev = new() { Events = EpollIn, Data = WakeMark };
        if (efd < 0 || EpollCtl(ep, EpollCtlAdd, efd, &ev) != 0)
        {
            if (efd >= 0) Libc.Close(efd);
            Libc.Close(ep);
            return null;
        }
        return new Reactor(ep, efd);
    }

    /// <summary>
    /// Parks <paramref name="op"/> (a socket read or write that just returned EAGAIN) until its fd is ready. False
    /// if it cannot wait here (another op of the same direction waits on that fd, or stopping): use the pool.
    /// </summary>
    public bool Arm(IoOp op)
    {
        bool read = op.Kind == IoKind.StreamRead;
        lock (_lock)
        {
            if (_stopping) return false;
            ref Waiters w = ref CollectionsMarshal.GetValueRefOrAddDefault(_fds, op.Fd, out _);
            if ((read ? w.Reader : w.Writer) is not null) return false;
            if (read) w.Reader = op; else w.Writer = op;
            if (!Register(op.Fd, ref w))
            {
                if (read) w.Reader = null; else w.Writer = null;
                return false;
            }
            // Cancel sets the flag before it looks here (under this lock): if it looked already, nobody else will.
            if (!op.CancelRequested) return true;
            Take(op, ref w);
        }
        op.Complete(-Libc.ECANCELED);
        return true;
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
        EpollEvent* events = stackalloc EpollEvent[Max];
        try
        {
            while (true)
            {
                int n = EpollWait(_epfd, events, Max, -1);
                if (n < 0 && Libc.Errno != Libc.EINTR) break;
                for (int i = 0; i < n; i++)
                {
                    if (events[i].Data == WakeMark) goto done;
                    Dispatch((int)events[i].Data, events[i].Events);
                }
            }
        }
        catch { /* nothing may escape a thread */ }
    done:
        Libc.Close(_wakeFd);
        Libc.Close(_epfd);
    }

    void Dispatch(int fd, uint events)
    {
        IoOp? reader = null, writer = null;
        lock (_lock)
        {
            ref Waiters w = ref CollectionsMarshal.GetValueRefOrNullRef(_fds, fd);
            if (Unsafe.IsNullRef(ref w)) return;
            if ((events & (EpollIn | EpollErr | EpollHup | EpollRdHup)) != 0 && w.Reader is IoOp r) { reader = r; Take(r, ref w); }
            if ((events & (EpollOut | EpollErr | EpollHup)) != 0 && w.Writer is IoOp x) { writer = x; Take(x, ref w); }
            if (w.Reader is not null || w.Writer is not null) Register(fd, ref w); // the other direction still waits
        }
        Retry(reader);
        Retry(writer);
    }

    /// <summary>The fd was ready: try the operation again; if it would still block, wait again.</summary>
    void Retry(IoOp? op)
    {
        if (op is null) return;
        long r = op.Kind == IoKind.StreamRead ? StreamNow.Read(op) : StreamNow.Write(op);
        if (r == -Libc.EAGAIN && Arm(op)) return;
        op.Complete(r == -Libc.EAGAIN ? -Libc.ECANCELED : r); // could not wait again: only when stopping
    }

    /// <summary>Removes a waiting operation (under _lock).</summary>
    static void Take(IoOp op, ref Waiters w)
    {
        if (w.Reader == op) w.Reader = null;
        else if (w.Writer == op) w.Writer = null;
    }

    /// <summary>(Re-)arms the fd for the directions that have a waiter (under _lock).</summary>
    bool Register(int fd, ref Waiters w)
    {
        EpollEvent ev = new()
        {
            Events = EpollOneShot | EpollRdHup | (w.Reader is not null ? EpollIn : 0) | (w.Writer is not null ? EpollOut : 0),
            Data = (ulong)(uint)fd,
        };
        // A fired one-shot registration stays in the interest list, disabled: MOD re-enables it. The fd may have
        // been closed (which drops its registration) and its number reused since: MOD then says ENOENT and ADD is
        // right; EEXIST after an ADD means MOD is.
        int op = w.Registered ? EpollCtlMod : EpollCtlAdd;
        if (EpollCtl(_epfd, op, fd, &ev) != 0)
        {
            int e = Libc.Errno;
            int other = e == ENOENT ? EpollCtlAdd : e == EEXIST ? EpollCtlMod : 0;
            if (other == 0 || EpollCtl(_epfd, other, fd, &ev) != 0) return false;
        }
        w.Registered = true;
        return true;
    }
}
