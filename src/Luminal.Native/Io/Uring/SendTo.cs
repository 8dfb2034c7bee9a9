namespace Luminal.Io.Uring;

/// <summary>
/// luminal_udp_send_to on io_uring: one non-blocking sendto(2) on the submitting thread (a datagram socket with
/// room in its buffer — the usual case — sends at once); only "would block" goes to the ring as
/// IORING_OP_SENDMSG with a msghdr the operation owns. The result is the bytes sent. Releases the msghdr and the
/// address copy (<see cref="DatagramArgs.Release"/>).
/// </summary>
static unsafe class SendTo
{
    const byte OpSendMsg = 9;

    public static UringOp Row => new(&Prepare, begin: &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        long n = Datagram.TryNow(ref op.Args<DatagramArgs>(), send: true);
        return n == -Libc.EAGAIN ? UringBackend.WouldBlock : n;
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        sqe->Opcode = OpSendMsg;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)Datagram.Message(ref a);
        sqe->Len = 1;
        sqe->OpFlags = Libc.MSG_NOSIGNAL;
    }
}
