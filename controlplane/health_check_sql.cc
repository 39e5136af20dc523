// SPDX-License-Identifier: Apache-2.0
// The SQL login check (galera; mysql with a user): libmariadb's non-blocking API, driven by
// asio. Each libmariadb call is split into _start() and _cont(); whenever one returns a
// MYSQL_WAIT_* mask we wait for those events on the connection's socket (and a deadline timer)
// and call _cont() with what happened. The deadline, a cancel, or a destroyed io_context all
// resume the suspended call with MYSQL_WAIT_TIMEOUT, which makes libmariadb fail it cleanly:
// the connection is always ended through mysql_close_start/_cont (COM_QUIT), never abandoned
// halfway through a login (which would count towards the server's max_connect_errors).
#include <mysql.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <charconv>
#include <mutex>
#include <utility>
#include <vector>

#include "health_check_sql.h"
#include "log.h"

namespace fulcrum {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const char* local_state_name(int state) {
  switch (state) {
    case 1:
      return "Joining";
    case 2:
      return "Donor/Desynced";
    case 3:
      return "Joined";
    case 4:
      return "Synced";
    default:
      return "unknown";
  }
}

// Status first, then variables: wsrep_on, wsrep_desync and wsrep_reject_queries are variables.
// SHOW ... WHERE works on MariaDB, MySQL and Percona XtraDB Cluster alike.
constexpr std::string_view kStatusQuery =
    "SHOW GLOBAL STATUS WHERE Variable_name IN "
    "('wsrep_ready','wsrep_cluster_status','wsrep_local_state')";
constexpr std::string_view kVariablesQuery =
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
    "('wsrep_on','wsrep_desync','wsrep_reject_queries')";

// How long COM_QUIT may take once the check itself is over.
constexpr std::chrono::milliseconds kCloseGrace{1000};

class SqlCheck final : public CheckOperation, public std::enable_shared_from_this<SqlCheck> {
 public:
  SqlCheck(const asio::any_io_executor& ex, std::string host, uint16_t port,
           const CheckConfig& config, bool galera, CheckCallback done)
      : socket_(ex),
        timer_(ex),
        host_(std::move(host)),
        port_(port),
        config_(config),
        galera_(galera),
        done_(std::move(done)) {
    if (galera_) {
      queries_.push_back({Query::kVars, std::string(kStatusQuery), "wsrep status"});
      queries_.push_back({Query::kVars, std::string(kVariablesQuery), "wsrep variables"});
    }
    if (config_.query) queries_.push_back({Query::kCustom, *config_.query, "query"});
  }

  SqlCheck(const SqlCheck&) = delete;
  SqlCheck& operator=(const SqlCheck&) = delete;

  // Only reached with a call still suspended when the io_context was destroyed under us (its
  // handlers, which hold us, went with it). Finish that call as timed out, then close.
  ~SqlCheck() override {
    release_socket();
    if (mysql_ == nullptr) return;
    for (int i = 0; i < 8 && suspended_; ++i) suspended_ = resume_call(MYSQL_WAIT_TIMEOUT) != 0;
    if (step_ == Step::kStore && store_ret_ != nullptr) mysql_free_result(store_ret_);
    if (step_ != Step::kClose || suspended_) mysql_close(mysql_);
  }

  void start() {
    asio::post(timer_.get_executor(), [self = shared_from_this()] { self->begin(); });
  }

  void cancel() override {
    if (cancelled_) return;
    cancelled_ = true;
    done_ = nullptr;
    // Wake the pending waits; resume() then hands MYSQL_WAIT_TIMEOUT to the suspended call.
    error_code ignored;
    if (socket_.is_open()) socket_.cancel(ignored);
    timer_.cancel();
  }

 private:
  enum class Step { kConnect, kQuery, kStore, kClose, kDone };
  struct Query {
    enum Kind { kVars, kCustom } kind;
    std::string text;
    const char* label;
  };

