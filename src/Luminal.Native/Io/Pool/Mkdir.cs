namespace Luminal.Io.Pool;

/// <summary>luminal_fs_mkdir on the blocking pool: mkdir(2).</summary>
static unsafe class Mkdir
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        return Raw.Of(Libc.Mkdir(a.Path, a.Mode));
    }
}
