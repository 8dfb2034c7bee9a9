namespace Luminal.Io.Uring;

/// <summary>
/// luminal_tcp_connect, luminal_tcp_connect_addr and luminal_unix_connect on io_uring: a socket is created first (socket(2) never blocks), then IORING_OP_CONNECT to
/// the address in <see cref="ConnectArgs"/>. The result is the socket; on failure it is closed here. A connect
/// cancelled before it finished leaves its socket in the args, for <see cref="ConnectArgs.Release"/>.
/// </summary>
static unsafe class Connect
{
    public static UringOp Row => new(&Prepare, begin: &CreateSocket, finish: &Finish);

    static long CreateSocket(IoOp op)
    {
        int fd = Libc.Socket(op.Args<ConnectArgs>().Addr->Family, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        op.Args<ConnectArgs>().Fd = fd;
        return UringOp.Pending;
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref ConnectArgs a = ref op.Args<ConnectArgs>();
        sqe->Opcode = Sqe.OpConnect;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)a.Addr->Raw;
        sqe->Off = a.Addr->Len;
    }

    /// <summary>Also called when the ring refused the SQE (res = that error).</summary>
    static long Finish(IoOp op, int res)
    {
        ref ConnectArgs a = ref op.Args<ConnectArgs>();
        int fd = a.Fd;
        a.Fd = -1; // the socket becomes the result, or is closed
        if (res >= 0) return fd;
        Libc.Close(fd);
        return res;
    }
}
