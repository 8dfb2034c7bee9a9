using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>The socket calls beyond IPv4 TCP (addresses of any family, UDP, Unix sockets, options, names): one
/// generic sockaddr pointer and its length, as the kernel takes them (<see cref="NativeSocketAddr"/>).</summary>
static unsafe partial class Libc
{
    public const int EIO = 5, ENOMEM = 12, EACCES = 13, ENAMETOOLONG = 36, EAFNOSUPPORT = 97, EADDRINUSE = 98,
        ECONNREFUSED = 111, ETIMEDOUT = 110;
    public const int AF_UNIX = 1, AF_INET6 = 10, SOCK_DGRAM = 2;
    public const int IPPROTO_TCP = 6, TCP_NODELAY = 1, IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
    public const int SO_BROADCAST = 6, SO_SNDBUF = 7, SO_RCVBUF = 8, SO_KEEPALIVE = 9, SO_LINGER = 13, SO_REUSEPORT = 15;
    public const short POLLERR = 8, POLLHUP = 16;

    [LibraryImport("libc", EntryPoint = "getpeername", SetLastError = true)]
    public static partial int Getpeername(int fd, void* addr, uint* len);
    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    public static partial nint SendTo(int fd, void* buf, nuint len, int flags, void* addr, uint addrLen);
    [LibraryImport("libc", EntryPoint = "recvfrom", SetLastError = true)]
    public static partial nint RecvFrom(int fd, void* buf, nuint len, int flags, void* addr, uint* addrLen);
    [LibraryImport("libc", EntryPoint = "if_nametoindex")]
    public static partial uint IfNameToIndex(byte* name);
    [LibraryImport("libc", EntryPoint = "freeaddrinfo")]
    public static partial void FreeAddrInfo(void* res);
    [LibraryImport("libc", EntryPoint = "getaddrinfo")]
    private static partial int GetAddrInfoLibc(byte* node, byte* service, AddrInfo* hints, AddrInfo** res);

    /// <summary>struct addrinfo (LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct AddrInfo
    {
        public int Flags, Family, SockType, Protocol;
        public uint AddrLen;
        public void* Addr;
        public byte* CanonName;
        public AddrInfo* Next;
    }

    /// <summary>struct msghdr (LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    /// <summary>
    /// getaddrinfo as a C program calling it would get it: looked up in the process's global scope (the executable,
    /// LD_PRELOAD'ed libraries, then libc), so a resolver the host interposes — a sandbox's, a test's — is the one
    /// used. (A LibraryImport binds to libc's own definition.)
    /// </summary>
    static readonly delegate* unmanaged<byte*, byte*, AddrInfo*, AddrInfo**, int> GlobalGetAddrInfo = FindGetAddrInfo();

    static delegate* unmanaged<byte*, byte*, AddrInfo*, AddrInfo**, int> FindGetAddrInfo()
    {
        try
        {
            if (NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "getaddrinfo", out nint p))
                return (delegate* unmanaged<byte*, byte*, AddrInfo*, AddrInfo**, int>)p;
        }
        catch { /* no main-program handle on this platform: libc's own below */ }
        return null;
    }

    public static int GetAddrInfo(byte* node, byte* service, AddrInfo* hints, AddrInfo** res) =>
        GlobalGetAddrInfo != null ? GlobalGetAddrInfo(node, service, hints, res) : GetAddrInfoLibc(node, service, hints, res);
}
