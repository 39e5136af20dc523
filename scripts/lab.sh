#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The Fulcrum namespace lab: the reference scenario (three controllers with
# nova-api on 8774 and MariaDB on 3306, a client, two load-balancer nodes)
# built from network namespaces on one machine. Integration tests and the
# demo use it; see usage() for the commands.
#
#   fl-sw      bridge br0: the L2 segment 192.0.2.0/24
#   fl-client  eth0 192.0.2.100/24
#   fl-c0..c2  eth0 192.0.2.10-12/24, HTTP :8774, MariaDB :3306
#   fl-lb0/1   lb0-0 / lb1-0, no address: fulcrumd attaches to it with
#              net_af_xdp or net_af_packet and brings its own tap (.2 / .3)
#   VIP        192.0.2.26 (on each controller's lo in DSR mode only)
#
# Every namespace but fl-sw connects to br0 with one veth pair, created
# directly between the two namespaces so nothing ever appears in the host's
# namespace. Traffic only ever goes to addresses inside these namespaces.
#
# Everything `up` makes is recorded under the state dir (FULCRUM_LAB_STATE,
# default /run/fulcrum-lab) so that `down` can remove it: processes are ended
# by recorded PID (checked against their start time, so a reused PID is never
# hit) and by the PIDs still inside the lab's namespaces; namespaces are
# deleted (which deletes their veths and the bridge); the temp dir goes last.
#
# Galera mode (`up --galera`): the three MariaDB servers form one Galera
# cluster (galera-4, rsync SST) instead of being standalone; `partition` /
# `heal` cut a controller off from the other two's group communication with
# nftables in its own namespace, `galera-stop` / `galera-start` stop and
# restart one node's mariadbd, `galera-wait` waits for nodes to be Synced.
#
# ECMP mode (`up --ecmp`, the scale-out topology): a router sits between the
# client and the segment, and both LB nodes announce the VIP to it over BGP
# (with BFD) from a BIRD 2 of their own; the router installs one multipath
# route to the VIP and spreads flows over the nodes by L4 hash.
#
#   fl-router  eth0 192.0.2.1/24 on br0 (sw-router), eth1 198.18.0.1/24;
#              BIRD: AS 65000, a BGP session per LB node (lb0, lb1), BFD
#              100 ms x 3, kernel protocol with merge paths (one ECMP route)
#   fl-client  eth0 198.18.0.100/24, a veth straight to the router's eth1
#              (not on br0: all client traffic crosses the router)
#   fl-lb0/1   BIRD: AS 65001, static protocol vip1 (192.0.2.26/32,
#              "disabled yes": fulcrumd enables it through BIRD's control
#              socket), BGP session `upstream` to the router, BFD on
#              fulcrumd's tap (fulcrum-lan, there once fulcrumd runs)
#   fl-c0..c2  also route 198.18.0.0/24 via 192.0.2.1 (DSR replies)
#
# The BIRDs run in the foreground with their configs and control sockets in
# the lab temp dir (bird-NODE.conf, bird-NODE.ctl), recorded like every
# other server; `cut` / `uncut` make a node silently unreachable (its
# switch port stops forwarding, its link stays up), e.g. to measure BFD.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly HTTP_SERVER="$SCRIPT_DIR/lab-http-server.py"
readonly PYTHON=/usr/bin/python3
readonly STATE_DIR="${FULCRUM_LAB_STATE:-/run/fulcrum-lab}"
# Testing aid: FULCRUM_LAB_FAIL_AT=<step> makes `up` fail at that step, to
# check that a failed `up` leaves nothing behind.
readonly FAIL_AT="${FULCRUM_LAB_FAIL_AT:-}"

readonly NS_PREFIX=fl-
readonly SWITCH_NS=fl-sw
readonly BRIDGE=br0
readonly NODES=(client c0 c1 c2 lb0 lb1)
readonly CONTROLLERS=(c0 c1 c2)
readonly SUBNET_LEN=24
readonly VIP=192.0.2.26
readonly HTTP_PORT=8774
readonly MYSQL_PORT=3306
readonly DB_USER=fulcrum
readonly DB_PASSWORD=fulcrum

declare -rA NODE_IP=([client]=192.0.2.100 [c0]=192.0.2.10 [c1]=192.0.2.11
  [c2]=192.0.2.12 [lb0]=192.0.2.2 [lb1]=192.0.2.3)
declare -rA SERVER_ID=([c0]=10 [c1]=11 [c2]=12)

# Galera mode. Ports: group communication (gcomm, TCP and UDP), IST, SST.
readonly GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so
readonly GALERA_GCOMM_PORT=4567
readonly GALERA_IST_PORT=4568
readonly GALERA_SST_PORT=4444
readonly GALERA_CLUSTER_NAME=fulcrum-lab
readonly GALERA_NFT_TABLE=fulcrum_lab   # `partition`: table inet fulcrum_lab
# Failure detection, lowered from Galera's defaults (suspect 5 s, inactive
# 15 s, install 7.5 s) so that a partitioned node leaves the Primary
# component in about 3-4 s. Kept consistent with each other:
#   inactive_check_period (0.5 s, default) and keepalive_period (1 s,
#   default) well below suspect_timeout (3 s: three keepalives per window),
#   suspect_timeout <= inactive_timeout (5 s), install_timeout (5 s) <=
#   inactive_timeout (Galera's own default is inactive_timeout / 2; 5 s
#   leaves a slow 2-vCPU machine room to finish a membership round).
# gcache.size: the ring buffer file is preallocated in each datadir; 16 MB
# is plenty for the lab and keeps IST possible after short outages.
readonly GALERA_EVS_OPTIONS="evs.keepalive_period=PT1S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT5S;evs.install_timeout=PT5S"
readonly GALERA_GCACHE_OPTIONS="gcache.size=16M"
readonly GALERA_FORM_TIMEOUT_S=90    # `up --galera`: joiners Synced (rsync SST, 4-6 s each)
readonly GALERA_WAIT_TIMEOUT_S=60    # `galera-wait` / `galera-start` default
readonly GALERA_STOP_TIMEOUT_S=30    # `galera-stop`: mariadbd exits after SIGTERM

# ECMP mode (`up --ecmp`). 198.18.0.0/15 is the benchmarking range (RFC 2544).
readonly ROUTER=router                 # node name: fl-router, bird-router
readonly ROUTER_NS=fl-router
readonly ROUTER_IP=192.0.2.1           # fl-router eth0, on br0
readonly ROUTER_CLIENT_IP=198.18.0.1   # fl-router eth1
readonly CLIENT_ECMP_IP=198.18.0.100   # fl-client eth0 in ECMP mode
readonly CLIENT_NET=198.18.0.0/24
readonly ROUTER_AS=65000
readonly NODE_AS=65001
readonly BIRD_VIP_PROTOCOL=vip1        # the static protocol fulcrumd enables/disables
readonly BIRD_NODES=(router lb0 lb1)
# BGP timers for tests: hold 3 s / keepalive 1 s (BFD detects a dead peer
# first, in 300 ms). After a session goes down BIRD waits `error wait time`
# before reconnecting: 1 s, doubled on each further failure within BIRD's
# error forget time (300 s) up to 4 s; measured here, a cut node's session
# is back 1.6 s after the first uncut, 4.5-5.5 s after repeated ones.
readonly BGP_TIMERS='hold time 3; keepalive time 1; connect delay time 1; connect retry time 2; error wait time 1, 4;'
readonly BFD_OPTIONS='interval 100 ms; multiplier 3;'   # detection 300 ms
readonly BIRD_READY_TIMEOUT_S=10       # control socket answers after a start

# Bounds for every wait (polls of 0.05-0.1 s).
readonly READY_TIMEOUT_S=25     # servers up and answering
readonly TERM_TIMEOUT_S=5       # processes exit after SIGTERM (mariadbd: ~1-3 s)
readonly KILL_TIMEOUT_S=3       # processes gone after SIGKILL

STEP=init          # what `up` is doing, for the failure message
UP_ACTIVE=0        # 1 while `up` owns a half-built lab that must be torn down
LAB_GALERA=0       # 1: `up --galera` (recorded in the state dir as galera=on)
LAB_ECMP=0         # 1: `up --ecmp` (recorded in the state dir as ecmp=on)

