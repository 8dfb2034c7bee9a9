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
sealed class Semaphore : SyncObject
{
    // A System.Threading.Lock, not Monitor on an object: under NativeAOT a contended Monitor inflates, allocating a
    // lock object and a sync-table entry per contended primitive (seen in the ping_pong profile, under try_send).
    readonly Lock _lock = new();
    ulong _permits;
    bool _closed;
    WaiterList _waiters; // a struct, mutated in place: never readonly, never copied

    public Semaphore(Runtime runtime, ulong permits) : base(runtime)
    {
        _permits = permits;
    }

    public Status TryAcquire(uint n)
    {
        lock (_lock)
        {
            if (_closed) return Status.Closed;
            if (!_waiters.IsEmpty || _permits < n) return Status.Empty;
            _permits -= n;
            return Status.Ok;
        }
    }

    /// <summary>Adds permits and serves the waiters they satisfy. Ignored after close; INVALID_ARGUMENT if the
    /// count would overflow 2^64 - 1 (nothing is added).</summary>
    public Status AddPermits(ulong n)
    {
        lock (_lock)
        {
            if (_closed) return Status.Ok;
            if (_permits + n < _permits) return Status.InvalidArgument;
            _permits += n;
        }
        Serve();
        return Status.Ok;
    }

    /// <summary>Grants the oldest waiters whose batches fit, in rounds of a stack buffer of wakers.</summary>
    void Serve()
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            lock (_lock)
            {
                while (!wakes.IsFull && !_closed && _waiters.Head is SyncSlot w && w.Count <= _permits)
                {
                    _waiters.Remove(w);
                    _permits -= w.Count;
                    w.Granted = true;
                    wakes.Add(w.Waker);
                }
                more = wakes.IsFull;
            }
            wakes.WakeAll();
            if (!more) return;
        }
    }

    public void Close()
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            lock (_lock)
            {
                _closed = true;
                while (!wakes.IsFull && _waiters.PopFront() is SyncSlot w) wakes.Add(w.Waker);
                more = !_waiters.IsEmpty;
            }
            wakes.WakeAll();
            if (!more) return;
        }
    }

    public Status PollAcquire(SyncSlot op, ulong waker)
    {
        lock (_lock)
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
        bool serve;
        lock (_lock)
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
