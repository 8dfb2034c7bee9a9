namespace Luminal.Io.Pool;

/// <summary>luminal_fs_unlink and luminal_fs_remove_dir on the blocking pool: unlinkat(2), AT_REMOVEDIR for a
/// directory.</summary>
static unsafe class Unlink
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        return Raw.Of(Libc.UnlinkAt(Libc.AT_FDCWD, a.Path, a.Flags));
    }
}
