using System;
using System.Runtime.InteropServices;
using Luminal.Io;

namespace Luminal.Interop;

/// <summary>Path operations (luminal_fs_*): each copies its paths, describes the operation in an
/// <see cref="IoOp"/> and hands back a future, like every IO export.</summary>
static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "luminal_fs_stat")]
    static int FsStat(nint rt, byte* path, NativeFileInfo* info, NativeIoResult* result, NativeFuture* output) =>
        PathOp(rt, IoKind.PathStat, path, null, info, 0, 0, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_fs_rename")]
    static int FsRename(nint rt, byte* from, byte* to, NativeIoResult* result, NativeFuture* output) =>
        to == null ? Refused(output) : PathOp(rt, IoKind.Rename, from, to, null, 0, 0, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_fs_unlink")]
    static int FsUnlink(nint rt, byte* path, NativeIoResult* result, NativeFuture* output) =>
        PathOp(rt, IoKind.Unlink, path, null, null, 0, 0, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_fs_remove_dir")]
    static int FsRemoveDir(nint rt, byte* path, NativeIoResult* result, NativeFuture* output) =>
        PathOp(rt, IoKind.Unlink, path, null, null, 0, Libc.AT_REMOVEDIR, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_fs_mkdir")]
    static int FsMkdir(nint rt, byte* path, uint mode, NativeIoResult* result, NativeFuture* output) =>
        PathOp(rt, IoKind.Mkdir, path, null, null, mode, 0, result, output);

    [UnmanagedCallersOnly(EntryPoint = "luminal_fs_read_dir")]
    static int FsReadDir(nint rt, byte* path, NativeDirList* list, NativeIoResult* result, NativeFuture* output)
    {
        if (list != null) { list->Entries = null; list->Count = 0; }
        return PathOp(rt, IoKind.ReadDir, path, null, list, 0, 0, result, output);
    }

    [UnmanagedCallersOnly(EntryPoint = "luminal_dir_list_release")]
    static void DirListRelease(NativeDirList* list)
    {
        try { NativeDirList.Release(list); }
        catch { /* void export: freeing a list we made cannot throw; if it did, the list leaks */ }
    }

    static int Refused(NativeFuture* output)
    {
        if (output != null) *output = default;
        return (int)Status.InvalidArgument;
    }

    /// <summary>A path operation's future; <paramref name="target"/> is what fs_stat and read_dir fill (required).</summary>
    static int PathOp(nint rt, IoKind kind, byte* path, byte* path2, void* target, uint mode, int flags,
        NativeIoResult* result, NativeFuture* output)
    {
        try
        {
            bool fills = kind is IoKind.PathStat or IoKind.ReadDir;
            if (path == null || (fills && target == null)) return Refused(output);
            Status s = BeginIo(rt, kind, result, output, out IoOp op);
            if (s != Status.Ok) return (int)s;
            op.Args<PathArgs>() = new PathArgs
            {
                Path = IoOp.CopyString(path),
                Path2 = path2 == null ? null : IoOp.CopyString(path2),
                Target = target,
                Mode = mode,
                Flags = flags,
            };
            op.Fill(output);
            return (int)Status.Ok;
        }
        catch (Exception e) { return Fail(e); }
    }
}
