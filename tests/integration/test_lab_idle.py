#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An idle fulcrumd with poll = "adaptive" uses under 5% of a core: its workers back off to
sleeps (RCU-offline) when no packet comes. Measured as CPU time the process consumed (utime +
stime from /proc), which does not depend on how busy the shared machine is. Idle means no
client traffic; fulcrumd still health-checks its backends at the default pace (1 s)."""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

MEASURE_S = 5.0
LIMIT = 0.05  # of one core


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def body(tap):
    with labtest.WaitingLab(tap, "fnat") as lab, labtest.TempDir() as tmp:
        backends = [(a, None, None) for a in ("192.0.2.10", "192.0.2.11", "192.0.2.12")]
        cfg = labtest.LbConfig(tmp, "idle")
        cfg.write(labtest.service_toml("nova-api", labtest.HTTP_PORT, backends,
                                       check='type = "http"') +
                  labtest.service_toml("galera", 3306, backends, check='type = "mysql"'))
        lab.lb_start_config(cfg)
        pid = lab.fulcrumd_pid("lb0")
        r = lab.http_load(["%s:%d" % (labtest.VIP, labtest.HTTP_PORT)], 20)
        tap.ok(r.get("failures", 1) == 0, "fulcrumd forwards (20 requests) before going idle")
        time.sleep(1.0)  # gratuitous ARP and neighbour resolution are done by now
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(MEASURE_S)
        c1, t1 = cpu_seconds(pid), time.monotonic()
        share = (c1 - c0) / (t1 - t0)
        tap.diag("figure: idle fulcrumd (adaptive) used %.1f%% of one core over %.1f s"
                 % (100 * share, t1 - t0))
        tap.ok(share < LIMIT, "idle fulcrumd uses under %d%% of a core (%.1f%%)"
               % (100 * LIMIT, 100 * share))


if __name__ == "__main__":
    labtest.main_wrapper(2, body)
