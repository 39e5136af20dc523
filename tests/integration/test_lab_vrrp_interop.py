#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""fulcrumd and keepalived share the VIP; malformed adverts change nothing (issue 6,
acceptance points 3 and 4).

fulcrumd runs on lb0; keepalived (Debian's) runs in fl-lb1 on lb1-0, which the test gives
192.0.2.3/24. For each of VRRPv3 (100 ms adverts) and VRRPv2 (1 s), multicast and unicast:

  A. fulcrumd (priority 150) is master; keepalived (100) starts and stays backup: it hears
     fulcrumd's adverts (otherwise it would take the VIP after its master-down interval).
  B. SIGKILL of fulcrumd: keepalived takes the VIP (it is on lb1-0; the client reaches it and
     its ARP entry for it is lb1-0's MAC).
  C. fulcrumd restarts with priority 50: it stays BACKUP and follows keepalived (master
     192.0.2.3, adverts received).
  D. SIGKILL of keepalived's VRRP process (and its parent; the VIP it leaves on lb1-0 is removed,
     as a dead host would not answer for it): fulcrumd takes the VIP.

4. With fulcrumd master (VRRPv3 multicast, then v2), adverts with priority 254 that are broken
   one way each (TTL 64, another VRID, bad checksum, the other version, type 2, truncated,
   address count 2 with one address; v2: authentication type 1) are sent from the client with
   scapy: fulcrumd stays MASTER and counts each kind under its reason in `fulcrumctl vrrp`.
   A well-formed one then makes it BACKUP (so the frames did reach it).
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402
from labtest import CONTROLLERS, HTTP_PORT, LB_ADDRS, LB_MACS, VIP  # noqa: E402

COMBOS = [(3, False), (3, True), (2, False), (2, True)]  # (version, unicast)
PLANNED = 4 * len(COMBOS) + 2 * 2
ADVERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vrrp_adverts.py")
# Fault kinds and the reason fulcrumd counts each under (None: the instance-less drops).
V3_FAULTS = {"ttl": "ttl", "vrid": "unknown_vrid", "checksum": "checksum", "version": "version",
             "type": "type", "truncated": "truncated", "count": "address_count"}
V2_FAULTS = {"ttl": "ttl", "vrid": "unknown_vrid", "checksum": "checksum", "version": "version",
             "auth": "auth", "count": "address_count"}


def interval(version):
    return 0.1 if version == 3 else 1.0


def master_down_s(version, priority):
    return 3 * interval(version) + (256 - priority) / 256.0 * interval(version)


class Keepalived:
    """keepalived in fl-lb1, VRRP only, in the foreground, ended by PID."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None
        self.starts = 0
        self.conf = os.path.join(tmp, "keepalived.conf")
        self.log = os.path.join(tmp, "keepalived.log")

    def start(self, version, unicast, priority=100):
        with open(self.conf, "w") as f:
            f.write("""global_defs {
  router_id fulcrum_lab_lb1
  vrrp_version %d
  script_user root
}
vrrp_instance VI_1 {
  state BACKUP
  interface lb1-0
  virtual_router_id 51
  priority %d
  advert_int %s
%s  virtual_ipaddress {
    %s/24 dev lb1-0
  }
}
""" % (version, priority, "0.1" if version == 3 else "1",
       "  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n" % (LB_ADDRS["lb1"], LB_ADDRS["lb0"])
       if unicast else "", VIP))
        # Pid files of its own each time: a killed one's file (its PID possibly a zombie not
        # yet reaped) would make keepalived say "daemon is already running" and exit.
        self.starts += 1
        self.pid_file = os.path.join(self.tmp, "ka-%d.pid" % self.starts)
        self.vrrp_pid_file = os.path.join(self.tmp, "ka-vrrp-%d.pid" % self.starts)
        argv = ["keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
                "--dont-respawn", "--no-syslog", "--use-file", self.conf,
                "--pid", self.pid_file, "--vrrp_pid", self.vrrp_pid_file]
        with open(self.log, "a") as out:
            out.write("=== start: version %d, %s, priority %d\n" % (
                version, "unicast" if unicast else "multicast", priority))
            out.flush()
            self.proc = subprocess.Popen(labtest.netns_cmd("lb1", argv), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)

    def kill(self):
        """SIGKILL of the VRRP process and the parent; the VIP they leave behind is removed."""
        labtest.kill_keepalived(self.proc, self.vrrp_pid_file)
        self.proc = None
        labtest.run(["ip", "-n", "fl-lb1", "addr", "del", VIP + "/24", "dev", "lb1-0"], timeout=5)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        labtest.run(["ip", "-n", "fl-lb1", "addr", "del", VIP + "/24", "dev", "lb1-0"], timeout=5)

    def holds_vip(self):
        return labtest.holds_address("lb1", "lb1-0", VIP)

    def tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return ""


class Fulcrum:
    def __init__(self, lab, tmp):
        self.lab = lab
        self.cfg = labtest.LbConfig(tmp, "interop-lb0", node="lb0")

    def start(self, version, unicast, priority):
        self.cfg.services = labtest.service_toml(
            "nova-api", HTTP_PORT, [(a, None, None) for a in CONTROLLERS.values()],
            check='type = "http", path = "/", expect = 200, interval = "200ms", '
                  'timeout = "200ms", rise = 1, fall = 2')
        keys = {"version": version}
        if unicast:
            keys["unicast_peers"] = [LB_ADDRS["lb1"]]
        self.cfg.extra = labtest.vrrp_toml(priority, "100ms" if version == 3 else "1s", **keys)
        self.cfg.write()
        self.lab.lb_start_config(self.cfg, node="lb0")

    def kill(self):
        pid = self.lab.fulcrumd_pid("lb0")
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            for _ in range(200):
                if not labtest.proc_alive(pid):
                    break
                time.sleep(0.005)

    def vrrp(self):
        return labtest.ctl_json(self.cfg.socket, "vrrp")

    def instance(self):
        return (self.vrrp().get("instances") or [{}])[0]

    def state(self):
        return self.instance().get("state")


def client_sees(lab, node):
    """The client reaches the VIP and its ARP entry for it is node's MAC."""
    ping = lab.exec("client", ["ping", "-c", "1", "-W", "1", VIP], timeout=5)
    neigh = lab.exec("client", ["ip", "neigh", "show", VIP], timeout=5).stdout
    return ping.returncode == 0 and LB_MACS[node] in neigh, neigh.strip()


def combo(lab, tap, fulcrum, ka, version, unicast):
    name = "VRRPv%d %s" % (version, "unicast" if unicast else "multicast")
    down = master_down_s(version, 100) + 1.0
    # A. fulcrumd master, keepalived joins as backup.
    fulcrum.start(version, unicast, 150)
    became = labtest.wait_for(lambda: fulcrum.state() == "MASTER",
                              master_down_s(version, 150) + 2.0)
    ka.start(version, unicast, 100)
    time.sleep(down + 0.5)  # longer than keepalived's master-down interval
    held = ka.holds_vip()
    ok_a, neigh = client_sees(lab, "lb0")
    tap.ok(became is not None and not held and ok_a and fulcrum.state() == "MASTER",
           "%s: fulcrumd (150) is master; keepalived (100) hears its adverts and stays backup "
           "(no VIP on lb1-0 after %.1f s)" % (name, down + 0.5),
           "fulcrumd %s; keepalived holds VIP: %s; client: %s\n%s" % (
               fulcrum.instance(), held, neigh, ka.tail()))
    # B. SIGKILL of fulcrumd: keepalived takes over.
    t0 = time.monotonic()
    fulcrum.kill()
    took = labtest.wait_for(ka.holds_vip, down + 2.0)
    seen = labtest.wait_for(lambda: client_sees(lab, "lb1")[0], 3.0, step=0.1)
    tap.ok(took is not None and seen is not None,
           "%s: SIGKILL of fulcrumd: keepalived takes the VIP (%s ms) and the client reaches it "
           "at lb1-0's MAC" % (name, labtest.ms(took) if took is not None else "never"),
           "client: %s\n%s" % (client_sees(lab, "lb1")[1], ka.tail()))
    # C. fulcrumd back with a lower priority: a backup that follows keepalived.
    fulcrum.start(version, unicast, 50)
    time.sleep(3 * interval(version) + 0.3)
    inst = fulcrum.instance()
    tap.ok(inst.get("state") == "BACKUP" and inst.get("master") == LB_ADDRS["lb1"]
           and inst.get("adverts_received", 0) >= 2 and ka.holds_vip(),
           "%s: fulcrumd restarted with priority 50 stays BACKUP and follows keepalived "
           "(master %s, %s adverts received)" % (name, inst.get("master"),
                                                 inst.get("adverts_received")),
           "fulcrumd %s" % inst)
    # D. SIGKILL of keepalived: fulcrumd takes over.
    t0 = time.monotonic()
    ka.kill()
    took = labtest.wait_for(lambda: fulcrum.state() == "MASTER",
                            master_down_s(version, 50) + 2.0)
    ok_d = labtest.wait_for(lambda: client_sees(lab, "lb0")[0], 3.0, step=0.1)
    tap.ok(took is not None and ok_d is not None,
           "%s: SIGKILL of keepalived: fulcrumd takes the VIP after %s ms and the client "
           "reaches it at lb0's MAC" % (name, labtest.ms(time.monotonic() - t0)),
           "fulcrumd %s; client %s" % (fulcrum.instance(), client_sees(lab, "lb0")[1]))


def malformed(lab, tap, fulcrum, version, faults):
    """Acceptance 4 against a fulcrumd master of `version` (started here, alone)."""
    fulcrum.start(version, False, 150)
    labtest.wait_for(lambda: fulcrum.state() == "MASTER", master_down_s(version, 150) + 2.0,
                     step=0.02)
    before = fulcrum.vrrp()
    argv = [labtest.PYTHON, "-I", ADVERTS, "--version", str(version), "--count", "3"]
    r = lab.exec("client", argv + list(faults), timeout=60)
    time.sleep(0.3)
    after = fulcrum.vrrp()
    inst = (after.get("instances") or [{}])[0]
    counted = {}
    for kind, reason in faults.items():
        where = after.get("drops", {}) if reason == "unknown_vrid" else inst.get("drops", {})
        was = (before.get("drops", {}) if reason == "unknown_vrid"
               else (before.get("instances") or [{}])[0].get("drops", {}))
        counted[kind] = where.get(reason, 0) - was.get(reason, 0)
    tap.ok(r.returncode == 0 and inst.get("state") == "MASTER"
           and inst.get("transitions") == (before.get("instances") or [{}])[0].get("transitions")
           and all(n == 3 for n in counted.values()),
           "VRRPv%d: 3 each of %d broken adverts with priority 254 (%s) leave fulcrumd MASTER "
           "and are counted by reason: %s" % (version, len(faults), ", ".join(faults),
                                              json.dumps(counted, sort_keys=True)),
           "rc %d %s; after: %s" % (r.returncode, r.stderr.strip()[-300:], json.dumps(after)))
    r = lab.exec("client", argv + ["good"], timeout=30)
    went = labtest.wait_for(lambda: fulcrum.state() == "BACKUP", 1.0)
    tap.ok(r.returncode == 0 and went is not None,
           "VRRPv%d: a well-formed advert with priority 254 from the same sender makes fulcrumd "
           "BACKUP (the broken ones did reach it)" % version, json.dumps(fulcrum.instance()))
    lab.lb_stop("lb0")


def body(tap):
    if subprocess.run(["sh", "-c", "command -v keepalived"], capture_output=True).returncode:
        labtest.skip_all("keepalived is not installed (scripts/lab-packages.sh installs it)")
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "fnat") as lab:
        ka = Keepalived(tmp)
        fulcrum = Fulcrum(lab, tmp)
        addr = labtest.run(["ip", "-n", "fl-lb1", "addr", "add", LB_ADDRS["lb1"] + "/24", "dev",
                            "lb1-0"], timeout=5)
        if addr.returncode != 0:
            raise RuntimeError("cannot give lb1-0 its address: " + addr.stderr)
        try:
            for version, unicast in COMBOS:
                t = time.monotonic()
                try:
                    combo(lab, tap, fulcrum, ka, version, unicast)
                finally:
                    ka.stop()
                    lab.lb_stop("lb0")
                    tap.diag("VRRPv%d %s took %.1f s" % (
                        version, "unicast" if unicast else "multicast", time.monotonic() - t))
            t = time.monotonic()
            malformed(lab, tap, fulcrum, 3, V3_FAULTS)
            malformed(lab, tap, fulcrum, 2, V2_FAULTS)
            tap.diag("point 4 (malformed adverts) took %.1f s" % (time.monotonic() - t))
        finally:
            ka.stop()
            labtest.run(["ip", "-n", "fl-lb1", "addr", "flush", "dev", "lb1-0"], timeout=5)
            if tap.failed:
                tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-2500:])
                tap.diag("keepalived log (tail):\n" + ka.tail())


if __name__ == "__main__":
    labtest.require_environment()
    labtest.require_fulcrumctl()
    labtest.main_wrapper(PLANNED, body)
