using System;
using System.Runtime.CompilerServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Observe;
using Luminal.Scheduler;
using Luminal.Tasks;

namespace Luminal;

/// <summary>
/// A runtime's observers (luminal_runtime_options): its log, thread hooks, task hook and the unloaded-plugin
/// check, plus the counters that are not per worker. All set before the first thread starts and never changed, so
/// the hot paths test them without a fence; unset, each event costs one predictable branch.
/// </summary>
sealed unsafe partial class Runtime
{
    public Log Log { get; private set; } = null!;
    /// <summary>The task hook (luminal_task_hook_fn), or null: tested by RawTask before calling <see cref="TaskEventAt"/>.</summary>
    internal delegate* unmanaged<void*, int, ulong, uint, ulong, int, void> TaskHook;
    void* _taskHookUser;
    delegate* unmanaged<void*, int, uint, void> _threadStart, _threadStop;
    void* _threadHookUser;
    /// <summary>Check that a task's code is still mapped before each call into it (see PluginCheck).</summary>
    internal bool DebugPlugins;
    /// <summary>Task hook or plugin check: RawTask.Run's one branch before a poll.</summary>
    internal bool PollObserved;

    // Counters written off the workers' threads (interlocked; each sits beside the others only: rare events).
    internal SharedCounters Counters; // written with atomics by any thread: see SharedCounters

    void Attach(Observers? o, uint ioOption)
    {
        o ??= new Observers();
        Log = new Log(o.Log, o.LogUser, o.LogLevel);
        TaskHook = o.TaskHook;
        _taskHookUser = o.TaskHookUser;
        _threadStart = o.OnThreadStart;
        _threadStop = o.OnThreadStop;
        _threadHookUser = o.ThreadHookUser;
        DebugPlugins = o.DebugPlugins || PluginCheck.ForcedByEnvironment;
        if (DebugPlugins) Interlocked.Increment(ref PluginCheck.Active);
        PollObserved = TaskHook != null || DebugPlugins;
        string? env = Environment.GetEnvironmentVariable("LUMINAL_IO_BACKEND");
        if (ioOption == 0 && !string.IsNullOrEmpty(env) && Luminal.Io.IoBackend.Requested(0) == 0)
            Log.Write(LogLevel.Warn, string.Concat("LUMINAL_IO_BACKEND=", env,
                " is not one of uring, io_uring, pool: ignored (the backend is chosen automatically)"));
    }

    /// <summary>The runtime has terminated (last worker out): no more events from it.</summary>
    void Detach()
    {
        if (Log.Enabled(LogLevel.Debug)) Log.Write(LogLevel.Debug, string.Concat("runtime with ", Workers.Length.ToString(), " workers shut down"));
        if (DebugPlugins) Interlocked.Decrement(ref PluginCheck.Active);
        Log.Retire();
    }

    // ---- thread hooks --------------------------------------------------------------------------------------------

    /// <summary>On the runtime thread itself, before it runs anything.</summary>
    public void ThreadStarted(ThreadKind kind, int index)
    {
        if (_threadStart != null) _threadStart(_threadHookUser, (int)kind, (uint)index);
    }

    /// <summary>On the runtime thread itself, as the last thing before it exits.</summary>
    public void ThreadStopping(ThreadKind kind, int index)
    {
        if (_threadStop != null) _threadStop(_threadHookUser, (int)kind, (uint)index);
    }

    // ---- task hook -----------------------------------------------------------------------------------------------

    /// <summary>Calls the task hook (the caller tested <see cref="TaskHook"/>): <paramref name="taskToken"/> is the
    /// task's join-handle token, <paramref name="worker"/> the worker whose thread runs the event (null: look it up).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // off the hot path: the caller keeps only the branch
    public void TaskEventAt(TaskEvent e, RawTask task, ulong taskToken, Worker? worker)
    {
        worker ??= CurrentWorker();
        ulong scope = task.Scope?.Token ?? 0;
        TaskHook(_taskHookUser, (int)e, taskToken, (uint)task.Priority + 1, scope, worker?.Index ?? -1);
    }

