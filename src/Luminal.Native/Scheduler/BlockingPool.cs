using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using Luminal.Interop;
using Luminal.Tasks;

namespace Luminal.Scheduler;

/// <summary>
/// Threads for work that must block (luminal_spawn_blocking), so it never occupies a worker. Elastic: a thread is
/// started when work arrives and none is idle, up to <see cref="MaxThreads"/>; past that, work waits in queue
/// (one per priority level, most urgent first). A thread idle for the keep-alive time exits.
/// The queues link the tasks' own cells (RawTask.Next, free while a task waits here: it is in no other queue), so
/// a burst of 100,000 blocking calls queues without a managed allocation (issue 15).
/// </summary>
sealed unsafe class BlockingPool
{
    readonly Runtime _rt;
    readonly object _lock = new();
    readonly TaskFifo[] _queues = new TaskFifo[Priority.Levels]; // structs, mutated in place under _lock
    readonly int _keepAliveMs;
    readonly List<Thread> _threads = new();
    int _idle;     // threads waiting for work
    int _notified; // of those, how many a submitter already counted on (each is pulsed once)
    // Thread indexes (the thread hooks' index, the name's suffix): the lowest free one, so they stay below
    // MaxThreads and a name keeps its number within Linux's 15 bytes ("luminal-b-65535").
    readonly Stack<int> _freeIndexes = new();
    int _nextIndex;
    bool _shutdown;
    // Idle threads sleep on this futex word (a sequence every notify bumps), not in Monitor.Wait: NativeAOT's
    // Monitor.Wait and Pulse allocate (a wait-subsystem lookup per wait, an object per pulse), so every blocking call
    // allocated and 1M of them made a collection (issue 15). Native memory: a futex needs a stable address. Freed
    // once every thread has exited (Join); null where there is no futex (Monitor.Wait then).
    int* _wakeSeq = Futex.Supported ? (int*)NativeMemory.AllocZeroed(sizeof(int)) : null;

    public readonly int MaxThreads;

    public BlockingPool(Runtime runtime, int maxThreads, int keepAliveMs)
    {
        _rt = runtime;
        MaxThreads = maxThreads;
        _keepAliveMs = keepAliveMs;
    }

    /// <summary>A FIFO of tasks linked through RawTask.Next (under the pool's lock).</summary>
    struct TaskFifo
    {
        RawTask? _head, _tail;
        public int Count;

        public void Enqueue(RawTask task)
        {
            task.Next = null;
            if (_tail is RawTask tail) tail.Next = task; else _head = task;
            _tail = task;
            Count++;
        }

        public bool TryDequeue(out RawTask task)
        {
            if (_head is not RawTask head) { task = default; return false; }
            _head = head.Next;
            if (_head is null) _tail = null;
            head.Next = null;
            Count--;
            task = head;
            return true;
        }

        public bool Remove(RawTask task)
        {
            for (RawTask? prev = null, at = _head; at is RawTask t; prev = t, at = t.Next)
            {
                if (t != task) continue;
                if (prev is RawTask p) p.Next = t.Next; else _head = t.Next;
                if (_tail == t) _tail = prev;
                t.Next = null;
                Count--;
                return true;
            }
            return false;
        }
    }

    /// <summary>Threads alive now.</summary>
    public int ThreadCount { get { lock (_lock) return _threads.Count; } }

    /// <summary>Tasks waiting for a thread.</summary>
    public int Queued
    {
        get
        {
            lock (_lock)
            {
                int n = 0;
                foreach (TaskFifo q in _queues) n += q.Count;
                return n;
            }
        }
    }

    /// <summary>Threads alive, of those idle, and tasks queued, in one snapshot (metrics).</summary>
    public void Snapshot(out int threads, out int idle, out int queued)
    {
        lock (_lock)
        {
            threads = _threads.Count;
            idle = _idle;
            queued = 0;
            foreach (TaskFifo q in _queues) queued += q.Count;
        }
    }

    /// <summary>Are more than <paramref name="excluded"/> calls queued or running? (A thread counts as busy from
    /// taking a call until it waits again, which is after the call returned and its task finished, so its wakes are
    /// pushed by then.) The excluded ones are running calls the caller does not wait for (see
    /// Runtime.ExternalWorkPending).</summary>
    public bool BusyBeyond(int excluded)
    {
        lock (_lock)
        {
            int busy = _threads.Count - _idle;
            foreach (TaskFifo q in _queues) busy += q.Count;
            return busy > excluded;
        }
    }

    /// <summary>Queues a task (the caller owns its SCHEDULED flag). False once shut down.</summary>
    public bool Submit(RawTask task)
    {
        lock (_lock)
        {
            if (_shutdown) return false;
            _queues[task.Priority].Enqueue(task);
            // Count only idle threads nobody has claimed yet: two quick submits must not both rely on the same
            // waking thread (the second task would wait behind the first, which may be waiting for it).
            if (_idle - _notified > 0) { _notified++; NotifyIdle(all: false); return true; }
            if (_threads.Count >= MaxThreads) return true; // saturated: the task waits for a thread
            StartThread();
            return true;
        }
    }

