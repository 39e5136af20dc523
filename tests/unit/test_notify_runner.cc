// SPDX-License-Identifier: Apache-2.0
// NotifyRunner: programs run one at a time in the order asked, with their arguments; failures
// and timeouts are reported; the destructor still runs what is queued.
#include "notify_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace fulcrum {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/fulcrum-notify-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A script that sleeps a little (so that overlapping runs would interleave) and appends its
// arguments to `log`.
std::string write_script(const TempDir& dir, const std::string& body) {
  const auto path = dir.path / "notify.sh";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}

TEST(NotifyRunner, RunsInOrderOneAtATime) {
  TempDir dir;
  const std::string log = (dir.path / "log").string();
  const std::string script = write_script(
      dir, "echo \"start $1 $2\" >> " + log + "; sleep 0.05; echo \"end $1 $2\" >> " + log);
  {
    NotifyRunner runner;
    runner.enqueue(notify_argv(script, {"VI_1", "BACKUP"}));
    runner.enqueue(notify_argv(script, {"VI_1", "MASTER"}));
    runner.enqueue(notify_argv(script, {"VI_1", "FAULT"}));
  }  // the destructor runs all three
  EXPECT_EQ(read_file(log),
            "start VI_1 BACKUP\nend VI_1 BACKUP\nstart VI_1 MASTER\nend VI_1 MASTER\n"
            "start VI_1 FAULT\nend VI_1 FAULT\n");
}

TEST(NotifyRunner, ExtraArgumentsInTheSettingComeFirst) {
  EXPECT_EQ(notify_argv("/usr/local/bin/n.sh  --quiet", {"VI_1", "MASTER"}),
            (std::vector<std::string>{"/usr/local/bin/n.sh", "--quiet", "VI_1", "MASTER"}));
}

TEST(NotifyRunner, ReportsExitStatusMissingProgramAndTimeout) {
  TempDir dir;
  std::mutex m;
  std::vector<NotifyResult> results;
  const std::string script = write_script(dir, "[ \"$1\" = slow ] && exec sleep 5; exit 3");
  {
    NotifyRunner runner(std::chrono::milliseconds(200), [&](const NotifyResult& r) {
      std::lock_guard lock(m);
      results.push_back(r);
    });
    runner.enqueue({script, "fast"});
    runner.enqueue({(dir.path / "missing").string(), "x"});
    const auto t0 = std::chrono::steady_clock::now();
    runner.enqueue({script, "slow"});
    while (runner.started() < 3 || results.size() < 3) {
      ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(runner.failed(), 3U);
  }
  ASSERT_EQ(results.size(), 3U);
  EXPECT_EQ(results[0].exit_code, 3);
  EXPECT_TRUE(results[0].error.empty());
  EXPECT_FALSE(results[1].error.empty());
  EXPECT_TRUE(results[2].timed_out);
  EXPECT_EQ(results[2].signal, SIGTERM);
}

}  // namespace
}  // namespace fulcrum
