using System.Threading;

namespace Luminal.Time;

/// <summary>
/// The time of a runtime made with LUMINAL_CLOCK_PAUSED: it starts at the runtime's creation and moves only
/// forward, when the thread driving the runtime advances it (luminal_runtime_advance, block_on's auto-advance;
/// see <see cref="Scheduler.CurrentThread"/>). One writer (the driving thread), any reader.
/// </summary>
sealed class PausedClock(ulong startNs)
{
    long _nowNs = (long)startNs;

    public ulong NowNs => (ulong)Volatile.Read(ref _nowNs);

    /// <summary>Moves the clock to <paramref name="ns"/> if that is later (it never goes back).</summary>
    public void MoveTo(ulong ns)
    {
        if (ns > NowNs) Volatile.Write(ref _nowNs, (long)ns);
    }
}