usage() {
  cat <<EOF
Usage: $0 COMMAND [ARGS]

  up [fnat|dsr] [--force] [--galera] [--ecmp]
                           build the lab (default fnat: controllers plain;
                           dsr: VIP $VIP on each controller's lo with
                           arp_ignore=1 / arp_announce=2). Fails with exit 1
                           if a lab exists, unless --force (then: down first).
                           --galera: the three MariaDB servers form one
                           Galera cluster (c0 bootstraps, c1 and c2 join by
                           rsync SST); up returns once all three are Synced,
                           Primary, ready, cluster size 3.
                           --ecmp: the scale-out topology: router
                           $ROUTER_NS ($ROUTER_IP, $ROUTER_CLIENT_IP) between the client
                           ($CLIENT_ECMP_IP) and the segment, BIRD 2 on the router
                           and on lb0/lb1 (BGP + BFD; see the header)
  down                     remove everything the lab made; safe to repeat
  status                   namespaces, addresses, server PIDs and readiness
                           (checked inside each controller's namespace);
                           exit 0 only when every server answers
  dsr-on | dsr-off         switch a running lab between DSR and FNAT
  exec NODE CMD [ARGS...]  run CMD inside fl-NODE
                           (NODE: sw ${NODES[*]}, $ROUTER with --ecmp)
  lb-start NODE [fnat|dsr] [--driver af_xdp|af_packet] [--config FILE]
                           start fulcrumd on lb0/lb1 (config generated for
                           the reference scenario unless --config), wait
                           until it runs; af_xdp falls back to af_packet.
                           With checks in the config and fulcrumctl next
                           to fulcrumd: then wait (at most ${FULCRUMD_SETTLE_TIMEOUT_S}s) until
                           every checked backend has a result (none
                           "unknown" in fulcrumctl list). With --ecmp the
                           generated config also has gateway $ROUTER_IP and an
                           [announce] section: VIP $VIP through BIRD
                           protocol $BIRD_VIP_PROTOCOL on that node's control socket
  lb-stop NODE             SIGTERM fulcrumd on NODE, wait (bounded)
  lb-log NODE              print fulcrumd's log on NODE
  http-stop NODE           stop NODE's HTTP server (c0..c2; SIGTERM to its
                           recorded PID): :$HTTP_PORT refuses connections
  http-start NODE          start it again (recorded), wait until it answers
  cut NODE                 make NODE silently unreachable: its switch port
                           (sw-NODE in $SWITCH_NS) stops forwarding both ways;
                           NODE's link stays up (no carrier loss)
  uncut NODE               forward on that port again
  demo [fnat|dsr]          up, fulcrumd on lb0, requests to VIP:$HTTP_PORT and
                           queries to VIP:$MYSQL_PORT naming the controller
                           that answered each, then down

ECMP mode only (after \`up --ecmp\`; NODE: ${BIRD_NODES[*]}):
  birdc NODE ARGS...       birdc on NODE's control socket, e.g.
                           \`$0 birdc $ROUTER show protocols\`,
                           \`$0 birdc lb0 enable $BIRD_VIP_PROTOCOL\`
  bird-stop NODE           SIGTERM NODE's BIRD, wait (bounded) until it exits
  bird-start NODE          start it again (same config and socket, recorded),
                           wait (at most ${BIRD_READY_TIMEOUT_S}s) until its socket answers;
                           on lb0/lb1 $BIRD_VIP_PROTOCOL starts disabled again
  bird-restart NODE        bird-stop, then bird-start
  route                    the router's route to $VIP (ip route show $VIP
                           in $ROUTER_NS: one nexthop per announcing node)
  \`status\` also shows the router's BIRD protocols and that route.

Galera mode only (after \`up --galera\`; NODE: ${CONTROLLERS[*]}):
  galera-status            each node's wsrep state (cluster size, status,
                           local state, ready) and whether it is partitioned
  galera-wait [--timeout S] [--size N] [NODE...]
                           wait (default ${GALERA_WAIT_TIMEOUT_S}s) until the nodes (default
                           all) are Synced, Primary and ready (and see a
                           cluster of N nodes, if --size); prints each
                           node's state; exit 1 on timeout
  partition NODE           cut NODE off from the other two controllers'
                           group communication: nftables table inet
                           $GALERA_NFT_TABLE in NODE's namespace drops TCP/UDP
                           $GALERA_GCOMM_PORT, $GALERA_IST_PORT, $GALERA_SST_PORT to and from their addresses
                           (3306 stays open). NODE turns non-Primary in ~3-4 s
  heal NODE                delete that table; NODE rejoins (see galera-wait)
  galera-stop NODE         SIGTERM NODE's mariadbd, wait until it exits
  galera-start NODE [--no-wait] [--timeout S]
                           start NODE's mariadbd again, joining the cluster
                           (never bootstrapping); waits until it is Synced
  \`status\` also shows each node's wsrep state. Galera nodes run as user
  mysql (an rsync SST daemon started by root cannot write the datadir), so
  the directories above TMPDIR must be traversable by it.

Controllers answer HTTP GET on :$HTTP_PORT with their name ("c0\n");
GET /bytes/N streams N bytes (byte i = i % 251). MariaDB on :$MYSQL_PORT:
user $DB_USER / password $DB_PASSWORD, \`select name from lab.whoami\` gives
the controller's name, @@server_id is 10/11/12. In Galera mode lab.whoami
is a view over lab.node_name(), which returns @@wsrep_node_name (c0/c1/c2:
the view replicates but is evaluated on each node); \`select
@@wsrep_node_name\` answers even on a non-Primary node (it reads no table).

Environment:
  FULCRUM_BIN          fulcrumd to run (default: build/fulcrumd of this tree)
  FULCRUM_LAB_STATE    state dir (default /run/fulcrum-lab; its parent must exist)
  TMPDIR               where the lab's temp dir is made (default /tmp)
  FULCRUM_LAB_FAIL_AT  testing aid: make \`up\` fail at the named step
EOF
}

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ns_of() { printf '%s%s' "$NS_PREFIX" "$1"; }

ecmp_on() { [ "$LAB_ECMP" = 1 ] || [ "$(state_get ecmp)" = on ]; }

# All namespaces the lab owns, switch first; the router only in ECMP mode.
lab_namespaces() {
  local n
  printf '%s\n' "$SWITCH_NS"
  for n in "${NODES[@]}"; do ns_of "$n"; echo; done
  if ecmp_on; then printf '%s\n' "$ROUTER_NS"; fi
}

ns_exists() { [ -e "/run/netns/$1" ]; }

# The lab's namespaces that exist, the router's whatever the recorded mode
# (a failed `up --ecmp` may have made it before recording anything).
present_namespaces() {
  local ns
  while read -r ns; do
    if ns_exists "$ns"; then printf '%s\n' "$ns"; fi
  done < <(lab_namespaces | grep -vx "$ROUTER_NS"; echo "$ROUTER_NS")
}

lab_exists() {
  [ -d "$STATE_DIR" ] || [ -n "$(present_namespaces)" ]
}

# A fixed, readable MAC per interface: 02:00:00:00:<side>:<last IP octet>,
# side 02 for the node's end (lb0-0 = 02:00:00:00:02:02 as fulcrumd expects),
# 01 for the switch's end.
mac_for() {
  local side=$1 node=$2
  printf '02:00:00:00:%s:%02x' "$side" "${NODE_IP[$node]##*.}"
}

node_if() {
  case "$1" in
    lb*) printf '%s-0' "$1" ;;
    *) printf 'eth0' ;;
  esac
}

maybe_fail() {
  if [ "$FAIL_AT" = "$1" ]; then
    die "injected failure at step '$1' (FULCRUM_LAB_FAIL_AT)"
  fi
}

# ---------------------------------------------------------------- state

state_set() { printf '%s\n' "$2" >"$STATE_DIR/$1"; }
state_get() { if [ -f "$STATE_DIR/$1" ]; then cat -- "$STATE_DIR/$1"; fi; }

# Field 22 of /proc/PID/stat (start time in clock ticks). The comm field can
# hold spaces and parentheses, so read from after its closing ')'.
proc_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*") "}
  # After ')' the fields start at 3 (state); start time is field 22.
  awk '{print $20}' <<<"$stat"
}

# Alive and not a zombie (a zombie still answers kill -0 but has exited; the
# failure path of `up` holds its own children as zombies until it exits).
proc_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*") "}
  [ "${stat:0:1}" != Z ]
}

record_pid() {
  local pid=$1 label=$2 start
  start=$(proc_starttime "$pid") || start=0
  printf '%s %s %s\n' "$pid" "$start" "$label" >>"$STATE_DIR/pids"
}

# Recorded PIDs that still are the process we started.
recorded_live_pids() {
  local pid start label now
  [ -f "$STATE_DIR/pids" ] || return 0
  while read -r pid start label; do
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    now=$(proc_starttime "$pid") || continue
    if [ "$now" = "$start" ] && proc_alive "$pid"; then printf '%s\n' "$pid"; fi
  done <"$STATE_DIR/pids"
}

# The most recent recorded PID for a label, if that process is alive.
pid_for_label() {
  local want=$1 pid start label now found=""
  [ -f "$STATE_DIR/pids" ] || return 0
  while read -r pid start label; do
    [ "$label" = "$want" ] || continue
    now=$(proc_starttime "$pid") || continue
    if [ "$now" = "$start" ] && proc_alive "$pid"; then found=$pid; fi
  done <"$STATE_DIR/pids"
  printf '%s' "$found"
}

# ---------------------------------------------------------------- teardown

# Ends the given PIDs: SIGTERM, bounded wait, SIGKILL, bounded wait.
# The grace is short on purpose: a mariadbd that gets SIGTERM in a window
# early in its start (about 50 ms in, measured here with 10.11) ignores it
# and every later one, and a failed `up` can hit that window. A SIGKILL
# loses nothing: the lab's data is deleted right after.
end_processes() {
  local -a pids=("$@") left=()
  local pid i
  [ ${#pids[@]} -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 1; i <= TERM_TIMEOUT_S * 10; i++)); do
    left=()
    for pid in "${pids[@]}"; do if proc_alive "$pid"; then left+=("$pid"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    pids=("${left[@]}")
    sleep 0.1
  done
  log "still running after ${TERM_TIMEOUT_S}s, sending SIGKILL: ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < KILL_TIMEOUT_S * 10; i++)); do
    left=()
    for pid in "${pids[@]}"; do if proc_alive "$pid"; then left+=("$pid"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    pids=("${left[@]}")
    sleep 0.1
  done
  log "warning: processes survived SIGKILL: ${pids[*]}"
  return 1
}

# PIDs to end: recorded ones that are still ours, plus anything inside the
# lab's namespaces (started by a test, or forked by a process we were
# ending, or by an `up` that died before recording). Never this shell or its
# parent.
lab_pids() {
  local pid ns
  local -A seen=()
  while read -r pid; do
    if [ -n "$pid" ]; then seen[$pid]=1; fi
  done < <(
    recorded_live_pids
    present_namespaces | while read -r ns; do ip netns pids "$ns" 2>/dev/null || true; done
  )
  for pid in "${!seen[@]}"; do
    if [ "$pid" != "$$" ] && [ "$pid" != "$PPID" ] && proc_alive "$pid"; then
      printf '%s\n' "$pid"
    fi
  done
}

# A temp dir is only removed when it looks exactly like one `up` made.
safe_tmpdir() {
  local d=$1
  [[ "$d" = /* ]] && [[ "$(basename -- "$d")" == fulcrum-lab.?????? ]] &&
    [ -d "$d" ] && [ ! -L "$d" ]
}

# Removes everything; tolerates any part being absent. Returns non-zero if
# something could not be removed.
teardown() {
  local rc=0 ns tmpdir f round
  local -a pids=()

  # 1. Processes. Repeated because a process being ended can fork (e.g.
  #    mariadb-install-db starting its bootstrap mariadbd) after the list
  #    was taken; bounded in rounds.
  for ((round = 1; round <= 5; round++)); do
    mapfile -t pids < <(lab_pids)
    [ ${#pids[@]} -gt 0 ] || break
    log "ending ${#pids[@]} processes: ${pids[*]}"
    if ! end_processes "${pids[@]}"; then
      rc=1
      break
    fi
  done
  if [ "$round" -gt 5 ] && [ -n "$(lab_pids)" ]; then
    log "warning: processes kept appearing in the lab namespaces"
    rc=1
  fi

  # 2. Namespaces; deleting one deletes its veth ends (and so their peers)
  #    and the bridge.
  while read -r ns; do
    ip netns delete "$ns" 2>/dev/null || true
    if ns_exists "$ns"; then
      log "warning: could not delete namespace $ns"
      rc=1
    fi
  done < <(present_namespaces)

  # 3. Temp dir (MariaDB datadirs, sockets, logs).
  tmpdir=$(state_get tmpdir)
  if [ -n "$tmpdir" ]; then
    if safe_tmpdir "$tmpdir"; then
      rm -rf -- "$tmpdir" || rc=1
    elif [ -e "$tmpdir" ]; then
      log "warning: not removing unexpected temp dir path '$tmpdir'"
      rc=1
    fi
  fi

  # 4. State dir: only the files we write, then the dir itself (never rm -rf
  #    a path that came from the environment).
  if [ -d "$STATE_DIR" ]; then
    for f in pids pids.new tmpdir mode galera ecmp driver-lb0 driver-lb1; do rm -f -- "${STATE_DIR:?}/$f"; done
    rmdir -- "$STATE_DIR" 2>/dev/null || {
      log "warning: state dir $STATE_DIR not empty, left in place"
      rc=1
    }
  fi
  return $rc
}

cmd_down() {
  [ $# -eq 0 ] || { usage >&2; exit 2; }
  require_root
  if ! lab_exists; then
    log "no lab to remove"
    return 0
  fi
  if teardown; then
    log "down"
  else
    die "down finished with warnings (see above)"
  fi
}

# ---------------------------------------------------------------- up

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"
}

preflight() {
  local t missing=()
  require_root
  for t in ip ethtool curl mariadbd mariadb-install-db mariadb setsid; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ -x "$PYTHON" ] || missing+=("$PYTHON")
  [ ${#missing[@]} -eq 0 ] ||
    die "missing tools: ${missing[*]} (run scripts/lab-packages.sh)"
  [ -f "$HTTP_SERVER" ] || die "missing $HTTP_SERVER"
}

ecmp_preflight() {
  local t missing=()
  for t in bird birdc timeout; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] ||
    die "missing for --ecmp: ${missing[*]} (run scripts/lab-packages.sh: bird2)"
}

# Set one or more sysctls inside a namespace.
ns_sysctl() {
  local ns=$1
  shift
  ip netns exec "$ns" sysctl -q -w "$@" >/dev/null
}

# Offloads a userspace forwarder cannot honour: partial checksums (tx),
# and segments bigger than the MTU (tso/gso/gro). One feature per call so an
# unsupported one does not stop the rest; the result is checked for tx.
disable_offloads() {
  local ns=$1 dev=$2 f
  shift 2
  for f in "$@"; do
    ip netns exec "$ns" ethtool -K "$dev" "$f" off >/dev/null 2>&1 || true
  done
  if ip netns exec "$ns" ethtool -k "$dev" | grep -q '^tx-checksumming: on'; then
    die "could not turn tx checksum offload off on $ns/$dev"
  fi
}

create_namespaces() {
  local ns
  while read -r ns; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # No IPv6: keeps DAD, router and MLD solicitations out of the forwarder
    # and its captures; the lab is IPv4 only. Set before any veth arrives.
    if ip netns exec "$ns" test -d /proc/sys/net/ipv6; then
      ns_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
  done < <(lab_namespaces)
}

create_switch() {
  # No STP (no forwarding delay: ports forward at once) and no multicast
  # snooping (VRRP adverts to 224.0.0.18 must reach every node).
  ip -n "$SWITCH_NS" link add "$BRIDGE" address 02:00:00:00:01:01 type bridge \
    stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$SWITCH_NS" link set "$BRIDGE" up
  # A switch forwards frames, it does not judge them: with bridge-netfilter on (this
  # kernel's default) the bridge would drop malformed IPv4 frames before they reach the
  # load balancer, and the hostile-frame tests could not reach fulcrumd.
  ns_sysctl "$SWITCH_NS" net.bridge.bridge-nf-call-iptables=0 \
    net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
}

# One veth pair from fl-sw (sw-NODE, on br0) to fl-NODE.
connect_node() {
  local node=$1 ns dev swdev
  ns=$(ns_of "$node")
  dev=$(node_if "$node")
  swdev="sw-$node"
  ip -n "$SWITCH_NS" link add "$swdev" address "$(mac_for 01 "$node")" type veth \
    peer name "$dev" netns "$ns" address "$(mac_for 02 "$node")"
  ip -n "$SWITCH_NS" link set "$swdev" master "$BRIDGE"
  disable_offloads "$SWITCH_NS" "$swdev" tx
  ip -n "$SWITCH_NS" link set "$swdev" up
  case "$node" in
    lb*) disable_offloads "$ns" "$dev" tx rx gso tso gro ;;
    *) disable_offloads "$ns" "$dev" tx ;;
  esac
  ip -n "$ns" link set "$dev" up
}

configure_hosts() {
  local node ns
  for node in client "${CONTROLLERS[@]}"; do
    # ECMP mode: the client's eth0 leads to the router (connect_router).
    if [ "$node" = client ] && [ "$LAB_ECMP" = 1 ]; then continue; fi
    ns=$(ns_of "$node")
    ip -n "$ns" addr add "${NODE_IP[$node]}/$SUBNET_LEN" dev eth0
  done
  for node in "${CONTROLLERS[@]}"; do
    # The servers also listen on the VIP so DSR works the moment the VIP is
    # put on lo; binding an address that is not (yet) local needs this.
    ns_sysctl "$(ns_of "$node")" net.ipv4.ip_nonlocal_bind=1
  done
}

# Runs CMD inside NS, detached (own session, stdio to LOG), and records it.
start_detached() {
  local ns=$1 label=$2 logf=$3 pid
  shift 3
  # setsid: the servers belong to the lab, not to the caller's session or
  # process group, so only `down` ends them. Run from a non-interactive
  # shell the child is not a group leader, so setsid execs in place and $!
  # is the server itself (the server's own PID file confirms it below).
  setsid ip netns exec "$ns" "$@" </dev/null >>"$logf" 2>&1 &
  pid=$!
  # Not a job of this shell: no "Killed" notice when a failed `up` ends it.
  disown "$pid" 2>/dev/null || true
  record_pid "$pid" "$label"
  printf '%s' "$pid"
}

write_mariadb_config() {
  local node=$1 dir=$2
  mkdir -p "$dir/data" "$dir/tmp"
  # --defaults-file: the distribution's /etc/mysql config (and its service's
  # socket) is never read. Small InnoDB files keep install and start fast.
  # max-connect-errors: health checks that connect and close without a
  # handshake must not get the load balancer's address blocked.
  cat >"$dir/my.cnf" <<EOF
[mariadbd]
user = root
datadir = $dir/data
tmpdir = $dir/tmp
socket = $dir/mysqld.sock
pid-file = $dir/mysqld.pid
log-error = $dir/mysqld.err
port = $MYSQL_PORT
bind-address = ${NODE_IP[$node]},$VIP
server-id = ${SERVER_ID[$node]}
skip-name-resolve
back-log = 512
max-connections = 1000
max-connect-errors = 4294967295
innodb-buffer-pool-size = 32M
innodb-log-file-size = 8M
innodb-data-file-path = ibdata1:12M:autoextend
innodb-autoextend-increment = 4
innodb-flush-log-at-trx-commit = 2
innodb-buffer-pool-dump-at-shutdown = 0
innodb-buffer-pool-load-at-startup = 0

[client]
socket = $dir/mysqld.sock
EOF
  if [ "$LAB_GALERA" = 1 ]; then
    write_galera_config "$node" "$dir"
    return 0
  fi
  # Run at every start, after the grant tables are loaded (bootstrap runs
  # without them, so install-db's --extra-file cannot create users), and
  # before the server listens: once the port answers, the user exists.
  cat >"$dir/init.sql" <<EOF
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%';
CREATE DATABASE IF NOT EXISTS lab;
CREATE TABLE IF NOT EXISTS lab.whoami (name VARCHAR(16) NOT NULL PRIMARY KEY);
DELETE FROM lab.whoami;
INSERT INTO lab.whoami VALUES ('$node');
EOF
}

# Galera mode: the wsrep settings go into the same [mariadbd] group.
# mariadb-install-db runs with them too (its bootstrap mariadbd does not
# load the provider). The init file runs only at c0's bootstrap start: the
# joiners receive c0's datadir by SST, the user and the view included, and
# a restarted node (galera-start) already has them.
write_galera_config() {
  local node=$1 dir=$2 ip=${NODE_IP[$1]} n addrs="" base
  for n in "${CONTROLLERS[@]}"; do addrs+="${addrs:+,}${NODE_IP[$n]}"; done
  # Everything before [client], then the Galera settings, then [client].
  base=$(sed -e '/^\[client\]/,$d' -e 's/^user = root$/user = mysql/' "$dir/my.cnf")
  cat >"$dir/my.cnf" <<EOF
$base
# Galera (lab.sh up --galera)
wsrep-on = ON
wsrep-provider = $GALERA_PROVIDER
wsrep-cluster-name = $GALERA_CLUSTER_NAME
wsrep-cluster-address = gcomm://$addrs
wsrep-node-address = $ip
wsrep-node-name = $node
wsrep-sst-method = rsync
wsrep-sst-receive-address = $ip:$GALERA_SST_PORT
wsrep-provider-options = "gmcast.listen_addr=tcp://$ip:$GALERA_GCOMM_PORT;ist.recv_addr=$ip:$GALERA_IST_PORT;$GALERA_EVS_OPTIONS;$GALERA_GCACHE_OPTIONS"
binlog-format = ROW
default-storage-engine = InnoDB
innodb-autoinc-lock-mode = 2

[client]
socket = $dir/mysqld.sock
EOF
  # rsync SST: the joiner's wsrep_sst_rsync starts `rsync --daemon` with a
  # config that names no uid, and an rsync daemon started by root switches
  # to "nobody" for its modules, which cannot write the datadir ("mkdir ...
  # Permission denied", SST fails with 255). mariadbd prepends its own bin
  # dir to the SST script's PATH, so no wrapper can step in. Galera nodes
  # therefore run as the mysql user (as a packaged server does): the node's
  # dir belongs to mysql and the temp dir may be traversed (not listed).
  chown -R mysql:mysql "$dir"
  chmod 0711 "$(dirname -- "$dir")"
  if ! runuser -u mysql -- test -w "$dir/data"; then
    die "user mysql cannot reach $dir/data (is every directory above it traversable? set TMPDIR)"
  fi
  # lab.whoami: a view, not a table. A table's rows would replicate to
  # every node; the view's definition replicates too, but it is evaluated
  # on the node that runs the query. A view may not name a variable (error
  # 1351), so it calls a function that returns @@wsrep_node_name.
  cat >"$dir/init.sql" <<EOF
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%';
CREATE DATABASE IF NOT EXISTS lab;
CREATE OR REPLACE DEFINER = '$DB_USER'@'%' FUNCTION lab.node_name() RETURNS VARCHAR(64)
  NOT DETERMINISTIC NO SQL SQL SECURITY INVOKER RETURN @@wsrep_node_name;
CREATE OR REPLACE DEFINER = '$DB_USER'@'%' SQL SECURITY INVOKER VIEW lab.whoami AS
  SELECT lab.node_name() AS name;
EOF
}

# Starts mariadb-install-db for every controller in the background (it
# takes the longest; the network is built meanwhile). Sets INSTALL_PIDS.
declare -A INSTALL_PIDS=()
start_install_db() {
  local node dir tmpdir
  tmpdir=$(state_get tmpdir)
  for node in "${CONTROLLERS[@]}"; do
    dir="$tmpdir/$node"
    write_mariadb_config "$node" "$dir"
    ip netns exec "$(ns_of "$node")" mariadb-install-db --defaults-file="$dir/my.cnf" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      </dev/null >"$dir/install.log" 2>&1 &
    INSTALL_PIDS[$node]=$!
    record_pid "${INSTALL_PIDS[$node]}" "$node-install-db"
  done
}

wait_install_db() {
  local node tmpdir
  tmpdir=$(state_get tmpdir)
  for node in "${CONTROLLERS[@]}"; do
    if ! wait "${INSTALL_PIDS[$node]}"; then
      tail -n 20 "$tmpdir/$node/install.log" >&2 || true
      die "mariadb-install-db failed for $node"
    fi
  done
}

start_servers() {
  local node ns dir tmpdir
  tmpdir=$(state_get tmpdir)
  for node in "${CONTROLLERS[@]}"; do
    ns=$(ns_of "$node")
    dir="$tmpdir/$node"
    if [ "$LAB_GALERA" != 1 ]; then
      start_detached "$ns" "$node-mariadbd" "$dir/mysqld.out" \
        mariadbd --defaults-file="$dir/my.cnf" --init-file="$dir/init.sql" >/dev/null
    elif [ "$node" = "${CONTROLLERS[0]}" ]; then
      # Galera: the first controller bootstraps the cluster here; the
      # others join once it answers (galera_join_others).
      start_galera_mariadbd "$node" bootstrap >/dev/null
    fi
    start_http_server "$node" >/dev/null
  done
}

# Starts NODE's HTTP server (nova-api's stand-in) and records it; prints the PID.
start_http_server() {
  local node=$1 dir
  dir="$(state_get tmpdir)/$node"
  # Raise the fd limit for the HTTP server: one per open connection.
  (
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    start_detached "$(ns_of "$node")" "$node-http" "$dir/http.log" \
      "$PYTHON" -I "$HTTP_SERVER" --name "$node" --port "$HTTP_PORT" \
      --bind "${NODE_IP[$node]}" --bind "$VIP" --pid-file "$dir/http.pid"
  )
}

http_ready() {
  local node=$1 out
  out=$(ip netns exec "$(ns_of "$node")" curl -s --noproxy '*' -m 1 \
    "http://${NODE_IP[$node]}:$HTTP_PORT/" 2>/dev/null) || return 1
  [ "$out" = "$node" ]
}

mysql_ready() {
  local node=$1 out
  out=$(ip netns exec "$(ns_of "$node")" mariadb --no-defaults --connect-timeout=1 \
    -h "${NODE_IP[$node]}" -P "$MYSQL_PORT" -u "$DB_USER" -p"$DB_PASSWORD" \
    -N -B -e 'select name from lab.whoami' 2>/dev/null) || return 1
  [ "$out" = "$node" ]
}

# Polls every server until it answers from its own namespace; fails fast if
# a server process has died. Arguments: the controllers whose MariaDB to
# wait for (default: all; HTTP is always waited for on all).
wait_ready() {
  local -A ready=()
  local -a mysql_nodes=("$@")
  local deadline node kind pid logf tmpdir want
  [ $# -gt 0 ] || mysql_nodes=("${CONTROLLERS[@]}")
  want=$((${#CONTROLLERS[@]} + ${#mysql_nodes[@]}))
  tmpdir=$(state_get tmpdir)
  deadline=$((SECONDS + READY_TIMEOUT_S))
  while [ ${#ready[@]} -lt "$want" ]; do
    [ "$SECONDS" -lt "$deadline" ] ||
      die "servers not ready after ${READY_TIMEOUT_S}s (ready: ${!ready[*]})"
    for node in "${CONTROLLERS[@]}"; do
      for kind in http mysql; do
        [ -z "${ready[$node-$kind]:-}" ] || continue
        if [ "$kind" = mysql ] && [[ " ${mysql_nodes[*]} " != *" $node "* ]]; then continue; fi
        if "${kind}_ready" "$node"; then
          ready[$node-$kind]=1
          continue
        fi
        case "$kind" in
          http) pid=$(pid_for_label "$node-http") logf=$tmpdir/$node/http.log ;;
          mysql) pid=$(pid_for_label "$node-mariadbd") logf=$tmpdir/$node/mysqld.err ;;
        esac
        if [ -z "$pid" ]; then
          tail -n 20 "$logf" >&2 2>/dev/null || true
          die "$node $kind server exited during start"
        fi
      done
    done
    [ ${#ready[@]} -ge "$want" ] || sleep 0.05
  done
}

# The servers' own PID files must name the processes we recorded.
check_pid_files() {
  local node tmpdir file label want got
  tmpdir=$(state_get tmpdir)
  for node in "${CONTROLLERS[@]}"; do
    for file in mysqld http; do
      case $file in
        mysqld) label=$node-mariadbd ;;
        http) label=$node-http ;;
      esac
      want=$(pid_for_label "$label")
      got=$(cat "$tmpdir/$node/$file.pid" 2>/dev/null) || got=""
      if [ -n "$got" ] && [ "$got" != "$want" ]; then
        # Not expected (see start_detached); record the real one so that
        # `down` still ends it by PID.
        log "warning: $label runs as PID $got, not $want; recording it"
        record_pid "$got" "$label"
      fi
    done
  done
}

set_dsr() {
  local on=$1 node ns v_ignore v_announce
  if [ "$on" = 1 ]; then v_ignore=1 v_announce=2; else v_ignore=0 v_announce=0; fi
  for node in "${CONTROLLERS[@]}"; do
    ns=$(ns_of "$node")
    # arp_ignore=1: answer ARP only for addresses on the receiving
    # interface, so the VIP on lo is never claimed on the segment.
    # arp_announce=2: never use the VIP as ARP source address.
    ns_sysctl "$ns" \
      "net.ipv4.conf.all.arp_ignore=$v_ignore" "net.ipv4.conf.all.arp_announce=$v_announce" \
      "net.ipv4.conf.eth0.arp_ignore=$v_ignore" "net.ipv4.conf.eth0.arp_announce=$v_announce"
    if [ "$on" = 1 ]; then
      ip -n "$ns" addr replace "$VIP/32" dev lo
    else
      ip -n "$ns" addr del "$VIP/32" dev lo 2>/dev/null || true
    fi
  done
  if [ "$on" = 1 ]; then state_set mode dsr; else state_set mode fnat; fi
}

on_up_exit() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  if [ "$UP_ACTIVE" = 1 ]; then
    [ "$rc" -ne 0 ] || rc=1
    log "up failed at step '$STEP' (exit $rc); tearing down what it made"
    teardown || log "warning: teardown after failed up was incomplete"
  fi
  exit "$rc"
}

cmd_up() {
  local mode=fnat force=0 arg tmpdir node started
  for arg in "$@"; do
    case "$arg" in
      fnat|dsr) mode=$arg ;;
      --force) force=1 ;;
      --galera) LAB_GALERA=1 ;;
      --ecmp) LAB_ECMP=1 ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  started=$(date +%s%N)
  preflight
  if [ "$LAB_GALERA" = 1 ]; then galera_preflight; fi
  if [ "$LAB_ECMP" = 1 ]; then ecmp_preflight; fi

  if lab_exists; then
    if [ "$force" = 1 ]; then
      log "lab exists; --force: taking it down first"
      teardown || die "could not remove the existing lab"
    else
      log "a lab already exists (state $STATE_DIR; namespaces: $(present_namespaces | tr '\n' ' '))"
      log "run '$0 down' first, or '$0 up --force'"
      exit 1
    fi
  fi

  STEP='state-dir'
  # Plain mkdir (no -p): atomic "is a lab being made?" check, and no parent
  # directories we would have to remember to remove.
  mkdir -m 0700 -- "$STATE_DIR" 2>/dev/null ||
    die "cannot create state dir $STATE_DIR (parent missing, unwritable, or a concurrent up)"
  UP_ACTIVE=1
  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  : >"$STATE_DIR/pids"
  maybe_fail state-dir

  STEP='temp-dir'
  tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/fulcrum-lab.XXXXXX")
  state_set tmpdir "$tmpdir"
  state_set mode "$mode"
  if [ "$LAB_GALERA" = 1 ]; then state_set galera on; fi
  if [ "$LAB_ECMP" = 1 ]; then state_set ecmp on; fi
  # The MariaDB socket path must fit in sun_path (108 bytes).
  [ ${#tmpdir} -le 80 ] || die "temp dir path too long for a unix socket: $tmpdir"
  maybe_fail temp-dir

  STEP='namespaces'
  create_namespaces
  maybe_fail namespaces

  STEP='install-db'
  start_install_db
  maybe_fail install-db

  STEP='network'
  create_switch
  for node in "${NODES[@]}"; do
    if [ "$node" = client ] && [ "$LAB_ECMP" = 1 ]; then continue; fi
    connect_node "$node"
  done
  configure_hosts
  maybe_fail network

  if [ "$LAB_ECMP" = 1 ]; then
    STEP='router'
    connect_router
    maybe_fail router

    STEP='bird'
    start_all_birds
    maybe_fail bird
  fi

  STEP='wait-install-db'
  wait_install_db

  STEP='start-servers'
  start_servers
  maybe_fail start-servers

  STEP='wait-ready'
  if [ "$LAB_GALERA" = 1 ]; then
    wait_ready "${CONTROLLERS[0]}"
    STEP='galera-join'
    galera_join_others
    maybe_fail galera-join
  else
    wait_ready
  fi
  check_pid_files
  maybe_fail wait-ready

  STEP='mode'
  if [ "$mode" = dsr ]; then set_dsr 1; fi
  maybe_fail mode

  UP_ACTIVE=0
  trap - EXIT INT TERM HUP
  if [ "$LAB_GALERA" = 1 ]; then mode+=", galera"; fi
  if [ "$LAB_ECMP" = 1 ]; then mode+=", ecmp"; fi
  log "up ($mode) in $(( ($(date +%s%N) - started) / 1000000 )) ms; state $STATE_DIR, temp $tmpdir"
}

# ---------------------------------------------------------------- others

require_lab() {
  require_root
  if [ ! -f "$STATE_DIR/tmpdir" ] || ! ns_exists "$SWITCH_NS"; then
    die "no lab is up (state $STATE_DIR)"
  fi
}

cmd_dsr() {
  local on=$1
  require_lab
  set_dsr "$on"
  if [ "$on" = 1 ]; then log "DSR on: $VIP on lo of ${CONTROLLERS[*]}"; else log "DSR off"; fi
}

cmd_status() {
  local rc=0 ns node pid start label state tmpdir mode h m cut out
  require_root
  if ! lab_exists; then
    echo "lab: down"
    return 1
  fi
  tmpdir=$(state_get tmpdir)
  mode=$(state_get mode)
  if galera_on; then mode="${mode:-?}, galera"; fi
  if ecmp_on; then mode="${mode:-?}, ecmp"; fi
  echo "lab: mode ${mode:-?}, state $STATE_DIR, temp ${tmpdir:-?}"

  echo "namespaces:"
  while read -r ns; do
    if ns_exists "$ns"; then
      echo "  $ns"
      ip -n "$ns" -br addr show | sed 's/^/      /'
    else
      echo "  $ns MISSING"
      rc=1
    fi
  done < <(lab_namespaces)

  echo "processes:"
  if [ -f "$STATE_DIR/pids" ]; then
    while read -r pid start label; do
      case "$label" in *-install-db) continue ;; esac
      if [ "$(proc_starttime "$pid" 2>/dev/null)" = "$start" ] && proc_alive "$pid"; then
        state=running
      else
        state=GONE
        rc=1
      fi
      printf '  %-8s %-14s %s\n' "$pid" "$label" "$state"
    done <"$STATE_DIR/pids"
  fi

  echo "servers (checked inside each controller's namespace):"
  for node in "${CONTROLLERS[@]}"; do
    if ! ns_exists "$(ns_of "$node")"; then
      printf '  %-3s namespace missing\n' "$node"
      rc=1
      continue
    fi
    if http_ready "$node"; then h=ready; else h=DOWN; rc=1; fi
    if mysql_ready "$node"; then m=ready; else m=DOWN; rc=1; fi
    printf '  %-3s http %s:%s %-5s  mysql %s:%s %s\n' "$node" \
      "${NODE_IP[$node]}" "$HTTP_PORT" "$h" "${NODE_IP[$node]}" "$MYSQL_PORT" "$m"
  done

  if galera_on; then
    echo "galera (wsrep state, asked inside each controller's namespace):"
    for node in "${CONTROLLERS[@]}"; do
      if ! ns_exists "$(ns_of "$node")"; then continue; fi
      galera_check "$node" || rc=1
      printf '%s\n' "$G_LINE"
    done
  fi

  if ns_exists "$SWITCH_NS"; then
    cut=$(bridge -n "$SWITCH_NS" link show 2>/dev/null |
      sed -n 's/^[0-9]*: \([^@:]*\).* state disabled .*/\1/p' | tr '\n' ' ')
    if [ -n "$cut" ]; then echo "cut (switch ports not forwarding): $cut"; fi
  fi

  if ecmp_on && [ -n "$tmpdir" ]; then
    echo "ecmp: BIRD protocols on the router ($(bird_sock "$ROUTER")):"
    if ! timeout 3 birdc -s "$(bird_sock "$ROUTER")" show protocols 2>&1 | sed 's/^/  /'; then
      echo "  (not answering)"
      rc=1
    fi
    echo "ecmp: route to $VIP in $ROUTER_NS:"
    out=$(ip -n "$ROUTER_NS" route show "$VIP" 2>/dev/null) || out=""
    printf '%s\n' "${out:-none}" | sed 's/^/  /'
  fi
  return $rc
}

cmd_exec() {
  local node=${1:-}
  [ $# -ge 2 ] || { usage >&2; exit 2; }
  shift
  node=${node#"$NS_PREFIX"}
  case " sw ${NODES[*]} $ROUTER " in
    *" $node "*) ;;
    *) die "unknown node '$node' (sw ${NODES[*]} $ROUTER)" ;;
  esac
  ns_exists "$(ns_of "$node")" || die "namespace $(ns_of "$node") does not exist (lab down?)"
  exec ip netns exec "$(ns_of "$node")" "$@"
}

# Stops the process recorded under LABEL (WHAT names it in messages): SIGTERM, a
# bounded wait, then SIGKILL. Logs "WHAT (PID n) stopped in N ms", which tests read;
# returns 1 when SIGKILL was needed.
stop_recorded() {
  local what=$1 label=$2 timeout_s=$3 pid i started
  pid=$(pid_for_label "$label")
  if [ -z "$pid" ]; then
    log "$what does not run"
    return 0
  fi
  started=$(date +%s%N)
  kill -TERM "$pid"
  for ((i = 0; i < timeout_s * 100; i++)); do
    if ! proc_alive "$pid"; then
      log "$what (PID $pid) stopped in $(( ($(date +%s%N) - started) / 1000000 )) ms"
      return 0
    fi
    sleep 0.01
  done
  log "$what still runs ${timeout_s}s after SIGTERM; SIGKILL"
  end_processes "$pid" || true
  return 1
}

# Stops NODE's HTTP server (SIGTERM to its recorded PID, bounded wait):
# port $HTTP_PORT then refuses connections, as a crashed nova-api would.
cmd_http_stop() {
  local node
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_lab
  node=$(controller_node "$1")
  stop_recorded "HTTP server on $node" "$node-http" "$TERM_TIMEOUT_S"
}

# Starts NODE's HTTP server again (recorded like `up` does) and waits,
# bounded, until it answers inside NODE's namespace.
cmd_http_start() {
  local node pid i dir
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_lab
  node=$(controller_node "$1")
  pid=$(pid_for_label "$node-http")
  [ -z "$pid" ] || die "the HTTP server already runs on $node (PID $pid)"
  prune_dead_records "$node-http"
  dir="$(state_get tmpdir)/$node"
  rm -f -- "$dir/http.pid"
  pid=$(start_http_server "$node")
  for ((i = 0; i < READY_TIMEOUT_S * 20; i++)); do
    if ! proc_alive "$pid"; then
      tail -n 20 "$dir/http.log" >&2 2>/dev/null || true
      die "the HTTP server on $node exited during start"
    fi
    if [ -s "$dir/http.pid" ] && http_ready "$node"; then
      if [ "$(cat "$dir/http.pid")" != "$pid" ]; then
        log "warning: $node-http runs as PID $(cat "$dir/http.pid"), not $pid; recording it"
        record_pid "$(cat "$dir/http.pid")" "$node-http"
      fi
      log "HTTP server started on $node (PID $pid)"
      return 0
    fi
    sleep 0.05
  done
  die "the HTTP server on $node did not answer within ${READY_TIMEOUT_S}s"
}

# ---------------------------------------------------------------- galera

galera_preflight() {
  local t missing=()
  for t in nft wsrep_sst_rsync timeout; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ -x /usr/bin/rsync ] || missing+=("/usr/bin/rsync (rsync)")
  [ -f "$GALERA_PROVIDER" ] || missing+=("$GALERA_PROVIDER (galera-4)")
  id mysql >/dev/null 2>&1 || missing+=("user mysql (mariadb-server)")
  [ ${#missing[@]} -eq 0 ] ||
    die "missing for --galera: ${missing[*]} (run scripts/lab-packages.sh)"
}

galera_on() { [ "$(state_get galera)" = on ]; }

require_galera_lab() {
  require_lab
  galera_on || die "the lab is not in Galera mode (it was not brought up with --galera)"
}

# `node_in WHAT ARG NODE...`: ARG (with or without the fl- prefix) if it is one of the NODEs,
# else dies naming WHAT and the choices.
node_in() {
  local what=$1 arg=$2 node=${2#"$NS_PREFIX"}
  shift 2
  if [ -n "$node" ] && [[ " $* " == *" $node "* ]]; then
    printf '%s' "$node"
  else
    die "not a $what: '$arg' ($*)"
  fi
}

controller_node() { node_in controller "$1" "${CONTROLLERS[@]}"; }

# Starts NODE's mariadbd in Galera mode: `bootstrap` forms a new cluster
# (and runs the init file), `join` joins the running one (SST or IST from a
# donor). Prints the PID.
start_galera_mariadbd() {
  local node=$1 how=$2 dir
  dir="$(state_get tmpdir)/$node"
  local -a args=(mariadbd --defaults-file="$dir/my.cnf")
  if [ "$how" = bootstrap ]; then
    args+=(--wsrep-new-cluster --init-file="$dir/init.sql")
  fi
  start_detached "$(ns_of "$node")" "$node-mariadbd" "$dir/mysqld.out" "${args[@]}"
}

# Drops the records of LABEL whose process has gone, so that `status` does
# not list a stopped and restarted mariadbd as GONE.
prune_dead_records() {
  local want=$1 pid start label now
  [ -f "$STATE_DIR/pids" ] || return 0
  while read -r pid start label; do
    if [ "$label" = "$want" ]; then
      now=$(proc_starttime "$pid" 2>/dev/null) || now=""
      if [ "$now" != "$start" ] || ! proc_alive "$pid"; then continue; fi
    fi
    printf '%s %s %s\n' "$pid" "$start" "$label"
  done <"$STATE_DIR/pids" >"$STATE_DIR/pids.new"
  mv -f -- "$STATE_DIR/pids.new" "$STATE_DIR/pids"
}

# One node's wsrep state, asked over TCP inside its own namespace as the
# lab user (3306 stays reachable on a partitioned node), printed as
# "SIZE STATUS STATE READY COMMENT" (the comment may hold spaces, so last).
# Fails when the server does not answer. Bounded: 2 s to connect, 4 s in all.
galera_state() {
  local node=$1 out
  out=$(ip netns exec "$(ns_of "$node")" timeout 4 mariadb --no-defaults --connect-timeout=2 \
    -h "${NODE_IP[$node]}" -P "$MYSQL_PORT" -u "$DB_USER" -p"$DB_PASSWORD" -N -B -e \
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_cluster_status', 'wsrep_local_state', 'wsrep_local_state_comment', 'wsrep_ready')" \
    </dev/null 2>/dev/null) || return 1
  awk -F'\t' '{ v[tolower($1)] = $2 }
    END {
      if (!("wsrep_cluster_status" in v)) exit 1
      printf "%s %s %s %s %s\n", v["wsrep_cluster_size"], v["wsrep_cluster_status"],
        v["wsrep_local_state"], v["wsrep_ready"], v["wsrep_local_state_comment"]
    }' <<<"$out"
}

node_partitioned() {
  ip netns exec "$(ns_of "$1")" nft list table inet "$GALERA_NFT_TABLE" >/dev/null 2>&1
}

# Asks NODE once. Sets G_LINE (a readable line) and returns 0 when NODE is
# Synced (local state 4), Primary and ready (and, if WANT_SIZE is given,
# sees a cluster of that size).
G_LINE=""
galera_check() {
  local node=$1 want_size=${2:-} st size status state ready comment extra=""
  if node_partitioned "$node"; then extra="  [partitioned]"; fi
  if ! st=$(galera_state "$node"); then
    if [ -z "$(pid_for_label "$node-mariadbd")" ]; then
      G_LINE=$(printf '  %-3s mariadbd not running%s' "$node" "$extra")
    else
      G_LINE=$(printf '  %-3s not answering on %s:%s%s' "$node" "${NODE_IP[$node]}" "$MYSQL_PORT" "$extra")
    fi
    return 1
  fi
  read -r size status state ready comment <<<"$st"
  G_LINE=$(printf '  %-3s size %-2s status %-12s state %s (%s)  ready %s%s' \
    "$node" "$size" "$status" "$state" "$comment" "$ready" "$extra")
  [ "$state" = 4 ] && [ "$status" = Primary ] && [ "$ready" = ON ] &&
    { [ -z "$want_size" ] || [ "$size" = "$want_size" ]; }
}

# Waits (at most TIMEOUT_S) until every NODE passes galera_check; prints
# each node's last state and the time taken on stdout. Fails at once when a
# node's mariadbd is not running (an SST that failed, or a stopped node).
galera_wait() {
  local timeout_s=$1 want_size=$2 node started deadline i dead
  shift 2
  local -a nodes=("$@") pending=()
  local -A lines=()
  started=$(date +%s%N)
  deadline=$((SECONDS + timeout_s))
  # Bounded by time and, as a backstop, by count (each round sleeps 0.2 s).
  for ((i = 0; i <= timeout_s * 5 + 5; i++)); do
    pending=() dead=""
    for node in "${nodes[@]}"; do
      if galera_check "$node" "$want_size"; then
        lines[$node]=$G_LINE
      else
        lines[$node]=$G_LINE
        pending+=("$node")
        if [ -z "$(pid_for_label "$node-mariadbd")" ]; then dead+=" $node"; fi
      fi
    done
    if [ ${#pending[@]} -eq 0 ] || [ -n "$dead" ] || [ "$SECONDS" -ge "$deadline" ]; then
      break
    fi
    sleep 0.2
  done
  for node in "${nodes[@]}"; do printf '%s\n' "${lines[$node]}"; done
  if [ ${#pending[@]} -eq 0 ]; then
    printf 'galera: %s Synced, Primary%s after %d ms\n' "${nodes[*]}" \
      "${want_size:+, cluster size $want_size}" $(( ($(date +%s%N) - started) / 1000000 ))
    return 0
  fi
  if [ -n "$dead" ]; then
    printf 'galera: mariadbd not running on%s\n' "$dead"
  else
    printf 'galera: not Synced/Primary%s after %ss: %s\n' \
      "${want_size:+/size $want_size}" "$timeout_s" "${pending[*]}"
  fi
  return 1
}

# `up --galera`: c0 answers (bootstrapped); the others join now. Both start
# at once: one receives its SST from c0 while the other retries until a
# donor is free (c0 again, or the first joiner once Synced).
galera_join_others() {
  local node tmpdir
  tmpdir=$(state_get tmpdir)
  for node in "${CONTROLLERS[@]:1}"; do start_galera_mariadbd "$node" join >/dev/null; done
  if ! galera_wait "$GALERA_FORM_TIMEOUT_S" "${#CONTROLLERS[@]}" "${CONTROLLERS[@]}" >&2; then
    for node in "${CONTROLLERS[@]}"; do
      log "$node: last lines of mysqld.err:"
      tail -n 8 "$tmpdir/$node/mysqld.err" >&2 2>/dev/null || true
    done
    die "the Galera cluster did not form"
  fi
}

cmd_galera_wait() {
  local timeout_s=$GALERA_WAIT_TIMEOUT_S size="" node
  local -a nodes=()
  require_galera_lab
  while [ $# -gt 0 ]; do
    case "$1" in
      --timeout|--size)
        [ $# -ge 2 ] || die "$1 needs a value"
        if [ "$1" = --timeout ]; then timeout_s=$2; else size=$2; fi
        shift ;;
      *) nodes+=("$(controller_node "$1")") ;;
    esac
    shift
  done
  if ! [[ "$timeout_s" =~ ^[0-9]+$ ]] || [ "$timeout_s" -gt 3600 ]; then
    die "--timeout: whole seconds, at most 3600"
  fi
  [ -z "$size" ] || [[ "$size" =~ ^[0-9]+$ ]] || die "--size: a number"
  [ ${#nodes[@]} -gt 0 ] || nodes=("${CONTROLLERS[@]}")
  galera_wait "$timeout_s" "$size" "${nodes[@]}"
}

cmd_galera_status() {
  local node rc=0
  [ $# -eq 0 ] || { usage >&2; exit 2; }
  require_galera_lab
  for node in "${CONTROLLERS[@]}"; do
    galera_check "$node" || rc=1
    printf '%s\n' "$G_LINE"
  done
  return $rc
}

# nftables in NODE's own namespace: drop Galera's group communication
# (TCP and UDP), IST and SST to and from the other controllers, both as
# destination and as source port (connections go both ways). MariaDB's
# port stays open: clients and load balancers still connect, and a
# partitioned node answers them as non-Primary.
cmd_partition() {
  local node peers="" ports n ns
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_galera_lab
  command -v nft >/dev/null 2>&1 || die "nft not found (run scripts/lab-packages.sh)"
  node=$(controller_node "$1")
  ns=$(ns_of "$node")
  if node_partitioned "$node"; then
    log "$node is already partitioned (table inet $GALERA_NFT_TABLE in $ns)"
    return 0
  fi
  for n in "${CONTROLLERS[@]}"; do
    if [ "$n" != "$node" ]; then peers+="${peers:+, }${NODE_IP[$n]}"; fi
  done
  ports="$GALERA_GCOMM_PORT, $GALERA_IST_PORT, $GALERA_SST_PORT"
  ip netns exec "$ns" nft -f - <<EOF
table inet $GALERA_NFT_TABLE {
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr { $peers } tcp dport { $ports } counter drop
    ip saddr { $peers } tcp sport { $ports } counter drop
    ip saddr { $peers } udp dport { $ports } counter drop
    ip saddr { $peers } udp sport { $ports } counter drop
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ip daddr { $peers } tcp dport { $ports } counter drop
    ip daddr { $peers } tcp sport { $ports } counter drop
    ip daddr { $peers } udp dport { $ports } counter drop
    ip daddr { $peers } udp sport { $ports } counter drop
  }
}
EOF
  log "partitioned $node: TCP/UDP $ports to and from $peers dropped in $ns ($MYSQL_PORT open)"
}

cmd_heal() {
  local node
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_galera_lab
  node=$(controller_node "$1")
  if ! node_partitioned "$node"; then
    log "$node is not partitioned"
    return 0
  fi
  ip netns exec "$(ns_of "$node")" nft delete table inet "$GALERA_NFT_TABLE"
  log "healed $node (table inet $GALERA_NFT_TABLE deleted); wait with: $0 galera-wait $node"
}

cmd_galera_stop() {
  local node
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_galera_lab
  node=$(controller_node "$1")
  stop_recorded "mariadbd on $node" "$node-mariadbd" "$GALERA_STOP_TIMEOUT_S"
}

cmd_galera_start() {
  local node="" wait=1 timeout_s=$GALERA_WAIT_TIMEOUT_S pid
  require_galera_lab
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-wait) wait=0 ;;
      --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; timeout_s=$2; shift ;;
      *) [ -z "$node" ] || { usage >&2; exit 2; }; node=$(controller_node "$1") ;;
    esac
    shift
  done
  [ -n "$node" ] || { usage >&2; exit 2; }
  if ! [[ "$timeout_s" =~ ^[0-9]+$ ]] || [ "$timeout_s" -gt 3600 ]; then
    die "--timeout: whole seconds, at most 3600"
  fi
  pid=$(pid_for_label "$node-mariadbd")
  [ -z "$pid" ] || die "mariadbd already runs on $node (PID $pid)"
  prune_dead_records "$node-mariadbd"
  pid=$(start_galera_mariadbd "$node" join)
  log "mariadbd started on $node (PID $pid), joining the cluster"
  [ "$wait" = 1 ] || return 0
  galera_wait "$timeout_s" "" "$node"
}

# ---------------------------------------------------------------- ecmp

require_ecmp_lab() {
  require_lab
  ecmp_on || die "the lab is not in ECMP mode (it was not brought up with --ecmp)"
}

bird_node() { node_in "BIRD node" "$1" "${BIRD_NODES[@]}"; }

bird_ns() { if [ "$1" = "$ROUTER" ]; then printf '%s' "$ROUTER_NS"; else ns_of "$1"; fi; }
bird_conf() { printf '%s/bird-%s.conf' "$(state_get tmpdir)" "$1"; }
bird_sock() { printf '%s/bird-%s.ctl' "$(state_get tmpdir)" "$1"; }
bird_log() { printf '%s/bird-%s.log' "$(state_get tmpdir)" "$1"; }

# The router: eth0 on br0 (a veth from fl-sw, as connect_node makes),
# eth1 a veth straight to the client's eth0; forwarding with L4 multipath
# hashing (flows from one client spread over the nodes by port), no
# reverse-path filtering (DSR replies come from the VIP, which the router
# routes to the nodes). The controllers route the client network back
# through it.
connect_router() {
  local node ns=$ROUTER_NS cns plen=${CLIENT_NET#*/}
  cns=$(ns_of client)
  ns_sysctl "$ns" net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  # MACs: side 03 is the switch's end of the router's port (01:01 is the
  # bridge's own address), side 04 the router-client link.
  ip -n "$SWITCH_NS" link add "sw-$ROUTER" address 02:00:00:00:03:01 type veth \
    peer name eth0 netns "$ns" address 02:00:00:00:02:01
  ip -n "$SWITCH_NS" link set "sw-$ROUTER" master "$BRIDGE"
  disable_offloads "$SWITCH_NS" "sw-$ROUTER" tx
  ip -n "$SWITCH_NS" link set "sw-$ROUTER" up
  ip -n "$ns" link add eth1 address 02:00:00:00:04:01 type veth \
    peer name eth0 netns "$cns" address 02:00:00:00:04:64
  disable_offloads "$ns" eth0 tx
  disable_offloads "$ns" eth1 tx
  disable_offloads "$cns" eth0 tx
  ns_sysctl "$ns" net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0
  ip -n "$ns" addr add "$ROUTER_IP/$SUBNET_LEN" dev eth0
  ip -n "$ns" addr add "$ROUTER_CLIENT_IP/$plen" dev eth1
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set eth1 up
  ip -n "$cns" addr add "$CLIENT_ECMP_IP/$plen" dev eth0
  ip -n "$cns" link set eth0 up
  ip -n "$cns" route add default via "$ROUTER_CLIENT_IP"
  for node in "${CONTROLLERS[@]}"; do
    ip -n "$(ns_of "$node")" route add "$CLIENT_NET" via "$ROUTER_IP"
  done
}

# The router's BIRD: a BGP session per LB node, BFD on its segment port,
# and the kernel protocol that merges the nodes' equal routes to the VIP
# into one multipath route (merge paths; equal for BGP: same preference,
# local pref, AS path length, origin and MED, all eBGP). Nothing is
# exported to the nodes.
write_router_bird_config() {
  local file=$1 node
  {
    cat <<EOF_CONF
# Generated by lab.sh: the upstream router ($ROUTER_NS)
log stderr all;
router id $ROUTER_IP;

protocol device {
}

protocol bfd {
  interface "eth0" { $BFD_OPTIONS };
}

protocol kernel {
  ipv4 { export all; };
  merge paths on;
}

template bgp lbnode {
  local $ROUTER_IP as $ROUTER_AS;
  ipv4 { import all; export none; };
  bfd on;
  $BGP_TIMERS
}
EOF_CONF
    for node in lb0 lb1; do
      printf '\nprotocol bgp %s from lbnode {\n  neighbor %s as %s;\n}\n' \
        "$node" "${NODE_IP[$node]}" "$NODE_AS"
    done
  } >"$file"
}

# An LB node's BIRD: the VIP as a static protocol that starts disabled
# (fulcrumd enables it through the control socket while it can serve the
# VIP), exported to the router over BGP with BFD. No kernel protocol: the
# blackhole route must never reach the node's own kernel. The node's
# interface is fulcrumd's tap, which appears only when fulcrumd starts:
# BIRD learns it from the device protocol (netlink, and a scan every
# second as a backstop); until then the direct eBGP session waits for its
# neighbor to become reachable. (`router` is a keyword in BIRD's config:
# the session is called `upstream`.)
write_node_bird_config() {
  local node=$1 file=$2
  cat >"$file" <<EOF_CONF
# Generated by lab.sh: LB node $node ($(ns_of "$node"))
log stderr all;
router id ${NODE_IP[$node]};

protocol device {
  scan time 1;
}

protocol bfd {
  interface "*" { $BFD_OPTIONS };
}

protocol static $BIRD_VIP_PROTOCOL {
  disabled yes;
  ipv4;
  route $VIP/32 blackhole;
}

protocol bgp upstream {
  local ${NODE_IP[$node]} as $NODE_AS;
  neighbor $ROUTER_IP as $ROUTER_AS;
  ipv4 { import none; export where proto = "$BIRD_VIP_PROTOCOL"; next hop self; };
  bfd on;
  $BGP_TIMERS
}
EOF_CONF
}

bird_answers() {
  timeout 3 birdc -s "$(bird_sock "$1")" show status >/dev/null 2>&1
}

# Starts NODE's BIRD in its namespace (foreground, own config and socket,
# recorded as bird-NODE); waits, bounded, until the control socket answers.
# Prints the PID.
start_bird() {
  local node=$1 conf sock logf pid i
  conf=$(bird_conf "$node")
  sock=$(bird_sock "$node")
  logf=$(bird_log "$node")
  bird -p -c "$conf" >&2 || die "BIRD config $conf does not parse"
  pid=$(start_detached "$(bird_ns "$node")" "bird-$node" "$logf" \
    bird -f -c "$conf" -s "$sock")
  for ((i = 0; i < BIRD_READY_TIMEOUT_S * 10; i++)); do
    if ! proc_alive "$pid"; then
      tail -n 10 "$logf" >&2 2>/dev/null || true
      die "BIRD on $node exited during start"
    fi
    if bird_answers "$node"; then
      printf '%s' "$pid"
      return 0
    fi
    sleep 0.1
  done
  die "BIRD on $node: control socket $sock did not answer within ${BIRD_READY_TIMEOUT_S}s"
}

start_all_birds() {
  local node
  write_router_bird_config "$(bird_conf "$ROUTER")"
  for node in lb0 lb1; do write_node_bird_config "$node" "$(bird_conf "$node")"; done
  for node in "${BIRD_NODES[@]}"; do start_bird "$node" >/dev/null; done
}

cmd_bird_stop() {
  local node
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_ecmp_lab
  node=$(bird_node "$1")
  stop_recorded "BIRD on $node" "bird-$node" "$TERM_TIMEOUT_S"
}

cmd_bird_start() {
  local node pid
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_ecmp_lab
  node=$(bird_node "$1")
  pid=$(pid_for_label "bird-$node")
  [ -z "$pid" ] || die "BIRD already runs on $node (PID $pid)"
  prune_dead_records "bird-$node"
  pid=$(start_bird "$node")
  log "BIRD started on $node (PID $pid), socket $(bird_sock "$node")"
}

cmd_bird_restart() {
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  cmd_bird_stop "$1"
  cmd_bird_start "$1"
}

cmd_birdc() {
  local node
  [ $# -ge 1 ] || { usage >&2; exit 2; }
  require_ecmp_lab
  node=$(bird_node "$1")
  shift
  exec birdc -s "$(bird_sock "$node")" "$@"
}

cmd_route() {
  [ $# -eq 0 ] || { usage >&2; exit 2; }
  require_ecmp_lab
  ip -n "$ROUTER_NS" route show "$VIP"
}

# `cut NODE`: NODE's switch port stops forwarding (bridge port state
# disabled: the bridge drops frames from and to it). NODE's own link keeps
# its carrier, so NODE notices nothing but silence, as with a dead switch
# or cable beyond the first hop; only BFD or timeouts tell. Lives in
# fl-sw: `down` removes it with the namespace.
switch_port() {
  local node=${1#"$NS_PREFIX"} dev
  [ -n "$node" ] || { usage >&2; exit 2; }
  dev="sw-$node"
  ip -n "$SWITCH_NS" link show dev "$dev" >/dev/null 2>&1 ||
    die "no switch port $dev in $SWITCH_NS for '$1'"
  printf '%s' "$dev"
}

port_state() {
  bridge -n "$SWITCH_NS" link show dev "$1" | sed -n 's/.* state \([a-z]*\) .*/\1/p' | head -n 1
}

cmd_cut() {
  local dev
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_lab
  dev=$(switch_port "$1")
  bridge -n "$SWITCH_NS" link set dev "$dev" state 0
  log "cut ${1#"$NS_PREFIX"}: $dev in $SWITCH_NS $(port_state "$dev") (frames dropped both ways)"
}

cmd_uncut() {
  local dev
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  require_lab
  dev=$(switch_port "$1")
  bridge -n "$SWITCH_NS" link set dev "$dev" state 3
  log "uncut ${1#"$NS_PREFIX"}: $dev in $SWITCH_NS $(port_state "$dev")"
}

# ---------------------------------------------------------------- fulcrumd

readonly FULCRUMD_READY_TIMEOUT_S=20
readonly FULCRUMD_STOP_TIMEOUT_S=10
readonly FULCRUMD_SETTLE_TIMEOUT_S=15  # lb-start: every checked backend has a result
# The generated config's health checks: fast, so that tests see failures
# and recoveries within a second (down after fall x interval + timeout).
readonly CHECK_TIMINGS='interval = "200ms", timeout = "200ms", rise = 2, fall = 2'
readonly METRICS_ADDR=127.0.0.1:9108   # inside the LB node's namespace

fulcrumd_bin() {
  local bin=${FULCRUM_BIN:-$SCRIPT_DIR/../build/fulcrumd}
  [ -x "$bin" ] || die "fulcrumd not found at $bin (build it: meson setup build && ninja -C build, or set FULCRUM_BIN)"
  printf '%s' "$bin"
}

lb_node() {
  local node=${1#"$NS_PREFIX"}
  case "$node" in
    lb0|lb1) printf '%s' "$node" ;;
    *) die "not a load-balancer node: '$1' (lb0 or lb1)" ;;
  esac
}

# The reference scenario as fulcrumd config for one LB node.
write_fulcrumd_config() {
  local node=$1 mode=$2 driver=$3 file=$4 tmpdir svc port check
  tmpdir=$(state_get tmpdir)
  {
    cat <<EOF
# Generated by lab.sh for $node ($mode, $driver)
[dataplane]
workers = 1
poll = "adaptive"
flows_per_worker = 65536
eal = ["--no-huge", "-m", "256"]

[[port]]
name = "lan"
device = "net_${driver}0,iface=$(node_if "$node")"
address = "${NODE_IP[$node]}/$SUBNET_LEN"
EOF
    if ecmp_on; then printf 'gateway = "%s"\n' "$ROUTER_IP"; fi
    cat <<EOF

[api]
socket = "$tmpdir/$node-api.sock"
state_file = "$tmpdir/$node-state.json"
metrics = "$METRICS_ADDR"
EOF
    for svc in nova-api galera; do
      if [ "$svc" = nova-api ]; then
        port=$HTTP_PORT
        check="type = \"http\", $CHECK_TIMINGS"
      elif galera_on; then
        port=$MYSQL_PORT
        check="type = \"galera\", user = \"$DB_USER\", password = \"$DB_PASSWORD\", $CHECK_TIMINGS"
      else
        port=$MYSQL_PORT
        check="type = \"mysql\", $CHECK_TIMINGS"
      fi
      cat <<EOF

[[service]]
name = "$svc"
vip = "$VIP"
port = $port
forward = "$mode"
check = { $check }
backends = [ { address = "${NODE_IP[c0]}" }, { address = "${NODE_IP[c1]}" },
             { address = "${NODE_IP[c2]}" } ]
EOF
    done
    if ecmp_on; then
      cat <<EOF

[announce]
bird_socket = "$(bird_sock "$node")"
[[announce.vip]]
address = "$VIP"
bird_protocol = "$BIRD_VIP_PROTOCOL"
EOF
    fi
  } >"$file"
}

# With net_af_packet the kernel still receives the port's frames alongside
# DPDK and would answer them itself (a TCP reset for every FNAT reply, since
# the node address is local on the tap). Strict reverse-path filtering on the
# port makes the kernel drop them: every source routes back through the tap,
# never through the port. (tc ingress drop would do too, but this kernel has
# no tc classifiers.) Harmless with af_xdp, whose frames never reach the stack.
kernel_ignores_port() {
  local ns=$1 ifname=$2
  ns_sysctl "$ns" net.ipv4.conf.all.rp_filter=1 "net.ipv4.conf.$ifname.rp_filter=1"
}

# Starts fulcrumd in NODE's namespace; 0 once its log says it runs.
try_start_fulcrumd() {
  local node=$1 config=$2 driver=$3 logf=$4 ns pid i bin
  ns=$(ns_of "$node")
  bin=$(fulcrumd_bin)
  kernel_ignores_port "$ns" "$(node_if "$node")"
  : >"$logf"
  pid=$(start_detached "$ns" "fulcrumd-$node" "$logf" "$bin" -c "$config")
  for ((i = 0; i < FULCRUMD_READY_TIMEOUT_S * 10; i++)); do
    if ! proc_alive "$pid"; then
      log "fulcrumd on $node ($driver) exited during start:"
      tail -n 5 "$logf" >&2
      return 1
    fi
    if grep -q 'notice: running' "$logf"; then
      return 0
    fi
    sleep 0.1
  done
  log "fulcrumd on $node did not report running within ${FULCRUMD_READY_TIMEOUT_S}s"
  end_processes "$pid" || true
  return 1
}

# The [api] socket a fulcrumd config names (empty: fulcrumctl's default).
config_api_socket() {
  sed -n 's/^[[:space:]]*socket[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1
}

# After a start: waits (at most FULCRUMD_SETTLE_TIMEOUT_S) until every
# checked backend has its first check result (`fulcrumctl list --json`
# shows no health "unknown"), so that whoever sends traffic next meets a
# settled pool. Only when fulcrumctl sits next to fulcrumd and the config
# has checks; a pool that does not settle is logged, not fatal; a fulcrumd
# that exits meanwhile is (returns 1).
wait_fulcrumd_settled() {
  local node=$1 config=$2 ctl sock out i started
  ctl="$(dirname -- "$(fulcrumd_bin)")/fulcrumctl"
  [ -x "$ctl" ] || return 0
  grep -Eq '^[[:space:]]*check[[:space:]]*=' "$config" || return 0
  sock=$(config_api_socket "$config")
  local -a ctl_args=()
  if [ -n "$sock" ]; then ctl_args=(-s "$sock"); fi
  started=$(date +%s%N)
  for ((i = 0; i < FULCRUMD_SETTLE_TIMEOUT_S * 10; i++)); do
    if [ -z "$(pid_for_label "fulcrumd-$node")" ]; then
      log "fulcrumd on $node exited while waiting for its first check results"
      return 1
    fi
    if out=$(timeout 5 "$ctl" "${ctl_args[@]}" list --json 2>/dev/null) &&
      ! grep -Eq '"health": *"unknown"' <<<"$out"; then
      log "fulcrumd on $node: every checked backend has a result after" \
        "$(( ($(date +%s%N) - started) / 1000000 )) ms" \
        "($(grep -Ec '"health": *"up"' <<<"$out") up, $(grep -Ec '"health": *"down"' <<<"$out") down)"
      return 0
    fi
    sleep 0.1
  done
  log "warning: fulcrumd on $node: backends still without a check result after ${FULCRUMD_SETTLE_TIMEOUT_S}s"
  return 0
}

cmd_lb_start() {
  local node mode driver="" config="" try logf tmpdir
  require_lab
  node=$(lb_node "${1:-}")
  shift
  mode=$(state_get mode)
  while [ $# -gt 0 ]; do
    case "$1" in
      fnat|dsr) mode=$1 ;;
      --driver) driver=${2:-}; shift ;;
      --config) config=${2:-}; shift ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  [ -z "$(pid_for_label "fulcrumd-$node")" ] || die "fulcrumd already runs on $node"
  tmpdir=$(state_get tmpdir)
  logf="$tmpdir/$node-fulcrumd.log"
  for try in ${driver:-af_xdp af_packet}; do
    case "$try" in af_xdp|af_packet) ;; *) die "--driver: af_xdp or af_packet" ;; esac
    [ -n "$config" ] || write_fulcrumd_config "$node" "$mode" "$try" "$tmpdir/$node.toml"
    if try_start_fulcrumd "$node" "${config:-$tmpdir/$node.toml}" "$try" "$logf"; then
      state_set "driver-$node" "$try"
      log "fulcrumd runs on $node ($mode, net_$try); log $logf"
      wait_fulcrumd_settled "$node" "${config:-$tmpdir/$node.toml}" ||
        die "fulcrumd on $node exited; see $logf"
      return 0
    fi
    # A given config names its own device: nothing to fall back to.
    [ -z "$config" ] || break
  done
  die "fulcrumd did not start on $node"
}

cmd_lb_stop() {
  local node
  require_lab
  node=$(lb_node "${1:-}")
  stop_recorded "fulcrumd on $node" "fulcrumd-$node" "$FULCRUMD_STOP_TIMEOUT_S"
}

cmd_lb_log() {
  local node
  require_lab
  node=$(lb_node "${1:-}")
  cat -- "$(state_get tmpdir)/$node-fulcrumd.log"
}

# The README's main job: Fulcrum forwarding real traffic between namespaces.
cmd_demo() {
  local mode=${1:-fnat} i out
  case "$mode" in fnat|dsr) ;; *) usage >&2; exit 2 ;; esac
  require_root
  trap '"$0" down >/dev/null 2>&1 || true' EXIT
  "$0" up "$mode" --force
  "$0" lb-start lb0 "$mode"
  echo
  echo "== 9 HTTP requests to VIP $VIP:$HTTP_PORT (nova-api), each a new connection:"
  for i in 1 2 3 4 5 6 7 8 9; do
    out=$(cmd_exec client curl -s -m 5 "http://$VIP:$HTTP_PORT/") || out="FAILED"
    printf '  request %d answered by %s\n' "$i" "$out"
  done
  echo "== 6 MySQL queries to VIP $VIP:$MYSQL_PORT (galera), each a new connection:"
  for i in 1 2 3 4 5 6; do
    out=$(cmd_exec client mariadb -h "$VIP" -u "$DB_USER" "-p$DB_PASSWORD" -N \
      --connect-timeout=5 -e 'select name from lab.whoami') || out="FAILED"
    printf '  query %d answered by %s\n' "$i" "$out"
  done
  echo "== fulcrumctl list on lb0 (health checks, flows per backend):"
  "$(dirname -- "$(fulcrumd_bin)")/fulcrumctl" -s "$(state_get tmpdir)/lb0-api.sock" list || true
  echo "== ping the VIP (answered by the data plane) and lb0's own address (its kernel):"
  cmd_exec client ping -c 2 -i 0.2 -W 1 "$VIP" | tail -n 2
  cmd_exec client ping -c 2 -i 0.2 -W 1 "${NODE_IP[lb0]}" | tail -n 2
  echo
  "$0" lb-stop lb0
  grep -E 'worker [0-9]+:|drop ' "$(state_get tmpdir)/lb0-fulcrumd.log" || true
}

main() {
  local cmd=${1:-}
  [ $# -eq 0 ] || shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    dsr-on) cmd_dsr 1 ;;
    dsr-off) cmd_dsr 0 ;;
    exec) cmd_exec "$@" ;;
    lb-start) cmd_lb_start "$@" ;;
    lb-stop) cmd_lb_stop "$@" ;;
    lb-log) cmd_lb_log "$@" ;;
    http-stop) cmd_http_stop "$@" ;;
    http-start) cmd_http_start "$@" ;;
    galera-status) cmd_galera_status "$@" ;;
    galera-wait) cmd_galera_wait "$@" ;;
    galera-stop) cmd_galera_stop "$@" ;;
    galera-start) cmd_galera_start "$@" ;;
    partition) cmd_partition "$@" ;;
    heal) cmd_heal "$@" ;;
    cut) cmd_cut "$@" ;;
    uncut) cmd_uncut "$@" ;;
    birdc) cmd_birdc "$@" ;;
    bird-stop) cmd_bird_stop "$@" ;;
    bird-start) cmd_bird_start "$@" ;;
    bird-restart) cmd_bird_restart "$@" ;;
    route) cmd_route "$@" ;;
    demo) cmd_demo "$@" ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
