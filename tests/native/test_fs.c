/* Path operations (luminal_fs_*), on BOTH backends (IO_TEST: native.<name>.uring and .pool). Every file lives
 * under a mkdtemp directory removed at the end. */
#include "test_io_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static char g_fs_dir[64];

static const char *fs_tmpdir(void) {
  strcpy(g_fs_dir, "/tmp/luminal-fs-XXXXXX");
  CHECK(mkdtemp(g_fs_dir) != NULL);
  return g_fs_dir;
}

/* A path under the temp dir (8 rotating buffers). */
static const char *FP(const char *name) {
  static char bufs[8][160];
  static int k;
  char *b = bufs[k++ & 7];
  snprintf(b, 160, "%s/%s", g_fs_dir, name);
  return b;
}

static void touch(const char *path, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK(ftruncate(fd, (off_t)size) == 0);
  close(fd);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

IO_TEST(fs_stat_by_path) {
  luminal_runtime *rt = iou_runtime(2);
  fs_tmpdir();
  touch(FP("f"), 1234);
  luminal_file_info info;
  memset(&info, 0x5A, sizeof info);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_fs_stat(rt, FP("f"), &info, &_r, &_f))), 0);
  struct stat st;
  CHECK(stat(FP("f"), &st) == 0);
  CHECK(info.size == 1234 && info.mode == st.st_mode && S_ISREG(info.mode) && info.reserved == 0);
  CHECK_EQ(info.mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_fs_stat(rt, g_fs_dir, &info, &_r, &_f))), 0);
  CHECK(S_ISDIR(info.mode));
  /* Links are followed. */
  CHECK(symlink(FP("f"), FP("link")) == 0);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_fs_stat(rt, FP("link"), &info, &_r, &_f))), 0);
  CHECK(S_ISREG(info.mode) && info.size == 1234);
  IOU_ERRNO(IOU(rt, luminal_fs_stat(rt, FP("missing"), &info, &_r, &_f)), ENOENT);
  IOU_ERRNO(IOU(rt, luminal_fs_stat(rt, FP("f/below"), &info, &_r, &_f)), ENOTDIR);
  REFUSED(luminal_fs_stat(rt, NULL, &info, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_stat(rt, "x", NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  luminal_future f;
  luminal_io_result r;
  iou_drop_unpolled(luminal_fs_stat(rt, FP("f"), &info, &r, &f), f);
  unlink(FP("link")), unlink(FP("f")), rmdir(g_fs_dir);
  luminal_runtime_release(rt);
}

IO_TEST(fs_mkdir_rename_unlink_remove_dir) {
  luminal_runtime *rt = iou_runtime(2);
  fs_tmpdir();
  /* mkdir, EEXIST, ENOENT for a missing parent. */
  IOU_OK(IOU(rt, luminal_fs_mkdir(rt, FP("d"), 0750, &_r, &_f)));
  struct stat st;
  CHECK(stat(FP("d"), &st) == 0 && S_ISDIR(st.st_mode));
  mode_t um = umask(0);
  umask(um);
  CHECK_EQ(st.st_mode & 0777, 0750 & ~um);
  IOU_ERRNO(IOU(rt, luminal_fs_mkdir(rt, FP("d"), 0755, &_r, &_f)), EEXIST);
  IOU_ERRNO(IOU(rt, luminal_fs_mkdir(rt, FP("no/such"), 0755, &_r, &_f)), ENOENT);
  /* rename a file into the directory, replacing nothing, then over another file. */
  touch(FP("a"), 1);
  touch(FP("d/b"), 2);
  IOU_OK(IOU(rt, luminal_fs_rename(rt, FP("a"), FP("d/a"), &_r, &_f)));
  CHECK(!exists(FP("a")) && exists(FP("d/a")));
  IOU_OK(IOU(rt, luminal_fs_rename(rt, FP("d/a"), FP("d/b"), &_r, &_f)));
  CHECK(stat(FP("d/b"), &st) == 0 && st.st_size == 1);
  IOU_ERRNO(IOU(rt, luminal_fs_rename(rt, FP("missing"), FP("x"), &_r, &_f)), ENOENT);
  /* remove_dir of a non-empty directory, unlink of a directory, of a missing file. */
  IOU_ERRNO(IOU(rt, luminal_fs_remove_dir(rt, FP("d"), &_r, &_f)), ENOTEMPTY);
  IOU_ERRNO(IOU(rt, luminal_fs_unlink(rt, FP("d"), &_r, &_f)), EISDIR);
  IOU_ERRNO(IOU(rt, luminal_fs_remove_dir(rt, FP("d/b"), &_r, &_f)), ENOTDIR);
  IOU_OK(IOU(rt, luminal_fs_unlink(rt, FP("d/b"), &_r, &_f)));
  IOU_ERRNO(IOU(rt, luminal_fs_unlink(rt, FP("d/b"), &_r, &_f)), ENOENT);
  IOU_OK(IOU(rt, luminal_fs_remove_dir(rt, FP("d"), &_r, &_f)));
  CHECK(!exists(FP("d")));
  IOU_ERRNO(IOU(rt, luminal_fs_remove_dir(rt, FP("d"), &_r, &_f)), ENOENT);
  /* Refusals, and futures never polled (their path copies go with them). */
  REFUSED(luminal_fs_mkdir(rt, NULL, 0755, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_rename(rt, FP("x"), NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_rename(rt, NULL, FP("x"), &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_unlink(rt, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_remove_dir(rt, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_unlink(rt, "x", NULL, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_unlink(NULL, "x", &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_unlink((luminal_runtime *)(uintptr_t)0x999999999ull, "x", &_r, &_f), LUMINAL_E_INVALID_HANDLE);
  luminal_future f;
  luminal_io_result r;
  iou_drop_unpolled(luminal_fs_rename(rt, FP("p"), FP("q"), &r, &f), f);
  iou_drop_unpolled(luminal_fs_mkdir(rt, FP("p"), 0755, &r, &f), f);
  CHECK(!exists(FP("p")));
  rmdir(g_fs_dir);
  luminal_runtime_release(rt);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(((const luminal_dir_entry *)a)->name, ((const luminal_dir_entry *)b)->name);
}

IO_TEST(fs_read_dir) {
  luminal_runtime *rt = iou_runtime(2);
  fs_tmpdir();
  luminal_dir_list list;
  memset(&list, 0x44, sizeof list);
  /* Empty: no "." or "..". */
  CHECK_EQ(IOU_OK(IOU(rt, luminal_fs_read_dir(rt, g_fs_dir, &list, &_r, &_f))), 0);
  CHECK(list.count == 0);
  luminal_dir_list_release(&list);
  /* A file, a directory, a link, and many more files (the list grows past its first buffer). */
  touch(FP("file"), 0);
  CHECK(mkdir(FP("sub"), 0755) == 0);
  CHECK(symlink("file", FP("link")) == 0);
  char name[64];
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof name, "many-%03d-%s", i, "padding-to-make-names-longer-than-a-few-bytes");
    touch(FP(name), 0);
  }
  CHECK_EQ(IOU_OK(IOU(rt, luminal_fs_read_dir(rt, g_fs_dir, &list, &_r, &_f))), 303);
  CHECK(list.count == 303 && list.entries != NULL);
  qsort(list.entries, list.count, sizeof *list.entries, cmp_names);
  CHECK(strcmp(list.entries[0].name, "file") == 0 && list.entries[0].kind == DT_REG);
  CHECK(strcmp(list.entries[1].name, "link") == 0 && list.entries[1].kind == DT_LNK);
  CHECK(strcmp(list.entries[302].name, "sub") == 0 && list.entries[302].kind == DT_DIR);
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof name, "many-%03d-%s", i, "padding-to-make-names-longer-than-a-few-bytes");
    CHECK(strcmp(list.entries[2 + i].name, name) == 0 && list.entries[2 + i].reserved == 0);
  }
  luminal_dir_list_release(&list);
  CHECK(list.entries == NULL && list.count == 0);
  luminal_dir_list_release(&list);
  luminal_dir_list_release(NULL);
  /* Errors: ENOENT, ENOTDIR; the list stays empty. */
  memset(&list, 0x44, sizeof list);
  IOU_ERRNO(IOU(rt, luminal_fs_read_dir(rt, FP("missing"), &list, &_r, &_f)), ENOENT);
  CHECK(list.entries == NULL && list.count == 0);
  IOU_ERRNO(IOU(rt, luminal_fs_read_dir(rt, FP("file"), &list, &_r, &_f)), ENOTDIR);
  REFUSED(luminal_fs_read_dir(rt, NULL, &list, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fs_read_dir(rt, g_fs_dir, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  /* A list nobody took is freed with its future (valgrind / the leak check sees it). */
  luminal_future f;
  luminal_io_result r;
  CHECK_ST(luminal_fs_read_dir(rt, g_fs_dir, &list, &r, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  iou_drop_unpolled(luminal_fs_read_dir(rt, g_fs_dir, &list, &r, &f), f);
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof name, "many-%03d-%s", i, "padding-to-make-names-longer-than-a-few-bytes");
    unlink(FP(name));
  }
  unlink(FP("file")), unlink(FP("link")), rmdir(FP("sub")), rmdir(g_fs_dir);
  luminal_runtime_release(rt);
}
