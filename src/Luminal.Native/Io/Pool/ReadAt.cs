namespace Luminal.Io.Pool;

/// <summary>luminal_file_read_at on the blocking pool: one pread(2) into the caller's buffer.</summary>
static unsafe class ReadAt
{
    public static long Run(IoOp op) => Raw.Of(Libc.Pread(op.Fd, op.Buffer, (nuint)op.Length, op.Offset));
}
