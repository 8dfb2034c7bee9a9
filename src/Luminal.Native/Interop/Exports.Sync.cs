using System;
using System.Runtime.InteropServices;
using Luminal.Sync;

namespace Luminal.Interop;

/// <summary>Channels, notify and semaphores (luminal_channel_*, luminal_sender_*, luminal_receiver_release,
/// luminal_notify_*, luminal_semaphore_*). Their cores live in Sync/; all handles are <see cref="SyncSlot"/>
/// tokens whose kind is checked after the lookup.</summary>
static unsafe partial class Exports
{
    /// <summary>The status an export reports for a sync handle: NULL, refused (released, forged, wrong kind), or
    /// inherited across fork.</summary>
    static Status ResolveSync(nint handle, SyncKind kind, out SyncSlot slot, out uint generation)
    {
        slot = null!;
        generation = 0;
        if (handle == 0) return Status.InvalidArgument;
        if (SyncSlot.Resolve(handle, kind, out generation) is not SyncSlot s) return Status.InvalidHandle;
        if (s.Owner!.IsForked) return Status.Forked;
        slot = s;
        return Status.Ok;
    }

    /// <summary>A primitive is being made on <paramref name="rt"/>: the runtime must be live and running.</summary>
    static Status ResolveLiveRuntime(nint rt, out Runtime runtime)
    {
        Status s = ResolveRuntime(rt, out runtime);
        if (s == Status.Ok && runtime.IsShutdown) s = Status.Shutdown;
        return s;
    }

    /// <summary>Releases a handle of <paramref name="kind"/> once: the caller whose retire wins runs
    /// <paramref name="onRelease"/> on its primitive.</summary>
    static void ReleaseSync(nint handle, SyncKind kind, delegate*<object, void> onRelease)
    {
        if (ResolveSync(handle, kind, out SyncSlot slot, out uint generation) != Status.Ok) return;
        object target = slot.Target!;
        if (!slot.TryRetire(generation)) return;
        slot.Recycle();
        onRelease(target);
    }

    // ---- channels ------------------------------------------------------------------------------------------

