using System.Threading;
using Luminal.Handles;

namespace Luminal.Sync;

/// <summary>What every runtime-owned sync object (channel, notify, semaphore, task set) has: the runtime it was made
/// on, checked for fork before anything takes its locks. A <see cref="Slot"/> so that the pooled kinds
/// (<see cref="PooledSyncObject"/>) can live in a <see cref="SlotTable{T}"/>.</summary>
abstract class SyncObject : Slot
{
    internal Runtime Runtime = null!; // set before the object is handed out; fixed until it is recycled

    protected SyncObject() { }
    protected SyncObject(Runtime runtime) => Runtime = runtime;
}

/// <summary>
/// A channel, notify or semaphore: reused from a pool instead of allocated per object, so creating and releasing
/// them allocates no managed memory once warm (a GC would freeze the host's threads). The object is returned to its
/// pool when its last reference goes: every handle and every future made on it counts (a future until it is dropped,
/// not merely completed, so a late poll or drop still finds its own object).
///
/// A handle released on one thread while another thread still uses it (a contract breach) must not act on the
/// object's next life: calls made through a handle check, under <see cref="_lock"/>, that the handle's generation
/// is still the one they resolved (<see cref="Stale"/>): the release retires the handle before it drops its
/// reference, so a call that passes the check runs while the handle's reference is still held.
/// </summary>
abstract class PooledSyncObject : SyncObject
{
    // Not Monitor on an object (under NativeAOT a contended Monitor inflates, allocating a lock object and a
    // sync-table entry per contended primitive) nor System.Threading.Lock (a thread-static read per enter and exit):
    // see SyncLock. Allocated once per pooled object, kept across reuses.
    protected readonly SyncLock _lock = new();
    // Interlocked, never under the lock alone: the lock-free TryAddRef and Unref race with the holders' AddRefLocked.
    // It never goes from 0 back up: an object at 0 is in its pool (or on its way there).
    int _refs;

    /// <summary>Starts a new life with <paramref name="refs"/> references (its handles).</summary>
    protected void Begin(Runtime runtime, int refs)
    {
        Runtime = runtime;
        Volatile.Write(ref _refs, refs);
    }

    /// <summary>True if <paramref name="handle"/> no longer carries <paramref name="generation"/> (released). Null
    /// handle: a call made by the runtime itself, not through a handle (never stale). Under <see cref="_lock"/>.</summary>
    protected static bool Stale(SyncSlot? handle, uint generation) =>
        handle is not null && Volatile.Read(ref handle.Generation) != generation;

    /// <summary>One more reference (a future or a cloned handle being made through <paramref name="handle"/>);
    /// false if the handle was released meanwhile. Under <see cref="_lock"/> (with the caller's other changes).</summary>
    protected bool AddRefLocked(SyncSlot? handle, uint generation)
    {
        if (Stale(handle, generation)) return false;
        Interlocked.Increment(ref _refs); // a live handle holds one: never from 0
        return true;
    }

    /// <summary><see cref="AddRefLocked"/> without the lock (a future of a semaphore). Never from 0 (a pooled
    /// object); the handle is checked after the increment: a handle released meanwhile gives the reference back.</summary>
    public bool TryAddRef(SyncSlot handle, uint generation)
    {
        int r = Volatile.Read(ref _refs);
        while (true)
        {
            if (r == 0) return false;
            int seen = Interlocked.CompareExchange(ref _refs, r + 1, r);
            if (seen == r) break;
            r = seen;
        }
        if (!Stale(handle, generation)) return true;
        Unref();
        return false;
    }

    /// <summary>Drops a reference; the last one returns the object to its pool. The caller touches it no more.</summary>
    public void Unref()
    {
        if (Interlocked.Decrement(ref _refs) == 0) Return();
    }

    /// <summary>Back to the pool (everything it held is released by then).</summary>
    protected abstract void Return();
}
