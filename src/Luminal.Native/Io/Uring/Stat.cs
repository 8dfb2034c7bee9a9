using System.Runtime.InteropServices;

namespace Luminal.Io.Uring;

/// <summary>
/// luminal_file_stat on io_uring: IORING_OP_STATX on the fd itself (empty path + AT_EMPTY_PATH) into a statx
/// buffer the operation owns (freed by <see cref="StatArgs.Release"/>), copied into the caller's
/// luminal_file_info on completion.
/// </summary>
static unsafe class Stat
{
    // internal: tests/layout checks them against <linux/stat.h> on each architecture.
    internal const uint AtEmptyPath = 0x1000, StatxBasicStats = 0x7FF;
    internal const int StatxSize = 256, StatxMode = 28, StatxFileSize = 40, StatxMtimeSec = 112, StatxMtimeNsec = 120;
    static readonly byte* EmptyPath = (byte*)NativeMemory.AllocZeroed(1);

    public static UringOp Row => new(&Prepare, finish: &Finish);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref StatArgs a = ref op.Args<StatArgs>();
        if (a.Statx == null) a.Statx = NativeMemory.AllocZeroed(StatxSize);
        sqe->Opcode = Sqe.OpStatx;
        sqe->Fd = a.Fd;
        sqe->Addr = (ulong)EmptyPath;
        sqe->Len = StatxBasicStats;
        sqe->Off = (ulong)a.Statx;
        sqe->OpFlags = AtEmptyPath;
    }

    static long Finish(IoOp op, int res)
    {
        if (res < 0) return res;
        ref StatArgs a = ref op.Args<StatArgs>();
        byte* stx = (byte*)a.Statx;
        a.Info->Mode = *(ushort*)(stx + StatxMode);
        a.Info->Reserved = 0;
        a.Info->Size = *(ulong*)(stx + StatxFileSize);
        a.Info->MtimeNs = *(long*)(stx + StatxMtimeSec) * 1_000_000_000 + *(uint*)(stx + StatxMtimeNsec);
        return 0;
    }
}
