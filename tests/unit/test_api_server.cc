// SPDX-License-Identifier: Apache-2.0
// ApiServer on a real Unix socket in a temporary directory, with a recording echo handler:
// line framing, several requests per connection, the size, connection and idle limits, errors
// for bad requests, the socket file's mode, and that a stale socket is replaced while a live
// one is never stolen. The server runs on its own io_context thread, as in fulcrumd.
#include "api_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fulcrum {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;

// A blocking test client; every wait is bounded so that a broken server fails the test
// instead of hanging it.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    error_ = connected_ ? 0 : errno;
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  int error() const { return error_; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next line without its newline; nullopt on EOF, error or timeout.
  std::optional<std::string> read_line() {
    for (;;) {
      if (const size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  json request(const std::string& line) {
    if (!send(line + "\n")) return "send failed";
    const auto reply = read_line();
    return reply ? json::parse(*reply) : json("no reply");
  }

  // True when the server closed the connection (EOF or reset) within the receive timeout.
  bool closed_by_server() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  int error_ = 0;
  std::string buffer_;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fulcrum-api-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/fulcrum/api.sock";  // the parent directories do not exist yet
  }

  void TearDown() override {
    stop();
    std::filesystem::remove_all(dir_);
  }

  ApiServer::Handler handler() {
    return [this](const json& request) -> json {
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      if (request["cmd"] == "throw") throw std::runtime_error("boom");
      return {{"ok", true}, {"echo", request}};
    };
  }

  void start(ApiServerLimits limits = {}) {
    server_ = std::make_unique<ApiServer>(io_, path_, handler(), limits);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      server_.reset();
      work_.reset();
    });
    thread_.join();
  }

  // Runs f on the io_context's thread (the server's contract) and returns its result.
  template <class F>
  auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  size_t connections() {
    return on_io([this] { return server_->connections(); });
  }

  // Polls until the server counts n connections (it learns of a close asynchronously).
  bool wait_connections(size_t n) {
    for (int i = 0; i < 500; ++i) {
      if (connections() == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::vector<json> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::thread thread_;
  std::unique_ptr<ApiServer> server_;
  std::string dir_;
  std::string path_;
  std::mutex mutex_;
  std::vector<json> requests_;
};

TEST_F(ApiServerTest, LimitsDefaultToTheDocumentedValues) {
  const ApiServerLimits limits;
  EXPECT_EQ(limits.max_request_bytes, 65536u);
  EXPECT_EQ(limits.max_connections, 64u);
  EXPECT_EQ(limits.idle_timeout, 30s);
}

TEST_F(ApiServerTest, AnswersOneRequestPerLine) {
  start();
  Client c(path_);
  ASSERT_TRUE(c.connected()) << std::strerror(c.error());
  const json reply = c.request(R"({"cmd":"list"})");
  EXPECT_EQ(reply, json({{"ok", true}, {"echo", {{"cmd", "list"}}}}));
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0], json({{"cmd", "list"}}));
}

TEST_F(ApiServerTest, AnswersSeveralRequestsOnOneConnectionInOrder) {
  start();
  Client c(path_);
  ASSERT_TRUE(c.connected());
  // Three in one write, then one in pieces.
  ASSERT_TRUE(c.send("{\"cmd\":\"a\"}\n{\"cmd\":\"b\"}\n{\"cmd\":\"c\"}\n"));
  for (const char* cmd : {"a", "b", "c"}) {
    const auto line = c.read_line();
    ASSERT_TRUE(line);
    EXPECT_EQ(json::parse(*line)["echo"]["cmd"], cmd);
  }
  for (const char* piece : {"{\"cm", "d\":\"dra", "in\",\"service\":\"x\"}", "\n"}) {
    ASSERT_TRUE(c.send(piece));
    std::this_thread::sleep_for(5ms);
  }
  const auto line = c.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line)["echo"], json({{"cmd", "drain"}, {"service", "x"}}));
  EXPECT_EQ(requests().size(), 4u);
}

