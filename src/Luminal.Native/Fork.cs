using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal;

/// <summary>
/// fork(): the child gets a copy of every runtime's memory but none of its threads (no worker, no blocking-pool
/// thread, no reactor), locks held by those threads stay held, and an io_uring fd is shared with the parent. So an
/// inherited runtime is unusable in the child, and touching it (queueing, cancelling IO, taking its locks) would
/// hang or disturb the parent. A handler registered with the C library's atfork list bumps a process-wide fork
/// generation in the child; each runtime remembers the generation it was created in, and every call checks it
/// (two loads, no system call) and answers LUMINAL_E_FORKED. Runtimes created in the child work normally.
/// </summary>
static unsafe class Fork
{
    static int _generation; // bumped in the child of every fork, by the one thread that exists there
    static int _registered;

    /// <summary>How many forks this process is away from the one that loaded Luminal.</summary>
    public static int Generation => Volatile.Read(ref _generation);

    /// <summary>Registers the child handler once (at the first runtime). False where the C library has no
    /// atfork registration (then fork is not detected; the header says so).</summary>
    public static void EnsureWatching()
    {
        if (Interlocked.CompareExchange(ref _registered, 1, 0) != 0) return;
        if (!NativeLibrary.TryLoad(OperatingSystem.IsMacOS() ? "libSystem.dylib" : "libc.so.6", out nint libc)
            && !NativeLibrary.TryLoad("libc", out libc)) return;
        // glibc keeps pthread_atfork in libc_nonshared.a (linked into programs, not exported by default): its
        // exported entry is __register_atfork(prepare, parent, child, dso_handle). musl and macOS export pthread_atfork.
        if (NativeLibrary.TryGetExport(libc, "__register_atfork", out nint register))
            ((delegate* unmanaged<nint, nint, delegate* unmanaged<void>, void*, int>)register)(0, 0, &InChild, null);
        else if (NativeLibrary.TryGetExport(libc, "pthread_atfork", out nint atfork))
            ((delegate* unmanaged<nint, nint, delegate* unmanaged<void>, int>)atfork)(0, 0, &InChild);
    }

    [UnmanagedCallersOnly]
    static void InChild()
    {
        // Only this thread exists in the child. An increment cannot throw, but nothing may escape a callback the
        // C library calls: an escaping exception would kill the host.
        try { _generation++; }
        catch { /* nothing to report to fork(); at worst the child's runtimes go undetected as inherited */ }
    }
}
