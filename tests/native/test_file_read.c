/* luminal_file_read_at's cached-read try (src/Luminal.Native/Io/FileReadTry.cs), on BOTH backends (IO_TEST): data
 * in the page cache is read on the submitting thread, and a read of cached and uncached pages still returns all of
 * it (the try's short prefix plus the rest read the slow way). */
#include "test_io_util.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static char g_fr_dir[64];

static const char *fr_file(void) {
  strcpy(g_fr_dir, "/tmp/luminal-fr-XXXXXX");
  CHECK(mkdtemp(g_fr_dir) != NULL);
  static char path[96];
  snprintf(path, sizeof path, "%s/f", g_fr_dir);
  return path;
}

static void fr_done(const char *path) {
  unlink(path);
  rmdir(g_fr_dir);
}

static uint8_t fr_pat(uint64_t pos) { return (uint8_t)(pos * 131 + (pos >> 12) * 7 + 1); }

/* A file of `size` pattern bytes, written, fsync'ed (its pages clean, so they can be evicted) and open O_RDONLY. */
static int fr_make(const char *path, size_t size) {
  uint8_t *b = (uint8_t *)malloc(size);
  CHECK(b != NULL);
  for (size_t i = 0; i < size; i++) b[i] = fr_pat(i);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK((size_t)write(fd, b, size) == size);
  CHECK(fsync(fd) == 0);
  close(fd);
  free(b);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  return fd;
}

static void fr_check(const uint8_t *b, size_t n, uint64_t pos0) {
  for (size_t i = 0; i < n; i++)
    if (b[i] != fr_pat(pos0 + i)) TEST_FAIL("byte %zu of the read (file offset %" PRIu64 ") is wrong", i, pos0 + i);
}

/* The one pool thread is held by a blocking call; a read_at of cached data polled once from a task completes in
 * that poll anyway (on the pool backend it used to queue behind the held thread). */
typedef struct cached_read {
  int fd, ready_at_once;
  luminal_io_result r;
  uint8_t buf[4096];
} cached_read;

static luminal_poll cb_cached_read(tf *f, luminal_context *cx, void **out) {
  cached_read *c = (cached_read *)f->user;
  luminal_future op;
  memset(&c->r, IOU_GARBAGE, sizeof c->r);
  CHECK_ST(luminal_file_read_at(luminal_context_runtime(cx), c->fd, c->buf, sizeof c->buf, 100, &c->r, &op), LUMINAL_OK);
  void *res = NULL;
  c->ready_at_once = op.poll(op.state, cx, &res) == LUMINAL_POLL_READY;
  op.drop(op.state); /* pending (the old pool path): the queued call is cancelled and never runs */
  *out = tu_box_new(f->c, 1);
  return LUMINAL_POLL_READY;
}

static void *hold_pool_thread(void *arg) {
  tu_latch_wait((tu_latch *)arg);
  return NULL;
}

IO_TEST(file_read_at_cached_completes_in_its_first_poll) {
  luminal_runtime *rt = iou_runtime_pool(1, 1);
  const char *path = fr_file();
  int fd = fr_make(path, 8192);
  uint8_t warm[8192];
  CHECK(pread(fd, warm, sizeof warm, 0) == (ssize_t)sizeof warm); /* in the page cache */
  tu_latch held;
  tu_latch_init(&held);
  CHECK_ST(luminal_spawn_blocking(rt, hold_pool_thread, &held, NULL), LUMINAL_OK);
  tu_counters c = TU_COUNTERS_INIT;
  cached_read cr = {.fd = fd};
  CHECK_EQ(tu_join_value(tu_spawn(rt, tf_make(&c, cb_cached_read, &cr, 0))), 1);
  CHECK_MSG(cr.ready_at_once, "a read of cached data did not complete in its first poll");
  CHECK_ST((luminal_status)cr.r.status, LUMINAL_OK);
  CHECK_EQ(cr.r.value, sizeof cr.buf);
  fr_check(cr.buf, sizeof cr.buf, 100);
  tu_latch_set(&held);
  close(fd);
  fr_done(path);
  luminal_runtime_release(rt);
}

