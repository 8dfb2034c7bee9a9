using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>What both backends' UDP operations share: the non-blocking try, and the msghdr io_uring reads.</summary>
static unsafe class Datagram
{
    /// <summary>sendto(2) or recvfrom(2) that never blocks: bytes, or a negated errno (-EAGAIN: would block).</summary>
    public static long TryNow(ref DatagramArgs a, bool send)
    {
        while (true)
        {
            nint n;
            if (send)
                n = Libc.SendTo(a.Fd, a.Buffer, (nuint)a.Length, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT,
                    a.Addr == null ? null : a.Addr->Raw, a.Addr == null ? 0 : a.Addr->Len);
            else if (a.Addr == null)
                n = Libc.RecvFrom(a.Fd, a.Buffer, (nuint)a.Length, Libc.MSG_DONTWAIT, null, null);
            else
            {
                uint len = NativeSocketAddr.Capacity;
                n = Libc.RecvFrom(a.Fd, a.Buffer, (nuint)a.Length, Libc.MSG_DONTWAIT, a.Addr->Raw, &len);
                if (n >= 0) NativeSocketAddr.SetLength(a.Addr, len);
            }
            if (n >= 0) return n;
            int e = Libc.Errno;
            if (e != Libc.EINTR) return -e;
        }
    }

    /// <summary>The msghdr (and its one iovec, right after it) for IORING_OP_SENDMSG / RECVMSG, allocated once per
    /// operation in native memory (freed by <see cref="DatagramArgs.Release"/>).</summary>
    public static Libc.MsgHdr* Message(ref DatagramArgs a)
    {
        if (a.Msg == null)
            a.Msg = (Libc.MsgHdr*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.MsgHdr) + sizeof(Libc.IoVec)));
        var iov = (Libc.IoVec*)(a.Msg + 1);
        iov->Base = a.Buffer;
        iov->Len = (nuint)a.Length;
        a.Msg->Iov = iov;
        a.Msg->IovLen = 1;
        a.Msg->Name = a.Addr == null ? null : a.Addr->Raw;
        a.Msg->NameLen = a.Addr == null ? 0 : a.Addr->Len; // recv_from sets it to the capacity (Uring/RecvFrom.cs)
        return a.Msg;
    }
}
