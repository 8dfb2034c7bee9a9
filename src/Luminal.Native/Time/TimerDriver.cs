using System;
using System.Threading;

namespace Luminal.Time;

/// <summary>
/// A runtime's timers: the wheel under a lock, fired by the workers. Ticks are quarter milliseconds since the
/// runtime started; a timer fires on the first tick at or after its deadline.
///
/// Who watches the clock: the first worker to park while timers are pending becomes the watcher and parks with a
/// timeout until the next deadline; the others park without one. Busy workers fire due timers as they go (a
/// cheap check per scheduling tick while timers are pending). A new timer earlier than the watched deadline wakes
/// the watcher; with no watcher, it wakes a parked worker, which then becomes the watcher. So an idle runtime
/// sleeps in one place and never polls the clock in a loop.
/// </summary>
sealed class TimerDriver : Scheduler.Driver
{
    const ulong NsPerTick = 250_000; // a quarter millisecond: timers fire at most that late (plus wake-up)

    readonly Runtime _rt;
    readonly TimerWheel _wheel = new();
    readonly object _lock = new();
    readonly ulong _originNs = Clock.NowNs();
    long _nextTick = long.MaxValue; // the wheel's next expiration, readable without the lock
    int _watcher = -1;              // the worker parked with a timeout, under _lock
    ulong _watchedTick = ulong.MaxValue;

    /// <summary>The paused clock of a LUMINAL_CLOCK_PAUSED runtime, else null (the monotonic clock). A paused
    /// runtime has no workers: only its driving thread fires its timers (<see cref="FireDueAt"/>), so the workers'
    /// per-turn <see cref="FireDue"/> never needs to ask which clock it is.</summary>
    public readonly PausedClock? Paused;

    public TimerDriver(Runtime runtime, bool paused = false)
    {
        _rt = runtime;
        if (paused) Paused = new PausedClock(_originNs);
    }

    public ulong NowTick() => (Clock.NowNs() - _originNs) / NsPerTick;

    /// <summary>The runtime's time (luminal_runtime_now_ns): the paused clock's, else the monotonic clock.</summary>
    public ulong NowNs() => Paused is PausedClock paused ? paused.NowNs : Clock.NowNs();

    ulong TickOf(ulong ns) => ns <= _originNs ? 0 : (ns - _originNs) / NsPerTick;

    /// <summary>When the wheel's next tick to visit falls due, on the runtime's clock (at or before the earliest
    /// timer's deadline; a higher level's slot is visited to cascade its timers down), or ulong.MaxValue.</summary>
    public ulong NextDueNs()
    {
        ulong next;
        lock (_lock) next = _wheel.NextExpiration();
        if (next == ulong.MaxValue || next > (ulong.MaxValue - _originNs) / NsPerTick) return ulong.MaxValue;
        return _originNs + next * NsPerTick;
    }

    /// <summary>Fires the timers due at <paramref name="nowNs"/> (a current-thread runtime's driving thread, with
    /// its clock's time).</summary>
    public void FireDueAt(ulong nowNs)
    {
        long next = Volatile.Read(ref _nextTick);
        ulong tick = TickOf(nowNs);
        if (next == long.MaxValue || (ulong)next > tick) return;
        FireExpired(tick);
    }

    /// <summary>The first tick at or after the absolute monotonic time <paramref name="ns"/>.</summary>
    public ulong TickAtOrAfter(ulong ns) => ns <= _originNs ? 0 : (ns - _originNs + NsPerTick - 1) / NsPerTick;

    /// <summary>
    /// Under the lock: if the entry has fired returns true; otherwise records the waker and makes sure the entry
    /// is in the wheel (firing it at once if already due).
    /// </summary>
    public bool PollEntry(TimerEntry e, ulong wakerToken)
    {
        bool wakeWatcher = false;
        lock (_lock)
        {
            if (e.Fired) return true;
            e.Waker = wakerToken;
            if (e.WheelLevel >= 0) return false;
            if (e.DeadlineNs <= NowNs() || e.DeadlineTick <= _wheel.Elapsed) { e.Fired = true; return true; }
            _wheel.Insert(e);
            UpdateNext();
            wakeWatcher = e.DeadlineTick < _watchedTick;
        }
        if (wakeWatcher) WakeForEarlierDeadline();
        return false;
    }

