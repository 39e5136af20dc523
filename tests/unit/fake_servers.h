// SPDX-License-Identifier: Apache-2.0
// Loopback servers for the health-check tests: a listener that never accepts, a port that
// refuses, and FakeServer, which runs a scripted conversation per connection on its own thread
// (blocking sockets, so the io_context under test shares nothing with it). Helpers speak just
// enough HTTP and MySQL protocol for the checks.
// Thread-safety: construct, query and destroy from the test's thread; handlers run on the
// server's thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fulcrum::fakes {

// A TCP socket bound to 127.0.0.1 on an ephemeral port; listening when backlog >= 0.
inline int bound_socket(uint16_t& port, int backlog) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      (backlog >= 0 && ::listen(fd, backlog) != 0) ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind/listen");
  }
  port = ntohs(sa.sin_port);
  return fd;
}

// Listens and never accepts: connects succeed (the kernel completes them), nothing answers.
class Listener {
 public:
  Listener() : fd_(bound_socket(port_, 64)) {}
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int fd_;
};

// Bound but not listening: connects are refused, and nobody else can take the port meanwhile.
class ClosedPort {
 public:
  ClosedPort() : fd_(bound_socket(port_, -1)) {}
  ~ClosedPort() { ::close(fd_); }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int fd_;
};

inline bool read_exact(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

inline bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w <= 0) return false;
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

// Reads until `delim` (included) or EOF; at most `max` bytes.
inline std::string read_until(int fd, std::string_view delim, size_t max = 16384) {
  std::string out;
  char c;
  while (out.size() < max && ::recv(fd, &c, 1, 0) == 1) {
    out.push_back(c);
    if (out.size() >= delim.size() &&
        out.compare(out.size() - delim.size(), delim.size(), delim) == 0)
      break;
  }
  return out;
}

// Runs `handler` for each connection, one at a time, on its own thread. The handler returns
// true to close the connection, false to hold it open (unanswered) until the server stops.
class FakeServer {
 public:
  using Handler = std::function<bool(int fd)>;

  explicit FakeServer(Handler handler)
      : listen_fd_(bound_socket(port_, 64)),
        handler_(std::move(handler)),
        thread_([this] { loop(); }) {}
  ~FakeServer() { stop(); }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

  void stop() {
    if (stopping_.exchange(true)) return;
    thread_.join();
    for (const int fd : held_) ::close(fd);
    ::close(listen_fd_);
  }

 private:
  void loop() {
    while (!stopping_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) != 1) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      timeval tv{2, 0};  // a handler waiting on a client that went away must not hang stop()
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const int one = 1;  // many small writes (MySQL packets): no Nagle/delayed-ACK stalls
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (handler_(fd)) {
        ::close(fd);
      } else {
        held_.push_back(fd);
      }
    }
  }

  uint16_t port_ = 0;
  int listen_fd_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::vector<int> held_;  // server thread only, until joined
  std::thread thread_;
};

// ---- HTTP ----

// Answers every request with `status` (read at each request) and records the last request.
struct HttpBackend {
  std::atomic<int> status{200};
  std::mutex mu;
  std::string last_request;

  FakeServer::Handler handler() {
    return [this](int fd) {
      const std::string req = read_until(fd, "\r\n\r\n");
      {
        std::lock_guard lock(mu);
        last_request = req;
      }
      const int s = status.load();
      write_all(fd, "HTTP/1.1 " + std::to_string(s) + " Whatever\r\nContent-Length: 3\r\n\r\nok\n");
      return true;
    };
  }
  std::string request() {
    std::lock_guard lock(mu);
    return last_request;
  }
};

// ---- MySQL protocol ----

inline std::string le16(unsigned v) {
  return std::string{static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)};
}

inline bool write_packet(int fd, uint8_t seq, std::string_view payload) {
  std::string p;
  p.push_back(static_cast<char>(payload.size() & 0xff));
  p.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  p.push_back(static_cast<char>((payload.size() >> 16) & 0xff));
  p.push_back(static_cast<char>(seq));
  p.append(payload);
  return write_all(fd, p);
}

inline bool read_packet(int fd, uint8_t& seq, std::string& payload) {
  uint8_t h[4];
  if (!read_exact(fd, h, 4)) return false;
  const size_t len = size_t{h[0]} | size_t{h[1]} << 8 | size_t{h[2]} << 16;
  seq = h[3];
  payload.assign(len, '\0');
  return len == 0 || read_exact(fd, payload.data(), len);
}

