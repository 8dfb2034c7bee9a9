/* Channels, notify and semaphores (luminal_channel_*, luminal_notify_*, luminal_semaphore_*): ordering, closing,
 * cancellation safety, exactly-once drops of messages and futures, misuse. The futures are spawned or block_on'ed
 * directly, or polled in a fixed order by `multi` (below) so that their arrival order is known. */
#include "test_util.h"

/* ---- helpers --------------------------------------------------------------------------------------------- */

static atomic_long g_msg_drops;
static void count_drop(void *m) {
  (void)m;
  atomic_fetch_add(&g_msg_drops, 1);
}

#define MSG(i) ((void *)(uintptr_t)((i) + 1))
#define MSG_ID(p) ((long)(uintptr_t)(p)-1)

static void channel(luminal_runtime *rt, size_t cap, luminal_sender **tx, luminal_receiver **rx) {
  luminal_channel_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.capacity = cap;
  o.drop_message = count_drop;
  CHECK_ST(luminal_channel_new(rt, &o, tx, rx), LUMINAL_OK);
  CHECK(*tx != NULL && *rx != NULL);
}

/* Polls up to 64 futures in index order at every poll (so the first poll registers them in that order); records
 * the order in which they complete. READY when all are. */
#define MULTI_MAX 64
typedef struct multi {
  int n;
  luminal_future f[MULTI_MAX];
  int done[MULTI_MAX];
  int order[MULTI_MAX];
  atomic_int ndone;
  atomic_int polls;
} multi;

static luminal_poll multi_poll(void *state, luminal_context *cx, void **out) {
  multi *m = (multi *)state;
  *out = NULL;
  for (int i = 0; i < m->n; i++) {
    if (m->done[i]) continue;
    void *o = NULL;
    if (m->f[i].poll(m->f[i].state, cx, &o) == LUMINAL_POLL_READY) {
      m->done[i] = 1;
      if (m->f[i].drop) m->f[i].drop(m->f[i].state);
      m->order[atomic_load(&m->ndone)] = i;
      atomic_fetch_add(&m->ndone, 1);
    }
  }
  atomic_fetch_add(&m->polls, 1);
  return atomic_load(&m->ndone) == m->n ? LUMINAL_POLL_READY : LUMINAL_POLL_PENDING;
}

static void multi_drop(void *state) {
  multi *m = (multi *)state;
  for (int i = 0; i < m->n; i++)
    if (!m->done[i] && m->f[i].drop) m->f[i].drop(m->f[i].state);
}

static luminal_future multi_future(multi *m) {
  luminal_future f = {m, multi_poll, multi_drop, NULL};
  return f;
}

/* Spawns m and waits until its first poll registered every future. */
static luminal_task *multi_spawn(luminal_runtime *rt, multi *m) {
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn(rt, multi_future(m), &t), LUMINAL_OK);
  WAIT_UNTIL(atomic_load(&m->polls) >= 1);
  return t;
}

static luminal_status run(luminal_runtime *rt, luminal_future f) {
  void *out = (void *)1;
  luminal_status st = luminal_block_on(rt, f, &out);
  CHECK(out == NULL);
  return st;
}

/* True if `f` is still pending after 30 ms (it is dropped either way). */
static int stays_pending(luminal_runtime *rt, luminal_future f) {
  luminal_future t;
  CHECK_ST(luminal_timeout(rt, f, MS_NS(30), &t), LUMINAL_OK);
  void *out = NULL;
  CHECK_ST(luminal_block_on(rt, t, &out), LUMINAL_OK);
  return out == LUMINAL_TIMED_OUT_OUTPUT;
}

/* ---- channels -------------------------------------------------------------------------------------------- */

