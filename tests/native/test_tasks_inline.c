/* luminal_spawn_inline / luminal_context_spawn_inline: the state moved into the task's own storage, its drop
 * exactly once on every path, an output that lives in that storage, and every misuse. */
#include "test_util.h"

/* An inline state: counters, a value, a stage (what the storage holds) and an optional tail of `pad` bytes that
 * carry a pattern (checked by the poll: the copy must be whole). */
enum { IS_FUTURE = 0, IS_OUTPUT = 1, IS_EMPTY = 2 };
typedef struct ist {
  tu_counters *c;
  uint64_t value;    /* READY at once with output value * 2; UINT64_MAX: PENDING forever */
  uint64_t stage;
  uint64_t out;      /* the output, written over the future's bytes */
  uint32_t pad;      /* bytes of pattern after the struct */
  uint32_t spawn_n;  /* children to spawn with luminal_context_spawn_inline from the poll */
  unsigned char tail[];
} ist;

static int pattern_ok(const ist *s) {
  for (uint32_t i = 0; i < s->pad; i++)
    if (s->tail[i] != (unsigned char)(i * 7 + 1)) return 0;
  return 1;
}

static luminal_poll ist_poll(void *state, luminal_context *cx, void **out);

static void ist_drop(void *state) {
  ist *s = state;
  atomic_fetch_add(&s->c->drops, 1);
  /* The output (if any) belongs to whoever takes it: leave it alone. */
  if (s->stage == IS_FUTURE) s->stage = IS_EMPTY;
}

static void ist_drop_output(void *p) {
  ist *s = p;
  CHECK_EQ(s->stage, IS_OUTPUT);
  s->stage = IS_EMPTY;
  atomic_fetch_add(&s->c->out_drops, 1);
}

/* Builds a state of sizeof(ist) + pad bytes in `buf`. */
static size_t ist_fill(unsigned char *buf, tu_counters *c, uint64_t value, uint32_t pad) {
  ist *s = (ist *)buf;
  memset(s, 0, sizeof *s);
  s->c = c;
  s->value = value;
  s->pad = pad;
  for (uint32_t i = 0; i < pad; i++) s->tail[i] = (unsigned char)(i * 7 + 1);
  return sizeof(ist) + pad;
}

static luminal_poll ist_poll(void *state, luminal_context *cx, void **out) {
  ist *s = state;
  atomic_fetch_add(&s->c->polls, 1);
  CHECK_EQ(s->stage, IS_FUTURE);
  CHECK(pattern_ok(s));
  for (uint32_t i = 0; i < s->spawn_n; i++) {
    _Alignas(64) unsigned char child[sizeof(ist) + 64];
    size_t n = ist_fill(child, s->c, i, i % 2 ? 64 : 0);
    CHECK_ST(luminal_context_spawn_inline(cx, child, n, 8, ist_poll, ist_drop, ist_drop_output, NULL, NULL), LUMINAL_OK);
  }
  if (s->value == UINT64_MAX) return LUMINAL_POLL_PENDING;
  atomic_fetch_add(&s->c->readies, 1);
  s->out = s->value * 2;
  s->stage = IS_OUTPUT;
  *out = s; /* the output lives in the task's storage */
  return LUMINAL_POLL_READY;
}

static luminal_task *spawn_ist(luminal_runtime *rt, tu_counters *c, uint64_t value, uint32_t pad, size_t align) {
  /* On the heap, not in a thread-local: 300 KB of static TLS is reserved on every thread's stack, and the .NET
   * thread pool's 256 KB threads (its signal dispatch, in the signal tests) then cannot start at all. */
  unsigned char *buf = aligned_alloc(64, (sizeof(ist) + 300000 + 63) / 64 * 64);
  CHECK(buf != NULL);
  size_t n = ist_fill(buf, c, value, pad);
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn_inline(rt, buf, n, align, ist_poll, ist_drop, ist_drop_output, NULL, &t), LUMINAL_OK);
  CHECK(t != NULL);
  memset(buf, 0xEE, n); /* moved-from: the caller may reuse the bytes at once */
  free(buf);
  return t;
}

