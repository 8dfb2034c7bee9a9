namespace Luminal.Io.Pool;

/// <summary>
/// How the pool backend tries a stream read or write without blocking the thread that tries it (a worker at
/// submission, the <see cref="Reactor"/> thread when the fd is ready). Found at the first try and kept in
/// op.Flags:
/// <list type="bullet">
/// <item><b>Socket</b>: recv/send with MSG_DONTWAIT.</item>
/// <item><b>NoWait</b> (pipes since Linux 6.4, eventfds, ...): preadv2/pwritev2 with RWF_NOWAIT at the current
/// position. It does not depend on the file's O_NONBLOCK flag, so neither a pipe in blocking mode (as pipe(2) and
/// a shell make them) nor a byte another reader took between the readiness event and our read can block us: the
/// call says EAGAIN and the operation waits again.</item>
/// <item><b>NonBlockingFile</b>: the kernel refuses RWF_NOWAIT for this file, but the file is O_NONBLOCK (e.g.
/// luminal_pipe's pipes before Linux 6.4): plain read/write.</item>
/// <item><b>Blocking</b>: neither: never called here. Its readiness is awaited in the reactor, and the call itself
/// is made on a pool thread (where it may block if another reader empties the file first — that thread, never
/// the reactor's).</item>
/// </list>
/// Not chosen: setting O_NONBLOCK on the caller's fd (the flag belongs to the open file, shared with every other
/// holder — a parent shell, another process — whom it would break), and readiness + FIONREAD (another reader can
/// empty the pipe between the check and the read, which then blocks).
/// </summary>
static unsafe class NonBlocking
{
    public const int Unknown = 0, Socket = 1, NoWait = 2, NonBlockingFile = 3, Blocking = 4;
    const int MsgDontWait = 0x40, ENOTSOCK = 88, ENOSYS = 38;

    /// <summary>The result (bytes, or a negated errno), or -EAGAIN: wait until the fd is ready (then try again
    /// here, or for <see cref="Blocking"/>, on a pool thread).</summary>
    public static long Try(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        bool read = op.Kind == IoKind.StreamRead;
        nuint len = (nuint)op.Length;
        while (true)
        {
            nint n;
            switch (op.Flags)
            {
                case Unknown or Socket:
                    n = read ? Libc.Recv(op.Fd, op.Buffer, len, MsgDontWait)
                        : Libc.Send(op.Fd, op.Buffer, len, Libc.MSG_NOSIGNAL | MsgDontWait);
                    if (n < 0 && Libc.Errno == ENOTSOCK) { op.Flags = NoWait; continue; }
                    op.Flags = Socket;
                    break;
                case NoWait:
                    var iov = new Libc.IoVec { Base = op.Buffer, Len = len };
                    n = read ? Libc.Preadv2(op.Fd, &iov, 1, -1, Libc.RWF_NOWAIT)
                        : Libc.Pwritev2(op.Fd, &iov, 1, -1, Libc.RWF_NOWAIT);
                    if (n < 0 && Libc.Errno is Libc.EOPNOTSUPP or Libc.EINVAL or ENOSYS)
                    {
                        // This file (or kernel) has no RWF_NOWAIT. A genuine EINVAL comes back from read(2) itself.
                        int fl = Libc.Fcntl(op.Fd, Libc.F_GETFL);
                        op.Flags = fl >= 0 && (fl & Libc.O_NONBLOCK) != 0 ? NonBlockingFile : Blocking;
                        continue;
                    }
                    break;
                case NonBlockingFile:
                    n = read ? Libc.Read(op.Fd, op.Buffer, len) : Libc.Write(op.Fd, op.Buffer, len);
                    break;
                default:
                    return -Libc.EAGAIN;
            }
            if (n >= 0) return n;
            int e = Libc.Errno;
            if (e == Libc.EINTR) continue;
            return e == Libc.EAGAIN ? -Libc.EAGAIN : -e;
        }
    }
}