    /// <summary>Under <see cref="_lock"/>: a new pool thread. A method of its own: the lambda's closure would
    /// otherwise be allocated at the top of Submit, on every call (the C# compiler makes it where the captured
    /// variable's scope begins) — the per-call allocation of luminal_spawn_blocking (issue 15).</summary>
    void StartThread()
    {
        int index = _freeIndexes.Count > 0 ? _freeIndexes.Pop() : _nextIndex++;
        var thread = new Thread(() => ThreadMain(index)) { IsBackground = true, Name = string.Concat("luminal-b-", index.ToString()) };
        _threads.Add(thread);
        thread.Start();
    }

    /// <summary>Takes a task out of the queue if it is still waiting there (an abort before the call started).</summary>
    public bool TryRemove(RawTask task)
    {
        lock (_lock) return _queues[task.Priority].Remove(task);
    }

    RawTask? Dequeue()
    {
        for (int i = 0; i < _queues.Length; i++) if (_queues[i].TryDequeue(out RawTask t)) return t;
        return null;
    }

    void ThreadMain(int index)
    {
        _rt.ThreadStarted(Observe.ThreadKind.Blocking, index);
        try { Serve(); }
        finally
        {
            _rt.ThreadStopping(Observe.ThreadKind.Blocking, index);
            lock (_lock)
            {
                _threads.Remove(Thread.CurrentThread); // (an idle one already left, under the lock that decided it)
                _freeIndexes.Push(index); // after the hook: a new thread with this index starts after it
            }
        }
    }

    void Serve()
    {
        while (true)
        {
            RawTask? task;
            lock (_lock)
            {
                while ((task = Dequeue()) is null)
                {
                    if (_shutdown) return; // leaves _threads after its stop hook (ThreadMain): Join waits for that
                    _idle++;
                    bool signalled = WaitIdle();
                    _idle--;
                    if (_notified > 0) _notified--; // whoever wakes first takes a claim, pulsed or not
                    if (!signalled && !_shutdown && (task = Dequeue()) is null)
                    {
                        _threads.Remove(Thread.CurrentThread); // idle too long
                        return;
                    }
                    if (task is not null) break;
                }
            }
            task.Value.Run(null); // a blocking task calls fn(arg): no poll, no context
        }
    }

    /// <summary>Under <see cref="_lock"/>: wakes one idle thread (or all).</summary>
    void NotifyIdle(bool all)
    {
        if (_wakeSeq == null)
        {
            if (all) Monitor.PulseAll(_lock); else Monitor.Pulse(_lock);
            return;
        }
        Interlocked.Increment(ref *_wakeSeq);
        if (all) Futex.WakeAll(_wakeSeq); else Futex.WakeOne(_wakeSeq);
    }

    /// <summary>Under <see cref="_lock"/>, which it releases while it sleeps: waits for a notify or the keep-alive
    /// time. True if a notify came since the wait began (maybe meant for another idle thread: that only keeps
    /// this one alive for another keep-alive period). The sequence is read under the lock and every notify bumps
    /// it under the lock, so a notify after the read makes the futex wait return at once: none is lost.</summary>
    bool WaitIdle()
    {
        if (_wakeSeq == null) return Monitor.Wait(_lock, _keepAliveMs);
        int seen = Volatile.Read(ref *_wakeSeq);
        long deadline = _keepAliveMs < 0 ? long.MaxValue : Environment.TickCount64 + _keepAliveMs;
        Monitor.Exit(_lock);
        try
        {
            // Spurious returns happen: sleep again until a notify or the deadline.
            while (Volatile.Read(ref *_wakeSeq) == seen)
            {
                long timeoutNs = -1;
                if (deadline != long.MaxValue)
                {
                    long leftMs = deadline - Environment.TickCount64;
                    if (leftMs <= 0) break;
                    timeoutNs = leftMs * 1_000_000;
                }
                Futex.Wait(_wakeSeq, seen, timeoutNs);
            }
        }
        finally { Monitor.Enter(_lock); }
        return Volatile.Read(ref *_wakeSeq) != seen;
    }

    /// <summary>Refuses new work and cancels what is queued; running calls finish on their own.</summary>
    public void Shutdown()
    {
        var queued = new TaskFifo();
        lock (_lock)
        {
            _shutdown = true;
            while (Dequeue() is RawTask t) queued.Enqueue(t);
            NotifyIdle(all: true);
        }
        while (queued.TryDequeue(out RawTask t)) t.Run(null); // the runtime is shut down: Run drops instead of calling
    }

    /// <summary>Waits for the pool's threads to exit; false on timeout.</summary>
    public bool Join(long deadline)
    {
        Thread[] threads;
        lock (_lock) threads = _threads.ToArray();
        foreach (Thread t in threads)
        {
            if (t == Thread.CurrentThread) continue; // shutdown called from a blocking call: don't join ourselves
            int left = deadline == long.MaxValue ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
            if (!t.Join(left)) return false;
        }
        lock (_lock)
        {
            // Every thread has exited (the one this runs on, inside a blocking call, returns on seeing _shutdown
            // before it would wait) and no submit notifies after shutdown: nobody uses the word any more.
            if (_threads.Count == 0 && _wakeSeq != null)
            {
                NativeMemory.Free(_wakeSeq);
                _wakeSeq = null;
            }
        }
        return true;
    }
}
