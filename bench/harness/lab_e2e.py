# SPDX-License-Identifier: Apache-2.0
"""Lab end to end: the same client tools through the namespace lab against the controllers
directly, HAProxy, nftables and Fulcrum (FNAT and DSR).

One lab (scripts/lab.sh, through tests/integration/labtest.py) is built for the whole section;
every peer is set up in it in turn and undone afterwards, also on failure:

  direct        the client talks to the controllers themselves: wrk with one thread per
                controller, sysbench with the three hosts (threads round-robin over them),
                iperf3 to c0 (one stream reaches one backend through a balancer too)
  fulcrum-fnat  fulcrumd from the build on lb0 (net_af_xdp, one worker), forward = "fnat"
  nftables      the kernel in fl-lb0: dnat to numgen inc mod 3, snat to 192.0.2.2 (one-arm,
                like FNAT), conntrack, ip_forward
  fulcrum-dsr   fulcrumd again with forward = "dsr" (`lab.sh dsr-on`: the VIP on the
                controllers' lo)
  haproxy       Debian's HAProxy in fl-lb0, mode tcp, balance roundrobin, the kind of
                configuration an OpenStack control plane runs (HAPROXY_CFG below)

(run in that order: HAProxy's own connections to the controllers carry another TCP
timestamp clock than the client's, so it goes last; TIME-WAIT sockets are also cleared in
every lab namespace before each sample, see clear_time_wait()).

Measurements, each for every peer (a peer or tool that cannot run gives an `unavailable`
record with the reason, never nothing):

  http_keepalive      req/s   wrk, keep-alive, GET / on VIP:8774
  http_new_conn       conn/s  wrk with "Connection: close": one connection per request
  tcp_bulk            Mbit/s  iperf3 -R (the controller sends) through VIP:5201, one stream
  mysql_point_select  qps     sysbench oltp_point_select through VIP:3306

with the latency percentiles of each sample in extra (p50_ms / p99_ms: wrk's and sysbench's
per-request latency; for iperf3 the sending side's smoothed TCP RTT sampled every 0.1 s).

The lab's HTTP server (scripts/lab-http-server.py, Python) answers about a thousand requests
a second, far below any balancer: the section measures it once (a note) and then runs Debian's
HAProxy on each controller's :8774 answering `http-request return status 200` instead, for this
section only (`lab.sh http-stop` / `http-start` around it).

Standalone: `/usr/bin/python3 -m bench.harness.lab_e2e --mode quick --build build` from the
source root prints the section record as JSON.
"""
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

from . import common, labrig

PEERS = ("direct", "haproxy", "nftables", "fulcrum-fnat", "fulcrum-dsr")
RUN_ORDER = ("direct", "fulcrum-fnat", "nftables", "fulcrum-dsr", "haproxy")
MEASUREMENTS = (  # name, unit, tool
    ("http_keepalive", "req/s", "wrk"),
    ("http_new_conn", "conn/s", "wrk"),
    ("tcp_bulk", "Mbit/s", "iperf3"),
    ("mysql_point_select", "qps", "sysbench"),
)

VIP = "192.0.2.26"
LB_ADDR = "192.0.2.2"
LB_IF = "lb0-0"
HTTP_PORT = 8774
MYSQL_PORT = 3306
BULK_PORT = 5201
CONTROLLERS = (("c0", "192.0.2.10"), ("c1", "192.0.2.11"), ("c2", "192.0.2.12"))
DB_USER = DB_PASSWORD = "fulcrum"
SB_DB = "sbtest"
SB_TABLE_SIZE = 10000
NFT_TABLE = "fulcrum_bench_e2e"
STALL_TEXT = "receive overrun or stalled"

WRK_THREADS = 3          # one per controller in "direct"; the same for every peer
WRK_CONNECTIONS = 48     # 16 per thread
SB_THREADS = 12          # sysbench threads (one MySQL connection each)
WARM_UP_S = 1            # an unrecorded wrk run through each peer before its measurements

# HAProxy in front of an OpenStack control plane, as kolla-ansible / TripleO deployments write
# it, in mode tcp (the seed's set-up: nova-api and Galera on one VIP, round robin over the
# three controllers, TCP checks every 2 s). No log target (the lab has no syslog; a real
# deployment also pays for a tcplog line per connection). iperf3 needs its control and data
# connections on the same server: `balance source` for that service only.
HAPROXY_CFG = """\
# Written by bench/run (lab_e2e): HAProxy as an OpenStack control plane runs it, mode tcp
global
    maxconn {maxconn}
    stats timeout 30s

defaults
    mode tcp
    option redispatch
    option tcpka
    retries 3
    timeout queue 1m
    timeout connect 10s
    timeout client 1m
    timeout server 1m
    timeout check 10s
    maxconn {maxconn}

listen nova_api
    bind {vip}:{http_port}
    balance roundrobin
{http_servers}

listen mariadb
    bind {vip}:{mysql_port}
    balance roundrobin
    timeout client 3600s
    timeout server 3600s
{mysql_servers}

listen iperf3
    bind {vip}:{bulk_port}
    balance source
{bulk_servers}
"""
HAPROXY_CHECK = "check inter 2000 rise 2 fall 5"

# The benchmark's HTTP responder on each controller (instead of the lab's Python server).
RESPONDER_CFG = """\
# Written by bench/run (lab_e2e): nova-api's stand-in for the benchmark only
global
    maxconn {maxconn}

defaults
    mode http
    timeout client 30s
    timeout connect 5s
    timeout server 30s
    timeout http-keep-alive 30s

frontend nova_api
    bind :{http_port}
    http-request return status 200 content-type text/plain string "{name}" hdr X-Backend {name}
"""

# nftables DNAT with numgen load balancing, one-arm: replies come back through lb0 because
# the source is rewritten to lb0's address, as Fulcrum's FNAT does.
NFT_RULES = """\
table ip {table} {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr {vip} tcp dport {{ {http_port}, {mysql_port} }} dnat to numgen inc mod 3 map {{ {map} }}
    ip daddr {vip} tcp dport {bulk_port} dnat to jhash ip saddr mod 3 map {{ {map} }}
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ct status dnat ip daddr {{ {backends} }} snat to {lb_addr}
  }}
}}
"""

