#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Two fulcrumd nodes share the VIP through VRRP (issue 6, acceptance points 1, 2, 5, 6, 7).

lb0 (priority 150) and lb1 (priority 100), VRRPv3 multicast, adverts every 100 ms, each with a
notify script that appends "NODE INSTANCE STATE" to one file.

1. lb0 becomes master and serves VIP:8774. Then, KILLS times: an HTTP loop on the client (a new
   connection every 10 ms, 100 ms timeout, bounded) runs while the master's fulcrumd gets
   SIGKILL; the other node takes over; the gap with no successful request (last answer before
   the kill to the first after it) must stay under 600 ms (goal: 400 ms); min/median/max are
   reported.
2. The killed node is restarted each time with preempt = false: it comes back as BACKUP and the
   loop sees no second interruption (no failed request once the survivor answers). Then lb0 with
   preempt = true and preempt_delay = "2s" is restarted while lb1 is master: it takes the VIP
   back about 2 s after its start (1.5 to 3.5 s).
5. Tracking: lb0 tracks nova-api (track_priority_delta = 60) and is master; lb1 (preempt) does
   not track. `lab.sh http-stop` of all three controllers: lb0 drops to priority 90 and lb1 takes
   the VIP; http-start: lb0 is back to 150.
6. Each node's notify lines, in order, are exactly the transitions the test caused.
7. DSR (`lab.sh dsr-on`), both nodes with forward = "dsr": an HTTP/1.1 keep-alive connection
   opened through lb0 (a request every 50 ms) goes on through lb1 after lb0 is killed: Maglev
   gives lb1 the same backend for it.
