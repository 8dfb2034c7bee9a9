using System;
using System.Runtime.InteropServices;
using Luminal.Sync;

namespace Luminal.Interop;

/// <summary>luminal_signal_*: listeners of POSIX signals (Sync/SignalListener.cs). The handle is a
/// <see cref="SyncSlot"/> of kind SignalListener; its recv future one of kind SignalRecvOp.</summary>
static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_signal_listen")]
    static int SignalListen(nint rt, int signo, nint* output)
    {
        try
        {
            if (output == null) return (int)Status.InvalidArgument;
            *output = 0;
            Status s = ResolveLiveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            if (!SignalRegistry.Allowed(signo)) return (int)Status.InvalidArgument;
            SignalListener l = SignalListener.Make(runtime, signo);
            if (SyncSlot.Create(SyncKind.SignalListener, l) is not SyncSlot slot) return (int)Status.NoMemory;
            try { SignalRegistry.Add(l); }
            catch
            {
                if (slot.TryRetire(slot.Generation)) slot.Recycle();
                throw; // mapped by Fail below
            }
            *output = (nint)slot.Token;
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_signal_recv")]
    static int SignalRecv(nint sig, int* result, NativeFuture* output)
    {
        try
        {
            if (output == null) return (int)Status.InvalidArgument;
            *output = default;
            if (result == null) return (int)Status.InvalidArgument;
            Status s = ResolveSync(sig, SyncKind.SignalListener, out SyncSlot slot, out uint generation);
            if (s != Status.Ok) return (int)s;
            SignalListener l = (SignalListener)slot.Target!;
            if (SyncSlot.Create(SyncKind.SignalRecvOp, l) is not SyncSlot op) return (int)Status.NoMemory;
            if (!l.BeginRecv(slot, generation))
            {
                if (op.TryRetire(op.Generation)) op.Recycle();
                return (int)Status.InvalidHandle;
            }
            op.ResultPtr = (nint)result;
            SyncFutures.Fill(output, op, &SyncFutures.PollSignalRecv, &SyncFutures.DropSignalRecv);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_signal_release")]
    static void SignalRelease(nint sig)
    {
        try { ReleaseSync(sig, SyncKind.SignalListener, &OnSignalReleased); }
        catch { /* void: nothing to report; see luminal_sender_release */ }
    }

    static void OnSignalReleased(object target)
    {
        SignalListener l = (SignalListener)target;
        SignalRegistry.Remove(l); // the last listener of its signal restores the previous disposition
        l.Close();
        l.Unref();
    }
}
