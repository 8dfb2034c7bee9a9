namespace Luminal.Io.Uring;

/// <summary>luminal_file_read_at on io_uring: IORING_OP_READ into the caller's buffer, with the task's ioprio.</summary>
static unsafe class ReadAt
{
    /// <summary>
    /// io_uring ignores the offset on a pipe or socket and waits for data, where pread(2) says ESPIPE: one
    /// lseek(2) keeps the two backends' answers the same (and read_at means "at this offset").
    /// </summary>
    public static long CheckSeekable(IoOp op) =>
        Libc.Lseek(op.Fd, 0, Libc.SEEK_CUR) >= 0 ? 0 : -Libc.Errno;

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
