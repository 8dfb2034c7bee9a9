/* The benchmark workloads on Luminal, straight from C (after tokio's benches/rt_multi_threaded.rs; the Rust
 * programs in ../rust-tokio and ../rust-luminal run the same workloads). Prints one line per workload:
 * `name<TAB>value<TAB>reps` (value: median ns per op unless the name says otherwise).
 * Usage: bench_luminal [workload...]; env BENCH_REPS, BENCH_WARMUP, BENCH_WORKERS, BENCH_IO_FIRST (1: one file read
 * through the runtime before the workloads, which starts its IO backend; names get the suffix `_after_io` — issue
 * 15: idle IO must cost the scheduler nothing; 0: no IO, names get `_no_io` — the other column of that comparison,
 * run as the same kind of process at the same point of run.sh).
 * A C future is a poll function plus a state pointer: tiny tasks need no allocation of their own. */
#include "luminal.h"
#include "bench_util.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { NUM_SPAWN = 10000, NUM_YIELD = 1000, TASKS = 200, NUM_PINGS = 1000, CHAIN = 1000, PENDING = 1000000,
       LATENCY_SAMPLES = 2000 };

static luminal_runtime *rt;
static const char *suffix = ""; /* "_after_io" with BENCH_IO_FIRST=1, "_no_io" with BENCH_IO_FIRST=0 */
static int warmup, reps, workers;
static atomic_size_t rem; /* tasks left before the last one signals `done` */

static void check(luminal_status s) {
  if (s != LUMINAL_OK) { fprintf(stderr, "luminal: %s\n", luminal_status_str(s)); exit(1); }
}
static luminal_future future(luminal_poll_fn poll, void *state) {
  return (luminal_future){.state = state, .poll = poll};
}
/* BENCH_C_STATE=1: every task the spawn workloads spawn carries what a C++ or Rust task carries: a heap state
 * (malloc'd by the spawner), a drop (called once, also after READY), and for joined tasks an output (the state
 * itself, as a C++ frame holds its result) with a drop_output, taken and freed by the joiner. Tells the runtime's
 * cost of such a task from the bindings' own (measured workload names get the suffix `_state`). */
static int stateful;
typedef struct { luminal_poll_fn inner; void *arg; int done; } task_state;
static luminal_poll state_poll(void *s, luminal_context *cx, void **out) {
  task_state *t = s;
  luminal_poll r = t->inner(t->arg, cx, NULL);
  if (r == LUMINAL_POLL_READY) t->done = 1, *out = t;
  return r;
}
static void state_drop(void *s) {
  if (!((task_state *)s)->done) free(s); /* done: the output owns it */
}
static void state_free(void *s) { free(s); }
/* The future of a spawned task: plain (state = arg, nothing to drop), or as above (joined: with an output). */
static luminal_future spawned(luminal_poll_fn poll, void *arg, int joined) {
  if (!stateful) return future(poll, arg);
  task_state *t = malloc(sizeof *t);
  if (!t) exit(1);
  *t = (task_state){poll, arg, 0};
  return (luminal_future){.state = t, .poll = state_poll, .drop = joined ? state_drop : state_free,
                          .drop_output = joined ? state_free : NULL};
}
/* A joined task's output: freed here (stateful), as a C++ joiner frees the frame. */
static void take_free(void *out) {
  if (stateful) free(out);
}

/* `done`: a counting signal from the tasks to the main thread (the Rust programs' mpsc channel). */
static struct { pthread_mutex_t m; pthread_cond_t c; int n; } done = {PTHREAD_MUTEX_INITIALIZER,
                                                                        PTHREAD_COND_INITIALIZER, 0};
static void done_signal(void) {
  pthread_mutex_lock(&done.m);
  done.n++;
  pthread_cond_signal(&done.c);
  pthread_mutex_unlock(&done.m);
}
static void done_wait(int k) {
  pthread_mutex_lock(&done.m);
  while (done.n < k) pthread_cond_wait(&done.c, &done.m);
  done.n -= k;
  pthread_mutex_unlock(&done.m);
}

