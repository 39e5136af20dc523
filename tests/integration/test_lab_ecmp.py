#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Scale-out: two active Fulcrum nodes behind ECMP, each announcing the VIP through its own
BIRD 2 (lab.sh up dsr --ecmp: a router namespace with BIRD, `merge paths on` and
fib_multipath_hash_policy = 1, between the client and lb0 / lb1). nova-api runs in DSR mode
with the same service config on both nodes, so both build the same Maglev table.

1. The router holds an ECMP route for the VIP with both nodes as next hops; 1,000 new HTTP
   connections to VIP:8774 are spread over both nodes (each 50% +- 15%) and over the three
   controllers (33% +- 20%).
2. fulcrumctl announce and the metrics page show each node's announcement.
3. The same 5-tuple (pinned source ports) reaches the same controller through either node.
4. A clean stop of one node's fulcrumd: the route drops to one next hop before that fulcrumd
   stops forwarding; a client loop of new connections sees no failed request.
5. A silently dead node (its link cut on the switch): with BFD (100 ms x 3) the route drops
   within 500 ms; a long-lived DSR connection through it continues through the other node
   (a request every 50 ms, a gap, then answers again, from the same controller).
6. Every controller's check fails on one node only (nftables in that node's namespace drops
   its checks): that node withdraws, the other keeps serving every request.
