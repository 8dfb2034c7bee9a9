using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Tasks;

namespace Luminal.Scopes;

/// <summary>
/// A group of tasks that can be closed as one — what makes unloading a plugin safe. Its invariant:
/// <see cref="_active"/> counts member tasks that may still call into the scope's code (poll, drop, or a
/// drop_output for an output nobody took yet). Close refuses new members, aborts every member, drops unclaimed
/// outputs, and succeeds only when the count is zero: then no call into the plugin can start or be running.
/// Members are kept on an intrusive list (RawTask.ScopePrev/ScopeNext) under the scope's lock.
/// </summary>
sealed class Scope : GenerationSlot
{
    public static readonly SlotTable<Scope> Table = new(() => new Scope());

    // Guards the member list and counters; closers wait on it. A field, not lock(this): the object is pooled.
    readonly object _lock = new();

    internal Runtime? Runtime;
    bool _closed;
    bool _orphaned; // released while members remain: recycled when the last one unlinks
    // A plugin's scope (Plugins.Plugin): luminal_scope_release ignores it, so neither the host nor the plugin can
    // free it under the plugin's close; the close releases it.
    internal volatile bool PluginOwned;
    RawTask? _members;
    long _active, _spawned, _completed, _cancelled;
    // CPU use (luminal_scope_counters.polls, poll_ns): added by whichever thread polled a member, without the lock.
    long _polls, _pollNs;
    // luminal_scope_drain futures waiting for every member to finish running (spawned == completed + cancelled).
    Sync.WaiterList _drainers; // a struct, mutated in place: never readonly, never copied

    public ulong Token => Handles.Token.Make(Handles.Token.Scope, Index, Volatile.Read(ref Generation));

    public static Scope? Create(Runtime runtime)
    {
        Scope? s = Table.Allocate();
        if (s is null) return null;
        lock (s._lock) // the lock Enter and the counters use
        {
            s.Runtime = runtime;
            s._closed = false;
            s.PluginOwned = false;
            s._members = null;
            s._active = s._spawned = s._completed = s._cancelled = 0;
            s._polls = s._pollNs = 0;
        }
        return s;
    }

    public static Scope? FromToken(ulong token, out uint generation) => Table.FromToken(token, Handles.Token.Scope, out generation);

    /// <summary>Adds a task that is about to be queued: Ok, Shutdown if the scope is closed, InvalidHandle if the
    /// handle it was named by (<paramref name="generation"/>; 0: no handle, a member's scope inherited by its child)
    /// was released meanwhile. Checked under the lock that Release frees the object under: a spawn racing with the
    /// handle's release must not join the object in the pool, or the scope that reuses it (its counters went wrong,
    /// and its close could return while a task it never saw still ran: the API fuzzer found it).</summary>
    public Status Enter(RawTask task, uint generation)
    {
        lock (_lock)
        {
            if (generation != 0 && Volatile.Read(ref Generation) != generation) return Status.InvalidHandle;
            if (_closed) return Status.Shutdown;
            task.Scope = this;
            task.ScopePrev = null;
            task.ScopeNext = _members;
            if (_members is RawTask head) head.ScopePrev = task;
            _members = task;
            _active++;
            _spawned++;
            return Status.Ok;
        }
    }

    /// <summary>The task finished (completed or cancelled): count it.</summary>
    public void Finished(bool completed)
    {
        lock (_lock)
        {
            if (completed) _completed++; else _cancelled++;
            if (_drainers.IsEmpty || _spawned != _completed + _cancelled) return;
        }
        WakeDrainers();
    }

    /// <summary>Wakes (and unlinks) every waiting drain future, outside the lock, in rounds of a stack buffer.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    void WakeDrainers()
    {
        Span<ulong> buffer = stackalloc ulong[Sync.WakeBatch.Capacity];
        while (true)
        {
            Sync.WakeBatch wakes = new(buffer);
            bool more;
            lock (_lock)
            {
                while (!wakes.IsFull && _drainers.PopFront() is Sync.SyncSlot d) wakes.Add(d.Waker);
                more = !_drainers.IsEmpty;
            }
            wakes.WakeAll();
            if (!more) return;
        }
    }

    /// <summary>
    /// A scope_drain poll for the scope generation <paramref name="generation"/> (the handle it was made from):
    /// 1 = drained, 0 = pending (registered), -1 = that handle was released (the future cannot tell any more).
    /// </summary>
    public int PollDrain(Sync.SyncSlot op, uint generation, ulong waker)
    {
        lock (_lock)
        {
            if (Volatile.Read(ref Generation) != generation) { _drainers.Remove(op); return -1; }
            if (_spawned == _completed + _cancelled) { _drainers.Remove(op); return 1; }
            op.Waker = waker;
            if (!op.Linked) _drainers.PushBack(op);
            return 0;
        }
    }

