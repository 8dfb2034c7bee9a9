using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>The path calls of the pool backend's luminal_fs_* operations.</summary>
static unsafe partial class Libc
{
    public const int AT_FDCWD = -100, AT_REMOVEDIR = 0x200;

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true)]
    public static partial int StatPath(byte* path, Stat* st);
    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true)]
    public static partial int Rename(byte* from, byte* to);
    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int UnlinkAt(int dirfd, byte* path, int flags);
    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true)]
    public static partial int Mkdir(byte* path, uint mode);
    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true)]
    public static partial void* OpenDir(byte* path);
    [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
    public static partial byte* ReadDir(void* dir);
    [LibraryImport("libc", EntryPoint = "closedir")]
    public static partial int CloseDir(void* dir);

    /// <summary>struct dirent64 (glibc, LP64): d_ino, d_off, d_reclen, then d_type and d_name.</summary>
    public const int DirentType = 18, DirentName = 19;
}
