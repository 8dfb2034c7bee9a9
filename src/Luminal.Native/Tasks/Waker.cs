using Luminal.Handles;

namespace Luminal.Tasks;

/// <summary>
/// A luminal_waker is just a token naming (task slot, generation): cloning copies the value and releasing does
/// nothing, so wakers never allocate and can never dangle. A stale or forged token names no live generation: waking
/// it is a no-op and cloning it gives NULL.
/// </summary>
static class Waker
{
    public static void Wake(ulong token)
    {
        // An inherited runtime (fork) has no threads to run the task, and its locks may be held by threads that
        // are gone: leave it alone.
        if (RawTask.FromToken(token, Token.Waker, out uint generation) is RawTask t && t.Runtime is Runtime rt && !rt.IsForked)
            t.Wake(generation);
    }

    /// <summary>Does the token name a task in its current generation (finished tasks included, until their slot is
    /// reused; a free slot's next generation is not live)?</summary>
    public static bool IsLive(ulong token) =>
        RawTask.FromToken(token, Token.Waker, out _) is RawTask t && (t.State & TaskState.Free) == 0;
}
