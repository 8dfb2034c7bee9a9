using System;
using System.Numerics;

namespace Luminal.Time;

/// <summary>
/// A hierarchical timing wheel (after the Varghese–Lauck design tokio uses): 6 levels of 64 slots; a slot at
/// level L spans 64^L ticks, so the wheel covers 64^6 ticks. An entry goes to the level of the highest bit in which
/// its deadline differs from the wheel's current time, so every entry at a lower level expires before any entry at
/// a higher level; when time reaches a higher-level slot its entries move down ("cascade") until they fire.
/// Insert and remove are O(1); finding the next expiry is O(levels) with one 64-bit occupancy mask per level.
/// Entries are <see cref="TimerEntry"/> cells, linked through their own WheelPrev/WheelNext (O(1) insert and
/// remove). Not thread-safe: <see cref="TimerDriver"/> holds a lock around it.
/// </summary>
sealed class TimerWheel
{
    public const int Levels = 6;
    const int SlotBits = 6, Slots = 1 << SlotBits;
    public const ulong MaxSpan = (1UL << (Levels * SlotBits)) - 1;

    readonly TimerEntry?[] _heads = new TimerEntry?[Levels * Slots];
    readonly ulong[] _occupied = new ulong[Levels];
    ulong _elapsed; // the wheel's time: every entry's deadline is > _elapsed
    int _count;

    public ulong Elapsed => _elapsed;
    public int Count => _count;

    /// <summary>Inserts an entry; false (not inserted) if its deadline is not after the wheel's time.</summary>
    public bool Insert(TimerEntry e)
    {
        if (e.DeadlineTick <= _elapsed) return false;
        ulong deadline = e.DeadlineTick - _elapsed > MaxSpan ? _elapsed + MaxSpan : e.DeadlineTick;
        int level = LevelFor(_elapsed, deadline);
        int slot = (int)((deadline >> (level * SlotBits)) & (Slots - 1));
        ref TimerEntry? head = ref _heads[level * Slots + slot];
        e.WheelLevel = level;
        e.WheelSlot = slot;
        e.WheelPrev = null;
        e.WheelNext = head;
        if (head is TimerEntry first) first.WheelPrev = e;
        head = e;
        _occupied[level] |= 1UL << slot;
        _count++;
        return true;
    }

    public void Remove(TimerEntry e)
    {
        if (e.WheelLevel < 0) return;
        int index = e.WheelLevel * Slots + e.WheelSlot;
        if (e.WheelPrev is TimerEntry prev) prev.WheelNext = e.WheelNext;
        else _heads[index] = e.WheelNext;
        if (e.WheelNext is TimerEntry next) next.WheelPrev = e.WheelPrev;
        if (_heads[index] is null) _occupied[e.WheelLevel] &= ~(1UL << e.WheelSlot);
        e.WheelPrev = e.WheelNext = null;
        e.WheelLevel = -1;
        _count--;
    }

    static int LevelFor(ulong elapsed, ulong deadline)
    {
        ulong masked = (elapsed ^ deadline) | (Slots - 1);
        int significant = 63 - BitOperations.LeadingZeroCount(masked);
        // A deadline a full rotation away can differ from now in a bit above the top level: it goes to the top
        // level, whose slots then act as a ring (NextSlot adds a rotation), and cascades down when due.
        return Math.Min(significant / SlotBits, Levels - 1);
    }

    /// <summary>The tick at which the next slot falls due, or ulong.MaxValue if the wheel is empty.</summary>
    public ulong NextExpiration() => NextSlot(out _, out _);

    ulong NextSlot(out int level, out int slot)
    {
        for (level = 0; level < Levels; level++)
        {
            ulong occupied = _occupied[level];
            if (occupied == 0) continue;
            int shift = level * SlotBits;
            ulong slotRange = 1UL << shift;
            ulong levelRange = slotRange << SlotBits;
            int nowSlot = (int)((_elapsed >> shift) & (Slots - 1));
            slot = (nowSlot + BitOperations.TrailingZeroCount(BitOperations.RotateRight(occupied, nowSlot))) & (Slots - 1);
            ulong levelStart = _elapsed & ~(levelRange - 1);
            ulong deadline = levelStart + (ulong)slot * slotRange;
            if (deadline <= _elapsed) deadline += levelRange; // the slot lies in the level's next rotation
            return deadline;
        }
        slot = -1;
        return ulong.MaxValue;
    }

    /// <summary>
    /// Advances the wheel to <paramref name="now"/>, handing every entry whose deadline is ≤ now to
    /// <paramref name="fire"/> as a chain linked through WheelNext (already removed from the wheel).
    /// </summary>
    public TimerEntry? Advance(ulong now)
    {
        TimerEntry? fired = null;
        while (true)
        {
            ulong expiration = NextSlot(out int level, out int slot);
            if (expiration > now) break;
            _elapsed = expiration;
            int index = level * Slots + slot;
            TimerEntry? chain = _heads[index];
            _heads[index] = null;
            _occupied[level] &= ~(1UL << slot);
            while (chain is TimerEntry e)
            {
                TimerEntry? next = e.WheelNext;
                _count--;
                e.WheelLevel = -1;
                e.WheelPrev = null;
                if (e.DeadlineTick <= _elapsed || !Insert(e))
                {
                    e.WheelNext = fired;
                    fired = e;
                }
                chain = next;
            }
        }
        if (now > _elapsed) _elapsed = now;
        return fired;
    }
}
