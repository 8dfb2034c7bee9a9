using System;
using System.Threading;
using Luminal.Tasks;

namespace Luminal.Scheduler;

/// <summary>
/// The global queue: spawns from outside the workers, local-queue overflow and wakes from foreign threads land
/// here. An intrusive FIFO list (through <see cref="RawTask.Next"/>) under a lock; workers take batches so the lock
/// is taken once per batch, not per task. Once closed (shutdown) it refuses pushes: the caller then cancels the
/// task itself, so nothing is stranded in a queue nobody drains.
///
/// The list is also cut into segments, the chains as they were pushed (a local queue's overflow is one chain of
/// 129 tasks; single pushes share a segment): a batch pop that takes a whole segment needs no walk along the
/// list under the lock. The walk touched every task cell of the batch, each last written by the pushing core, so
/// the lock was held across a hundred cache misses while the other workers waited (issue 15: PopBatch was 17% of
/// spawn_many_local's cycles).
///
/// Single pushes (a host thread's spawn, a foreign wake) take no lock: they go onto an inbox, a lock-free stack, and
/// the next pop moves the inbox into the list under the lock, oldest first. On 2 CPUs a host thread spawning while
/// both workers ran took this lock against workers that were preempted holding it (or was preempted holding it
/// itself), and spun and yielded: spawn_many_remote_busy took ~150-300 or ~700-1,900 ns per task depending on the
/// process (perf of sched_switch: in the slow ones, the host's switches were `Monitor.Enter` -> `sched_yield`
/// under <c>PushBatch</c>). Batch pushes (a worker's local-queue overflow) keep the lock: their order is the
/// chain's, and only workers make them.
/// </summary>
sealed unsafe class Injector
{
    // Monitor on an object, not a System.Threading.Lock (which would save ~90 instructions per host spawn): the
    // managed tests explore the task paths with Coyote, which controls Monitor but not Lock (a thread blocked on a
    // Lock it cannot see is reported as a deadlock: TaskStateSystematic).
    readonly object _lock = new();
    RawTask? _head, _tail;
    int _count; // written under the lock; read without it as a hint
    bool _closed;
    nint _inbox;      // TaskCell* of the newest single push (the inbox, linked through Next), 0, or InboxClosed
    int _inboxCount;  // pushes in the inbox: a hint (a drain may subtract before the pusher's increment)
    const nint InboxClosed = 1; // never a cell's address

    // The segments, oldest first, in a ring allocated once; when it is full a batch joins the newest segment.
    struct Segment { public RawTask? First, Last; public int Count; public bool Batch; }
    const int SegmentCap = 64;
    readonly Segment[] _segments = new Segment[SegmentCap];
    int _segFirst, _segCount;

    public int Count => Math.Max(0, Volatile.Read(ref _count) + Volatile.Read(ref _inboxCount));
    // The inbox first: a drain raises the count before it takes the inbox (DrainInboxLocked), so a reader that finds
    // the inbox taken then sees the tasks counted.
    public bool IsEmpty => (ulong)Volatile.Read(ref _inbox) <= (ulong)InboxClosed && Volatile.Read(ref _count) == 0;

    /// <summary>Pushes one task without the lock (onto the inbox). False (nothing pushed) once closed.</summary>
    public bool Push(RawTask task)
    {
        nint head = Volatile.Read(ref _inbox);
        while (true)
        {
            if (head == InboxClosed) return false;
            task.Cell->Next = (TaskCell*)head;
            nint seen = Interlocked.CompareExchange(ref _inbox, (nint)task.Cell, head); // full fence: the caller's
            if (seen == head) break;                                                      // NotifyOne reads after it
            head = seen;
        }
        Interlocked.Increment(ref _inboxCount);
        return true;
    }

    /// <summary>Under the lock: appends the inbox to the list, oldest first (the stack holds them newest first), as
    /// one segment of single pushes. <paramref name="close"/>: the inbox refuses pushes from now on.</summary>
    void DrainInboxLocked(bool close)
    {
        nint head = Volatile.Read(ref _inbox);
        // Closed for good (a pop after Close must not reopen it), or nothing to move. (Only Close, under this lock,
        // sets the closed mark, so the exchange below never returns it.)
        if (head == InboxClosed || head == 0 && !close) return;
        // The tasks in transit between the inbox and the list stay visible: a worker going to sleep that finds the
        // inbox taken must not find the count at zero (IsEmpty), or it would park with work queued.
        int before = _count;
        Volatile.Write(ref _count, before + 1);
        nint taken = Interlocked.Exchange(ref _inbox, close ? InboxClosed : 0); // full fence: after the count
        if (taken == 0) { Volatile.Write(ref _count, before); return; }
        TaskCell* newest = (TaskCell*)taken, oldest = null;
        int n = 0;
        for (TaskCell* c = newest; c != null; n++)
        {
            TaskCell* next = c->Next;
            c->Next = oldest; // reverses the links: oldest ends up first
            oldest = c;
            c = next;
        }
        Interlocked.Add(ref _inboxCount, -n);
        RawTask first = new(oldest), last = new(newest);
        if (_tail is RawTask tail) tail.Next = first; else _head = first;
        _tail = last;
        Volatile.Write(ref _count, before + n);
        AddSegment(first, last, n, batch: false);
    }

