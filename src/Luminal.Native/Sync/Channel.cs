using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Luminal.Sync;

/// <summary>
/// A multi-producer, single-consumer channel (luminal_channel_*): a FIFO of message pointers in a native ring that
/// doubles as it fills (up to the capacity; unbounded: without end), a FIFO of send futures waiting for room and
/// one of recv futures waiting for a message. Everything below is under <see cref="_lock"/>.
///
/// Invariants:
///  - A message belongs to exactly one place at a time: the caller, a send future (<see cref="SyncSlot.HasMessage"/>),
///    the ring, or the receiver. It leaves a send future once: into the ring, or to drop_message (closed, failed, or
///    the future dropped before it completed). So drop_message runs exactly once for each message never received.
///  - A send future is only ever in the ring after its own READY poll: when a slot frees up, the head waiting sender
///    gets it reserved (<see cref="_reserved"/>, Granted) and is woken; it moves its message in at its next poll, or
///    hands the reservation to the next waiter when it is dropped. So a dropped send never delivers.
///  - Room for a new send: unbounded, or len + reserved &lt; capacity and nobody waits (FIFO: a newcomer, try_send
///    included, never overtakes a waiting sender).
///  - Recv futures take messages only in their poll, from the ring: a dropped recv future holds nothing.
///  - _senders counts sender handles and send futures not yet completed; _receivers the receiver handle and recv
///    futures. _senders == 0 and an empty ring: recv answers CLOSED. _receivers == 0: the channel is closed for
///    sending, the ring is detached and its messages dropped (outside the lock), waiting senders are woken to fail.
///  - Wakes and drop_message calls happen outside the lock (user code may call back into the channel).
/// </summary>
sealed unsafe class Channel : PooledSyncObject
{
    static readonly Handles.SlotTable<Channel> Pool = new(() => new Channel());

    nuint _capacity; // 0 = unbounded
    delegate* unmanaged<void*, void> _dropMessage;

    nint* _ring;   // null once closed for sending (detached) or before the first message
    nuint _mask;   // ring size - 1 (a power of two)
    nuint _head, _len, _reserved;
    long _senders, _receivers;
    WaiterList _sendWaiters, _recvWaiters; // structs, mutated in place: never readonly, never copied

    /// <summary>A channel from the pool (or new while the pool grows) with one sender and one receiver handle;
    /// null if the pool is full.</summary>
    public static Channel? Rent(Runtime runtime, nuint capacity, delegate* unmanaged<void*, void> dropMessage)
    {
        if (Pool.Allocate() is not Channel ch) return null;
        using (ch._lock.Hold())
        {
            ch._capacity = capacity;
            ch._dropMessage = dropMessage;
            ch._ring = null;
            ch._mask = ch._head = ch._len = ch._reserved = 0;
            ch._senders = 1;
            ch._receivers = 1;
            ch._sendWaiters = default;
            ch._recvWaiters = default;
            ch.Begin(runtime, 2);
        }
        return ch;
    }

    // Every reference is gone, so _receivers is 0 and the ring was freed when it got there (CloseForSending).
    protected override void Return() => Pool.Free(this);

    public void DropMessage(nint msg)
    {
        if (_dropMessage != null && !Observe.PluginCheck.Skip(_dropMessage, "drop_message")) _dropMessage((void*)msg);
    }

    bool HasRoom => _sendWaiters.IsEmpty && (_capacity == 0 || _len + _reserved < _capacity);

    void Push(nint msg)
    {
        if (_ring == null || _len == _mask + 1) Grow();
        _ring[(_head + _len) & _mask] = msg;
        _len++;
    }

