namespace Luminal.Io.Uring;

/// <summary>
/// luminal_file_read_at on io_uring: IORING_OP_READ into the caller's buffer at the offset, with the task's ioprio.
/// The result is res (bytes read, or -errno). Cancel: IORING_OP_ASYNC_CANCEL; a read the device already started
/// finishes, and the dropper waits for it (the buffer is never used after the drop). Releases nothing.
/// </summary>
static unsafe class ReadAt
{
    public static UringOp Row => new(&Prepare, begin: &CheckSeekable);

    /// <summary>
    /// io_uring ignores the offset on a pipe or socket and waits for data, where pread(2) says ESPIPE: one
    /// lseek(2) keeps the two backends' answers the same (and read_at means "at this offset"). WriteAt uses it too.
    /// </summary>
    public static long CheckSeekable(IoOp op) =>
        Libc.Lseek(op.Args<ReadAtArgs>().Fd, 0, Libc.SEEK_CUR) >= 0 ? UringOp.Pending : -Libc.Errno;

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref ReadAtArgs a = ref op.Args<ReadAtArgs>();
        sqe->Opcode = Sqe.OpRead;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)a.Buffer;
        sqe->Len = (uint)System.Math.Min(a.Length, int.MaxValue);
        sqe->Off = (ulong)a.Offset;
        sqe->IoPrio = IoPriority.Of(op.Priority);
    }
}
