namespace Luminal.Io.Uring;

/// <summary>
/// luminal_udp_recv_from on io_uring: one non-blocking recvfrom(2) first (a datagram already queued is the whole
/// operation); "would block" goes to the ring as IORING_OP_RECVMSG, whose msghdr names the caller's address
/// struct: Finish records the length the kernel wrote there. The result is the datagram's size (truncated to the
/// buffer). Releases the msghdr.
/// </summary>
static unsafe class RecvFrom
{
    const byte OpRecvMsg = 10;

    public static UringOp Row => new(&Prepare, begin: &TryNow, finish: &Finish);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        long n = Datagram.TryNow(ref op.Args<DatagramArgs>(), send: false);
        return n == -Libc.EAGAIN ? UringBackend.WouldBlock : n;
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        Libc.MsgHdr* msg = Datagram.Message(ref a);
        if (a.Addr != null) msg->NameLen = NativeSocketAddr.Capacity;
        sqe->Opcode = OpRecvMsg;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)msg;
        sqe->Len = 1;
    }

    static long Finish(IoOp op, int res)
    {
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        if (res >= 0 && a.Addr != null && a.Msg != null) NativeSocketAddr.SetLength(a.Addr, a.Msg->NameLen);
        return res;
    }
}
