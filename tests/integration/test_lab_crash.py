#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kill -9 of fulcrumd while it forwards, and its restart (issue 8, crash and restart).

lb0 (VRRP priority 150) and lb1 (100), nopreempt, both with nova-api as a standby pool
(failback = false) and a state file each. Before the crash the writer is moved off the first
backend (c0's HTTP server stopped, then started again: with failback = false c1 stays the
writer).

lb0's fulcrumd runs under systemd, as scripts/fulcrumd.service: the host's systemd where the
host was booted with it, otherwise a private systemd that the test boots in a PID and mount
namespace of its own (systemd_host.py). The unit is the shipped one with the binary and config
paths replaced. Three lines are added: NetworkNamespacePath= for lb0's namespace, the output to
a file, and DefaultDependencies=no. The last is needed because the shipped unit's default and
network-online dependencies would pull the host's boot units into a private systemd. Only
where no systemd can be had at all (no systemd binary, cgroups not writable) is the restart
emulated: the test says so and starts lb0 again RestartSec after the kill.

1. scripts/fulcrumd.service restarts after a crash: Restart=always with a short RestartSec, and
   `systemd-analyze verify` accepts the unit (where systemd-analyze exists).
2. While a client loop runs through the VIP, lb0's fulcrumd (the master) gets SIGKILL: lb1 takes
   over and the loop's answers come from c1, the writer, on both sides of the gap.
3. systemd restarts it (NRestarts=1, a new main PID; the unit's ExecStopPost ran after the kill
   and its ExecStartPre before each start, as their output shows) and lb0 comes back as VRRP BACKUP
   (nopreempt), its standby writer is c1 again (read back from its state file, not the config's
   first backend), and the loop sees no second interruption.
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
import systemd_host  # noqa: E402
from labtest import CONTROLLERS, HTTP_PORT, VIP, ms  # noqa: E402

PLANNED = 4
TARGET = "%s:%d" % (VIP, HTTP_PORT)
UNIT = os.path.join(labtest.SOURCE_ROOT, "scripts", "fulcrumd.service")
LB0_UNIT = "fulcrum-lab-lb0.service"
STATE_DIRECTORY = "/var/lib/fulcrum"  # the unit's StateDirectory=


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


def lb0_unit(cfg, log):
    """scripts/fulcrumd.service for lb0 (see the module's docstring for what differs)."""
    with open(UNIT) as f:
        text = f.read()
    text = text.replace("/usr/local/bin/fulcrumd", os.path.abspath(labtest.FULCRUM_BIN))
    text = text.replace("/etc/fulcrum/fulcrum.toml", cfg.path)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("Wants=")) + "\n"
    text = text.replace("[Unit]\n", "[Unit]\nDefaultDependencies=no\n", 1)
    return text.replace("[Service]\n", "[Service]\nNetworkNamespacePath=/run/netns/%slb0\n"
                        "StandardOutput=append:%s\nStandardError=inherit\n" % (
                            labtest.NS_PREFIX, log), 1)


def settled(cfg):
    """fulcrumd answers on its API and every backend has its first check result."""
    listing = labtest.ctl_list(cfg.socket)
    return listing is not None and all(
        b.get("health") != "unknown" for svc in listing.get("services", [])
        for b in svc.get("backends", []))


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
    state_dir_existed = os.path.exists(STATE_DIRECTORY)
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "fnat") as lab:
        cfg0, cfg1 = config(tmp, "lb0", 150), config(tmp, "lb1", 100)
        log0 = os.path.join(tmp, "lb0-systemd.log")
        sd = systemd_host.Systemd(tmp)
        try:
            crash_and_restart(tap, lab, sd, tmp, cfg0, cfg1, log0, restart_sec,
                              leftovers_before)
        finally:
            sd.close()
            if not state_dir_existed:
                try:
                    os.rmdir(STATE_DIRECTORY)
                except OSError:
                    pass


