// An echo server with coroutines, self-contained: it listens on a free port, connects to itself with a few clients,
// checks every echo, and exits. Every connection is its own task; reads and writes suspend the task, not a thread.
#include "luminal.hpp"

#include <cstdio>
#include <string>
#include <sys/socket.h>
#include <vector>

using luminal::task;

enum { CLIENTS = 8, MESSAGES = 100 };

// Echoes everything until the peer closes its side.
static task<size_t> serve(int32_t fd) {
  char buf[4096];
  size_t total = 0;
  while (size_t n = co_await luminal::stream_read(fd, buf, sizeof buf)) {
    co_await luminal::stream_write_all(fd, buf, n);
    total += n;
  }
  co_await luminal::file_close(fd);
  co_return total;
}

// Accepts `clients` connections, one task each; returns the bytes echoed.
static task<size_t> server(int32_t listener_fd, int clients) {
  std::vector<luminal::join_handle<size_t>> conns;
  luminal::runtime_ref rt = co_await luminal::current_runtime();
  for (int i = 0; i < clients; i++) conns.push_back(luminal::spawn(rt, serve(co_await luminal::tcp_accept(listener_fd))));
  size_t total = 0;
  for (auto &c : conns) total += co_await c;
  co_return total;
}

// Sends MESSAGES lines and reads each echo back.
static task<bool> client(uint16_t port, int id) {
  int32_t fd = co_await luminal::tcp_connect("127.0.0.1", port);
  bool ok = true;
  for (int m = 0; m < MESSAGES && ok; m++) {
    std::string line = "client " + std::to_string(id) + " message " + std::to_string(m) + "\n";
    co_await luminal::stream_write_all(fd, line.data(), line.size());
    std::string back;
    char buf[256];
    while (back.size() < line.size()) {
      size_t n = co_await luminal::stream_read(fd, buf, sizeof buf);
      if (n == 0) break;
      back.append(buf, n);
    }
    ok = back == line;
  }
  luminal::stream_shutdown(fd, SHUT_WR);
  co_await luminal::file_close(fd);
  co_return ok;
}

int main() {
  luminal::runtime rt = luminal::runtime::builder().worker_threads(2).build();
  luminal::listener l = luminal::tcp_listen("127.0.0.1");
  auto srv = luminal::spawn(rt, server(l.fd, CLIENTS));
  std::vector<luminal::join_handle<bool>> clients;
  for (int i = 0; i < CLIENTS; i++) clients.push_back(luminal::spawn(rt, client(l.port, i)));
  int failed = 0;
  for (auto &c : clients) failed += !c.join();
  size_t echoed = srv.join();
  luminal::block_on(rt, luminal::file_close(l.fd));
  std::printf("echo: %d clients x %d messages, %zu bytes echoed, %d failed\n", CLIENTS, MESSAGES, echoed, failed);
  return failed == 0 ? 0 : 1;
}
