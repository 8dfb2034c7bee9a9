using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Luminal.Scheduler;
using Luminal.Tasks;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>The worker's ring queue and the global injector, in-process.</summary>
public class QueueTests
{
    static RawTask[] Tasks(int n) => Enumerable.Range(0, n).Select(TaskTable.Standalone).ToArray(); // native cells, never freed

    [Test]
    public void LocalQueueIsFifo()
    {
        var q = new LocalQueue();
        var inj = new Injector();
        RawTask[] ts = Tasks(100);
        foreach (RawTask t in ts) q.Push(t, inj);
        Assert.That(q.Count, Is.EqualTo(100));
        foreach (RawTask t in ts) Assert.That(q.Pop(), Is.EqualTo(t));
        Assert.That(q.Pop(), Is.Null);
        Assert.That(inj.IsEmpty);
    }

    [Test]
    public void FullLocalQueueMovesHalfToInjector()
    {
        var q = new LocalQueue();
        var inj = new Injector();
        RawTask[] ts = Tasks(LocalQueue.Capacity + 1);
        foreach (RawTask t in ts) q.Push(t, inj);
        Assert.That(inj.Count, Is.EqualTo(LocalQueue.Capacity / 2 + 1));
        Assert.That(q.Count, Is.EqualTo(LocalQueue.Capacity / 2));
        // The oldest half went to the injector, in order, followed by the task that did not fit.
        RawTask? chain = inj.PopBatch(1000, out int n);
        Assert.That(n, Is.EqualTo(LocalQueue.Capacity / 2 + 1));
        var got = new List<RawTask>();
        for (RawTask? c = chain; c is RawTask t; c = t.Next) got.Add(t);
        Assert.That(got, Is.EqualTo(ts.Take(LocalQueue.Capacity / 2).Append(ts[^1])));
        for (int i = LocalQueue.Capacity / 2; i < LocalQueue.Capacity; i++) Assert.That(q.Pop(), Is.EqualTo(ts[i]));
    }

    [Test]
    public void StealTakesHalf()
    {
        var a = new LocalQueue();
        var b = new LocalQueue();
        var inj = new Injector();
        RawTask[] ts = Tasks(10);
        foreach (RawTask t in ts) a.Push(t, inj);
        RawTask? first = a.StealInto(b);
        Assert.That(first, Is.Not.Null);
        Assert.That(b.Count + 1 + a.Count, Is.EqualTo(10));
        Assert.That(b.Count + 1, Is.EqualTo(5));
        var seen = new HashSet<RawTask> { first!.Value };
        while (a.Pop() is RawTask t) Assert.That(seen.Add(t));
        while (b.Pop() is RawTask t) Assert.That(seen.Add(t));
        Assert.That(seen, Has.Count.EqualTo(10));
        Assert.That(new LocalQueue().StealInto(b), Is.Null);
    }

