namespace Luminal.Io.Uring;

/// <summary>luminal_file_close on io_uring: IORING_OP_CLOSE.</summary>
static unsafe class Close
{
    public static UringOp Row => new(&Prepare);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpClose;
        sqe->Fd = op.Args<FdArgs>().Fd;
    }
}