TEST(channel_fifo_and_close) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_sender *tx;
  luminal_receiver *rx;
  channel(rt, 0, &tx, &rx);
  luminal_sender *tx2 = luminal_sender_clone(tx);
  CHECK(tx2 != NULL);
  for (int i = 0; i < 5000; i++) CHECK_ST(luminal_channel_try_send(i % 2 ? tx : tx2, MSG(i)), LUMINAL_OK);
  void *m = NULL;
  for (int i = 0; i < 5000; i++) {
    CHECK_ST(luminal_channel_try_recv(rx, &m), LUMINAL_OK);
    CHECK_EQ(MSG_ID(m), i);
  }
  CHECK_ST(luminal_channel_try_recv(rx, &m), LUMINAL_E_EMPTY);
  CHECK(m == NULL);
  /* recv futures: one queued message, then CLOSED once every sender is gone */
  CHECK_ST(luminal_channel_try_send(tx, MSG(7)), LUMINAL_OK);
  luminal_status st = LUMINAL_PENDING;
  luminal_future f;
  CHECK_ST(luminal_channel_recv(rx, &m, &st, &f), LUMINAL_OK);
  CHECK_ST(run(rt, f), LUMINAL_OK);
  CHECK_ST(st, LUMINAL_OK);
  CHECK_EQ(MSG_ID(m), 7);
  luminal_task *t;
  CHECK_ST(luminal_channel_recv(rx, &m, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  luminal_sender_release(tx);
  CHECK_ST(luminal_task_join(t, MS_NS(30), NULL), LUMINAL_E_TIMED_OUT); /* tx2 still open */
  luminal_sender_release(tx2);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_ST(st, LUMINAL_E_CLOSED);
  CHECK(m == NULL);
  CHECK_ST(luminal_channel_try_recv(rx, &m), LUMINAL_E_CLOSED);
  luminal_receiver_release(rx);
  CHECK_EQ(atomic_load(&g_msg_drops), 0);
  tu_runtime_done(rt);
}

TEST(channel_bounded_waiting_senders_fifo) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_sender *tx;
  luminal_receiver *rx;
  channel(rt, 2, &tx, &rx);
  CHECK_ST(luminal_channel_try_send(tx, MSG(0)), LUMINAL_OK);
  CHECK_ST(luminal_channel_try_send(tx, MSG(1)), LUMINAL_OK);
  CHECK_ST(luminal_channel_try_send(tx, MSG(99)), LUMINAL_E_FULL); /* stays ours: no drop */
  static multi m;
  memset(&m, 0, sizeof m);
  m.n = 40;
  luminal_status res[40];
  for (int i = 0; i < m.n; i++) CHECK_ST(luminal_channel_send(tx, MSG(i + 2), &res[i], &m.f[i]), LUMINAL_OK);
  luminal_task *t = multi_spawn(rt, &m);
  void *msg;
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_OK);
  CHECK_EQ(MSG_ID(msg), 0);
  /* a slot is free but reserved for the oldest waiting send: try_send may not overtake it */
  CHECK_ST(luminal_channel_try_send(tx, MSG(99)), LUMINAL_E_FULL);
  for (int i = 1; i < 42; i++) {
    luminal_status st;
    luminal_future f;
    CHECK_ST(luminal_channel_recv(rx, &msg, &st, &f), LUMINAL_OK);
    CHECK_ST(run(rt, f), LUMINAL_OK);
    CHECK_ST(st, LUMINAL_OK);
    CHECK_EQ(MSG_ID(msg), i);
  }
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  for (int i = 0; i < m.n; i++) {
    CHECK_ST(res[i], LUMINAL_OK);
    CHECK_EQ(m.order[i], i);
  }
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_E_EMPTY);
  luminal_sender_release(tx);
  luminal_receiver_release(rx);
  CHECK_EQ(atomic_load(&g_msg_drops), 0);
  tu_runtime_done(rt);
}

TEST(channel_receiver_release_drops_everything_once) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_sender *tx;
  luminal_receiver *rx;
  channel(rt, 4, &tx, &rx);
  for (int i = 0; i < 4; i++) CHECK_ST(luminal_channel_try_send(tx, MSG(i)), LUMINAL_OK);
  static multi m;
  memset(&m, 0, sizeof m);
  m.n = 3;
  luminal_status res[3];
  for (int i = 0; i < m.n; i++) CHECK_ST(luminal_channel_send(tx, MSG(10 + i), &res[i], &m.f[i]), LUMINAL_OK);
  luminal_task *t = multi_spawn(rt, &m);
  luminal_receiver_release(rx);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  for (int i = 0; i < 3; i++) CHECK_ST(res[i], LUMINAL_E_CLOSED);
  CHECK_EQ(atomic_load(&g_msg_drops), 7); /* 4 queued + 3 refused */
  CHECK_ST(luminal_channel_try_send(tx, MSG(50)), LUMINAL_E_CLOSED); /* stays ours */
  luminal_status st;
  luminal_future f;
  CHECK_ST(luminal_channel_send(tx, MSG(51), &st, &f), LUMINAL_OK);
  CHECK_ST(run(rt, f), LUMINAL_OK);
  CHECK_ST(st, LUMINAL_E_CLOSED);
  CHECK_EQ(atomic_load(&g_msg_drops), 8);
  luminal_sender_release(tx);
  tu_runtime_done(rt);
}

