using System.Runtime.InteropServices;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Scheduler;
using Luminal.Tasks;
using Microsoft.Coyote.Specifications;
using static Luminal.Tasks.TaskState;

namespace Luminal.Coyote;

/// <summary>
/// The task state word under races, through RawTask's own methods (Create, Wake, Run, RequestAbort,
/// ReleaseHandle, TakeOutput, RegisterJoinWaker), so the tests hold whatever shape the transitions take inside.
///
/// The runtime has no workers: Runtime.Schedule puts a woken task on the injector, and the test's "worker"
/// threads take tasks from there and Run them as a worker does (a task woken during its poll goes back on the
/// queue). After the race the test drains what is left, as some worker eventually would, and checks the end
/// state: every future dropped exactly once and never polled after, the output handed out or dropped exactly
/// once, a finished task's slot recycled exactly once (its generation bumped by one, so every old token is dead).
/// </summary>
static unsafe class TaskStateSystematic
{
    static readonly Runtime Rt = RuntimeHandles.Resolve(Runtime.Create(0, "coyote"))!;
    static Injector Queue => Rt.Injectors[Priority.Default];

    /// <summary>A context as block_on's: not one of the runtime's workers (finished slots go back to the shared
    /// table). Give it back with <see cref="Context.Release"/>.</summary>
    static Context NewContext() => Context.Acquire(Rt, -1)!;

    /// <summary>A new task, SCHEDULED and queued as a spawn would queue it.</summary>
    static RawTask Spawn(Probe* p, bool handle, out uint generation)
    {
        NativeFuture f = Probe.Future(p);
        RawTask t = RawTask.Create(Rt, f, handle)!.Value;
        generation = Generation(t.State);
        Queue.Push(t);
        return t;
    }

    /// <summary>
    /// One worker's pass: runs every queued task; a task woken during its poll is queued again. A dequeued
    /// task must be SCHEDULED and neither RUNNING nor CLOSED (else it was queued twice, or after finishing).
    /// </summary>
    static void Work(Context cx)
    {
        for (int runs = 0; Queue.PopBatch(1, out _) is RawTask t; runs++)
        {
            long s = t.State;
            Specification.Assert((s & (Scheduled | Running | Closed | Free)) == Scheduled,
                $"dequeued a task in state {s & FlagMask:x}: queued twice, or after it finished");
            Specification.Assert(runs < 20, "a task is requeued forever");
            // A probe that yields on its first poll: luminal_context_yield during that poll, as its callback would.
            var p = (Probe*)t.Future.State;
            if (p != null && p->YieldFirst != 0 && p->Polls == 0) cx.RequestYield(cx.NextPollGeneration);
            if (t.Run(cx)) Queue.Push(t);
        }
    }

    /// <summary>After the race: the slot went back to the table exactly once, under a generation one higher.</summary>
    static void AssertRecycled(RawTask t, uint generation)
    {
        long s = t.State;
        Specification.Assert(Generation(s) == generation + 1 && (s & FlagMask) == (Free | Closed),
            $"slot not recycled exactly once: generation {Generation(s)} (was {generation}), flags {s & FlagMask:x}");
        // A second Free would have pushed the slot onto the free list twice: two allocations would return it.
        RawTask a = RawTask.Table.Allocate()!.Value, b = RawTask.Table.Allocate()!.Value;
        Specification.Assert(a != b, "the free list hands out one slot twice (freed twice)");
        RawTask.Table.Free(b);
        RawTask.Table.Free(a);
    }

    static void AssertDroppedOnce(Probe* p)
    {
        Specification.Assert(p->Drops == 1, $"future dropped {p->Drops} times");
        Specification.Assert(p->PollsAfterDrop == 0, "future polled after it was dropped");
    }

    /// <summary>
    /// Wake vs. run: an "IO" thread completes the event and wakes the task (twice) while a worker polls it.
    /// A wake before the poll is absorbed by that poll; a wake during the poll makes exactly one re-poll; a wake
    /// after the task finished is a no-op. So: at most two polls, never a lost wake-up (it completes), one drop.
    /// Found when broken: Run ignoring a wake that came during the poll (returning false: the task never
    /// completes); Wake queueing a task that is RUNNING (dequeued while running); Finish leaving SCHEDULED set (never
    /// recycled); recycling a task that is still RUNNING.
    /// </summary>
    [Systematic(1500)]
    static void WakeDuringPoll()
    {
        Probe* p = Probe.New(readyAfter: 0);
        RawTask t = Spawn(p, handle: false, out uint gen);
        Context cx = NewContext();
        Par.Run(() => Work(cx), () =>
        {
            p->Event = 1;
            t.Wake(gen);
            t.Wake(gen);
        });
        Work(cx);
        Specification.Assert(p->Polls is 1 or 2, $"{p->Polls} polls for one wake");
        AssertDroppedOnce(p);
        Specification.Assert(p->OutputDrops == 1, "the output nobody joins must be dropped once");
        AssertRecycled(t, gen);
        NativeMemory.Free(p);
        cx.Release();
    }

