namespace Luminal.Scheduler;

/// <summary>
/// Task priority levels (luminal_priority minus one): 0 is the most urgent. The scheduler keeps one local queue
/// per level per worker and one global queue per level, and always serves the most urgent level it can find —
/// except on every <see cref="StarvationInterval"/>-th tick, when the least urgent non-empty level goes first, so
/// background work still progresses (at least one task per that many scheduling points) under a flood of
/// urgent work.
/// </summary>
static class Priority
{
    public const int Levels = 4;
    public const int UserInteractive = 0, UserInitiated = 1, Utility = 2, Background = 3;
    public const int Default = UserInitiated;
    public const int StarvationInterval = 257; // prime, like the global-queue interval, so the two don't align

    /// <summary>luminal_priority to a level: 0 (INHERIT) gives <paramref name="inherited"/>; -1 if invalid.</summary>
    public static int FromC(int value, int inherited) => value switch
    {
        0 => inherited,
        >= 1 and <= Levels => value - 1,
        _ => -1,
    };
}