  void begin() {
    if (cancelled_) return;
    started_ = Clock::now();
    deadline_ = started_ + config_.timeout;
    static std::once_flag init;
    std::call_once(init, [] { mysql_library_init(0, nullptr, nullptr); });
    mysql_ = mysql_init(nullptr);
    if (mysql_ == nullptr) return report(false, "mysql_init failed");
    if (mysql_options(mysql_, MYSQL_OPT_NONBLOCK, nullptr) != 0) {
      report(false, "libmariadb without non-blocking support");
      mysql_close(mysql_);  // never connected: no I/O
      mysql_ = nullptr;
      return;
    }
    // TCP even for "localhost"; no option files. The library's own timeouts stay unset (they
    // are whole seconds): our deadline ends every wait.
    unsigned protocol = MYSQL_PROTOCOL_TCP;
    mysql_options(mysql_, MYSQL_OPT_PROTOCOL, &protocol);
    step_ = Step::kConnect;
    phase_ = "login";
    advance(mysql_real_connect_start(&connect_ret_, mysql_, host_.c_str(), config_.user.c_str(),
                                     config_.password.c_str(), nullptr, port_, nullptr, 0));
  }

  // `status` is what a _start/_cont returned: 0 when the call is complete.
  void advance(int status) {
    suspended_ = status != 0;
    if (suspended_) return wait_for(status);
    step_done();
  }

