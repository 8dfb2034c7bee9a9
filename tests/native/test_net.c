/* Addresses, names and sockets beyond IPv4 TCP (luminal_socket_addr_*, luminal_resolve, luminal_tcp_*_addr,
 * luminal_unix_*, luminal_udp_*, luminal_socket_*_option, luminal_fd_ready), on BOTH backends: IO_TEST cases run
 * as native.<name>.uring and native.<name>.pool (see test_io_util.h).
 *
 * Names are resolved through a getaddrinfo this executable defines (exported dynamically, so libluminal finds it
 * in the global scope as it would a host's interposed resolver): it answers "slow.luminal.test" only when the
 * test lets it, "nxdomain.luminal.test" with EAI_NONAME, and passes everything else to libc — so no test needs a
 * network or a DNS server. */
#include "test_io_util.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* ------------------------------------------------------------------------------------------------------------- */
/* The resolver hook                                                                                              */
/* ------------------------------------------------------------------------------------------------------------- */

static pthread_mutex_t g_slow_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_slow_cv = PTHREAD_COND_INITIALIZER;
static int g_slow_entered, g_slow_released;
static char g_slow_thread[32];

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  static gai_fn real;
  if (real == NULL) real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
  if (node != NULL && strcmp(node, "nxdomain.luminal.test") == 0) return EAI_NONAME;
  if (node != NULL && strcmp(node, "slow.luminal.test") == 0) {
    pthread_getname_np(pthread_self(), g_slow_thread, sizeof g_slow_thread);
    pthread_mutex_lock(&g_slow_mu);
    g_slow_entered = 1;
    pthread_cond_broadcast(&g_slow_cv);
    while (!g_slow_released) pthread_cond_wait(&g_slow_cv, &g_slow_mu);
    pthread_mutex_unlock(&g_slow_mu);
    node = "127.0.0.1";
  }
  return real(node, service, hints, res);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Helpers                                                                                                        */
/* ------------------------------------------------------------------------------------------------------------- */

static luminal_socket_addr addr_of(const char *ip, uint16_t port) {
  luminal_socket_addr a;
  CHECK_ST(luminal_socket_addr_parse(ip, port, &a), LUMINAL_OK);
  return a;
}

static uint16_t port_of(const luminal_socket_addr *a) {
  uint16_t p;
  memcpy(&p, a->raw + 2, 2); /* sin_port and sin6_port sit at the same offset */
  return ntohs(p);
}

static int ipv6_available(void) {
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  if (s < 0) return 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
  close(s);
  if (!ok) fprintf(stderr, "IPv6 loopback unavailable here: IPv6 parts skipped\n");
  return ok;
}

/* A listener on `ip` port 0; *port receives its port. */
static int listen_on(const char *ip, uint32_t flags, uint16_t *port) {
  luminal_socket_addr a = addr_of(ip, 0), bound;
  int32_t fd = -1;
  luminal_io_result r = PLAIN(luminal_tcp_listen_addr(&a, 16, flags, &fd, &bound, &_r));
  CHECK_MSG(r.status == LUMINAL_OK, "listen on %s: status %d errno %d", ip, r.status, r.os_error);
  CHECK(fd >= 0 && r.value == (uint64_t)fd);
  CHECK_EQ(bound.raw[0] | bound.raw[1] << 8, a.raw[0] | a.raw[1] << 8);
  *port = port_of(&bound);
  CHECK(*port != 0);
  return fd;
}

/* Sends `msg` from a to b and back through the runtime's stream calls. */
static void echo_once(luminal_runtime *rt, int a, int b, const char *msg) {
  size_t n = strlen(msg);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_stream_write(rt, a, msg, n, &_r, &_f))), n);
  char buf[64] = {0};
  CHECK_EQ(IOU_OK(IOU(rt, luminal_stream_read(rt, b, buf, sizeof buf, &_r, &_f))), n);
  CHECK(memcmp(buf, msg, n) == 0);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_stream_write(rt, b, buf, n, &_r, &_f))), n);
  memset(buf, 0, sizeof buf);
  CHECK_EQ(IOU_OK(IOU(rt, luminal_stream_read(rt, a, buf, sizeof buf, &_r, &_f))), n);
  CHECK(memcmp(buf, msg, n) == 0);
}

