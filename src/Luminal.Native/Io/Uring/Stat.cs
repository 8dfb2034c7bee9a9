using System.Runtime.InteropServices;

namespace Luminal.Io.Uring;

/// <summary>
/// luminal_file_stat on io_uring: IORING_OP_STATX on the fd itself (empty path + AT_EMPTY_PATH) into a statx
/// buffer the operation owns, copied into the caller's luminal_file_info on completion.
/// </summary>
static unsafe class Stat
{
    const uint AtEmptyPath = 0x1000, StatxBasicStats = 0x7FF;
    static readonly byte* EmptyPath = (byte*)NativeMemory.AllocZeroed(1);

    public static void Prepare(Sqe* sqe, IoOp op)
    {
        if (op.Scratch == null) op.Scratch = NativeMemory.AllocZeroed(256); // struct statx is 256 bytes
        sqe->Opcode = Sqe.OpStatx;
        sqe->Fd = op.Fd;
        sqe->Addr = (ulong)EmptyPath;
        sqe->Len = StatxBasicStats;
        sqe->Off = (ulong)op.Scratch;
        sqe->OpFlags = AtEmptyPath;
    }

    public static long Finish(IoOp op, int res)
    {
        if (res < 0) return res;
        byte* stx = (byte*)op.Scratch;
        var info = (NativeFileInfo*)op.Target;
        info->Mode = *(ushort*)(stx + 28);
        info->Reserved = 0;
        info->Size = *(ulong*)(stx + 40);
        info->MtimeNs = *(long*)(stx + 112) * 1_000_000_000 + *(uint*)(stx + 120);
        return 0;
    }
}
