namespace Luminal.Io.Uring;

sealed partial class UringBackend
{
    /// <summary>A current-thread runtime's ring: every completion makes <paramref name="eventFd"/> readable (see
    /// <see cref="Scheduler.CurrentThread"/>). Called before the backend is published, so before any submission.</summary>
    public bool SignalEventFd(int eventFd) => _ring.SignalEventFd(eventFd);
}
