#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed, builds Fulcrum, and runs the pipeline demo: a capture of client
# traffic toward the reference scenario's VIP (generated with scapy) goes through the very
# process_burst() the data plane runs, and every frame's fate is printed.
# Usage (as root on Debian 12): bash scripts/demo.sh [fnat|dsr]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-fnat}

bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build drivers/fulcrum-replay

capture=$(mktemp --suffix=.pcap)
trap 'rm -f "$capture"' EXIT
/usr/bin/python3 scripts/make-demo-pcap.py "$capture"
build/drivers/fulcrum-replay -i "$capture" --forward "$mode" --answer
