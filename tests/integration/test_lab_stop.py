#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Acceptance point F: SIGTERM stops fulcrumd within 2 s and leaves nothing behind.

For each port driver (net_af_xdp, then net_af_packet): fulcrumd on lb0 forwards a few HTTP
requests, then gets SIGTERM (the first time sent here to its PID and timed here; the second
time through `lab.sh lb-stop lb0`, whose printed stop time is read). Afterwards: the process is
gone and nothing runs in fl-lb0; its kernel interface fulcrum-lan is gone from fl-lb0; no XDP
program stays on lb0-0; no new files under /var/run/dpdk (fulcrumd runs with --no-shconf; EAL's empty runtime
directory /var/run/dpdk/rte, made on a host's first run and never removed, is allowed);
no new hugepage files (/dev/hugepages, if mounted) and no new DPDK files in /dev/shm.
"""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

STOP_LIMIT_MS = 2000
EAL_RUNTIME_DIRS = {"/var/run/dpdk/rte"}
RUNS = [("af_xdp", "own"), ("af_packet", "lab.sh")]
PER_RUN = 8
PLANNED = PER_RUN * len(RUNS)


def listing(root, name_filter=None):
    """Every path under root (files and directories), or an empty set if root is absent."""
    found = set()
    if not os.path.isdir(root):
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            if name_filter is None or re.search(name_filter, n):
                found.add(os.path.join(dirpath, n))
    return found


def snapshot():
    return {
        "/var/run/dpdk": listing("/var/run/dpdk"),
        "/dev/hugepages": listing("/dev/hugepages"),
        "/dev/shm": listing("/dev/shm", r"rte|dpdk|fulcrum"),
    }


def stop_by_signal(pid):
    """SIGTERM to pid; ms until it is gone (polled every 5 ms, bounded at 10 s, then SIGKILL)."""
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    for _ in range(2000):
        if not labtest.proc_alive(pid):
            return (time.monotonic() - t0) * 1000.0
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    return None


def one_run(lab, tap, driver, how):
    before = snapshot()
    lab.lb_start("lb0", "fnat", driver=driver)
    pid = lab.fulcrumd_pid("lb0")
    load = lab.http_load(["%s:%d" % (labtest.VIP, labtest.HTTP_PORT)], 20)
    links_running = lab.exec("lb0", ["ip", "-o", "link", "show"], timeout=10).stdout
    tap.ok(pid is not None and load["ok"] == 20 and "fulcrum-lan" in links_running,
           "%s: fulcrumd (PID %s) runs, holds fulcrum-lan and forwards 20 requests (%d ok)" % (
               driver, pid, load["ok"]), "; ".join(load.get("errors", [])))
    if pid is None:
        raise RuntimeError("no fulcrumd PID recorded for lb0")

    if how == "own":
        ms = stop_by_signal(pid)
        detail = "timed here: SIGTERM to PID %d" % pid
    else:
        r = lab.lb_stop("lb0")
        m = re.search(r"stopped in (\d+) ms", r.stderr)
        ms = float(m.group(1)) if m else None
        detail = "lab.sh lb-stop: %s" % r.stderr.strip().splitlines()[-1:]
    tap.diag("%s: %s; stopped in %s ms" % (driver, detail, "%.0f" % ms if ms is not None else "?"))
    tap.ok(ms is not None and ms <= STOP_LIMIT_MS,
           "%s: SIGTERM stops fulcrumd within %d ms (%s ms)" % (
               driver, STOP_LIMIT_MS, "%.0f" % ms if ms is not None else "did not stop"),
           lab.lb_log("lb0")[-1500:])

    # Give the kernel a moment to finish tearing down what the process held (bounded).
    left_pids, links = "?", "?"
    for _ in range(20):
        left_pids = labtest.run(["ip", "netns", "pids", "fl-lb0"], timeout=10).stdout.split()
        links = lab.exec("lb0", ["ip", "-o", "link", "show"], timeout=10).stdout
        if not left_pids and "fulcrum-lan" not in links and " xdp" not in links:
            break
        time.sleep(0.1)
    tap.ok(not labtest.proc_alive(pid) and not left_pids,
           "%s: the process is gone and nothing runs in fl-lb0" % driver,
           "pid %d alive %s; fl-lb0 pids %s" % (pid, labtest.proc_alive(pid), left_pids))
    tap.ok("fulcrum-lan" not in links, "%s: kernel interface fulcrum-lan is gone from fl-lb0" % driver,
           links)
    tap.ok(not re.search(r"\bxdp", links), "%s: no XDP program left on lb0-0" % driver, links)

    after = snapshot()
    new = {k: sorted(after[k] - before[k]) for k in after}
    # EAL creates its runtime directory even with --no-shconf (for the telemetry socket, which
    # it removes at exit) and never removes the directory: allowed, and reported.
    runtime_dirs = [p for p in new["/var/run/dpdk"] if p in EAL_RUNTIME_DIRS and os.path.isdir(p)]
    if runtime_dirs:
        tap.diag("%s: EAL left its (empty) runtime directory: %s" % (driver, " ".join(runtime_dirs)))
    new["/var/run/dpdk"] = [p for p in new["/var/run/dpdk"] if p not in runtime_dirs]
    tap.ok(not new["/var/run/dpdk"], "%s: no new files under /var/run/dpdk (%d before, %d after)" % (
        driver, len(before["/var/run/dpdk"]), len(after["/var/run/dpdk"])), " ".join(new["/var/run/dpdk"]))
    huge = "mounted" if os.path.ismount("/dev/hugepages") else "not mounted"
    tap.ok(not new["/dev/hugepages"], "%s: no new hugepage files (/dev/hugepages %s)" % (driver, huge),
           " ".join(new["/dev/hugepages"]))
    tap.ok(not new["/dev/shm"], "%s: no new DPDK files in /dev/shm" % driver, " ".join(new["/dev/shm"]))
    log = lab.lb_log("lb0")
    tap.diag("%s: fulcrumd's last lines: %s" % (
        driver, " | ".join(l for l in log.splitlines()[-6:] if "fulcrumd:" in l)))
    return ms


def body(tap):
    with labtest.Lab(tap, "fnat") as lab:
        times = {}
        for driver, how in RUNS:
            times[driver] = one_run(lab, tap, driver, how)
        tap.diag("figure: SIGTERM to exit: %s" % ", ".join(
            "%s %s ms" % (d, "%.0f" % t if t is not None else "?") for d, t in times.items()))


if __name__ == "__main__":
    labtest.main_wrapper(PLANNED, body)
