using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Io.Uring;

/// <summary>
/// Waking the worker that sleeps in the ring without the ring's submission lock. A wake used to post a NOP, which
/// takes the lock that every submission holds across its io_uring_enter — and an enter that reads a cached file
/// copies the data inside it. So a host thread's <c>luminal_spawn</c>, which wakes that worker, waited for other
/// threads' reads, and slept in the lock when the holder was preempted (issue 15's spawn storm with IO: ~2,000 of
/// 1M spawns blocked that way, the rest of the tail being preemptions).
///
/// Instead the sleeper keeps a multishot POLL_ADD on an eventfd in the ring (armed by the sleeper itself before it
/// sleeps, so the request belongs to a worker thread, which lives as long as the ring), and a wake is one
/// <c>write</c> to the eventfd: the kernel posts the poll's completion, which ends the sleeper's wait. Whoever reaps
/// that completion drains the eventfd (so a re-armed poll does not fire at once) and, if it is not the sleeper,
/// wakes it again, as with the NOP. Until the poll is armed (or where the kernel refuses multishot polls, before
/// 5.13) a wake posts the NOP as before. The poll is not counted in flight: it never keeps the ring alive, and the
/// ring's teardown ends it.
///
/// The eventfd is closed when the ring is disposed; a wake racing with that must not write to a descriptor number
/// the host may have reused, so writers and drains register in <see cref="_pokeUsers"/> and the close waits for
/// them (the closed bit refuses new ones).
/// </summary>
sealed unsafe partial class UringBackend
{
    const ulong PokePollTag = 2;  // user_data of the eventfd poll (no op token is 2: generation 0)
    const int PokeClosed = 1 << 30;
    const uint PollAddMulti = 1;  // IORING_POLL_ADD_MULTI, in sqe->len
    const uint CqeFMore = 1 << 1; // IORING_CQE_F_MORE: the multishot request stays armed
    int _pokeFd = -1;             // the eventfd, or -1
    bool _pokeRefused;            // the kernel refused the poll: NOPs only
    int _pokeArmed;               // 1 from queueing the poll until its last completion is reaped
    int _pokeUsers;               // threads writing or draining it, | PokeClosed once closed

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initval, int flags);

    void CreatePoke()
    {
        const int EfdCloexec = 0x80000, EfdNonblock = 0x800;
        if (_reaper is null) _pokeFd = EventFd(0, EfdCloexec | EfdNonblock); // (a reaper thread needs no pokes)
    }

    /// <summary>The sleeper, before it sleeps: arms the poll if it is not (the flush that follows submits it).</summary>
    void ArmPoke()
    {
        if (_pokeFd < 0 || Volatile.Read(ref _pokeRefused) || Interlocked.CompareExchange(ref _pokeArmed, 1, 0) != 0) return;
        if (_ring.Queue(&PreparePokePoll, _pokeFd) != 0) Volatile.Write(ref _pokeArmed, 0);
    }

    static void PreparePokePoll(Sqe* sqe, int fd)
    {
        sqe->Opcode = Sqe.OpPollAdd;
        sqe->Fd = fd;
        sqe->Len = PollAddMulti;
        sqe->OpFlags = 1; // POLLIN
        sqe->UserData = PokePollTag;
    }

    /// <summary>Wakes the worker sleeping in the ring: a write to the armed poll's eventfd, else a NOP.</summary>
    public void Wake()
    {
        if (Volatile.Read(ref _pokeArmed) != 0 && UsePoke(write: true)) return;
        _ring.Submit(&PrepareNop, PokeTag);
    }

    /// <summary>Writes to or drains the eventfd unless it is closed (or closing). False if it was not touched.</summary>
    bool UsePoke(bool write)
    {
        if ((Interlocked.Increment(ref _pokeUsers) & PokeClosed) != 0 || _pokeFd < 0)
        {
            Interlocked.Decrement(ref _pokeUsers);
            return false;
        }
        ulong value = 1;
        if (write) Libc.Write(_pokeFd, &value, sizeof(ulong)); // EAGAIN only when saturated: readable anyway
        else Libc.Read(_pokeFd, &value, sizeof(ulong));        // non-blocking: EAGAIN when already drained
        Interlocked.Decrement(ref _pokeUsers);
        return true;
    }

    /// <summary>The poll's completion: drain, note whether it is still armed, then as a NOP's completion.</summary>
    void OnPokePoll(int res, uint flags)
    {
        if ((flags & CqeFMore) == 0)
        {
            // Ended (cancelled at teardown, or refused: a kernel without multishot polls says EINVAL — then never
            // again, or every sleep would arm it and wake at once).
            if (res == -Libc.EINVAL) Volatile.Write(ref _pokeRefused, true);
            Volatile.Write(ref _pokeArmed, 0);
        }
        if (res >= 0) UsePoke(write: false);
        WakeSleeperIfReapedByOther();
    }

    /// <summary>With the ring: waits for writers and drains in progress, then closes the eventfd.</summary>
    void ClosePoke()
    {
        if ((Interlocked.Or(ref _pokeUsers, PokeClosed) & PokeClosed) != 0) return;
        SpinWait spin = default;
        while ((Volatile.Read(ref _pokeUsers) & ~PokeClosed) != 0) spin.SpinOnce();
        int fd = _pokeFd;
        _pokeFd = -1;
        if (fd >= 0) Libc.Close(fd);
    }
}
