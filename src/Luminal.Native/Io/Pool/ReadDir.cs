using System.Runtime.InteropServices;

namespace Luminal.Io.Pool;

/// <summary>
/// luminal_fs_read_dir, on both backends (no io_uring opcode reads a directory): opendir(3)/readdir(3) on a
/// blocking-pool thread, every entry but "." and "..", into one native allocation — the entries, then their names —
/// which the caller's luminal_dir_list points at. The result is the count; a list nobody read is freed
/// (<see cref="PathArgs.ReleaseDirList"/>).
/// </summary>
static unsafe class ReadDir
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref PathArgs a = ref op.Args<PathArgs>();
        void* dir = Libc.OpenDir(a.Path);
        if (dir == null) return -Libc.Errno;
        // First the names, each as type byte + name + NUL, in a scratch buffer that grows; then the final block.
        byte* scratch = null;
        nuint used = 0, capacity = 0, count = 0;
        try
        {
            while (true)
            {
                byte* e = Libc.ReadDir(dir); // errno 0 at the end, else the error (the import clears it first)
                if (e == null)
                {
                    int err = Libc.Errno;
                    if (err != 0) return -err;
                    break;
                }
                byte* name = e + Libc.DirentName;
                if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
                nuint n = 0;
                while (name[n] != 0) n++;
                if (used + n + 2 > capacity)
                {
                    capacity = System.Math.Max(capacity * 2, used + n + 2 + 4096);
                    scratch = (byte*)NativeMemory.Realloc(scratch, capacity);
                }
                scratch[used] = e[Libc.DirentType];
                System.Buffer.MemoryCopy(name, scratch + used + 1, (long)(n + 1), (long)(n + 1));
                used += n + 2;
                count++;
            }
            var list = (NativeDirList*)a.Target;
            nuint header = count * (nuint)sizeof(NativeDirEntry);
            var block = (byte*)NativeMemory.Alloc(header + used + 1);
            var entries = (NativeDirEntry*)block;
            byte* names = block + header;
            if (used > 0) System.Buffer.MemoryCopy(scratch, names, (long)used, (long)used);
            for (nuint i = 0, at = 0; i < count; i++)
            {
                entries[i] = new NativeDirEntry { Name = names + at + 1, Kind = names[at] };
                while (names[at + 1] != 0) at++;
                at += 2;
            }
            list->Entries = entries;
            list->Count = count;
            return (long)count;
        }
        finally
        {
            if (scratch != null) NativeMemory.Free(scratch);
            Libc.CloseDir(dir);
        }
    }
}
