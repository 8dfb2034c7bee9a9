using System;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Sync;

namespace Luminal.Interop;

/// <summary>luminal_oneshot_*: the lock-free one-value channel (<see cref="Oneshot"/>). Its handles are
/// <see cref="SyncSlot"/> tokens (tag 0x1) of kinds OneshotSender / OneshotReceiver whose Target is the shared cell.
/// </summary>
static unsafe partial class Exports
{
    /// <summary>A oneshot handle of <paramref name="kind"/>, its cell, and the status to report if it is unusable.</summary>
    static Status ResolveOneshot(nint handle, SyncKind kind, out SyncSlot slot, out SyncSlot cell, out uint generation)
    {
        slot = cell = null!;
        generation = 0;
        if (handle == 0) return Status.InvalidArgument;
        if (SyncSlot.Resolve(handle, kind, out generation) is not SyncSlot s) return Status.InvalidHandle;
        // Both reads may see a handle released meanwhile (its cell recycled): refused like a stale token.
        if (Volatile.Read(ref s.Target) is not SyncSlot c || Volatile.Read(ref c.Target) is not Runtime runtime)
            return Status.InvalidHandle;
        if (runtime.IsForked) return Status.Forked;
        slot = s;
        cell = c;
        return Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_new")]
    static int OneshotNew(nint rt, delegate* unmanaged<void*, void> dropMessage, nint* tx, nint* rx)
    {
        try
        {
            if (tx != null) *tx = 0;
            if (rx != null) *rx = 0;
            if (tx == null || rx == null) return (int)Status.InvalidArgument;
            Status s = ResolveLiveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            SyncSlot? cell = SyncSlot.Create(SyncKind.OneshotCell, runtime);
            if (cell is null) return (int)Status.NoMemory;
            cell.DropFn = (nint)dropMessage;
            Oneshot.Start(cell);
            SyncSlot? sender = SyncSlot.Create(SyncKind.OneshotSender, cell);
            SyncSlot? receiver = sender is null ? null : SyncSlot.Create(SyncKind.OneshotReceiver, cell);
            if (receiver is null)
            {
                if (sender is not null && sender.TryRetire(sender.Generation)) sender.Recycle();
                if (cell.TryRetire(cell.Generation)) cell.Recycle();
                return (int)Status.NoMemory;
            }
            *tx = (nint)sender!.Token;
            *rx = (nint)receiver.Token;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_send")]
    static int OneshotSend(nint tx, nint msg)
    {
        try
        {
            Status s = ResolveOneshot(tx, SyncKind.OneshotSender, out SyncSlot slot, out SyncSlot cell, out uint generation);
            if (s != Status.Ok) return (int)s;
            if (!slot.TryRetire(generation)) return (int)Status.InvalidHandle; // released or sent concurrently
            slot.Recycle();
            return (int)Oneshot.Send(cell, msg);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_sender_release")]
    static void OneshotSenderRelease(nint tx)
    {
        try
        {
            if (ResolveOneshot(tx, SyncKind.OneshotSender, out SyncSlot slot, out SyncSlot cell, out uint generation) != Status.Ok) return;
            if (!slot.TryRetire(generation)) return;
            slot.Recycle();
            Oneshot.Leave(cell, Oneshot.Tx);
        }
        catch { /* void export: at worst the receiver waits (a leak, never a use after free) */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_receiver_release")]
    static void OneshotReceiverRelease(nint rx)
    {
        try
        {
            if (ResolveOneshot(rx, SyncKind.OneshotReceiver, out SyncSlot slot, out SyncSlot cell, out uint generation) != Status.Ok) return;
            if (!slot.TryRetire(generation)) return;
            slot.Recycle();
            Oneshot.Leave(cell, Oneshot.Rx);
        }
        catch { /* see luminal_oneshot_sender_release */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_recv")]
    static int OneshotRecv(nint rx, nint* msg, int* result, NativeFuture* output)
    {
        try
        {
            if (output != null) *output = default;
            if (msg == null || result == null || output == null) return (int)Status.InvalidArgument;
            Status s = ResolveOneshot(rx, SyncKind.OneshotReceiver, out SyncSlot slot, out SyncSlot cell, out uint generation);
            if (s != Status.Ok) return (int)s;
            if (SyncSlot.Create(SyncKind.OneshotRecvOp, cell) is not SyncSlot op) return (int)Status.NoMemory;
            if ((s = Oneshot.BeginRecv(cell, slot, generation)) != Status.Ok)
            {
                if (op.TryRetire(op.Generation)) op.Recycle();
                return (int)s;
            }
            op.MessageOut = (nint)msg;
            op.ResultPtr = (nint)result;
            SyncFutures.Fill(output, op, &OneshotFuture.Poll, &OneshotFuture.Drop);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_try_recv")]
    static int OneshotTryRecv(nint rx, nint* msg)
    {
        try
        {
            if (msg == null) return (int)Status.InvalidArgument;
            *msg = 0;
            Status s = ResolveOneshot(rx, SyncKind.OneshotReceiver, out SyncSlot slot, out SyncSlot cell, out uint generation);
            if (s != Status.Ok) return (int)s;
            s = Oneshot.TryRecv(cell, slot, generation, out nint m);
            *msg = m;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }
}
