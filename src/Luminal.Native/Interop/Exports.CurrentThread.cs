using System;
using System.Runtime.InteropServices;
using Luminal.Scheduler;

namespace Luminal.Interop;

/// <summary>Current-thread runtimes and the paused clock: luminal_runtime_run, _wakeup_fd, _next_deadline_ns,
/// _now_ns, _advance. The scheduler is Scheduler/CurrentThread.cs, the clock Time/PausedClock.cs.</summary>
static unsafe partial class Exports
{
    /// <summary>Resolves a runtime that must be a current-thread one (a multi-thread one: InvalidArgument).</summary>
    static Status ResolveCurrentThread(nint rt, out CurrentThread ct)
    {
        ct = null!;
        Status s = ResolveRuntime(rt, out Runtime runtime);
        if (s != Status.Ok) return s;
        if (runtime.CurrentThread is not CurrentThread found) return Status.InvalidArgument;
        ct = found;
        return Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_run")]
    static int RuntimeRun(nint rt, uint maxPolls, ulong maxNs, uint* polled)
    {
        try
        {
            if (polled != null) *polled = 0;
            Status s = ResolveCurrentThread(rt, out CurrentThread ct);
            if (s != Status.Ok) return (int)s;
            s = ct.Run(maxPolls, maxNs, out uint n);
            if (polled != null) *polled = n;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_wakeup_fd")]
    static int RuntimeWakeupFd(nint rt, int* fd)
    {
        try
        {
            if (fd == null) return (int)Status.InvalidArgument;
            *fd = -1;
            Status s = ResolveCurrentThread(rt, out CurrentThread ct);
            if (s != Status.Ok) return (int)s;
            int value = ct.WakeupFdNumber;
            if (value < 0) return (int)Status.Shutdown;
            *fd = value;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_next_deadline_ns")]
    static int RuntimeNextDeadlineNs(nint rt, ulong* deadline)
    {
        try
        {
            if (deadline == null) return (int)Status.InvalidArgument;
            *deadline = ulong.MaxValue;
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            *deadline = runtime.Timers.NextDueNs();
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_now_ns")]
    static ulong RuntimeNowNs(nint rt)
    {
        try { return ResolveRuntime(rt, out Runtime runtime) == Status.Ok ? runtime.Timers.NowNs() : 0; }
        catch { return 0; } // documented: 0 for a handle it cannot use
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_advance")]
    static int RuntimeAdvance(nint rt, ulong ns)
    {
        try
        {
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            // Only a current-thread runtime can have a paused clock (luminal_runtime_new refuses the rest).
            return runtime.CurrentThread is CurrentThread ct ? (int)ct.Advance(ns) : (int)Status.InvalidArgument;
        }
        catch (Exception e) { return Fail(e); }
    }
}
