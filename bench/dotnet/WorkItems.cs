// The spawn workloads as .NET ThreadPool work items (ThreadPool.UnsafeQueueUserWorkItem with an
// IThreadPoolWorkItem): what issue 15 calls ".NET work items", the cheapest spawn .NET has. A work item cannot
// suspend, yield or be joined, so each workload is the nearest run-to-completion shape:
//   spawn_many_local / _remote_idle / _remote_busy: 10k items queued from inside an item (preferLocal) / from the
//     main thread / from the main thread while 2 x workers items keep re-queueing themselves; each counts down.
//   yield_many: 200 items each re-queue themselves 1,000 times (a yield is "to the back of the queue").
//   ping_pong: per round trip, a ping item queues a pong item, which queues the reply item that counts down.
//   chained_spawn: each item queues the next, 1,000 deep.
// One new item object per spawn, as a runtime allocates (or reuses) a task per spawn.
static class WorkItems
{
    const int NumSpawn = 10_000, NumYield = 1_000, Tasks = 200, NumPings = 1_000, Chain = 1_000;
    static readonly SemaphoreSlim Done = new(0);
    static int _rem;
    static volatile bool _busy;

    static void CountDown()
    {
        if (Interlocked.Decrement(ref _rem) == 0) Done.Release();
    }

    sealed class Leaf : IThreadPoolWorkItem { public void Execute() => CountDown(); }

    sealed class Spawner : IThreadPoolWorkItem
    {
        public void Execute()
        {
            for (int i = 0; i < NumSpawn; i++) ThreadPool.UnsafeQueueUserWorkItem(new Leaf(), preferLocal: true);
        }
    }

    sealed class Yielder : IThreadPoolWorkItem
    {
        int _left = NumYield;
        public void Execute()
        {
            if (--_left == 0) CountDown();
            else ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    sealed class Busy : IThreadPoolWorkItem
    {
        public void Execute()
        {
            if (_busy) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    sealed class Reply : IThreadPoolWorkItem { public void Execute() => CountDown(); }
    sealed class Pong : IThreadPoolWorkItem
    {
        public void Execute() => ThreadPool.UnsafeQueueUserWorkItem(new Reply(), preferLocal: true);
    }
    sealed class Ping : IThreadPoolWorkItem
    {
        public void Execute() => ThreadPool.UnsafeQueueUserWorkItem(new Pong(), preferLocal: true);
    }
    sealed class Pinger : IThreadPoolWorkItem
    {
        public void Execute()
        {
            for (int i = 0; i < NumPings; i++) ThreadPool.UnsafeQueueUserWorkItem(new Ping(), preferLocal: true);
        }
    }

    sealed class Link : IThreadPoolWorkItem
    {
        readonly int _n;
        public Link(int n) => _n = n;
        public void Execute()
        {
            if (_n == 0) Done.Release();
            else ThreadPool.UnsafeQueueUserWorkItem(new Link(_n - 1), preferLocal: true);
        }
    }

    static void Run(int count, IThreadPoolWorkItem first)
    {
        _rem = count;
        ThreadPool.UnsafeQueueUserWorkItem(first, preferLocal: false);
        Done.Wait();
    }

    static void Remote()
    {
        _rem = NumSpawn;
        for (int i = 0; i < NumSpawn; i++) ThreadPool.UnsafeQueueUserWorkItem(new Leaf(), preferLocal: false);
        Done.Wait();
    }

    static void YieldMany()
    {
        _rem = Tasks;
        for (int i = 0; i < Tasks; i++) ThreadPool.UnsafeQueueUserWorkItem(new Yielder(), preferLocal: false);
        Done.Wait();
    }

    public static (string Name, Action Run)[] Workloads(Action<string, int, Action> measure, int workers) => new (string, Action)[]
    {
        ("spawn_many_local", () => measure("spawn_many_local", NumSpawn, () => Run(NumSpawn, new Spawner()))),
        ("spawn_many_remote_idle", () => measure("spawn_many_remote_idle", NumSpawn, Remote)),
        ("spawn_many_remote_busy", () =>
        {
            _busy = true;
            for (int i = 0; i < 2 * workers; i++)
                ThreadPool.UnsafeQueueUserWorkItem(new Busy(), preferLocal: false);
            measure("spawn_many_remote_busy", NumSpawn, Remote);
            _busy = false;
        }),
        ("yield_many", () => measure("yield_many", Tasks * NumYield, YieldMany)),
        ("ping_pong", () => measure("ping_pong", NumPings, () => Run(NumPings, new Pinger()))),
        ("chained_spawn", () => measure("chained_spawn", Chain, () => Run(1, new Link(Chain)))),
    };
}
