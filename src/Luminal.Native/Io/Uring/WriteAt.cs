namespace Luminal.Io.Uring;

/// <summary>
/// luminal_file_write_at on io_uring: IORING_OP_WRITE from the caller's buffer at the offset, with the task's
/// ioprio (after the same seekability check as <see cref="ReadAt"/>). The result is res. Releases nothing.
/// </summary>
static unsafe class WriteAt
{
    public static UringOp Row => new(&Prepare, begin: &ReadAt.CheckSeekable);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref ReadAtArgs a = ref op.Args<ReadAtArgs>();
        sqe->Opcode = Sqe.OpWrite;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)a.Buffer;
        sqe->Len = (uint)System.Math.Min(a.Length, int.MaxValue);
        sqe->Off = (ulong)a.Offset;
        sqe->IoPrio = IoPriority.Of(op.Priority);
    }
}
