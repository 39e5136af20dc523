// SPDX-License-Identifier: Apache-2.0
#include "api_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "log.h"

namespace fulcrum {
namespace {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// fulcrumd runs notify scripts; they must not inherit the API's descriptors (a long-lived
// child would keep the listening socket alive after fulcrumd stopped).
void set_cloexec(int fd) {
  (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

std::string error_reply(std::string_view error) {
  return nlohmann::json{{"ok", false}, {"error", error}}.dump();
}

// mkdir -p of the socket's parent, new directories 0755 whatever the umask.
void make_parent_dirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) == 0) {
      (void)::chmod(dir.c_str(), 0755);
    } else if (errno != EEXIST) {
      throw std::runtime_error("api socket " + path + ": cannot create directory " + dir + ": " +
                               errno_text(errno));
    }
  }
}

// Removes a socket file left by a process that died, and refuses to touch one a live process
// listens on (a second fulcrumd must not silently take the API away from the first).
void remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw std::runtime_error("api socket " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw std::runtime_error("api socket " + path + ": the path exists and is not a socket");
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("api socket " + path + ": socket: " + errno_text(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A non-blocking connect never waits: a listener with a full backlog answers EAGAIN, which
  // still means somebody is there.
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  if (err == ECONNREFUSED) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      throw std::runtime_error("api socket " + path +
                               ": cannot remove the stale socket: " + errno_text(errno));
    }
    FULCRUM_LOG(kNotice, "api: removed stale socket %s", path.c_str());
    return;
  }
  if (err == ENOENT) return;  // it went away meanwhile
  if (err == 0 || err == EAGAIN || err == EINPROGRESS) {
    throw std::runtime_error("api socket " + path +
                             ": another process is listening there (is fulcrumd already "
                             "running?)");
  }
  throw std::runtime_error("api socket " + path +
                           ": cannot probe the existing socket: " + errno_text(err));
}

}  // namespace

class ApiServer::Impl : public std::enable_shared_from_this<ApiServer::Impl> {
 public:
  Impl(asio::io_context& io, std::string path, Handler handler, ApiServerLimits limits)
      : path_(std::move(path)),
        handler_(std::move(handler)),
        limits_(limits),
        acceptor_(io),
        retry_timer_(io) {}

  void start();
  void stop();
  const std::string& path() const { return path_; }
  size_t connections() const { return served_; }
  const ApiServerLimits& limits() const { return limits_; }
  bool stopped() const { return stopped_; }

  // One request line in, one reply line out (without the newline).
  std::string handle_line(std::string_view line);

  class Session;
  void forget(Session* session, bool counted);

 private:
  void accept();
  void on_accept(const error_code& ec, Local::socket socket);

  std::string path_;
  Handler handler_;
  ApiServerLimits limits_;
  Local::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  size_t served_ = 0;  // sessions that serve requests (rejected ones excluded)
  bool started_ = false;
  bool listening_ = false;
  bool stopped_ = false;
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
};

