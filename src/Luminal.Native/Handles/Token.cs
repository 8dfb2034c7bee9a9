using System.Runtime.CompilerServices;
namespace Luminal.Handles;

/// <summary>
/// What the C side holds instead of a pointer: <c>generation:32 | index:28 | tag:4</c>. Nothing ever dereferences
/// a token, so a stale, double-released or foreign value is detected by a table lookup (tag, index range and
/// generation must all match) instead of corrupting memory. The tag's low bit is always 1, so no aligned real
/// pointer is ever mistaken for a handle.
/// </summary>
static class Token
{
    public const uint Runtime = 0x3;
    public const uint Task = 0x5;
    public const uint Waker = 0x9;
    public const uint Future = 0xB; // state of a runtime-provided future (sleep, timeout)
    public const uint Scope = 0xD;
    public const uint Io = 0x7;     // state of an IO operation's future
    public const uint Context = 0xF; // a luminal_context (its own layout: see Interop.Context)
    // Every handle of the sync primitives (sender, receiver, notify, semaphore) and their futures' states: one
    // table (Sync.SyncSlot) whose slots carry their kind, checked after the lookup. The last free tag. Plugin
    // handles (luminal_plugin*) share it too, as kind Plugin: the table already has the kind check every lookup
    // needs, whereas the Scope table has no kind (and a plugin handle must not pass for its own scope).
    public const uint Sync = 0x1;

    public const int MaxIndex = (1 << 28) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Make(uint tag, int index, uint generation) =>
        ((ulong)generation << 32) | ((ulong)(uint)index << 4) | tag;

    /// <summary>Splits a token of the given tag; false for NULL, a wrong tag or generation 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryDecode(ulong token, uint tag, out int index, out uint generation)
    {
        index = (int)((token >> 4) & MaxIndex);
        generation = (uint)(token >> 32);
        return (token & 0xF) == tag && generation != 0;
    }
}
