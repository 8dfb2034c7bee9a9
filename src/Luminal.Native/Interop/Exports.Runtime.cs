using System.Runtime.CompilerServices;
using System;
using System.Runtime.InteropServices;
using Luminal.Handles;

namespace Luminal.Interop;

static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_new")]
    static int RuntimeNew(NativeRuntimeOptions* opts, nint* outRuntime)
    {
        try
        {
            if (outRuntime == null) return (int)Status.InvalidArgument;
            *outRuntime = 0;
            uint workers = 0, maxBlocking = 0, keepAliveMs = 0;
            int ioBackend = 0, flavor = 0, clock = 0;
            ulong seed = 0;
            string name = "luminal-w"; // short: Linux keeps 15 bytes of a thread name, "luminal-w-1023" fits
            Observe.Observers? observers = null;
            if (opts != null)
            {
                // struct_size tells which fields an (older or newer) caller's struct has.
                nuint size = opts->StructSize;
                if (size < (nuint)sizeof(nuint)) return (int)Status.InvalidArgument;
                if (size >= (nuint)(Marshal.OffsetOf<NativeRuntimeOptions>(nameof(NativeRuntimeOptions.WorkerThreads)) + sizeof(uint)))
                    workers = opts->WorkerThreads;
                if (size >= (nuint)(Marshal.OffsetOf<NativeRuntimeOptions>(nameof(NativeRuntimeOptions.ThreadName)) + sizeof(nint))
                    && opts->ThreadName != null)
                    name = Marshal.PtrToStringUTF8((nint)opts->ThreadName) ?? name;
                if (Covers(size, nameof(NativeRuntimeOptions.MaxBlockingThreads))) maxBlocking = opts->MaxBlockingThreads;
                if (Covers(size, nameof(NativeRuntimeOptions.BlockingKeepAliveMs))) keepAliveMs = opts->BlockingKeepAliveMs;
                if (Covers(size, nameof(NativeRuntimeOptions.IoBackend))) ioBackend = opts->IoBackend;
                observers = ReadObservers(opts, size);
                if (observers is not null && observers.LogLevel is < 0 or > 4) return (int)Status.InvalidArgument;
                if (Covers(size, nameof(NativeRuntimeOptions.DebugPlugins)) && opts->DebugPlugins is not (0 or 1))
                    return (int)Status.InvalidArgument;
                if (Covers(size, nameof(NativeRuntimeOptions.Flavor))) flavor = opts->Flavor;
                if (Covers(size, nameof(NativeRuntimeOptions.Clock))) clock = opts->Clock;
                if (size >= (nuint)(Marshal.OffsetOf<NativeRuntimeOptions>(nameof(NativeRuntimeOptions.Seed)) + sizeof(ulong)))
                    seed = opts->Seed;
            }
            if (ioBackend is < 0 or > 2 || flavor is < 0 or > 1 || clock is < 0 or > 1) return (int)Status.InvalidArgument;
            // The paused clock and seeded order need the one driving thread of a current-thread runtime.
            if (flavor == 0 && (clock != 0 || seed != 0)) return (int)Status.InvalidArgument;
            // io_uring demanded: fail now, not at the first IO operation.
            if (Io.IoBackend.Requested((uint)ioBackend) == Io.IoBackend.UringKind && !Io.Uring.Ring.IsAvailable())
                return (int)Status.Unsupported; // also when LUMINAL_IO_BACKEND=uring demands it
            if (workers > Runtime.MaxWorkers || maxBlocking > 65536) return (int)Status.InvalidArgument;
            if (workers == 0) workers = (uint)Math.Max(1, Environment.ProcessorCount);
            if (maxBlocking == 0) maxBlocking = 512;
            if (keepAliveMs == 0) keepAliveMs = 10_000;
            if (flavor == 1)
            {
                *outRuntime = (nint)Runtime.CreateCurrentThread(paused: clock == 1, seed, (int)maxBlocking,
                    (int)Math.Min(keepAliveMs, int.MaxValue), (uint)ioBackend, observers);
                return (int)Status.Ok;
            }
            *outRuntime = (nint)Runtime.Create((int)workers, name, (int)maxBlocking, (int)Math.Min(keepAliveMs, int.MaxValue), (uint)ioBackend, observers);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_clone")]
    static nint RuntimeClone(nint rt)
    {
        try
        {
            return ResolveRuntime(rt, out Runtime runtime) == Status.Ok ? (nint)runtime.AddOwner() : 0;
        }
        catch { return 0; } // NULL: no handle was made (the table is full)
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_release")]
    static void RuntimeRelease(nint rt)
    {
        try
        {
            // Inherited across fork: the handle goes, the runtime's memory stays behind (its threads are gone, so
            // nothing could shut it down), and the call returns at once.
            if (RuntimeHandles.Release((ulong)rt) is Runtime runtime && !runtime.IsForked) runtime.RemoveOwner();
        }
        catch { /* void export: nothing to report; the handle is invalid from the first step on */ }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_shutdown")]
    static int RuntimeShutdown(nint rt, ulong timeoutNs)
    {
        try
        {
            Status s = ResolveRuntime(rt, out Runtime runtime);
            return s == Status.Ok ? (int)runtime.Shutdown(timeoutNs) : (int)s;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_worker_count")]
    static uint RuntimeWorkerCount(nint rt)
    {
        try
        {
            if (ResolveRuntime(rt, out Runtime runtime) != Status.Ok) return 0;
            // A current-thread runtime's driving thread counts as its one worker (as in tokio): 0 stays "bad handle".
            return runtime.CurrentThread is null ? (uint)runtime.Workers.Length : 1;
        }
        catch { return 0; } // documented: 0 for a handle it cannot use
    }

    /// <summary>The observability fields a caller's options struct of <paramref name="size"/> bytes has, or
    /// null if it has none (an older caller).</summary>
    static Observe.Observers? ReadObservers(NativeRuntimeOptions* opts, nuint size)
    {
        if (!CoversPointer(size, nameof(NativeRuntimeOptions.Log))) return null;
        var o = new Observe.Observers { Log = opts->Log };
        if (CoversPointer(size, nameof(NativeRuntimeOptions.LogUser))) o.LogUser = opts->LogUser;
        if (Covers(size, nameof(NativeRuntimeOptions.LogLevel))) o.LogLevel = opts->LogLevel;
        if (Covers(size, nameof(NativeRuntimeOptions.DebugPlugins))) o.DebugPlugins = opts->DebugPlugins == 1;
        if (CoversPointer(size, nameof(NativeRuntimeOptions.OnThreadStart))) o.OnThreadStart = opts->OnThreadStart;
        if (CoversPointer(size, nameof(NativeRuntimeOptions.OnThreadStop))) o.OnThreadStop = opts->OnThreadStop;
        if (CoversPointer(size, nameof(NativeRuntimeOptions.ThreadHookUser))) o.ThreadHookUser = opts->ThreadHookUser;
        if (CoversPointer(size, nameof(NativeRuntimeOptions.TaskHook))) o.TaskHook = opts->TaskHook;
        if (CoversPointer(size, nameof(NativeRuntimeOptions.TaskHookUser))) o.TaskHookUser = opts->TaskHookUser;
        return o;
    }

    static bool CoversPointer(nuint size, string field) =>
        size >= (nuint)(Marshal.OffsetOf<NativeRuntimeOptions>(field) + sizeof(nint));

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_get_metrics")]
    static int RuntimeGetMetrics(nint rt, NativeRuntimeMetrics* outMetrics)
    {
        try
        {
            if (outMetrics == null) return (int)Status.InvalidArgument;
            nuint size = outMetrics->StructSize;
            if (size < (nuint)sizeof(nuint)) return (int)Status.InvalidArgument;
            // A runtime inherited across fork has no threads, but its counters are readable: still, the rule is FORKED.
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            runtime.ReadMetrics(out NativeRuntimeMetrics m);
            m.StructSize = size;
            Buffer.MemoryCopy(&m, outMetrics, (long)size, (long)Math.Min(size, (nuint)sizeof(NativeRuntimeMetrics)));
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_runtime_get_worker_metrics")]
    static int RuntimeGetWorkerMetrics(nint rt, uint index, NativeWorkerMetrics* outMetrics)
    {
        try
        {
            if (outMetrics == null) return (int)Status.InvalidArgument;
            nuint size = outMetrics->StructSize;
            if (size < (nuint)sizeof(nuint)) return (int)Status.InvalidArgument;
            Status s = ResolveRuntime(rt, out Runtime runtime);
            if (s != Status.Ok) return (int)s;
            if (index >= (uint)runtime.Workers.Length) return (int)Status.InvalidArgument;
            Scheduler.Worker w = runtime.Workers[index];
            w.Times(Time.Clock.NowNs(), out ulong busy, out ulong parked);
            NativeWorkerMetrics m = new()
            {
                StructSize = size,
                Polls = (ulong)System.Threading.Volatile.Read(ref w.Counted.Polls),
                Steals = (ulong)System.Threading.Volatile.Read(ref w.Counted.Steals),
                Parks = (ulong)System.Threading.Volatile.Read(ref w.Counted.Parks),
                QueueDepth = (ulong)w.QueueDepth(),
                BusyNs = busy,
                ParkedNs = parked,
            };
            Buffer.MemoryCopy(&m, outMetrics, (long)size, (long)Math.Min(size, (nuint)sizeof(NativeWorkerMetrics)));
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>Does a caller's options struct of <paramref name="size"/> bytes contain this (4-byte) field?</summary>
    static bool Covers(nuint size, string field) =>
        size >= (nuint)(Marshal.OffsetOf<NativeRuntimeOptions>(field) + sizeof(uint));

    /// <summary>Resolves a runtime argument: NULL → InvalidArgument, stale/foreign → InvalidHandle, inherited across
    /// fork → Forked. Every export that takes a luminal_runtime* goes through here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Status ResolveRuntime(nint rt, out Runtime runtime)
    {
        runtime = null!;
        if (rt == 0) return Status.InvalidArgument;
        if (RuntimeHandles.Resolve((ulong)rt) is not Runtime r) return Status.InvalidHandle;
        if (r.IsForked) return Status.Forked;
        runtime = r;
        return Status.Ok;
    }
}
