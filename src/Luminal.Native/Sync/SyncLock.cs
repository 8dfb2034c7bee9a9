using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Scheduler;

namespace Luminal.Sync;

/// <summary>
/// The lock of a pooled sync primitive (channel, notify, semaphore, signal listener): a futex word. Why not
/// System.Threading.Lock: every enter and exit of it reads the managed thread id, a thread-static, which code in a
/// shared library reaches through __tls_get_addr; with the enter and exit themselves that was ~12% of a contended
/// channel's cycles (bench/NOTES.md, "sync-lock"). This one is a compare-and-swap in and an exchange out.
///
/// Not re-entrant and without an owner: none of its holders takes it twice (a nested enter would wait for itself).
/// The states are Drepper's ("Futexes are tricky", mutex 2): 0 free, 1 held, 2 held and a waiter may sleep on it.
/// The word is in native memory, allocated once per primitive (primitives are pooled, never freed): a futex sleeps
/// on an address, and the GC may move a managed object. Where there is no futex (off Linux), a System.Threading.Lock.
///
/// Use: <c>using (_lock.Hold()) { ... }</c>.
/// </summary>
sealed unsafe class SyncLock
{
    readonly int* _word;   // null off Linux
    readonly Lock? _other; // off Linux

    public SyncLock()
    {
        if (Futex.Supported) _word = (int*)NativeMemory.AllocZeroed(sizeof(int));
        else _other = new Lock();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Held Hold()
    {
        if (_word == null) _other!.Enter();
        else if (Interlocked.CompareExchange(ref *_word, 1, 0) != 0) EnterContended();
        return new Held(this);
    }

    void EnterContended()
    {
        // Holders keep it for a few dozen instructions: a short spin usually wins it without a system call (and on a
        // machine with fewer cores than threads, a holder that lost its core makes the spin give up quickly).
        for (int i = 0; i < 32; i++)
        {
            Thread.SpinWait(4);
            if (Volatile.Read(ref *_word) == 0 && Interlocked.CompareExchange(ref *_word, 1, 0) == 0) return;
        }
        // Marked 2 while anyone may sleep: the holder's exit then wakes one. Taking it with 2 is conservative (one
        // spurious wake at most when nobody else waits).
        while (Interlocked.Exchange(ref *_word, 2) != 0) Futex.Wait(_word, 2, -1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Exit()
    {
        if (_word == null) _other!.Exit();
        else if (Interlocked.Exchange(ref *_word, 0) == 2) Futex.WakeOne(_word);
    }

    /// <summary>The lock, held until disposed.</summary>
    public readonly ref struct Held
    {
        readonly SyncLock _lock;
        public Held(SyncLock l) => _lock = l;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose() => _lock.Exit();
    }
}
