namespace Luminal.Io.Uring;

/// <summary>luminal_fs_unlink and luminal_fs_remove_dir on io_uring: IORING_OP_UNLINKAT (Linux 5.11), with
/// AT_REMOVEDIR for a directory. Releases the path copy.</summary>
static unsafe class Unlink
{
    const byte OpUnlinkAt = 36;

    public static UringOp Row => new(&Prepare);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        sqe->Opcode = OpUnlinkAt;
        sqe->Fd = Libc.AT_FDCWD;
        sqe->Addr = (ulong)a.Path;
        sqe->OpFlags = (uint)a.Flags; // unlink_flags
    }
}