/* Runs `f` warmup times, then reps times; prints the median of (elapsed ns / ops). */
static void measure(const char *name, int ops, void (*f)(void)) {
  uint64_t v[1000];
  for (int i = 0; i < warmup; i++) f();
  for (int i = 0; i < reps; i++) {
    uint64_t t = now_ns();
    f();
    v[i] = (now_ns() - t) * 10 / ops; /* tenths of ns */
  }
  qsort(v, (size_t)reps, sizeof v[0], cmp_u64);
  printf("%s%s\t%.1f\t%d\n", name, suffix, v[reps / 2] / 10.0, reps);
  fflush(stdout);
}

/* ---- spawn_many_local: one task spawns 10k tiny tasks onto its worker's queue ---- */
static luminal_poll count_down(void *s, luminal_context *cx, void **out) {
  (void)s, (void)cx, (void)out;
  if (atomic_fetch_sub_explicit(&rem, 1, memory_order_relaxed) == 1) done_signal();
  return LUMINAL_POLL_READY;
}
static luminal_poll spawn_10k(void *s, luminal_context *cx, void **out) {
  (void)s, (void)out;
  for (int i = 0; i < NUM_SPAWN; i++) check(luminal_context_spawn(cx, spawned(count_down, NULL, 0), NULL));
  return LUMINAL_POLL_READY;
}
static void spawn_many_local(void) {
  atomic_store(&rem, NUM_SPAWN);
  check(luminal_spawn(rt, future(spawn_10k, NULL), NULL));
  done_wait(1);
}

