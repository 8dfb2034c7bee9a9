namespace Luminal.Observe;

/// <summary>luminal_thread_kind.</summary>
enum ThreadKind { Worker = 0, Blocking = 1, Io = 2 }

/// <summary>luminal_task_event.</summary>
enum TaskEvent { Spawned = 0, PollStart = 1, PollEnd = 2, Completed = 3, Cancelled = 4 }

/// <summary>What luminal_runtime_options asks a runtime to report to (the observability fields), read by the export.</summary>
sealed unsafe class Observers
{
    public delegate* unmanaged<void*, int, byte*, void> Log;
    public void* LogUser;
    public int LogLevel;
    public bool DebugPlugins;
    public delegate* unmanaged<void*, int, uint, void> OnThreadStart, OnThreadStop;
    public void* ThreadHookUser;
    public delegate* unmanaged<void*, int, ulong, uint, ulong, int, void> TaskHook;
    public void* TaskHookUser;
}