/* Are the pages of [off, off + len) resident? 1 all, 0 none, -1 some. */
static int fr_resident(int fd, size_t off, size_t len) {
  long page = sysconf(_SC_PAGESIZE);
  void *m = mmap(NULL, off + len, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  size_t pages = (off + len + (size_t)page - 1) / (size_t)page, first = off / (size_t)page;
  unsigned char *v = (unsigned char *)malloc(pages);
  CHECK(v != NULL);
  CHECK(mincore(m, off + len, v) == 0);
  size_t in = 0;
  for (size_t i = first; i < pages; i++) in += v[i] & 1;
  free(v);
  munmap(m, off + len);
  return in == pages - first ? 1 : in == 0 ? 0 : -1;
}

/* The first half cached, the second evicted: the try reads the first half and the rest comes from the ring or a
 * pool thread; the result counts both, as a blocking pread would. (Where the page cache cannot be evicted, e.g.
 * /tmp on tmpfs, the case says so and checks only the plain read.) */
IO_TEST(file_read_at_partly_cached_reads_it_all) {
  enum { HALF = 4 << 20 }; /* whole large folios (ext4 caches a file in folios of up to 2 MiB) */
  luminal_runtime *rt = iou_runtime(2);
  const char *path = fr_file();
  int fd = fr_make(path, 2 * HALF);
  uint8_t *b = (uint8_t *)malloc(2 * HALF);
  CHECK(b != NULL);
  int evicted = 0;
  for (int attempt = 0; attempt < 5 && !evicted; attempt++) {
    CHECK(pread(fd, b, HALF, 0) == HALF);
    CHECK(posix_fadvise(fd, HALF, HALF, POSIX_FADV_DONTNEED) == 0);
    evicted = fr_resident(fd, 0, HALF) == 1 && fr_resident(fd, HALF, HALF) == 0;
  }
  if (!evicted) printf("file_read_at_partly_cached_reads_it_all: the page cache of %s cannot be evicted here\n", path);
  memset(b, 0, 2 * HALF);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_file_read_at(rt, fd, b, 2 * HALF, 0, &_r, &_f))), (uint64_t)(2 * HALF));
  fr_check(b, 2 * HALF, 0);
  /* At the end of the file: what is there, then 0. */
  CHECK_EQ(IOU_OK(IOU(rt, luminal_file_read_at(rt, fd, b, 4096, 2 * HALF - 100, &_r, &_f))), 100);
  fr_check(b, 100, 2 * HALF - 100);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_file_read_at(rt, fd, b, 4096, 2 * HALF, &_r, &_f))), 0);
  free(b);
  close(fd);
  fr_done(path);
  luminal_runtime_release(rt);
}

/* Where preadv2 is refused with ENOSYS (an emulator, a seccomp filter; glibc then says EOPNOTSUPP), read_at still works and a pipe still answers
 * ESPIPE (on io_uring the try was also that check: a ring read at an offset on a pipe would wait for data). The
 * filter (every thread of this process, TSYNC) makes preadv2 fail with ENOSYS; CTest runs each case in a process of
 * its own, so it goes with the case. */
static int fr_refuse_preadv2(void) {
  struct sock_filter prog[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_preadv2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog fp = {.len = (unsigned short)(sizeof prog / sizeof prog[0]), .filter = prog};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 0;
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp) == 0;
}

IO_TEST(file_read_at_without_preadv2) {
  if (!fr_refuse_preadv2()) {
    printf("file_read_at_without_preadv2: seccomp is not available here\n");
    return;
  }
  struct iovec probe = {NULL, 0};
  CHECK(syscall(SYS_preadv2, 0, &probe, 1, 0, 0, 0) == -1 && errno == ENOSYS); /* the filter works */
  luminal_runtime *rt = iou_runtime(2);
  const char *path = fr_file();
  int fd = fr_make(path, 8192);
  uint8_t b[4096];
  for (int i = 0; i < 3; i++) {
    memset(b, 0, sizeof b);
    CHECK_EQ(IOU_OK(IOU(rt, luminal_file_read_at(rt, fd, b, sizeof b, 1000, &_r, &_f))), sizeof b);
    fr_check(b, sizeof b, 1000);
  }
  int p[2];
  CHECK(pipe(p) == 0);
  CHECK(write(p[1], "x", 1) == 1); /* data there: a ring read would take it instead of answering ESPIPE */
  IOU_ERRNO(IOU(rt, luminal_file_read_at(rt, p[0], b, 1, 0, &_r, &_f)), ESPIPE);
  close(p[0]);
  close(p[1]);
  close(fd);
  fr_done(path);
  luminal_runtime_release(rt);
}
