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
    NotPlugin = -16,
    PluginInit = -17,
    Busy = -18,
}

static class StatusText
{
    /// <summary>The C constant's name (luminal_status_name).</summary>
    public static string Name(int status) => (Status)status switch
    {
        Status.Ok => "LUMINAL_OK",
        Status.Pending => "LUMINAL_PENDING",
        Status.InvalidArgument => "LUMINAL_E_INVALID_ARGUMENT",
        Status.InvalidHandle => "LUMINAL_E_INVALID_HANDLE",
        Status.Shutdown => "LUMINAL_E_SHUTDOWN",
        Status.Cancelled => "LUMINAL_E_CANCELLED",
        Status.TimedOut => "LUMINAL_E_TIMED_OUT",
        Status.WouldDeadlock => "LUMINAL_E_WOULD_DEADLOCK",
        Status.NoMemory => "LUMINAL_E_NO_MEMORY",
        Status.Unsupported => "LUMINAL_E_UNSUPPORTED",
        Status.Internal => "LUMINAL_E_INTERNAL",
        Status.AlreadyTaken => "LUMINAL_E_ALREADY_TAKEN",
        Status.Io => "LUMINAL_E_IO",
        Status.Forked => "LUMINAL_E_FORKED",
        Status.Closed => "LUMINAL_E_CLOSED",
        Status.Full => "LUMINAL_E_FULL",
        Status.Empty => "LUMINAL_E_EMPTY",
        _ => "LUMINAL_STATUS_UNKNOWN",
    };

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
        Status.NotPlugin => "not a plugin: the library lacks luminal_plugin_init or luminal_plugin_fini",
        Status.PluginInit => "the plugin's luminal_plugin_init failed (it was unloaded again)",
        Status.Busy => "busy: another thread is driving this current-thread runtime",
        _ => "unknown status",
    };
}
