#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what scripts/lab.sh needs (namespaces, veths, HTTP and MariaDB
# servers, a client). Idempotent: only missing packages are installed.
#
# Debian's mariadb-server postinst starts the distribution's own mariadb
# service when an init system is present. We leave that service alone: the
# lab's servers bind to lab addresses inside their own namespaces and keep
# their sockets in the lab temp dir, so they never collide with it. In a
# container without systemd the postinst may fail to start the service; that
# is tolerated below.
#
# bird2's postinst likewise enables (and, with an init system, starts) the
# distribution's bird.service with /etc/bird/bird.conf and the socket
# /run/bird/bird.ctl. The lab's BIRDs (`lab.sh up --ecmp`) run in the lab's
# namespaces with their own configs and control sockets in the lab temp
# dir, so they never collide with it either.
set -euo pipefail

packages=(
  iproute2        # ip netns / ip link / ip addr
  ethtool         # checksum and segmentation offloads off on veths
  mariadb-server  # mariadbd, mariadb-install-db
  mariadb-client  # mariadb (client) for readiness checks and tests
  curl            # HTTP client in fl-client
  python3         # scripts/lab-http-server.py
  galera-4        # lab.sh up --galera: libgalera_smm.so (wsrep provider)
  rsync           # lab.sh up --galera: rsync SST (wsrep_sst_rsync; uses ss from iproute2)
  nftables        # lab.sh partition / heal: nft in a controller's namespace
  keepalived      # VRRP interop tests (its service does not start: no /etc/keepalived/keepalived.conf)
  bird2           # lab.sh up --ecmp: bird, birdc on the router and the LB nodes (BGP, BFD)
)

usage() {
  cat <<EOF
Usage: $0 [--check]
  Installs the packages the namespace lab needs (only the missing ones).
  --check   list missing packages and exit 1 if any, install nothing
EOF
}

missing_packages() {
  local p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}

main() {
  local check=0
  case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac

  local -a missing
  mapfile -t missing < <(missing_packages)
  if [ ${#missing[@]} -eq 0 ]; then
    echo "lab-packages: all ${#packages[@]} packages present"
    exit 0
  fi
  if [ "$check" -eq 1 ]; then
    echo "lab-packages: missing: ${missing[*]}"
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "lab-packages: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi

  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Without an init system the mariadb-server postinst can fail to start the
  # service, which leaves the package half-configured and apt-get non-zero.
  # Tolerate that, then finish configuration and judge by what is installed.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "lab-packages: apt-get install reported an error (often the distribution's" \
      "mariadb service failing to start without an init system); finishing configuration" >&2
    dpkg --configure -a || true
  fi

  mapfile -t missing < <(missing_packages)
  if [ ${#missing[@]} -ne 0 ]; then
    echo "lab-packages: still missing: ${missing[*]}" >&2
    exit 1
  fi
  local b
  for b in mariadbd mariadb-install-db mariadb rsync nft bird birdc; do
    command -v "$b" >/dev/null || { echo "lab-packages: $b not found after install" >&2; exit 1; }
  done
  echo "lab-packages: installed; all ${#packages[@]} packages present"
}

main "$@"
