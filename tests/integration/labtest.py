# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the namespace-lab integration tests (tests/integration/test_lab_*.py).

Each test script brings up its own lab with scripts/lab.sh, runs fulcrumd on lb0, checks one
group of acceptance points and prints TAP. The lab's namespace names are fixed (fl-*), so the
scripts never run in parallel (meson: is_parallel: false).

Cleanup is guaranteed: `Lab` is a context manager whose exit runs `lab.sh down`, also on an
exception and on SIGINT / SIGTERM / SIGHUP (turned into an exception, so `finally` runs). The
`down` runs in its own session, so a harness that follows its SIGTERM with a SIGKILL to our
process group (meson does, 0.5 s later) does not cut the teardown short. A lab that existed
before the test started is never touched: the test then fails instead.

Only Debian's /usr/bin/python3 standard library is used here (scapy only in hostile_frames.py).
Every wait is bounded in count and time.
"""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"

LAB_SCRIPT = os.environ.get("FULCRUM_LAB_SCRIPT") or os.path.join(SOURCE_ROOT, "scripts", "lab.sh")
FULCRUM_BIN = os.environ.get("FULCRUM_BIN") or os.path.join(SOURCE_ROOT, "build", "fulcrumd")
STATE_DIR = os.environ.get("FULCRUM_LAB_STATE") or "/run/fulcrum-lab"

VIP = "192.0.2.26"
HTTP_PORT = 8774
MYSQL_PORT = 3306
LB0_ADDR = "192.0.2.2"
LB0_MAC = "02:00:00:00:02:02"
LB_ADDRS = {"lb0": LB0_ADDR, "lb1": "192.0.2.3"}
LB_MACS = {"lb0": LB0_MAC, "lb1": "02:00:00:00:02:03"}
CLIENT_ADDR = "192.0.2.100"
CONTROLLERS = {"c0": "192.0.2.10", "c1": "192.0.2.11", "c2": "192.0.2.12"}
DB_USER = "fulcrum"
DB_PASSWORD = "fulcrum"
NS_PREFIX = "fl-"
LAB_NAMESPACES = ["fl-sw", "fl-client", "fl-c0", "fl-c1", "fl-c2", "fl-lb0", "fl-lb1",
                  "fl-router"]
# The scale-out lab (lab.sh up --ecmp): the client sits behind fl-router, which learns the VIP
# over BGP from the LB nodes' BIRDs and spreads flows over them (ECMP).
ROUTER_ADDR = "192.0.2.1"
ECMP_CLIENT_ADDR = "198.18.0.100"

HTTP_LOAD = os.path.join(HERE, "http_load.py")
BULK_GET = os.path.join(HERE, "bulk_get.py")
HOSTILE_FRAMES = os.path.join(HERE, "hostile_frames.py")


# ---------------------------------------------------------------------------- TAP

class Tap:
    """Minimal TAP producer: plan first, one line per acceptance point, diagnostics as '#'."""

    def __init__(self, planned):
        self.planned = planned
        self.n = 0
        self.failed = 0
        print("TAP version 13")
        print("1..%d" % planned, flush=True)

    def ok(self, cond, desc, details=""):
        self.n += 1
        line = "%s %d - %s" % ("ok" if cond else "not ok", self.n, desc)
        if not cond:
            self.failed += 1
            if details:
                line += " # " + " ".join(str(details).split())[:600]
        print(line, flush=True)
        return bool(cond)

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            print("# " + line, flush=True)

    def bail_out(self, reason):
        print("Bail out! " + " ".join(str(reason).split())[:600], flush=True)

    def finish(self):
        # Points never reached (an earlier step failed) count as failures.
        while self.n < self.planned:
            self.ok(False, "not reached", "an earlier step failed")
        return 1 if self.failed else 0


def skip_all(reason):
    """Skips the whole script: TAP plan '1..0 # SKIP reason' and exit status 77 (the
    autotools skip code). Meson's TAP protocol counts any non-zero exit as an ERROR, so
    tests/meson.build sets FULCRUM_SKIP_EXIT=0: meson then reports SKIP from the plan line."""
    print("1..0 # SKIP " + reason, flush=True)
    sys.exit(int(os.environ.get("FULCRUM_SKIP_EXIT", "77")))


def require_environment():
    if os.geteuid() != 0:
        skip_all("needs root (network namespaces)")
    if not (os.path.isfile(FULCRUM_BIN) and os.access(FULCRUM_BIN, os.X_OK)):
        skip_all("fulcrumd is not built (%s)" % FULCRUM_BIN)
    if not os.path.isfile(LAB_SCRIPT):
        skip_all("lab script missing (%s)" % LAB_SCRIPT)
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    for tool in ("ip", "mariadb", "curl", "ping"):
        if shutil.which(tool, path=path) is None:
            skip_all("missing %s (run scripts/lab-packages.sh)" % tool)


# ---------------------------------------------------------------------------- signals

class Interrupted(BaseException):
    """Raised from a signal handler so that `finally` blocks run."""


_signal_seen = []


def _on_signal(signum, _frame):
    if _signal_seen:
        return  # already unwinding: let the cleanup finish
    _signal_seen.append(signum)
    raise Interrupted("signal %d" % signum)


def install_signal_handlers():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


def ignore_signals():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)


# ---------------------------------------------------------------------------- processes

def run(cmd, timeout, check=False, input_text=None):
    """Runs cmd (a list) with a bound on time; returns CompletedProcess with text output.
    On timeout the child is killed (by subprocess, through its PID) and rc is 124."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=check, input=input_text, stdin=None if input_text else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(cmd, 124, out, err + "\n(timed out after %ss)" % timeout)


