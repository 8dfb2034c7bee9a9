using System;
using System.Runtime.InteropServices;
using Luminal.Time;

namespace Luminal.Interop;

/// <summary>Timers: luminal_now_ns, luminal_sleep(_until), luminal_timeout. Their futures live in Time/.</summary>
static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_now_ns")]
    static ulong NowNs()
    {
        try { return Clock.NowNs(); }
        catch { return 0; } // reading the monotonic clock cannot fail; the header says "never fails"
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_sleep")]
    static int Sleep(nint rt, ulong durationNs, NativeFuture* output)
    {
        try
        {
            // From now on the runtime's clock (paused or monotonic); a bad handle is reported by Create.
            ulong now = ResolveRuntime(rt, out Runtime runtime) == Status.Ok ? runtime.Timers.NowNs() : 0;
            ulong deadline = durationNs > ulong.MaxValue - now ? ulong.MaxValue : now + durationNs;
            return (int)SleepFuture.Create(rt, deadline, output);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_sleep_until")]
    static int SleepUntil(nint rt, ulong deadlineNs, NativeFuture* output)
    {
        try { return (int)SleepFuture.Create(rt, deadlineNs, output); }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_timeout")]
    static int TimeoutExport(nint rt, NativeFuture inner, ulong timeoutNs, NativeFuture* output)
    {
        try { return (int)TimeoutFuture.Create(rt, inner, timeoutNs, output); }
        catch (Exception e) { Runtime.DropFuture(inner); return Fail(e); }
    }
}
