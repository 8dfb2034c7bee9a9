namespace Luminal.Io.Pool;

/// <summary>luminal_file_stat on the blocking pool: fstat(2) into the caller's luminal_file_info.</summary>
static unsafe class Stat
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref StatArgs a = ref op.Args<StatArgs>();
        Libc.Stat st;
        if (Libc.Fstat(a.Fd, &st) != 0) return -Libc.Errno;
        a.Info->Size = (ulong)st.Size;
        a.Info->Mode = st.Mode;
        a.Info->Reserved = 0;
        a.Info->MtimeNs = st.MtimeNs;
        return 0;
    }
}
