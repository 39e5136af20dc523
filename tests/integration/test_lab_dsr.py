#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Acceptance point B: A in direct server return.

`lab.sh up dsr` puts the VIP on each controller's lo (arp_ignore=1, arp_announce=2) and
`lab.sh lb-start lb0 dsr` runs fulcrumd with forward = "dsr": the client's packets go through
lb0, the controllers answer the client directly. 1,000 HTTP requests to VIP:8774, a new
connection each, all succeed, each controller 333 +- 20%; 100 MySQL queries via VIP:3306 all
succeed. Also the VIP answers ping (the data plane, not a controller's lo), and the figures
for the closing note in DSR.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

PLANNED = 5 + 2


def body(tap):
    with labtest.Lab(tap, "dsr") as lab:
        # The lab is really in DSR: the VIP is on every controller's lo.
        missing = []
        for c in labtest.CONTROLLERS:
            r = lab.exec(c, ["ip", "-4", "-o", "addr", "show", "dev", "lo"], timeout=10)
            if labtest.VIP + "/32" not in r.stdout:
                missing.append(c)
        tap.ok(not missing, "dsr: the VIP is on the lo of c0, c1 and c2",
               "missing on " + ",".join(missing))
        lab.lb_start("lb0", "dsr")
        labtest.balancing_checks(lab, tap, "dsr")
        labtest.ping_ok(lab, tap, labtest.VIP, "the VIP")
        if tap.failed:
            tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-3000:])


if __name__ == "__main__":
    labtest.main_wrapper(PLANNED, body)
