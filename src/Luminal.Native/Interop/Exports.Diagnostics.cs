using System;
using System.Runtime.InteropServices;

namespace Luminal.Interop;

/// <summary>Diagnostics for tests and benchmarks (luminal_debug_*): not part of any runtime's work.</summary>
static partial class Exports
{
    /// <summary>Garbage collections the library's managed heap has run so far (all generations: every collection
    /// collects generation 0). Tests use it to show that a workload allocates no managed memory in steady state.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "luminal_debug_gc_count")]
    static ulong DebugGcCount()
    {
        try { return (ulong)GC.CollectionCount(0); }
        catch { return 0; } // a count: nothing to report a failure through (and it cannot fail)
    }
}
