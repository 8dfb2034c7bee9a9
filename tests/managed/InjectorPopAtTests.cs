using System.Collections.Generic;
using System.Linq;
using Luminal.Scheduler;
using Luminal.Tasks;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>Injector.PopAt, the seeded current-thread runtime's pick: any position, the list stays intact.</summary>
public class InjectorPopAtTests
{
    // Standalone cells (native, never freed: a few per test run), as the queue tests use: no table, no runtime.
    static RawTask[] Tasks(int n) => Enumerable.Range(0, n).Select(i => TaskTable.Standalone(i)).ToArray();

    static List<RawTask> Drain(Injector inj)
    {
        var got = new List<RawTask>();
        while (inj.PopBatch(1, out _) is RawTask t) got.Add(t);
        return got;
    }

    [Test]
    public void PopsThePositionModuloTheLength()
    {
        var inj = new Injector();
        RawTask[] ts = Tasks(5);
        foreach (RawTask t in ts) inj.Push(t);
        Assert.That(inj.PopAt(2), Is.EqualTo(ts[2]));
        Assert.That(inj.PopAt(4 + 4 * 1000), Is.EqualTo(ts[0])); // 4 left: position 0
        Assert.That(inj.Count, Is.EqualTo(3));
        Assert.That(Drain(inj), Is.EqualTo(new[] { ts[1], ts[3], ts[4] }));
        Assert.That(inj.PopAt(7), Is.Null);
    }

    [Test]
    public void TakingTheTailKeepsPushesInOrder()
    {
        var inj = new Injector();
        RawTask[] ts = Tasks(4);
        inj.Push(ts[0]);
        inj.Push(ts[1]);
        Assert.That(inj.PopAt(1), Is.EqualTo(ts[1])); // the tail
        inj.Push(ts[2]);
        Assert.That(inj.PopAt(0), Is.EqualTo(ts[0])); // the head
        Assert.That(inj.PopAt(0), Is.EqualTo(ts[2])); // the only one: head and tail
        inj.Push(ts[3]);
        Assert.That(Drain(inj), Is.EqualTo(new[] { ts[3] }));
        Assert.That(inj.IsEmpty);
    }
}
