namespace Luminal.Io.Pool;

/// <summary>
/// luminal_fd_ready on the pool backend: TryNow asks poll(2) with no timeout; not ready yet, it waits in the
/// <see cref="Reactor"/>'s epoll for that direction and asks again there. Run (a file epoll refuses, no reactor):
/// a sliced wait on a pool thread. The result is the mask in luminal's bits (<see cref="ReadyMask"/>).
/// </summary>
static unsafe class FdReady
{
    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref FdReadyArgs a = ref op.Args<FdReadyArgs>();
        long now = PollNow(a.Fd, a.Events);
        return now != 0 ? now : op.WaitUntilReady(a.Fd, read: a.Events == Libc.POLLIN);
    }

    static long Run(IoOp op)
    {
        ref FdReadyArgs a = ref op.Args<FdReadyArgs>();
        while (true)
        {
            long ready = Readiness.Wait(op, a.Fd, a.Events);
            if (ready < 0) return ready;
            long now = PollNow(a.Fd, a.Events);
            if (now != 0) return now;
        }
    }

    /// <summary>The ready mask (&gt; 0), 0 if not ready, or a negated errno (EBADF for a closed fd).</summary>
    static long PollNow(int fd, short events)
    {
        if (fd < 0) return -Libc.EBADF;
        var pfd = new Libc.PollFd { Fd = fd, Events = events };
        while (true)
        {
            int n = Libc.Poll(&pfd, 1, 0);
            if (n < 0 && Libc.Errno == Libc.EINTR) continue;
            if (n < 0) return -Libc.Errno;
            if (n == 0) return 0;
            if ((pfd.Revents & 0x20) != 0) return -Libc.EBADF; // POLLNVAL: as io_uring reports it
            return ReadyMask.Of(pfd.Revents);
        }
    }
}
