using System.Threading;

namespace Luminal.Scheduler;

/// <summary>
/// Puts one thread to sleep until <see cref="Unpark"/> (from any thread) or a timeout. A notification that arrives
/// before the thread parks is kept, so the park returns at once: no wake-up is ever lost.
/// Only the owning thread calls <see cref="Park"/>.
/// </summary>
sealed class Parker
{
    const int Empty = 0, Parked = 1, Notified = 2;

    readonly object _lock = new();
    int _state;

    /// <summary>Sleeps until notified or <paramref name="timeoutMs"/> (-1 = forever). True if notified.</summary>
    public bool Park(int timeoutMs = Timeout.Infinite)
    {
        // Fast path: consume a pending notification without touching the lock.
        if (Interlocked.CompareExchange(ref _state, Empty, Notified) == Notified) return true;
        lock (_lock)
        {
            if (Interlocked.CompareExchange(ref _state, Parked, Empty) != Empty)
            {
                Interlocked.Exchange(ref _state, Empty); // it was Notified meanwhile
                return true;
            }
            while (true)
            {
                bool signalled = Monitor.Wait(_lock, timeoutMs);
                if (Interlocked.CompareExchange(ref _state, Empty, Notified) == Notified) return true;
                if (!signalled && timeoutMs != Timeout.Infinite)
                {
                    // Timed out; an Unpark may race with us: if it won, consume its notification.
                    if (Interlocked.CompareExchange(ref _state, Empty, Parked) == Parked) return false;
                    Interlocked.Exchange(ref _state, Empty);
                    return true;
                }
                // spurious wake-up: keep waiting
            }
        }
    }

    public void Unpark()
    {
        if (Interlocked.Exchange(ref _state, Notified) != Parked) return;
        // The parked thread holds the lock from setting Parked until Monitor.Wait releases it, so taking the lock
        // here guarantees the pulse reaches a thread that is really waiting.
        lock (_lock) Monitor.Pulse(_lock);
    }
}
