namespace Luminal.Io.Pool;

/// <summary>luminal_file_write_at on the blocking pool: one pwrite(2) from the caller's buffer (cancel: as
/// <see cref="ReadAt"/>).</summary>
static unsafe class WriteAt
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref ReadAtArgs a = ref op.Args<ReadAtArgs>();
        return Raw.Of(Libc.Pwrite(a.Fd, a.Buffer, (nuint)a.Length, a.Offset));
    }
}
