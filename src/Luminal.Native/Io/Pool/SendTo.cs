namespace Luminal.Io.Pool;

/// <summary>
/// luminal_udp_send_to on the pool backend: TryNow is one sendto(2) with MSG_DONTWAIT, on the submitting thread
/// and again on the reactor thread whenever the socket is writable (no thread waits); Run, for what the
/// <see cref="Reactor"/> cannot take: a sliced wait on a pool thread, then the call.
/// </summary>
static unsafe class SendTo
{
    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        long n = Datagram.TryNow(ref a, send: true);
        return n == -Libc.EAGAIN ? op.WaitUntilReady(a.Fd, read: false) : n;
    }

    static long Run(IoOp op)
    {
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        while (true)
        {
            long ready = Readiness.Wait(op, a.Fd, Libc.POLLOUT);
            if (ready < 0) return ready;
            long n = Datagram.TryNow(ref a, send: true);
            if (n != -Libc.EAGAIN) return n;
        }
    }
}
