// luminal.hpp over the C ABI's later additions: oneshot awaits, addresses and name resolution (IP literals only:
// no DNS in tests), TCP/Unix/UDP sockets, fd readiness, path operations and child processes.
#include "test_util.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <set>
#include <signal.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace luminal;
using namespace std::chrono_literals;

namespace {
uint16_t port_of(const socket_addr &a) {
  sockaddr_in in;
  std::memcpy(&in, a.raw, sizeof in);
  return ntohs(in.sin_port);
}
// A port on 127.0.0.1 that refuses connects: held by a socket bound there that never listens, so a test running in
// parallel cannot be given it (as it can a port bound and closed). Returns the socket: close it after.
int refusing_port(uint16_t *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(s >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  CHECK(getsockname(s, reinterpret_cast<sockaddr *>(&a), &len) == 0);
  *port = ntohs(a.sin_port);
  return s;
}
// The errno of the luminal::error an awaitable throws (0 if none), inside a task.
template <class A>
task<int> os_error_of(A a) {
  try {
    co_await std::move(a);
  } catch (const error &e) {
    CHECK(e.status() == LUMINAL_E_IO);
    co_return e.os_error();
  }
  co_return 0;
}
// A fresh directory under /tmp, removed (with what the test left in it) by the destructor.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/luminal-cpp-io-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { (void)!std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const char *name) const { return path + "/" + name; }
};
} // namespace

TEST(oneshot_recv_round_trip_and_closed) {
  runtime r = tu::rt();
  auto [tx, rx] = oneshot<std::string>(r);
  auto waiter = [](oneshot_receiver<std::string> rx) -> task<std::string> { co_return *co_await rx.recv(); };
  auto h = spawn(r, waiter(std::move(rx)));
  std::this_thread::sleep_for(2ms);
  CHECK(std::move(tx).send("over"));
  CHECK(!tx);
  CHECK(h.join() == "over");

  auto [tx2, rx2] = oneshot<int>(r); // the sender goes without sending: nullopt
  auto none = [](oneshot_receiver<int> &rx) -> task<bool> { co_return !(co_await rx.recv()).has_value(); };
  auto h2 = spawn(r, none(rx2));
  std::this_thread::sleep_for(2ms);
  { auto drop = std::move(tx2); }
  CHECK(h2.join());

  auto [tx3, rx3] = oneshot<int>(r); // received already: the next recv is closed
  CHECK(std::move(tx3).send(7));
  auto twice = [](oneshot_receiver<int> &rx) -> task<int> {
    int v = *co_await rx.recv();
    CHECK(!(co_await rx.recv()).has_value());
    co_return v;
  };
  CHECK(block_on(r, twice(rx3)) == 7);
}

