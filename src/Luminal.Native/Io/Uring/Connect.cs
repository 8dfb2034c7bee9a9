namespace Luminal.Io.Uring;

/// <summary>
/// luminal_tcp_connect on io_uring: a socket is created first (socket(2) never blocks), then IORING_OP_CONNECT to
/// the sockaddr the export prepared (op.Scratch). On failure the socket is closed.
/// </summary>
static unsafe class Connect
{
    public static long CreateSocket(IoOp op)
    {
        int fd = Libc.Socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        op.Fd = fd;
        return 0;
    }

    public static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpConnect;
        sqe->Fd = op.Fd;
        sqe->Addr = (ulong)op.Scratch;
        sqe->Off = (ulong)sizeof(Libc.SockaddrIn);
    }

    public static long Finish(IoOp op, int res)
    {
        if (res >= 0) return op.Fd;
        Libc.Close(op.Fd);
        return res;
    }
}
