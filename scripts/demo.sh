#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: installs what is needed, builds Fulcrum, builds the namespace lab of the
# reference scenario (a client, three controllers with nova-api on 8774 and MariaDB on 3306,
# two LB nodes), runs fulcrumd on lb0, sends HTTP requests and MySQL queries from the client
# to the VIP, prints which controller answered each, and tears the lab down.
# Usage (as root on Debian 12): bash scripts/demo.sh [fnat|dsr]
#                               bash scripts/demo.sh --replay [fnat|dsr]   (no lab: a capture
#                               through the pipeline, printing every frame's fate)
set -euo pipefail
cd "$(dirname "$0")/.."

replay=0
if [ "${1:-}" = --replay ]; then
  replay=1
  shift
fi
mode=${1:-fnat}
case "$mode" in fnat|dsr) ;; *) echo "usage: $0 [--replay] [fnat|dsr]" >&2; exit 2 ;; esac

bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build

if [ "$replay" = 1 ]; then
  capture=$(mktemp --suffix=.pcap)
  trap 'rm -f "$capture"' EXIT
  /usr/bin/python3 scripts/make-demo-pcap.py "$capture"
  exec build/drivers/fulcrum-replay -i "$capture" --forward "$mode" --answer
fi
exec bash scripts/lab.sh demo "$mode"
