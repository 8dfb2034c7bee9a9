using System;
using System.Runtime.InteropServices;
using Luminal.Handles;
using Luminal.Tasks;

namespace Luminal.Interop;

static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_context_runtime")]
    static nint ContextRuntime(ContextData* cx)
    {
        try { return cx == null || cx->Magic != ContextData.MagicValue ? 0 : (nint)cx->RuntimeToken; }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_context_waker")]
    static nint ContextWaker(ContextData* cx)
    {
        try { return cx == null || cx->Magic != ContextData.MagicValue ? 0 : (nint)cx->WakerToken; }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_context_yield")]
    static int ContextYield(ContextData* cx)
    {
        try
        {
            if (cx == null || cx->Magic != ContextData.MagicValue) return (int)Status.InvalidArgument;
            cx->YieldRequested = 1;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    // A waker is a token (see Tasks/Waker.cs): clone copies it, release forgets it.
    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_clone")]
    static nint WakerClone(nint w) => w;

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_wake")]
    static void WakerWake(nint w)
    {
        try { Waker.Wake((ulong)w); }
        catch { /* void export */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_wake_by_ref")]
    static void WakerWakeByRef(nint w)
    {
        try { Waker.Wake((ulong)w); }
        catch { /* void export */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_release")]
    static void WakerRelease(nint w) { }

    [UnmanagedCallersOnly(EntryPoint = "luminal_waker_will_wake")]
    static int WakerWillWake(nint a, nint b) => a != 0 && a == b && Waker.IsWaker((ulong)a) ? 1 : 0;
}
