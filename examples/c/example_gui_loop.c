/*
 * example_gui_loop — Luminal tasks running on a host's own thread, between its "frames".
 *
 * A GUI toolkit (or a game loop) owns its thread and its event loop. A current-thread runtime fits into it: it
 * starts no thread, its tasks run only when the loop calls luminal_runtime_run, and it tells the loop when to do
 * that: its wakeup fd becomes readable when a task was woken (by IO, a blocking call, another thread), and
 * luminal_runtime_next_deadline_ns says when its next timer is due. Here the loop is poll(2) on that fd with a
 * timeout that is the earlier of the next frame and the runtime's next timer; a real toolkit would add the fd to
 * its own loop (a GSource, a QSocketNotifier) instead.
 *
 * The tasks: a "download" that makes progress on a timer, and a checksum computed on the blocking pool (a thread
 * Luminal starts on first use), awaited by a task. Every poll runs on this thread, which we check.
 */
#include <luminal.h>

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MS 1000000ull
#define FRAME_NS (16 * MS)

static pthread_t g_ui_thread;
static int g_progress;      /* written by the download task, read by the frames: the same thread, no lock */
static uint64_t g_checksum; /* 0 until the checksum task is done */

static int fail(const char *what, luminal_status s) {
  fprintf(stderr, "%s: %s\n", what, luminal_status_str(s));
  exit(1);
}

static void on_ui_thread(void) {
  if (!pthread_equal(pthread_self(), g_ui_thread)) {
    fprintf(stderr, "a task ran off the UI thread\n");
    exit(1);
  }
}

/* ---- the download: ten steps of 25 ms, each a luminal_sleep ---- */

typedef struct download {
  luminal_runtime *rt;
  luminal_future sleep;
  int sleeping;
} download;

static luminal_poll download_poll(void *state, luminal_context *cx, void **out) {
  download *d = state;
  on_ui_thread();
  while (g_progress < 100) {
    if (!d->sleeping) {
      luminal_status s = luminal_sleep(d->rt, 25 * MS, &d->sleep);
      if (s != LUMINAL_OK) fail("luminal_sleep", s);
      d->sleeping = 1;
    }
    void *o;
    if (d->sleep.poll(d->sleep.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    d->sleep.drop(d->sleep.state);
    d->sleeping = 0;
    g_progress += 10;
  }
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static void download_drop(void *state) {
  download *d = state;
  if (d->sleeping) d->sleep.drop(d->sleep.state);
  free(d);
}

/* ---- the checksum: computed on the blocking pool, awaited by a task ---- */

static void *checksum(void *arg) {
  uint64_t n = (uint64_t)(uintptr_t)arg, h = 1469598103934665603ull;
  for (uint64_t i = 0; i < n; i++) h = (h ^ i) * 1099511628211ull; /* FNV-1a over 0..n-1 */
  return (void *)(uintptr_t)h;
}

static luminal_poll await_checksum_poll(void *state, luminal_context *cx, void **out) {
  on_ui_thread();
  void *result = NULL;
  luminal_status s = luminal_task_poll((luminal_task *)state, cx, &result);
  if (s == LUMINAL_PENDING) return LUMINAL_POLL_PENDING; /* the pool thread's completion wakes us (via the fd) */
  if (s != LUMINAL_OK) fail("luminal_task_poll", s);
  g_checksum = (uint64_t)(uintptr_t)result;
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static void await_checksum_drop(void *state) { luminal_task_release((luminal_task *)state); }

int main(void) {
  g_ui_thread = pthread_self();
  luminal_runtime_options o = {0};
  o.struct_size = sizeof o;
  o.flavor = LUMINAL_FLAVOR_CURRENT_THREAD;
  luminal_runtime *rt = NULL;
  luminal_status s = luminal_runtime_new(&o, &rt);
  if (s != LUMINAL_OK) fail("luminal_runtime_new", s);
  int wakeup = -1;
  if ((s = luminal_runtime_wakeup_fd(rt, &wakeup)) != LUMINAL_OK) fail("luminal_runtime_wakeup_fd", s);

  download *d = calloc(1, sizeof *d);
  d->rt = rt;
  luminal_future df = {d, download_poll, download_drop, NULL};
  luminal_task *dl = NULL, *sum = NULL, *blocking = NULL;
  if ((s = luminal_spawn(rt, df, &dl)) != LUMINAL_OK) fail("luminal_spawn", s);
  if ((s = luminal_spawn_blocking(rt, checksum, (void *)(uintptr_t)20000000, &blocking)) != LUMINAL_OK)
    fail("luminal_spawn_blocking", s);
  luminal_future cf = {blocking, await_checksum_poll, await_checksum_drop, NULL};
  if ((s = luminal_spawn(rt, cf, &sum)) != LUMINAL_OK) fail("luminal_spawn", s);

  uint64_t start = luminal_now_ns(), next_frame = start;
  unsigned frames = 0, polls = 0, runs = 0;
  while (!luminal_task_is_finished(dl) || !luminal_task_is_finished(sum)) {
    uint64_t now = luminal_now_ns();
    if (now >= next_frame) { /* "draw" a frame */
      if (frames % 8 == 0)
        printf("frame %3u  download %3d%%  checksum %s\n", frames, g_progress, g_checksum ? "done" : "running");
      frames++;
      next_frame += FRAME_NS;
    }
    /* Sleep until the next frame, the runtime's next timer, or its fd (a woken task), whichever comes first. */
    uint64_t wake_at = next_frame, deadline = UINT64_MAX;
    luminal_runtime_next_deadline_ns(rt, &deadline); /* same clock as luminal_now_ns (not paused) */
    if (deadline < wake_at) wake_at = deadline;
    now = luminal_now_ns();
    int timeout_ms = wake_at <= now ? 0 : (int)((wake_at - now + MS - 1) / MS);
    struct pollfd p = {wakeup, POLLIN, 0};
    poll(&p, 1, timeout_ms);
    /* Between frames: run what is ready, with a budget so a busy task cannot stall the UI. */
    uint32_t polled = 0;
    if ((s = luminal_runtime_run(rt, 64, 2 * MS, &polled)) != LUMINAL_OK) fail("luminal_runtime_run", s);
    polls += polled;
    runs++;
  }
  printf("done after %u frames (%.0f ms): download %d%%, checksum %016llx, %u polls in %u runs, all on this thread\n",
         frames, (luminal_now_ns() - start) / 1e6, g_progress, (unsigned long long)g_checksum, polls, runs);

  luminal_task_release(dl);
  luminal_task_release(sum);
  luminal_runtime_release(rt); /* the last handle: shuts it down on this thread (nothing is left to drop) */
  return g_progress == 100 && g_checksum == (uint64_t)(uintptr_t)checksum((void *)(uintptr_t)20000000) ? 0 : 1;
}
