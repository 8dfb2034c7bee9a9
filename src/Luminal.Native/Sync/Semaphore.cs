using System;
using System.Threading;

namespace Luminal.Sync;

/// <summary>
/// luminal_semaphore_*: a fair counting semaphore. Requests are served strictly in arrival order: the oldest waiting
/// acquire gets its whole batch before anyone behind it gets anything, and a newcomer (try_acquire included) never
/// overtakes a waiter, even when enough permits are free for it alone.
///
/// The shape (after tokio's batch_semaphore): the free permits are one atomic word, <see cref="_free"/>, which is
/// 0 whenever a request waits — permits given back while requests wait are assigned to the oldest one
/// (<see cref="SyncSlot.Assigned"/>, a part of its batch at a time), never to the word. So taking permits when
/// nobody waits is one compare-and-swap with no lock (an acquire's first poll; try_acquire holds a reference on
/// the object around it instead of the lock), and a newcomer cannot overtake a waiter: it finds the word empty. Queueing, assigning, closing and cancelling are under
/// <see cref="_lock"/>: the lock is taken once to queue and once per add_permits, where the earlier version took
/// it for every call (its spinning was 13% of a contended run). A request whose batch is complete is granted
/// (removed from the queue, woken, then <see cref="SyncSlot.Granted"/>: its next poll reads that without the lock,
/// and may complete and recycle the request at once, so nothing touches it after that write). A
/// future dropped before it reported gives back what it was assigned or granted, so a cancelled acquire never
/// loses permits. Close wakes every waiter (CLOSED).
/// </summary>
sealed class Semaphore : PooledSyncObject
{
    static readonly Handles.SlotTable<Semaphore> Pool = new(() => new Semaphore());

    ulong _free;        // the free permits; 0 while anyone waits (see above). Only lock-free CASes take from it
    bool _closed;       // written under the lock, read without it too (Volatile)
    WaiterList _waiters; // a struct, mutated in place: never readonly, never copied

    /// <summary>A semaphore from the pool with its one handle's reference; null if the pool is full.</summary>
    public static Semaphore? Rent(Runtime runtime, ulong permits)
    {
        if (Pool.Allocate() is not Semaphore sem) return null;
        using (sem._lock.Hold())
        {
            Volatile.Write(ref sem._free, permits);
            Volatile.Write(ref sem._closed, false);
            sem._waiters = default;
            sem.Begin(runtime, 1);
        }
        return sem;
    }

    protected override void Return() => Pool.Free(this);

    /// <summary>Takes <paramref name="n"/> free permits without the lock; false if too few are free (or someone
    /// waits: then none are).</summary>
    bool TryTake(ulong n)
    {
        ulong free = Volatile.Read(ref _free);
        while (true)
        {
            if (free < n) return false;
            ulong seen = Interlocked.CompareExchange(ref _free, free - n, free);
            if (seen == free) return true;
            free = seen;
        }
    }

    public Status TryAcquire(SyncSlot handle, uint generation, uint n)
    {
        if (n == 0) // nothing to take: only the queue decides (a request for 0 waits behind the others too)
        {
            using (_lock.Hold())
                return Stale(handle, generation) ? Status.InvalidHandle : _closed ? Status.Closed
                    : _waiters.IsEmpty ? Status.Ok : Status.Empty;
        }
        // Without the lock, a reference keeps this life of the object for the take: a handle released meanwhile
        // (against the contract) could otherwise let the object go back to its pool and start a new life, whose
        // permits this call would take.
        if (!TryAddRef(handle, generation)) return Status.InvalidHandle;
        Status st = Volatile.Read(ref _closed) ? Status.Closed : TryTake(n) ? Status.Ok : Status.Empty;
        Unref();
        return st;
    }

