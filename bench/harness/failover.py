# SPDX-License-Identifier: Apache-2.0
"""VRRP failover: the client's gap when the master is SIGKILLed, over repeated kills, for a
pair of fulcrumd nodes and for the pair Fulcrum replaces (keepalived moving the VIP, HAProxy
in mode tcp serving it), with the same advert interval (VRRPv3, 100 ms), the same priorities
(150 and 100, no preemption) and the same client: a new HTTP connection to VIP:8774 every
10 ms with a 100 ms timeout, from the lab's client namespace.

A kill ends everything of the master node that serves the VIP: fulcrumd (its port goes with
it), or keepalived (both processes) and HAProxy, whose VIP is then taken off the interface, as
a dead host would not answer for it. The killed node is started again after the takeover and
must come back as backup; the next kill hits the new master."""
import os
import signal
import subprocess
import time

from . import common, labrig

PRIORITY = {"lb0": 150, "lb1": 100}
NODES = ("lb0", "lb1")


def other(node):
    return "lb1" if node == "lb0" else "lb0"


def kill_loop(labtest, lab, tmp, kills, kill, start, is_master, label):
    """Kills the master `kills` times; returns (gaps ms, per-kill details)."""
    target = "%s:%d" % (labtest.VIP, labtest.HTTP_PORT)
    gaps, details = [], []
    master = "lb0"
    for i in range(1, kills + 1):
        survivor = other(master)
        stop = os.path.join(tmp, "stop-%s-%d" % (label, i))
        loop = lab.client(tmp, "http-loop", "--target", target, "--interval", "0.01",
                          "--timeout", "0.1", "--duration", "20", "--stop-file", stop)
        try:
            time.sleep(0.4)
            t_kill = time.monotonic()
            kill(master)
            took = labtest.wait_for(lambda: is_master(survivor), 5.0)
            time.sleep(0.3)
            start(master)
            time.sleep(0.5)
            back_as_backup = not is_master(master) and is_master(survivor)
        finally:
            open(stop, "w").close()
        result = loop.finish(10)
        gap, late, total = labtest.failover_gap(result.get("records", []), t_kill)
        details.append({"kill": i, "master": master, "gap_ms": gap,
                        "takeover_ms": labtest.ms(took) if took is not None else None,
                        "late_failures": len(late), "requests": total,
                        "killed_node_back_as_backup": back_as_backup,
                        "client_error": result.get("error", "")})
        common.log("%s kill %d: master %s, gap %s ms, takeover %s ms" % (
            label, i, master, gap, details[-1]["takeover_ms"]))
        if gap is not None:
            gaps.append(gap)
        if took is None:
            break  # no one took over: the next kill would measure nothing
        master = survivor
    return gaps, details


# -- fulcrumd ---------------------------------------------------------------------------------

def measure_fulcrum(labtest, lab, tmp, kills):
    cfg = {n: labtest.LbConfig(tmp, "failover-" + n, node=n) for n in NODES}
    for n in NODES:
        cfg[n].services = labtest.service_toml(
            "nova-api", labtest.HTTP_PORT, [(a, None, None) for a in labtest.CONTROLLERS.values()],
            check='type = "http", path = "/", expect = 200, interval = "200ms", '
                  'timeout = "200ms", rise = 1, fall = 2')
        cfg[n].extra = labtest.vrrp_toml(PRIORITY[n], preempt=False)
        cfg[n].write()

    def state(node):
        return labtest.ctl_vrrp(cfg[node].socket).get("state")

    def kill(node):
        pid = lab.fulcrumd_pid(node)
        if pid is None:
            raise RuntimeError("fulcrumd does not run on %s" % node)
        os.kill(pid, signal.SIGKILL)
        labtest.wait_for(lambda: not labtest.proc_alive(pid), 1.0, 0.005)

    def start(node):
        r = lab.lb_start_config(cfg[node], node=node)
        if r.returncode != 0:
            raise RuntimeError("fulcrumd did not start on %s: %s" % (node, r.stderr[-300:]))
        labtest.wait_for(lambda: state(node) in ("BACKUP", "MASTER"), 3.0)

    try:
        start("lb0")
        start("lb1")
        if labtest.wait_for(lambda: state("lb0") == "MASTER", 3.0) is None:
            raise RuntimeError("lb0 did not become MASTER (lb0 %s, lb1 %s)" % (state("lb0"),
                                                                               state("lb1")))
        return kill_loop(labtest, lab, tmp, kills, kill, start,
                         lambda n: state(n) == "MASTER", "fulcrumd")
    finally:
        for n in sorted(NODES, key=lambda n: state(n) == "MASTER"):  # the backup first
            lab.lb_stop(n)


# -- keepalived + HAProxy ---------------------------------------------------------------------

KEEPALIVED_CONF = """global_defs {
  router_id fulcrum_bench_%(node)s
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  nopreempt
  interface %(ifname)s
  virtual_router_id 51
  priority %(priority)d
  advert_int 0.1
  virtual_ipaddress {
    %(vip)s/24 dev %(ifname)s
  }
}
"""

HAPROXY_CONF = """global
  maxconn 4096
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
listen nova_api
  bind %(vip)s:%(port)d
  balance roundrobin
  option tcp-check
%(servers)s
"""


