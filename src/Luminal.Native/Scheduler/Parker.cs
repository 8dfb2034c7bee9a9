using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Scheduler;

/// <summary>
/// Puts one thread to sleep until <see cref="Unpark"/> (from any thread) or a timeout. A notification that arrives
/// before the thread parks is kept, so the park returns at once: no wake-up is ever lost.
/// Only the owning thread calls <see cref="Park"/>.
///
/// On Linux the thread sleeps on a futex, whose timeout has nanosecond resolution (timers need better than the
/// milliseconds Monitor.Wait offers); elsewhere on a Monitor. The state word is the same for both.
///
/// Parkers are pooled (<see cref="Rent"/>/<see cref="Return"/>): a block_on call or a worker borrows one, so the
/// futex word (native memory, a stable address) is allocated once per parker ever needed and never freed — no
/// finalizer, no allocation per block_on. A late Unpark of a returned parker only causes a spurious wake-up in its
/// next user, which every caller tolerates (they re-check their condition in a loop).
/// </summary>
sealed unsafe class Parker : Handles.Slot
{
    const int Empty = 0, Parked = 1, Notified = 2;

    static readonly Handles.SlotTable<Parker> Pool = new(() => new Parker());

    readonly object _lock = new();
    readonly int* _state = (int*)NativeMemory.AllocZeroed(sizeof(int)); // a futex needs a stable address

    /// <summary>A parker for the calling thread to sleep on; give it back with <see cref="Return"/>.</summary>
    public static Parker Rent() => Pool.Allocate() ?? throw new OutOfMemoryException("parker table is full");

    /// <summary>The parker in pool slot <paramref name="index"/> (a block_on task names its thread's parker so).</summary>
    public static Parker FromIndex(int index) => Pool.Get(index)!;

    public void Return()
    {
        Interlocked.Exchange(ref *_state, Empty); // a pending notification was meant for the previous user
        Pool.Free(this);
    }

    /// <summary>Sleeps until notified or <paramref name="timeoutNs"/> (-1 = forever). True if notified.</summary>
    public bool Park(long timeoutNs = -1)
    {
        // Fast path: consume a pending notification.
        if (Interlocked.CompareExchange(ref *_state, Empty, Notified) == Notified) return true;
        return Futex.Supported ? ParkFutex(timeoutNs) : ParkMonitor(timeoutNs);
    }

    bool ParkFutex(long timeoutNs)
    {
        if (Interlocked.CompareExchange(ref *_state, Parked, Empty) != Empty)
        {
            Interlocked.Exchange(ref *_state, Empty); // it was Notified meanwhile
            return true;
        }
        long deadline = timeoutNs < 0 ? long.MaxValue : (long)Time.Clock.NowNs() + timeoutNs;
        while (true)
        {
            long left = deadline == long.MaxValue ? -1 : deadline - (long)Time.Clock.NowNs();
            if (left != -1 && left <= 0)
            {
                // Timed out; an Unpark may race with us: if it won, consume its notification.
                if (Interlocked.CompareExchange(ref *_state, Empty, Parked) == Parked) return false;
                Interlocked.Exchange(ref *_state, Empty);
                return true;
            }
            Futex.Wait(_state, Parked, left); // returns at once if the word is no longer Parked
            if (Interlocked.CompareExchange(ref *_state, Empty, Notified) == Notified) return true;
        }
    }

    bool ParkMonitor(long timeoutNs)
    {
        int timeoutMs = timeoutNs < 0 ? Timeout.Infinite : (int)Math.Min((timeoutNs + 999_999) / 1_000_000, int.MaxValue - 1);
        lock (_lock)
        {
            if (Interlocked.CompareExchange(ref *_state, Parked, Empty) != Empty)
            {
                Interlocked.Exchange(ref *_state, Empty);
                return true;
            }
            while (true)
            {
                bool signalled = Monitor.Wait(_lock, timeoutMs);
                if (Interlocked.CompareExchange(ref *_state, Empty, Notified) == Notified) return true;
                if (!signalled && timeoutMs != Timeout.Infinite)
                {
                    if (Interlocked.CompareExchange(ref *_state, Empty, Parked) == Parked) return false;
                    Interlocked.Exchange(ref *_state, Empty);
                    return true;
                }
            }
        }
    }

    /// <summary>
    /// Parks in a driver's site (the io_uring ring) instead of on the futex: an event there, the timeout or
    /// <see cref="Unpark"/> (which wakes the site) ends it. True if notified.
    /// </summary>
    public bool ParkIn(IParkSite site, long timeoutNs)
    {
        if (Interlocked.CompareExchange(ref *_state, Empty, Notified) == Notified) return true;
        Volatile.Write(ref _site, site); // before Parked: an Unpark that sees Parked must also see the site
        if (Interlocked.CompareExchange(ref *_state, Parked, Empty) != Empty)
        {
            Volatile.Write(ref _site, null);
            Interlocked.Exchange(ref *_state, Empty);
            return true;
        }
        site.Sleep(timeoutNs); // returns on an event (handled: tasks woken), a wake of the site, or the timeout
        Volatile.Write(ref _site, null);
        return Interlocked.Exchange(ref *_state, Empty) == Notified;
    }

    IParkSite? _site; // set while parked in a driver's site

    /// <summary>Between announcing a park in a site and leaving it (so a wake may still be on its way).</summary>
    public bool IsParkedInSite => Volatile.Read(ref _site) is not null;

    public void Unpark()
    {
        if (Interlocked.Exchange(ref *_state, Notified) != Parked) return;
        if (Volatile.Read(ref _site) is IParkSite site) { site.Wake(); return; }
        if (Futex.Supported) { Futex.WakeOne(_state); return; }
        // The parked thread holds the lock from setting Parked until Monitor.Wait releases it, so taking the lock
        // here guarantees the pulse reaches a thread that is really waiting.
        lock (_lock) Monitor.Pulse(_lock);
    }
}

/// <summary>The Linux futex system call, for <see cref="Parker"/>.</summary>
static unsafe partial class Futex
{
    // internal: tests/layout checks these against the kernel headers on each architecture.
    internal const int WaitPrivate = 128 | 0, WakePrivate = 128 | 1;

    // The system call's number differs per architecture (asm/unistd.h): x86_64 202, arm64 98.
    internal static readonly long SysFutex = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        _ => -1,
    };

    public static readonly bool Supported = OperatingSystem.IsLinux() && SysFutex > 0;

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec { public long Sec, Nsec; }

    [LibraryImport("libc", EntryPoint = "syscall")]
    private static partial long Syscall(long number, int* addr, int op, int value, Timespec* timeout, nint addr2, int value3);

    /// <summary>Sleeps while *addr == expected, for at most timeoutNs (-1 = forever); spurious returns happen.</summary>
    public static void Wait(int* addr, int expected, long timeoutNs)
    {
        if (timeoutNs < 0) { Syscall(SysFutex, addr, WaitPrivate, expected, null, 0, 0); return; }
        Timespec ts = new() { Sec = timeoutNs / 1_000_000_000, Nsec = timeoutNs % 1_000_000_000 };
        Syscall(SysFutex, addr, WaitPrivate, expected, &ts, 0, 0);
    }

    public static void WakeOne(int* addr) => Syscall(SysFutex, addr, WakePrivate, 1, null, 0, 0);

    public static void WakeAll(int* addr) => Syscall(SysFutex, addr, WakePrivate, int.MaxValue, null, 0, 0);
}
