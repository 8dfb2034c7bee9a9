using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Luminal.Tasks;

/// <summary>
/// Where the state of a task spawned with luminal_spawn_inline lives: the runtime's copy of the caller's bytes.
/// Small states go into an area that belongs to the task's slot, one per size class, laid out in chunks parallel
/// to <see cref="TaskTable"/>'s (slot i of chunk c has bytes i * class size of area chunk c): taking a task slot
/// takes its storage, so a spawn costs no allocation and no free-list operation of its own once warm, and nothing
/// here is ever given back to the GC or to malloc. Area chunks are reserved when their task chunk is created
/// (native, untouched until a task of that class uses a slot: virtual memory, not RSS, for programs that never
/// spawn inline). States above the largest class get a native block of their own per spawn, freed when the slot
/// is recycled.
/// </summary>
static unsafe class TaskStorage
{
    /// <summary>Largest alignment a state may ask for: areas are cache-line aligned, so a slot is aligned to its
    /// class size up to 64 (a state aligned more than its class's slots goes to the next class).</summary>
    public const nuint MaxAlign = 64;
    /// <summary>Largest state accepted at all (a bigger one is refused: the caller keeps it boxed itself).</summary>
    public const nuint MaxSize = 1 << 20;
    /// <summary><see cref="TaskCell.Storage"/>: no runtime-owned storage / a block of its own.</summary>
    public const byte None = 0, Separate = 0xFF;

    // Class k (stored as k + 1) holds states up to 32, 64 or 256 bytes: a pending tiny task (a Rust future holding
    // an Arc) costs 128 + 32 bytes, about what the boxed state cost before, while typical small futures fit too.
    // A slot index that served several classes keeps pages of each (at most 352 bytes per peak task).
    const int Classes = 3;
    static readonly byte** Areas = (byte**)NativeMemory.AllocZeroed((nuint)(Classes * TaskTable.MaxChunks), (nuint)sizeof(byte*));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int ClassSize(int k) => k == 0 ? 32 : k == 1 ? 64 : 256;

    /// <summary>Reserves the area chunks of task chunk <paramref name="chunk"/> (under TaskTable's grow lock,
    /// before the chunk's first slot is published). Throws OutOfMemoryException, as the task chunk does.</summary>
    public static void ReserveChunk(int chunk)
    {
        for (int k = 0; k < Classes; k++)
        {
            // Published by TaskTable's release of its count, as the task chunk is.
            byte** area = Areas + k * TaskTable.MaxChunks + chunk;
            if (*area == null) *area = (byte*)NativeMemory.AlignedAlloc((nuint)(TaskTable.ChunkSize * ClassSize(k)), 64);
        }
    }

    /// <summary>The storage kind for a state of <paramref name="size"/> bytes aligned to <paramref name="align"/>:
    /// a class (1-based), or <see cref="Separate"/>. The caller has checked size &lt;= MaxSize and align &lt;=
    /// MaxAlign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte KindFor(nuint size, nuint align)
    {
        for (int k = 0; k < Classes; k++)
            if (size <= (nuint)ClassSize(k) && align <= (nuint)ClassSize(k)) return (byte)(k + 1);
        return Separate;
    }

    /// <summary>Slot <paramref name="index"/>'s area of class <paramref name="kind"/> (1-based).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* Area(int index, byte kind)
    {
        int k = kind - 1;
        return Areas[k * TaskTable.MaxChunks + (index >> TaskTable.ChunkBits)]
            + (nuint)(index & (TaskTable.ChunkSize - 1)) * (nuint)ClassSize(k);
    }

    /// <summary>A block of its own for a state above the largest class. Throws OutOfMemoryException.</summary>
    public static void* AllocateSeparate(nuint size, nuint align) => NativeMemory.AlignedAlloc(size, align < 16 ? 16 : align);

    public static void FreeSeparate(void* block) => NativeMemory.AlignedFree(block);
}
