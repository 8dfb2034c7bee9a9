namespace Luminal.Io.Pool;

/// <summary>luminal_stream_read on a pool thread: wait until readable, read(2) what is there. Only for what the
/// <see cref="Reactor"/> cannot take: a file epoll refuses, or one only a blocking call can read (see
/// <see cref="NonBlocking"/>).</summary>
static unsafe class StreamRead
{
    public static long Run(IoOp op)
    {
        while (true)
        {
            long ready = Readiness.Wait(op, Libc.POLLIN);
            if (ready < 0) return ready;
            nint n = Libc.Read(op.Fd, op.Buffer, (nuint)op.Length);
            if (n >= 0) return n;
            int e = Libc.Errno;
            if (e != Libc.EAGAIN && e != Libc.EINTR) return -e;
        }
    }
}