def crash_and_restart(tap, lab, sd, tmp, cfg0, cfg1, log0, restart_sec, leftovers_before):
    cfg0.set_driver("af_xdp")
    why = sd.start({LB0_UNIT: lb0_unit(cfg0, log0)})
    if why is None:
        tap.diag("lb0's fulcrumd runs under %s systemd as %s" % (
            "the host's" if sd.mode == "host" else "a private", LB0_UNIT))
        sd.systemctl("start", LB0_UNIT)
        if labtest.wait_for(lambda: settled(cfg0), 30.0, step=0.1) is None:
            raise RuntimeError("fulcrumd did not start under systemd: %s\n%s" % (
                sd.systemctl("status", LB0_UNIT).stdout[-800:], read(log0)[-1500:]))
    else:
        tap.diag("no systemd to run lb0 under (%s): its restart is emulated" % why)
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
    new_pid, restarts, hooks = None, None, {}
    try:
        time.sleep(0.5)
        pid = sd.main_pid(LB0_UNIT) if sd.mode else lab.fulcrumd_pid("lb0")
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        labtest.wait_for(lambda: not labtest.proc_alive(pid), 2.0, step=0.005)
        took = labtest.wait_for(lambda: vrrp_state(cfg1) == "MASTER", 3.0)
        if sd.mode:
            labtest.wait_for(lambda: settled(cfg0), restart_sec + 30.0, step=0.05)
            restarted = time.monotonic() - t_kill
            new_pid = sd.main_pid(LB0_UNIT)
            restarts = sd.prop(LB0_UNIT, "NRestarts")
            # What the unit's hooks printed into its output file: ExecStartPre (--check) before
            # each start, ExecStopPost (--withdraw; no [announce] here) after the kill.
            output = read(log0)
            hooks = {"ExecStartPre": output.count(": configuration is valid"),
                     "ExecStopPost": output.count(": no [announce]: nothing to withdraw")}
        else:
            # The unit's restart: RestartSec after the death, the same command line.
            time.sleep(restart_sec)
            lab.lb_start_config(cfg0, node="lb0")
            restarted = time.monotonic() - t_kill
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
             "lb0 answering again %d ms after the kill (RestartSec=%gs)" % (
                 ms(took) if took else "-", gap, ms(restarted), restart_sec))
    tap.ok(took is not None and gap is not None and gap < 1000 and answers == ["c1"],
           "SIGKILL of lb0 (master) while forwarding: lb1 takes over (gap %s ms) and every "
           "answer before and after comes from the writer c1" % gap,
           "answers %s; %d records" % (answers, len(records)))
    if sd.mode:
        hooks_ok = hooks == {"ExecStartPre": 2, "ExecStopPost": 1}
        how = ("systemd restarted it (NRestarts=%s, main PID %s -> %s; ExecStopPost --withdraw "
               "ran after the kill, ExecStartPre --check before each start)" % (
                   restarts, pid, new_pid))
        by_systemd = restarts == "1" and new_pid not in (None, pid) and hooks_ok
    else:
        how = "restarted as the unit would (no systemd: emulated)"
        by_systemd = True
    tap.ok(by_systemd and back is not None and writer(cfg0) == "c1" and not late,
           "%s: lb0 is VRRP BACKUP (nopreempt), standby writer c1 restored from its state "
           "file, no second interruption" % how,
           "state %s, writer %s, late failures %s, hooks %s" % (
               vrrp_state(cfg0), writer(cfg0), late[:2], hooks))
    links = labtest.run(["ip", "-n", "fl-lb0", "-o", "link", "show"], timeout=5).stdout
    taps = links.count("fulcrum-lan")
    lab.lb_stop("lb1")
    if sd.mode:
        sd.systemctl("stop", LB0_UNIT)
        inside = labtest.run(sd.command(["sh", "-c", "ls -d /run/dpdk/* 2>/dev/null"]),
                             timeout=10).stdout.split()
    else:
        lab.lb_stop("lb0")
        inside = []
    time.sleep(0.3)
    new = sorted(set(dpdk_leftovers()) - set(leftovers_before)) + inside
    tap.ok(taps == 1 and not new,
           "nothing stale: the restarted fulcrumd took over the API socket path, one "
           "exception interface, and after a clean stop no DPDK runtime or hugepage file "
           "is left", "fulcrum-lan count %d; left: %s" % (taps, new))
    if tap.failed:
        tap.diag("fulcrumd log on lb0 (tail):\n" + (read(log0) if sd.mode
                                                      else lab.lb_log("lb0"))[-2500:])


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


if __name__ == "__main__":
    labtest.require_environment()
    labtest.require_fulcrumctl()
    labtest.main_wrapper(PLANNED, body)
