namespace Luminal.Io.Pool;

/// <summary>
/// luminal_tcp_connect (and _connect_addr, luminal_unix_connect) on the pool backend, without a thread waiting: TryNow creates a non-blocking socket and
/// connects; EINPROGRESS (the usual answer) waits in the <see cref="Reactor"/> until the socket is writable, and
/// TryNow then asks SO_ERROR how it went. (A connect in progress used to hold a pool thread.) Run does the same on a
/// pool thread where the reactor is unavailable. The socket lives in <see cref="ConnectArgs.Fd"/> until it becomes
/// the result or is closed; a connect cancelled while it waits leaves it to <see cref="ConnectArgs.Release"/>.
/// </summary>
static unsafe class Connect
{
    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref ConnectArgs a = ref op.Args<ConnectArgs>();
        if (a.Fd >= 0) return Outcome(ref a); // writable: connected, or failed
        int fd = Libc.Socket(a.Addr->Family, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        if (Libc.Connect(fd, a.Addr->Raw, a.Addr->Len) == 0) return fd;
        int e = Libc.Errno;
        if (e != Libc.EINPROGRESS)
        {
            Libc.Close(fd);
            return -e;
        }
        a.Fd = fd;
        return op.WaitUntilReady(fd, read: false);
    }

    /// <summary>The connect in progress has ended: the socket (handed over as the result), or its error.</summary>
    static long Outcome(ref ConnectArgs a)
    {
        int fd = a.Fd, err = 0;
        uint len = sizeof(int);
        a.Fd = -1;
        if (Libc.Getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &err, &len) == 0 && err == 0) return fd;
        int e = err != 0 ? err : Libc.Errno;
        Libc.Close(fd);
        return -e;
    }

    /// <summary>On a pool thread: connect (unless TryNow started it), wait until writable, SO_ERROR.</summary>
    static long Run(IoOp op)
    {
        ref ConnectArgs a = ref op.Args<ConnectArgs>();
        if (a.Fd < 0)
        {
            long now = TryNow(op);
            if (now != -Libc.EAGAIN) return now;
        }
        long ready = Readiness.Wait(op, a.Fd, Libc.POLLOUT);
        return ready < 0 ? ready : Outcome(ref a);
    }
}
