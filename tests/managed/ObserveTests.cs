using System;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Luminal.Handles;
using Luminal.Interop;
using Luminal.Observe;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>
/// The log event no C test can provoke: an internal failure mapped to LUMINAL_E_INTERNAL. The export that failed may
/// not know a runtime, so every live runtime's log hears of it; a runtime that has shut down no longer does.
/// </summary>
[NonParallelizable]
public unsafe class ObserveTests
{
    static readonly ConcurrentQueue<(int Level, string Text)> Lines = new();

    [UnmanagedCallersOnly]
    static void Sink(void* user, int level, byte* message) =>
        Lines.Enqueue((level, Marshal.PtrToStringUTF8((nint)message) ?? ""));

    [Test]
    public void An_internal_failure_is_logged_as_an_error_by_every_live_runtime()
    {
        Lines.Clear();
        var observers = new Observers { Log = &Sink, LogLevel = (int)LogLevel.Info };
        ulong token = Runtime.Create(1, "observe-test", observers: observers);
        Runtime rt = RuntimeHandles.Resolve(token)!;
        try
        {
            int status = Exports.Fail(new InvalidOperationException("boom"));
            Assert.That(status, Is.EqualTo((int)Status.Internal));
            Assert.That(Lines, Has.Some.Matches<(int Level, string Text)>(l => l.Level == (int)LogLevel.Error
                && l.Text.StartsWith("internal error (LUMINAL_E_INTERNAL): System.InvalidOperationException: boom")));

            // Out of memory is LUMINAL_E_NO_MEMORY, not a bug: nothing logged.
            Lines.Clear();
            Assert.That(Exports.Fail(new OutOfMemoryException()), Is.EqualTo((int)Status.NoMemory));
            Assert.That(Lines, Is.Empty);
        }
        finally
        {
            Assert.That(rt.Shutdown(ulong.MaxValue), Is.EqualTo(Status.Ok));
            RuntimeHandles.Release(token);
        }
        Lines.Clear();
        Exports.Fail(new InvalidOperationException("after shutdown"));
        Assert.That(Lines, Is.Empty);
    }
}
