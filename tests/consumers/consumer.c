/* A program as a user outside this repository writes it: spawns tasks and joins them. Exit 0 on success. */
#include <luminal.h>

#include <stdint.h>
#include <stdio.h>

static void *square(void *arg) {
  uintptr_t x = (uintptr_t)arg;
  return (void *)(x * x);
}

int main(void) {
  if (luminal_abi_version() != LUMINAL_ABI_VERSION) {
    fprintf(stderr, "library ABI %u, header ABI %u\n", luminal_abi_version(), LUMINAL_ABI_VERSION);
    return 1;
  }
  luminal_runtime *rt = NULL;
  if (luminal_runtime_new(NULL, &rt) != LUMINAL_OK) return 1;
  enum { N = 100 };
  luminal_task *tasks[N];
  for (uintptr_t i = 0; i < N; i++)
    if (luminal_spawn_fn(rt, square, (void *)i, &tasks[i]) != LUMINAL_OK) return 1;
  uintptr_t sum = 0;
  for (int i = 0; i < N; i++) {
    void *out = NULL;
    if (luminal_task_join(tasks[i], UINT64_MAX, &out) != LUMINAL_OK) return 1;
    luminal_task_release(tasks[i]);
    sum += (uintptr_t)out;
  }
  if (luminal_runtime_shutdown(rt, UINT64_MAX) != LUMINAL_OK) return 1;
  luminal_runtime_release(rt);
  if (sum != 328350) { /* 0^2 + ... + 99^2 */
    fprintf(stderr, "sum %lu\n", (unsigned long)sum);
    return 1;
  }
  printf("luminal %s: %d tasks joined\n", luminal_version(), N);
  return 0;
}
