using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Luminal.Io;
using Luminal.Io.Pool;
using Luminal.Io.Uring;
using Luminal.Scheduler;

namespace Luminal.LayoutProbe;

/// <summary>
/// What the runtime's code believes about the kernel and libc ABI of the architecture it runs on: every struct it
/// lays out by hand (io_uring's, epoll_event, struct stat and statx, sockaddr_in, pollfd, iovec, timespecs), the
/// system call numbers it makes by number, and the constants it passes. Read from the runtime's own types and
/// fields (not copied), so the C side (tests/native/kernel_layout.c) checks the real thing, on each architecture.
/// </summary>
static unsafe class Probe
{
    static readonly (string Name, long Value)[] Values = Collect();

    /// <summary>Entry <paramref name="index"/>: its name (static storage) and value; 0 past the end.</summary>
    [UnmanagedCallersOnly(EntryPoint = "luminal_layout_probe")]
    static int Get(int index, byte** name, long* value)
    {
        try
        {
            if (index < 0 || index >= Values.Length || name == null || value == null) return 0;
            *name = Names[index];
            *value = Values[index].Value;
            return 1;
        }
        catch { return 0; } // nothing in here throws once Values exists; an export must not let anything escape
    }

    static readonly byte*[] Names = MakeNames();

    static byte*[] MakeNames()
    {
        var names = new byte*[Values.Length];
        for (int i = 0; i < names.Length; i++) names[i] = (byte*)Marshal.StringToCoTaskMemUTF8(Values[i].Name);
        return names; // kept for the life of the process
    }

    static long Off<T>(ref T s, ref byte field) where T : unmanaged =>
        (long)Unsafe.ByteOffset(ref Unsafe.As<T, byte>(ref s), ref field);

    /// <summary>The offset a struct-stat accessor reads from: fill the buffer so that each 4-byte word holds its
    /// own offset, and see which one it returns (Libc.Stat.Mode chooses its field by architecture).</summary>
    static long ReadOffset(Func<Libc.Stat, long> read)
    {
        Libc.Stat st = default;
        uint* w = (uint*)&st;
        for (int i = 0; i < sizeof(Libc.Stat) / 4; i++) w[i] = (uint)(i * 4);
        return read(st);
    }

