namespace Luminal.Io.Pool;

/// <summary>
/// luminal_udp_recv_from on the pool backend: TryNow is one recvfrom(2) with MSG_DONTWAIT, on the submitting thread
/// and again on the reactor thread whenever the socket is readable (no thread waits); Run, for what the
/// <see cref="Reactor"/> cannot take: a sliced wait on a pool thread, then the call.
/// </summary>
static unsafe class RecvFrom
{
    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        long n = Datagram.TryNow(ref a, send: false);
        return n == -Libc.EAGAIN ? op.WaitUntilReady(a.Fd, read: true) : n;
    }

    static long Run(IoOp op)
    {
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        while (true)
        {
            long ready = Readiness.Wait(op, a.Fd, Libc.POLLIN);
            if (ready < 0) return ready;
            long n = Datagram.TryNow(ref a, send: false);
            if (n != -Libc.EAGAIN) return n;
        }
    }
}