/* ---- spawn_many_remote_*: the main thread spawns 10k empty tasks, then a block_on awaits them all ---- */
static luminal_task *handles[NUM_SPAWN];
static luminal_poll empty(void *s, luminal_context *cx, void **out) {
  (void)s, (void)cx, (void)out;
  return LUMINAL_POLL_READY;
}
static luminal_poll join_all(void *s, luminal_context *cx, void **out) {
  (void)out;
  for (size_t *i = s; *i < NUM_SPAWN; ++*i) {
    void *out;
    if (luminal_task_poll(handles[*i], cx, &out) == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
    take_free(out);
    luminal_task_release(handles[*i]);
  }
  return LUMINAL_POLL_READY;
}
static void spawn_many_remote(void) {
  for (int i = 0; i < NUM_SPAWN; i++) check(luminal_spawn(rt, spawned(empty, NULL, 1), &handles[i]));
  size_t next = 0;
  check(luminal_block_on(rt, future(join_all, &next), NULL));
}
static atomic_bool busy;
static luminal_poll yield_while_busy(void *s, luminal_context *cx, void **out) {
  (void)s, (void)out;
  if (!atomic_load_explicit(&busy, memory_order_relaxed)) return LUMINAL_POLL_READY;
  luminal_context_yield(cx);
  return LUMINAL_POLL_PENDING;
}
static void spawn_many_remote_busy(void) {
  atomic_store(&busy, 1); /* keep every worker busy with tasks that yield in a loop */
  for (int i = 0; i < 2 * workers; i++) check(luminal_spawn(rt, future(yield_while_busy, NULL), NULL));
  measure("spawn_many_remote_busy", NUM_SPAWN, spawn_many_remote);
  atomic_store(&busy, 0);
}

/* ---- yield_many: 200 tasks yield 1,000 times each ---- */
static luminal_poll yield_1000(void *s, luminal_context *cx, void **out) {
  (void)out;
  int *left = s;
  if ((*left)-- == 0) { done_signal(); return LUMINAL_POLL_READY; }
  luminal_context_yield(cx); /* yield: poll me again after the others */
  return LUMINAL_POLL_PENDING;
}
static void yield_many(void) {
  for (int i = 0; i < TASKS; i++) {
    int *left = malloc(sizeof *left);
    *left = NUM_YIELD;
    check(luminal_spawn(rt, (luminal_future){.state = left, .poll = yield_1000, .drop = free}, NULL));
  }
  done_wait(TASKS);
}

/* Awaits a runtime-made future from inside a poll: 1 when it completed (then it is dropped), 0 while pending. */
static int await_fut(luminal_future *f, luminal_context *cx) {
  void *o;
  if (f->poll(f->state, cx, &o) == LUMINAL_POLL_PENDING) return 0;
  f->drop(f->state);
  f->poll = NULL;
  return 1;
}

/* Receives one message: try_recv, else a recv future kept in `*f` across polls (f->poll NULL: none). 1 = got one. */
static int recv_msg(luminal_receiver *rx, luminal_future *f, luminal_status *res, void **msg, luminal_context *cx) {
  if (!f->poll) {
    luminal_status st = luminal_channel_try_recv(rx, msg);
    if (st == LUMINAL_OK) return 1;
    if (st != LUMINAL_E_EMPTY) check(st);
    check(luminal_channel_recv(rx, msg, res, f));
  }
  if (!await_fut(f, cx)) return 0;
  check(*res);
  return 1;
}

/* Receives a oneshot's value: try_recv, else a recv future kept in `*f` across polls (f->poll NULL: none). */
static int recv_once(luminal_oneshot_receiver *rx, luminal_future *f, luminal_status *res, void **msg,
                     luminal_context *cx) {
  if (!f->poll) {
    luminal_status st = luminal_oneshot_try_recv(rx, msg);
    if (st == LUMINAL_OK) return 1;
    if (st != LUMINAL_E_EMPTY) check(st);
    check(luminal_oneshot_recv(rx, msg, res, f));
  }
  if (!await_fut(f, cx)) return 0;
  check(*res);
  return 1;
}

/* ---- ping_pong: 1,000 pairs of tasks, ping sends over a oneshot, pong answers on another ---- */
typedef struct {
  int started;
  luminal_oneshot_sender *ping_tx, *pong_tx;
  luminal_oneshot_receiver *ping_rx, *pong_rx;
  luminal_future recv_ping, recv_pong; /* pending recvs (poll NULL: none) */
  luminal_status res_ping, res_pong;
  void *msg_ping, *msg_pong; /* the recvs' `msg` out-parameters: borrowed until completion, so not on a poll's stack */
} pair;
static luminal_poll pong_task(void *s, luminal_context *cx, void **out) {
  (void)out;
  pair *p = s; /* owned by the ping task, which waits for our answer: not touched after the send */
  if (!recv_once(p->ping_rx, &p->recv_ping, &p->res_ping, &p->msg_ping, cx)) return LUMINAL_POLL_PENDING;
  luminal_oneshot_receiver_release(p->ping_rx);
  check(luminal_oneshot_send(p->pong_tx, (void *)1)); /* also releases the sender */
  return LUMINAL_POLL_READY;
}
static luminal_poll ping_task(void *s, luminal_context *cx, void **out) {
  (void)out;
  pair *p = s;
  if (!p->started) {
    p->started = 1;
    luminal_runtime *r = luminal_context_runtime(cx);
    check(luminal_oneshot_new(r, NULL, &p->ping_tx, &p->ping_rx));
    check(luminal_oneshot_new(r, NULL, &p->pong_tx, &p->pong_rx));
    check(luminal_context_spawn(cx, future(pong_task, p), NULL));
    check(luminal_oneshot_send(p->ping_tx, (void *)1));
  }
  if (!recv_once(p->pong_rx, &p->recv_pong, &p->res_pong, &p->msg_pong, cx)) return LUMINAL_POLL_PENDING;
  luminal_oneshot_receiver_release(p->pong_rx);
  if (atomic_fetch_sub_explicit(&rem, 1, memory_order_relaxed) == 1) done_signal();
  return LUMINAL_POLL_READY;
}
static luminal_poll spawn_pings(void *s, luminal_context *cx, void **out) {
  (void)s, (void)out;
  for (int i = 0; i < NUM_PINGS; i++)
    check(luminal_context_spawn(cx, (luminal_future){.state = calloc(1, sizeof(pair)), .poll = ping_task,
                                                     .drop = free}, NULL));
  return LUMINAL_POLL_READY;
}
static void ping_pong(void) {
  atomic_store(&rem, NUM_PINGS);
  check(luminal_spawn(rt, future(spawn_pings, NULL), NULL));
  done_wait(1);
}

/* ---- mpsc_1to1 / mpsc_4to1: producers send MSGS messages in all over one bounded (1024) channel to one consumer;
 * each side tries first (try_send / try_recv) and waits with a send / recv future only when full / empty ---- */
enum { MSGS = 100000, CAPACITY = 1024, MAX_PRODUCERS = 4 };
typedef struct {
  luminal_sender *tx;
  size_t left;
  luminal_future send; /* a pending send (poll NULL: none) */
  luminal_status res;
} producer;
static luminal_poll producer_task(void *s, luminal_context *cx, void **out) {
  (void)out;
  producer *p = s;
  for (;;) {
    if (p->send.poll) {
      if (!await_fut(&p->send, cx)) return LUMINAL_POLL_PENDING;
      check(p->res);
      p->left--;
    }
    if (p->left == 0) {
      luminal_sender_release(p->tx);
      done_signal(); /* the next run resets prod[]: it must wait for this task too, not only for the consumer */
      return LUMINAL_POLL_READY;
    }
    luminal_status st = luminal_channel_try_send(p->tx, (void *)1);
    if (st == LUMINAL_OK) {
      p->left--;
      continue;
    }
    if (st != LUMINAL_E_FULL) check(st);
    check(luminal_channel_send(p->tx, (void *)1, &p->res, &p->send));
  }
}
typedef struct {
  luminal_receiver *rx;
  size_t got;
  luminal_future recv;
  luminal_status res;
  void *msg; /* recv's out-parameter: borrowed until the future completes, so it lives here, not on the poll's stack */
} consumer;
static luminal_poll consumer_task(void *s, luminal_context *cx, void **out) {
  (void)out;
  consumer *c = s;
  while (c->got < MSGS) {
    if (!recv_msg(c->rx, &c->recv, &c->res, &c->msg, cx)) return LUMINAL_POLL_PENDING;
    c->got++;
  }
  done_signal();
  return LUMINAL_POLL_READY;
}
static void mpsc_run(int producers) {
  static producer prod[MAX_PRODUCERS];
  static consumer cons;
  luminal_channel_options o = {.struct_size = sizeof o, .capacity = CAPACITY};
  luminal_sender *tx;
  memset(&cons, 0, sizeof cons);
  check(luminal_channel_new(rt, &o, &tx, &cons.rx));
  check(luminal_spawn(rt, future(consumer_task, &cons), NULL));
  for (int i = 0; i < producers; i++) {
    memset(&prod[i], 0, sizeof prod[i]);
    prod[i].tx = i == producers - 1 ? tx : luminal_sender_clone(tx);
    prod[i].left = MSGS / (size_t)producers;
    check(luminal_spawn(rt, future(producer_task, &prod[i]), NULL));
  }
  done_wait(1 + producers);
  luminal_receiver_release(cons.rx);
}
static void mpsc_1(void) { mpsc_run(1); }
static void mpsc_4(void) { mpsc_run(4); }

/* ---- semaphore_contended: 8 tasks x 1,000 times: acquire 1 of 2 permits, yield while holding it, give it back ---- */
enum { SEM_TASKS = 8, SEM_ITERS = 1000, SEM_PERMITS = 2 };
static luminal_semaphore *sem;
typedef struct {
  int left, holding, yielded;
  luminal_future acq; /* a pending acquire (poll NULL: none) */
  luminal_status res;
} sem_task;
static luminal_poll sem_worker(void *s, luminal_context *cx, void **out) {
  (void)out;
  sem_task *t = s;
  for (;;) {
    if (!t->holding) {
      if (!t->acq.poll) {
        luminal_status st = luminal_semaphore_try_acquire(sem, 1);
        if (st != LUMINAL_E_EMPTY) check(st);
        if (st == LUMINAL_OK) t->holding = 1;
        else check(luminal_semaphore_acquire(sem, 1, &t->res, &t->acq));
      }
      if (!t->holding) {
        if (!await_fut(&t->acq, cx)) return LUMINAL_POLL_PENDING;
        check(t->res);
        t->holding = 1;
      }
    }
    if (!t->yielded) { /* hold the permit across a yield: the others queue up */
      t->yielded = 1;
      luminal_context_yield(cx);
      return LUMINAL_POLL_PENDING;
    }
    check(luminal_semaphore_add_permits(sem, 1));
    t->holding = t->yielded = 0;
    if (--t->left == 0) {
      if (atomic_fetch_sub_explicit(&rem, 1, memory_order_relaxed) == 1) done_signal();
      return LUMINAL_POLL_READY;
    }
  }
}
static void semaphore_contended(void) {
  static sem_task tasks[SEM_TASKS];
  atomic_store(&rem, SEM_TASKS);
  for (int i = 0; i < SEM_TASKS; i++) {
    memset(&tasks[i], 0, sizeof tasks[i]);
    tasks[i].left = SEM_ITERS;
    check(luminal_spawn(rt, future(sem_worker, &tasks[i]), NULL));
  }
  done_wait(1);
}

/* ---- chained_spawn: each task spawns the next, 1,000 deep ---- */
static luminal_poll chain(void *s, luminal_context *cx, void **out) {
  (void)out;
  uintptr_t n = (uintptr_t)s;
  if (n == 0) done_signal();
  else check(luminal_context_spawn(cx, spawned(chain, (void *)(n - 1), 0), NULL));
  return LUMINAL_POLL_READY;
}
static void chained_spawn(void) {
  check(luminal_spawn(rt, future(chain, (void *)(uintptr_t)CHAIN), NULL));
  done_wait(1);
}

/* ---- spawn_join: a task spawns an empty task and awaits it; p50/p99 over all samples ---- */
typedef struct { luminal_task *child; uint64_t t0; size_t i, n; uint64_t *samples; } latency;
static luminal_poll spawn_and_await(void *s, luminal_context *cx, void **out) {
  (void)out;
  latency *l = s;
  for (;;) {
    if (!l->child) {
      if (l->i == l->n) { done_signal(); return LUMINAL_POLL_READY; }
      l->t0 = now_ns();
      check(luminal_context_spawn(cx, spawned(empty, NULL, 1), &l->child));
    }
    void *out;
    if (luminal_task_poll(l->child, cx, &out) == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
    take_free(out);
    l->samples[l->i++] = now_ns() - l->t0;
    luminal_task_release(l->child);
    l->child = NULL;
  }
}
static void spawn_join(void) {
  latency l = {.n = (size_t)(warmup + reps) * LATENCY_SAMPLES};
  l.samples = malloc(l.n * sizeof(uint64_t));
  check(luminal_spawn(rt, future(spawn_and_await, &l), NULL));
  done_wait(1);
  uint64_t *v = l.samples + warmup * LATENCY_SAMPLES;
  size_t n = (size_t)reps * LATENCY_SAMPLES;
  qsort(v, n, sizeof v[0], cmp_u64);
  printf("spawn_join_p50_ns\t%llu\t%d\n", (unsigned long long)v[n / 2], reps);
  printf("spawn_join_p99_ns\t%llu\t%d\n", (unsigned long long)v[n * 99 / 100], reps);
  free(l.samples);
}

/* ---- pending_task_bytes: RSS growth with 1M spawned tasks, each polled once and never woken ---- */
static atomic_size_t polled;
static luminal_poll forever_pending(void *s, luminal_context *cx, void **out) {
  (void)s, (void)cx, (void)out;
  atomic_fetch_add_explicit(&polled, 1, memory_order_relaxed);
  return LUMINAL_POLL_PENDING;
}
static long rss_bytes(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2) exit(1);
  fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}
static void pending_task_bytes(void) {
  long before = rss_bytes();
  for (int i = 0; i < PENDING; i++) check(luminal_spawn(rt, future(forever_pending, NULL), NULL));
  while (atomic_load(&polled) < PENDING) usleep(1000);
  printf("pending_task_bytes\t%ld\t1\n", (rss_bytes() - before) / PENDING);
}

/* ---- idle_cpu: CPU time (user + system) of the whole process per second of idle wall time ---- */
static uint64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u + (uint64_t)(ru.ru_utime.tv_usec +
                                                                                     ru.ru_stime.tv_usec);
}
static void idle_cpu(void) {
  chained_spawn(); /* wake the workers once, then leave them idle */
  uint64_t v[3];
  for (int i = 0; i < 3; i++) {
    uint64_t c = cpu_us(), t = now_ns();
    sleep(1);
    v[i] = (cpu_us() - c) * 1000000000u / (now_ns() - t);
  }
  qsort(v, 3, sizeof v[0], cmp_u64);
  printf("idle_cpu_us_per_s\t%llu\t3\n", (unsigned long long)v[1]);
}

