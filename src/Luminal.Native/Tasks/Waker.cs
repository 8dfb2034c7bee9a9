using Luminal.Handles;

namespace Luminal.Tasks;

/// <summary>
/// A luminal_waker is just a token naming (task slot, generation): cloning copies the value and releasing does
/// nothing, so wakers never allocate and can never dangle. Waking a stale token is a no-op.
/// </summary>
static class Waker
{
    public static void Wake(ulong token)
    {
        RawTask? t = RawTask.FromToken(token, Token.Waker, out uint generation);
        t?.Wake(generation);
    }

    public static bool IsWaker(ulong token) => Token.TryDecode(token, Token.Waker, out _, out _);
}
