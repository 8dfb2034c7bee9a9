/* Child processes (luminal_process_*), on BOTH backends (IO_TEST: native.<name>.uring and .pool). The children
 * are /bin/sh scripts. */
#include "test_io_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

static luminal_process_options sh(const char *script, char **argv_storage) {
  argv_storage[0] = (char *)"sh";
  argv_storage[1] = (char *)"-c";
  argv_storage[2] = (char *)script;
  argv_storage[3] = NULL;
  luminal_process_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.path = "sh";
  o.argv = argv_storage;
  return o;
}

static luminal_process spawn_ok(const luminal_process_options *o) {
  luminal_process p;
  memset(&p, 0x5A, sizeof p);
  luminal_io_result r = PLAIN(luminal_process_spawn(o, &p, &_r));
  CHECK_MSG(r.status == LUMINAL_OK, "spawn: status %d errno %d", r.status, r.os_error);
  CHECK(p.pid > 0 && r.value == (uint64_t)p.pid && p.pidfd >= 0);
  return p;
}

/* Reads a pipe to its end through the runtime. */
static size_t read_to_end(luminal_runtime *rt, int fd, char *buf, size_t cap) {
  size_t n = 0;
  while (n < cap) {
    uint64_t got = IOU_OK(IOU(rt, luminal_stream_read(rt, fd, buf + n, cap - n, &_r, &_f)));
    if (got == 0) break;
    n += got;
  }
  buf[n < cap ? n : cap - 1] = 0;
  return n;
}

IO_TEST(process_exit_status_and_pipes) {
  luminal_runtime *rt = iou_runtime(2);
  char *argv[4];
  /* stdout and stderr as pipes, an environment and a working directory of our choosing. */
  luminal_process_options o = sh("echo out:$GREETING:$(pwd); echo err >&2; exit 7", argv);
  char *envp[] = {(char *)"GREETING=hi", (char *)"PATH=/usr/bin:/bin", NULL};
  o.envp = envp;
  o.cwd = "/tmp";
  o.stdout_mode = LUMINAL_STDIO_PIPE;
  o.stderr_mode = LUMINAL_STDIO_PIPE;
  o.stdin_mode = LUMINAL_STDIO_NULL;
  luminal_process p = spawn_ok(&o);
  CHECK(p.stdin_fd == -1 && p.stdout_fd >= 0 && p.stderr_fd >= 0);
  CHECK(fcntl(p.stdout_fd, F_GETFL) & O_NONBLOCK);
  CHECK(fcntl(p.stdout_fd, F_GETFD) & FD_CLOEXEC);
  char out[128], err[64];
  read_to_end(rt, p.stdout_fd, out, sizeof out);
  read_to_end(rt, p.stderr_fd, err, sizeof err);
  CHECK_MSG(strcmp(out, "out:hi:/tmp\n") == 0, "stdout: \"%s\"", out);
  CHECK(strcmp(err, "err\n") == 0);
  uint64_t status = IOU_OK(IOU(rt, luminal_process_wait(rt, &p, &_r, &_f)));
  CHECK(WIFEXITED((int)status) && WEXITSTATUS((int)status) == 7);
  /* Reaped: a second wait is ECHILD, a kill ESRCH. */
  IOU_ERRNO(IOU(rt, luminal_process_wait(rt, &p, &_r, &_f)), ECHILD);
  luminal_io_result r = PLAIN(luminal_process_kill(&p, SIGTERM, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == ESRCH);
  luminal_process_release(&p);
  CHECK(p.pidfd == -1 && p.stdout_fd == -1 && p.stderr_fd == -1);
  luminal_process_release(&p);
  luminal_process_release(NULL);
  luminal_runtime_release(rt);
}

IO_TEST(process_stdin_pipe_and_inherited_env) {
  luminal_runtime *rt = iou_runtime(2);
  char *argv[4];
  setenv("LUMINAL_TEST_INHERITED", "yes", 1);
  luminal_process_options o = sh("read line; echo \"$line/$LUMINAL_TEST_INHERITED\"", argv);
  o.stdin_mode = LUMINAL_STDIO_PIPE;
  o.stdout_mode = LUMINAL_STDIO_PIPE;
  luminal_process p = spawn_ok(&o);
  CHECK(p.stdin_fd >= 0 && p.stdout_fd >= 0 && p.stderr_fd == -1);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_stream_write(rt, p.stdin_fd, "abc\n", 4, &_r, &_f))), 4);
  close(p.stdin_fd);
  p.stdin_fd = -1;
  char out[64];
  read_to_end(rt, p.stdout_fd, out, sizeof out);
  CHECK_MSG(strcmp(out, "abc/yes\n") == 0, "stdout: \"%s\"", out);
  uint64_t status = IOU_OK(IOU(rt, luminal_process_wait(rt, &p, &_r, &_f)));
  CHECK(WIFEXITED((int)status) && WEXITSTATUS((int)status) == 0);
  luminal_process_release(&p);
  luminal_runtime_release(rt);
}