  void wait_for(int status) {
    events_ = 0;
    pending_ = 0;
    const my_socket fd = mysql_get_socket(mysql_);
    if (fd >= 0 &&
        (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE | MYSQL_WAIT_EXCEPT))) {
      // Borrowed: libmariadb owns the descriptor, so it is released before every _cont().
      error_code ec;
      socket_.assign(fd, ec);
      if (!ec) {
        auto wait = [this](asio::posix::descriptor_base::wait_type type, int flag) {
          ++pending_;
          socket_.async_wait(type, [self = shared_from_this(), flag](const error_code& wec) {
            self->on_event(flag, wec);
          });
        };
        if (status & MYSQL_WAIT_READ)
          wait(asio::posix::descriptor_base::wait_read, MYSQL_WAIT_READ);
        if (status & MYSQL_WAIT_WRITE)
          wait(asio::posix::descriptor_base::wait_write, MYSQL_WAIT_WRITE);
        if (status & MYSQL_WAIT_EXCEPT)
          wait(asio::posix::descriptor_base::wait_error, MYSQL_WAIT_EXCEPT);
      }
    }
    Clock::time_point until = step_ == Step::kClose ? close_deadline_ : deadline_;
    if (status & MYSQL_WAIT_TIMEOUT) {
      until = std::min(
          until, Clock::now() + std::chrono::milliseconds(mysql_get_timeout_value_ms(mysql_)));
    }
    if (cancelled_) until = Clock::now();  // cancelled before this wait: end it at once
    ++pending_;
    timer_.expires_at(until);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      self->on_event(MYSQL_WAIT_TIMEOUT, ec);
    });
  }

  void on_event(int flag, const error_code& ec) {
    --pending_;
    // The first event wins; a timer that fires after the socket became ready does not turn
    // readiness into a timeout (and vice versa).
    if (!ec && (events_ == 0 || (flag != MYSQL_WAIT_TIMEOUT && !(events_ & MYSQL_WAIT_TIMEOUT)))) {
      if (events_ == 0) {
        error_code ignored;
        if (socket_.is_open()) socket_.cancel(ignored);
        timer_.cancel();
      }
      events_ |= flag;
      if (flag == MYSQL_WAIT_TIMEOUT && step_ != Step::kClose && Clock::now() >= deadline_) {
        deadline_hit_ = true;
      }
    }
    if (pending_ > 0) return;
    release_socket();
    int events = events_;
    if (cancelled_ || events == 0) events = MYSQL_WAIT_TIMEOUT;
    advance(resume_call(events));
  }

  int resume_call(int events) {
    switch (step_) {
      case Step::kConnect:
        return mysql_real_connect_cont(&connect_ret_, mysql_, events);
      case Step::kQuery:
        return mysql_real_query_cont(&query_ret_, mysql_, events);
      case Step::kStore:
        return mysql_store_result_cont(&store_ret_, mysql_, events);
      case Step::kClose:
        return mysql_close_cont(mysql_, events);
      case Step::kDone:
        break;
    }
    return 0;
  }

  void release_socket() {
    if (socket_.is_open()) socket_.release();
  }

  void step_done() {
    switch (step_) {
      case Step::kConnect: {
        if (connect_ret_ == nullptr) {
          // 2002/2003: the TCP connection itself failed; anything later is the login.
          const unsigned err = mysql_errno(mysql_);
          return fail((err == 2002 || err == 2003 ? "connect: " : "login: ") + error_text());
        }
        server_ = detail::printable(mysql_get_server_info(mysql_), 100);
        return next_query();
      }
      case Step::kQuery:
        if (query_ret_ != 0) return fail(std::string(queries_[query_].label) + ": " + error_text());
        step_ = Step::kStore;
        return advance(mysql_store_result_start(&store_ret_, mysql_));
      case Step::kStore: {
        MYSQL_RES* res = std::exchange(store_ret_, nullptr);
        if (res == nullptr && mysql_field_count(mysql_) != 0) {
          return fail(std::string(queries_[query_].label) + ": " + error_text());
        }
        const Query& q = queries_[query_];
        uint64_t rows = 0;
        if (res != nullptr) {
          rows = mysql_num_rows(res);
          if (q.kind == Query::kVars && mysql_num_fields(res) >= 2) collect_vars(res);
          mysql_free_result(res);  // a stored result: no I/O
        }
        // No result set at all (an UPDATE, a DO) passes; a SELECT must find something.
        if (q.kind == Query::kCustom && res != nullptr && rows == 0) {
          return fail("query returned no rows");
        }
        ++query_;
        return next_query();
      }
      case Step::kClose:
        mysql_ = nullptr;  // mysql_close_cont() has freed it
        step_ = Step::kDone;
        return;
      case Step::kDone:
        return;
    }
  }

  void collect_vars(MYSQL_RES* res) {
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      const unsigned long* len = mysql_fetch_lengths(res);
      if (row[0] == nullptr || len == nullptr) continue;
      std::string name(row[0], len[0]);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      vars_[name] = row[1] != nullptr ? std::string(row[1], len[1]) : std::string();
    }
  }

  void next_query() {
    if (galera_ && !judged_ &&
        (query_ == queries_.size() || queries_[query_].kind == Query::kCustom)) {
      judged_ = true;
      CheckResult verdict = judge_galera(vars_, config_.allow_donor);
      if (!verdict.ok) return fail(std::move(verdict.reason));
      verdict_ = std::move(verdict.reason);
    }
    if (query_ < queries_.size()) {
      const Query& q = queries_[query_];
      step_ = Step::kQuery;
      phase_ = q.label;
      return advance(mysql_real_query_start(&query_ret_, mysql_, q.text.data(), q.text.size()));
    }
    std::string reason = verdict_.empty() ? "logged in as " + config_.user : verdict_;
    report(true, reason + ", server " + server_);
    close();
  }

  void fail(std::string reason) {
    report(false, std::move(reason));
    close();
  }

  void report(bool ok, std::string reason) {
    if (reported_ || cancelled_) return;
    reported_ = true;
    if (deadline_hit_) {
      ok = false;
      reason = "timeout after " + detail::format_ms(config_.timeout) + " (" + phase_ + ")";
    }
    const auto latency =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    CheckCallback done = std::move(done_);
    done_ = nullptr;
    if (done) done(CheckResult{ok, std::move(reason), latency});
  }

  // COM_QUIT and free, through the non-blocking close; a connection that already failed has
  // no socket left and closes at once.
  void close() {
    step_ = Step::kClose;
    phase_ = "close";
    close_deadline_ =
        Clock::now() + std::min<std::chrono::milliseconds>(config_.timeout, kCloseGrace);
    advance(mysql_close_start(mysql_));
  }

  std::string error_text() const { return detail::printable(mysql_error(mysql_)); }

  asio::posix::stream_descriptor socket_;
  asio::steady_timer timer_;
  std::string host_;
  uint16_t port_;
  CheckConfig config_;
  bool galera_;
  CheckCallback done_;

  MYSQL* mysql_ = nullptr;
  Step step_ = Step::kConnect;
  bool suspended_ = false;  // a _start/_cont returned a wait mask and awaits its _cont
  MYSQL* connect_ret_ = nullptr;
  int query_ret_ = 0;
  MYSQL_RES* store_ret_ = nullptr;
  int pending_ = 0;  // asio waits outstanding in this round
  int events_ = 0;   // MYSQL_WAIT_* seen in this round

  std::vector<Query> queries_;
  size_t query_ = 0;
  std::map<std::string, std::string> vars_;
  bool judged_ = false;
  std::string verdict_;
  std::string server_;

  Clock::time_point started_{};
  Clock::time_point deadline_{};
  Clock::time_point close_deadline_{};
  std::string phase_ = "login";
  bool deadline_hit_ = false;
  bool cancelled_ = false;
  bool reported_ = false;
};

}  // namespace

