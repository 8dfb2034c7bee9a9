using System.Runtime.InteropServices;
using Luminal.Interop;

namespace Luminal.Time;

/// <summary>
/// luminal_timeout: polls the inner future first; if it is READY its output is the timeout future's output.
/// Otherwise, once the deadline passes, the inner future is dropped and the output is LUMINAL_TIMED_OUT_OUTPUT
/// (a sentinel pointer that drop_output never receives). drop_output is the inner future's.
/// </summary>
static unsafe class TimeoutFuture
{
    public static readonly void* TimedOut = (void*)~(nuint)4; // LUMINAL_TIMED_OUT_OUTPUT in luminal.h

    public static Status Create(nint rt, in NativeFuture inner, ulong timeoutNs, NativeFuture* output)
    {
        Status s = Status.Ok;
        if (output == null || inner.Poll == null) s = Status.InvalidArgument;
        Runtime runtime = null!;
        if (s == Status.Ok) s = Exports.ResolveRuntime(rt, out runtime);
        if (s == Status.Ok && runtime.IsShutdown) s = Status.Shutdown;
        TimerEntry? e = null;
        if (s == Status.Ok)
        {
            ulong now = runtime.Timers.NowNs(); // the runtime's clock (paused or monotonic)
            ulong deadline = timeoutNs > ulong.MaxValue - now ? ulong.MaxValue : now + timeoutNs;
            e = TimerEntry.Create(runtime, deadline);
            if (e is null) s = Status.NoMemory;
        }
        if (s != Status.Ok)
        {
            if (output != null) *output = default;
            Runtime.DropFuture(inner); // takes the inner future also on failure
            return s;
        }
        TimerEntry entry = e!.Value;
        entry.Inner = inner;
        output->State = (void*)entry.Token;
        output->Poll = &Poll;
        output->Drop = &Drop;
        output->DropOutput = inner.DropOutput;
        return Status.Ok;
    }

    [UnmanagedCallersOnly]
    static int Poll(void* state, void* cx, void** output)
    {
        try
        {
            *output = null;
            if (TimerEntry.FromToken((ulong)state, out _) is not TimerEntry e || e.Runtime is null) return 1;
            // The rule for runtime-provided futures (luminal.h): what cannot work completes now, marked as failed.
            if (Context.Check((nint)cx, out _, out ulong waker) != Status.Ok || e.Runtime.IsForked || e.Runtime.IsShutdown)
            {
                DropInner(e);
                return SleepFuture.Failed(output);
            }
            if (Observe.PluginCheck.Skip(e.Inner.Poll, "poll")) // its code is gone (debug_plugins): cannot work
            {
                DropInner(e);
                return SleepFuture.Failed(output);
            }
            if (e.Inner.Poll != null)
            {
                void* inner = null;
                if (e.Inner.Poll(e.Inner.State, cx, &inner) == 1)
                {
                    *output = inner;
                    DropInner(e);
                    return 1;
                }
            }
            if (!e.Runtime.Timers.PollEntry(e, waker)) return 0;
            DropInner(e);
            *output = TimedOut;
            return 1;
        }
        catch { return SleepFuture.Failed(output); } // internal failure: the same rule (the inner drops with us)
    }

    static void DropInner(TimerEntry e)
    {
        NativeFuture inner = e.Inner;
        e.Inner = default;
        if (inner.Drop != null && !Observe.PluginCheck.Skip(inner.Drop, "drop")) inner.Drop(inner.State);
    }

    [UnmanagedCallersOnly]
    static void Drop(void* state)
    {
        try
        {
            if (TimerEntry.FromToken((ulong)state, out uint generation) is not TimerEntry e) return;
            DropInner(e); // the caller's future, in the caller's memory: dropped in a forked child too
            // Inherited across fork: the wheel's lock may be held by a thread that is gone; leave the entry be.
            if (e.Runtime is not { IsForked: true }) e.TryRelease(generation);
        }
        catch { /* drop has no status; the entry stays allocated, which is all a failure here can cost */ }
    }
}
