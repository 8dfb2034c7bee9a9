namespace Luminal.Io.Pool;

/// <summary>
/// How the pool backend tries a stream read or write without blocking the thread that tries it (a worker at
/// submission, the <see cref="Reactor"/> thread when the fd is ready). Found at the first try and kept in
/// StreamArgs.Mode:
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
    public const int Unknown = 0, Socket = 1, NoWait = 2, NonBlockingFile = 3, Blocking = 4; // StreamArgs.Mode

    /// <summary>The result (bytes, or a negated errno), or -EAGAIN with the wait asked for
    /// (<see cref="IoOp.WaitUntilReady"/>): until the fd is ready, then try again here — or for
    /// <see cref="Blocking"/>, make the call on a pool thread.</summary>
    public static long Try(IoOp op, bool read)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref StreamArgs a = ref op.Args<StreamArgs>();
        nuint len = (nuint)a.Length;
        while (true)
        {
            nint n;
            switch (a.Mode)
            {
                case Unknown or Socket:
                    n = read ? Libc.Recv(a.Fd, a.Buffer, len, Libc.MSG_DONTWAIT)
                        : Libc.Send(a.Fd, a.Buffer, len, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
                    if (n < 0 && Libc.Errno == Libc.ENOTSOCK) { a.Mode = NoWait; continue; }
                    a.Mode = Socket;
                    break;
                case NoWait:
                    var iov = new Libc.IoVec { Base = a.Buffer, Len = len };
                    n = read ? Libc.Preadv2(a.Fd, &iov, 1, -1, Libc.RWF_NOWAIT)
                        : Libc.Pwritev2(a.Fd, &iov, 1, -1, Libc.RWF_NOWAIT);
                    if (n < 0 && Libc.Errno is Libc.EOPNOTSUPP or Libc.EINVAL or Libc.ENOSYS)
                    {
                        // This file (or kernel) has no RWF_NOWAIT. A genuine EINVAL comes back from read(2) itself.
                        int fl = Libc.Fcntl(a.Fd, Libc.F_GETFL);
                        a.Mode = fl >= 0 && (fl & Libc.O_NONBLOCK) != 0 ? NonBlockingFile : Blocking;
                        continue;
                    }
                    break;
                case NonBlockingFile:
                    n = read ? Libc.Read(a.Fd, a.Buffer, len) : Libc.Write(a.Fd, a.Buffer, len);
                    break;
                default:
                    return op.WaitUntilReady(a.Fd, read, thenRun: true);
            }
            if (n >= 0) return n;
            int e = Libc.Errno;
            if (e == Libc.EINTR) continue;
            return e == Libc.EAGAIN ? op.WaitUntilReady(a.Fd, read) : -e;
        }
    }
}
