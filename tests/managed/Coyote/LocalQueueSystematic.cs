using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Luminal.Scheduler;
using Luminal.Tasks;
using Microsoft.Coyote.Rewriting;
using Microsoft.Coyote.Specifications;

namespace Luminal.Coyote;

static class LocalQueueSystematic
{
    static readonly RawTask[] Pool = MakePool(LocalQueue.Capacity + 8);

    static RawTask[] MakePool(int n)
    {
        var pool = new RawTask[n];
        for (int i = 0; i < n; i++) pool[i] = TaskTable.Standalone(i);
        return pool;
    }

    /// <summary>
    /// Counts how often each task came out of a queue; every one must come out exactly once. Not rewritten: its
    /// own steps are no scheduling points (Coyote runs one thread at a time, so they are atomic), only the
    /// queue's are.
    /// </summary>
    [SkipRewriting("test bookkeeping")]
    sealed class Ledger
    {
        readonly int[] _taken;
        public Ledger(int n) => _taken = new int[n];

        public void Take(RawTask? t)
        {
            if (t is not RawTask task) return;
            int n = ++_taken[task.Index];
            Specification.Assert(n == 1, $"task {task.Index} handed out {n} times");
        }

        public void Drain(LocalQueue q) { while (q.Pop() is RawTask t) Take(t); }

        public void Drain(Injector inj) { for (RawTask? c = inj.PopBatch(int.MaxValue, out _); c is RawTask t; c = t.Next) Take(t); }

        public void AssertAllTakenOnce(int n)
        {
            for (int i = 0; i < n; i++) Specification.Assert(_taken[i] == 1, $"task {i} handed out {_taken[i]} times");
        }
    }

    static void AssertBounded(LocalQueue q)
    {
        int c = q.Count;
        Specification.Assert(c >= 0 && c <= LocalQueue.Capacity, $"queue length {c} out of [0, {LocalQueue.Capacity}]");
    }

    /// <summary>An empty queue whose positions start <paramref name="before"/> short of the 32-bit wrap.</summary>
    static LocalQueue NearWrap(uint before)
    {
        var q = new LocalQueue();
        uint p = 0u - before;
        typeof(LocalQueue).GetField("_head", BindingFlags.NonPublic | BindingFlags.Instance)!
            .SetValue(q, (long)(((ulong)p << 32) | p));
        typeof(LocalQueue).GetField("_tail", BindingFlags.NonPublic | BindingFlags.Instance)!.SetValue(q, (int)p);
        return q;
    }

    /// <summary>
    /// The owner pushes four tasks and pops twice while a thief steals half, drains its own queue, steals again.
    /// Positions start 2 short of the 32-bit wrap, so the ring's positions wrap mid-test.
    /// Found when broken (each tried once, in at most 20 schedules): StealInto claiming with a plain write instead
    /// of CompareExchange, or releasing its claim with a plain write (a task handed out twice); Pop's CAS replaced
    /// by a plain write; Push publishing the tail before storing the slot (a thief takes a null).
    /// </summary>
    [Systematic(2000)]
    static void OwnerPushPopVsThief()
    {
        LocalQueue q = NearWrap(2), d = NearWrap(1);
        var inj = new Injector();
        var ledger = new Ledger(4);
        Par.Run(() =>
        {
            q.Push(Pool[0], inj); q.Push(Pool[1], inj);
            ledger.Take(q.Pop());
            q.Push(Pool[2], inj); q.Push(Pool[3], inj);
            AssertBounded(q);
            ledger.Take(q.Pop());
        }, () =>
        {
            ledger.Take(q.StealInto(d));
            ledger.Drain(d);
            ledger.Take(q.StealInto(d));
        });
        ledger.Drain(q);
        ledger.Drain(d);
        ledger.Drain(inj);
        Specification.Assert(inj.IsEmpty && q.IsEmpty && d.IsEmpty, "queues not empty after draining");
        ledger.AssertAllTakenOnce(4);
    }

    /// <summary>
    /// Two thieves steal from the owner's queue while the owner pops, and a third worker steals from the first
    /// thief while that one is filling its own queue (workers steal from each other). Tasks already queued.
    /// Found when broken: StealInto without its "another thief is copying" check (19 schedules); the claim or its
    /// release as plain writes; Pop's CAS as a plain write.
    /// </summary>
    [Systematic(1500)]
    static void TwoThievesAndAThiefOfTheThief()
    {
        var q = new LocalQueue();
        LocalQueue a = new(), b = new(), c = new();
        var inj = new Injector();
        var ledger = new Ledger(6);
        for (int i = 0; i < 6; i++) q.Push(Pool[i], inj);
        Par.Run(() =>
        {
            ledger.Take(q.Pop());
            ledger.Take(q.Pop());
        }, () =>
        {
            ledger.Take(q.StealInto(a));
            AssertBounded(a);
            ledger.Take(a.Pop());
        }, () =>
        {
            ledger.Take(q.StealInto(b));
            ledger.Take(a.StealInto(b));
            ledger.Drain(b);
        }, () =>
        {
            ledger.Take(a.StealInto(c));
            ledger.Drain(c);
        });
        foreach (LocalQueue x in new[] { q, a, b, c }) ledger.Drain(x);
        ledger.Drain(inj);
        ledger.AssertAllTakenOnce(6);
    }

    /// <summary>
    /// A full queue: the owner's next push moves the oldest half plus the new task to the injector (claiming it
    /// with one CAS on the head) while a thief steals half of the same entries; then the owner pushes once more.
    /// If the thief is mid-copy the owner must not wait and must not overwrite the slots being copied.
    /// Found when broken: PushOverflow claiming with a plain write instead of its CAS (32 schedules: tasks both
    /// stolen and moved to the injector); StealInto's claim, its release, Pop's CAS as plain writes.
    /// </summary>
    [Systematic(500)]
    static void OverflowVsSteal()
    {
        const int n = LocalQueue.Capacity + 2;
        var q = new LocalQueue();
        var d = new LocalQueue();
        var inj = new Injector();
        var ledger = new Ledger(n);
        Microsoft.Coyote.Runtime.SchedulingPoint.Suppress(); // filling is not part of the race
        for (int i = 0; i < LocalQueue.Capacity; i++) q.Push(Pool[i], inj);
        Microsoft.Coyote.Runtime.SchedulingPoint.Resume();
        Par.Run(() =>
        {
            q.Push(Pool[n - 2], inj);
            AssertBounded(q);
            q.Push(Pool[n - 1], inj);
            AssertBounded(q);
            ledger.Take(q.Pop());
        }, () =>
        {
            ledger.Take(q.StealInto(d));
            AssertBounded(d);
            ledger.Take(d.Pop());
        });
        Microsoft.Coyote.Runtime.SchedulingPoint.Suppress();
        ledger.Drain(q);
        ledger.Drain(d);
        ledger.Drain(inj);
        ledger.AssertAllTakenOnce(n);
    }

    /// <summary>
    /// The canary: two threads pushing to one queue break its owner-only rule (the tail is a plain
    /// read-modify-write), so a push can be lost, and Coyote must find that. If it does not, it is not seeing
    /// interleavings inside Luminal.Native (the rewriting broke) and the tests above would pass vacuously.
    /// </summary>
    [Systematic(2000, ExpectBug = true)]
    static void CanaryTwoOwnersLoseAPush()
    {
        var q = new LocalQueue();
        var inj = new Injector();
        var ledger = new Ledger(2);
        Par.Run(() => q.Push(Pool[0], inj), () => q.Push(Pool[1], inj));
        ledger.Drain(q);
        ledger.AssertAllTakenOnce(2);
    }
}
