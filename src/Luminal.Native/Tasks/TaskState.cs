namespace Luminal.Tasks;

/// <summary>
/// A task's state word, <c>generation:32 | flags:32</c>, and every transition it can make, each a pure function
/// of the word (after tokio's runtime/task/state.rs). <see cref="RawTask"/> reads the word, asks a function here
/// for the next word and what to do, publishes the word with one compare-and-swap and then does what it was told.
/// The CAS is on the whole word, so a transition also proves the task is still the one a token named.
///
/// Ownership: a task's slot is recycled by whoever makes the word CLOSED with none of HANDLE, SCHEDULED and
/// RUNNING set — a queue holding the task (SCHEDULED), a thread polling it (RUNNING) and a join handle (HANDLE)
/// each keep it alive. Wakers keep nothing alive: a stale waker's generation no longer matches.
///
/// Scope accounting follows from two events only: the future is gone (<see cref="ToFinished"/>) and the output is
/// disposed of (taken, or dropped by whoever owns it last). A task leaves its scope at the later of the two —
/// the output matters only if it completed and has a drop_output (<see cref="OutputKeepsScope"/>).
/// </summary>
static class TaskState
{
    /// <summary>In a run queue, or owned by whoever is about to put it in one. Set by a wake or an abort that finds
    /// the task idle (that caller queues it), or during a poll (the poller queues it again afterwards). Cleared only
    /// by the thread that dequeued the task, when it starts running it. Never set once CLOSED.</summary>
    public const long Scheduled = 1 << 0;

    /// <summary>One thread is polling (or dropping) the future. Set only together with clearing SCHEDULED, so at
    /// most one thread runs a task; cleared by that thread.</summary>
    public const long Running = 1 << 1;

    /// <summary>The future returned READY; the output is stored until taken. Set with CLOSED, never cleared.</summary>
    public const long Complete = 1 << 2;

    /// <summary>The future is dropped: no more polls, ever. Set by the running thread; never cleared (until the
    /// slot is recycled into a new generation).</summary>
    public const long Closed = 1 << 3;

    /// <summary>A join handle is alive. Set at creation only; cleared once, by the handle's release.</summary>
    public const long Handle = 1 << 4;

    /// <summary>Closed without completing (abort, scope close or shutdown), or its output disclaimed by scope
    /// close. Joiners get LUMINAL_E_CANCELLED.</summary>
    public const long Cancelled = 1 << 5;

    /// <summary>Cancellation requested: the next thread to run the task drops the future instead of polling.</summary>
    public const long Abort = 1 << 6;

    /// <summary>The output was handed over (or disclaimed); set once, by whoever claims it.</summary>
    public const long Taken = 1 << 7;

    /// <summary>The slot holds no task (between recycle and the next spawn).</summary>
    public const long Free = 1 << 8;

    /// <summary>The flag half of the word.</summary>
    public const long FlagMask = 0xFFFF_FFFF;

    public static uint Generation(long state) => (uint)((ulong)state >> 32);
    public static long WithGeneration(uint generation, long flags) => (long)((ulong)generation << 32) | flags;

    static bool Names(long s, uint generation) => Generation(s) == generation;

    // ---- creating and recycling -----------------------------------------------------------------------------

    /// <summary>A new task: SCHEDULED (its spawner queues it), plus HANDLE if a join handle is wanted.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long Spawned(uint generation, bool handle) => WithGeneration(generation, Scheduled | (handle ? Handle : 0));

    /// <summary>A recycled slot: a new generation, so every token of the old task is stale.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long Recycled(long s) => WithGeneration(Handles.Generations.Next(Generation(s)), Free | Closed);

    // ---- waking and aborting --------------------------------------------------------------------------------

    public enum WakeAction { Ignore, Submit, Nothing }

    /// <summary>A wake: an idle task becomes SCHEDULED and the waker queues it (Submit); a running one is marked and
    /// its poller re-queues it (Nothing); a queued, finished or other-generation task ignores it.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long ToNotified(long s, uint generation, out WakeAction act)
    {
        act = WakeAction.Ignore;
        if (!Names(s, generation) || (s & (Closed | Scheduled)) != 0) return s;
        act = (s & Running) == 0 ? WakeAction.Submit : WakeAction.Nothing;
        return s | Scheduled;
    }

    public enum AbortAction { NotLive, Done, Submit, Queued, Running }

