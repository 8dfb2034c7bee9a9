using System.Threading;

namespace Luminal.Sync;

/// <summary>
/// luminal_oneshot_*: one value from one sender to one receiver, without a lock. A oneshot is a pooled
/// <see cref="SyncSlot"/> "cell" (kind OneshotCell, Target = its Runtime) shared by the sender handle, the receiver
/// handle and at most one recv future (their slots' Target is the cell). Nothing managed is allocated per oneshot
/// once the slot pool is warm, and every transition is one compare-and-swap on the cell's state word:
///
///   bits 0-7: flags (below); bits 8-63: the registration epoch, bumped each time the receiver stores a waker.
///
/// Rules:
///  - The cell lives while any of Tx, Rx, Op is set; the caller whose CAS clears the last one recycles it.
///  - The receiver side is alive while Rx or Op is set. Sent is set only while it is alive; the caller whose CAS
///    ends the receiver side with Sent and not Taken drops the message (exactly once: the CAS decides who).
///  - Message is written by the sender before it sets Sent and never again; read only after Sent was seen.
///  - The epoch also goes on across the cell's lives (<see cref="Start"/>), so a state word is never seen twice: a
///    receiver-side call that read the state while its handle was still live (checked after the read) acts on its
///    own oneshot or its CAS fails, even if the handle is released and the cell reused meanwhile (a contract breach,
///    but never one that touches another oneshot).
///  - Waker is written by the recv future only while Waiting is clear, then published by a CAS setting Waiting and
///    a new epoch. A waker reads Waker between reading the state and its CAS on that state: if the CAS succeeds, no
///    re-registration happened in between (it would have cleared Waiting, and setting it again bumps the epoch), so
///    the waker read is the published one. The waker is read while the reader still holds its bit (the cell cannot
///    be recycled under it).
/// </summary>
static class Oneshot
{
    public const long Sent = 1, Taken = 2, Waiting = 4, Tx = 8, Rx = 16, Op = 32;
    const long Flags = 0xFF, Epoch = 0x100;
    const long Refs = Tx | Rx | Op;

    /// <summary>A new life of <paramref name="cell"/> (fresh from the pool): sender and receiver handles, an epoch
    /// above every one of its earlier lives.</summary>
    public static void Start(SyncSlot cell) =>
        Volatile.Write(ref cell.State, ((cell.State & ~Flags) + Epoch) | Tx | Rx);

    static bool Released(SyncSlot handle, uint generation) => Volatile.Read(ref handle.Generation) != generation;

