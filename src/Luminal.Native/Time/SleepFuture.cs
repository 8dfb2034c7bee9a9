using System.Runtime.InteropServices;
using Luminal.Interop;

namespace Luminal.Time;

/// <summary>
/// luminal_sleep / luminal_sleep_until: a future that is READY (output NULL) once the monotonic clock reaches its
/// deadline. The timer enters the wheel at the first poll; dropping the future removes it in O(1).
/// </summary>
static unsafe class SleepFuture
{
    public static Status Create(nint rt, ulong deadlineNs, NativeFuture* output)
    {
        if (output == null) return Status.InvalidArgument;
        *output = default;
        if (rt == 0) return Status.InvalidArgument;
        if (Handles.RuntimeHandles.Resolve((ulong)rt) is not Runtime runtime) return Status.InvalidHandle;
        if (runtime.IsShutdown) return Status.Shutdown;
        TimerEntry? e = TimerEntry.Create(runtime, deadlineNs);
        if (e is null) return Status.NoMemory;
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
            if (!ContextData.IsValid(cx)) return 0; // not a luminal_context: nothing to register a waker with
            return e.Runtime.Timers.PollEntry(e, ((ContextData*)cx)->WakerToken) ? 1 : 0;
        }
        catch { return 1; }
    }

    [UnmanagedCallersOnly]
    static void Drop(void* state)
    {
        try
        {
            if (TimerEntry.FromToken((ulong)state, out uint generation) is TimerEntry e) e.TryRelease(generation);
        }
        catch { /* nothing may escape */ }
    }
}
