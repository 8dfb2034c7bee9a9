namespace Luminal.Io.Uring;

/// <summary>
/// luminal_file_write_at on io_uring: IORING_OP_WRITE from the caller's buffer at the offset, with the task's
/// ioprio. The result is res. Releases nothing.
/// </summary>
static unsafe class WriteAt
{
    public static UringOp Row => new(&Prepare, begin: &CheckSeekable);

    /// <summary>
    /// io_uring ignores the offset on a pipe or socket and waits for room, where pwrite(2) says ESPIPE: one
    /// lseek(2) keeps the two backends' answers the same (and write_at means "at this offset"). (ReadAt's try
    /// gets that answer from its preadv2.)
    /// </summary>
    static long CheckSeekable(IoOp op) =>
        Libc.Lseek(op.Args<ReadAtArgs>().Fd, 0, Libc.SEEK_CUR) >= 0 ? UringOp.Pending : -Libc.Errno;

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
