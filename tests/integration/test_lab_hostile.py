#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Acceptance point E: 10,000 malformed or hostile frames from the client namespace.

9,000 frames in ten malformed categories (about equal parts, see hostile_frames.py) and 1,000
frames of random bytes, sent with scapy to lb0's port MAC or broadcast. Then: fulcrumd still
runs; the counter dump (SIGUSR1) shows a non-zero drop counter for every reason the malformed
categories map to, and those counters account for at least 95% of the malformed frames (the
random frames are sent after that dump and only have to be survived); and 300 HTTP requests
through the VIP, a new connection each, all succeed.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

MALFORMED = 9000
RANDOM = 1000
HTTP_AFTER = 300
REASONS = ["truncated_ip", "truncated_l4", "bad_ihl", "fragment", "ttl_expired",
           "bad_ip_checksum", "ipv6", "arp_not_for_us"]
PLANNED = 2 + len(REASONS) + 1 + 2 + 1


def send_frames(lab, tap, which, count):
    r = lab.exec("client", [labtest.PYTHON, labtest.HOSTILE_FRAMES, "--set", which,
                            "--count", str(count)], timeout=150)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise RuntimeError("hostile_frames.py --set %s failed (rc %d): %s" % (
            which, r.returncode, (r.stdout + r.stderr).strip()[-800:]))


BRIDGE_NF = ["net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
             "net.bridge.bridge-nf-call-arptables"]


def plain_switch(lab, tap):
    """With br_netfilter in the kernel, a bridge hands IPv4 frames to netfilter, which drops
    every frame with a bad IPv4 header before it reaches lb0: the switch would hide half of
    what this test sends. lab.sh turns it off in fl-sw; check that it did."""
    r = lab.exec("sw", ["sysctl", "-n"] + BRIDGE_NF, timeout=10)
    if r.returncode != 0:
        return  # no br_netfilter in this kernel: nothing can filter
    values = r.stdout.split()
    if any(v != "0" for v in values):
        raise RuntimeError("fl-sw: bridge-netfilter is on (%s): lab.sh should turn it off"
                           % " ".join(values))


def body(tap):
    with labtest.Lab(tap, "fnat") as lab:
        plain_switch(lab, tap)
        lab.lb_start("lb0")
        pid = lab.fulcrumd_pid("lb0")
        tap.diag("fulcrumd PID %s" % pid)
        before = lab.counters("lb0")

        res = send_frames(lab, tap, "malformed", MALFORMED)
        tap.diag("sent %d malformed frames in %.1f s: %s" % (
            res["total"], res["elapsed_s"], json.dumps(res["sent"], sort_keys=True)))
        alive = pid is not None and labtest.proc_alive(pid) and lab.fulcrumd_pid("lb0") == pid
        tap.ok(alive, "fulcrumd (PID %s) still runs after %d malformed frames" % (pid, res["total"]))
        after = lab.counters("lb0")
        tap.ok(True, "SIGUSR1 makes fulcrumd log its counters")
        delta = after.minus(before)
        rx = delta.total("rx")
        tap.diag("worker deltas: rx %d, dropped %d, to kernel %d, replied %d, forwarded %d" % (
            rx, delta.total("dropped"), delta.total("to_kernel"), delta.total("replied"),
            delta.total("forwarded")))
        tap.diag("drop deltas: %s" % json.dumps(delta.drops, sort_keys=True))

        sent_by_reason = {}
        for cat, n in res["sent"].items():
            reason = res["expected"][cat]
            sent_by_reason[reason] = sent_by_reason.get(reason, 0) + n
        for reason in REASONS:
            got, sent = delta.drop(reason), sent_by_reason.get(reason, 0)
            tap.ok(got > 0, "drop %s counted: %d (for %d frames sent)" % (reason, got, sent),
                   "counter did not move; drops seen: %s" % json.dumps(delta.drops, sort_keys=True))
        counted = sum(delta.drop(r) for r in REASONS)
        share = counted / res["total"] if res["total"] else 0.0
        tap.ok(share >= 0.95,
               "drop counters account for %.1f%% of the %d malformed frames (>= 95%%)" % (
                   100 * share, res["total"]),
               "counted %d of %d; worker rx delta %d; drops %s" % (
                   counted, res["total"], rx, json.dumps(delta.drops, sort_keys=True)))

        res = send_frames(lab, tap, "random", RANDOM)
        tap.diag("sent %d random frames in %.1f s" % (res["total"], res["elapsed_s"]))
        final = lab.counters("lb0")
        alive = labtest.proc_alive(pid) and lab.fulcrumd_pid("lb0") == pid
        tap.ok(alive, "fulcrumd (PID %s) still runs after %d random frames" % (pid, res["total"]))
        rdelta = final.minus(after)
        tap.diag("random frames: rx %d, dropped %d, to kernel %d; drops %s" % (
            rdelta.total("rx"), rdelta.total("dropped"), rdelta.total("to_kernel"),
            json.dumps(rdelta.drops, sort_keys=True)))
        tap.ok(final.total("rx") >= after.total("rx"), "counter dump still works after the random frames")

        load = lab.http_load(["%s:%d" % (labtest.VIP, labtest.HTTP_PORT)], HTTP_AFTER)
        tap.diag("HTTP after hostile frames: %s" % json.dumps(load, sort_keys=True))
        tap.ok(load["ok"] == HTTP_AFTER and load["failures"] == 0,
               "%d HTTP requests through the VIP afterwards all succeed (%d ok)" % (HTTP_AFTER, load["ok"]),
               "; ".join(load.get("errors", [])))
        if tap.failed:
            tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-3000:])


if __name__ == "__main__":
    if labtest.run([labtest.PYTHON, "-c", "import scapy.all"], timeout=60).returncode != 0:
        labtest.skip_all("Debian's python3-scapy is not installed")
    labtest.main_wrapper(PLANNED, body)