// One client connection. Requests are handled strictly one after the other: the next line is
// not even looked at before the previous reply is written, which bounds what a client that
// sends without reading can make the server hold (one reply and at most one request line).
class ApiServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Impl> owner, Local::socket socket, bool rejected)
      : owner_(std::move(owner)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        rejected_(rejected) {}

  void start(std::string_view rejection) {
    touch();
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](const error_code&) { self->on_timer(); });
    if (rejected_) {
      send(std::string(rejection), /*close_after=*/true);
    } else {
      process();
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    socket_.shutdown(Local::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
    owner_->forget(this, !rejected_);
  }

 private:
  void touch() { deadline_ = Clock::now() + owner_->limits().idle_timeout; }

  // The timer only ever waits for the current deadline; activity moves the deadline without
  // touching the timer, so an expiry that was already queued cannot close a busy connection.
  void on_timer() {
    if (closed_) return;
    if (Clock::now() >= deadline_) {
      FULCRUM_LOG(kDebug, "api: closing a connection idle for %lld ms",
                  static_cast<long long>(owner_->limits().idle_timeout.count()));
      close();
      return;
    }
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](const error_code&) { self->on_timer(); });
  }

  void read_more() {
    socket_.async_read_some(
        asio::buffer(chunk_),
        [self = shared_from_this()](const error_code& ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {  // EOF or a reset: the client is gone
      close();
      return;
    }
    touch();
    in_.append(chunk_.data(), n);
    process();
  }

  // Handles the next complete line, or reads more when there is none.
  void process() {
    const size_t limit = owner_->limits().max_request_bytes;
    for (;;) {
      const size_t newline = in_.find('\n', scanned_);
      if (newline == std::string::npos) {
        scanned_ = in_.size();
        if (in_.size() > limit) {
          reject_too_large(limit);
        } else {
          read_more();
        }
        return;
      }
      if (newline > limit) {
        reject_too_large(limit);
        return;
      }
      std::string line = in_.substr(0, newline);
      in_.erase(0, newline + 1);
      scanned_ = 0;
      if (!line.empty() && line.back() == '\r') line.pop_back();         // telnet / socat crlf
      if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank: no reply
      if (owner_->stopped()) return;
      send(owner_->handle_line(line), /*close_after=*/false);
      return;
    }
  }

  void reject_too_large(size_t limit) {
    FULCRUM_LOG(kWarning, "api: request over %zu bytes, closing the connection", limit);
    in_.clear();
    send(error_reply("request too large (limit " + std::to_string(limit) + " bytes)"),
         /*close_after=*/true);
  }

  void send(std::string reply, bool close_after) {
    out_ = std::move(reply);
    out_ += '\n';
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this(), close_after](const error_code& ec, size_t) {
                        self->on_written(ec, close_after);
                      });
  }

  void on_written(const error_code& ec, bool close_after) {
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    if (close_after) {
      drain_then_close();
      return;
    }
    touch();
    process();
  }

  // The client may still be sending (the rest of an oversized request): closing with its data
  // unread would reset the connection, and the reset would destroy the error reply before the
  // client reads it. So: stop sending, swallow what still comes (at most kMaxDrainBytes, for
  // at most kDrainTime; the idle timer enforces that), and close at the client's EOF.
  void drain_then_close() {
    error_code ignored;
    socket_.shutdown(Local::socket::shutdown_send, ignored);
    deadline_ = Clock::now() + kDrainTime;
    drain_more();
  }

  void drain_more() {
    socket_.async_read_some(asio::buffer(chunk_),
                            [self = shared_from_this()](const error_code& ec, size_t n) {
                              if (self->closed_) return;
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrainBytes) {
                                self->close();
                                return;
                              }
                              self->drain_more();
                            });
  }

  static constexpr size_t kMaxDrainBytes = 1 << 20;
  static constexpr std::chrono::milliseconds kDrainTime{1000};

  std::shared_ptr<Impl> owner_;
  Local::socket socket_;
  asio::steady_timer timer_;
  const bool rejected_;
  bool closed_ = false;
  Clock::time_point deadline_{};
  std::array<char, 4096> chunk_{};
  std::string in_;      // received and not yet handled
  size_t scanned_ = 0;  // in_[0, scanned_) holds no newline
  std::string out_;     // the reply being written
  size_t drained_ = 0;  // bytes swallowed after a final error reply
};

void ApiServer::Impl::start() {
  if (started_) throw std::logic_error("ApiServer::start called twice");
  started_ = true;
  if (path_.empty()) throw std::runtime_error("api socket: empty path");
  if (path_.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("api socket " + path_ + ": path too long (limit " +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes)");
  }
  make_parent_dirs(path_);
  remove_stale_socket(path_);

  error_code ec;
  const auto fail = [this](const char* what, const error_code& err) {
    error_code ignored;
    acceptor_.close(ignored);
    throw std::runtime_error("api socket " + path_ + ": " + what + ": " + err.message());
  };
  acceptor_.open(Local(), ec);
  if (ec) fail("socket", ec);
  set_cloexec(acceptor_.native_handle());
  acceptor_.bind(Local::endpoint(path_), ec);
  if (ec) fail("bind", ec);
  // Not listening yet, so nobody can connect before the mode is tightened.
  struct stat st {};
  if (::chmod(path_.c_str(), 0600) != 0 || ::stat(path_.c_str(), &st) != 0) {
    const int err = errno;
    (void)::unlink(path_.c_str());
    fail("chmod", error_code(err, boost::system::generic_category()));
  }
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    (void)::unlink(path_.c_str());
    fail("listen", ec);
  }
  listening_ = true;
  FULCRUM_LOG(kInfo, "api: listening on %s", path_.c_str());
  accept();
}

