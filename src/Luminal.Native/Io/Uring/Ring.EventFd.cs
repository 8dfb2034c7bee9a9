using System.Runtime.InteropServices;

namespace Luminal.Io.Uring;

sealed unsafe partial class Ring
{
    const long SysRegister = 427;      // io_uring_register (the same number on x86_64 and arm64)
    const uint RegisterEventFd = 4;    // IORING_REGISTER_EVENTFD (Linux 5.2)

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallRegister(long n, int fd, uint opcode, int* arg, uint count);

    /// <summary>
    /// Has the kernel signal <paramref name="eventFd"/> whenever it posts a completion (a current-thread runtime's
    /// wakeup fd: an event loop watching it then wakes for IO without anyone sleeping in the ring). The kernel holds
    /// its own reference to the eventfd, so closing our descriptor later is safe. False if the kernel refuses.
    /// </summary>
    public bool SignalEventFd(int eventFd)
    {
        int fd = eventFd;
        return SyscallRegister(SysRegister, _fd, RegisterEventFd, &fd, 1) == 0;
    }
}
