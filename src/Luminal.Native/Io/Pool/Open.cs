namespace Luminal.Io.Pool;

/// <summary>luminal_file_open on the blocking pool: open(2) with O_CLOEXEC. An fd nobody read is closed by
/// <see cref="OpenArgs.Release"/>.</summary>
static unsafe class Open
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref OpenArgs a = ref op.Args<OpenArgs>();
        return Raw.Of(Libc.Open(a.Path, a.Flags | Libc.O_CLOEXEC, a.Mode));
    }
}