def netns_cmd(node, argv):
    return ["ip", "netns", "exec", NS_PREFIX + node] + list(argv)


def proc_alive(pid):
    """Alive and not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def proc_starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def lab_state(key):
    """What lab.sh recorded under key in its state dir (tmpdir, mode, ...), or ""."""
    try:
        with open(os.path.join(STATE_DIR, key)) as f:
            return f.read().strip()
    except OSError:
        return ""


def lab_exists():
    return os.path.isdir(STATE_DIR) or any(
        os.path.exists("/run/netns/" + ns) for ns in LAB_NAMESPACES)


# ---------------------------------------------------------------------------- counters

WORKER_RE = re.compile(
    r"fulcrumd: info: worker (\d+): rx (\d+), forwarded (\d+), replied (\d+), to kernel (\d+), "
    r"from kernel (\d+), dropped (\d+), new flows (\d+)")
DROP_RE = re.compile(r"fulcrumd: info: drop ([a-z0-9_]+): (\d+)")


class Counters:
    def __init__(self, workers, drops):
        self.workers = workers   # {id: {rx, forwarded, replied, to_kernel, from_kernel, dropped, new_flows}}
        self.drops = drops       # {reason: count}

    def total(self, key):
        return sum(w[key] for w in self.workers.values())

    def drop(self, reason):
        return self.drops.get(reason, 0)

    def minus(self, before):
        workers = {i: {k: v - before.workers.get(i, {}).get(k, 0) for k, v in w.items()}
                   for i, w in self.workers.items()}
        drops = {r: c - before.drops.get(r, 0) for r, c in self.drops.items()}
        return Counters(workers, {r: c for r, c in drops.items() if c})


def parse_counters(text):
    workers, drops = {}, {}
    for m in WORKER_RE.finditer(text):
        keys = ("rx", "forwarded", "replied", "to_kernel", "from_kernel", "dropped", "new_flows")
        workers[int(m.group(1))] = dict(zip(keys, (int(g) for g in m.groups()[1:])))
    for m in DROP_RE.finditer(text):
        drops[m.group(1)] = int(m.group(2))
    return Counters(workers, drops)


# ---------------------------------------------------------------------------- the lab

class Lab:
    """`with Lab(tap, "fnat") as lab:` builds the lab and always removes it."""

    def __init__(self, tap, mode="fnat"):
        self.tap = tap
        self.mode = mode
        self.owned = False

    # -- lifetime
    def __enter__(self):
        install_signal_handlers()
        if lab_exists():
            raise RuntimeError("a lab already exists (state %s or fl-* namespaces); not touching "
                               "it: run `%s down` first" % (STATE_DIR, LAB_SCRIPT))
        self.owned = True  # from here on, whatever exists is ours to remove
        try:
            t0 = time.monotonic()
            r = self.lab("up", self.mode, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("lab.sh up %s failed (rc %d): %s" % (
                    self.mode, r.returncode, r.stderr.strip()[-800:]))
            self.tap.diag("lab up (%s) in %.1f s" % (self.mode, time.monotonic() - t0))
        except BaseException:
            # __exit__ does not run when __enter__ raises (a failed up, or a signal meanwhile).
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.down()
        except Interrupted:  # a signal in the instant before down() ignores them
            self.down()
        return False

    def down(self):
        if not self.owned:
            return
        ignore_signals()  # a second Ctrl-C must not cut the teardown short
        rc = None
        for _attempt in range(2):
            # Own session, and output to a file, not a pipe: if we are killed meanwhile (meson
            # sends SIGKILL to our process group 0.5 s after SIGTERM), `down` neither gets the
            # SIGKILL nor a SIGPIPE on its next log line, and finishes.
            with tempfile.TemporaryFile(mode="w+") as out_file:
                p = subprocess.Popen(["bash", LAB_SCRIPT, "down"], stdin=subprocess.DEVNULL,
                                     stdout=out_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
                try:
                    rc = p.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    rc = 124
                out_file.seek(0)
                out = out_file.read()
            if rc == 0:
                break
            self.tap.diag("lab.sh down: rc %s: %s" % (rc, out.strip()[-500:]))
        self.owned = False
        if lab_exists():
            self.tap.diag("warning: lab still present after down")

    # -- commands
    def lab(self, *args, timeout=60):
        return run(["bash", LAB_SCRIPT] + list(args), timeout=timeout)

    def exec(self, node, argv, timeout=60, input_text=None):
        return run(netns_cmd(node, argv), timeout=timeout, input_text=input_text)

    def lb_start(self, node="lb0", mode=None, driver=None):
        args = ["lb-start", node, mode or self.mode]
        if driver:
            args += ["--driver", driver]
        r = self.lab(*args, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("lab.sh %s failed (rc %d): %s\n%s" % (
                " ".join(args), r.returncode, r.stderr.strip()[-800:], self.lb_log(node)[-1500:]))
        m = re.search(r"fulcrumd runs on \S+ \((\w+), (net_\w+)\)", r.stderr)
        self.tap.diag("fulcrumd started on %s: %s" % (node, m.group(0) if m else r.stderr.strip()))
        return r

    def lb_stop(self, node="lb0"):
        return self.lab("lb-stop", node, timeout=30)

    def lb_log(self, node="lb0"):
        return self.lab("lb-log", node, timeout=15).stdout

    def fulcrumd_pid(self, node="lb0"):
        """The recorded PID of fulcrumd on node if that process still runs, else None."""
        found = None
        try:
            with open(os.path.join(STATE_DIR, "pids")) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        for line in lines:
            parts = line.split()
            if len(parts) != 3 or parts[2] != "fulcrumd-" + node or not parts[0].isdigit():
                continue
            pid = int(parts[0])
            if proc_starttime(pid) == parts[1] and proc_alive(pid):
                found = pid
        return found

    def counters(self, node="lb0", timeout_s=5.0):
        """SIGUSR1 to fulcrumd, then reads the dump it appends to its log (polled)."""
        pid = self.fulcrumd_pid(node)
        if pid is None:
            raise RuntimeError("fulcrumd does not run on %s" % node)
        before = self.lb_log(node)
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        last, stable = None, 0
        while time.monotonic() < deadline:
            time.sleep(0.1)
            text = self.lb_log(node)[len(before):]
            if WORKER_RE.search(text):
                # One dump is a few lines written back to back; wait until the log is still.
                stable = stable + 1 if text == last else 0
                if stable >= 2:
                    return parse_counters(text)
            last = text
        raise RuntimeError("no counter dump in %s's log %.0f s after SIGUSR1" % (node, timeout_s))

    # -- client-side load
    def http_load(self, targets, n, timeout=3.0, path="/", bound_s=None):
        argv = [PYTHON, "-I", HTTP_LOAD, "-n", str(n), "--timeout", str(timeout), "--path", path]
        for t in targets:
            argv += ["--target", t]
        bound = bound_s or (30 + n * timeout)
        r = self.exec("client", argv, timeout=bound)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"ok": 0, "failures": n, "counts": {}, "elapsed_s": 0.0,
                    "errors": ["http_load rc %d: %s %s" % (r.returncode, r.stdout[-300:], r.stderr[-300:])]}

    def mysql_loop(self, host, n, port=MYSQL_PORT):
        """n `select name from lab.whoami` from the client, one connection each, in one shell
        loop inside the client namespace. Returns (counts by name, failure lines)."""
        script = (
            'for i in $(seq 1 %d); do '
            'out=$(timeout 10 mariadb --no-defaults --connect-timeout=3 -h %s -P %d -u %s -p%s '
            '-N -B -e "select name from lab.whoami" 2>&1) || out="FAIL rc=$?: $out"; '
            'printf "%%s\\n" "$(printf "%%s" "$out" | tr "\\n" " ")"; done'
            % (n, host, port, DB_USER, DB_PASSWORD))
        t0 = time.monotonic()
        r = self.exec("client", ["bash", "-c", script], timeout=30 + n * 11)
        elapsed = time.monotonic() - t0
        counts, failures = {}, []
        lines = r.stdout.splitlines()
        for line in lines:
            line = line.strip()
            if line in CONTROLLERS:
                counts[line] = counts.get(line, 0) + 1
            else:
                failures.append(line)
        if len(lines) < n:
            failures.append("only %d of %d queries ran (rc %d): %s" % (
                len(lines), n, r.returncode, r.stderr.strip()[-300:]))
        return counts, failures, elapsed


def spread_ok(counts, n, share_lo=0.8, share_hi=1.2):
    """Every controller got n/3 +- 20% of the requests."""
    expected = n / len(CONTROLLERS)
    lo, hi = math.floor(expected * share_lo), math.ceil(expected * share_hi)
    return all(lo <= counts.get(c, 0) <= hi for c in CONTROLLERS), (lo, hi)


def main_wrapper(planned, body):
    """Runs body(tap) with the environment checked; TAP plan printed first; exit status 1 when
    any point failed, and every point not reached counts as failed."""
    require_environment()
    tap = Tap(planned)
    started = time.monotonic()
    try:
        body(tap)
    except Interrupted as e:
        tap.diag("interrupted (%s); lab removed" % e)
        tap.finish()
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - report any failure as TAP, never a bare traceback
        import traceback
        tap.diag(traceback.format_exc())
        if tap.n < tap.planned:
            tap.ok(False, "test body raised", repr(e))
    tap.diag("duration %.1f s" % (time.monotonic() - started))
    sys.exit(tap.finish())


# ---------------------------------------------------------------------------- shared checks

def balancing_checks(lab, tap, mode, n_http=1000, n_sql=100):
    """Acceptance A / B through the VIP: n_http HTTP requests (new connection each, all succeed,
    every controller n/3 +- 20%) and n_sql MySQL queries (all succeed, names among c0..c2).
    Also measures the figures for the closing note: requests/s through the VIP next to the same
    load straight to c0 and spread by the client over c0..c2, and fulcrumd's packet rate.
    Emits 5 TAP points."""
    vip = "%s:%d" % (VIP, HTTP_PORT)
    before = lab.counters("lb0")
    load = lab.http_load([vip], n_http)
    after = lab.counters("lb0")
    delta = after.minus(before)
    tap.diag("%s: %d requests to %s: %s" % (mode, n_http, vip, json.dumps(
        {k: load[k] for k in ("ok", "failures", "counts", "elapsed_s", "rps")}, sort_keys=True)))
    tap.ok(load["ok"] == n_http and load["failures"] == 0,
           "%s: %d HTTP requests to VIP:%d, a new connection each, all succeed (%d ok)" % (
               mode, n_http, HTTP_PORT, load["ok"]),
           "; ".join(load.get("errors", [])) + " | fulcrumd drops: " + json.dumps(delta.drops))
    good, (lo, hi) = spread_ok(load["counts"], n_http)
    tap.ok(good, "%s: every controller answers %d..%d of them: %s" % (
        mode, lo, hi, ", ".join("%s %d" % (c, load["counts"].get(c, 0)) for c in sorted(CONTROLLERS))),
        json.dumps(load["counts"], sort_keys=True))

    figures = {"mode": mode, "vip_rps": load["rps"]}
    if load["elapsed_s"] > 0:
        figures["vip_rx_pps"] = round(delta.total("rx") / load["elapsed_s"])
        figures["vip_fwd_pps"] = round(delta.total("forwarded") / load["elapsed_s"])
        figures["packets_per_request"] = round(delta.total("rx") / max(load["ok"], 1), 1)
    tap.diag("%s: fulcrumd during that load: rx %d, forwarded %d, new flows %d, dropped %d %s" % (
        mode, delta.total("rx"), delta.total("forwarded"), delta.total("new_flows"),
        delta.total("dropped"), json.dumps(delta.drops, sort_keys=True)))

    direct = lab.http_load(["%s:%d" % (CONTROLLERS["c0"], HTTP_PORT)], n_http)
    spread = lab.http_load(["%s:%d" % (a, HTTP_PORT) for a in CONTROLLERS.values()], n_http)
    tap.ok(direct["failures"] == 0 and spread["failures"] == 0,
           "%s: baseline without the load balancer: %d requests straight to c0 and %d spread "
           "by the client over c0..c2 all succeed" % (mode, n_http, n_http),
           "; ".join(direct.get("errors", []) + spread.get("errors", [])))
    figures["direct_c0_rps"] = direct["rps"]
    figures["direct_spread_rps"] = spread["rps"]

    counts, failures, elapsed = lab.mysql_loop(VIP, n_sql)
    ok_sql = sum(counts.values())
    tap.diag("%s: %d MySQL queries via VIP:%d in %.1f s: %s" % (
        mode, n_sql, MYSQL_PORT, elapsed, json.dumps(counts, sort_keys=True)))
    tap.ok(ok_sql == n_sql and not failures,
           "%s: %d MySQL `select name from lab.whoami` via VIP:%d all succeed (%d ok, names %s)" % (
               mode, n_sql, MYSQL_PORT, ok_sql, ",".join(sorted(counts))),
           "; ".join(failures[:5]))
    tap.ok(set(counts) <= set(CONTROLLERS) and len(counts) >= 2,
           "%s: the MySQL answers name controllers (%s), more than one of them" % (
               mode, json.dumps(counts, sort_keys=True)))
    figures["mysql_qps"] = round(ok_sql / elapsed, 1) if elapsed > 0 else 0.0

    tap.diag("figure: %s: HTTP new connection per request: through VIP %.0f req/s; straight to c0 "
             "%.0f req/s; client-spread over c0..c2 %.0f req/s (sequential client, 1 connection at a "
             "time)" % (mode, figures["vip_rps"], figures["direct_c0_rps"], figures["direct_spread_rps"]))
    if "vip_rx_pps" in figures:
        tap.diag("figure: %s: fulcrumd packet rate during the VIP load: rx %d pkt/s, forwarded %d pkt/s "
                 "(%.1f packets per request)" % (mode, figures["vip_rx_pps"], figures["vip_fwd_pps"],
                                                 figures["packets_per_request"]))
    tap.diag("figure: %s: MySQL via VIP, one mariadb CLI process and connection per query: %.1f "
             "queries/s" % (mode, figures["mysql_qps"]))
    return figures


def ping_ok(lab, tap, target, what, count=3):
    r = lab.exec("client", ["ping", "-c", str(count), "-i", "0.2", "-W", "1", target], timeout=15)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    got = int(m.group(2)) if m else 0
    return tap.ok(r.returncode == 0 and got == count,
                  "the client pings %s %s (%d/%d answered)" % (what, target, got, count),
                  (r.stdout + r.stderr).strip()[-300:])


# ---------------------------------------------------------------------------- own configs
#
# Used by the health-check, pool and runtime-API tests (test_lab_health.py, test_lab_ctl.py,
# test_lab_galera_pools.py): a lab that waits for another one to go away, fulcrumd started with
# the test's own config, fulcrumctl, the metrics page, and client programs (lab_clients.py)
# running in the background inside the client namespace.

FULCRUMCTL = os.environ.get("FULCRUMCTL") or os.path.join(os.path.dirname(FULCRUM_BIN),
                                                           "fulcrumctl")
LAB_CLIENTS = os.path.join(HERE, "lab_clients.py")
METRICS_URL = "http://127.0.0.1:9108/metrics"

WAIT_UP_ATTEMPTS = 8      # while a lab we did not make exists: retry `up` this often ...
WAIT_UP_RETRY_S = 15      # ... this far apart (about 2 minutes in all)


def require_fulcrumctl():
    if not (os.path.isfile(FULCRUMCTL) and os.access(FULCRUMCTL, os.X_OK)):
        skip_all("fulcrumctl is not built (%s)" % FULCRUMCTL)


class WaitingLab(Lab):
    """`with WaitingLab(tap, "fnat", galera=True) as lab:` — like Lab, but a lab that someone
    else brought up is waited for (bounded) instead of failing at once, and it is never touched:
    this lab owns what it removes only once its own `up` made the state dir (a failed `up`
    removes what it made itself; one that had to be killed leaves its remains to us). `up` runs
    in its own session with output to a file; on a timeout or a signal it gets SIGTERM (by PID),
    so that its own trap removes its half-built lab."""

    def __init__(self, tap, mode="fnat", galera=False, up_timeout=None, ecmp=False):
        super().__init__(tap, mode)
        self.galera = galera
        self.ecmp = ecmp
        self.up_timeout = up_timeout or (180 if galera else 120)

    def __enter__(self):
        install_signal_handlers()
        try:
            self._bring_up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _bring_up(self):
        args = ["up", self.mode] + (["--galera"] if self.galera else []) + (
            ["--ecmp"] if self.ecmp else [])
        for attempt in range(1, WAIT_UP_ATTEMPTS + 1):
            if lab_exists():
                out = "a lab already exists"
            else:
                rc, out, secs = self._up_once(args)
                if rc == 0:
                    self.owned = True
                    self.tap.diag("lab up (%s%s%s) in %.1f s" % (
                        self.mode, ", galera" if self.galera else "",
                        ", ecmp" if self.ecmp else "", secs))
                    return
                if "a lab already exists" not in out and "cannot create state dir" not in out:
                    if rc in (124, 137) or "teardown after failed up was incomplete" in out:
                        self.owned = True
                    raise RuntimeError("lab.sh %s failed (rc %d): %s" % (
                        " ".join(args), rc, out.strip()[-900:]))
            if attempt < WAIT_UP_ATTEMPTS:
                self.tap.diag("another lab exists (not ours: left alone); retrying in %d s "
                              "(%d/%d)" % (WAIT_UP_RETRY_S, attempt, WAIT_UP_ATTEMPTS))
                time.sleep(WAIT_UP_RETRY_S)
        raise RuntimeError("another lab kept existing for %d s; not touching it" % (
            WAIT_UP_ATTEMPTS * WAIT_UP_RETRY_S))

    def _up_once(self, args):
        t0 = time.monotonic()
        with tempfile.TemporaryFile(mode="w+") as out_file:
            p = subprocess.Popen(["bash", LAB_SCRIPT] + args, stdin=subprocess.DEVNULL,
                                 stdout=out_file, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                rc = p.wait(timeout=self.up_timeout)
            except (subprocess.TimeoutExpired, Interrupted):
                self._stop_up(p)
                if _signal_seen:
                    raise Interrupted("signal during up")
                rc = 124
            out_file.seek(0)
            return rc, out_file.read(), time.monotonic() - t0

    def _stop_up(self, p):
        ignore_signals()
        try:
            p.terminate()
            try:
                p.wait(timeout=90)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.owned = True  # killed mid-way: what it made is ours to remove
        finally:
            install_signal_handlers()

    # -- fulcrumd with the test's own config
    def lb_start_config(self, cfg, node="lb0"):
        """Starts fulcrumd on node with LbConfig cfg (already written); with af_xdp first and,
        if that fails to start, net_af_packet (as lb-start does for its own config). lb-start
        returns once every checked backend has a result. Returns the CompletedProcess."""
        drivers = [cfg.driver] + [d for d in ("af_xdp", "af_packet") if d != cfg.driver]
        r = None
        for driver in drivers:
            cfg.set_driver(driver)
            r = self.lab("lb-start", node, "--config", cfg.path, timeout=60)
            if r.returncode == 0:
                settled = re.search(r"every checked backend has a result after \d+ ms.*", r.stderr)
                self.tap.diag("fulcrumd started on %s with %s (net_%s)%s" % (
                    node, os.path.basename(cfg.path), driver,
                    "; " + settled.group(0) if settled else ""))
                return r
            self.tap.diag("lb-start %s with net_%s failed: %s" % (node, driver,
                                                                  r.stderr.strip()[-300:]))
        raise RuntimeError("fulcrumd did not start on %s with %s: %s\n%s" % (
            node, cfg.path, r.stderr.strip()[-600:], self.lb_log(node)[-1500:]))

    def metrics(self, node="lb0"):
        """(status line + headers, body) of fulcrumd's metrics page, fetched inside node."""
        # Bytes, not text mode: universal newlines would hide a stray '\r' in the page.
        try:
            r = subprocess.run(netns_cmd(node, ["curl", "-s", "-m", "5", "--noproxy", "*", "-D",
                                                "-", METRICS_URL]),
                               capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return "", ""
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        return head.decode(errors="replace"), body.decode(errors="replace")

    def client(self, tmpdir, *argv):
        """Starts lab_clients.py with argv in the client namespace, in the background."""
        return ClientProc(tmpdir, "client", [PYTHON, "-I", LAB_CLIENTS] + list(argv))


class LbConfig:
    """A fulcrumd config for an LB node written by a test: lab.sh's generated [dataplane],
    [[port]] and [api] (socket, state file and log of its own in tmpdir, metrics on
    127.0.0.1:9108 inside the node), the services the test gives, and `extra` (more tables,
    such as [[vrrp]])."""

    def __init__(self, tmpdir, name, node="lb0"):
        self.tmpdir = tmpdir
        self.node = node
        self.path = os.path.join(tmpdir, name + ".toml")
        self.socket = os.path.join(tmpdir, name + "-api.sock")
        self.state_file = os.path.join(tmpdir, name + "-state.json")
        self.driver = "af_xdp"
        self.services = ""
        self.extra = ""
        self.gateway = None
        self.flows_per_worker = 65536

    def text(self):
        return """# Written by %s
[dataplane]
workers = 1
poll = "adaptive"
flows_per_worker = %d
eal = ["--no-huge", "-m", "256"]

[[port]]
name = "lan"
device = "net_%s0,iface=%s-0"
address = "%s/24"
%s
[api]
socket = "%s"
state_file = "%s"
metrics = "127.0.0.1:9108"
%s%s""" % (os.path.basename(sys.argv[0]), self.flows_per_worker, self.driver, self.node,
           LB_ADDRS[self.node], 'gateway = "%s"\n' % self.gateway if self.gateway else "",
           self.socket, self.state_file, self.services, self.extra)

    def write(self, services=None):
        """Writes the file atomically (a reload never reads half of it)."""
        if services is not None:
            self.services = services
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.text())
        os.replace(tmp, self.path)

    def set_driver(self, driver):
        self.driver = driver
        self.write()


