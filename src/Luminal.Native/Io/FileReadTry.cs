namespace Luminal.Io;

/// <summary>
/// luminal_file_read_at's first step on both backends: one preadv2(2) with RWF_NOWAIT on the submitting thread.
/// Data in the page cache — the common case for a file read again, and the warm-cache read loop of issue 15, which
/// ran at 0.80 of a plain pread loop — is copied right there: no SQE, no completion, no pool thread. The kernel
/// answers EAGAIN instead of waiting for the device, and then the read goes where it went before (the ring, a pool
/// thread). It also answers ESPIPE for a pipe or socket, which a ring read would not (it ignores the offset there):
/// the lseek(2) that checked that on io_uring is made only where the try cannot answer (EOPNOTSUPP: tmpfs, or no
/// preadv2 at all).
///
/// A short answer may only mean the rest is not cached yet: the arguments move past what was read
/// (<see cref="ReadAtArgs.Done"/> keeps the count) and the rest is read the slow way, so a read of cached and
/// uncached pages still returns as much as a blocking pread would; the slow path's result adds <see cref="Done"/>
/// (<see cref="WithDone"/>).
/// </summary>
static unsafe class FileReadTry
{
    /// <summary>The whole result (bytes, 0 at the end of the file, or a negated errno), or <paramref name="slow"/>:
    /// read the rest (the arguments now say what) on the ring or a pool thread.</summary>
    public static long Try(IoOp op, long slow, bool slowNeedsSeekCheck)
    {
        if (op.CancelRequested) return -Libc.ECANCELED;
        ref ReadAtArgs a = ref op.Args<ReadAtArgs>();
        Libc.IoVec v = new() { Base = a.Buffer, Len = (nuint)System.Math.Min(a.Length, int.MaxValue) };
        nint n = Libc.Preadv2(a.Fd, &v, 1, a.Offset, Libc.RWF_NOWAIT);
        if (n < 0)
        {
            int e = Libc.Errno;
            if (e is Libc.EAGAIN or Libc.EINTR) return slow; // the device would be needed, or a signal came
            // The filesystem does not do NOWAIT reads (tmpfs), or preadv2 itself is missing (an emulator, a seccomp
            // filter: glibc then answers EOPNOTSUPP for a pipe as well): the slow path, after the lseek check where
            // it cannot tell a pipe from a file (io_uring).
            if (e is Libc.EOPNOTSUPP or Libc.ENOSYS) return slowNeedsSeekCheck ? SeekCheck(a.Fd, slow) : slow;
            return -e;
        }
        if (n == 0 || (ulong)n == a.Length) return n; // the end of the file, or all of it
        a.Buffer += n;
        a.Length -= (ulong)n;
        a.Offset += n;
        a.Done = (ulong)n;
        return slow;
    }

    /// <summary>Without the try: a pipe or socket answers ESPIPE here, as pread(2) would (a ring read would wait
    /// for data instead, ignoring the offset).</summary>
    static long SeekCheck(int fd, long slow) => Libc.Lseek(fd, 0, Libc.SEEK_CUR) >= 0 ? slow : -Libc.Errno;

    /// <summary>The slow path's result with what the try read first: an error after some bytes is a short read
    /// (the next read meets the error again).</summary>
    public static long WithDone(IoOp op, long raw)
    {
        ulong done = op.Args<ReadAtArgs>().Done;
        return done == 0 ? raw : raw < 0 ? (long)done : raw + (long)done;
    }
}
