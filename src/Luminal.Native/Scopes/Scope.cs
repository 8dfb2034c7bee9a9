using System;
using System.Collections.Generic;
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

    internal Runtime? Runtime;
    bool _closed;
    bool _orphaned; // released while members remain: recycled when the last one unlinks
    RawTask? _members;
    long _active, _spawned, _completed, _cancelled;

    public ulong Token => Handles.Token.Make(Handles.Token.Scope, Index, Volatile.Read(ref Generation));

    public static Scope? Create(Runtime runtime)
    {
        Scope? s = Table.Allocate();
        if (s is null) return null;
        lock (s)
        {
            s.Runtime = runtime;
            s._closed = false;
            s._members = null;
            s._active = s._spawned = s._completed = s._cancelled = 0;
        }
        return s;
    }

    public static Scope? FromToken(ulong token, out uint generation) => Table.FromToken(token, Handles.Token.Scope, out generation);

    /// <summary>Adds a task that is about to be queued. False if the scope is closed.</summary>
    public bool Enter(RawTask task)
    {
        lock (this)
        {
            if (_closed) return false;
            task.Scope = this;
            task.ScopePrev = null;
            task.ScopeNext = _members;
            if (_members is not null) _members.ScopePrev = task;
            _members = task;
            _active++;
            _spawned++;
            return true;
        }
    }

    /// <summary>The task finished (completed or cancelled): count it.</summary>
    public void Finished(bool completed)
    {
        lock (this)
        {
            if (completed) _completed++; else _cancelled++;
        }
    }

    /// <summary>The task will never call into the scope's code again.</summary>
    public void Leave()
    {
        lock (this)
        {
            if (--_active == 0) Monitor.PulseAll(this);
        }
    }

    /// <summary>The task's slot is being recycled: take it off the member list.</summary>
    public void Unlink(RawTask task)
    {
        lock (this)
        {
            if (task.ScopePrev is not null) task.ScopePrev.ScopeNext = task.ScopeNext;
            else if (_members == task) _members = task.ScopeNext;
            if (task.ScopeNext is not null) task.ScopeNext.ScopePrev = task.ScopePrev;
            task.ScopePrev = task.ScopeNext = null;
            task.Scope = null;
            if (_orphaned && _members is null) { _orphaned = false; Runtime = null; Table.Free(this); }
        }
    }

    /// <summary>luminal_scope_close: see the class comment. Can be called again after a timeout.</summary>
    public Status Close(int timeoutMs)
    {
        var members = new List<(RawTask Task, uint Generation)>();
        lock (this)
        {
            _closed = true;
            for (RawTask? t = _members; t is not null; t = t.ScopeNext)
                members.Add((t, TaskState.Generation(t.State)));
        }
        // Outside the lock: aborting may drop a future right here (shut-down runtime), which leaves the scope.
        foreach ((RawTask task, uint generation) in members)
        {
            task.AbortInternal(generation);
            task.DropUnclaimedOutput(generation);
        }
        long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
        lock (this)
        {
            while (_active > 0)
            {
                long left = deadline == long.MaxValue ? -1 : deadline - Environment.TickCount64;
                if (deadline != long.MaxValue && left <= 0) return Status.TimedOut;
                Monitor.Wait(this, left < 0 ? -1 : (int)Math.Min(left, int.MaxValue));
            }
            return Status.Ok;
        }
    }

    public void Stats(out ulong live, out ulong spawned, out ulong completed, out ulong cancelled)
    {
        lock (this)
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
        // Members refer to this object, so it goes back to the pool only once none is left.
        lock (this)
        {
            if (_members is null) { Runtime = null; Table.Free(this); }
            else _orphaned = true;
        }
        return true;
    }

}
