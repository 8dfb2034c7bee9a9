namespace Luminal.Scheduler;

/// <summary>
/// The seam between the scheduler and what produces wake-ups from outside the task world: IO completions and
/// timers (after tokio's runtime/driver.rs and multi_thread/park.rs). A worker's loop calls <see cref="Poll"/> on
/// every turn, and a worker with nothing to run parks *in the driver*, without knowing what that means: sleeping in
/// the io_uring ring, watching it from its futex, or on its futex until the next timer. Unparking always goes
/// through the worker's <see cref="Parker"/>, which wakes it wherever it sleeps.
///
/// The runtime's driver is a stack: the <see cref="Time.TimerDriver"/> (which turns the next deadline into a park
/// timeout and fires due timers) around the IO backend once one has started (<see cref="Io.IoBackend"/>: io_uring
/// sleeps in its ring; the pool backend has nothing to sleep in, so it parks on the futex).
/// </summary>
abstract class Driver
{
    /// <summary>Hands what completed (IO completions, due timers) to its tasks, without blocking. Any thread;
    /// cheap when nothing is due. True if it handed anything out (tasks may have been woken: look again).</summary>
    public virtual bool Poll() => false;

    /// <summary><see cref="Poll"/> from a worker that has run out of work (about to steal or park): the tasks it
    /// wakes are the next thing that worker runs. A driver may use that (see UringBackend.PollOutOfWork).</summary>
    public virtual bool PollOutOfWork() => Poll();

    /// <summary>
    /// Parks the calling worker (its own thread) until its parker is unparked, an event arrives, or
    /// <paramref name="timeoutNs"/> passes (-1 = no timeout). <paramref name="othersAwake"/>: some other worker is
    /// running tasks (and so polls the driver as it goes).
    /// </summary>
    public virtual void Park(Worker worker, long timeoutNs, bool othersAwake) => worker.Parker.Park(timeoutNs);
}

/// <summary>A place a parked thread can sleep other than its futex (the io_uring ring): <see cref="Parker"/>
/// wakes it there.</summary>
interface IParkSite
{
    /// <summary>Sleeps until an event (handled before it returns: its tasks are woken), a <see cref="Wake"/>, or
    /// the timeout (-1 = none).</summary>
    void Sleep(long timeoutNs);

    /// <summary>Wakes the thread sleeping in this site (any thread may call it).</summary>
    void Wake();
}