    /// <summary>Pushes a linked chain first..last of n tasks. False (nothing pushed) once closed.</summary>
    public bool PushBatch(RawTask first, RawTask last, int n)
    {
        lock (_lock)
        {
            if (_closed) return false;
            DrainInboxLocked(close: false); // single pushes made before this one stay ahead of it
            if (_tail is RawTask tail) tail.Next = first; else _head = first;
            _tail = last;
            Volatile.Write(ref _count, _count + n);
            AddSegment(first, last, n, batch: n > 1);
            return true;
        }
    }

    /// <summary>Under the lock: the chain just appended becomes a segment, or joins the newest one (single pushes
    /// share one; a full ring takes anything).</summary>
    void AddSegment(RawTask first, RawTask last, int n, bool batch)
    {
        if (_segCount > 0)
        {
            ref Segment newest = ref _segments[(_segFirst + _segCount - 1) % SegmentCap];
            if ((!batch && !newest.Batch) || _segCount == SegmentCap)
            {
                newest.Last = last;
                newest.Count += n;
                newest.Batch &= batch;
                return;
            }
        }
        ref Segment added = ref _segments[(_segFirst + _segCount) % SegmentCap];
        added.First = first;
        added.Last = last;
        added.Count = n;
        added.Batch = batch;
        _segCount++;
    }

    /// <summary>Pops up to <paramref name="max"/> tasks as a chain (linked through Next); null when empty. Whole
    /// segments are taken without a walk while they fit; the oldest one also when it holds at most
    /// <paramref name="wholeMax"/> tasks (the caller's room for a batch, which may exceed its fair share
    /// <paramref name="max"/>). Only a segment larger than both is walked, to cut it.</summary>
    public RawTask? PopBatch(int max, out int n, int wholeMax = 0)
    {
        n = 0;
        if (IsEmpty) return null;
        lock (_lock)
        {
            DrainInboxLocked(close: false);
            if (_head is not RawTask first) return null;
            if (_segCount == 0) OneSegment(); // never expected: every push adds a segment; a safe fallback
            RawTask last = first;
            while (_segCount > 0)
            {
                ref Segment seg = ref _segments[_segFirst];
                if ((long)n + seg.Count > (n == 0 ? Math.Max(max, wholeMax) : max)) break;
                last = seg.Last!.Value;
                n += seg.Count;
                seg = default;
                _segFirst = (_segFirst + 1) % SegmentCap;
                _segCount--;
            }
            if (n == 0)
            {
                // The oldest segment is too big: cut max tasks off its front.
                ref Segment oldest = ref _segments[_segFirst];
                n = 1;
                while (n < max && last.Next is RawTask next) { last = next; n++; }
                oldest.First = last.Next;
                oldest.Count -= n;
            }
            _head = last.Next;
            if (_head is null) _tail = null;
            last.Next = null;
            Volatile.Write(ref _count, _count - n);
            return first;
        }
    }

    /// <summary>Under the lock: one segment for the whole list (after a removal from its middle).</summary>
    void OneSegment()
    {
        System.Array.Clear(_segments);
        _segFirst = 0;
        _segCount = 0;
        if (_head is RawTask first) AddSegment(first, _tail!.Value, _count, batch: _count > 1);
        if (_segCount == 1) _segments[0].Batch = false;
    }

    /// <summary>Pops the task at position <paramref name="random"/> modulo the queue's length (a seeded
    /// current-thread runtime's pick, see <see cref="CurrentThread"/>: O(position), a debugging aid); null when empty.</summary>
    public RawTask? PopAt(ulong random)
    {
        if (IsEmpty) return null;
        lock (_lock)
        {
            DrainInboxLocked(close: false);
            if (_head is not RawTask t) return null;
            RawTask? prev = null;
            for (ulong i = random % (ulong)_count; i > 0 && t.Next is RawTask next; i--) { prev = t; t = next; }
            if (prev is RawTask p) p.Next = t.Next; else _head = t.Next;
            if (_tail == t) _tail = prev;
            t.Next = null;
            Volatile.Write(ref _count, _count - 1);
            OneSegment(); // a debugging aid's path: O(n) is fine
            return t;
        }
    }

    /// <summary>Refuses further pushes and returns everything queued, as a chain.</summary>
    public RawTask? Close()
    {
        lock (_lock)
        {
            _closed = true;
            DrainInboxLocked(close: true);
            RawTask? all = _head;
            _head = _tail = null;
            Volatile.Write(ref _count, 0);
            OneSegment();
            return all;
        }
    }
}
