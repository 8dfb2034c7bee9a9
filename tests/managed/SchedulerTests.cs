using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Tasks;
using NUnit.Framework;
using static Luminal.Tests.TestSupport;

namespace Luminal.Tests;

/// <summary>
/// The scheduler in-process: futures are C# [UnmanagedCallersOnly] functions, exactly what a C caller hands over.
/// Each test uses its own runtime and its own counters (tests in this fixture do not run in parallel).
/// </summary>
[NonParallelizable]
public unsafe class SchedulerTests
{
    static int _polls, _drops;
    static readonly ConcurrentQueue<int> Log = new();
    static readonly ConcurrentBag<ulong> Wakers = new();

    [SetUp]
    public void Reset()
    {
        _polls = _drops = 0;
        Log.Clear();
        Wakers.Clear();
    }

    sealed class Rt : IDisposable
    {
        public readonly ulong Token;
        public readonly Runtime R;
        public Rt(int workers)
        {
            Token = Runtime.Create(workers, "test");
            R = RuntimeHandles.Resolve(Token)!;
        }
        public void Dispose() => RuntimeHandles.Release(Token)?.RemoveOwner();
    }

    static NativeFuture Future(delegate* unmanaged<void*, void*, void**, int> poll, nint state = 0) => new()
    {
        State = (void*)state,
        Poll = poll,
        Drop = &CountDrop,
    };

    [UnmanagedCallersOnly] static void CountDrop(void* s) => Interlocked.Increment(ref _drops);

    /// <summary>Returns its state doubled.</summary>
    [UnmanagedCallersOnly]
    static int Double(void* s, void* cx, void** output)
    {
        Interlocked.Increment(ref _polls);
        *output = (void*)((nint)s * 2);
        return 1;
    }

    /// <summary>Logs its id (the state's low bits) and yields until it has run (state >> 16) times.</summary>
    [UnmanagedCallersOnly]
    static int LogAndYield(void* s, void* cx, void** output)
    {
        nint id = (nint)s & 0xFFFF;
        Log.Enqueue((int)id);
        int runs = Log.Count(x => x == id);
        if (runs >= (int)((nint)s >> 16)) return 1;
        Waker.Wake(TestSupport.WakerOf(cx));
        return 0;
    }


    /// <summary>Pends forever, publishing its waker so foreign threads can wake it; completes after state wakes.</summary>
    [UnmanagedCallersOnly]
    static int CountWakes(void* s, void* cx, void** output)
    {
        int polls = Interlocked.Increment(ref _polls);
        Wakers.Add(TestSupport.WakerOf(cx));
        return 0;
    }

    /// <summary>Yields forever (a busy task).</summary>
    [UnmanagedCallersOnly]
    static int Spin(void* s, void* cx, void** output)
    {
        Interlocked.Increment(ref _polls);
        Waker.Wake(TestSupport.WakerOf(cx));
        return 0;
    }

    static RawTask Task(ulong token, out uint generation) => RawTask.FromToken(token, Token.Task, out generation)!.Value;


