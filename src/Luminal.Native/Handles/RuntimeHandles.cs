using System.Threading;

namespace Luminal.Handles;

/// <summary>One luminal_runtime* handle: a slot naming a runtime, valid while its generation matches.</summary>
sealed class RuntimeRef : GenerationSlot
{
    internal Runtime? Target;
}

/// <summary>
/// The table behind luminal_runtime* tokens. Every clone is its own slot, so releasing the same handle twice is
/// detected (the second release finds a newer generation) and a stale handle never reaches another runtime.
/// </summary>
static class RuntimeHandles
{
    static readonly SlotTable<RuntimeRef> Table = new(() => new RuntimeRef());

    /// <summary>A new token for <paramref name="runtime"/>, or 0 if the table is full.</summary>
    public static ulong Create(Runtime runtime)
    {
        RuntimeRef? r = Table.Allocate();
        if (r is null) return 0;
        Volatile.Write(ref r.Target, runtime);
        return Token.Make(Token.Runtime, r.Index, Volatile.Read(ref r.Generation));
    }

    /// <summary>The runtime a live token names, or null.</summary>
    public static Runtime? Resolve(ulong token)
    {
        if (Table.FromToken(token, Token.Runtime, out uint generation) is not RuntimeRef r) return null;
        Runtime? target = Volatile.Read(ref r.Target);
        // Re-check: if the slot was released (and maybe reused) between the two reads, the generation moved.
        return Volatile.Read(ref r.Generation) == generation ? target : null;
    }

    /// <summary>Invalidates a token. Returns its runtime, or null if the token was not live (double release).</summary>
    public static Runtime? Release(ulong token)
    {
        if (Table.FromToken(token, Token.Runtime, out uint generation) is not RuntimeRef r || !r.TryRetire(generation))
            return null;
        Runtime? target = Volatile.Read(ref r.Target);
        Volatile.Write(ref r.Target, null);
        Table.Free(r);
        return target;
    }
}
