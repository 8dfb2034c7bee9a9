using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Scheduler;

/// <summary>
/// The eventfd of a current-thread runtime (luminal_runtime_wakeup_fd): readable when there is work to run. Any
/// thread signals it; only the driving thread drains it and waits on it. Closing and signalling share a lock, so a
/// signal never writes to a descriptor number that was closed (and maybe reused by the host) meanwhile.
/// </summary>
sealed unsafe partial class WakeupFd
{
    const int EfdCloexec = 0x80000, EfdNonblock = 0x800;
    const short PollIn = 1;

    readonly object _lock = new();
    int _fd;

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initval, int flags);
    [LibraryImport("libc", EntryPoint = "ppoll", SetLastError = true)]
    private static partial int Ppoll(Io.Libc.PollFd* fds, nuint n, Timespec* timeout, void* sigmask);

    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Sec, Nsec; }

    WakeupFd(int fd) => _fd = fd;

    /// <summary>A new eventfd, or null if the process is out of descriptors.</summary>
    public static WakeupFd? Create()
    {
        int fd = EventFd(0, EfdCloexec | EfdNonblock);
        return fd < 0 ? null : new WakeupFd(fd);
    }

    /// <summary>The descriptor, or -1 once closed.</summary>
    public int Fd => Volatile.Read(ref _fd);

    /// <summary>Makes the fd readable (any thread).</summary>
    public void Signal()
    {
        ulong one = 1;
        lock (_lock)
            if (_fd >= 0) Io.Libc.Write(_fd, &one, sizeof(ulong)); // EAGAIN only if the counter is saturated: readable anyway
    }

    /// <summary>Makes it unreadable again (the driving thread, before it looks at the queues).</summary>
    public void Drain()
    {
        ulong value;
        int fd = _fd;
        if (fd >= 0) Io.Libc.Read(fd, &value, sizeof(ulong)); // non-blocking: EAGAIN when nothing was signalled
    }

    /// <summary>Sleeps until the fd is readable or <paramref name="timeoutNs"/> passes (-1 = no timeout). The
    /// driving thread only.</summary>
    public void Wait(long timeoutNs)
    {
        Io.Libc.PollFd p = new() { Fd = _fd, Events = PollIn };
        if (p.Fd < 0) return;
        if (timeoutNs < 0) { Ppoll(&p, 1, null, null); return; }
        Timespec ts = new() { Sec = timeoutNs / 1_000_000_000, Nsec = timeoutNs % 1_000_000_000 };
        Ppoll(&p, 1, &ts, null);
    }

    /// <summary>Closes the descriptor (shutdown, on the driving thread).</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (_fd < 0) return;
            Io.Libc.Close(_fd);
            _fd = -1;
        }
    }
}
