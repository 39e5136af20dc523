#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Acceptance point C: a long transfer through the VIP arrives intact.

GET /bytes/200000000 from the client to VIP:8774 (FNAT) over one TCP connection; the client
streams the body into a SHA-256 and compares it with the SHA-256 of the expected pattern
(byte i = i % 251) computed locally, also streamed (tests/integration/bulk_get.py). Also
prints the throughput and fulcrumd's packet rate during the transfer, and the same transfer
straight from a controller for comparison.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

SIZE = 200_000_000
PLANNED = 4


def bulk(lab, target):
    r = lab.exec("client", [labtest.PYTHON, "-I", labtest.BULK_GET, "--target", target,
                            "-n", str(SIZE), "--max-seconds", "200"], timeout=240)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": "bulk_get.py rc %d: %s" % (r.returncode, (r.stdout + r.stderr)[-600:]),
                "received": 0, "sha256": "", "expected_sha256": "-", "elapsed_s": 0, "mb_per_s": 0}


def body(tap):
    with labtest.Lab(tap, "fnat") as lab:
        lab.lb_start("lb0", "fnat")
        before = lab.counters("lb0")
        res = bulk(lab, "%s:%d" % (labtest.VIP, labtest.HTTP_PORT))
        after = lab.counters("lb0")
        delta = after.minus(before)
        tap.diag("through the VIP: %s" % json.dumps(res, sort_keys=True))
        tap.ok(res.get("status") == 200 and res["received"] == SIZE and not res.get("error"),
               "%d bytes over one connection through VIP:%d arrive in full (%d received, from %s)" % (
                   SIZE, labtest.HTTP_PORT, res["received"], res.get("backend")),
               "error %s; fulcrumd drops %s" % (res.get("error"), json.dumps(delta.drops)))
        tap.ok(res["sha256"] == res["expected_sha256"],
               "their SHA-256 equals that of the expected pattern (%s)" % res["expected_sha256"][:16],
               "got %s, first differing byte at %s" % (res["sha256"], res.get("first_mismatch")))
        if res["elapsed_s"]:
            tap.diag("figure: bulk through the VIP (FNAT): %.1f MB/s; fulcrumd rx %d pkt/s, forwarded "
                     "%d pkt/s (rx %d, forwarded %d, dropped %d in %.1f s)" % (
                         res["mb_per_s"], delta.total("rx") / res["elapsed_s"],
                         delta.total("forwarded") / res["elapsed_s"], delta.total("rx"),
                         delta.total("forwarded"), delta.total("dropped"), res["elapsed_s"]))
        pid = lab.fulcrumd_pid("lb0")
        tap.ok(pid is not None and delta.total("dropped") == 0,
               "fulcrumd still runs and dropped nothing during the transfer",
               "pid %s, drops %s" % (pid, json.dumps(delta.drops)))

        direct = bulk(lab, "%s:%d" % (labtest.CONTROLLERS["c0"], labtest.HTTP_PORT))
        tap.diag("straight from c0: %s" % json.dumps(direct, sort_keys=True))
        tap.ok(direct["received"] == SIZE and direct["sha256"] == direct["expected_sha256"],
               "baseline: the same transfer straight from c0 arrives intact",
               "error %s, received %d" % (direct.get("error"), direct["received"]))
        tap.diag("figure: bulk straight from c0 (no load balancer): %.1f MB/s" % direct["mb_per_s"])
        if tap.failed:
            tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-3000:])


if __name__ == "__main__":
    labtest.main_wrapper(PLANNED, body)
