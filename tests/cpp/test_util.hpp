// The C++ tests' tiny harness: TEST(name) registers a case; CHECK aborts with the failing line. `cpp_tests NAME`
// runs one case, `--list` lists them, `--all` runs them all in one process (the sanitizer and clang builds).
#pragma once
#include "luminal.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace tu {
using test_fn = void (*)();
void add(const char *name, test_fn fn);
struct reg {
  reg(const char *name, test_fn fn) { add(name, fn); }
};

// Counts constructions and destructions of a probe (a coroutine local, a callable, a message).
struct counts {
  std::atomic<int> made{0}, gone{0};
};
struct probe {
  counts *c;
  explicit probe(counts &k) noexcept : c(&k) { c->made++; }
  probe(const probe &o) noexcept : c(o.c) { c->made++; }
  probe(probe &&o) noexcept : c(o.c) { c->made++; }
  probe &operator=(const probe &) = default;
  ~probe() { c->gone++; }
};

inline luminal::runtime rt(uint32_t workers = 2) { return luminal::runtime::builder().worker_threads(workers).build(); }

// Waits (up to 10 s) until pred() holds.
template <class P>
bool eventually(P pred) {
  for (int i = 0; i < 10000; i++) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// Runs fn and returns the status of the luminal::error it throws (LUMINAL_OK if it throws none).
template <class F>
luminal_status status_of(F fn) {
  try {
    fn();
  } catch (const luminal::error &e) {
    return e.status();
  }
  return LUMINAL_OK;
}
} // namespace tu

#define TEST(name)                                                                                                   \
  static void name();                                                                                                \
  static ::tu::reg name##_reg(#name, name);                                                                          \
  static void name()

#define CHECK(c)                                                                                                     \
  do {                                                                                                               \
    if (!(c)) {                                                                                                      \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                                     \
      std::abort();                                                                                                  \
    }                                                                                                                \
  } while (0)
