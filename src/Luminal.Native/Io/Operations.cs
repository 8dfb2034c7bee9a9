namespace Luminal.Io;

enum IoKind : byte { Open, Close, Fsync, Stat, ReadAt, WriteAt, MapFile, ReadAll, Accept, Connect, StreamRead, StreamWrite,
    Resolve, ConnectHost, FdReady, SendTo, RecvFrom,
    PathStat, Rename, Unlink, Mkdir, ReadDir, ProcessWait }

/// <summary>
/// Every operation and where its behaviour lives: one row per <see cref="IoKind"/>, naming the io_uring half
/// (Uring/X.cs), the blocking-pool half (Pool/X.cs) and what a dropped operation gives back (Args.cs). Adding an
/// operation: its Args struct, those two files, one row here. The backends only look rows up; they hold no
/// per-operation code.
/// </summary>
static unsafe class Operations
{
    static readonly Operation[] Rows = InKindOrder(
    [
        new(IoKind.Open, Uring.Open.Row, Pool.Open.Row, &OpenArgs.Release),
        new(IoKind.Close, Uring.Close.Row, Pool.Close.Row, &Nothing),
        new(IoKind.Fsync, Uring.Fsync.Row, Pool.Fsync.Row, &Nothing),
        new(IoKind.Stat, Uring.Stat.Row, Pool.Stat.Row, &StatArgs.Release),
        new(IoKind.ReadAt, Uring.ReadAt.Row, Pool.ReadAt.Row, &Nothing),
        new(IoKind.WriteAt, Uring.WriteAt.Row, Pool.WriteAt.Row, &Nothing),
        new(IoKind.MapFile, UringOp.OnPool, Pool.MapFile.Row, &PathIntoArgs.ReleaseView),
        new(IoKind.ReadAll, UringOp.OnPool, Pool.ReadAll.Row, &PathIntoArgs.ReleaseBuffer),
        new(IoKind.Accept, Uring.Accept.Row, Pool.Accept.Row, &FdArgs.ReleaseFd),
        new(IoKind.Connect, Uring.Connect.Row, Pool.Connect.Row, &ConnectArgs.Release),
        new(IoKind.StreamRead, Uring.StreamRead.Row, Pool.StreamRead.Row, &Nothing),
        new(IoKind.StreamWrite, Uring.StreamWrite.Row, Pool.StreamWrite.Row, &Nothing),
        new(IoKind.Resolve, UringOp.OnPool, Pool.Resolve.Row, &ResolveArgs.Release),
        new(IoKind.ConnectHost, UringOp.OnPool, Pool.ConnectHost.Row, &ConnectHostArgs.Release),
        new(IoKind.FdReady, Uring.FdReady.Row, Pool.FdReady.Row, &Nothing),
        new(IoKind.SendTo, Uring.SendTo.Row, Pool.SendTo.Row, &DatagramArgs.Release),
        new(IoKind.RecvFrom, Uring.RecvFrom.Row, Pool.RecvFrom.Row, &DatagramArgs.Release),
        new(IoKind.PathStat, Uring.PathStat.Row, Pool.PathStat.Row, &PathArgs.Release),
        new(IoKind.Rename, Uring.Rename.Row, Pool.Rename.Row, &PathArgs.Release),
        new(IoKind.Unlink, Uring.Unlink.Row, Pool.Unlink.Row, &PathArgs.Release),
        new(IoKind.Mkdir, Uring.Mkdir.Row, Pool.Mkdir.Row, &PathArgs.Release),
        new(IoKind.ReadDir, UringOp.OnPool, Pool.ReadDir.Row, &PathArgs.ReleaseDirList),
        new(IoKind.ProcessWait, Uring.ProcessWait.Row, Pool.ProcessWait.Row, &Nothing),
    ]);

    /// <summary>Row i must be IoKind i (checked once, when the table is built; a field initializer rather than a
    /// static constructor, so lookups need no class-initialization check).</summary>
    static Operation[] InKindOrder(Operation[] rows)
    {
        for (int i = 0; i < rows.Length; i++)
            if ((int)rows[i].Kind != i) throw new System.InvalidOperationException("Operations: row out of IoKind order");
        return rows;
    }

    public static ref readonly Operation Of(IoKind kind) => ref Rows[(int)kind];

    /// <summary>The release of an operation that holds nothing of its own.</summary>
    static void Nothing(IoOp op, long raw, bool unread) { }
}

/// <summary>One operation's row: its two backend halves and its release.</summary>
readonly unsafe struct Operation(IoKind kind, UringOp uring, PoolOp pool, delegate*<IoOp, long, bool, void> release)
{
    public readonly IoKind Kind = kind;
    public readonly UringOp Uring = uring;
    public readonly PoolOp Pool = pool;
    /// <summary>(op, raw result, result unread): see Args.cs.</summary>
    public readonly delegate*<IoOp, long, bool, void> Release = release;
}

/// <summary>
/// An operation on io_uring (Uring/X.cs). <see cref="Begin"/> runs on the submitting thread before any SQE:
/// checks, a socket to create, a non-blocking try that may be the whole operation. <see cref="Prepare"/> fills the
/// SQE; <see cref="Finish"/> turns the CQE's res into the result (or asks for the SQE again). A cancel is always
/// IORING_OP_ASYNC_CANCEL by user_data (UringBackend.Cancel); what it leaves behind, Release gives back.
/// </summary>
readonly unsafe struct UringOp(
    delegate*<Uring.Sqe*, IoOp, void> prepare,
    delegate*<IoOp, long> begin = null,
    delegate*<IoOp, int, long> finish = null)
{
    /// <summary>From <see cref="Begin"/>: submit the SQE. From <see cref="Finish"/>: submit it again.</summary>
    public const long Pending = long.MinValue;

    /// <summary>No io_uring opcode does it: the operation runs on the blocking pool (Pool/X.cs).</summary>
    public static UringOp OnPool => default;

    public readonly delegate*<Uring.Sqe*, IoOp, void> Prepare = prepare;
    public readonly delegate*<IoOp, long> Begin = begin;   // null: straight to the ring
    public readonly delegate*<IoOp, int, long> Finish = finish; // null: the result is res
    public bool RunsOnPool => Prepare == null;
}

/// <summary>
/// An operation on the blocking pool (Pool/X.cs). <see cref="TryNow"/> (for what can wait for readiness: sockets,
/// pipes) is a non-blocking try on the submitting thread, and again on the reactor thread whenever the fd it asked
/// for (<see cref="IoOp.WaitUntilReady"/>) is ready; a file read's try (cached data) answers
/// <see cref="OnPoolThread"/> instead of waiting. <see cref="Run"/> is the blocking call on a pool thread (a file
/// call; or a stream's when the reactor cannot take it).
/// </summary>
readonly unsafe struct PoolOp(delegate*<IoOp, long> run, delegate*<IoOp, long> tryNow = null)
{
    /// <summary>From <see cref="TryNow"/>: no readiness to wait for (a file), make the call on a pool thread.</summary>
    public const long OnPoolThread = long.MinValue;

    public readonly delegate*<IoOp, long> Run = run;
    public readonly delegate*<IoOp, long> TryNow = tryNow; // null: always on a pool thread
}