# wrk: thread i connects to controller i (the "direct" peer).
WRK_SPREAD_LUA = """\
-- Written by bench/run (lab_e2e): wrk thread i connects to controller i
local addrs = {{ {addrs} }}
local n = 0
function setup(thread)
  n = n + 1
  thread.addr = wrk.lookup(addrs[((n - 1) % #addrs) + 1], "{port}")[1]
end
"""


class SampleError(Exception):
    """One sample could not be taken; the message says why."""


# ---------------------------------------------------------------------------- small helpers

def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    vals = sorted(values)
    rank = max(1, int(-(-q * len(vals) // 100)))  # ceil(q/100 * n), at least 1
    return vals[min(rank, len(vals)) - 1]


def _tail(text, n=400):
    return " ".join(str(text).split())[-n:]


def _unit_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0,
                           "h": 3600000.0}[unit]


def _tool_version(argv):
    try:
        r = common.run(argv, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    text = (r.stdout or r.stderr).strip().splitlines()
    if not text:
        return "?"
    return re.split(r" - | Copyright| \(using", text[0].strip())[0].strip()


def _fd_hard_limit():
    try:
        return resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    except (ValueError, OSError):
        return 4096


def _haproxy_maxconn():
    # HAProxy raises its fd limit to about 2 x maxconn and refuses to start beyond the hard
    # limit (20000 on this machine).
    hard = _fd_hard_limit()
    if hard == resource.RLIM_INFINITY:
        return 8000
    return max(256, min(8000, (hard - 200) // 2))


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class BgProc:
    """A program we start in a lab namespace, output to a file, ended by its PID (ip netns exec
    execs the program itself, so the PID is the program's)."""

    def __init__(self, labtest, node, argv, log_path):
        self.log_path = log_path
        self.argv = argv
        with open(log_path, "w") as out:
            self.p = subprocess.Popen(labtest.netns_cmd(node, argv), stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def log_tail(self, n=400):
        try:
            with open(self.log_path) as f:
                return _tail(f.read(), n)
        except OSError:
            return ""

    def stop(self):
        common.stop_process(self.p, grace_s=5.0)


# ---------------------------------------------------------------------------- client tools

WRK_LAT_RE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)


def parse_wrk(out):
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not m or not n:
        raise SampleError("wrk printed no result: %s" % _tail(out))
    lat = {p: _unit_ms(v, u) for p, v, u in WRK_LAT_RE.findall(out)}
    if "50" not in lat or "99" not in lat:
        raise SampleError("wrk printed no latency distribution: %s" % _tail(out))
    errors = {}
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if e:
        errors = {k: int(v) for k, v in zip(("connect", "read", "write", "timeout"), e.groups())}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(n.group(1))
    if requests == 0:
        raise SampleError("wrk completed no request: %s" % _tail(out))
    return {"value": float(m.group(1)), "p50_ms": lat["50"], "p99_ms": lat["99"],
            "requests": requests, "socket_errors": errors,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


SB_HIST_RE = re.compile(r"^\s*([\d.]+)\s+\|\**\s+(\d+)\s*$", re.M)


def parse_sysbench(out):
    q = re.search(r"queries:\s+(\d+)\s+\(([\d.]+) per sec", out)
    if not q:
        raise SampleError("sysbench printed no result: %s" % _tail(out))
    if int(q.group(1)) == 0:
        raise SampleError("sysbench ran no query: %s" % _tail(out))
    p99 = re.search(r"99th percentile:\s+([\d.]+)", out)
    hist = [(float(v), int(c)) for v, c in SB_HIST_RE.findall(out)]
    total = sum(c for _, c in hist)
    p50 = None
    if total:
        acc = 0
        for v, c in sorted(hist):
            acc += c
            if acc * 2 >= total:
                p50 = v
                break
    ign = re.search(r"ignored errors:\s+(\d+)", out)
    rec = re.search(r"reconnects:\s+(\d+)", out)
    return {"value": float(q.group(2)), "p50_ms": p50, "p99_ms": float(p99.group(1)) if p99 else None,
            "queries": int(q.group(1)), "ignored_errors": int(ign.group(1)) if ign else 0,
            "reconnects": int(rec.group(1)) if rec else 0}


def parse_iperf3(out):
    try:
        d = json.loads(out)
    except ValueError:
        raise SampleError("iperf3 printed no JSON: %s" % _tail(out)) from None
    if d.get("error"):
        raise SampleError("iperf3: %s" % d["error"])
    try:
        bps = d["end"]["sum_received"]["bits_per_second"]
    except (KeyError, TypeError):
        raise SampleError("iperf3 JSON without end.sum_received: %s" % _tail(out)) from None
    rtts = []
    server = d.get("server_output_json") or {}
    for interval in server.get("intervals", []):
        for s in interval.get("streams", []):
            if s.get("sender") and s.get("rtt"):
                rtts.append(s["rtt"] / 1000.0)  # µs -> ms
    res = {"value": bps / 1e6, "p50_ms": None, "p99_ms": None, "rtt_samples": len(rtts)}
    if rtts:
        res["p50_ms"] = percentile(rtts, 50)
        res["p99_ms"] = percentile(rtts, 99)
    try:
        res["retransmits"] = d["end"]["sum_sent"].get("retransmits")
    except (KeyError, TypeError, AttributeError):
        pass
    return res


# ---------------------------------------------------------------------------- the section

class Section:
    def __init__(self, ctx, labtest, t0):
        self.ctx = ctx
        self.lt = labtest
        self.diag = labrig.LogTap("lab_e2e")
        self.tmp = ctx.scratch("lab_e2e")
        self.notes = []
        self.results = {}  # (peer, name) -> record
        self.lab = None
        self.duration = ctx.pick(1, 2, 8)
        self.samples = ctx.pick(1, 2, 3)
        self.budget_s = ctx.pick(85, 145, 700)
        self.t0 = t0  # the section's start (before any wait for another lab)
        self.fulcrumd = ctx.binary("fulcrumd")
        self.tools = {t: common.have(t) for t in ("wrk", "iperf3", "sysbench", "haproxy", "nft")}
        self.responders_on = False
        self.responders_used = False
        self.bulk_servers_ok = False
        self.sbtest_ok = False
        self.sbtest_reason = ""
        self.versions = {}
        self.python_probe = None

    # -- records
    def put(self, rec):
        self.results[(rec["peer"], rec["name"])] = rec

    def unavailable_all(self, peer, reason, names=None, status="unavailable"):
        for name, _unit, _tool in MEASUREMENTS:
            if names is None or name in names:
                if (peer, name) not in self.results:
                    self.put(common.unavailable(name, peer, reason, status=status))

    def ordered_results(self):
        out = []
        for peer in PEERS:
            for name, _unit, _tool in MEASUREMENTS:
                out.append(self.results.get((peer, name)) or common.unavailable(
                    name, peer, "not reached (an earlier step of the section failed)",
                    status="failed"))
        return out

    def time_left(self):
        return self.budget_s - (time.monotonic() - self.t0)

    # -- lab helpers
    def ns_exec(self, node, argv, timeout=30, check=False):
        r = self.lab.exec(node, argv, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("%s in fl-%s: rc %d: %s" % (" ".join(argv), node, r.returncode,
                                                          _tail(r.stderr or r.stdout)))
        return r

    def lab_cmd(self, *args, timeout=60):
        r = self.lab.lab(*args, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("lab.sh %s: rc %d: %s" % (" ".join(args), r.returncode,
                                                         _tail(r.stderr or r.stdout)))
        return r

    def sysctl_get(self, node, key):
        r = self.ns_exec(node, ["sysctl", "-n", key], timeout=10)
        return r.stdout.strip() if r.returncode == 0 else None

    def sysctl_set(self, node, pairs):
        self.ns_exec(node, ["sysctl", "-q", "-w"] + ["%s=%s" % kv for kv in pairs],
                     timeout=10, check=True)

    def tcp_counters(self):
        """The client's SYN retransmissions and the controllers' SYNs refused by a TIME-WAIT
        socket (PAWS): what turns into 1 s waits for new connections. None if unreadable."""
        out = {}
        for node, key in [("client", "TcpExtTCPSynRetrans")] + [
                (n, "TcpExtPAWSTimewait") for n, _a in CONTROLLERS]:
            # -a absolute values, -s do not touch nstat's history file, -z zeros too
            r = self.lab.exec(node, ["nstat", "-asz", key], timeout=10)
            m = re.search(r"^%s\s+(\d+)" % key, r.stdout, re.M)
            if r.returncode != 0 or not m:
                return None
            name = "client_syn_retrans" if node == "client" else "backend_paws_rejects"
            out[name] = out.get(name, 0) + int(m.group(1))
        return out

    def clear_time_wait(self):
        """Removes the TIME-WAIT sockets of every lab namespace (ss -K), so that one sample's
        or peer's closed connections do not decide the next one's: a SYN that meets a
        TIME-WAIT socket of the same four-tuple carrying another timestamp clock (HAProxy's
        connections from 192.0.2.2 against the client's, forwarded by Fulcrum and nftables)
        fails PAWS and waits a second for its retransmission."""
        for node in ("client", "lb0") + tuple(n for n, _ in CONTROLLERS):
            self.ns_exec(node, ["sh", "-c", "ss -K -t state time-wait >/dev/null"], timeout=15)

    # -- set-up shared by all peers
    def probe_python_server(self):
        """wrk against the lab's own Python HTTP server, spread over the controllers: is it the
        ceiling? (a note; the measurements then use the HAProxy responders)."""
        if not self.tools["wrk"]:
            return
        try:
            self.python_probe = self.wrk(self.direct_http_target(), keepalive=True, duration=1)
        except SampleError as e:
            self.notes.append("Probe of the lab's Python HTTP server failed: %s" % e)

    def python_probe_note(self):
        """Why the controllers answer HTTP with HAProxy here (after the measurements: it
        compares the probe with what the peers forwarded)."""
        if self.python_probe is None or not self.responders_used:
            return
        forwarded = {p: (self.results.get((p, "http_keepalive")) or {}).get("median")
                     for p in PEERS}
        forwarded = {p: v for p, v in forwarded.items() if v}
        slowest = min(forwarded.items(), key=lambda kv: kv[1]) if forwarded else None
        self.notes.append(
            "HTTP responder: the lab's own server (scripts/lab-http-server.py, Python) answered "
            "%.0f req/s straight from the client (wrk, keep-alive, %d connections over c0..c2, "
            "1 s; p50 %.1f ms)%s, so it, not the balancer, would be the ceiling. For this "
            "section each controller's :%d is answered by Debian's HAProxy in the controller's "
            "namespace (`http-request return status 200`, body the controller's name; "
            "RESPONDER_CFG) instead; the lab's default stays the Python server (restarted "
            "afterwards)." % (
                self.python_probe["value"], WRK_CONNECTIONS, self.python_probe["p50_ms"],
                "; the slowest peer here forwarded %.0f req/s (%s)" % (slowest[1], slowest[0])
                if slowest else "", HTTP_PORT))

    def syn_retrans_note(self):
        """Names the measurements whose new connections waited for SYN retransmissions."""
        hits = []
        for peer in PEERS:
            for name, _unit, _tool in MEASUREMENTS:
                rec = self.results.get((peer, name))
                per = (rec or {}).get("extra", {}).get("per_sample") or []
                syn = sum(d.get("client_syn_retrans", 0) for d in per)
                paws = sum(d.get("backend_paws_rejects", 0) for d in per)
                if syn >= 10:
                    hits.append("%s/%s %d (controllers refused %d SYNs on TIME-WAIT sockets)"
                                % (peer, name, syn, paws))
        if hits:
            self.notes.append(
                "SYN retransmissions at the client over all samples (each a connection that "
                "waited 1 s): " + "; ".join(hits) + ". Refusals by a TIME-WAIT socket mean "
                "the balancer's source address and port met a controller's TIME-WAIT socket "
                "of an earlier connection whose timestamps were newer (PAWS).")

    def start_responders(self):
        """HAProxy answering HTTP on each controller's :8774 (the Python servers stopped)."""
        maxconn = _haproxy_maxconn()
        self.responders = []
        for node, _addr in CONTROLLERS:
            self.lab_cmd("http-stop", node, timeout=30)
        self.responders_on = True
        self.responders_used = True
        for node, addr in CONTROLLERS:
            cfg = _write(os.path.join(self.tmp, "responder-%s.cfg" % node), RESPONDER_CFG.format(
                maxconn=maxconn, http_port=HTTP_PORT, name=node))
            self.responders.append(BgProc(self.lt, node, ["haproxy", "-db", "-f", cfg],
                                          os.path.join(self.tmp, "responder-%s.log" % node)))
        for (node, addr), proc in zip(CONTROLLERS, self.responders):
            ok = self.wait_http(node, addr, HTTP_PORT, expect=node, proc=proc)
            if not ok:
                raise RuntimeError("the HTTP responder on %s does not answer: %s" % (
                    node, proc.log_tail()))

    def stop_responders(self):
        for proc in getattr(self, "responders", []):
            proc.stop()
        self.responders = []
        if self.responders_on:
            self.responders_on = False
            for node, _addr in CONTROLLERS:
                r = self.lab.lab("http-start", node, timeout=40)
                if r.returncode != 0:
                    self.diag.diag("http-start %s: %s" % (node, _tail(r.stderr)))

    def wait_http(self, node, addr, port, expect=None, proc=None, limit_s=10.0):
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if proc is not None and not proc.alive():
                return False
            r = self.lab.exec(node if node else "client",
                              ["curl", "-s", "--noproxy", "*", "-m", "1",
                               "http://%s:%d/" % (addr, port)], timeout=5)
            if r.returncode == 0 and (expect is None or r.stdout.strip() == expect):
                return True
            time.sleep(0.1)
        return False

    def start_bulk_servers(self):
        self.bulk_servers = []
        for node, _addr in CONTROLLERS:
            self.bulk_servers.append(BgProc(
                self.lt, node, ["iperf3", "-s", "-J", "-i", "0.1", "-p", str(BULK_PORT)],
                os.path.join(self.tmp, "iperf3-%s.log" % node)))
        deadline = time.monotonic() + 10
        for (node, addr), proc in zip(CONTROLLERS, self.bulk_servers):
            while True:
                r = self.ns_exec(node, ["ss", "-Htln", "sport", "= :%d" % BULK_PORT], timeout=5)
                if r.stdout.strip():
                    break
                if not proc.alive() or time.monotonic() > deadline:
                    raise RuntimeError("iperf3 server on %s did not start: %s" % (
                        node, proc.log_tail()))
                time.sleep(0.05)
        self.bulk_servers_ok = True

    def stop_bulk_servers(self):
        for proc in getattr(self, "bulk_servers", []):
            proc.stop()
        self.bulk_servers = []

    def sysbench_base(self, hosts):
        return ["sysbench", "oltp_point_select", "--db-driver=mysql",
                "--mysql-host=" + ",".join(hosts), "--mysql-port=%d" % MYSQL_PORT,
                "--mysql-user=" + DB_USER, "--mysql-password=" + DB_PASSWORD,
                "--mysql-db=" + SB_DB, "--tables=1", "--table-size=%d" % SB_TABLE_SIZE]

    def prepare_sbtest(self):
        """The sysbench table on each controller (standalone MariaDBs: one each)."""
        for node, addr in CONTROLLERS:
            self.ns_exec("client", ["mariadb", "--no-defaults", "--connect-timeout=5", "-h", addr,
                                    "-u", DB_USER, "-p" + DB_PASSWORD, "-e",
                                    "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s" % (SB_DB, SB_DB)],
                         timeout=30, check=True)
            self.ns_exec("client", self.sysbench_base([addr]) + ["prepare"], timeout=120,
                         check=True)
        self.sbtest_ok = True

    def drop_sbtest(self):
        if not self.sbtest_ok:
            return
        for _node, addr in CONTROLLERS:
            self.ns_exec("client", ["mariadb", "--no-defaults", "--connect-timeout=5", "-h", addr,
                                    "-u", DB_USER, "-p" + DB_PASSWORD, "-e",
                                    "DROP DATABASE IF EXISTS %s" % SB_DB], timeout=30)

    # -- the client tools, one sample each
    def direct_http_target(self):
        lua = os.path.join(self.tmp, "spread.lua")
        if not os.path.exists(lua):
            _write(lua, WRK_SPREAD_LUA.format(
                addrs=", ".join('"%s"' % a for _n, a in CONTROLLERS), port=HTTP_PORT))
        return {"url": "http://%s:%d/" % (CONTROLLERS[0][1], HTTP_PORT), "script": lua}

    def wrk(self, target, keepalive, duration):
        argv = ["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNECTIONS, "-d%ds" % duration,
                "--timeout", "2s", "--latency"]
        if not keepalive:
            argv += ["-H", "Connection: close"]
        if target.get("script"):
            argv += ["-s", target["script"]]
        argv.append(target["url"])
        r = self.lab.exec("client", argv, timeout=duration + 30)
        if r.returncode != 0:
            raise SampleError("wrk rc %d: %s" % (r.returncode, _tail(r.stderr + r.stdout)))
        return parse_wrk(r.stdout)

    def iperf3(self, host, duration):
        argv = ["iperf3", "-c", host, "-p", str(BULK_PORT), "-t", str(duration), "-R", "-J",
                "--get-server-output", "--connect-timeout", "3000"]
        last = None
        for _attempt in range(3):
            r = self.lab.exec("client", argv, timeout=duration + 30)
            try:
                return parse_iperf3(r.stdout)
            except SampleError as e:
                last = e
                if "busy" not in str(e):
                    break
                time.sleep(0.5)  # the server still finishes the previous test
        raise last

    def sysbench(self, hosts, duration):
        argv = self.sysbench_base(hosts) + [
            "--threads=%d" % SB_THREADS, "--time=%d" % duration, "--percentile=99",
            "--histogram=on", "--report-interval=0", "run"]
        r = self.lab.exec("client", argv, timeout=duration + 60)
        if r.returncode != 0:
            raise SampleError("sysbench rc %d: %s" % (r.returncode, _tail(r.stdout + r.stderr)))
        return parse_sysbench(r.stdout)

    # -- peers: context managers that set up and always undo
    @contextlib.contextmanager
    def peer_direct(self):
        yield {
            "http": self.direct_http_target(),
            "mysql_hosts": [a for _n, a in CONTROLLERS],
            "bulk_host": CONTROLLERS[0][1],
            "config": "no balancer: wrk with one thread per controller (thread i connects to "
                      "c_i, %d connections each), sysbench --mysql-host=c0,c1,c2 (threads "
                      "round-robin over the hosts), iperf3 to c0"
                      % (WRK_CONNECTIONS // WRK_THREADS),
        }

    def vip_target(self, cfg_text, extra=None):
        t = {"http": {"url": "http://%s:%d/" % (VIP, HTTP_PORT)}, "mysql_hosts": [VIP],
             "bulk_host": VIP, "config": cfg_text}
        t.update(extra or {})
        return t

    @contextlib.contextmanager
    def lb0_addresses(self):
        """lb0's own address and the VIP on lb0-0, as a keepalived-held VIP on an HAProxy or
        nftables node (no fulcrumd runs then)."""
        added = []
        try:
            for cidr in ("%s/24" % LB_ADDR, "%s/32" % VIP):
                self.ns_exec("lb0", ["ip", "addr", "add", cidr, "dev", LB_IF], timeout=10,
                             check=True)
                added.append(cidr)
            yield
        finally:
            for cidr in reversed(added):
                r = self.ns_exec("lb0", ["ip", "addr", "del", cidr, "dev", LB_IF], timeout=10)
                if r.returncode != 0:
                    self.diag.diag("ip addr del %s: %s" % (cidr, _tail(r.stderr)))

    @contextlib.contextmanager
    def peer_haproxy(self):
        if not self.tools["haproxy"]:
            raise PeerUnavailable("haproxy is not installed (/usr/sbin/haproxy)")
        maxconn = _haproxy_maxconn()

        def servers(port, check):
            return "\n".join("    server %s %s:%d%s" % (n, a, port, " " + HAPROXY_CHECK if check else "")
                             for n, a in CONTROLLERS)
        text = HAPROXY_CFG.format(
            maxconn=maxconn, vip=VIP, http_port=HTTP_PORT, mysql_port=MYSQL_PORT,
            bulk_port=BULK_PORT, http_servers=servers(HTTP_PORT, True),
            mysql_servers=servers(MYSQL_PORT, True), bulk_servers=servers(BULK_PORT, False))
        cfg = _write(os.path.join(self.tmp, "haproxy.cfg"), text)
        check = common.run(["haproxy", "-c", "-f", cfg], timeout=20)
        if check.returncode != 0:
            raise RuntimeError("haproxy -c: %s" % _tail(check.stdout + check.stderr))
        with self.lb0_addresses():
            proc = BgProc(self.lt, "lb0", ["haproxy", "-db", "-f", cfg],
                          os.path.join(self.tmp, "haproxy.log"))
            try:
                if not self.wait_http(None, VIP, HTTP_PORT, proc=proc):
                    raise RuntimeError("HAProxy on lb0 does not answer on VIP:%d: %s" % (
                        HTTP_PORT, proc.log_tail()))
                yield self.vip_target(
                    "%s in fl-lb0, mode tcp, balance roundrobin (iperf3: balance source), TCP "
                    "checks '%s', maxconn %d, default threads (one per CPU), no logging; VIP "
                    "%s/32 and %s/24 on lb0-0; config in bench/harness/lab_e2e.py "
                    "(HAPROXY_CFG)" % (self.versions.get("haproxy", "haproxy"), HAPROXY_CHECK,
                                       maxconn, VIP, LB_ADDR), {"proc": proc})
            finally:
                proc.stop()

    @contextlib.contextmanager
    def peer_nftables(self):
        if not self.tools["nft"]:
            raise PeerUnavailable("nft is not installed")
        keys = ("net.ipv4.ip_forward", "net.ipv4.conf.all.send_redirects",
                "net.ipv4.conf.%s.send_redirects" % LB_IF)
        saved = [(k, self.sysctl_get("lb0", k)) for k in keys]
        mapping = ", ".join("%d : %s" % (i, a) for i, (_n, a) in enumerate(CONTROLLERS))
        rules = NFT_RULES.format(table=NFT_TABLE, vip=VIP, http_port=HTTP_PORT,
                                 mysql_port=MYSQL_PORT, bulk_port=BULK_PORT, map=mapping,
                                 backends=", ".join(a for _n, a in CONTROLLERS), lb_addr=LB_ADDR)
        path = _write(os.path.join(self.tmp, "nftables.nft"), rules)
        table_made = False
        with self.lb0_addresses():
            try:
                # Forwarding on, and no ICMP redirects: the client must keep sending to the VIP
                # on lb0 (the packets leave by the interface they came in on).
                self.sysctl_set("lb0", [(keys[0], 1), (keys[1], 0), (keys[2], 0)])
                self.ns_exec("lb0", ["nft", "-f", path], timeout=20, check=True)
                table_made = True
                if not self.wait_http(None, VIP, HTTP_PORT):
                    raise RuntimeError("no HTTP answer through the nftables DNAT")
                yield self.vip_target(
                    "nft in fl-lb0: dnat to numgen inc mod 3 map (iperf3: jhash ip saddr mod "
                    "3), snat to %s (one-arm, like FNAT), conntrack, ip_forward=1, "
                    "send_redirects=0; VIP %s/32 and %s/24 on lb0-0" % (LB_ADDR, VIP, LB_ADDR))
            finally:
                if table_made:
                    r = self.ns_exec("lb0", ["nft", "delete", "table", "ip", NFT_TABLE], timeout=20)
                    if r.returncode != 0:
                        self.diag.diag("nft delete table: %s" % _tail(r.stderr))
                restore = [(k, v) for k, v in saved if v is not None]
                if restore:
                    try:
                        self.sysctl_set("lb0", restore)
                    except RuntimeError as e:
                        self.diag.diag("restoring sysctls: %s" % e)

    def fulcrum_services(self, forward):
        lt = self.lt
        backends = [(a, None, None) for _n, a in CONTROLLERS]
        return (lt.service_toml("nova-api", HTTP_PORT, backends, forward=forward,
                                check='type = "http", interval = "2s", timeout = "1s", '
                                      'rise = 2, fall = 5')
                + lt.service_toml("galera", MYSQL_PORT, backends, forward=forward,
                                  check='type = "mysql", interval = "2s", timeout = "1s", '
                                        'rise = 2, fall = 5')
                + lt.service_toml("bulk", BULK_PORT, backends, forward=forward, scheduler="sh"))

    @contextlib.contextmanager
    def peer_fulcrum(self, forward):
        if not (os.path.isfile(self.fulcrumd) and os.access(self.fulcrumd, os.X_OK)):
            raise PeerUnavailable("fulcrumd is not built (%s)" % self.fulcrumd)
        dsr_on = False
        try:
            if forward == "dsr":
                self.lab_cmd("dsr-on", timeout=30)
                dsr_on = True
            state = {"forward": forward, "cfg": None}
            self.fulcrum_start(state, "af_xdp")
            try:
                yield self.vip_target("", {"fulcrum": state})
            finally:
                self.fulcrum_stop(state)
        finally:
            if dsr_on:
                r = self.lab.lab("dsr-off", timeout=30)
                if r.returncode != 0:
                    self.diag.diag("dsr-off: %s" % _tail(r.stderr))

    def fulcrum_start(self, state, driver):
        cfg = self.lt.LbConfig(self.tmp, "bench-%s" % state["forward"])
        cfg.driver = driver
        cfg.services = self.fulcrum_services(state["forward"])
        cfg.write()
        state["cfg"] = cfg
        t0 = time.monotonic()
        self.lab.lb_start_config(cfg)  # falls back to af_packet if af_xdp does not start
        common.log("lab_e2e: fulcrumd (%s) started in %.1f s" % (state["forward"],
                                                                 time.monotonic() - t0))
        state["driver"] = cfg.driver
        state["config"] = (
            "fulcrumd (this build) on lb0: 1 worker, poll adaptive, net_%s on lb0-0, "
            "flows_per_worker %d, forward %s, maglev (iperf3 service: sh, no check), checks "
            "http/mysql every 2 s (rise 2, fall 5)" % (cfg.driver, cfg.flows_per_worker,
                                                       state["forward"]))

    def fulcrum_stop(self, state):
        if state.get("cfg") is None:
            return
        r = self.lab.lb_stop("lb0")
        if r.returncode != 0:
            self.diag.diag("lb-stop: %s" % _tail(r.stderr))
        state["cfg"] = None

    def fulcrum_stalled(self):
        return STALL_TEXT in self.lab.lb_log("lb0")

    # -- measuring one peer
    def warm_up(self, peer, target):
        """One short unrecorded keep-alive run through the peer: ARP and neighbour caches,
        the balancer's and the servers' first connections."""
        if not self.tools["wrk"]:
            return
        try:
            self.wrk(target["http"], keepalive=True, duration=WARM_UP_S)
        except SampleError as e:
            common.log("lab_e2e: %s: warm-up failed: %s" % (peer, e))

    def measure_peer(self, peer, target):
        fulcrum = target.get("fulcrum")
        self.warm_up(peer, target)
        for name, unit, tool in MEASUREMENTS:
            if (peer, name) in self.results:
                continue
            if not self.tools[tool]:
                self.put(common.unavailable(name, peer, "%s is not installed" % tool))
                continue
            need_s = self.samples * (self.duration + 1.5)
            if self.time_left() < need_s:
                self.put(common.unavailable(name, peer, "not run: the %s mode's time budget of "
                                            "the section (%d s) was spent" % (
                                                self.ctx.mode, self.budget_s)))
                continue
            if name == "tcp_bulk" and not self.bulk_servers_ok:
                self.put(common.unavailable(name, peer, "iperf3 servers on the controllers "
                                                        "did not start"))
                continue
            if name == "mysql_point_select" and not self.sbtest_ok:
                self.put(common.unavailable(name, peer, "sysbench table not prepared: %s"
                                            % self.sbtest_reason))
                continue
            if "proc" in target and not target["proc"].alive():
                self.put(common.unavailable(name, peer, "HAProxy on lb0 exited: %s"
                                            % target["proc"].log_tail(), status="failed"))
                continue
            if fulcrum is not None and self.lab.fulcrumd_pid("lb0") is None:
                self.put(common.unavailable(name, peer, "fulcrumd on lb0 exited: %s"
                                            % _tail(self.lab.lb_log("lb0"), 600), status="failed"))
                continue
            rec = self.measure(peer, name, unit, tool, target)
            if fulcrum is not None and fulcrum.get("driver") == "af_xdp" and self.fulcrum_stalled():
                # The af_xdp PMD on veth can wedge under high packet rates
                # (docs/reliability.md): measure again on af_packet from here on.
                self.notes.append(
                    "%s: fulcrumd logged '%s' with net_af_xdp during %s; fulcrumd was restarted "
                    "with net_af_packet and that measurement and the ones after it were taken "
                    "on af_packet (params.peer_config says which driver)" % (peer, STALL_TEXT, name))
                self.fulcrum_stop(fulcrum)
                self.fulcrum_start(fulcrum, "af_packet")
                rec = self.measure(peer, name, unit, tool, target)
            self.put(rec)

    def measure(self, peer, name, unit, tool, target):
        keepalive = name == "http_keepalive"
        fulcrum = target.get("fulcrum")
        params = {"mode": self.ctx.mode, "tool": self.versions.get(tool, tool),
                  "duration_s": self.duration, "samples_planned": self.samples,
                  "peer_config": fulcrum["config"] if fulcrum else target["config"]}
        if tool == "wrk":
            params.update({"connections": WRK_CONNECTIONS, "threads": WRK_THREADS,
                           "keepalive": keepalive, "request": "GET / (body: the controller's name)",
                           "target": "c0..c2:%d (one wrk thread each)" % HTTP_PORT
                           if target["http"].get("script") else target["http"]["url"]})
            if not keepalive:
                params["header"] = "Connection: close (one TCP connection per request)"
        elif tool == "iperf3":
            params.update({"connections": 1, "direction": "server to client (iperf3 -R)",
                           "target": "%s:%d" % (target["bulk_host"], BULK_PORT),
                           "latency": "sender's smoothed TCP RTT, sampled every 0.1 s"})
        else:
            params.update({"connections": SB_THREADS, "threads": SB_THREADS,
                           "test": "oltp_point_select, 1 table of %d rows per controller"
                                   % SB_TABLE_SIZE,
                           "target": "%s:%d" % (",".join(target["mysql_hosts"]), MYSQL_PORT)})
        values, p50s, p99s, details, failures = [], [], [], [], []
        for i in range(self.samples):
            try:
                self.clear_time_wait()
                tcp_before = self.tcp_counters()
                before = self.fulcrum_stats(fulcrum) if fulcrum else None
                if tool == "wrk":
                    res = self.wrk(target["http"], keepalive, self.duration)
                elif tool == "iperf3":
                    res = self.iperf3(target["bulk_host"], self.duration)
                else:
                    res = self.sysbench(target["mysql_hosts"], self.duration)
                tcp_after = self.tcp_counters()
                if tcp_before is not None and tcp_after is not None:
                    res.update({k: tcp_after[k] - tcp_before[k] for k in tcp_after})
                if before is not None:
                    after = self.fulcrum_stats(fulcrum)
                    if after is not None:
                        res["fulcrumd"] = {
                            "dropped": after["dropped"] - before["dropped"],
                            "drops": {k: v - before["drops"].get(k, 0)
                                      for k, v in after["drops"].items()
                                      if v - before["drops"].get(k, 0)},
                            "rx_missed": after["rx_missed"] - before["rx_missed"],
                            "rx_packets": after["rx_packets"] - before["rx_packets"]}
            except SampleError as e:
                failures.append("sample %d: %s" % (i + 1, e))
                common.log("lab_e2e: %s/%s sample %d failed: %s" % (peer, name, i + 1, e))
                continue
            values.append(res.pop("value"))
            p50s.append(res.pop("p50_ms"))
            p99s.append(res.pop("p99_ms"))
            details.append(res)
            common.log("lab_e2e: %s/%s sample %d: %.1f %s (p50 %s ms, p99 %s ms)" % (
                peer, name, i + 1, values[-1], unit, _fmt(p50s[-1]), _fmt(p99s[-1])))
        if not values:
            return common.unavailable(name, peer, "; ".join(failures)[:600], params=params,
                                      status="failed")
        extra = {"p50_ms": _median(p50s), "p99_ms": _median(p99s),
                 "p50_ms_samples": p50s, "p99_ms_samples": p99s, "per_sample": details}
        if failures:
            extra["failed_samples"] = failures
        return common.measurement(name, peer, unit, values, params=params, extra=extra)

    def fulcrum_stats(self, state):
        """fulcrumd's counters summed over workers and ports (`fulcrumctl stats --json`), or
        None when fulcrumctl does not answer."""
        cfg = state.get("cfg")
        if cfg is None:
            return None
        try:
            r = common.run([self.ctx.binary("fulcrumctl"), "-s", cfg.socket, "stats", "--json"],
                           timeout=10)
            d = json.loads(r.stdout) if r.returncode == 0 else None
        except (OSError, subprocess.SubprocessError, ValueError):
            d = None
        if not d:
            return None
        drops = {}
        for w in d.get("workers", []):
            for k, v in (w.get("drops") or {}).items():
                drops[k] = drops.get(k, 0) + v
        return {"dropped": sum(w.get("dropped", 0) for w in d.get("workers", [])),
                "drops": drops,
                "rx_missed": sum(p.get("rx_missed", 0) for p in d.get("ports", [])),
                "rx_packets": sum(p.get("rx_packets", 0) for p in d.get("ports", []))}

    # -- the whole run
    def run(self):
        lt = self.lt
        for tool, argv in (("wrk", ["wrk", "-v"]), ("iperf3", ["iperf3", "--version"]),
                           ("sysbench", ["sysbench", "--version"]), ("haproxy", ["haproxy", "-v"])):
            if self.tools[tool]:
                self.versions[tool] = _tool_version(argv)
        with lt.WaitingLab(self.diag, "fnat") as lab:
            self.lab = lab
            self.prepare_lab()
            try:
                for peer in RUN_ORDER:
                    self.run_peer(peer)
                self.python_probe_note()
                self.syn_retrans_note()
            finally:
                self.stop_bulk_servers()
                self.stop_responders()
                try:
                    self.drop_sbtest()
                except Exception as e:  # noqa: BLE001 - the lab goes away next anyway
                    self.diag.diag("dropping the sysbench databases: %s" % e)
            self.lab = None

    def prepare_lab(self):
        # The client is a load generator: any local port, and reuse of its own TIME-WAIT ports
        # (the same for every peer; the balancer node keeps its defaults).
        self.sysctl_set("client", [("net.ipv4.ip_local_port_range", "1024 65535"),
                                   ("net.ipv4.tcp_tw_reuse", 1)])
        if self.tools["sysbench"]:
            try:
                self.prepare_sbtest()
            except RuntimeError as e:
                self.sbtest_reason = str(e)[:300]
        self.probe_python_server()
        if self.tools["haproxy"]:
            self.start_responders()
        else:
            self.notes.append("haproxy is not installed: the controllers answer HTTP with the "
                              "lab's Python server, which limits every peer's HTTP figures")
        if self.tools["iperf3"]:
            try:
                self.start_bulk_servers()
            except RuntimeError as e:
                self.notes.append("iperf3 servers: %s" % e)

    def run_peer(self, peer):
        if self.time_left() < 10:
            self.unavailable_all(peer, "not run: the %s mode's time budget of the section "
                                       "(%d s) was spent" % (self.ctx.mode, self.budget_s))
            return
        factory = {"direct": self.peer_direct, "haproxy": self.peer_haproxy,
                   "nftables": self.peer_nftables,
                   "fulcrum-fnat": lambda: self.peer_fulcrum("fnat"),
                   "fulcrum-dsr": lambda: self.peer_fulcrum("dsr")}[peer]
        t0 = time.monotonic()
        common.log("lab_e2e: peer %s" % peer)
        try:
            with factory() as target:
                self.measure_peer(peer, target)
        except PeerUnavailable as e:
            self.unavailable_all(peer, str(e))
        except Exception as e:  # noqa: BLE001 - a peer that fails is reported, the rest go on
            reason = "%s: %s" % (type(e).__name__, _tail(e, 600))
            common.log("lab_e2e: peer %s failed: %s" % (peer, reason))
            self.unavailable_all(peer, "set-up or run failed: " + reason, status="failed")
        common.log("lab_e2e: peer %s done in %.1f s" % (peer, time.monotonic() - t0))


class PeerUnavailable(Exception):
    """The peer cannot run here (a missing program); the message says why."""


def _median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _fmt(v):
    return "-" if v is None else "%.3f" % v


def _base_notes(ctx, sec):
    loadavg = os.getloadavg()
    return [
        "Everything shares this machine's %d CPU cores: the client tools (wrk, iperf3, "
        "sysbench), the controllers' servers (HAProxy responders, MariaDB, iperf3), the "
        "balancer under test and the kernel's veth/bridge path. The figures are the lab's "
        "ceiling for each peer on this machine, not any one component's maximum; compare peers "
        "with each other only within one run (load average %.2f at the start)."
        % (os.cpu_count() or 0, loadavg[0]),
        "Order: %s; one lab (lab.sh up fnat) for all, DSR switched with dsr-on/dsr-off. Before "
        "every sample the TIME-WAIT sockets in the lab namespaces are removed (ss -K), so "
        "samples and peers start from the same TCP state." % ", ".join(RUN_ORDER),
        "Per sample: %d s; %d sample(s) per measurement; median over samples; p50_ms/p99_ms are "
        "the medians of the per-sample percentiles (all kept in extra). Each peer first gets "
        "an unrecorded %d s wrk keep-alive warm-up. For the Fulcrum peers extra.per_sample "
        "also has fulcrumd's own counters over the sample (fulcrumctl stats: drops, port "
        "rx_missed); for every peer it has the client's SYN retransmissions and the "
        "controllers' SYNs refused by a TIME-WAIT socket (nstat TcpExtTCPSynRetrans, "
        "TcpExtPAWSTimewait) during the sample: each is a new connection that waited 1 s, "
        "which lowers conn/s far more than it shows in p99." % (
            sec.duration, sec.samples, WARM_UP_S),
        "direct spreads over the three controllers (wrk: one thread per controller; sysbench: "
        "host list), as every balancer spreads over three; its tcp_bulk goes to c0 (one stream "
        "reaches one backend through a balancer as well).",
        "fulcrum-dsr: the controllers answer the client directly, so the replies (for "
        "tcp_bulk the whole data stream: iperf3 -R, the controller sends) do not pass the "
        "balancer; the client's packets do.",
        "The load-generating client may use ports 1024-65535 and reuse its TIME-WAIT ports "
        "(tcp_tw_reuse=1 in fl-client only); the balancer and controller namespaces keep their "
        "defaults.",
    ]


def _all_unavailable(reason):
    """The section cannot run at all: every peer's every measurement says why."""
    return common.section([common.unavailable(name, peer, reason)
                           for peer in PEERS for name, _u, _t in MEASUREMENTS],
                          status="unavailable", reason=reason)


def run(ctx):
    if os.geteuid() != 0:
        return _all_unavailable("needs root (network namespaces)")
    if not common.have("ip"):
        return _all_unavailable("iproute2 (ip) is not installed")
    try:
        lt = labrig.import_labtest(ctx)
    except ImportError as e:
        return _all_unavailable("tests/integration/labtest.py: %s" % e)
    if not os.path.isfile(lt.LAB_SCRIPT):
        return _all_unavailable("lab script missing (%s)" % lt.LAB_SCRIPT)
    missing = [t for t in ("mariadb", "curl", "ss", "sysctl") if not common.have(t)]
    if missing:
        return _all_unavailable("missing %s (scripts/lab-packages.sh)" % ", ".join(missing))
    t0 = time.monotonic()
    busy = labrig.wait_until_free(lt, ctx.pick(30, 30, 120))
    if busy:
        return _all_unavailable(busy)

    sec = Section(ctx, lt, t0)
    notes = _base_notes(ctx, sec)
    status, reason = None, ""
    with labrig.lab_process_state(sec.fulcrumd):
        try:
            sec.run()
        except Exception as e:  # noqa: BLE001 - the section reports, bench/run goes on
            reason = "the lab failed: %s: %s" % (type(e).__name__, _tail(e, 600))
            common.log("lab_e2e: " + reason)
            if not sec.results:
                status = "failed"
    for peer in PEERS:
        if all((peer, n) not in sec.results for n, _u, _t in MEASUREMENTS) and reason:
            sec.unavailable_all(peer, reason, status="failed")
    return common.section(sec.ordered_results(), notes + sec.notes, status=status, reason=reason)


def main(argv=None):
    import argparse
    import shutil
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=common.MODES, default="quick")
    ap.add_argument("--build", default="build", help="meson build dir with fulcrumd, fulcrumctl")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="fulcrum-bench-lab_e2e.")
    try:
        ctx = common.Context(mode=args.mode, build_dir=os.path.abspath(args.build), work_dir=work)
        t0 = time.monotonic()
        try:
            rec = run(ctx)
        except BaseException as e:  # noqa: B036 - labtest turns SIGINT/SIGTERM into this
            if type(e).__name__ != "Interrupted":
                raise
            common.log("lab_e2e: interrupted (%s); the lab was removed" % e)
            return 130
        rec["duration_s"] = round(time.monotonic() - t0, 1)
        print(json.dumps(rec, indent=2))
        return 0 if rec["status"] in ("ok", "partial") else 1
    finally:
        if args.keep:
            common.log("lab_e2e: work dir kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
