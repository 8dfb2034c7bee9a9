using System.Runtime.CompilerServices;
using System;
using System.Runtime.InteropServices;
using Luminal.Handles;
using Luminal.Scheduler;
using Luminal.Tasks;

namespace Luminal.Interop;

static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_spawn")]
    static int Spawn(nint rt, NativeFuture fut, nint* outTask)
    {
        try
        {
            if (outTask != null) *outTask = 0;
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s == Status.Ok && fut.Poll == null) s = Status.InvalidArgument;
            if (s != Status.Ok) { Runtime.DropFuture(fut); return (int)s; }
            s = runtime.Spawn(fut, null, outTask != null, null, out ulong token);
            if (outTask != null) *outTask = (nint)token;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_context_spawn")]
    static int ContextSpawn(nint cx, NativeFuture fut, nint* outTask)
    {
        try { return (int)ContextSpawnCore(cx, fut, null, outTask); }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_context_spawn_with")]
    static int ContextSpawnWith(nint cx, NativeFuture fut, NativeSpawnOptions* opts, nint* outTask)
    {
        try { return (int)ContextSpawnCore(cx, fut, opts, outTask); }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary><paramref name="inlineSize"/> != 0: luminal_context_spawn_inline (already checked), see Runtime.Spawn.</summary>
    static Status ContextSpawnCore(nint cx, in NativeFuture fut, NativeSpawnOptions* opts, nint* outTask,
        nuint inlineSize = 0, nuint inlineAlign = 0)
    {
        if (outTask != null) *outTask = 0;
        Status s = Context.Check(cx, out Context context, out ulong waker);
        if (s == Status.Ok && fut.Poll == null) s = Status.InvalidArgument;
        Runtime? runtime = context?.Runtime;
        if (s == Status.Ok && runtime is null) s = Status.InvalidHandle; // the context was released meanwhile
        // The new task inherits the spawning task's scope (it runs the same plugin's code) and priority.
        RawTask? current = s == Status.Ok ? RawTask.FromToken(waker, Token.Waker, out _) : null;
        Scopes.Scope? scope = current?.Scope;
        uint scopeGeneration = 0; // (inherited: the spawning member keeps the object; a scope in the options: checked)
        int priority = current?.Priority ?? Scheduler.Priority.Default;
        if (s == Status.Ok) s = ReadSpawnOptions(opts, runtime!, ref scope, ref scopeGeneration, ref priority);
        if (s != Status.Ok || runtime is null) { Runtime.DropFuture(fut); return s; }
        // The local queue only if we really are on that worker's thread (a context smuggled elsewhere
        // must not touch another thread's queue).
        Worker? local = context!.WorkerIndex >= 0 ? runtime.Workers[context.WorkerIndex] : null;
        if (local is not null && !local.IsCurrentThread) local = null;
        s = runtime.Spawn(fut, null, outTask != null, local, out ulong token, scope, priority,
            inlineSize: inlineSize, inlineAlign: inlineAlign, scopeGeneration: scopeGeneration);
        if (outTask != null) *outTask = (nint)token;
        return s;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_spawn_blocking")]
    static int SpawnBlocking(nint rt, delegate* unmanaged<void*, void*> fn, void* arg, nint* outTask)
    {
        try { return (int)SpawnBlockingCore(rt, fn, arg, null, null, outTask); }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_spawn_blocking_with")]
    static int SpawnBlockingWith(nint rt, delegate* unmanaged<void*, void*> fn, void* arg,
        delegate* unmanaged<void*, void> dropArg, NativeSpawnOptions* opts, nint* outTask)
    {
        try { return (int)SpawnBlockingCore(rt, fn, arg, dropArg, opts, outTask); }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>A blocking call is a task whose "future" is fn(arg) with arg's drop as the future's drop: it runs
    /// exactly once, after the call or when the call is cancelled before it started.</summary>
    static Status SpawnBlockingCore(nint rt, delegate* unmanaged<void*, void*> fn, void* arg,
        delegate* unmanaged<void*, void> dropArg, NativeSpawnOptions* opts, nint* outTask)
    {
        if (outTask != null) *outTask = 0;
        NativeFuture f = default;
        f.State = arg;
        f.Drop = dropArg;
        Runtime runtime = null!;
        Status s = fn == null ? Status.InvalidArgument : ResolveRuntime(rt, out runtime);
        Scopes.Scope? scope = null;
        uint scopeGeneration = 0;
        int priority = Scheduler.Priority.Default;
        if (s == Status.Ok) s = ReadSpawnOptions(opts, runtime, ref scope, ref scopeGeneration, ref priority);
        if (s != Status.Ok) { Runtime.DropFuture(f); return s; }
        s = runtime.Spawn(f, fn, outTask != null, null, out ulong token, scope, priority, blocking: true,
            scopeGeneration: scopeGeneration);
        if (outTask != null) *outTask = (nint)token;
        return s;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_spawn_fn")]
    static int SpawnFn(nint rt, delegate* unmanaged<void*, void*> fn, void* arg, nint* outTask)
    {
        try
        {
            if (outTask != null) *outTask = 0;
            if (fn == null) return (int)Status.InvalidArgument;
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            NativeFuture f = default;
            f.State = arg;
            s = runtime.Spawn(f, fn, outTask != null, null, out ulong token);
            if (outTask != null) *outTask = (nint)token;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_block_on")]
    static int BlockOnExport(nint rt, NativeFuture fut, void** output)
    {
        try
        {
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s == Status.Ok && fut.Poll == null) s = Status.InvalidArgument;
            if (s != Status.Ok) { Runtime.DropFuture(fut); return (int)s; }
            return (int)BlockOn.Run(runtime, fut, output);
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>Resolves a join handle: NULL → InvalidArgument, stale/released/foreign → InvalidHandle, a task of a
    /// runtime inherited across fork → Forked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Status ResolveTask(nint t, out RawTask task, out uint generation)
    {
        task = default;
        generation = 0;
        if (t == 0) return Status.InvalidArgument;
        if (RawTask.FromToken((ulong)t, Token.Task, out generation) is not RawTask found || !found.HandleLive(generation))
            return Status.InvalidHandle;
        if (found.Runtime is Runtime rt && rt.IsForked) return Status.Forked;
        task = found;
        return Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_join")]
    static int TaskJoin(nint t, ulong timeoutNs, void** output)
    {
        try
        {
            Status s = ResolveTask(t, out RawTask task, out uint generation);
            if (s != Status.Ok) return (int)s;
            if (!task.IsFinished)
            {
                if (timeoutNs != 0 && task.Runtime?.OnOwnThread() == true) return (int)Status.WouldDeadlock;
                if (!task.WaitFinished(generation, timeoutNs == 0 ? 0 : Runtime.TimeoutMs(timeoutNs))) return (int)Status.TimedOut;
            }
            return (int)task.TakeOutput(generation, output);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_poll")]
    static int TaskPoll(nint t, nint cx, void** output)
    {
        try
        {
            Status s = ResolveTask(t, out RawTask task, out uint generation);
            if (s != Status.Ok) return (int)s;
            s = Context.Check(cx, out _, out ulong waker);
            if (s != Status.Ok) return (int)s;
            if (!task.IsFinished && task.RegisterJoinWaker(waker)) return (int)Status.Pending;
            return (int)task.TakeOutput(generation, output);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_abort")]
    static void TaskAbort(nint t)
    {
        try
        {
            if (ResolveTask(t, out RawTask task, out uint generation) == Status.Ok) task.RequestAbort(generation);
        }
        catch { /* void export: nothing to report; the task runs on as if not aborted */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_is_finished")]
    static int TaskIsFinished(nint t)
    {
        try
        {
            return ResolveTask(t, out RawTask task, out _) == Status.Ok && task.IsFinished ? 1 : 0;
        }
        catch { return 0; } // documented: 0 for "not finished or a bad handle"
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_release")]
    static void TaskRelease(nint t)
    {
        try
        {
            if (ResolveTask(t, out RawTask task, out uint generation) == Status.Ok) task.ReleaseHandleHere(generation);
        }
        catch { /* void export: nothing to report; at worst the task's slot is not recycled (a leak, never a reuse) */ }
    }
}
