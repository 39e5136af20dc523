#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package Fulcrum needs to build, test and run its lab (the lab's
# servers come from scripts/lab-packages.sh, called at the end). Idempotent: apt-get only
# installs what is missing. Run as root.
set -euo pipefail

packages=(
  # build
  build-essential pkg-config meson ninja-build
  # libraries
  libdpdk-dev dpdk-dev liburcu-dev libboost-program-options-dev libxxhash-dev
  libtomlplusplus-dev nlohmann-json3-dev libpcap-dev libboost-dev libmariadb-dev
  # DPDK poll-mode drivers are plugins in Debian: install the ones we use
  librte-net-af-xdp23 librte-net-af-packet23 librte-net-tap23 librte-net-memif23
  librte-net-ring23 librte-net-null23 librte-net-pcap23
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev valgrind python3 python3-scapy
  # fuzzing: clang's libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # lab tools
  iproute2 iputils-ping ethtool tcpdump curl
  # bench/run: the peers and client tools it compares against, its schema check and plots
  haproxy wrk iperf3 sysbench python3-jsonschema gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

here=$(dirname "$0")
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exec bash "$here/lab-packages.sh"
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
exec bash "$here/lab-packages.sh"
