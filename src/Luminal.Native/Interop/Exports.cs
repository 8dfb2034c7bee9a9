using System;
using System.Runtime.InteropServices;

namespace Luminal.Interop;

/// <summary>
/// Every function of include/luminal.h is one [UnmanagedCallersOnly] method of this class (split across the
/// Exports.*.cs files by topic). Each is a thin wrapper: validate, call the core, map every exception to a
/// status — an exception escaping an export would kill the host process.
/// </summary>
static unsafe partial class Exports
{
    static readonly byte* VersionString = Utf8(LuminalVersion.Text);

    static byte* Utf8(string s)
    {
        // Static strings live for the process: allocated once, never freed.
        int n = System.Text.Encoding.UTF8.GetByteCount(s);
        byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        System.Text.Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }

    /// <summary>Maps an exception that reached an export to its status; an internal failure is logged (to every
    /// live runtime's log: the export may not know a runtime).</summary>
    internal static int Fail(Exception e)
    {
        if (e is OutOfMemoryException) return (int)Status.NoMemory;
        try { Observe.Log.Everywhere(Observe.LogLevel.Error, string.Concat("internal error (LUMINAL_E_INTERNAL): ", Describe(e))); }
        catch { /* logging must not turn a status into a crash: the status below still reports the failure */ }
        return (int)Status.Internal;
    }

    /// <summary>The exception's type, message and innermost frame (stack traces may be trimmed in NativeAOT).</summary>
    static string Describe(Exception e)
    {
        string where = e.StackTrace is string trace ? trace.Split('\n')[0].Trim() : "";
        return string.Concat(e.GetType().FullName, ": ", e.Message, where.Length > 0 ? " " : "", where);
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_abi_version")]
    static uint AbiVersion() => LuminalVersion.Abi;

    [UnmanagedCallersOnly(EntryPoint = "luminal_version")]
    static byte* Version() => VersionString;

    // Every status's text, made once (the exported function only looks it up: it never allocates).
    static readonly System.Collections.Generic.Dictionary<int, nint> StatusStrings = BuildStatusStrings();
    static readonly byte* UnknownStatus = Utf8(StatusText.Describe(int.MinValue));

    static System.Collections.Generic.Dictionary<int, nint> BuildStatusStrings()
    {
        var d = new System.Collections.Generic.Dictionary<int, nint>();
        foreach (Status s in Enum.GetValues<Status>()) d[(int)s] = (nint)Utf8(StatusText.Describe((int)s));
        return d;
    }

    // Every status's constant name (luminal_status_name), made once like the descriptions.
    static readonly System.Collections.Generic.Dictionary<int, nint> StatusNames = BuildStatusNames();
    static readonly byte* UnknownStatusName = Utf8("LUMINAL_STATUS_UNKNOWN");

    static System.Collections.Generic.Dictionary<int, nint> BuildStatusNames()
    {
        var d = new System.Collections.Generic.Dictionary<int, nint>();
        foreach (Status s in Enum.GetValues<Status>()) d[(int)s] = (nint)Utf8(StatusText.Name((int)s));
        return d;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_status_name")]
    static byte* StatusName(int status)
    {
        try { return StatusNames.TryGetValue(status, out nint p) ? (byte*)p : UnknownStatusName; }
        catch { return UnknownStatusName; } // a lookup in a dictionary nobody writes cannot throw; never NULL
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_debug_gc_count")]
    static ulong DebugGcCount()
    {
        try { return (ulong)GC.CollectionCount(0); } // a gen0 count includes every gen1 and gen2 collection
        catch { return 0; } // CollectionCount(0) does not throw; an export must not let anything escape
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_status_str")]
    static byte* StatusStr(int status)
    {
        try { return StatusStrings.TryGetValue(status, out nint p) ? (byte*)p : UnknownStatus; }
        catch { return UnknownStatus; } // a lookup in a dictionary nobody writes cannot throw; never NULL
    }
}
