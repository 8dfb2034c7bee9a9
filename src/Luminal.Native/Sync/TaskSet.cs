using System;
using System.Runtime.InteropServices;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Tasks;
using System.Threading;

namespace Luminal.Sync;

/// <summary>
/// luminal_task_set_*: tokio's JoinSet. Each spawned task has a member record (a pooled <see cref="SyncSlot"/> of
/// kind SetMember holding the task's join-handle token in Count), on <see cref="_running"/> until the task finishes,
/// then on <see cref="_done"/> in finishing order until a join_next takes it.
///
/// How the set learns of a finish without a field on every task: the set owns each member's join handle and never
/// shows it to anyone, so the task's join-waker word (RawTask.RegisterJoinWaker) is free; the set stores the
/// member's token there, and RawTask.Finish hands a token of the Sync tag to <see cref="MemberFinished"/> instead of
/// waking a task. Finish publishes Closed before that, so the output can be taken at once.
///
/// Everything under <see cref="_lock"/>; member slots are also recycled under it (so a stale notification that
/// resolved a slot re-checks its generation under the lock); wakes and task calls (abort, take, release) happen
/// outside it. join_next futures wait on <see cref="_joiners"/>; a finish wakes the oldest, and whoever leaves the
/// list (completing or dropped) passes the wake on while finished members remain: a dropped join_next loses nothing.
/// </summary>
sealed unsafe class TaskSet : SyncObject
{
    // A System.Threading.Lock, not Monitor on an object: under NativeAOT a contended Monitor inflates, allocating a
    // lock object and a sync-table entry per contended primitive (seen in the ping_pong profile, under try_send).
    readonly Lock _lock = new();
    bool _released;
    long _len;
    WaiterList _running, _done, _joiners; // structs, mutated in place: never readonly, never copied

    public TaskSet(Runtime runtime) : base(runtime) { }

    public ulong Length { get { lock (_lock) return (ulong)_len; } }

    /// <summary>Spawns <paramref name="future"/> (taken) as a member. InvalidHandle if the set was released meanwhile.</summary>
    public Status Spawn(in NativeFuture future, Scopes.Scope? scope, uint scopeGeneration, int priority)
    {
        if (SyncSlot.Create(SyncKind.SetMember, this) is not SyncSlot member) { Runtime.DropFuture(future); return Status.NoMemory; }
        ulong memberToken = member.Token; // read now: once published, a release may recycle the slot
        Status s = Runtime.Spawn(future, null, wantHandle: true, null, out ulong taskToken, scope, priority,
            scopeGeneration: scopeGeneration);
        if (s != Status.Ok) { lock (_lock) Free(member); return s; }
        member.Count = taskToken;
        bool released;
        lock (_lock)
        {
            released = _released;
            if (released) Free(member);
            else { _running.PushBack(member); _len++; }
        }
        RawTask task = RawTask.FromToken(taskToken, Token.Task, out uint generation)!.Value; // we hold its handle
        if (released)
        {
            task.RequestAbort(generation);
            task.ReleaseHandle(generation);
            return Status.InvalidHandle;
        }
        // Finished already (or finishing): Finish may have missed the token, so report it ourselves (idempotent).
        if (!task.RegisterJoinWaker(memberToken)) MemberFinished(memberToken);
        return Status.Ok;
    }

    /// <summary>RawTask.Finish (or Spawn): the task of member <paramref name="memberToken"/> has finished.</summary>
    public static void MemberFinished(ulong memberToken)
    {
        if (SyncSlot.Resolve((nint)memberToken, SyncKind.SetMember, out uint generation) is not SyncSlot member) return;
        if (member.Target is not TaskSet set) return;
        ulong wake = 0;
        lock (set._lock)
        {
            // Re-checked under the lock, where members are recycled: a stale token finds another generation.
            if (member.Generation != generation || !ReferenceEquals(member.Target, set) || member.Granted) return;
            member.Granted = true;
            set._running.Remove(member);
            set._done.PushBack(member);
            if (set._joiners.Head is SyncSlot j) wake = j.Waker;
        }
        if (wake != 0) Waker.Wake(wake);
    }

    void Free(SyncSlot member)
    {
        if (member.TryRetire(member.Generation)) member.Recycle();
    }

