using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Tasks;

namespace Luminal.Time;

/// <summary>One timer's storage, in native memory (see <see cref="TimerEntry"/>): no managed reference, so a
/// million pending sleeps cost the GC nothing (issue 15). The runtime is named by its <see cref="TaskRuntimes"/> id,
/// the wheel's links are cell pointers (cells never move).</summary>
[StructLayout(LayoutKind.Sequential)]
unsafe struct TimerCell : IPoolCell<TimerCell>
{
    public uint Generation;      // retired by a CAS (GenerationSlot's rule)
    public int Index;
    public int NextFree;         // free-list link; meaningful only while the slot is free
    public int RuntimeId;        // TaskRuntimes id, 0 = none
    public ulong Waker;          // under the driver's lock
    public NativeFuture Inner;   // luminal_timeout: the wrapped future (Poll == null once dropped)
    public ulong DeadlineNs;     // the exact deadline (DeadlineTick is it rounded up to the wheel's tick)
    public ulong DeadlineTick;
    public TimerCell* WheelPrev, WheelNext;
    public int WheelLevel, WheelSlot; // WheelLevel -1: not in the wheel
    public byte Fired;           // under the driver's lock

    public static int* IndexOf(TimerCell* cell) => &cell->Index;
    public static int* NextFreeOf(TimerCell* cell) => &cell->NextFree;
    public static void Init(TimerCell* cell)
    {
        cell->Generation = 1;
        cell->WheelLevel = -1;
    }
}

/// <summary>
/// The state of a runtime-provided future (sleep or timeout), a pooled native cell named by a token in
/// luminal_future.state, so a future dropped twice or polled after its drop is detected instead of touching freed
/// memory. The pool (<see cref="Allocate"/>, <see cref="Free"/>) follows <see cref="SlotTable{T}"/>: chunks that
/// never move, looked up without a lock, a lock-free free stack with an ABA counter; growing it allocates native
/// memory only.
/// </summary>
readonly unsafe struct TimerEntry : IEquatable<TimerEntry>
{
    readonly TimerCell* _p;

    TimerEntry(TimerCell* cell) => _p = cell;

    public int Index => _p->Index;
    internal ref uint Generation => ref _p->Generation;
    internal Runtime? Runtime
    {
        get => TaskRuntimes.Get(_p->RuntimeId);
        set => _p->RuntimeId = value?.TaskRuntimeId ?? 0;
    }
    internal ref ulong Waker => ref _p->Waker;
    internal bool Fired { get => _p->Fired != 0; set => _p->Fired = value ? (byte)1 : (byte)0; }
    internal ref NativeFuture Inner => ref _p->Inner;
    internal ref ulong DeadlineNs => ref _p->DeadlineNs;
    internal ref ulong DeadlineTick => ref _p->DeadlineTick;
    internal TimerEntry? WheelPrev { get => Of(_p->WheelPrev); set => _p->WheelPrev = CellOf(value); }
    internal TimerEntry? WheelNext { get => Of(_p->WheelNext); set => _p->WheelNext = CellOf(value); }
    internal ref int WheelLevel => ref _p->WheelLevel;
    internal ref int WheelSlot => ref _p->WheelSlot;

    static TimerEntry? Of(TimerCell* cell) => cell == null ? null : new TimerEntry(cell);
    static TimerCell* CellOf(TimerEntry? e) => e is TimerEntry t ? t._p : null;

    public bool Equals(TimerEntry other) => _p == other._p;
    public override bool Equals(object? obj) => obj is TimerEntry t && Equals(t);
    public override int GetHashCode() => ((nint)_p).GetHashCode();
    public static bool operator ==(TimerEntry a, TimerEntry b) => a._p == b._p;
    public static bool operator !=(TimerEntry a, TimerEntry b) => a._p != b._p;

    public ulong Token => Handles.Token.Make(Handles.Token.Future, Index, Volatile.Read(ref _p->Generation));

    public static TimerEntry? Create(Runtime runtime, ulong deadlineNs)
    {
        if (Allocate() is not TimerEntry e) return null;
        e.Runtime = runtime;
        e.DeadlineNs = deadlineNs;
        e.DeadlineTick = runtime.Timers.TickAtOrAfter(deadlineNs);
        e.Waker = 0;
        e.Fired = false;
        e.Inner = default;
        // Not in any wheel: a cell freed after its runtime was gone (TryRelease could not reach that runtime's wheel)
        // still carries its old links, and PollEntry would take it for an entry already in the wheel (never fired).
        e.WheelLevel = -1;
        e.WheelSlot = 0;
        e.WheelPrev = e.WheelNext = null;
        return e;
    }

    public static TimerEntry? FromToken(ulong token, out uint generation)
    {
        if (!Handles.Token.TryDecode(token, Handles.Token.Future, out int index, out generation)) return null;
        TimerCell* cell = Cell(index);
        return cell != null && Volatile.Read(ref cell->Generation) == generation ? new TimerEntry(cell) : null;
    }

    /// <summary>
    /// Takes the entry out of the wheel and returns it to the pool. Only the caller whose generation CAS wins
    /// does it, so a future dropped twice is released once.
    /// </summary>
    public bool TryRelease(uint generation)
    {
        if (Interlocked.CompareExchange(ref _p->Generation, Generations.Next(generation), generation) != generation)
            return false;
        // A runtime that is gone (unregistered: unreachable, its wheel never advanced again) keeps the cell linked in
        // its dead wheel; Create starts every reuse unlinked.
        Runtime?.Timers.Cancel(this);
        Runtime = null;
        Inner = default;
        Free(this);
        return true;
    }

    // ---- the pool -----------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TimerCell* Cell(int index) => NativeCellPool<TimerCell>.Cell(index);

    static TimerEntry? Allocate()
    {
        TimerCell* cell = NativeCellPool<TimerCell>.Allocate();
        return cell == null ? null : new TimerEntry(cell);
    }

    static void Free(TimerEntry e) => NativeCellPool<TimerCell>.Free(e._p);

    /// <summary>For tests of the wheel: an entry outside the pool with this deadline tick; never freed.</summary>
    internal static TimerEntry Standalone(ulong deadlineTick)
    {
        var cell = (TimerCell*)NativeMemory.AllocZeroed((nuint)sizeof(TimerCell));
        cell->WheelLevel = -1;
        cell->DeadlineTick = deadlineTick;
        return new TimerEntry(cell);
    }
}
