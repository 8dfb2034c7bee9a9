/* Completion bursts bigger than io_uring's completion ring, on BOTH backends (IO_TEST; the pool backend has no ring
 * and must give the same answers). */
#include "test_io_util.h"

/* A task awaiting one one-byte stream read; counts itself done. */
typedef struct burst_reader {
  luminal_future read;
  luminal_io_result result;
  char byte;
} burst_reader;

static atomic_int g_burst_done;

static luminal_poll burst_reader_poll(void *state, luminal_context *cx, void **output) {
  burst_reader *r = (burst_reader *)state;
  if (r->read.poll(r->read.state, cx, output) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
  atomic_fetch_add(&g_burst_done, 1);
  *output = NULL;
  return LUMINAL_POLL_READY;
}

static void burst_reader_drop(void *state) {
  burst_reader *r = (burst_reader *)state;
  if (r->read.drop) r->read.drop(r->read.state);
}

/* Holds its worker inside one poll (that worker reaps nothing meanwhile): `holder` until the test lets it go,
 * `waiter` until every read is done (or 10 s). */
typedef struct burst_spinner {
  atomic_int *started, *release;
  int all, is_waiter, finished_in_time;
} burst_spinner;

static luminal_poll burst_spin_poll(void *state, luminal_context *cx, void **output) {
  (void)cx;
  burst_spinner *s = (burst_spinner *)state;
  atomic_fetch_add(s->started, 1);
  uint64_t deadline = tu_now_ns() + 10ull * 1000000000ull;
  if (s->is_waiter)
    while (atomic_load(&g_burst_done) < s->all && tu_now_ns() < deadline) {
    }
  else
    while (!atomic_load(s->release) && tu_now_ns() < deadline) {
    }
  s->finished_in_time = atomic_load(&g_burst_done) == s->all;
  *output = NULL;
  return LUMINAL_POLL_READY;
}

/* 16,000 reads complete while both workers are held in long polls: the completion ring holds 8,192, and the
 * kernel keeps the rest in its overflow list. Then one worker is let go. The other is still awake, so the freed one
 * only watches the ring (it never sleeps in it): the overflowed completions must be moved in by its reaping, not by
 * a sleeper's wait, and every read completes while the other spinner still holds its worker. */
IO_TEST(io_completion_burst_beyond_the_ring_with_a_busy_worker) {
  enum { PIPES = 800, PER_PIPE = 20, N = PIPES * PER_PIPE };
  iou_allow_pipes(PIPES);
  int(*fds)[2] = calloc(PIPES, sizeof *fds);
  burst_reader *readers = calloc(N, sizeof(burst_reader));
  CHECK(fds != NULL && readers != NULL);
  for (int p = 0; p < PIPES; p++) CHECK(pipe(fds[p]) == 0);
  luminal_runtime *rt = iou_runtime(2);
  atomic_store(&g_burst_done, 0);
  for (int i = 0; i < N; i++) {
    burst_reader *r = &readers[i];
    CHECK_ST(luminal_stream_read(rt, fds[i % PIPES][0], &r->byte, 1, &r->result, &r->read), LUMINAL_OK);
    CHECK_ST(luminal_spawn(rt, (luminal_future){r, burst_reader_poll, burst_reader_drop, NULL}, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(iou_in_flight(rt) == (uint64_t)N); /* every read submitted and waiting */
  atomic_int started, release;
  atomic_init(&started, 0);
  atomic_init(&release, 0);
  burst_spinner holder = {.started = &started, .release = &release, .all = N};
  burst_spinner waiter = {.started = &started, .release = &release, .all = N, .is_waiter = 1};
  luminal_task *h = tu_spawn(rt, (luminal_future){&holder, burst_spin_poll, NULL, NULL});
  luminal_task *w = tu_spawn(rt, (luminal_future){&waiter, burst_spin_poll, NULL, NULL});
  WAIT_UNTIL(atomic_load(&started) == 2); /* both running at once: one on each worker */
  char ones[PER_PIPE];
  memset(ones, 1, sizeof ones);
  for (int p = 0; p < PIPES; p++) CHECK_EQ(write(fds[p][1], ones, sizeof ones), (ssize_t)sizeof ones);
  tu_sleep_ms(100); /* the kernel posts the completions (task work, run by the spinning workers) */
  atomic_store(&release, 1);
  CHECK_ST(luminal_task_join(h, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_ST(luminal_task_join(w, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(h);
  luminal_task_release(w);
  CHECK_MSG(waiter.finished_in_time, "%d of %d reads completed while a worker was held", atomic_load(&g_burst_done), N);
  WAIT_UNTIL(atomic_load(&g_burst_done) == N);
  for (int i = 0; i < N; i++) {
    CHECK_ST((luminal_status)readers[i].result.status, LUMINAL_OK);
    CHECK_EQ(readers[i].result.value, 1);
  }
  tu_runtime_done(rt);
  for (int p = 0; p < PIPES; p++) close(fds[p][0]), close(fds[p][1]);
  free(readers);
  free(fds);
}
