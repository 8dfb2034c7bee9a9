// The benchmark workloads on .NET's ThreadPool: Task.Run, async/await, Task.Yield (after tokio's
// benches/rt_multi_threaded.rs; see ../rust-tokio for the reference). The pool is pinned to BENCH_WORKERS threads.
// Prints one line per workload: `name<TAB>value<TAB>reps` (value: median ns per op unless the name says otherwise).
// Usage: bench-dotnet [workload...]; env BENCH_REPS, BENCH_WARMUP, BENCH_WORKERS.
// BENCH_DOTNET_ITEMS=1 (run.sh's `dotnet-items` peer) runs the spawn workloads as plain ThreadPool work items
// instead (WorkItems.cs): no Task, no await, no join — the floor a runtime's spawn path is compared against.
using System.Diagnostics;

static class Bench
{
    const int NumSpawn = 10_000, NumYield = 1_000, Tasks = 200, NumPings = 1_000, Chain = 1_000,
        Pending = 1_000_000, LatencySamples = 2_000;
    static readonly int Warmup = Env("BENCH_WARMUP", 3), Reps = Env("BENCH_REPS", 15), Workers = Env("BENCH_WORKERS", 2);
    static readonly SemaphoreSlim Done = new(0); // tasks signal the main thread (the Rust programs' mpsc channel)
    static int _rem;                              // tasks left before the last one signals Done
    static volatile bool _busy;

    // Stopwatch ticks are nanoseconds on Linux; TimeSpan (GetElapsedTime) would round to 100 ns.
    static double ElapsedNs(long t0) => (Stopwatch.GetTimestamp() - t0) * 1e9 / Stopwatch.Frequency;

    static int Env(string name, int dflt) => int.TryParse(Environment.GetEnvironmentVariable(name), out int v) ? v : dflt;

    /// <summary>Runs f Warmup times, then Reps times; prints the median of (elapsed ns / ops).</summary>
    internal static void Measure(string name, int ops, Action f)
    {
        for (int i = 0; i < Warmup; i++) f();
        var v = new double[Reps];
        for (int i = 0; i < Reps; i++)
        {
            long t = Stopwatch.GetTimestamp();
            f();
            v[i] = ElapsedNs(t) / ops;
        }
        Array.Sort(v);
        Console.WriteLine($"{name}\t{v[Reps / 2]:F1}\t{Reps}");
    }

    static void CountDown()
    {
        if (Interlocked.Decrement(ref _rem) == 0) Done.Release();
    }

    static void SpawnManyLocal()
    {
        _rem = NumSpawn;
        Task.Run(() => { for (int i = 0; i < NumSpawn; i++) Task.Run(CountDown); });
        Done.Wait();
    }

    static void SpawnManyRemote()
    {
        var tasks = new Task[NumSpawn];
        for (int i = 0; i < NumSpawn; i++) tasks[i] = Task.Run(static () => { });
        Task.WaitAll(tasks);
    }

    static void SpawnManyRemoteBusy()
    {
        _busy = true; // keep every worker busy with tasks that yield in a loop
        for (int i = 0; i < 2 * Workers; i++) Task.Run(async () => { while (_busy) await Task.Yield(); });
        Measure("spawn_many_remote_busy", NumSpawn, SpawnManyRemote);
        _busy = false;
    }

    static void YieldMany()
    {
        for (int i = 0; i < Tasks; i++)
            Task.Run(async () =>
            {
                for (int y = 0; y < NumYield; y++) await Task.Yield();
                Done.Release();
            });
        for (int i = 0; i < Tasks; i++) Done.Wait();
    }

    // A TaskCompletionSource is the one-shot channel; RunContinuationsAsynchronously makes SetResult schedule the
    // waiting task (as a waker does) instead of running it inline.
    static async Task Ping()
    {
        var ping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () => { await ping.Task; pong.SetResult(); });
        ping.SetResult();
        await pong.Task;
        CountDown();
    }

    static void PingPong()
    {
        _rem = NumPings;
        Task.Run(() => { for (int i = 0; i < NumPings; i++) Task.Run(Ping); });
        Done.Wait();
    }

    static void ChainStep(int n)
    {
        if (n == 0) Done.Release();
        else Task.Run(() => ChainStep(n - 1));
    }

    static void ChainedSpawn()
    {
        Task.Run(() => ChainStep(Chain));
        Done.Wait();
    }

    static void SpawnJoin()
    {
        var all = new long[(Warmup + Reps) * LatencySamples];
        Task.Run(async () =>
        {
            for (int i = 0; i < all.Length; i++)
            {
                long t = Stopwatch.GetTimestamp();
                await Task.Run(static () => { });
                all[i] = (long)ElapsedNs(t);
            }
        }).Wait();
        long[] v = all[(Warmup * LatencySamples)..];
        Array.Sort(v);
        Console.WriteLine($"spawn_join_p50_ns\t{v[v.Length / 2]}\t{Reps}");
        Console.WriteLine($"spawn_join_p99_ns\t{v[v.Length * 99 / 100]}\t{Reps}");
    }

    static long Rss()
    {
        GC.Collect(); // count live objects, not garbage waiting for a collection
        GC.WaitForPendingFinalizers();
        return long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1]) * Environment.SystemPageSize;
    }

    static void PendingTaskBytes()
    {
        int polled = 0;
        Task never = new TaskCompletionSource().Task;
        long before = Rss();
        for (int i = 0; i < Pending; i++)
            Task.Run(async () => { Interlocked.Increment(ref polled); await never; });
        while (Volatile.Read(ref polled) < Pending) Thread.Sleep(1);
        Console.WriteLine($"pending_task_bytes\t{(Rss() - before) / Pending}\t1");
    }

    static void IdleCpu()
    {
        Task.Run(static () => { }).Wait(); // wake the workers once, then leave them idle
        var v = new long[3];
        for (int i = 0; i < 3; i++)
        {
            TimeSpan c = Process.GetCurrentProcess().TotalProcessorTime;
            long t = Stopwatch.GetTimestamp();
            Thread.Sleep(1000);
            v[i] = (long)((Process.GetCurrentProcess().TotalProcessorTime - c).TotalMicroseconds * 1e6 /
                          (ElapsedNs(t) / 1000));
        }
        Array.Sort(v);
        Console.WriteLine($"idle_cpu_us_per_s\t{v[1]}\t3");
    }

    static void Main(string[] args)
    {
        if (!ThreadPool.SetMinThreads(Workers, Workers) || !ThreadPool.SetMaxThreads(Workers, Workers))
            throw new Exception($"cannot pin the ThreadPool to {Workers} threads");
        var all = new (string Name, Action Run)[]
        {
            ("spawn_many_local", () => Measure("spawn_many_local", NumSpawn, SpawnManyLocal)),
            ("spawn_many_remote_idle", () => Measure("spawn_many_remote_idle", NumSpawn, SpawnManyRemote)),
            ("spawn_many_remote_busy", SpawnManyRemoteBusy),
            ("yield_many", () => Measure("yield_many", Tasks * NumYield, YieldMany)),
            ("ping_pong", () => Measure("ping_pong", NumPings, PingPong)),
            ("chained_spawn", () => Measure("chained_spawn", Chain, ChainedSpawn)),
            ("spawn_join", SpawnJoin),
            ("pending_task_bytes", PendingTaskBytes),
            ("idle_cpu", IdleCpu),
        };
        if (Environment.GetEnvironmentVariable("BENCH_DOTNET_ITEMS") == "1") all = WorkItems.Workloads(Measure, Workers);
        foreach (var (name, run) in all)
            if (args.Length == 0 || args.Contains(name)) run();
    }
}
