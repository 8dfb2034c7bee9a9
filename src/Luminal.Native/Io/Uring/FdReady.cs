namespace Luminal.Io.Uring;

/// <summary>
/// luminal_fd_ready on io_uring: IORING_OP_POLL_ADD (one shot) for the one direction asked; the kernel completes
/// it with the poll mask once the fd is ready (at once if it already is). The result is that mask in luminal's
/// bits (<see cref="ReadyMask"/>). Cancel: IORING_OP_ASYNC_CANCEL. Releases nothing.
/// </summary>
static unsafe class FdReady
{
    const byte OpPollAdd = 6;

    public static UringOp Row => new(&Prepare, finish: &Finish);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref FdReadyArgs a = ref op.Args<FdReadyArgs>();
        sqe->Opcode = OpPollAdd;
        sqe->Fd = a.Fd;
        sqe->OpFlags = (uint)(ushort)a.Events; // poll32_events: POLLERR and POLLHUP are always reported too
    }

    static long Finish(IoOp op, int res) => res < 0 ? res : ReadyMask.Of(res);
}
