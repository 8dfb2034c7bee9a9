/* The oneshot (luminal_oneshot_*): delivery, closing from either side, exactly-once drops of the value and of the
 * recv future, races of send against the receiver's release, fork, misuse. */
#include "test_util.h"
#include <sys/wait.h>
#include <unistd.h>

static atomic_long g_os_drops;
static void os_drop(void *m) {
  (void)m;
  atomic_fetch_add(&g_os_drops, 1);
}

#define OMSG(i) ((void *)(uintptr_t)((i) + 1))

static void oneshot(luminal_runtime *rt, luminal_oneshot_sender **tx, luminal_oneshot_receiver **rx) {
  CHECK_ST(luminal_oneshot_new(rt, os_drop, tx, rx), LUMINAL_OK);
  CHECK(*tx != NULL && *rx != NULL);
}

TEST(oneshot_send_wakes_recv) {
  luminal_runtime *rt = tu_runtime(2);
  atomic_store(&g_os_drops, 0);
  for (int i = 0; i < 200; i++) {
    luminal_oneshot_sender *tx;
    luminal_oneshot_receiver *rx;
    oneshot(rt, &tx, &rx);
    void *msg = NULL;
    luminal_status st = LUMINAL_PENDING;
    luminal_future f;
    luminal_task *t;
    CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
    CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
    if (i % 2) tu_sleep_ms(0); /* sometimes the recv is pending first, sometimes not */
    CHECK_ST(luminal_oneshot_send(tx, OMSG(i)), LUMINAL_OK);
    CHECK_ST(luminal_oneshot_send(tx, OMSG(i)), LUMINAL_E_INVALID_HANDLE); /* the send released tx */
    luminal_oneshot_sender_release(tx);                                  /* ignored */
    CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(t);
    CHECK_ST(st, LUMINAL_OK);
    CHECK(msg == OMSG(i));
    CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_E_CLOSED); /* received already */
    CHECK(msg == NULL);
    luminal_oneshot_receiver_release(rx);
  }
  CHECK_EQ(atomic_load(&g_os_drops), 0);
  tu_runtime_done(rt);
}

TEST(oneshot_try_recv_and_sender_gone) {
  luminal_runtime *rt = tu_runtime(1);
  atomic_store(&g_os_drops, 0);
  luminal_oneshot_sender *tx;
  luminal_oneshot_receiver *rx;
  void *msg = (void *)1;
  luminal_status st = LUMINAL_PENDING;
  luminal_future f;
  /* try_recv: EMPTY, then the value, then CLOSED */
  oneshot(rt, &tx, &rx);
  CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_E_EMPTY);
  CHECK(msg == NULL);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(5)), LUMINAL_OK);
  CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_OK);
  CHECK(msg == OMSG(5));
  CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_E_CLOSED);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
  void *out = (void *)1;
  CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
  CHECK(out == NULL);
  CHECK_ST(st, LUMINAL_E_CLOSED);
  luminal_oneshot_receiver_release(rx);
  /* the sender released without sending: a pending recv wakes with CLOSED, try_recv answers it */
  oneshot(rt, &tx, &rx);
  luminal_task *t;
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  luminal_oneshot_sender_release(tx);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_ST(st, LUMINAL_E_CLOSED);
  CHECK(msg == NULL);
  CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_E_CLOSED);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(1)), LUMINAL_E_INVALID_HANDLE);
  luminal_oneshot_receiver_release(rx);
  CHECK_EQ(atomic_load(&g_os_drops), 0);
  tu_runtime_done(rt);
}