/* Joins and reads the output while the handle is still held, then releases. */
static uint64_t join_ist(luminal_task *t) {
  void *out = NULL;
  CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
  ist *s = out;
  CHECK_EQ(s->stage, IS_OUTPUT);
  uint64_t v = s->out;
  s->stage = IS_EMPTY;
  luminal_task_release(t);
  return v;
}

TEST(inline_spawn_join) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  /* A class-64 state, a class-256 state, and two with blocks of their own (one large), aligned 1 to 64. */
  uint32_t pads[] = {0, 16, 200, 1000, 250000};
  size_t aligns[] = {8, 1, 16, 64, 32};
  for (int i = 0; i < 5; i++) {
    luminal_task *t = spawn_ist(rt, &c, 21 + i, pads[i], aligns[i]);
    CHECK_EQ(join_ist(t), 2 * (21 + i));
  }
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.polls), 5);
  CHECK_EQ(LOAD(c.drops), 5);
  CHECK_EQ(LOAD(c.out_drops), 0);
}

static luminal_poll check_align_poll(void *state, luminal_context *cx, void **out) {
  (void)cx;
  size_t align = *(size_t *)state;
  *out = (void *)(uintptr_t)((uintptr_t)state % align);
  return LUMINAL_POLL_READY;
}

TEST(inline_alignment_honoured) {
  luminal_runtime *rt = tu_runtime(1);
  for (size_t align = 8; align <= 64; align *= 2) {
    for (size_t size = 8; size <= 4096; size *= 4) {
      _Alignas(64) unsigned char buf[4096];
      memcpy(buf, &align, sizeof align);
      luminal_task *t = NULL;
      CHECK_ST(luminal_spawn_inline(rt, buf, size, align, check_align_poll, NULL, NULL, NULL, &t), LUMINAL_OK);
      void *out = (void *)1;
      CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
      CHECK(out == NULL);
      luminal_task_release(t);
    }
  }
  tu_runtime_done(rt);
}

/* Detached: the output in the storage is dropped with drop_output, once, before the storage is reused. */
TEST(inline_detached_and_unjoined_outputs) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 2000 };
  for (int i = 0; i < N; i++) {
    unsigned char buf[sizeof(ist) + 300];
    size_t n = ist_fill(buf, &c, i, (uint32_t)(i % 3) * 120);
    CHECK_ST(luminal_spawn_inline(rt, buf, n, 8, ist_poll, ist_drop, ist_drop_output, NULL, NULL), LUMINAL_OK);
  }
  /* Joined handles released without taking the output, and a join that drops it (output NULL). */
  luminal_task *a = spawn_ist(rt, &c, 1, 0, 8), *b = spawn_ist(rt, &c, 2, 0, 8);
  WAIT_UNTIL(luminal_task_is_finished(a) && luminal_task_is_finished(b));
  luminal_task_release(a);
  CHECK_ST(luminal_task_join(b, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(b);
  WAIT_UNTIL(LOAD(c.out_drops) == N + 2);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.polls), N + 2);
  CHECK_EQ(LOAD(c.drops), N + 2);
  CHECK_EQ(LOAD(c.out_drops), N + 2);
}

