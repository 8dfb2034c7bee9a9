/* What the C benchmark programs share: the clock, environment knobs, sorting samples, and the "one IO operation
 * first" switch (BENCH_IO_FIRST) that the idle-IO rows use. Header-only: each program is one file plus this. */
#ifndef LUMINAL_BENCH_UTIL_H
#define LUMINAL_BENCH_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "luminal.h"

static inline uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline int env(const char *name, int dflt) {
  const char *v = getenv(name);
  return v ? atoi(v) : dflt;
}

/* qsort's comparison for uint64_t samples. */
static inline int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* BENCH_IO_FIRST=1: one file read before the workloads, so the io_uring ring exists with nothing in flight; the
 * rows then get the suffix "_after_io" (BENCH_IO_FIRST=0: "_no_io", the same kind of process without it; unset:
 * NULL, no suffix). */
static inline const char *bench_io_first(luminal_runtime *rt) {
  if (env("BENCH_IO_FIRST", 0)) {
    static char buf[4096];
    int fd = open("/proc/self/exe", O_RDONLY);
    luminal_io_result res;
    luminal_future f;
    luminal_status s = luminal_file_read_at(rt, fd, buf, sizeof buf, 0, &res, &f);
    if (s == LUMINAL_OK) s = luminal_block_on(rt, f, NULL);
    if (s == LUMINAL_OK) s = res.status;
    if (s != LUMINAL_OK) { fprintf(stderr, "luminal: the first IO operation: %s\n", luminal_status_str(s)); exit(1); }
    close(fd);
    return "_after_io";
  }
  return getenv("BENCH_IO_FIRST") ? "_no_io" : NULL;
}

#endif
