using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Tasks;

namespace Luminal.Tests;

/// <summary>What the in-process scheduler tests share: joining by token and a gate that holds a worker.</summary>
static unsafe class TestSupport
{
    /// <summary>Released by a test to let <see cref="WaitGate"/> tasks finish.</summary>
    public static readonly SemaphoreSlim Gate = new(0);

    /// <summary>A future that blocks its worker until the test opens the gate (to line tasks up behind it).</summary>
    [UnmanagedCallersOnly]
    public static int WaitGate(void* s, void* cx, void** output)
    {
        Gate.Wait();
        return 1;
    }

    /// <summary>The waker of the poll a luminal_context token names (what luminal_context_waker returns).</summary>
    public static ulong WakerOf(void* cx) => Context.TryGetWaker((ulong)cx, out _, out ulong w) ? w : 0;

    /// <summary>The runtime of the poll a luminal_context token names.</summary>
    public static Runtime RuntimeOf(void* cx) => Context.TryGetWaker((ulong)cx, out Context? c, out _) ? c!.Runtime! : null!;

    /// <summary>Waits for a task, takes its output and releases the handle (like luminal_task_join + release).</summary>
    public static Status Join(ulong token, out nint output, int timeoutMs = 30_000)
    {
        RawTask t = RawTask.FromToken(token, Token.Task, out uint gen)!.Value;
        output = 0;
        if (!t.WaitFinished(gen, timeoutMs)) return Status.TimedOut;
        void* o;
        Status s = t.TakeOutput(gen, &o);
        output = (nint)o;
        t.ReleaseHandle(gen);
        return s;
    }
}
