using System.Threading;

namespace Luminal.Sync;

/// <summary>
/// luminal_oneshot_*: one value from one sender to one receiver, without a lock. A oneshot is one pooled
/// <see cref="SyncSlot"/> "cell" (kind OneshotCell, Target = its Runtime) and at most one recv future (a slot of its
/// own whose Target is the cell). The two handles are tokens of the cell itself: for a cell whose life is L (its
/// generation), the sender's token carries generation L and the receiver's L + 1, and the cell's next life starts at
/// L + 2 (<see cref="Retire"/>), so no token of one life ever names another life or the other role. Nothing managed
/// is allocated per oneshot once the slot pool is warm, and every transition is one compare-and-swap on the cell's
/// state word:
///
///   bits 0-7: flags (below); bits 8-63: the registration epoch, bumped each time the receiver stores a waker.
///
/// Rules:
///  - The cell lives while any of Tx, Rx, Op is set; the caller whose CAS clears the last one recycles it.
///  - Tx and Rx are the handles: a release (or the send) clears its bit once; a handle whose bit is clear is
///    released. The sender's send and release first claim <see cref="SyncSlot.SenderLife"/> (a CAS from L to 0), so
///    exactly one of them acts, and only in its own life; the sender alone writes Message, after that claim.
///  - The receiver side is alive while Rx or Op is set. Sent is set only while it is alive; the caller whose CAS
///    ends the receiver side with Sent and not Taken drops the message (exactly once: the CAS decides who).
///  - Message is written by the sender before it sets Sent and never again; read only after Sent was seen.
///  - The epoch also goes on across the cell's lives (<see cref="Start"/>), so a state word is never seen twice: a
///    receiver-side call that read the state while the cell was still in its handle's life (checked after the read)
///    acts on its own oneshot or its CAS fails, even if the cell is recycled and reused meanwhile (a contract
///    breach, but never one that touches another oneshot).
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
    /// above every one of its earlier lives. Returns the life (the sender token's generation; the receiver's is one
    /// more, so the life is never uint.MaxValue).</summary>
    public static uint Start(SyncSlot cell)
    {
        uint life = Volatile.Read(ref cell.Generation);
        if (life == uint.MaxValue) { life = 1; Volatile.Write(ref cell.Generation, life); } // the slot is ours alone
        cell.SenderLife = life;
        Volatile.Write(ref cell.State, ((cell.State & ~Flags) + Epoch) | Tx | Rx);
        return life;
    }

    /// <summary>The receiver's token generation for a cell of <paramref name="life"/>.</summary>
    public static uint ReceiverGeneration(uint life) => life + 1;

    static bool InLife(SyncSlot cell, uint life) => Volatile.Read(ref cell.Generation) == life;

    /// <summary>Ends the cell's life (its last bit went): every token of it is stale from now on.</summary>
    static void Retire(SyncSlot cell)
    {
        uint life = Volatile.Read(ref cell.Generation);
        uint next = life + 2;
        if (next == 0 || next == uint.MaxValue) next = 1; // a generation is never 0, a life never uint.MaxValue
        if (Interlocked.CompareExchange(ref cell.Generation, next, life) == life) cell.Recycle();
    }

    /// <summary>Ends one ref bit. Returns the message to drop (if this ended the receiver side with a value never
    /// received) and whether the caller must recycle the cell (it ended the last ref). With a
    /// <paramref name="life"/> (a handle's release), only while the cell is in that life and the bit is still set:
    /// false otherwise (released already, or a stale token).</summary>
    static bool Clear(SyncSlot cell, long bits, uint life, out long next, out bool dropMessage, out nint msg, out ulong wake)
    {
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            ulong waker = Volatile.Read(ref cell.Waker);
            nint m = cell.Message; // meaningful only if s has Sent (then it is fixed)
            if (life != 0 && (!InLife(cell, life) || (s & bits) != bits))
            {
                next = s;
                dropMessage = false;
                msg = 0;
                wake = 0;
                return false;
            }
            next = s & ~bits;
            // The sender leaving without a value wakes the waiting receiver (it answers CLOSED).
            bool wakeRx = (bits & Tx) != 0 && (s & (Waiting | Sent)) == Waiting;
            if (wakeRx) next &= ~Waiting;
            bool drop = (s & (Rx | Op)) != 0 && (next & (Rx | Op)) == 0 && (s & (Sent | Taken)) == Sent;
            if (drop) next |= Taken;
            if (Interlocked.CompareExchange(ref cell.State, next, s) != s) continue;
            dropMessage = drop;
            msg = m;
            wake = wakeRx ? waker : 0;
            return true;
        }
    }

    /// <summary>Ends <paramref name="bits"/> (Tx, Rx, or the recv future's Op) and does what follows outside the CAS:
    /// drops a value nobody will receive, wakes a receiver the sender left, recycles the cell after its last ref.
    /// <paramref name="life"/> 0: the caller holds the bit for sure (the op's completion, the sender's claim);
    /// otherwise only if the bit is still set in that life (a handle's release: a second one does nothing).</summary>
    public static unsafe void Leave(SyncSlot cell, long bits, uint life = 0)
    {
        nint dropFn = cell.DropFn; // fixed at creation; read while this ref still holds the cell (or checked below)
        if (!Clear(cell, bits, life, out long next, out bool dropMessage, out nint msg, out ulong wake)) return;
        if ((next & Refs) == 0) Retire(cell);
        if (wake != 0) Tasks.Waker.Wake(wake); // a stale waker token is harmless
        if (dropMessage && dropFn != 0) ((delegate* unmanaged<void*, void>)dropFn)((void*)msg);
    }

    /// <summary>The sender's one use (send or release) in <paramref name="life"/>: true for the one call that wins
    /// it; false for a second use, a concurrent one, or a token of an earlier life.</summary>
    public static bool ClaimSender(SyncSlot cell, uint life) =>
        life != 0 && Interlocked.CompareExchange(ref cell.SenderLife, 0, life) == life;

    /// <summary>The sender's one send (its claim already won by the caller). OK: the value is the receiver's;
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
            if ((next & Refs) == 0) Retire(cell);
            if (!open) return Status.Closed;
            if ((s & Waiting) != 0) Tasks.Waker.Wake(waker);
            return Status.Ok;
        }
    }

    /// <summary>try_recv: takes the value if it was sent and not taken.</summary>
    public static Status TryRecv(SyncSlot cell, uint life, out nint msg)
    {
        msg = 0;
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            if (!InLife(cell, life) || (s & Rx) == 0) return Status.InvalidHandle; // s may be of the cell's next life
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
    public static Status BeginRecv(SyncSlot cell, uint life)
    {
        while (true)
        {
            long s = Volatile.Read(ref cell.State);
            if (!InLife(cell, life) || (s & Rx) == 0) return Status.InvalidHandle;
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
