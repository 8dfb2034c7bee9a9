using System;
using System.Runtime.InteropServices;
using Luminal.Interop;
using Luminal.Time;

namespace Luminal.Sync;

/// <summary>
/// luminal_join_all and luminal_select: futures that poll their children inside the task that polls them, with
/// that poll's own context (so a child's wake wakes the outer task; every poll re-polls each unfinished child, in
/// index order). The state is a <see cref="SyncSlot"/> token (kind JoinAllOp or SelectOp, Target the runtime it was
/// made on, for fork detection); the children live in one native block of <see cref="Child"/> records: Message = the
/// block, Count = n, MessageOut = the caller's outputs array (join_all) or output pointer (select), ResultPtr = the
/// winner pointer (select). A child is dropped right after its READY poll (Poll = null marks it); Completed means
/// the results were handed over. Poll and drop are never concurrent (the future contract), so no lock.
///
/// The runtime-provided-future rule: polled with a NULL, stale or forged context, the future gives up at once: it
/// drops its unfinished children and the outputs it collected, and completes with LUMINAL_FAILED_OUTPUT (select also
/// sets *winner = SIZE_MAX). On a runtime inherited across fork it completes so too, touching nothing.
/// </summary>
static unsafe class Combinators
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct Child
    {
        public NativeFuture Future; // Future.Poll == null: finished and dropped
        public void* Output;        // join_all: the output collected, until handed over
    }

    /// <summary>Copies the children into native memory; null if it cannot be allocated (the caller drops them).</summary>
    public static Child* CopyChildren(NativeFuture* futs, nuint n)
    {
        if (n == 0) return null;
        if (n > (nuint)(int.MaxValue / sizeof(Child))) throw new OutOfMemoryException();
        Child* block = (Child*)NativeMemory.Alloc(n, (nuint)sizeof(Child));
        for (nuint i = 0; i < n; i++) { block[i].Future = futs[i]; block[i].Output = null; }
        return block;
    }

    public static void DropAll(NativeFuture* futs, nuint n)
    {
        if (futs == null) return;
        for (nuint i = 0; i < n; i++) Runtime.DropFuture(futs[i]);
    }

    static void DropChild(ref Child c)
    {
        var drop = c.Future.Drop;
        void* state = c.Future.State;
        c.Future.Poll = null;
        c.Future.Drop = null;
        if (drop != null && !Observe.PluginCheck.Skip(drop, "drop")) drop(state);
    }

    static void DropOutput(ref Child c)
    {
        void* o = c.Output;
        c.Output = null;
        if (c.Future.DropOutput != null && o != TimeoutFuture.TimedOut && o != SleepFuture.FailedOutput
            && !Observe.PluginCheck.Skip(c.Future.DropOutput, "drop_output"))
            c.Future.DropOutput(o);
    }

    /// <summary>Gives up: drops every unfinished child and (join_all) every collected output.</summary>
    static void GiveUp(SyncSlot op)
    {
        Child* block = (Child*)op.Message;
        nuint n = (nuint)op.Count;
        bool collected = !op.Completed && (SyncKind)op.Kind == SyncKind.JoinAllOp;
        op.Completed = true;
        for (nuint i = 0; i < n; i++)
        {
            if (block[i].Future.Poll != null) DropChild(ref block[i]);
            else if (collected) DropOutput(ref block[i]);
        }
    }

    static int Failed(SyncSlot op, void** output)
    {
        if ((SyncKind)op.Kind == SyncKind.SelectOp) *(nuint*)op.ResultPtr = nuint.MaxValue;
        return SleepFuture.Failed(output);
    }

    [UnmanagedCallersOnly]
    public static int PollJoinAll(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.JoinAllOp, out _)) is null || op.Completed) return 1;
            if (((Runtime)op.Target!).IsForked) return Failed(op, output);
            if (Context.Check((nint)cx, out _, out _) != Status.Ok) { GiveUp(op); return Failed(op, output); }
            Child* block = (Child*)op.Message;
            nuint n = (nuint)op.Count;
            bool all = true;
            for (nuint i = 0; i < n; i++)
            {
                ref Child c = ref block[i];
                if (c.Future.Poll == null) continue;
                if (Observe.PluginCheck.Skip(c.Future.Poll, "poll")) { GiveUp(op); return Failed(op, output); } // debug_plugins
                void* o = null;
                if (c.Future.Poll(c.Future.State, cx, &o) == 1)
                {
                    c.Output = o;
                    DropChild(ref c);
                }
                else all = false;
            }
            if (!all) return 0;
            void** outputs = (void**)op.MessageOut;
            for (nuint i = 0; i < n; i++) { outputs[i] = block[i].Output; block[i].Output = null; }
            op.Completed = true;
            return 1;
        }
        catch // internal failure: the rule for runtime-made futures (complete with LUMINAL_FAILED_OUTPUT)
        {
            if (op is not null) { try { GiveUp(op); } catch { /* giving up failed too: the children leak, never run twice */ } return Failed(op, output); }
            return SleepFuture.Failed(output);
        }
    }

    [UnmanagedCallersOnly]
    public static int PollSelect(void* state, void* cx, void** output)
    {
        *output = null;
        SyncSlot? op = null;
        try
        {
            if ((op = SyncSlot.Resolve((nint)state, SyncKind.SelectOp, out _)) is null || op.Completed) return 1;
            if (((Runtime)op.Target!).IsForked) return Failed(op, output);
            if (Context.Check((nint)cx, out _, out _) != Status.Ok) { GiveUp(op); return Failed(op, output); }
            Child* block = (Child*)op.Message;
            nuint n = (nuint)op.Count;
            for (nuint i = 0; i < n; i++)
            {
                ref Child c = ref block[i];
                if (Observe.PluginCheck.Skip(c.Future.Poll, "poll")) { GiveUp(op); return Failed(op, output); } // debug_plugins
                void* o = null;
                if (c.Future.Poll(c.Future.State, cx, &o) != 1) continue;
                DropChild(ref c);
                GiveUp(op); // the losers: dropped, never polled again
                *(nuint*)op.ResultPtr = i;
                *(void**)op.MessageOut = o;
                return 1;
            }
            return 0;
        }
        catch // internal failure: the rule for runtime-made futures (complete with LUMINAL_FAILED_OUTPUT)
        {
            if (op is not null) { try { GiveUp(op); } catch { /* giving up failed too: the children leak, never run twice */ } return Failed(op, output); }
            return SleepFuture.Failed(output);
        }
    }

    [UnmanagedCallersOnly]
    public static void DropJoinAll(void* state) => DropCore((nint)state, SyncKind.JoinAllOp);

    [UnmanagedCallersOnly]
    public static void DropSelect(void* state) => DropCore((nint)state, SyncKind.SelectOp);

    static void DropCore(nint state, SyncKind kind)
    {
        try
        {
            if (SyncSlot.Resolve(state, kind, out uint generation) is not SyncSlot op) return;
            if (((Runtime)op.Target!).IsForked || !op.TryRetire(generation)) return;
            GiveUp(op);
            if (op.Message != 0) NativeMemory.Free((void*)op.Message);
            op.Message = 0;
            op.Recycle();
        }
        catch { /* drop has no status; at worst a slot or a child leaks, never a double drop */ }
    }
}
