using System;
using System.Threading;

namespace Luminal.Sync;

/// <summary>
/// luminal_notify_*: tokio's Notify. One stored permit at most; notify_one wakes the oldest waiting future, or stores
/// the permit when nobody waits; notify_all wakes every future that exists at the call (also those not polled yet:
/// each records the notify_all generation when it is made, as tokio's Notified does) and stores nothing.
/// Everything under <see cref="_lock"/>; wakes after it is released.
/// A wait future notified by notify_one and dropped before it saw it passes the notification on (to the next waiter,
/// or back into the permit), so a cancelled waiter never swallows a notify_one.
/// </summary>
sealed class Notify : SyncObject
{
    // A System.Threading.Lock, not Monitor on an object: under NativeAOT a contended Monitor inflates, allocating a
    // lock object and a sync-table entry per contended primitive (seen in the ping_pong profile, under try_send).
    readonly Lock _lock = new();
    bool _permit;
    ulong _allGeneration;
    WaiterList _waiters; // a struct, mutated in place: never readonly, never copied

    public Notify(Runtime runtime) : base(runtime) { }

    public void BeginWait(SyncSlot op)
    {
        lock (_lock) op.Count = _allGeneration;
    }

    public void NotifyOne()
    {
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        lock (_lock) GiveOne(ref wakes);
        wakes.WakeAll();
    }

    void GiveOne(ref WakeBatch wakes)
    {
        if (_waiters.PopFront() is SyncSlot w)
        {
            w.Granted = true;
            w.NotifiedByOne = true;
            wakes.Add(w.Waker);
        }
        else _permit = true;
    }

    /// <summary>Wakes every wait future made before this call (in rounds of a stack buffer; futures made after it
    /// carry the new generation and stay).</summary>
    public void NotifyAll()
    {
        ulong generation;
        lock (_lock) generation = ++_allGeneration;
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            lock (_lock)
            {
                while (!wakes.IsFull && _waiters.Head is SyncSlot w && w.Count < generation)
                {
                    _waiters.Remove(w);
                    w.Granted = true;
                    wakes.Add(w.Waker);
                }
                more = _waiters.Head is SyncSlot h && h.Count < generation;
            }
            wakes.WakeAll();
            if (!more) return;
        }
    }

    public bool PollWait(SyncSlot op, ulong waker)
    {
        lock (_lock)
        {
            if (op.Completed) return true;
            bool ready = op.Granted || op.Count != _allGeneration;
            if (!ready && _permit) { _permit = false; ready = true; }
            if (!ready)
            {
                op.Waker = waker;
                if (!op.Linked) _waiters.PushBack(op);
                return false;
            }
            _waiters.Remove(op);
            op.Completed = true;
            return true;
        }
    }

    public void DropWait(SyncSlot op)
    {
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        lock (_lock)
        {
            _waiters.Remove(op);
            if (op.Granted && op.NotifiedByOne && !op.Completed) GiveOne(ref wakes);
            op.Completed = true;
        }
        wakes.WakeAll();
    }
}
