using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>The libc calls the IO operations make (Linux, x86_64 and arm64 layouts). errno comes back through
/// SetLastError.</summary>
static unsafe partial class Libc
{
    // errno values (Linux; the same on x86_64 and arm64). Every file uses these: no private copies.
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EBADF = 9, EAGAIN = 11, EBUSY = 16, EISDIR = 21, EINVAL = 22,
        ESPIPE = 29, ENOSYS = 38, ENOTSOCK = 88, EOPNOTSUPP = 95, EINPROGRESS = 115, ECANCELED = 125;
    public const int O_CLOEXEC = 0x80000, O_RDONLY = 0, O_NONBLOCK = 0x800, SEEK_CUR = 1;
    public const int AF_INET = 2, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000, SOCK_NONBLOCK = 0x800;
    public const int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_ERROR = 4;
    public const int MSG_NOSIGNAL = 0x4000, MSG_DONTWAIT = 0x40;
    public const short POLLIN = 1, POLLOUT = 4;
    public const int PROT_READ = 1, MAP_PRIVATE = 2;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(byte* path, int flags, uint mode);
    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    public static partial nint Pread(int fd, void* buf, nuint count, long offset);
    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    public static partial nint Pwrite(int fd, void* buf, nuint count, long offset);
    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buf, nuint count);
    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, void* buf, nuint count, int flags);
    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, void* buf, nuint count, int flags);
    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buf, nuint count);
    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);
    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    public static partial int Fstat(int fd, Stat* st);
    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial void* Mmap(void* addr, nuint len, int prot, int flags, int fd, long offset);
    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(void* addr, nuint len);
    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);
    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int Setsockopt(int fd, int level, int name, void* value, uint len);
    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int Getsockopt(int fd, int level, int name, void* value, uint* len);
    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, void* addr, uint len);
    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);
    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, void* addr, void* len, int flags);
    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, void* addr, uint len);
    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    public static partial int Getsockname(int fd, void* addr, uint* len);
    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);
    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);
    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint n, int timeoutMs);
    [LibraryImport("libc", EntryPoint = "inet_pton")]
    public static partial int InetPton(int af, byte* src, void* dst);
    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long Lseek(int fd, long offset, int whence);
    [LibraryImport("libc", EntryPoint = "preadv2", SetLastError = true)]
    public static partial nint Preadv2(int fd, IoVec* iov, int count, long offset, int flags);
    [LibraryImport("libc", EntryPoint = "pwritev2", SetLastError = true)]
    public static partial nint Pwritev2(int fd, IoVec* iov, int count, long offset, int flags);
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int cmd);

    public const int F_GETFL = 3, RWF_NOWAIT = 8;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Len;
    }

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>struct stat on x86_64 and arm64 glibc (144 / 128 bytes; we only read these fields). Size and
    /// mtime sit at the same offsets on both; only st_mode moves.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Stat
    {
        [FieldOffset(16)] public uint ModeArm64;
        [FieldOffset(24)] public uint ModeX64;
        [FieldOffset(48)] public long Size;
        [FieldOffset(88)] public long MtimeSec;
        [FieldOffset(96)] public long MtimeNsec;

        public uint Mode => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? ModeArm64 : ModeX64;
        public long MtimeNs => MtimeSec * 1_000_000_000 + MtimeNsec;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>The answer for "this needs a regular file": -EISDIR for a directory (as read(2) says), else -EINVAL.</summary>
    public static long NotRegular(uint mode) => (mode & 0xF000) == 0x4000 ? -EISDIR : -EINVAL;

    public static ushort Htons(ushort v) => (ushort)((v << 8) | (v >> 8));
}
