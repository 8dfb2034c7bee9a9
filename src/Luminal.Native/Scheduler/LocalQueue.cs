using System.Runtime.CompilerServices;
using System.Threading;
using Luminal.Tasks;

namespace Luminal.Scheduler;

/// <summary>
/// A worker's bounded run queue (after tokio's multi_thread local queue): a 256-entry ring. Only the owning worker
/// pushes (at the tail) and pops (at the head, FIFO); any other worker may steal half from the head.
///
/// The head word packs two 32-bit positions: <c>steal</c> (where an in-progress steal started) and <c>real</c>
/// (the next entry to hand out). steal != real means a thief is copying entries [steal, real) and those slots
/// must not be overwritten yet, so the owner treats them as occupied. Positions wrap (unsigned arithmetic).
/// </summary>
sealed class LocalQueue
{
    public const int Capacity = 256;
    const int Mask = Capacity - 1;

    readonly RawTask[] _buffer = new RawTask[Capacity];
    long _head; // (steal << 32) | real — written by the owner's pop and by thieves, always with CAS
    int _tail;  // written only by the owner (release); read by thieves (acquire)

    static long Pack(uint steal, uint real) => (long)(((ulong)steal << 32) | real);
    static uint Steal(long head) => (uint)((ulong)head >> 32);
    static uint Real(long head) => (uint)head;

    /// <summary>Entries present (approximate when read by another thread).</summary>
    public int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // the scheduler's urgency checks (Worker.MoreUrgentWaiting)
        get
        {
            long head = Volatile.Read(ref _head);
            return (int)((uint)Volatile.Read(ref _tail) - Real(head));
        }
    }

    public bool IsEmpty => Count <= 0;

    /// <summary>Owner only. Pushes at the tail; when full, moves half of the queue plus the task to the injector.</summary>
    public void Push(RawTask task, Injector overflow)
    {
        while (true)
        {
            long head = Volatile.Read(ref _head); // acquire: thieves' copies out of slots are done
            uint steal = Steal(head);
            uint tail = (uint)_tail;
            if (tail - steal < Capacity)
            {
                _buffer[tail & Mask] = task;
                Volatile.Write(ref _tail, (int)(tail + 1)); // release: publishes the slot to thieves
                return;
            }
            if (steal != Real(head))
            {
                // A thief is mid-copy and will free room soon; don't wait for it.
                overflow.Push(task);
                return;
            }
            if (PushOverflow(task, Real(head), tail, overflow)) return;
            // a thief took entries meanwhile: there is room now, retry
        }
    }

    bool PushOverflow(RawTask task, uint head, uint tail, Injector overflow)
    {
        const uint half = Capacity / 2;
        // Claim the oldest half by moving both positions past it; fails if a thief got there first.
        long expected = Pack(head, head);
        if (Interlocked.CompareExchange(ref _head, Pack(head + half, head + half), expected) != expected) return false;
        RawTask first = _buffer[head & Mask], last = first;
        for (uint i = 1; i < half; i++)
        {
            RawTask t = _buffer[(head + i) & Mask];
            last.Next = t;
            last = t;
        }
        last.Next = task;
        task.Next = null;
        overflow.PushBatch(first, task, (int)half + 1);
        return true;
    }

    /// <summary>Owner only. Pops the oldest entry, or null.</summary>
    // The empty check is inlined (the scheduler probes the more urgent levels' queues on every task it picks).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RawTask? Pop()
    {
        long head = Volatile.Read(ref _head);
        return Real(head) == (uint)_tail ? null : PopFrom(head);
    }

    RawTask? PopFrom(long head)
    {
        while (true)
        {
            uint steal = Steal(head), real = Real(head);
            if (real == (uint)_tail) return null;
            uint nextReal = real + 1;
            // With no steal in progress both positions advance together; otherwise only ours does.
            long next = steal == real ? Pack(nextReal, nextReal) : Pack(steal, nextReal);
            long seen = Interlocked.CompareExchange(ref _head, next, head);
            if (seen == head) return _buffer[real & Mask];
            head = seen;
        }
    }

    /// <summary>
    /// Called by <paramref name="dst"/>'s owner: moves half of this queue's entries into dst and returns one of
    /// them to run now, or null if there was nothing to steal (or another thief is busy here).
    /// </summary>
    public RawTask? StealInto(LocalQueue dst)
    {
        uint dstTail = (uint)dst._tail;
        // Don't steal into a queue that is more than half full: the thief has work already.
        if (dstTail - Steal(Volatile.Read(ref dst._head)) > Capacity / 2) return null;

        long prev = Volatile.Read(ref _head);
        uint n;
        long claimed;
        while (true)
        {
            uint steal = Steal(prev), real = Real(prev);
            if (steal != real) return null; // another thief is copying
            uint srcTail = (uint)Volatile.Read(ref _tail); // acquire: entries up to tail are written
            n = srcTail - real;
            n -= n / 2;
            if (n == 0) return null;
            claimed = Pack(steal, real + n); // steal stays at the start: marks [steal, real+n) as being copied
            long seen = Interlocked.CompareExchange(ref _head, claimed, prev);
            if (seen == prev) break;
            prev = seen;
        }
        uint first = Steal(claimed);
        for (uint i = 0; i < n; i++)
            dst._buffer[(dstTail + i) & Mask] = _buffer[(first + i) & Mask];

        // Copy done: release the claimed slots by moving steal up to real (the owner may have popped meanwhile).
        prev = claimed;
        while (true)
        {
            uint real = Real(prev);
            long seen = Interlocked.CompareExchange(ref _head, Pack(real, real), prev);
            if (seen == prev) break;
            prev = seen;
        }

        n--;
        RawTask ret = dst._buffer[(dstTail + n) & Mask];
        if (n > 0) Volatile.Write(ref dst._tail, (int)(dstTail + n)); // release: publish the stolen entries
        return ret;
    }
}
