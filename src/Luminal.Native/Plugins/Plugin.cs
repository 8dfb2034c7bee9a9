using System;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Interop;
using Luminal.Scopes;

namespace Luminal.Plugins;

/// <summary>
/// One loaded plugin (luminal_plugin_open / luminal_plugin_close): its library, its entry points, its scope and the
/// luminal_plugin_host struct handed to its init (native memory, valid until fini returns).
///
/// The unload order is the whole point: close the scope and wait until no poll or drop of the plugin's tasks runs
/// (Scope.Close's guarantee), then fini, then dlclose. A close that times out changes nothing but the scope (closed,
/// as a later close would make it anyway), so it can be retried. Closes of one plugin are serialized by
/// <see cref="_lock"/>; the one that gets past the scope retires the handle (a close from fini, or any later one,
/// finds it stale) before it calls fini, so fini runs exactly once.
///
/// The handle is a <see cref="Sync.SyncSlot"/> of kind Plugin (tag 0x1, kind checked after the lookup): a plugin
/// handle given to a sync or scope function, or the reverse, is refused as a wrong-type handle.
/// </summary>
sealed unsafe class Plugin
{
    static ReadOnlySpan<byte> InitSymbol => "luminal_plugin_init\0"u8;
    static ReadOnlySpan<byte> FiniSymbol => "luminal_plugin_fini\0"u8;

    readonly object _lock = new();
    internal readonly Runtime Runtime;
    readonly Scope _scope;
    internal readonly ulong ScopeToken;
    readonly nint _library;
    readonly delegate* unmanaged<void*, void> _fini;
    readonly NativePluginHost* _host;
    void* _state;

    Plugin(Runtime runtime, Scope scope, nint library, delegate* unmanaged<void*, void> fini, NativePluginHost* host)
    {
        Runtime = runtime;
        _scope = scope;
        ScopeToken = scope.Token;
        _library = library;
        _fini = fini;
        _host = host;
    }

    /// <summary>luminal_plugin_open after its argument checks (not on a worker of <paramref name="runtime"/>).</summary>
    public static Status Open(Runtime runtime, byte* path, nint hostData, out ulong token)
    {
        token = 0;
        nint library = DynamicLibrary.Open(path);
        if (library == 0) return Status.Io;
        nint init = DynamicLibrary.Symbol(library, InitSymbol), fini = DynamicLibrary.Symbol(library, FiniSymbol);
        if (init == 0 || fini == 0) { DynamicLibrary.Close(library); return Status.NotPlugin; }
        if (Scope.Create(runtime) is not Scope scope) { DynamicLibrary.Close(library); return Status.NoMemory; }
        scope.PluginOwned = true; // luminal_scope_release ignores it: only the plugin's close releases it
        var host = (NativePluginHost*)NativeMemory.AllocZeroed((nuint)sizeof(NativePluginHost));
        host->StructSize = (nuint)sizeof(NativePluginHost);
        host->AbiVersion = LuminalVersion.Abi;
        host->Runtime = (nint)runtime.BorrowedToken;
        host->Scope = (nint)scope.Token;
        host->HostData = hostData;
        var plugin = new Plugin(runtime, scope, library, (delegate* unmanaged<void*, void>)fini, host);

        void* state = null;
        int status = ((delegate* unmanaged<NativePluginHost*, void**, int>)init)(host, &state);
        plugin._state = state;
        if (status != (int)Status.Ok)
        {
            scope.Close(-1); // what init spawned before failing must be gone before its code is
            plugin.Unload(callFini: false);
            return Status.PluginInit;
        }
        if (Sync.SyncSlot.Create(Sync.SyncKind.Plugin, plugin) is not Sync.SyncSlot slot)
        {
            scope.Close(-1);
            plugin.Unload(callFini: true);
            return Status.NoMemory;
        }
        token = slot.Token;
        return Status.Ok;
    }

    /// <summary>
    /// luminal_plugin_close for the handle <paramref name="slot"/> of generation <paramref name="generation"/>:
    /// see the class comment. <paramref name="timeoutMs"/>: -1 = forever, 0 = don't wait.
    /// </summary>
    public Status Close(Sync.SyncSlot slot, uint generation, int timeoutMs)
    {
        long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
        if (!Monitor.TryEnter(_lock, timeoutMs)) return Status.TimedOut; // another close is waiting for the scope
        try
        {
            if (Volatile.Read(ref slot.Generation) != generation) return Status.InvalidHandle; // closed meanwhile
            int left = deadline == long.MaxValue ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
            Status s = _scope.Close(left);
            if (s != Status.Ok) return s;
            // The scope is drained: commit. Only closes retire, and they hold the lock, so this one wins.
            if (!slot.TryRetire(generation)) return Status.InvalidHandle;
            Unload(callFini: true);
            slot.Recycle();
            return Status.Ok;
        }
        finally { Monitor.Exit(_lock); }
    }

    /// <summary>Ends the plugin once its scope is drained: calls fini if asked (on this thread), releases the
    /// scope, frees the host struct and unloads the library.</summary>
    void Unload(bool callFini)
    {
        if (callFini) _fini(_state);
        _scope.PluginOwned = false;
        _scope.Release(Handles.Token.TryDecode(ScopeToken, Handles.Token.Scope, out _, out uint g) ? g : 0);
        NativeMemory.Free(_host);
        DynamicLibrary.Close(_library);
    }
}
