/* Records a run with the task hook and writes it as Chrome trace-event JSON: open the file in https://ui.perfetto.dev
 * (or chrome://tracing). One track per worker, one slice per poll, named and coloured by the scope (the "plugin")
 * that owns the task; counter tracks from luminal_runtime_get_metrics sampled alongside.
 *
 * The hook is called inline on the runtime's threads, so it only appends to a preallocated buffer (one atomic add);
 * the JSON is written after the run. Usage: example_trace [OUT.json] (default: build/cmake/trace.json). */
#include <luminal.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef TRACE_JSON_PATH
#define TRACE_JSON_PATH "trace.json"
#endif

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the recorder: the task hook appends, nothing else happens on the runtime's threads ---------------------- */

typedef struct {
  uint64_t t_ns, task, scope;
  int32_t worker;
  uint8_t event, priority;
} record;

#define MAX_RECORDS 200000
static record records[MAX_RECORDS];
static atomic_size_t nrecords;

static void on_task(void *user, luminal_task_event event, uint64_t task, uint32_t priority, uint64_t scope,
                    int32_t worker) {
  (void)user;
  size_t i = atomic_fetch_add_explicit(&nrecords, 1, memory_order_relaxed);
  if (i >= MAX_RECORDS) return; /* full: later events are not recorded */
  records[i] = (record){now_ns(), task, scope, worker, (uint8_t)event, (uint8_t)priority};
}

/* Metrics sampled by a plain thread while the workload runs. */
typedef struct {
  uint64_t t_ns;
  luminal_runtime_metrics m;
} sample;
#define MAX_SAMPLES 4096
static sample samples[MAX_SAMPLES];
static int nsamples;
static atomic_int sampling;

static void *sampler(void *arg) {
  luminal_runtime *rt = (luminal_runtime *)arg;
  while (atomic_load(&sampling) && nsamples < MAX_SAMPLES) {
    sample *s = &samples[nsamples];
    memset(&s->m, 0, sizeof s->m);
    s->m.struct_size = sizeof s->m;
    s->t_ns = now_ns();
    if (luminal_runtime_get_metrics(rt, &s->m) == LUMINAL_OK) nsamples++;
    struct timespec ts = {0, 500000}; /* every 0.5 ms */
    nanosleep(&ts, NULL);
  }
  return NULL;
}

/* ---- the workload: two "plugins" (scopes) and some unscoped work --------------------------------------------- */

typedef struct {
  uint64_t spin_ns; /* CPU per poll */
  int polls_left;   /* yields before it is ready */
  uint64_t sleep_ns; /* >0: sleeps between polls instead of yielding */
  luminal_future sleeping;
} job;

static void spin(uint64_t ns) {
  uint64_t until = now_ns() + ns;
  while (now_ns() < until) {
  }
}

static luminal_poll job_poll(void *state, luminal_context *cx, void **out) {
  job *j = (job *)state;
  if (j->sleeping.poll) { /* waiting on a sleep */
    void *o;
    if (j->sleeping.poll(j->sleeping.state, cx, &o) == LUMINAL_POLL_PENDING) return LUMINAL_POLL_PENDING;
    j->sleeping.drop(j->sleeping.state);
    memset(&j->sleeping, 0, sizeof j->sleeping);
  }
  spin(j->spin_ns);
  if (j->polls_left-- <= 0) {
    *out = NULL;
    return LUMINAL_POLL_READY;
  }
  if (j->sleep_ns > 0 && luminal_sleep(luminal_context_runtime(cx), j->sleep_ns, &j->sleeping) == LUMINAL_OK)
    return job_poll(state, cx, out); /* registers the sleep's waker */
  luminal_context_yield(cx);
  return LUMINAL_POLL_PENDING;
}

static void job_drop(void *state) {
  job *j = (job *)state;
  if (j->sleeping.drop) j->sleeping.drop(j->sleeping.state);
  free(j);
}

static void spawn_job(luminal_runtime *rt, luminal_scope *scope, luminal_priority priority, uint64_t spin_ns,
                      int polls, uint64_t sleep_ns, luminal_task **out) {
  job *j = (job *)calloc(1, sizeof *j);
  j->spin_ns = spin_ns;
  j->polls_left = polls;
  j->sleep_ns = sleep_ns;
  luminal_future f = {j, job_poll, job_drop, NULL};
  luminal_spawn_options o = {sizeof o, scope, priority};
  if (luminal_spawn_with(rt, f, &o, out) != LUMINAL_OK) {
    fprintf(stderr, "spawn failed\n");
    exit(1);
  }
}

/* ---- the JSON ----------------------------------------------------------------------------------------------- */

static const char *scope_name(uint64_t scope, uint64_t a, uint64_t b) {
  return scope == 0 ? "host" : scope == a ? "plugin-a" : scope == b ? "plugin-b" : "other";
}

/* chrome://tracing's reserved colour names (Perfetto colours by name, which differs per scope anyway). */
static const char *scope_colour(uint64_t scope, uint64_t a, uint64_t b) {
  return scope == 0 ? "grey" : scope == a ? "thread_state_running" : scope == b ? "rail_animation" : "yellow";
}

