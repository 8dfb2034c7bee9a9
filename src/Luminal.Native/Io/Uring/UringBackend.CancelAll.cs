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

    /// <summary>A request to cancel: its ring, its user_data and when it was submitted.</summary>
    readonly struct Target(int ring, long order, ulong token) : IComparable<Target>
    {
        public readonly int Ring = ring;
        public readonly long Order = order;
        public readonly ulong Token = token;
        // By ring (a cancel only finds its own ring's requests), then newest first.
        public int CompareTo(Target other) => Ring != other.Ring ? Ring.CompareTo(other.Ring) : other.Order.CompareTo(Order);
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
                targets[n++] = new Target(op.UringRing, op.SubmitOrder, op.Token);
            }
            var all = new Span<Target>(targets, n);
            all.Sort();
            int last = Volatile.Read(ref _inFlight);
            long quietSince = Environment.TickCount64;
            Ring ring = _ring;
            for (int start = 0, end; start < n; start = end)
            {
                for (end = start + 1; end < n && all[end].Ring == all[start].Ring; end++) { }
                ring = RingAt(all[start].Ring);
                if (!Cancel(ring, all[start..end], ref last, ref quietSince)) return;
            }
            while (Volatile.Read(ref _inFlight) > 0 && StillProgressing(ref last, ref quietSince)) AwaitCompletions(ring);
        }
        finally { NativeMemory.Free(targets); }
    }

    /// <summary>Sends one ring's cancels, each batch when its completion ring has room for what it causes (the
    /// caller then reaps until every request has completed). False once nothing has completed for
    /// <see cref="CancelQuietMs"/>, or the ring is gone.</summary>
    bool Cancel(Ring ring, ReadOnlySpan<Target> targets, ref int last, ref long quietSince)
    {
        int before = Volatile.Read(ref _inFlight), sent = 0;
        while (sent < targets.Length)
        {
            // Completions still to come from our cancels: two per cancel whose target has not been reaped.
            int outstanding = 2 * Math.Max(0, sent - (before - Volatile.Read(ref _inFlight)));
            int room = Math.Min(CancelBatch, ((int)ring.CqEntries - 64 - outstanding) / 2);
            int r = room <= 0 ? 0 : ring.SubmitBatch(&PrepareCancel, targets.Slice(sent, Math.Min(room, targets.Length - sent)));
            if (r == -Libc.ECANCELED) return false; // the ring is gone: nothing is in flight any more
            if (r > 0) { sent += r; ReapAvailable(); continue; }
            // The ring is full of completions (or the kernel wants them reaped first: EBUSY): reap, then go on.
            AwaitCompletions(ring);
            if (!StillProgressing(ref last, ref quietSince)) return false;
        }
        return true;
    }

    static void PrepareCancel(Sqe* sqe, Target target) => PrepareCancel(sqe, target.Token);

    /// <summary>Reaps what is there, else waits up to a millisecond for a completion (the wait also runs this
    /// thread's task work, which completes the requests it submitted).</summary>
    void AwaitCompletions(Ring ring)
    {
        if (ReapAvailable() > 0) return;
        if (ring.HasTimedWait && !ring.IsDisposed) ring.WaitForCompletion(1_000_000);
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
