using Luminal.Handles;
using Luminal.Interop;

namespace Luminal.Time;

/// <summary>
/// The state of a runtime-provided future (sleep or timeout), pooled in <see cref="Table"/> and named by a token
/// in luminal_future.state, so a future dropped twice or polled after its drop is detected instead of touching
/// freed memory.
/// </summary>
sealed class TimerEntry : WheelEntry
{
    public static readonly SlotTable<TimerEntry> Table = new(() => new TimerEntry());

    internal Runtime? Runtime;
    internal ulong Waker;     // under the driver's lock
    internal bool Fired;      // under the driver's lock
    internal NativeFuture Inner; // luminal_timeout: the wrapped future (Poll == null once dropped)

    public ulong Token => Handles.Token.Make(Handles.Token.Future, Index, Generation);

    internal ulong DeadlineNs; // the exact deadline (DeadlineTick is it rounded up to the wheel's tick)

    public static TimerEntry? Create(Runtime runtime, ulong deadlineNs)
    {
        TimerEntry? e = Table.Allocate();
        if (e is null) return null;
        e.Runtime = runtime;
        e.DeadlineNs = deadlineNs;
        e.DeadlineTick = runtime.Timers.TickAtOrAfter(deadlineNs);
        e.Waker = 0;
        e.Fired = false;
        e.Inner = default;
        return e;
    }

    public static TimerEntry? FromToken(ulong token, out uint generation) =>
        Table.FromToken(token, Handles.Token.Future, out generation);

    /// <summary>
    /// Takes the entry out of the wheel and returns it to the pool. Only the caller whose generation CAS wins
    /// does it, so a future dropped twice is released once.
    /// </summary>
    public bool TryRelease(uint generation)
    {
        if (!TryRetire(generation)) return false;
        Runtime?.Timers.Cancel(this);
        Runtime = null;
        Inner = default;
        Table.Free(this);
        return true;
    }
}
