using System.Collections.Generic;
using Luminal.Scheduler;
using Luminal.Tasks;
using Microsoft.Coyote.Rewriting;
using Microsoft.Coyote.Specifications;

namespace Luminal.Coyote;

/// <summary>
/// The global queue's inbox: single pushes from threads that are not workers go onto a lock-free stack, and pops
/// move it into the locked list oldest first (Scheduler/Injector.cs).
/// </summary>
static class InjectorSystematic
{
    static readonly RawTask[] Pool = MakePool(8);

    static RawTask[] MakePool(int n)
    {
        var pool = new RawTask[n];
        for (int i = 0; i < n; i++) pool[i] = TaskTable.Standalone(1000 + i);
        return pool;
    }

    /// <summary>Which tasks came out, in what order; each must come out once, and each producer's in the order it
    /// pushed them. Not rewritten (test bookkeeping).</summary>
    [SkipRewriting("test bookkeeping")]
    sealed class Order
    {
        readonly List<int> _seen = new();

        public void Take(RawTask? chain)
        {
            for (RawTask? c = chain; c is RawTask t; c = t.Next) _seen.Add(t.Index - 1000);
        }

        public void AssertEachOnce(IEnumerable<int> expected)
        {
            var count = new Dictionary<int, int>();
            foreach (int i in _seen) count[i] = count.GetValueOrDefault(i) + 1;
            foreach (int i in expected)
                Specification.Assert(count.GetValueOrDefault(i) == 1, $"task {i} came out {count.GetValueOrDefault(i)} times");
            Specification.Assert(_seen.Count == count.Count, "a task came out that was never pushed, or twice");
        }

        /// <summary><paramref name="before"/> came out before <paramref name="after"/> (both came out).</summary>
        public void AssertBefore(int before, int after) =>
            Specification.Assert(_seen.IndexOf(before) < _seen.IndexOf(after), $"task {after} came out before {before}");
    }

    /// <summary>
    /// Two host threads push two tasks each without the lock while a worker pops batches and another worker pushes
    /// an overflow chain under the lock. Every task comes out once, and each host thread's tasks in the order it
    /// pushed them (the inbox is a stack: the drain must reverse it).
    /// Found when broken (each tried once): Push's CompareExchange as a plain read and write (a push lost, 5
    /// schedules); the drain appending the stack without reversing it (order, the first schedule). A batch push
    /// that does not drain the inbox first (it would overtake older single pushes) is QueueTests'
    /// InjectorTakesWholeChainsAndKeepsFifoOrder.
    /// </summary>
    [Systematic(2000)]
    static void HostPushesVsWorkerPopsAndOverflow()
    {
        var inj = new Injector();
        var order = new Order();
        RawTask a0 = Pool[0], a1 = Pool[1], b0 = Pool[2], b1 = Pool[3], c0 = Pool[4], c1 = Pool[5];
        c0.Next = c1;
        c1.Next = null;
        Par.Run(() =>
        {
            Specification.Assert(inj.Push(a0) && inj.Push(a1), "push refused");
        }, () =>
        {
            Specification.Assert(inj.Push(b0) && inj.Push(b1), "push refused");
        }, () =>
        {
            order.Take(inj.PopBatch(1, out _));
            order.Take(inj.PopBatch(int.MaxValue, out _));
        }, () =>
        {
            Specification.Assert(inj.PushBatch(c0, c1, 2), "batch refused");
        });
        order.Take(inj.PopBatch(int.MaxValue, out _));
        Specification.Assert(inj.IsEmpty && inj.Count == 0, "injector not empty after draining");
        order.AssertEachOnce(new[] { 0, 1, 2, 3, 4, 5 });
        order.AssertBefore(0, 1);
        order.AssertBefore(2, 3);
        order.AssertBefore(4, 5);
    }

    /// <summary>Counts for IsEmptyNeverHidesAPush (not rewritten: no scheduling point inside).</summary>
    [SkipRewriting("test bookkeeping")]
    sealed class Progress
    {
        public int Pushed, PopsStarted;
    }

    /// <summary>
    /// A worker going to sleep trusts IsEmpty. While a pop moves the inbox into the list, the tasks in transit must
    /// still count: a host thread pushes three tasks, a worker pops one at a time, and an observer checks that
    /// IsEmpty is never true while more tasks were pushed than pops had started (each pop takes at most one).
    /// Found when broken: the drain raising the count only after its walk (10 schedules); IsEmpty reading the count
    /// before the inbox (3 schedules). (Found by a review of the first version of the inbox, which had the first.)
    /// </summary>
    [Systematic(2000)]
    static void IsEmptyNeverHidesAPush()
    {
        var inj = new Injector();
        var progress = new Progress();
        var order = new Order();
        Par.Run(() =>
        {
            for (int i = 0; i < 3; i++)
            {
                Specification.Assert(inj.Push(Pool[i]), "push refused");
                progress.Pushed++;
            }
        }, () =>
        {
            for (int i = 0; i < 2; i++)
            {
                progress.PopsStarted++;
                order.Take(inj.PopBatch(1, out _));
            }
        }, () =>
        {
            for (int i = 0; i < 3; i++)
            {
                int pushed = progress.Pushed;
                bool empty = inj.IsEmpty;
                int pops = progress.PopsStarted;
                Specification.Assert(!empty || pushed <= pops, $"IsEmpty with {pushed} pushed and {pops} pops started");
            }
        });
        order.Take(inj.PopBatch(int.MaxValue, out _));
        order.AssertEachOnce(new[] { 0, 1, 2 });
    }

    /// <summary>
    /// Shutdown closes the queue while host threads push: every task is either refused (its pusher cancels it) or
    /// handed out by Close or a pop, exactly once; nothing is stranded in the inbox.
    /// Found when broken: Close taking the inbox without marking it closed (a push after Close accepted and
    /// stranded, the first schedule); Push's CompareExchange as a plain read and write (5 schedules).
    /// </summary>
    [Systematic(2000)]
    static void PushesVsClose()
    {
        var inj = new Injector();
        var order = new Order();
        var refused = new bool[3];
        Par.Run(() =>
        {
            refused[0] = !inj.Push(Pool[0]);
            refused[1] = !inj.Push(Pool[1]);
        }, () =>
        {
            refused[2] = !inj.Push(Pool[2]);
        }, () =>
        {
            order.Take(inj.PopBatch(1, out _));
            order.Take(inj.Close());
        });
        Specification.Assert(inj.IsEmpty, "a push after Close was kept");
        var expected = new List<int>();
        for (int i = 0; i < 3; i++) if (!refused[i]) expected.Add(i);
        order.AssertEachOnce(expected);
        Specification.Assert(!inj.Push(Pool[3]), "a push after Close was accepted");
    }
}
