using System.Threading;
using Luminal.Scheduler;

namespace Luminal.Io.Uring;

/// <summary>
/// One ring per worker (issue 15, many connections). io_uring runs a request's completion as task work of the thread
/// that submitted it, and that task work takes the ring's <c>uring_lock</c>, which another worker holds while its
/// io_uring_enter submits its own batch: with one ring per runtime, 9% of the 64-connection echo's CPU samples were
/// <c>mutex_spin_on_owner</c> under <c>task_work_run</c>. So each worker submits to a ring of its own, which no
/// other thread enters except to cancel, and a worker's task work only ever meets its own submissions. Threads that
/// are not workers (a block_on caller, a pool thread, C code polling by hand) submit to the shared ring, as before;
/// it also carries the sleeper's wakes. A runtime with one worker, a current-thread runtime and a kernel without
/// timed waits keep the shared ring alone; so does a worker whose ring could not be made.
///
/// The workers' rings are set up with IORING_SETUP_COOP_TASKRUN. Without it, the kernel interrupts the submitting
/// thread with an inter-processor interrupt for every completion that arrives while it runs (TWA_SIGNAL), and with
/// a ring per worker that is most completions: the echo's data arrives on the sender's CPU, for a read submitted
/// on the other one. Per-worker rings without the flag made the 64-connection echo slower, not faster (72-90k
/// against 130k msgs/s, with 15% of samples in the IPI's send under sock_def_readable and 11% on the socket's
/// spinlock). With the flag a running worker does its task work at its next entry into the kernel (it makes one
/// for every send and every flush, and a timer tick would do it during a long poll), and a sleeping one is still
/// woken: the kernel wakes an interruptibly sleeping target (futex, ring wait) in both modes.
///
/// Reaping: whoever reaps takes every ring's completions (<see cref="ReapAvailable"/>), so a worker inside one long
/// poll holds up nobody's completions. Sleeping: the worker sleeping in the shared ring must also wake for
/// completions on the workers' rings. Before it sleeps it arms, in the shared ring, a one-shot POLL_ADD on each
/// worker ring's descriptor. A ring's fd is readable while its completion queue is not empty, and arming checks
/// that at once, so no completion that came before is missed. A poll that fired is armed again at the next sleep:
/// a busy ring costs one extra completion per sleep, not one per request (an eventfd registered on the rings, or
/// a multishot poll, would post one for every request).
/// </summary>
sealed unsafe partial class UringBackend
{
    const ulong RingPollTagBase = 0x100; // user_data of worker ring i's poll: base + i (generation 0: no op token)
    const uint WorkerRingEntries = 1024;
    const uint CoopTaskRun = 1 << 8; // IORING_SETUP_COOP_TASKRUN (5.19; an older kernel refuses it: no flag then)
    readonly Ring[] _workerRings;        // worker i's ring (all or none: see CreateWorkerRings)
    readonly int[] _ringPollArmed;       // 1 from queueing worker ring i's poll until its completion is reaped
    readonly int[] _flushesSeen;         // worker ring i's Flushes when the watcher last looked (see FlushStalled)
    readonly uint[] _cqHeadSeen;         // ring i's (0 the shared one) completion head then (see CompletionsStalled)
    volatile bool _ringPollRefused;      // the kernel refused a poll on a ring: the sleeper only naps (see Sleep)

    readonly struct RingPoll(int fd, ulong tag)
    {
        public readonly int Fd = fd;
        public readonly ulong Tag = tag;
    }

    /// <summary>A ring for each worker, or none: a kernel without COOP_TASKRUN (before 5.19) refuses the flag, and
    /// per-worker rings would cost more than they save there (see above); a ring that cannot be made (memory, the
    /// fd limit) also leaves the workers sharing the one ring, so no path has to handle a worker without one.</summary>
    static Ring[] CreateWorkerRings(Runtime runtime, Ring shared)
    {
        if (runtime.Workers.Length < 2 || !shared.HasTimedWait) return [];
        var rings = new Ring[runtime.Workers.Length];
        for (int i = 0; i < rings.Length; i++)
        {
            if (Ring.TryCreate(WorkerRingEntries, out _, CoopTaskRun) is Ring made) { rings[i] = made; continue; }
            for (int j = 0; j < i; j++) rings[j].Dispose();
            return [];
        }
        return rings;
    }

