namespace Luminal.Io.Pool;

/// <summary>luminal_file_fsync on the blocking pool: fsync(2).</summary>
static class Fsync
{
    public static long Run(IoOp op) => Raw.Of(Libc.Fsync(op.Fd));
}
