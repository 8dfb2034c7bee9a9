namespace Luminal.Io.Pool;

/// <summary>luminal_file_stat on the blocking pool: fstat(2) into the caller's luminal_file_info.</summary>
static unsafe class Stat
{
    public static long Run(IoOp op)
    {
        Libc.Stat st;
        if (Libc.Fstat(op.Fd, &st) != 0) return -Libc.Errno;
        var info = (NativeFileInfo*)op.Target;
        info->Size = (ulong)st.Size;
        info->Mode = st.Mode;
        info->Reserved = 0;
        info->MtimeNs = st.MtimeNs;
        return 0;
    }
}
