using System;
using System.Threading;
using Luminal.Handles;

namespace Luminal.Sync;

/// <summary>What a <see cref="SyncSlot"/> is: a handle (sender, receiver, notify, semaphore) or the state of one
/// of their futures. Checked after every lookup, so a sender passed where a semaphore is expected is refused.</summary>
enum SyncKind
{
    None = 0,
    Sender, Receiver, Notify, Semaphore,      // handles
    SendOp, RecvOp, WaitOp, AcquireOp,        // futures (luminal_future.state)
    TaskSet,                                  // handle (luminal_task_set_*)
    SetMember,                                // one task of a set (internal: its token is the task's join waker)
    JoinNextOp, JoinAllOp, SelectOp, DrainOp, // futures (task_set_join_next, join_all, select, scope_drain)
    Plugin,                                   // handle (luminal_plugin_*; Target is a Plugins.Plugin)
    OneshotCell,                              // a oneshot: its state, and its sender and receiver handles (see
                                              // Oneshot: two generations of the cell's token; Target is its Runtime)
    OneshotRecvOp,                            // future (luminal_oneshot_recv; Target is the cell)
    SignalListener, SignalRecvOp,             // handle and future (luminal_signal_*; Target is a SignalListener)
}

/// <summary>
/// One pooled record behind every token of tag <see cref="Token.Sync"/>: a handle of a channel, notify or
/// semaphore, or the state of one of their futures, which is also its node in a waiter list (intrusive, doubly
/// linked: unlinking a dropped waiter is O(1), and waiting allocates nothing once the pool is warm).
///
/// Every field but the slot's identity is read and written under the lock of <see cref="Target"/>, except for the
/// oneshot kinds, which have no lock: their cell's State word is changed only by compare-and-swap (see Oneshot).
/// A freed slot has Kind None and no Target, so a forged token carrying the next generation resolves to nothing.
/// </summary>
sealed class SyncSlot : GenerationSlot
{
    public static readonly SlotTable<SyncSlot> Table = new(() => new SyncSlot());

    internal int Kind;           // a SyncKind; written before the token is handed out
    internal object? Target;     // the Channel, Notify or Semaphore
    internal Runtime? Owner;     // the runtime of Target (its fork check), found once at Create: the per-call paths
                                 // then need no cast to the abstract SyncObject (a hierarchy walk per cast)

    // Waiter state (futures only), under Target's lock.
    internal SyncSlot? Prev, Next;
    internal bool Linked;        // in the target's waiter list
    internal ulong Waker;        // the waker token of the task that polled last (tokens need no clone)
    internal bool Granted;       // send: a queue slot is reserved for it; acquire: its permits are taken;
                                 // wait: notified (NotifiedByOne tells which kind)
    internal bool NotifiedByOne; // wait: the notification came from notify_one (passed on if dropped unused)
    internal bool Completed;     // the future returned READY (or gave up its claims): nothing left to undo
    internal bool HoldsRef;      // send/recv: counts as a sender/receiver of its channel until it completes
    internal bool HasMessage;    // send: Message is still this future's to deliver or drop
    internal nint Message;       // send: the message
    internal nint ResultPtr;     // luminal_status* (borrowed until completion)
    internal nint MessageOut;    // recv: void** (borrowed until completion)
    internal ulong Count;        // acquire: permits asked; wait: the notify_all generation at creation
    internal ulong Assigned;     // acquire: permits given to it while it waits (its batch is granted when complete)
    internal bool Queued;        // acquire: its poll queued it (written by its own poll only; see Semaphore)
    internal long State;         // oneshot cell: its lock-free state word (see Oneshot)
    internal nint DropFn;        // oneshot cell: drop_message
    internal uint SenderLife;    // oneshot cell: its life until the sender's one send or release claims it (0)

    public ulong Token => Handles.Token.Make(Handles.Token.Sync, Index, Volatile.Read(ref Generation));

