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