class HaNode:
    """keepalived (VRRP only) and HAProxy in one LB namespace, in the foreground, ended by PID."""

    def __init__(self, labtest, tmp, node):
        self.labtest, self.tmp, self.node = labtest, tmp, node
        self.ns = "fl-" + node
        self.ifname = node + "-0"
        self.starts = 0
        self.ka = self.ha = None
        self.log = open(os.path.join(tmp, "ha-%s.log" % node), "a")

    def ip(self, *argv):
        return self.labtest.run(["ip", "-n", self.ns] + list(argv), timeout=10)

    def prepare(self):
        """The node's own address on its lab interface and non-local binding for the VIP."""
        self.ip("addr", "add", self.labtest.LB_ADDRS[self.node] + "/24", "dev", self.ifname)
        self.ip("link", "set", self.ifname, "up")
        self.labtest.run(self.labtest.netns_cmd(self.node, [
            "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1"]), timeout=10)

    def start(self):
        self.starts += 1
        vip = self.labtest.VIP
        servers = "\n".join("  server %s %s:%d check inter 200ms fall 2 rise 1" % (
            name, addr, self.labtest.HTTP_PORT) for name, addr in self.labtest.CONTROLLERS.items())
        ha_cfg = os.path.join(self.tmp, "haproxy-%s.cfg" % self.node)
        with open(ha_cfg, "w") as f:
            f.write(HAPROXY_CONF % {"vip": vip, "port": self.labtest.HTTP_PORT,
                                    "servers": servers})
        ka_cfg = os.path.join(self.tmp, "keepalived-%s.conf" % self.node)
        with open(ka_cfg, "w") as f:
            f.write(KEEPALIVED_CONF % {"node": self.node, "ifname": self.ifname,
                                       "priority": PRIORITY[self.node], "vip": vip})
        # Pid files of its own each start: a killed keepalived's file would stop the next one.
        self.vrrp_pid_file = os.path.join(self.tmp, "ka-vrrp-%s-%d.pid" % (self.node, self.starts))
        pid_file = os.path.join(self.tmp, "ka-%s-%d.pid" % (self.node, self.starts))
        self.ha = subprocess.Popen(self.labtest.netns_cmd(self.node, [
            "haproxy", "-db", "-f", ha_cfg]), stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        self.ka = subprocess.Popen(self.labtest.netns_cmd(self.node, [
            "keepalived", "--dont-fork", "--log-console", "--vrrp", "--dont-respawn",
            "--no-syslog", "--use-file", ka_cfg, "--pid", pid_file,
            "--vrrp_pid", self.vrrp_pid_file]), stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)

    def holds_vip(self):
        return self.labtest.holds_address(self.node, self.ifname, self.labtest.VIP)

    def kill(self):
        """SIGKILL of keepalived's VRRP child, its parent and HAProxy; the VIP they leave on
        the interface is removed (a dead host does not answer for it)."""
        self.labtest.kill_keepalived(self.ka, self.vrrp_pid_file)
        if self.ha is not None and self.ha.poll() is None:
            self.ha.kill()
            self.ha.wait(timeout=5)
        self.ka = self.ha = None
        self.ip("addr", "del", self.labtest.VIP + "/24", "dev", self.ifname)

    def stop(self):
        for p in (self.ka, self.ha):
            common.stop_process(p)
        child = self.labtest.read_pid_file(self.vrrp_pid_file) if self.starts else None
        if child is not None and self.labtest.proc_alive(child):
            os.kill(child, signal.SIGTERM)
        self.ka = self.ha = None
        self.ip("addr", "del", self.labtest.VIP + "/24", "dev", self.ifname)

    def undo(self):
        self.stop()
        self.ip("addr", "del", self.labtest.LB_ADDRS[self.node] + "/24", "dev", self.ifname)
        self.log.close()


def measure_keepalived(labtest, lab, tmp, kills):
    nodes = {n: HaNode(labtest, tmp, n) for n in NODES}
    try:
        for n in NODES:
            nodes[n].prepare()
        nodes["lb0"].start()
        if labtest.wait_for(nodes["lb0"].holds_vip, 5.0) is None:
            raise RuntimeError("keepalived on lb0 did not take the VIP")
        nodes["lb1"].start()
        time.sleep(0.5)
        return kill_loop(labtest, lab, tmp, kills, lambda n: nodes[n].kill(),
                         lambda n: nodes[n].start(), lambda n: nodes[n].holds_vip(),
                         "keepalived+haproxy")
    finally:
        for n in NODES:
            nodes[n].undo()


def run(ctx):
    for tool in ("keepalived", "haproxy"):
        if not common.have(tool):
            return common.section_unavailable("%s is not installed" % tool)
    if os.geteuid() != 0:
        return common.section_unavailable("needs root (the namespace lab)")
    labtest = labrig.import_labtest(ctx)
    busy = labrig.wait_until_free(labtest, ctx.pick(30, 30, 120))
    if busy:
        return common.section_unavailable(busy)
    tmp = ctx.scratch("failover")
    kills = ctx.pick(1, 3, 10)
    params = {"kills": kills, "advert_interval_ms": 100, "vrrp_version": 3,
              "priorities": PRIORITY, "preempt": False, "client_interval_ms": 10,
              "client_timeout_ms": 100}
    results = []
    with labrig.lab_process_state(ctx.binary("fulcrumd")), \
            labtest.WaitingLab(labrig.LogTap(), "fnat") as lab:
        for peer, measure in (("fulcrumd", measure_fulcrum),
                              ("keepalived+haproxy", measure_keepalived)):
            try:
                gaps, details = measure(labtest, lab, tmp, kills)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                results.append(common.unavailable("failover_gap", peer, str(e), params,
                                                  status="failed"))
                continue
            m = common.measurement("failover_gap", peer, "ms", gaps, params,
                                   extra={"kills": details})
            if len(gaps) < kills:
                m["status"], m["reason"] = "failed", "%d of %d kills gave a gap" % (len(gaps),
                                                                                   kills)
            results.append(m)
    notes = ["The gap runs from the last answer before the kill to the first after it; the "
             "client's 100 ms timeout makes it move in steps of about 100 ms. The takeover "
             "itself is bounded by VRRP's master-down interval, 3 x 100 ms plus the skew."]
    return common.section(results, notes)
