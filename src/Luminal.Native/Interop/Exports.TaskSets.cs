using System;
using System.Runtime.InteropServices;
using Luminal.Scopes;
using Luminal.Sync;

namespace Luminal.Interop;

/// <summary>Task sets, join_all, select and scope_drain (luminal_task_set_*, luminal_join_all, luminal_select,
/// luminal_scope_drain). Cores: Sync/TaskSet.cs, Sync/Combinators.cs, Scopes/DrainFuture.cs.</summary>
static unsafe partial class Exports
{
    // ---- task sets -----------------------------------------------------------------------------------------

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_set_new")]
    static int TaskSetNew(nint rt, nint* output)
    {
        try
        {
            if (output == null) return (int)Status.InvalidArgument;
            *output = 0;
            Status s = ResolveLiveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            if (SyncSlot.Create(SyncKind.TaskSet, new TaskSet(runtime)) is not SyncSlot slot) return (int)Status.NoMemory;
            *output = (nint)slot.Token;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_set_spawn")]
    static int TaskSetSpawn(nint set, NativeFuture fut, NativeSpawnOptions* opts)
    {
        try
        {
            Status s = ResolveSync(set, SyncKind.TaskSet, out SyncSlot slot, out _);
            if (s == Status.Ok && fut.Poll == null) s = Status.InvalidArgument;
            TaskSet? ts = s == Status.Ok ? (TaskSet)slot.Target! : null;
            Scope? scope = null;
            uint scopeGeneration = 0;
            int priority = Scheduler.Priority.Default;
            if (s == Status.Ok) s = ReadSpawnOptions(opts, ts!.Runtime, ref scope, ref scopeGeneration, ref priority);
            if (s != Status.Ok) { Runtime.DropFuture(fut); return (int)s; }
            return (int)ts!.Spawn(fut, scope, scopeGeneration, priority);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_set_join_next")]
    static int TaskSetJoinNext(nint set, nint* output, int* result, NativeFuture* outFuture)
    {
        try
        {
            if (outFuture != null) *outFuture = default;
            if (output == null || result == null || outFuture == null) return (int)Status.InvalidArgument;
            Status s = ResolveSync(set, SyncKind.TaskSet, out SyncSlot slot, out _);
            if (s != Status.Ok) return (int)s;
            if (SyncSlot.Create(SyncKind.JoinNextOp, slot.Target!) is not SyncSlot op) return (int)Status.NoMemory;
            op.MessageOut = (nint)output;
            op.ResultPtr = (nint)result;
            SyncFutures.Fill(outFuture, op, &SyncFutures.PollJoinNext, &SyncFutures.DropJoinNext);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_set_len")]
    static nuint TaskSetLen(nint set)
    {
        try
        {
            return ResolveSync(set, SyncKind.TaskSet, out SyncSlot slot, out _) == Status.Ok
                ? (nuint)((TaskSet)slot.Target!).Length : 0;
        }
        catch { return 0; } // documented: 0 for a bad handle
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_set_abort_all")]
    static int TaskSetAbortAll(nint set)
    {
        try
        {
            Status s = ResolveSync(set, SyncKind.TaskSet, out SyncSlot slot, out _);
            if (s != Status.Ok) return (int)s;
            ((TaskSet)slot.Target!).AbortAll();
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_task_set_release")]
    static void TaskSetRelease(nint set)
    {
        try { ReleaseSync(set, SyncKind.TaskSet, &OnTaskSetReleased); }
        catch { /* void export: at worst members run on unjoined (their outputs are freed when they finish) */ }
    }

    static void OnTaskSetReleased(object set) => ((TaskSet)set).Release();

    // ---- join_all and select -------------------------------------------------------------------------------

    [UnmanagedCallersOnly(EntryPoint = "luminal_join_all")]
    static int JoinAll(nint rt, NativeFuture* futs, nuint n, void** outputs, NativeFuture* outFuture)
    {
        try { return (int)MakeCombinator(SyncKind.JoinAllOp, rt, futs, n, (nint)outputs, 0, outFuture); }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_select")]
    static int Select(nint rt, NativeFuture* futs, nuint n, nuint* winner, void** output, NativeFuture* outFuture)
    {
        try { return (int)MakeCombinator(SyncKind.SelectOp, rt, futs, n, (nint)output, (nint)winner, outFuture); }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>Takes the children: on every failure they are dropped here, exactly once.</summary>
    static Status MakeCombinator(SyncKind kind, nint rt, NativeFuture* futs, nuint n, nint results, nint winner,
        NativeFuture* outFuture)
    {
        Combinators.Child* block = null;
        SyncSlot? op = null;
        try
        {
            if (outFuture != null) *outFuture = default;
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s == Status.Ok && (outFuture == null || (n > 0 && (futs == null || results == 0))
                || (kind == SyncKind.SelectOp && (n == 0 || winner == 0))))
                s = Status.InvalidArgument;
            for (nuint i = 0; s == Status.Ok && i < n; i++)
                if (futs[i].Poll == null) s = Status.InvalidArgument;
            if (s == Status.Ok && (op = SyncSlot.Create(kind, runtime)) is null) s = Status.NoMemory;
            if (s == Status.Ok) block = Combinators.CopyChildren(futs, n);
            if (s != Status.Ok)
            {
                if (op is not null && op.TryRetire(op.Generation)) op.Recycle();
                Combinators.DropAll(futs, n);
                return s;
            }
            op!.Message = (nint)block;
            op.Count = n;
            op.MessageOut = results;
            op.ResultPtr = winner;
            if (kind == SyncKind.JoinAllOp)
                SyncFutures.Fill(outFuture, op, &Combinators.PollJoinAll, &Combinators.DropJoinAll);
            else
                SyncFutures.Fill(outFuture, op, &Combinators.PollSelect, &Combinators.DropSelect);
            return Status.Ok;
        }
        catch
        {
            // Before the future exists the children are still ours to drop (the block never left this function).
            if (op is not null && op.TryRetire(op.Generation)) op.Recycle();
            if (block != null) NativeMemory.Free(block);
            Combinators.DropAll(futs, n);
            throw;
        }
    }

    // ---- scope drain ---------------------------------------------------------------------------------------

    [UnmanagedCallersOnly(EntryPoint = "luminal_scope_drain")]
    static int ScopeDrain(nint handle, NativeFuture* outFuture)
    {
        try
        {
            if (outFuture != null) *outFuture = default;
            Status s = ResolveScope(handle, out Scope scope, out uint generation);
            if (s == Status.Ok && outFuture == null) s = Status.InvalidArgument;
            if (s != Status.Ok) return (int)s;
            if (SyncSlot.Create(SyncKind.DrainOp, scope) is not SyncSlot op) return (int)Status.NoMemory;
            op.Count = generation;
            SyncFutures.Fill(outFuture, op, &DrainFuture.Poll, &DrainFuture.Drop);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }
}
