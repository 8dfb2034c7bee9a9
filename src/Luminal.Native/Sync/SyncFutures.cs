using System;
using System.Runtime.InteropServices;
using Luminal.Interop;
using Luminal.Time;

namespace Luminal.Sync;

/// <summary>
/// The poll and drop functions of the futures luminal_channel_send / _recv, luminal_notify_wait and
/// luminal_semaphore_acquire make. Their state is a <see cref="SyncSlot"/> token, so a future dropped twice or
/// polled after its drop is detected (the poll completes with output NULL and touches nothing).
///
/// The rule for runtime-provided futures (luminal.h): a future that cannot work (NULL, stale or forged context,
/// runtime inherited across fork, internal failure) completes at once: the reason goes to *result (notify_wait,
/// which has no result, completes with LUMINAL_FAILED_OUTPUT); it gives up what it held first (a send drops its
/// message, an acquire returns granted permits, a recv or wait passes a wake it received on), as a drop would.
/// A drop retires the token first (only one drop wins), then unlinks the waiter under the primitive's lock, then
/// recycles the slot; drop_message runs last, outside every lock.
/// </summary>
static unsafe class SyncFutures
{
    public static void Fill(NativeFuture* output, SyncSlot op,
        delegate* unmanaged<void*, void*, void**, int> poll, delegate* unmanaged<void*, void> drop)
    {
        output->State = (void*)op.Token;
        output->Poll = poll;
        output->Drop = drop;
        output->DropOutput = null;
    }

    static void SetResult(SyncSlot op, Status s) => *(int*)op.ResultPtr = (int)s;

    static Status FailureOf(Exception e) => e is OutOfMemoryException ? Status.NoMemory : Status.Internal;

    /// <summary>
    /// The first step of every drop: the slot of this very future, retired so that only one drop goes on. Null
    /// when the token is stale (dropped already) or the runtime was inherited across fork (its locks may be held by
    /// threads that are gone: the slot is left alone).
    /// </summary>
    static SyncSlot? Retire(void* state, SyncKind kind)
    {
        if (SyncSlot.Resolve((nint)state, kind, out uint generation) is not SyncSlot op) return null;
        return ((SyncObject)op.Target!).Runtime.IsForked || !op.TryRetire(generation) ? null : op;
    }

