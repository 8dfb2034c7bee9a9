namespace Luminal.Io.Pool;

/// <summary>luminal_fs_rename on the blocking pool: rename(2).</summary>
static unsafe class Rename
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        return Raw.Of(Libc.Rename(a.Path, a.Path2));
    }
}
