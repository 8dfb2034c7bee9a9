using System;
using System.Runtime.InteropServices;
using Luminal.Handles;
using Luminal.Io;

namespace Luminal.Interop;

/// <summary>IO personalities: each export validates, describes the operation in an <see cref="IoOp"/> and hands
/// back a future; the backend does the OS call when the future is first polled.</summary>
static unsafe partial class Exports
{
    /// <summary>Common checks and the operation object; on failure *output is zeroed and nothing is allocated.</summary>
    static Status BeginIo(nint rt, IoKind kind, NativeIoResult* result, NativeFuture* output, out IoOp op)
    {
        op = default;
        if (output != null) *output = default;
        if (output == null || result == null) return Status.InvalidArgument;
        Status s = ResolveRuntime(rt, out Runtime runtime);
        if (s != Status.Ok) return s;
        if (!OperatingSystem.IsLinux()) return Status.Unsupported;
        if (runtime.IsShutdown) return Status.Shutdown;
        return IoOp.Create(runtime, kind, result, out op);
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_io_backend")]
    static int RuntimeIoBackend(nint rt)
    {
        try { return ResolveRuntime(rt, out Runtime runtime) == Status.Ok ? (int)runtime.IoKind : 0; }
        catch { return 0; } // documented: 0 for a handle it cannot use
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_open")]
    static int FileOpen(nint rt, byte* path, int flags, uint mode, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (path == null) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, IoKind.Open, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<OpenArgs>() = new OpenArgs { Path = IoOp.CopyString(path), Flags = flags, Mode = mode };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_close")]
    static int FileClose(nint rt, int fd, NativeIoResult* result, NativeFuture* output) => FdOnly(rt, IoKind.Close, fd, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_fsync")]
    static int FileFsync(nint rt, int fd, NativeIoResult* result, NativeFuture* output) => FdOnly(rt, IoKind.Fsync, fd, result, output);

    static int FdOnly(nint rt, IoKind kind, int fd, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            Status s = BeginIo(rt, kind, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<FdArgs>() = new FdArgs { Fd = fd };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_stat")]
    static int FileStat(nint rt, int fd, NativeFileInfo* info, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (info == null) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, IoKind.Stat, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<StatArgs>() = new StatArgs { Fd = fd, Info = info };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_read_at")]
    static int FileReadAt(nint rt, int fd, byte* buf, nuint len, ulong offset, NativeIoResult* result, NativeFuture* output) =>
        Transfer(rt, IoKind.ReadAt, fd, buf, len, offset, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_write_at")]
    static int FileWriteAt(nint rt, int fd, byte* buf, nuint len, ulong offset, NativeIoResult* result, NativeFuture* output) =>
        Transfer(rt, IoKind.WriteAt, fd, buf, len, offset, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_stream_read")]
    static int StreamRead(nint rt, int fd, byte* buf, nuint len, NativeIoResult* result, NativeFuture* output) =>
        Transfer(rt, IoKind.StreamRead, fd, buf, len, 0, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_stream_write")]
    static int StreamWrite(nint rt, int fd, byte* buf, nuint len, NativeIoResult* result, NativeFuture* output) =>
        Transfer(rt, IoKind.StreamWrite, fd, buf, len, 0, result, output);

    static int Transfer(nint rt, IoKind kind, int fd, byte* buf, nuint len, ulong offset, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if ((buf == null && len != 0) || offset > long.MaxValue)
            {
                if (output != null) *output = default;
                return (int)Status.InvalidArgument;
            }
            Status s = BeginIo(rt, kind, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            if (kind is IoKind.StreamRead or IoKind.StreamWrite)
                op.Args<StreamArgs>() = new StreamArgs { Fd = fd, Buffer = buf, Length = len };
            else
                op.Args<ReadAtArgs>() = new ReadAtArgs { Fd = fd, Buffer = buf, Length = len, Offset = (long)offset };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_map")]
    static int FileMap(nint rt, byte* path, NativeView* view, NativeIoResult* result, NativeFuture* output) =>
        PathInto(rt, IoKind.MapFile, path, view, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_file_read_all")]
    static int FileReadAll(nint rt, byte* path, NativeBuffer* buffer, NativeIoResult* result, NativeFuture* output) =>
        PathInto(rt, IoKind.ReadAll, path, buffer, result, output);

    static int PathInto(nint rt, IoKind kind, byte* path, void* target, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (path == null || target == null) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, kind, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<PathIntoArgs>() = new PathIntoArgs { Path = IoOp.CopyString(path), Target = target };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_view_release")]
    static void ViewRelease(NativeView* view)
    {
        try { Handouts.ReleaseView(view); }
        catch { /* void export: munmap of a view we made cannot throw; if it did, the mapping leaks */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_buffer_release")]
    static void BufferRelease(NativeBuffer* buffer)
    {
        try { Handouts.ReleaseBuffer(buffer); }
        catch { /* void export: freeing a buffer we made cannot throw; if it did, the buffer leaks */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_tcp_accept")]
    static int TcpAccept(nint rt, int listener, NativeIoResult* result, NativeFuture* output) => FdOnly(rt, IoKind.Accept, listener, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_tcp_connect")]
    static int TcpConnect(nint rt, byte* ip, ushort port, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (ip == null || !NativeSocketAddr.TryParse(ip, port, out NativeSocketAddr addr))
            {
                if (output != null) *output = default;
                return (int)Status.InvalidArgument;
            }
            return ConnectOp(rt, addr, result, output);
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>The one IO error style, for the plain calls too: the status is returned and, when the caller gave a
    /// result, also written there with the errno (for LUMINAL_E_IO) and the value.</summary>
    static int Report(NativeIoResult* result, Status status, int osError = 0, ulong value = 0)
    {
        if (result != null) *result = new NativeIoResult { Status = (int)status, OsError = osError, Value = value };
        return (int)status;
    }

    static int OsFail(NativeIoResult* result) => Report(result, Status.Io, Libc.Errno);

    [UnmanagedCallersOnly(EntryPoint = "luminal_tcp_listen")]
    static int TcpListen(byte* ip, ushort port, int backlog, int* fd, ushort* boundPort, NativeIoResult* result)
    {
        try
        {
            if (fd == null || ip == null || !NativeSocketAddr.TryParse(ip, port, out NativeSocketAddr addr))
                return Report(result, Status.InvalidArgument);
            NativeSocketAddr bound;
            int r = Listen(&addr, Libc.SOCK_STREAM, backlog, 0, fd, &bound, result);
            if (r == (int)Status.Ok && boundPort != null) *boundPort = Libc.Htons(*(ushort*)(bound.Raw + Io.NativeSocketAddr.PortOffset)); // same offset in sockaddr_in and _in6
            return r;
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_stream_shutdown")]
    static int StreamShutdown(int fd, int how, NativeIoResult* result)
    {
        try
        {
            if (how is < 0 or > 2) return Report(result, Status.InvalidArgument);
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            return Libc.Shutdown(fd, how) == 0 ? Report(result, Status.Ok) : OsFail(result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_pipe")]
    static int Pipe(int* fds, NativeIoResult* result)
    {
        try
        {
            if (fds == null) return Report(result, Status.InvalidArgument);
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            return Libc.Pipe2(fds, Libc.O_CLOEXEC | Libc.O_NONBLOCK) == 0 ? Report(result, Status.Ok) : OsFail(result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }
}
