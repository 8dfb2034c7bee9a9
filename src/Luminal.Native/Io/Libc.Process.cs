using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>The calls luminal_process_* make: posix_spawn (glibc's vfork-style clone, safe in a threaded
/// process), pidfds, waitpid, signals.</summary>
static unsafe partial class Libc
{
    public const int ECHILD = 10, ESRCH = 3, WNOHANG = 1, SIGPIPE = 13, O_RDWR = 2, F_SETFL = 4;
    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;
    /// <summary>Room for posix_spawn_file_actions_t (80 bytes), posix_spawnattr_t (336) and sigset_t (128) on glibc
    /// x86_64 and arm64, with margin.</summary>
    public const int SpawnStructBytes = 512;
    const long SysPidfdOpen = 434, SysPidfdSendSignal = 424;

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int SpawnActionsInit(void* fa);
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int SpawnActionsDestroy(void* fa);
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int SpawnActionsDup2(void* fa, int fd, int newFd);
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen")]
    public static partial int SpawnActionsOpen(void* fa, int fd, byte* path, int flags, uint mode);
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    public static partial int SpawnActionsChdir(void* fa, byte* path);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    public static partial int SpawnAttrInit(void* attr);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    public static partial int SpawnAttrDestroy(void* attr);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    public static partial int SpawnAttrSetFlags(void* attr, short flags);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int SpawnAttrSetSigDefault(void* attr, void* set);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int SpawnAttrSetSigMask(void* attr, void* set);
    [LibraryImport("libc", EntryPoint = "posix_spawnp")]
    public static partial int SpawnP(int* pid, byte* file, void* fa, void* attr, byte** argv, byte** envp);
    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    public static partial int SigEmptySet(void* set);
    [LibraryImport("libc", EntryPoint = "sigaddset")]
    public static partial int SigAddSet(void* set, int signo);
    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, int* status, int options);
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signo);
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int FcntlSet(int fd, int cmd, int arg);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall2(long n, long a, long b);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall4(long n, long a, long b, void* c, long d);

    /// <summary>pidfd_open(2) (Linux 5.3; close-on-exec): the fd, or -1 with errno.</summary>
    public static int PidfdOpen(int pid) => (int)Syscall2(SysPidfdOpen, pid, 0);

    /// <summary>pidfd_send_signal(2) (Linux 5.1): 0, or -1 with errno.</summary>
    public static int PidfdSendSignal(int pidfd, int signo) => (int)Syscall4(SysPidfdSendSignal, pidfd, signo, null, 0);

    /// <summary>This process's environment (glibc's `environ`, read at each spawn: setenv may move it), for a child
    /// that inherits it.</summary>
    public static byte** Environ() => EnvironAddress != 0 ? *(byte***)EnvironAddress : null;

    static readonly nint EnvironAddress = FindEnviron(); // looked up once

    static nint FindEnviron()
    {
        try { return NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "environ", out nint p) ? p : 0; }
        catch { return 0; } // no main-program handle here: the child gets an empty environment
    }
}