7. BIRD restarted on a node: fulcrumd re-asserts the announcement within a few seconds.
8. After a kill -9 of fulcrumd, `fulcrumd --withdraw` (the systemd unit's ExecStopPost)
   disables the VIP's protocol in that node's BIRD.

Needs root, the namespace lab, BIRD 2 (bird2) and nftables; skipped otherwise.
"""

import json
import os
import re
import shutil
import signal
import threading
import time

import labtest
from labtest import CONTROLLERS, HTTP_PORT, LB_ADDRS, VIP

PLANNED = 8
TARGET = "%s:%d" % (VIP, HTTP_PORT)
N_HTTP = 1000
NFT_TABLE = "fulcrum_ecmp_test"
CHECK = 'type = "http", interval = "200ms", timeout = "200ms", rise = 2, fall = 2'
BFD_LIMIT_S = 0.5
REASSERT_S = 2.0  # [announce] reassert_interval's default


def node_config(tmp, node):
    cfg = labtest.LbConfig(tmp, node, node=node)
    cfg.gateway = labtest.ROUTER_ADDR
    state = labtest.lab_state("tmpdir")
    cfg.extra = ('\n[announce]\nbird_socket = "%s/bird-%s.ctl"\n'
                 '[[announce.vip]]\naddress = "%s"\nbird_protocol = "vip1"\n' % (state, node, VIP))
    cfg.write(labtest.service_toml(
        "nova-api", HTTP_PORT, [(a, None, None) for a in CONTROLLERS.values()], check=CHECK,
        forward="dsr"))
    return cfg


def next_hops():
    """The router's next hops for the VIP, sorted; [] when it has no route."""
    r = labtest.run(labtest.netns_cmd("router", ["ip", "-j", "route", "show", VIP + "/32"]),
                    timeout=5)
    try:
        routes = json.loads(r.stdout or "[]")
    except ValueError:
        return []
    hops = []
    for route in routes:
        if route.get("gateway"):
            hops.append(route["gateway"])
        for hop in route.get("nexthops", []):
            if hop.get("gateway"):
                hops.append(hop["gateway"])
    return sorted(hops)


class RouteWatch:
    """Polls the router's next hops every 10 ms in a thread; records (time, hops) changes."""

    def __init__(self):
        self.changes = [(time.monotonic(), next_hops())]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            hops = next_hops()
            if hops != self.changes[-1][1]:
                self.changes.append((time.monotonic(), hops))
            self._stop.wait(0.01)

    def first(self, hops, after=0.0):
        return next((t for t, h in self.changes if h == hops and t >= after), None)

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def new_flows(cfg):
    """Flows opened so far on the node, over nova-api's backends, by controller name."""
    listing = labtest.ctl_list(cfg.socket) or {}
    names = {a: n for n, a in CONTROLLERS.items()}
    out = {}
    for svc in listing.get("services", []):
        for b in svc.get("backends", []):
            out[names.get(b["address"], b["address"])] = b.get("new_flows", 0)
    return out


def total(flows):
    return sum(flows.values())


def announce(cfg):
    return labtest.ctl_json(cfg.socket, "announce")


def announced(cfg):
    vips = announce(cfg).get("vips") or [{}]
    return vips[0].get("wanted") == "announce" and vips[0].get("bird") == "enabled"


def both():
    return sorted(LB_ADDRS.values())


def share_line(counts, n):
    return ", ".join("%s %d (%.0f%%)" % (k, v, 100.0 * v / max(n, 1))
                     for k, v in sorted(counts.items()))


def check_spread(lab, tap, cfgs, hops_before):
    before = {node: total(new_flows(cfg)) for node, cfg in cfgs.items()}
    load = lab.http_load([TARGET], N_HTTP)
    per_node = {node: total(new_flows(cfg)) - before[node] for node, cfg in cfgs.items()}
    hops = next_hops()
    tap.diag("%d connections: %s req/s; per node %s; per controller %s" % (
        N_HTTP, load.get("rps"), share_line(per_node, N_HTTP), share_line(load["counts"], N_HTTP)))
    nodes_ok = all(0.35 * N_HTTP <= v <= 0.65 * N_HTTP for v in per_node.values())
    ctl_ok, (lo, hi) = labtest.spread_ok(load["counts"], N_HTTP)
    tap.ok(hops_before == [] and hops == both() and load["ok"] == N_HTTP and nodes_ok and ctl_ok,
           "no route before fulcrumd ran (%s); then an ECMP route with both nodes (%s); %d new "
           "connections all answered (%d), spread over the nodes (%s; 35-65%% each) and the "
           "controllers (%s; %d..%d)" % (
               hops_before or "none", ", ".join(hops), N_HTTP, load["ok"],
               share_line(per_node, N_HTTP),
               share_line(load["counts"], N_HTTP), lo, hi),
           "; ".join(load.get("errors", [])[:5]))


def check_state_shown(lab, tap, cfgs):
    labtest.wait_for(lambda: (announce(cfgs["lb0"]).get("vips") or [{}])[0].get("bird_state")
                     == "up", 5.0, step=0.05)
    text = labtest.fulcrumctl(cfgs["lb0"].socket, "announce").stdout
    _, page = lab.metrics("lb1")
    tap.diag("fulcrumctl announce on lb0:\n" + text.rstrip())
    metric = re.search(r'fulcrum_announce_enabled\{vip="%s",protocol="vip1"\} (\d+)'
                       % re.escape(VIP), page)
    tap.ok(re.search(r"^%s\s+vip1\s+announce\s+enabled\s+up\s" % re.escape(VIP), text, re.M)
           and "connected (BIRD 2" in text and metric and metric.group(1) == "1"
           and "fulcrum_announce_bird_connected 1" in page,
           "fulcrumctl announce shows the VIP announced and BIRD's protocol up; the metrics show "
           "fulcrum_announce_enabled 1 and fulcrum_announce_bird_connected 1",
           text + "\n" + "\n".join(l for l in page.splitlines() if "announce" in l))


def pinned(lab, tmp, via, ports):
    """Pins the router's route for the VIP to `via` (a more preferred route beside BIRD's),
    runs http-pinned from ports, removes the pin. Returns {port: answer}."""
    pin = ["ip", "route", "add", VIP + "/32", "via", via, "metric", "1"]
    labtest.run(labtest.netns_cmd("router", pin), timeout=5, check=True)
    try:
        r = lab.exec("client", [labtest.PYTHON, "-I", labtest.LAB_CLIENTS, "http-pinned",
                                "--target", TARGET, "--ports", ports], timeout=120)
    finally:
        labtest.run(labtest.netns_cmd("router", ["ip", "route", "del", VIP + "/32", "via", via,
                                                 "metric", "1"]), timeout=5)
    try:
        return {p: a for p, a in json.loads(r.stdout)["records"]}
    except (ValueError, KeyError):
        return {"error": r.stdout[-300:] + r.stderr[-300:]}


def check_same_backend(lab, tap, tmp, cfgs):
    # Below the ephemeral range (32768-60999): no earlier connection has left them in TIME-WAIT.
    ports = "20000-20039"
    before = {node: total(new_flows(cfg)) for node, cfg in cfgs.items()}
    via0 = pinned(lab, tmp, LB_ADDRS["lb0"], ports)
    mid = {node: total(new_flows(cfg)) for node, cfg in cfgs.items()}
    via1 = pinned(lab, tmp, LB_ADDRS["lb1"], ports)
    after = {node: total(new_flows(cfg)) for node, cfg in cfgs.items()}
    n = len(via0)
    same = [p for p in via0 if via0[p] == via1.get(p) and via0[p] in CONTROLLERS]
    used = sorted(set(via0.values()))
    tap.diag("pinned source ports %s: through lb0 %s; through lb1 %s" % (
        ports, json.dumps(sorted(via0.items())[:6]), json.dumps(sorted(via1.items())[:6])))
    tap.ok(n == 40 and len(same) == n and mid["lb0"] - before["lb0"] == n
           and after["lb1"] - mid["lb1"] == n and len(used) >= 2,
           "the same 5-tuple reaches the same controller through either node: %d of %d source "
           "ports agree, first through lb0 (%d new flows there) then through lb1 (%d); "
           "controllers used %s" % (len(same), n, mid["lb0"] - before["lb0"],
                                    after["lb1"] - mid["lb1"], ",".join(used)),
           json.dumps({p: (via0.get(p), via1.get(p)) for p in via0 if p not in same}))


def check_clean_stop(lab, tap, tmp, cfgs):
    stop = os.path.join(tmp, "stop-clean")
    loop = lab.client(tmp, "http-loop", "--target", TARGET, "--interval", "0.02", "--timeout",
                      "2", "--duration", "20", "--stop-file", stop)
    watch = None
    try:
        time.sleep(1.0)
        pid = lab.fulcrumd_pid("lb1")
        watch = RouteWatch()
        t_stop = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        labtest.wait_for(lambda: not labtest.proc_alive(pid), 10.0, step=0.005)
        t_exit = time.monotonic()
        time.sleep(1.0)
    finally:
        open(stop, "w").close()
        if watch:
            watch.stop()
    records = loop.finish(15).get("records", [])
    failed = [r for r in records if r[2].startswith("ERR")]
    t_single = watch.first([LB_ADDRS["lb0"]], after=t_stop)
    log = lab.lb_log("lb1")
    said = re.search(r"stopping: BIRD withdrew the VIPs after \d+ ms; forwarding [\d.]+ s more", log)
    tap.diag("clean stop of lb1: route with lb0 only %s ms after SIGTERM, fulcrumd gone after "
             "%.0f ms; %s; %d requests, %d failed" % (
                 labtest.ms(t_single - t_stop) if t_single else "never",
                 (t_exit - t_stop) * 1000, said.group(0) if said else "no withdrawal logged",
                 len(records), len(failed)))
    tap.ok(t_single is not None and t_single < t_exit and said and len(records) > 50
           and not failed,
           "a clean stop of lb1 withdraws first: the route drops to lb0 alone %s ms after SIGTERM, "
           "%.0f ms before fulcrumd stopped forwarding; %d client requests, none failed" % (
               labtest.ms(t_single - t_stop) if t_single else "never",
               (t_exit - (t_single or t_exit)) * 1000, len(records)),
           json.dumps(failed[:5]) + "\n" + log[-800:])


def wait_both_announced(tap, cfgs, limit_s, what):
    t0 = time.monotonic()
    ok = labtest.wait_for(lambda: next_hops() == both(), limit_s, step=0.1) is not None
    tap.diag("%s: both next hops after %.1f s" % (what, time.monotonic() - t0)
             if ok else "%s: route still %s after %.0f s" % (what, next_hops(), limit_s))
    return ok


def check_silent_death(lab, tap, tmp, cfgs):
    stop = os.path.join(tmp, "stop-keepalive")
    before = {node: total(new_flows(cfg)) for node, cfg in cfgs.items()}
    conn = lab.client(tmp, "http-keepalive", "--target", TARGET, "--interval", "0.05",
                      "--timeout", "5", "--duration", "30", "--stop-file", stop)
    watch = None
    try:
        first = conn.wait_line("first", 10)
        grown = [n for n, cfg in cfgs.items() if total(new_flows(cfg)) > before[n]]
        victim = grown[0] if len(grown) == 1 else "lb0"
        survivor = "lb1" if victim == "lb0" else "lb0"
        watch = RouteWatch()
        t_cut = time.monotonic()
        lab.lab("cut", victim, timeout=10)
        labtest.wait_for(lambda: watch.first([LB_ADDRS[survivor]]) is not None, 5.0)
        time.sleep(2.0)
    finally:
        open(stop, "w").close()
        if watch:
            watch.stop()
    records = conn.finish(15).get("records", [])
    t_drop = watch.first([LB_ADDRS[survivor]], after=t_cut)
    errors = [r for r in records if r[2].startswith("ERR")]
    after = [r for r in records if r[0] > (t_drop or t_cut) + 0.2]
    same = first and all(r[2] == first["first"] for r in records)
    gaps = [b[1] - a[1] for a, b in zip(records, records[1:]) if b[1] > t_cut]
    tap.diag("keep-alive connection through %s (nodes with a new flow: %s); cut %s's link: "
             "route without it after %s ms; longest wait between answers after the cut %.0f ms; "
             "%d requests after the switch" % (
                 victim, grown, victim, labtest.ms(t_drop - t_cut) if t_drop else "never",
                 max(gaps) * 1000 if gaps else -1, len(after)))
    tap.ok(len(grown) == 1 and t_drop is not None and t_drop - t_cut <= BFD_LIMIT_S
           and not errors and len(after) >= 10 and same,
           "a silently dead node (%s, its link cut): BFD drops it from the route in %s ms "
           "(limit %.0f); the long-lived DSR connection it carried goes on through %s: %d "
           "answers after the switch, none failed, all from %s" % (
               victim, labtest.ms(t_drop - t_cut) if t_drop else "never", BFD_LIMIT_S * 1000,
               survivor, len(after), first["first"] if first else "?"),
           json.dumps(errors[:3]) + " " + json.dumps(watch.changes))
    lab.lab("uncut", victim, timeout=10)
    return victim


def nft(node, script):
    return labtest.run(labtest.netns_cmd(node, ["nft", "-f", "-"]), timeout=10, input_text=script)


def check_checks_fail_on_one_node(lab, tap, tmp, cfgs):
    r = nft("lb0", "table inet %s {\n chain out {\n  type filter hook output priority 0;\n"
                   "  tcp dport %d drop\n }\n}\n" % (NFT_TABLE, HTTP_PORT))
    try:
        t0 = time.monotonic()
        withdrawn = labtest.wait_for(lambda: next_hops() == [LB_ADDRS["lb1"]], 10.0,
                                     step=0.05) is not None
        took = time.monotonic() - t0
        state = (announce(cfgs["lb0"]).get("vips") or [{}])[0]
        load = lab.http_load([TARGET], 200)
        lb1_serves = announced(cfgs["lb1"])
    finally:
        nft("lb0", "delete table inet %s\n" % NFT_TABLE)
    tap.diag("lb0's checks blocked: route with lb1 only after %.1f s; lb0 says %s (%s)" % (
        took, state.get("wanted"), state.get("reason")))
    tap.ok(r.returncode == 0 and withdrawn and state.get("wanted") == "withdraw"
           and "nova-api has no serving backend" in state.get("reason", "") and lb1_serves
           and load["ok"] == 200,
           "every check failing on lb0 only: lb0 withdraws (%s) within %.1f s, lb1 keeps "
           "announcing, and 200 of 200 new connections are answered (%d)" % (
               state.get("reason"), took, load["ok"]),
           r.stderr + "; ".join(load.get("errors", [])[:3]))


def check_bird_restart(lab, tap, cfgs):
    watch = RouteWatch()
    t0 = time.monotonic()
    try:
        r = lab.lab("bird-restart", "lb0", timeout=30)
        t_up = time.monotonic()
        dropped = labtest.wait_for(lambda: watch.first([LB_ADDRS["lb1"]], after=t0) is not None,
                                   2.0) is not None
    finally:
        watch.stop()
    # The restarted BIRD has vip1 at "disabled yes" again until fulcrumd re-asserts it.
    reasserted = labtest.wait_for(lambda: announced(cfgs["lb0"]) and bird_says_up("lb0"),
                                  REASSERT_S + 4.0, step=0.05) is not None
    t_enabled = time.monotonic()
    routed = wait_both_announced(tap, cfgs, 30.0, "after the BIRD restart")
    t_routed = time.monotonic()
    tap.ok(r.returncode == 0 and dropped and reasserted and routed,
           "BIRD restarted on lb0 (%.1f s; the router dropped lb0 meanwhile: %s): fulcrumd "
           "re-enabled vip1 %.1f s after BIRD was back (re-assertion every %.0f s); the router "
           "had both next hops again after %.1f s" % (
               t_up - t0, dropped, t_enabled - t_up, REASSERT_S, t_routed - t_up),
           r.stderr[-500:] + "\n" + lab.lb_log("lb0")[-600:])


def bird_says_up(node):
    r = labtest.run(["bash", labtest.LAB_SCRIPT, "birdc", node, "show", "protocols", "vip1"],
                    timeout=10)
    return re.search(r"^vip1\s+Static\s+\S+\s+up\b", r.stdout, re.M) is not None


def check_withdraw_after_crash(lab, tap, cfgs):
    pid = lab.fulcrumd_pid("lb0")
    os.kill(pid, signal.SIGKILL)
    labtest.wait_for(lambda: not labtest.proc_alive(pid), 3.0, step=0.01)
    was_up = bird_says_up("lb0")
    r = lab.exec("lb0", [labtest.FULCRUM_BIN, "-c", cfgs["lb0"].path, "--withdraw"], timeout=15)
    now_up = bird_says_up("lb0")
    tap.ok(was_up and r.returncode == 0 and "withdrawn" in r.stdout and not now_up,
           "after kill -9 BIRD still had vip1 up (%s); `fulcrumd --withdraw` (ExecStopPost) "
           "disabled it: rc %d, \"%s\"" % (was_up, r.returncode, r.stdout.strip()),
           r.stderr)


def body(tap):
    if not shutil.which("bird") or not shutil.which("nft"):
        labtest.skip_all("BIRD 2 (bird2) and nftables are needed")
    labtest.require_fulcrumctl()
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "dsr", ecmp=True) as lab:
        hops_before = next_hops()
        cfgs = {node: node_config(tmp, node) for node in ("lb0", "lb1")}
        for node, cfg in cfgs.items():
            lab.lb_start_config(cfg, node=node)
        if not wait_both_announced(tap, cfgs, 30.0, "start"):
            tap.diag(lab.lab("status", timeout=30).stdout[-1500:])
        check_spread(lab, tap, cfgs, hops_before)
        check_state_shown(lab, tap, cfgs)
        check_same_backend(lab, tap, tmp, cfgs)
        check_clean_stop(lab, tap, tmp, cfgs)
        lab.lb_start_config(cfgs["lb1"], node="lb1")
        wait_both_announced(tap, cfgs, 30.0, "lb1 back")
        victim = check_silent_death(lab, tap, tmp, cfgs)
        wait_both_announced(tap, cfgs, 30.0, "%s's link back" % victim)
        check_checks_fail_on_one_node(lab, tap, tmp, cfgs)
        wait_both_announced(tap, cfgs, 30.0, "lb0's checks back")
        check_bird_restart(lab, tap, cfgs)
        check_withdraw_after_crash(lab, tap, cfgs)


if __name__ == "__main__":
    labtest.main_wrapper(PLANNED, body)