TEST_F(ApiServerTest, RejectsAnOversizedRequestAndClosesOnlyThatConnection) {
  start();
  Client other(path_);
  ASSERT_TRUE(other.connected());
  EXPECT_EQ(other.request(R"({"cmd":"before"})")["ok"], true);

  Client big(path_);
  ASSERT_TRUE(big.connected());
  const std::string huge = "{\"cmd\":\"x\",\"pad\":\"" + std::string(70000, 'a');  // no newline
  big.send(huge);
  const auto line = big.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line),
            json({{"ok", false}, {"error", "request too large (limit 65536 bytes)"}}));
  EXPECT_TRUE(big.closed_by_server());

  EXPECT_EQ(other.request(R"({"cmd":"after"})")["ok"], true);
  Client fresh(path_);
  EXPECT_EQ(fresh.request(R"({"cmd":"fresh"})")["ok"], true);
  EXPECT_EQ(requests().size(), 3u);  // the oversized one never reached the handler
}

TEST_F(ApiServerTest, AcceptsARequestOfExactlyTheLimit) {
  start();
  Client c(path_);
  std::string line = R"({"cmd":"x","pad":")";
  line += std::string(65536 - line.size() - 2, 'p') + "\"}";
  ASSERT_EQ(line.size(), 65536u);
  EXPECT_EQ(c.request(line)["ok"], true);
  EXPECT_EQ(c.request(line + " ")["ok"], false);  // one byte more
}

TEST_F(ApiServerTest, AnswersMalformedJsonAndKeepsServing) {
  start();
  Client c(path_);
  const json reply = c.request("{\"cmd\": nope");
  EXPECT_EQ(reply["ok"], false);
  const std::string error = reply["error"];
  EXPECT_EQ(error.rfind("malformed request: ", 0), 0u) << error;
  EXPECT_EQ(error.find("[json.exception"), std::string::npos) << error;
  EXPECT_EQ(c.request(R"({"cmd":"list"})")["ok"], true);
  // Invalid UTF-8 quoted back in the error still makes a valid JSON reply.
  EXPECT_EQ(c.request("\xff\xfe")["ok"], false);
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(ApiServerTest, AnswersRequestsWithoutAStringCmd) {
  start();
  Client c(path_);
  for (const char* bad :
       {R"([1,2])", R"("list")", R"({"command":"list"})", R"({"cmd":5})", R"({"cmd":null})"}) {
    const json reply = c.request(bad);
    EXPECT_EQ(reply["ok"], false) << bad;
    EXPECT_TRUE(reply["error"].is_string()) << bad;
  }
  EXPECT_TRUE(requests().empty());
}

TEST_F(ApiServerTest, HandlerExceptionsBecomeErrorReplies) {
  start();
  Client c(path_);
  EXPECT_EQ(c.request(R"({"cmd":"throw"})"), json({{"ok", false}, {"error", "boom"}}));
  EXPECT_EQ(c.request(R"({"cmd":"list"})")["ok"], true);
}

TEST_F(ApiServerTest, IgnoresBlankLinesAndCarriageReturns) {
  start();
  Client c(path_);
  ASSERT_TRUE(c.send("\n  \n{\"cmd\":\"a\"}\r\n"));
  const auto line = c.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line)["echo"]["cmd"], "a");
}

TEST_F(ApiServerTest, SocketIsMode0600InANewDirectory0755) {
  ::umask(077);  // even a strict umask leaves the new directories searchable
  start();
  ::umask(022);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  for (const std::string& dir : {dir_ + "/run", dir_ + "/run/fulcrum"}) {
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u) << dir;
  }
}

TEST_F(ApiServerTest, ReplacesAStaleSocketFile) {
  // A socket file nobody listens on: what a killed fulcrumd leaves behind.
  std::filesystem::create_directories(dir_ + "/run/fulcrum");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  ASSERT_TRUE(std::filesystem::exists(path_));
  start();
  Client c(path_);
  EXPECT_EQ(c.request(R"({"cmd":"list"})")["ok"], true);
}