    /// <summary>RawTask.Run, before calling into the task (<see cref="PollObserved"/>): the hook's POLL_START, and
    /// the plugin check. False: the task's code is gone; don't call it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool PollStarting(RawTask task, ulong taskToken, void* code, Worker? worker)
    {
        if (DebugPlugins && !PluginCheck.Callable(code, task.Fn != null ? "fn" : "poll", task.Scope, Log)) return false;
        if (TaskHook != null) TaskEventAt(TaskEvent.PollStart, task, taskToken, worker);
        return true;
    }

    // ---- counters ------------------------------------------------------------------------------------------------

    /// <summary>A task finished off the workers' threads and completed (the per-worker count is in Worker.Counted).</summary>
    void CountCompletedElsewhere() => Interlocked.Increment(ref Counters.CompletedElsewhere);

    /// <summary>NotifyOne woke a worker.</summary>
    void CountUnpark() => Interlocked.Increment(ref Counters.Unparks);

    /// <summary>luminal_runtime_get_metrics: sums the per-worker counters and reads the queues (see luminal.h).</summary>
    public void ReadMetrics(out Interop.NativeRuntimeMetrics m)
    {
        m = default;
        ulong now = Time.Clock.NowNs();
        m.Workers = (uint)Workers.Length;
        Blocking.Snapshot(out int threads, out int idle, out int queued);
        m.BlockingThreads = (uint)threads;
        m.BlockingIdle = (uint)idle;
        m.BlockingMax = (uint)Blocking.MaxThreads;
        m.BlockingQueueDepth = (ulong)queued;
        long spawned = Volatile.Read(ref Counters.SpawnedElsewhere), finished = Volatile.Read(ref Counters.FinishedElsewhere);
        long completed = Volatile.Read(ref Counters.CompletedElsewhere);
        Span<ulong> ready = stackalloc ulong[Priority.Levels];
        foreach (Worker w in Workers)
        {
            spawned += Volatile.Read(ref w.Counted.TasksSpawned);
            finished += Volatile.Read(ref w.Counted.TasksFinished);
            completed += Volatile.Read(ref w.Counted.TasksCompleted);
            m.Polls += (ulong)Volatile.Read(ref w.Counted.Polls);
            m.Steals += (ulong)Volatile.Read(ref w.Counted.Steals);
            m.Parks += (ulong)Volatile.Read(ref w.Counted.Parks);
            w.Times(now, out ulong busy, out ulong parked);
            m.BusyNs += busy;
            m.ParkedNs += parked;
            for (int level = 0; level < Priority.Levels; level++)
            {
                int n = w.QueuedAt(level); // its deferred yields too: they are its own queue's tasks
                m.LocalQueueDepth += (ulong)n;
                ready[level] += (ulong)n;
            }
        }
        for (int level = 0; level < Priority.Levels; level++)
        {
            int n = Math.Max(0, Injectors[level].Count);
            m.InjectorDepth += (ulong)n;
            ready[level] += (ulong)n;
        }
        m.TasksSpawned = (ulong)spawned;
        m.TasksCompleted = (ulong)completed;
        m.TasksCancelled = (ulong)Math.Max(0, finished - completed);
        m.TasksAlive = (ulong)Math.Max(0, spawned - finished);
        m.Unparks = (ulong)Volatile.Read(ref Counters.Unparks);
        m.ReadyUserInteractive = ready[Priority.UserInteractive];
        m.ReadyUserInitiated = ready[Priority.UserInitiated];
        m.ReadyUtility = ready[Priority.Utility];
        m.ReadyBackground = ready[Priority.Background];
        m.IoInFlight = (ulong)Math.Max(0, Volatile.Read(ref Counters.IoInFlight));
        m.TimersPending = (ulong)Timers.Pending;
    }
}
