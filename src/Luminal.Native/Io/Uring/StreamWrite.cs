namespace Luminal.Io.Uring;

/// <summary>
/// luminal_stream_write on io_uring. First one non-blocking send(2) on the submitting thread (room in the socket
/// buffer: done). Otherwise IORING_OP_SEND with MSG_NOSIGNAL (a closed peer gives EPIPE, never SIGPIPE); if the fd
/// is not a socket (ENOTSOCK: a pipe) the SQE is submitted again as IORING_OP_WRITE at the current position.
/// Cancel: IORING_OP_ASYNC_CANCEL. Releases nothing.
/// </summary>
static unsafe class StreamWrite
{
    const int UseWrite = 1; // StreamArgs.Mode: the fd is not a socket

    public static UringOp Row => new(&Prepare, begin: &TryNow, finish: &Finish);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref StreamArgs a = ref op.Args<StreamArgs>();
        nint n = Libc.Send(a.Fd, a.Buffer, (nuint)a.Length, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
        return n >= 0 ? n : StreamRead.ToRingIfWouldBlock(Libc.Errno);
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref StreamArgs a = ref op.Args<StreamArgs>();
        bool write = a.Mode == UseWrite;
        sqe->Opcode = write ? Sqe.OpWrite : Sqe.OpSend;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)a.Buffer;
        sqe->Len = (uint)System.Math.Min(a.Length, int.MaxValue);
        if (write) sqe->Off = ulong.MaxValue;
        else sqe->OpFlags = Libc.MSG_NOSIGNAL;
    }

    /// <summary>A send refused because the fd is a pipe: switch to write and submit again.</summary>
    static long Finish(IoOp op, int res)
    {
        ref StreamArgs a = ref op.Args<StreamArgs>();
        if (res != -Libc.ENOTSOCK || a.Mode == UseWrite) return res;
        a.Mode = UseWrite;
        return UringOp.Pending;
    }
}
