/* Regression tests for races found in review: shutdown overlapping a block_on poll, cancelling IO queued behind a
 * busy pool thread. Each is arranged deterministically (no sleeps deciding the outcome). */
#include "test_util.h"

#include <pthread.h>
#include <unistd.h>

static void *shutdown_thread(void *rt) {
  luminal_runtime_shutdown((luminal_runtime *)rt, UINT64_MAX);
  return NULL;
}

static atomic_int g_drops;
static void count_drop(void *s) {
  (void)s;
  atomic_fetch_add(&g_drops, 1);
}

/* The poll itself runs the whole shutdown (on another thread, joined here), so the shutdown's sweep sees this
 * block_on task RUNNING and skips it; the poll then returns PENDING with nothing left to wake it. */
static luminal_poll shutdown_during_poll(void *s, luminal_context *cx, void **out) {
  (void)cx, (void)out;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, shutdown_thread, s) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  return LUMINAL_POLL_PENDING;
}

TEST(block_on_returns_shutdown_when_shutdown_overlaps_its_poll) {
  luminal_runtime *rt = tu_runtime(2);
  atomic_store(&g_drops, 0);
  void *out = (void *)1;
  CHECK_ST(luminal_block_on(rt, (luminal_future){rt, shutdown_during_poll, count_drop, NULL}, &out),
           LUMINAL_E_SHUTDOWN);
  CHECK_EQ(atomic_load(&g_drops), 1);
  luminal_runtime_release(rt);
}

/* Pool backend with one pool thread: a stream read on an idle pipe occupies it; a second read waits in the queue.
 * Aborting the second must cancel it at once, not when the first read ends. */
TEST(pool_io_cancel_of_a_queued_read_does_not_wait_for_the_busy_thread) {
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 1;
  o.max_blocking_threads = 1;
  o.io_backend = LUMINAL_IO_POOL;
  luminal_runtime *rt = NULL;
  CHECK_ST(luminal_runtime_new(&o, &rt), LUMINAL_OK);
  int32_t p1[2], p2[2];
  CHECK_ST(luminal_pipe(p1, NULL), LUMINAL_OK);
  CHECK_ST(luminal_pipe(p2, NULL), LUMINAL_OK);
  static uint8_t b1[16], b2[16];
  memset(b2, 0xAB, sizeof b2);
  luminal_io_result r1, r2;
  luminal_future f1, f2;
  CHECK_ST(luminal_stream_read(rt, p1[0], b1, sizeof b1, &r1, &f1), LUMINAL_OK);
  CHECK_ST(luminal_stream_read(rt, p2[0], b2, sizeof b2, &r2, &f2), LUMINAL_OK);
  luminal_task *t1 = tu_spawn(rt, f1);
  tu_sleep_ms(50); /* let the first occupy the only pool thread (if not, the test still checks the same thing) */
  luminal_task *t2 = tu_spawn(rt, f2);
  tu_sleep_ms(50);
  luminal_task_abort(t2);
  uint64_t t0 = tu_now_ns();
  CHECK_ST(luminal_task_join(t2, MS_NS(5000), NULL), LUMINAL_E_CANCELLED);
  CHECK_MSG(tu_now_ns() - t0 < MS_NS(4000), "the abort waited for the busy pool thread");
  /* the abandoned buffer is never written, even once data arrives */
  CHECK(write(p2[1], "zz", 2) == 2);
  tu_sleep_ms(50);
  for (size_t i = 0; i < sizeof b2; i++) CHECK_EQ(b2[i], 0xAB);
  /* the first read is unaffected */
  CHECK(write(p1[1], "ok", 2) == 2);
  void *out = NULL;
  CHECK_ST(luminal_task_join(t1, UINT64_MAX, &out), LUMINAL_OK);
  CHECK(out == &r1);
  CHECK_EQ(r1.status, LUMINAL_OK);
  CHECK_EQ(r1.value, 2);
  luminal_task_release(t1);
  luminal_task_release(t2);
  close(p1[0]), close(p1[1]), close(p2[0]), close(p2[1]);
  tu_runtime_done(rt);
}