    /// <summary>A fresh slot of <paramref name="kind"/> for <paramref name="target"/>, or null (table full).</summary>
    public static SyncSlot? Create(SyncKind kind, object target)
    {
        SyncSlot? s = Table.Allocate();
        if (s is null) return null;
        s.Prev = s.Next = null;
        s.Linked = s.Granted = s.NotifiedByOne = s.Completed = s.HoldsRef = s.HasMessage = false;
        s.Waker = 0;
        s.Message = s.ResultPtr = s.MessageOut = 0;
        s.Count = s.Assigned = 0;
        s.Queued = false;
        s.DropFn = 0;
        s.SenderLife = 0; // State is kept: a oneshot cell's epoch goes on across its lives (see Oneshot)
        s.Owner = target switch // the sealed types first: an exact type test each; the abstract one walks the hierarchy
        {
            Runtime r => r,
            SyncSlot cell => cell.Owner,
            SyncObject o => o.Runtime,
            _ => null,
        };
        Volatile.Write(ref s.Target, target);
        Volatile.Write(ref s.Kind, (int)kind); // release: a lookup that sees the kind sees the fields above
        return s;
    }

    /// <summary>The slot a token names if it is live and of <paramref name="kind"/>; null for NULL, forged,
    /// stale, released and wrong-type tokens.</summary>
    public static SyncSlot? Resolve(nint token, SyncKind kind, out uint generation)
    {
        if (Table.FromToken((ulong)token, Handles.Token.Sync, out generation) is not SyncSlot s) return null;
        if (Volatile.Read(ref s.Kind) != (int)kind || Volatile.Read(ref s.Target) is null) return null;
        // Re-check: the slot may have been freed (and reused) between the reads.
        return Volatile.Read(ref s.Generation) == generation ? s : null;
    }

    /// <summary>Returns the slot to the pool. Only for the caller whose <see cref="GenerationSlot.TryRetire"/> won
    /// (so a double release or drop does nothing), after it has unlinked the slot from every list.</summary>
    public void Recycle()
    {
        Volatile.Write(ref Kind, (int)SyncKind.None);
        Volatile.Write(ref Target, null);
        Owner = null;
        Prev = Next = null;
        Table.Free(this);
    }
}

/// <summary>A FIFO of waiting futures (intrusive, through <see cref="SyncSlot.Prev"/>/<see cref="SyncSlot.Next"/>);
/// only under its owner's lock. Arrival order is wake order. A struct embedded in its owner (one allocation less
/// per primitive): owners keep it in a mutable field and call it in place.</summary>
struct WaiterList
{
    public SyncSlot? Head, Tail;

    public bool IsEmpty => Head is null;

    public void PushBack(SyncSlot s)
    {
        s.Prev = Tail;
        s.Next = null;
        if (Tail is null) Head = s; else Tail.Next = s;
        Tail = s;
        s.Linked = true;
    }

    public void Remove(SyncSlot s)
    {
        if (!s.Linked) return;
        if (s.Prev is null) Head = s.Next; else s.Prev.Next = s.Next;
        if (s.Next is null) Tail = s.Prev; else s.Next.Prev = s.Prev;
        s.Prev = s.Next = null;
        s.Linked = false;
    }

    public SyncSlot? PopFront()
    {
        SyncSlot? s = Head;
        if (s is not null) Remove(s);
        return s;
    }
}

/// <summary>Wakers collected under a lock and woken after it is released (a wake may drop a future whose drop
/// takes the same lock: see luminal_waker_wake). A fixed stack buffer: callers loop in rounds when it fills.</summary>
ref struct WakeBatch
{
    public const int Capacity = 32;
    readonly Span<ulong> _tokens;
    int _count;

    public WakeBatch(Span<ulong> buffer) { _tokens = buffer; _count = 0; }

    public bool IsFull => _count == _tokens.Length;

    public void Add(ulong waker) { if (waker != 0) _tokens[_count++] = waker; }

    /// <summary>Wakes everything collected (outside any lock), in the order collected.</summary>
    public void WakeAll()
    {
        for (int i = 0; i < _count; i++) Tasks.Waker.Wake(_tokens[i]);
        _count = 0;
    }
}
