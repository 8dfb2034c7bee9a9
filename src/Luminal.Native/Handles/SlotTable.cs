using System.Runtime.CompilerServices;
using System;
using System.Threading;

namespace Luminal.Handles;

/// <summary>An object that lives in a <see cref="SlotTable{T}"/>: its index never changes, it is reused after free.</summary>
abstract class Slot
{
    internal int Index;
    internal int NextFree = -1; // free-list link; meaningful only while the slot is free

    /// <summary>The generation a token must carry to name this object now. A plain field, not a virtual property:
    /// every wake and handle lookup reads it. (A task's authoritative generation is half of its state word, which
    /// every transition CASes; this field mirrors it, so a lookup is a fast filter the transition then confirms.)
    /// </summary>
    internal uint Generation = 1;
}

/// <summary>A slot whose generation is retired by a CAS on the field itself (every handle type but tasks, whose
/// generation moves with their state word).</summary>
abstract class GenerationSlot : Slot
{
    /// <summary>Ends generation <paramref name="generation"/>: every token naming it is stale from now on. Only one
    /// caller wins (false for the others, e.g. a double release), and only the winner may free the object.</summary>
    internal bool TryRetire(uint generation) =>
        Interlocked.CompareExchange(ref Generation, Generations.Next(generation), generation) == generation;
}

/// <summary>Generations count up and skip 0, which no token carries (a zeroed value is never a live handle).</summary>
static class Generations
{
    public static uint Next(uint generation) => generation + 1 == 0 ? 1 : generation + 1;
}

/// <summary>
/// A process-wide table of pooled objects addressed by index, so tokens can be validated without dereferencing
/// anything. Chunks are never moved (lookups need no lock); free slots sit on a lock-free stack whose head packs
/// a counter with the index so a pop cannot be fooled by ABA. Objects are reused, never collected: the table's
/// size is the peak number of live objects.
/// </summary>
sealed class SlotTable<T> where T : Slot
{
    const int ChunkBits = 12, ChunkSize = 1 << ChunkBits, MaxChunks = (Token.MaxIndex + 1) >> ChunkBits;

    readonly T[]?[] _chunks = new T[]?[MaxChunks];
    readonly Func<T> _factory;
    readonly object _growLock = new();
    int _count;        // slots ever created
    long _freeHead;    // (pop counter << 32) | (index + 1); 0 = empty

    public SlotTable(Func<T> factory) => _factory = factory;

    /// <summary>Slots ever created (the table's high-water mark).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The object a token names: its tag is <paramref name="tag"/> and its generation is the object's
    /// current one. Null for NULL, forged, stale and wrong-type tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T? FromToken(ulong token, uint tag, out uint generation)
    {
        if (!Token.TryDecode(token, tag, out int index, out generation)) return null;
        T? item = Get(index);
        return item is not null && Volatile.Read(ref item.Generation) == generation ? item : null;
    }

    /// <summary>The object at <paramref name="index"/>, or null if that slot was never created.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T? Get(int index)
    {
        if ((uint)index >= (uint)Volatile.Read(ref _count)) return null;
        T[]? chunk = Volatile.Read(ref _chunks[index >> ChunkBits]);
        return chunk is null ? null : Volatile.Read(ref chunk[index & (ChunkSize - 1)]);
    }

    /// <summary>
    /// A free object (reused or new); null when the table is full. <paramref name="cache"/>: the calling thread's
    /// own stash, tried first (refilled from the shared stack a batch at a time).
    /// </summary>
    public T? Allocate(SlotCache<T>? cache = null)
    {
        if (cache is not null)
        {
            if (cache.Count == 0)
            {
                // Refill with a burst of pops: the shared head stays in this core's cache for the burst.
                for (int i = 0; i < SlotCache<T>.Refill && PopShared() is T popped; i++) PushPrivate(cache, popped);
            }
            if (cache.Count > 0)
            {
                T item = Get(cache.Head)!;
                cache.Head = item.NextFree;
                if (--cache.Count == 0) cache.Head = cache.Tail = -1;
                return item;
            }
        }
        if (PopShared() is T shared) return shared;
        lock (_growLock)
        {
            int index = _count;
            if (index > Token.MaxIndex) return null;
            ref T[]? chunk = ref _chunks[index >> ChunkBits];
            chunk ??= new T[ChunkSize];
            T item = _factory();
            item.Index = index;
            chunk[index & (ChunkSize - 1)] = item;
            Volatile.Write(ref _count, index + 1); // release: publishes the item before lookups accept the index
            return item;
        }
    }

    /// <summary>
    /// Returns an object to the pool (into <paramref name="cache"/>, the calling thread's stash, if given; a full
    /// stash goes to the shared stack in one step). The caller guarantees nobody else frees it concurrently.
    /// </summary>
    public void Free(T item, SlotCache<T>? cache = null)
    {
        if (cache is null) { PushChain(item.Index, item); return; }
        PushPrivate(cache, item);
        if (cache.Count < SlotCache<T>.Max) return;
        ReturnAll(cache);
    }

    /// <summary>Hands every slot stashed in <paramref name="cache"/> to the shared stack (one compare-and-swap).</summary>
    public void ReturnAll(SlotCache<T> cache)
    {
        if (cache.Count == 0) return;
        PushChain(cache.Head, Get(cache.Tail)!);
        cache.Head = cache.Tail = -1;
        cache.Count = 0;
    }

    static void PushPrivate(SlotCache<T> cache, T item)
    {
        item.NextFree = cache.Head;
        if (cache.Count++ == 0) cache.Tail = item.Index;
        cache.Head = item.Index;
    }

    T? PopShared()
    {
        // The counter in the head changes on every pop, so a stale NextFree read loses the CAS. Interlocked gives
        // the full fence that orders the NextFree read after the head read.
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            int index = (int)(uint)head - 1;
            if (index < 0) return null;
            T item = Get(index)!;
            long next = ((head >> 32) + 1 << 32) | (uint)(Volatile.Read(ref item.NextFree) + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return item;
        }
    }

    /// <summary>Pushes the chain first..last (linked by NextFree; last's link is overwritten) onto the shared stack.</summary>
    void PushChain(int first, T last)
    {
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            Volatile.Write(ref last.NextFree, (int)(uint)head - 1);
            long next = (head & unchecked((long)0xFFFF_FFFF_0000_0000)) | (uint)(first + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return;
        }
    }
}

/// <summary>
/// Free slots owned by one thread (a worker), so that the tasks it spawns and finishes recycle without a
/// compare-and-swap on the table's shared free-list head on each — which busy workers otherwise bounce between
/// their caches on every spawn and every finish. A private chain (linked by NextFree) of at most <see cref="Max"/>
/// slots: refilled from the shared stack <see cref="Refill"/> at a time, handed back whole when full. Only the
/// owning thread touches it; <see cref="SlotTable{T}.ReturnAll"/> when the thread ends.
/// </summary>
sealed class SlotCache<T> // T: a Slot, or Tasks.RawTask (whose slots are native: Tasks.TaskTable)
{
    internal const int Max = 256, Refill = 32;
    internal int Head = -1, Tail = -1, Count;
}
