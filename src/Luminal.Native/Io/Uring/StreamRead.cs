namespace Luminal.Io.Uring;

/// <summary>
/// luminal_stream_read on io_uring. First one non-blocking recv(2) on the submitting thread: when data is already
/// there — most of the time in request/response traffic — that is the whole operation. "Would block" goes to the
/// ring as IORING_OP_RECV with IORING_RECVSEND_POLL_FIRST: the kernel arms its poll at once instead of trying a
/// receive we already know finds nothing (and a receive is a shorter kernel path than a read: no iterator set-up,
/// no file-position work); data that is there by then still completes it at once. Pipes (ENOTSOCK, from the try
/// or from the ring when a skipped try left it unknown) use IORING_OP_READ at the current position (offset -1); a
/// pipe read that can complete at once does so inside the submitting io_uring_enter. A kernel that refuses the
/// flag (before 5.19: EINVAL) gets plain reads from then on. Cancel: IORING_OP_ASYNC_CANCEL (a waiting read lets
/// go at once). Releases nothing.
/// </summary>
static unsafe class StreamRead
{
    const int UseRead = 1;                 // StreamArgs.Mode: not a socket (0: a socket as far as we know)
    const ushort RecvPollFirst = 1 << 0;   // IORING_RECVSEND_POLL_FIRST (sqe->ioprio of a RECV)
    const byte OpRecv = 27;                // IORING_OP_RECV (5.6)
    static bool s_noPollFirst;             // the kernel refused it once: read as before (racy: a few more refusals)

    public static UringOp Row => new(&Prepare, begin: &TryNow, finish: &Finish);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref StreamArgs a = ref op.Args<StreamArgs>();
        if (s_noPollFirst) a.Mode = UseRead;
        if (RecvHint.SkipTry(a.Fd)) return UringBackend.WouldBlock;
        nint n = Libc.Recv(a.Fd, a.Buffer, (nuint)a.Length, Libc.MSG_DONTWAIT);
        if (n >= 0) return n;
        int e = Libc.Errno;
        if (e == Libc.EAGAIN) RecvHint.WouldBlock(a.Fd);
        else if (e == Libc.ENOTSOCK) a.Mode = UseRead;
        return ToRingIfWouldBlock(e);
    }

    /// <summary>Would block (the SQE may wait for the worker's next flush, see UringBackend.Submit), or not a socket
    /// (a pipe: submit now, it may complete inside the enter). StreamWrite's try uses this too.</summary>
    public static long ToRingIfWouldBlock(int errno) =>
        errno is Libc.EAGAIN or Libc.EINTR ? UringBackend.WouldBlock : errno == Libc.ENOTSOCK ? UringOp.Pending : -errno;

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref StreamArgs a = ref op.Args<StreamArgs>();
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)a.Buffer;
        sqe->Len = (uint)System.Math.Min(a.Length, int.MaxValue);
        if (a.Mode == UseRead)
        {
            sqe->Opcode = Sqe.OpRead;
            sqe->Off = ulong.MaxValue;
        }
        else
        {
            sqe->Opcode = OpRecv;
            sqe->IoPrio = RecvPollFirst;
        }
    }

    /// <summary>A receive refused because the fd is not a socket (ENOTSOCK: a skipped try never found out), or the
    /// flag refused by an older kernel (EINVAL): read instead, submitted again.</summary>
    static long Finish(IoOp op, int res)
    {
        ref StreamArgs a = ref op.Args<StreamArgs>();
        if (a.Mode == UseRead || (res != -Libc.ENOTSOCK && res != -Libc.EINVAL)) return res;
        if (res == -Libc.EINVAL) s_noPollFirst = true;
        a.Mode = UseRead;
        return UringOp.Pending;
    }
}