TEST(channel_dropped_send_never_delivers) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_sender *tx;
  luminal_receiver *rx;
  channel(rt, 1, &tx, &rx);
  CHECK_ST(luminal_channel_try_send(tx, MSG(0)), LUMINAL_OK);
  /* never polled, dropped twice: one drop_message */
  luminal_status st;
  luminal_future f;
  CHECK_ST(luminal_channel_send(tx, MSG(1), &st, &f), LUMINAL_OK);
  f.drop(f.state);
  f.drop(f.state);
  CHECK_EQ(atomic_load(&g_msg_drops), 1);
  /* pending (the channel is full), then aborted: never delivered, dropped once */
  luminal_task *t;
  CHECK_ST(luminal_channel_send(tx, MSG(2), &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  WAIT_UNTIL(atomic_load(&g_msg_drops) == 2);
  /* granted a slot (the receiver took a message) but dropped before it polled again: the slot passes on */
  static multi m;
  memset(&m, 0, sizeof m);
  m.n = 1;
  luminal_status r1;
  CHECK_ST(luminal_channel_send(tx, MSG(3), &r1, &m.f[0]), LUMINAL_OK);
  void *msg;
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_OK);
  CHECK_EQ(MSG_ID(msg), 0);
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_E_EMPTY); /* 1, 2 never arrive */
  luminal_task *mt = multi_spawn(rt, &m);
  CHECK_ST(luminal_task_join(mt, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(mt);
  CHECK_ST(r1, LUMINAL_OK);
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_OK);
  CHECK_EQ(MSG_ID(msg), 3);
  luminal_sender_release(tx);
  luminal_receiver_release(rx);
  CHECK_EQ(atomic_load(&g_msg_drops), 2);
  tu_runtime_done(rt);
}

/* Producers send N messages each through send futures (bounded 8) while the consumer keeps starting recv tasks and
 * aborting some of them at random: every message is received exactly once, none is lost or dropped. */
#define LOAD_PRODUCERS 4
#define LOAD_PER 3000
typedef struct producer {
  luminal_sender *tx;
  int id, next;
  luminal_future pending;
  int has_pending;
  luminal_status st;
} producer;

static luminal_poll producer_poll(void *state, luminal_context *cx, void **out) {
  producer *p = (producer *)state;
  *out = NULL;
  for (;;) {
    if (!p->has_pending) {
      if (p->next == LOAD_PER) return LUMINAL_POLL_READY;
      CHECK_ST(luminal_channel_send(p->tx, MSG(p->id * LOAD_PER + p->next), &p->st, &p->pending), LUMINAL_OK);
      p->has_pending = 1;
    }
    void *o;
    if (p->pending.poll(p->pending.state, cx, &o) != LUMINAL_POLL_READY) return LUMINAL_POLL_PENDING;
    CHECK_ST(p->st, LUMINAL_OK);
    p->pending.drop(p->pending.state);
    p->has_pending = 0;
    p->next++;
  }
}
static void producer_drop(void *state) {
  producer *p = (producer *)state;
  if (p->has_pending) p->pending.drop(p->pending.state);
  luminal_sender_release(p->tx);
}

typedef struct recv_slot {
  void *msg;
  luminal_status st;
} recv_slot;

