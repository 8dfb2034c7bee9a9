using System;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Sync;

namespace Luminal.Interop;

/// <summary>luminal_oneshot_*: the lock-free one-value channel (<see cref="Oneshot"/>). Both handles are tokens of
/// the oneshot's cell (a <see cref="SyncSlot"/> of kind OneshotCell, tag 0x1): the sender's carries the cell's life,
/// the receiver's the life + 1.</summary>
static unsafe partial class Exports
{
    /// <summary>The cell a oneshot handle names and the cell's life, or the status to report: NULL, a token that is
    /// not a oneshot handle of this role in the cell's current life (released cells, forged values, the other
    /// role's token, another kind's), or a runtime inherited across fork. (A handle of the current life may still
    /// be released: its bit in the state word tells, see Oneshot.)</summary>
    static Status ResolveOneshot(nint handle, bool receiver, out SyncSlot cell, out uint life)
    {
        cell = null!;
        life = 0;
        if (handle == 0) return Status.InvalidArgument;
        if (!Handles.Token.TryDecode((ulong)handle, Handles.Token.Sync, out int index, out uint generation)) return Status.InvalidHandle;
        if (SyncSlot.Table.Get(index) is not SyncSlot c || Volatile.Read(ref c.Kind) != (int)SyncKind.OneshotCell)
            return Status.InvalidHandle;
        uint l = receiver ? generation - 1 : generation;
        // The owner is read between two reads of the generation: a cell recycled meanwhile is refused as stale.
        if (l == 0 || Volatile.Read(ref c.Generation) != l || c.Owner is not Runtime runtime || Volatile.Read(ref c.Generation) != l)
            return Status.InvalidHandle;
        if (runtime.IsForked) return Status.Forked;
        cell = c;
        life = l;
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
            uint life = Oneshot.Start(cell);
            *tx = (nint)Handles.Token.Make(Handles.Token.Sync, cell.Index, life);
            *rx = (nint)Handles.Token.Make(Handles.Token.Sync, cell.Index, Oneshot.ReceiverGeneration(life));
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_send")]
    static int OneshotSend(nint tx, nint msg)
    {
        try
        {
            Status s = ResolveOneshot(tx, receiver: false, out SyncSlot cell, out uint life);
            if (s != Status.Ok) return (int)s;
            if (!Oneshot.ClaimSender(cell, life)) return (int)Status.InvalidHandle; // released or sent already (or concurrently)
            return (int)Oneshot.Send(cell, msg);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_sender_release")]
    static void OneshotSenderRelease(nint tx)
    {
        try
        {
            if (ResolveOneshot(tx, receiver: false, out SyncSlot cell, out uint life) != Status.Ok) return;
            if (!Oneshot.ClaimSender(cell, life)) return;
            Oneshot.Leave(cell, Oneshot.Tx);
        }
        catch { /* void export: at worst the receiver waits (a leak, never a use after free) */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_oneshot_receiver_release")]
    static void OneshotReceiverRelease(nint rx)
    {
        try
        {
            if (ResolveOneshot(rx, receiver: true, out SyncSlot cell, out uint life) != Status.Ok) return;
            Oneshot.Leave(cell, Oneshot.Rx, life); // once: a second release finds Rx clear
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
            Status s = ResolveOneshot(rx, receiver: true, out SyncSlot cell, out uint life);
            if (s != Status.Ok) return (int)s;
            if (SyncSlot.Create(SyncKind.OneshotRecvOp, cell) is not SyncSlot op) return (int)Status.NoMemory;
            if ((s = Oneshot.BeginRecv(cell, life)) != Status.Ok)
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
            Status s = ResolveOneshot(rx, receiver: true, out SyncSlot cell, out uint life);
            if (s != Status.Ok) return (int)s;
            s = Oneshot.TryRecv(cell, life, out nint m);
            *msg = m;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }
}
