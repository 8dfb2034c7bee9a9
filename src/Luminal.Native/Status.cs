namespace Luminal;

/// <summary>luminal_status: the C enum's values, one to one.</summary>
enum Status
{
    Ok = 0,
    Pending = 1,
    InvalidArgument = -1,
    InvalidHandle = -2,
    Shutdown = -3,
    Cancelled = -4,
    TimedOut = -5,
    WouldDeadlock = -6,
    NoMemory = -7,
    Unsupported = -8,
    Internal = -9,
    AlreadyTaken = -10,
    Io = -11,
    Forked = -12,
    Closed = -13,
    Full = -14,
    Empty = -15,
    Busy = -16,
}

static class StatusText
{
    public static string Describe(int status) => (Status)status switch
    {
        Status.Ok => "ok",
        Status.Pending => "pending",
        Status.InvalidArgument => "invalid argument",
        Status.InvalidHandle => "invalid handle (released, double-released, foreign or of the wrong type)",
        Status.Shutdown => "the runtime is shut down",
        Status.Cancelled => "the task was cancelled",
        Status.TimedOut => "timed out",
        Status.WouldDeadlock => "would deadlock: blocking call on one of the runtime's worker threads",
        Status.NoMemory => "out of memory",
        Status.Unsupported => "unsupported",
        Status.Internal => "internal error in luminal",
        Status.AlreadyTaken => "the task's output was already taken",
        Status.Io => "the operating system refused the IO operation (see os_error)",
        Status.Forked => "the runtime was inherited across fork(): unusable in this process (create a new one)",
        Status.Closed => "closed: the other side of the channel is gone, or the semaphore was closed",
        Status.Full => "full: the channel has no room for the message (it stays the caller's)",
        Status.Empty => "empty: no message waiting, or too few permits free",
        Status.Busy => "busy: another thread is driving this current-thread runtime",
        _ => "unknown status",
    };
}
