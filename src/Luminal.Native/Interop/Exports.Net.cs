using System;
using System.Runtime.InteropServices;
using Luminal.Io;

namespace Luminal.Interop;

/// <summary>
/// Sockets beyond IPv4 TCP: one address type (luminal_socket_addr) for every family, name resolution on the
/// blocking pool, listeners and connects for TCP (IPv4, IPv6) and Unix sockets, UDP, socket options and bare
/// readiness. Plain calls (creating sockets never blocks) report like luminal_tcp_listen; futures like every IO op.
/// </summary>
static unsafe partial class Exports
{
    const uint BindDualStack = 1, BindReusePort = 2, BindKnown = BindDualStack | BindReusePort;
    const int ReadyReadable = 1, ReadyWritable = 2;

    [UnmanagedCallersOnly(EntryPoint = "luminal_socket_addr_parse")]
    static int SocketAddrParse(byte* ip, ushort port, NativeSocketAddr* output)
    {
        try
        {
            if (output != null) *output = default;
            if (ip == null || output == null) return (int)Status.InvalidArgument;
            if (!OperatingSystem.IsLinux()) return (int)Status.Unsupported;
            return NativeSocketAddr.TryParse(ip, port, out *output) ? (int)Status.Ok : (int)Status.InvalidArgument;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_socket_addr_unix")]
    static int SocketAddrUnix(byte* path, nuint len, NativeSocketAddr* output)
    {
        try
        {
            if (output != null) *output = default;
            if (path == null || output == null) return (int)Status.InvalidArgument;
            return NativeSocketAddr.TryUnix(path, len, out *output) ? (int)Status.Ok : (int)Status.InvalidArgument;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_addr_list_release")]
    static void AddrListRelease(NativeAddrList* list)
    {
        try { NativeAddrList.Release(list); }
        catch { /* void export: freeing a list we made cannot throw; if it did, the list leaks */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_socket_local_addr")]
    static int SocketLocalAddr(int fd, NativeSocketAddr* output, NativeIoResult* result) => SocketName(fd, output, result, peer: false);

    [UnmanagedCallersOnly(EntryPoint = "luminal_socket_peer_addr")]
    static int SocketPeerAddr(int fd, NativeSocketAddr* output, NativeIoResult* result) => SocketName(fd, output, result, peer: true);

    static int SocketName(int fd, NativeSocketAddr* output, NativeIoResult* result, bool peer)
    {
        try
        {
            if (output == null) return Report(result, Status.InvalidArgument);
            *output = default;
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            uint len = NativeSocketAddr.Capacity;
            int rc = peer ? Libc.Getpeername(fd, output->Raw, &len) : Libc.Getsockname(fd, output->Raw, &len);
            if (rc != 0) return OsFail(result);
            NativeSocketAddr.SetLength(output, len);
            return Report(result, Status.Ok);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_tcp_listen_addr")]
    static int TcpListenAddr(NativeSocketAddr* addr, int backlog, uint flags, int* fd, NativeSocketAddr* bound, NativeIoResult* result)
    {
        try
        {
            if (fd == null || addr == null || !addr->IsIp || (flags & ~BindKnown) != 0) return Report(result, Status.InvalidArgument);
            return Listen(addr, Libc.SOCK_STREAM, backlog, flags, fd, bound, result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_unix_listen")]
    static int UnixListen(NativeSocketAddr* addr, int backlog, int* fd, NativeIoResult* result)
    {
        try
        {
            if (fd == null || addr == null || addr->CheckedFamily() != Libc.AF_UNIX) return Report(result, Status.InvalidArgument);
            return Listen(addr, Libc.SOCK_STREAM, backlog, 0, fd, null, result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_udp_bind")]
    static int UdpBind(NativeSocketAddr* addr, uint flags, int* fd, NativeSocketAddr* bound, NativeIoResult* result)
    {
        try
        {
            if (fd == null || addr == null || !addr->IsIp || (flags & ~BindKnown) != 0) return Report(result, Status.InvalidArgument);
            return Listen(addr, Libc.SOCK_DGRAM, 0, flags, fd, bound, result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    /// <summary>
    /// A socket bound to <paramref name="addr"/>, listening if it is a stream socket: non-blocking and
    /// close-on-exec; SO_REUSEADDR on TCP listeners (a restarted server rebinds its port at once); an IPv6 socket
    /// takes IPv6 only unless LUMINAL_BIND_DUAL_STACK (explicit, whatever the system's bindv6only default).
    /// </summary>
    static int Listen(NativeSocketAddr* addr, int type, int backlog, uint flags, int* fd, NativeSocketAddr* bound, NativeIoResult* result)
    {
        if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
        int family = addr->CheckedFamily();
        int s = Libc.Socket(family, type | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0);
        if (s < 0) return OsFail(result);
        int one = 1, v6only = (flags & BindDualStack) != 0 ? 0 : 1;
        bool ok = (family == Libc.AF_UNIX || type != Libc.SOCK_STREAM
                   || Libc.Setsockopt(s, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, &one, sizeof(int)) == 0)
            && ((flags & BindReusePort) == 0 || Libc.Setsockopt(s, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, &one, sizeof(int)) == 0)
            && (family != Libc.AF_INET6 || Libc.Setsockopt(s, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, &v6only, sizeof(int)) == 0)
            && Libc.Bind(s, addr->Raw, addr->Len) == 0
            && (type != Libc.SOCK_STREAM || Libc.Listen(s, backlog <= 0 ? 128 : backlog) == 0);
        if (!ok)
        {
            int r = OsFail(result);
            Libc.Close(s);
            return r;
        }
        if (bound != null)
        {
            uint len = NativeSocketAddr.Capacity;
            *bound = default;
            if (Libc.Getsockname(s, bound->Raw, &len) == 0) NativeSocketAddr.SetLength(bound, len);
        }
        *fd = s;
        return Report(result, Status.Ok, 0, (ulong)s);
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_udp_connect")]
    static int UdpConnect(int fd, NativeSocketAddr* addr, NativeIoResult* result)
    {
        try
        {
            if (addr == null || !addr->IsIp) return Report(result, Status.InvalidArgument);
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            // A datagram connect only records the peer: it never blocks.
            return Libc.Connect(fd, addr->Raw, addr->Len) == 0 ? Report(result, Status.Ok) : OsFail(result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_resolve")]
    static int Resolve(nint rt, byte* host, ushort port, NativeAddrList* list, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (host == null || host[0] == 0 || list == null) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, IoKind.Resolve, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            list->Addrs = null;
            list->Count = 0;
            op.Args<ResolveArgs>() = new ResolveArgs { Host = IoOp.CopyString(host), List = list, Port = port };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_tcp_connect_host")]
    static int TcpConnectHost(nint rt, byte* host, ushort port, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (host == null || host[0] == 0) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            // A literal connects at once; a name is resolved (and connected) on the blocking pool.
            if (NativeSocketAddr.TryParse(host, port, out NativeSocketAddr addr)) return ConnectOp(rt, addr, result, output);
            Status s = BeginIo(rt, IoKind.ConnectHost, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<ConnectHostArgs>() = new ConnectHostArgs { Host = IoOp.CopyString(host), Port = port };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_tcp_connect_addr")]
    static int TcpConnectAddr(nint rt, NativeSocketAddr* addr, NativeIoResult* result, NativeFuture* output) =>
        ConnectTo(rt, addr, ip: true, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_unix_connect")]
    static int UnixConnect(nint rt, NativeSocketAddr* addr, NativeIoResult* result, NativeFuture* output) =>
        ConnectTo(rt, addr, ip: false, result, output);

    static int ConnectTo(nint rt, NativeSocketAddr* addr, bool ip, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (addr == null || (ip ? !addr->IsIp : addr->CheckedFamily() != Libc.AF_UNIX))
            {
                if (output != null) *output = default;
                return (int)Status.InvalidArgument;
            }
            return ConnectOp(rt, *addr, result, output);
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>The connect future for a checked address (a native copy the operation owns).</summary>
    static int ConnectOp(nint rt, in NativeSocketAddr addr, NativeIoResult* result, NativeFuture* output)
    {
        Status s = BeginIo(rt, IoKind.Connect, result, output, out IoOp op);
        if (s != Status.Ok) return (int)s;
        op.Args<ConnectArgs>() = new ConnectArgs { Addr = addr.CopyToNative(), Fd = -1 };
        op.Fill(output);
        return (int)Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_fd_ready")]
    static int FdReady(nint rt, int fd, uint interest, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (interest is not (ReadyReadable or ReadyWritable)) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, IoKind.FdReady, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<FdReadyArgs>() = new FdReadyArgs { Fd = fd, Events = interest == ReadyReadable ? Libc.POLLIN : Libc.POLLOUT };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_udp_send_to")]
    static int UdpSendTo(nint rt, int fd, byte* buf, nuint len, NativeSocketAddr* to, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if ((buf == null && len != 0) || (to != null && !to->IsIp)) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, IoKind.SendTo, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<DatagramArgs>() = new DatagramArgs
            {
                Fd = fd, Buffer = buf, Length = len, Addr = to == null ? null : to->CopyToNative(), OwnsAddr = to != null,
            };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_udp_recv_from")]
    static int UdpRecvFrom(nint rt, int fd, byte* buf, nuint len, NativeSocketAddr* from, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (buf == null && len != 0) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, IoKind.RecvFrom, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<DatagramArgs>() = new DatagramArgs { Fd = fd, Buffer = buf, Length = len, Addr = from };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }
}
