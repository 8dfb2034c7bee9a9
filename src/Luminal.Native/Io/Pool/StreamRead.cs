namespace Luminal.Io.Pool;

/// <summary>
/// luminal_stream_read on the pool backend. TryNow: a read that cannot block (<see cref="NonBlocking"/>), on the
/// submitting thread and again on the reactor thread each time the fd is readable; no thread waits. Run: on a pool
/// thread, wait until readable, read(2) — only for what the <see cref="Reactor"/> cannot take (a file epoll
/// refuses, or one only a blocking call can read). Cancel: a waiting read completes at once. Releases nothing.
/// </summary>
static unsafe class StreamRead
{
    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op) => NonBlocking.Try(op, read: true);

    static long Run(IoOp op)
    {
        ref StreamArgs a = ref op.Args<StreamArgs>();
        while (true)
        {
            long ready = Readiness.Wait(op, a.Fd, Libc.POLLIN);
            if (ready < 0) return ready;
            nint n = Libc.Read(a.Fd, a.Buffer, (nuint)a.Length);
            if (n >= 0) return n;
            int e = Libc.Errno;
            if (e != Libc.EAGAIN && e != Libc.EINTR) return -e;
        }
    }
}
