using System.Threading;

namespace Luminal.Scheduler;

/// <summary>
/// Which workers are searching for work and which are parked (after tokio's idle.rs). One atomic word packs
/// <c>unparked</c> (high 16 bits) and <c>searching</c> (low 16 bits); the parked workers' indices sit on a stack
/// under a lock.
///
/// The no-lost-wake-up argument: a producer publishes work, issues a full fence, then reads the word; a worker
/// going to sleep updates the word with an interlocked operation (a full fence), then — if it was the last
/// searcher — looks at the queues again. Either the producer sees that nobody is searching and wakes a sleeper,
/// or the last searcher sees the work. At most half the workers search at once, so stealing stays cheap.
/// </summary>
sealed class Idle
{
    const int SearchingOne = 1, UnparkedOne = 1 << 16, Mask = 0xFFFF;

    readonly int _workers;
    readonly int[] _sleepers;
    int _sleeperCount; // under _lock
    readonly object _lock = new();
    int _state;

    public Idle(int workers)
    {
        _workers = workers;
        _sleepers = new int[workers];
        _state = workers * UnparkedOne; // all start unparked, not searching
    }

    static int Searching(int state) => state & Mask;
    static int Unparked(int state) => state >> 16;

    /// <summary>The index of a sleeping worker to unpark, or -1 if someone is searching or nobody sleeps.</summary>
    public int WorkerToNotify()
    {
        if (!ShouldNotify(Volatile.Read(ref _state))) return -1;
        lock (_lock)
        {
            if (!ShouldNotify(Volatile.Read(ref _state)) || _sleeperCount == 0) return -1;
            // The woken worker starts out searching: it must look for the work that woke it.
            Interlocked.Add(ref _state, SearchingOne + UnparkedOne);
            return _sleepers[--_sleeperCount];
        }
    }

    bool ShouldNotify(int state) => Searching(state) == 0 && Unparked(state) < _workers;

    /// <summary>May this worker start searching? Limits searchers to half the workers.</summary>
    public bool TryStartSearching()
    {
        int state = Volatile.Read(ref _state);
        if (2 * Searching(state) >= _workers) return false;
        Interlocked.Add(ref _state, SearchingOne);
        return true;
    }

    /// <summary>A searcher found work. True if it was the last searcher (then another should be woken).</summary>
    public bool StopSearching() => Searching(Interlocked.Add(ref _state, -SearchingOne)) == 0;

    /// <summary>Registers a worker as parked. True if it was the last searcher: it must re-check for work.</summary>
    public bool Park(int worker, bool searching)
    {
        lock (_lock)
        {
            int delta = UnparkedOne + (searching ? SearchingOne : 0);
            int state = Interlocked.Add(ref _state, -delta);
            _sleepers[_sleeperCount++] = worker;
            return searching && Searching(state) == 0;
        }
    }

    /// <summary>
    /// After a park returned: if the worker is still listed as sleeping, it woke for another reason (timeout,
    /// shutdown) and un-registers itself, returning false. If a notifier took it off the list, it was counted as
    /// unparked and searching already: returns true.
    /// </summary>
    public bool ReturnFromPark(int worker)
    {
        lock (_lock)
        {
            for (int i = 0; i < _sleeperCount; i++)
            {
                if (_sleepers[i] != worker) continue;
                _sleepers[i] = _sleepers[--_sleeperCount];
                Interlocked.Add(ref _state, UnparkedOne);
                return false;
            }
            return true;
        }
    }

    public int SearchingCount => Searching(Volatile.Read(ref _state));
    public int UnparkedCount => Unparked(Volatile.Read(ref _state));
}
