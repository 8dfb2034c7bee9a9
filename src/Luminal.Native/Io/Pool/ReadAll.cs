using System.Runtime.InteropServices;

namespace Luminal.Io.Pool;

/// <summary>
/// luminal_file_read_all on the blocking pool: open(2) a regular file, fstat(2) for the size, one buffer of that size, pread(2)
/// until end of file (growing the buffer if the file grew meanwhile).
/// </summary>
static unsafe class ReadAll
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref PathIntoArgs a = ref op.Args<PathIntoArgs>();
        // O_NONBLOCK: opening a FIFO without a writer must not block (it is refused just below).
        int fd = Libc.Open(a.Path, Libc.O_RDONLY | Libc.O_CLOEXEC | Libc.O_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        byte* data = null;
        try
        {
            Libc.Stat st;
            if (Libc.Fstat(fd, &st) != 0) return -Libc.Errno;
            if ((st.Mode & 0xF000) != 0x8000) return Libc.NotRegular(st.Mode);
            nuint capacity = (nuint)System.Math.Max(st.Size, 0) + 1; // +1: notice growth without a second stat
            data = (byte*)NativeMemory.Alloc(capacity);
            nuint length = 0;
            while (true)
            {
                if (op.CancelRequested) { NativeMemory.Free(data); return -Libc.ECANCELED; }
                if (length == capacity) data = (byte*)NativeMemory.Realloc(data, capacity *= 2);
                nint n = Libc.Pread(fd, data + length, capacity - length, (long)length);
                if (n < 0)
                {
                    if (Libc.Errno == Libc.EINTR) continue;
                    long err = -Libc.Errno;
                    NativeMemory.Free(data);
                    return err;
                }
                if (n == 0) break;
                length += (nuint)n;
            }
            var buffer = (NativeBuffer*)a.Target;
            buffer->Data = data;
            buffer->Len = length;
            return (long)length;
        }
        finally { Libc.Close(fd); }
    }
}
