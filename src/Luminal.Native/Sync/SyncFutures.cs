using System;
using System.Runtime.InteropServices;
using Luminal.Interop;
using Luminal.Time;
using System.Runtime.CompilerServices;

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
        return op.Owner!.IsForked || !op.TryRetire(generation) ? null : op;
    }

    /// <summary>
    /// The poll every result-reporting future shares (recv, acquire, signal_recv): a stale token completes touching
    /// nothing; a forked runtime or a bad context completes with that status after the kind's
    /// <paramref name="cancel"/> gave up what it held; otherwise the kind's <paramref name="step"/> decides.
    /// <paramref name="hasOutput"/>: the future has a MessageOut (NULL until a result is there).
    /// </summary>
    static int PollOp(void* state, void* cx, SyncKind kind, bool hasOutput,
        delegate*<object, SyncSlot, ulong, out nint, Status> step, delegate*<object, SyncSlot, void> cancel)
    {
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, kind, out _)) is null) return 1;
            object target = op.Target!;
            // The out-parameter is written only when the future completes: a caller that (against the contract)
            // passed a pointer into a poll's stack frame is then not hit by every later poll as well.
            if (op.Owner!.IsForked) { Complete(op, hasOutput, 0, Status.Forked); return 1; } // its locks may be held by lost threads
            Status check = Context.Check((nint)cx, out _, out ulong waker);
            if (check != Status.Ok) { cancel(target, op); Complete(op, hasOutput, 0, check); return 1; }
            Status st = step(target, op, waker, out nint result);
            if (st == Status.Pending) return 0;
            Complete(op, hasOutput, result, st);
            return 1;
        }
        catch (Exception e)
        {
            if (op is not null) Complete(op, hasOutput, 0, FailureOf(e));
            return 1;
        }
    }

    static void Complete(SyncSlot op, bool hasOutput, nint output, Status st)
    {
        if (hasOutput) *(nint*)op.MessageOut = output;
        SetResult(op, st);
    }

    /// <summary>The drop every future but send's shares: retire the token (one drop wins), the kind's
    /// <paramref name="cancel"/> under its primitive's lock, recycle the slot, then the future's reference on a
    /// pooled primitive.</summary>
    static void DropOp(void* state, SyncKind kind, delegate*<object, SyncSlot, void> cancel)
    {
        try
        {
            if (Retire(state, kind) is not SyncSlot op) return;
            object target = op.Target!;
            cancel(target, op);
            op.Recycle();
            (target as PooledSyncObject)?.Unref(); // the channel, notify, semaphore or listener may go back to its pool
        }
        catch { /* drop has no status; at worst a slot leaks, never a double drop */ }
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
        return PollOp(state, cx, SyncKind.RecvOp, true, &RecvStep, &RecvCancel);
    }

    [UnmanagedCallersOnly]
    public static void DropRecv(void* state) => DropOp(state, SyncKind.RecvOp, &RecvCancel);

    static Status RecvStep(object ch, SyncSlot op, ulong waker, out nint msg) => Unsafe.As<Channel>(ch).PollRecv(op, waker, out msg);
    static void RecvCancel(object ch, SyncSlot op) => Unsafe.As<Channel>(ch).DropRecv(op);

    // ---- notify_wait (no result: a failure completes with LUMINAL_FAILED_OUTPUT) ----------------------------

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
    public static void DropWait(void* state) => DropOp(state, SyncKind.WaitOp, &WaitCancel);

    static void WaitCancel(object n, SyncSlot op) => Unsafe.As<Notify>(n).DropWait(op);

    // ---- signal_recv ---------------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollSignalRecv(void* state, void* cx, void** output)
    {
        *output = null;
        return PollOp(state, cx, SyncKind.SignalRecvOp, false, &SignalStep, &SignalCancel);
    }

    [UnmanagedCallersOnly]
    public static void DropSignalRecv(void* state) => DropOp(state, SyncKind.SignalRecvOp, &SignalCancel);

    static Status SignalStep(object l, SyncSlot op, ulong waker, out nint unused)
    {
        unused = 0;
        return Unsafe.As<SignalListener>(l).PollRecv(op, waker, out Status result) ? result : Status.Pending;
    }

    static void SignalCancel(object l, SyncSlot op) => Unsafe.As<SignalListener>(l).DropRecv(op);

    // ---- semaphore_acquire ---------------------------------------------------------------------------------

    [UnmanagedCallersOnly]
    public static int PollAcquire(void* state, void* cx, void** output)
    {
        *output = null;
        return PollOp(state, cx, SyncKind.AcquireOp, false, &AcquireStep, &AcquireCancel);
    }

    [UnmanagedCallersOnly]
    public static void DropAcquire(void* state) => DropOp(state, SyncKind.AcquireOp, &AcquireCancel);

    static Status AcquireStep(object sem, SyncSlot op, ulong waker, out nint unused)
    {
        unused = 0;
        return Unsafe.As<Semaphore>(sem).PollAcquire(op, waker);
    }

    static void AcquireCancel(object sem, SyncSlot op) => Unsafe.As<Semaphore>(sem).DropAcquire(op);

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
    public static void DropJoinNext(void* state) => DropOp(state, SyncKind.JoinNextOp, &JoinNextCancel);

    static void JoinNextCancel(object set, SyncSlot op) => Unsafe.As<TaskSet>(set).DropJoinNext(op);
}
