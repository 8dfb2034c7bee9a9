using System.Threading;
using Luminal.Tasks;

namespace Luminal.Scheduler;

/// <summary>
/// The global queue: spawns from outside the workers, local-queue overflow and wakes from foreign threads land
/// here. An intrusive FIFO list (through <see cref="RawTask.Next"/>) under a lock; workers take batches so the lock
/// is taken once per batch, not per task. Once closed (shutdown) it refuses pushes: the caller then cancels the
/// task itself, so nothing is stranded in a queue nobody drains.
/// </summary>
sealed class Injector
{
    readonly object _lock = new();
    RawTask? _head, _tail;
    int _count; // written under the lock; read without it as a hint
    bool _closed;

    public int Count => Volatile.Read(ref _count);
    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    public bool Push(RawTask task)
    {
        task.Next = null;
        return PushBatch(task, task, 1);
    }

    /// <summary>Pushes a linked chain first..last of n tasks. False (nothing pushed) once closed.</summary>
    public bool PushBatch(RawTask first, RawTask last, int n)
    {
        lock (_lock)
        {
            if (_closed) return false;
            if (_tail is RawTask tail) tail.Next = first; else _head = first;
            _tail = last;
            Volatile.Write(ref _count, _count + n);
            return true;
        }
    }

    /// <summary>Pops up to <paramref name="max"/> tasks as a chain (linked through Next); null when empty.</summary>
    public RawTask? PopBatch(int max, out int n)
    {
        n = 0;
        if (IsEmpty) return null;
        lock (_lock)
        {
            if (_head is not RawTask first) return null;
            RawTask last = first;
            n = 1;
            while (n < max && last.Next is RawTask next) { last = next; n++; }
            _head = last.Next;
            if (_head is null) _tail = null;
            last.Next = null;
            Volatile.Write(ref _count, _count - n);
            return first;
        }
    }

    /// <summary>Pops the task at position <paramref name="random"/> modulo the queue's length (a seeded
    /// current-thread runtime's pick, see <see cref="CurrentThread"/>: O(position), a debugging aid); null when empty.</summary>
    public RawTask? PopAt(ulong random)
    {
        if (IsEmpty) return null;
        lock (_lock)
        {
            if (_head is not RawTask t) return null;
            RawTask? prev = null;
            for (ulong i = random % (ulong)_count; i > 0 && t.Next is RawTask next; i--) { prev = t; t = next; }
            if (prev is RawTask p) p.Next = t.Next; else _head = t.Next;
            if (_tail == t) _tail = prev;
            t.Next = null;
            Volatile.Write(ref _count, _count - 1);
            return t;
        }
    }

    /// <summary>Refuses further pushes and returns everything queued, as a chain.</summary>
    public RawTask? Close()
    {
        lock (_lock)
        {
            _closed = true;
            RawTask? all = _head;
            _head = _tail = null;
            Volatile.Write(ref _count, 0);
            return all;
        }
    }
}