    /// <summary>Timers in the wheel (metrics).</summary>
    public int Pending { get { lock (_lock) return _wheel.Count; } }

    public void Cancel(TimerEntry e)
    {
        lock (_lock)
        {
            _wheel.Remove(e);
            UpdateNext();
        }
    }

    void UpdateNext()
    {
        ulong next = _wheel.NextExpiration();
        Volatile.Write(ref _nextTick, next > long.MaxValue ? long.MaxValue : (long)next);
    }

    void WakeForEarlierDeadline()
    {
        int watcher = Volatile.Read(ref _watcher);
        if (watcher >= 0) _rt.Workers[watcher].Parker.Unpark();
        else _rt.NotifyOne();
    }

    /// <summary>The outermost driver: due timers, then the IO backend's completions (if one has started).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public override bool Poll()
    {
        bool fired = FireDue();
        return (_rt.IoIfStarted?.Poll() ?? false) | fired;
    }

    /// <summary>
    /// Turns the next deadline into the park's timeout — for one worker, the watcher; the others sleep until
    /// notified — and parks in the IO backend (io_uring sleeps in its ring), or on the futex before any IO.
    /// </summary>
    public override void Park(Scheduler.Worker worker, long timeoutNs, bool othersAwake)
    {
        long due = BeginPark(worker.Index);
        if (due >= 0 && (timeoutNs < 0 || due < timeoutNs)) timeoutNs = due;
        if (_rt.IoIfStarted is Scheduler.Driver io) io.Park(worker, timeoutNs, othersAwake);
        else worker.Parker.Park(timeoutNs);
        EndPark(worker.Index);
    }

    /// <summary>Cheap check for the workers' loop: fires due timers if the next deadline has passed (then true).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public bool FireDue()
    {
        long next = Volatile.Read(ref _nextTick);
        if (next == long.MaxValue) return false;
        ulong now = NowTick();
        if ((ulong)next > now) return false;
        FireExpired(now);
        return true;
    }

    unsafe void FireExpired(ulong nowTick)
    {
        // The wakers are collected under the lock and woken after it: a wake can run user code (a shut-down
        // runtime drops the woken task's future), which may drop other timers and so take this lock. Beyond 64,
        // they go to native memory (malloc), never to a managed list: firing many timers at once must not make
        // garbage (issue 15).
        Span<ulong> wakers = stackalloc ulong[64];
        ulong* more = null;
        int n = 0, moreCount = 0, moreCapacity = 0;
        try
        {
            lock (_lock)
            {
                for (TimerEntry? e = _wheel.Advance(nowTick); e is TimerEntry entry;)
                {
                    e = entry.WheelNext;
                    entry.WheelNext = null;
                    entry.Fired = true;
                    if (entry.Waker == 0) continue;
                    if (n < wakers.Length) { wakers[n++] = entry.Waker; continue; }
                    if (moreCount == moreCapacity)
                    {
                        moreCapacity = Math.Max(256, moreCapacity * 2);
                        more = (ulong*)System.Runtime.InteropServices.NativeMemory.Realloc(more, (nuint)moreCapacity * sizeof(ulong));
                    }
                    more[moreCount++] = entry.Waker;
                }
                UpdateNext();
            }
            for (int i = 0; i < n; i++) Tasks.Waker.Wake(wakers[i]);
            for (int i = 0; i < moreCount; i++) Tasks.Waker.Wake(more[i]);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(more);
        }
    }

    /// <summary>
    /// A worker is about to park: returns the timeout (ns) it should park with — it becomes the watcher — or -1
    /// (park until notified) when there are no timers or another worker watches.
    /// </summary>
    public long BeginPark(int worker)
    {
        lock (_lock)
        {
            if (_watcher >= 0 || _wheel.Count == 0) return -1;
            ulong next = _wheel.NextExpiration();
            _watcher = worker;
            _watchedTick = next;
            ulong nowNs = Clock.NowNs() - _originNs;
            ulong dueNs = next * NsPerTick;
            return dueNs <= nowNs ? 0 : (long)Math.Min(dueNs - nowNs, long.MaxValue);
        }
    }

    public void EndPark(int worker)
    {
        lock (_lock)
        {
            if (_watcher != worker) return;
            _watcher = -1;
            _watchedTick = ulong.MaxValue;
        }
    }
}
