namespace Luminal.Io.Pool;

/// <summary>
/// luminal_tcp_connect on the blocking pool: a non-blocking socket, connect(2), wait until writable, then
/// SO_ERROR says how it went. The sockaddr was prepared by the export (op.Scratch).
/// </summary>
static unsafe class Connect
{
    public static long Run(IoOp op)
    {
        int fd = Libc.Socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        if (Libc.Connect(fd, (Libc.SockaddrIn*)op.Scratch, (uint)sizeof(Libc.SockaddrIn)) == 0) return fd;
        int e = Libc.Errno;
        if (e == Libc.EINPROGRESS)
        {
            op.Fd = fd;
            long ready = Readiness.Wait(op, Libc.POLLOUT);
            int err = 0;
            uint len = sizeof(int);
            if (ready == 0 && Libc.Getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &err, &len) == 0 && err == 0) return fd;
            e = ready < 0 ? (int)-ready : err != 0 ? err : Libc.Errno;
        }
        Libc.Close(fd);
        return -e;
    }
}