    /// <summary>
    /// luminal_context_yield during a poll (counts as a wake, without the CAS) racing a real wake: the task is
    /// requeued once, not twice, and its second poll completes it.
    /// Found when broken: the same four as <see cref="WakeDuringPoll"/>.
    /// </summary>
    [Systematic(1000)]
    static void YieldRacesWake()
    {
        Probe* p = Probe.New(readyAfter: 2);
        p->YieldFirst = 1;
        RawTask t = Spawn(p, handle: false, out uint gen);
        Context cx = NewContext();
        Par.Run(() => Work(cx), () => t.Wake(gen));
        Work(cx);
        Specification.Assert(p->Polls == 2, $"{p->Polls} polls");
        AssertDroppedOnce(p);
        AssertRecycled(t, gen);
        NativeMemory.Free(p);
        cx.Release();
    }

    /// <summary>
    /// Abort vs. run vs. wake, with a join handle: the future completes on its second poll unless the abort gets
    /// there first. Either way it is dropped exactly once and never polled after; the joiner then gets the output
    /// (completed) or CANCELLED, and releasing the handle recycles the slot; a second release is refused.
    /// Found when broken: AbortCore queueing a task that is RUNNING (dequeued while running, 3 schedules); Run
    /// ignoring a wake during the poll; Finish leaving SCHEDULED set; recycling while the join handle lives.
    /// </summary>
    [Systematic(1500)]
    static void AbortVsRunVsWake()
    {
        Probe* p = Probe.New(readyAfter: 2);
        RawTask t = Spawn(p, handle: true, out uint gen);
        Context cx1 = NewContext(), cx2 = NewContext();
        Par.Run(
            () => Work(cx1),
            () => Specification.Assert(t.RequestAbort(gen), "abort refused while the handle is live"),
            () => { t.Wake(gen); Work(cx2); });
        Work(cx1);
        Status s;
        void* output;
        s = t.TakeOutput(gen, &output);
        if (s == Status.Ok) Specification.Assert(output == p && p->Polls == 2, "completed without its two polls");
        else Specification.Assert(s == Status.Cancelled, $"join after abort/finish returned {s}");
        AssertDroppedOnce(p);
        Specification.Assert(p->OutputDrops == 0, "the output was dropped although (or before) the joiner took it");
        Specification.Assert(t.ReleaseHandle(gen), "releasing the live handle failed");
        Specification.Assert(!t.ReleaseHandle(gen), "a second release of the handle succeeded");
        AssertRecycled(t, gen);
        NativeMemory.Free(p);
        cx1.Release();
        cx2.Release();
    }

    /// <summary>
    /// Join-handle release vs. finish, and TakeOutput vs. both: a joiner takes the output if it is there and
    /// releases the handle while a worker runs the task to completion. Whoever of the two leaves the task
    /// CLOSED with no HANDLE/SCHEDULED/RUNNING recycles it — exactly one of them; the output goes to the joiner
    /// or is dropped by the recycler, exactly once.
    /// Found when broken: ReleaseOwnership recycling without checking RUNNING (the handle's release recycles a
    /// task still running) or without checking HANDLE; ReleaseOwnership's CAS as a read-then-write (130
    /// schedules: a flag cleared by the other side comes back, the slot is never recycled); TakeOutput's CAS as a
    /// plain write (556 schedules).
    /// </summary>
    [Systematic(1500)]
    static void ReleaseAndTakeVsFinish()
    {
        Probe* p = Probe.New(readyAfter: 1);
        RawTask t = Spawn(p, handle: true, out uint gen);
        Context cx = NewContext();
        bool took = false;
        Par.Run(() => Work(cx), () =>
        {
            void* output;
            Status s = t.TakeOutput(gen, &output);
            Specification.Assert(s is Status.Ok or Status.Pending, $"TakeOutput returned {s}");
            took = s == Status.Ok;
            if (took) Specification.Assert(output == p, "wrong output");
            Specification.Assert(t.ReleaseHandle(gen), "releasing the live handle failed");
        });
        Work(cx);
        AssertDroppedOnce(p);
        Specification.Assert((took ? 1 : 0) + p->OutputDrops == 1,
            $"output taken {(took ? 1 : 0)} and dropped {p->OutputDrops} times");
        AssertRecycled(t, gen);
        NativeMemory.Free(p);
        cx.Release();
    }