    /// <summary>Where a submission from <paramref name="worker"/> goes: 0 = the shared ring, i + 1 = worker i's.</summary>
    int RingIndexFor(Worker? worker) =>
        worker is not null && (uint)worker.Index < (uint)_workerRings.Length ? worker.Index + 1 : 0;

    Ring RingAt(int index) => index == 0 ? _ring : _workerRings[index - 1];

    /// <summary>Entries queued that <paramref name="worker"/>'s flush would submit.</summary>
    bool HasQueuedFor(Worker worker)
    {
        int own = RingIndexFor(worker);
        return _ring.HasQueued || own > 0 && RingAt(own).HasQueued;
    }

    /// <summary>The sleeper, before it sleeps: arms the polls on the workers' rings that are not armed (the flush
    /// that follows submits them from this worker's thread). False if one could not be queued.</summary>
    bool ArmRingPolls()
    {
        bool all = true;
        for (int i = 0; i < _workerRings.Length; i++)
        {
            if (Volatile.Read(ref _ringPollArmed[i]) != 0 || Interlocked.CompareExchange(ref _ringPollArmed[i], 1, 0) != 0)
                continue;
            if (_ring.Queue(&PrepareRingPoll, new RingPoll(_workerRings[i].Fd, RingPollTagBase + (ulong)i)) == 0) continue;
            Volatile.Write(ref _ringPollArmed[i], 0);
            all = false;
        }
        return all;
    }

    static void PrepareRingPoll(Sqe* sqe, RingPoll poll)
    {
        sqe->Opcode = Sqe.OpPollAdd;
        sqe->Fd = poll.Fd;
        sqe->OpFlags = 1; // POLLIN, one-shot
        sqe->UserData = poll.Tag;
    }

    bool IsRingPoll(ulong userData) => userData - RingPollTagBase < (ulong)_workerRings.Length;

    /// <summary>A worker ring's poll fired (or ended): it is no longer armed. Whoever reaps also takes that ring's
    /// completions, but if it is not the sleeper, the sleeper must wake to arm the poll again.</summary>
    void OnRingPoll(ulong userData, int res)
    {
        // A poll on a ring refused (an old kernel): never armed again; the sleeper then only naps.
        if (res < 0 && res != -Libc.ECANCELED) _ringPollRefused = true;
        // A full fence between the clear and the reads of the sleeper's state (WakeSleeperIfReapedByOther): the
        // sleeper announces itself (ParkIn, a fence) and then reads the flag (ArmRingPolls). Either it sees the
        // flag cleared and arms again, or this sees it parked and wakes it.
        Interlocked.Exchange(ref _ringPollArmed[(int)(userData - RingPollTagBase)], 0);
        WakeSleeperIfReapedByOther();
    }

    /// <summary>
    /// The watcher (a parked worker looking every millisecond while another runs, see Park), on each look: submits
    /// what another worker queued on its own ring and has not flushed since the last look. Such a worker is inside
    /// one long poll (a busy one flushes every few dozen tasks), and the read it queued before would otherwise wait
    /// for that poll to end, however early its data came. The flush ties those requests to the watcher's thread,
    /// which is a worker too.
    /// </summary>
    void FlushStalled(Worker watcher)
    {
        for (int i = 0; i < _workerRings.Length; i++)
        {
            Ring ring = _workerRings[i];
            if (i == watcher.Index || !ring.HasQueued) continue;
            int seen = ring.Flushes;
            if (seen == _flushesSeen[i]) ring.Flush();
            _flushesSeen[i] = ring.Flushes;
        }
    }

    /// <summary>Reaps one ring into <paramref name="batch"/> from <paramref name="n"/> on (under the reap lock); the
    /// new count.</summary>
    static int ReapRing(Ring ring, System.Span<Ring.Cqe> batch, int n)
    {
        if (ring.IsDisposed) return n;
        if (ring.HasCompletions) n += ring.Reap(batch.Slice(n));
        // Drained, and the kernel holds completions that did not fit: move them in. Otherwise only a sleeper's
        // wait would, and with a worker busy in a long poll the other one only watches (it never sleeps in the
        // ring), so they would wait for that poll to end.
        if (n < batch.Length && ring.CqOverflowed)
        {
            ring.FlushOverflow();
            n += ring.Reap(batch.Slice(n));
        }
        return n;
    }

    void DisposeWorkerRings()
    {
        foreach (Ring ring in _workerRings) ring.Dispose();
    }
}
