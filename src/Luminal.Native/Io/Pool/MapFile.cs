namespace Luminal.Io.Pool;

/// <summary>
/// luminal_file_map: open(2), fstat(2), mmap(2) the whole file read-only, close(2). No io_uring opcode maps a
/// file, so both backends run this on the blocking pool (opening may block; the mapping itself is lazy).
/// </summary>
static unsafe class MapFile
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref PathIntoArgs a = ref op.Args<PathIntoArgs>();
        // O_NONBLOCK: opening a FIFO without a writer must not block (it is refused just below).
        int fd = Libc.Open(a.Path, Libc.O_RDONLY | Libc.O_CLOEXEC | Libc.O_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        try
        {
            Libc.Stat st;
            if (Libc.Fstat(fd, &st) != 0) return -Libc.Errno;
            if ((st.Mode & 0xF000) != 0x8000) return Libc.NotRegular(st.Mode);
            var view = (NativeView*)a.Target;
            view->Data = null;
            view->Len = 0;
            if (st.Size == 0) return 0;
            void* p = Libc.Mmap(null, (nuint)st.Size, Libc.PROT_READ, Libc.MAP_PRIVATE, fd, 0);
            if (p == (void*)-1) return -Libc.Errno;
            view->Data = (byte*)p;
            view->Len = (nuint)st.Size;
            return st.Size;
        }
        finally { Libc.Close(fd); }
    }
}
