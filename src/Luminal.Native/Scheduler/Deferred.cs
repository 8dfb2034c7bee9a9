using Luminal.Tasks;

namespace Luminal.Scheduler;

/// <summary>
/// A worker's yielded tasks (woken during their own poll: luminal_context_yield, or a self-wake), held back until
/// the worker has looked at everything else of their level — its local queue and then the global queue — after
/// tokio's <c>defer</c> (its yield_now is deferred until the worker polls its driver). Without it a busy worker's
/// yielding tasks refill its local queue forever and the global queue (foreign wakes, outside spawns) is only
/// looked at every <c>GlobalQueueInterval</c> ticks: with 20 µs polls, a foreign wake waited ~1 ms (issue 15).
///
/// One FIFO chain per priority level, linked through <see cref="RawTask.Next"/> (free: a deferred task is in no
/// other queue). Owned by one worker's thread; invisible to thieves until flushed into the local queue.
/// </summary>
sealed class Deferred
{
    readonly RawTask?[] _head = new RawTask?[Priority.Levels], _tail = new RawTask?[Priority.Levels];
    readonly int[] _count = new int[Priority.Levels];

    /// <summary>Are tasks of <paramref name="level"/> held here?</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public bool Any(int level) => _count[level] != 0;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Push(RawTask task)
    {
        int level = task.Priority;
        task.Next = null;
        if (_tail[level] is RawTask tail) tail.Next = task; else _head[level] = task;
        _tail[level] = task;
        _count[level]++;
    }

    /// <summary>Tasks held here, all levels (read from another thread for metrics: a snapshot).</summary>
    public int Count
    {
        get
        {
            int n = 0;
            for (int level = 0; level < _count.Length; level++) n += CountAt(level);
            return n;
        }
    }

    /// <summary>Tasks of one level held here (a snapshot, like <see cref="Count"/>).</summary>
    public int CountAt(int level) => System.Threading.Volatile.Read(ref _count[level]);

    /// <summary>Takes the chain of one level (linked through Next), or null.</summary>
    public RawTask? TakeLevel(int level, out int n)
    {
        n = _count[level];
        RawTask? chain = _head[level];
        _head[level] = _tail[level] = null;
        _count[level] = 0;
        return chain;
    }
}
