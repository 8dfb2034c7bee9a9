namespace Luminal.Io.Uring;

/// <summary>
/// luminal_tcp_accept on io_uring: IORING_OP_ACCEPT (the kernel waits for a connection), the new socket
/// non-blocking and close-on-exec. The result is its fd; one nobody read is closed (<see cref="FdArgs.ReleaseFd"/>).
/// </summary>
static unsafe class Accept
{
    public static UringOp Row => new(&Prepare);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpAccept;
        sqe->Fd = op.Args<FdArgs>().Fd;
        sqe->OpFlags = Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK;
    }
}
