namespace Luminal.Io;

/// <summary>luminal_process_wait's arguments, and the reap both backends make once the child has exited.</summary>
struct ProcessWaitArgs
{
    public int Pid;
    public int PidFd; // -1: no pidfd (a kernel before 5.3)

    /// <summary>Not exited yet (from <see cref="TryReap"/>).</summary>
    public const long Running = long.MinValue + 1;

    /// <summary>waitpid(WNOHANG): the wait status (≥ 0), <see cref="Running"/>, or a negated errno (ECHILD: not our
    /// child, or already waited for).</summary>
    public static unsafe long TryReap(int pid)
    {
        while (true)
        {
            int status = 0;
            int r = Libc.WaitPid(pid, &status, Libc.WNOHANG);
            if (r == pid) return (uint)status;
            if (r == 0) return Running;
            int e = Libc.Errno;
            if (e != Libc.EINTR) return -e;
        }
    }
}