def toml_value(v):
    """v as a TOML value: booleans, integers, strings and lists of strings."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, (list, tuple)):
        return "[%s]" % ", ".join(toml_value(x) for x in v)
    return '"%s"' % v


def service_toml(name, port, backends, check=None, vip=VIP, **keys):
    """One [[service]] table. backends: [(address, port or None, weight or None)]; check: the
    inline table's body; keys: more keys (strings quoted, booleans and integers as TOML)."""
    lines = ["", "[[service]]", 'name = "%s"' % name, 'vip = "%s"' % vip, "port = %d" % port]
    lines += ["%s = %s" % (k, toml_value(v)) for k, v in keys.items()]
    if check:
        lines.append("check = { %s }" % check)
    items = []
    for addr, bport, weight in backends:
        item = 'address = "%s"' % addr
        if bport is not None:
            item += ", port = %d" % bport
        if weight is not None:
            item += ", weight = %d" % weight
        items.append("{ %s }" % item)
    lines.append("backends = [ %s ]" % ",\n             ".join(items))
    return "\n".join(lines) + "\n"


def vrrp_toml(priority, advert_interval="100ms", **keys):
    """The lab's [[vrrp]] table: instance VI_1, VRID 51 on port "lan", the VIP; keys: more keys
    (preempt, version, notify, track_services, unicast_peers, ...)."""
    lines = ["", "[[vrrp]]", 'name = "VI_1"', 'port = "lan"', "vrid = 51",
             "priority = %d" % priority, 'advert_interval = "%s"' % advert_interval,
             'vips = ["%s"]' % VIP]
    lines += ["%s = %s" % (k, toml_value(v)) for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def ctl_json(sock, command, timeout=5):
    """`fulcrumctl COMMAND --json` parsed, or {} when fulcrumctl gave no JSON."""
    r = fulcrumctl(sock, command, "--json", timeout=timeout)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {}


def ctl_vrrp(sock):
    """The first VRRP instance as `fulcrumctl vrrp --json` shows it, or {}."""
    return (ctl_json(sock, "vrrp").get("instances") or [{}])[0]


def fulcrumctl(sock, *args, timeout=15):
    """fulcrumctl -s sock args...; CompletedProcess (rc 124 when it had to be killed)."""
    return run([FULCRUMCTL, "-s", sock] + [str(a) for a in args], timeout=timeout)


def ctl_list(sock):
    """The parsed `fulcrumctl list --json`, or None when fulcrumctl failed."""
    r = fulcrumctl(sock, "list", "--json", timeout=10)
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def ctl_backend(listing, service, address):
    """The backend entry at address in service of a `list --json` reply, or None."""
    for svc in (listing or {}).get("services", []):
        if svc.get("name") != service:
            continue
        for b in svc.get("backends", []):
            if b.get("address") == address:
                return b
    return None


def ctl_summary(listing, service):
    """'c0 up/enabled/serving, c1 down(...)...' for diagnostics."""
    names = {a: n for n, a in CONTROLLERS.items()}
    out = []
    for svc in (listing or {}).get("services", []):
        if svc.get("name") != service:
            continue
        for b in svc.get("backends", []):
            check = b.get("check") or {}
            out.append("%s %s/%s%s%s" % (
                names.get(b.get("address"), b.get("address")), b.get("health"), b.get("admin"),
                "/serving" if b.get("serving") else "",
                "" if check.get("ok", True) else " (%s)" % check.get("reason")))
    return ", ".join(out) if out else "(no service %s)" % service


class ClientProc:
    """A program running in the background in a lab namespace, stdout to a file in tmpdir (a
    file, not a pipe: it can be read while the program runs, and nothing blocks on it). Ended
    by PID; the lab's `down` also ends anything left in its namespaces."""

    _count = 0

    def __init__(self, tmpdir, node, argv):
        ClientProc._count += 1
        self.out_path = os.path.join(tmpdir, "client-%d.out" % ClientProc._count)
        self.err_path = self.out_path[:-4] + ".err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.p = subprocess.Popen(netns_cmd(node, argv), stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=err)

    def lines(self):
        with open(self.out_path) as f:
            return [json.loads(line) for line in f.read().splitlines() if line.startswith("{")]

    def wait_line(self, key, timeout):
        """The first JSON line that has key, waiting at most timeout seconds; None if none."""
        deadline = time.monotonic() + timeout
        while True:
            for obj in self.lines():
                if key in obj:
                    return obj
            if time.monotonic() >= deadline or self.p.poll() is not None:
                return None
            time.sleep(0.02)

    def finish(self, timeout):
        """Waits (bounded) for the program to end; its last JSON line, or {"error": ...}."""
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return {"error": "did not end within %.0f s" % timeout}
        found = self.lines()
        if not found:
            with open(self.err_path) as f:
                return {"error": "no output (rc %s): %s" % (self.p.returncode, f.read()[-300:])}
        return found[-1]

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class TempDir:
    """`with TempDir() as d:` a private temp dir, removed on exit (also on errors)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="fulcrum-test.")
        os.chmod(self.path, 0o700)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def ms(seconds):
    return int(round(seconds * 1000))


def failover_gap(records, t_kill):
    """(gap ms, failures after it, total requests) of an http-loop's records around a kill at
    t_kill (time.monotonic()). The gap is the longest time without an answer that ends after
    t_kill: from one answer to the next (by the time each arrived), so that a request already
    on its way back through the old master when it died does not end the outage early."""
    ok = sorted(r[1] for r in records if not r[2].startswith("ERR"))
    gaps = [(b - a, b) for a, b in zip(ok, ok[1:]) if b > t_kill]
    if not gaps or not any(t <= t_kill for t in ok):
        return None, [], len(records)
    gap, back = max(gaps)
    late_failures = [r for r in records if r[0] > back and r[2].startswith("ERR")]
    return ms(gap), late_failures, len(records)


def wait_for(pred, limit_s, step=0.02):
    """Polls pred() every step seconds; the seconds it took to hold, or None after limit_s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def read_pid_file(path):
    """The PID in a pid file (keepalived's --pid / --vrrp_pid), or None."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill_keepalived(proc, vrrp_pid_file):
    """SIGKILL of keepalived's VRRP child (from its pid file) and of the parent (Popen proc),
    by PID; waits until both are gone. A killed keepalived leaves its VIPs on the interface:
    remove them if the test stands for a dead host."""
    child = read_pid_file(vrrp_pid_file)
    if child is not None and proc_alive(child):
        os.kill(child, signal.SIGKILL)
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=5)
    wait_for(lambda: child is None or not proc_alive(child), 1.0, 0.005)


def holds_address(node, ifname, addr):
    """Whether addr is on ifname in node's namespace (where keepalived puts a VIP)."""
    r = run(["ip", "-n", NS_PREFIX + node, "-4", "addr", "show", "dev", ifname], timeout=5)
    return (" %s/" % addr) in r.stdout


def rss_kib(pid):
    """VmRSS of a process in KiB, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