"""

import json
import os
import signal
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402
import prom_text  # noqa: E402
from labtest import CONTROLLERS, HTTP_PORT, VIP, ms  # noqa: E402

KILLS = 10
GAP_LIMIT_MS = 600
PLANNED = 3 + KILLS + 2 + 2 + 2 + 2
NODES = ("lb0", "lb1")
PRIORITY = {"lb0": 150, "lb1": 100}
TARGET = "%s:%d" % (VIP, HTTP_PORT)


def other(node):
    return "lb1" if node == "lb0" else "lb0"


class Pair:
    """The two nodes' configs, the notify log, and what the test expects it to hold."""

    def __init__(self, lab, tap, tmp):
        self.lab, self.tap, self.tmp = lab, tap, tmp
        self.notify_log = os.path.join(tmp, "notify.log")
        self.script = os.path.join(tmp, "notify.sh")
        with open(self.script, "w") as f:
            f.write('#!/bin/sh\necho "$*" >> %s\n' % self.notify_log)
        os.chmod(self.script, 0o755)
        self.cfg = {n: labtest.LbConfig(tmp, "vrrp-" + n, node=n) for n in NODES}
        self.expected = {n: [] for n in NODES}  # notify lines each node must have written
        self.forward = "fnat"
        self.write_all()

    def write(self, node, preempt=False, preempt_delay="0s", track=False, forward=None):
        cfg = self.cfg[node]
        self.forward = forward or self.forward
        cfg.services = labtest.service_toml(
            "nova-api", HTTP_PORT, [(a, None, None) for a in CONTROLLERS.values()],
            check='type = "http", path = "/", expect = 200, interval = "200ms", '
                  'timeout = "200ms", rise = 1, fall = 2', forward=self.forward)
        keys = {"preempt": preempt, "preempt_delay": preempt_delay,
                "notify": "%s %s" % (self.script, node)}
        if track:
            keys.update(track_services=["nova-api"], track_priority_delta=60)
        cfg.extra = labtest.vrrp_toml(PRIORITY[node], **keys)
        cfg.write()

    def write_all(self, **keys):
        for n in NODES:
            self.write(n, **keys)

    def start(self, node):
        self.lab.lb_start_config(self.cfg[node], node=node)
        self.expected[node].append("BACKUP")  # every start: Initialize -> Backup

    def stop(self, node):
        was_master = self.state(node) == "MASTER"
        self.lab.lb_stop(node)
        if was_master:
            self.expected[node].append("BACKUP")

    def stop_both(self):
        """The backup first: stopping a master first would hand the VIP to the other node."""
        for n in sorted(NODES, key=lambda n: self.state(n) == "MASTER"):
            self.stop(n)

    def kill(self, node):
        pid = self.lab.fulcrumd_pid(node)
        if pid is None:
            raise RuntimeError("fulcrumd does not run on %s" % node)
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):
            if not labtest.proc_alive(pid):
                break
            time.sleep(0.005)

    def vrrp(self, node):
        return labtest.ctl_vrrp(self.cfg[node].socket)

    def state(self, node):
        return self.vrrp(node).get("state")

    def wait_state(self, node, state, limit_s):
        """Polls until node is in state; seconds it took, or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit_s:
            if self.state(node) == state:
                return time.monotonic() - t0
            time.sleep(0.02)
        return None

    def notified(self):
        lines = {n: [] for n in NODES}
        try:
            with open(self.notify_log) as f:
                for line in f.read().splitlines():
                    parts = line.split()
                    if len(parts) == 3 and parts[0] in lines and parts[1] == "VI_1":
                        lines[parts[0]].append(parts[2])
        except OSError:
            pass
        return lines

    def wait_notified(self, limit_s=3.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit_s and self.notified() != self.expected:
            time.sleep(0.05)
        return self.notified()


def http_loop(lab, tmp, stop, duration=20):
    return lab.client(tmp, "http-loop", "--target", TARGET, "--interval", "0.01", "--timeout",
                      "0.1", "--duration", str(duration), "--stop-file", stop)


def point_master(pair, tap):
    pair.start("lb0")
    pair.start("lb1")
    took = pair.wait_state("lb0", "MASTER", 3.0)
    pair.expected["lb0"].append("MASTER")
    s0, s1 = pair.vrrp("lb0"), pair.vrrp("lb1")
    tap.ok(took is not None and s1.get("state") == "BACKUP" and s1.get("master") == "192.0.2.2",
           "lb0 (priority 150) is MASTER, lb1 (100) BACKUP and follows 192.0.2.2",
           "lb0 %s; lb1 %s" % (s0, s1))
    r = pair.lab.http_load([TARGET], 30, timeout=2.0)
    neigh = pair.lab.exec("client", ["ip", "neigh", "show", VIP], timeout=5).stdout.strip()
    tap.ok(r["ok"] == 30 and labtest.LB_MACS["lb0"] in neigh,
           "VIP:8774 is served through lb0: 30 of 30 requests answered, the client's ARP entry "
           "for the VIP is lb0's MAC (%s)" % neigh, json.dumps(r)[:400])


def vrrp_metrics(lab, node):
    """{family: {tuple(labels): value}} of the fulcrum_vrrp_* families on node, or an error."""
    _head, body = lab.metrics(node)
    try:
        fams = prom_text.by_family(prom_text.parse(body))
    except prom_text.ParseError as e:
        return {}, str(e)
    out = {}
    for name, fam in fams.items():
        if name.startswith("fulcrum_vrrp_"):
            out[name] = {tuple(s.labels): s.value for s in fam.samples}
    return out, ""


def point_metrics(pair, tap):
    m0, e0 = vrrp_metrics(pair.lab, "lb0")
    m1, e1 = vrrp_metrics(pair.lab, "lb1")
    key = (("instance", "VI_1"),)
    state0 = m0.get("fulcrum_vrrp_state", {}).get(key)
    state1 = m1.get("fulcrum_vrrp_state", {}).get(key)
    sent0 = m0.get("fulcrum_vrrp_adverts_sent_total", {}).get(key, 0)
    recv1 = m1.get("fulcrum_vrrp_adverts_received_total", {}).get(key, 0)
    prio1 = m1.get("fulcrum_vrrp_effective_priority", {}).get(key)
    tap.ok(not e0 and not e1 and state0 == 2 and state1 == 1 and sent0 > 0 and recv1 > 0
           and prio1 == 100,
           "metrics: fulcrum_vrrp_state is 2 (master) on lb0 and 1 (backup) on lb1; lb0 sent %d "
           "adverts, lb1 received %d" % (sent0, recv1),
           "%s %s | lb0 %s | lb1 %s" % (e0, e1, m0, m1))


def point_kills(pair, tap, tmp):
    """Acceptance 1 and the first half of 2."""
    gaps = []
    master = "lb0"
    for i in range(1, KILLS + 1):
        survivor = other(master)
        stop = os.path.join(tmp, "stop-kill-%d" % i)
        loop = http_loop(pair.lab, tmp, stop)
        detail = ""
        try:
            time.sleep(0.4)
            t_kill = time.monotonic()
            pair.kill(master)
            took = pair.wait_state(survivor, "MASTER", 3.0)
            pair.expected[survivor].append("MASTER")
            time.sleep(0.3)
            pair.start(master)  # preempt = false: comes back as BACKUP, no second interruption
            back = pair.wait_state(master, "BACKUP", 3.0)
            time.sleep(0.5)
        finally:
            open(stop, "w").close()
        result = loop.finish(10)
        gap, late, total = labtest.failover_gap(result.get("records", []), t_kill)
        if gap is not None:
            gaps.append(gap)
        detail = "%s took over in %s ms (fulcrumctl); %s restarted as %s" % (
            survivor, ms(took) if took is not None else "NEVER", master,
            "BACKUP" if back is not None else pair.state(master))
        tap.ok(gap is not None and gap < GAP_LIMIT_MS and took is not None and back is not None
               and not late and pair.state(survivor) == "MASTER",
               "kill %d: SIGKILL of the master %s: %s takes over, gap %s ms (< %d); %s comes back "
               "as BACKUP and the %d-request loop sees no failure after the takeover" % (
                   i, master, survivor, gap, GAP_LIMIT_MS, master, total),
               "%s; late failures %s; %s" % (detail, late[:3], result.get("error", "")))
        master = survivor
    if gaps:
        tap.diag("figure: failover gap after SIGKILL of the master, %d kills: min %d ms, median "
                 "%d ms, max %d ms (all: %s)" % (len(gaps), min(gaps), statistics.median(gaps),
                                                max(gaps), gaps))
    return master


def point_preempt(pair, tap, tmp, master):
    """Acceptance 2, second half: lb0 with preempt = true, preempt_delay = 2s."""
    if master == "lb0":
        # lb1 must be master for lb0 to have something to preempt.
        pair.kill("lb0")
        pair.wait_state("lb1", "MASTER", 3.0)
        pair.expected["lb1"].append("MASTER")
    else:
        pair.stop("lb0")
    pair.write("lb0", preempt=True, preempt_delay="2s")
    t_start = time.monotonic()
    pair.start("lb0")
    took = pair.wait_state("lb0", "MASTER", 6.0)
    t_master = time.monotonic()
    if took is not None:
        pair.expected["lb0"].append("MASTER")
    lb1_back = pair.wait_state("lb1", "BACKUP", 2.0)
    if lb1_back is not None:
        pair.expected["lb1"].append("BACKUP")
    after = t_master - t_start
    tap.diag("figure: lb0 with preempt_delay = 2s became master %d ms after lb-start returned" %
             ms(after))
    tap.ok(took is not None and 1.5 <= after <= 3.5 and lb1_back is not None,
           "preempt = true, preempt_delay = \"2s\": restarted lb0 takes the VIP back from lb1 "
           "after %d ms (1500-3500), lb1 goes BACKUP" % ms(after),
           "lb0 %s; lb1 %s" % (pair.vrrp("lb0"), pair.vrrp("lb1")))
    r = pair.lab.http_load([TARGET], 20, timeout=2.0)
    tap.ok(r["ok"] == 20, "after the preemption the VIP is served (20 of 20 requests)",
           json.dumps(r)[:300])


def point_tracking(pair, tap):
    """Acceptance 5. lb0 (master after point 2) tracks nova-api; lb1 preempts, tracks nothing."""
    pair.stop_both()
    pair.write("lb0", track=True)
    pair.write("lb1", preempt=True)
    pair.start("lb0")
    pair.wait_state("lb0", "MASTER", 3.0)
    pair.expected["lb0"].append("MASTER")
    pair.start("lb1")
    time.sleep(0.3)
    stopped = []
    try:
        for c in CONTROLLERS:
            if pair.lab.lab("http-stop", c, timeout=20).returncode == 0:
                stopped.append(c)
        took = pair.wait_state("lb1", "MASTER", 4.0)
        s0 = pair.vrrp("lb0")
        if took is not None:
            pair.expected["lb1"].append("MASTER")
            pair.expected["lb0"].append("BACKUP")
        tap.ok(len(stopped) == 3 and took is not None and s0.get("effective_priority") == 90
               and s0.get("state") == "BACKUP" and s0.get("tracked_out") == ["nova-api"],
               "tracking: with all 3 HTTP servers stopped lb0 drops to priority 90 (150 - 60), "
               "lb1 (100, preempt) takes the VIP",
               "stopped %s; lb0 %s; lb1 %s" % (stopped, s0, pair.vrrp("lb1")))
    finally:
        for c in stopped:
            pair.lab.lab("http-start", c, timeout=40)
    t0 = time.monotonic()
    prio = None
    while time.monotonic() - t0 < 5.0:
        prio = pair.vrrp("lb0").get("effective_priority")
        if prio == 150:
            break
        time.sleep(0.05)
    tap.ok(prio == 150 and pair.state("lb1") == "MASTER",
           "tracking: once the servers are back lb0's priority is 150 again (nopreempt: lb1 "
           "keeps the VIP)", "lb0 %s; lb1 %s" % (pair.vrrp("lb0"), pair.vrrp("lb1")))


def point_notify(pair, tap):
    """Acceptance 6."""
    got = pair.wait_notified()
    for n in NODES:
        tap.ok(got[n] == pair.expected[n],
               "notify on %s ran once per transition, in order: %s" % (n, " ".join(got[n])),
               "expected %s" % " ".join(pair.expected[n]))


def point_dsr(pair, tap, tmp):
    """Acceptance 7: a long-lived connection survives the failover with DSR."""
    pair.stop_both()
    r = pair.lab.lab("dsr-on", timeout=30)
    pair.write_all(forward="dsr")
    pair.start("lb0")
    pair.wait_state("lb0", "MASTER", 3.0)
    pair.expected["lb0"].append("MASTER")
    pair.start("lb1")
    stop = os.path.join(tmp, "stop-keepalive")
    conn = pair.lab.client(tmp, "http-keepalive", "--target", TARGET, "--interval", "0.05",
                           "--timeout", "3", "--duration", "20", "--stop-file", stop)
    try:
        first = conn.wait_line("first", 5.0)
        time.sleep(0.5)
        t_kill = time.monotonic()
        pair.kill("lb0")
        took = pair.wait_state("lb1", "MASTER", 3.0)
        if took is not None:
            pair.expected["lb1"].append("MASTER")
        time.sleep(1.5)
    finally:
        open(stop, "w").close()
    result = conn.finish(10)
    records = result.get("records", [])
    errors = [x for x in records if x[2].startswith("ERR")]
    after = [x for x in records if x[0] > t_kill and not x[2].startswith("ERR")]
    name = (first or {}).get("first")
    stall = max((b[1] - a[1] for a, b in zip(records, records[1:])), default=0)
    tap.diag("figure: DSR keep-alive connection across the failover: %d requests, %d after the "
             "kill, longest wait between answers %d ms" % (len(records), len(after), ms(stall)))
    tap.ok(r.returncode == 0 and name in CONTROLLERS and not errors and len(after) >= 15
           and all(x[2] == name for x in records),
           "DSR: an HTTP keep-alive connection opened through lb0 (pinned to %s) goes on through "
           "lb1 after lb0's SIGKILL: %d requests after the kill, all answered by %s" % (
               name, len(after), name),
           "dsr-on rc %d; errors %s; %s" % (r.returncode, errors[:2], result.get("error", "")))
    counts = pair.lab.http_load([TARGET], 30, timeout=2.0)
    tap.ok(counts["ok"] == 30, "DSR through lb1 afterwards: 30 of 30 new requests answered",
           json.dumps(counts)[:300])
    pair.lab.lab("dsr-off", timeout=30)


def body(tap):
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "fnat") as lab:
        pair = Pair(lab, tap, tmp)
        t = time.monotonic()
        try:
            point_master(pair, tap)
            point_metrics(pair, tap)
            master = point_kills(pair, tap, tmp)
            tap.diag("points 1 and 2 (SIGKILL failovers, nopreempt) took %.1f s" % (
                time.monotonic() - t))
            t = time.monotonic()
            point_preempt(pair, tap, tmp, master)
            tap.diag("point 2 (preempt_delay) took %.1f s" % (time.monotonic() - t))
            t = time.monotonic()
            point_tracking(pair, tap)
            tap.diag("point 5 (tracking) took %.1f s" % (time.monotonic() - t))
            point_notify(pair, tap)
            t = time.monotonic()
            point_dsr(pair, tap, tmp)
            tap.diag("point 7 (DSR connection survives) took %.1f s" % (time.monotonic() - t))
        finally:
            if tap.failed:
                for n in NODES:
                    tap.diag("fulcrumd log on %s (tail):\n%s" % (n, lab.lb_log(n)[-2500:]))


if __name__ == "__main__":
    labtest.require_environment()
    labtest.require_fulcrumctl()
    labtest.main_wrapper(PLANNED, body)
