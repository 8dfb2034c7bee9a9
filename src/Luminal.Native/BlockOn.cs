using Luminal.Interop;
using Luminal.Scheduler;
using Luminal.Tasks;

namespace Luminal;

/// <summary>
/// luminal_block_on: the future becomes a task whose "run queue" is the calling thread. Its waker unparks this
/// thread (see <see cref="Runtime.Schedule"/>), which polls it here; everything it spawns runs on the workers.
/// </summary>
static unsafe class BlockOn
{
    public static Status Run(Runtime rt, in NativeFuture future, void** output)
    {
        if (rt.CurrentThread is CurrentThread ct) return ct.BlockOn(future, output); // the caller drives it
        if (rt.CurrentWorker() is not null) { Runtime.DropFuture(future); return Status.WouldDeadlock; }
        if (rt.IsShutdown) { Runtime.DropFuture(future); return Status.Shutdown; }
        Context? cx = Context.Acquire(rt, -1);
        if (cx is null) { Runtime.DropFuture(future); return Status.NoMemory; }
        Parker parker = Parker.Rent();
        if (RawTask.Create(rt, future, wantHandle: true, blockOn: parker) is not RawTask task) { parker.Return(); cx.Release(); Runtime.DropFuture(future); return Status.NoMemory; }
        rt.CountSpawned(null);
        if (rt.TaskHook != null) rt.TaskEventAt(Observe.TaskEvent.Spawned, task, task.TaskToken, null);
        uint generation = (uint)(task.TaskToken >> 32);

        while (true)
        {
            long s = task.State;
            if ((s & TaskState.Closed) != 0) break;
            if ((s & TaskState.Scheduled) != 0) task.Run(cx); // a wake during the poll just loops again
            // A shutdown that began while our poll ran was not seen by its sweep, and nothing will wake us
            // afterwards: claim the task as a wake would, and the next Run drops the future.
            else if (rt.IsShutdown) task.Wake(generation);
            else parker.Park();
        }
        cx.Release();
        parker.Return(); // after the task is finished: nothing schedules a finished task any more

        Status status = task.TakeOutput(generation, output);
        task.ReleaseHandle(generation);
        return status == Status.Cancelled ? Status.Shutdown : status;
    }
}
