namespace Luminal.Io.Uring;

/// <summary>luminal_file_write_at on io_uring: IORING_OP_WRITE from the caller's buffer, with the task's ioprio.</summary>
static unsafe class WriteAt
{
    public static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpWrite;
        sqe->Fd = op.Fd;
        sqe->Addr = (ulong)op.Buffer;
        sqe->Len = (uint)System.Math.Min(op.Length, int.MaxValue);
        sqe->Off = (ulong)op.Offset;
        sqe->IoPrio = IoPriority.Of(op.Priority);
    }
}
