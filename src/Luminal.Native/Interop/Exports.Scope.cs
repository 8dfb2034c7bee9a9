using System;
using System.Runtime.InteropServices;
using Luminal.Scopes;

namespace Luminal.Interop;

/// <summary>Scopes and luminal_spawn_with.</summary>
static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_scope_new")]
    static int ScopeNew(nint rt, nint* outScope)
    {
        try
        {
            if (outScope == null) return (int)Status.InvalidArgument;
            *outScope = 0;
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            if (runtime.IsShutdown) return (int)Status.Shutdown;
            if (Scope.Create(runtime) is not Scope scope) return (int)Status.NoMemory;
            *outScope = (nint)scope.Token;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    static Status ResolveScope(nint handle, out Scope scope, out uint generation)
    {
        scope = null!;
        generation = 0;
        if (handle == 0) return Status.InvalidArgument;
        if (Scope.FromToken((ulong)handle, out generation) is not Scope s) return Status.InvalidHandle;
        if (s.Runtime is Runtime rt && rt.IsForked) return Status.Forked;
        scope = s;
        return Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_scope_close")]
    static int ScopeClose(nint handle, ulong timeoutNs)
    {
        try
        {
            Status s = ResolveScope(handle, out Scope scope, out _);
            if (s != Status.Ok) return (int)s;
            // Waiting on a worker for tasks that may need that very worker to be dropped could deadlock: close
            // (refuse spawns, abort everything) without waiting, like luminal_runtime_shutdown does there.
            if (timeoutNs != 0 && scope.Runtime?.OnOwnThread() == true)
            {
                scope.Close(0);
                return (int)Status.WouldDeadlock;
            }
            return (int)scope.Close(timeoutNs == 0 ? 0 : Runtime.TimeoutMs(timeoutNs));
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_scope_release")]
    static void ScopeRelease(nint handle)
    {
        try
        {
            // A plugin's scope is released by luminal_plugin_close, never through its borrowed handle.
            if (ResolveScope(handle, out Scope scope, out uint generation) == Status.Ok && !scope.PluginOwned)
                scope.Release(generation);
        }
        catch { /* void export: nothing to report; at worst the scope is not freed (a leak, never a use after free) */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_scope_stats")]
    static int ScopeStats(nint handle, NativeScopeStats* stats)
    {
        try
        {
            if (stats == null) return (int)Status.InvalidArgument;
            Status s = ResolveScope(handle, out Scope scope, out _);
            if (s != Status.Ok) return (int)s;
            nuint size = stats->StructSize;
            if (size < (nuint)sizeof(nuint)) return (int)Status.InvalidArgument;
            scope.Stats(out ulong live, out ulong spawned, out ulong completed, out ulong cancelled);
            // Write only what the caller's (possibly older) struct has room for.
            scope.Usage(out ulong polls, out ulong pollNs);
            NativeScopeStats full = new() { StructSize = size, Live = live, Spawned = spawned, Completed = completed, Cancelled = cancelled,
                Polls = polls, PollNs = pollNs };
            nuint n = Math.Min(size, (nuint)sizeof(NativeScopeStats));
            Buffer.MemoryCopy(&full, stats, (long)size, (long)n);
            stats->StructSize = size;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>
    /// Reads spawn options over inherited defaults: the scope and priority of the spawning task (none and
    /// USER_INITIATED from outside a task). Only the fields struct_size covers are read.
    /// </summary>
    // Inlined NULL check: most spawns pass no options, and the call alone cost ~28 instructions per spawn.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    static Status ReadSpawnOptions(NativeSpawnOptions* opts, Runtime runtime, ref Scope? scope, ref uint scopeGeneration,
        ref int priority) =>
        opts == null ? Status.Ok : ReadSpawnOptionsFrom(opts, runtime, ref scope, ref scopeGeneration, ref priority);

    /// <summary>A scope named by the options comes with its handle's generation, for Runtime.Spawn's check against a
    /// concurrent release (Scope.Enter).</summary>
    static Status ReadSpawnOptionsFrom(NativeSpawnOptions* opts, Runtime runtime, ref Scope? scope, ref uint scopeGeneration,
        ref int priority)
    {
        nuint size = opts->StructSize;
        if (size < (nuint)sizeof(nuint)) return Status.InvalidArgument;
        // Field ends by pointer arithmetic, not Marshal.OffsetOf: under NativeAOT that decodes metadata and allocates
        // a string per call, on every spawn with options.
        NativeSpawnOptions o;
        if (size >= (nuint)((byte*)&o.Scope - (byte*)&o) + (nuint)sizeof(nint) && opts->Scope != 0)
        {
            Status s = ResolveScope(opts->Scope, out Scope found, out uint generation);
            if (s != Status.Ok) return s;
            if (found.Runtime != runtime) return Status.InvalidArgument; // another runtime's scope
            scope = found;
            scopeGeneration = generation;
        }
        if (size >= (nuint)((byte*)&o.Priority - (byte*)&o) + (nuint)sizeof(int))
        {
            priority = Scheduler.Priority.FromC(opts->Priority, priority);
            if (priority < 0) return Status.InvalidArgument;
        }
        return Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_spawn_with")]
    static int SpawnWith(nint rt, NativeFuture fut, NativeSpawnOptions* opts, nint* outTask)
    {
        try
        {
            if (outTask != null) *outTask = 0;
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s == Status.Ok && fut.Poll == null) s = Status.InvalidArgument;
            Scope? scope = null;
            uint scopeGeneration = 0;
            int priority = Scheduler.Priority.Default;
            if (s == Status.Ok) s = ReadSpawnOptions(opts, runtime, ref scope, ref scopeGeneration, ref priority);
            if (s != Status.Ok) { Runtime.DropFuture(fut); return (int)s; }
            s = runtime.Spawn(fut, null, outTask != null, null, out ulong token, scope, priority, scopeGeneration: scopeGeneration);
            if (outTask != null) *outTask = (nint)token;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }
}
