namespace Luminal.Io.Pool;

/// <summary>luminal_file_close on the blocking pool: close(2).</summary>
static unsafe class Close
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op) => Raw.Of(Libc.Close(op.Args<FdArgs>().Fd));
}
