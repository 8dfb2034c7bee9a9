namespace Luminal.Io.Uring;

/// <summary>luminal_file_open on io_uring: IORING_OP_OPENAT relative to the working directory, O_CLOEXEC added.</summary>
static unsafe class Open
{
    const int AtFdCwd = -100;

    public static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpOpenAt;
        sqe->Fd = AtFdCwd;
        sqe->Addr = (ulong)op.Path;
        sqe->Len = op.Mode;
        sqe->OpFlags = (uint)(op.Flags | Libc.O_CLOEXEC);
    }
}