    /// <summary>An abort request. NotLive: not this generation, or (<paramref name="requireHandle"/>) no join handle.
    /// Done: already finished. Otherwise ABORT and SCHEDULED are set, and the caller queues an idle task (Submit);
    /// a queued one (Queued) or a running one (Running) is dropped by whoever runs it next.</summary>
    public static long ToAborted(long s, uint generation, bool requireHandle, out AbortAction act)
    {
        act = AbortAction.NotLive;
        if (!Names(s, generation) || (requireHandle && (s & Handle) == 0)) return s;
        act = AbortAction.Done;
        if ((s & Closed) != 0) return s;
        act = (s & Running) != 0 ? AbortAction.Running : (s & Scheduled) != 0 ? AbortAction.Queued : AbortAction.Submit;
        return s | Abort | Scheduled;
    }

    /// <summary>Shutdown's sweep claims an idle task as a wake would (false: queued, running or finished — its
    /// holder drops it).</summary>
    public static long ToClaimedIdle(long s, out bool claimed)
    {
        claimed = (s & (Closed | Scheduled | Running)) == 0;
        return claimed ? s | Scheduled : s;
    }

    // ---- running ------------------------------------------------------------------------------------------------

    /// <summary>The dequeuing thread starts running the task. <paramref name="cancel"/>: drop instead of polling.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long ToRunning(long s, out bool cancel)
    {
        cancel = (s & Abort) != 0;
        return (s & ~Scheduled) | Running;
    }

    /// <summary>A poll returned PENDING. <paramref name="requeue"/>: it was woken (or yielded) during the poll and
    /// the poller must queue it again (it keeps SCHEDULED).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long ToIdle(long s, bool yielded, out bool requeue)
    {
        long next = (s & ~Running) | (yielded ? Scheduled : 0);
        requeue = (next & Scheduled) != 0;
        return next;
    }

    /// <summary>The future is gone (READY, or dropped). The runner still holds RUNNING (released after it told the
    /// joiners); a wake that raced with the end of the poll left SCHEDULED without queueing: cleared here.
    /// <paramref name="notifyJoiner"/>: a join handle may be waiting.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long ToFinished(long s, bool completed, out bool notifyJoiner)
    {
        notifyJoiner = (s & Handle) != 0;
        return (s & ~Scheduled) | Closed | (completed ? Complete : Cancelled);
    }

    /// <summary>Does the output still call into the scope's code (a drop_output to run), so the task stays counted
    /// in its scope after its future is gone?</summary>
    public static bool OutputKeepsScope(bool completed, bool hasDropOutput) => completed && hasDropOutput;

    // ---- owners letting go --------------------------------------------------------------------------------------

    public enum ReleaseAction { NotLive, Released, Recycle }

    /// <summary>An owner (HANDLE or RUNNING) lets go. With <paramref name="generation"/> != 0 the flag must be set in
    /// that generation (a join handle's release), else NotLive. Recycle: the caller was the last owner of a closed
    /// task and recycles the slot.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long ToReleased(long s, long flag, uint generation, out ReleaseAction act)
    {
        act = ReleaseAction.NotLive;
        if (generation != 0 && (!Names(s, generation) || (s & flag) == 0)) return s;
        long next = s & ~flag;
        act = (next & Closed) != 0 && (next & (Handle | Running | Scheduled)) == 0 ? ReleaseAction.Recycle : ReleaseAction.Released;
        return next;
    }

    /// <summary>Was the output of a recycled task never claimed (so whoever recycles drops it)?</summary>
    public static bool OutputUnclaimed(long s) => (s & (Complete | Taken)) == Complete;

    // ---- the output -----------------------------------------------------------------------------------------

    /// <summary>A joiner claims the output. Anything but Ok leaves the word as it is.</summary>
    public static long ToTaken(long s, uint generation, out Status status)
    {
        status = !Names(s, generation) || (s & Handle) == 0 ? Status.InvalidHandle
            : (s & Cancelled) != 0 ? Status.Cancelled
            : (s & Complete) == 0 ? Status.Pending
            : (s & Taken) != 0 ? Status.AlreadyTaken
            : Status.Ok;
        return status == Status.Ok ? s | Taken : s;
    }

    /// <summary>Scope close disclaims a completed output its (still held) join handle has not taken: the closer drops
    /// it, and a later join gets LUMINAL_E_CANCELLED. False if there is nothing to disclaim.</summary>
    public static long ToDisclaimed(long s, uint generation, out bool disclaimed)
    {
        disclaimed = Names(s, generation) && (s & (Handle | Complete | Taken)) == (Handle | Complete);
        return disclaimed ? s | Taken | Cancelled : s;
    }
}
