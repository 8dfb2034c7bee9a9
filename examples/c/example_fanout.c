/*
 * example_fanout — fan-out / fan-in with a hand-written, waker-driven future and a task set.
 *
 * A "device" thread (think: an I/O completion thread, not a Luminal worker) computes jobs. Each of N tasks submits
 * one job together with a clone of its waker and returns PENDING; the device completes the job and wakes the
 * waker, so the task is polled again and returns the result. The tasks go into a task set (luminal_task_set_*),
 * and the main thread takes their results in the order they finish (join_next) and sums them.
 */
#include <luminal.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 1000 };

/* ---- the device: a thread serving a queue of jobs ---- */

typedef struct job {
  uint64_t input, result;
  int submitted, done;
  luminal_waker *waker; /* owned clone of the submitting task's waker */
  struct job *next;
} job;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job *head, *tail;
  int stop;
} device = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

static void *device_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&device.mu);
  for (;;) {
    while (device.head == NULL && !device.stop) pthread_cond_wait(&device.cv, &device.mu);
    if (device.head == NULL) break;
    job *j = device.head;
    device.head = j->next;
    if (device.head == NULL) device.tail = NULL;
    /* "do the work" and complete the job; wake the task outside the lock (the waker is consumed) */
    j->result = j->input * j->input;
    j->done = 1;
    luminal_waker *w = j->waker;
    j->waker = NULL;
    pthread_mutex_unlock(&device.mu);
    luminal_waker_wake(w);
    pthread_mutex_lock(&device.mu);
  }
  pthread_mutex_unlock(&device.mu);
  return NULL;
}

/* ---- the future: submit once, then wait to be woken ---- */

static luminal_poll job_poll(void *state, luminal_context *cx, void **output) {
  job *j = (job *)state;
  pthread_mutex_lock(&device.mu);
  if (j->done) {
    pthread_mutex_unlock(&device.mu);
    *output = (void *)(uintptr_t)j->result;
    return LUMINAL_POLL_READY;
  }
  if (!j->submitted) {
    j->submitted = 1;
    j->waker = luminal_waker_clone(luminal_context_waker(cx));
    j->next = NULL;
    if (device.tail) device.tail->next = j;
    else device.head = j;
    device.tail = j;
    pthread_cond_signal(&device.cv);
  }
  pthread_mutex_unlock(&device.mu);
  return LUMINAL_POLL_PENDING;
}

static void job_drop(void *state) {
  job *j = (job *)state;
  luminal_waker_release(j->waker); /* NULL unless dropped while queued */
  free(j);
}

int main(void) {
  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(NULL, &rt) != LUMINAL_OK) return 1;
  pthread_t dev;
  pthread_create(&dev, NULL, device_thread, NULL);

  /* fan out: every task goes into one set */
  luminal_task_set *set = NULL;
  if (luminal_task_set_new(rt, &set) != LUMINAL_OK) return 1;
  for (uint64_t i = 0; i < N; i++) {
    job *j = (job *)calloc(1, sizeof *j);
    j->input = i + 1;
    luminal_future f = {j, job_poll, job_drop, NULL};
    luminal_status st = luminal_task_set_spawn(set, f, NULL); /* takes f, also on failure */
    if (st != LUMINAL_OK) {
      fprintf(stderr, "spawn: %s\n", luminal_status_str(st));
      return 1;
    }
  }

  /* fan in, in finishing order: join_next until the set is empty */
  uint64_t sum = 0;
  for (;;) {
    void *out = NULL;
    luminal_status result;
    luminal_future next;
    if (luminal_task_set_join_next(set, &out, &result, &next) != LUMINAL_OK) return 1;
    if (luminal_block_on(rt, next, NULL) != LUMINAL_OK) return 1;
    if (result == LUMINAL_E_EMPTY) break;
    if (result != LUMINAL_OK) {
      fprintf(stderr, "join: %s\n", luminal_status_str(result));
      return 1;
    }
    sum += (uint64_t)(uintptr_t)out;
  }
  luminal_task_set_release(set);

  pthread_mutex_lock(&device.mu);
  device.stop = 1;
  pthread_cond_signal(&device.cv);
  pthread_mutex_unlock(&device.mu);
  pthread_join(dev, NULL);
  luminal_runtime_shutdown(rt, UINT64_MAX);
  luminal_runtime_release(rt);

  uint64_t expected = (uint64_t)N * (N + 1) * (2 * N + 1) / 6;
  printf("fan-out of %d tasks completed by a device thread: sum of squares = %llu (expected %llu)\n", N,
         (unsigned long long)sum, (unsigned long long)expected);
  return sum == expected ? 0 : 1;
}
