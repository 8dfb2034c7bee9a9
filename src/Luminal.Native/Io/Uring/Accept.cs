namespace Luminal.Io.Uring;

/// <summary>
/// luminal_tcp_accept on io_uring. First one non-blocking accept4(2) on the submitting thread (as StreamRead tries
/// its recv): with connections waiting in the backlog — a burst of connects — that is the whole operation, so an
/// accept loop drains the backlog in one poll each instead of one ring round trip (CQE, wake, poll) per connection,
/// which let a 10k-connection burst overflow a 1024 backlog (a dropped SYN costs the client a 1 s retransmit; see
/// bench/NOTES.md, many connections). Only "would block" goes to the ring: IORING_OP_ACCEPT (the kernel waits for a
/// connection). A listener in blocking mode (not made by luminal_tcp_listen) goes to the ring at once: its accept4
/// could block. The new socket is non-blocking and close-on-exec; one nobody read is closed
/// (<see cref="FdArgs.ReleaseFd"/>).
/// </summary>
static unsafe class Accept
{
    const int Unknown = 0, NonBlockingListener = 1, BlockingListener = 2; // FdArgs.Mode, found at the first try

    public static UringOp Row => new(&Prepare, begin: &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref FdArgs a = ref op.Args<FdArgs>();
        if (a.Mode == Unknown)
        {
            int fl = Libc.Fcntl(a.Fd, Libc.F_GETFL);
            if (fl < 0) return -Libc.Errno;
            a.Mode = (fl & Libc.O_NONBLOCK) != 0 ? NonBlockingListener : BlockingListener;
        }
        if (a.Mode == BlockingListener) return UringOp.Pending;
        while (true)
        {
            int fd = Libc.Accept4(a.Fd, null, null, Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
            if (fd >= 0) return fd;
            int e = Libc.Errno;
            if (e == Libc.EINTR) continue;
            return e == Libc.EAGAIN ? UringBackend.WouldBlock : -e;
        }
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = Sqe.OpAccept;
        sqe->Fd = op.Args<FdArgs>().Fd;
        sqe->OpFlags = Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK;
    }
}
