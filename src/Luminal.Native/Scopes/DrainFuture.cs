using System.Runtime.InteropServices;
using Luminal.Interop;
using Luminal.Sync;
using Luminal.Time;

namespace Luminal.Scopes;

/// <summary>
/// luminal_scope_drain's future: completes (output NULL) when every task spawned into the scope has finished
/// running (Scope.PollDrain); it waits on the scope's drainer list. State: a <see cref="SyncSlot"/> token of kind
/// DrainOp, Target the scope, Count the scope handle's generation at creation. Completes with
/// LUMINAL_FAILED_OUTPUT for a bad context, a runtime inherited across fork, or a scope handle released meanwhile.
/// </summary>
static unsafe class DrainFuture
{
    [UnmanagedCallersOnly]
    public static int Poll(void* state, void* cx, void** output)
    {
        *output = null;
        try
        {
            if (SyncSlot.Resolve((nint)state, SyncKind.DrainOp, out _) is not SyncSlot op || op.Completed) return 1;
            Scope scope = (Scope)op.Target!;
            if (scope.Runtime is Runtime rt && rt.IsForked) return SleepFuture.Failed(output);
            if (Context.Check((nint)cx, out _, out ulong waker) != Status.Ok)
            {
                scope.DropDrain(op);
                op.Completed = true;
                return SleepFuture.Failed(output);
            }
            int r = scope.PollDrain(op, (uint)op.Count, waker);
            if (r == 0) return 0;
            op.Completed = true;
            return r > 0 ? 1 : SleepFuture.Failed(output);
        }
        catch { return SleepFuture.Failed(output); } // internal failure: the rule for runtime-made futures
    }

    [UnmanagedCallersOnly]
    public static void Drop(void* state)
    {
        try
        {
            if (SyncSlot.Resolve((nint)state, SyncKind.DrainOp, out uint generation) is not SyncSlot op) return;
            Scope scope = (Scope)op.Target!;
            if ((scope.Runtime is Runtime rt && rt.IsForked) || !op.TryRetire(generation)) return;
            scope.DropDrain(op);
            op.Recycle();
        }
        catch { /* drop has no status; at worst a slot leaks */ }
    }
}