void ApiServer::Impl::accept() {
  acceptor_.async_accept([self = shared_from_this()](const error_code& ec, Local::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void ApiServer::Impl::on_accept(const error_code& ec, Local::socket socket) {
  if (stopped_) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // Out of descriptors or memory: retrying at once would spin the control thread.
    FULCRUM_LOG(kWarning, "api: accept on %s: %s", path_.c_str(), ec.message().c_str());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && !self->stopped_) self->accept();
    });
    return;
  }
  set_cloexec(socket.native_handle());
  const bool rejected = served_ >= limits_.max_connections;
  auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), rejected);
  sessions_.emplace(session.get(), session);
  std::string rejection;
  if (rejected) {
    FULCRUM_LOG(kWarning, "api: %zu connections open, refusing another", served_);
    rejection =
        error_reply("too many connections (limit " + std::to_string(limits_.max_connections) + ")");
  } else {
    ++served_;
  }
  session->start(rejection);
  accept();
}

void ApiServer::Impl::forget(Session* session, bool counted) {
  if (sessions_.erase(session) != 0 && counted) --served_;
}

std::string handle_api_line(std::string_view line, const ApiServer::Handler& handler) {
  nlohmann::json reply;
  try {
    const nlohmann::json request = nlohmann::json::parse(line);
    if (!request.is_object()) {
      reply = {{"ok", false}, {"error", "invalid request: expected a JSON object"}};
    } else if (!request.contains("cmd") || !request["cmd"].is_string()) {
      reply = {{"ok", false}, {"error", "invalid request: no string \"cmd\""}};
    } else {
      try {
        reply = handler(request);
      } catch (const std::exception& e) {
        reply = {{"ok", false}, {"error", e.what()}};
      } catch (...) {
        reply = {{"ok", false}, {"error", "internal error"}};
      }
    }
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double ("1e999"; found by
    // fuzz_api). Drop the library's "[json.exception.parse_error.101] " prefix: operators read
    // this.
    std::string_view what = e.what();
    if (const size_t end = what.find("] "); what.starts_with("[json.") && end != what.npos) {
      what.remove_prefix(end + 2);
    }
    reply = {{"ok", false}, {"error", "malformed request: " + std::string(what)}};
  }
  // replace: a reply quoting a client's invalid UTF-8 must still serialize.
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ApiServer::Impl::handle_line(std::string_view line) {
  return handle_api_line(line, handler_);
}

void ApiServer::Impl::stop() {
  if (!listening_ || stopped_) return;  // a failed start() cleaned up after itself
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  // close() calls forget(), which edits sessions_: iterate over a copy.
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [raw, weak] : sessions) {
    if (auto session = weak.lock()) session->close();
  }
  served_ = 0;
  // Only remove the file if it is still ours: another process may have replaced it.
  struct stat st {};
  if (socket_ino_ != 0 && ::lstat(path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
      st.st_ino == socket_ino_) {
    (void)::unlink(path_.c_str());
  }
  FULCRUM_LOG(kInfo, "api: stopped listening on %s", path_.c_str());
}

ApiServer::ApiServer(asio::io_context& io, std::string socket_path, Handler handler,
                     ApiServerLimits limits)
    : impl_(std::make_shared<Impl>(io, std::move(socket_path), std::move(handler), limits)) {}

ApiServer::~ApiServer() {
  impl_->stop();
}

void ApiServer::start() {
  impl_->start();
}
void ApiServer::stop() {
  impl_->stop();
}
const std::string& ApiServer::socket_path() const {
  return impl_->path();
}
size_t ApiServer::connections() const {
  return impl_->connections();
}

}  // namespace fulcrum
