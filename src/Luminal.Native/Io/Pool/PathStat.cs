namespace Luminal.Io.Pool;

/// <summary>luminal_fs_stat on the blocking pool: stat(2) (links followed) into the caller's luminal_file_info.</summary>
static unsafe class PathStat
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        Libc.Stat st;
        if (Libc.StatPath(a.Path, &st) != 0) return -Libc.Errno;
        var info = (NativeFileInfo*)a.Target;
        info->Size = (ulong)st.Size;
        info->Mode = st.Mode;
        info->Reserved = 0;
        info->MtimeNs = st.MtimeNs;
        return 0;
    }
}
