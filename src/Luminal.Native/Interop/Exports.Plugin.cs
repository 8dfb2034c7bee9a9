using System;
using System.Runtime.InteropServices;
using Luminal.Plugins;
using Luminal.Sync;

namespace Luminal.Interop;

/// <summary>Plugins (luminal_plugin_open / close / scope): the lifecycle lives in Plugins/Plugin.cs; the handles
/// are <see cref="SyncSlot"/> tokens of kind Plugin.</summary>
static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_plugin_open")]
    static int PluginOpen(nint rt, byte* path, nint hostData, nint* outPlugin)
    {
        try
        {
            if (outPlugin == null) return (int)Status.InvalidArgument;
            *outPlugin = 0;
            if (path == null) return (int)Status.InvalidArgument;
            Status s = ResolveLiveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            // Loading blocks, and a failed init's cleanup waits for the plugin's tasks: never on a worker.
            if (runtime.CurrentWorker() is not null) return (int)Status.WouldDeadlock;
            s = Plugin.Open(runtime, path, hostData, out ulong token);
            *outPlugin = (nint)token;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }

    static Status ResolvePlugin(nint handle, out SyncSlot slot, out uint generation, out Plugin plugin)
    {
        plugin = null!;
        slot = null!;
        generation = 0;
        if (handle == 0) return Status.InvalidArgument;
        if (SyncSlot.Resolve(handle, SyncKind.Plugin, out generation) is not SyncSlot s
            || s.Target is not Plugin p) return Status.InvalidHandle;
        if (p.Runtime.IsForked) return Status.Forked;
        slot = s;
        plugin = p;
        return Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_plugin_close")]
    static int PluginClose(nint handle, ulong timeoutNs)
    {
        try
        {
            Status s = ResolvePlugin(handle, out SyncSlot slot, out uint generation, out Plugin plugin);
            if (s != Status.Ok) return (int)s;
            // Waiting on a worker for the plugin's tasks, which may need that very worker, could deadlock.
            if (timeoutNs != 0 && plugin.Runtime.CurrentWorker() is not null) return (int)Status.WouldDeadlock;
            return (int)plugin.Close(slot, generation, timeoutNs == 0 ? 0 : Runtime.TimeoutMs(timeoutNs));
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_plugin_scope")]
    static nint PluginScope(nint handle)
    {
        try
        {
            return ResolvePlugin(handle, out _, out _, out Plugin plugin) == Status.Ok ? (nint)plugin.ScopeToken : 0;
        }
        catch { return 0; } // documented: NULL for a handle it cannot use
    }
}
