using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>
/// Names to addresses with getaddrinfo(3), which blocks (files, DNS, NSS modules): only ever called on a
/// blocking-pool thread (Pool/Resolve.cs, Pool/ConnectHost.cs), never on a worker. Its EAI_* answers become errnos,
/// so a resolution fails like any other IO operation (see luminal_resolve in luminal.h).
/// </summary>
static unsafe class Resolver
{
    const int AiNumericServ = 0x400;
    const int EaiNoName = -2, EaiAgain = -3, EaiNoData = -5, EaiFamily = -6, EaiAddrFamily = -9, EaiMemory = -10,
        EaiSystem = -11;

    /// <summary>The stream-socket addresses of <paramref name="host"/> (port set) into <paramref name="list"/>, in
    /// getaddrinfo's order; returns their count or a negated errno.</summary>
    public static long Lookup(byte* host, ushort port, NativeAddrList* list)
    {
        list->Addrs = null;
        list->Count = 0;
        Libc.AddrInfo hints = default;
        hints.SockType = Libc.SOCK_STREAM; // one entry per address (not one per socket type)
        hints.Flags = AiNumericServ;
        byte* service = stackalloc byte[8];
        WritePort(service, port);
        Libc.AddrInfo* res = null;
        int rc = Libc.GetAddrInfo(host, service, &hints, &res);
        if (rc != 0) return -ErrnoOf(rc, Marshal.GetLastSystemError());
        try
        {
            nuint n = 0;
            for (Libc.AddrInfo* ai = res; ai != null; ai = ai->Next)
                if (Usable(ai)) n++;
            if (n == 0) return -Libc.ENOENT;
            var addrs = (NativeSocketAddr*)NativeMemory.AllocZeroed(n * (nuint)sizeof(NativeSocketAddr));
            nuint k = 0;
            for (Libc.AddrInfo* ai = res; ai != null; ai = ai->Next)
            {
                if (!Usable(ai)) continue;
                System.Buffer.MemoryCopy(ai->Addr, addrs[k].Raw, NativeSocketAddr.Capacity, ai->AddrLen);
                addrs[k].Len = ai->AddrLen;
                k++;
            }
            list->Addrs = addrs;
            list->Count = n;
            return (long)n;
        }
        finally { Libc.FreeAddrInfo(res); }
    }

    static bool Usable(Libc.AddrInfo* ai) =>
        ai->Addr != null && ai->AddrLen <= NativeSocketAddr.Capacity && ai->Family is Libc.AF_INET or Libc.AF_INET6;

    static void WritePort(byte* s, ushort port)
    {
        byte* tmp = stackalloc byte[6];
        int n = 0;
        do { tmp[n++] = (byte)('0' + port % 10); port /= 10; } while (port != 0);
        for (int i = 0; i < n; i++) s[i] = tmp[n - 1 - i];
        s[n] = 0;
    }

    /// <summary>EAI_NONAME/EAI_NODATA: ENOENT (no such host); EAI_AGAIN: EAGAIN (try later); EAI_MEMORY: ENOMEM;
    /// EAI_FAMILY/EAI_ADDRFAMILY: EAFNOSUPPORT; EAI_SYSTEM: its errno; anything else: EIO.</summary>
    static int ErrnoOf(int eai, int errno) => eai switch
    {
        EaiNoName or EaiNoData => Libc.ENOENT,
        EaiAgain => Libc.EAGAIN,
        EaiMemory => Libc.ENOMEM,
        EaiFamily or EaiAddrFamily => Libc.EAFNOSUPPORT,
        EaiSystem when errno > 0 => errno,
        _ => Libc.EIO,
    };
}
