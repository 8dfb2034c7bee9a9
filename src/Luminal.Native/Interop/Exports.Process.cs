using System;
using System.Runtime.InteropServices;
using Luminal.Io;

namespace Luminal.Interop;

/// <summary>Child processes: spawn (a plain call), wait (an IO future on the child's pidfd), kill, release.</summary>
static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_process_spawn")]
    static int ProcessSpawn(NativeProcessOptions* options, NativeProcess* process, NativeIoResult* result)
    {
        try
        {
            if (options == null || process == null || options->StructSize < (nuint)sizeof(nuint)) return Report(result, Status.InvalidArgument);
            *process = new NativeProcess { Pid = -1, PidFd = -1, StdinFd = -1, StdoutFd = -1, StderrFd = -1 };
            // struct_size: the fields an older caller's struct lacks take their defaults (zero: inherit everything).
            NativeProcessOptions o = default;
            Buffer.MemoryCopy(options, &o, sizeof(NativeProcessOptions), (long)Math.Min(options->StructSize, (nuint)sizeof(NativeProcessOptions)));
            if (o.Path == null || o.StdinMode > Spawner.Pipe || o.StdoutMode > Spawner.Pipe || o.StderrMode > Spawner.Pipe)
                return Report(result, Status.InvalidArgument);
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            int err = Spawner.Spawn(o, process);
            return err == 0 ? Report(result, Status.Ok, 0, (ulong)process->Pid) : Report(result, Status.Io, err);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_process_wait")]
    static int ProcessWait(nint rt, NativeProcess* process, NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            if (process == null || process->Pid <= 0) { if (output != null) *output = default; return (int)Status.InvalidArgument; }
            Status s = BeginIo(rt, IoKind.ProcessWait, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<ProcessWaitArgs>() = new ProcessWaitArgs { Pid = process->Pid, PidFd = process->PidFd };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_process_kill")]
    static int ProcessKill(NativeProcess* process, int signo, NativeIoResult* result)
    {
        try
        {
            // pid > 0 always: kill(0) or kill(-1) would signal a whole group, or every process we may signal.
            if (process == null || process->Pid <= 0 || signo is < 0 or > 64) return Report(result, Status.InvalidArgument);
            if (!OperatingSystem.IsLinux()) return Report(result, Status.Unsupported);
            // The pidfd names this child even if its pid was reaped and reused; without one, kill(2).
            int rc = process->PidFd >= 0 ? Libc.PidfdSendSignal(process->PidFd, signo) : Libc.Kill(process->Pid, signo);
            return rc == 0 ? Report(result, Status.Ok) : OsFail(result);
        }
        catch (Exception e) { return Report(result, (Status)Fail(e)); }
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_process_release")]
    static void ProcessRelease(NativeProcess* process)
    {
        try { if (process != null) Spawner.Release(process); }
        catch { /* void export: closing fds cannot throw; if it did, they leak */ }
    }
}
