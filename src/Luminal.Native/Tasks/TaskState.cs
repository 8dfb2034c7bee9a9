namespace Luminal.Tasks;

/// <summary>
/// The flag half of a task's state word (the other half is the slot generation, see <see cref="RawTask"/>).
/// Every transition is one CAS on the whole word, so a transition also proves the task is the one a token named.
///
/// Ownership: a task's slot is recycled by whoever makes the state CLOSED with none of HANDLE, SCHEDULED and
/// RUNNING set — a queue holding the task (SCHEDULED), a worker polling it (RUNNING) and a join handle (HANDLE)
/// each keep it alive. Wakers keep nothing alive: a stale waker's generation no longer matches.
/// </summary>
static class TaskState
{
    public const long Scheduled = 1 << 0; // in a run queue, or owned by whoever is about to put it in one
    public const long Running = 1 << 1;   // being polled (or dropped) by one thread
    public const long Complete = 1 << 2;  // the future returned READY; Output holds its result until taken
    public const long Closed = 1 << 3;    // the future is dropped: no more polls, ever
    public const long Handle = 1 << 4;    // a join handle is alive
    public const long Cancelled = 1 << 5; // closed without completing (abort or shutdown)
    public const long Abort = 1 << 6;     // abort requested: drop at the next scheduling point
    public const long Taken = 1 << 7;     // the output was handed to a joiner
    public const long Free = 1 << 8;      // the slot holds no task

    public const long FlagMask = 0xFFFF_FFFF;

    public static uint Generation(long state) => (uint)((ulong)state >> 32);
    public static long WithGeneration(uint generation, long flags) => (long)((ulong)generation << 32) | flags;
}