    /// <summary>Doubles the ring (first: 16 slots, or the capacity if smaller), unwrapping it.</summary>
    void Grow()
    {
        nuint size = _ring == null ? 0 : _mask + 1;
        nuint next = size == 0 ? 16 : size * 2;
        if (_capacity != 0 && size == 0 && _capacity < next) next = (nuint)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)_capacity);
        nint* fresh = (nint*)NativeMemory.Alloc(next, (nuint)sizeof(nint));
        for (nuint i = 0; i < _len; i++) fresh[i] = _ring[(_head + i) & _mask];
        NativeMemory.Free(_ring);
        _ring = fresh;
        _mask = next - 1;
        _head = 0;
    }

    nint Pop()
    {
        nint msg = _ring[_head];
        _head = (_head + 1) & _mask;
        _len--;
        return msg;
    }

    /// <summary>Wakes the first waiting recv future (it takes the message at its poll).</summary>
    void NotifyReceiver(ref WakeBatch wakes)
    {
        if (_recvWaiters.PopFront() is SyncSlot r) { r.Granted = true; wakes.Add(r.Waker); }
    }

    /// <summary>Reserves the free slots for waiting senders, oldest first.</summary>
    void GrantSenders(ref WakeBatch wakes)
    {
        while (!wakes.IsFull && _sendWaiters.Head is SyncSlot s && (_capacity == 0 || _len + _reserved < _capacity))
        {
            _sendWaiters.Remove(s);
            s.Granted = true;
            _reserved++;
            wakes.Add(s.Waker);
        }
    }

    // ---- handles -----------------------------------------------------------------------------------------

    /// <summary>A cloned sender handle (one more sender and reference); false if <paramref name="handle"/> was
    /// released meanwhile.</summary>
    public bool AddSender(SyncSlot handle, uint generation)
    {
        using (_lock.Hold())
        {
            if (_senders == 0 || !AddRefLocked(handle, generation)) return false;
            _senders++;
            return true;
        }
    }

    /// <summary>A sender handle is released (after its token was retired): the last sender closes the channel for
    /// the receiver; then the handle's reference goes.</summary>
    public void ReleaseSender()
    {
        bool closing;
        using (_lock.Hold()) closing = --_senders == 0;
        if (closing) WakeAllReceivers();
        Unref();
    }

    public void ReleaseReceiver()
    {
        bool closing;
        using (_lock.Hold()) closing = --_receivers == 0;
        if (closing) CloseForSending();
        Unref();
    }

    /// <summary>The last sender went: every waiting recv future is woken (it answers CLOSED once the ring is empty).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    void WakeAllReceivers()
    {
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            using (_lock.Hold())
            {
                while (!wakes.IsFull && _recvWaiters.PopFront() is SyncSlot r) { r.Granted = true; wakes.Add(r.Waker); }
                more = !_recvWaiters.IsEmpty;
            }
            wakes.WakeAll();
            if (!more) return;
        }
    }

    /// <summary>The receiver side is gone: detach the ring and drop its messages, wake waiting senders (they fail
    /// with CLOSED and drop their own messages).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the wake buffer: WakeBatch reads only the entries it wrote
    void CloseForSending()
    {
        nint* ring;
        nuint head, len, mask;
        using (_lock.Hold())
        {
            ring = _ring; head = _head; len = _len; mask = _mask;
            _ring = null; _len = 0; _head = 0; _mask = 0;
        }
        // Nobody else reaches the detached ring: pushes check _receivers first.
        for (nuint i = 0; i < len; i++) DropMessage(ring[(head + i) & mask]);
        NativeMemory.Free(ring);
        Span<ulong> buffer = stackalloc ulong[WakeBatch.Capacity];
        while (true)
        {
            WakeBatch wakes = new(buffer);
            bool more;
            using (_lock.Hold())
            {
                while (!wakes.IsFull && _sendWaiters.PopFront() is SyncSlot s) wakes.Add(s.Waker);
                more = !_sendWaiters.IsEmpty;
            }
            wakes.WakeAll();
            if (!more) return;
        }
    }

    // ---- plain calls -----------------------------------------------------------------------------------------

    public Status TrySend(SyncSlot handle, uint generation, nint msg)
    {
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        using (_lock.Hold())
        {
            if (Stale(handle, generation)) return Status.InvalidHandle;
            if (_receivers == 0) return Status.Closed;
            if (!HasRoom) return Status.Full;
            Push(msg);
            NotifyReceiver(ref wakes);
        }
        wakes.WakeAll();
        return Status.Ok;
    }

    public Status TryRecv(SyncSlot handle, uint generation, out nint msg)
    {
        msg = 0;
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        using (_lock.Hold())
        {
            if (Stale(handle, generation)) return Status.InvalidHandle;
            if (_receivers == 0) return Status.Closed;
            if (_len == 0) return _senders == 0 ? Status.Closed : Status.Empty;
            msg = Pop();
            GrantSenders(ref wakes);
        }
        wakes.WakeAll();
        return Status.Ok;
    }

    // ---- futures ---------------------------------------------------------------------------------------------

    /// <summary>Registers a new send future (it counts as a sender until it completes, and as a reference until
    /// it is dropped). False if <paramref name="handle"/> was released meanwhile (then nothing is registered).</summary>
    public bool BeginSend(SyncSlot handle, uint generation, SyncSlot op, nint msg, nint result)
    {
        op.Message = msg;
        op.HasMessage = true;
        op.ResultPtr = result;
        using (_lock.Hold())
        {
            if (_senders == 0 || !AddRefLocked(handle, generation)) return false;
            _senders++;
            op.HoldsRef = true;
        }
        return true;
    }

    /// <summary>Registers a new recv future (a receiver until it completes, a reference until it is dropped).</summary>
    public bool BeginRecv(SyncSlot handle, uint generation, SyncSlot op, nint msgOut, nint result)
    {
        op.MessageOut = msgOut;
        op.ResultPtr = result;
        using (_lock.Hold())
        {
            if (!AddRefLocked(handle, generation)) return false;
            _receivers++;
            op.HoldsRef = true;
        }
        return true;
    }

    /// <summary>A send future's poll. Returns Pending, or the outcome (then the message is queued, or handed back
    /// in <paramref name="toDrop"/> for the caller to drop outside the lock).</summary>
    public Status PollSend(SyncSlot op, ulong waker, out bool drop, out nint toDrop)
    {
        drop = false;
        toDrop = 0;
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        bool lastSender = false;
        Status outcome;
        using (_lock.Hold())
        {
            if (op.Completed) return Status.Ok; // polled again after READY (a contract breach): nothing to do
            if (_receivers == 0) outcome = Status.Closed;
            else if (op.Granted || (!op.Linked && HasRoom))
            {
                if (op.Granted) { _reserved--; op.Granted = false; }
                Push(op.Message);
                op.HasMessage = false;
                NotifyReceiver(ref wakes);
                outcome = Status.Ok;
            }
            else
            {
                op.Waker = waker;
                if (!op.Linked) _sendWaiters.PushBack(op);
                return Status.Pending;
            }
            _sendWaiters.Remove(op);
            if (op.HasMessage) { drop = true; toDrop = op.Message; op.HasMessage = false; }
            op.Completed = true;
            op.HoldsRef = false;
            lastSender = --_senders == 0;
        }
        wakes.WakeAll();
        if (lastSender) WakeAllReceivers();
        return outcome;
    }

    /// <summary>A send future is dropped: it leaves the wait list, passes a reserved slot on, and gives back its
    /// message if it never delivered it.</summary>
    public void DropSend(SyncSlot op, out bool drop, out nint toDrop)
    {
        drop = false;
        toDrop = 0;
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        bool lastSender = false;
        using (_lock.Hold())
        {
            _sendWaiters.Remove(op);
            if (op.Granted) { op.Granted = false; _reserved--; GrantSenders(ref wakes); }
            if (op.HasMessage) { drop = true; toDrop = op.Message; op.HasMessage = false; }
            if (op.HoldsRef) { op.HoldsRef = false; lastSender = --_senders == 0; }
            op.Completed = true;
        }
        wakes.WakeAll();
        if (lastSender) WakeAllReceivers();
    }

    /// <summary>A recv future's poll: Pending, or the outcome (OK with <paramref name="msg"/>, or CLOSED).</summary>
    public Status PollRecv(SyncSlot op, ulong waker, out nint msg)
    {
        msg = 0;
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        bool lastReceiver;
        Status outcome;
        using (_lock.Hold())
        {
            if (op.Completed) return Status.Closed; // polled again after READY: nothing to take
            op.Granted = false;
            if (_len > 0)
            {
                msg = Pop();
                GrantSenders(ref wakes);
                outcome = Status.Ok;
            }
            else if (_senders == 0) outcome = Status.Closed;
            else
            {
                op.Waker = waker;
                if (!op.Linked) _recvWaiters.PushBack(op);
                return Status.Pending;
            }
            _recvWaiters.Remove(op);
            op.Completed = true;
            op.HoldsRef = false;
            lastReceiver = --_receivers == 0;
        }
        wakes.WakeAll();
        if (lastReceiver) CloseForSending();
        return outcome;
    }

    /// <summary>A recv future is dropped: it took nothing. If it had been woken for a message it will not take,
    /// the wake goes on to the next waiting recv future.</summary>
    public void DropRecv(SyncSlot op)
    {
        Span<ulong> buffer = stackalloc ulong[1];
        WakeBatch wakes = new(buffer);
        bool lastReceiver = false;
        using (_lock.Hold())
        {
            _recvWaiters.Remove(op);
            if (op.Granted && !op.Completed && (_len > 0 || _senders == 0)) NotifyReceiver(ref wakes);
            op.Granted = false;
            if (op.HoldsRef) { op.HoldsRef = false; lastReceiver = --_receivers == 0; }
            op.Completed = true;
        }
        wakes.WakeAll();
        if (lastReceiver) CloseForSending();
    }
}
