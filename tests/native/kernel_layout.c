/* kernel_layout — the runtime's hand-made kernel and libc layouts, checked on the architecture it runs on.
 *
 * The runtime lays out by hand the structs it shares with the kernel (io_uring's, epoll_event, struct stat and
 * statx, sockaddr_in, pollfd, iovec, timespecs), makes some system calls by number (futex, io_uring_setup/enter)
 * and passes libc constants; several differ between x86_64 and arm64 (epoll_event is packed on x86_64 only,
 * st_mode moves, futex is 202 or 98). The layout probe (tests/layout, NativeAOT like libluminal and compiled for the
 * same RID) reports what the runtime's own types and fields say; this program, compiled by the same
 * architecture's C compiler against its headers, compares every value. It runs natively on linux-x64 and under
 * qemu-user on linux-arm64 (./build.sh test --rid linux-arm64).
 *
 *   kernel_layout PROBE.so     exit 0 when every value matches, and every value of either side was checked */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <linux/stat.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The C truth. EQ: the probe's value must equal it; ROOM: the probe's buffer must be at least this big. */
enum { EQ, ROOM };
typedef struct {
  const char *name;
  long long value;
  int how;
  int seen;
} truth;

#define SZ(name, type) {name, (long long)sizeof(type), EQ, 0}
#define OFF(name, type, field) {name, (long long)offsetof(type, field), EQ, 0}
#define VAL(name, v) {name, (long long)(v), EQ, 0}