TEST(resolve_ip_literals_and_tcp_by_address) {
  runtime r = tu::rt();
  bound_socket l = tcp_listen_addr(socket_addr_parse("127.0.0.1", 0));
  uint16_t port = port_of(l.addr);
  CHECK(port != 0 && port_of(socket_local_addr(l.fd)) == port);
  auto server = [](int32_t lfd) -> task<int> {
    int n = 0;
    for (int i = 0; i < 2; i++) {
      int32_t fd = co_await tcp_accept(lfd);
      char c = 0;
      CHECK(co_await stream_read(fd, &c, 1) == 1);
      co_await stream_write(fd, &c, 1);
      co_await file_close(fd);
      n += c;
    }
    co_return n;
  };
  auto s = spawn(r, server(l.fd));
  auto client = [](uint16_t port) -> task<void> {
    addr_list found = co_await resolve("127.0.0.1", port);
    CHECK(found.size() >= 1);
    for (const socket_addr &a : found) CHECK(port_of(a) == port);
    int32_t fd = co_await tcp_connect_addr(found[0]);
    CHECK(port_of(socket_peer_addr(fd)) == port);
    socket_set_option(fd, LUMINAL_SOCKOPT_NODELAY, 1);
    CHECK(socket_get_option(fd, LUMINAL_SOCKOPT_NODELAY) == 1);
    char c = 1;
    co_await stream_write(fd, &c, 1);
    CHECK(co_await stream_read(fd, &c, 1) == 1 && c == 1);
    co_await file_close(fd);
    int32_t fd2 = co_await tcp_connect_host("127.0.0.1", port); // a literal: no resolver
    c = 2;
    co_await stream_write(fd2, &c, 1);
    CHECK(co_await stream_read(fd2, &c, 1) == 1 && c == 2);
    co_await file_close(fd2);
  };
  block_on(r, client(port));
  CHECK(s.join() == 3);
  close(l.fd);
  // A port nobody listens on: ECONNREFUSED; bad input is an error before any IO.
  uint16_t refused = 0;
  int held = refusing_port(&refused);
  CHECK(block_on(r, os_error_of(tcp_connect_addr(socket_addr_parse("127.0.0.1", refused)))) == ECONNREFUSED);
  close(held);
  CHECK(tu::status_of([] { socket_addr_parse("not-an-ip", 1); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { block_on(r, tcp_connect_addr(socket_addr{})); }) == LUMINAL_E_INVALID_ARGUMENT);
  auto throws_io = [] {
    try {
      socket_peer_addr(-1);
    } catch (const error &e) {
      return e.status() == LUMINAL_E_IO && e.os_error() == EBADF;
    }
    return false;
  };
  CHECK(throws_io());
}

TEST(unix_sockets_and_fd_ready) {
  runtime r = tu::rt();
  temp_dir dir;
  std::string path = dir / "sock";
  socket_addr addr = socket_addr_unix(path);
  int32_t lfd = unix_listen(addr);
  auto server = [](int32_t lfd) -> task<char> {
    int32_t fd = co_await tcp_accept(lfd);
    uint32_t bits = co_await fd_ready(fd, LUMINAL_READY_READABLE);
    CHECK(bits & LUMINAL_READY_READABLE);
    char c = 0;
    CHECK(co_await stream_read(fd, &c, 1) == 1);
    co_await file_close(fd);
    co_return c;
  };
  auto s = spawn(r, server(lfd));
  auto client = [](socket_addr a) -> task<void> {
    int32_t fd = co_await unix_connect(a);
    CHECK(co_await fd_ready(fd, LUMINAL_READY_WRITABLE) & LUMINAL_READY_WRITABLE);
    co_await stream_write(fd, "u", 1);
    co_await file_close(fd);
  };
  block_on(r, client(addr));
  CHECK(s.join() == 'u');
  close(lfd);
  CHECK(block_on(r, os_error_of(unix_connect(socket_addr_unix(dir / "none")))) == ENOENT);
  CHECK(tu::status_of([] { socket_addr_unix(""); }) == LUMINAL_E_INVALID_ARGUMENT);
  CHECK(tu::status_of([&] { block_on(r, fd_ready(0, LUMINAL_READY_ERROR)); }) == LUMINAL_E_INVALID_ARGUMENT);
}

TEST(udp_loopback) {
  runtime r = tu::rt();
  bound_socket a = udp_bind(socket_addr_parse("127.0.0.1", 0));
  bound_socket b = udp_bind(socket_addr_parse("127.0.0.1", 0));
  auto body = [](bound_socket a, bound_socket b) -> task<void> {
    CHECK(co_await udp_send_to(a.fd, "ping", 4, b.addr) == 4);
    char buf[16] = {};
    datagram d = co_await udp_recv_from(b.fd, buf, sizeof buf);
    CHECK(d.size == 4 && std::memcmp(buf, "ping", 4) == 0 && port_of(d.from) == port_of(a.addr));
    udp_connect(b.fd, a.addr);
    CHECK(co_await udp_send(b.fd, "pong!", 5) == 5);
    datagram e = co_await udp_recv_from(a.fd, buf, 2); // truncated to the buffer
    CHECK(e.size == 2 && std::memcmp(buf, "po", 2) == 0 && port_of(e.from) == port_of(b.addr));
  };
  block_on(r, body(a, b));
  socket_set_option(a.fd, LUMINAL_SOCKOPT_BROADCAST, 1);
  CHECK(socket_get_option(a.fd, LUMINAL_SOCKOPT_BROADCAST) == 1);
  CHECK(block_on(r, os_error_of(udp_send(a.fd, "x", 1))) == EDESTADDRREQ);
  close(a.fd), close(b.fd);
}

TEST(fs_path_operations) {
  runtime r = tu::rt();
  temp_dir dir;
  auto body = [](const temp_dir &d) -> task<std::set<std::string>> {
    std::string sub = d / "sub", file = d / "f", moved = d / "sub/g";
    co_await fs_mkdir(sub.c_str(), 0755);
    CHECK(co_await os_error_of(fs_mkdir(sub.c_str())) == EEXIST);
    int32_t fd = co_await file_open(file.c_str(), O_WRONLY | O_CREAT);
    co_await write_at(fd, "12345", 5, 0);
    co_await file_close(fd);
    luminal_file_info info = co_await fs_stat(file.c_str());
    CHECK(info.size == 5);
    dir_list top = co_await fs_read_dir(d.path.c_str());
    std::set<std::string> names;
    for (const luminal_dir_entry &e : top) {
      names.insert(e.name);
      CHECK(e.kind == (std::strcmp(e.name, "sub") == 0 ? DT_DIR : DT_REG) || e.kind == DT_UNKNOWN);
    }
    co_await fs_rename(file.c_str(), moved.c_str());
    CHECK(co_await os_error_of(fs_stat(file.c_str())) == ENOENT);
    CHECK(co_await os_error_of(fs_remove_dir(sub.c_str())) == ENOTEMPTY);
    CHECK((co_await fs_read_dir(sub.c_str())).size() == 1);
    co_await fs_unlink(moved.c_str());
    co_await fs_remove_dir(sub.c_str());
    CHECK((co_await fs_read_dir(d.path.c_str())).size() == 0);
    CHECK(co_await os_error_of(fs_read_dir(sub.c_str())) == ENOENT);
    co_return names;
  };
  CHECK((block_on(r, body(dir)) == std::set<std::string>{"sub", "f"}));
  CHECK(tu::status_of([&] { block_on(r, fs_unlink(nullptr)); }) == LUMINAL_E_INVALID_ARGUMENT);
}

TEST(process_output_and_exit_status) {
  runtime r = tu::rt();
  char sh[] = "/bin/sh", dash_c[] = "-c", script[] = "echo hi; exit 3";
  char *argv[] = {sh, dash_c, script, nullptr};
  process p = process::spawn("/bin/sh", argv, LUMINAL_STDIO_NULL, LUMINAL_STDIO_PIPE, LUMINAL_STDIO_INHERIT);
  CHECK(p.pid() > 0 && p.stdout_fd() >= 0 && p.stdin_fd() == -1);
  auto body = [](process &p) -> task<std::string> {
    std::string out;
    char buf[64];
    while (size_t n = co_await stream_read(p.stdout_fd(), buf, sizeof buf)) out.append(buf, n);
    int status = co_await p.wait();
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    co_return out;
  };
  CHECK(block_on(r, body(p)) == "hi\n");
  CHECK(tu::status_of([&] { p.kill(0); }) == LUMINAL_E_IO); // reaped: ESRCH

  char sleep_[] = "sleep", secs[] = "30";
  char *argv2[] = {sleep_, secs, nullptr};
  process q = process::spawn("sleep", argv2); // searched in PATH
  q.kill(0);
  q.kill(SIGKILL);
  auto waited = [](const process &q) -> task<int> { co_return co_await q.wait(); };
  int status = block_on(r, waited(q));
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  process moved = std::move(q);
  CHECK(q.pid() == -1 && moved.pid() > 0);
  CHECK(tu::status_of([] { process::spawn("/nonexistent/luminal-prog", nullptr); }) == LUMINAL_E_IO);
}
