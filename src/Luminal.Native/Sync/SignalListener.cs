using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Luminal.Sync;

/// <summary>
/// luminal_signal_*: one listener of one signal. A delivery completes every recv future pending on it; with none
/// pending it is remembered as one (deliveries coalesce, as signalfd's standard signals do) for the next recv.
/// Releasing the listener completes its pending recvs with LUMINAL_E_CLOSED. Everything under <c>_lock</c>.
/// Allocated per listener (a setup call, never a hot path); deliveries allocate nothing here.
/// </summary>
sealed class SignalListener : PooledSyncObject
{
    public readonly int Signo;
    bool _pending, _closed;
    WaiterList _waiters; // a struct, mutated in place

    SignalListener(Runtime runtime, int signo) { Signo = signo; Begin(runtime, 1); }

    public static SignalListener Make(Runtime runtime, int signo) => new(runtime, signo);

    protected override void Return() { } // not pooled: the GC takes it once no handle or future names it

    public bool BeginRecv(SyncSlot handle, uint generation)
    {
        using (_lock.Hold()) return AddRefLocked(handle, generation);
    }

    /// <summary>One delivery (on .NET's signal-dispatch thread).</summary>
    public void Deliver() => CompleteAll(close: false);

    /// <summary>The handle was released: pending recvs complete with CLOSED, later polls too.</summary>
    public void Close() => CompleteAll(close: true);

    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    void CompleteAll(bool close)
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            using (_lock.Hold())
            {
                if (close) _closed = true;
                else if (_waiters.IsEmpty) _pending = true;
                while (!wakes.IsFull && _waiters.PopFront() is SyncSlot w)
                {
                    if (!close) w.Granted = true;
                    wakes.Add(w.Waker);
                }
                more = !_waiters.IsEmpty;
            }
            wakes.WakeAll();
            if (!more) return;
        }
    }

    /// <summary>Ready with Ok (a delivery) or Closed, else registers <paramref name="waker"/>.</summary>
    public bool PollRecv(SyncSlot op, ulong waker, out Status result)
    {
        using (_lock.Hold())
        {
            result = Status.Ok;
            if (op.Completed) return true;
            if (!op.Granted)
            {
                if (_pending) _pending = false;
                else if (_closed) result = Status.Closed;
                else
                {
                    op.Waker = waker;
                    if (!op.Linked) _waiters.PushBack(op);
                    return false;
                }
            }
            _waiters.Remove(op);
            op.Completed = true;
            return true;
        }
    }

    /// <summary>A recv dropped before it returned a delivery it was given passes it back (not lost).</summary>
    public void DropRecv(SyncSlot op)
    {
        using (_lock.Hold())
        {
            _waiters.Remove(op);
            if (op.Granted && !op.Completed) _pending = true;
            op.Completed = true;
        }
    }
}

/// <summary>
/// The process-wide side: one .NET PosixSignalRegistration per signal that has listeners (its handler runs on a
/// .NET thread-pool thread, fed by .NET's signal thread through a pipe: no managed code runs in signal context),
/// fanned out to every listener of that signal, disposed with the last listener (which restores the disposition
/// that was in force before the first).
/// </summary>
static class SignalRegistry
{
    static readonly object Gate = new();
    static readonly List<SignalListener>?[] Listeners = new List<SignalListener>?[65];
    static readonly PosixSignalRegistration?[] Registrations = new PosixSignalRegistration?[65];

    /// <summary>Signals a listener may not take: uncatchable (KILL, STOP), the faults .NET handles (SEGV, FPE, BUS,
    /// ILL, TRAP), glibc's internal 32 and 33, and SIGRTMIN (34: .NET's GC stops threads with it).</summary>
    public static bool Allowed(int signo) =>
        signo is >= 1 and <= 64 && signo is not (4 or 5 or 7 or 8 or 9 or 11 or 19 or 32 or 33 or 34);

    public static void Add(SignalListener l)
    {
        lock (Gate)
        {
            List<SignalListener> list = Listeners[l.Signo] ??= new List<SignalListener>();
            if (Registrations[l.Signo] is null)
            {
                int signo = l.Signo; // captured: .NET reports SIGINT, SIGTERM... as its own negative PosixSignal values
                Registrations[signo] = PosixSignalRegistration.Create((PosixSignal)signo, c => OnSignal(c, signo));
            }
            list.Add(l);
        }
    }

    public static void Remove(SignalListener l)
    {
        lock (Gate)
        {
            List<SignalListener>? list = Listeners[l.Signo];
            if (list is null || !list.Remove(l) || list.Count > 0) return;
            Registrations[l.Signo]?.Dispose();
            Registrations[l.Signo] = null;
        }
    }

    static void OnSignal(PosixSignalContext context, int signo)
    {
        context.Cancel = true; // ours to handle: no default action (which would end the process for SIGUSR1)
        lock (Gate)
        {
            if (Listeners[signo] is not List<SignalListener> list) return;
            foreach (SignalListener l in list) l.Deliver();
        }
    }
}
