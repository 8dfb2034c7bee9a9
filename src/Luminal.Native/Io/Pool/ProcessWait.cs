namespace Luminal.Io.Pool;

/// <summary>
/// luminal_process_wait on the pool backend: TryNow reaps with waitpid(WNOHANG); a child still running is waited
/// for in the <see cref="Reactor"/>'s epoll on its pidfd (readable once it exits; no thread waits), then reaped
/// there. Without a pidfd (before Linux 5.3) the reactor refuses the wait and Run polls waitpid on a pool thread
/// every <see cref="Readiness.SliceMs"/> (cancellable between polls). The result is the wait status.
/// </summary>
static unsafe class ProcessWait
{
    public static PoolOp Row => new(&Run, &TryNow);

    static long TryNow(IoOp op)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref ProcessWaitArgs a = ref op.Args<ProcessWaitArgs>();
        long now = ProcessWaitArgs.TryReap(a.Pid);
        return now != ProcessWaitArgs.Running ? now : op.WaitUntilReady(a.PidFd, read: true, thenRun: a.PidFd < 0);
    }

    static long Run(IoOp op)
    {
        ref ProcessWaitArgs a = ref op.Args<ProcessWaitArgs>();
        while (true)
        {
            if (op.CancelRequested) return -Libc.ECANCELED;
            long now = ProcessWaitArgs.TryReap(a.Pid);
            if (now != ProcessWaitArgs.Running) return now;
            System.Threading.Thread.Sleep(Readiness.SliceMs);
        }
    }
}
