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
sealed class Notify : PooledSyncObject
{
    static readonly Handles.SlotTable<Notify> Pool = new(() => new Notify());

    bool _permit;
    ulong _allGeneration;
    WaiterList _waiters; // a struct, mutated in place: never readonly, never copied

    /// <summary>A notify from the pool with its one handle's reference; null if the pool is full.</summary>
    public static Notify? Rent(Runtime runtime)
    {
        if (Pool.Allocate() is not Notify n) return null;
        using (n._lock.Hold())
        {
            n._permit = false;
            n._allGeneration = 0;
            n._waiters = default;
            n.Begin(runtime, 1);
        }
        return n;
    }

    protected override void Return() => Pool.Free(this);

    /// <summary>Registers a wait future made through <paramref name="handle"/> (a reference until it is dropped);
    /// false if the handle was released meanwhile.</summary>
    public bool BeginWait(SyncSlot handle, uint generation, SyncSlot op)
    {
        using (_lock.Hold())
        {
            if (!AddRefLocked(handle, generation)) return false;
            op.Count = _allGeneration;
            return true;
        }
    }

    public Status NotifyOne(SyncSlot handle, uint generation)
    {
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        using (_lock.Hold())
        {
            if (Stale(handle, generation)) return Status.InvalidHandle;
            GiveOne(ref wakes);
        }
        wakes.WakeAll();
        return Status.Ok;
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
    /// <summary>notify_all through <paramref name="handle"/> (null: the release of the last handle).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    public Status NotifyAll(SyncSlot? handle, uint handleGeneration)
    {
        ulong generation;
        using (_lock.Hold())
        {
            if (Stale(handle, handleGeneration)) return Status.InvalidHandle;
            generation = ++_allGeneration;
        }
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            using (_lock.Hold())
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
            if (!more) return Status.Ok;
        }
    }

    public bool PollWait(SyncSlot op, ulong waker)
    {
        using (_lock.Hold())
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
        using (_lock.Hold())
        {
            _waiters.Remove(op);
            if (op.Granted && op.NotifiedByOne && !op.Completed) GiveOne(ref wakes);
            op.Completed = true;
        }
        wakes.WakeAll();
    }
}