    // ---- send ----------------------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollSend(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.SendOp, out _)) is null) return 1;
            Channel ch = (Channel)op.Target!;
            if (ch.Runtime.IsForked) { SetResult(op, Status.Forked); return 1; } // its locks may be held by lost threads
            Status check = Context.Check((nint)cx, out _, out ulong waker);
            bool drop;
            nint msg;
            Status st;
            if (check != Status.Ok) { ch.DropSend(op, out drop, out msg); st = check; }
            else
            {
                st = ch.PollSend(op, waker, out drop, out msg);
                if (st == Status.Pending) return 0;
            }
            SetResult(op, st);
            if (drop) ch.DropMessage(msg);
            return 1;
        }
        catch (Exception e)
        {
            // The message stays the future's (HasMessage): its drop gives it to drop_message.
            if (op is not null) SetResult(op, FailureOf(e));
            return 1;
        }
    }

    [UnmanagedCallersOnly]
    public static void DropSend(void* state)
    {
        try
        {
            if (Retire(state, SyncKind.SendOp) is not SyncSlot op) return;
            Channel ch = (Channel)op.Target!;
            ch.DropSend(op, out bool drop, out nint msg);
            op.Recycle();
            if (drop) ch.DropMessage(msg);
            ch.Unref(); // the future's reference (the channel may go back to its pool)
        }
        catch { /* drop has no status; at worst a slot or a message leaks, never a double drop */ }
    }

    // ---- recv ----------------------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollRecv(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.RecvOp, out _)) is null) return 1;
            Channel ch = (Channel)op.Target!;
            *(nint*)op.MessageOut = 0;
            if (ch.Runtime.IsForked) { SetResult(op, Status.Forked); return 1; }
            Status check = Context.Check((nint)cx, out _, out ulong waker);
            if (check != Status.Ok) { ch.DropRecv(op); SetResult(op, check); return 1; }
            Status st = ch.PollRecv(op, waker, out nint msg);
            if (st == Status.Pending) return 0;
            *(nint*)op.MessageOut = msg;
            SetResult(op, st);
            return 1;
        }
        catch (Exception e)
        {
            if (op is not null) SetResult(op, FailureOf(e));
            return 1;
        }
    }

    [UnmanagedCallersOnly]
    public static void DropRecv(void* state)
    {
        try
        {
            if (Retire(state, SyncKind.RecvOp) is not SyncSlot op) return;
            Channel ch = (Channel)op.Target!;
            ch.DropRecv(op);
            op.Recycle();
            ch.Unref();
        }
        catch { /* see DropSend */ }
    }

    // ---- notify_wait ---------------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollWait(void* state, void* cx, void** output)
    {
        *output = null;
        try
        {
            if (SyncSlot.Resolve((nint)state, SyncKind.WaitOp, out _) is not SyncSlot op) return 1;
            Notify n = (Notify)op.Target!;
            if (n.Runtime.IsForked) return SleepFuture.Failed(output);
            if (Context.Check((nint)cx, out _, out ulong waker) != Status.Ok) { n.DropWait(op); return SleepFuture.Failed(output); }
            return n.PollWait(op, waker) ? 1 : 0;
        }
        catch { return SleepFuture.Failed(output); } // internal failure: the rule for runtime-made futures
    }

    [UnmanagedCallersOnly]
    public static void DropWait(void* state)
    {
        try
        {
            if (Retire(state, SyncKind.WaitOp) is not SyncSlot op) return;
            Notify n = (Notify)op.Target!;
            n.DropWait(op);
            op.Recycle();
            n.Unref();
        }
        catch { /* see DropSend */ }
    }

    // ---- signal_recv ---------------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollSignalRecv(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.SignalRecvOp, out _)) is null) return 1;
            SignalListener l = (SignalListener)op.Target!;
            if (l.Runtime.IsForked) { SetResult(op, Status.Forked); return 1; }
            Status check = Context.Check((nint)cx, out _, out ulong waker);
            if (check != Status.Ok) { l.DropRecv(op); SetResult(op, check); return 1; }
            if (!l.PollRecv(op, waker, out Status result)) return 0;
            SetResult(op, result);
            return 1;
        }
        catch (Exception e)
        {
            if (op is not null) SetResult(op, FailureOf(e));
            return 1;
        }
    }

    [UnmanagedCallersOnly]
    public static void DropSignalRecv(void* state)
    {
        try
        {
            if (Retire(state, SyncKind.SignalRecvOp) is not SyncSlot op) return;
            SignalListener l = (SignalListener)op.Target!;
            l.DropRecv(op);
            op.Recycle();
            l.Unref();
        }
        catch { /* see DropSend */ }
    }

    // ---- semaphore_acquire ---------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollAcquire(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.AcquireOp, out _)) is null) return 1;
            Semaphore sem = (Semaphore)op.Target!;
            if (sem.Runtime.IsForked) { SetResult(op, Status.Forked); return 1; }
            Status check = Context.Check((nint)cx, out _, out ulong waker);
            if (check != Status.Ok) { sem.DropAcquire(op); SetResult(op, check); return 1; }
            Status st = sem.PollAcquire(op, waker);
            if (st == Status.Pending) return 0;
            SetResult(op, st);
            return 1;
        }
        catch (Exception e)
        {
            if (op is not null) SetResult(op, FailureOf(e));
            return 1;
        }
    }

    [UnmanagedCallersOnly]
    public static void DropAcquire(void* state)
    {
        try
        {
            if (Retire(state, SyncKind.AcquireOp) is not SyncSlot op) return;
            Semaphore sem = (Semaphore)op.Target!;
            sem.DropAcquire(op);
            op.Recycle();
            sem.Unref();
        }
        catch { /* see DropSend */ }
    }

    // ---- task_set_join_next --------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollJoinNext(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.JoinNextOp, out _)) is null || op.Completed) return 1;
            TaskSet set = (TaskSet)op.Target!;
            *(nint*)op.MessageOut = 0;
            if (set.Runtime.IsForked) { SetResult(op, Status.Forked); return 1; }
            Status check = Context.Check((nint)cx, out _, out ulong waker);
            if (check != Status.Ok) { set.DropJoinNext(op); SetResult(op, check); return 1; }
            Status st = set.PollJoinNext(op, waker, out nint taskOutput);
            if (st == Status.Pending) return 0;
            *(nint*)op.MessageOut = taskOutput;
            SetResult(op, st);
            return 1;
        }
        catch (Exception e)
        {
            if (op is not null) SetResult(op, FailureOf(e));
            return 1;
        }
    }

    [UnmanagedCallersOnly]
    public static void DropJoinNext(void* state)
    {
        try
        {
            if (Retire(state, SyncKind.JoinNextOp) is not SyncSlot op) return;
            TaskSet set = (TaskSet)op.Target!;
            set.DropJoinNext(op);
            op.Recycle();
        }
        catch { /* see DropSend */ }
    }
}
