// Hello from C++: spawn a callable and a few coroutines onto a runtime, then join them.
#include "luminal.hpp"

#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// A coroutine is a Luminal task: it runs on the runtime's workers, and co_await suspends it without blocking one.
static luminal::task<int> square_later(int x) {
  co_await luminal::sleep(1ms);
  co_return x * x;
}

int main() {
  luminal::runtime rt = luminal::runtime::builder().worker_threads(2).build();

  luminal::join_handle<std::string> greeting = luminal::spawn(rt, [] { return std::string("hello from a worker"); });
  std::printf("%s\n", greeting.join().c_str());

  std::vector<luminal::join_handle<int>> squares;
  for (int i = 1; i <= 10; i++) squares.push_back(luminal::spawn(rt, square_later(i)));
  int sum = 0;
  for (auto &h : squares) sum += h.join();
  std::printf("sum of squares 1..10 = %d\n", sum);

  // An exception thrown in a task comes back out of its join.
  try {
    luminal::block_on(rt, []() -> luminal::task<void> {
      co_await luminal::yield_now();
      throw std::runtime_error("thrown inside a task");
    }());
  } catch (const std::exception &e) {
    std::printf("caught: %s\n", e.what());
  }
  return sum == 385 ? 0 : 1;
}
