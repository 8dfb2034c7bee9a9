using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Handles;
using Luminal.Interop;

namespace Luminal.Tasks;

/// <summary>
/// One task's storage, in native memory (see <see cref="TaskTable"/>): no field is a managed reference, so a million
/// live tasks cost the GC nothing to allocate, trace or move. What was an object reference is an index: the runtime
/// by its <see cref="TaskRuntimes"/> id, the block_on parker and the scope by slot index + 1 (0 = none), and the
/// list links are pointers to other cells (which never move).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 128)] // two whole cache lines: no task shares a line with the next
unsafe struct TaskCell
{
    public long State;          // generation:32 | flags:32 (TaskState); the only word transitions CAS
    public uint Generation;     // lookup mirror of State's generation (see Slot.Generation)
    public int Index;
    public int NextFree;        // free-list link; meaningful only while the slot is free
    public int RuntimeId;       // TaskRuntimes id, 0 = none
    public NativeFuture Future;
    public delegate* unmanaged<void*, void*> Fn;
    public void* Output;
    public TaskCell* Next;      // queue link (injector, deferred list); cells never move, so a pointer is stable
    public TaskCell* ScopePrev, ScopeNext; // the scope's member list
    public ulong JoinWaker;     // see RawTask's join notification
    public int JoinWaiters;
    public int BlockOn;         // Parker slot
    public int Scope;           // Scopes.Scope slot
    public byte Priority;
    public byte Blocking;
    public byte Storage;        // TaskStorage kind of Future.State: None (the caller's), a class, or Separate
}

/// <summary>
/// The process-wide task table: <see cref="SlotTable{T}"/>'s design (chunks never move, so lookups take no lock; a
/// lock-free free stack whose head packs a pop counter against ABA; per-worker <see cref="SlotCache{T}"/> stashes)
/// with the slots in native memory. Growing allocates a native chunk, never a managed object: the number of live
/// tasks can rise to millions and fall back without one garbage collection caused by the runtime (issue 15: a
/// collection freezes every host thread that is inside a call). Chunks are kept for reuse, never freed: the table's
/// size is the peak number of live tasks, as before.
/// </summary>
static unsafe class TaskTable
{
    internal const int ChunkBits = 12, ChunkSize = 1 << ChunkBits, MaxChunks = (Token.MaxIndex + 1) >> ChunkBits;

    // Allocated once (512 KiB of pointers, zero pages until touched).
    static readonly TaskCell** Chunks = (TaskCell**)NativeMemory.AllocZeroed((nuint)MaxChunks, (nuint)sizeof(TaskCell*));
    static readonly object GrowLock = new();
    static int _count;        // slots ever created
    static long _freeHead;    // (pop counter << 32) | (index + 1); 0 = empty

    /// <summary>Slots ever created (the table's high-water mark).</summary>
    public static int Count => Volatile.Read(ref _count);

    /// <summary>The live task a token names (tag, index range and generation all match), or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RawTask? FromToken(ulong token, uint tag, out uint generation)
    {
        if (!Token.TryDecode(token, tag, out int index, out generation)) return null;
        TaskCell* cell = Cell(index);
        return cell != null && Volatile.Read(ref cell->Generation) == generation ? new RawTask(cell) : null;
    }

