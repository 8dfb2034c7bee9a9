using System.Runtime.InteropServices;

namespace Luminal.Interop;

/// <summary>
/// What a <c>luminal_context*</c> points to: the explicit carrier of "where am I running" (runtime, task,
/// worker) that other runtimes keep in thread-local storage. Each worker owns one in native memory for its whole
/// life and refreshes WakerToken before every poll; block_on keeps one on its stack.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
struct ContextData
{
    public const ulong MagicValue = 0x4C554D494E414C31; // "LUMINAL1"

    public ulong Magic;
    public ulong RuntimeToken; // the runtime's borrowed token (see Runtime.BorrowedToken)
    public ulong WakerToken;   // the waker of the task being polled
    public int WorkerIndex;    // -1 outside a worker (block_on)
    public int YieldRequested; // set by luminal_context_yield during the poll; RawTask.Run clears it before each poll

    /// <summary>Is <paramref name="cx"/> a context the runtime handed to a poll? (NULL and foreign pointers are not.)</summary>
    public static unsafe bool IsValid(void* cx) => cx != null && ((ContextData*)cx)->Magic == MagicValue;
}
