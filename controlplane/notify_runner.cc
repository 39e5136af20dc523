// SPDX-License-Identifier: Apache-2.0
#include "notify_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

extern char** environ;

namespace fulcrum {

NotifyRunner::NotifyRunner(std::chrono::milliseconds timeout, Done done)
    : timeout_(timeout), done_(std::move(done)), thread_([this] { loop(); }) {}

NotifyRunner::~NotifyRunner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;  // the loop still runs what is queued, then returns
  }
  wake_.notify_all();
  thread_.join();
}

void NotifyRunner::enqueue(std::vector<std::string> argv) {
  if (argv.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    queue_.push_back(std::move(argv));
  }
  wake_.notify_one();
}

uint64_t NotifyRunner::started() const {
  std::lock_guard lock(mutex_);
  return started_;
}

uint64_t NotifyRunner::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

void NotifyRunner::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    std::vector<std::string> argv = std::move(queue_.front());
    queue_.pop_front();
    ++started_;
    lock.unlock();
    const NotifyResult result = run_one(argv);
    if (done_) done_(result);
    lock.lock();
    if (!result.error.empty() || result.exit_code != 0) ++failed_;
  }
}

NotifyResult NotifyRunner::run_one(const std::vector<std::string>& argv) const {
  NotifyResult result;
  result.argv = argv;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  // Its own process group, so a timeout can end the script and whatever it started.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    result.error = std::strerror(rc);
    return result;
  }

  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout_;
  bool termed = false;
  auto kill_at = Clock::time_point::max();
  int status = 0;
  for (auto pause = std::chrono::milliseconds(1);;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      result.error = std::string("waitpid: ") + std::strerror(errno);
      return result;
    }
    const auto now = Clock::now();
    if (!termed && now >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGTERM);
      termed = true;
      kill_at = now + std::chrono::seconds(1);
    } else if (termed && now >= kill_at) {
      kill(-pid, SIGKILL);
      kill_at = Clock::time_point::max();
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

std::vector<std::string> notify_argv(const std::string& command,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> argv;
  std::istringstream words(command);
  for (std::string w; words >> w;) argv.push_back(w);
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace fulcrum