TEST(oneshot_drops_exactly_once) {
  luminal_runtime *rt = tu_runtime(1);
  atomic_store(&g_os_drops, 0);
  luminal_oneshot_sender *tx;
  luminal_oneshot_receiver *rx;
  void *msg;
  luminal_status st;
  luminal_future f;
  /* sent, never received: dropped when the receiver goes */
  oneshot(rt, &tx, &rx);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(1)), LUMINAL_OK);
  CHECK_EQ(atomic_load(&g_os_drops), 0);
  luminal_oneshot_receiver_release(rx);
  CHECK_EQ(atomic_load(&g_os_drops), 1);
  luminal_oneshot_receiver_release(rx);
  CHECK_EQ(atomic_load(&g_os_drops), 1);
  /* the receiver gone first: the send answers CLOSED and the value stays ours (not dropped) */
  oneshot(rt, &tx, &rx);
  luminal_oneshot_receiver_release(rx);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(2)), LUMINAL_E_CLOSED);
  CHECK_EQ(atomic_load(&g_os_drops), 1);
  /* a pending recv future keeps the receiver side open; its drop ends it and drops the unreceived value */
  oneshot(rt, &tx, &rx);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
  luminal_oneshot_receiver_release(rx);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(3)), LUMINAL_OK);
  CHECK_EQ(atomic_load(&g_os_drops), 1);
  f.drop(f.state);
  CHECK_EQ(atomic_load(&g_os_drops), 2);
  f.drop(f.state); /* twice: harmless */
  void *out = (void *)1;
  CHECK(f.poll(f.state, NULL, &out) == LUMINAL_POLL_READY && out == NULL); /* polled after its drop */
  CHECK_EQ(atomic_load(&g_os_drops), 2);
  /* the future received it: nothing to drop */
  oneshot(rt, &tx, &rx);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(4)), LUMINAL_OK);
  luminal_oneshot_receiver_release(rx);
  CHECK_ST(luminal_block_on(rt, f, &out), LUMINAL_OK);
  CHECK_ST(st, LUMINAL_OK);
  CHECK(msg == OMSG(4));
  CHECK_EQ(atomic_load(&g_os_drops), 2);
  /* a recv future polled with a NULL context completes with the reason and gives up its claim as a drop would */
  oneshot(rt, &tx, &rx);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
  luminal_oneshot_receiver_release(rx);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(5)), LUMINAL_OK);
  CHECK(f.poll(f.state, NULL, &out) == LUMINAL_POLL_READY);
  CHECK_ST(st, LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(atomic_load(&g_os_drops), 3);
  f.drop(f.state);
  CHECK_EQ(atomic_load(&g_os_drops), 3);
  /* the runtime's shutdown drops a spawned pending recv (the value, never sent, is nobody's) */
  oneshot(rt, &tx, &rx);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, f, NULL), LUMINAL_OK);
  tu_runtime_done(rt);
  luminal_oneshot_receiver_release(rx);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(6)), LUMINAL_E_CLOSED);
  CHECK_EQ(atomic_load(&g_os_drops), 3);
}

/* Sends racing the receiver's release, from another thread: every value is either received or dropped, once. */
typedef struct {
  luminal_oneshot_sender *tx[2000];
  atomic_long ok, closed;
} race_arg;
static void *race_sender(void *p) {
  race_arg *a = p;
  for (int i = 0; i < 2000; i++) {
    luminal_status s = luminal_oneshot_send(a->tx[i], OMSG(i));
    if (s == LUMINAL_OK) atomic_fetch_add(&a->ok, 1);
    else if (s == LUMINAL_E_CLOSED) atomic_fetch_add(&a->closed, 1);
    else TEST_FAIL("send: %d", (int)s);
  }
  return NULL;
}
TEST(oneshot_send_races_receiver_release) {
  luminal_runtime *rt = tu_runtime(1);
  atomic_store(&g_os_drops, 0);
  static race_arg a;
  static luminal_oneshot_receiver *rx[2000];
  atomic_store(&a.ok, 0);
  atomic_store(&a.closed, 0);
  for (int i = 0; i < 2000; i++) oneshot(rt, &a.tx[i], &rx[i]);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, race_sender, &a) == 0);
  long received = 0;
  for (int i = 0; i < 2000; i++) {
    void *m;
    if (i % 3 == 0 && luminal_oneshot_try_recv(rx[i], &m) == LUMINAL_OK) received++;
    luminal_oneshot_receiver_release(rx[i]);
  }
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_EQ(atomic_load(&a.ok) + atomic_load(&a.closed), 2000);
  CHECK_EQ(received + atomic_load(&g_os_drops), atomic_load(&a.ok));
  tu_runtime_done(rt);
}

