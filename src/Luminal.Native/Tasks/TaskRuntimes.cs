using System;
using System.Threading;

namespace Luminal.Tasks;

/// <summary>
/// Runtimes by a small id, so a task (native memory, see <see cref="TaskCell"/>) can name its runtime without a
/// managed reference. Ids are never reused: a finished task whose handle outlives its runtime reads null, never a
/// newer runtime. An id is registered when the runtime is created and cleared when its last token goes (the
/// runtime is then unreachable from C, and every task of it has finished), so the runtime can be collected.
/// Growing the array is a managed allocation on runtime creation only, never on a task path.
/// </summary>
static class TaskRuntimes
{
    static readonly object Lock = new();
    static Runtime?[] _byId = new Runtime?[16];
    static int _next = 1; // 0 = no runtime

    public static int Register(Runtime runtime)
    {
        lock (Lock)
        {
            if (_next == _byId.Length)
            {
                var bigger = new Runtime?[_byId.Length * 2];
                Array.Copy(_byId, bigger, _byId.Length);
                Volatile.Write(ref _byId, bigger); // release: the copied entries before the array
            }
            _byId[_next] = runtime;
            return _next++;
        }
    }

    public static void Unregister(int id)
    {
        if (id <= 0) return;
        lock (Lock) _byId[id] = null;
    }

    /// <summary>The runtime of id <paramref name="id"/>, or null (none, or gone).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static Runtime? Get(int id)
    {
        // A reader holding the array from before a growth still finds every id registered before it: ids handed
        // to tasks were registered before those tasks were published.
        Runtime?[] byId = Volatile.Read(ref _byId);
        return (uint)id < (uint)byId.Length ? byId[id] : null;
    }
}
