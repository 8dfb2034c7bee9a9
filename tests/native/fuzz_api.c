/*
 * fuzz_api.c — an API-sequence fuzzer for Luminal's C ABI (include/luminal.h).
 *
 *   fuzz_api [seed [threads [ops_per_thread]]]      (or LUMFUZZ_SEED, LUMFUZZ_THREADS, LUMFUZZ_OPS)
 *
 * Several threads call random sequences of every public function with valid, stale (released), double-released,
 * NULL, wrong-type and forged handles, and with futures that are READY at once, yield, wait for a wake from another
 * thread, never wake, poll library futures (sleep, IO) inline, or call the API themselves from inside their polls
 * (spawn children, poll them, block_on / join / shutdown / scope close from a worker, ...). Each thread's call
 * sequence is a pure function of (seed, thread index), so a failing run is reproduced by its seed and thread count
 * (up to the interleaving of threads and workers).
 *
 * It fails (printing the seed) on:
 *  - a status the header does not list for the function that returned it (per-function table below);
 *  - a future dropped twice, polled after its drop or after READY, polled concurrently with itself, dropped during a
 *    poll, not dropped at once when a call that takes it fails, or never dropped (at the end, after every runtime
 *    was shut down and released: created == dropped, outputs created == taken + freed);
 *  - a poll, drop_output or blocking call into a scope after luminal_scope_close returned OK for it, or a scope whose
 *    stats say live != 0 then; a poll on a runtime after luminal_runtime_shutdown returned OK for it;
 *  - wrong values (join outputs, IO results, worker counts, ...) and a hang (a watchdog, LUMFUZZ_WATCHDOG seconds).
 *
 * Switches (environment):
 *  LUMFUZZ_FORGED_CONTEXTS=0|1 (default 1): stale and forged luminal_context values, and the garbage-waker
 *      expectations (clone → NULL, will_wake → 0). The library before the validated-context change crashes on a
 *      forged context pointer: run with 0 against it.
 *  LUMFUZZ_KEEP_GOING=1: undocumented statuses are collected and listed at the end instead of failing at once
 *      (the run still exits 1 if there were any).
 *  LUMFUZZ_ALLOW=name:status,...: known undocumented statuses that are listed but do not fail the run.
 *  LUMFUZZ_KNOWN_HANGS=0|1 (default 1): also the cases that hung the library before issue 11 (pool backend):
 *      blocking pools of 1..8 threads (finding F1: a pending accept held a pool thread, so accept + connect
 *      deadlocked) and two IO operations in one future (finding F2: a shutdown that cancelled the first one's queued
 *      pool call dropped the future, whose drop then waited forever for the second one's queued call, on the thread
 *      that would cancel it). 0 leaves them out, for a library older than those fixes.
 *  LUMFUZZ_VERBOSE=1: progress lines. LUMFUZZ_WATCHDOG=<s>: hang limit (default 300); LUMFUZZ_GDB=1: on a hang,
 *      print every thread's stack with gdb.
 */
#include <luminal.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ASan and the NativeAOT runtime: NativeAOT turns hardware faults in managed code (a null dereference) into
 * exceptions with its own SIGSEGV handler, and runs its threads on stacks ASan did not see start. ASan must leave
 * SIGSEGV to the application's handler (handle_segv=0, allow_user_segv_handler=1) and not install an alternate
 * signal stack of its own (use_sigaltstack=0). Leak detection is off: the library keeps process-lifetime
 * allocations (tables, static strings) that LeakSanitizer would report. These are defaults; ASAN_OPTIONS
 * overrides them. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "use_sigaltstack=0:handle_segv=0:allow_user_segv_handler=1:detect_leaks=0:abort_on_error=0";
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Run parameters, failure reporting                                                                              */
/* ------------------------------------------------------------------------------------------------------------- */

static uint64_t g_seed;
static int g_threads;
static long g_ops;
static int g_forged_ctx = 1;
static int g_keep_going;
static int g_verbose;
static int g_small_pool;
static atomic_int g_stop;

#define FZ_FAIL(...) fz_fail(__LINE__, __VA_ARGS__)

static void fz_fail(int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fz_fail(int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "lumfuzz: FAILED (fuzz_api.c:%d): %s\nlumfuzz: reproduce with: fuzz_api %" PRIu64 " %d %ld "
          "(LUMFUZZ_FORGED_CONTEXTS=%d)\n", line, msg, g_seed, g_threads, g_ops, g_forged_ctx);
  fflush(stderr);
  _exit(1);
}

#define FZ_CHECK(cond, ...)                                                                                         \
  do {                                                                                                             \
    if (!(cond)) FZ_FAIL("check failed: %s: " __VA_ARGS__);                                                        \
  } while (0)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* ------------------------------------------------------------------------------------------------------------- */
/* The status table: for each function, the statuses include/luminal.h documents for it                          */
/* ------------------------------------------------------------------------------------------------------------- */

/* One bit per status in -32..31 (ST_BIAS = 32). */
#define ST_BIAS 32
#define B(s) (1ull << ((s) + ST_BIAS))
#define OK_ B(LUMINAL_OK)
#define PEND B(LUMINAL_PENDING)
#define IARG B(LUMINAL_E_INVALID_ARGUMENT)
#define IHND B(LUMINAL_E_INVALID_HANDLE)
#define SHUT B(LUMINAL_E_SHUTDOWN)
#define CANC B(LUMINAL_E_CANCELLED)
#define TOUT B(LUMINAL_E_TIMED_OUT)
#define DEAD B(LUMINAL_E_WOULD_DEADLOCK)
#define UNSUP B(LUMINAL_E_UNSUPPORTED)
#define TAKEN B(LUMINAL_E_ALREADY_TAKEN)
#define EIO_ B(LUMINAL_E_IO)
#define FORK B(LUMINAL_E_FORKED)
#define CLSD B(LUMINAL_E_CLOSED)
#define FULL B(LUMINAL_E_FULL)
#define EMPT B(LUMINAL_E_EMPTY)
#define BUSY B(LUMINAL_E_BUSY)

enum fn_id {
  F_RUNTIME_NEW, F_RUNTIME_SHUTDOWN, F_SPAWN, F_CONTEXT_SPAWN, F_SPAWN_FN, F_BLOCK_ON, F_TASK_JOIN, F_TASK_POLL,
  F_CONTEXT_YIELD, F_SLEEP, F_SLEEP_UNTIL, F_TIMEOUT, F_SCOPE_NEW, F_SCOPE_CLOSE, F_SCOPE_STATS, F_SPAWN_WITH,
  F_CONTEXT_SPAWN_WITH, F_SPAWN_BLOCKING, F_SPAWN_BLOCKING_WITH, F_FILE_OPEN, F_FILE_CLOSE, F_FILE_FSYNC,
  F_FILE_STAT, F_FILE_READ_AT, F_FILE_WRITE_AT, F_FILE_MAP, F_FILE_READ_ALL, F_TCP_LISTEN, F_STREAM_SHUTDOWN,
  F_PIPE, F_TCP_ACCEPT, F_TCP_CONNECT, F_STREAM_READ, F_STREAM_WRITE, F_IO_RESULT,
  F_CHANNEL_NEW, F_CHANNEL_SEND, F_CHANNEL_TRY_SEND, F_CHANNEL_RECV, F_CHANNEL_TRY_RECV, F_NOTIFY_NEW, F_NOTIFY_ONE,
  F_NOTIFY_ALL, F_NOTIFY_WAIT, F_SEM_NEW, F_SEM_ACQUIRE, F_SEM_TRY_ACQUIRE, F_SEM_ADD, F_SEM_CLOSE, F_SYNC_RESULT,
  F_SET_NEW, F_SET_SPAWN, F_SET_JOIN_NEXT, F_SET_ABORT_ALL, F_SET_RESULT, F_JOIN_ALL, F_SELECT, F_SCOPE_DRAIN,
  F_METRICS, F_WORKER_METRICS, F_RUNTIME_RUN, F_WAKEUP_FD, F_NEXT_DEADLINE, F_ADVANCE,
  F_ONESHOT_NEW, F_ONESHOT_SEND, F_ONESHOT_RECV, F_ONESHOT_TRY_RECV,
  F_RESOLVE, F_TCP_CONNECT_HOST, F_TCP_CONNECT_ADDR, F_UNIX_CONNECT, F_FD_READY, F_UDP_SEND_TO, F_UDP_RECV_FROM,
  F_FS_STAT, F_FS_RENAME, F_FS_UNLINK, F_FS_MKDIR, F_FS_REMOVE_DIR, F_FS_READ_DIR, F_PROCESS_WAIT,
  F_TCP_LISTEN_ADDR, F_UNIX_LISTEN, F_UDP_BIND, F_UDP_CONNECT, F_SOCKET_LOCAL_ADDR, F_SOCKET_PEER_ADDR,
  F_SOCKET_SET_OPTION, F_SOCKET_GET_OPTION, F_PROCESS_SPAWN, F_PROCESS_KILL, F_SOCKET_ADDR_PARSE, F_SOCKET_ADDR_UNIX,
  F_SIGNAL_LISTEN, F_SIGNAL_RECV, F_SPAWN_INLINE, F_CONTEXT_SPAWN_INLINE,
  F_COUNT
};

static const struct {
  const char *name;
  uint64_t allowed;
  const char *why;
} fn_table[F_COUNT] = {
    [F_RUNTIME_NEW] = {"luminal_runtime_new", OK_ | IARG | UNSUP, "INVALID_ARGUMENT; UNSUPPORTED for io_uring"},
    [F_RUNTIME_SHUTDOWN] = {"luminal_runtime_shutdown", OK_ | TOUT | DEAD | IARG | IHND, ""},
    [F_SPAWN] = {"luminal_spawn", OK_ | SHUT | IARG | IHND, ""},
    [F_CONTEXT_SPAWN] = {"luminal_context_spawn", OK_ | SHUT | IARG | IHND, "like luminal_spawn"},
    [F_SPAWN_FN] = {"luminal_spawn_fn", OK_ | SHUT | IARG | IHND, "like luminal_spawn"},
    [F_BLOCK_ON] = {"luminal_block_on", OK_ | DEAD | BUSY | SHUT | IARG | IHND, "BUSY: a current-thread runtime driven elsewhere"},
    [F_TASK_JOIN] = {"luminal_task_join", OK_ | CANC | TOUT | DEAD | TAKEN | IARG | IHND, ""},
    [F_TASK_POLL] = {"luminal_task_poll", OK_ | CANC | TAKEN | PEND | IARG | IHND, ""},
    [F_CONTEXT_YIELD] = {"luminal_context_yield", OK_ | IARG | IHND, "IHND: a context is a handle (rules)"},
    [F_SLEEP] = {"luminal_sleep", OK_ | IARG | IHND | SHUT, ""},
    [F_SLEEP_UNTIL] = {"luminal_sleep_until", OK_ | IARG | IHND | SHUT, ""},
    [F_TIMEOUT] = {"luminal_timeout", OK_ | IARG | IHND | SHUT, ""},
    [F_SCOPE_NEW] = {"luminal_scope_new", OK_ | IARG | IHND | SHUT, ""},
    [F_SCOPE_CLOSE] = {"luminal_scope_close", OK_ | TOUT | DEAD | IARG | IHND, ""},
    [F_SCOPE_STATS] = {"luminal_scope_stats", OK_ | IARG | IHND, ""},
    [F_SPAWN_WITH] = {"luminal_spawn_with", OK_ | SHUT | IARG | IHND, ""},
    [F_CONTEXT_SPAWN_WITH] = {"luminal_context_spawn_with", OK_ | SHUT | IARG | IHND, ""},
    [F_SPAWN_BLOCKING] = {"luminal_spawn_blocking", OK_ | SHUT | IARG | IHND, "joined like any other task"},
    [F_SPAWN_BLOCKING_WITH] = {"luminal_spawn_blocking_with", OK_ | SHUT | IARG | IHND, ""},
    [F_SPAWN_INLINE] = {"luminal_spawn_inline", OK_ | SHUT | IARG | IHND, "as luminal_spawn_with"},
    [F_CONTEXT_SPAWN_INLINE] = {"luminal_context_spawn_inline", OK_ | SHUT | IARG | IHND, "as luminal_context_spawn_with"},
    /* IO section: OK, a bad-argument status, SHUTDOWN; UNSUPPORTED off Linux. */
    [F_FILE_OPEN] = {"luminal_file_open", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FILE_CLOSE] = {"luminal_file_close", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FILE_FSYNC] = {"luminal_file_fsync", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FILE_STAT] = {"luminal_file_stat", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FILE_READ_AT] = {"luminal_file_read_at", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FILE_WRITE_AT] = {"luminal_file_write_at", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FILE_MAP] = {"luminal_file_map", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FILE_READ_ALL] = {"luminal_file_read_all", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_TCP_LISTEN] = {"luminal_tcp_listen", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_STREAM_SHUTDOWN] = {"luminal_stream_shutdown", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_PIPE] = {"luminal_pipe", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_TCP_ACCEPT] = {"luminal_tcp_accept", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_TCP_CONNECT] = {"luminal_tcp_connect", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_STREAM_READ] = {"luminal_stream_read", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_STREAM_WRITE] = {"luminal_stream_write", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_IO_RESULT] = {"luminal_io_result.status", OK_ | EIO_ | CANC | IARG | IHND,
                     "OK, IO, CANCELLED; the rule for runtime-provided futures: INVALID_ARGUMENT / INVALID_HANDLE for a "
                     "NULL / stale or forged context"},
    /* Sync section: futures are made (or not) for bad arguments / handles only; conditions come through *result. */
    [F_CHANNEL_NEW] = {"luminal_channel_new", OK_ | IARG | IHND | SHUT | FORK, ""},
    [F_CHANNEL_SEND] = {"luminal_channel_send", OK_ | IARG | IHND | FORK, ""},
    [F_CHANNEL_TRY_SEND] = {"luminal_channel_try_send", OK_ | FULL | CLSD | IARG | IHND | FORK, ""},
    [F_CHANNEL_RECV] = {"luminal_channel_recv", OK_ | IARG | IHND | FORK, ""},
    [F_CHANNEL_TRY_RECV] = {"luminal_channel_try_recv", OK_ | EMPT | CLSD | IARG | IHND | FORK, ""},
    [F_NOTIFY_NEW] = {"luminal_notify_new", OK_ | IARG | IHND | SHUT | FORK, ""},
    [F_NOTIFY_ONE] = {"luminal_notify_one", OK_ | IARG | IHND | FORK, ""},
    [F_NOTIFY_ALL] = {"luminal_notify_all", OK_ | IARG | IHND | FORK, ""},
    [F_NOTIFY_WAIT] = {"luminal_notify_wait", OK_ | IARG | IHND | FORK, ""},
    [F_SEM_NEW] = {"luminal_semaphore_new", OK_ | IARG | IHND | SHUT | FORK, ""},
    [F_SEM_ACQUIRE] = {"luminal_semaphore_acquire", OK_ | IARG | IHND | FORK, ""},
    [F_SEM_TRY_ACQUIRE] = {"luminal_semaphore_try_acquire", OK_ | EMPT | CLSD | IARG | IHND | FORK, ""},
    [F_SEM_ADD] = {"luminal_semaphore_add_permits", OK_ | IARG | IHND | FORK, ""},
    [F_SEM_CLOSE] = {"luminal_semaphore_close", OK_ | IARG | IHND | FORK, ""},
    [F_SYNC_RESULT] = {"sync future *result", OK_ | CLSD | IARG | IHND | FORK | B(LUMINAL_E_NO_MEMORY) | B(LUMINAL_E_INTERNAL),
                       "OK / CLOSED; the runtime-provided-future rule for a NULL, stale or forged context"},
    [F_ONESHOT_NEW] = {"luminal_oneshot_new", OK_ | IARG | IHND | SHUT | FORK, ""},
    [F_ONESHOT_SEND] = {"luminal_oneshot_send", OK_ | CLSD | IARG | IHND | FORK, ""},
    [F_ONESHOT_RECV] = {"luminal_oneshot_recv", OK_ | TAKEN | IARG | IHND | FORK, ""},
    [F_ONESHOT_TRY_RECV] = {"luminal_oneshot_try_recv", OK_ | EMPT | CLSD | IARG | IHND | FORK, ""},
    /* IO breadth: futures as the IO section; plain calls OK / IO / bad argument / UNSUPPORTED. */
    [F_RESOLVE] = {"luminal_resolve", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_TCP_CONNECT_HOST] = {"luminal_tcp_connect_host", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_TCP_CONNECT_ADDR] = {"luminal_tcp_connect_addr", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_UNIX_CONNECT] = {"luminal_unix_connect", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FD_READY] = {"luminal_fd_ready", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_UDP_SEND_TO] = {"luminal_udp_send_to", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_UDP_RECV_FROM] = {"luminal_udp_recv_from", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FS_STAT] = {"luminal_fs_stat", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FS_RENAME] = {"luminal_fs_rename", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FS_UNLINK] = {"luminal_fs_unlink", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FS_MKDIR] = {"luminal_fs_mkdir", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FS_REMOVE_DIR] = {"luminal_fs_remove_dir", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_FS_READ_DIR] = {"luminal_fs_read_dir", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_PROCESS_WAIT] = {"luminal_process_wait", OK_ | IARG | IHND | UNSUP | SHUT, ""},
    [F_TCP_LISTEN_ADDR] = {"luminal_tcp_listen_addr", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_UNIX_LISTEN] = {"luminal_unix_listen", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_UDP_BIND] = {"luminal_udp_bind", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_UDP_CONNECT] = {"luminal_udp_connect", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_SOCKET_LOCAL_ADDR] = {"luminal_socket_local_addr", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_SOCKET_PEER_ADDR] = {"luminal_socket_peer_addr", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_SOCKET_SET_OPTION] = {"luminal_socket_set_option", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_SOCKET_GET_OPTION] = {"luminal_socket_get_option", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_PROCESS_SPAWN] = {"luminal_process_spawn", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_PROCESS_KILL] = {"luminal_process_kill", OK_ | EIO_ | IARG | UNSUP, ""},
    [F_SOCKET_ADDR_PARSE] = {"luminal_socket_addr_parse", OK_ | IARG | UNSUP, ""},
    [F_SOCKET_ADDR_UNIX] = {"luminal_socket_addr_unix", OK_ | IARG, ""},
    /* Signals: the sync rules. */
    [F_SIGNAL_LISTEN] = {"luminal_signal_listen", OK_ | IARG | IHND | SHUT | FORK | B(LUMINAL_E_NO_MEMORY) | B(LUMINAL_E_INTERNAL), ""},
    [F_SIGNAL_RECV] = {"luminal_signal_recv", OK_ | IARG | IHND | FORK, ""},
    /* Task sets, join_all, select, scope_drain: the Sync rules again. */
    [F_SET_NEW] = {"luminal_task_set_new", OK_ | IARG | IHND | SHUT | FORK, ""},
    [F_SET_SPAWN] = {"luminal_task_set_spawn", OK_ | IARG | IHND | SHUT | FORK, "as luminal_spawn_with"},
    [F_SET_JOIN_NEXT] = {"luminal_task_set_join_next", OK_ | IARG | IHND | FORK, ""},
    [F_SET_ABORT_ALL] = {"luminal_task_set_abort_all", OK_ | IARG | IHND | FORK, ""},
    [F_SET_RESULT] = {"join_next *result", OK_ | CANC | EMPT | CLSD | IARG | IHND | FORK | B(LUMINAL_E_NO_MEMORY) | B(LUMINAL_E_INTERNAL),
                      "a member's join status (OK / CANCELLED), EMPTY, CLOSED; the runtime-provided-future rule"},
    [F_JOIN_ALL] = {"luminal_join_all", OK_ | IARG | IHND | FORK, ""},
    [F_SELECT] = {"luminal_select", OK_ | IARG | IHND | FORK, ""},
    [F_SCOPE_DRAIN] = {"luminal_scope_drain", OK_ | IARG | IHND | FORK, ""},
    [F_METRICS] = {"luminal_runtime_get_metrics", OK_ | IARG | IHND, ""},
    [F_WORKER_METRICS] = {"luminal_runtime_get_worker_metrics", OK_ | IARG | IHND, "IARG: index out of range"},
    /* Current-thread runtimes and the paused clock. */
    [F_RUNTIME_RUN] = {"luminal_runtime_run", OK_ | BUSY | DEAD | SHUT | IARG | IHND, ""},
    [F_WAKEUP_FD] = {"luminal_runtime_wakeup_fd", OK_ | SHUT | IARG | IHND, ""},
    [F_NEXT_DEADLINE] = {"luminal_runtime_next_deadline_ns", OK_ | IARG | IHND, ""},
    [F_ADVANCE] = {"luminal_runtime_advance", OK_ | BUSY | SHUT | IARG | IHND, "IARG: a clock that is not paused"},
};

/* luminal_runtime_get_metrics / _get_worker_metrics on `rt` (worker `index`); the metrics' worker count. */
static int fz_metrics(luminal_runtime *rt, uint32_t index, int *worker_status, uint32_t *workers) {
  luminal_runtime_metrics m;
  luminal_worker_metrics w;
  memset(&m, 0, sizeof m);
  memset(&w, 0, sizeof w);
  m.struct_size = sizeof m;
  w.struct_size = sizeof w;
  int s = luminal_runtime_get_metrics(rt, &m);
  *workers = m.workers;
  *worker_status = luminal_runtime_get_worker_metrics(rt, index, &w);
  return s;
}

/* Undocumented (function, status) pairs seen, for LUMFUZZ_KEEP_GOING. */
static atomic_long g_undoc[F_COUNT][2 * ST_BIAS];
static atomic_long g_undoc_total;

/* LUMFUZZ_ALLOW="luminal_file_open:-3,luminal_io_result.status:-1": known findings (reported, awaiting a fix or a
 * header change) that are counted and listed but do not fail the run. */
static uint64_t g_allow[F_COUNT];
static atomic_long g_allowed_seen[F_COUNT][2 * ST_BIAS];

static void parse_allow(const char *v) {
  while (v && *v) {
    const char *colon = strchr(v, ':');
    if (!colon) break;
    int st = atoi(colon + 1);
    for (int f = 0; f < F_COUNT; f++)
      if (strlen(fn_table[f].name) == (size_t)(colon - v) && strncmp(fn_table[f].name, v, (size_t)(colon - v)) == 0 &&
          st >= -ST_BIAS && st < ST_BIAS)
        g_allow[f] |= B(st);
    v = strchr(colon, ',');
    if (v) v++;
  }
}

static int st_ok_for(enum fn_id f, int s) {
  if (s < -ST_BIAS || s >= ST_BIAS) return 0;
  if (g_allow[f] & B(s)) {
    atomic_fetch_add(&g_allowed_seen[f][s + ST_BIAS], 1);
    return 1;
  }
  return (fn_table[f].allowed & B(s)) != 0;
}

/* Checks `s` against the table and returns it. */
static int chk(enum fn_id f, int s, const char *ctx) {
  if (!st_ok_for(f, s)) {
    if (g_keep_going && s >= -ST_BIAS && s < ST_BIAS) {
      if (atomic_fetch_add(&g_undoc[f][s + ST_BIAS], 1) == 0)
        fprintf(stderr, "lumfuzz: UNDOCUMENTED: %s returned %d (%s) [%s] seed=%" PRIu64 "\n", fn_table[f].name, s,
                luminal_status_str((luminal_status)s), ctx, g_seed);
      atomic_fetch_add(&g_undoc_total, 1);
    } else {
      FZ_FAIL("%s returned %d (%s), which the header does not list for it [%s]", fn_table[f].name, s,
              luminal_status_str((luminal_status)s), ctx);
    }
  }
  return s;
}