TEST(oneshot_misuse) {
  luminal_runtime *rt = tu_runtime(1);
  atomic_store(&g_os_drops, 0);
  luminal_oneshot_sender *tx;
  luminal_oneshot_receiver *rx;
  luminal_status st;
  luminal_future f, g;
  void *msg;
  CHECK_ST(luminal_oneshot_new(NULL, NULL, &tx, &rx), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_new(rt, NULL, NULL, &rx), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_new(rt, NULL, &tx, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_new((luminal_runtime *)(uintptr_t)0x1234567, NULL, &tx, &rx), LUMINAL_E_INVALID_HANDLE);
  oneshot(rt, &tx, &rx);
  luminal_sender *ctx;
  luminal_receiver *crx;
  CHECK_ST(luminal_channel_new(rt, NULL, &ctx, &crx), LUMINAL_OK);
  /* NULL */
  CHECK_ST(luminal_oneshot_send(NULL, OMSG(0)), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_try_recv(NULL, &msg), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_try_recv(rx, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_recv(NULL, &msg, &st, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(f.poll == NULL);
  CHECK_ST(luminal_oneshot_recv(rx, NULL, &st, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, NULL), LUMINAL_E_INVALID_ARGUMENT);
  luminal_oneshot_sender_release(NULL);
  luminal_oneshot_receiver_release(NULL);
  /* wrong types: channel handles are not oneshot handles and back; tx is not rx */
  CHECK_ST(luminal_oneshot_send((luminal_oneshot_sender *)ctx, OMSG(0)), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_oneshot_send((luminal_oneshot_sender *)rx, OMSG(0)), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_oneshot_try_recv((luminal_oneshot_receiver *)crx, &msg), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_oneshot_try_recv((luminal_oneshot_receiver *)tx, &msg), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_channel_try_send((luminal_sender *)tx, OMSG(0)), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_channel_try_recv((luminal_receiver *)rx, &msg), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_oneshot_send((luminal_oneshot_sender *)rt, OMSG(0)), LUMINAL_E_INVALID_HANDLE);
  luminal_oneshot_sender_release((luminal_oneshot_sender *)rx);   /* ignored */
  luminal_oneshot_receiver_release((luminal_oneshot_receiver *)tx); /* ignored */
  luminal_sender_release((luminal_sender *)tx);                   /* ignored */
  luminal_receiver_release((luminal_receiver *)rx);               /* ignored */
  /* forged */
  CHECK_ST(luminal_oneshot_send((luminal_oneshot_sender *)(uintptr_t)0xdeadbeef1ull, OMSG(0)),
           LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_oneshot_send((luminal_oneshot_sender *)((uintptr_t)tx + (1ull << 32)), OMSG(0)),
           LUMINAL_E_INVALID_HANDLE);
  /* one recv future at a time; a future's state is not a handle */
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &g), LUMINAL_E_ALREADY_TAKEN);
  CHECK(g.poll == NULL);
  CHECK_ST(luminal_oneshot_try_recv((luminal_oneshot_receiver *)f.state, &msg), LUMINAL_E_INVALID_HANDLE);
  f.drop(f.state);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &g), LUMINAL_OK); /* the first one is gone */
  g.drop(g.state);
  /* everything still works after the misuse */
  CHECK_ST(luminal_oneshot_send(tx, OMSG(9)), LUMINAL_OK);
  CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_OK);
  CHECK(msg == OMSG(9));
  /* released */
  luminal_oneshot_receiver_release(rx);
  luminal_oneshot_receiver_release(rx);
  CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_E_INVALID_HANDLE);
  CHECK(f.poll == NULL);
  luminal_sender_release(ctx);
  luminal_receiver_release(crx);
  /* a shut-down runtime makes none */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_oneshot_new(rt, NULL, &tx, &rx), LUMINAL_E_SHUTDOWN);
  CHECK(tx == NULL && rx == NULL);
  luminal_runtime_release(rt);
  CHECK_EQ(atomic_load(&g_os_drops), 0);
}

