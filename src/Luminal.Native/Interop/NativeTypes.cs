using System;
using System.Runtime.InteropServices;

namespace Luminal.Interop;

/// <summary>Marks a C# struct as the mirror of a struct in include/luminal.h; the ABI check compares the two.</summary>
[AttributeUsage(AttributeTargets.Struct)]
sealed class CStructAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>luminal_future, passed by value: the runtime owns it from the moment it is handed over.</summary>
[CStruct("luminal_future")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeFuture
{
    public void* State;
    public delegate* unmanaged<void*, void*, void**, int> Poll;
    public delegate* unmanaged<void*, void> Drop;
    public delegate* unmanaged<void*, void> DropOutput;
}

/// <summary>luminal_runtime_options. Read only the fields that struct_size covers (older callers).</summary>
[CStruct("luminal_runtime_options")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeRuntimeOptions
{
    public nuint StructSize;
    public uint WorkerThreads;
    public byte* ThreadName;
    public uint MaxBlockingThreads;
    public uint BlockingKeepAliveMs;
    public int IoBackend; // a luminal_io_backend (a C enum: int-sized)
    // Observability: see Observe/Observers.cs.
    public delegate* unmanaged<void*, int, byte*, void> Log;
    public void* LogUser;
    public int LogLevel;
    public int DebugPlugins;
    public delegate* unmanaged<void*, int, uint, void> OnThreadStart;
    public delegate* unmanaged<void*, int, uint, void> OnThreadStop;
    public void* ThreadHookUser;
    public delegate* unmanaged<void*, int, ulong, uint, ulong, int, void> TaskHook;
    public void* TaskHookUser;
    // Current-thread runtimes, the paused clock and seeded runs.
    public int Flavor;    // a luminal_flavor
    public int Clock;     // a luminal_clock
    public ulong Seed;
}

/// <summary>luminal_spawn_options. Read only the fields that struct_size covers (older callers).</summary>
[CStruct("luminal_spawn_options")]
[StructLayout(LayoutKind.Sequential)]
struct NativeSpawnOptions
{
    public nuint StructSize;
    public nint Scope;
    public int Priority;
}

/// <summary>luminal_scope_counters (luminal_scope_stats fills it), up to the caller's struct_size.</summary>
[CStruct("luminal_scope_counters")]
[StructLayout(LayoutKind.Sequential)]
struct NativeScopeStats
{
    public nuint StructSize;
    public ulong Live;
    public ulong Spawned;
    public ulong Completed;
    public ulong Cancelled;
    public ulong Polls;  // CPU use
    public ulong PollNs;
}

/// <summary>luminal_runtime_metrics (luminal_runtime_get_metrics fills it), up to the caller's struct_size.</summary>
[CStruct("luminal_runtime_metrics")]
[StructLayout(LayoutKind.Sequential)]
struct NativeRuntimeMetrics
{
    public nuint StructSize;
    public uint Workers;
    public uint BlockingThreads;
    public uint BlockingIdle;
    public uint BlockingMax;
    public ulong TasksSpawned;
    public ulong TasksCompleted;
    public ulong TasksCancelled;
    public ulong TasksAlive;
    public ulong Polls;
    public ulong Steals;
    public ulong Parks;
    public ulong Unparks;
    public ulong InjectorDepth;
    public ulong LocalQueueDepth;
    public ulong ReadyUserInteractive;
    public ulong ReadyUserInitiated;
    public ulong ReadyUtility;
    public ulong ReadyBackground;
    public ulong BlockingQueueDepth;
    public ulong IoInFlight;
    public ulong TimersPending;
    public ulong BusyNs;
    public ulong ParkedNs;
}

/// <summary>luminal_worker_metrics (luminal_runtime_get_worker_metrics fills it), up to the caller's struct_size.</summary>
[CStruct("luminal_worker_metrics")]
[StructLayout(LayoutKind.Sequential)]
struct NativeWorkerMetrics
{
    public nuint StructSize;
    public ulong Polls;
    public ulong Steals;
    public ulong Parks;
    public ulong QueueDepth;
    public ulong BusyNs;
    public ulong ParkedNs;
}

/// <summary>luminal_channel_options. Read only the fields that struct_size covers (older callers).</summary>
[CStruct("luminal_channel_options")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeChannelOptions
{
    public nuint StructSize;
    public nuint Capacity;
    public delegate* unmanaged<void*, void> DropMessage;
}

/// <summary>luminal_plugin_host: written by the library (native memory, one per plugin), read by the plugin.</summary>
[CStruct("luminal_plugin_host")]
[StructLayout(LayoutKind.Sequential)]
struct NativePluginHost
{
    public nuint StructSize;
    public uint AbiVersion;
    public nint Runtime;
    public nint Scope;
    public nint HostData;
}
