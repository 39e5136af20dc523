#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kill -9 of fulcrumd while it forwards, and its restart (issue 8, crash and restart).

lb0 (VRRP priority 150) and lb1 (100), nopreempt, both with nova-api as a standby pool
(failback = false) and a state file each. Before the crash the writer is moved off the first
backend (c0's HTTP server stopped, then started again: with failback = false c1 stays the
writer).

1. scripts/fulcrumd.service restarts after a crash: Restart=always with a short RestartSec, and
   `systemd-analyze verify` accepts the unit (where systemd-analyze exists).
2. While a client loop runs through the VIP, lb0's fulcrumd (the master) gets SIGKILL: lb1 takes
   over and the loop's answers come from c1, the writer, on both sides of the gap.
3. Restarted the way the unit does it (RestartSec later, same command line), lb0 comes back as
   VRRP BACKUP (nopreempt), its standby writer is c1 again (read back from its state file, not
   the config's first backend), and the loop sees no second interruption.
4. Nothing stale: the restart took over the API socket path the killed process left, the
   exception interface exists once, and after a clean stop of both nodes no DPDK runtime
   directory and no hugepage file of theirs is left.
"""

import configparser
import glob
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402
from labtest import CONTROLLERS, HTTP_PORT, VIP, ms  # noqa: E402

PLANNED = 4
TARGET = "%s:%d" % (VIP, HTTP_PORT)
UNIT = os.path.join(labtest.SOURCE_ROOT, "scripts", "fulcrumd.service")


def unit_restart():
    """(Restart=, RestartSec= in seconds) of the shipped unit."""
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(UNIT)
    svc = cp["Service"]
    sec = svc.get("RestartSec", "0").strip()
    value = float(sec[:-2]) / 1000 if sec.endswith("ms") else float(sec.rstrip("s") or 0)
    return svc.get("Restart", "no").strip(), value


def config(tmp, node, priority):
    cfg = labtest.LbConfig(tmp, "crash-" + node, node=node)
    cfg.services = labtest.service_toml(
        "nova-api", HTTP_PORT, [(a, None, None) for a in CONTROLLERS.values()],
        check='type = "http", path = "/", expect = 200, interval = "200ms", timeout = "200ms", '
              'rise = 1, fall = 2', pool="standby", failback=False)
    cfg.extra = labtest.vrrp_toml(priority)
    cfg.write()
    return cfg


def vrrp_state(cfg):
    return labtest.ctl_vrrp(cfg.socket).get("state")


def writer(cfg):
    listing = labtest.ctl_list(cfg.socket) or {}
    for svc in listing.get("services", []):
        for b in svc.get("backends", []):
            if b.get("serving"):
                return next((n for n, a in CONTROLLERS.items() if a == b["address"]), None)
    return None


def dpdk_leftovers():
    found = []
    for pattern in ("/var/run/dpdk/*", "/dev/hugepages/*map_*", "/dev/hugepages/rtemap*"):
        found += glob.glob(pattern)
    return found


def body(tap):
    restart, restart_sec = unit_restart()
    verify = labtest.run(["sh", "-c", "command -v systemd-analyze >/dev/null || exit 77; "
                          "t=$(mktemp -d) && sed 's|/usr/local/bin/fulcrumd|/bin/true|' '%s' "
                          "> \"$t/fulcrumd.service\" && systemd-analyze verify "
                          "\"$t/fulcrumd.service\"; rc=$?; rm -rf \"$t\"; exit $rc" % UNIT],
                         timeout=60)
    tap.ok(restart in ("always", "on-failure", "on-abnormal") and 0 < restart_sec <= 5
           and verify.returncode in (0, 77),
           "fulcrumd.service restarts fulcrumd after a crash (Restart=%s, RestartSec=%gs); "
           "systemd-analyze verify: %s" % (restart, restart_sec,
                                           "ok" if verify.returncode == 0 else "not installed"),
           verify.stdout + verify.stderr)

    leftovers_before = dpdk_leftovers()
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "fnat") as lab:
        cfg0, cfg1 = config(tmp, "lb0", 150), config(tmp, "lb1", 100)
        lab.lb_start_config(cfg0, node="lb0")
        labtest.wait_for(lambda: vrrp_state(cfg0) == "MASTER", 3.0)
        lab.lb_start_config(cfg1, node="lb1")
        # Move the writer to c1 on both nodes; with failback = false it stays there.
        lab.lab("http-stop", "c0", timeout=20)
        moved = labtest.wait_for(lambda: writer(cfg0) == "c1" and writer(cfg1) == "c1", 5.0)
        lab.lab("http-start", "c0", timeout=40)
        time.sleep(1.0)
        tap.diag("writer before the crash: lb0 %s, lb1 %s (moved after %s s)" % (
            writer(cfg0), writer(cfg1), moved))

        stop = os.path.join(tmp, "stop")
        loop = lab.client(tmp, "http-loop", "--target", TARGET, "--interval", "0.02",
                          "--timeout", "0.2", "--duration", "30", "--stop-file", stop)
        try:
            time.sleep(0.5)
            pid = lab.fulcrumd_pid("lb0")
            t_kill = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            labtest.wait_for(lambda: not labtest.proc_alive(pid), 2.0, step=0.005)
            took = labtest.wait_for(lambda: vrrp_state(cfg1) == "MASTER", 3.0)
            # The unit's restart: RestartSec after the death, the same command line.
            time.sleep(restart_sec)
            t_restart = time.monotonic()
            lab.lb_start_config(cfg0, node="lb0")
            restarted = time.monotonic() - t_restart
            back = labtest.wait_for(lambda: vrrp_state(cfg0) == "BACKUP", 3.0)
            time.sleep(1.0)
        finally:
            open(stop, "w").close()
        records = loop.finish(15).get("records", [])
        answers = sorted({r[2] for r in records if not r[2].startswith("ERR")})
        ok = [r for r in records if not r[2].startswith("ERR")]
        after = [r[1] for r in ok if r[1] > t_kill]
        before = [r[1] for r in ok if r[1] <= t_kill]
        gap = ms(min(after) - max(before)) if after and before else None
        late = [r for r in records if after and r[0] > min(after) and r[2].startswith("ERR")]
        tap.diag("figure: kill -9 of the master: lb1 master after %s ms; client gap %s ms; "
                 "lb0 restarted in %d ms" % (ms(took) if took else "-", gap, ms(restarted)))
        tap.ok(took is not None and gap is not None and gap < 1000 and answers == ["c1"],
               "SIGKILL of lb0 (master) while forwarding: lb1 takes over (gap %s ms) and every "
               "answer before and after comes from the writer c1" % gap,
               "answers %s; %d records" % (answers, len(records)))
        tap.ok(back is not None and writer(cfg0) == "c1" and not late,
               "lb0 restarted as the unit would: VRRP BACKUP (nopreempt), standby writer c1 "
               "restored from its state file, no second interruption",
               "state %s, writer %s, late failures %s" % (vrrp_state(cfg0), writer(cfg0),
                                                          late[:2]))
        links = labtest.run(["ip", "-n", "fl-lb0", "-o", "link", "show"], timeout=5).stdout
        taps = links.count("fulcrum-lan")
        lab.lb_stop("lb1")
        lab.lb_stop("lb0")
        time.sleep(0.3)
        new = sorted(set(dpdk_leftovers()) - set(leftovers_before))
        tap.ok(taps == 1 and not new,
               "nothing stale: the restarted fulcrumd took over the API socket path, one "
               "exception interface, and after a clean stop no DPDK runtime or hugepage file "
               "is left", "fulcrum-lan count %d; left: %s" % (taps, new))
        if tap.failed:
            tap.diag("fulcrumd log on lb0 (tail):\n" + lab.lb_log("lb0")[-2500:])


if __name__ == "__main__":
    labtest.require_environment()
    labtest.require_fulcrumctl()
    labtest.main_wrapper(PLANNED, body)
