using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Luminal.Scheduler;

/// <summary>
/// The calling OS thread's identity without a thread-static read: <c>pthread_self()</c> is one load of the thread
/// pointer, where <see cref="Environment.CurrentManagedThreadId"/> goes through <c>__tls_get_addr</c> in a shared
/// library (~40 instructions). For confirming "this is worker N's own thread" on the spawn path, where the context
/// already names the worker (<see cref="Worker.IsCurrentThread"/>). Unique among live threads, which is enough: a
/// context is only valid while its poll runs, on a live worker. Off POSIX, <see cref="Supported"/> is false and
/// callers compare managed thread ids.
/// </summary>
static partial class ThreadSelf
{
    public static readonly bool Supported = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    [LibraryImport("libc", EntryPoint = "pthread_self")]
    [SuppressGCTransition] // a read of the thread pointer: it neither blocks nor calls back
    private static partial nint PthreadSelf();

    public static nint Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => PthreadSelf();
    }
}
