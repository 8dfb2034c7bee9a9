using System.Runtime.InteropServices;
using System.Threading;

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

    /// <summary>For calls the runtime makes on behalf of a future it wraps (timeout's inner future, join_all and
    /// select children, a channel's drop_message), where no task or runtime is at hand: true if the check is on
    /// anywhere and <paramref name="fn"/> is not mapped (then logged to every runtime's log): skip the call.</summary>
    public static bool Skip(void* fn, string what) =>
        fn != null && Volatile.Read(ref Active) != 0 && !Callable(fn, what, null, null);

    /// <summary>Is <paramref name="fn"/> inside a loaded object? If not, logs which call was refused.</summary>
    public static bool Callable(void* fn, string what, Scopes.Scope? scope, Log? log)
    {
        if (fn == null) return true;
        DlInfo info;
        if (Dladdr(fn, &info) != 0 && info.FileBase != 0) return true;
        string whose = scope is not null ? string.Concat(" of a task in scope 0x", scope.Token.ToString("x"))
            : " of a future the runtime wraps (timeout, join_all, select) or a channel";
        string message = string.Concat(what, " function 0x", ((nuint)fn).ToString("x"), whose,
            " is not in any loaded object (plugin unloaded without closing its scope?): call skipped");
        if (log is not null) log.Write(LogLevel.Error, message);
        else Log.Everywhere(LogLevel.Error, message);
        return false;
    }
}
