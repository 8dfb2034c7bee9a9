namespace Luminal.Io.Uring;

/// <summary>luminal_tcp_accept on io_uring: IORING_OP_ACCEPT, the new socket non-blocking and close-on-exec.</summary>
static unsafe class Accept
{
    public static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpAccept;
        sqe->Fd = op.Fd;
        sqe->OpFlags = Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK;
    }
}
