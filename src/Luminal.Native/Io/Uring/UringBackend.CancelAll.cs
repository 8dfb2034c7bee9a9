using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Io.Uring;

/// <summary>
/// Shutdown's batch cancel on io_uring. A dropped request used to send its own IORING_OP_ASYNC_CANCEL and wait for
/// its completion, one after another: 3–4 ms each at shutdown (the cancelled request completes through task work
/// of the thread that submitted it; once that worker has exited, the kernel runs it from a work item it schedules a
/// jiffy later), so 25,000 parked reads took 100 s. Here every request in flight gets its cancel at once, a
/// thousand SQEs per io_uring_enter, and the completions are reaped as they arrive; the drops that follow find
/// their requests completed.
///
/// One cancel per request, by user_data (IORING_OP_ASYNC_CANCEL: every kernel this backend runs on), newest
/// first. The kernel finds a request by user_data in a hash table of at most 256 buckets, each a list with the
/// newest request at its head, where a cancelled request stays until its task work has run: in submission order
/// every lookup walks its whole bucket (100,000 parked reads: ~400 entries a lookup, 3 s), newest first it finds
/// its request at once. Not IORING_ASYNC_CANCEL_ANY/ALL (Linux 5.19): that search restarts at the first bucket
/// for every request and walks over the ones it already cancelled, and it posts every completion at once, far
/// past the completion ring (the kernel keeps the overflow in memory it allocates per entry, and a completion it
/// fails to keep is lost: its dropper would wait forever). So cancels go out in batches whose completions (the
/// cancel's own and its target's) fit in the ring, reaped while the next batch is sent.
/// </summary>
sealed unsafe partial class UringBackend
{
    const int CancelBatch = 1024;
    const int CancelQuietMs = 1000; // no completion for this long: stop waiting (the drop of what is left waits)

    /// <summary>A request to cancel: its user_data and when it was submitted.</summary>
    readonly struct Target(long order, ulong token) : IComparable<Target>
    {
        public readonly long Order = order;
        public readonly ulong Token = token;
        public int CompareTo(Target other) => other.Order.CompareTo(Order); // newest first
    }

    public override void CancelAll()
    {
        _stopping = true; // from here on Submit completes new requests as cancelled
        int capacity = Math.Max(64, Volatile.Read(ref _inFlight) + 64), n = 0;
        var targets = (Target*)NativeMemory.Alloc((nuint)capacity, (nuint)sizeof(Target));
        try
        {
            int count = IoOp.Table.Count;
            for (int i = 0; i < count; i++)
            {
                if (IoOp.Table.Get(i) is not IoOp op || !op.RequestCancelIfInFlight(this)) continue;
                if (OnPool(op)) { _pool.Cancel(op); continue; } // a pool thread runs it
                if (n == capacity)
                    targets = (Target*)NativeMemory.Realloc(targets, (nuint)(capacity *= 2) * (nuint)sizeof(Target));
                targets[n++] = new Target(op.SubmitOrder, op.Token);
            }
            var all = new Span<Target>(targets, n);
            all.Sort();
            Cancel(all);
        }
        finally { NativeMemory.Free(targets); }
    }

    /// <summary>Sends the cancels, each batch when the completion ring has room for what it causes, then reaps
    /// until every request has completed (or nothing has completed for <see cref="CancelQuietMs"/>).</summary>
    void Cancel(ReadOnlySpan<Target> targets)
    {
        int before = Volatile.Read(ref _inFlight), last = before, sent = 0;
        long quietSince = Environment.TickCount64;
        while (sent < targets.Length)
        {
            // Completions still to come from our cancels: two per cancel whose target has not been reaped.
            int outstanding = 2 * Math.Max(0, sent - (before - Volatile.Read(ref _inFlight)));
            int room = Math.Min(CancelBatch, ((int)_ring.CqEntries - 64 - outstanding) / 2);
            int r = room <= 0 ? 0 : _ring.SubmitBatch(&PrepareCancel, targets.Slice(sent, Math.Min(room, targets.Length - sent)));
            if (r == -Libc.ECANCELED) return; // the ring is gone: nothing is in flight any more
            if (r > 0) { sent += r; ReapAvailable(); continue; }
            // The ring is full of completions (or the kernel wants them reaped first: EBUSY): reap, then go on.
            AwaitCompletions();
            if (!StillProgressing(ref last, ref quietSince)) return;
        }
        while (Volatile.Read(ref _inFlight) > 0 && StillProgressing(ref last, ref quietSince)) AwaitCompletions();
    }

    static void PrepareCancel(Sqe* sqe, Target target) => PrepareCancel(sqe, target.Token);

    /// <summary>Reaps what is there, else waits up to a millisecond for a completion (the wait also runs this
    /// thread's task work, which completes the requests it submitted).</summary>
    void AwaitCompletions()
    {
        if (ReapAvailable() > 0) return;
        if (_ring.HasTimedWait && !_ring.IsDisposed) _ring.WaitForCompletion(1_000_000);
        else Thread.Sleep(1); // the reaper thread reaps
        ReapAvailable();
    }

    /// <summary>False once no request has completed for <see cref="CancelQuietMs"/>: one the kernel cannot cancel
    /// (a file read in progress) is left to its own drop, which waits for it.</summary>
    bool StillProgressing(ref int last, ref long quietSince)
    {
        int now = Volatile.Read(ref _inFlight);
        if (now < last) { last = now; quietSince = Environment.TickCount64; }
        return Environment.TickCount64 - quietSince <= CancelQuietMs;
    }
}
