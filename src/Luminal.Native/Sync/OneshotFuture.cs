using System;
using System.Runtime.InteropServices;
using Luminal.Interop;

namespace Luminal.Sync;

/// <summary>The poll and drop of the luminal_oneshot_recv future. Its state is a <see cref="SyncSlot"/> token (kind
/// OneshotRecvOp, Target = the cell), so a second drop or a poll after the drop is detected. The rules of the
/// runtime-provided futures hold as in <see cref="SyncFutures"/>.</summary>
static unsafe class OneshotFuture
{
    [UnmanagedCallersOnly]
    public static int Poll(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.OneshotRecvOp, out _)) is null) return 1;
            // *msg is written only on completion (as SyncFutures.PollOp does).
            // Polled after READY (a contract breach): its cell may be gone already, so nothing is touched.
            if (op.Completed) { Complete(op, 0, Status.Closed); return 1; }
            SyncSlot cell = (SyncSlot)op.Target!;
            if (op.Owner!.IsForked) { Complete(op, 0, Status.Forked); return 1; }
            Status check = Context.Check((nint)cx, out _, out ulong waker);
            if (check != Status.Ok)
            {
                Oneshot.Complete(op, cell); // gives up its claim as a drop would
                Complete(op, 0, check);
                return 1;
            }
            Status st = Oneshot.PollRecv(op, cell, waker, out nint msg);
            if (st == Status.Pending) return 0;
            Complete(op, msg, st);
            return 1;
        }
        catch (Exception e)
        {
            if (op is not null) Complete(op, 0, e is OutOfMemoryException ? Status.NoMemory : Status.Internal);
            return 1;
        }
    }

    static void Complete(SyncSlot op, nint msg, Status st)
    {
        *(nint*)op.MessageOut = msg;
        *(int*)op.ResultPtr = (int)st;
    }

    [UnmanagedCallersOnly]
    public static void Drop(void* state)
    {
        try
        {
            if (SyncSlot.Resolve((nint)state, SyncKind.OneshotRecvOp, out uint generation) is not SyncSlot op) return;
            SyncSlot cell = (SyncSlot)op.Target!;
            // After fork the cell is left alone (as every sync primitive is). A completed op holds no ref: its cell
            // may be recycled already, so it is not looked at.
            if (!op.Completed && op.Owner!.IsForked) return;
            if (!op.TryRetire(generation)) return;
            Oneshot.Complete(op, cell);
            op.Recycle();
        }
        catch { /* drop has no status; at worst a slot or a message leaks, never a double drop */ }
    }
}
