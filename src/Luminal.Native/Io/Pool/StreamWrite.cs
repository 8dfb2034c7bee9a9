namespace Luminal.Io.Pool;

/// <summary>
/// luminal_stream_write on a pool thread: wait until writable, then send(2) with MSG_NOSIGNAL (a closed peer
/// gives EPIPE, not SIGPIPE), or write(2) when the fd is not a socket (a pipe). Only for what the
/// <see cref="Reactor"/> cannot take (see <see cref="NonBlocking"/>).
/// </summary>
static unsafe class StreamWrite
{
    const int ENOTSOCK = 88;

    public static long Run(IoOp op)
    {
        while (true)
        {
            long ready = Readiness.Wait(op, Libc.POLLOUT);
            if (ready < 0) return ready;
            nint n = Libc.Send(op.Fd, op.Buffer, (nuint)op.Length, Libc.MSG_NOSIGNAL);
            if (n < 0 && Libc.Errno == ENOTSOCK) n = Libc.Write(op.Fd, op.Buffer, (nuint)op.Length);
            if (n >= 0) return n;
            int e = Libc.Errno;
            if (e != Libc.EAGAIN && e != Libc.EINTR) return -e;
        }
    }
}