TEST(channel_cancelled_recv_loses_nothing) {
  luminal_runtime *rt = tu_runtime(4);
  luminal_sender *tx;
  luminal_receiver *rx;
  channel(rt, 8, &tx, &rx);
  static producer prods[LOAD_PRODUCERS];
  luminal_task *pt[LOAD_PRODUCERS];
  for (int i = 0; i < LOAD_PRODUCERS; i++) {
    prods[i] = (producer){luminal_sender_clone(tx), i, 0, {0}, 0, LUMINAL_PENDING};
    luminal_future f = {&prods[i], producer_poll, producer_drop, NULL};
    CHECK_ST(luminal_spawn(rt, f, &pt[i]), LUMINAL_OK);
  }
  luminal_sender_release(tx);
  static unsigned char seen[LOAD_PRODUCERS * LOAD_PER];
  long received = 0, cancelled = 0;
  unsigned seed = 12345;
  for (;;) {
    recv_slot *s = (recv_slot *)calloc(1, sizeof *s);
    luminal_future f;
    CHECK_ST(luminal_channel_recv(rx, &s->msg, &s->st, &f), LUMINAL_OK);
    luminal_task *t;
    CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
    seed = seed * 1103515245u + 12345u;
    if ((seed >> 16) % 3 == 0) luminal_task_abort(t);
    luminal_status js = luminal_task_join(t, UINT64_MAX, NULL);
    luminal_task_release(t);
    if (js == LUMINAL_E_CANCELLED) {
      cancelled++;
      free(s);
      continue;
    }
    CHECK_ST(js, LUMINAL_OK);
    if (s->st == LUMINAL_E_CLOSED) {
      free(s);
      break;
    }
    CHECK_ST(s->st, LUMINAL_OK);
    long id = MSG_ID(s->msg);
    CHECK(id >= 0 && id < LOAD_PRODUCERS * LOAD_PER);
    CHECK(!seen[id]);
    seen[id] = 1;
    received++;
    free(s);
  }
  for (int i = 0; i < LOAD_PRODUCERS; i++) {
    CHECK_ST(luminal_task_join(pt[i], UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(pt[i]);
  }
  CHECK_EQ(received, LOAD_PRODUCERS * LOAD_PER);
  CHECK(cancelled > 0);
  CHECK_EQ(atomic_load(&g_msg_drops), 0);
  luminal_receiver_release(rx);
  tu_runtime_done(rt);
  printf("received %ld, recv futures cancelled %ld\n", received, cancelled);
}

/* Senders aborted while they wait on a full channel: each message is either received or dropped, exactly once. */
TEST(channel_cancelled_sends_counted) {
  luminal_runtime *rt = tu_runtime(4);
  luminal_sender *tx;
  luminal_receiver *rx;
  channel(rt, 2, &tx, &rx);
  enum { N = 2000 };
  static luminal_task *ts[N];
  static luminal_status st[N];
  static unsigned char seen[N];
  for (int i = 0; i < N; i++) {
    luminal_future f;
    CHECK_ST(luminal_channel_send(tx, MSG(i), &st[i], &f), LUMINAL_OK);
    CHECK_ST(luminal_spawn(rt, f, &ts[i]), LUMINAL_OK);
  }
  luminal_sender_release(tx);
  long received = 0;
  for (int i = 0; i < N; i++) {
    if (i % 3 == 1) luminal_task_abort(ts[i]);
    void *m;
    if (i % 2 == 0) {
      luminal_status s = luminal_channel_try_recv(rx, &m);
      if (s == LUMINAL_OK) {
        CHECK(!seen[MSG_ID(m)]);
        seen[MSG_ID(m)] = 1;
        received++;
      }
    }
  }
  long ok = 0;
  for (int i = 0; i < N; i++) {
    luminal_status js;
    while ((js = luminal_task_join(ts[i], MS_NS(1), NULL)) == LUMINAL_E_TIMED_OUT) { /* waits for room: drain */
      void *m;
      while (luminal_channel_try_recv(rx, &m) == LUMINAL_OK) {
        CHECK(!seen[MSG_ID(m)]);
        seen[MSG_ID(m)] = 1;
        received++;
      }
    }
    if (js == LUMINAL_OK) {
      CHECK_ST(st[i], LUMINAL_OK);
      ok++;
    } else
      CHECK_ST(js, LUMINAL_E_CANCELLED);
    luminal_task_release(ts[i]);
    void *m;
    while (luminal_channel_try_recv(rx, &m) == LUMINAL_OK) {
      CHECK(!seen[MSG_ID(m)]);
      seen[MSG_ID(m)] = 1;
      received++;
    }
  }
  void *m;
  CHECK_ST(luminal_channel_try_recv(rx, &m), LUMINAL_E_CLOSED);
  luminal_receiver_release(rx);
  CHECK_EQ(received, ok);
  CHECK_EQ(received + atomic_load(&g_msg_drops), N);
  tu_runtime_done(rt);
}

TEST(channel_oneshot_is_capacity_one) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_sender *tx;
  luminal_receiver *rx;
  channel(rt, 1, &tx, &rx);
  void *msg;
  luminal_status st;
  luminal_future f;
  luminal_task *t;
  CHECK_ST(luminal_channel_recv(rx, &msg, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, f, &t), LUMINAL_OK);
  CHECK_ST(luminal_channel_try_send(tx, MSG(42)), LUMINAL_OK);
  luminal_sender_release(tx);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_ST(st, LUMINAL_OK);
  CHECK_EQ(MSG_ID(msg), 42);
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_E_CLOSED);
  luminal_receiver_release(rx);
  tu_runtime_done(rt);
}