// A protocol-10 greeting offering mysql_native_password, as MariaDB sends it.
inline std::string greeting(std::string_view version) {
  // CLIENT_LONG_PASSWORD | FOUND_ROWS | LONG_FLAG | CONNECT_WITH_DB | PROTOCOL_41 | TRANSACTIONS
  // | SECURE_CONNECTION | MULTI_STATEMENTS | MULTI_RESULTS | PS_MULTI_RESULTS | PLUGIN_AUTH
  const uint32_t caps =
      0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x80000;
  std::string g;
  g.push_back(10);
  g.append(version);
  g.push_back('\0');
  g.append(std::string("\x07\x00\x00\x00", 4));  // thread id
  g.append("abcdefgh");                          // scramble, first 8 bytes
  g.push_back('\0');
  g.append(le16(caps & 0xffff));
  g.push_back(45);         // utf8mb4_general_ci
  g.append(le16(0x0002));  // SERVER_STATUS_AUTOCOMMIT
  g.append(le16(caps >> 16));
  g.push_back(21);  // auth data length
  g.append(std::string(10, '\0'));
  g.append("ijklmnopqrst");  // scramble, last 12 bytes
  g.push_back('\0');
  g.append("mysql_native_password");
  g.push_back('\0');
  return g;
}

inline std::string err_packet(unsigned code, std::string_view state, std::string_view message) {
  std::string p("\xff");
  p.append(le16(code));
  if (!state.empty()) {
    p.push_back('#');
    p.append(state);
  }
  p.append(message);
  return p;
}

inline std::string ok_packet() {
  return std::string("\x00\x00\x00\x02\x00\x00\x00", 7);
}
inline std::string eof_packet() {
  return std::string("\xfe\x00\x00\x02\x00", 5);
}

inline std::string lenenc(std::string_view s) {
  std::string out;
  out.push_back(static_cast<char>(s.size()));  // < 251 bytes in these tests
  out.append(s);
  return out;
}

inline bool write_result_set(int fd, uint8_t& seq, const std::vector<std::string>& columns,
                             const std::vector<std::vector<std::string>>& rows) {
  bool ok = write_packet(fd, seq++, std::string(1, static_cast<char>(columns.size())));
  for (const std::string& c : columns) {
    std::string def = lenenc("def") + lenenc("") + lenenc("") + lenenc("") + lenenc(c) + lenenc("");
    def.push_back(0x0c);
    def.append(le16(45));
    def.append(std::string("\x00\x01\x00\x00", 4));  // column length
    def.push_back(static_cast<char>(0xfd));          // VAR_STRING
    def.append(le16(0));                             // flags
    def.push_back(0);                                // decimals
    def.append(le16(0));
    ok = ok && write_packet(fd, seq++, def);
  }
  ok = ok && write_packet(fd, seq++, eof_packet());
  for (const auto& row : rows) {
    std::string r;
    for (const std::string& v : row) r += lenenc(v);
    ok = ok && write_packet(fd, seq++, r);
  }
  return ok && write_packet(fd, seq++, eof_packet());
}

// A MariaDB that accepts any login (or refuses it with `login_error`) and answers queries from
// a script: `answer(query)` returns the rows of a (name, value) result, or nullopt for an ERR.
// Records the queries and whether the client ended with COM_QUIT.
struct SqlBackend {
  std::string version = "10.11.6-MariaDB-fake";
  std::string login_error;  // non-empty: refuse every login with this message (error 1045)
  std::function<std::vector<std::vector<std::string>>(const std::string& query)> answer;
  std::atomic<int> quits{0};
  std::atomic<int> logins{0};
  std::mutex mu;
  std::vector<std::string> queries;

  FakeServer::Handler handler() {
    return [this](int fd) {
      if (!write_packet(fd, 0, greeting(version))) return true;
      uint8_t seq = 0;
      std::string p;
      if (!read_packet(fd, seq, p)) return true;
      ++logins;
      if (!login_error.empty()) {
        write_packet(fd, static_cast<uint8_t>(seq + 1), err_packet(1045, "28000", login_error));
        return true;
      }
      write_packet(fd, static_cast<uint8_t>(seq + 1), ok_packet());
      while (read_packet(fd, seq, p) && !p.empty()) {
        if (p[0] == 0x01) {
          ++quits;
          return true;
        }
        if (p[0] != 0x03) return true;
        const std::string q = p.substr(1);
        {
          std::lock_guard lock(mu);
          queries.push_back(q);
        }
        uint8_t s = 1;
        write_result_set(fd, s, {"Variable_name", "Value"},
                         answer ? answer(q) : std::vector<std::vector<std::string>>{});
      }
      return true;
    };
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mu);
    return queries;
  }
};

}  // namespace fulcrum::fakes
