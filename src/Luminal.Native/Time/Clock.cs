using System.Diagnostics;

namespace Luminal.Time;

/// <summary>The monotonic clock behind luminal_now_ns (CLOCK_MONOTONIC on Linux via Stopwatch).</summary>
static class Clock
{
    static readonly double NsPerTick = 1_000_000_000.0 / Stopwatch.Frequency;

    public static ulong NowNs() => Stopwatch.Frequency == 1_000_000_000
        ? (ulong)Stopwatch.GetTimestamp()
        : (ulong)(Stopwatch.GetTimestamp() * NsPerTick);
}
