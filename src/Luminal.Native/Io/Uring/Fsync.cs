namespace Luminal.Io.Uring;

/// <summary>luminal_file_fsync on io_uring: IORING_OP_FSYNC (data and metadata).</summary>
static unsafe class Fsync
{
    public static UringOp Row => new(&Prepare);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpFsync;
        sqe->Fd = op.Args<FdArgs>().Fd;
    }
}
