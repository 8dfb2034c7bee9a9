namespace Luminal.Io;

/// <summary>luminal_fd_ready's result: LUMINAL_READY_READABLE (1), _WRITABLE (2), _ERROR (4: POLLERR or POLLHUP,
/// which the next read or write will explain).</summary>
static class ReadyMask
{
    public const int Readable = 1, Writable = 2, Error = 4;

    public static long Of(int revents) =>
        ((revents & Libc.POLLIN) != 0 ? Readable : 0)
        | ((revents & Libc.POLLOUT) != 0 ? Writable : 0)
        | ((revents & (Libc.POLLERR | Libc.POLLHUP)) != 0 ? Error : 0);
}
