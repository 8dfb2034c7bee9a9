namespace Luminal.Io;

/// <summary>
/// The readiness-first step the io_uring backend takes for sockets before queueing a stream operation: one
/// non-blocking recv(2)/send(2). When data (or buffer room) is already there — most of the time in request/response
/// traffic — that is the whole operation; only "would block" goes to the ring. Pipes (ENOTSOCK) always take the
/// ring (a pipe read that can complete at once does so inside the submitting io_uring_enter). The pool backend's
/// counterpart, which covers pipes too, is Pool/NonBlocking.cs.
/// </summary>
static unsafe class StreamNow
{
    const int MsgDontWait = 0x40, ENOTSOCK = 88;

    /// <summary>The result (bytes, or a negated errno), or -EAGAIN: queue the operation.</summary>
    public static long Read(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        nint n = Libc.Recv(op.Fd, op.Buffer, (nuint)op.Length, MsgDontWait);
        return n >= 0 ? n : Queue(Libc.Errno);
    }

    /// <summary>The result (bytes, or a negated errno), or -EAGAIN: queue the operation.</summary>
    public static long Write(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        nint n = Libc.Send(op.Fd, op.Buffer, (nuint)op.Length, Libc.MSG_NOSIGNAL | MsgDontWait);
        return n >= 0 ? n : Queue(Libc.Errno);
    }

    static long Queue(int errno) => errno is Libc.EAGAIN or Libc.EINTR or ENOTSOCK ? -Libc.EAGAIN : -errno;

    /// <summary>Tries a stream operation now; true (and completed) if that was all it took.</summary>
    public static bool TryComplete(IoOp op)
    {
        long now = op.Kind switch
        {
            IoKind.StreamRead => Read(op),
            IoKind.StreamWrite => Write(op),
            _ => -Libc.EAGAIN,
        };
        if (now == -Libc.EAGAIN) return false;
        op.Complete(now);
        return true;
    }
}