    [UnmanagedCallersOnly(EntryPoint = "luminal_channel_new")]
    static int ChannelNew(nint rt, NativeChannelOptions* opts, nint* tx, nint* rx)
    {
        try
        {
            if (tx != null) *tx = 0;
            if (rx != null) *rx = 0;
            if (tx == null || rx == null) return (int)Status.InvalidArgument;
            Status s = ResolveLiveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            nuint capacity = 0;
            delegate* unmanaged<void*, void> drop = null;
            if (opts != null)
            {
                nuint size = opts->StructSize;
                if (size < (nuint)sizeof(nuint)) return (int)Status.InvalidArgument;
                // Field ends by pointer arithmetic, not Marshal.OffsetOf: under NativeAOT that decodes metadata and
                // allocates a string per call (it was a third of luminal_channel_new).
                NativeChannelOptions o;
                if (size >= (nuint)((byte*)&o.Capacity - (byte*)&o) + (nuint)sizeof(nuint))
                    capacity = opts->Capacity;
                if (size >= (nuint)((byte*)&o.DropMessage - (byte*)&o) + (nuint)sizeof(nint))
                    drop = opts->DropMessage;
            }
            if (Channel.Rent(runtime, capacity, drop) is not Channel ch) return (int)Status.NoMemory;
            SyncSlot? sender = SyncSlot.Create(SyncKind.Sender, ch);
            SyncSlot? receiver = sender is null ? null : SyncSlot.Create(SyncKind.Receiver, ch);
            if (receiver is null)
            {
                if (sender is not null && sender.TryRetire(sender.Generation)) sender.Recycle();
                ch.ReleaseSender();
                ch.ReleaseReceiver();
                return (int)Status.NoMemory;
            }
            *tx = (nint)sender!.Token;
            *rx = (nint)receiver.Token;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_sender_clone")]
    static nint SenderClone(nint tx)
    {
        try
        {
            if (ResolveSync(tx, SyncKind.Sender, out SyncSlot slot, out uint generation) != Status.Ok) return 0;
            Channel ch = (Channel)slot.Target!;
            if (!ch.AddSender(slot, generation)) return 0;
            if (SyncSlot.Create(SyncKind.Sender, ch) is SyncSlot clone) return (nint)clone.Token;
            ch.ReleaseSender();
            return 0;
        }
        catch { return 0; } // NULL: no handle was made
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_sender_release")]
    static void SenderRelease(nint tx)
    {
        try { ReleaseSync(tx, SyncKind.Sender, &OnSenderReleased); }
        catch { /* void export: at worst the channel stays open (a leak, never a use after free) */ }
    }

    static void OnSenderReleased(object ch) => ((Channel)ch).ReleaseSender();

    [UnmanagedCallersOnly(EntryPoint = "luminal_receiver_release")]
    static void ReceiverRelease(nint rx)
    {
        try { ReleaseSync(rx, SyncKind.Receiver, &OnReceiverReleased); }
        catch { /* see luminal_sender_release */ }
    }

    static void OnReceiverReleased(object ch) => ((Channel)ch).ReleaseReceiver();

    [UnmanagedCallersOnly(EntryPoint = "luminal_channel_send")]
    static int ChannelSend(nint tx, nint msg, int* result, NativeFuture* output)
    {
        Channel? ch = null;
        try
        {
            if (output != null) *output = default;
            Status s = ResolveSync(tx, SyncKind.Sender, out SyncSlot slot, out uint generation);
            if (s != Status.Ok) return (int)s; // no channel, so no drop_message: the message stays the caller's
            ch = (Channel)slot.Target!;
            if (result == null || output == null) { ch.DropMessage(msg); return (int)Status.InvalidArgument; }
            if (SyncSlot.Create(SyncKind.SendOp, ch) is not SyncSlot op) { ch.DropMessage(msg); return (int)Status.NoMemory; }
            if (!ch.BeginSend(slot, generation, op, msg, (nint)result))
            {
                // The handle was released concurrently (its channel may live on as another one): as a released
                // sender, it has no channel, so the message stays the caller's.
                if (op.TryRetire(op.Generation)) op.Recycle();
                return (int)Status.InvalidHandle;
            }
            SyncFutures.Fill(output, op, &SyncFutures.PollSend, &SyncFutures.DropSend);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_channel_try_send")]
    static int ChannelTrySend(nint tx, nint msg)
    {
        try
        {
            Status s = ResolveSync(tx, SyncKind.Sender, out SyncSlot slot, out uint generation);
            return s != Status.Ok ? (int)s : (int)((Channel)slot.Target!).TrySend(slot, generation, msg);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_channel_recv")]
    static int ChannelRecv(nint rx, nint* msg, int* result, NativeFuture* output)
    {
        try
        {
            if (output != null) *output = default;
            if (msg == null || result == null || output == null) return (int)Status.InvalidArgument;
            Status s = ResolveSync(rx, SyncKind.Receiver, out SyncSlot slot, out uint generation);
            if (s != Status.Ok) return (int)s;
            Channel ch = (Channel)slot.Target!;
            if (SyncSlot.Create(SyncKind.RecvOp, ch) is not SyncSlot op) return (int)Status.NoMemory;
            if (!ch.BeginRecv(slot, generation, op, (nint)msg, (nint)result))
            {
                if (op.TryRetire(op.Generation)) op.Recycle();
                return (int)Status.InvalidHandle;
            }
            SyncFutures.Fill(output, op, &SyncFutures.PollRecv, &SyncFutures.DropRecv);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_channel_try_recv")]
    static int ChannelTryRecv(nint rx, nint* msg)
    {
        try
        {
            if (msg == null) return (int)Status.InvalidArgument;
            *msg = 0;
            Status s = ResolveSync(rx, SyncKind.Receiver, out SyncSlot slot, out uint generation);
            if (s != Status.Ok) return (int)s;
            s = ((Channel)slot.Target!).TryRecv(slot, generation, out nint m);
            *msg = m;
            return (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }

    // ---- notify --------------------------------------------------------------------------------------------

    [UnmanagedCallersOnly(EntryPoint = "luminal_notify_new")]
    static int NotifyNew(nint rt, nint* output)
    {
        try
        {
            if (output == null) return (int)Status.InvalidArgument;
            *output = 0;
            Status s = ResolveLiveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            if (Notify.Rent(runtime) is not Notify n) return (int)Status.NoMemory;
            if (SyncSlot.Create(SyncKind.Notify, n) is not SyncSlot slot) { n.Unref(); return (int)Status.NoMemory; }
            *output = (nint)slot.Token;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_notify_one")]
    static int NotifyOne(nint n)
    {
        try
        {
            Status s = ResolveSync(n, SyncKind.Notify, out SyncSlot slot, out uint generation);
            return s != Status.Ok ? (int)s : (int)((Notify)slot.Target!).NotifyOne(slot, generation);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_notify_all")]
    static int NotifyAll(nint n)
    {
        try
        {
            Status s = ResolveSync(n, SyncKind.Notify, out SyncSlot slot, out uint generation);
            return s != Status.Ok ? (int)s : (int)((Notify)slot.Target!).NotifyAll(slot, generation);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_notify_wait")]
    static int NotifyWait(nint n, NativeFuture* output)
    {
        try
        {
            if (output == null) return (int)Status.InvalidArgument;
            *output = default;
            Status s = ResolveSync(n, SyncKind.Notify, out SyncSlot slot, out uint generation);
            if (s != Status.Ok) return (int)s;
            Notify notify = (Notify)slot.Target!;
            if (SyncSlot.Create(SyncKind.WaitOp, notify) is not SyncSlot op) return (int)Status.NoMemory;
            if (!notify.BeginWait(slot, generation, op))
            {
                if (op.TryRetire(op.Generation)) op.Recycle();
                return (int)Status.InvalidHandle;
            }
            SyncFutures.Fill(output, op, &SyncFutures.PollWait, &SyncFutures.DropWait);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_notify_release")]
    static void NotifyRelease(nint n)
    {
        try { ReleaseSync(n, SyncKind.Notify, &OnNotifyReleased); }
        catch { /* see luminal_sender_release */ }
    }

    static void OnNotifyReleased(object target)
    {
        Notify n = (Notify)target;
        n.NotifyAll(null, 0); // nobody can notify the waiters any more
        n.Unref();
    }

    // ---- semaphore -----------------------------------------------------------------------------------------

    [UnmanagedCallersOnly(EntryPoint = "luminal_semaphore_new")]
    static int SemaphoreNew(nint rt, ulong permits, nint* output)
    {
        try
        {
            if (output == null) return (int)Status.InvalidArgument;
            *output = 0;
            Status s = ResolveLiveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            if (Semaphore.Rent(runtime, permits) is not Semaphore sem) return (int)Status.NoMemory;
            if (SyncSlot.Create(SyncKind.Semaphore, sem) is not SyncSlot slot) { sem.Unref(); return (int)Status.NoMemory; }
            *output = (nint)slot.Token;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_semaphore_acquire")]
    static int SemaphoreAcquire(nint sem, uint n, int* result, NativeFuture* output)
    {
        try
        {
            if (output != null) *output = default;
            if (result == null || output == null) return (int)Status.InvalidArgument;
            Status s = ResolveSync(sem, SyncKind.Semaphore, out SyncSlot slot, out uint generation);
            if (s != Status.Ok) return (int)s;
            Semaphore semaphore = (Semaphore)slot.Target!;
            if (SyncSlot.Create(SyncKind.AcquireOp, semaphore) is not SyncSlot op) return (int)Status.NoMemory;
            if (!semaphore.TryAddRef(slot, generation))
            {
                if (op.TryRetire(op.Generation)) op.Recycle();
                return (int)Status.InvalidHandle;
            }
            op.Count = n;
            op.ResultPtr = (nint)result;
            SyncFutures.Fill(output, op, &SyncFutures.PollAcquire, &SyncFutures.DropAcquire);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_semaphore_try_acquire")]
    static int SemaphoreTryAcquire(nint sem, uint n)
    {
        try
        {
            Status s = ResolveSync(sem, SyncKind.Semaphore, out SyncSlot slot, out uint generation);
            return s != Status.Ok ? (int)s : (int)((Semaphore)slot.Target!).TryAcquire(slot, generation, n);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_semaphore_add_permits")]
    static int SemaphoreAddPermits(nint sem, uint n)
    {
        try
        {
            Status s = ResolveSync(sem, SyncKind.Semaphore, out SyncSlot slot, out uint generation);
            return s != Status.Ok ? (int)s : (int)((Semaphore)slot.Target!).AddPermits(slot, generation, n);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_semaphore_close")]
    static int SemaphoreClose(nint sem)
    {
        try
        {
            Status s = ResolveSync(sem, SyncKind.Semaphore, out SyncSlot slot, out uint generation);
            return s != Status.Ok ? (int)s : (int)((Semaphore)slot.Target!).Close(slot, generation);
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_semaphore_release")]
    static void SemaphoreRelease(nint sem)
    {
        try { ReleaseSync(sem, SyncKind.Semaphore, &OnSemaphoreReleased); }
        catch { /* see luminal_sender_release */ }
    }

    static void OnSemaphoreReleased(object target)
    {
        Semaphore sem = (Semaphore)target;
        sem.Close(null, 0); // nobody can add permits any more
        sem.Unref();
    }
}
