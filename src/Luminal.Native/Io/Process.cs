using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>luminal_process_options.</summary>
[Interop.CStruct("luminal_process_options")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeProcessOptions
{
    public nuint StructSize;
    public byte* Path;
    public byte** Argv;
    public byte** Envp;
    public byte* Cwd;
    public uint StdinMode, StdoutMode, StderrMode;
    public uint Reserved;
}

/// <summary>luminal_process: a spawned child, its pidfd, and the parent's ends of its pipes.</summary>
[Interop.CStruct("luminal_process")]
[StructLayout(LayoutKind.Sequential)]
struct NativeProcess
{
    public int Pid;
    public int PidFd;
    public int StdinFd, StdoutFd, StderrFd;
    public int Reserved;
}

/// <summary>
/// luminal_process_spawn: posix_spawnp(3) with file actions for the child's stdio (inherit, /dev/null, or one end
/// of a pipe whose other end — non-blocking, close-on-exec — the parent keeps), its working directory, SIGPIPE back
/// to its default and an empty signal mask (the runtime ignores SIGPIPE; a child must not inherit that), then a
/// pidfd to wait on. A plain call: spawning does not wait for the program (glibc's posix_spawn returns once the
/// child has exec'ed or failed to).
/// </summary>
static unsafe class Spawner
{
    public const uint Inherit = 0, Null = 1, Pipe = 2;
    static readonly byte* DevNull = CopyOf("/dev/null"u8);

    static byte* CopyOf(System.ReadOnlySpan<byte> s)
    {
        var p = (byte*)NativeMemory.AllocZeroed((nuint)s.Length + 1);
        s.CopyTo(new System.Span<byte>(p, s.Length));
        return p;
    }

    /// <summary>0, or an errno (and nothing left open).</summary>
    public static int Spawn(in NativeProcessOptions o, NativeProcess* p)
    {
        *p = new NativeProcess { Pid = -1, PidFd = -1, StdinFd = -1, StdoutFd = -1, StderrFd = -1 };
        // (No stackalloc initializers here: one inside an export's try crashed NativeAOT with a fail-fast.)
        int* child = stackalloc int[3]; // the child's ends of the pipes
        child[0] = child[1] = child[2] = -1;
        uint* modes = stackalloc uint[3];
        modes[0] = o.StdinMode;
        modes[1] = o.StdoutMode;
        modes[2] = o.StderrMode;
        byte* block = (byte*)NativeMemory.AllocZeroed(3 * Libc.SpawnStructBytes);
        void* fa = block, attr = block + Libc.SpawnStructBytes, sigs = block + 2 * Libc.SpawnStructBytes;
        Libc.SpawnActionsInit(fa);
        Libc.SpawnAttrInit(attr);
        int err = 0;
        try
        {
            for (int i = 0; i < 3 && err == 0; i++)
            {
                if (modes[i] == Null) err = Libc.SpawnActionsOpen(fa, i, DevNull, Libc.O_RDWR, 0);
                else if (modes[i] == Pipe) err = PipeFor(i, fa, child, p);
            }
            if (err == 0 && o.Cwd != null) err = Libc.SpawnActionsChdir(fa, o.Cwd);
            if (err == 0)
            {
                Libc.SigEmptySet(sigs);
                Libc.SigAddSet(sigs, Libc.SIGPIPE);
                Libc.SpawnAttrSetSigDefault(attr, sigs);
                Libc.SigEmptySet(sigs);
                Libc.SpawnAttrSetSigMask(attr, sigs);
                err = Libc.SpawnAttrSetFlags(attr, Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSIGMASK);
            }
            if (err == 0)
            {
                byte** argv = o.Argv;
                byte** own = stackalloc byte*[2];
                own[0] = o.Path;
                own[1] = null;
                if (argv == null) argv = own;
                byte** envp = o.Envp != null ? o.Envp : Libc.Environ();
                if (envp == null) envp = own + 1; // no environment to inherit: an empty one (own[1] is NULL)
                int pid;
                err = Libc.SpawnP(&pid, o.Path, fa, attr, argv, envp);
                if (err == 0)
                {
                    p->Pid = pid;
                    p->PidFd = Libc.PidfdOpen(pid); // -1 before Linux 5.3: waits poll instead
                }
            }
        }
        finally
        {
            for (int i = 0; i < 3; i++) if (child[i] >= 0) Libc.Close(child[i]);
            Libc.SpawnActionsDestroy(fa);
            Libc.SpawnAttrDestroy(attr);
            NativeMemory.Free(block);
        }
        if (err != 0) Release(p);
        return err;
    }

    /// <summary>A pipe for the child's fd <paramref name="i"/>: the child's end dup2'ed there, ours non-blocking.</summary>
    static int PipeFor(int i, void* fa, int* child, NativeProcess* p)
    {
        int* fds = stackalloc int[2];
        if (Libc.Pipe2(fds, Libc.O_CLOEXEC) != 0) return Libc.Errno;
        int ours = i == 0 ? fds[1] : fds[0];
        child[i] = i == 0 ? fds[0] : fds[1];
        if (i == 0) p->StdinFd = ours; else if (i == 1) p->StdoutFd = ours; else p->StderrFd = ours;
        Libc.FcntlSet(ours, Libc.F_SETFL, Libc.O_NONBLOCK);
        return Libc.SpawnActionsDup2(fa, child[i], i); // dup2 clears close-on-exec on the child's copy
    }

    /// <summary>Closes the pidfd and every pipe end still held, and marks them -1.</summary>
    public static void Release(NativeProcess* p)
    {
        if (p->PidFd >= 0) Libc.Close(p->PidFd);
        if (p->StdinFd >= 0) Libc.Close(p->StdinFd);
        if (p->StdoutFd >= 0) Libc.Close(p->StdoutFd);
        if (p->StderrFd >= 0) Libc.Close(p->StderrFd);
        p->PidFd = p->StdinFd = p->StdoutFd = p->StderrFd = -1;
    }
}
