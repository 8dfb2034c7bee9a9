using System.Runtime.InteropServices;
using Luminal.Interop;
using Microsoft.Coyote.Rewriting;

namespace Luminal.Coyote;

/// <summary>
/// A test future's state, in native memory so the C-style callbacks can reach it: what the future does when
/// polled and what happened to it. The callbacks record; the test asserts after the race.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
unsafe struct Probe
{
    public int ReadyAfter; // the poll that returns READY (1 = the first); 0 = only when Event is set
    public int Event;      // set by the test's "IO" thread before it wakes the task: the next poll is READY
    public int YieldFirst; // the first poll calls luminal_context_yield (and returns PENDING)
    public int Polls;
    public int PollsAfterDrop;
    public int Drops;
    public int OutputDrops;

    public static Probe* New(int readyAfter)
    {
        var p = (Probe*)NativeMemory.AllocZeroed((nuint)sizeof(Probe));
        p->ReadyAfter = readyAfter;
        return p;
    }

    /// <summary>The future a C caller would hand over; its output is the probe itself.</summary>
    public static NativeFuture Future(Probe* p) => new()
    {
        State = p,
        Poll = &Callbacks.Poll,
        Drop = &Callbacks.Drop,
        DropOutput = &Callbacks.DropOutput,
    };
}

/// <summary>
/// The future's C callbacks. Not rewritten, and they touch nothing but the probe: a scheduling point inside an
/// [UnmanagedCallersOnly] frame could let Coyote interrupt the thread there (ThreadInterruptedException at the
/// end of an iteration), and an exception cannot cross that frame. They run atomically under Coyote anyway.
/// </summary>
[SkipRewriting("native callbacks: no scheduling point may be inside an UnmanagedCallersOnly frame")]
static unsafe class Callbacks
{
    [UnmanagedCallersOnly]
    public static int Poll(void* state, void* cx, void** output)
    {
        var p = (Probe*)state;
        p->Polls++;
        if (p->Drops != 0) p->PollsAfterDrop++;
        if (p->Event != 0 || (p->ReadyAfter != 0 && p->Polls >= p->ReadyAfter))
        {
            *output = p;
            return 1;
        }
        // YieldFirst: the test's worker asks for the yield on this poll's context (TaskStateSystematic.Work), since
        // code here must not call into the rewritten runtime (a cancelled iteration would throw in this frame).
        return 0;
    }

    [UnmanagedCallersOnly]
    public static void Drop(void* state) => ((Probe*)state)->Drops++;

    [UnmanagedCallersOnly]
    public static void DropOutput(void* output) => ((Probe*)output)->OutputDrops++;
}