namespace detail {

CheckHandle start_sql_check(const asio::any_io_executor& ex, const std::string& host, uint16_t port,
                            const CheckConfig& config, bool galera, CheckCallback done) {
  auto check = std::make_shared<SqlCheck>(ex, host, port, config, galera, std::move(done));
  check->start();
  return check;
}

}  // namespace detail

CheckResult judge_galera(const std::map<std::string, std::string>& vars, bool allow_donor) {
  auto get = [&vars](const char* name) -> const std::string* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : &it->second;
  };
  auto fail = [](std::string reason) { return CheckResult{false, std::move(reason), {}}; };
  auto show = [](const char* name, const std::string& value) {
    return std::string(name) + "=" + detail::printable(value, 64);
  };

  const std::string* on = get("wsrep_on");
  if (on != nullptr && !iequals(*on, "ON"))
    return fail("not a Galera node: " + show("wsrep_on", *on));
  const std::string* ready = get("wsrep_ready");
  if (ready == nullptr) return fail("not a Galera node: wsrep_ready missing");

  // The cluster view first: a non-Primary node also reports wsrep_ready=OFF, and the partition
  // is the better explanation.
  const std::string* cluster = get("wsrep_cluster_status");
  if (cluster == nullptr) return fail("wsrep_cluster_status missing");
  if (!iequals(*cluster, "Primary")) return fail(show("wsrep_cluster_status", *cluster));

  const std::string* local = get("wsrep_local_state");
  if (local == nullptr) return fail("wsrep_local_state missing");
  int state = -1;
  const auto [end, ec] = std::from_chars(local->data(), local->data() + local->size(), state);
  if (ec != std::errc() || end != local->data() + local->size()) {
    return fail(show("wsrep_local_state", *local) + " (not a number)");
  }
  const std::string state_text =
      show("wsrep_local_state", *local) + " (" + local_state_name(state) + ")";
  if (state != 4 && !(state == 2 && allow_donor)) return fail(state_text);

  if (!iequals(*ready, "ON")) return fail(show("wsrep_ready", *ready));
  // Variables an operator sets to take a node out of rotation; absent on older servers.
  if (const std::string* desync = get("wsrep_desync");
      desync != nullptr && !iequals(*desync, "OFF") && *desync != "0") {
    return fail(show("wsrep_desync", *desync));
  }
  if (const std::string* reject = get("wsrep_reject_queries");
      reject != nullptr && !iequals(*reject, "NONE")) {
    return fail(show("wsrep_reject_queries", *reject));
  }
  return {true, state_text + ", Primary" + (state == 2 ? ", donor allowed" : ""), {}};
}

}  // namespace fulcrum
