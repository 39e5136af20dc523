#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Acceptance points A and D, FNAT.

A: 1,000 HTTP requests from the client to VIP:8774, a new connection each, all succeed and each
controller answers 333 +- 20% of them; 100 MySQL `select name from lab.whoami` through VIP:3306
all succeed and name controllers. D: the client pings the VIP (answered by the data plane) and
lb0's own address 192.0.2.2 (its kernel, through the exception path); lb0's kernel reaches c0
through the exception path (`curl http://192.0.2.10:8774/` inside fl-lb0 prints c0).
Also prints the figures for the closing note (requests/s through the VIP and straight to the
controllers, fulcrumd's packet rate).
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

PLANNED = 5 + 3


def body(tap):
    with labtest.Lab(tap, "fnat") as lab:
        lab.lb_start("lb0", "fnat")
        labtest.balancing_checks(lab, tap, "fnat")
        labtest.ping_ok(lab, tap, labtest.VIP, "the VIP")
        labtest.ping_ok(lab, tap, labtest.LB0_ADDR, "lb0's own address")
        r = lab.lab("exec", "lb0", "curl", "-s", "-m", "5", "--noproxy", "*",
                    "http://%s:%d/" % (labtest.CONTROLLERS["c0"], labtest.HTTP_PORT), timeout=15)
        tap.ok(r.returncode == 0 and r.stdout.strip() == "c0",
               "lb0's kernel reaches c0 through the exception path (curl printed %r)" % r.stdout.strip(),
               "rc %d %s" % (r.returncode, r.stderr.strip()))
        if tap.failed:
            tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-3000:])


if __name__ == "__main__":
    labtest.main_wrapper(PLANNED, body)