    /// <summary>An owner pushing and popping while three thieves steal: every task comes out exactly once.</summary>
    [Test]
    [Repeat(3)]
    public void ConcurrentPopAndStealLoseNothingAndDuplicateNothing()
    {
        const int total = 200_000;
        var owner = new LocalQueue();
        var inj = new Injector();
        RawTask[] ts = Tasks(total);
        var counts = new int[total];
        int done = 0;
        void Take(RawTask t) => Interlocked.Increment(ref counts[t.Index]);

        var thieves = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            var mine = new LocalQueue();
            while (Volatile.Read(ref done) == 0)
            {
                if (owner.StealInto(mine) is RawTask t) Take(t);
                while (mine.Pop() is RawTask u) Take(u);
            }
        })).ToArray();
        foreach (Thread th in thieves) th.Start();
        for (int i = 0; i < total; i++)
        {
            owner.Push(ts[i], inj);
            if (i % 3 == 0 && owner.Pop() is RawTask t) Take(t);
        }
        while (owner.Pop() is RawTask t) Take(t);
        Volatile.Write(ref done, 1);
        foreach (Thread th in thieves) th.Join();
        for (RawTask? c = inj.PopBatch(int.MaxValue, out _); c is RawTask t; c = t.Next) Take(t);
        Assert.That(counts.All(c => c == 1), $"lost: {counts.Count(c => c == 0)}, duplicated: {counts.Count(c => c > 1)}");
    }

    /// <summary>Segments: a pushed chain comes back whole (no walk) when the caller has room for it, single pushes
    /// share a segment that is cut to the fair share otherwise, and FIFO order holds across all of it.</summary>
    [Test]
    public void InjectorTakesWholeChainsAndKeepsFifoOrder()
    {
        var inj = new Injector();
        RawTask[] ts = Tasks(300);
        for (int i = 0; i < 5; i++) Assert.That(inj.Push(ts[i]));
        for (int i = 5; i < 134; i++) ts[i].Next = i + 1 < 134 ? ts[i + 1] : null;
        Assert.That(inj.PushBatch(ts[5], ts[133], 129));
        for (int i = 134; i < 300; i++) Assert.That(inj.Push(ts[i]));
        var got = new List<RawTask>();
        void Drain(RawTask? c) { for (; c is RawTask t; c = t.Next) got.Add(t); }
        Drain(inj.PopBatch(2, out int n)); // the singles' segment (5) is cut to the fair share
        Assert.That(n, Is.EqualTo(2));
        Drain(inj.PopBatch(2, out n, 200)); // 3 left of it: whole (room for 200), not joined by the next chain
        Assert.That(n, Is.EqualTo(3));
        Drain(inj.PopBatch(2, out n, 200)); // the chain of 129, whole
        Assert.That(n, Is.EqualTo(129));
        Drain(inj.PopBatch(10, out n)); // the later singles, cut
        Assert.That(n, Is.EqualTo(10));
        Drain(inj.PopBatch(int.MaxValue, out n)); // the rest
        Assert.That(n, Is.EqualTo(156));
        Assert.That(inj.IsEmpty);
        Assert.That(got, Is.EqualTo(ts));
    }

    [Test]
    public void ClosedInjectorRefusesAndReturnsEverything()
    {
        var inj = new Injector();
        RawTask[] ts = Tasks(3);
        foreach (RawTask t in ts) Assert.That(inj.Push(t));
        RawTask? all = inj.Close();
        int n = 0;
        for (RawTask? c = all; c is RawTask t; c = t.Next) Assert.That(t, Is.EqualTo(ts[n++]));
        Assert.That(n, Is.EqualTo(3));
        Assert.That(inj.Push(TaskTable.Standalone(0)), Is.False);
        Assert.That(inj.IsEmpty);
    }

    [Test]
    public void ParkerKeepsANotificationThatArrivesFirst()
    {
        var p = new Parker();
        p.Unpark();
        Assert.That(p.Park(10_000_000_000), Is.True); // returns at once: the notification was kept
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.That(p.Park(2_000_000), Is.False);       // and consumed: this one times out
        Assert.That(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds, Is.GreaterThanOrEqualTo(1.9));
        var t = new Thread(() => { Thread.Sleep(20); p.Unpark(); });
        t.Start();
        Assert.That(p.Park(60_000_000_000), Is.True);
        t.Join();
    }

    [Test]
    public void IdleLetsAtMostHalfTheWorkersSearch()
    {
        var idle = new Idle(4);
        Assert.That(idle.TryStartSearching());
        Assert.That(idle.TryStartSearching());
        Assert.That(idle.TryStartSearching(), Is.False);
        Assert.That(idle.WorkerToNotify(), Is.EqualTo(-1), "nobody is parked");
        Assert.That(idle.StopSearching(), Is.False);
        Assert.That(idle.Park(3, searching: true), Is.True, "the last searcher parked");
        Assert.That(idle.WorkerToNotify(), Is.EqualTo(3));
        Assert.That(idle.SearchingCount, Is.EqualTo(1), "a notified worker counts as searching");
        Assert.That(idle.ReturnFromPark(3), Is.True, "it was taken off the sleeper list by the notifier");
        Assert.That(idle.Park(2, searching: false), Is.False);
        Assert.That(idle.ReturnFromPark(2), Is.False, "woken for another reason: un-registers itself");
        Assert.That(idle.UnparkedCount, Is.EqualTo(4));
    }
}