/* A child that would run for a minute: the wait is in flight (no thread waits), the kill ends it, the wait sees the
 * signal. Also: SIGPIPE is back at its default in the child (the runtime ignores it here). */
IO_TEST(process_kill_while_waiting) {
  luminal_runtime *rt = iou_runtime(2);
  char *argv[4];
  luminal_process_options o = sh("exec sleep 60", argv);
  luminal_process p = spawn_ok(&o);
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_process_wait(rt, &p, &r, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f);
  CHECK_ST(luminal_task_join(t, MS_NS(30), NULL), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_process_kill(&p, 0, NULL), LUMINAL_OK); /* still there */
  CHECK_ST(luminal_process_kill(&p, SIGKILL, NULL), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  luminal_task_release(t);
  CHECK(out == &r && r.status == LUMINAL_OK && WIFSIGNALED((int)r.value) && WTERMSIG((int)r.value) == SIGKILL);
  luminal_process_release(&p);

  o = sh("trap - PIPE; kill -s PIPE $$; sleep 5", argv); /* dies of SIGPIPE only if its disposition is default */
  p = spawn_ok(&o);
  uint64_t status = IOU_OK(IOU(rt, luminal_process_wait(rt, &p, &_r, &_f)));
  CHECK_MSG(WIFSIGNALED((int)status) && WTERMSIG((int)status) == SIGPIPE, "status %#x", (unsigned)status);
  luminal_process_release(&p);

  /* A wait dropped while in flight: the child keeps running, a later wait reaps it. */
  o = sh("exec sleep 60", argv);
  p = spawn_ok(&o);
  CHECK_ST(luminal_process_wait(rt, &p, &r, &f), LUMINAL_OK);
  t = tu_spawn(rt, f);
  CHECK_ST(luminal_task_join(t, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  CHECK_ST(luminal_process_kill(&p, SIGTERM, NULL), LUMINAL_OK);
  status = IOU_OK(IOU(rt, luminal_process_wait(rt, &p, &_r, &_f)));
  CHECK(WIFSIGNALED((int)status) && WTERMSIG((int)status) == SIGTERM);
  luminal_process_release(&p);
  luminal_runtime_release(rt);
}

IO_TEST(process_errors) {
  luminal_runtime *rt = iou_runtime(1);
  luminal_process_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.path = "/no/such/program";
  o.stdout_mode = LUMINAL_STDIO_PIPE;
  luminal_process p;
  luminal_io_result r = PLAIN(luminal_process_spawn(&o, &p, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == ENOENT);
  CHECK(p.pid == -1 && p.pidfd == -1 && p.stdout_fd == -1); /* nothing left open */
  o.path = "luminal-no-such-program-in-path";
  r = PLAIN(luminal_process_spawn(&o, &p, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == ENOENT);
  o.path = "true";
  o.cwd = "/no/such/dir";
  r = PLAIN(luminal_process_spawn(&o, &p, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == ENOENT);
  o.cwd = NULL;
  /* An older caller's struct (path only): everything else inherited. */
  o.struct_size = offsetof(luminal_process_options, argv);
  o.stdout_mode = 99; /* beyond struct_size: not read */
  p = spawn_ok(&o);
  CHECK(p.stdout_fd == -1);
  uint64_t status = IOU_OK(IOU(rt, luminal_process_wait(rt, &p, &_r, &_f)));
  CHECK(WIFEXITED((int)status) && WEXITSTATUS((int)status) == 0);
  luminal_process_release(&p);
  /* Refusals. */
  o.struct_size = sizeof o;
  CHECK_ST(luminal_process_spawn(&o, &p, NULL), LUMINAL_E_INVALID_ARGUMENT); /* stdout_mode 99 */
  o.stdout_mode = 0;
  CHECK_ST(luminal_process_spawn(NULL, &p, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_process_spawn(&o, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  o.path = NULL;
  CHECK_ST(luminal_process_spawn(&o, &p, NULL), LUMINAL_E_INVALID_ARGUMENT);
  o.struct_size = 0;
  CHECK_ST(luminal_process_spawn(&o, &p, NULL), LUMINAL_E_INVALID_ARGUMENT);
  luminal_process bad = {0, -1, -1, -1, -1, 0};
  REFUSED(luminal_process_wait(rt, &bad, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_process_wait(rt, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_process_kill(&bad, SIGTERM, NULL), LUMINAL_E_INVALID_ARGUMENT); /* never kill(0) */
  bad.pid = -1;
  CHECK_ST(luminal_process_kill(&bad, SIGTERM, NULL), LUMINAL_E_INVALID_ARGUMENT); /* never kill(-1) */
  bad.pid = 1;
  CHECK_ST(luminal_process_kill(&bad, 65, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_process_kill(NULL, 0, NULL), LUMINAL_E_INVALID_ARGUMENT);
  luminal_runtime_release(rt);
}
