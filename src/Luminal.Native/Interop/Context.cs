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
sealed class Context : Slot
{
    public static readonly SlotTable<Context> Table = new(() => new Context());

    const int IndexBits = 20, GenerationShift = 4 + IndexBits;
    const int MaxIndex = (1 << IndexBits) - 1;
    const ulong GenerationMask = (1UL << 40) - 1;

    ulong _generation;        // even between polls, odd during one (the token's); only the owner writes it
    ulong _wakerToken;        // the waker of the task being polled; written before the generation is published
    ulong _yieldGeneration;   // the generation of the poll that called luminal_context_yield
    internal Runtime? Runtime;
    internal int WorkerIndex;  // -1 outside a worker (block_on, the blocking pool)

    /// <summary>A context for <paramref name="runtime"/>'s thread <paramref name="workerIndex"/> (-1: not a
    /// worker); null when the table is full. Give it back with <see cref="Release"/>.</summary>
    public static Context? Acquire(Runtime runtime, int workerIndex)
    {
        Context? cx = Table.Allocate();
        if (cx is null) return null;
        if (cx.Index > MaxIndex) { Table.Free(cx); return null; }
        cx.Runtime = runtime;
        cx.WorkerIndex = workerIndex;
        return cx;
    }

    public void Release()
    {
        Runtime = null;
        Table.Free(this);
    }

    /// <summary>Starts a poll of the task whose waker is <paramref name="wakerToken"/>: returns the token to hand
    /// to the poll function.</summary>
    public ulong Begin(ulong wakerToken)
    {
        _wakerToken = wakerToken;
        ulong g = (_generation + 1) & GenerationMask;
        // Release: whoever reads this generation also reads the waker written above.
        Volatile.Write(ref _generation, g);
        return (g << GenerationShift) | ((ulong)Index << 4) | Token.Context;
    }

    /// <summary>Ends the poll (every token handed out for it is dead from now on). True if the poll asked to yield.</summary>
    public bool End()
    {
        ulong g = _generation;
        Volatile.Write(ref _generation, (g + 1) & GenerationMask);
        return Volatile.Read(ref _yieldGeneration) == g;
    }

    public static ulong GenerationOf(ulong token) => token >> GenerationShift;

    /// <summary>The context a token names while its poll runs, or null (NULL, forged, stale or ended).</summary>
    public static Context? Resolve(ulong token, out ulong generation)
    {
        generation = GenerationOf(token);
        if ((token & 0xF) != Token.Context || (generation & 1) == 0) return null;
        Context? cx = Table.Get((int)((token >> 4) & MaxIndex));
        return cx is not null && Volatile.Read(ref cx._generation) == generation ? cx : null;
    }

    /// <summary>
    /// Reads the waker of the poll a token names: false if the poll is over. Seqlock-style: the generation is read
    /// again after the waker (acquire reads keep the order), so a waker written for a later poll is never returned.
    /// </summary>
    public static bool TryGetWaker(ulong token, out Context? cx, out ulong waker)
    {
        waker = 0;
        cx = Resolve(token, out ulong generation);
        if (cx is null) return false;
        waker = Volatile.Read(ref cx._wakerToken);
        if (Volatile.Read(ref cx._generation) == generation) return true;
        cx = null;
        waker = 0;
        return false;
    }

    /// <summary>luminal_context_yield: marks the poll of <paramref name="generation"/> as yielding (a request that
    /// arrives after that poll ended names a generation that is over, and is ignored).</summary>
    public void RequestYield(ulong generation) => Volatile.Write(ref _yieldGeneration, generation);

    /// <summary>The generation the next <see cref="Begin"/> hands out (for tests that stand in for a poll).</summary>
    internal ulong NextPollGeneration => (_generation + 1) & GenerationMask;

    /// <summary>The status an export reports for a context argument: NULL, or refused.</summary>
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