TEST(inline_abort_scope_shutdown_drop_once) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  /* abort */
  luminal_task *t = spawn_ist(rt, &c, UINT64_MAX, 40, 8);
  WAIT_UNTIL(LOAD(c.polls) == 1);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  CHECK_EQ(LOAD(c.drops), 1);
  /* scope close: pending members (small and separate storage) are dropped */
  luminal_scope *scope = NULL;
  CHECK_ST(luminal_scope_new(rt, &scope), LUMINAL_OK);
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.scope = scope;
  for (int i = 0; i < 10; i++) {
    unsigned char buf[sizeof(ist) + 1000];
    size_t n = ist_fill(buf, &c, UINT64_MAX, i % 2 ? 1000 : 10);
    CHECK_ST(luminal_spawn_inline(rt, buf, n, 8, ist_poll, ist_drop, ist_drop_output, &o, NULL), LUMINAL_OK);
  }
  WAIT_UNTIL(LOAD(c.polls) == 11);
  CHECK_ST(luminal_scope_close(scope, UINT64_MAX), LUMINAL_OK);
  CHECK_EQ(LOAD(c.drops), 11);
  /* a closed scope refuses the spawn: dropped once, on the copy (never polled) */
  unsigned char buf[sizeof(ist)];
  size_t n = ist_fill(buf, &c, 5, 0);
  luminal_task *none = (luminal_task *)(uintptr_t)1;
  CHECK_ST(luminal_spawn_inline(rt, buf, n, 8, ist_poll, ist_drop, ist_drop_output, &o, &none), LUMINAL_E_SHUTDOWN);
  CHECK(none == NULL);
  CHECK_EQ(LOAD(c.drops), 12);
  luminal_scope_release(scope);
  /* shutdown drops what is pending */
  for (int i = 0; i < 5; i++) luminal_task_release(spawn_ist(rt, &c, UINT64_MAX, i * 100, 8));
  WAIT_UNTIL(LOAD(c.polls) == 16);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.drops), 17);
  CHECK_EQ(LOAD(c.readies), 0);
}

static luminal_poll ist_parent_poll(void *state, luminal_context *cx, void **out) { return ist_poll(state, cx, out); }

TEST(inline_context_spawn) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  unsigned char buf[sizeof(ist)];
  size_t n = ist_fill(buf, &c, 3, 0);
  ((ist *)buf)->spawn_n = 500;
  luminal_task *t = NULL;
  CHECK_ST(luminal_spawn_inline(rt, buf, n, 8, ist_parent_poll, ist_drop, ist_drop_output, NULL, &t), LUMINAL_OK);
  CHECK_EQ(join_ist(t), 6);
  WAIT_UNTIL(LOAD(c.drops) == 501 && LOAD(c.out_drops) == 500);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.polls), 501);
}

/* Every misuse: a clear status, *out NULL, the caller's bytes dropped once in place (none without a state). */
static tu_counters mc;
static void *dropped_at;
static void misuse_drop(void *p) {
  atomic_fetch_add(&mc.drops, 1);
  dropped_at = p;
}
static luminal_poll misuse_poll(void *state, luminal_context *cx, void **out) {
  (void)state, (void)cx, (void)out;
  atomic_fetch_add(&mc.polls, 1);
  return LUMINAL_POLL_READY;
}

#define MISUSE(call, expected, ndrops)                                                                              \
  do {                                                                                                             \
    long _before = LOAD(mc.drops);                                                                                 \
    t = (luminal_task *)(uintptr_t)0x99;                                                                           \
    CHECK_ST(call, expected);                                                                                      \
    CHECK(t == NULL);                                                                                              \
    CHECK_EQ(LOAD(mc.drops) - _before, ndrops);                                                                     \
  } while (0)