TEST_F(ApiServerTest, DoesNotStealALiveSocket) {
  start();
  const std::string error = on_io([this]() -> std::string {
    ApiServer second(io_, path_, [](const json&) { return json{{"ok", true}}; });
    try {
      second.start();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "started";
  });
  EXPECT_NE(error.find("another process is listening"), std::string::npos) << error;
  EXPECT_NE(error.find(path_), std::string::npos) << error;
  Client c(path_);  // the first server still owns the socket
  EXPECT_EQ(c.request(R"({"cmd":"list"})")["ok"], true);
}

TEST_F(ApiServerTest, RefusesAPathThatIsNotASocket) {
  std::filesystem::create_directories(dir_ + "/run/fulcrum");
  std::ofstream(path_) << "precious";
  ApiServer server(io_, path_, handler());
  EXPECT_THROW(server.start(), std::runtime_error);
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(ApiServerTest, LimitsConcurrentConnections) {
  start();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back(std::make_unique<Client>(path_));
    ASSERT_EQ(clients.back()->request(R"({"cmd":"list"})")["ok"], true) << i;
  }
  EXPECT_EQ(connections(), 64u);
  Client extra(path_);
  const auto line = extra.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line),
            json({{"ok", false}, {"error", "too many connections (limit 64)"}}));
  EXPECT_TRUE(extra.closed_by_server());

  clients.front()->close();
  ASSERT_TRUE(wait_connections(63));
  Client again(path_);
  EXPECT_EQ(again.request(R"({"cmd":"list"})")["ok"], true);
  EXPECT_EQ(clients.back()->request(R"({"cmd":"list"})")["ok"], true);
}

TEST_F(ApiServerTest, ClosesIdleConnections) {
  start(ApiServerLimits{.idle_timeout = 300ms});
  Client idle(path_);
  Client busy(path_);
  const auto t0 = std::chrono::steady_clock::now();
  // busy keeps talking past the timeout and stays open.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(busy.request(R"({"cmd":"ping"})")["ok"], true) << i;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  EXPECT_EQ(busy.request(R"({"cmd":"ping"})")["ok"], true);
}

TEST_F(ApiServerTest, ASlowOrStuckClientDoesNotHoldUpOthers) {
  start();
  Client partial(path_);  // sends half a request and stalls
  ASSERT_TRUE(partial.send("{\"cmd\":"));
  // flood sends requests as fast as it can and never reads a reply: its socket fills up.
  Client flood(path_);
  ::fcntl(flood.fd(), F_SETFL, O_NONBLOCK);
  const std::string line = "{\"cmd\":\"flood\",\"pad\":\"" + std::string(1000, 'x') + "\"}\n";
  size_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::send(flood.fd(), line.data(), line.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      std::this_thread::sleep_for(20ms);  // let the server fill the reply direction too
      if (::send(flood.fd(), line.data(), line.size(), MSG_NOSIGNAL) < 0 && errno == EAGAIN) {
        break;
      }
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  EXPECT_GT(sent, 0u);
  Client other(path_);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(other.request(R"({"cmd":"list"})")["ok"], true);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  // The flood is held back (the server stops reading it while its replies cannot be written)
  // rather than buffered: not everything it sent has been handled.
  EXPECT_LT(requests().size() * line.size(), sent);
}

TEST_F(ApiServerTest, StopClosesConnectionsAndRemovesTheSocket) {
  start();
  Client c(path_);
  EXPECT_EQ(c.request(R"({"cmd":"list"})")["ok"], true);
  on_io([this] {
    server_->stop();
    return 0;
  });
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_FALSE(std::filesystem::exists(path_));
  Client late(path_);
  EXPECT_FALSE(late.connected());
}

TEST_F(ApiServerTest, StopLeavesASocketFileThatIsNoLongerItsOwn) {
  start();
  std::filesystem::remove(path_);
  std::ofstream(path_) << "someone else's";
  on_io([this] {
    server_->stop();
    return 0;
  });
  EXPECT_TRUE(std::filesystem::exists(path_));
}

}  // namespace
}  // namespace fulcrum
