/* Runner for the TEST() cases: `luminal_tests NAME` runs one case, `luminal_tests --list` lists them,
 * `luminal_tests --all` runs every case in this process (handy under a debugger). CTest runs one case per process. */
#include "test_util.h"

#define TU_MAX_TESTS 1024
static struct {
  const char *name;
  tu_test_fn fn;
} tu_tests[TU_MAX_TESTS];
static int tu_count;

void tu_register(const char *name, tu_test_fn fn) {
  if (tu_count == TU_MAX_TESTS) {
    fprintf(stderr, "too many tests\n");
    _exit(2);
  }
  tu_tests[tu_count].name = name;
  tu_tests[tu_count].fn = fn;
  tu_count++;
}

static void run(int i) {
  uint64_t t0 = tu_now_ns();
  printf("[ RUN  ] %s\n", tu_tests[i].name);
  fflush(stdout);
  tu_tests[i].fn();
  printf("[  OK  ] %s (%.1f ms)\n", tu_tests[i].name, (double)(tu_now_ns() - t0) / 1e6);
  fflush(stdout);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (int i = 0; i < tu_count; i++) printf("%s\n", tu_tests[i].name);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "--all") == 0) {
    for (int i = 0; i < tu_count; i++) run(i);
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: %s TEST | --list | --all\n", argv[0]);
    return 2;
  }
  for (int i = 0; i < tu_count; i++) {
    if (strcmp(tu_tests[i].name, argv[1]) == 0) {
      run(i);
      return 0;
    }
  }
  fprintf(stderr, "no test named %s\n", argv[1]);
  return 2;
}