TEST(inline_misuse) {
  luminal_runtime *rt = tu_runtime(1);
  _Alignas(64) unsigned char s[64] = {0};
  luminal_task *t;
  MISUSE(luminal_spawn_inline(NULL, s, 8, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  CHECK(dropped_at == s); /* in place: the caller's bytes */
  MISUSE(luminal_spawn_inline(rt, NULL, 8, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 0);
  MISUSE(luminal_spawn_inline(rt, s, 0, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  MISUSE(luminal_spawn_inline(rt, s, 8, 0, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  MISUSE(luminal_spawn_inline(rt, s, 8, 3, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  MISUSE(luminal_spawn_inline(rt, s, 8, 128, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  MISUSE(luminal_spawn_inline(rt, s, LUMINAL_SPAWN_INLINE_MAX_SIZE + 1, 8, misuse_poll, misuse_drop, NULL, NULL, &t),
         LUMINAL_E_INVALID_ARGUMENT, 1);
  MISUSE(luminal_spawn_inline(rt, s, SIZE_MAX, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  MISUSE(luminal_spawn_inline(rt, s, 8, 8, NULL, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  /* no drop function: fine */
  CHECK_ST(luminal_spawn_inline(rt, s, 8, 8, misuse_poll, NULL, NULL, NULL, &t), LUMINAL_OK);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  MISUSE(luminal_spawn_inline((luminal_runtime *)(uintptr_t)0x1234, s, 8, 8, misuse_poll, misuse_drop, NULL, NULL, &t),
         LUMINAL_E_INVALID_HANDLE, 1);
  luminal_spawn_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = 1; /* too small to hold struct_size */
  MISUSE(luminal_spawn_inline(rt, s, 8, 8, misuse_poll, misuse_drop, NULL, &o, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  o.struct_size = sizeof o;
  o.priority = (luminal_priority)77;
  MISUSE(luminal_spawn_inline(rt, s, 8, 8, misuse_poll, misuse_drop, NULL, &o, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  o.priority = LUMINAL_PRIORITY_INHERIT;
  o.scope = (luminal_scope *)(uintptr_t)0x1234;
  MISUSE(luminal_spawn_inline(rt, s, 8, 8, misuse_poll, misuse_drop, NULL, &o, &t), LUMINAL_E_INVALID_HANDLE, 1);
  /* the context variant outside a poll */
  MISUSE(luminal_context_spawn_inline(NULL, s, 8, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_ARGUMENT, 1);
  MISUSE(luminal_context_spawn_inline((luminal_context *)(uintptr_t)0x1236, s, 8, 8, misuse_poll, misuse_drop, NULL, NULL, &t),
         LUMINAL_E_INVALID_HANDLE, 1);
  MISUSE(luminal_context_spawn_inline((luminal_context *)(uintptr_t)0x1236, s, 8, 5, misuse_poll, misuse_drop, NULL, NULL, &t),
         LUMINAL_E_INVALID_ARGUMENT, 1);
  /* a stale runtime handle, and after shutdown */
  luminal_runtime *clone = luminal_runtime_clone(rt);
  CHECK(clone != NULL);
  luminal_runtime_release(clone);
  MISUSE(luminal_spawn_inline(clone, s, 8, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_INVALID_HANDLE, 1);
  CHECK_ST(luminal_runtime_shutdown(rt, UINT64_MAX), LUMINAL_OK);
  MISUSE(luminal_spawn_inline(rt, s, 8, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_SHUTDOWN, 1);
  MISUSE(luminal_spawn_inline(rt, s, 5000, 8, misuse_poll, misuse_drop, NULL, NULL, &t), LUMINAL_E_SHUTDOWN, 1);
  CHECK(dropped_at == s);
  /* out NULL is allowed (detached) */
  CHECK_ST(luminal_spawn_inline(rt, s, 8, 8, misuse_poll, misuse_drop, NULL, NULL, NULL), LUMINAL_E_SHUTDOWN);
  luminal_runtime_release(rt);
  CHECK_EQ(LOAD(mc.polls), 1);
}

/* Many tasks of mixed sizes alive at once and recycled: the storage of a reused slot serves the next task. */
TEST(inline_many_mixed_sizes) {
  luminal_runtime *rt = tu_runtime(2);
  tu_counters c = TU_COUNTERS_INIT;
  enum { N = 6000 };
  luminal_task **ts = calloc(N, sizeof *ts);
  CHECK(ts != NULL);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++) ts[i] = spawn_ist(rt, &c, (uint64_t)i, (uint32_t)((i * 37 + round * 11) % 400), 8);
    for (int i = 0; i < N; i++) CHECK_EQ(join_ist(ts[i]), 2 * (uint64_t)i);
  }
  free(ts);
  tu_runtime_done(rt);
  CHECK_EQ(LOAD(c.polls), 3 * N);
  CHECK_EQ(LOAD(c.drops), 3 * N);
  CHECK_EQ(LOAD(c.out_drops), 0);
}
