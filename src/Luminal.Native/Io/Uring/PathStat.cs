using System.Runtime.InteropServices;

namespace Luminal.Io.Uring;

/// <summary>
/// luminal_fs_stat on io_uring: IORING_OP_STATX of a path relative to the working directory (symbolic links
/// followed) into a statx buffer the operation owns, copied into the caller's luminal_file_info on completion.
/// Releases the path copy and the buffer (<see cref="PathArgs.Release"/>).
/// </summary>
static unsafe class PathStat
{
    const uint StatxBasicStats = 0x7FF;

    public static UringOp Row => new(&Prepare, finish: &Finish);

    static void Prepare(Sqe* sqe, IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        if (a.Statx == null) a.Statx = NativeMemory.AllocZeroed(256); // struct statx is 256 bytes
        sqe->Opcode = Sqe.OpStatx;
        sqe->Fd = Libc.AT_FDCWD;
        sqe->Addr = (ulong)a.Path;
        sqe->Len = StatxBasicStats;
        sqe->Off = (ulong)a.Statx;
    }

    static long Finish(IoOp op, int res)
    {
        if (res < 0) return res;
        ref PathArgs a = ref op.Args<PathArgs>();
        byte* stx = (byte*)a.Statx;
        var info = (NativeFileInfo*)a.Target;
        info->Mode = *(ushort*)(stx + 28);    // stx_mode
        info->Reserved = 0;
        info->Size = *(ulong*)(stx + 40);     // stx_size
        info->MtimeNs = *(long*)(stx + 112) * 1_000_000_000 + *(uint*)(stx + 120); // stx_mtime
        return 0;
    }
}
