using System.Runtime.InteropServices;
using Luminal.Interop;

namespace Luminal.Time;

/// <summary>
/// luminal_sleep / luminal_sleep_until: a future that is READY (output NULL) once the monotonic clock reaches its
/// deadline. The timer enters the wheel at the first poll; dropping the future removes it in O(1).
/// </summary>
static unsafe class SleepFuture
{
    /// <summary>LUMINAL_FAILED_OUTPUT in luminal.h: the output of a sleep or timeout that could not work.</summary>
    public static readonly void* FailedOutput = (void*)~(nuint)8;

    public static Status Create(nint rt, ulong deadlineNs, NativeFuture* output)
    {
        if (output == null) return Status.InvalidArgument;
        *output = default;
        Status s = Exports.ResolveRuntime(rt, out Runtime runtime);
        if (s != Status.Ok) return s;
        if (runtime.IsShutdown) return Status.Shutdown;
        if (TimerEntry.Create(runtime, deadlineNs) is not TimerEntry e) return Status.NoMemory;
        output->State = (void*)e.Token;
        output->Poll = &Poll;
        output->Drop = &Drop;
        return Status.Ok;
    }

    [UnmanagedCallersOnly]
    static int Poll(void* state, void* cx, void** output)
    {
        try
        {
            *output = null;
            // A stale state (polled after drop) is reported as ready rather than crashing.
            if (TimerEntry.FromToken((ulong)state, out _) is not TimerEntry e || e.Runtime is null) return 1;
            // The rule for runtime-provided futures (luminal.h): what cannot work completes now, marked as failed.
            if (Context.Check((nint)cx, out _, out ulong waker) != Status.Ok || e.Runtime.IsForked || e.Runtime.IsShutdown)
                return Failed(output);
            return e.Runtime.Timers.PollEntry(e, waker) ? 1 : 0;
        }
        catch { return Failed(output); } // internal failure: the same rule
    }

    /// <summary>Completes with LUMINAL_FAILED_OUTPUT (see luminal.h: failures of runtime-provided futures).</summary>
    internal static int Failed(void** output)
    {
        *output = FailedOutput;
        return 1;
    }

    [UnmanagedCallersOnly]
    static void Drop(void* state)
    {
        try
        {
            // Inherited across fork: the wheel's lock may be held by a thread that is gone; leave the entry be.
            if (TimerEntry.FromToken((ulong)state, out uint generation) is TimerEntry e && e.Runtime is not { IsForked: true })
                e.TryRelease(generation);
        }
        catch { /* drop has no status; the entry stays allocated, which is all a failure here can cost */ }
    }
}
