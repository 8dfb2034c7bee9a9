using System;
using System.Threading;

namespace Luminal.Handles;

/// <summary>An object that lives in a <see cref="SlotTable{T}"/>: its index never changes, it is reused after free.</summary>
abstract class Slot
{
    internal int Index;
    internal int NextFree = -1; // free-list link; meaningful only while the slot is free
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

    /// <summary>The object at <paramref name="index"/>, or null if that slot was never created.</summary>
    public T? Get(int index)
    {
        if ((uint)index >= (uint)Volatile.Read(ref _count)) return null;
        T[]? chunk = Volatile.Read(ref _chunks[index >> ChunkBits]);
        return chunk is null ? null : Volatile.Read(ref chunk[index & (ChunkSize - 1)]);
    }

    /// <summary>A free object (reused or new); null when the table is full.</summary>
    public T? Allocate()
    {
        // Pop: the counter in the head changes on every pop, so a stale NextFree read loses the CAS. Interlocked
        // gives the full fence that orders the NextFree read after the head read.
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            int index = (int)(uint)head - 1;
            if (index < 0) break;
            T item = Get(index)!;
            long next = ((head >> 32) + 1 << 32) | (uint)(Volatile.Read(ref item.NextFree) + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return item;
        }
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

    /// <summary>Returns an object to the pool. The caller guarantees nobody else frees it concurrently.</summary>
    public void Free(T item)
    {
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            Volatile.Write(ref item.NextFree, (int)(uint)head - 1);
            long next = (head & unchecked((long)0xFFFF_FFFF_0000_0000)) | (uint)(item.Index + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return;
        }
    }
}