    public void DropDrain(Sync.SyncSlot op)
    {
        lock (_lock) _drainers.Remove(op);
    }

    /// <summary>A member was polled (or its fn called) for <paramref name="ns"/> nanoseconds.</summary>
    public void CountPoll(ulong ns)
    {
        // Members run on any worker: interlocked adds (no lock), paid only by tasks that are in a scope.
        Interlocked.Increment(ref _polls);
        Interlocked.Add(ref _pollNs, (long)ns);
    }

    /// <summary>The task will never call into the scope's code again.</summary>
    public void Leave()
    {
        lock (_lock)
        {
            if (--_active == 0) Monitor.PulseAll(_lock);
        }
    }

    /// <summary>The task's slot is being recycled: take it off the member list.</summary>
    public void Unlink(RawTask task)
    {
        lock (_lock)
        {
            if (task.ScopePrev is RawTask prev) prev.ScopeNext = task.ScopeNext;
            else if (_members == task) _members = task.ScopeNext;
            if (task.ScopeNext is RawTask next) next.ScopePrev = task.ScopePrev;
            task.ScopePrev = task.ScopeNext = null;
            task.Scope = null;
            if (_orphaned && _members is null) { _orphaned = false; Runtime = null; Table.Free(this); }
        }
    }

    struct Member { public RawTask Task; public uint Generation; }

    /// <summary>luminal_scope_close: see the class comment. Can be called again after a timeout.</summary>
    public unsafe Status Close(int timeoutMs)
    {
        // The members as they are now, in native memory (a scope of 100,000 tasks closes without a managed
        // allocation, issue 15; the list may change once the lock is let go).
        Member* members = null;
        int count = 0;
        try
        {
            lock (_lock)
            {
                _closed = true;
                for (RawTask? m = _members; m is RawTask t; m = t.ScopeNext) count++;
                if (count > 0) members = (Member*)NativeMemory.Alloc((nuint)count, (nuint)sizeof(Member));
                int i = 0;
                for (RawTask? m = _members; m is RawTask t; m = t.ScopeNext)
                    members[i++] = new Member { Task = t, Generation = TaskState.Generation(t.State) };
            }
            // Outside the lock: aborting may drop a future right here (shut-down runtime), which leaves the scope.
            for (int i = 0; i < count; i++)
            {
                members[i].Task.AbortInternal(members[i].Generation);
                members[i].Task.DropUnclaimedOutput(members[i].Generation);
            }
        }
        finally { if (members != null) NativeMemory.Free(members); }
        long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
        lock (_lock)
        {
            while (_active > 0)
            {
                long left = deadline == long.MaxValue ? -1 : deadline - Environment.TickCount64;
                if (deadline != long.MaxValue && left <= 0) return Status.TimedOut;
                Monitor.Wait(_lock, left < 0 ? -1 : (int)Math.Min(left, int.MaxValue));
            }
            return Status.Ok;
        }
    }

    public void Usage(out ulong polls, out ulong pollNs)
    {
        polls = (ulong)Volatile.Read(ref _polls);
        pollNs = (ulong)Volatile.Read(ref _pollNs);
    }

    public void Stats(out ulong live, out ulong spawned, out ulong completed, out ulong cancelled)
    {
        lock (_lock)
        {
            live = (ulong)_active;
            spawned = (ulong)_spawned;
            completed = (ulong)_completed;
            cancelled = (ulong)_cancelled;
        }
    }

    /// <summary>
    /// Releases the handle. The object is recycled once closed and empty; a scope released while open keeps
    /// running its tasks (like a detached task) and is recycled when the last member leaves.
    /// </summary>
    public bool Release(uint generation)
    {
        if (!TryRetire(generation)) return false;
        WakeDrainers(); // they complete: their handle is gone
        // Members refer to this object, so it goes back to the pool only once none is left.
        long live;
        bool closed;
        Runtime? runtime;
        lock (_lock)
        {
            live = _active;
            closed = _closed;
            runtime = Runtime;
            if (_members is null) { Runtime = null; Table.Free(this); }
            else _orphaned = true;
        }
        // Outside the lock (the callback may call in). A closed scope's members are aborted and on their way out.
        if (live > 0 && !closed && runtime is not null)
            runtime.Log.Write(Observe.LogLevel.Warn, string.Concat("scope 0x", Handles.Token.Make(Handles.Token.Scope, Index, generation).ToString("x"),
                " released while open with ", live.ToString(),
                " live tasks: they run on, so its code must stay loaded (close the scope first to unload it)"));
        return true;
    }

}
