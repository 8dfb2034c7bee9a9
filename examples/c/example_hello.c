/*
 * example_hello — the basic shape of a Luminal program:
 *   create a runtime, block_on a root future; the root spawns a "hello world" task through its context and
 *   awaits it with luminal_task_poll; then shut down.
 */
#include <luminal.h>

#include <stdio.h>
#include <string.h>

/* A future that is ready at once; its output is a static string (nothing to free). */
static luminal_poll hello_poll(void *state, luminal_context *cx, void **output) {
  (void)state;
  (void)cx;
  printf("hello world (from a Luminal task)\n");
  *output = (void *)"hello world";
  return LUMINAL_POLL_READY;
}

/* The root future's state: the join handle of the child it spawned. */
typedef struct root_state {
  luminal_task *child;
  luminal_status status;
} root_state;

static luminal_poll root_poll(void *state, luminal_context *cx, void **output) {
  root_state *s = (root_state *)state;
  if (s->child == NULL) {
    luminal_future hello = {NULL, hello_poll, NULL, NULL};
    s->status = luminal_context_spawn(cx, hello, &s->child);
    if (s->status != LUMINAL_OK) {
      *output = NULL;
      return LUMINAL_POLL_READY;
    }
  }
  /* Await the child: PENDING registers this task's waker; we are polled again when the child finishes. */
  void *child_output = NULL;
  luminal_status st = luminal_task_poll(s->child, cx, &child_output);
  if (st == LUMINAL_PENDING) return LUMINAL_POLL_PENDING;
  s->status = st;
  *output = child_output;
  return LUMINAL_POLL_READY;
}

static void root_drop(void *state) {
  root_state *s = (root_state *)state;
  luminal_task_release(s->child); /* NULL is ignored */
}

int main(void) {
  printf("luminal %s (ABI %u)\n", luminal_version(), luminal_abi_version());
  if (luminal_abi_version() != LUMINAL_ABI_VERSION) {
    fprintf(stderr, "library ABI %u, header ABI %u\n", luminal_abi_version(), LUMINAL_ABI_VERSION);
    return 1;
  }

  luminal_runtime *rt = NULL;
  luminal_status st = luminal_runtime_new(NULL, &rt);
  if (st != LUMINAL_OK) {
    fprintf(stderr, "luminal_runtime_new: %s\n", luminal_status_str(st));
    return 1;
  }
  printf("runtime with %u worker threads\n", luminal_runtime_worker_count(rt));

  root_state root = {NULL, LUMINAL_OK};
  luminal_future fut = {&root, root_poll, root_drop, NULL};
  void *output = NULL;
  st = luminal_block_on(rt, fut, &output);
  int ok = st == LUMINAL_OK && root.status == LUMINAL_OK && output && strcmp((const char *)output, "hello world") == 0;
  if (ok) printf("the root future got: \"%s\"\n", (const char *)output);
  else fprintf(stderr, "block_on: %s, child: %s\n", luminal_status_str(st), luminal_status_str(root.status));

  luminal_runtime_shutdown(rt, UINT64_MAX);
  luminal_runtime_release(rt);
  return ok ? 0 : 1;
}
