using System;

namespace Luminal.Io;

/// <summary>
/// Completes a batch of operations, then wakes their tasks: every operation of the batch is complete before the
/// first task is woken. (A task woken during shutdown is dropped at once, on the waking thread; its drop waits for
/// its other operations — if one of them were still in the batch, only this thread could complete it: a
/// deadlock.) Room for 64 wakers on the caller's stack; a larger batch (a reactor stopping with many waiters)
/// grows onto the heap.
/// </summary>
ref struct Wakes(Span<ulong> room)
{
    Span<ulong> _wakers = room;
    int _count;

    public void Complete(IoOp op, long raw)
    {
        ulong waker = op.CompleteWithoutWake(raw);
        if (waker == 0) return;
        if (_count == _wakers.Length)
        {
            var bigger = new ulong[Math.Max(64, _wakers.Length * 2)];
            _wakers.CopyTo(bigger);
            _wakers = bigger;
        }
        _wakers[_count++] = waker;
    }

    public void WakeAll()
    {
        for (int i = 0; i < _count; i++) Tasks.Waker.Wake(_wakers[i]);
        _count = 0;
    }
}
