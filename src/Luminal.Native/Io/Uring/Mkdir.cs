namespace Luminal.Io.Uring;

/// <summary>luminal_fs_mkdir on io_uring: IORING_OP_MKDIRAT (Linux 5.15) relative to the working directory.
/// Releases the path copy.</summary>
static unsafe class Mkdir
{
    const byte OpMkdirAt = 37;

    public static UringOp Row => new(&Prepare);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        sqe->Opcode = OpMkdirAt;
        sqe->Fd = Libc.AT_FDCWD;
        sqe->Addr = (ulong)a.Path;
        sqe->Len = a.Mode;
    }
}
