namespace Luminal.Io;

/// <summary>
/// The readiness-first step both backends take for sockets before queueing a stream operation: one non-blocking
/// recv(2)/send(2). When data (or buffer room) is already there — most of the time in request/response traffic —
/// that is the whole operation; only "would block" goes to the ring or to a pool thread. Pipes (ENOTSOCK) always
/// take the queued path.
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

    /// <summary>
    /// Tries a stream operation now; true (and completed) if that was all it took. <paramref name="socketBusy"/>:
    /// it is a socket that would block (readiness can tell when to try again; a pipe or an EINTR cannot say).
    /// </summary>
    public static bool TryComplete(IoOp op, out bool socketBusy)
    {
        socketBusy = false;
        long now = op.Kind switch
        {
            IoKind.StreamRead => Read(op),
            IoKind.StreamWrite => Write(op),
            _ => -Libc.EAGAIN,
        };
        if (now != -Libc.EAGAIN)
        {
            op.Complete(now);
            return true;
        }
        socketBusy = op.Kind is IoKind.StreamRead or IoKind.StreamWrite && Libc.Errno == Libc.EAGAIN;
        return false;
    }
}
