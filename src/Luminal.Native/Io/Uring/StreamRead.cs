namespace Luminal.Io.Uring;

/// <summary>
/// luminal_stream_read on io_uring. First one non-blocking recv(2) on the submitting thread: when data is already
/// there — most of the time in request/response traffic — that is the whole operation. Only "would block" (and
/// pipes: ENOTSOCK; a pipe read that can complete at once does so inside the submitting io_uring_enter) goes to
/// the ring: IORING_OP_READ at the current position (offset -1), for sockets and pipes alike; the kernel waits for
/// data itself. Cancel: IORING_OP_ASYNC_CANCEL (a waiting read lets go at once). Releases nothing.
/// </summary>
static unsafe class StreamRead
{
    public static UringOp Row => new(&Prepare, begin: &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref StreamArgs a = ref op.Args<StreamArgs>();
        if (RecvHint.SkipTry(a.Fd)) return UringBackend.WouldBlock;
        nint n = Libc.Recv(a.Fd, a.Buffer, (nuint)a.Length, Libc.MSG_DONTWAIT);
        if (n >= 0) return n;
        int e = Libc.Errno;
        if (e == Libc.EAGAIN) RecvHint.WouldBlock(a.Fd);
        return ToRingIfWouldBlock(e);
    }

    /// <summary>Would block (the SQE may wait for the worker's next flush, see UringBackend.Submit), or not a socket
    /// (a pipe: submit now, it may complete inside the enter). StreamWrite's try uses this too.</summary>
    public static long ToRingIfWouldBlock(int errno) =>
        errno is Libc.EAGAIN or Libc.EINTR ? UringBackend.WouldBlock : errno == Libc.ENOTSOCK ? UringOp.Pending : -errno;

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref StreamArgs a = ref op.Args<StreamArgs>();
        sqe->Opcode = Sqe.OpRead;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)a.Buffer;
        sqe->Len = (uint)System.Math.Min(a.Length, int.MaxValue);
        sqe->Off = ulong.MaxValue;
    }
}
