using System.Collections.Concurrent;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Scheduler;
using Luminal.Tasks;
using NUnit.Framework;
using static Luminal.Tests.TestSupport;

namespace Luminal.Tests;

/// <summary>Priority order, inheritance and the blocking pool, in-process.</summary>
[NonParallelizable]
public unsafe class PriorityTests
{
    static readonly ConcurrentQueue<int> Log = new();
    static int _childPriority = -1;
    static ulong _childToken;
    static int _running;

    [SetUp]
    public void Reset()
    {
        Log.Clear();
        _childPriority = -1;
        _running = 0;
    }

    static (ulong Token, Runtime R) NewRuntime(int workers, int maxBlocking = 512, int keepAliveMs = 10_000)
    {
        ulong token = Runtime.Create(workers, "prio", maxBlocking, keepAliveMs);
        return (token, RuntimeHandles.Resolve(token)!);
    }

    static void Release(ulong token) => RuntimeHandles.Release(token)?.RemoveOwner();

    [UnmanagedCallersOnly]
    static int LogId(void* s, void* cx, void** output)
    {
        Log.Enqueue((int)(nint)s);
        return 1;
    }


    /// <summary>Spawns a child from inside the task, like luminal_context_spawn, and records its priority.</summary>
    [UnmanagedCallersOnly]
    static int SpawnChild(void* s, void* cx, void** output)
    {
        Runtime rt = TestSupport.RuntimeOf(cx);
        RawTask parent = RawTask.FromToken(TestSupport.WakerOf(cx), Token.Waker, out _)!.Value;
        NativeFuture f = default;
        f.Poll = &LogId;
        rt.Spawn(f, null, true, rt.CurrentWorker(), out ulong child, parent.Scope, parent.Priority);
        _childToken = child;
        _childPriority = RawTask.FromToken(child, Token.Task, out _)!.Value.Priority;
        return 1;
    }

    [UnmanagedCallersOnly]
    static void* BlockOnGate(void* arg)
    {
        Interlocked.Increment(ref _running);
        Gate.Wait();
        return arg;
    }

    static ulong Spawn(Runtime rt, delegate* unmanaged<void*, void*, void**, int> poll, nint state, int level)
    {
        NativeFuture f = default;
        f.State = (void*)state;
        f.Poll = poll;
        Assert.That(rt.Spawn(f, null, true, null, out ulong token, null, level), Is.EqualTo(Status.Ok));
        return token;
    }


    [Test]
    public void QueuedTasksRunMostUrgentFirstAndFifoWithinALevel()
    {
        var (token, rt) = NewRuntime(1);
        try
        {
            // Hold the only worker so everything below is queued before anything runs.
            ulong gate = Spawn(rt, &WaitGate, 0, Priority.UserInitiated);
            int[] levels = { 3, 2, 1, 0, 3, 0, 2, 1 };
            ulong[] tokens = levels.Select((level, id) => Spawn(rt, &LogId, id, level)).ToArray();
            Gate.Release();
            foreach (ulong t in tokens.Append(gate)) Assert.That(Join(t, out _), Is.EqualTo(Status.Ok));
            int[] expected = Enumerable.Range(0, levels.Length).OrderBy(id => levels[id]).ThenBy(id => id).ToArray();
            Assert.That(Log.ToArray(), Is.EqualTo(expected));
        }
        finally { Release(token); }
    }

    [Test]
    public void SpawnFromATaskInheritsItsPriority([Values(0, 3)] int level)
    {
        var (token, rt) = NewRuntime(2);
        try
        {
            Assert.That(Join(Spawn(rt, &SpawnChild, 0, level), out _), Is.EqualTo(Status.Ok));
            Assert.That(_childPriority, Is.EqualTo(level));
            Assert.That(Join(_childToken, out _), Is.EqualTo(Status.Ok));
        }
        finally { Release(token); }
    }

    [Test]
    public void BlockingPoolGrowsToItsCapQueuesTheRestAndShrinksWhenIdle()
    {
        var (token, rt) = NewRuntime(1, maxBlocking: 2, keepAliveMs: 50);
        try
        {
            var tokens = new ulong[6];
            NativeFuture f = default;
            for (int i = 0; i < tokens.Length; i++)
            {
                f.State = (void*)(nint)(i + 1);
                Assert.That(rt.Spawn(f, &BlockOnGate, true, null, out tokens[i], blocking: true), Is.EqualTo(Status.Ok));
            }
            Assert.That(SpinWait.SpinUntil(() => Volatile.Read(ref _running) == 2, 10_000), "two calls running");
            Thread.Sleep(20);
            Assert.That(Volatile.Read(ref _running), Is.EqualTo(2), "no third thread past the cap");
            Assert.That(rt.Blocking.ThreadCount, Is.EqualTo(2));
            Assert.That(rt.Blocking.Queued, Is.EqualTo(4));
            Gate.Release(tokens.Length);
            for (int i = 0; i < tokens.Length; i++)
            {
                Assert.That(Join(tokens[i], out nint o), Is.EqualTo(Status.Ok));
                Assert.That(o, Is.EqualTo((nint)(i + 1)));
            }
            Assert.That(SpinWait.SpinUntil(() => rt.Blocking.ThreadCount == 0, 10_000), "idle threads exit");
        }
        finally { Release(token); }
    }

    [Test]
    public void BlockingCallsDoNotOccupyWorkers()
    {
        var (token, rt) = NewRuntime(1, maxBlocking: 4);
        try
        {
            NativeFuture f = default;
            var blocking = new ulong[3];
            for (int i = 0; i < blocking.Length; i++)
                rt.Spawn(f, &BlockOnGate, true, null, out blocking[i], blocking: true);
            // The only worker is free: an ordinary task completes while all three blocking calls wait.
            Assert.That(Join(Spawn(rt, &LogId, 7, Priority.UserInitiated), out _), Is.EqualTo(Status.Ok));
            Assert.That(Log.ToArray(), Is.EqualTo(new[] { 7 }));
            Gate.Release(blocking.Length);
            foreach (ulong t in blocking) Assert.That(Join(t, out _), Is.EqualTo(Status.Ok));
        }
        finally { Release(token); }
    }
}