static void idle_remote(void) { measure("spawn_many_remote_idle", NUM_SPAWN, spawn_many_remote); }
static void local(void) { measure("spawn_many_local", NUM_SPAWN, spawn_many_local); }
static void yields(void) { measure("yield_many", TASKS * NUM_YIELD, yield_many); }
static void pings(void) { measure("ping_pong", NUM_PINGS, ping_pong); }
static void chained(void) { measure("chained_spawn", CHAIN, chained_spawn); }
static void mpsc_1to1(void) { measure("mpsc_1to1", MSGS, mpsc_1); }
static void mpsc_4to1(void) { measure("mpsc_4to1", MSGS, mpsc_4); }
static void sem_contended(void) {
  check(luminal_semaphore_new(rt, SEM_PERMITS, &sem));
  measure("semaphore_contended", SEM_TASKS * SEM_ITERS, semaphore_contended);
  luminal_semaphore_release(sem);
}

int main(int argc, char **argv) {
  static const struct { const char *name; void (*run)(void); } all[] = {
      {"spawn_many_local", local}, {"spawn_many_remote_idle", idle_remote},
      {"spawn_many_remote_busy", spawn_many_remote_busy}, {"yield_many", yields}, {"ping_pong", pings},
      {"chained_spawn", chained}, {"spawn_join", spawn_join}, {"pending_task_bytes", pending_task_bytes},
      {"idle_cpu", idle_cpu}, {"mpsc_1to1", mpsc_1to1}, {"mpsc_4to1", mpsc_4to1},
      {"semaphore_contended", sem_contended}};
  warmup = env("BENCH_WARMUP", 3), reps = env("BENCH_REPS", 15), workers = env("BENCH_WORKERS", 2);
  if (reps < 1 || reps > 1000) return 2;
  luminal_runtime_options opts = {.struct_size = sizeof opts, .worker_threads = (uint32_t)workers};
  check(luminal_runtime_new(&opts, &rt));
  if ((stateful = env("BENCH_C_STATE", 0))) suffix = "_state";
  const char *io_suffix = bench_io_first(rt); /* BENCH_IO_FIRST */
  if (io_suffix) suffix = io_suffix;
  for (size_t w = 0; w < sizeof all / sizeof all[0]; w++) {
    int selected = argc == 1;
    for (int a = 1; a < argc; a++) selected |= strcmp(argv[a], all[w].name) == 0;
    if (!selected) continue;
    uint64_t gcs = luminal_debug_gc_count();
    all[w].run();
    /* BENCH_GC=1: the library's garbage collections during the workload (warm-up included), on stderr */
    if (env("BENCH_GC", 0)) fprintf(stderr, "%s\tgcs\t%llu\n", all[w].name, (unsigned long long)(luminal_debug_gc_count() - gcs));
  }
  luminal_runtime_release(rt);
  return 0;
}
