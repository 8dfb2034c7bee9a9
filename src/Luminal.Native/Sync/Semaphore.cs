using System;
using System.Threading;

namespace Luminal.Sync;

/// <summary>
/// luminal_semaphore_*: a fair counting semaphore. Requests are served strictly in arrival order: the oldest waiting
/// acquire gets its whole batch before anyone behind it gets anything, and a newcomer (try_acquire included) never
/// overtakes a waiter, even when enough permits are free for it alone. Permits are taken from the count when a
/// waiter is granted (Granted), under <see cref="_lock"/>; an acquire future dropped after its grant but before its
/// READY poll gives them back, so a cancelled acquire never loses permits. Close wakes every waiter (CLOSED).
/// </summary>
sealed class Semaphore : PooledSyncObject
{
    static readonly Handles.SlotTable<Semaphore> Pool = new(() => new Semaphore());

    ulong _permits;
    bool _closed;
    WaiterList _waiters; // a struct, mutated in place: never readonly, never copied

    /// <summary>A semaphore from the pool with its one handle's reference; null if the pool is full.</summary>
    public static Semaphore? Rent(Runtime runtime, ulong permits)
    {
        if (Pool.Allocate() is not Semaphore sem) return null;
        using (sem._lock.Hold())
        {
            sem._permits = permits;
            sem._closed = false;
            sem._waiters = default;
            sem.Begin(runtime, 1);
        }
        return sem;
    }

    protected override void Return() => Pool.Free(this);

    public Status TryAcquire(SyncSlot handle, uint generation, uint n)
    {
        using (_lock.Hold())
        {
            if (Stale(handle, generation)) return Status.InvalidHandle;
            if (_closed) return Status.Closed;
            if (!_waiters.IsEmpty || _permits < n) return Status.Empty;
            _permits -= n;
            return Status.Ok;
        }
    }

    /// <summary>Adds permits and serves the waiters they satisfy. Ignored after close; INVALID_ARGUMENT if the
    /// count would overflow 2^64 - 1 (nothing is added).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    public Status AddPermits(SyncSlot handle, uint generation, ulong n)
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        WakeBatch wakes = new(buffer);
        bool more;
        using (_lock.Hold()) // the first round of grants under the same lock (one lock round trip per release, not two)
        {
            if (Stale(handle, generation)) return Status.InvalidHandle;
            if (_closed) return Status.Ok;
            if (_permits + n < _permits) return Status.InvalidArgument;
            _permits += n;
            more = GrantLocked(ref wakes);
        }
        wakes.WakeAll();
        if (more) Serve();
        return Status.Ok;
    }

    /// <summary>Grants the oldest waiters whose batches fit, in rounds of a stack buffer of wakers.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    void Serve()
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            using (_lock.Hold()) more = GrantLocked(ref wakes);
            wakes.WakeAll();
            if (!more) return;
        }
    }

    /// <summary>Under the lock: grants waiters in order while their batches fit and the buffer has room. True if
    /// the buffer filled (there may be more to grant).</summary>
    bool GrantLocked(ref WakeBatch wakes)
    {
        while (!wakes.IsFull && !_closed && _waiters.Head is SyncSlot w && w.Count <= _permits)
        {
            _waiters.Remove(w);
            _permits -= w.Count;
            w.Granted = true;
            wakes.Add(w.Waker);
        }
        return wakes.IsFull;
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
                _closed = true;
                while (!wakes.IsFull && _waiters.PopFront() is SyncSlot w) wakes.Add(w.Waker);
                more = !_waiters.IsEmpty;
            }
            wakes.WakeAll();
            if (!more) return Status.Ok;
        }
    }

    public Status PollAcquire(SyncSlot op, ulong waker)
    {
        using (_lock.Hold())
        {
            if (op.Completed) return Status.Ok;
            Status outcome;
            if (op.Granted) outcome = Status.Ok;
            else if (_closed) outcome = Status.Closed;
            else if (!op.Linked && _waiters.IsEmpty && _permits >= op.Count)
            {
                _permits -= op.Count;
                outcome = Status.Ok;
            }
            else
            {
                op.Waker = waker;
                if (!op.Linked) _waiters.PushBack(op);
                return Status.Pending;
            }
            _waiters.Remove(op);
            op.Completed = true;
            return outcome;
        }
    }

    /// <summary>An acquire future is dropped: it leaves the queue (those behind it may now fit), and permits granted
    /// to it but never reported go back.</summary>
    public void DropAcquire(SyncSlot op)
    {
        // Completed is written only by this future's own poll and drop (never concurrently with this drop): a future
        // that reported its result holds nothing, and its drop needs no lock.
        if (op.Completed) return;
        bool serve;
        using (_lock.Hold())
        {
            serve = op.Linked;
            _waiters.Remove(op);
            if (op.Granted && !op.Completed && !_closed)
            {
                _permits = _permits + op.Count < _permits ? ulong.MaxValue : _permits + op.Count;
                serve = true;
            }
            op.Completed = true;
        }
        if (serve) Serve();
    }
}
