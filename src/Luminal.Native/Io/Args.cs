using System.Runtime.InteropServices;

namespace Luminal.Io;

// What each operation is asked to do: one struct per operation, written by its export (Interop/Exports.Io.cs) into
// the operation's argument storage (IoOp.Args<T>), read by its two backend files (Uring/X.cs, Pool/X.cs).
// Release gives back what the operation still holds when its future is dropped (after it completed): a string
// copy, scratch memory, and — when nobody read a successful result — what that result owns (an fd, a mapping, a
// buffer). It runs exactly once per operation (IoOp.Drop).

/// <summary>luminal_file_open.</summary>
unsafe struct OpenArgs
{
    public byte* Path;   // a NUL-terminated copy the operation owns
    public int Flags;
    public uint Mode;

    public static void Release(IoOp op, long raw, bool unread)
    {
        ref OpenArgs a = ref op.Args<OpenArgs>();
        IoOp.FreeString(ref a.Path);
        if (unread && raw >= 0) Libc.Close((int)raw);
    }
}

/// <summary>luminal_file_close, luminal_file_fsync, luminal_tcp_accept: just an fd.</summary>
struct FdArgs
{
    public int Fd;
    public int Mode; // accept: how the listener can be accepted from without blocking (Pool/Accept.cs, Uring/Accept.cs)

    /// <summary>Accept: an accepted socket nobody took.</summary>
    public static void ReleaseFd(IoOp op, long raw, bool unread)
    {
        if (unread && raw >= 0) Libc.Close((int)raw);
    }
}

/// <summary>luminal_file_stat.</summary>
unsafe struct StatArgs
{
    public int Fd;
    public NativeFileInfo* Info; // the caller's
    public void* Statx;          // io_uring: the struct statx the kernel fills (256 bytes, allocated at prepare)

    public static void Release(IoOp op, long raw, bool unread)
    {
        ref StatArgs a = ref op.Args<StatArgs>();
        if (a.Statx != null) { NativeMemory.Free(a.Statx); a.Statx = null; }
    }
}

/// <summary>luminal_file_read_at, luminal_file_write_at: the caller's buffer at an offset.</summary>
unsafe struct ReadAtArgs
{
    public int Fd;
    public byte* Buffer;
    public ulong Length;
    public long Offset;
    public ulong Done;  // read_at: bytes the submitting thread's try already read (FileReadTry)
}

/// <summary>luminal_stream_read, luminal_stream_write: the caller's buffer, at the stream's position.</summary>
unsafe struct StreamArgs
{
    public int Fd;
    public byte* Buffer;
    public ulong Length;
    public int Mode; // how this backend reaches the fd, found at the first try (Pool/NonBlocking.cs, Uring/StreamWrite.cs)
}

/// <summary>luminal_file_map, luminal_file_read_all: a path, and the caller's luminal_view / luminal_buffer.</summary>
unsafe struct PathIntoArgs
{
    public byte* Path; // a NUL-terminated copy the operation owns
    public void* Target;

    public static void ReleaseView(IoOp op, long raw, bool unread)
    {
        ref PathIntoArgs a = ref op.Args<PathIntoArgs>();
        IoOp.FreeString(ref a.Path);
        if (unread && raw >= 0) Handouts.ReleaseView((NativeView*)a.Target);
    }

    public static void ReleaseBuffer(IoOp op, long raw, bool unread)
    {
        ref PathIntoArgs a = ref op.Args<PathIntoArgs>();
        IoOp.FreeString(ref a.Path);
        if (unread && raw >= 0) Handouts.ReleaseBuffer((NativeBuffer*)a.Target);
    }
}

/// <summary>luminal_tcp_connect (an IP literal), luminal_tcp_connect_addr, luminal_unix_connect.</summary>
unsafe struct ConnectArgs
{
    public NativeSocketAddr* Addr; // native memory the operation owns (the kernel reads it; an IoOp can move)
    public int Fd;                // the socket being connected (-1: none yet, or handed over as the result)

    public static void Release(IoOp op, long raw, bool unread)
    {
        ref ConnectArgs a = ref op.Args<ConnectArgs>();
        if (a.Addr != null) { NativeMemory.Free(a.Addr); a.Addr = null; }
        // A connect that never finished (cancelled while it waited) still owns its socket.
        if (a.Fd >= 0) { Libc.Close(a.Fd); a.Fd = -1; }
        if (unread && raw >= 0) Libc.Close((int)raw);
    }
}

/// <summary>luminal_resolve: a host name, a port, and the caller's luminal_addr_list.</summary>
unsafe struct ResolveArgs
{
    public byte* Host; // a NUL-terminated copy the operation owns
    public NativeAddrList* List;
    public ushort Port;

    public static void Release(IoOp op, long raw, bool unread)
    {
        ref ResolveArgs a = ref op.Args<ResolveArgs>();
        IoOp.FreeString(ref a.Host);
        if (unread && raw >= 0) NativeAddrList.Release(a.List);
    }
}

/// <summary>luminal_tcp_connect_host with a name: resolved and connected on a pool thread (Pool/ConnectHost.cs).</summary>
unsafe struct ConnectHostArgs
{
    public byte* Host; // a NUL-terminated copy the operation owns
    public ushort Port;

    public static void Release(IoOp op, long raw, bool unread)
    {
        IoOp.FreeString(ref op.Args<ConnectHostArgs>().Host);
        if (unread && raw >= 0) Libc.Close((int)raw);
    }
}

/// <summary>luminal_fd_ready: an fd and the one direction waited for (POLLIN or POLLOUT).</summary>
struct FdReadyArgs
{
    public int Fd;
    public short Events;
}

/// <summary>luminal_udp_send_to, luminal_udp_recv_from: the caller's buffer and a peer address.</summary>
unsafe struct DatagramArgs
{
    public int Fd;
    public bool OwnsAddr;          // send_to: Addr is a native copy the operation owns
    public byte* Buffer;
    public ulong Length;
    public NativeSocketAddr* Addr; // send_to: where to (null: the connected peer); recv_from: the caller's (may be null)
    public Libc.MsgHdr* Msg;       // io_uring: the msghdr and its iovec the kernel reads (allocated at prepare)

    public static void Release(IoOp op, long raw, bool unread)
    {
        ref DatagramArgs a = ref op.Args<DatagramArgs>();
        if (a.Msg != null) { NativeMemory.Free(a.Msg); a.Msg = null; }
        if (a.OwnsAddr && a.Addr != null) { NativeMemory.Free(a.Addr); a.Addr = null; }
    }
}

/// <summary>The path operations (luminal_fs_*): one or two paths, and what the operation fills.</summary>
unsafe struct PathArgs
{
    public byte* Path;   // NUL-terminated copies the operation owns
    public byte* Path2;  // rename: the new name
    public void* Target; // fs_stat: the caller's luminal_file_info; read_dir: the caller's luminal_dir_list
    public void* Statx;  // io_uring fs_stat: the struct statx the kernel fills (allocated at prepare)
    public uint Mode;    // mkdir
    public int Flags;    // unlink: AT_REMOVEDIR for remove_dir

    public static void Release(IoOp op, long raw, bool unread)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        IoOp.FreeString(ref a.Path);
        IoOp.FreeString(ref a.Path2);
        if (a.Statx != null) { NativeMemory.Free(a.Statx); a.Statx = null; }
    }

    public static void ReleaseDirList(IoOp op, long raw, bool unread)
    {
        Release(op, raw, unread);
        if (unread && raw >= 0) NativeDirList.Release((NativeDirList*)op.Args<PathArgs>().Target);
    }
}
