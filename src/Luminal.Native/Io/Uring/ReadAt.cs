namespace Luminal.Io.Uring;

/// <summary>
/// luminal_file_read_at on io_uring. First the cached-read try on the submitting thread (<see cref="FileReadTry"/>:
/// a warm file is read right there, and a pipe or socket answers ESPIPE); what the page cache does not hold yet goes
/// to the ring: IORING_OP_READ into the caller's buffer at the offset, with the task's ioprio. The result is res
/// plus what the try read. Cancel: IORING_OP_ASYNC_CANCEL; a read the device already started finishes, and the
/// dropper waits for it (the buffer is never used after the drop). Releases nothing.
/// </summary>
static unsafe class ReadAt
{
    public static UringOp Row => new(&Prepare, begin: &TryCached, finish: &Finish);

    static long TryCached(IoOp op) => FileReadTry.Try(op, UringOp.Pending, slowNeedsSeekCheck: true);

    static long Finish(IoOp op, int res) => FileReadTry.WithDone(op, res);

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