static int write_trace(const char *path, uint32_t workers, uint64_t origin, uint64_t a, uint64_t b) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
  fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"luminal runtime\"}}");
  for (uint32_t w = 0; w < workers; w++)
    fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"args\":{\"name\":\"worker %u\"}}", w, w);
  fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"args\":{\"name\":\"other threads\"}}", workers);
  size_t n = atomic_load(&nrecords);
  if (n > MAX_RECORDS) n = MAX_RECORDS;
  /* Pair each POLL_START with the next POLL_END of the same task (a task is polled by one thread at a time). */
  for (size_t i = 0; i < n; i++) {
    const record *s = &records[i];
    uint32_t tid = s->worker >= 0 ? (uint32_t)s->worker : workers;
    if (s->event == LUMINAL_TASK_SPAWNED || s->event == LUMINAL_TASK_COMPLETED || s->event == LUMINAL_TASK_CANCELLED) {
      const char *what = s->event == LUMINAL_TASK_SPAWNED ? "spawn" : s->event == LUMINAL_TASK_COMPLETED ? "done" : "cancelled";
      fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":1,\"tid\":%u,"
                 "\"args\":{\"task\":\"0x%" PRIx64 "\"}}",
              what, scope_name(s->scope, a, b), (double)(s->t_ns - origin) / 1000.0, tid, s->task);
      continue;
    }
    if (s->event != LUMINAL_TASK_POLL_START) continue;
    for (size_t k = i + 1; k < n; k++) {
      const record *e = &records[k];
      if (e->task != s->task || e->event != LUMINAL_TASK_POLL_END) continue;
      fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,\"tid\":%u,"
                 "\"cname\":\"%s\",\"args\":{\"task\":\"0x%" PRIx64 "\",\"priority\":%u}}",
              scope_name(s->scope, a, b), scope_name(s->scope, a, b), (double)(s->t_ns - origin) / 1000.0,
              (double)(e->t_ns - s->t_ns) / 1000.0, tid, scope_colour(s->scope, a, b), s->task, s->priority);
      break;
    }
  }
  for (int i = 0; i < nsamples; i++) {
    const luminal_runtime_metrics *m = &samples[i].m;
    double ts = (double)(samples[i].t_ns - origin) / 1000.0;
    fprintf(f, ",\n{\"name\":\"tasks\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,\"args\":{\"alive\":%" PRIu64
               ",\"ready\":%" PRIu64 "}}",
            ts, m->tasks_alive, m->injector_depth + m->local_queue_depth);
    fprintf(f, ",\n{\"name\":\"timers pending\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,\"args\":{\"timers\":%" PRIu64 "}}",
            ts, m->timers_pending);
  }
  fprintf(f, "\n]}\n");
  return fclose(f);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : TRACE_JSON_PATH;
  luminal_runtime_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.worker_threads = 4;
  o.task_hook = on_task;
  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(&o, &rt) != LUMINAL_OK) return 1;
  luminal_scope *a = NULL, *b = NULL;
  luminal_scope_new(rt, &a);
  luminal_scope_new(rt, &b);

  uint64_t origin = now_ns();
  atomic_store(&sampling, 1);
  pthread_t th;
  pthread_create(&th, NULL, sampler, rt);

  /* plugin-a: CPU-heavy (0.25 ms per poll, 5 polls each); plugin-b: 0.1 ms polls between 1 ms sleeps; the host:
   * a few urgent tasks with short polls between 2 ms sleeps. */
  enum { NA = 12, NB = 24, NH = 6 };
  luminal_task *t[NA + NB + NH];
  int n = 0;
  for (int i = 0; i < NA; i++) spawn_job(rt, a, LUMINAL_PRIORITY_UTILITY, 250000, 4, 0, &t[n++]);
  for (int i = 0; i < NB; i++) spawn_job(rt, b, LUMINAL_PRIORITY_BACKGROUND, 100000, 6, 1000000, &t[n++]);
  for (int i = 0; i < NH; i++) spawn_job(rt, NULL, LUMINAL_PRIORITY_USER_INTERACTIVE, 50000, 4, 2000000, &t[n++]);
  for (int i = 0; i < n; i++) {
    luminal_task_join(t[i], UINT64_MAX, NULL);
    luminal_task_release(t[i]);
  }
  atomic_store(&sampling, 0);
  pthread_join(th, NULL);

  luminal_scope_counters ca = {sizeof ca}, cb = {sizeof cb};
  luminal_scope_stats(a, &ca);
  luminal_scope_stats(b, &cb);
  printf("plugin-a: %" PRIu64 " polls, %.1f ms of CPU; plugin-b: %" PRIu64 " polls, %.1f ms\n", ca.polls,
         (double)ca.poll_ns / 1e6, cb.polls, (double)cb.poll_ns / 1e6);
  luminal_scope_close(a, UINT64_MAX);
  luminal_scope_close(b, UINT64_MAX);
  uint32_t workers = luminal_runtime_worker_count(rt);
  uint64_t ida = (uint64_t)(uintptr_t)a, idb = (uint64_t)(uintptr_t)b;
  luminal_scope_release(a);
  luminal_scope_release(b);
  luminal_runtime_shutdown(rt, UINT64_MAX);
  luminal_runtime_release(rt);

  if (write_trace(path, workers, origin, ida, idb) != 0) {
    perror(path);
    return 1;
  }
  printf("trace: %zu task events, %d metric samples -> %s (open it in https://ui.perfetto.dev)\n",
         (size_t)atomic_load(&nrecords), nsamples, path);
  return 0;
}
