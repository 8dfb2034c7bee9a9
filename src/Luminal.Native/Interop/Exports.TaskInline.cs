using System;
using System.Runtime.InteropServices;
using Luminal.Scheduler;
using Luminal.Tasks;

namespace Luminal.Interop;

// luminal_spawn_inline / luminal_context_spawn_inline: the caller's state is moved (memcpy) into storage the task
// owns (see Tasks/TaskStorage.cs), so a binding needs no allocation of its own per task.
static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_spawn_inline")]
    static int SpawnInline(nint rt, void* state, nuint size, nuint align, delegate* unmanaged<void*, void*, void**, int> poll,
        delegate* unmanaged<void*, void> drop, delegate* unmanaged<void*, void> dropOutput, NativeSpawnOptions* opts,
        nint* outTask)
    {
        try
        {
            if (outTask != null) *outTask = 0;
            NativeFuture f = InlineFuture(state, poll, drop, dropOutput);
            Status s = CheckInline(state, size, align, poll);
            Runtime runtime = null!;
            if (s == Status.Ok) s = ResolveRuntime(rt, out runtime);
            Scopes.Scope? scope = null;
            uint scopeGeneration = 0;
            int priority = Scheduler.Priority.Default;
            if (s == Status.Ok) s = ReadSpawnOptions(opts, runtime, ref scope, ref scopeGeneration, ref priority);
            if (s != Status.Ok) { DropInline(f); return (int)s; }
            s = runtime.Spawn(f, null, outTask != null, null, out ulong token, scope, priority, inlineSize: size, inlineAlign: align,
                scopeGeneration: scopeGeneration);
            if (outTask != null) *outTask = (nint)token;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_context_spawn_inline")]
    static int ContextSpawnInline(nint cx, void* state, nuint size, nuint align, delegate* unmanaged<void*, void*, void**, int> poll,
        delegate* unmanaged<void*, void> drop, delegate* unmanaged<void*, void> dropOutput, NativeSpawnOptions* opts,
        nint* outTask)
    {
        try
        {
            NativeFuture f = InlineFuture(state, poll, drop, dropOutput);
            Status s = CheckInline(state, size, align, poll);
            if (s != Status.Ok)
            {
                if (outTask != null) *outTask = 0;
                DropInline(f);
                return (int)s;
            }
            return (int)ContextSpawnCore(cx, f, opts, outTask, size, align);
        }
        catch (Exception e) { return Fail(e); }
    }

    static NativeFuture InlineFuture(void* state, delegate* unmanaged<void*, void*, void**, int> poll,
        delegate* unmanaged<void*, void> drop, delegate* unmanaged<void*, void> dropOutput)
    {
        NativeFuture f;
        f.State = state;
        f.Poll = poll;
        f.Drop = drop;
        f.DropOutput = dropOutput;
        return f;
    }

    /// <summary>The arguments only the inline spawns have (see luminal_spawn_inline's comment).</summary>
    static Status CheckInline(void* state, nuint size, nuint align, delegate* unmanaged<void*, void*, void**, int> poll)
    {
        if (state == null || poll == null || size == 0 || size > TaskStorage.MaxSize) return Status.InvalidArgument;
        if (align == 0 || (align & (align - 1)) != 0 || align > TaskStorage.MaxAlign) return Status.InvalidArgument;
        return Status.Ok;
    }

    /// <summary>A failed inline spawn drops the caller's bytes where they are (none to drop without a state).</summary>
    static void DropInline(in NativeFuture f)
    {
        if (f.State != null) Runtime.DropFuture(f);
    }
}