static truth truths[] = {
    VAL("sys.futex", SYS_futex),
    VAL("sys.io_uring_setup", __NR_io_uring_setup),
    VAL("sys.io_uring_enter", __NR_io_uring_enter),
    VAL("futex.wait_private", FUTEX_WAIT_PRIVATE),
    VAL("futex.wake_private", FUTEX_WAKE_PRIVATE),
    SZ("futex.timespec.size", struct timespec),
    SZ("sqe.size", struct io_uring_sqe),
    OFF("sqe.opcode", struct io_uring_sqe, opcode),
    OFF("sqe.flags", struct io_uring_sqe, flags),
    OFF("sqe.ioprio", struct io_uring_sqe, ioprio),
    OFF("sqe.fd", struct io_uring_sqe, fd),
    OFF("sqe.off", struct io_uring_sqe, off),
    OFF("sqe.addr", struct io_uring_sqe, addr),
    OFF("sqe.len", struct io_uring_sqe, len),
    OFF("sqe.op_flags", struct io_uring_sqe, rw_flags),
    OFF("sqe.user_data", struct io_uring_sqe, user_data),
    SZ("cqe.size", struct io_uring_cqe),
    OFF("cqe.user_data", struct io_uring_cqe, user_data),
    OFF("cqe.res", struct io_uring_cqe, res),
    OFF("cqe.flags", struct io_uring_cqe, flags),
    SZ("params.size", struct io_uring_params),
    OFF("params.sq_entries", struct io_uring_params, sq_entries),
    OFF("params.cq_entries", struct io_uring_params, cq_entries),
    OFF("params.flags", struct io_uring_params, flags),
    OFF("params.features", struct io_uring_params, features),
    OFF("params.sq_off", struct io_uring_params, sq_off),
    OFF("params.cq_off", struct io_uring_params, cq_off),
    SZ("sq_off.size", struct io_sqring_offsets),
    OFF("sq_off.head", struct io_sqring_offsets, head),
    OFF("sq_off.tail", struct io_sqring_offsets, tail),
    OFF("sq_off.ring_mask", struct io_sqring_offsets, ring_mask),
    OFF("sq_off.ring_entries", struct io_sqring_offsets, ring_entries),
    OFF("sq_off.flags", struct io_sqring_offsets, flags),
    OFF("sq_off.dropped", struct io_sqring_offsets, dropped),
    OFF("sq_off.array", struct io_sqring_offsets, array),
    SZ("cq_off.size", struct io_cqring_offsets),
    OFF("cq_off.head", struct io_cqring_offsets, head),
    OFF("cq_off.tail", struct io_cqring_offsets, tail),
    OFF("cq_off.ring_mask", struct io_cqring_offsets, ring_mask),
    OFF("cq_off.ring_entries", struct io_cqring_offsets, ring_entries),
    OFF("cq_off.overflow", struct io_cqring_offsets, overflow),
    OFF("cq_off.cqes", struct io_cqring_offsets, cqes),
    OFF("cq_off.flags", struct io_cqring_offsets, flags),
    SZ("getevents_arg.size", struct io_uring_getevents_arg),
    OFF("getevents_arg.sigmask", struct io_uring_getevents_arg, sigmask),
    OFF("getevents_arg.sigmask_sz", struct io_uring_getevents_arg, sigmask_sz),
    OFF("getevents_arg.ts", struct io_uring_getevents_arg, ts),
    SZ("kernel_timespec.size", struct __kernel_timespec),
    VAL("enter.getevents", IORING_ENTER_GETEVENTS),
    VAL("sq.cq_overflow", IORING_SQ_CQ_OVERFLOW),
    VAL("enter.ext_arg", IORING_ENTER_EXT_ARG),
    VAL("feat.single_mmap", IORING_FEAT_SINGLE_MMAP),
    VAL("feat.ext_arg", IORING_FEAT_EXT_ARG),
    VAL("off.sq_ring", IORING_OFF_SQ_RING),
    VAL("off.cq_ring", IORING_OFF_CQ_RING),
    VAL("off.sqes", IORING_OFF_SQES),
    VAL("op.nop", IORING_OP_NOP),
    VAL("op.fsync", IORING_OP_FSYNC),
    VAL("op.accept", IORING_OP_ACCEPT),
    VAL("op.async_cancel", IORING_OP_ASYNC_CANCEL),
    VAL("op.connect", IORING_OP_CONNECT),
    VAL("op.openat", IORING_OP_OPENAT),
    VAL("op.close", IORING_OP_CLOSE),
    VAL("op.statx", IORING_OP_STATX),
    VAL("op.read", IORING_OP_READ),
    VAL("op.write", IORING_OP_WRITE),
    VAL("op.send", IORING_OP_SEND),
    VAL("mmap.prot_read_write", PROT_READ | PROT_WRITE),
    VAL("mmap.map_shared", MAP_SHARED),
    VAL("mmap.map_populate", MAP_POPULATE),
    VAL("mmap.prot_read", PROT_READ),
    VAL("mmap.map_private", MAP_PRIVATE),
    SZ("statx.size", struct statx),
    OFF("statx.stx_mode", struct statx, stx_mode),
    OFF("statx.stx_size", struct statx, stx_size),
    OFF("statx.stx_mtime.tv_sec", struct statx, stx_mtime.tv_sec),
    OFF("statx.stx_mtime.tv_nsec", struct statx, stx_mtime.tv_nsec),
    VAL("statx.at_empty_path", AT_EMPTY_PATH),
    VAL("statx.basic_stats", STATX_BASIC_STATS),
    SZ("epoll_event.size", struct epoll_event),
    OFF("epoll_event.data", struct epoll_event, data),
    VAL("epoll.ctl_add", EPOLL_CTL_ADD),
    VAL("epoll.ctl_mod", EPOLL_CTL_MOD),
    VAL("epoll.cloexec", EPOLL_CLOEXEC),
    VAL("epoll.in", EPOLLIN),
    VAL("epoll.out", EPOLLOUT),
    VAL("epoll.err", EPOLLERR),
    VAL("epoll.hup", EPOLLHUP),
    VAL("epoll.rdhup", EPOLLRDHUP),
    VAL("epoll.oneshot", (unsigned)EPOLLONESHOT),
    VAL("eventfd.cloexec", EFD_CLOEXEC),
    VAL("eventfd.nonblock", EFD_NONBLOCK),
    {"stat.room", (long long)sizeof(struct stat), ROOM, 0},
    OFF("stat.st_mode", struct stat, st_mode),
    OFF("stat.st_size", struct stat, st_size),
    OFF("stat.st_mtim.tv_sec", struct stat, st_mtim.tv_sec),
    OFF("stat.st_mtim.tv_nsec", struct stat, st_mtim.tv_nsec),
    SZ("sockaddr_in.size", struct sockaddr_in),
    OFF("sockaddr_in.sin_port", struct sockaddr_in, sin_port),
    OFF("sockaddr_in.sin_addr", struct sockaddr_in, sin_addr),
    SZ("sockaddr_in6.size", struct sockaddr_in6),
    OFF("sockaddr_in6.sin6_port", struct sockaddr_in6, sin6_port),
    OFF("sockaddr_in6.sin6_addr", struct sockaddr_in6, sin6_addr),
    OFF("sockaddr_in6.sin6_scope_id", struct sockaddr_in6, sin6_scope_id),
    OFF("sockaddr_un.sun_path", struct sockaddr_un, sun_path),
    VAL("sockaddr_un.sun_path.size", sizeof(((struct sockaddr_un *)0)->sun_path)),
    SZ("sockaddr_storage.size", struct sockaddr_storage),
    SZ("pollfd.size", struct pollfd),
    OFF("pollfd.events", struct pollfd, events),
    OFF("pollfd.revents", struct pollfd, revents),
    SZ("iovec.size", struct iovec),
    OFF("iovec.iov_len", struct iovec, iov_len),
    VAL("errno.EPERM", EPERM),
    VAL("errno.ENOENT", ENOENT),
    VAL("errno.EINTR", EINTR),
    VAL("errno.EBADF", EBADF),
    VAL("errno.EAGAIN", EAGAIN),
    VAL("errno.EBUSY", EBUSY),
    VAL("errno.EISDIR", EISDIR),
    VAL("errno.EINVAL", EINVAL),
    VAL("errno.ESPIPE", ESPIPE),
    VAL("errno.ENOSYS", ENOSYS),
    VAL("errno.ENOTSOCK", ENOTSOCK),
    VAL("errno.EOPNOTSUPP", EOPNOTSUPP),
    VAL("errno.EINPROGRESS", EINPROGRESS),
    VAL("errno.ECANCELED", ECANCELED),
    VAL("fcntl.O_CLOEXEC", O_CLOEXEC),
    VAL("fcntl.O_RDONLY", O_RDONLY),
    VAL("fcntl.O_NONBLOCK", O_NONBLOCK),
    VAL("fcntl.SEEK_CUR", SEEK_CUR),
    VAL("fcntl.F_GETFL", F_GETFL),
    VAL("fcntl.RWF_NOWAIT", RWF_NOWAIT),
    VAL("socket.AF_INET", AF_INET),
    VAL("socket.SOCK_STREAM", SOCK_STREAM),
    VAL("socket.SOCK_CLOEXEC", SOCK_CLOEXEC),
    VAL("socket.SOCK_NONBLOCK", SOCK_NONBLOCK),
    VAL("socket.SOL_SOCKET", SOL_SOCKET),
    VAL("socket.SO_REUSEADDR", SO_REUSEADDR),
    VAL("socket.SO_ERROR", SO_ERROR),
    VAL("socket.MSG_NOSIGNAL", MSG_NOSIGNAL),
    VAL("socket.MSG_DONTWAIT", MSG_DONTWAIT),
    VAL("poll.POLLIN", POLLIN),
    VAL("poll.POLLOUT", POLLOUT),
#if defined(__aarch64__)
    VAL("arch.arm64", 1),
#else
    VAL("arch.arm64", 0),
#endif
    VAL("arch.pointer_size", sizeof(void *)),
};
enum { TRUTHS = sizeof truths / sizeof truths[0] };

