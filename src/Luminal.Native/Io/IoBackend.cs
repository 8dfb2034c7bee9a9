using System;
using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>
/// Where IO operations go: io_uring (<see cref="Uring.UringBackend"/>) or the blocking pool
/// (<see cref="Pool.PoolBackend"/>). A backend only starts, cancels and completes operations; what each operation
/// does lives in its own small file per backend (Uring/ReadAt.cs, Pool/ReadAt.cs, ...), found through its row in
/// <see cref="Operations"/>.
/// </summary>
abstract unsafe class IoBackend : Scheduler.Driver
{
    public const uint UringKind = 1, PoolKind = 2;

    /// <summary>luminal_io_backend of this backend.</summary>
    public abstract uint Kind { get; }

    /// <summary>Starts the operation; it reports back through <see cref="IoOp.Complete"/> exactly once.</summary>
    public abstract void Submit(IoOp op);

    /// <summary>Right after the poll that submitted <paramref name="op"/>: hand out what completed at once (io_uring:
    /// reaps what the submitting enter completed).</summary>
    public virtual void PollAfterSubmit(IoOp op) => Poll();

    /// <summary>Asks for an in-flight operation to end early (its Complete still comes, maybe with -ECANCELED).</summary>
    public abstract void Cancel(IoOp op);

    /// <summary>Blocks until a cancelled operation has completed (the dropper's wait for its buffer).</summary>
    public virtual void WaitCompleted(IoOp op) => op.WaitCompleted();

    /// <summary>
    /// Shutdown, before the last worker drops the tasks that are left: refuses new operations and cancels every
    /// operation still in flight on this backend as one batch, so the drops that follow find them completed
    /// instead of each cancelling its own operation and waiting for it, one after another.
    /// </summary>
    public virtual void CancelAll() { }

    /// <summary>The runtime is shutting down and no task is left: stop accepting work.</summary>
    public virtual void Stop() { }

    /// <summary>The backend asked for: the option, else LUMINAL_IO_BACKEND=uring|pool (read when the runtime is
    /// created), else 0 (auto).</summary>
    public static uint Requested(uint option)
    {
        if (option != 0) return option;
        return Environment.GetEnvironmentVariable("LUMINAL_IO_BACKEND") switch
        {
            "uring" or "io_uring" => UringKind,
            "pool" => PoolKind,
            _ => 0,
        };
    }

    /// <summary>The backend <see cref="Create"/> would start for <paramref name="requested"/> (without starting it).</summary>
    public static uint Planned(uint requested) =>
        requested == PoolKind || !OperatingSystem.IsLinux() ? PoolKind
        : requested == UringKind || Uring.Ring.IsAvailable() ? UringKind : PoolKind;

    /// <summary>Starts the backend asked for (see <see cref="Requested"/>): io_uring if the kernel allows it unless
    /// the pool was asked for. Null when io_uring was required but is unavailable.
    /// <paramref name="why"/>: the choice and its reason, for the runtime's log.</summary>
    public static IoBackend? Create(Runtime runtime, uint requested, out string why)
    {
        if (!OperatingSystem.IsLinux()) { why = "IO backend: pool (io_uring is Linux only)"; return new Pool.PoolBackend(runtime); }
        if (requested == PoolKind)
        {
            why = "IO backend: pool (asked for by the io_backend option or LUMINAL_IO_BACKEND)";
            return new Pool.PoolBackend(runtime);
        }
        Uring.UringBackend? uring = Uring.UringBackend.TryCreate(runtime, out int errno);
        if (uring is not null)
        {
            why = requested == UringKind ? "IO backend: io_uring (asked for)" : "IO backend: io_uring (available)";
            return uring;
        }
        why = string.Concat(requested == UringKind ? "IO backend: io_uring asked for but io_uring_setup failed: errno "
            : "IO backend: pool (io_uring_setup failed: errno ", errno.ToString(), " ", Marshal.GetPInvokeErrorMessage(errno),
            requested == UringKind ? "" : ")");
        return requested == UringKind ? null : new Pool.PoolBackend(runtime);
    }
}

/// <summary>luminal_view.</summary>
[Interop.CStruct("luminal_view")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeView
{
    public byte* Data;
    public nuint Len;
}

/// <summary>luminal_buffer.</summary>
[Interop.CStruct("luminal_buffer")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeBuffer
{
    public byte* Data;
    public nuint Len;
}

/// <summary>luminal_file_info.</summary>
[Interop.CStruct("luminal_file_info")]
[StructLayout(LayoutKind.Sequential)]
struct NativeFileInfo
{
    public ulong Size;
    public uint Mode;
    public uint Reserved;
    public long MtimeNs;
}

/// <summary>Releasing what the personalities hand out (shared by the exports and by discarded results).</summary>
static unsafe class Handouts
{
    public static void ReleaseView(NativeView* view)
    {
        if (view == null) return;
        if (view->Data != null) Libc.Munmap(view->Data, view->Len);
        view->Data = null;
        view->Len = 0;
    }

    public static void ReleaseBuffer(NativeBuffer* buffer)
    {
        if (buffer == null) return;
        if (buffer->Data != null) NativeMemory.Free(buffer->Data);
        buffer->Data = null;
        buffer->Len = 0;
    }
}
