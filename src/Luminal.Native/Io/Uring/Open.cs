namespace Luminal.Io.Uring;

/// <summary>
/// luminal_file_open on io_uring: IORING_OP_OPENAT relative to the working directory, O_CLOEXEC added. The result
/// is the fd; an fd nobody read is closed, and the path copy freed, by <see cref="OpenArgs.Release"/>.
/// </summary>
static unsafe class Open
{
    const int AtFdCwd = -100;

    public static UringOp Row => new(&Prepare);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref OpenArgs a = ref op.Args<OpenArgs>();
        sqe->Opcode = Sqe.OpOpenAt;
        sqe->Fd = AtFdCwd;
        sqe->Addr = (ulong)a.Path;
        sqe->Len = a.Mode;
        sqe->OpFlags = (uint)(a.Flags | Libc.O_CLOEXEC);
    }
}
