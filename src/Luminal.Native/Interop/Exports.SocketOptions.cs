using System;
using System.Runtime.InteropServices;
using Luminal.Io;

namespace Luminal.Interop;

/// <summary>luminal_socket_set_option / get_option: the options a service tunes, one setsockopt each.</summary>
static unsafe partial class Exports
{
    struct Linger { public int OnOff, Seconds; } // struct linger

    enum SocketOption { NoDelay = 1, KeepAlive, ReuseAddr, ReusePort, RecvBuffer, SendBuffer, Linger, Broadcast, V6Only }

    /// <summary>The (level, name) of an option, or false for an unknown one.</summary>
    static bool OptionName(int option, out int level, out int name)
    {
        (level, name) = (SocketOption)option switch
        {
            SocketOption.NoDelay => (Libc.IPPROTO_TCP, Libc.TCP_NODELAY),
            SocketOption.KeepAlive => (Libc.SOL_SOCKET, Libc.SO_KEEPALIVE),
            SocketOption.ReuseAddr => (Libc.SOL_SOCKET, Libc.SO_REUSEADDR),
            SocketOption.ReusePort => (Libc.SOL_SOCKET, Libc.SO_REUSEPORT),
            SocketOption.RecvBuffer => (Libc.SOL_SOCKET, Libc.SO_RCVBUF),
            SocketOption.SendBuffer => (Libc.SOL_SOCKET, Libc.SO_SNDBUF),
            SocketOption.Linger => (Libc.SOL_SOCKET, Libc.SO_LINGER),
            SocketOption.Broadcast => (Libc.SOL_SOCKET, Libc.SO_BROADCAST),
            SocketOption.V6Only => (Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY),
            _ => (0, 0),
        };
        return name != 0;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_socket_set_option")]
    static int SocketSetOption(int fd, int option, long value, NativeIoResult* result)
    {
        try
        {
            if (!OptionName(option, out int level, out int name)) return Report(result, Status.InvalidArgument);
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            int rc;
            if ((SocketOption)option == SocketOption.Linger)
            {
                if (value > int.MaxValue) return Report(result, Status.InvalidArgument);
                var linger = new Linger { OnOff = value >= 0 ? 1 : 0, Seconds = value >= 0 ? (int)value : 0 };
                rc = Libc.Setsockopt(fd, level, name, &linger, (uint)sizeof(Linger));
            }
            else
            {
                bool size = (SocketOption)option is SocketOption.RecvBuffer or SocketOption.SendBuffer;
                if (size && value is <= 0 or > int.MaxValue) return Report(result, Status.InvalidArgument);
                int v = size ? (int)value : value != 0 ? 1 : 0;
                rc = Libc.Setsockopt(fd, level, name, &v, sizeof(int));
            }
            return rc == 0 ? Report(result, Status.Ok) : OsFail(result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_socket_get_option")]
    static int SocketGetOption(int fd, int option, long* value, NativeIoResult* result)
    {
        try
        {
            if (value == null || !OptionName(option, out int level, out int name)) return Report(result, Status.InvalidArgument);
            *value = 0;
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            Linger v = default; // big enough for every option: an int, or struct linger
            uint len = (uint)sizeof(Linger);
            if (Libc.Getsockopt(fd, level, name, &v, &len) != 0) return OsFail(result);
            *value = (SocketOption)option == SocketOption.Linger ? (v.OnOff != 0 ? v.Seconds : -1) : v.OnOff;
            return Report(result, Status.Ok);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }
}
