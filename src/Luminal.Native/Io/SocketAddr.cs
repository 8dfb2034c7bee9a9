using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>
/// luminal_socket_addr: one socket address of any family, stored as the kernel takes it — a sockaddr_in,
/// sockaddr_in6 or sockaddr_un in <see cref="Raw"/>, <see cref="Len"/> bytes of it in use — so every socket call
/// passes it straight through and C callers can cast it. Built by luminal_socket_addr_parse (IP literals),
/// luminal_socket_addr_unix (paths, abstract names), luminal_resolve (names) and the calls that report addresses.
/// </summary>
[Interop.CStruct("luminal_socket_addr")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeSocketAddr
{
    public const int Capacity = 128; // sizeof(struct sockaddr_storage)
    // The kernel's layouts, written by hand (checked per architecture by tests/native/kernel_layout.c through the
    // layout probe): sin_port / sin6_port at 2, sin_addr at 4 (sockaddr_in is 16 bytes), sin6_addr at 8 and
    // sin6_scope_id at 24 (sockaddr_in6 is 28), sun_path at 2 (108 bytes).
    internal const int PortOffset = 2, Inet4AddrOffset = 4, Inet4Len = 16;
    internal const int Inet6AddrOffset = 8, Inet6ScopeOffset = 24, Inet6Len = 28;
    internal const int UnixPathOffset = 2, UnixPathMax = 108;

    public uint Len;
    public uint Reserved;
    public fixed byte Raw[Capacity];

    public readonly ushort Family { get { fixed (byte* r = Raw) return *(ushort*)r; } }

    /// <summary>The family if the address is complete enough to hand to the kernel, else 0.</summary>
    public readonly int CheckedFamily()
    {
        ushort f = Family;
        return f switch
        {
            Libc.AF_INET when Len >= Inet4Len && Len <= Capacity => f,
            Libc.AF_INET6 when Len >= Inet6Len && Len <= Capacity => f,
            Libc.AF_UNIX when Len > UnixPathOffset && Len <= UnixPathOffset + UnixPathMax => f,
            _ => 0,
        };
    }

    public readonly bool IsIp => CheckedFamily() is Libc.AF_INET or Libc.AF_INET6;

    /// <summary>An IPv4 or IPv6 literal ("127.0.0.1", "::1", "[::1]", "fe80::1%2" or "%eth0") and a port.</summary>
    public static bool TryParse(byte* text, ushort port, out NativeSocketAddr addr)
    {
        addr = default;
        fixed (byte* raw = addr.Raw)
        {
            *(ushort*)(raw + PortOffset) = Libc.Htons(port);
            if (Libc.InetPton(Libc.AF_INET, text, raw + Inet4AddrOffset) == 1)
            {
                *(ushort*)raw = Libc.AF_INET;
                addr.Len = Inet4Len;
                return true;
            }
            // IPv6: an optional [bracket] pair and %scope, copied out so inet_pton sees the bare address.
            byte* buf = stackalloc byte[64];
            int n = 0, i = 0;
            bool bracket = text[0] == (byte)'[';
            if (bracket) i = 1;
            for (; text[i] != 0 && text[i] != (byte)'%' && text[i] != (byte)']'; i++)
            {
                if (n == 63) return false;
                buf[n++] = text[i];
            }
            buf[n] = 0;
            uint scope = 0;
            if (text[i] == (byte)'%')
            {
                byte* name = stackalloc byte[32];
                int m = 0;
                for (i++; text[i] != 0 && text[i] != (byte)']'; i++)
                {
                    if (m == 31) return false;
                    name[m++] = text[i];
                }
                name[m] = 0;
                if (m == 0) return false;
                scope = ParseScope(name);
                if (scope == 0) return false;
            }
            if (bracket != (text[i] == (byte)']')) return false;
            if (bracket) i++;
            if (text[i] != 0) return false;
            if (Libc.InetPton(Libc.AF_INET6, buf, raw + Inet6AddrOffset) != 1) return false;
            *(ushort*)raw = Libc.AF_INET6;
            *(uint*)(raw + Inet6ScopeOffset) = scope;
            addr.Len = Inet6Len;
            return true;
        }
    }

    /// <summary>A numeric scope id, or an interface name's index (0: neither).</summary>
    static uint ParseScope(byte* name)
    {
        uint v = 0;
        int k = 0;
        for (; name[k] >= (byte)'0' && name[k] <= (byte)'9'; k++) v = v * 10 + (uint)(name[k] - '0');
        return name[k] == 0 ? v : Libc.IfNameToIndex(name);
    }

    /// <summary>
    /// A Unix socket path of <paramref name="len"/> bytes; a leading NUL byte makes it a Linux abstract name (the
    /// bytes after it, NULs included, are the name). False if empty or too long for sockaddr_un.
    /// </summary>
    public static bool TryUnix(byte* path, nuint len, out NativeSocketAddr addr)
    {
        addr = default;
        bool isAbstract = len > 0 && path[0] == 0;
        // A path needs its terminating NUL inside sun_path; an abstract name uses every byte it is given.
        if (len == 0 || len > (nuint)(isAbstract ? UnixPathMax : UnixPathMax - 1)) return false;
        if (!isAbstract)
            for (nuint i = 0; i < len; i++)
                if (path[i] == 0) return false; // a NUL inside a path would silently shorten it
        fixed (byte* raw = addr.Raw)
        {
            *(ushort*)raw = Libc.AF_UNIX;
            System.Buffer.MemoryCopy(path, raw + UnixPathOffset, UnixPathMax, (long)len);
        }
        addr.Len = (uint)(UnixPathOffset + len + (isAbstract ? 0u : 1u));
        return true;
    }

    /// <summary>A copy in native memory (the kernel may read it after an IoOp has moved on; freed by the op).</summary>
    public readonly NativeSocketAddr* CopyToNative()
    {
        var p = (NativeSocketAddr*)NativeMemory.Alloc((nuint)sizeof(NativeSocketAddr));
        *p = this;
        return p;
    }

    /// <summary>What getsockname/getpeername/recvfrom wrote: clamp and keep its length.</summary>
    public static void SetLength(NativeSocketAddr* addr, uint len)
    {
        addr->Len = len > Capacity ? Capacity : len;
        addr->Reserved = 0;
    }
}

/// <summary>luminal_addr_list: the addresses luminal_resolve found, in one native allocation.</summary>
[Interop.CStruct("luminal_addr_list")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeAddrList
{
    public NativeSocketAddr* Addrs;
    public nuint Count;

    public static void Release(NativeAddrList* list)
    {
        if (list == null) return;
        if (list->Addrs != null) NativeMemory.Free(list->Addrs);
        list->Addrs = null;
        list->Count = 0;
    }
}