    static (string, long)[] Collect()
    {
        Sqe sqe = default;
        Ring.Cqe cqe = default;
        Ring.Params p = default;
        Ring.GetEventsArg ga = default;
        Libc.Stat st = default;
        Libc.PollFd pfd = default;
        Libc.IoVec iov = default;
        return new (string, long)[]
        {
            // system calls made by number (Scheduler/Parker.cs, Io/Uring/Ring.cs)
            ("sys.futex", Futex.SysFutex),
            ("sys.io_uring_setup", Ring.SysSetup),
            ("sys.io_uring_enter", Ring.SysEnter),
            ("futex.wait_private", Futex.WaitPrivate),
            ("futex.wake_private", Futex.WakePrivate),
            ("futex.timespec.size", sizeof(Futex.Timespec)),
            // io_uring (Io/Uring/Ring.cs)
            ("sqe.size", sizeof(Sqe)),
            ("sqe.opcode", Off(ref sqe, ref sqe.Opcode)),
            ("sqe.flags", Off(ref sqe, ref sqe.Flags)),
            ("sqe.ioprio", Off(ref sqe, ref Unsafe.As<ushort, byte>(ref sqe.IoPrio))),
            ("sqe.fd", Off(ref sqe, ref Unsafe.As<int, byte>(ref sqe.Fd))),
            ("sqe.off", Off(ref sqe, ref Unsafe.As<ulong, byte>(ref sqe.Off))),
            ("sqe.addr", Off(ref sqe, ref Unsafe.As<ulong, byte>(ref sqe.Addr))),
            ("sqe.len", Off(ref sqe, ref Unsafe.As<uint, byte>(ref sqe.Len))),
            ("sqe.op_flags", Off(ref sqe, ref Unsafe.As<uint, byte>(ref sqe.OpFlags))),
            ("sqe.user_data", Off(ref sqe, ref Unsafe.As<ulong, byte>(ref sqe.UserData))),
            ("cqe.size", sizeof(Ring.Cqe)),
            ("cqe.user_data", Off(ref cqe, ref Unsafe.As<ulong, byte>(ref cqe.UserData))),
            ("cqe.res", Off(ref cqe, ref Unsafe.As<int, byte>(ref cqe.Res))),
            ("cqe.flags", Off(ref cqe, ref Unsafe.As<uint, byte>(ref cqe.Flags))),
            ("params.size", sizeof(Ring.Params)),
            ("params.sq_entries", Off(ref p, ref Unsafe.As<uint, byte>(ref p.SqEntries))),
            ("params.cq_entries", Off(ref p, ref Unsafe.As<uint, byte>(ref p.CqEntries))),
            ("params.flags", Off(ref p, ref Unsafe.As<uint, byte>(ref p.Flags))),
            ("params.features", Off(ref p, ref Unsafe.As<uint, byte>(ref p.Features))),
            ("params.sq_off", Off(ref p, ref Unsafe.As<Ring.SqOffsets, byte>(ref p.SqOff))),
            ("params.cq_off", Off(ref p, ref Unsafe.As<Ring.CqOffsets, byte>(ref p.CqOff))),
            ("sq_off.size", sizeof(Ring.SqOffsets)),
            ("sq_off.head", Off(ref p.SqOff, ref Unsafe.As<uint, byte>(ref p.SqOff.Head))),
            ("sq_off.tail", Off(ref p.SqOff, ref Unsafe.As<uint, byte>(ref p.SqOff.Tail))),
            ("sq_off.ring_mask", Off(ref p.SqOff, ref Unsafe.As<uint, byte>(ref p.SqOff.RingMask))),
            ("sq_off.ring_entries", Off(ref p.SqOff, ref Unsafe.As<uint, byte>(ref p.SqOff.RingEntries))),
            ("sq_off.flags", Off(ref p.SqOff, ref Unsafe.As<uint, byte>(ref p.SqOff.Flags))),
            ("sq_off.dropped", Off(ref p.SqOff, ref Unsafe.As<uint, byte>(ref p.SqOff.Dropped))),
            ("sq_off.array", Off(ref p.SqOff, ref Unsafe.As<uint, byte>(ref p.SqOff.Array))),
            ("cq_off.size", sizeof(Ring.CqOffsets)),
            ("cq_off.head", Off(ref p.CqOff, ref Unsafe.As<uint, byte>(ref p.CqOff.Head))),
            ("cq_off.tail", Off(ref p.CqOff, ref Unsafe.As<uint, byte>(ref p.CqOff.Tail))),
            ("cq_off.ring_mask", Off(ref p.CqOff, ref Unsafe.As<uint, byte>(ref p.CqOff.RingMask))),
            ("cq_off.ring_entries", Off(ref p.CqOff, ref Unsafe.As<uint, byte>(ref p.CqOff.RingEntries))),
            ("cq_off.overflow", Off(ref p.CqOff, ref Unsafe.As<uint, byte>(ref p.CqOff.Overflow))),
            ("cq_off.cqes", Off(ref p.CqOff, ref Unsafe.As<uint, byte>(ref p.CqOff.Cqes))),
            ("cq_off.flags", Off(ref p.CqOff, ref Unsafe.As<uint, byte>(ref p.CqOff.Flags))),
            ("getevents_arg.size", sizeof(Ring.GetEventsArg)),
            ("getevents_arg.sigmask", Off(ref ga, ref Unsafe.As<ulong, byte>(ref ga.SigMask))),
            ("getevents_arg.sigmask_sz", Off(ref ga, ref Unsafe.As<uint, byte>(ref ga.SigMaskSize))),
            ("getevents_arg.ts", Off(ref ga, ref Unsafe.As<ulong, byte>(ref ga.Ts))),
            ("kernel_timespec.size", sizeof(Ring.KernelTimespec)),
            ("enter.getevents", Ring.EnterGetEvents),
            ("sq.cq_overflow", Ring.SqCqOverflow),
            ("enter.ext_arg", Ring.EnterExtArg),
            ("feat.single_mmap", Ring.FeatSingleMmap),
            ("feat.ext_arg", Ring.FeatExtArg),
            ("off.sq_ring", Ring.OffSqRing),
            ("off.cq_ring", Ring.OffCqRing),
            ("off.sqes", Ring.OffSqes),
            ("op.nop", Sqe.OpNop), ("op.fsync", Sqe.OpFsync), ("op.accept", Sqe.OpAccept),
            ("op.async_cancel", Sqe.OpAsyncCancel), ("op.connect", Sqe.OpConnect), ("op.openat", Sqe.OpOpenAt),
            ("op.close", Sqe.OpClose), ("op.statx", Sqe.OpStatx), ("op.read", Sqe.OpRead),
            ("op.write", Sqe.OpWrite), ("op.send", Sqe.OpSend),
            ("mmap.prot_read_write", Ring.ProtRW), ("mmap.map_shared", Ring.MapShared),
            ("mmap.map_populate", Ring.MapPopulate), ("mmap.prot_read", Libc.PROT_READ),
            ("mmap.map_private", Libc.MAP_PRIVATE),
            // statx (Io/Uring/Stat.cs)
            ("statx.size", Io.Uring.Stat.StatxSize),
            ("statx.stx_mode", Io.Uring.Stat.StatxMode),
            ("statx.stx_size", Io.Uring.Stat.StatxFileSize),
            ("statx.stx_mtime.tv_sec", Io.Uring.Stat.StatxMtimeSec),
            ("statx.stx_mtime.tv_nsec", Io.Uring.Stat.StatxMtimeNsec),
            ("statx.at_empty_path", Io.Uring.Stat.AtEmptyPath),
            ("statx.basic_stats", Io.Uring.Stat.StatxBasicStats),
            // epoll (Io/Pool/Reactor.cs): packed on x86_64 only
            ("epoll_event.size", Reactor.EventSize),
            ("epoll_event.data", Reactor.DataOffset),
            ("epoll.ctl_add", Reactor.EpollCtlAdd), ("epoll.ctl_mod", Reactor.EpollCtlMod),
            ("epoll.cloexec", Reactor.EpollCloexec), ("epoll.in", Reactor.EpollIn), ("epoll.out", Reactor.EpollOut),
            ("epoll.err", Reactor.EpollErr), ("epoll.hup", Reactor.EpollHup), ("epoll.rdhup", Reactor.EpollRdHup),
            ("epoll.oneshot", Reactor.EpollOneShot),
            ("eventfd.cloexec", Reactor.EfdCloexec), ("eventfd.nonblock", Reactor.EfdNonblock),
            // glibc's struct stat (Io/Libc.cs; fstat on the pool backend): st_mode moves between x86_64 and arm64
            ("stat.room", sizeof(Libc.Stat)),
            ("stat.st_mode", ReadOffset(s => s.Mode)),
            ("stat.st_size", Off(ref st, ref Unsafe.As<long, byte>(ref st.Size))),
            ("stat.st_mtim.tv_sec", Off(ref st, ref Unsafe.As<long, byte>(ref st.MtimeSec))),
            ("stat.st_mtim.tv_nsec", Off(ref st, ref Unsafe.As<long, byte>(ref st.MtimeNsec))),
            // sockets, poll, iovec (Io/Libc.cs)
            // socket addresses (Io/SocketAddr.cs writes them by offset)
            ("sockaddr_in.size", NativeSocketAddr.Inet4Len),
            ("sockaddr_in.sin_port", NativeSocketAddr.PortOffset),
            ("sockaddr_in.sin_addr", NativeSocketAddr.Inet4AddrOffset),
            ("sockaddr_in6.size", NativeSocketAddr.Inet6Len),
            ("sockaddr_in6.sin6_port", NativeSocketAddr.PortOffset),
            ("sockaddr_in6.sin6_addr", NativeSocketAddr.Inet6AddrOffset),
            ("sockaddr_in6.sin6_scope_id", NativeSocketAddr.Inet6ScopeOffset),
            ("sockaddr_un.sun_path", NativeSocketAddr.UnixPathOffset),
            ("sockaddr_un.sun_path.size", NativeSocketAddr.UnixPathMax),
            ("sockaddr_storage.size", NativeSocketAddr.Capacity),
            ("pollfd.size", sizeof(Libc.PollFd)),
            ("pollfd.events", Off(ref pfd, ref Unsafe.As<short, byte>(ref pfd.Events))),
            ("pollfd.revents", Off(ref pfd, ref Unsafe.As<short, byte>(ref pfd.Revents))),
            ("iovec.size", sizeof(Libc.IoVec)),
            ("iovec.iov_len", Off(ref iov, ref Unsafe.As<nuint, byte>(ref iov.Len))),
            // constants (Io/Libc.cs)
            ("errno.EPERM", Libc.EPERM), ("errno.ENOENT", Libc.ENOENT), ("errno.EINTR", Libc.EINTR),
            ("errno.EBADF", Libc.EBADF), ("errno.EAGAIN", Libc.EAGAIN), ("errno.EBUSY", Libc.EBUSY),
            ("errno.EISDIR", Libc.EISDIR), ("errno.EINVAL", Libc.EINVAL), ("errno.ESPIPE", Libc.ESPIPE),
            ("errno.ENOSYS", Libc.ENOSYS), ("errno.ENOTSOCK", Libc.ENOTSOCK), ("errno.EOPNOTSUPP", Libc.EOPNOTSUPP),
            ("errno.EINPROGRESS", Libc.EINPROGRESS), ("errno.ECANCELED", Libc.ECANCELED),
            ("fcntl.O_CLOEXEC", Libc.O_CLOEXEC), ("fcntl.O_RDONLY", Libc.O_RDONLY), ("fcntl.O_NONBLOCK", Libc.O_NONBLOCK),
            ("fcntl.SEEK_CUR", Libc.SEEK_CUR), ("fcntl.F_GETFL", Libc.F_GETFL), ("fcntl.RWF_NOWAIT", Libc.RWF_NOWAIT),
            ("socket.AF_INET", Libc.AF_INET), ("socket.SOCK_STREAM", Libc.SOCK_STREAM),
            ("socket.SOCK_CLOEXEC", Libc.SOCK_CLOEXEC), ("socket.SOCK_NONBLOCK", Libc.SOCK_NONBLOCK),
            ("socket.SOL_SOCKET", Libc.SOL_SOCKET), ("socket.SO_REUSEADDR", Libc.SO_REUSEADDR),
            ("socket.SO_ERROR", Libc.SO_ERROR), ("socket.MSG_NOSIGNAL", Libc.MSG_NOSIGNAL),
            ("socket.MSG_DONTWAIT", Libc.MSG_DONTWAIT),
            ("poll.POLLIN", Libc.POLLIN), ("poll.POLLOUT", Libc.POLLOUT),
            // which architecture the probe ran on (the C side checks it is its own)
            ("arch.arm64", RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 1 : 0),
            ("arch.pointer_size", IntPtr.Size),
        };
    }
}
