using System.Runtime.CompilerServices;
using System;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;

namespace Luminal.Interop;

/// <summary>
/// What a <c>luminal_context*</c> names: the explicit carrier of "where am I running" (runtime, task, worker) that
/// other runtimes keep in thread-local storage. Each worker (and each block_on call, and each blocking-pool thread)
/// owns one for as long as it runs tasks.
///
/// The C side never gets a pointer: it gets a token <c>generation:40 | index:20 | tag:4</c>, and the generation
/// changes when a poll begins (to an odd value, the one in the token) and again when it ends. So a context kept
/// past its poll, used later from any thread, and a forged value (even one pointing at unreadable memory) fail the
/// table lookup: nothing is ever read through them. 40 bits: a worker polling 10^8 times a second reuses a
/// generation after about 90 minutes, not after seconds as 32 bits would.
///
/// Threads: only the owner calls <see cref="Begin"/> and <see cref="End"/>; any thread may resolve a token during
/// the poll (a Rust waker borrowed from the context may be woken from another thread while the poll runs).
/// </summary>
sealed class Context
{
    // Contexts are few (one per worker, per block_on in progress) and looked up on every context call, so they live
    // in one plain array (replaced by a larger copy when full, under the lock): a lookup is a bounds check and a
    // load. Free ones are reused (their generation keeps counting), never collected.
    static Context?[] _all = new Context?[64];
    static int _count;
    static Context? _free;
    static readonly object AllocLock = new();

    int Index;
    Context? _nextFree;

    const int IndexBits = 20, GenerationShift = 4 + IndexBits;
    const int MaxIndex = (1 << IndexBits) - 1;
    const ulong GenerationMask = (1UL << 40) - 1;

    // Written on every poll by the owning worker: kept on a cache line of their own (contexts are allocated next to
    // each other, and two workers writing one line on every poll would make it bounce between their cores).
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    struct PollState
    {
        [FieldOffset(64)] public ulong Generation;      // even between polls, odd during one (the token's)
        [FieldOffset(72)] public ulong WakerToken;      // the waker of the task being polled; written before the generation
        [FieldOffset(80)] public ulong YieldGeneration; // the generation of the poll that called luminal_context_yield
    }

    PollState _poll;
    internal Runtime? Runtime;
    internal int WorkerIndex;  // -1 outside a worker (block_on, the blocking pool)

    /// <summary>A context for <paramref name="runtime"/>'s thread <paramref name="workerIndex"/> (-1: not a
    /// worker); null when the table is full. Give it back with <see cref="Release"/>.</summary>
    public static Context? Acquire(Runtime runtime, int workerIndex)
    {
        Context cx;
        lock (AllocLock)
        {
            if (_free is Context reused) { _free = reused._nextFree; cx = reused; }
            else
            {
                if (_count > MaxIndex) return null;
                if (_count == _all.Length)
                {
                    var larger = new Context?[_all.Length * 2];
                    Array.Copy(_all, larger, _count);
                    Volatile.Write(ref _all, larger); // readers holding the old array still find every old context
                }
                cx = new Context { Index = _count };
                Volatile.Write(ref _all[_count], cx);
                _count++;
            }
        }
        cx.Runtime = runtime;
        cx.WorkerIndex = workerIndex;
        return cx;
    }

    public void Release()
    {
        Runtime = null;
        lock (AllocLock)
        {
            _nextFree = _free;
            _free = this;
        }
    }

    /// <summary>Starts a poll of the task whose waker is <paramref name="wakerToken"/>: returns the token to hand
    /// to the poll function.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Begin(ulong wakerToken)
    {
        _poll.WakerToken = wakerToken;
        ulong g = (_poll.Generation + 1) & GenerationMask;
        // Release: whoever reads this generation also reads the waker written above.
        Volatile.Write(ref _poll.Generation, g);
        return (g << GenerationShift) | ((ulong)Index << 4) | Token.Context;
    }

    /// <summary>Ends the poll (every token handed out for it is dead from now on). True if the poll asked to yield.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool End()
    {
        ulong g = _poll.Generation;
        Volatile.Write(ref _poll.Generation, (g + 1) & GenerationMask);
        return Volatile.Read(ref _poll.YieldGeneration) == g;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong GenerationOf(ulong token) => token >> GenerationShift;

    /// <summary>The context a token names while its poll runs, or null (NULL, forged, stale or ended).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Context? Resolve(ulong token, out ulong generation)
    {
        generation = GenerationOf(token);
        if ((token & 0xF) != Token.Context || (generation & 1) == 0) return null;
        Context?[] all = Volatile.Read(ref _all);
        uint index = (uint)(token >> 4) & MaxIndex;
        Context? cx = index < (uint)all.Length ? Volatile.Read(ref all[index]) : null;
        return cx is not null && Volatile.Read(ref cx._poll.Generation) == generation ? cx : null;
    }

    /// <summary>
    /// Reads the waker of the poll a token names: false if the poll is over. Seqlock-style: the generation is read
    /// again after the waker (acquire reads keep the order), so a waker written for a later poll is never returned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryGetWaker(ulong token, out Context? cx, out ulong waker)
    {
        waker = 0;
        cx = Resolve(token, out ulong generation);
        if (cx is null) return false;
        waker = Volatile.Read(ref cx._poll.WakerToken);
        if (Volatile.Read(ref cx._poll.Generation) == generation) return true;
        cx = null;
        waker = 0;
        return false;
    }

    /// <summary>luminal_context_yield: marks the poll of <paramref name="generation"/> as yielding (a request that
    /// arrives after that poll ended names a generation that is over, and is ignored).</summary>
    public void RequestYield(ulong generation) => Volatile.Write(ref _poll.YieldGeneration, generation);

    /// <summary>The generation the next <see cref="Begin"/> hands out (for tests that stand in for a poll).</summary>
    internal ulong NextPollGeneration => (_poll.Generation + 1) & GenerationMask;

    /// <summary>The status an export reports for a context argument: NULL, or refused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Status Check(nint token, out Context cx, out ulong waker)
    {
        cx = null!;
        waker = 0;
        if (token == 0) return Status.InvalidArgument;
        if (!TryGetWaker((ulong)token, out Context? found, out waker)) return Status.InvalidHandle;
        cx = found!;
        return cx.Runtime is Runtime rt && rt.IsForked ? Status.Forked : Status.Ok;
    }
}
