namespace Luminal.Io.Pool;

/// <summary>
/// luminal_stream_write on the pool backend. TryNow: a write that cannot block (<see cref="NonBlocking"/>), again
/// on the reactor thread each time the fd is writable. Run: on a pool thread, wait until writable, then send(2)
/// with MSG_NOSIGNAL (a closed peer gives EPIPE, not SIGPIPE), or write(2) when the fd is not a socket (a pipe) —
/// only for what the <see cref="Reactor"/> cannot take. Cancel: a waiting write completes at once.
/// </summary>
static unsafe class StreamWrite
{
    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op) => NonBlocking.Try(op, read: false);

    static long Run(IoOp op)
    {
        ref StreamArgs a = ref op.Args<StreamArgs>();
        while (true)
        {
            long ready = Readiness.Wait(op, a.Fd, Libc.POLLOUT);
            if (ready < 0) return ready;
            nint n = Libc.Send(a.Fd, a.Buffer, (nuint)a.Length, Libc.MSG_NOSIGNAL);
            if (n < 0 && Libc.Errno == Libc.ENOTSOCK) n = Libc.Write(a.Fd, a.Buffer, (nuint)a.Length);
            if (n >= 0) return n;
            int e = Libc.Errno;
            if (e != Libc.EAGAIN && e != Libc.EINTR) return -e;
        }
    }
}