/* Checks an exact expectation (on top of the table). */
static void expect(enum fn_id f, int s, int want, const char *ctx) {
  chk(f, s, ctx);
  if (s != want)
    FZ_FAIL("%s returned %d (%s), expected %d (%s) [%s]", fn_table[f].name, s, luminal_status_str((luminal_status)s),
            want, luminal_status_str((luminal_status)want), ctx);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Random numbers                                                                                                 */
/* ------------------------------------------------------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint32_t rn(uint64_t *s, uint32_t n) { return n ? (uint32_t)(rnd(s) % n) : 0; }
static int chance(uint64_t *s, uint32_t one_in) { return rn(s, one_in) == 0; }

/* ------------------------------------------------------------------------------------------------------------- */
/* Counters                                                                                                       */
/* ------------------------------------------------------------------------------------------------------------- */

static atomic_long c_fut_created, c_fut_dropped, c_polls;
static atomic_long c_out_created, c_out_taken, c_out_dropped;
static atomic_long c_barg_created, c_barg_dropped;
static atomic_long c_calls, c_spawned_ok, c_joined_ok;

/* ------------------------------------------------------------------------------------------------------------- */
/* Runtimes: a few slots, each naming its current runtime ("life"); lives are never freed                         */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct rt_life {
  _Atomic(uintptr_t) base; /* the slot's owning handle; 0 once released */
  int id;
  atomic_int shutdown_ok;  /* luminal_runtime_shutdown returned OK for it */
  atomic_int shutting;     /* a shutdown was started (no poll check: it may be in progress) */
  struct rt_life *next;
} rt_life;

#define NSLOTS 3
static struct {
  pthread_mutex_t mu; /* serialises cycling of the slot (never taken inside a poll) */
  _Atomic(rt_life *) life;
} g_slots[NSLOTS];
static pthread_mutex_t g_lives_mu = PTHREAD_MUTEX_INITIALIZER;
static rt_life *g_lives;
static atomic_int g_life_ids;

static luminal_runtime *life_rt(rt_life *l) { return (luminal_runtime *)atomic_load(&l->base); }

/* ------------------------------------------------------------------------------------------------------------- */
/* Graveyards: released handle values, to be used again as stale handles                                         */
/* ------------------------------------------------------------------------------------------------------------- */

#define GRAVE 256
typedef struct {
  _Atomic(uintptr_t) v[GRAVE];
  atomic_uint n;
} grave_t;
static grave_t g_dead_tasks, g_dead_scopes, g_dead_rts, g_old_wakers, g_borrowed_rts;

static void grave_put(grave_t *g, const void *h) {
  if (!h) return;
  unsigned i = atomic_fetch_add(&g->n, 1) % GRAVE;
  atomic_store(&g->v[i], (uintptr_t)h);
}
static uintptr_t grave_get(grave_t *g, uint64_t *r) {
  unsigned n = atomic_load(&g->n);
  if (n == 0) return 0;
  return atomic_load(&g->v[rn(r, n < GRAVE ? n : GRAVE)]);
}

/* A forged value of a handle type with tag `tag` (never NULL, with a random generation so it cannot hit a live
 * handle by chance), or another kind of garbage. */
static uintptr_t forged(uint64_t *r, unsigned tag) {
  switch (rn(r, 5)) {
  case 0: return (uintptr_t)(rnd(r) | 1u); /* random 64-bit */
  case 1: return (uintptr_t)((rnd(r) & ~(uint64_t)0xF) | tag) | ((uint64_t)0x80000000u << 32);
  case 2: /* small index, large random generation */
    return (uintptr_t)(((uint64_t)(rn(r, 0x7FFFFFFF) + 0x10000) << 32) | ((uint64_t)rn(r, 64) << 4) | tag);
  case 3: return (uintptr_t)((uint64_t)0xFFFFFFFFu << 32 | ((uint64_t)0x0FFFFFFFu << 4) | tag); /* max index */
  default: return (uintptr_t)(((uint64_t)(rn(r, 0x7FFFFFFF) + 0x10000) << 32) | ((uint64_t)rn(r, 1u << 28) << 4) | tag);
  }
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Scopes: records live until the end                                                                             */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct fz_scope {
  _Atomic(uintptr_t) h; /* 0 once released */
  rt_life *life;
  atomic_int closed_ok;    /* luminal_scope_close returned OK */
  atomic_long live;        /* our own count: futures not dropped + outputs not taken or freed, of this scope */
  atomic_long ops_started; /* spawns into it / joins of its tasks in progress: started and finished */
  atomic_long ops_finished;
  struct fz_scope *next;
} fz_scope;

#define SCOPE_REG 64
static _Atomic(fz_scope *) g_scope_reg[SCOPE_REG];
static pthread_mutex_t g_scopes_mu = PTHREAD_MUTEX_INITIALIZER;
static fz_scope *g_scopes;

static void scope_op_begin(fz_scope *s) {
  if (s) atomic_fetch_add(&s->ops_started, 1);
}
static void scope_op_end(fz_scope *s) {
  if (s) atomic_fetch_add(&s->ops_finished, 1);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Outputs                                                                                                        */
/* ------------------------------------------------------------------------------------------------------------- */

#define BOX_MAGIC 0x424F58424F58ull
typedef struct box {
  uint64_t magic;
  fz_scope *scope;
} box;

static void *box_new(fz_scope *s) {
  box *b = malloc(sizeof *b);
  if (!b) abort();
  b->magic = BOX_MAGIC;
  b->scope = s;
  atomic_fetch_add(&c_out_created, 1);
  if (s) atomic_fetch_add(&s->live, 1);
  return b;
}

static void box_take(void *p, const char *what) {
  box *b = p;
  if (!b) FZ_FAIL("%s: expected a box output, got NULL", what);
  if (b->magic != BOX_MAGIC) FZ_FAIL("%s: output is not a live box (taken twice or foreign): %p", what, p);
  b->magic = 0;
  if (b->scope) atomic_fetch_sub(&b->scope->live, 1);
  atomic_fetch_add(&c_out_taken, 1);
  free(b);
}

static void box_drop_output(void *p) {
  box *b = p;
  if (!b) return;
  if (p == LUMINAL_TIMED_OUT_OUTPUT) FZ_FAIL("drop_output called with LUMINAL_TIMED_OUT_OUTPUT");
  if (b->magic != BOX_MAGIC) FZ_FAIL("drop_output on a dead or foreign output (double drop_output?) %p", p);
  if (b->scope && atomic_load(&b->scope->closed_ok))
    FZ_FAIL("drop_output of a scope's output after luminal_scope_close returned OK");
  b->magic = 0;
  if (b->scope) atomic_fetch_sub(&b->scope->live, 1);
  atomic_fetch_add(&c_out_dropped, 1);
  free(b);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Wakers deposited by futures, woken by the waker thread or by fuzz threads                                      */
/* ------------------------------------------------------------------------------------------------------------- */

#define XCH 512
static pthread_mutex_t g_xch_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  luminal_waker *w;
  uint64_t due;
} g_xch[XCH];

/* Returns 1 if deposited (the exchange now owns `w`). */
static int xch_put(luminal_waker *w, uint64_t due) {
  pthread_mutex_lock(&g_xch_mu);
  unsigned start = (unsigned)(due ^ (uintptr_t)w) % XCH;
  for (unsigned k = 0; k < XCH; k++) {
    unsigned i = (start + k) % XCH;
    if (!g_xch[i].w) {
      g_xch[i].w = w;
      g_xch[i].due = due;
      pthread_mutex_unlock(&g_xch_mu);
      return 1;
    }
  }
  pthread_mutex_unlock(&g_xch_mu);
  return 0;
}

/* Takes one waker (due ones only if `due_only`), or NULL. */
static luminal_waker *xch_take(uint64_t *r, int due_only) {
  uint64_t t = now_ns();
  luminal_waker *w = NULL;
  pthread_mutex_lock(&g_xch_mu);
  unsigned start = rn(r, XCH);
  for (unsigned k = 0; k < XCH; k++) {
    unsigned i = (start + k) % XCH;
    if (g_xch[i].w && (!due_only || g_xch[i].due <= t)) {
      w = g_xch[i].w;
      g_xch[i].w = NULL;
      break;
    }
  }
  pthread_mutex_unlock(&g_xch_mu);
  return w;
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Stale contexts                                                                                                 */
/* ------------------------------------------------------------------------------------------------------------- */

/* A context is published only after the poll it was handed to has returned (at the future's next poll or drop),
 * so every value here is stale for certain. */
#define CTXS 64
static _Atomic(uintptr_t) g_stale_ctx[CTXS];
static atomic_uint g_stale_ctx_n;

static void ctx_publish(luminal_context *cx) {
  if (!cx) return;
  unsigned i = atomic_fetch_add(&g_stale_ctx_n, 1) % CTXS;
  atomic_store(&g_stale_ctx[i], (uintptr_t)cx);
}

static uint64_t g_fake_ctx_mem[16]; /* readable memory that is not a context */

/* A stale or forged context (LUMFUZZ_FORGED_CONTEXTS=1), or just a readable non-context pointer. */
static luminal_context *bad_ctx(uint64_t *r, luminal_context *current) {
  if (!g_forged_ctx) return (luminal_context *)&g_fake_ctx_mem[rn(r, 8)];
  for (int tries = 0; tries < 3; tries++) {
    uintptr_t v;
    switch (rn(r, 4)) {
    case 0: {
      unsigned n = atomic_load(&g_stale_ctx_n);
      v = n ? atomic_load(&g_stale_ctx[rn(r, n < CTXS ? n : CTXS)]) : forged(r, 0xF);
      break;
    }
    case 1: v = forged(r, 0xF); break;
    case 2: v = (uintptr_t)&g_fake_ctx_mem[rn(r, 8)]; break;
    default: v = forged(r, rn(r, 16)); break;
    }
    if (v && v != (uintptr_t)current) return (luminal_context *)v;
  }
  return (luminal_context *)&g_fake_ctx_mem[0];
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Our futures                                                                                                    */
/* ------------------------------------------------------------------------------------------------------------- */

enum fut_kind { K_READY, K_YIELD, K_EXT, K_FOREVER, K_CHAOS, K_SLEEP, K_IO, K_KINDS };

#define FUT_LIVE 0x4C4956454655542Aull
#define FUT_DEAD 0xDEADDEADDEADDEADull

typedef struct fz_fut {
  uint64_t magic;
  int kind;
  int depth;               /* chaos nesting (children of chaos futures) */
  atomic_int in_poll;
  atomic_int pin;          /* 1: the creator still holds it (not freed at drop), 2: dropped while pinned */
  atomic_int accepted;     /* a spawn / block_on took it (its drop after a scope close is then a fault) */
  int must_complete;       /* for block_on: no pending-forever IO */
  int ready_returned;
  int on_block_on;         /* polled by luminal_block_on on a non-worker thread */
  uint32_t polls, target;  /* polls so far; K_YIELD / K_EXT: READY at the target-th poll */
  uint64_t rng;
  uint64_t sleep_deadline; /* K_SLEEP: the deadline given to luminal_sleep_until (for the watchdog's report) */
  rt_life *life;           /* the runtime it was spawned onto (NULL: block_on or unknown) */
  fz_scope *scope;         /* the scope it belongs to, or NULL */
  luminal_context *last_cx; /* published at the next poll or drop */
  int nested;              /* polled inside another poll (a combinator's child): its context is the parent's, which may
                            * still be live at the child's next poll or drop, so it is never published as stale */
  luminal_task *child;     /* owned join handle of a child (chaos) */
  fz_scope *child_scope;
  int child_okind;
  luminal_runtime *rtclone; /* an owned runtime handle, released by drop */
  /* an inner library future polled inline (K_SLEEP, K_IO) */
  luminal_future inner;
  int has_inner;
  int io_variant, io_step, io_pendread;
  int fds[4];
  luminal_io_result ior, ior2;
  luminal_future inner2;
  int has_inner2;
  char buf[64], buf2[64];
  uint64_t io_off;
  luminal_file_info info;
  luminal_view view;
  luminal_buffer rbuf;
  uint16_t port;
  struct fz_fut *live_prev, *live_next; /* the registry of live futures (the watchdog's report) */
} fz_fut;

/* Every future not dropped yet, so that a hang's report says which ones are stuck and where. */
static pthread_mutex_t g_live_mu = PTHREAD_MUTEX_INITIALIZER;
static fz_fut *g_live;

static void live_add(fz_fut *f) {
  pthread_mutex_lock(&g_live_mu);
  f->live_next = g_live;
  if (g_live) g_live->live_prev = f;
  g_live = f;
  pthread_mutex_unlock(&g_live_mu);
}

static void live_remove(fz_fut *f) {
  pthread_mutex_lock(&g_live_mu);
  if (f->live_prev) f->live_prev->live_next = f->live_next; else g_live = f->live_next;
  if (f->live_next) f->live_next->live_prev = f->live_prev;
  f->live_prev = f->live_next = NULL;
  pthread_mutex_unlock(&g_live_mu);
}

/* Current-thread runtimes inside luminal_block_on now (op_current_thread), for the watchdog's report. */
#define NCT 64
static struct {
  _Atomic(luminal_runtime *) rt;
  int paused;
} g_ct_blocking[NCT];

static void ct_report(void) {
  for (int i = 0; i < NCT; i++) {
    luminal_runtime *rt = atomic_load(&g_ct_blocking[i].rt);
    if (!rt) continue;
    uint64_t d = 0;
    int ds = luminal_runtime_next_deadline_ns(rt, &d);
    luminal_runtime_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    int ms = luminal_runtime_get_metrics(rt, &m);
    fprintf(stderr,
            "lumfuzz: current-thread block_on on %p (clock %s): now %" PRIu64 " monotonic %" PRIu64 " next deadline %d/%" PRIu64
            " metrics %d: blocking threads %u idle %u queued %" PRIu64 " io_in_flight %" PRIu64 " timers %" PRIu64
            " alive %" PRIu64 " ready %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n",
            (void *)rt, g_ct_blocking[i].paused ? "paused" : "monotonic", luminal_runtime_now_ns(rt), luminal_now_ns(), ds, d,
            ms, m.blocking_threads, m.blocking_idle, m.blocking_queue_depth, m.io_in_flight, m.timers_pending,
            m.tasks_alive, m.ready_user_interactive, m.ready_user_initiated, m.ready_utility, m.ready_background);
  }
}

static void live_one(const fz_fut *f) {
  fprintf(stderr,
          "lumfuzz: live future %p kind %d depth %d must_complete %d on_block_on %d accepted %d polls %u/%u in_poll %d "
          "nested %d io %d/%d pendread %d inner %d/%d sleep deadline %" PRIu64 " child %p scope %p life %p\n",
          (void *)f, f->kind, f->depth, f->must_complete, f->on_block_on, atomic_load(&f->accepted), f->polls, f->target,
          atomic_load(&f->in_poll), f->nested, f->io_variant, f->io_step, f->io_pendread, f->has_inner, f->has_inner2,
          f->sleep_deadline, (void *)f->child, (void *)f->scope, (void *)f->life);
}

static void live_report(void) {
  ct_report();
  pthread_mutex_lock(&g_live_mu);
  /* the futures that must complete (block_on's) first, all of them; then up to 60 others */
  for (fz_fut *f = g_live; f; f = f->live_next)
    if (f->must_complete) live_one(f);
  int n = 0;
  for (fz_fut *f = g_live; f && n < 60; f = f->live_next)
    if (!f->must_complete) live_one(f), n++;
  pthread_mutex_unlock(&g_live_mu);
}

/* Freed dead states are kept a while, so a poll or drop after drop finds FUT_DEAD (ASan catches older ones). */
#define QUAR 65536
static pthread_mutex_t g_quar_mu = PTHREAD_MUTEX_INITIALIZER;
static fz_fut *g_quar[QUAR];
static unsigned g_quar_i;

static void quarantine(fz_fut *f) {
  pthread_mutex_lock(&g_quar_mu);
  fz_fut *old = g_quar[g_quar_i];
  g_quar[g_quar_i] = f;
  g_quar_i = (g_quar_i + 1) % QUAR;
  pthread_mutex_unlock(&g_quar_mu);
  free(old);
}

static luminal_poll fz_poll(void *st, luminal_context *cx, void **out);
static void fz_drop(void *st);

static const char *g_tmp_path;   /* a regular temp file */
static char g_tmp_dir[256];
static atomic_ullong g_file_off; /* unique offsets into the temp file */
static atomic_int g_pendreads;    /* futures holding a never-completing read (2 fds each): capped */

static void io_cleanup(fz_fut *f);

static fz_fut *fut_new(uint64_t *r, int kind, int depth) {
  fz_fut *f = calloc(1, sizeof *f);
  if (!f) abort();
  f->magic = FUT_LIVE;
  f->kind = kind;
  f->depth = depth;
  atomic_init(&f->in_poll, 0);
  atomic_init(&f->pin, 1);
  f->rng = rnd(r);
  f->target = 1 + rn(r, 4);
  for (int i = 0; i < 4; i++) f->fds[i] = -1;
  atomic_fetch_add(&c_fut_created, 1);
  live_add(f);
  return f;
}

static luminal_future fut_wrap(fz_fut *f) {
  luminal_future fut = {f, fz_poll, fz_drop, box_drop_output};
  return fut;
}

/* luminal_spawn_inline (rt) / luminal_context_spawn_inline (use_cx: cx, which may be NULL or bad) of any luminal_future: the inline state is the
 * luminal_future itself, padded to a random size (small class, large class, a block of its own), forwarding poll
 * and drop; sometimes with bad size or alignment (*bad_args: INVALID_ARGUMENT is the only answer). */
static luminal_poll fzi_poll(void *st, luminal_context *cx, void **out) {
  luminal_future *f = st;
  return f->poll(f->state, cx, out);
}
static void fzi_drop(void *st) {
  luminal_future *f = st;
  if (f->drop) f->drop(f->state);
}
static int fzi_spawn(uint64_t *r, luminal_runtime *rt, int use_cx, luminal_context *cx, luminal_future fut,
                     const luminal_spawn_options *o, luminal_task **h, int *bad_args) {
  _Alignas(64) unsigned char buf[6000];
  memcpy(buf, &fut, sizeof fut);
  static const size_t sizes[] = {sizeof(luminal_future), 64, 200, 256, 300, 5000};
  static const size_t aligns[] = {8, 16, 64};
  size_t size = sizes[rn(r, 6)], align = aligns[rn(r, 3)];
  *bad_args = chance(r, 40);
  if (*bad_args) {
    switch (rn(r, 4)) {
    case 0: size = 0; break;
    case 1: align = 3; break;
    case 2: align = 128; break;
    default: size = SIZE_MAX; break;
    }
  }
  luminal_poll_fn poll = fut.poll ? fzi_poll : NULL;
  int s = use_cx ? luminal_context_spawn_inline(cx, buf, size, align, poll, fzi_drop, fut.drop_output, o, h)
                 : luminal_spawn_inline(rt, buf, size, align, poll, fzi_drop, fut.drop_output, o, h);
  memset(buf, 0xA5, sizeof buf); /* moved-from (or dropped): never read again */
  return s;
}

/* A random future kind that completes by itself (for block_on), or any kind. */
static int pick_kind(uint64_t *r, int completes, int depth) {
  for (;;) {
    int k = (int)rn(r, K_KINDS);
    if (completes && k == K_FOREVER) continue;
    if (k == K_CHAOS && depth >= 2) continue;
    if (k == K_IO && !chance(r, 3)) continue; /* fds are a budget */
    return k;
  }
}

/* Every future starts pinned by its creator: its drop marks it dead but does not free it, so the creator can
 * check "dropped at once" after a call that took it. Returns 1 if it was dropped. */
static int fut_unpin(fz_fut *f) {
  int prev = atomic_exchange(&f->pin, 0);
  if (prev == 2) quarantine(f);
  return prev == 2;
}

/* After a call that took `f`: a failed call must have dropped it already. */
static void fut_handed(fz_fut *f, int ok, const char *what) {
  if (ok) atomic_store(&f->accepted, 1);
  if (!fut_unpin(f) && !ok) FZ_FAIL("%s failed but did not drop the future at once", what);
}

/* After a call that drops `f` before returning (block_on, dropping a timeout around it). */
static void fut_gone(fz_fut *f, const char *what) {
  if (!fut_unpin(f)) FZ_FAIL("%s returned but the future it took is not dropped", what);
}

static void fz_drop(void *st) {
  fz_fut *f = st;
  if (!f) FZ_FAIL("drop called with NULL state");
  if (f->magic == FUT_DEAD) FZ_FAIL("future dropped twice (kind %d)", f->kind);
  if (f->magic != FUT_LIVE) FZ_FAIL("drop called on a foreign state %p", st);
  if (atomic_load(&f->in_poll)) FZ_FAIL("drop called during a poll (kind %d)", f->kind);
  if (f->scope && atomic_load(&f->accepted) && atomic_load(&f->scope->closed_ok))
    FZ_FAIL("a scope's future dropped after luminal_scope_close returned OK");
  ctx_publish(f->last_cx);
  if (f->child) luminal_task_release(f->child);
  if (f->has_inner) f->inner.drop(f->inner.state);
  if (f->has_inner2) f->inner2.drop(f->inner2.state);
  f->has_inner = f->has_inner2 = 0;
  io_cleanup(f);
  if (f->rtclone) luminal_runtime_release(f->rtclone); /* may be the last handle, on a worker */
  if (f->scope) atomic_fetch_sub(&f->scope->live, 1);
  f->magic = FUT_DEAD;
  live_remove(f);
  atomic_fetch_add(&c_fut_dropped, 1);
  if (atomic_exchange(&f->pin, 2) == 0) quarantine(f);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Spawn options                                                                                                  */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct {
  luminal_spawn_options o;
  uint64_t pad[4]; /* a "newer caller" struct_size may cover these */
} opts_buf;

/* Fills random options; *sc receives the scope record if a live registered scope was chosen (else NULL),
 * *bad = 1 if the options are certainly invalid. Returns the pointer to pass (may be NULL). */
static const luminal_spawn_options *rand_opts(uint64_t *r, opts_buf *b, fz_scope **sc, int *bad) {
  *sc = NULL;
  *bad = 0;
  if (chance(r, 4)) return NULL;
  memset(b, 0, sizeof *b);
  switch (rn(r, 6)) {
  case 0: b->o.struct_size = rn(r, sizeof(size_t)); *bad = 1; break; /* too small */
  case 1: b->o.struct_size = sizeof(size_t); break;                  /* only struct_size */
  case 2: b->o.struct_size = offsetof(luminal_spawn_options, priority); break;
  case 3: b->o.struct_size = sizeof(luminal_spawn_options) + 8 * rn(r, 4); break;
  default: b->o.struct_size = sizeof(luminal_spawn_options); break;
  }
  for (int i = 0; i < 4; i++) b->pad[i] = rnd(r);
  uint32_t p = rn(r, 10);
  b->o.priority = p < 5 ? (int32_t)p : p == 5 ? -1 : p == 6 ? 5 : p == 7 ? INT32_MIN : (int32_t)rn(r, 5);
  if (b->o.struct_size >= sizeof(luminal_spawn_options) && (p == 5 || p == 6 || p == 7)) *bad = 1;
  if (chance(r, 2)) {
    fz_scope *s = atomic_load(&g_scope_reg[rn(r, SCOPE_REG)]);
    if (s) {
      b->o.scope = (luminal_scope *)atomic_load(&s->h);
      if (b->o.scope && b->o.struct_size >= offsetof(luminal_spawn_options, priority)) *sc = s;
    }
  } else if (chance(r, 8)) {
    b->o.scope = (luminal_scope *)(chance(r, 2) ? grave_get(&g_dead_scopes, r) : forged(r, 0xD));
    if (b->o.scope && b->o.struct_size >= offsetof(luminal_spawn_options, priority)) *bad = 1;
  }
  return &b->o;
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Blocking calls and spawn_fn                                                                                     */
/* ------------------------------------------------------------------------------------------------------------- */

#define BARG_MAGIC 0x42415247ull
typedef struct barg {
  uint64_t magic;
  atomic_int called, dropped, running;
  fz_scope *scope;
  unsigned sleep_us;
  luminal_runtime *rt; /* borrowed (may be stale): block_on from the blocking pool */
  struct barg *next;
} barg;
static pthread_mutex_t g_bargs_mu = PTHREAD_MUTEX_INITIALIZER;
static barg *g_bargs; /* never freed before the end: fn outputs point at them */

static barg *barg_new(uint64_t *r, fz_scope *s, luminal_runtime *rt) {
  barg *a = calloc(1, sizeof *a);
  if (!a) abort();
  a->magic = BARG_MAGIC;
  a->scope = s;
  a->sleep_us = chance(r, 4) ? rn(r, 1500) : 0;
  a->rt = rt;
  pthread_mutex_lock(&g_bargs_mu);
  a->next = g_bargs;
  g_bargs = a;
  pthread_mutex_unlock(&g_bargs_mu);
  return a;
}

static void *barg_fn(void *p) {
  barg *a = p;
  if (!a || a->magic != BARG_MAGIC) FZ_FAIL("blocking/spawn_fn function called with a foreign arg %p", p);
  if (atomic_fetch_add(&a->called, 1) != 0) FZ_FAIL("blocking/spawn_fn function called twice");
  if (atomic_load(&a->dropped)) FZ_FAIL("blocking function called after drop_arg");
  if (a->scope && atomic_load(&a->scope->closed_ok)) FZ_FAIL("blocking call started after its scope closed OK");
  atomic_store(&a->running, 1);
  if (a->sleep_us) sleep_us(a->sleep_us);
  if (a->rt && a->sleep_us % 3 == 1) {
    /* The blocking pool is not a worker: block_on is allowed here. */
    uint64_t r = a->sleep_us;
    fz_fut *f = fut_new(&r, K_READY, 9);
    f->on_block_on = 1;
    void *out = NULL;
    int s = chk(F_BLOCK_ON, luminal_block_on(a->rt, fut_wrap(f), &out), "from a blocking-pool thread");
    if (s == LUMINAL_E_WOULD_DEADLOCK) FZ_FAIL("luminal_block_on on a blocking-pool thread gave WOULD_DEADLOCK");
    if (s == LUMINAL_OK) box_take(out, "block_on in blocking fn");
    fut_gone(f, "luminal_block_on (blocking pool)");
  }
  if (a->scope && atomic_load(&a->scope->closed_ok)) FZ_FAIL("luminal_scope_close returned OK during a blocking call of the scope");
  atomic_store(&a->running, 0);
  return a;
}

static void barg_drop(void *p) {
  barg *a = p;
  if (!a || a->magic != BARG_MAGIC) FZ_FAIL("drop_arg called with a foreign arg %p", p);
  if (atomic_fetch_add(&a->dropped, 1) != 0) FZ_FAIL("drop_arg called twice");
  if (atomic_load(&a->running)) FZ_FAIL("drop_arg called while the blocking call runs");
  atomic_fetch_add(&c_barg_dropped, 1);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Task records (per thread)                                                                                      */
/* ------------------------------------------------------------------------------------------------------------- */

enum out_kind { O_BOX, O_BOX_OR_TIMEOUT, O_NULL, O_ARG, O_TIMEOUT_NULL };

typedef struct {
  luminal_task *h;
  int okind;
  void *arg;      /* O_ARG: the expected output */
  fz_scope *scope;
  rt_life *life;
  int taken;      /* output handed over already */
  int completes;  /* finishes by itself (no abort needed) */
} task_rec;

/* Validates a join/poll output. LUMINAL_FAILED_OUTPUT is allowed wherever a sleep or a timeout is the future: a
 * poll in progress when its runtime began shutting down completes it that way (the header's rule for
 * runtime-provided futures). */
static void take_output(int okind, void *out, void *arg, const char *what) {
  if (out == LUMINAL_FAILED_OUTPUT && okind != O_BOX && okind != O_ARG) return;
  switch (okind) {
  case O_BOX: box_take(out, what); break;
  case O_BOX_OR_TIMEOUT:
    if (out != LUMINAL_TIMED_OUT_OUTPUT) box_take(out, what);
    break;
  case O_NULL:
    if (out != NULL) FZ_FAIL("%s: a sleep's output should be NULL, got %p", what, out);
    break;
  case O_TIMEOUT_NULL:
    if (out != NULL && out != LUMINAL_TIMED_OUT_OUTPUT) FZ_FAIL("%s: unexpected output %p", what, out);
    break;
  case O_ARG:
    if (out != arg) FZ_FAIL("%s: output %p is not the function's return value %p", what, out, arg);
    break;
  }
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Making a random spawnable future: ours, a timeout around ours, or a sleep                                     */
/* ------------------------------------------------------------------------------------------------------------- */

typedef struct {
  luminal_future fut;
  fz_fut *mine;   /* the fz future inside (NULL for a bare sleep) */
  int okind;
  int completes;
  int lib_ok;     /* making the library future succeeded */
} made_fut;

/* `rt` is used to make sleeps/timeouts (may be bad: then the fz future is spawned bare). */
static made_fut make_fut(uint64_t *r, luminal_runtime *rt, int completes, int depth, fz_scope *scope, rt_life *life) {
  made_fut m;
  memset(&m, 0, sizeof m);
  uint32_t w = rn(r, 10);
  if (w == 0 && rt) {
    luminal_future s;
    int st = chk(F_SLEEP, luminal_sleep(rt, rn(r, 2000000), &s), "make_fut");
    if (st == LUMINAL_OK) {
      m.fut = s;
      m.okind = O_NULL;
      m.completes = 1;
      m.lib_ok = 1;
      return m;
    }
  }
  fz_fut *f = fut_new(r, pick_kind(r, completes, depth), depth);
  f->must_complete = completes;
  f->scope = scope;
  f->life = life;
  if (scope) atomic_fetch_add(&scope->live, 1);
  m.mine = f;
  m.fut = fut_wrap(f);
  m.okind = O_BOX;
  m.completes = f->kind != K_FOREVER;
  if (w == 1 && rt) {
    luminal_future t;
    int st = chk(F_TIMEOUT, luminal_timeout(rt, m.fut, rn(r, 3000000), &t), "make_fut");
    if (st == LUMINAL_OK) {
      f->nested = 1; /* polled, and dropped at the deadline, inside the timeout's poll */
      m.fut = t;
      m.okind = O_BOX_OR_TIMEOUT;
      m.completes = 1;
      m.lib_ok = 1;
    } else {
      fut_handed(f, 0, "luminal_timeout");
      /* taken also on failure: make a fresh one */
      f = fut_new(r, K_READY, depth);
      f->scope = scope;
      f->life = life;
      if (scope) atomic_fetch_add(&scope->live, 1);
      m.mine = f;
      m.fut = fut_wrap(f);
      m.okind = O_BOX;
      m.completes = 1;
    }
  }
  return m;
}

/* ------------------------------------------------------------------------------------------------------------- */
/* IO inside a poll                                                                                               */
/* ------------------------------------------------------------------------------------------------------------- */

enum { V_PIPE, V_FILE, V_TCP, V_PENDREAD, V_MAP, V_BAD, V_COUNT };

static void io_cleanup(fz_fut *f) {
  for (int i = 0; i < 4; i++)
    if (f->fds[i] >= 0) {
      close(f->fds[i]);
      f->fds[i] = -1;
    }
  luminal_view_release(&f->view);
  luminal_buffer_release(&f->rbuf);
  if (f->io_pendread) atomic_fetch_sub(&g_pendreads, 1);
  f->io_pendread = 0;
}

static void io_result_check(const luminal_io_result *res, const char *what) {
  char ctx[96];
  snprintf(ctx, sizeof ctx, "result of %s", what);
  chk(F_IO_RESULT, res->status, ctx);
}

/* Polls inner (and inner2 if present). Returns 1 when the ones present are both complete. */
static int io_poll_inner(fz_fut *f, luminal_context *cx) {
  void *o = NULL;
  if (f->has_inner) {
    if (f->inner.poll(f->inner.state, cx, &o) == LUMINAL_POLL_READY) {
      f->inner.drop(f->inner.state);
      f->has_inner = 0;
    }
  }
  if (f->has_inner2) {
    if (f->inner2.poll(f->inner2.state, cx, &o) == LUMINAL_POLL_READY) {
      f->inner2.drop(f->inner2.state);
      f->has_inner2 = 0;
    }
  }
  return !f->has_inner && !f->has_inner2;
}

static int io_start(fz_fut *f, enum fn_id fn, int st, luminal_future *slot, int *has) {
  chk(fn, st, "io in poll");
  (void)f;
  if (st != LUMINAL_OK) return 0;
  (void)slot;
  *has = 1;
  return 1;
}

/* Returns READY when the variant's steps are done (or gave up); PENDING while an inner op is pending. */
static luminal_poll io_step(fz_fut *f, luminal_context *cx) {
  luminal_runtime *rt = luminal_context_runtime(cx);
  if (!rt) FZ_FAIL("luminal_context_runtime returned NULL inside a poll");
  for (;;) {
    if (f->has_inner || f->has_inner2) {
      if (!io_poll_inner(f, cx)) return LUMINAL_POLL_PENDING;
      io_result_check(&f->ior, "inner io");
      if (f->io_variant == V_TCP && f->io_step == 1) io_result_check(&f->ior2, "inner io 2");
      /* CANCELLED: the runtime is shutting down under us (its blocking pool refuses work); stop here. */
      if (f->ior.status == LUMINAL_E_CANCELLED || (f->io_variant == V_TCP && f->io_step == 1 && f->ior2.status == LUMINAL_E_CANCELLED))
        return LUMINAL_POLL_READY;
    }
    int s;
    switch (f->io_variant) {
    case V_PIPE:
      switch (f->io_step++) {
      case 0: {
        int32_t fds[2];
        luminal_io_result err;
        s = chk(F_PIPE, luminal_pipe(fds, &err), "V_PIPE");
        if (err.status != s) FZ_FAIL("luminal_pipe: result.status %d, returned %d", err.status, s);
        if (s != LUMINAL_OK) return LUMINAL_POLL_READY;
        f->fds[0] = fds[0];
        f->fds[1] = fds[1];
        memcpy(f->buf, "ping-pong", 9);
        s = luminal_stream_write(rt, f->fds[1], f->buf, 9, &f->ior, &f->inner);
        if (!io_start(f, F_STREAM_WRITE, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      }
      case 1:
        if (f->ior.status != LUMINAL_OK || f->ior.value != 9)
          FZ_FAIL("pipe write: status %d value %" PRIu64 " errno %d", f->ior.status, f->ior.value, f->ior.os_error);
        s = luminal_stream_read(rt, f->fds[0], f->buf2, sizeof f->buf2, &f->ior, &f->inner);
        if (!io_start(f, F_STREAM_READ, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 2:
        if (f->ior.status != LUMINAL_OK || f->ior.value < 1 || f->ior.value > 9 ||
            memcmp(f->buf2, "ping-pong", f->ior.value) != 0)
          FZ_FAIL("pipe read: status %d value %" PRIu64, f->ior.status, f->ior.value);
        s = luminal_file_close(rt, f->fds[1], &f->ior, &f->inner);
        if (!io_start(f, F_FILE_CLOSE, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        f->fds[1] = -1;
        break;
      default:
        if (f->ior.status != LUMINAL_OK) FZ_FAIL("close of a pipe end: status %d errno %d", f->ior.status, f->ior.os_error);
        return LUMINAL_POLL_READY;
      }
      break;
    case V_FILE:
      switch (f->io_step++) {
      case 0:
        s = luminal_file_open(rt, g_tmp_path, O_RDWR, 0600, &f->ior, &f->inner);
        if (!io_start(f, F_FILE_OPEN, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 1:
        if (f->ior.status != LUMINAL_OK) FZ_FAIL("open temp file: status %d errno %d", f->ior.status, f->ior.os_error);
        f->fds[0] = (int)f->ior.value;
        f->io_off = atomic_fetch_add(&g_file_off, 64) % (1u << 20);
        for (int i = 0; i < 32; i++) f->buf[i] = (char)(f->rng >> (i % 8)) + (char)i;
        s = luminal_file_write_at(rt, f->fds[0], f->buf, 32, f->io_off, &f->ior, &f->inner);
        if (!io_start(f, F_FILE_WRITE_AT, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 2:
        if (f->ior.status != LUMINAL_OK || f->ior.value != 32)
          FZ_FAIL("write_at: status %d value %" PRIu64 " errno %d", f->ior.status, f->ior.value, f->ior.os_error);
        s = luminal_file_read_at(rt, f->fds[0], f->buf2, 32, f->io_off, &f->ior, &f->inner);
        if (!io_start(f, F_FILE_READ_AT, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 3:
        if (f->ior.status != LUMINAL_OK || f->ior.value != 32 || memcmp(f->buf, f->buf2, 32) != 0)
          FZ_FAIL("read_at after write_at: status %d value %" PRIu64 " (or other bytes)", f->ior.status, f->ior.value);
        s = (f->rng & 1) ? luminal_file_fsync(rt, f->fds[0], &f->ior, &f->inner)
                         : luminal_file_stat(rt, f->fds[0], &f->info, &f->ior, &f->inner);
        if (!io_start(f, (f->rng & 1) ? F_FILE_FSYNC : F_FILE_STAT, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 4:
        if (f->ior.status != LUMINAL_OK) FZ_FAIL("fsync/stat: status %d errno %d", f->ior.status, f->ior.os_error);
        if (!(f->rng & 1) && (f->info.size < f->io_off + 32 || !S_ISREG(f->info.mode)))
          FZ_FAIL("stat: size %" PRIu64 " < %" PRIu64 " or not regular", f->info.size, f->io_off + 32);
        s = luminal_file_close(rt, f->fds[0], &f->ior, &f->inner);
        if (!io_start(f, F_FILE_CLOSE, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        f->fds[0] = -1;
        break;
      default: return LUMINAL_POLL_READY;
      }
      break;
    case V_TCP:
      switch (f->io_step++) {
      case 0: {
        int32_t lfd = -1;
        luminal_io_result err;
        uint16_t port = 0;
        s = chk(F_TCP_LISTEN, luminal_tcp_listen("127.0.0.1", 0, 4, &lfd, &port, &err), "V_TCP");
        if (err.status != s || (s == LUMINAL_OK && err.value != (uint64_t)lfd)) FZ_FAIL("luminal_tcp_listen: result");
        if (s != LUMINAL_OK) return LUMINAL_POLL_READY;
        f->fds[0] = lfd;
        f->port = port;
        s = luminal_tcp_accept(rt, lfd, &f->ior, &f->inner);
        if (!io_start(f, F_TCP_ACCEPT, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        s = luminal_tcp_connect(rt, "127.0.0.1", port, &f->ior2, &f->inner2);
        if (!io_start(f, F_TCP_CONNECT, s, &f->inner2, &f->has_inner2)) return LUMINAL_POLL_READY;
        break;
      }
      case 1:
        if (f->ior.status != LUMINAL_OK || f->ior2.status != LUMINAL_OK)
          FZ_FAIL("accept/connect: %d/%d errno %d/%d", f->ior.status, f->ior2.status, f->ior.os_error, f->ior2.os_error);
        f->fds[1] = (int)f->ior.value;  /* server side */
        f->fds[2] = (int)f->ior2.value; /* client side */
        memcpy(f->buf, "hello", 5);
        s = luminal_stream_write(rt, f->fds[2], f->buf, 5, &f->ior, &f->inner);
        if (!io_start(f, F_STREAM_WRITE, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 2:
        if (f->ior.status != LUMINAL_OK || f->ior.value != 5) FZ_FAIL("tcp write: %d %" PRIu64, f->ior.status, f->ior.value);
        s = luminal_stream_read(rt, f->fds[1], f->buf2, sizeof f->buf2, &f->ior, &f->inner);
        if (!io_start(f, F_STREAM_READ, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 3: {
        if (f->ior.status != LUMINAL_OK || f->ior.value < 1 || f->ior.value > 5 || memcmp(f->buf2, "hello", f->ior.value))
          FZ_FAIL("tcp read: %d %" PRIu64, f->ior.status, f->ior.value);
        luminal_io_result err;
        chk(F_STREAM_SHUTDOWN, luminal_stream_shutdown(f->fds[2], (int32_t)(f->rng % 3), &err), "V_TCP");
        return LUMINAL_POLL_READY;
      }
      default: return LUMINAL_POLL_READY;
      }
      break;
    case V_PENDREAD:
      if (f->io_step++ == 0) {
        int32_t fds[2];
        if (chk(F_PIPE, luminal_pipe(fds, NULL), "V_PENDREAD") != LUMINAL_OK) return LUMINAL_POLL_READY;
        f->fds[0] = fds[0];
        f->fds[1] = fds[1];
        s = luminal_stream_read(rt, f->fds[0], f->buf2, sizeof f->buf2, &f->ior, &f->inner);
        if (!io_start(f, F_STREAM_READ, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        /* the write end stays open and nobody writes: the read waits until the future is dropped (abort,
           timeout, scope close, shutdown), which cancels it in flight */
        break;
      }
      return LUMINAL_POLL_READY;
    case V_MAP:
      switch (f->io_step++) {
      case 0:
        s = (f->rng & 1) ? luminal_file_map(rt, g_tmp_path, &f->view, &f->ior, &f->inner)
                         : luminal_file_read_all(rt, g_tmp_path, &f->rbuf, &f->ior, &f->inner);
        if (!io_start(f, (f->rng & 1) ? F_FILE_MAP : F_FILE_READ_ALL, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 1:
        if (f->ior.status != LUMINAL_OK) FZ_FAIL("map/read_all of the temp file: %d errno %d", f->ior.status, f->ior.os_error);
        if ((f->rng & 1) ? f->view.len != f->ior.value : f->rbuf.len != f->ior.value)
          FZ_FAIL("map/read_all: length does not match value %" PRIu64, f->ior.value);
        luminal_view_release(&f->view);
        luminal_buffer_release(&f->rbuf);
        luminal_view_release(&f->view); /* a zeroed view is ignored */
        s = (f->rng & 2) ? luminal_file_map(rt, g_tmp_dir, &f->view, &f->ior, &f->inner)
                         : luminal_file_read_all(rt, g_tmp_dir, &f->rbuf, &f->ior, &f->inner);
        if (!io_start(f, (f->rng & 2) ? F_FILE_MAP : F_FILE_READ_ALL, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 2:
        if (f->ior.status != LUMINAL_E_IO || f->ior.os_error != EISDIR)
          FZ_FAIL("map/read_all of a directory: status %d errno %d (want IO/EISDIR)", f->ior.status, f->ior.os_error);
        return LUMINAL_POLL_READY;
      default: return LUMINAL_POLL_READY;
      }
      break;
    default: /* V_BAD: operations the OS refuses */
      switch (f->io_step++) {
      case 0: {
        char p[320];
        snprintf(p, sizeof p, "%s/does-not-exist-%" PRIu64, g_tmp_dir, f->rng);
        s = luminal_file_open(rt, p, O_RDONLY, 0, &f->ior, &f->inner);
        if (!io_start(f, F_FILE_OPEN, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      }
      case 1:
        if (f->ior.status != LUMINAL_E_IO || f->ior.os_error != ENOENT)
          FZ_FAIL("open of a missing file: status %d errno %d", f->ior.status, f->ior.os_error);
        s = (f->rng & 1) ? luminal_stream_read(rt, -1, f->buf2, 8, &f->ior, &f->inner)
                         : luminal_file_close(rt, -1, &f->ior, &f->inner);
        if (!io_start(f, (f->rng & 1) ? F_STREAM_READ : F_FILE_CLOSE, s, &f->inner, &f->has_inner)) return LUMINAL_POLL_READY;
        break;
      case 2:
        if (f->ior.status != LUMINAL_E_IO || f->ior.os_error != EBADF)
          FZ_FAIL("IO on fd -1: status %d errno %d (want IO/EBADF)", f->ior.status, f->ior.os_error);
        return LUMINAL_POLL_READY;
      default: return LUMINAL_POLL_READY;
      }
      break;
    }
  }
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Chaos: API calls from inside a poll                                                                            */
/* ------------------------------------------------------------------------------------------------------------- */

static void chaos_ops(fz_fut *f, luminal_context *cx) {
  uint64_t *r = &f->rng;
  luminal_runtime *rt = luminal_context_runtime(cx);
  if (!rt) FZ_FAIL("luminal_context_runtime returned NULL inside a poll");
  grave_put(&g_borrowed_rts, rt);
  int on_worker = !f->on_block_on;
  int n = 1 + (int)rn(r, 3);
  for (int k = 0; k < n; k++) {
    atomic_fetch_add(&c_calls, 1);
    switch (rn(r, 22)) {
    case 0: { /* waker identity */
      const luminal_waker *w = luminal_context_waker(cx);
      if (!w) FZ_FAIL("luminal_context_waker returned NULL inside a poll");
      luminal_waker *c = luminal_waker_clone(w);
      if (!c) FZ_FAIL("luminal_waker_clone of the context's waker returned NULL");
      if (luminal_waker_will_wake(w, c) != 1 || luminal_waker_will_wake(c, w) != 1)
        FZ_FAIL("luminal_waker_will_wake(a clone, its original) != 1");
      luminal_waker_release(c);
      break;
    }
    case 1:
    case 2: { /* context_spawn(_with) a child */
      fz_fut *c = fut_new(r, pick_kind(r, 0, f->depth + 1), f->depth + 1);
      opts_buf ob;
      fz_scope *sc = NULL;
      int bad = 0;
      const luminal_spawn_options *o = NULL;
      int with = rn(r, 2);
      if (with) o = rand_opts(r, &ob, &sc, &bad);
      c->life = f->life;
      /* A child inherits the spawning task's scope unless the options name one. */
      c->scope = sc ? sc : f->scope;
      if (c->scope) {
        scope_op_begin(c->scope);
        atomic_fetch_add(&c->scope->live, 1);
      }
      luminal_task *t = NULL;
      int want_handle = !f->child && chance(r, 2);
      int bad_args = 0, s;
      if (with && chance(r, 2)) {
        s = chk(F_CONTEXT_SPAWN_INLINE, fzi_spawn(r, NULL, 1, cx, fut_wrap(c), o, want_handle ? &t : NULL, &bad_args), "in poll");
        if (bad_args) expect(F_CONTEXT_SPAWN_INLINE, s, LUMINAL_E_INVALID_ARGUMENT, "bad size or alignment, in poll");
      } else
        s = with ? chk(F_CONTEXT_SPAWN_WITH, luminal_context_spawn_with(cx, fut_wrap(c), o, want_handle ? &t : NULL), "in poll")
                 : chk(F_CONTEXT_SPAWN, luminal_context_spawn(cx, fut_wrap(c), want_handle ? &t : NULL), "in poll");
      if (s == LUMINAL_OK && sc && f->life && sc->life && sc->life != f->life)
        FZ_FAIL("luminal_context_spawn_with accepted another runtime's scope");
      fut_handed(c, s == LUMINAL_OK, "luminal_context_spawn");
      if (s != LUMINAL_OK) {
        if (t) FZ_FAIL("luminal_context_spawn failed but wrote a task handle");
      } else if (bad) {
        FZ_FAIL("luminal_context_spawn_with accepted invalid options (struct_size %zu priority %d)", ob.o.struct_size, ob.o.priority);
      }
      if (s == LUMINAL_OK && want_handle) {
        if (!t) FZ_FAIL("luminal_context_spawn OK without a handle");
        f->child = t;
        f->child_scope = c->scope;
        f->child_okind = O_BOX;
      }
      scope_op_end(c->scope);
      break;
    }
    case 3: /* await the child */
      if (f->child) {
        void *o = NULL;
        scope_op_begin(f->child_scope);
        int s = chk(F_TASK_POLL, luminal_task_poll(f->child, cx, &o), "child, in poll");
        if (s == LUMINAL_OK) take_output(f->child_okind, o, NULL, "luminal_task_poll");
        scope_op_end(f->child_scope);
        if (s != LUMINAL_PENDING) {
          luminal_task_release(f->child); /* before it is seen as dead by other threads */
          grave_put(&g_dead_tasks, f->child);
          f->child = NULL;
        }
      }
      break;
    case 4: /* join the child from inside a poll */
      if (f->child) {
        void *o = NULL;
        uint64_t to = chance(r, 2) ? 0 : 1000000;
        scope_op_begin(f->child_scope);
        int s = chk(F_TASK_JOIN, luminal_task_join(f->child, to, &o), "child, in poll");
        if (s == LUMINAL_OK) take_output(f->child_okind, o, NULL, "luminal_task_join (in poll)");
        scope_op_end(f->child_scope);
        if (s == LUMINAL_E_WOULD_DEADLOCK && (!on_worker || to == 0))
          FZ_FAIL("luminal_task_join gave WOULD_DEADLOCK %s", to == 0 ? "with timeout 0" : "off the workers (block_on)");
        if (s == LUMINAL_E_TIMED_OUT && on_worker && to != 0)
          FZ_FAIL("luminal_task_join with a timeout on a worker timed out instead of WOULD_DEADLOCK");
      }
      break;
    case 5:
      if (f->child) {
        luminal_task_abort(f->child);
        (void)luminal_task_is_finished(f->child);
      }
      break;
    case 6: { /* block_on on the own runtime */
      fz_fut *c = fut_new(r, K_READY, f->depth + 1);
      c->on_block_on = 1;
      void *o = NULL;
      int s = chk(F_BLOCK_ON, luminal_block_on(rt, fut_wrap(c), &o), "in poll");
      if (on_worker) {
        expect(F_BLOCK_ON, s, LUMINAL_E_WOULD_DEADLOCK, "on a worker of the same runtime");
      } else if (s == LUMINAL_OK) {
        box_take(o, "nested block_on");
      }
      fut_gone(c, "luminal_block_on (in poll)");
      break;
    }
    case 7: { /* block_on another runtime from a worker (allowed: it only blocks this worker briefly) */
      if (!chance(r, 4)) break;
      rt_life *l = atomic_load(&g_slots[rn(r, NSLOTS)].life);
      luminal_runtime *o_rt = life_rt(l);
      if (!o_rt || l == f->life) break;
      fz_fut *c = fut_new(r, K_READY, f->depth + 1);
      c->on_block_on = 1;
      void *o = NULL;
      int s = chk(F_BLOCK_ON, luminal_block_on(o_rt, fut_wrap(c), &o), "another runtime, in poll");
      if (s == LUMINAL_OK) box_take(o, "block_on other runtime");
      fut_gone(c, "luminal_block_on (other runtime, in poll)");
      break;
    }
    case 8: { /* scope close from inside a poll */
      fz_scope *sc = atomic_load(&g_scope_reg[rn(r, SCOPE_REG)]);
      luminal_scope *h = sc ? (luminal_scope *)atomic_load(&sc->h) : NULL;
      if (!h || !chance(r, 8)) break;
      uint64_t to = chance(r, 2) ? 0 : 2000000;
      int s = chk(F_SCOPE_CLOSE, luminal_scope_close(h, to), "in poll");
      if (s == LUMINAL_E_WOULD_DEADLOCK && (to == 0 || !on_worker || (f->life && sc->life && sc->life != f->life)))
        FZ_FAIL("luminal_scope_close gave WOULD_DEADLOCK (timeout %" PRIu64 ", on_worker %d, scope's runtime #%d, poll's #%d)",
                to, on_worker, sc->life ? sc->life->id : -1, f->life ? f->life->id : -1);
      if (s == LUMINAL_OK && on_worker && to != 0 && f->life && sc->life == f->life)
        FZ_FAIL("luminal_scope_close with a timeout on a worker of its runtime returned OK (expected WOULD_DEADLOCK)");
      /* OK from inside a poll: no closed_ok check (this very poll may be one of the scope's). */
      break;
    }
    case 9: { /* shutdown from inside a poll: rare, it ends the runtime */
      if (!chance(r, 400)) break;
      if (f->life) atomic_store(&f->life->shutting, 1);
      int s = chk(F_RUNTIME_SHUTDOWN, luminal_runtime_shutdown(rt, on_worker ? UINT64_MAX : 2000000), "in poll");
      if (on_worker) expect(F_RUNTIME_SHUTDOWN, s, LUMINAL_E_WOULD_DEADLOCK, "on a worker");
      break;
    }
    case 10: { /* a sleep polled once inline, then dropped (twice: detected and harmless) */
      luminal_future s;
      int st = chk(F_SLEEP, luminal_sleep(rt, rn(r, 3) == 0 ? 0 : 1000000, &s), "in poll");
      if (st == LUMINAL_OK) {
        void *o = (void *)1;
        luminal_poll p = s.poll(s.state, cx, &o);
        /* NULL, or LUMINAL_FAILED_OUTPUT when the runtime began shutting down during this poll */
        if (p == LUMINAL_POLL_READY && o != NULL && o != LUMINAL_FAILED_OUTPUT) FZ_FAIL("a sleep completed with output %p", o);
        s.drop(s.state);
        s.drop(s.state);                /* "detected and harmless" */
        (void)s.poll(s.state, cx, &o); /* idem */
      } else if (s.poll || s.state) {
        FZ_FAIL("luminal_sleep failed but left a future");
      }
      break;
    }
    case 11: { /* spawn / spawn_blocking from a poll with the borrowed runtime handle */
      if (chance(r, 2)) {
        /* luminal_spawn (not context_spawn) from a task: the new task joins no scope */
        made_fut m = make_fut(r, rt, 0, f->depth + 1, NULL, f->life);
        int s = chk(F_SPAWN, luminal_spawn(rt, m.fut, NULL), "borrowed rt, in poll");
        if (m.mine) fut_handed(m.mine, s == LUMINAL_OK, "luminal_spawn (in poll)");
      } else {
        barg *a = barg_new(r, NULL, NULL);
        atomic_fetch_add(&c_barg_created, 1);
        int s = chk(F_SPAWN_BLOCKING_WITH, luminal_spawn_blocking_with(rt, barg_fn, a, barg_drop, NULL, NULL), "in poll");
        if (s != LUMINAL_OK && !atomic_load(&a->dropped)) FZ_FAIL("luminal_spawn_blocking_with failed without drop_arg");
      }
      break;
    }
    case 12: { /* runtime clones: of the own runtime (released at once: maybe its last handle, on its own worker),
                  and of a slot's runtime, kept until drop (slot runtimes are always shut down explicitly, so a
                  pending future holding one cannot keep its runtime alive forever) */
      luminal_runtime *c = luminal_runtime_clone(rt);
      /* NULL only if the runtime is gone: its last handle was released while this (block_on) poll ran, which
       * shutdown does not wait for; then the borrowed handle is stale for every call */
      if (!c && luminal_runtime_worker_count(rt) != 0) FZ_FAIL("luminal_runtime_clone of the context's runtime returned NULL");
      if (c && luminal_runtime_worker_count(c) == 0) FZ_FAIL("worker_count of a live runtime is 0");
      luminal_runtime_release(c);
      if (!f->rtclone) f->rtclone = luminal_runtime_clone(life_rt(atomic_load(&g_slots[rn(r, NSLOTS)].life)));
      break;
    }
    case 13: /* NULL and bad contexts inside a poll */
    case 14: {
      if (luminal_context_runtime(NULL) || luminal_context_waker(NULL))
        FZ_FAIL("luminal_context_runtime/waker(NULL) not NULL");
      expect(F_CONTEXT_YIELD, luminal_context_yield(NULL), LUMINAL_E_INVALID_ARGUMENT, "NULL cx");
      luminal_context *bc = bad_ctx(r, cx);
      if (luminal_context_runtime(bc)) FZ_FAIL("luminal_context_runtime(stale/forged %p) not NULL", (void *)bc);
      if (luminal_context_waker(bc)) FZ_FAIL("luminal_context_waker(stale/forged %p) not NULL", (void *)bc);
      int s = chk(F_CONTEXT_YIELD, luminal_context_yield(bc), "stale/forged cx");
      if (s == LUMINAL_OK) FZ_FAIL("luminal_context_yield(stale/forged cx %p) returned OK", (void *)bc);
      fz_fut *c = fut_new(r, K_READY, 9);
      luminal_task *t = NULL;
      s = chk(F_CONTEXT_SPAWN, luminal_context_spawn(bc, fut_wrap(c), &t), "stale/forged cx");
      if (s == LUMINAL_OK) FZ_FAIL("luminal_context_spawn(stale/forged cx %p) returned OK", (void *)bc);
      fut_handed(c, 0, "luminal_context_spawn(bad cx)");
      if (t) FZ_FAIL("a failed context_spawn wrote a handle");
      if (f->child) {
        void *o = NULL;
        s = chk(F_TASK_POLL, luminal_task_poll(f->child, bc, &o), "stale/forged cx");
        if (s != LUMINAL_E_INVALID_HANDLE && s != LUMINAL_E_INVALID_ARGUMENT)
          FZ_FAIL("luminal_task_poll with a stale/forged cx returned %d", s);
      }
      break;
    }
    case 15: { /* wake tricks */
      const luminal_waker *w = luminal_context_waker(cx);
      luminal_waker *c = luminal_waker_clone(w);
      switch (rn(r, 3)) {
      case 0: luminal_waker_wake_by_ref(c); luminal_waker_release(c); break;
      case 1: luminal_waker_wake(c); break; /* consumes c */
      default:
        if (!xch_put(c, now_ns() + rn(r, 500000))) luminal_waker_wake(c);
        break;
      }
      break;
    }
    case 16: { /* stale handles inside a poll */
      luminal_task *st = (luminal_task *)grave_get(&g_dead_tasks, r);
      if (st) {
        void *o = NULL;
        expect(F_TASK_POLL, luminal_task_poll(st, cx, &o), LUMINAL_E_INVALID_HANDLE, "released task, in poll");
      }
      break;
    }
    case 17: { /* a timeout around a pending-forever future: inner dropped at the deadline or with the timeout */
      fz_fut *c = fut_new(r, K_FOREVER, 9);
      c->on_block_on = f->on_block_on; /* polled inline, by this very poll */
      c->nested = 1;
      c->life = f->life;
      luminal_future t;
      int s = chk(F_TIMEOUT, luminal_timeout(rt, fut_wrap(c), rn(r, 2) ? 0 : 500000, &t), "in poll");
      if (s == LUMINAL_OK) {
        void *o = NULL;
        if (t.poll(t.state, cx, &o) == LUMINAL_POLL_READY && o != LUMINAL_TIMED_OUT_OUTPUT && o != LUMINAL_FAILED_OUTPUT)
          FZ_FAIL("a timeout around a pending future completed with %p", o);
        t.drop(t.state);
        t.drop(t.state); /* detected and harmless: the inner is not dropped twice */
        fut_gone(c, "dropping a timeout future (inner)");
      } else {
        fut_handed(c, 0, "luminal_timeout");
      }
      break;
    }
    case 18: /* yield */
      expect(F_CONTEXT_YIELD, luminal_context_yield(cx), LUMINAL_OK, "own cx");
      break;
    case 19: { /* save this context: published as stale after this poll returned */
      if (!f->nested) f->last_cx = cx;
      break;
    }
    case 20: { /* the borrowed runtime handle: fine to use, never release */
      if (luminal_runtime_worker_count(rt) == 0) FZ_FAIL("worker_count(context runtime) == 0");
      uint32_t b = luminal_runtime_io_backend(rt);
      if (b != LUMINAL_IO_URING && b != LUMINAL_IO_POOL) FZ_FAIL("luminal_runtime_io_backend = %u", b);
      break;
    }
    default: { /* spawn_fn from a poll */
      barg *a = barg_new(r, NULL, NULL);
      luminal_task *t = NULL;
      int s = chk(F_SPAWN_FN, luminal_spawn_fn(rt, barg_fn, a, chance(r, 2) ? &t : NULL), "in poll");
      if (t) {
        if (s != LUMINAL_OK) FZ_FAIL("failed spawn_fn wrote a handle");
        luminal_task_release(t);
      }
      break;
    }
    }
  }
}

/* ------------------------------------------------------------------------------------------------------------- */
/* The poll function                                                                                              */
/* ------------------------------------------------------------------------------------------------------------- */

static luminal_poll fz_poll_body(fz_fut *f, luminal_context *cx, void **out) {
  f->polls++;
  switch (f->kind) {
  case K_READY: break;
  case K_YIELD:
    if (f->polls < f->target) {
      if (f->polls % 2) luminal_waker_wake_by_ref(luminal_context_waker(cx));
      else expect(F_CONTEXT_YIELD, luminal_context_yield(cx), LUMINAL_OK, "own cx");
      return LUMINAL_POLL_PENDING;
    }
    break;
  case K_EXT:
    if (f->polls < f->target) {
      luminal_waker *w = luminal_waker_clone(luminal_context_waker(cx));
      if (!w) FZ_FAIL("clone of the context's waker is NULL");
      if (!xch_put(w, now_ns() + rn(&f->rng, 1000000))) luminal_waker_wake(w);
      return LUMINAL_POLL_PENDING;
    }
    break;
  case K_FOREVER:
    if (f->polls == 1 && chance(&f->rng, 4)) chaos_ops(f, cx);
    return LUMINAL_POLL_PENDING;
  case K_CHAOS:
    chaos_ops(f, cx);
    if (f->polls < f->target) {
      luminal_waker *w = luminal_waker_clone(luminal_context_waker(cx));
      if (!xch_put(w, now_ns() + rn(&f->rng, 300000))) luminal_waker_wake(w);
      return LUMINAL_POLL_PENDING;
    }
    break;
  case K_SLEEP:
    if (!f->has_inner && f->polls == 1) {
      luminal_runtime *rt = luminal_context_runtime(cx);
      f->sleep_deadline = luminal_now_ns() + rn(&f->rng, 1500000);
      int s = chk(F_SLEEP_UNTIL, luminal_sleep_until(rt, f->sleep_deadline, &f->inner), "in poll");
      if (s == LUMINAL_OK) f->has_inner = 1;
    }
    if (f->has_inner) {
      void *o = (void *)1;
      if (f->inner.poll(f->inner.state, cx, &o) != LUMINAL_POLL_READY) return LUMINAL_POLL_PENDING;
      /* NULL, or LUMINAL_FAILED_OUTPUT when the runtime began shutting down during this poll (the rule for
       * runtime-provided futures in luminal.h) */
      if (o != NULL && o != LUMINAL_FAILED_OUTPUT) FZ_FAIL("sleep output %p", o);
      f->inner.drop(f->inner.state);
      f->has_inner = 0;
    }
    break;
  case K_IO:
    if (f->polls == 1) {
      f->io_variant = (int)rn(&f->rng, V_COUNT);
      /* F2 (fixed): two operations in flight in one future could hang the pool backend's shutdown */
      if (f->io_variant == V_TCP && !g_small_pool && luminal_runtime_io_backend(luminal_context_runtime(cx)) != LUMINAL_IO_URING)
        f->io_variant = V_FILE;
      if (f->io_variant == V_PENDREAD) {
        if (f->must_complete) f->io_variant = V_PIPE;
        else if (atomic_fetch_add(&g_pendreads, 1) >= 8) {
          atomic_fetch_sub(&g_pendreads, 1);
          f->io_variant = V_PIPE;
        } else {
          f->io_pendread = 1;
        }
      }
    }
    if (io_step(f, cx) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    break;
  }
  *out = box_new(f->scope);
  return LUMINAL_POLL_READY;
}

static luminal_poll fz_poll(void *st, luminal_context *cx, void **out) {
  fz_fut *f = st;
  if (!f) FZ_FAIL("poll called with NULL state");
  if (f->magic == FUT_DEAD) FZ_FAIL("poll after drop (kind %d)", f->kind);
  if (f->magic != FUT_LIVE) FZ_FAIL("poll of a foreign state %p", st);
  if (atomic_exchange(&f->in_poll, 1) != 0) FZ_FAIL("poll called concurrently with itself");
  if (f->ready_returned) FZ_FAIL("poll after READY");
  if (!cx) FZ_FAIL("poll called with a NULL context");
  if (!out) FZ_FAIL("poll called with a NULL output pointer");
  if (f->scope && atomic_load(&f->scope->closed_ok)) FZ_FAIL("poll of a scope's future after luminal_scope_close returned OK");
  if (f->life && !f->on_block_on && atomic_load(&f->life->shutdown_ok))
    FZ_FAIL("poll on a runtime after luminal_runtime_shutdown returned OK");
  if (f->last_cx) {
    ctx_publish(f->last_cx);
    f->last_cx = NULL;
  }
  if (!luminal_context_runtime(cx) || !luminal_context_waker(cx)) FZ_FAIL("the poll's context has no runtime or waker");
  atomic_fetch_add(&c_polls, 1);
  luminal_poll p = fz_poll_body(f, cx, out);
  if (p == LUMINAL_POLL_READY) f->ready_returned = 1;
  if (f->scope && atomic_load(&f->scope->closed_ok))
    FZ_FAIL("luminal_scope_close returned OK while a poll of the scope's future was running");
  if (f->life && !f->on_block_on && atomic_load(&f->life->shutdown_ok))
    FZ_FAIL("luminal_runtime_shutdown returned OK while a poll was running");
  atomic_store(&f->in_poll, 0);
  return p;
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Fuzz threads                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------- */

#define NTASK 48
#define NRT 6
#define NSCOPE 6

typedef struct {
  int idx;
  uint64_t rng;
  task_rec tasks[NTASK];
  struct {
    luminal_runtime *h;
    rt_life *life;
  } rts[NRT];
  struct {
    fz_scope *rec;
  } scopes[NSCOPE];
  uint64_t last_now;
} fz_thread;

static rt_life *life_new(luminal_runtime *h) {
  rt_life *l = calloc(1, sizeof *l);
  if (!l) abort();
  atomic_store(&l->base, (uintptr_t)h);
  l->id = atomic_fetch_add(&g_life_ids, 1);
  pthread_mutex_lock(&g_lives_mu);
  l->next = g_lives;
  g_lives = l;
  pthread_mutex_unlock(&g_lives_mu);
  return l;
}

/* A current-thread runtime (issue 17): made, given futures (spawned, and one block_on), driven from this thread with
 * run / advance / block_on in random order, then shut down or just released. Its tasks may stash its borrowed
 * handle (other threads then spawn onto it) or block_on it from the blocking pool (BUSY while this thread drives). */
static void op_current_thread(fz_thread *t) {
  uint64_t *r = &t->rng;
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.flavor = LUMINAL_FLAVOR_CURRENT_THREAD;
  o.clock = chance(r, 2) ? LUMINAL_CLOCK_PAUSED : LUMINAL_CLOCK_MONOTONIC;
  o.seed = chance(r, 2) ? rnd(r) : 0;
  o.max_blocking_threads = 16 + rn(r, 16);
  o.io_backend = chance(r, 2) ? LUMINAL_IO_POOL : LUMINAL_IO_AUTO;
  luminal_runtime *rt = NULL;
  int s = chk(F_RUNTIME_NEW, luminal_runtime_new(&o, &rt), "current-thread runtime");
  if (s != LUMINAL_OK || !rt) FZ_FAIL("luminal_runtime_new(current-thread) returned %d", s);
  if (luminal_runtime_worker_count(rt) != 1) FZ_FAIL("worker_count of a current-thread runtime != 1");
  int fd = -1;
  expect(F_WAKEUP_FD, luminal_runtime_wakeup_fd(rt, &fd), LUMINAL_OK, "current-thread");
  if (fd < 0) FZ_FAIL("luminal_runtime_wakeup_fd gave fd %d", fd);
  for (int i = 1 + (int)rn(r, 6); i > 0; i--) {
    made_fut m = make_fut(r, rt, 0, 1, NULL, NULL);
    s = chk(F_SPAWN, luminal_spawn(rt, m.fut, NULL), "current-thread");
    if (m.mine) fut_handed(m.mine, s == LUMINAL_OK, "luminal_spawn (current-thread)");
  }
  for (int k = (int)rn(r, 6); k > 0; k--) {
    switch (rn(r, 4)) {
    case 0: { /* run with random limits: OK, or SHUTDOWN if one of its tasks shut it down */
      uint32_t polled = 7;
      s = chk(F_RUNTIME_RUN, luminal_runtime_run(rt, rn(r, 3) ? (uint32_t)rn(r, 64) : 0, rn(r, 3) ? rn(r, 2000000) : 0,
                                                  chance(r, 4) ? NULL : &polled), "current-thread");
      if (s != LUMINAL_OK && s != LUMINAL_E_SHUTDOWN) FZ_FAIL("luminal_runtime_run from its only driver returned %d", s);
      break;
    }
    case 1: {
      uint64_t d = 0, now = luminal_runtime_now_ns(rt);
      expect(F_NEXT_DEADLINE, luminal_runtime_next_deadline_ns(rt, &d), LUMINAL_OK, "current-thread");
      if (now == 0) FZ_FAIL("luminal_runtime_now_ns of a live runtime is 0");
      break;
    }
    case 2: {
      uint64_t before = luminal_runtime_now_ns(rt), by = rn(r, 3000000);
      s = chk(F_ADVANCE, luminal_runtime_advance(rt, by), "current-thread");
      if (o.clock != LUMINAL_CLOCK_PAUSED) {
        expect(F_ADVANCE, s, LUMINAL_E_INVALID_ARGUMENT, "monotonic clock");
      } else if (s == LUMINAL_OK && luminal_runtime_now_ns(rt) != before + by) {
        FZ_FAIL("advance by %" PRIu64 " moved the paused clock by %" PRIu64, by, luminal_runtime_now_ns(rt) - before);
      } else if (s != LUMINAL_OK && s != LUMINAL_E_SHUTDOWN) {
        FZ_FAIL("luminal_runtime_advance from its only driver returned %d", s);
      }
      break;
    }
    default: { /* block_on a future that completes: this thread drives everything meanwhile */
      made_fut m = make_fut(r, rt, 1, 1, NULL, NULL);
      void *out = NULL;
      int slot = t->idx % NCT;
      g_ct_blocking[slot].paused = o.clock == LUMINAL_CLOCK_PAUSED;
      atomic_store(&g_ct_blocking[slot].rt, rt);
      s = chk(F_BLOCK_ON, luminal_block_on(rt, m.fut, &out), "current-thread");
      atomic_store(&g_ct_blocking[slot].rt, NULL);
      if (s == LUMINAL_E_WOULD_DEADLOCK || s == LUMINAL_E_BUSY) FZ_FAIL("block_on from its only driver returned %d", s);
      if (s == LUMINAL_OK) take_output(m.okind, out, NULL, "luminal_block_on (current-thread)");
      if (m.mine) {
        atomic_store(&m.mine->accepted, 1);
        fut_gone(m.mine, "luminal_block_on (current-thread)");
      }
      break;
    }
    }
  }
  if (chance(r, 2)) expect(F_RUNTIME_SHUTDOWN, luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK, "current-thread");
  luminal_runtime_release(rt);
  grave_put(&g_dead_rts, rt);
}

static luminal_runtime *new_runtime(uint64_t *r) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 1 + rn(r, 3);
  o.thread_name = chance(r, 2) ? NULL : "fuzz";
  /* Finding F1 (fixed): on the pool backend a pending accept held a blocking-pool thread, so a tiny pool deadlocked
     an accept + connect pair; LUMFUZZ_KNOWN_HANGS=0 leaves pools of 1..8 threads out. */
  o.max_blocking_threads = chance(r, 2) ? 0 : g_small_pool ? 1 + rn(r, 8) : 16 + rn(r, 16);
  o.blocking_keep_alive_ms = chance(r, 2) ? 0 : 1 + rn(r, 50);
  o.io_backend = chance(r, 2) ? LUMINAL_IO_POOL : LUMINAL_IO_AUTO;
  luminal_runtime *rt = NULL;
  int s = chk(F_RUNTIME_NEW, luminal_runtime_new(&o, &rt), "new slot runtime");
  if (s != LUMINAL_OK || !rt) FZ_FAIL("luminal_runtime_new with valid options: %d", s);
  return rt;
}

/* Shuts down the slot's runtime and installs a new one. */
static void slot_cycle(uint64_t *r, int i, int final) {
  pthread_mutex_lock(&g_slots[i].mu);
  rt_life *l = atomic_load(&g_slots[i].life);
  luminal_runtime *h = life_rt(l);
  atomic_store(&l->shutting, 1);
  uint64_t to = final || chance(r, 2) ? UINT64_MAX : rn(r, 3000000);
  int s = chk(F_RUNTIME_SHUTDOWN, luminal_runtime_shutdown(h, to), "slot cycle");
  if (to == UINT64_MAX && s != LUMINAL_OK) FZ_FAIL("luminal_runtime_shutdown(forever) from a plain thread returned %d", s);
  if (s == LUMINAL_OK) atomic_store(&l->shutdown_ok, 1);
  if (s == LUMINAL_OK) {
    /* Calling it again is fine. */
    expect(F_RUNTIME_SHUTDOWN, luminal_runtime_shutdown(h, 0), LUMINAL_OK, "second shutdown");
  }
  atomic_store(&l->base, 0);
  luminal_runtime_release(h);
  grave_put(&g_dead_rts, h);
  if (!final) atomic_store(&g_slots[i].life, life_new(new_runtime(r)));
  pthread_mutex_unlock(&g_slots[i].mu);
}

/* A handle for a thread op: an owned clone (usually), a slot's base handle (racy: may go stale), or a bad one.
 * *life receives the runtime it names when known; *kind: 0 valid-or-racy, 1 NULL, 2 certainly invalid. */
static luminal_runtime *pick_rt(fz_thread *t, rt_life **life, int *kind) {
  uint64_t *r = &t->rng;
  *life = NULL;
  *kind = 0;
  uint32_t w = rn(r, 20);
  if (w < 12) {
    int i = (int)rn(r, NRT);
    if (t->rts[i].h) {
      *life = t->rts[i].life;
      return t->rts[i].h;
    }
  }
  if (w < 17) {
    rt_life *l = atomic_load(&g_slots[rn(r, NSLOTS)].life);
    *life = l;
    return life_rt(l);
  }
  if (w == 17) {
    *kind = 1;
    return NULL;
  }
  uintptr_t v = w == 18 ? grave_get(&g_dead_rts, r) : forged(r, chance(r, 2) ? 0x3 : rn(r, 16));
  if (!v) {
    *kind = 1;
    return NULL;
  }
  *kind = 2;
  return (luminal_runtime *)v;
}

static void check_bad_rt_status(enum fn_id fn, int s, int kind, const char *what) {
  if (kind == 1) expect(fn, s, LUMINAL_E_INVALID_ARGUMENT, what);
  if (kind == 2) expect(fn, s, LUMINAL_E_INVALID_HANDLE, what);
}

static int free_task_slot(fz_thread *t) {
  int i = (int)rn(&t->rng, NTASK);
  if (t->tasks[i].h) {
    luminal_task_release(t->tasks[i].h); /* before it is seen as dead by other threads */
    grave_put(&g_dead_tasks, t->tasks[i].h);
    t->tasks[i].h = NULL;
  }
  return i;
}

static void op_spawn(fz_thread *t) {
  uint64_t *r = &t->rng;
  rt_life *life;
  int kind;
  luminal_runtime *rt = pick_rt(t, &life, &kind);
  int variant = (int)rn(r, 5); /* 0 spawn, 1 spawn_with, 2 spawn_fn, 3 spawn_blocking, 4 spawn_blocking_with */
  opts_buf ob;
  fz_scope *sc = NULL;
  int bad = 0;
  const luminal_spawn_options *o = NULL;
  if (variant == 1 || variant == 4) o = rand_opts(r, &ob, &sc, &bad);
  int ti = free_task_slot(t);
  int want = chance(r, 4) != 0;
  luminal_task *h = NULL;
  task_rec rec;
  memset(&rec, 0, sizeof rec);
  rec.life = life;
  rec.scope = sc;
  int s;
  char what[64];
  if (variant <= 1) {
    scope_op_begin(sc);
    made_fut m = make_fut(r, kind == 0 ? rt : NULL, 0, 0, sc, life);
    int null_poll = chance(r, 50) && m.mine && !m.lib_ok;
    if (null_poll) m.fut.poll = NULL;
    int was_down = life && atomic_load(&life->shutdown_ok);
    int inl = variant == 1 && chance(r, 2), bad_args = 0;
    if (variant == 0) s = chk(F_SPAWN, luminal_spawn(rt, m.fut, want ? &h : NULL), "thread");
    else if (inl) {
      s = chk(F_SPAWN_INLINE, fzi_spawn(r, rt, 0, NULL, m.fut, o, want ? &h : NULL, &bad_args), "thread");
      if (bad_args) expect(F_SPAWN_INLINE, s, LUMINAL_E_INVALID_ARGUMENT, "bad size or alignment");
    } else s = chk(F_SPAWN_WITH, luminal_spawn_with(rt, m.fut, o, want ? &h : NULL), "thread");
    snprintf(what, sizeof what, "%s (rt kind %d)", inl ? "luminal_spawn_inline" : variant ? "luminal_spawn_with" : "luminal_spawn", kind);
    if (!null_poll && !o && !bad_args) check_bad_rt_status(inl ? F_SPAWN_INLINE : variant ? F_SPAWN_WITH : F_SPAWN, s, kind, what);
    /* NULL poll: INVALID_ARGUMENT, or INVALID_HANDLE when the runtime (or the options' scope) was released by
     * another thread meanwhile: the header does not say which check comes first. Either way the future is taken. */
    if (null_poll && kind == 0 && s != LUMINAL_E_INVALID_ARGUMENT && s != LUMINAL_E_INVALID_HANDLE)
      FZ_FAIL("%s with a NULL poll returned %d", variant ? "luminal_spawn_with" : "luminal_spawn", s);
    if (m.mine) fut_handed(m.mine, s == LUMINAL_OK, what);
    if (s == LUMINAL_OK && bad) FZ_FAIL("luminal_spawn_with accepted invalid options (size %zu prio %d)", ob.o.struct_size, ob.o.priority);
    if (s == LUMINAL_OK && was_down) FZ_FAIL("spawn onto a shut-down runtime returned OK");
    if (s == LUMINAL_OK && sc && life && sc->life && sc->life != life) FZ_FAIL("luminal_spawn_with accepted another runtime's scope");
    rec.okind = m.okind;
    rec.completes = m.completes;
    scope_op_end(sc);
  } else if (variant == 2) {
    barg *a = barg_new(r, NULL, NULL);
    int null_fn = chance(r, 50);
    s = chk(F_SPAWN_FN, luminal_spawn_fn(rt, null_fn ? NULL : barg_fn, a, want ? &h : NULL), "thread");
    if (null_fn) expect(F_SPAWN_FN, s, LUMINAL_E_INVALID_ARGUMENT, "NULL fn");
    else check_bad_rt_status(F_SPAWN_FN, s, kind, "luminal_spawn_fn");
    rec.okind = O_ARG;
    rec.arg = a;
    rec.completes = 1;
  } else {
    barg *a = barg_new(r, sc, kind == 0 && chance(r, 3) ? rt : NULL);
    int with = variant == 4;
    int drop = with && chance(r, 4) != 0;
    if (drop) atomic_fetch_add(&c_barg_created, 1);
    scope_op_begin(sc);
    if (with) s = chk(F_SPAWN_BLOCKING_WITH, luminal_spawn_blocking_with(rt, barg_fn, a, drop ? barg_drop : NULL, o, want ? &h : NULL), "thread");
    else s = chk(F_SPAWN_BLOCKING, luminal_spawn_blocking(rt, barg_fn, a, want ? &h : NULL), "thread");
    scope_op_end(sc);
    if (!o) check_bad_rt_status(with ? F_SPAWN_BLOCKING_WITH : F_SPAWN_BLOCKING, s, kind, "spawn_blocking");
    if (s == LUMINAL_OK && sc && life && sc->life && sc->life != life) FZ_FAIL("spawn_blocking_with accepted another runtime's scope");
    if (s != LUMINAL_OK && drop && !atomic_load(&a->dropped)) FZ_FAIL("luminal_spawn_blocking_with failed but drop_arg was not called at once");
    if (s == LUMINAL_OK && bad) FZ_FAIL("luminal_spawn_blocking_with accepted invalid options");
    rec.okind = O_ARG;
    rec.arg = a;
    rec.completes = 1;
  }
  if (s == LUMINAL_OK) atomic_fetch_add(&c_spawned_ok, 1);
  if (s != LUMINAL_OK && h) FZ_FAIL("a failed spawn wrote a task handle %p", (void *)h);
  if (s == LUMINAL_OK && want && !h) FZ_FAIL("a spawn returned OK without a task handle");
  if (h) {
    rec.h = h;
    t->tasks[ti] = rec;
  }
}

static void op_task(fz_thread *t) {
  uint64_t *r = &t->rng;
  int i = (int)rn(r, NTASK);
  task_rec *k = &t->tasks[i];
  if (!k->h) {
    /* stale / forged / NULL task handles */
    luminal_task *b;
    int is_null = 0;
    switch (rn(r, 3)) {
    case 0: b = (luminal_task *)grave_get(&g_dead_tasks, r); break;
    case 1: b = (luminal_task *)forged(r, chance(r, 2) ? 0x5 : rn(r, 16)); break;
    default: b = NULL; break;
    }
    is_null = b == NULL;
    void *o = NULL;
    int want = is_null ? LUMINAL_E_INVALID_ARGUMENT : LUMINAL_E_INVALID_HANDLE;
    expect(F_TASK_JOIN, luminal_task_join(b, rn(r, 2) ? 0 : 100000, &o), want, "bad task");
    if (luminal_task_is_finished(b) != 0) FZ_FAIL("luminal_task_is_finished(bad handle) != 0");
    luminal_task_abort(b);
    luminal_task_release(b);
    return;
  }
  void *o = NULL;
  switch (rn(r, 8)) {
  case 0:
  case 1:
  case 2: { /* join */
    uint64_t to = rn(r, 3) == 0 ? 0 : rn(r, 2) ? 1000000 : 5000000;
    int discard = chance(r, 5);
    scope_op_begin(k->scope);
    int s = chk(F_TASK_JOIN, luminal_task_join(k->h, to, discard ? NULL : &o), "thread");
    if (s == LUMINAL_OK) {
      if (k->taken) FZ_FAIL("a second join returned OK (output handed over twice)");
      if (!discard) take_output(k->okind, o, k->arg, "luminal_task_join");
      k->taken = 1;
      atomic_fetch_add(&c_joined_ok, 1);
      if (luminal_task_is_finished(k->h) != 1) FZ_FAIL("is_finished != 1 after a join returned OK");
    }
    scope_op_end(k->scope);
    if (s == LUMINAL_E_WOULD_DEADLOCK) FZ_FAIL("luminal_task_join gave WOULD_DEADLOCK on a plain thread");
    if (s == LUMINAL_E_ALREADY_TAKEN && !k->taken) FZ_FAIL("luminal_task_join: ALREADY_TAKEN but nobody took it");
    if (k->taken && s != LUMINAL_OK && s != LUMINAL_E_ALREADY_TAKEN && s != LUMINAL_E_CANCELLED)
      FZ_FAIL("join after the output was taken returned %d", s);
    if (s == LUMINAL_E_CANCELLED || s == LUMINAL_E_ALREADY_TAKEN) {
      if (luminal_task_is_finished(k->h) != 1) FZ_FAIL("is_finished != 1 after join returned %d", s);
    }
    break;
  }
  case 3: { /* poll outside a poll: there is no context */
    int s = chk(F_TASK_POLL, luminal_task_poll(k->h, NULL, &o), "NULL cx");
    expect(F_TASK_POLL, s, LUMINAL_E_INVALID_ARGUMENT, "NULL cx");
    if (g_forged_ctx || chance(r, 2)) {
      luminal_context *bc = bad_ctx(r, NULL);
      s = chk(F_TASK_POLL, luminal_task_poll(k->h, bc, &o), "stale/forged cx, thread");
      if (s != LUMINAL_E_INVALID_HANDLE && s != LUMINAL_E_INVALID_ARGUMENT)
        FZ_FAIL("luminal_task_poll(task, stale/forged cx %p) returned %d", (void *)bc, s);
    }
    break;
  }
  case 4: luminal_task_abort(k->h); if (chance(r, 2)) luminal_task_abort(k->h); break;
  case 5: (void)luminal_task_is_finished(k->h); break;
  case 6: { /* release, then use the stale handle and release it again */
    luminal_task *h = k->h;
    k->h = NULL;
    luminal_task_release(h);
    grave_put(&g_dead_tasks, h);
    expect(F_TASK_JOIN, luminal_task_join(h, 0, &o), LUMINAL_E_INVALID_HANDLE, "released task");
    if (luminal_task_is_finished(h) != 0) FZ_FAIL("luminal_task_is_finished(released) != 0");
    luminal_task_release(h);
    luminal_task_abort(h);
    break;
  }
  default: { /* abort, then wait for it */
    luminal_task_abort(k->h);
    scope_op_begin(k->scope);
    int s = chk(F_TASK_JOIN, luminal_task_join(k->h, 20000000, &o), "after abort");
    if (s == LUMINAL_OK) {
      if (k->taken) FZ_FAIL("join OK twice");
      take_output(k->okind, o, k->arg, "join after abort");
      k->taken = 1;
    }
    scope_op_end(k->scope);
    break;
  }
  }
}

static void op_runtime(fz_thread *t) {
  uint64_t *r = &t->rng;
  int i = (int)rn(r, NRT);
  switch (rn(r, 8)) {
  case 0:
  case 1: { /* clone a slot's runtime into our table */
    if (t->rts[i].h) break;
    rt_life *l = atomic_load(&g_slots[rn(r, NSLOTS)].life);
    luminal_runtime *b = life_rt(l);
    luminal_runtime *c = luminal_runtime_clone(b);
    if (c) {
      t->rts[i].h = c;
      t->rts[i].life = l;
      if (luminal_runtime_worker_count(c) == 0) FZ_FAIL("worker_count of a clone == 0");
      int ws;
      uint32_t workers;
      uint32_t index = (uint32_t)rn(r, 4);
      int s = fz_metrics(c, index, &ws, &workers);
      expect(F_METRICS, s, LUMINAL_OK, "a clone");
      if (workers != luminal_runtime_worker_count(c)) FZ_FAIL("metrics.workers %u != worker_count", workers);
      expect(F_WORKER_METRICS, ws, index < workers ? LUMINAL_OK : LUMINAL_E_INVALID_ARGUMENT, "a clone");
    }
    break;
  }
  case 2: { /* release a clone; a double release and uses of it must be ignored / refused */
    luminal_runtime *h = t->rts[i].h;
    if (!h) break;
    t->rts[i].h = NULL;
    luminal_runtime_release(h);
    grave_put(&g_dead_rts, h);
    if (luminal_runtime_clone(h)) FZ_FAIL("luminal_runtime_clone(released) not NULL");
    if (luminal_runtime_worker_count(h) != 0) FZ_FAIL("worker_count(released) != 0");
    if (luminal_runtime_io_backend(h) != 0) FZ_FAIL("io_backend(released) != 0");
    expect(F_RUNTIME_SHUTDOWN, luminal_runtime_shutdown(h, 0), LUMINAL_E_INVALID_HANDLE, "released runtime");
    int ws;
    uint32_t workers;
    expect(F_METRICS, fz_metrics(h, 0, &ws, &workers), LUMINAL_E_INVALID_HANDLE, "released runtime");
    expect(F_WORKER_METRICS, ws, LUMINAL_E_INVALID_HANDLE, "released runtime");
    luminal_runtime_release(h);
    break;
  }
  case 3: { /* bad handles */
    luminal_runtime *b = chance(r, 3) ? NULL : chance(r, 2) ? (luminal_runtime *)grave_get(&g_dead_rts, r)
                                                              : (luminal_runtime *)forged(r, chance(r, 2) ? 3 : rn(r, 16));
    if (luminal_runtime_clone(b)) FZ_FAIL("luminal_runtime_clone(bad %p) not NULL", (void *)b);
    if (luminal_runtime_worker_count(b) || luminal_runtime_io_backend(b)) FZ_FAIL("worker_count/io_backend(bad) != 0");
    expect(F_RUNTIME_SHUTDOWN, luminal_runtime_shutdown(b, 0), b ? LUMINAL_E_INVALID_HANDLE : LUMINAL_E_INVALID_ARGUMENT, "bad rt");
    int ws;
    uint32_t workers;
    expect(F_METRICS, fz_metrics(b, 0, &ws, &workers), b ? LUMINAL_E_INVALID_HANDLE : LUMINAL_E_INVALID_ARGUMENT, "bad rt");
    expect(F_WORKER_METRICS, ws, b ? LUMINAL_E_INVALID_HANDLE : LUMINAL_E_INVALID_ARGUMENT, "bad rt");
    int bad_st = b ? LUMINAL_E_INVALID_HANDLE : LUMINAL_E_INVALID_ARGUMENT;
    uint32_t polled = 7;
    int fd = 7;
    uint64_t dl = 7;
    expect(F_RUNTIME_RUN, luminal_runtime_run(b, rn(r, 4), rn(r, 4), &polled), bad_st, "bad rt");
    expect(F_WAKEUP_FD, luminal_runtime_wakeup_fd(b, &fd), bad_st, "bad rt");
    expect(F_NEXT_DEADLINE, luminal_runtime_next_deadline_ns(b, &dl), bad_st, "bad rt");
    expect(F_ADVANCE, luminal_runtime_advance(b, rn(r, 1000)), bad_st, "bad rt");
    if (polled != 0 || fd != -1 || dl != UINT64_MAX || luminal_runtime_now_ns(b) != 0)
      FZ_FAIL("a refused run / wakeup_fd / next_deadline wrote %u / %d / %" PRIu64 ", or now_ns(bad) != 0", polled, fd, dl);
    luminal_runtime_release(b);
    break;
  }
  case 4: { /* stale borrowed handles (from contexts): valid while the runtime lives, refused after */
    luminal_runtime *b = (luminal_runtime *)grave_get(&g_borrowed_rts, r);
    if (!b) break;
    uint32_t n = luminal_runtime_worker_count(b);
    uint32_t be = luminal_runtime_io_backend(b);
    /* The runtime may be released between the two calls (then both answer 0 from then on); a stale handle never
     * comes back to life. */
    if (n == 0 && be != 0) FZ_FAIL("worker_count 0 but io_backend %u for one handle", be);
    if (n != 0 && be == 0 && luminal_runtime_worker_count(b) != 0) FZ_FAIL("worker_count %u but io_backend 0", n);
    fz_fut *f = fut_new(r, K_READY, 0);
    int s = chk(F_SPAWN, luminal_spawn(b, fut_wrap(f), NULL), "borrowed handle, thread");
    fut_handed(f, s == LUMINAL_OK, "luminal_spawn (borrowed)");
    break;
  }
  case 5: { /* new runtimes with random options: bad ones refused; good ones shut down or just released */
    if (!chance(r, 4)) break;
    struct {
      luminal_runtime_options o;
      uint64_t pad[4];
    } ob;
    memset(&ob, 0, sizeof ob);
    ob.o.struct_size = rn(r, 4) == 0 ? rn(r, 8) : rn(r, 3) == 0 ? offsetof(luminal_runtime_options, max_blocking_threads)
                                                                : sizeof ob.o + 8 * rn(r, 3);
    uint32_t p = rn(r, 8);
    ob.o.worker_threads = p == 0 ? 2000 : 1 + rn(r, 2);
    ob.o.max_blocking_threads = p == 1 ? 70000 : rn(r, 4);
    ob.o.io_backend = p == 2 ? 3 + rn(r, 5) : rn(r, 3);
    ob.o.thread_name = chance(r, 2) ? "x" : NULL;
    int null_opts = chance(r, 8);
    int bad = !null_opts && ob.o.struct_size < sizeof(size_t);
    if (!null_opts && ob.o.struct_size >= sizeof ob.o && p <= 2) bad = 1;
    luminal_runtime *rt = NULL;
    int s = chk(F_RUNTIME_NEW, luminal_runtime_new(null_opts ? NULL : &ob.o, chance(r, 20) ? NULL : &rt), "random options");
    if (s == LUMINAL_OK && bad) FZ_FAIL("luminal_runtime_new accepted bad options (size %zu workers %u blocking %u backend %u)",
                                        ob.o.struct_size, ob.o.worker_threads, ob.o.max_blocking_threads, ob.o.io_backend);
    if (s == LUMINAL_E_UNSUPPORTED && ob.o.io_backend != LUMINAL_IO_URING) FZ_FAIL("runtime_new UNSUPPORTED without io_uring demanded");
    if (s == LUMINAL_OK) {
      if (!rt) FZ_FAIL("runtime_new OK without a handle");
      fz_fut *f = fut_new(r, pick_kind(r, 0, 1), 1);
      s = chk(F_SPAWN, luminal_spawn(rt, fut_wrap(f), NULL), "temp runtime");
      fut_handed(f, s == LUMINAL_OK, "luminal_spawn (temp runtime)");
      if (chance(r, 2)) expect(F_RUNTIME_SHUTDOWN, luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK, "temp runtime");
      luminal_runtime_release(rt);
      grave_put(&g_dead_rts, rt);
    } else if (rt) {
      FZ_FAIL("failed runtime_new wrote a handle");
    }
    break;
  }
  case 6: /* cycle a slot: shutdown + release + new */
    if (chance(r, 6)) slot_cycle(r, (int)rn(r, NSLOTS), 0);
    break;
  default: { /* misc never-failing calls */
    if (luminal_abi_version() != LUMINAL_ABI_VERSION) FZ_FAIL("abi version");
    if (!luminal_version()) FZ_FAIL("luminal_version NULL");
    int v = (int)rn(r, 40) - 20;
    if (chance(r, 4)) v = (int)rnd(r);
    if (!luminal_status_str((luminal_status)v)) FZ_FAIL("luminal_status_str(%d) NULL", v);
    uint64_t n = luminal_now_ns();
    if (n < t->last_now) FZ_FAIL("luminal_now_ns went backwards");
    t->last_now = n;
    break;
  }
  }
}

static void op_block_on(fz_thread *t) {
  uint64_t *r = &t->rng;
  rt_life *life;
  int kind;
  luminal_runtime *rt = pick_rt(t, &life, &kind);
  made_fut m = make_fut(r, kind == 0 ? rt : NULL, 1, 0, NULL, NULL);
  if (m.mine) m.mine->on_block_on = 1;
  void *o = NULL;
  int discard = chance(r, 4);
  int s = chk(F_BLOCK_ON, luminal_block_on(rt, m.fut, discard ? NULL : &o), "thread");
  check_bad_rt_status(F_BLOCK_ON, s, kind, "luminal_block_on");
  if (s == LUMINAL_E_WOULD_DEADLOCK) FZ_FAIL("luminal_block_on gave WOULD_DEADLOCK on a plain thread");
  if (s == LUMINAL_OK && !discard) take_output(m.okind, o, NULL, "luminal_block_on");
  if (m.mine) {
    atomic_store(&m.mine->accepted, 1);
    fut_gone(m.mine, "luminal_block_on");
  }
}

static void op_waker(fz_thread *t) {
  uint64_t *r = &t->rng;
  switch (rn(r, 4)) {
  case 0:
  case 1: { /* a deposited waker: wake it one way or another */
    luminal_waker *w = xch_take(r, 0);
    if (!w) break;
    luminal_waker *c = luminal_waker_clone(w);
    if (!c) { /* its task finished and its slot was recycled: a stale waker, which the header says clones to NULL */
      if (luminal_waker_will_wake(w, w) != 0) FZ_FAIL("will_wake(stale w, stale w) != 0");
      luminal_waker_wake(w); /* ignored */
      break;
    }
    /* 0 only if the task finished and its slot was recycled since the clone: then the waker is stale for good */
    if (luminal_waker_will_wake(w, c) != 1 && luminal_waker_clone(w) != NULL)
      FZ_FAIL("will_wake(w, clone(w)) != 1 while w is still live");
    grave_put(&g_old_wakers, w);
    switch (rn(r, 4)) {
    case 0: luminal_waker_wake(w); luminal_waker_release(c); break;
    case 1: luminal_waker_wake_by_ref(w); luminal_waker_wake_by_ref(c); luminal_waker_release(w); luminal_waker_release(c); break;
    case 2: luminal_waker_wake(c); luminal_waker_wake(w); break;
    default: if (!xch_put(c, now_ns())) luminal_waker_wake(c); luminal_waker_wake(w); break;
    }
    break;
  }
  case 2: { /* old wakers (their tasks may be finished, released, reused): wake/release do nothing harmful */
    luminal_waker *w = (luminal_waker *)grave_get(&g_old_wakers, r);
    if (!w) break;
    luminal_waker_wake_by_ref(w);
    luminal_waker *c = luminal_waker_clone(w);
    luminal_waker_release(c);
    (void)luminal_waker_will_wake(w, w);
    break;
  }
  default: { /* NULL and garbage wakers */
    if (luminal_waker_clone(NULL) != NULL) FZ_FAIL("luminal_waker_clone(NULL) not NULL");
    if (luminal_waker_will_wake(NULL, NULL) != 0) FZ_FAIL("will_wake(NULL, NULL) != 0");
    luminal_waker_wake(NULL);
    luminal_waker_wake_by_ref(NULL);
    luminal_waker_release(NULL);
    luminal_waker *g = (luminal_waker *)forged(r, 0x9);
    if (((uintptr_t)g & 0xF) != 0x9) g = (luminal_waker *)(((uintptr_t)g & ~(uintptr_t)0xF) | 0x9);
    luminal_waker_wake_by_ref(g);
    luminal_waker_wake(g);
    luminal_waker_release(g);
    if (g_forged_ctx) {
      luminal_waker *c = luminal_waker_clone(g);
      if (c) FZ_FAIL("luminal_waker_clone(garbage waker %p) returned %p, not NULL", (void *)g, (void *)c);
      if (luminal_waker_will_wake(g, g)) FZ_FAIL("luminal_waker_will_wake(garbage %p, itself) == 1", (void *)g);
    }
    break;
  }
  }
}

static void op_scope(fz_thread *t) {
  uint64_t *r = &t->rng;
  int i = (int)rn(r, NSCOPE);
  fz_scope *sc = t->scopes[i].rec;
  switch (rn(r, 6)) {
  case 0: { /* new */
    if (sc) break;
    rt_life *life;
    int kind;
    luminal_runtime *rt = pick_rt(t, &life, &kind);
    luminal_scope *h = NULL;
    int null_out = chance(r, 30);
    int s = chk(F_SCOPE_NEW, luminal_scope_new(rt, null_out ? NULL : &h), "thread");
    if (!null_out) check_bad_rt_status(F_SCOPE_NEW, s, kind, "luminal_scope_new");
    else expect(F_SCOPE_NEW, s, LUMINAL_E_INVALID_ARGUMENT, "NULL out");
    if (s != LUMINAL_OK) {
      if (h) FZ_FAIL("failed scope_new wrote a handle");
      break;
    }
    if (!h) FZ_FAIL("scope_new OK without handle");
    fz_scope *rec = calloc(1, sizeof *rec);
    if (!rec) abort();
    atomic_store(&rec->h, (uintptr_t)h);
    rec->life = life;
    pthread_mutex_lock(&g_scopes_mu);
    rec->next = g_scopes;
    g_scopes = rec;
    pthread_mutex_unlock(&g_scopes_mu);
    t->scopes[i].rec = rec;
    atomic_store(&g_scope_reg[rn(r, SCOPE_REG)], rec);
    break;
  }
  case 1: { /* close, and check the unload guarantee */
    if (!sc) break;
    luminal_scope *h = (luminal_scope *)atomic_load(&sc->h);
    uint64_t to = rn(r, 3) == 0 ? 0 : rn(r, 2) ? UINT64_MAX : 2000000;
    int s = chk(F_SCOPE_CLOSE, luminal_scope_close(h, to), "thread");
    if (s == LUMINAL_E_WOULD_DEADLOCK) FZ_FAIL("luminal_scope_close gave WOULD_DEADLOCK on a plain thread");
    if (to == UINT64_MAX && s != LUMINAL_OK) FZ_FAIL("luminal_scope_close(forever) returned %d", s);
    if (s == LUMINAL_OK) {
      atomic_store(&sc->closed_ok, 1);
      luminal_scope_counters c;
      memset(&c, 0, sizeof c);
      c.struct_size = sizeof c;
      expect(F_SCOPE_STATS, luminal_scope_stats(h, &c), LUMINAL_OK, "after close");
      if (c.live != 0) FZ_FAIL("luminal_scope_close returned OK but stats.live = %" PRIu64, c.live);
      if (c.completed + c.cancelled > c.spawned) FZ_FAIL("scope stats: completed + cancelled > spawned");
      long s1 = atomic_load(&sc->ops_started), f1 = atomic_load(&sc->ops_finished);
      long live = atomic_load(&sc->live);
      long s2 = atomic_load(&sc->ops_started);
      if (s1 == f1 && s1 == s2 && live != 0)
        FZ_FAIL("luminal_scope_close returned OK but %ld of the scope's futures/outputs are alive", live);
      /* spawning into it now fails */
      fz_fut *f = fut_new(r, K_READY, 0);
      f->scope = sc;
      atomic_fetch_add(&sc->live, 1);
      opts_buf ob;
      memset(&ob, 0, sizeof ob);
      ob.o.struct_size = sizeof ob.o;
      ob.o.scope = h;
      rt_life *l = sc->life;
      luminal_runtime *rt = l ? life_rt(l) : NULL;
      if (rt) {
        s = chk(F_SPAWN_WITH, luminal_spawn_with(rt, fut_wrap(f), &ob.o, NULL), "closed scope");
        if (s == LUMINAL_OK) FZ_FAIL("luminal_spawn_with into a closed scope returned OK");
        fut_handed(f, 0, "spawn into a closed scope");
      } else {
        fz_drop(f);
        fut_unpin(f);
      }
    }
    break;
  }
  case 2: { /* stats */
    luminal_scope *h = sc ? (luminal_scope *)atomic_load(&sc->h) : NULL;
    struct {
      luminal_scope_counters c;
      uint64_t pad[2];
    } cb;
    memset(&cb, 0xAB, sizeof cb);
    cb.c.struct_size = rn(r, 3) == 0 ? rn(r, sizeof cb) : sizeof cb.c;
    int s = chk(F_SCOPE_STATS, luminal_scope_stats(h, chance(r, 20) ? NULL : &cb.c), "thread");
    if (s == LUMINAL_OK && cb.c.struct_size >= sizeof cb.c) {
      if (cb.c.live > cb.c.spawned || cb.c.completed + cb.c.cancelled > cb.c.spawned)
        FZ_FAIL("scope stats inconsistent: live %" PRIu64 " spawned %" PRIu64 " completed %" PRIu64 " cancelled %" PRIu64,
                cb.c.live, cb.c.spawned, cb.c.completed, cb.c.cancelled);
    }
    if (s == LUMINAL_OK && cb.c.struct_size < sizeof(size_t)) FZ_FAIL("scope_stats accepted struct_size %zu", cb.c.struct_size);
    if (s == LUMINAL_OK && cb.pad[0] != 0xABABABABABABABABull) FZ_FAIL("scope_stats wrote past the struct");
    break;
  }
  case 3: { /* release; stale uses */
    if (!sc) break;
    luminal_scope *h = (luminal_scope *)atomic_load(&sc->h);
    atomic_store(&sc->h, 0);
    t->scopes[i].rec = NULL;
    luminal_scope_release(h);
    grave_put(&g_dead_scopes, h);
    expect(F_SCOPE_CLOSE, luminal_scope_close(h, 0), LUMINAL_E_INVALID_HANDLE, "released scope");
    luminal_scope_counters c;
    c.struct_size = sizeof c;
    expect(F_SCOPE_STATS, luminal_scope_stats(h, &c), LUMINAL_E_INVALID_HANDLE, "released scope");
    luminal_scope_release(h);
    break;
  }
  default: { /* bad scope handles */
    luminal_scope *b = chance(r, 3) ? NULL : chance(r, 2) ? (luminal_scope *)grave_get(&g_dead_scopes, r)
                                                            : (luminal_scope *)forged(r, chance(r, 2) ? 0xD : rn(r, 16));
    int want = b ? LUMINAL_E_INVALID_HANDLE : LUMINAL_E_INVALID_ARGUMENT;
    expect(F_SCOPE_CLOSE, luminal_scope_close(b, rn(r, 2) ? 0 : 1000000), want, "bad scope");
    luminal_scope_counters c;
    c.struct_size = sizeof c;
    expect(F_SCOPE_STATS, luminal_scope_stats(b, &c), want, "bad scope");
    luminal_scope_release(b);
    break;
  }
  }
}

/* Library futures and IO calls from a plain thread: bad arguments, polls outside a poll, double drops. */
static void op_libfut(fz_thread *t) {
  uint64_t *r = &t->rng;
  rt_life *life;
  int kind;
  luminal_runtime *rt = pick_rt(t, &life, &kind);
  luminal_future f;
  luminal_io_result res;
  char buf[16];
  int s;
  switch (rn(r, 12)) {
  case 0:
    {
      int null_out = chance(r, 20);
      s = chk(F_SLEEP, luminal_sleep(rt, rn(r, 1000000), null_out ? NULL : &f), "thread");
      if (kind && !null_out) check_bad_rt_status(F_SLEEP, s, kind, "luminal_sleep");
      if (null_out) expect(F_SLEEP, s, LUMINAL_E_INVALID_ARGUMENT, "NULL out");
    }
    if (s == LUMINAL_OK) {
      void *o = (void *)1;
      /* Polled outside a poll (NULL context): the header only allows your own context; it must not crash. */
      if (chance(r, 2)) (void)f.poll(f.state, NULL, &o);
      f.drop(f.state);
      if (chance(r, 2)) f.drop(f.state);
    }
    break;
  case 1: { /* timeout around ours; dropped unpolled: the inner is dropped exactly once */
    fz_fut *in = fut_new(r, K_READY, 0);
    s = chk(F_TIMEOUT, luminal_timeout(rt, fut_wrap(in), rn(r, 1000000), &f), "thread");
    if (kind) check_bad_rt_status(F_TIMEOUT, s, kind, "luminal_timeout");
    if (s == LUMINAL_OK) {
      f.drop(f.state);
      fut_gone(in, "dropping a timeout future (inner)");
      f.drop(f.state);
    } else {
      fut_handed(in, 0, "luminal_timeout");
    }
    break;
  }
  case 2: { /* forged future states given to the library's own poll/drop functions */
    s = luminal_sleep(rt, 0, &f);
    if (s != LUMINAL_OK) break;
    void *state = f.state;
    void *o = (void *)1;
    void *bad = (void *)forged(r, chance(r, 2) ? 0xB : 0x7);
    (void)f.poll(bad, NULL, &o); /* must not crash */
    f.drop(bad);
    f.drop(state);
    break;
  }
  case 3: { /* an IO future dropped without a poll, or polled outside a poll */
    int32_t fds[2];
    if (chk(F_PIPE, luminal_pipe(chance(r, 20) ? NULL : fds, NULL), "thread") != LUMINAL_OK) break;
    int null_out = chance(r, 20);
    s = chk(F_STREAM_WRITE, luminal_stream_write(rt, fds[1], "x", 1, &res, null_out ? NULL : &f), "thread");
    if (kind && !null_out) check_bad_rt_status(F_STREAM_WRITE, s, kind, "luminal_stream_write");
    if (null_out) expect(F_STREAM_WRITE, s, LUMINAL_E_INVALID_ARGUMENT, "NULL out");
    if (s == LUMINAL_OK) {
      if (chance(r, 2)) {
        void *o = NULL;
        luminal_poll p = f.poll(f.state, NULL, &o);
        if (p == LUMINAL_POLL_READY) chk(F_IO_RESULT, res.status, "IO future polled with a NULL context");
      }
      f.drop(f.state);
      f.drop(f.state);
    }
    close(fds[0]);
    close(fds[1]);
    break;
  }
  case 4: /* bad arguments to IO creation */
    s = chk(F_FILE_READ_AT, luminal_file_read_at(rt, 0, NULL, 8, 0, &res, &f), "NULL buf");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_file_read_at(NULL buf, len 8) returned OK");
    s = chk(F_FILE_OPEN, luminal_file_open(rt, NULL, 0, 0, &res, &f), "NULL path");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_file_open(NULL path) returned OK");
    s = chk(F_TCP_CONNECT, luminal_tcp_connect(rt, "not-an-ip", 1, &res, &f), "bad ip");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_tcp_connect(\"not-an-ip\") returned OK");
    s = chk(F_FILE_MAP, luminal_file_map(rt, g_tmp_path, NULL, &res, &f), "NULL view");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_file_map(NULL view) returned OK");
    s = chk(F_FILE_READ_ALL, luminal_file_read_all(rt, g_tmp_path, NULL, &res, &f), "NULL buffer");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_file_read_all(NULL buffer) returned OK");
    s = chk(F_FILE_STAT, luminal_file_stat(rt, 0, NULL, &res, &f), "NULL info");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_file_stat(NULL info) returned OK");
    s = chk(F_FILE_FSYNC, luminal_file_fsync(rt, 0, NULL, &f), "NULL result");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_file_fsync(NULL result) returned OK");
    s = chk(F_STREAM_READ, luminal_stream_read(rt, 0, buf, sizeof buf, &res, NULL), "NULL out");
    if (s == LUMINAL_OK) FZ_FAIL("luminal_stream_read(NULL out) returned OK");
    s = chk(F_FILE_WRITE_AT, luminal_file_write_at(rt, 0, buf, 1, UINT64_MAX, &res, &f), "huge offset");
    if (s == LUMINAL_OK) { f.drop(f.state); }
    s = chk(F_TCP_ACCEPT, luminal_tcp_accept(rt, -1, &res, &f), "fd -1");
    if (kind) check_bad_rt_status(F_TCP_ACCEPT, s, kind, "luminal_tcp_accept");
    if (s == LUMINAL_OK) f.drop(f.state);
    break;
  case 5: { /* plain calls with bad arguments */
    int32_t fd = -1;
    luminal_io_result err;
    uint16_t port = 0;
    s = chk(F_TCP_LISTEN, luminal_tcp_listen(chance(r, 2) ? NULL : "300.1.1.1", 0, 1, &fd, &port, &err), "bad ip");
    if (s != LUMINAL_E_INVALID_ARGUMENT) FZ_FAIL("tcp_listen with a bad ip returned %d", s);
    s = chk(F_TCP_LISTEN, luminal_tcp_listen("127.0.0.1", 0, 1, NULL, NULL, NULL), "NULL fd");
    if (s == LUMINAL_OK) FZ_FAIL("tcp_listen(fd NULL) returned OK");
    s = chk(F_STREAM_SHUTDOWN, luminal_stream_shutdown(-1, (int32_t)rn(r, 5), chance(r, 2) ? NULL : &err), "fd -1");
    if (s == LUMINAL_OK) FZ_FAIL("stream_shutdown(-1) returned OK");
    expect(F_PIPE, luminal_pipe(NULL, &err), LUMINAL_E_INVALID_ARGUMENT, "NULL fds");
    luminal_view_release(NULL);
    luminal_buffer_release(NULL);
    luminal_view v = {0};
    luminal_view_release(&v);
    luminal_buffer b = {0};
    luminal_buffer_release(&b);
    break;
  }
  case 6: { /* a temp-file round trip through block_on (stack buffers: block_on drops the future before returning) */
    if (kind) break;
    s = chk(F_FILE_OPEN, luminal_file_open(rt, g_tmp_path, O_RDONLY, 0, &res, &f), "thread");
    if (s != LUMINAL_OK) break;
    void *o = NULL;
    s = chk(F_BLOCK_ON, luminal_block_on(rt, f, &o), "file open");
    if (s == LUMINAL_OK) {
      if (o != &res) FZ_FAIL("an IO future's output is not its result pointer");
      chk(F_IO_RESULT, res.status, "open via block_on");
      if (res.status == LUMINAL_OK) {
        int fd = (int)res.value;
        s = chk(F_FILE_READ_AT, luminal_file_read_at(rt, fd, buf, sizeof buf, 0, &res, &f), "thread");
        if (s == LUMINAL_OK && chk(F_BLOCK_ON, luminal_block_on(rt, f, NULL), "read_at") == LUMINAL_OK)
          chk(F_IO_RESULT, res.status, "read_at via block_on");
        close(fd);
      }
    }
    break;
  }
  case 9: { /* the IO breadth futures with a bad argument each (or a bad runtime): refused, nothing made */
    luminal_socket_addr a;
    luminal_addr_list al;
    luminal_file_info fi;
    luminal_dir_list dl;
    luminal_process pr = {-1, -1, -1, -1, -1, 0};
    memset(&a, 0, sizeof a);
    const char *p = g_tmp_path;
#define FZ_BAD(fn, call, what)                                                                                      \
  do {                                                                                                             \
    s = chk(fn, call, what);                                                                                       \
    if (s == LUMINAL_OK) FZ_FAIL(#fn " with a bad argument returned OK [%s]", what);                               \
  } while (0)
    FZ_BAD(F_RESOLVE, luminal_resolve(rt, NULL, 80, &al, &res, &f), "NULL host");
    FZ_BAD(F_RESOLVE, luminal_resolve(rt, "localhost", 80, NULL, &res, &f), "NULL list");
    FZ_BAD(F_TCP_CONNECT_HOST, luminal_tcp_connect_host(rt, chance(r, 2) ? NULL : "", 1, &res, &f), "no host");
    FZ_BAD(F_TCP_CONNECT_ADDR, luminal_tcp_connect_addr(rt, chance(r, 2) ? NULL : &a, &res, &f), "bad addr");
    FZ_BAD(F_UNIX_CONNECT, luminal_unix_connect(rt, chance(r, 2) ? NULL : &a, &res, &f), "bad addr");
    FZ_BAD(F_FD_READY, luminal_fd_ready(rt, 0, 1, &res, NULL), "NULL out");
    FZ_BAD(F_UDP_SEND_TO, luminal_udp_send_to(rt, 0, NULL, 8, NULL, &res, &f), "NULL buf");
    FZ_BAD(F_UDP_RECV_FROM, luminal_udp_recv_from(rt, 0, NULL, 8, NULL, &res, &f), "NULL buf");
    FZ_BAD(F_FS_STAT, luminal_fs_stat(rt, chance(r, 2) ? NULL : p, NULL, &res, &f), "NULL");
    FZ_BAD(F_FS_RENAME, luminal_fs_rename(rt, p, NULL, &res, &f), "NULL to");
    FZ_BAD(F_FS_UNLINK, luminal_fs_unlink(rt, NULL, &res, &f), "NULL path");
    FZ_BAD(F_FS_MKDIR, luminal_fs_mkdir(rt, NULL, 0700, &res, &f), "NULL path");
    FZ_BAD(F_FS_REMOVE_DIR, luminal_fs_remove_dir(rt, NULL, &res, &f), "NULL path");
    FZ_BAD(F_FS_READ_DIR, luminal_fs_read_dir(rt, p, chance(r, 2) ? NULL : &dl, NULL, &f), "NULL");
    FZ_BAD(F_PROCESS_WAIT, luminal_process_wait(rt, chance(r, 2) ? NULL : &pr, &res, &f), "bad process");
    if (kind) { /* a bad runtime wins over nothing else wrong */
      memset(&fi, 0, sizeof fi);
      s = chk(F_FS_STAT, luminal_fs_stat(rt, p, &fi, &res, &f), "bad rt");
      check_bad_rt_status(F_FS_STAT, s, kind, "luminal_fs_stat");
      if (s == LUMINAL_OK) f.drop(f.state);
    }
    break;
  }
  case 10: { /* the plain IO breadth calls with bad arguments */
    luminal_socket_addr a;
    luminal_io_result err;
    int32_t fd = -1;
    int64_t v = 0;
    luminal_process pr = {-1, -1, -1, -1, -1, 0};
    luminal_process_options po;
    memset(&po, 0, sizeof po);
    po.struct_size = sizeof po;
    expect(F_SOCKET_ADDR_PARSE, luminal_socket_addr_parse(chance(r, 2) ? NULL : "not-an-ip", 1, &a),
           LUMINAL_E_INVALID_ARGUMENT, "bad ip");
    expect(F_SOCKET_ADDR_PARSE, luminal_socket_addr_parse("127.0.0.1", 1, NULL), LUMINAL_E_INVALID_ARGUMENT, "NULL");
    expect(F_SOCKET_ADDR_PARSE, luminal_socket_addr_parse("127.0.0.1", 0, &a), LUMINAL_OK, "ok");
    expect(F_SOCKET_ADDR_UNIX, luminal_socket_addr_unix("a\0b", 3, &a), LUMINAL_E_INVALID_ARGUMENT, "NUL inside");
    expect(F_SOCKET_ADDR_UNIX, luminal_socket_addr_unix(NULL, 3, &a), LUMINAL_E_INVALID_ARGUMENT, "NULL");
    FZ_BAD(F_TCP_LISTEN_ADDR, luminal_tcp_listen_addr(chance(r, 2) ? NULL : &a, 1, 0, NULL, NULL, &err), "NULL fd");
    FZ_BAD(F_UNIX_LISTEN, luminal_unix_listen(NULL, 1, &fd, &err), "NULL addr");
    FZ_BAD(F_UDP_BIND, luminal_udp_bind(NULL, 0, &fd, NULL, &err), "NULL addr");
    FZ_BAD(F_UDP_CONNECT, luminal_udp_connect(-1, chance(r, 2) ? NULL : &a, &err), "bad");
    FZ_BAD(F_SOCKET_LOCAL_ADDR, luminal_socket_local_addr(-1, chance(r, 2) ? NULL : &a, &err), "bad");
    FZ_BAD(F_SOCKET_PEER_ADDR, luminal_socket_peer_addr(-1, chance(r, 2) ? NULL : &a, &err), "bad");
    FZ_BAD(F_SOCKET_SET_OPTION, luminal_socket_set_option(-1, (luminal_socket_option)rn(r, 1000), 1, &err), "bad");
    FZ_BAD(F_SOCKET_GET_OPTION, luminal_socket_get_option(-1, (luminal_socket_option)rn(r, 1000), chance(r, 2) ? NULL : &v, &err), "bad");
    FZ_BAD(F_PROCESS_SPAWN, luminal_process_spawn(chance(r, 2) ? NULL : &po, &pr, &err), "no path");
    FZ_BAD(F_PROCESS_KILL, luminal_process_kill(chance(r, 2) ? NULL : &pr, 0, &err), "no pid");
#undef FZ_BAD
    luminal_process_release(NULL);
    luminal_process_release(&pr);
    luminal_addr_list_release(NULL);
    luminal_dir_list_release(NULL);
    break;
  }
  case 11: { /* signals: bad arguments and handles, a listener's recv dropped unpolled (SIGUSR2 is never sent) */
    luminal_signal *sg = NULL;
    luminal_status st;
    s = chk(F_SIGNAL_LISTEN, luminal_signal_listen(rt, chance(r, 2) ? SIGKILL : 0, &sg), "bad signo");
    if (s == LUMINAL_OK) FZ_FAIL("signal_listen(bad signo) returned OK");
    void *bad = chance(r, 2) ? NULL : (void *)forged(r, chance(r, 2) ? 0x1 : rn(r, 16));
    expect(F_SIGNAL_RECV, luminal_signal_recv((luminal_signal *)bad, &st, &f),
           bad ? LUMINAL_E_INVALID_HANDLE : LUMINAL_E_INVALID_ARGUMENT, "bad listener");
    luminal_signal_release((luminal_signal *)bad);
    s = chk(F_SIGNAL_LISTEN, luminal_signal_listen(rt, SIGUSR2, &sg), "thread");
    if (kind) check_bad_rt_status(F_SIGNAL_LISTEN, s, kind, "luminal_signal_listen");
    if (s != LUMINAL_OK) break;
    s = chk(F_SIGNAL_RECV, luminal_signal_recv(sg, &st, &f), "thread");
    if (chance(r, 2)) luminal_signal_release(sg);
    if (s == LUMINAL_OK) {
      f.drop(f.state);
      f.drop(f.state);
    }
    luminal_signal_release(sg);
    expect(F_SIGNAL_RECV, luminal_signal_recv(sg, &st, &f), LUMINAL_E_INVALID_HANDLE, "released listener");
    luminal_signal_release(sg);
    break;
  }
  case 7: { /* IO on a runtime that is (maybe) shut down */
    s = chk(F_FILE_CLOSE, luminal_file_close(rt, -1, &res, &f), "thread");
    if (kind) check_bad_rt_status(F_FILE_CLOSE, s, kind, "luminal_file_close");
    if (s == LUMINAL_OK) f.drop(f.state);
    break;
  }
  default: { /* NULL out for sleep/timeout */
    s = chk(F_SLEEP_UNTIL, luminal_sleep_until(rt, 0, NULL), "NULL out");
    if (s != LUMINAL_E_INVALID_ARGUMENT) FZ_FAIL("luminal_sleep_until(out NULL) returned %d", s);
    fz_fut *in = fut_new(r, K_READY, 0);
    s = chk(F_TIMEOUT, luminal_timeout(rt, fut_wrap(in), 0, NULL), "NULL out");
    if (s != LUMINAL_E_INVALID_ARGUMENT) FZ_FAIL("luminal_timeout(out NULL) returned %d", s);
    fut_handed(in, 0, "luminal_timeout(out NULL)");
    break;
  }
  }
}

/* The context ops from a plain thread: stale contexts saved by earlier polls. */
static void op_ctx(fz_thread *t) {
  uint64_t *r = &t->rng;
  if (luminal_context_runtime(NULL) || luminal_context_waker(NULL)) FZ_FAIL("context_runtime/waker(NULL) not NULL");
  expect(F_CONTEXT_YIELD, luminal_context_yield(NULL), LUMINAL_E_INVALID_ARGUMENT, "NULL cx");
  fz_fut *c = fut_new(r, K_READY, 0);
  expect(F_CONTEXT_SPAWN, luminal_context_spawn(NULL, fut_wrap(c), NULL), LUMINAL_E_INVALID_ARGUMENT, "NULL cx");
  fut_handed(c, 0, "context_spawn(NULL)");
  luminal_context *bc = bad_ctx(r, NULL);
  if (luminal_context_runtime(bc)) FZ_FAIL("luminal_context_runtime(stale/forged %p) not NULL", (void *)bc);
  if (luminal_context_waker(bc)) FZ_FAIL("luminal_context_waker(stale/forged %p) not NULL", (void *)bc);
  int s = chk(F_CONTEXT_YIELD, luminal_context_yield(bc), "stale/forged cx, thread");
  if (s == LUMINAL_OK) FZ_FAIL("luminal_context_yield(stale/forged %p) returned OK", (void *)bc);
  c = fut_new(r, K_READY, 0);
  opts_buf ob;
  fz_scope *sc;
  int bad;
  const luminal_spawn_options *o = rand_opts(r, &ob, &sc, &bad);
  luminal_task *h = NULL;
  int bad_args;
  switch (rn(r, 3)) {
  case 0: s = chk(F_CONTEXT_SPAWN, luminal_context_spawn(bc, fut_wrap(c), &h), "stale/forged cx, thread"); break;
  case 1: s = chk(F_CONTEXT_SPAWN_WITH, luminal_context_spawn_with(bc, fut_wrap(c), o, &h), "stale/forged cx, thread"); break;
  default: s = chk(F_CONTEXT_SPAWN_INLINE, fzi_spawn(r, NULL, 1, bc, fut_wrap(c), o, &h, &bad_args), "stale/forged cx, thread"); break;
  }
  if (s == LUMINAL_OK) FZ_FAIL("context_spawn with a stale/forged context %p returned OK", (void *)bc);
  fut_handed(c, 0, "context_spawn(bad cx)");
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Sync: channels, notify, semaphores (each op makes its own, uses it on this thread, and lets go of it; released  */
/* handles go to a grave for later misuse). Messages are counted: every one made is received or dropped once.      */
/* ------------------------------------------------------------------------------------------------------------- */

static grave_t g_dead_sync;
static atomic_long c_msg_made, c_msg_freed;

static void *msg_new(void) {
  uint64_t *m = malloc(sizeof *m);
  if (!m) FZ_FAIL("out of memory");
  *m = 0x5EED5EEDu;
  atomic_fetch_add(&c_msg_made, 1);
  return m;
}
static void msg_free(void *m) {
  if (!m) FZ_FAIL("a NULL message freed (none is ever sent)");
  if (*(uint64_t *)m != 0x5EED5EEDu) FZ_FAIL("a message freed twice or corrupted");
  *(uint64_t *)m = 0xDEADu;
  free(m);
  atomic_fetch_add(&c_msg_freed, 1);
}
/* The channels' drop_message. */
static void msg_drop(void *m) { msg_free(m); }

/* A handle that is no sync handle of the wanted kind: NULL, released, forged, or (when given) another kind. */
static void *bad_sync(uint64_t *r, void *other_kind, int *is_null) {
  *is_null = 0;
  switch (rn(r, 4)) {
  case 0: *is_null = 1; return NULL;
  case 1: {
    uintptr_t v = grave_get(&g_dead_sync, r);
    if (v) return (void *)v;
    return (void *)forged(r, rn(r, 16));
  }
  case 2:
    if (other_kind) return other_kind;
    /* fall through */
  default: return (void *)forged(r, rn(r, 16));
  }
}

static void check_bad_sync(enum fn_id f, int s, int is_null, const char *what) {
  expect(f, s, is_null ? LUMINAL_E_INVALID_ARGUMENT : LUMINAL_E_INVALID_HANDLE, what);
}

/* Runs a sync future (takes it): block_on on `rt`, or a poll with a bad context (it must complete at once), or a
 * drop without a poll. Returns the block_on / poll status: 1 = it completed and *result is valid. */
static int run_sync_fut(uint64_t *r, luminal_runtime *rt, luminal_future f, int may_block, const char *what) {
  int how = rn(r, 4);
  if (how == 0 || (how > 1 && !may_block)) { /* cancelled before its first poll */
    f.drop(f.state);
    if (chance(r, 4)) f.drop(f.state); /* a second drop is detected and harmless */
    return 0;
  }
  if (how == 1) { /* NULL / stale / forged context: completes at once, giving up what it held */
    void *out = (void *)1;
    luminal_context *bc = chance(r, 3) ? NULL : bad_ctx(r, NULL);
    if (f.poll(f.state, bc, &out) != LUMINAL_POLL_READY) FZ_FAIL("%s polled with a bad context: not READY", what);
    f.drop(f.state);
    return 2;
  }
  void *out = (void *)1;
  int s = chk(F_BLOCK_ON, luminal_block_on(rt, f, &out), what);
  if (s == LUMINAL_OK && out != NULL) FZ_FAIL("%s: a sync future's output is not NULL", what);
  return s == LUMINAL_OK ? 1 : 0;
}

/* A oneshot: one value, received, refused or dropped with the receiver exactly once; misuse of its handles. */
static void op_oneshot(uint64_t *r, luminal_runtime *rt, int kind) {
  int is_null;
  luminal_oneshot_sender *tx = NULL;
  luminal_oneshot_receiver *rx = NULL;
  int s = chk(F_ONESHOT_NEW, luminal_oneshot_new(rt, msg_drop, &tx, &rx), "oneshot_new");
  check_bad_rt_status(F_ONESHOT_NEW, s, kind, "oneshot_new");
  if (s != LUMINAL_OK) return;
  int sent = 0, tx_gone = 0, rx_gone = 0, taken = 0;
  for (int k = 0, n = 1 + (int)rn(r, 8); k < n; k++) {
    switch (rn(r, 7)) {
    case 0: { /* send (releases the sender) */
      if (tx_gone) break;
      void *m = msg_new();
      s = chk(F_ONESHOT_SEND, luminal_oneshot_send(tx, m), "oneshot_send");
      expect(F_ONESHOT_SEND, s, rx_gone ? LUMINAL_E_CLOSED : LUMINAL_OK, "oneshot_send");
      if (s == LUMINAL_OK) sent = 1;
      else msg_free(m); /* taken only on OK */
      tx_gone = 1;
      grave_put(&g_dead_sync, tx);
      break;
    }
    case 1: /* the sender goes without sending */
      if (tx_gone) break;
      luminal_oneshot_sender_release(tx);
      luminal_oneshot_sender_release(tx); /* double release: ignored */
      grave_put(&g_dead_sync, tx);
      tx_gone = 1;
      break;
    case 2: { /* try_recv */
      if (rx_gone) break;
      void *m = (void *)1;
      s = chk(F_ONESHOT_TRY_RECV, luminal_oneshot_try_recv(rx, &m), "oneshot_try_recv");
      expect(F_ONESHOT_TRY_RECV, s, sent && !taken ? LUMINAL_OK : taken || tx_gone ? LUMINAL_E_CLOSED : LUMINAL_E_EMPTY,
             "oneshot_try_recv");
      if (s == LUMINAL_OK) {
        msg_free(m);
        taken = 1;
      } else if (m != NULL) FZ_FAIL("oneshot_try_recv left *msg set on %d", s);
      break;
    }
    case 3: { /* a recv future (a second one at the same time is refused) */
      if (rx_gone) break;
      void *m = (void *)1;
      luminal_status res = 99;
      luminal_future f, g;
      s = chk(F_ONESHOT_RECV, luminal_oneshot_recv(rx, &m, &res, &f), "oneshot_recv");
      expect(F_ONESHOT_RECV, s, LUMINAL_OK, "oneshot_recv");
      if (chance(r, 4)) {
        memset(&g, 0xAB, sizeof g);
        expect(F_ONESHOT_RECV, luminal_oneshot_recv(rx, &m, &res, &g), LUMINAL_E_ALREADY_TAKEN, "second oneshot_recv");
        if (g.state || g.poll || g.drop) FZ_FAIL("oneshot_recv failed without zeroing *out");
      }
      int done = run_sync_fut(r, rt, f, (sent && !taken) || taken || tx_gone, "oneshot recv future");
      if (done) chk(F_SYNC_RESULT, res, "oneshot recv result");
      if (done == 1) {
        expect(F_SYNC_RESULT, res, sent && !taken ? LUMINAL_OK : LUMINAL_E_CLOSED, "oneshot recv result");
        if (res == LUMINAL_OK) {
          msg_free(m);
          taken = 1;
        } else if (m != NULL) FZ_FAIL("a CLOSED oneshot recv left *msg set");
      }
      if (done == 2 && res == LUMINAL_OK) FZ_FAIL("a oneshot recv polled with a bad context answered OK");
      break;
    }
    case 4: /* the receiver goes (a value sent and not taken is dropped now) */
      if (rx_gone) break;
      luminal_oneshot_receiver_release(rx);
      grave_put(&g_dead_sync, rx);
      rx_gone = 1;
      break;
    default: { /* misuse: NULL, released, forged or wrong-kind handles */
      void *bad = bad_sync(r, rx_gone ? NULL : rx, &is_null); /* our receiver where a sender is expected */
      void *m = msg_new();
      check_bad_sync(F_ONESHOT_SEND, chk(F_ONESHOT_SEND, luminal_oneshot_send(bad, m), "oneshot_send bad"), is_null,
                     "oneshot_send bad");
      msg_free(m); /* never taken by a bad sender */
      bad = bad_sync(r, tx_gone ? NULL : tx, &is_null); /* our sender where a receiver is expected */
      void *got = (void *)1;
      luminal_status res;
      luminal_future f;
      check_bad_sync(F_ONESHOT_TRY_RECV, chk(F_ONESHOT_TRY_RECV, luminal_oneshot_try_recv(bad, &got), "try_recv bad"),
                     is_null, "oneshot_try_recv bad");
      memset(&f, 0xAB, sizeof f);
      check_bad_sync(F_ONESHOT_RECV, chk(F_ONESHOT_RECV, luminal_oneshot_recv(bad, &got, &res, &f), "recv bad"),
                     is_null, "oneshot_recv bad");
      if (f.state || f.poll || f.drop) FZ_FAIL("oneshot_recv failed without zeroing *out");
      if (!tx_gone) /* a sender is no channel sender */
        expect(F_CHANNEL_TRY_SEND, luminal_channel_try_send((luminal_sender *)tx, &got), LUMINAL_E_INVALID_HANDLE,
               "oneshot sender as channel sender");
      break;
    }
    }
  }
  if (!tx_gone) {
    luminal_oneshot_sender_release(tx);
    grave_put(&g_dead_sync, tx);
  }
  if (!rx_gone) {
    luminal_oneshot_receiver_release(rx);
    luminal_oneshot_receiver_release(rx); /* double release: ignored */
    grave_put(&g_dead_sync, rx);
  }
}

static void op_sync(fz_thread *t) {
  uint64_t *r = &t->rng;
  rt_life *life;
  int kind, is_null;
  luminal_runtime *rt = pick_rt(t, &life, &kind);
  switch (rn(r, 4)) {
  case 3:
    op_oneshot(r, rt, kind);
    break;
  case 0: { /* a channel */
    luminal_channel_options o = {sizeof o, rn(r, 4), msg_drop};
    int bad_args = 0;
    if (chance(r, 16)) o.struct_size = rn(r, sizeof(size_t)), bad_args = 1; /* too small to hold struct_size */
    int no_opts = chance(r, 8), no_tx = chance(r, 16);
    if (no_opts) bad_args = 0;
    bad_args |= no_tx;
    luminal_sender *tx = NULL;
    luminal_receiver *rx = NULL;
    int s = chk(F_CHANNEL_NEW, luminal_channel_new(rt, no_opts ? NULL : &o, no_tx ? NULL : &tx, &rx), "channel_new");
    if (!bad_args) check_bad_rt_status(F_CHANNEL_NEW, s, kind, "channel_new");
    else if (s == LUMINAL_OK) FZ_FAIL("channel_new accepted a NULL tx or a struct_size too small");
    /* else any listed failure: the header gives no order between the argument and the runtime checks */
    if (s != LUMINAL_OK) break;
    if (no_opts) { /* unbounded, no drop_message: messages the runtime dropped could not be counted */
      luminal_sender_release(tx);
      luminal_receiver_release(rx);
      grave_put(&g_dead_sync, tx);
      grave_put(&g_dead_sync, rx);
      break;
    }
    size_t cap = o.capacity;
    size_t queued = 0;
    int tx_gone = 0;
    for (int k = 0, n = 1 + (int)rn(r, 12); k < n; k++) {
      switch (rn(r, 8)) {
      case 0: case 1: { /* try_send */
        void *m = msg_new();
        s = chk(F_CHANNEL_TRY_SEND, luminal_channel_try_send(tx_gone ? NULL : tx, m), "try_send");
        if (tx_gone) expect(F_CHANNEL_TRY_SEND, s, LUMINAL_E_INVALID_ARGUMENT, "try_send NULL");
        else if (cap && queued >= cap) expect(F_CHANNEL_TRY_SEND, s, LUMINAL_E_FULL, "try_send full");
        else expect(F_CHANNEL_TRY_SEND, s, LUMINAL_OK, "try_send");
        if (s == LUMINAL_OK) queued++;
        else msg_free(m); /* not taken */
        break;
      }
      case 2: { /* try_recv */
        void *m = (void *)1;
        s = chk(F_CHANNEL_TRY_RECV, luminal_channel_try_recv(rx, &m), "try_recv");
        expect(F_CHANNEL_TRY_RECV, s, queued ? LUMINAL_OK : tx_gone ? LUMINAL_E_CLOSED : LUMINAL_E_EMPTY, "try_recv");
        if (s == LUMINAL_OK) {
          msg_free(m);
          queued--;
        } else if (m != NULL) FZ_FAIL("try_recv left *msg set on %d", s);
        break;
      }
      case 3: { /* a send future */
        if (tx_gone) break;
        luminal_status res = 99;
        luminal_future f;
        s = chk(F_CHANNEL_SEND, luminal_channel_send(tx, msg_new(), &res, &f), "channel_send");
        expect(F_CHANNEL_SEND, s, LUMINAL_OK, "channel_send");
        int done = run_sync_fut(r, rt, f, !cap || queued < cap, "send future");
        if (done) chk(F_SYNC_RESULT, res, "send result");
        if (done == 1) {
          expect(F_SYNC_RESULT, res, LUMINAL_OK, "send result");
          queued++;
        }
        if (done == 2 && res == LUMINAL_OK) FZ_FAIL("a send polled with a bad context answered OK");
        break;
      }
      case 4: { /* a recv future */
        void *m = (void *)1;
        luminal_status res = 99;
        luminal_future f;
        s = chk(F_CHANNEL_RECV, luminal_channel_recv(rx, &m, &res, &f), "channel_recv");
        expect(F_CHANNEL_RECV, s, LUMINAL_OK, "channel_recv");
        int done = run_sync_fut(r, rt, f, queued || tx_gone, "recv future");
        if (done) chk(F_SYNC_RESULT, res, "recv result");
        if (done == 1) {
          expect(F_SYNC_RESULT, res, queued ? LUMINAL_OK : LUMINAL_E_CLOSED, "recv result");
          if (res == LUMINAL_OK) {
            msg_free(m);
            queued--;
          } else if (m != NULL) FZ_FAIL("a CLOSED recv left *msg set");
        }
        if (done == 2 && res == LUMINAL_OK) FZ_FAIL("a recv polled with a bad context answered OK");
        break;
      }
      case 5: { /* clone and release a sender; or release the last one */
        if (tx_gone) break;
        if (chance(r, 3)) {
          luminal_sender_release(tx);
          grave_put(&g_dead_sync, tx);
          tx_gone = 1;
        } else {
          luminal_sender *c = luminal_sender_clone(tx);
          if (!c) FZ_FAIL("luminal_sender_clone of a live sender returned NULL");
          luminal_sender_release(c);
          luminal_sender_release(c); /* double release: ignored */
          grave_put(&g_dead_sync, c);
        }
        break;
      }
      default: { /* misuse: NULL, released, forged or wrong-kind handles */
        void *bad = bad_sync(r, rx, &is_null); /* our receiver where a sender is expected */
        void *m = msg_new();
        check_bad_sync(F_CHANNEL_TRY_SEND, chk(F_CHANNEL_TRY_SEND, luminal_channel_try_send(bad, m), "try_send bad"),
                       is_null, "try_send bad");
        msg_free(m); /* try_send takes it only on OK */
        if (luminal_sender_clone((luminal_sender *)bad) != NULL) FZ_FAIL("luminal_sender_clone of a bad handle");
        luminal_future f;
        luminal_status res;
        bad = bad_sync(r, NULL, &is_null); /* a bad sender has no channel: the message stays ours */
        m = msg_new();
        memset(&f, 0xAB, sizeof f);
        s = chk(F_CHANNEL_SEND, luminal_channel_send(bad, m, &res, &f), "send bad");
        check_bad_sync(F_CHANNEL_SEND, s, is_null, "send bad");
        if (f.state || f.poll || f.drop) FZ_FAIL("channel_send failed without zeroing *out");
        msg_free(m);
        bad = bad_sync(r, tx_gone ? NULL : tx, &is_null); /* our sender where a receiver is expected */
        void *got = (void *)1;
        check_bad_sync(F_CHANNEL_TRY_RECV, chk(F_CHANNEL_TRY_RECV, luminal_channel_try_recv(bad, &got), "try_recv bad"),
                       is_null, "try_recv bad");
        check_bad_sync(F_CHANNEL_RECV, chk(F_CHANNEL_RECV, luminal_channel_recv(bad, &got, &res, &f), "recv bad"),
                       is_null, "recv bad");
        expect(F_CHANNEL_RECV, luminal_channel_recv(rx, NULL, &res, &f), LUMINAL_E_INVALID_ARGUMENT, "recv NULL msg");
        if (!tx_gone) /* a NULL result on a live sender: INVALID_ARGUMENT, and the message is dropped (taken) */
          expect(F_CHANNEL_SEND, luminal_channel_send(tx, msg_new(), NULL, &f), LUMINAL_E_INVALID_ARGUMENT,
                 "send NULL result");
        break;
      }
      }
    }
    /* Let go: the receiver first or the senders first; queued messages are dropped exactly once. */
    if (chance(r, 2)) {
      luminal_receiver_release(rx);
      if (!tx_gone) luminal_sender_release(tx);
    } else {
      if (!tx_gone) luminal_sender_release(tx);
      luminal_receiver_release(rx);
    }
    luminal_receiver_release(rx); /* double release: ignored */
    grave_put(&g_dead_sync, rx);
    if (!tx_gone) grave_put(&g_dead_sync, tx);
    break;
  }
  case 1: { /* a notify */
    luminal_notify *n = NULL;
    int s = chk(F_NOTIFY_NEW, luminal_notify_new(rt, &n), "notify_new");
    check_bad_rt_status(F_NOTIFY_NEW, s, kind, "notify_new");
    if (s != LUMINAL_OK) break;
    int stored = 0;
    for (int k = 0, m = 1 + (int)rn(r, 8); k < m; k++) {
      switch (rn(r, 5)) {
      case 0: expect(F_NOTIFY_ONE, luminal_notify_one(n), LUMINAL_OK, "notify_one"); stored = 1; break;
      case 1: expect(F_NOTIFY_ALL, luminal_notify_all(n), LUMINAL_OK, "notify_all"); break;
      case 2: case 3: {
        luminal_future f;
        expect(F_NOTIFY_WAIT, luminal_notify_wait(n, &f), LUMINAL_OK, "notify_wait");
        /* with a stored permit it completes at once; a cancelled or failed wait leaves the permit stored */
        int done = run_sync_fut(r, rt, f, stored, "notify wait");
        if (done == 1) stored = 0;
        break;
      }
      default: {
        void *bad = bad_sync(r, NULL, &is_null);
        check_bad_sync(F_NOTIFY_ONE, chk(F_NOTIFY_ONE, luminal_notify_one((luminal_notify *)bad), "bad"), is_null, "one");
        check_bad_sync(F_NOTIFY_ALL, chk(F_NOTIFY_ALL, luminal_notify_all((luminal_notify *)bad), "bad"), is_null, "all");
        luminal_future f;
        memset(&f, 0xAB, sizeof f);
        s = chk(F_NOTIFY_WAIT, luminal_notify_wait((luminal_notify *)bad, &f), "notify_wait bad");
        check_bad_sync(F_NOTIFY_WAIT, s, is_null, "notify_wait bad");
        if (f.state || f.poll || f.drop) FZ_FAIL("notify_wait failed without zeroing *out");
        expect(F_NOTIFY_WAIT, luminal_notify_wait(n, NULL), LUMINAL_E_INVALID_ARGUMENT, "notify_wait NULL out");
        break;
      }
      }
    }
    luminal_notify_release(n);
    luminal_notify_release(n);
    grave_put(&g_dead_sync, n);
    break;
  }
  default: { /* a semaphore */
    uint64_t permits = rn(r, 4);
    luminal_semaphore *sem = NULL;
    int s = chk(F_SEM_NEW, luminal_semaphore_new(rt, permits, &sem), "semaphore_new");
    check_bad_rt_status(F_SEM_NEW, s, kind, "semaphore_new");
    if (s != LUMINAL_OK) break;
    int closed = 0;
    for (int k = 0, m = 1 + (int)rn(r, 10); k < m; k++) {
      uint32_t want = rn(r, 3);
      switch (rn(r, 6)) {
      case 0: case 1: {
        s = chk(F_SEM_TRY_ACQUIRE, luminal_semaphore_try_acquire(sem, want), "try_acquire");
        expect(F_SEM_TRY_ACQUIRE, s, closed ? LUMINAL_E_CLOSED : permits >= want ? LUMINAL_OK : LUMINAL_E_EMPTY,
               "try_acquire");
        if (s == LUMINAL_OK) permits -= want;
        break;
      }
      case 2: {
        luminal_status res = 99;
        luminal_future f;
        expect(F_SEM_ACQUIRE, luminal_semaphore_acquire(sem, want, &res, &f), LUMINAL_OK, "acquire");
        int done = run_sync_fut(r, rt, f, closed || permits >= want, "acquire future");
        if (done) chk(F_SYNC_RESULT, res, "acquire result");
        if (done == 1) {
          expect(F_SYNC_RESULT, res, closed ? LUMINAL_E_CLOSED : LUMINAL_OK, "acquire result");
          if (res == LUMINAL_OK) permits -= want;
        }
        if (done == 2 && res == LUMINAL_OK) FZ_FAIL("an acquire polled with a bad context answered OK");
        break;
      }
      case 3:
        expect(F_SEM_ADD, luminal_semaphore_add_permits(sem, want), LUMINAL_OK, "add_permits");
        if (!closed) permits += want;
        break;
      case 4:
        if (chance(r, 3)) {
          expect(F_SEM_CLOSE, luminal_semaphore_close(sem), LUMINAL_OK, "close");
          closed = 1;
        }
        break;
      default: {
        void *bad = bad_sync(r, NULL, &is_null);
        luminal_semaphore *b = (luminal_semaphore *)bad;
        check_bad_sync(F_SEM_TRY_ACQUIRE, chk(F_SEM_TRY_ACQUIRE, luminal_semaphore_try_acquire(b, 1), "bad"), is_null, "try");
        check_bad_sync(F_SEM_ADD, chk(F_SEM_ADD, luminal_semaphore_add_permits(b, 1), "bad"), is_null, "add");
        check_bad_sync(F_SEM_CLOSE, chk(F_SEM_CLOSE, luminal_semaphore_close(b), "bad"), is_null, "close");
        luminal_status res;
        luminal_future f;
        check_bad_sync(F_SEM_ACQUIRE, chk(F_SEM_ACQUIRE, luminal_semaphore_acquire(b, 1, &res, &f), "bad"), is_null, "acq");
        expect(F_SEM_ACQUIRE, luminal_semaphore_acquire(sem, 1, NULL, &f), LUMINAL_E_INVALID_ARGUMENT, "acquire NULL");
        /* a semaphore is not a notify, nor a channel */
        expect(F_NOTIFY_ONE, luminal_notify_one((luminal_notify *)sem), LUMINAL_E_INVALID_HANDLE, "sem as notify");
        void *mm = msg_new();
        expect(F_CHANNEL_TRY_SEND, luminal_channel_try_send((luminal_sender *)sem, mm), LUMINAL_E_INVALID_HANDLE,
               "sem as sender");
        msg_free(mm);
        break;
      }
      }
    }
    luminal_semaphore_release(sem);
    luminal_semaphore_release(sem);
    grave_put(&g_dead_sync, sem);
    break;
  }
  }
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Task sets, join_all, select, scope_drain (each op makes its own set, children or scope, uses it on this thread  */
/* and lets go of it; released sets go to the sync grave). Members and children are our futures (output: a box).  */
/* ------------------------------------------------------------------------------------------------------------- */

/* Runs a future made by these functions (takes it): dropped unpolled, polled with a bad context (it completes at
 * once), or block_on'd under a short luminal_timeout (members or children may never finish: the timeout drops it
 * unfinished). `failed_out`: the bad-context rule gives LUMINAL_FAILED_OUTPUT (join_all, select, scope_drain), else
 * NULL (join_next, whose reason is in *result). Returns 1 if it completed normally (output NULL: the out-parameters
 * are valid), 2 if it completed on the bad-context rule, 0 if it never completed. */
static int run_set_fut(uint64_t *r, luminal_runtime *rt, luminal_future f, int failed_out, const char *what) {
  uint32_t how = rn(r, 5);
  if (how == 0) { /* cancelled before its first poll */
    f.drop(f.state);
    if (chance(r, 4)) f.drop(f.state); /* a second drop is detected and harmless */
    return 0;
  }
  if (how == 1) {
    void *out = (void *)1;
    luminal_context *bc = chance(r, 3) ? NULL : bad_ctx(r, NULL);
    if (f.poll(f.state, bc, &out) != LUMINAL_POLL_READY) FZ_FAIL("%s polled with a bad context: not READY", what);
    if (out != (failed_out ? LUMINAL_FAILED_OUTPUT : NULL))
      FZ_FAIL("%s polled with a bad context: output %p", what, out);
    f.drop(f.state);
    return 2;
  }
  luminal_future t;
  if (chk(F_TIMEOUT, luminal_timeout(rt, f, 50000 + rn(r, 1000000), &t), what) != LUMINAL_OK) return 0; /* dropped */
  void *out = (void *)1;
  int s = chk(F_BLOCK_ON, luminal_block_on(rt, t, &out), what);
  if (s == LUMINAL_OK && out != NULL && out != LUMINAL_TIMED_OUT_OUTPUT && out != LUMINAL_FAILED_OUTPUT)
    FZ_FAIL("%s: a runtime-made future's output is %p", what, out);
  return s == LUMINAL_OK && out == NULL;
}

static atomic_long c_set_joined, c_comb_done, c_drain_done; /* completions seen, for the summary line */

/* One of our futures as a member or child: any kind (`completes`: none that never completes), at depth 1. */
static fz_fut *set_child(uint64_t *r, int completes, rt_life *life) {
  fz_fut *f = fut_new(r, pick_kind(r, completes, 1), 1);
  f->life = life;
  return f;
}

static void op_task_set(fz_thread *t, luminal_runtime *rt, rt_life *life, int kind) {
  uint64_t *r = &t->rng;
  luminal_task_set *set = NULL;
  int null_out = chance(r, 30);
  int s = chk(F_SET_NEW, luminal_task_set_new(rt, null_out ? NULL : &set), "task_set_new");
  if (null_out) {
    if (s == LUMINAL_OK) FZ_FAIL("task_set_new(NULL out) returned OK");
    return;
  }
  check_bad_rt_status(F_SET_NEW, s, kind, "task_set_new");
  if (s != LUMINAL_OK) {
    if (set) FZ_FAIL("a failed task_set_new wrote a handle");
    return;
  }
  long members = 0; /* spawned and not yet returned by a join_next */
  for (int steps = 1 + (int)rn(r, 8); steps > 0; steps--) {
    switch (rn(r, 7)) {
    case 0:
    case 1:
    case 2: { /* spawn, with random options and now and then a NULL poll */
      opts_buf ob;
      fz_scope *sc = NULL;
      int bad = 0;
      const luminal_spawn_options *o = chance(r, 2) ? rand_opts(r, &ob, &sc, &bad) : NULL;
      fz_fut *f = set_child(r, 0, life);
      f->scope = sc;
      if (sc) atomic_fetch_add(&sc->live, 1);
      luminal_future fut = fut_wrap(f);
      int null_poll = chance(r, 40);
      if (null_poll) fut.poll = NULL;
      int was_down = life && atomic_load(&life->shutdown_ok);
      scope_op_begin(sc);
      s = chk(F_SET_SPAWN, luminal_task_set_spawn(set, fut, o), "task_set_spawn");
      fut_handed(f, s == LUMINAL_OK, "task_set_spawn");
      scope_op_end(sc);
      if (s == LUMINAL_OK && (bad || null_poll)) FZ_FAIL("task_set_spawn accepted a NULL poll or invalid options");
      if (s == LUMINAL_OK && was_down) FZ_FAIL("task_set_spawn onto a shut-down runtime returned OK");
      if (s == LUMINAL_OK && sc && life && sc->life && sc->life != life) FZ_FAIL("task_set_spawn accepted another runtime's scope");
      if (s == LUMINAL_OK) members++;
      break;
    }
    case 3:
    case 4: { /* join_next */
      void *out = (void *)1;
      luminal_status res = LUMINAL_E_INTERNAL;
      luminal_future f;
      expect(F_SET_JOIN_NEXT, luminal_task_set_join_next(set, &out, &res, &f), LUMINAL_OK, "join_next");
      int done = run_set_fut(r, rt, f, 0, "join_next future");
      if (done == 2 && (res == LUMINAL_OK || res == LUMINAL_E_CANCELLED || res == LUMINAL_E_EMPTY))
        FZ_FAIL("join_next polled with a bad context completed with %d: it took a member or looked at the set", res);
      if (done) chk(F_SET_RESULT, res, done == 1 ? "join_next" : "join_next, bad context");
      if (done != 1) {
        if (out != (void *)1 && out != NULL) FZ_FAIL("join_next wrote an output without completing with a member");
        break;
      }
      if (res == LUMINAL_OK) box_take(out, "join_next output");
      else if (out != NULL) FZ_FAIL("join_next completed with %d and output %p", res, out);
      atomic_fetch_add(&c_set_joined, 1);
      if (res == LUMINAL_OK || res == LUMINAL_E_CANCELLED) members--;
      else if (res == LUMINAL_E_EMPTY && members != 0) FZ_FAIL("join_next said EMPTY with %ld members", members);
      else if (res != LUMINAL_E_EMPTY) FZ_FAIL("join_next on a live set completed with %d", res);
      break;
    }
    case 5: expect(F_SET_ABORT_ALL, luminal_task_set_abort_all(set), LUMINAL_OK, "abort_all"); break;
    default: { /* misuse: NULL, released, forged and wrong-kind handles; NULL out-parameters */
      int is_null;
      luminal_task_set *bad = (luminal_task_set *)bad_sync(r, NULL, &is_null);
      check_bad_sync(F_SET_ABORT_ALL, chk(F_SET_ABORT_ALL, luminal_task_set_abort_all(bad), "bad"), is_null, "abort_all bad");
      if (luminal_task_set_len(bad) != 0) FZ_FAIL("task_set_len(bad handle) != 0");
      fz_fut *c = set_child(r, 1, NULL);
      s = chk(F_SET_SPAWN, luminal_task_set_spawn(bad, fut_wrap(c), NULL), "spawn bad");
      check_bad_sync(F_SET_SPAWN, s, is_null, "task_set_spawn bad");
      fut_handed(c, 0, "task_set_spawn(bad set)");
      void *out;
      luminal_status res;
      luminal_future f;
      memset(&f, 0xAB, sizeof f);
      s = chk(F_SET_JOIN_NEXT, luminal_task_set_join_next(bad, &out, &res, &f), "join_next bad");
      check_bad_sync(F_SET_JOIN_NEXT, s, is_null, "join_next bad");
      if (f.state || f.poll || f.drop) FZ_FAIL("join_next failed without zeroing *out");
      expect(F_SET_JOIN_NEXT, luminal_task_set_join_next(set, NULL, &res, &f), LUMINAL_E_INVALID_ARGUMENT, "NULL output");
      expect(F_SET_JOIN_NEXT, luminal_task_set_join_next(set, &out, NULL, &f), LUMINAL_E_INVALID_ARGUMENT, "NULL result");
      expect(F_SET_JOIN_NEXT, luminal_task_set_join_next(set, &out, &res, NULL), LUMINAL_E_INVALID_ARGUMENT, "NULL out");
      /* a set is not a notify nor a semaphore */
      expect(F_NOTIFY_ONE, luminal_notify_one((luminal_notify *)set), LUMINAL_E_INVALID_HANDLE, "set as notify");
      expect(F_SEM_TRY_ACQUIRE, luminal_semaphore_try_acquire((luminal_semaphore *)set, 1), LUMINAL_E_INVALID_HANDLE,
             "set as semaphore");
      luminal_task_set_release(bad); /* ignored */
      break;
    }
    }
    if ((long)luminal_task_set_len(set) != members)
      FZ_FAIL("task_set_len = %zu, expected %ld", luminal_task_set_len(set), members);
  }
  /* Release: members still running are aborted, outputs never joined dropped (counted at the end). */
  luminal_task_set_release(set);
  if (chance(r, 4)) luminal_task_set_release(set);
  grave_put(&g_dead_sync, set);
  if (luminal_task_set_len(set) != 0) FZ_FAIL("task_set_len(released set) != 0");
}

/* join_all (select = 0) or select (1) over 0..4 of our futures, with now and then one bad argument. */
static void op_combine(fz_thread *t, luminal_runtime *rt, rt_life *life, int kind, int select) {
  uint64_t *r = &t->rng;
  size_t n = rn(r, 5);
  luminal_future futs[4];
  fz_fut *kids[4];
  void *outs[4] = {(void *)1, (void *)1, (void *)1, (void *)1};
  int completes = chance(r, 2);
  for (size_t i = 0; i < n; i++) {
    kids[i] = set_child(r, completes, life);
    kids[i]->on_block_on = 1; /* polled inside the combinator: by this thread's block_on, never on a worker */
    kids[i]->nested = 1;
    futs[i] = fut_wrap(kids[i]);
  }
  /* 0: rt NULL, 1: futs NULL, 2: outputs / winner NULL, 3: out NULL, 4: a child's poll NULL, 5: a bad rt. */
  uint32_t misuse = chance(r, 3) ? rn(r, 6) : 99;
  luminal_runtime *rtp = misuse == 0 ? NULL : misuse == 5 ? (luminal_runtime *)forged(r, 0x3) : rt;
  int no_futs = misuse == 1 && n > 0;
  int bad = misuse == 0 || misuse == 3 || misuse == 5 || (n > 0 && (misuse == 1 || misuse == 4)) ||
            (misuse == 2 && (select || n > 0)) || (select && n == 0);
  if (misuse == 4 && n > 0) futs[rn(r, (uint32_t)n)].poll = NULL;
  size_t winner = 77;
  void *won = (void *)1;
  luminal_future f;
  memset(&f, 0xAB, sizeof f);
  luminal_future *outp = misuse == 3 ? NULL : &f;
  enum fn_id fn = select ? F_SELECT : F_JOIN_ALL;
  int s;
  if (select)
    s = chk(fn, luminal_select(rtp, no_futs ? NULL : futs, n, misuse == 2 ? NULL : &winner, &won, outp), "select");
  else
    s = chk(fn, luminal_join_all(rtp, no_futs ? NULL : futs, n, misuse == 2 ? NULL : outs, outp), "join_all");
  if (!bad) check_bad_rt_status(fn, s, kind, select ? "select" : "join_all");
  if (bad && s == LUMINAL_OK) FZ_FAIL("%s accepted a bad argument (misuse %u, n %zu)", fn_table[fn].name, misuse, n);
  for (size_t i = 0; i < n; i++) {
    if (no_futs) { /* never handed over: still ours */
      fz_drop(kids[i]);
      fut_gone(kids[i], "a child never handed over");
    } else {
      fut_handed(kids[i], s == LUMINAL_OK, fn_table[fn].name);
    }
  }
  if (s != LUMINAL_OK) {
    if (outp && (f.state || f.poll || f.drop)) FZ_FAIL("%s failed without zeroing *out", fn_table[fn].name);
    return;
  }
  int done = run_set_fut(r, rt, f, 1, select ? "select future" : "join_all future");
  if (done != 1) {
    for (size_t i = 0; i < n && !select; i++)
      if (done == 0 && outs[i] != (void *)1) FZ_FAIL("join_all wrote an output without completing");
    if (select && done == 0 && (won != (void *)1 || winner != 77)) FZ_FAIL("select wrote its winner without completing");
    return;
  }
  atomic_fetch_add(&c_comb_done, 1);
  if (select) {
    if (winner >= n) FZ_FAIL("select completed with winner %zu of %zu", winner, n);
    box_take(won, "select winner's output");
  } else {
    for (size_t i = 0; i < n; i++) box_take(outs[i], "join_all output");
  }
}

/* scope_drain on a scope of our own (nobody else spawns into it): when it completes, every task spawned into the
 * scope has finished running (spawned == completed + cancelled); misuse with NULL and released scopes. */
static void op_drain(fz_thread *t, luminal_runtime *rt, int kind) {
  uint64_t *r = &t->rng;
  luminal_future f;
  luminal_scope *dead = (luminal_scope *)grave_get(&g_dead_scopes, r);
  expect(F_SCOPE_DRAIN, luminal_scope_drain(NULL, &f), LUMINAL_E_INVALID_ARGUMENT, "NULL scope");
  if (dead) expect(F_SCOPE_DRAIN, luminal_scope_drain(dead, &f), LUMINAL_E_INVALID_HANDLE, "released scope");
  expect(F_SCOPE_DRAIN, luminal_scope_drain((luminal_scope *)forged(r, 0xD), &f), LUMINAL_E_INVALID_HANDLE, "forged");
  if (kind != 0) return;
  luminal_scope *sc = NULL;
  if (chk(F_SCOPE_NEW, luminal_scope_new(rt, &sc), "drain scope") != LUMINAL_OK) return;
  expect(F_SCOPE_DRAIN, luminal_scope_drain(sc, NULL), LUMINAL_E_INVALID_ARGUMENT, "NULL out");
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = sc;
  for (uint32_t k = rn(r, 5); k > 0; k--) {
    fz_fut *c = set_child(r, !chance(r, 4), NULL);
    int s = chk(F_SPAWN_WITH, luminal_spawn_with(rt, fut_wrap(c), &o, NULL), "into a drain scope");
    fut_handed(c, s == LUMINAL_OK, "spawn into a drain scope");
  }
  expect(F_SCOPE_DRAIN, luminal_scope_drain(sc, &f), LUMINAL_OK, "scope_drain");
  int released = chance(r, 6);
  if (released) luminal_scope_release(sc); /* the drain then completes with LUMINAL_FAILED_OUTPUT */
  int done = run_set_fut(r, rt, f, 1, "scope_drain future");
  if (done == 1 && released) FZ_FAIL("scope_drain completed normally after its scope handle was released");
  if (done == 1) {
    atomic_fetch_add(&c_drain_done, 1);
    luminal_scope_counters c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    expect(F_SCOPE_STATS, luminal_scope_stats(sc, &c), LUMINAL_OK, "after drain");
    if (c.spawned != c.completed + c.cancelled)
      FZ_FAIL("scope_drain completed with %" PRIu64 " spawned, %" PRIu64 " completed, %" PRIu64 " cancelled", c.spawned,
              c.completed, c.cancelled);
  }
  if (!released) luminal_scope_release(sc);
  grave_put(&g_dead_scopes, sc);
}

static void op_sets(fz_thread *t) {
  rt_life *life;
  int kind;
  luminal_runtime *rt = pick_rt(t, &life, &kind);
  switch (rn(&t->rng, 4)) {
  case 0: op_task_set(t, rt, life, kind); break;
  case 1: op_combine(t, rt, life, kind, 0); break;
  case 2: op_combine(t, rt, life, kind, 1); break;
  default: op_drain(t, rt, kind); break;
  }
}

static void *fuzz_thread(void *p) {
  fz_thread *t = p;
  for (long n = 0; n < g_ops && !atomic_load(&g_stop); n++) {
    atomic_fetch_add(&c_calls, 1);
    switch (rn(&t->rng, 21)) {
    case 0: case 1: case 2: case 3: case 4: case 5: op_spawn(t); break;
    case 6: case 7: case 8: case 9: op_task(t); break;
    case 10: op_runtime(t); break;
    case 11: if (chance(&t->rng, 16)) op_current_thread(t); else op_runtime(t); break;
    case 12: op_block_on(t); break;
    case 13: case 14: op_waker(t); break;
    case 15: case 16: op_scope(t); break;
    case 17: case 18: op_libfut(t); break;
    case 19: if (chance(&t->rng, 2)) op_sync(t); else op_ctx(t); break;
    case 20: op_sets(t); break;
    default: op_ctx(t); break;
    }
    if (g_verbose && t->idx == 0 && n % 20000 == 0)
      fprintf(stderr, "lumfuzz: t0 op %ld: created %ld dropped %ld polls %ld\n", n, atomic_load(&c_fut_created),
              atomic_load(&c_fut_dropped), atomic_load(&c_polls));
  }
  /* Hand everything back. */
  for (int i = 0; i < NTASK; i++)
    if (t->tasks[i].h) {
      if (chance(&t->rng, 2)) luminal_task_abort(t->tasks[i].h);
      luminal_task_release(t->tasks[i].h);
      t->tasks[i].h = NULL;
    }
  for (int i = 0; i < NSCOPE; i++)
    if (t->scopes[i].rec) {
      luminal_scope *h = (luminal_scope *)atomic_load(&t->scopes[i].rec->h);
      atomic_store(&t->scopes[i].rec->h, 0);
      luminal_scope_release(h);
    }
  for (int i = 0; i < NRT; i++)
    if (t->rts[i].h) luminal_runtime_release(t->rts[i].h);
  return NULL;
}

/* Wakes deposited wakers when they are due, so EXT futures progress whatever the fuzz threads do. */
static atomic_int g_waker_stop;
static void *waker_thread(void *p) {
  uint64_t r = (uint64_t)(uintptr_t)p;
  while (!atomic_load(&g_waker_stop)) {
    luminal_waker *w;
    int n = 0;
    while ((w = xch_take(&r, 1)) != NULL && n++ < 64) {
      if (chance(&r, 3)) {
        luminal_waker_wake_by_ref(w);
        luminal_waker_release(w);
      } else {
        luminal_waker_wake(w);
      }
    }
    sleep_us(200);
  }
  return NULL;
}

static int g_watchdog_s;
static void *watchdog_thread(void *p) {
  (void)p;
  for (int i = 0; i < g_watchdog_s * 10; i++) {
    sleep_us(100000);
    if (atomic_load(&g_waker_stop) == 2) return NULL;
  }
  if (getenv("LUMFUZZ_GDB")) { /* every thread's stack, for the report */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "gdb -p %d -batch -ex 'thread apply all bt 30' >&2 2>/dev/null", (int)getpid());
    if (system(cmd) != 0) fprintf(stderr, "lumfuzz: gdb failed\n");
  }
  live_report();
  FZ_FAIL("watchdog: the run did not finish within %d s (a hang or deadlock); created %ld dropped %ld", g_watchdog_s,
          atomic_load(&c_fut_created), atomic_load(&c_fut_dropped));
}

static long env_long(const char *name, long def) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 0) : def;
}

int main(int argc, char **argv) {
  g_seed = (uint64_t)env_long("LUMFUZZ_SEED", 0);
  g_threads = (int)env_long("LUMFUZZ_THREADS", 4);
  g_ops = env_long("LUMFUZZ_OPS", 20000);
  if (argc > 1) g_seed = strtoull(argv[1], NULL, 0);
  if (argc > 2) g_threads = atoi(argv[2]);
  if (argc > 3) g_ops = strtol(argv[3], NULL, 0);
  if (g_seed == 0) g_seed = (now_ns() ^ ((uint64_t)getpid() << 32)) | 1;
  if (g_threads < 1) g_threads = 1;
  g_forged_ctx = (int)env_long("LUMFUZZ_FORGED_CONTEXTS", 1);
  g_keep_going = (int)env_long("LUMFUZZ_KEEP_GOING", 0);
  g_verbose = (int)env_long("LUMFUZZ_VERBOSE", 0);
  g_small_pool = (int)env_long("LUMFUZZ_KNOWN_HANGS", 1);
  parse_allow(getenv("LUMFUZZ_ALLOW"));
  g_watchdog_s = (int)env_long("LUMFUZZ_WATCHDOG", 300);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  printf("lumfuzz: seed=%" PRIu64 " threads=%d ops_per_thread=%ld forged_contexts=%d\n", g_seed, g_threads, g_ops,
         g_forged_ctx);
  fflush(stdout);

  /* A temp directory with one regular file of 64 KiB. */
  snprintf(g_tmp_dir, sizeof g_tmp_dir, "%s/lumfuzz-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_tmp_dir)) FZ_FAIL("mkdtemp: %s", strerror(errno));
  static char path[300];
  snprintf(path, sizeof path, "%s/data", g_tmp_dir);
  g_tmp_path = path;
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 65536) != 0) FZ_FAIL("temp file: %s", strerror(errno));
  close(fd);

  uint64_t r = g_seed;
  for (int i = 0; i < NSLOTS; i++) {
    pthread_mutex_init(&g_slots[i].mu, NULL);
    atomic_store(&g_slots[i].life, life_new(new_runtime(&r)));
  }
  pthread_t wt, dog;
  pthread_create(&dog, NULL, watchdog_thread, NULL);
  pthread_create(&wt, NULL, waker_thread, (void *)(uintptr_t)rnd(&r));
  fz_thread *ts = calloc((size_t)g_threads, sizeof *ts);
  pthread_t *th = calloc((size_t)g_threads, sizeof *th);
  uint64_t t0 = now_ns();
  for (int i = 0; i < g_threads; i++) {
    ts[i].idx = i;
    ts[i].rng = g_seed * 0x100000001B3ull + (uint64_t)i * 0x9E3779B97F4A7C15ull;
    pthread_create(&th[i], NULL, fuzz_thread, &ts[i]);
  }
  for (int i = 0; i < g_threads; i++) pthread_join(th[i], NULL);
  uint64_t t1 = now_ns();

  /* The end: wake every deposited waker, shut every slot's runtime down, release, and count. */
  atomic_store(&g_waker_stop, 1);
  pthread_join(wt, NULL);
  luminal_waker *w;
  while ((w = xch_take(&r, 0)) != NULL) luminal_waker_wake(w);
  for (int i = 0; i < NSLOTS; i++) slot_cycle(&r, i, 1);
  while ((w = xch_take(&r, 0)) != NULL) luminal_waker_wake(w); /* deposited during the shutdowns */

  /* Runtimes whose last handle went on a worker finish their shutdown in the background. */
  uint64_t deadline = now_ns() + 30ull * 1000000000ull;
  while (now_ns() < deadline &&
         (atomic_load(&c_fut_created) != atomic_load(&c_fut_dropped) ||
          atomic_load(&c_out_created) != atomic_load(&c_out_taken) + atomic_load(&c_out_dropped) ||
          atomic_load(&c_barg_created) != atomic_load(&c_barg_dropped))) {
    while ((w = xch_take(&r, 0)) != NULL) luminal_waker_wake(w);
    sleep_us(10000);
  }
  atomic_store(&g_waker_stop, 2);
  long fc = atomic_load(&c_fut_created), fd_ = atomic_load(&c_fut_dropped);
  long oc = atomic_load(&c_out_created), ot = atomic_load(&c_out_taken), od = atomic_load(&c_out_dropped);
  long bc = atomic_load(&c_barg_created), bd = atomic_load(&c_barg_dropped);
  printf("lumfuzz: %.1f s, %ld calls, %ld futures (%ld polls), %ld spawned OK, %ld joined OK, outputs %ld = %ld taken + %ld "
         "freed, blocking args %ld/%ld dropped, runtimes %d\n",
         (double)(t1 - t0) / 1e9, atomic_load(&c_calls), fc, atomic_load(&c_polls), atomic_load(&c_spawned_ok),
         atomic_load(&c_joined_ok), oc, ot, od, bc, bd, atomic_load(&g_life_ids));
  if (fc != fd_) FZ_FAIL("futures created %ld != dropped %ld after every runtime was shut down and released", fc, fd_);
  if (oc != ot + od) FZ_FAIL("outputs created %ld != taken %ld + freed %ld", oc, ot, od);
  if (bc != bd) FZ_FAIL("blocking args with drop_arg %ld != dropped %ld", bc, bd);
  long mm = atomic_load(&c_msg_made), mf = atomic_load(&c_msg_freed);
  printf("lumfuzz: sync messages %ld made, %ld received or dropped\n", mm, mf);
  if (mm != mf) FZ_FAIL("channel messages made %ld != received or dropped %ld", mm, mf);
  printf("lumfuzz: task sets: %ld join_next completed; %ld join_all/select completed; %ld scope drains completed\n",
         atomic_load(&c_set_joined), atomic_load(&c_comb_done), atomic_load(&c_drain_done));
  for (fz_scope *s = g_scopes; s; s = s->next)
    if (atomic_load(&s->live) != 0) FZ_FAIL("a scope record still counts %ld live futures/outputs", atomic_load(&s->live));

  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp_dir);
  if (system(cmd) != 0) fprintf(stderr, "lumfuzz: could not remove %s\n", g_tmp_dir);
  if (atomic_load(&g_undoc_total)) {
    fprintf(stderr, "lumfuzz: undocumented statuses (function: status x count):\n");
    for (int f = 0; f < F_COUNT; f++)
      for (int s = 0; s < 2 * ST_BIAS; s++)
        if (atomic_load(&g_undoc[f][s]))
          fprintf(stderr, "  %s: %d (%s) x %ld\n", fn_table[f].name, s - ST_BIAS, luminal_status_str((luminal_status)(s - ST_BIAS)),
                  atomic_load(&g_undoc[f][s]));
    fprintf(stderr, "lumfuzz: FAILED: undocumented statuses (seed %" PRIu64 ")\n", g_seed);
    return 1;
  }
  for (int f = 0; f < F_COUNT; f++)
    for (int s = 0; s < 2 * ST_BIAS; s++)
      if (atomic_load(&g_allowed_seen[f][s]))
        printf("lumfuzz: known (LUMFUZZ_ALLOW), not in the header: %s -> %d (%s) x %ld\n", fn_table[f].name, s - ST_BIAS,
               luminal_status_str((luminal_status)(s - ST_BIAS)), atomic_load(&g_allowed_seen[f][s]));
  printf("lumfuzz: OK seed=%" PRIu64 "\n", g_seed);
  return 0;
}
