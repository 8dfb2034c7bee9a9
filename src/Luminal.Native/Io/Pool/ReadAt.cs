namespace Luminal.Io.Pool;

/// <summary>
/// luminal_file_read_at on the blocking pool: one pread(2) into the caller's buffer, on a pool thread. Cancel: a
/// call still queued completes at once and never runs (IoOp.CancelPoolCallIfNotStarted); one that started
/// finishes, and the dropper waits for it. Releases nothing.
/// </summary>
static unsafe class ReadAt
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref ReadAtArgs a = ref op.Args<ReadAtArgs>();
        return Raw.Of(Libc.Pread(a.Fd, a.Buffer, (nuint)a.Length, a.Offset));
    }
}
