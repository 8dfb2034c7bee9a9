namespace Luminal.Io.Pool;

/// <summary>luminal_file_open on the blocking pool: open(2) with O_CLOEXEC.</summary>
static unsafe class Open
{
    public static long Run(IoOp op) => Raw.Of(Libc.Open(op.Path, op.Flags | Libc.O_CLOEXEC, op.Mode));
}
