using System;
using System.Runtime.InteropServices;
using Luminal.Handles;
using Luminal.Tasks;

namespace Luminal.Interop;

static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_context_runtime")]
    static nint ContextRuntime(nint cx)
    {
        try { return Context.Check(cx, out Context c, out _) == Status.Ok ? (nint)c.Runtime!.BorrowedToken : 0; }
        catch { return 0; } // a pointer-returning export has no status: NULL says "no runtime"
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_context_waker")]
    static nint ContextWaker(nint cx)
    {
        try { return Context.Check(cx, out _, out ulong waker) == Status.Ok ? (nint)waker : 0; }
        catch { return 0; } // as above
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_context_yield")]
    static int ContextYield(nint cx)
    {
        try
        {
            // The hot path of a yield: no waker read, no fork check (a yield that lands after its poll names a
            // generation that is over, and is ignored).
            if (cx == 0) return (int)Status.InvalidArgument;
            if (Context.Resolve((ulong)cx, out ulong generation) is not Context c) return (int)Status.InvalidHandle;
            c.RequestYield(generation);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    // A waker is a token (see Tasks/Waker.cs): clone validates and copies it, release forgets it.
    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_clone")]
    static nint WakerClone(nint w)
    {
        try { return Waker.IsLive((ulong)w) ? w : 0; }
        catch { return 0; } // NULL: "not a waker"
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_wake")]
    static void WakerWake(nint w)
    {
        try { Waker.Wake((ulong)w); }
        catch { /* void export: a wake that failed internally is lost, which the caller could not act on anyway */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_wake_by_ref")]
    static void WakerWakeByRef(nint w)
    {
        try { Waker.Wake((ulong)w); }
        catch { /* as luminal_waker_wake */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_release")]
    static void WakerRelease(nint w) { }

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_will_wake")]
    static int WakerWillWake(nint a, nint b)
    {
        try { return a == b && Waker.IsLive((ulong)a) ? 1 : 0; }
        catch { return 0; } // "not known to wake the same task": the caller just replaces its waker
    }
}
