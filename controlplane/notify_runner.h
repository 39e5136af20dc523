// SPDX-License-Identifier: Apache-2.0
// NotifyRunner: runs the programs VRRP transitions ask for (`notify = ...`), one at a time and
// in the order they were asked for, on a thread of its own, so a slow script never delays an
// advertisement or a timer. A script that is still running after `timeout` is killed (SIGTERM,
// then SIGKILL a second later), and the next one starts; keepalived behaves the same way.
// Children get stdin from /dev/null, the daemon's stdout and stderr, no other descriptors, and
// default signal handling.
// Thread-safety: enqueue() from any thread. The destructor runs what is still queued (a BACKUP
// at shutdown is how an operator stops a singleton service on this node), each within its
// timeout, and refuses new work meanwhile.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fulcrum {

struct NotifyResult {
  std::vector<std::string> argv;
  int exit_code = -1;  // the program's exit status, or -1 when it did not exit by itself
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  std::string error;  // why it could not be started
};

class NotifyRunner {
 public:
  using Done = std::function<void(const NotifyResult&)>;

  // `done` is called on the runner's thread after each program (for logs and counters).
  explicit NotifyRunner(std::chrono::milliseconds timeout = std::chrono::seconds(30),
                        Done done = {});
  ~NotifyRunner();
  NotifyRunner(const NotifyRunner&) = delete;
  NotifyRunner& operator=(const NotifyRunner&) = delete;

  // Queues argv (argv[0] is the program's path) to run after every earlier one.
  void enqueue(std::vector<std::string> argv);

  uint64_t started() const;
  uint64_t failed() const;  // could not start, non-zero exit, signal or timeout

 private:
  void loop();
  NotifyResult run_one(const std::vector<std::string>& argv) const;

  std::chrono::milliseconds timeout_;
  Done done_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::vector<std::string>> queue_;
  bool stopping_ = false;
  uint64_t started_ = 0;
  uint64_t failed_ = 0;
  std::thread thread_;
};

// Splits a notify setting into argv on blanks ("/path/script arg" runs the script with arg
// first, as keepalived allows), then appends `extra`.
std::vector<std::string> notify_argv(const std::string& command,
                                     const std::vector<std::string>& extra);

}  // namespace fulcrum
