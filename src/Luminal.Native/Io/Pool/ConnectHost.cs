using System.Runtime.InteropServices;

namespace Luminal.Io.Pool;

/// <summary>
/// luminal_tcp_connect_host given a name, on both backends: on a blocking-pool thread, getaddrinfo(3), then each
/// address in its order until one connects (a non-blocking connect and a sliced wait, so a cancel lets go within
/// <see cref="Readiness.SliceMs"/>). The name lookup already blocks a pool thread, so the connects that follow
/// stay there rather than hop to the ring. The result is the socket, or the last address's error.
/// </summary>
static unsafe class ConnectHost
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref ConnectHostArgs a = ref op.Args<ConnectHostArgs>();
        NativeAddrList list;
        long n = Resolver.Lookup(a.Host, a.Port, &list);
        if (n < 0) return n;
        try
        {
            long last = -Libc.ECONNREFUSED;
            for (nuint i = 0; i < list.Count; i++)
            {
                if (op.CancelRequested) return -Libc.ECANCELED;
                last = Attempt(op, &list.Addrs[i]);
                if (last >= 0) return last;
            }
            return last;
        }
        finally { NativeAddrList.Release(&list); }
    }

    static long Attempt(IoOp op, NativeSocketAddr* addr)
    {
        int fd = Libc.Socket(addr->Family, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        long r = Libc.Connect(fd, addr->Raw, addr->Len) == 0 ? 0 : -Libc.Errno;
        if (r == -Libc.EINPROGRESS)
        {
            r = Readiness.Wait(op, fd, Libc.POLLOUT);
            if (r == 0)
            {
                int err = 0;
                uint len = sizeof(int);
                r = Libc.Getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &err, &len) != 0 ? -Libc.Errno : -err;
            }
        }
        if (r == 0) return fd;
        Libc.Close(fd);
        return r;
    }
}
