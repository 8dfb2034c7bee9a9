namespace Luminal.Io.Uring;

/// <summary>luminal_fs_rename on io_uring: IORING_OP_RENAMEAT (Linux 5.11), both paths relative to the working
/// directory. Releases the path copies.</summary>
static unsafe class Rename
{
    const byte OpRenameAt = 35;

    public static UringOp Row => new(&Prepare);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        sqe->Opcode = OpRenameAt;
        sqe->Fd = Libc.AT_FDCWD;            // old dirfd
        sqe->Addr = (ulong)a.Path;          // old path
        sqe->Len = unchecked((uint)Libc.AT_FDCWD); // new dirfd
        sqe->Off = (ulong)a.Path2;          // addr2: new path
    }
}
