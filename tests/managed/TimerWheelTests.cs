using System;
using System.Collections.Generic;
using System.Linq;
using Luminal.Time;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>The hierarchical timing wheel on its own: every entry fires exactly once, at the first advance that
/// reaches its deadline, across cascades between levels.</summary>
public class TimerWheelTests
{
    static TimerEntry Entry(ulong deadline) => TimerEntry.Standalone(deadline); // native cells, never freed

    static List<TimerEntry> Drain(TimerEntry? chain)
    {
        var fired = new List<TimerEntry>();
        for (TimerEntry? c = chain; c is TimerEntry e; c = e.WheelNext) fired.Add(e);
        return fired;
    }

    [Test]
    public void EntriesFireAtTheFirstAdvanceReachingTheirDeadline()
    {
        var rng = new Random(1234);
        var wheel = new TimerWheel();
        // Deadlines spread over every level: 1 tick to ~64^4 ticks.
        var entries = Enumerable.Range(0, 5000)
            .Select(i => Entry(1 + (ulong)(rng.NextDouble() * Math.Pow(64, 1 + i % 4))))
            .ToList();
        foreach (TimerEntry e in entries) Assert.That(wheel.Insert(e));
        Assert.That(wheel.Count, Is.EqualTo(entries.Count));

        var firedAt = new Dictionary<TimerEntry, ulong>();
        ulong now = 0;
        while (wheel.Count > 0)
        {
            ulong next = wheel.NextExpiration();
            Assert.That(next, Is.GreaterThan(now), "the next expiration is always in the future");
            // Jump irregularly: sometimes exactly to the expiration, sometimes past it.
            now = rng.Next(3) == 0 ? next + (ulong)rng.Next(100) : next;
            foreach (TimerEntry e in Drain(wheel.Advance(now)))
            {
                Assert.That(firedAt.ContainsKey(e), Is.False, "fired twice");
                firedAt[e] = now;
            }
        }
        Assert.That(firedAt, Has.Count.EqualTo(entries.Count));
        foreach (TimerEntry e in entries)
            Assert.That(firedAt[e], Is.GreaterThanOrEqualTo(e.DeadlineTick), "never early");
        // Never late either: an entry fires at the first advance that reaches its deadline. With jumps of up to
        // 100 ticks past an expiration, an entry can only be that much late.
        Assert.That(entries.Max(e => firedAt[e] - e.DeadlineTick), Is.LessThan(100));
    }

    [Test]
    public void RemovedEntriesNeverFire()
    {
        var wheel = new TimerWheel();
        var entries = Enumerable.Range(1, 1000).Select(i => Entry((ulong)i * 37)).ToList();
        foreach (TimerEntry e in entries) wheel.Insert(e);
        foreach (TimerEntry e in entries.Where((_, i) => i % 2 == 0)) wheel.Remove(e);
        Assert.That(wheel.Count, Is.EqualTo(500));
        List<TimerEntry> fired = Drain(wheel.Advance(1000 * 37));
        Assert.That(fired, Is.EquivalentTo(entries.Where((_, i) => i % 2 == 1)));
        Assert.That(wheel.Count, Is.Zero);
        Assert.That(wheel.NextExpiration(), Is.EqualTo(ulong.MaxValue));
    }

    [Test]
    public void PastDeadlinesAreRefusedAndFarOnesStillFire()
    {
        var wheel = new TimerWheel();
        wheel.Advance(500);
        Assert.That(wheel.Insert(Entry(500)), Is.False, "not after the wheel's time");
        var far = Entry(500 + TimerWheel.MaxSpan * 3); // beyond one rotation of the top level
        Assert.That(wheel.Insert(far));
        ulong now = 500;
        int advances = 0;
        while (wheel.Count > 0 && advances++ < 1000)
        {
            now = wheel.NextExpiration();
            List<TimerEntry> fired = Drain(wheel.Advance(now));
            if (fired.Count > 0) Assert.That(now, Is.GreaterThanOrEqualTo(far.DeadlineTick));
        }
        Assert.That(wheel.Count, Is.Zero);
        Assert.That(now, Is.EqualTo(far.DeadlineTick));
    }
}