    /// <summary>Adds permits and serves the waiters they complete. Ignored after close; INVALID_ARGUMENT if the
    /// count would overflow 2^64 - 1 (nothing is added).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    public Status AddPermits(SyncSlot handle, uint generation, ulong n)
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        WakeBatch wakes = new(buffer);
        bool more;
        using (_lock.Hold()) // the first round under the same lock (one lock round trip per release, not two)
        {
            if (Stale(handle, generation)) return Status.InvalidHandle;
            if (_closed) return Status.Ok;
            // Lock-free takers only lower the word: checked here, the addition cannot overflow later.
            ulong free = Volatile.Read(ref _free);
            if (free + n < free) return Status.InvalidArgument;
            more = AssignLocked(ref n, ref wakes);
        }
        wakes.WakeAll();
        if (more) Serve(n);
        return Status.Ok;
    }

    /// <summary>Assigns <paramref name="n"/> permits (give-backs, and what a full wake buffer left) and grants the
    /// heads they complete, in rounds of a stack buffer of wakers, through no handle.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    void Serve(ulong n)
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            using (_lock.Hold()) more = !_closed && AssignLocked(ref n, ref wakes);
            wakes.WakeAll();
            if (!more) return;
        }
    }

    /// <summary>Under the lock: assigns <paramref name="n"/> permits to the oldest waiters and grants each whose
    /// batch completes (a request for 0 as soon as it is the oldest); what no waiter needs goes to the free word.
    /// True if the wake buffer filled first: call again with what is left in <paramref name="n"/>.</summary>
    bool AssignLocked(ref ulong n, ref WakeBatch wakes)
    {
        while (_waiters.Head is SyncSlot w)
        {
            if (wakes.IsFull) return true;
            ulong give = Math.Min(n, w.Count - w.Assigned);
            w.Assigned += give;
            n -= give;
            if (w.Assigned < w.Count) return false; // everything went to the oldest, still short: the word stays 0
            _waiters.Remove(w);
            wakes.Add(w.Waker);
            // The last touch of w: its poll reads this without the lock, completes, and its drop may recycle it.
            Volatile.Write(ref w.Granted, true);
        }
        if (n != 0) AddFree(n);
        n = 0;
        return false;
    }

    /// <summary>Under the lock (with an empty queue): adds to the free word, saturating at 2^64 - 1 (give-backs of
    /// granted permits are not in add_permits' overflow check). Only lock-free takers race with it.</summary>
    void AddFree(ulong n)
    {
        ulong free = Volatile.Read(ref _free);
        while (true)
        {
            ulong sum = free + n < free ? ulong.MaxValue : free + n;
            ulong seen = Interlocked.CompareExchange(ref _free, sum, free);
            if (seen == free) return;
            free = seen;
        }
    }

    /// <summary>Closes it through <paramref name="handle"/> (null: the release of its handle).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    public Status Close(SyncSlot? handle, uint generation)
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            using (_lock.Hold())
            {
                if (Stale(handle, generation)) return Status.InvalidHandle;
                handle = null; // checked once: later rounds continue the same close
                Volatile.Write(ref _closed, true);
                while (!wakes.IsFull && _waiters.PopFront() is SyncSlot w) wakes.Add(w.Waker);
                more = !_waiters.IsEmpty;
            }
            wakes.WakeAll();
            if (!more) return Status.Ok;
        }
    }

    /// <summary>An acquire future's poll. Only its own poll and drop write <see cref="SyncSlot.Queued"/> and
    /// <see cref="SyncSlot.Completed"/> (a future is polled by one thread at a time).</summary>
    public Status PollAcquire(SyncSlot op, ulong waker)
    {
        if (op.Completed) return Status.Ok;
        if (Volatile.Read(ref op.Granted)) { op.Completed = true; return Status.Ok; }
        // Never queued: the lock-free take (a request for 0 asks the queue, under the lock).
        if (!op.Queued && op.Count != 0 && !Volatile.Read(ref _closed) && TryTake(op.Count))
        {
            op.Completed = true;
            return Status.Ok;
        }
        using (_lock.Hold())
        {
            if (op.Granted) { op.Completed = true; return Status.Ok; }
            if (_closed)
            {
                _waiters.Remove(op);
                op.Completed = true;
                return Status.Closed;
            }
            op.Waker = waker;
            if (op.Queued) return Status.Pending; // still waiting (a spurious poll): the latest waker is kept
            op.Queued = true;
            if (_waiters.IsEmpty)
            {
                // Nobody ahead: the free permits are this request's, as many as it needs.
                ulong free = Volatile.Read(ref _free), take;
                while (true)
                {
                    take = Math.Min(free, op.Count);
                    ulong seen = Interlocked.CompareExchange(ref _free, free - take, free);
                    if (seen == free) break;
                    free = seen;
                }
                if (take == op.Count) { op.Completed = true; return Status.Ok; }
                op.Assigned = take; // the word is 0 now, and stays 0 while this waits (see the class comment)
            }
            _waiters.PushBack(op);
            return Status.Pending;
        }
    }

    /// <summary>An acquire future is dropped: it leaves the queue, and what it was assigned or granted but never
    /// reported goes back, to those behind it first.</summary>
    public void DropAcquire(SyncSlot op)
    {
        // Completed and Queued are written only by this future's own poll and drop (never concurrently with this
        // drop): a future that reported its result, or never queued, holds nothing, and its drop needs no lock.
        if (op.Completed || !op.Queued) return;
        ulong back;
        bool wasOldest;
        using (_lock.Hold())
        {
            wasOldest = _waiters.Head == op;
            back = _closed ? 0 : op.Granted ? op.Count : op.Assigned;
            _waiters.Remove(op);
            op.Completed = true;
        }
        // The next oldest may now be served: by what this one gives back, or (a request for 0) by being the oldest.
        if (back != 0 || wasOldest) Serve(back);
    }
}
