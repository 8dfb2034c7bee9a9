using System.Runtime.InteropServices;

namespace Luminal.Observe;

/// <summary>
/// A runtime's counters that any thread writes with atomics (host threads' spawns and joins, IO operations,
/// unparks): on cache lines of their own, 64 bytes of padding on each side. As plain fields of the runtime they
/// shared lines with what every worker reads on every turn (the shutdown flag, the worker and queue arrays), so each
/// host spawn's increment took those lines from both workers and the next read by each missed (a C++ host spawning
/// while the workers ran: CountSpawned alone was 3.4% of the spawning thread's samples).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
struct SharedCounters
{
    [FieldOffset(64)] public long SpawnedElsewhere;    // tasks made off the workers' threads
    [FieldOffset(72)] public long FinishedElsewhere;  // ... and finished there
    [FieldOffset(80)] public long CompletedElsewhere; // ... completed there (block_on, blocking pool)
    [FieldOffset(88)] public long Unparks;            // workers woken (metrics)
    [FieldOffset(96)] public long IoInFlight;         // IoOp: submitted, completion not yet arrived (metrics)
    [FieldOffset(104)] public int IoRefs;             // Runtime.AddIoRef: 1 for the tokens + 1 per live IO operation
}
