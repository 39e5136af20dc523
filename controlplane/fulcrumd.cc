// SPDX-License-Identifier: Apache-2.0
// fulcrumd: the Fulcrum load balancer daemon.
//   fulcrumd -c FILE            run in the foreground, logging to stderr
//   fulcrumd -c FILE --check    validate FILE, print errors as FILE:LINE: message, exit 1 on any
//   fulcrumd -c FILE --withdraw withdraw every [[announce.vip]] from BIRD and exit (systemd's
//                               ExecStopPost: a crashed node announces nothing)
//   fulcrumd --version | --help
// Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the services, SIGUSR1 logs counters.
#include <boost/program_options.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "announce_controller.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

namespace po = boost::program_options;
using namespace fulcrum;

namespace {

constexpr const char* kVersion = "0.1.0";

void on_signal(int sig) {
  if (sig == SIGHUP) {
    request_reload();
  } else if (sig == SIGUSR1) {
    request_counters_dump();
  } else {
    request_stop();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, level_name;
  po::options_description opts("Usage: fulcrumd -c FILE [--check] [options]\nOptions");
  opts.add_options()("help,h", "show this help and exit")("version,v", "show the version and exit")(
      "config,c", po::value(&config_path)->value_name("FILE"), "configuration file (TOML)")(
      "check,t", "validate the configuration file and exit: 0 when valid, 1 on errors")(
      "withdraw", "disable every [[announce.vip]]'s protocol in BIRD and exit: 0 when all are "
                  "withdrawn (for systemd's ExecStopPost)")(
      "log-level,l", po::value(&level_name)->default_value("info")->value_name("LEVEL"),
      "error | warning | notice | info | debug");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fulcrumd: " << e.what() << "\n" << opts << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "fulcrumd " << kVersion << "\n";
    return 0;
  }
  LogLevel level;
  if (!parse_log_level(level_name, level)) {
    std::cerr << "fulcrumd: --log-level: '" << level_name
              << "' is not one of error, warning, notice, info, debug\n";
    return 2;
  }
  if (config_path.empty()) {
    std::cerr << "fulcrumd: -c FILE is required\n" << opts << "\n";
    return 2;
  }

  LoadResult loaded = load_config_file(config_path);
  for (const ConfigError& e : loaded.errors) std::cerr << e.to_string() << "\n";
  if (vm.count("check")) {
    if (!loaded.config) {
      std::cerr << config_path << ": " << loaded.errors.size() << " error(s)\n";
      return 1;
    }
    std::cout << config_path << ": configuration is valid\n";
    return 0;
  }
  if (!loaded.config) return 1;
  if (vm.count("withdraw")) {
    if (!loaded.config->announce) {
      std::cout << config_path << ": no [announce]: nothing to withdraw\n";
      return 0;
    }
    std::vector<std::string> report;
    const bool ok = withdraw_all(*loaded.config->announce, std::chrono::seconds(2), report);
    for (const std::string& line : report) (ok ? std::cout : std::cerr) << line << "\n";
    return ok ? 0 : 1;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  DaemonOptions options;
  options.config_path = config_path;
  options.program = argv[0];
  options.log_level = level;
  return run_daemon(std::move(*loaded.config), options);
}
