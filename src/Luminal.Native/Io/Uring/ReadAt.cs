namespace Luminal.Io.Uring;

/// <summary>luminal_file_read_at on io_uring: IORING_OP_READ into the caller's buffer, with the task's ioprio.</summary>
static unsafe class ReadAt
{
    public static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpRead;
        sqe->Fd = op.Fd;
        sqe->Addr = (ulong)op.Buffer;
        sqe->Len = (uint)System.Math.Min(op.Length, int.MaxValue);
        sqe->Off = (ulong)op.Offset;
        sqe->IoPrio = IoPriority.Of(op.Priority);
    }
}