    /// <summary>Ends one ref bit. Returns the message to drop (if this ended the receiver side with a value never
    /// received) and whether the caller must recycle the cell (it ended the last ref).</summary>
    static long Clear(SyncSlot cell, long bits, out bool dropMessage, out nint msg, out ulong wake)
    {
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            ulong waker = Volatile.Read(ref cell.Waker);
            nint m = cell.Message; // meaningful only if s has Sent (then it is fixed)
            long next = s & ~bits;
            // The sender leaving without a value wakes the waiting receiver (it answers CLOSED).
            bool wakeRx = (bits & Tx) != 0 && (s & (Waiting | Sent)) == Waiting;
            if (wakeRx) next &= ~Waiting;
            bool drop = (s & (Rx | Op)) != 0 && (next & (Rx | Op)) == 0 && (s & (Sent | Taken)) == Sent;
            if (drop) next |= Taken;
            if (Interlocked.CompareExchange(ref cell.State, next, s) != s) continue;
            dropMessage = drop;
            msg = m;
            wake = wakeRx ? waker : 0;
            return next;
        }
    }

    /// <summary>Ends <paramref name="bits"/> (one of Tx, Rx, Op) and does what follows outside the CAS: drops a value
    /// nobody will receive, wakes a receiver the sender left, recycles the cell after its last ref.</summary>
    public static unsafe void Leave(SyncSlot cell, long bits)
    {
        nint dropFn = cell.DropFn; // fixed at creation; read while this ref still holds the cell
        long next = Clear(cell, bits, out bool dropMessage, out nint msg, out ulong wake);
        if ((next & Refs) == 0 && cell.TryRetire(cell.Generation)) cell.Recycle();
        if (wake != 0) Tasks.Waker.Wake(wake); // a stale waker token is harmless
        if (dropMessage && dropFn != 0) ((delegate* unmanaged<void*, void>)dropFn)((void*)msg);
    }

    /// <summary>The sender's one send (its handle already retired by the caller). OK: the value is the receiver's;
    /// CLOSED: the receiver side is gone and the value stays the caller's. The sender's ref ends either way.</summary>
    public static Status Send(SyncSlot cell, nint msg)
    {
        cell.Message = msg; // published by the CAS below (nobody reads it before Sent)
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            ulong waker = Volatile.Read(ref cell.Waker);
            bool open = (s & (Rx | Op)) != 0;
            long next = open ? (s | Sent) & ~(Tx | Waiting) : s & ~Tx;
            if (Interlocked.CompareExchange(ref cell.State, next, s) != s) continue;
            if ((next & Refs) == 0 && cell.TryRetire(cell.Generation)) cell.Recycle();
            if (!open) return Status.Closed;
            if ((s & Waiting) != 0) Tasks.Waker.Wake(waker);
            return Status.Ok;
        }
    }

    /// <summary>try_recv: takes the value if it was sent and not taken.</summary>
    public static Status TryRecv(SyncSlot cell, SyncSlot rx, uint generation, out nint msg)
    {
        msg = 0;
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            if (Released(rx, generation)) return Status.InvalidHandle; // s may be of the cell's next life
            if ((s & Taken) != 0) return Status.Closed;
            if ((s & Sent) == 0) return (s & Tx) == 0 ? Status.Closed : Status.Empty;
            nint m = cell.Message;
            if (Interlocked.CompareExchange(ref cell.State, (s | Taken) & ~Waiting, s) != s) continue;
            msg = m;
            return Status.Ok;
        }
    }

    /// <summary>A recv future is made through <paramref name="rx"/>: ALREADY_TAKEN if another one of this oneshot
    /// is still live.</summary>
    public static Status BeginRecv(SyncSlot cell, SyncSlot rx, uint generation)
    {
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            if (Released(rx, generation)) return Status.InvalidHandle;
            if ((s & Op) != 0) return Status.AlreadyTaken;
            if (Interlocked.CompareExchange(ref cell.State, s | Op, s) == s) return Status.Ok;
        }
    }

    /// <summary>The recv future's poll: Pending (its waker stored), or OK with the value, or CLOSED (the sender left
    /// without sending, or the value was taken already). On completion the future's ref has ended.</summary>
    public static Status PollRecv(SyncSlot op, SyncSlot cell, ulong waker, out nint msg)
    {
        msg = 0;
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            if ((s & (Sent | Taken)) == Sent)
            {
                nint m = cell.Message;
                if (Interlocked.CompareExchange(ref cell.State, (s | Taken) & ~Waiting, s) != s) continue;
                msg = m;
                Complete(op, cell);
                return Status.Ok;
            }
            if ((s & Taken) != 0 || (s & Tx) == 0)
            {
                Complete(op, cell);
                return Status.Closed;
            }
            if ((s & Waiting) != 0)
            {
                if (Volatile.Read(ref cell.Waker) == waker) return Status.Pending; // same task: nothing to change
                // Withdraw the published waker before writing another (fails if the sender moved meanwhile).
                if (Interlocked.CompareExchange(ref cell.State, s & ~Waiting, s) != s) continue;
                s &= ~Waiting;
            }
            Volatile.Write(ref cell.Waker, waker);
            long next = ((s & Flags) | Waiting) + ((s & ~Flags) + Epoch);
            if (Interlocked.CompareExchange(ref cell.State, next, s) == s) return Status.Pending;
            // The state moved (sent, or the sender left): look again.
        }
    }

    /// <summary>The recv future is finished (completed, dropped, or failed): its ref ends once.</summary>
    public static void Complete(SyncSlot op, SyncSlot cell)
    {
        if (op.Completed) return;
        op.Completed = true;
        Leave(cell, Op | Waiting);
    }
}
