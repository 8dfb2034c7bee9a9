namespace Luminal.Io.Pool;

/// <summary>luminal_file_fsync on the blocking pool: fsync(2).</summary>
static unsafe class Fsync
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op) => Raw.Of(Libc.Fsync(op.Args<FdArgs>().Fd));
}
