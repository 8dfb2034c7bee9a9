namespace Luminal.Io.Uring;

/// <summary>
/// A task's priority as an ioprio (IOPRIO_PRIO_VALUE(class, level)): best-effort levels for the user-facing
/// priorities, the idle class for BACKGROUND (it only gets the disk when nobody else wants it). The realtime class
/// is not used: it needs CAP_SYS_ADMIN and can starve the whole system.
/// </summary>
static class IoPriority
{
    const int ClassBestEffort = 2, ClassIdle = 3, ClassShift = 13;

    public static ushort Of(int level) => level switch
    {
        Scheduler.Priority.UserInteractive => (ClassBestEffort << ClassShift) | 0,
        Scheduler.Priority.UserInitiated => (ClassBestEffort << ClassShift) | 2,
        Scheduler.Priority.Utility => (ClassBestEffort << ClassShift) | 5,
        _ => ClassIdle << ClassShift,
    };
}
