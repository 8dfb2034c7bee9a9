namespace Luminal.Io.Uring;

/// <summary>
/// luminal_stream_read on io_uring: (after StreamNow's non-blocking try) IORING_OP_READ at the
/// current position (offset -1), which works for sockets and pipes alike; the kernel waits for data itself.
/// </summary>
static unsafe class StreamRead
{
    public static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpRead;
        sqe->Fd = op.Fd;
        sqe->Addr = (ulong)op.Buffer;
        sqe->Len = (uint)System.Math.Min(op.Length, int.MaxValue);
        sqe->Off = ulong.MaxValue;
    }
}
