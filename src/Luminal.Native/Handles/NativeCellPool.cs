using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Handles;

/// <summary>A cell kept in a <see cref="NativeCellPool{T}"/>: where its pool index and free-list link are, and how
/// a new (zeroed) cell starts.</summary>
unsafe interface IPoolCell<TSelf> where TSelf : unmanaged, IPoolCell<TSelf>
{
    static abstract int* IndexOf(TSelf* cell);
    static abstract int* NextFreeOf(TSelf* cell);
    /// <summary>A cell created for the first time (already zeroed, index set): its other starting values.</summary>
    static abstract void Init(TSelf* cell);
}

/// <summary>
/// A process-wide pool of native cells of one type (IO operations, timers), addressed by index so that tokens are
/// validated without dereferencing anything, and invisible to the GC: growth allocates native chunks, never managed
/// objects. Chunks of 4,096 cells, cache-line aligned, never moved and never freed (the pool's size is the peak of
/// live cells). Free cells sit on a lock-free stack whose head packs a pop counter with the index, so a pop that
/// read a stale link loses its CAS (ABA); SlotTable and TaskTable use the same stack over their own storage.
/// </summary>
static unsafe class NativeCellPool<T> where T : unmanaged, IPoolCell<T>
{
    const int ChunkBits = 12, ChunkSize = 1 << ChunkBits, MaxChunks = (Token.MaxIndex + 1) >> ChunkBits;
    // Allocated once (512 KiB of pointers, zero pages until touched).
    static readonly T** Chunks = (T**)NativeMemory.AllocZeroed((nuint)MaxChunks, (nuint)sizeof(T*));
    static readonly object GrowLock = new();
    static int _count;     // cells ever created
    static long _freeHead; // (pop counter << 32) | (index + 1); 0 = empty

    /// <summary>Cells ever created (for sweeps over every cell).</summary>
    public static int Count => Volatile.Read(ref _count);

    /// <summary>The cell at <paramref name="index"/>, or null if it was never created.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T* Cell(int index)
    {
        if ((uint)index >= (uint)Volatile.Read(ref _count)) return null; // acquire: the cell is initialised
        return Chunks[index >> ChunkBits] + (index & (ChunkSize - 1));
    }

    /// <summary>A free cell (reused as its last user left it, or new); null when the index space is used up. A
    /// failed chunk allocation throws (callers map it to a status).</summary>
    public static T* Allocate()
    {
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            int index = (int)(uint)head - 1;
            if (index < 0) break;
            T* cell = Cell(index);
            long next = ((head >> 32) + 1 << 32) | (uint)(Volatile.Read(ref *T.NextFreeOf(cell)) + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return cell;
        }
        lock (GrowLock)
        {
            int index = _count;
            if (index > Token.MaxIndex) return null;
            T* chunk = Chunks[index >> ChunkBits];
            if (chunk == null)
            {
                chunk = (T*)NativeMemory.AlignedAlloc((nuint)(ChunkSize * sizeof(T)), 64);
                Chunks[index >> ChunkBits] = chunk;
            }
            T* cell = chunk + (index & (ChunkSize - 1));
            *cell = default;
            *T.IndexOf(cell) = index;
            *T.NextFreeOf(cell) = -1;
            T.Init(cell);
            Volatile.Write(ref _count, index + 1); // release: publishes the cell before lookups accept the index
            return cell;
        }
    }

    /// <summary>Returns a cell to the pool. The caller guarantees nobody else frees it concurrently.</summary>
    public static void Free(T* cell)
    {
        int index = *T.IndexOf(cell);
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            Volatile.Write(ref *T.NextFreeOf(cell), (int)(uint)head - 1);
            long next = (head & unchecked((long)0xFFFF_FFFF_0000_0000)) | (uint)(index + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return;
        }
    }
}