    [Test]
    public void ManyTasksFromOutsideAllRunOnceAndAreDroppedOnce()
    {
        using var rt = new Rt(2);
        const int n = 20_000;
        var tokens = new ulong[n];
        for (int i = 0; i < n; i++)
            Assert.That(rt.R.Spawn(Future(&Double, i), null, true, null, out tokens[i]), Is.EqualTo(Status.Ok));
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            Assert.That(Join(tokens[i], out nint o), Is.EqualTo(Status.Ok));
            sum += o;
        }
        Assert.That(sum, Is.EqualTo((long)n * (n - 1)));
        Assert.That(_polls, Is.EqualTo(n));
        Assert.That(_drops, Is.EqualTo(n));
    }

    [Test]
    public void AYieldingTaskGoesBehindTheOthers()
    {
        using var rt = new Rt(1);
        // Hold the only worker so A and B are queued in order before either runs.
        rt.R.Spawn(Future(&WaitGate), null, false, null, out _);
        rt.R.Spawn(Future(&LogAndYield, (3 << 16) | 1), null, true, null, out ulong a);
        rt.R.Spawn(Future(&LogAndYield, (3 << 16) | 2), null, true, null, out ulong b);
        Gate.Release();
        Assert.That(Join(a, out _), Is.EqualTo(Status.Ok));
        Assert.That(Join(b, out _), Is.EqualTo(Status.Ok));
        Assert.That(Log.ToArray(), Is.EqualTo(new[] { 1, 2, 1, 2, 1, 2 }));
    }

    [Test]
    public void WakesFromForeignThreadsArriveAndStaleWakersAreHarmless()
    {
        using var rt = new Rt(2);
        const int n = 100;
        var tokens = new ulong[n];
        for (int i = 0; i < n; i++) rt.R.Spawn(Future(&CountWakes), null, true, null, out tokens[i]);
        SpinWait.SpinUntil(() => Volatile.Read(ref _polls) >= n, 10_000);
        Assert.That(_polls, Is.EqualTo(n));
        ulong[] wakers = Wakers.Distinct().ToArray();
        Assert.That(wakers, Has.Length.EqualTo(n));
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (int round = 0; round < 50; round++) foreach (ulong w in wakers) Waker.Wake(w);
        })).ToArray();
        foreach (Thread t in threads) t.Start();
        foreach (Thread t in threads) t.Join();
        // Every task was polled again at least once, and never more than once per wake.
        SpinWait.SpinUntil(() => Volatile.Read(ref _polls) >= 2 * n, 10_000);
        Assert.That(_polls, Is.InRange(2 * n, n + 4 * 50 * n));
        foreach (ulong token in tokens) Task(token, out uint g).RequestAbort(g);
        foreach (ulong token in tokens) Assert.That(Join(token, out _), Is.EqualTo(Status.Cancelled));
        Assert.That(_drops, Is.EqualTo(n));
        int polls = _polls;
        foreach (ulong w in wakers) Waker.Wake(w); // stale now: nothing happens
        Thread.Sleep(20);
        Assert.That(_polls, Is.EqualTo(polls));
    }

    [Test]
    public void ShutdownWhileTasksRunDropsEveryFutureOnce()
    {
        var rt = new Rt(2);
        const int spinners = 50, sleepers = 500, queued = 500;
        var tokens = new ulong[spinners + sleepers + queued];
        int k = 0;
        for (int i = 0; i < spinners; i++) rt.R.Spawn(Future(&Spin), null, true, null, out tokens[k++]);
        for (int i = 0; i < sleepers; i++) rt.R.Spawn(Future(&CountWakes), null, true, null, out tokens[k++]);
        rt.R.Spawn(Future(&WaitGate), null, false, null, out _);
        rt.R.Spawn(Future(&WaitGate), null, false, null, out _);
        for (int i = 0; i < queued; i++) rt.R.Spawn(Future(&Double, i), null, true, null, out tokens[k++]);
        Thread.Sleep(10);
        var shutdown = new Thread(() => Assert.That(rt.R.Shutdown(ulong.MaxValue), Is.EqualTo(Status.Ok)));
        shutdown.Start();
        Thread.Sleep(10);
        Gate.Release(2);
        shutdown.Join();
        Assert.That(rt.R.Spawn(Future(&Double), null, true, null, out _), Is.EqualTo(Status.Shutdown));
        int cancelled = 0, completed = 0;
        foreach (ulong token in tokens)
        {
            Status s = Join(token, out _, 0);
            Assert.That(s, Is.EqualTo(Status.Ok).Or.EqualTo(Status.Cancelled));
            if (s == Status.Ok) completed++; else cancelled++;
        }
        Assert.That(cancelled, Is.GreaterThanOrEqualTo(spinners + sleepers));
        // Every spawned future (tasks above, the two gate tasks, the refused spawn) was dropped exactly once.
        Assert.That(_drops, Is.EqualTo(tokens.Length + 2 + 1));
        rt.Dispose();
    }

    [Test]
    public void IdleWorkersPark()
    {
        using var rt = new Rt(2);
        rt.R.Spawn(Future(&Double, 1), null, true, null, out ulong t);
        Assert.That(Join(t, out _), Is.EqualTo(Status.Ok));
        Assert.That(SpinWait.SpinUntil(() => rt.R.Idle.UnparkedCount == 0, 10_000), "both workers parked");
    }
}