    /// <summary>The task at <paramref name="index"/>, or null if that slot was never created.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RawTask? Get(int index)
    {
        TaskCell* cell = Cell(index);
        return cell == null ? null : new RawTask(cell);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TaskCell* Cell(int index)
    {
        // Acquire: the count is published after the chunk pointer and the cell's initial state.
        if ((uint)index >= (uint)Volatile.Read(ref _count)) return null;
        return Chunks[index >> ChunkBits] + (index & (ChunkSize - 1));
    }

    /// <summary>A free slot (reused or new); null when the table is full. <paramref name="cache"/>: the calling
    /// thread's own stash, tried first (refilled from the shared stack a batch at a time).</summary>
    public static RawTask? Allocate(SlotCache<RawTask>? cache = null)
    {
        if (cache is not null)
        {
            if (cache.Count == 0)
            {
                // Refill with a burst of pops: the shared head stays in this core's cache for the burst.
                for (int i = 0; i < SlotCache<RawTask>.Refill; i++)
                {
                    TaskCell* popped = PopShared();
                    if (popped == null) break;
                    PushPrivate(cache, popped);
                }
            }
            if (cache.Count > 0)
            {
                TaskCell* item = Cell(cache.Head);
                cache.Head = item->NextFree;
                if (--cache.Count == 0) cache.Head = cache.Tail = -1;
                return new RawTask(item);
            }
        }
        TaskCell* shared = PopShared();
        if (shared != null) return new RawTask(shared);
        return Grow();
    }

    /// <summary>For tests of the queues: a zeroed task cell outside the table, named <paramref name="index"/>; never
    /// freed.</summary>
    internal static RawTask Standalone(int index)
    {
        var cell = (TaskCell*)NativeMemory.AllocZeroed((nuint)sizeof(TaskCell));
        cell->Index = index;
        return new RawTask(cell);
    }

    // Cells a grow creates at once: the first is handed out, the others go to the shared stack. One lock and one
    // new page per 32 cells (4 KiB), not a lock per cell: host threads that spawn while the table grows (and the
    // workers, and block_on callers) took the lock for every task and sometimes yielded their CPU to a holder
    // (issue 15's spawn storm).
    const int GrowBatch = 32;

    static RawTask? Grow()
    {
        lock (GrowLock)
        {
            // Another thread's batch may have arrived while this one waited for the lock.
            TaskCell* popped = PopShared();
            if (popped != null) return new RawTask(popped);
            int index = _count;
            if (index > Token.MaxIndex) return null;
            TaskCell* chunk = Chunks[index >> ChunkBits];
            if (chunk == null)
            {
                // Native, cache-line aligned; an allocation failure throws (callers map it to a status). Not
                // cleared here: each cell is, when first handed out (no 512 KiB memset inside one spawn call).
                chunk = (TaskCell*)NativeMemory.AlignedAlloc((nuint)(ChunkSize * sizeof(TaskCell)), 64);
                TaskStorage.ReserveChunk(index >> ChunkBits); // before the chunk is published: see TaskStorage
                Chunks[index >> ChunkBits] = chunk;
            }
            int n = Math.Min(GrowBatch, Math.Min(ChunkSize - (index & (ChunkSize - 1)), Token.MaxIndex + 1 - index));
            TaskCell* first = chunk + (index & (ChunkSize - 1));
            for (int i = 0; i < n; i++)
            {
                TaskCell* cell = first + i;
                *cell = default;
                cell->Index = index + i;
                cell->NextFree = i + 1 < n ? index + i + 1 : -1;
                cell->Generation = 1;
                cell->State = TaskState.WithGeneration(1, TaskState.Free | TaskState.Closed);
            }
            Volatile.Write(ref _count, index + n); // release: publishes the cells before lookups accept the indexes
            if (n > 1) PushChain(index + 1, first + n - 1);
            return new RawTask(first);
        }
    }

    /// <summary>Returns a slot to the pool (into <paramref name="cache"/>, the calling thread's stash, if given; a
    /// full stash goes to the shared stack in one step). The caller guarantees nobody else frees it concurrently.
    /// </summary>
    public static void Free(RawTask task, SlotCache<RawTask>? cache = null)
    {
        TaskCell* cell = task.Cell;
        if (cache is null) { PushChain(cell->Index, cell); return; }
        PushPrivate(cache, cell);
        if (cache.Count < SlotCache<RawTask>.Max) return;
        ReturnAll(cache);
    }

    /// <summary>Hands every slot stashed in <paramref name="cache"/> to the shared stack (one compare-and-swap).</summary>
    public static void ReturnAll(SlotCache<RawTask> cache)
    {
        if (cache.Count == 0) return;
        PushChain(cache.Head, Cell(cache.Tail));
        cache.Head = cache.Tail = -1;
        cache.Count = 0;
    }

    static void PushPrivate(SlotCache<RawTask> cache, TaskCell* cell)
    {
        cell->NextFree = cache.Head;
        if (cache.Count++ == 0) cache.Tail = cell->Index;
        cache.Head = cell->Index;
    }

    static TaskCell* PopShared()
    {
        // The counter in the head changes on every pop, so a stale NextFree read loses the CAS. Interlocked gives
        // the full fence that orders the NextFree read after the head read.
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            int index = (int)(uint)head - 1;
            if (index < 0) return null;
            TaskCell* cell = Cell(index);
            long next = ((head >> 32) + 1 << 32) | (uint)(Volatile.Read(ref cell->NextFree) + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return cell;
        }
    }

    /// <summary>Pushes the chain first..last (linked by NextFree; last's link is overwritten) onto the shared stack.</summary>
    static void PushChain(int first, TaskCell* last)
    {
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            Volatile.Write(ref last->NextFree, (int)(uint)head - 1);
            long next = (head & unchecked((long)0xFFFF_FFFF_0000_0000)) | (uint)(first + 1);
            if (Interlocked.CompareExchange(ref _freeHead, next, head) == head) return;
        }
    }
}