TEST(channel_misuse) {
  luminal_runtime *rt = tu_runtime(1);
  luminal_sender *tx;
  luminal_receiver *rx;
  luminal_status st;
  luminal_future f;
  void *msg;
  CHECK_ST(luminal_channel_new(NULL, NULL, &tx, &rx), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_channel_new(rt, NULL, NULL, &rx), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_channel_new(rt, NULL, &tx, NULL), LUMINAL_E_INVALID_ARGUMENT);
  luminal_channel_options bad = {0, 0, NULL};
  CHECK_ST(luminal_channel_new(rt, &bad, &tx, &rx), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_channel_new((luminal_runtime *)(uintptr_t)0x1234567, NULL, &tx, &rx), LUMINAL_E_INVALID_HANDLE);
  channel(rt, 0, &tx, &rx);
  luminal_semaphore *sem;
  CHECK_ST(luminal_semaphore_new(rt, 1, &sem), LUMINAL_OK);
  /* NULL */
  CHECK_ST(luminal_channel_try_send(NULL, MSG(0)), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_channel_try_recv(NULL, &msg), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_channel_try_recv(rx, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(luminal_sender_clone(NULL) == NULL);
  CHECK_ST(luminal_channel_recv(rx, NULL, &st, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_channel_recv(rx, &msg, NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_channel_recv(rx, &msg, &st, NULL), LUMINAL_E_INVALID_ARGUMENT);
  /* send with a NULL out-parameter takes (drops) the message; with a bad sender it cannot */
  CHECK_ST(luminal_channel_send(tx, MSG(0), NULL, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK(f.poll == NULL);
  CHECK_EQ(atomic_load(&g_msg_drops), 1);
  CHECK_ST(luminal_channel_send(tx, MSG(0), &st, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(atomic_load(&g_msg_drops), 2);
  CHECK_ST(luminal_channel_send(NULL, MSG(0), &st, &f), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_EQ(atomic_load(&g_msg_drops), 2);
  /* wrong types */
  CHECK_ST(luminal_channel_try_send((luminal_sender *)rx, MSG(0)), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_channel_try_send((luminal_sender *)sem, MSG(0)), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_channel_try_recv((luminal_receiver *)tx, &msg), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_semaphore_try_acquire((luminal_semaphore *)tx, 1), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_notify_one((luminal_notify *)sem), LUMINAL_E_INVALID_HANDLE);
  CHECK(luminal_sender_clone((luminal_sender *)rx) == NULL);
  CHECK_ST(luminal_channel_try_send((luminal_sender *)rt, MSG(0)), LUMINAL_E_INVALID_HANDLE);
  luminal_receiver_release((luminal_receiver *)tx); /* ignored */
  luminal_sender_release((luminal_sender *)rx);     /* ignored */
  luminal_semaphore_release((luminal_semaphore *)tx); /* ignored */
  CHECK_ST(luminal_channel_try_send(tx, MSG(0)), LUMINAL_OK);
  /* a future's state is not a handle */
  CHECK_ST(luminal_channel_recv(rx, &msg, &st, &f), LUMINAL_OK);
  CHECK_ST(luminal_channel_try_recv((luminal_receiver *)f.state, &msg), LUMINAL_E_INVALID_HANDLE);
  f.drop(f.state);
  f.drop(f.state); /* twice: harmless */
  /* forged */
  CHECK_ST(luminal_channel_try_send((luminal_sender *)(uintptr_t)0xdeadbeef1ull, MSG(0)), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_channel_try_send((luminal_sender *)(uintptr_t)((uintptr_t)tx + (1ull << 32)), MSG(0)),
           LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_channel_try_recv((luminal_receiver *)(uintptr_t)0xffffffffffffff1ull, &msg), LUMINAL_E_INVALID_HANDLE);
  /* released */
  luminal_sender *tx2 = luminal_sender_clone(tx);
  CHECK(tx2 != NULL && tx2 != tx);
  luminal_sender_release(tx2);
  luminal_sender_release(tx2);
  CHECK_ST(luminal_channel_try_send(tx2, MSG(0)), LUMINAL_E_INVALID_HANDLE);
  CHECK(luminal_sender_clone(tx2) == NULL);
  CHECK_ST(luminal_channel_send(tx2, MSG(0), &st, &f), LUMINAL_E_INVALID_HANDLE);
  CHECK_EQ(atomic_load(&g_msg_drops), 2);
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_OK); /* the one queued above */
  luminal_receiver_release(rx);
  luminal_receiver_release(rx);
  CHECK_ST(luminal_channel_try_recv(rx, &msg), LUMINAL_E_INVALID_HANDLE);
  CHECK_ST(luminal_channel_recv(rx, &msg, &st, &f), LUMINAL_E_INVALID_HANDLE);
  CHECK(f.poll == NULL);
  luminal_sender_release(tx);
  luminal_semaphore_release(sem);
  CHECK_ST(luminal_semaphore_try_acquire(sem, 1), LUMINAL_E_INVALID_HANDLE);
  /* a shut-down runtime makes none */
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  CHECK_ST(luminal_channel_new(rt, NULL, &tx, &rx), LUMINAL_E_SHUTDOWN);
  luminal_notify *n;
  CHECK_ST(luminal_notify_new(rt, &n), LUMINAL_E_SHUTDOWN);
  CHECK_ST(luminal_semaphore_new(rt, 1, &sem), LUMINAL_E_SHUTDOWN);
  luminal_runtime_release(rt);
  CHECK_EQ(atomic_load(&g_msg_drops), 2);
  CHECK(strcmp(luminal_status_str(LUMINAL_E_CLOSED), "unknown status") != 0);
  CHECK(strcmp(luminal_status_str(LUMINAL_E_FULL), "unknown status") != 0);
  CHECK(strcmp(luminal_status_str(LUMINAL_E_EMPTY), "unknown status") != 0);
}

/* ---- notify ---------------------------------------------------------------------------------------------- */

static luminal_future wait_fut(luminal_notify *n) {
  luminal_future f;
  CHECK_ST(luminal_notify_wait(n, &f), LUMINAL_OK);
  return f;
}

TEST(notify_permit_and_order) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_notify *n;
  CHECK_ST(luminal_notify_new(rt, &n), LUMINAL_OK);
  /* one stored permit, however many notify_one calls */
  CHECK_ST(luminal_notify_one(n), LUMINAL_OK);
  CHECK_ST(luminal_notify_one(n), LUMINAL_OK);
  CHECK_ST(run(rt, wait_fut(n)), LUMINAL_OK);
  CHECK(stays_pending(rt, wait_fut(n)));
  /* waiters are woken oldest first */
  static multi m;
  memset(&m, 0, sizeof m);
  m.n = 5;
  for (int i = 0; i < m.n; i++) m.f[i] = wait_fut(n);
  luminal_task *t = multi_spawn(rt, &m);
  for (int i = 0; i < m.n; i++) {
    CHECK_ST(luminal_notify_one(n), LUMINAL_OK);
    WAIT_UNTIL(atomic_load(&m.ndone) == i + 1);
    CHECK_EQ(m.order[i], i);
  }
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK(stays_pending(rt, wait_fut(n))); /* no permit was stored while they waited */
  luminal_notify_release(n);
  CHECK_ST(luminal_notify_one(n), LUMINAL_E_INVALID_HANDLE);
  tu_runtime_done(rt);
}

TEST(notify_all_wakes_current_waiters_only) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_notify *n;
  CHECK_ST(luminal_notify_new(rt, &n), LUMINAL_OK);
  static multi m;
  memset(&m, 0, sizeof m);
  m.n = 10;
  for (int i = 0; i < m.n; i++) m.f[i] = wait_fut(n);
  luminal_task *t = multi_spawn(rt, &m);
  luminal_future unpolled = wait_fut(n); /* made before notify_all: notified too, though never polled yet */
  CHECK_ST(luminal_notify_all(n), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_ST(run(rt, unpolled), LUMINAL_OK);
  CHECK(stays_pending(rt, wait_fut(n))); /* notify_all stores no permit */
  luminal_notify_release(n);
  tu_runtime_done(rt);
}

TEST(notify_dropped_waiter_passes_it_on) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_notify *n;
  CHECK_ST(luminal_notify_new(rt, &n), LUMINAL_OK);
  /* a waiter registered, then notified, then dropped without seeing it: the permit comes back */
  static multi m;
  memset(&m, 0, sizeof m);
  m.n = 2;
  m.f[0] = wait_fut(n);
  m.f[1] = wait_fut(n);
  luminal_task *t = multi_spawn(rt, &m);
  luminal_task_abort(t); /* both dropped while pending */
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  CHECK_ST(luminal_notify_one(n), LUMINAL_OK);   /* nobody waits: a permit */
  CHECK_ST(run(rt, wait_fut(n)), LUMINAL_OK);
  /* release wakes pending waits */
  luminal_task *w;
  CHECK_ST(luminal_spawn(rt, wait_fut(n), &w), LUMINAL_OK);
  CHECK_ST(luminal_task_join(w, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  luminal_notify_release(n);
  CHECK_ST(luminal_task_join(w, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(w);
  tu_runtime_done(rt);
}

/* ---- semaphore ------------------------------------------------------------------------------------------- */

TEST(semaphore_strict_fifo) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_semaphore *s;
  CHECK_ST(luminal_semaphore_new(rt, 3, &s), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 2), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 2), LUMINAL_E_EMPTY);
  static multi m;
  memset(&m, 0, sizeof m);
  m.n = 3;
  luminal_status r[3];
  CHECK_ST(luminal_semaphore_acquire(s, 2, &r[0], &m.f[0]), LUMINAL_OK); /* 1 free: waits */
  CHECK_ST(luminal_semaphore_acquire(s, 1, &r[1], &m.f[1]), LUMINAL_OK); /* waits behind it */
  CHECK_ST(luminal_semaphore_acquire(s, 1, &r[2], &m.f[2]), LUMINAL_OK);
  luminal_task *t = multi_spawn(rt, &m);
  CHECK_EQ(atomic_load(&m.ndone), 0);
  CHECK_ST(luminal_semaphore_try_acquire(s, 1), LUMINAL_E_EMPTY); /* may not overtake either */
  CHECK_ST(luminal_semaphore_add_permits(s, 1), LUMINAL_OK);      /* 2 free: the first */
  WAIT_UNTIL(atomic_load(&m.ndone) == 1);
  CHECK_EQ(m.order[0], 0);
  CHECK_ST(luminal_semaphore_add_permits(s, 2), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_EQ(m.order[1], 1);
  CHECK_EQ(m.order[2], 2);
  for (int i = 0; i < 3; i++) CHECK_ST(r[i], LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 1), LUMINAL_E_EMPTY);
  CHECK_ST(luminal_semaphore_add_permits(s, 5), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 5), LUMINAL_OK);
  luminal_semaphore_release(s);
  tu_runtime_done(rt);
}

TEST(semaphore_cancel_and_close) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_semaphore *s;
  CHECK_ST(luminal_semaphore_new(rt, 1, &s), LUMINAL_OK);
  /* a big request at the head is cancelled: the small one behind it gets the free permit */
  luminal_status big, small;
  luminal_future fb, fs;
  CHECK_ST(luminal_semaphore_acquire(s, 5, &big, &fb), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_acquire(s, 1, &small, &fs), LUMINAL_OK);
  luminal_task *tb, *ts;
  CHECK_ST(luminal_spawn(rt, fb, &tb), LUMINAL_OK);
  CHECK_ST(luminal_task_join(tb, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_spawn(rt, fs, &ts), LUMINAL_OK);
  CHECK_ST(luminal_task_join(ts, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  luminal_task_abort(tb);
  CHECK_ST(luminal_task_join(tb, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_ST(luminal_task_join(ts, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_ST(small, LUMINAL_OK);
  luminal_task_release(tb);
  luminal_task_release(ts);
  /* a never-polled acquire dropped twice is harmless */
  CHECK_ST(luminal_semaphore_acquire(s, 1, &small, &fs), LUMINAL_OK);
  fs.drop(fs.state);
  fs.drop(fs.state);
  /* close: waiters get CLOSED, add_permits is ignored */
  luminal_task *w;
  luminal_status wr = LUMINAL_PENDING;
  luminal_future fw;
  CHECK_ST(luminal_semaphore_acquire(s, 1, &wr, &fw), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, fw, &w), LUMINAL_OK);
  CHECK_ST(luminal_task_join(w, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_semaphore_close(s), LUMINAL_OK);
  CHECK_ST(luminal_task_join(w, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(w);
  CHECK_ST(wr, LUMINAL_E_CLOSED);
  CHECK_ST(luminal_semaphore_add_permits(s, 3), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 1), LUMINAL_E_CLOSED);
  CHECK_ST(luminal_semaphore_acquire(s, 1, &wr, &fw), LUMINAL_OK);
  CHECK_ST(run(rt, fw), LUMINAL_OK);
  CHECK_ST(wr, LUMINAL_E_CLOSED);
  luminal_semaphore_release(s);
  tu_runtime_done(rt);
}

/* Permits given while the oldest request is still short are assigned to it (nobody behind may take them); if it is
 * cancelled they go to the next one, and a request for 0 completes once it is the oldest. */
TEST(semaphore_partial_assignment_goes_back_on_cancel) {
  luminal_runtime *rt = tu_runtime(2);
  luminal_semaphore *s;
  CHECK_ST(luminal_semaphore_new(rt, 0, &s), LUMINAL_OK);
  luminal_status ra = LUMINAL_PENDING, rb = LUMINAL_PENDING, rz = LUMINAL_PENDING;
  luminal_future fa, fb, fz;
  luminal_task *ta, *tb, *tz;
  CHECK_ST(luminal_semaphore_acquire(s, 3, &ra, &fa), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, fa, &ta), LUMINAL_OK);
  CHECK_ST(luminal_task_join(ta, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT); /* queued first */
  CHECK_ST(luminal_semaphore_acquire(s, 2, &rb, &fb), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, fb, &tb), LUMINAL_OK);
  CHECK_ST(luminal_task_join(tb, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_semaphore_acquire(s, 0, &rz, &fz), LUMINAL_OK);
  CHECK_ST(luminal_spawn(rt, fz, &tz), LUMINAL_OK);
  CHECK_ST(luminal_task_join(tz, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT); /* 0 waits behind them too */
  CHECK_ST(luminal_semaphore_add_permits(s, 2), LUMINAL_OK); /* to the oldest (short by 1): not to the one for 2 */
  CHECK_ST(luminal_task_join(tb, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  CHECK_ST(luminal_semaphore_try_acquire(s, 1), LUMINAL_E_EMPTY);
  luminal_task_abort(ta);
  CHECK_ST(luminal_task_join(ta, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  CHECK_ST(luminal_task_join(tb, UINT64_MAX, NULL), LUMINAL_OK); /* the 2 it had went on */
  CHECK_ST(rb, LUMINAL_OK);
  CHECK_ST(luminal_task_join(tz, UINT64_MAX, NULL), LUMINAL_OK);
  CHECK_ST(rz, LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 1), LUMINAL_E_EMPTY); /* the 2 are held */
  CHECK_ST(luminal_semaphore_add_permits(s, 2), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 2), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 1), LUMINAL_E_EMPTY);
  luminal_task_release(ta);
  luminal_task_release(tb);
  luminal_task_release(tz);
  luminal_semaphore_release(s);
  tu_runtime_done(rt);
}

/* Contended: 8 tasks each acquire 1..3 permits 500 times from a semaphore of 4, checking the bound. */
typedef struct sem_worker {
  luminal_semaphore *s;
  atomic_long *inside;
  long permits; /* the bound: never more held at once */
  int round;
  uint32_t want;
  int waiting;
  luminal_future acq;
  luminal_status st;
} sem_worker;

static luminal_poll sem_worker_poll(void *state, luminal_context *cx, void **out) {
  sem_worker *w = (sem_worker *)state;
  *out = NULL;
  for (;;) {
    if (w->round == 500) return LUMINAL_POLL_READY;
    if (!w->waiting) {
      w->want = 1 + (uint32_t)(w->round % 3);
      CHECK_ST(luminal_semaphore_acquire(w->s, w->want, &w->st, &w->acq), LUMINAL_OK);
      w->waiting = 1;
    }
    void *o;
    if (w->acq.poll(w->acq.state, cx, &o) != LUMINAL_POLL_READY) return LUMINAL_POLL_PENDING;
    w->acq.drop(w->acq.state);
    w->waiting = 0;
    CHECK_ST(w->st, LUMINAL_OK);
    long in = atomic_fetch_add(w->inside, w->want) + w->want;
    CHECK(in <= w->permits);
    atomic_fetch_sub(w->inside, w->want);
    CHECK_ST(luminal_semaphore_add_permits(w->s, w->want), LUMINAL_OK);
    w->round++;
    if (w->round % 7 == 0) {
      luminal_context_yield(cx);
      return LUMINAL_POLL_PENDING;
    }
  }
}

/* Runs n tasks polling `poll` over one sem_worker each, on 4 workers, sharing a semaphore of `permits`; at the end
 * exactly those permits are free again (none lost or duplicated). */
static void run_sem_workers(long permits, int n, luminal_poll (*poll)(void *, luminal_context *, void **)) {
  luminal_runtime *rt = tu_runtime(4);
  luminal_semaphore *s;
  CHECK_ST(luminal_semaphore_new(rt, (uint64_t)permits, &s), LUMINAL_OK);
  static atomic_long inside;
  static sem_worker ws[8];
  luminal_task *t[8];
  CHECK(n <= 8);
  atomic_store(&inside, 0);
  for (int i = 0; i < n; i++) {
    ws[i] = (sem_worker){s, &inside, permits, 0, 0, 0, {0}, LUMINAL_PENDING};
    luminal_future f = {&ws[i], poll, NULL, NULL};
    CHECK_ST(luminal_spawn(rt, f, &t[i]), LUMINAL_OK);
  }
  for (int i = 0; i < n; i++) {
    CHECK_ST(luminal_task_join(t[i], UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(t[i]);
  }
  CHECK_ST(luminal_semaphore_try_acquire(s, (uint32_t)permits), LUMINAL_OK);
  CHECK_ST(luminal_semaphore_try_acquire(s, 1), LUMINAL_E_EMPTY);
  luminal_semaphore_release(s);
  tu_runtime_done(rt);
}

TEST(semaphore_contended_bound) { run_sem_workers(4, 8, sem_worker_poll); }

/* The lock-free takes (try_acquire, an acquire's first poll) against queued requests, partial assignments and
 * cancels: 6 tasks on 4 workers share 3 permits; each round takes 1..3 either by try_acquire, or by an acquire future,
 * and every fifth round first queues an acquire (polled once) and drops it. The bound holds throughout, and at the
 * end exactly the 3 permits are free: a cancel that lost or duplicated a permit shows there. */
static luminal_poll sem_mixer_poll(void *state, luminal_context *cx, void **out) {
  sem_worker *w = (sem_worker *)state;
  *out = NULL;
  for (;;) {
    if (w->round == 300) return LUMINAL_POLL_READY;
    if (!w->waiting) {
      w->want = 1 + (uint32_t)(w->round % 3);
      if (w->round % 5 == 0) { /* queue a request, then cancel it */
        luminal_status st;
        luminal_future f;
        void *o;
        CHECK_ST(luminal_semaphore_acquire(w->s, w->want, &st, &f), LUMINAL_OK);
        if (f.poll(f.state, cx, &o) == LUMINAL_POLL_READY) {
          CHECK_ST(st, LUMINAL_OK);
          CHECK_ST(luminal_semaphore_add_permits(w->s, w->want), LUMINAL_OK);
        }
        f.drop(f.state);
      }
      luminal_status tried = w->round % 4 == 0 ? luminal_semaphore_try_acquire(w->s, w->want) : LUMINAL_E_EMPTY;
      if (tried != LUMINAL_OK) {
        CHECK_ST(tried, LUMINAL_E_EMPTY);
        CHECK_ST(luminal_semaphore_acquire(w->s, w->want, &w->st, &w->acq), LUMINAL_OK);
        w->waiting = 1;
      }
    }
    if (w->waiting) {
      void *o;
      if (w->acq.poll(w->acq.state, cx, &o) != LUMINAL_POLL_READY) return LUMINAL_POLL_PENDING;
      w->acq.drop(w->acq.state);
      w->waiting = 0;
      CHECK_ST(w->st, LUMINAL_OK);
    }
    long in = atomic_fetch_add(w->inside, w->want) + w->want;
    CHECK(in <= w->permits);
    atomic_fetch_sub(w->inside, w->want);
    CHECK_ST(luminal_semaphore_add_permits(w->s, w->want), LUMINAL_OK);
    w->round++;
    if (w->round % 3 == 0) {
      luminal_context_yield(cx);
      return LUMINAL_POLL_PENDING;
    }
  }
}

TEST(semaphore_lock_free_takes_with_cancels) { run_sem_workers(3, 6, sem_mixer_poll); }