    /// <summary>
    /// luminal_task_poll's join: a joining task registers its waker unless the target has finished, while the
    /// target finishes. If the joiner was told PENDING it must be woken (never a lost wake-up); if not, the
    /// output is there.
    /// Found when broken: RegisterJoinWaker not re-reading the state after publishing the waker (22 schedules);
    /// also the ReleaseOwnership and TakeOutput breakages of <see cref="ReleaseAndTakeVsFinish"/>.
    /// </summary>
    [Systematic(1500)]
    static void JoinWakerVsFinish()
    {
        Probe* pt = Probe.New(readyAfter: 1);
        Probe* pj = Probe.New(readyAfter: 0);
        Context cx = NewContext();
        RawTask joiner = Spawn(pj, handle: false, out uint jgen);
        Work(cx); // the joiner's first poll: PENDING, now idle
        RawTask t = Spawn(pt, handle: true, out uint gen);
        bool pending = false;
        Par.Run(() => Work(cx), () =>
        {
            ulong waker = Token.Make(Token.Waker, joiner.Index, jgen);
            pending = !t.IsFinished && t.RegisterJoinWaker(waker);
            if (!pending)
            {
                void* output;
                Specification.Assert(t.TakeOutput(gen, &output) == Status.Ok, "finished but no output");
            }
        });
        Work(cx);
        if (pending) Specification.Assert(pj->Polls >= 2, "the joiner was told PENDING and never woken");
        Specification.Assert(t.ReleaseHandle(gen), "releasing the live handle failed");
        AssertRecycled(t, gen);
        pj->Event = 1; // let the joiner finish
        joiner.Wake(jgen);
        Work(cx);
        AssertRecycled(joiner, jgen);
        NativeMemory.Free(pt);
        NativeMemory.Free(pj);
        cx.Release();
    }

    /// <summary>
    /// Stale tokens: while a task finishes, is joined and released, and its slot is reused by a new task (the
    /// free list is LIFO, so it is the same object), another thread keeps using the first task's generation:
    /// wake, abort, release. Those may act on the first task while it lives, but never on the second, which sits
    /// idle between its two polls: it is polled exactly twice (a stale wake would add a poll), completes, and its
    /// handle stays live until its owner releases it.
    /// Found when broken: Wake not checking the generation (60 schedules: the new task is polled three times);
    /// Wake or AbortCore queueing a RUNNING task; recycling without checking RUNNING or HANDLE.
    /// </summary>
    [Systematic(1500)]
    static void StaleTokensAfterReuse()
    {
        Probe* p1 = Probe.New(readyAfter: 1);
        Probe* p2 = Probe.New(readyAfter: 0);
        Context cx = NewContext();
        RawTask t1 = Spawn(p1, handle: true, out uint gen1);
        RawTask t2 = default;
        uint gen2 = 0;
        Par.Run(() =>
        {
            Work(cx);
            void* output;
            t1.TakeOutput(gen1, &output);
            Specification.Assert(t1.ReleaseHandle(gen1), "the first task's handle was released by a stale token");
            t2 = Spawn(p2, handle: true, out gen2);
            Specification.Assert(t1 == t2, "the slot was not reused (test setup)");
            Work(cx); // first poll: PENDING, idle until its event
            p2->Event = 1;
            t2.Wake(gen2);
            Work(cx);
        }, () =>
        {
            t1.Wake(gen1);
            t1.RequestAbort(gen1);
            t1.Wake(gen1);
            t1.ReleaseHandle(gen1 + 1000); // a generation that never was
        });
        Work(cx);
        void* o2;
        Specification.Assert(t2.TakeOutput(gen2, &o2) == Status.Ok && o2 == p2, "the new task was disturbed");
        Specification.Assert(p2->Polls == 2, $"the new task was polled {p2->Polls} times, not 2");
        AssertDroppedOnce(p1);
        AssertDroppedOnce(p2);
        Specification.Assert(t2.ReleaseHandle(gen2), "the new task's handle is gone");
        AssertRecycled(t2, gen2);
        NativeMemory.Free(p1);
        NativeMemory.Free(p2);
        cx.Release();
    }
}
