using System.Runtime.InteropServices;

namespace Luminal.Io.Uring;

/// <summary>
/// The adaptive receive try (issue 15): a stream read first tries a non-blocking recv(2), which in request/response
/// traffic usually fails (the reply is not there yet) — one wasted system call per message before the SQE. After a
/// try on an fd would have blocked, the next <see cref="Skips"/> reads on it go straight to the ring (the kernel
/// tries the read itself when it takes the SQE, so data that is there is still read at once), then one tries again.
/// Per fd, process-wide (fds are), in one native table allocated once; fds beyond it always try. Racy by design:
/// a lost update costs one try or one skip, never a result.
/// </summary>
static unsafe class RecvHint
{
    const int Tracked = 1 << 16;
    const byte Skips = 3; // of 0, 3, 15 in the echo benchmarks: 3 removed ~3/4 of the failed recvs; 15 was no better
    static readonly byte* s_skips = (byte*)NativeMemory.AllocZeroed(Tracked);

    /// <summary>Should this read skip its try (and count the skip)?</summary>
    public static bool SkipTry(int fd)
    {
        if ((uint)fd >= Tracked) return false;
        byte left = s_skips[fd];
        if (left == 0) return false;
        s_skips[fd] = (byte)(left - 1);
        return true;
    }

    /// <summary>A try on <paramref name="fd"/> would have blocked.</summary>
    public static void WouldBlock(int fd)
    {
        if ((uint)fd < Tracked) s_skips[fd] = Skips;
    }
}