typedef int (*probe_fn)(int index, const char **name, long long *value);

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LAYOUT_PROBE.so\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  probe_fn probe = (probe_fn)dlsym(lib, "luminal_layout_probe");
  if (!probe) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 2;
  }
#if defined(__aarch64__)
  const char *arch = "arm64";
#elif defined(__x86_64__)
  const char *arch = "x86_64";
#else
  const char *arch = "other";
#endif
  int bad = 0, n = 0;
  const char *name;
  long long value;
  for (; probe(n, &name, &value); n++) {
    truth *t = NULL;
    for (int i = 0; i < TRUTHS; i++)
      if (strcmp(truths[i].name, name) == 0) t = &truths[i];
    if (!t) {
      fprintf(stderr, "%s: the runtime reports %lld, but this test does not check it: add it to truths[]\n", name,
              value);
      bad++;
      continue;
    }
    t->seen++;
    int ok = t->how == EQ ? value == t->value : value >= t->value;
    if (!ok) {
      fprintf(stderr, "MISMATCH on %s: %s: the runtime uses %lld, the C headers say %s%lld\n", arch, name, value,
              t->how == ROOM ? "at least " : "", t->value);
      bad++;
    }
  }
  for (int i = 0; i < TRUTHS; i++)
    if (truths[i].seen != 1) {
      fprintf(stderr, "%s: reported %d times by the runtime (expected once)\n", truths[i].name, truths[i].seen);
      bad++;
    }
  printf("kernel_layout (%s): %d values compared, %d wrong\n", arch, n, bad);
  return bad ? 1 : 0;
}
