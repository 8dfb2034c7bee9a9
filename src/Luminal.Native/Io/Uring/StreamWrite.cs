namespace Luminal.Io.Uring;

/// <summary>
/// luminal_stream_write on io_uring: (after StreamNow's non-blocking try) IORING_OP_SEND with MSG_NOSIGNAL (a closed peer gives EPIPE, never SIGPIPE);
/// if the fd is not a socket (ENOTSOCK: a pipe) it is submitted again as IORING_OP_WRITE.
/// </summary>
static unsafe class StreamWrite
{
    const int ENOTSOCK = 88;
    const int UseWrite = 1; // op.Flags bit: the fd is not a socket

    public static void Prepare(Sqe* sqe, IoOp op)
    {
        bool write = (op.Flags & UseWrite) != 0;
        sqe->Opcode = write ? Sqe.OpWrite : Sqe.OpSend;
        sqe->Fd = op.Fd;
        sqe->Addr = (ulong)op.Buffer;
        sqe->Len = (uint)System.Math.Min(op.Length, int.MaxValue);
        if (write) sqe->Off = ulong.MaxValue;
        else sqe->OpFlags = Libc.MSG_NOSIGNAL;
    }

    /// <summary>True (and switches to write) when a send failed because the fd is a pipe.</summary>
    public static bool NeedsWrite(IoOp op, int res)
    {
        if (res != -ENOTSOCK || (op.Flags & UseWrite) != 0) return false;
        op.Flags |= UseWrite;
        return true;
    }
}
