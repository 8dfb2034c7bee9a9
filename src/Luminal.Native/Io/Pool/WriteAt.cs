namespace Luminal.Io.Pool;

/// <summary>luminal_file_write_at on the blocking pool: one pwrite(2) from the caller's buffer.</summary>
static unsafe class WriteAt
{
    public static long Run(IoOp op) => Raw.Of(Libc.Pwrite(op.Fd, op.Buffer, (nuint)op.Length, op.Offset));
}