/* Connects (the future made by CALL) while accepting on `listener`; *server receives the accepted fd. */
#define CONNECT_ACCEPT(rt, listener, server, CALL)                                                                  \
  ({                                                                                                               \
    luminal_io_result _ra;                                                                                         \
    luminal_future _fa;                                                                                            \
    CHECK_ST(luminal_tcp_accept(rt, listener, &_ra, &_fa), LUMINAL_OK);                                            \
    luminal_task *_ta = tu_spawn(rt, _fa);                                                                         \
    int _c = (int)IOU_OK(IOU(rt, CALL));                                                                           \
    void *_o = NULL;                                                                                               \
    CHECK_ST(luminal_task_join(_ta, UINT64_MAX, &_o), LUMINAL_OK);                                                 \
    luminal_task_release(_ta);                                                                                     \
    CHECK(_o == &_ra && _ra.status == LUMINAL_OK);                                                                 \
    *(server) = (int)_ra.value;                                                                                    \
    _c;                                                                                                            \
  })

/* ------------------------------------------------------------------------------------------------------------- */
/* Addresses                                                                                                      */
/* ------------------------------------------------------------------------------------------------------------- */

TEST(net_addr_parse) {
  luminal_socket_addr a;
  CHECK_ST(luminal_socket_addr_parse("127.0.0.1", 8080, &a), LUMINAL_OK);
  struct sockaddr_in v4;
  CHECK_EQ(a.len, sizeof v4);
  memcpy(&v4, a.raw, sizeof v4);
  CHECK(v4.sin_family == AF_INET && ntohs(v4.sin_port) == 8080 && v4.sin_addr.s_addr == htonl(INADDR_LOOPBACK));

  const char *v6s[] = {"::1", "[::1]", "fe80::1%1", "[fe80::1%1]", "2001:db8::5"};
  for (size_t i = 0; i < sizeof v6s / sizeof *v6s; i++) {
    CHECK_MSG(luminal_socket_addr_parse(v6s[i], 443, &a) == LUMINAL_OK, "parse %s", v6s[i]);
    struct sockaddr_in6 v6;
    CHECK_EQ(a.len, sizeof v6);
    memcpy(&v6, a.raw, sizeof v6);
    CHECK(v6.sin6_family == AF_INET6 && ntohs(v6.sin6_port) == 443);
    CHECK_EQ(v6.sin6_scope_id, strchr(v6s[i], '%') ? 1 : 0);
  }
  const char *bad[] = {"", "localhost", "1.2.3", "::1]", "[::1", "[127.0.0.1]", "::1%", "1.2.3.4 ", "fe80::1%nosuchif0"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    memset(&a, 0x33, sizeof a);
    CHECK_MSG(luminal_socket_addr_parse(bad[i], 1, &a) == LUMINAL_E_INVALID_ARGUMENT, "parse \"%s\"", bad[i]);
    CHECK(a.len == 0 && a.raw[0] == 0);
  }
  CHECK_ST(luminal_socket_addr_parse(NULL, 1, &a), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_addr_parse("::1", 1, NULL), LUMINAL_E_INVALID_ARGUMENT);

  /* Unix: a path (NUL added), an abstract name (every byte), the limits. */
  CHECK_ST(luminal_socket_addr_unix("/tmp/x.sock", 11, &a), LUMINAL_OK);
  struct sockaddr_un un;
  CHECK_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + 12);
  memcpy(&un, a.raw, sizeof un);
  CHECK(un.sun_family == AF_UNIX && strcmp(un.sun_path, "/tmp/x.sock") == 0);
  CHECK_ST(luminal_socket_addr_unix("\0abs\0x", 6, &a), LUMINAL_OK);
  CHECK_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + 6);
  CHECK(memcmp(a.raw + 2, "\0abs\0x", 6) == 0);
  char longp[120];
  memset(longp, 'a', sizeof longp);
  CHECK_ST(luminal_socket_addr_unix(longp, 107, &a), LUMINAL_OK);
  CHECK_ST(luminal_socket_addr_unix(longp, 108, &a), LUMINAL_E_INVALID_ARGUMENT);
  longp[0] = 0;
  CHECK_ST(luminal_socket_addr_unix(longp, 108, &a), LUMINAL_OK);
  CHECK_ST(luminal_socket_addr_unix(longp, 109, &a), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_addr_unix("a\0b", 3, &a), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_addr_unix("x", 0, &a), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_addr_unix(NULL, 1, &a), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_addr_unix("x", 1, NULL), LUMINAL_E_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Names                                                                                                          */
/* ------------------------------------------------------------------------------------------------------------- */

IO_TEST(net_resolve) {
  luminal_runtime *rt = iou_runtime(2);
  luminal_addr_list list;
  memset(&list, 0x44, sizeof list);
  uint64_t n = IOU_OK(IOU(rt, luminal_resolve(rt, "localhost", 8080, &list, &_r, &_f)));
  CHECK(n >= 1 && list.count == n && list.addrs != NULL);
  int v4 = 0;
  for (size_t i = 0; i < list.count; i++) {
    CHECK_EQ(port_of(&list.addrs[i]), 8080);
    struct sockaddr_in s;
    memcpy(&s, list.addrs[i].raw, sizeof s);
    if (s.sin_family == AF_INET && s.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) v4 = 1;
  }
  CHECK_MSG(v4, "localhost did not resolve to 127.0.0.1");
  luminal_addr_list_release(&list);
  CHECK(list.addrs == NULL && list.count == 0);
  luminal_addr_list_release(&list); /* a zeroed list: ignored */
  luminal_addr_list_release(NULL);

  /* A literal resolves to itself, IPv6 too. */
  CHECK_EQ(IOU_OK(IOU(rt, luminal_resolve(rt, "::1", 1, &list, &_r, &_f))), 1);
  CHECK_EQ(list.addrs[0].raw[0] | list.addrs[0].raw[1] << 8, AF_INET6);
  luminal_addr_list_release(&list);

  /* No such host: ENOENT, and the list stays empty. */
  memset(&list, 0x44, sizeof list);
  IOU_ERRNO(IOU(rt, luminal_resolve(rt, "nxdomain.luminal.test", 1, &list, &_r, &_f)), ENOENT);
  CHECK(list.addrs == NULL && list.count == 0);

  /* A list nobody took (dropped after completing) is freed with the future; one never polled allocates nothing. */
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_resolve(rt, "localhost", 1, &list, &r, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
  luminal_task_release(t);
  CHECK_ST(luminal_resolve(rt, "localhost", 1, &list, &r, &f), LUMINAL_OK);
  iou_drop_unpolled(LUMINAL_OK, f);
  luminal_runtime_release(rt);
}

typedef struct {
  atomic_int ran;
} tick_state;

static luminal_poll tick_poll(void *state, luminal_context *cx, void **out) {
  (void)cx;
  atomic_fetch_add(&((tick_state *)state)->ran, 1);
  *out = NULL;
  return LUMINAL_POLL_READY;
}

static void tick_drop(void *state) { (void)state; }

/* A resolution that takes as long as the resolver wants holds a blocking-pool thread, never the worker: with ONE
 * worker, tasks keep running while it is in flight. */
IO_TEST(net_resolve_never_blocks_a_worker) {
  luminal_runtime *rt = iou_runtime(1);
  luminal_addr_list list;
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_resolve(rt, "slow.luminal.test", 7, &list, &r, &f), LUMINAL_OK);
  luminal_task *slow = tu_spawn(rt, f);
  pthread_mutex_lock(&g_slow_mu);
  while (!g_slow_entered) pthread_cond_wait(&g_slow_cv, &g_slow_mu);
  pthread_mutex_unlock(&g_slow_mu);
  CHECK_MSG(strncmp(g_slow_thread, "luminal-b-", 10) == 0, "getaddrinfo ran on thread \"%s\", not a pool thread",
            g_slow_thread);
  /* The resolver is stuck; the single worker still runs 100 tasks, one after another. */
  tick_state st = {0};
  for (int i = 0; i < 100; i++) {
    luminal_future tick = {&st, tick_poll, tick_drop, NULL};
    luminal_task *t = tu_spawn(rt, tick);
    CHECK_ST(luminal_task_join(t, 10ull * 1000000000ull, NULL), LUMINAL_OK);
    luminal_task_release(t);
  }
  CHECK_EQ(atomic_load(&st.ran), 100);
  CHECK(!luminal_task_is_finished(slow));
  pthread_mutex_lock(&g_slow_mu);
  g_slow_released = 1;
  pthread_cond_broadcast(&g_slow_cv);
  pthread_mutex_unlock(&g_slow_mu);
  void *out = NULL;
  CHECK_ST(luminal_task_join(slow, UINT64_MAX, &out), LUMINAL_OK);
  luminal_task_release(slow);
  CHECK(out == &r && r.status == LUMINAL_OK && r.value == 1 && list.count == 1);
  CHECK_EQ(port_of(&list.addrs[0]), 7);
  luminal_addr_list_release(&list);
  luminal_runtime_release(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* TCP by address, IPv6, dual stack, names                                                                        */
/* ------------------------------------------------------------------------------------------------------------- */

IO_TEST(net_tcp_ipv4_and_ipv6_by_address) {
  luminal_runtime *rt = iou_runtime(2);
  const char *ips[] = {"127.0.0.1", "::1"};
  int v6 = ipv6_available();
  for (int k = 0; k < (v6 ? 2 : 1); k++) {
    uint16_t port;
    int l = listen_on(ips[k], 0, &port);
    luminal_socket_addr to = addr_of(ips[k], port);
    int s = -1;
    int c = CONNECT_ACCEPT(rt, l, &s, luminal_tcp_connect_addr(rt, &to, &_r, &_f));
    echo_once(rt, c, s, k ? "over IPv6" : "over IPv4");
    /* Each end's peer is the other's local address. */
    luminal_socket_addr la, pa;
    CHECK_ST(luminal_socket_local_addr(c, &la, NULL), LUMINAL_OK);
    CHECK_ST(luminal_socket_peer_addr(s, &pa, NULL), LUMINAL_OK);
    CHECK(la.len == pa.len && memcmp(la.raw, pa.raw, la.len) == 0);
    CHECK_ST(luminal_socket_peer_addr(c, &pa, NULL), LUMINAL_OK);
    CHECK_EQ(port_of(&pa), port);
    close(c), close(s), close(l);
  }
  /* The string calls take IPv6 literals too. */
  if (v6) {
    int32_t l = -1;
    uint16_t port = 0;
    CHECK_ST(luminal_tcp_listen("::1", 0, 4, &l, &port, NULL), LUMINAL_OK);
    CHECK(port != 0);
    int s = -1;
    int c = CONNECT_ACCEPT(rt, l, &s, luminal_tcp_connect(rt, "[::1]", port, &_r, &_f));
    echo_once(rt, c, s, "string v6");
    close(c), close(s), close(l);
  }
  luminal_runtime_release(rt);
}

IO_TEST(net_tcp_dual_stack) {
  if (!ipv6_available()) return;
  luminal_runtime *rt = iou_runtime(2);
  /* Dual stack: an IPv4 client reaches the IPv6 wildcard listener (as a v4-mapped peer). */
  uint16_t port;
  int l = listen_on("::", LUMINAL_BIND_DUAL_STACK, &port);
  int s = -1;
  int c = CONNECT_ACCEPT(rt, l, &s, luminal_tcp_connect(rt, "127.0.0.1", port, &_r, &_f));
  echo_once(rt, c, s, "v4 to dual");
  int64_t v6only = -1;
  CHECK_ST(luminal_socket_get_option(l, LUMINAL_SOCKOPT_V6ONLY, &v6only, NULL), LUMINAL_OK);
  CHECK_EQ(v6only, 0);
  close(c), close(s), close(l);
  /* Without the flag: IPv6 only, so IPv4 to that port is refused. */
  l = listen_on("::", 0, &port);
  CHECK_ST(luminal_socket_get_option(l, LUMINAL_SOCKOPT_V6ONLY, &v6only, NULL), LUMINAL_OK);
  CHECK_EQ(v6only, 1);
  IOU_ERRNO(IOU(rt, luminal_tcp_connect(rt, "127.0.0.1", port, &_r, &_f)), ECONNREFUSED);
  close(l);
  luminal_runtime_release(rt);
}

/* luminal_tcp_connect_host with a name: resolved on the pool, every address tried until one answers ("localhost" may
 * come first as ::1, where nobody listens: the next one, 127.0.0.1, connects). */
IO_TEST(net_tcp_connect_by_name) {
  luminal_runtime *rt = iou_runtime(2);
  uint16_t port;
  int l = listen_on("127.0.0.1", 0, &port);
  int s = -1;
  int c = CONNECT_ACCEPT(rt, l, &s, luminal_tcp_connect_host(rt, "localhost", port, &_r, &_f));
  echo_once(rt, c, s, "by name");
  close(c), close(s);
  c = CONNECT_ACCEPT(rt, l, &s, luminal_tcp_connect_host(rt, "127.0.0.1", port, &_r, &_f)); /* a literal too */
  close(c), close(s);
  IOU_ERRNO(IOU(rt, luminal_tcp_connect_host(rt, "nxdomain.luminal.test", port, &_r, &_f)), ENOENT);
  close(l);
  /* Nobody listens: every address refuses. */
  int held = tu_refusing_port(&port);
  IOU_ERRNO(IOU(rt, luminal_tcp_connect_host(rt, "localhost", port, &_r, &_f)), ECONNREFUSED);
  close(held);
  luminal_runtime_release(rt);
}

IO_TEST(net_tcp_errors) {
  luminal_runtime *rt = iou_runtime(2);
  uint16_t port;
  int l = listen_on("127.0.0.1", 0, &port);
  /* EADDRINUSE: a second listener on the same port (SO_REUSEADDR does not allow that; REUSEPORT on both does). */
  luminal_socket_addr same = addr_of("127.0.0.1", port);
  int32_t fd = -1;
  luminal_io_result r = PLAIN(luminal_tcp_listen_addr(&same, 4, 0, &fd, NULL, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == EADDRINUSE && fd == -1);
  close(l);
  /* ECONNREFUSED: nobody listens there. */
  int held = tu_refusing_port(&port);
  luminal_socket_addr refusing = addr_of("127.0.0.1", port);
  IOU_ERRNO(IOU(rt, luminal_tcp_connect_addr(rt, &refusing, &_r, &_f)), ECONNREFUSED);
  close(held);
  /* REUSEPORT: two listeners share a port. */
  int a = listen_on("127.0.0.1", LUMINAL_BIND_REUSEPORT, &port);
  same = addr_of("127.0.0.1", port);
  r = PLAIN(luminal_tcp_listen_addr(&same, 4, LUMINAL_BIND_REUSEPORT, &fd, NULL, &_r));
  CHECK(r.status == LUMINAL_OK && fd >= 0);
  close(a), close(fd);
  luminal_runtime_release(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Options and readiness                                                                                          */
/* ------------------------------------------------------------------------------------------------------------- */

static int64_t get_opt(int fd, luminal_socket_option o) {
  int64_t v = -99;
  CHECK_ST(luminal_socket_get_option(fd, o, &v, NULL), LUMINAL_OK);
  return v;
}

TEST(net_socket_options) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s >= 0);
  luminal_socket_option flags[] = {LUMINAL_SOCKOPT_NODELAY, LUMINAL_SOCKOPT_KEEPALIVE, LUMINAL_SOCKOPT_REUSEADDR,
                                   LUMINAL_SOCKOPT_REUSEPORT};
  for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
    CHECK_ST(luminal_socket_set_option(s, flags[i], 1, NULL), LUMINAL_OK);
    CHECK_EQ(get_opt(s, flags[i]), 1);
    CHECK_ST(luminal_socket_set_option(s, flags[i], 0, NULL), LUMINAL_OK);
    CHECK_EQ(get_opt(s, flags[i]), 0);
  }
  int one = -1;
  socklen_t len = sizeof one;
  CHECK_ST(luminal_socket_set_option(s, LUMINAL_SOCKOPT_NODELAY, 7, NULL), LUMINAL_OK);
  CHECK(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, &len) == 0 && one == 1);
  CHECK_ST(luminal_socket_set_option(s, LUMINAL_SOCKOPT_RECV_BUFFER, 65536, NULL), LUMINAL_OK);
  CHECK(get_opt(s, LUMINAL_SOCKOPT_RECV_BUFFER) >= 65536);
  CHECK_ST(luminal_socket_set_option(s, LUMINAL_SOCKOPT_SEND_BUFFER, 32768, NULL), LUMINAL_OK);
  CHECK(get_opt(s, LUMINAL_SOCKOPT_SEND_BUFFER) >= 32768);
  CHECK_EQ(get_opt(s, LUMINAL_SOCKOPT_LINGER), -1);
  CHECK_ST(luminal_socket_set_option(s, LUMINAL_SOCKOPT_LINGER, 5, NULL), LUMINAL_OK);
  CHECK_EQ(get_opt(s, LUMINAL_SOCKOPT_LINGER), 5);
  CHECK_ST(luminal_socket_set_option(s, LUMINAL_SOCKOPT_LINGER, -1, NULL), LUMINAL_OK);
  CHECK_EQ(get_opt(s, LUMINAL_SOCKOPT_LINGER), -1);
  /* Refusals. */
  luminal_io_result r = PLAIN(luminal_socket_set_option(s, (luminal_socket_option)99, 1, &_r));
  CHECK(r.status == LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_set_option(s, LUMINAL_SOCKOPT_RECV_BUFFER, 0, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_set_option(s, LUMINAL_SOCKOPT_SEND_BUFFER, (int64_t)1 << 40, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_get_option(s, LUMINAL_SOCKOPT_NODELAY, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  r = PLAIN(luminal_socket_set_option(-1, LUMINAL_SOCKOPT_NODELAY, 1, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == EBADF);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  r = PLAIN(luminal_socket_set_option(u, LUMINAL_SOCKOPT_NODELAY, 1, &_r));
  CHECK_MSG(r.status == LUMINAL_E_IO && r.os_error == ENOPROTOOPT, "NODELAY on UDP: %d / %d", r.status, r.os_error);
  CHECK_ST(luminal_socket_set_option(u, LUMINAL_SOCKOPT_BROADCAST, 1, NULL), LUMINAL_OK);
  CHECK_EQ(get_opt(u, LUMINAL_SOCKOPT_BROADCAST), 1);
  int fds[2];
  CHECK(pipe(fds) == 0);
  r = PLAIN(luminal_socket_set_option(fds[0], LUMINAL_SOCKOPT_KEEPALIVE, 1, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == ENOTSOCK);
  close(fds[0]), close(fds[1]), close(u), close(s);
}

IO_TEST(net_fd_ready) {
  luminal_runtime *rt = iou_runtime(2);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  /* Writable at once. */
  CHECK_EQ(IOU_OK(IOU(rt, luminal_fd_ready(rt, sv[0], LUMINAL_READY_WRITABLE, &_r, &_f))), LUMINAL_READY_WRITABLE);
  /* Readable: waits until a byte arrives, and reads nothing. */
  for (int round = 0; round < 3; round++) {
    luminal_io_result r;
    luminal_future f;
    CHECK_ST(luminal_fd_ready(rt, sv[0], LUMINAL_READY_READABLE, &r, &f), LUMINAL_OK);
    luminal_task *t = tu_spawn(rt, f);
    CHECK_ST(luminal_task_join(t, MS_NS(30), NULL), LUMINAL_E_TIMED_OUT);
    CHECK(write(sv[1], "x", 1) == 1);
    void *out = NULL;
    CHECK_ST(luminal_task_join(t, UINT64_MAX, &out), LUMINAL_OK);
    luminal_task_release(t);
    CHECK(out == &r && r.status == LUMINAL_OK && r.value == LUMINAL_READY_READABLE);
    char c;
    CHECK(read(sv[0], &c, 1) == 1 && c == 'x');
  }
  /* A waiting one, cancelled (its task aborted): completes promptly, nothing consumed. */
  luminal_io_result r;
  luminal_future f;
  CHECK_ST(luminal_fd_ready(rt, sv[0], LUMINAL_READY_READABLE, &r, &f), LUMINAL_OK);
  luminal_task *t = tu_spawn(rt, f);
  CHECK_ST(luminal_task_join(t, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
  luminal_task_abort(t);
  CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_E_CANCELLED);
  luminal_task_release(t);
  /* The peer hangs up: readable with ERROR or at least readable (EOF), never stuck. */
  close(sv[1]);
  uint64_t m = IOU_OK(IOU(rt, luminal_fd_ready(rt, sv[0], LUMINAL_READY_READABLE, &_r, &_f)));
  CHECK(m & LUMINAL_READY_READABLE);
  close(sv[0]);
  /* A closed fd: EBADF; a bad interest: refused. */
  IOU_ERRNO(IOU(rt, luminal_fd_ready(rt, sv[0], LUMINAL_READY_READABLE, &_r, &_f)), EBADF);
  REFUSED(luminal_fd_ready(rt, 0, 0, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fd_ready(rt, 0, LUMINAL_READY_READABLE | LUMINAL_READY_WRITABLE, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fd_ready(rt, 0, LUMINAL_READY_ERROR, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  luminal_runtime_release(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* UDP                                                                                                            */
/* ------------------------------------------------------------------------------------------------------------- */

static int udp_on(const char *ip, luminal_socket_addr *bound) {
  luminal_socket_addr a = addr_of(ip, 0);
  int32_t fd = -1;
  luminal_io_result r = PLAIN(luminal_udp_bind(&a, 0, &fd, bound, &_r));
  CHECK(r.status == LUMINAL_OK && fd >= 0 && r.value == (uint64_t)fd);
  CHECK(port_of(bound) != 0);
  return fd;
}

IO_TEST(net_udp_send_to_recv_from) {
  luminal_runtime *rt = iou_runtime(2);
  const char *ips[] = {"127.0.0.1", "::1"};
  for (int k = 0; k < (ipv6_available() ? 2 : 1); k++) {
    luminal_socket_addr aa, ba, from;
    int a = udp_on(ips[k], &aa), b = udp_on(ips[k], &ba);
    /* Ready at once: a datagram already queued. */
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_send_to(rt, a, "ping", 4, &ba, &_r, &_f))), 4);
    char buf[16] = {0};
    memset(&from, 0x55, sizeof from);
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_recv_from(rt, b, buf, sizeof buf, &from, &_r, &_f))), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK(from.len == aa.len && memcmp(from.raw, aa.raw, aa.len) == 0);
    /* Waiting: the receive is in flight before the datagram is sent. */
    luminal_io_result r;
    luminal_future f;
    memset(&from, 0x55, sizeof from);
    CHECK_ST(luminal_udp_recv_from(rt, a, buf, sizeof buf, &from, &r, &f), LUMINAL_OK);
    luminal_task *t = tu_spawn(rt, f);
    CHECK_ST(luminal_task_join(t, MS_NS(20), NULL), LUMINAL_E_TIMED_OUT);
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_send_to(rt, b, "pong!", 5, &aa, &_r, &_f))), 5);
    CHECK_ST(luminal_task_join(t, UINT64_MAX, NULL), LUMINAL_OK);
    luminal_task_release(t);
    CHECK(r.status == LUMINAL_OK && r.value == 5 && memcmp(buf, "pong!", 5) == 0);
    CHECK(from.len == ba.len && memcmp(from.raw, ba.raw, ba.len) == 0);
    /* Truncation: a longer datagram is cut to the buffer; recv_from without an address. */
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_send_to(rt, a, "0123456789", 10, &ba, &_r, &_f))), 10);
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_recv_from(rt, b, buf, 3, NULL, &_r, &_f))), 3);
    /* Connected: send_to NULL goes to the peer; unconnected it is EDESTADDRREQ. */
    IOU_ERRNO(IOU(rt, luminal_udp_send_to(rt, a, "x", 1, NULL, &_r, &_f)), EDESTADDRREQ);
    CHECK_ST(luminal_udp_connect(a, &ba, NULL), LUMINAL_OK);
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_send_to(rt, a, "conn", 4, NULL, &_r, &_f))), 4);
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_recv_from(rt, b, buf, sizeof buf, NULL, &_r, &_f))), 4);
    /* ECONNREFUSED: a connected socket whose peer is gone learns it from the ICMP answer. */
    close(b);
    CHECK_EQ(IOU_OK(IOU(rt, luminal_udp_send_to(rt, a, "lost", 4, NULL, &_r, &_f))), 4);
    IOU_ERRNO(IOU(rt, luminal_udp_recv_from(rt, a, buf, sizeof buf, NULL, &_r, &_f)), ECONNREFUSED);
    close(a);
  }
  /* EADDRINUSE, and refusals. */
  luminal_socket_addr ba;
  int b = udp_on("127.0.0.1", &ba);
  int32_t fd = -1;
  luminal_io_result r = PLAIN(luminal_udp_bind(&ba, 0, &fd, NULL, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == EADDRINUSE);
  luminal_socket_addr un;
  CHECK_ST(luminal_socket_addr_unix("/x", 2, &un), LUMINAL_OK);
  CHECK_ST(luminal_udp_bind(&un, 0, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_udp_bind(&ba, 8, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_udp_bind(NULL, 0, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_udp_bind(&ba, 0, NULL, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_udp_connect(b, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_udp_connect(b, &un, NULL), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_udp_send_to(rt, b, NULL, 1, &ba, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_udp_send_to(rt, b, "x", 1, &un, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_udp_recv_from(rt, b, NULL, 1, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  /* Never polled: the address copy goes with the future. */
  luminal_future f;
  iou_drop_unpolled(luminal_udp_send_to(rt, b, "x", 1, &ba, &r, &f), f);
  close(b);
  luminal_runtime_release(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Unix sockets                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------- */

static int unix_listen_at(const luminal_socket_addr *a) {
  int32_t fd = -1;
  luminal_io_result r = PLAIN(luminal_unix_listen(a, 8, &fd, &_r));
  CHECK_MSG(r.status == LUMINAL_OK, "unix_listen: %d errno %d", r.status, r.os_error);
  CHECK(fd >= 0 && r.value == (uint64_t)fd);
  return fd;
}

IO_TEST(net_unix_path_and_abstract) {
  luminal_runtime *rt = iou_runtime(2);
  char dir[] = "/tmp/luminal-net-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[128];
  snprintf(path, sizeof path, "%s/s.sock", dir);
  luminal_socket_addr pa, aa;
  CHECK_ST(luminal_socket_addr_unix(path, strlen(path), &pa), LUMINAL_OK);
  char abstract[64];
  int an = snprintf(abstract, sizeof abstract, "%cluminal-test-%d", 0, (int)getpid());
  CHECK_ST(luminal_socket_addr_unix(abstract, (size_t)an, &aa), LUMINAL_OK);
  /* ENOENT before anyone listens at the path; ECONNREFUSED for an abstract name nobody holds. */
  IOU_ERRNO(IOU(rt, luminal_unix_connect(rt, &pa, &_r, &_f)), ENOENT);
  IOU_ERRNO(IOU(rt, luminal_unix_connect(rt, &aa, &_r, &_f)), ECONNREFUSED);
  const luminal_socket_addr *both[] = {&pa, &aa};
  for (int k = 0; k < 2; k++) {
    int l = unix_listen_at(both[k]);
    int s = -1;
    int c = CONNECT_ACCEPT(rt, l, &s, luminal_unix_connect(rt, both[k], &_r, &_f));
    echo_once(rt, c, s, k ? "abstract" : "path");
    luminal_socket_addr local;
    CHECK_ST(luminal_socket_local_addr(l, &local, NULL), LUMINAL_OK);
    CHECK(local.len == both[k]->len && memcmp(local.raw, both[k]->raw, local.len) == 0);
    /* EADDRINUSE: the name is taken (the path exists, the abstract name is held). */
    int32_t fd = -1;
    luminal_io_result r = PLAIN(luminal_unix_listen(both[k], 8, &fd, &_r));
    CHECK(r.status == LUMINAL_E_IO && r.os_error == EADDRINUSE);
    close(c), close(s), close(l);
  }
  /* The socket file outlives its listener: ECONNREFUSED there. */
  IOU_ERRNO(IOU(rt, luminal_unix_connect(rt, &pa, &_r, &_f)), ECONNREFUSED);
  unlink(path);
  rmdir(dir);
  /* Refusals: IP addresses are not Unix ones and the other way round. */
  luminal_socket_addr ip = addr_of("127.0.0.1", 1);
  int32_t fd;
  CHECK_ST(luminal_unix_listen(&ip, 1, &fd, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_unix_listen(&pa, 1, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_tcp_listen_addr(&pa, 1, 0, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_unix_connect(rt, &ip, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_tcp_connect_addr(rt, &pa, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  luminal_runtime_release(rt);
}

/* ------------------------------------------------------------------------------------------------------------- */
/* Misuse                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------- */

IO_TEST(net_invalid_arguments) {
  luminal_runtime *rt = iou_runtime(1);
  luminal_socket_addr a = addr_of("127.0.0.1", 1), empty;
  memset(&empty, 0, sizeof empty);
  luminal_addr_list list;
  luminal_runtime *forged = (luminal_runtime *)(uintptr_t)0x123456789ull;
  REFUSED(luminal_resolve(rt, NULL, 1, &list, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_resolve(rt, "", 1, &list, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_resolve(rt, "localhost", 1, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_resolve(rt, "localhost", 1, &list, NULL, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_resolve(NULL, "localhost", 1, &list, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_resolve(forged, "localhost", 1, &list, &_r, &_f), LUMINAL_E_INVALID_HANDLE);
  luminal_io_result res;
  CHECK_ST(luminal_resolve(rt, "localhost", 1, &list, &res, NULL), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_tcp_connect_addr(rt, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_tcp_connect_addr(rt, &empty, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_tcp_connect_addr(forged, &a, &_r, &_f), LUMINAL_E_INVALID_HANDLE);
  REFUSED(luminal_tcp_connect_host(rt, "", 1, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_tcp_connect_host(rt, NULL, 1, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_tcp_connect(rt, "localhost", 1, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT); /* literals only */
  REFUSED(luminal_unix_connect(rt, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  REFUSED(luminal_fd_ready(forged, 0, LUMINAL_READY_READABLE, &_r, &_f), LUMINAL_E_INVALID_HANDLE);
  REFUSED(luminal_udp_recv_from(NULL, 0, NULL, 0, NULL, &_r, &_f), LUMINAL_E_INVALID_ARGUMENT);
  int32_t fd = -1;
  a.len = 200; /* longer than raw */
  CHECK_ST(luminal_tcp_listen_addr(&a, 1, 0, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  a.len = 8; /* shorter than a sockaddr_in */
  CHECK_ST(luminal_tcp_listen_addr(&a, 1, 0, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  a = addr_of("127.0.0.1", 0);
  CHECK_ST(luminal_tcp_listen_addr(&a, 1, 4, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_tcp_listen_addr(NULL, 1, 0, &fd, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_tcp_listen_addr(&a, 1, 0, NULL, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  CHECK_ST(luminal_socket_local_addr(0, NULL, NULL), LUMINAL_E_INVALID_ARGUMENT);
  luminal_io_result r = PLAIN(luminal_socket_peer_addr(-1, &a, &_r));
  CHECK(r.status == LUMINAL_E_IO && r.os_error == EBADF);
  /* A shut-down runtime refuses. */
  luminal_runtime_shutdown(rt, 0);
  REFUSED(luminal_resolve(rt, "localhost", 1, &list, &_r, &_f), LUMINAL_E_SHUTDOWN);
  luminal_runtime_release(rt);
  REFUSED(luminal_resolve(rt, "localhost", 1, &list, &_r, &_f), LUMINAL_E_INVALID_HANDLE);
}