    /// <summary>
    /// A join_next poll: Pending (registered), or the next finished member's status (its task's join status,
    /// Empty, or Closed after release) with its output.
    /// </summary>
    public Status PollJoinNext(SyncSlot op, ulong waker, out nint output)
    {
        output = 0;
        ulong taskToken, wake = 0;
        lock (_lock)
        {
            if (_released) { _joiners.Remove(op); op.Completed = true; return Status.Closed; }
            if (_done.PopFront() is not SyncSlot member)
            {
                if (_running.IsEmpty) { _joiners.Remove(op); op.Completed = true; return Status.Empty; }
                op.Waker = waker;
                if (!op.Linked) _joiners.PushBack(op);
                return Status.Pending;
            }
            _joiners.Remove(op);
            op.Completed = true;
            _len--;
            taskToken = member.Count;
            Free(member);
            if (!_done.IsEmpty && _joiners.Head is SyncSlot next) wake = next.Waker;
        }
        if (wake != 0) Waker.Wake(wake);
        // The member is ours alone now, and with it the task's join handle.
        if (RawTask.FromToken(taskToken, Token.Task, out uint generation) is not RawTask task) return Status.Internal;
        void* o = null;
        Status s = task.TakeOutput(generation, &o);
        task.ReleaseHandleHere(generation);
        output = (nint)o;
        return s;
    }

    /// <summary>A join_next future gives up (dropped, or polled with a bad context): passes a wake on.</summary>
    public void DropJoinNext(SyncSlot op)
    {
        ulong wake = 0;
        lock (_lock)
        {
            bool wasFirst = _joiners.Head == op;
            _joiners.Remove(op);
            op.Completed = true;
            if (wasFirst && !_done.IsEmpty && _joiners.Head is SyncSlot next) wake = next.Waker;
        }
        if (wake != 0) Waker.Wake(wake);
    }

    /// <summary>luminal_task_set_abort_all: aborts every member still running (they stay members, and join_next
    /// returns them as they finish, most with LUMINAL_E_CANCELLED).</summary>
    public void AbortAll()
    {
        ulong* tokens = null;
        long n = 0;
        try
        {
            lock (_lock)
            {
                long count = 0;
                for (SyncSlot? m = _running.Head; m is not null; m = m.Next) count++;
                if (count == 0) return;
                tokens = (ulong*)NativeMemory.Alloc((nuint)count, sizeof(ulong));
                for (SyncSlot? m = _running.Head; m is not null; m = m.Next) tokens[n++] = m.Count;
            }
            // Outside the lock: an abort may finish the task right here (shutdown, a queued blocking call).
            for (long i = 0; i < n; i++)
                if (RawTask.FromToken(tokens[i], Token.Task, out uint generation) is RawTask t) t.RequestAbort(generation);
        }
        finally { if (tokens != null) NativeMemory.Free(tokens); }
    }

    /// <summary>luminal_task_set_release: aborts every member, drops its handle (an output never joined is freed
    /// with drop_output when its task is recycled), and completes pending join_next futures with Closed.</summary>
    public void Release()
    {
        ulong* tokens = null;
        long n = 0, nJoiners = 0;
        try
        {
            lock (_lock)
            {
                _released = true;
                long count = _len;
                for (SyncSlot? j = _joiners.Head; j is not null; j = j.Next) count++;
                if (count > 0) tokens = (ulong*)NativeMemory.Alloc((nuint)count, sizeof(ulong));
                while (_running.PopFront() is SyncSlot m) { tokens[n++] = m.Count; Free(m); }
                while (_done.PopFront() is SyncSlot m) { tokens[n++] = m.Count; Free(m); }
                while (_joiners.PopFront() is SyncSlot j) tokens[n + nJoiners++] = j.Waker;
                _len = 0;
            }
            for (long i = 0; i < n; i++)
            {
                if (RawTask.FromToken(tokens[i], Token.Task, out uint generation) is not RawTask t) continue;
                t.RequestAbort(generation);
                t.ReleaseHandle(generation);
            }
            for (long i = 0; i < nJoiners; i++) Waker.Wake(tokens[n + i]);
        }
        finally { if (tokens != null) NativeMemory.Free(tokens); }
    }
}
