namespace Luminal.Io.Uring;

/// <summary>
/// luminal_process_wait on io_uring: a waitpid(WNOHANG) first (a child that already exited is the whole
/// operation); else IORING_OP_POLL_ADD on the child's pidfd, which becomes readable when it exits, then the reap.
/// The result is the wait status. Without a pidfd (io_uring but a kernel before 5.3) the wait says ENOSYS: use the
/// pool backend there. Releases nothing.
/// </summary>
static unsafe class ProcessWait
{
    const byte OpPollAdd = 6;

    public static UringOp Row => new(&Prepare, begin: &Begin, finish: &Finish);

    static long Begin(IoOp op)
    {
        ref ProcessWaitArgs a = ref op.Args<ProcessWaitArgs>();
        long now = ProcessWaitArgs.TryReap(a.Pid);
        if (now != ProcessWaitArgs.Running) return now;
        return a.PidFd >= 0 ? UringOp.Pending : -Libc.ENOSYS;
    }

    static void Prepare(Sqe* sqe, IoOp op)
    {
        sqe->Opcode = OpPollAdd;
        sqe->Fd = op.Args<ProcessWaitArgs>().PidFd;
        sqe->OpFlags = (uint)Libc.POLLIN;
    }

    static long Finish(IoOp op, int res)
    {
        if (res < 0) return res;
        long now = ProcessWaitArgs.TryReap(op.Args<ProcessWaitArgs>().Pid);
        return now == ProcessWaitArgs.Running ? UringOp.Pending : now; // readable means exited: Pending cannot last
    }
}
