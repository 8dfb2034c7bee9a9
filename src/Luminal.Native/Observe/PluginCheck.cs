using System.Runtime.InteropServices;

namespace Luminal.Observe;

/// <summary>
/// The opt-in unloaded-plugin check (options.debug_plugins, LUMINAL_DEBUG_PLUGINS=1): before a task's poll, drop or
/// drop_output is called, dladdr(3) must find the function in a loaded object. A plugin unloaded without closing
/// its scope then gives a log line naming the scope and the address instead of a jump into unmapped memory.
/// Costs a loader lookup per call, so it is for debugging only; off, it is one branch.
/// </summary>
static unsafe partial class PluginCheck
{
    /// <summary>LUMINAL_DEBUG_PLUGINS=1: on for every runtime of the process (read once).</summary>
    public static readonly bool ForcedByEnvironment = System.Environment.GetEnvironmentVariable("LUMINAL_DEBUG_PLUGINS") == "1";

    /// <summary>Runtimes with the check on; drop_output calls (which may outlive their task's runtime link) check
    /// whenever any is.</summary>
    public static int Active;

    [StructLayout(LayoutKind.Sequential)]
    struct DlInfo { public nint FileName, FileBase, SymbolName, SymbolAddress; }

    [LibraryImport("libc", EntryPoint = "dladdr")]
    private static partial int Dladdr(void* address, DlInfo* info);

    /// <summary>Is <paramref name="fn"/> inside a loaded object? If not, logs which call was refused.</summary>
    public static bool Callable(void* fn, string what, Scopes.Scope? scope, Log? log)
    {
        if (fn == null) return true;
        DlInfo info;
        if (Dladdr(fn, &info) != 0 && info.FileBase != 0) return true;
        string message = string.Concat(what, " function 0x", ((nuint)fn).ToString("x"), " of a task in scope 0x",
            (scope?.Token ?? 0).ToString("x"),
            " is not in any loaded object (plugin unloaded without closing its scope?): call skipped");
        if (log is not null) log.Write(LogLevel.Error, message);
        else Log.Everywhere(LogLevel.Error, message);
        return false;
    }
}
