namespace Luminal.Io.Pool;

/// <summary>
/// luminal_file_read_at on the blocking pool. First the cached-read try on the submitting thread
/// (<see cref="FileReadTry"/>): a warm file needs no pool thread. The rest: one pread(2) into the caller's buffer on
/// a pool thread, plus what the try read. Cancel: a call still queued completes at once and never runs
/// (IoOp.CancelPoolCallIfNotStarted); one that started finishes, and the dropper waits for it. Releases nothing.
/// </summary>
static unsafe class ReadAt
{
    public static PoolOp Row => new(&Run, &TryCached);

    static long TryCached(IoOp op) => FileReadTry.Try(op, PoolOp.OnPoolThread, slowNeedsSeekCheck: false);

    static long Run(IoOp op)
    {
        ref ReadAtArgs a = ref op.Args<ReadAtArgs>();
        return FileReadTry.WithDone(op, Raw.Of(Libc.Pread(a.Fd, a.Buffer, (nuint)a.Length, a.Offset)));
    }
}
