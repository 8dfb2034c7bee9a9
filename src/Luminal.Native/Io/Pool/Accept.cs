namespace Luminal.Io.Pool;

/// <summary>
/// luminal_tcp_accept on the pool backend, without a thread waiting: TryNow makes accept4(2) on the submitting
/// thread and, while no connection is waiting (EAGAIN), waits in the <see cref="Reactor"/> until the listener is
/// readable, then tries again there. (A waiting accept used to hold a pool thread, so with max_blocking_threads = 1
/// a connect queued behind it never ran.) A listener in blocking mode (not made by luminal_tcp_listen) could block
/// accept4 even when readable — another acceptor may take the connection first — so it waits for readiness in the
/// reactor and accepts on a pool thread (Run). Cancel: a waiting accept completes at once. The accepted socket is
/// non-blocking and close-on-exec; one nobody read is closed (<see cref="FdArgs.ReleaseFd"/>).
/// </summary>
static unsafe class Accept
{
    const int Unknown = 0, NonBlockingListener = 1, BlockingListener = 2; // FdArgs.Mode, found at the first try

    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref FdArgs a = ref op.Args<FdArgs>();
        if (a.Mode == Unknown)
        {
            int fl = Libc.Fcntl(a.Fd, Libc.F_GETFL);
            if (fl < 0) return -Libc.Errno;
            a.Mode = (fl & Libc.O_NONBLOCK) != 0 ? NonBlockingListener : BlockingListener;
        }
        if (a.Mode == BlockingListener) return op.WaitUntilReady(a.Fd, read: true, thenRun: true);
        while (true)
        {
            int fd = Libc.Accept4(a.Fd, null, null, Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
            if (fd >= 0) return fd;
            int e = Libc.Errno;
            if (e == Libc.EINTR) continue;
            return e == Libc.EAGAIN ? op.WaitUntilReady(a.Fd, read: true) : -e;
        }
    }

    /// <summary>On a pool thread: wait until the listener is readable, accept4(2).</summary>
    static long Run(IoOp op)
    {
        int listener = op.Args<FdArgs>().Fd;
        while (true)
        {
            long ready = Readiness.Wait(op, listener, Libc.POLLIN);
            if (ready < 0) return ready;
            int fd = Libc.Accept4(listener, null, null, Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
            if (fd >= 0) return fd;
            int e = Libc.Errno;
            if (e != Libc.EAGAIN && e != Libc.EINTR) return -e; // EAGAIN: another accept took it first
        }
    }
}
