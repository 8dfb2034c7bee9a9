namespace Luminal.Io.Pool;

/// <summary>luminal_tcp_accept on the blocking pool: wait until the listener is readable, accept4(2).</summary>
static unsafe class Accept
{
    public static long Run(IoOp op)
    {
        while (true)
        {
            long ready = Readiness.Wait(op, Libc.POLLIN);
            if (ready < 0) return ready;
            int fd = Libc.Accept4(op.Fd, null, null, Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
            if (fd >= 0) return fd;
            int e = Libc.Errno;
            if (e != Libc.EAGAIN && e != Libc.EINTR) return -e; // EAGAIN: another accept took it first
        }
    }
}
