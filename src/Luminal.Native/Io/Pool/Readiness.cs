namespace Luminal.Io.Pool;

/// <summary>
/// Waits, on a pool thread, until a socket or pipe is ready — in slices, so a cancelled operation lets go of its
/// thread (and the caller's buffer) within one slice instead of blocking forever on a silent peer. Only for what
/// the <see cref="Reactor"/> cannot take (no epoll, a file epoll refuses, the reactor stopping).
/// </summary>
static unsafe class Readiness
{
    public const int SliceMs = 20;

    /// <summary>0 when ready, -ECANCELED when cancelled, or a negated errno.</summary>
    public static long Wait(IoOp op, int fd, short events)
    {
        if (fd < 0) return -Libc.EBADF; // poll(2) silently ignores negative fds: it would wait forever
        var pfd = new Libc.PollFd { Fd = fd, Events = events };
        while (true)
        {
            if (op.CancelRequested) return -Libc.ECANCELED;
            int n = Libc.Poll(&pfd, 1, SliceMs);
            if (n > 0) return 0; // readable/writable, or an error/hang-up the next call will report
            if (n < 0 && Libc.Errno != Libc.EINTR) return -Libc.Errno;
        }
    }
}
