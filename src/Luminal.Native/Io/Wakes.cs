using System;
using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>
/// Completes a batch of operations, then wakes their tasks: every operation of the batch is complete before the
/// first task is woken. (A task woken during shutdown is dropped at once, on the waking thread; its drop waits for
/// its other operations — if one of them were still in the batch, only this thread could complete it: a
/// deadlock.) Room for 64 wakers on the caller's stack; a larger batch (a reactor stopping with many waiters)
/// grows into native memory (no managed allocation, issue 15), freed by <see cref="WakeAll"/>.
/// </summary>
unsafe ref struct Wakes(Span<ulong> room)
{
    Span<ulong> _wakers = room;
    ulong* _grown; // native, once the room is full
    int _count;

    public void Complete(IoOp op, long raw)
    {
        ulong waker = op.CompleteWithoutWake(raw);
        if (waker == 0) return;
        if (_count == _wakers.Length)
        {
            int capacity = Math.Max(128, _wakers.Length * 2);
            ulong* bigger = (ulong*)NativeMemory.Alloc((nuint)capacity, sizeof(ulong));
            _wakers.CopyTo(new Span<ulong>(bigger, capacity));
            if (_grown != null) NativeMemory.Free(_grown);
            _grown = bigger;
            _wakers = new Span<ulong>(bigger, capacity);
        }
        _wakers[_count++] = waker;
    }

    /// <summary>Wakes every task of the batch (and frees what the batch grew into).</summary>
    public void WakeAll()
    {
        try
        {
            for (int i = 0; i < _count; i++) Tasks.Waker.Wake(_wakers[i]);
        }
        finally
        {
            _count = 0;
            if (_grown != null)
            {
                NativeMemory.Free(_grown);
                _grown = null;
                _wakers = default;
            }
        }
    }
}