/* Both handles are tokens of the oneshot's one cell (the sender's generation is the cell's life, the receiver's one
 * more, the next life two more): handles of a finished oneshot never act on the next oneshot made from that cell,
 * and neither role's token passes for the other's. */
TEST(oneshot_stale_handles_of_a_reused_cell) {
  luminal_runtime *rt = tu_runtime(1);
  atomic_store(&g_os_drops, 0);
  for (int round = 0; round < 64; round++) {
    luminal_oneshot_sender *tx1, *tx2;
    luminal_oneshot_receiver *rx1, *rx2;
    void *msg = NULL;
    oneshot(rt, &tx1, &rx1);
    CHECK_ST(luminal_oneshot_send(tx1, OMSG(1)), LUMINAL_OK);
    CHECK_ST(luminal_oneshot_try_recv(rx1, &msg), LUMINAL_OK);
    luminal_oneshot_receiver_release(rx1); /* the cell's last handle: it goes back to the pool */
    oneshot(rt, &tx2, &rx2);             /* most likely from the same cell */
    CHECK((void *)tx2 != (void *)rx1 && (void *)rx2 != (void *)tx1 && (void *)tx2 != (void *)tx1);
    CHECK_ST(luminal_oneshot_send(tx1, OMSG(2)), LUMINAL_E_INVALID_HANDLE);
    CHECK_ST(luminal_oneshot_try_recv(rx1, &msg), LUMINAL_E_INVALID_HANDLE);
    luminal_status st;
    luminal_future f;
    CHECK_ST(luminal_oneshot_recv(rx1, &msg, &st, &f), LUMINAL_E_INVALID_HANDLE);
    luminal_oneshot_sender_release(tx1);   /* ignored: not the new sender's */
    luminal_oneshot_receiver_release(rx1); /* ignored: not the new receiver's */
    CHECK_ST(luminal_oneshot_try_recv(rx2, &msg), LUMINAL_E_EMPTY);
    CHECK_ST(luminal_oneshot_send(tx2, OMSG(3)), LUMINAL_OK);
    CHECK_ST(luminal_oneshot_try_recv(rx2, &msg), LUMINAL_OK);
    CHECK(msg == OMSG(3));
    /* the sender's one use: a second release or a send after the release does nothing */
    luminal_oneshot_receiver_release(rx2);
    oneshot(rt, &tx1, &rx1);
    luminal_oneshot_sender_release(tx1);
    luminal_oneshot_sender_release(tx1);
    CHECK_ST(luminal_oneshot_send(tx1, OMSG(4)), LUMINAL_E_INVALID_HANDLE);
    CHECK_ST(luminal_oneshot_try_recv(rx1, &msg), LUMINAL_E_CLOSED);
    luminal_oneshot_receiver_release(rx1);
  }
  tu_runtime_done(rt);
  CHECK_EQ(atomic_load(&g_os_drops), 0);
}

