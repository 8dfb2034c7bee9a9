namespace Luminal.Io.Pool;

/// <summary>luminal_file_close on the blocking pool: close(2).</summary>
static class Close
{
    public static long Run(IoOp op) => Raw.Of(Libc.Close(op.Fd));
}