/* A oneshot inherited across fork is refused (FORKED) and left alone; the child's own works. */
TEST(oneshot_forked) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_oneshot_sender *tx;
  luminal_oneshot_receiver *rx;
  oneshot(rt, &tx, &rx);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(20);
    void *msg;
    luminal_status st;
    luminal_future f;
    CHECK_ST(luminal_oneshot_send(tx, OMSG(1)), LUMINAL_E_FORKED);
    CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_E_FORKED);
    CHECK_ST(luminal_oneshot_recv(rx, &msg, &st, &f), LUMINAL_E_FORKED);
    luminal_oneshot_sender_release(tx);
    luminal_oneshot_receiver_release(rx);
    CHECK_ST(luminal_oneshot_new(rt, NULL, &tx, &rx), LUMINAL_E_FORKED);
    luminal_runtime *own = tu_runtime(1);
    oneshot(own, &tx, &rx);
    CHECK_ST(luminal_oneshot_send(tx, OMSG(2)), LUMINAL_OK);
    CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_OK);
    luminal_oneshot_receiver_release(rx);
    tu_runtime_done(own);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)", status);
  CHECK_ST(luminal_oneshot_send(tx, OMSG(3)), LUMINAL_OK); /* the parent's is untouched */
  void *msg;
  CHECK_ST(luminal_oneshot_try_recv(rx, &msg), LUMINAL_OK);
  CHECK(msg == OMSG(3));
  luminal_oneshot_receiver_release(rx);
  tu_runtime_done(rt);
}

/* Creating, using and releasing sync objects and their futures allocates no managed memory once warm: the
 * library's GC count does not move over many rounds (each round would allocate a few hundred bytes per object if
 * they were managed allocations: thousands of rounds pass several GC budgets). */
static void sync_round(luminal_runtime *rt) {
  void *msg;
  luminal_status st;
  luminal_future f;
  luminal_oneshot_sender *otx;
  luminal_oneshot_receiver *orx;
  CHECK_ST(luminal_oneshot_new(rt, os_drop, &otx, &orx), LUMINAL_OK);
  CHECK_ST(luminal_oneshot_recv(orx, &msg, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_oneshot_send(otx, OMSG(1)), LUMINAL_OK);
  f.drop(f.state);
  luminal_oneshot_receiver_release(orx); /* drops the value */
  luminal_sender *tx;
  luminal_receiver *rx;
  luminal_channel_options o = {sizeof o, 1, os_drop};
  CHECK_ST(luminal_channel_new(rt, &o, &tx, &rx), LUMINAL_OK);
  luminal_sender *tx2 = luminal_sender_clone(tx);
  CHECK_ST(luminal_channel_try_send(tx2, OMSG(2)), LUMINAL_OK);
  CHECK_ST(luminal_channel_send(tx, OMSG(3), &st, &f), LUMINAL_OK);
  f.drop(f.state); /* drops its message */
  CHECK_ST(luminal_channel_recv(rx, &msg, &st, &f), LUMINAL_OK);
  f.drop(f.state);
  luminal_sender_release(tx);
  luminal_sender_release(tx2);
  luminal_receiver_release(rx); /* drops the queued one */
  luminal_notify *n;
  CHECK_ST(luminal_notify_new(rt, &n), LUMINAL_OK);
  CHECK_ST(luminal_notify_wait(n, &f), LUMINAL_OK);
  CHECK_ST(luminal_notify_one(n), LUMINAL_OK);
  f.drop(f.state);
  luminal_notify_release(n);
  luminal_semaphore *sem;
  CHECK_ST(luminal_semaphore_new(rt, 1, &sem), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_acquire(sem, 2, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(sem, 1), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_add_permits(sem, 1), LUMINAL_OK);
  f.drop(f.state);
  luminal_semaphore_release(sem);
}

TEST(sync_objects_allocate_no_managed_memory) {
  luminal_runtime *rt = tu_runtime(1);
  atomic_store(&g_os_drops, 0);
  for (int i = 0; i < 2000; i++) sync_round(rt); /* warm: pools and slot tables grown */
  uint64_t before = luminal_debug_gc_count();
  enum { ROUNDS = 300000 }; /* ~50 MB if each round allocated its objects: several gen0 budgets */
  for (int i = 0; i < ROUNDS; i++) sync_round(rt);
  uint64_t after = luminal_debug_gc_count();
  CHECK_MSG(after == before, "%llu GCs over %d rounds", (unsigned long long)(after - before), ROUNDS);
  CHECK_EQ(atomic_load(&g_os_drops), (long)(2000 + ROUNDS) * 3);
  tu_runtime_done(rt);
}
