#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Galera health checks and pools through fulcrumd (issue 5, acceptance points 8, 2, 3, 4).

One Galera lab (`lab.sh up fnat --galera`) for all four points; each point runs its own fulcrumd
with its own config, state file and API socket, and leaves the cluster whole (all three nodes
Synced) for the next, except the last. Connections through VIP:3306 are made by lab_clients.py
in the client namespace (a small MySQL client: a connection costs milliseconds) and name the
node that answered with `select @@wsrep_node_name` (it answers even on a non-Primary node).
Every check is `type = "galera"`, user/password fulcrum, interval 500 ms, timeout 500 ms,
rise 2, fall 2, unless said otherwise.

8. Wrong password: the backends go DOWN with the reason ("login: Access denied ...") in the log
   and in `fulcrumctl list`; fulcrumd keeps running (PID alive, API answers).
2. pool = "active": `lab.sh partition c2`; c2 turns non-Primary while 3306 still accepts;
   within fall x interval + timeout (1.5 s) + 300 ms margin after c2 first reports non-Primary,
   fulcrumd stops sending new connections to it (fulcrumctl: down, reason naming
   wsrep_cluster_status); 200 connections afterwards all succeed and none lands on c2.
   `lab.sh heal c2`: c2 rejoins the pool (health up) once Synced, not before, within rise x
   interval + 500 ms of it.
3. pool = "standby" (failback false): 200 connections all land on c0; `galera-stop c0`: c1 takes
   all new connections (failover gap measured); `galera-start c0`: c0 is healthy again, traffic
   stays on c1; `fulcrumctl reload` keeps it on c1; a restart of fulcrumd (same config and
   state_file) keeps it on c1.
4. on_down = "reset" (standby pool): a client holds an idle logged-in connection to the writer
   c0 through the VIP; c0 fails silently (`lab.sh partition c0` and an nftables rule in fl-c0
   dropping everything from the LB's address): the client gets a reset (or EOF) within
   fall x interval + timeout + 300 ms instead of hanging.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402
from labtest import CONTROLLERS, LB0_ADDR, MYSQL_PORT, VIP, ms  # noqa: E402

PLANNED = 1 + 3 + 6 + 6 + 2

INTERVAL_S, TIMEOUT_S, RISE, FALL = 0.5, 0.5, 2, 2
CHECK = ('type = "galera", user = "fulcrum", password = "%s", interval = "500ms", '
         'timeout = "500ms", rise = 2, fall = 2')
DOWN_MARGIN_S = 0.3
DOWN_BOUND_S = FALL * INTERVAL_S + TIMEOUT_S + DOWN_MARGIN_S
UP_MARGIN_S = 0.5
UP_BOUND_S = RISE * INTERVAL_S + UP_MARGIN_S
POLL_S = 0.1
WHO = "select @@wsrep_node_name"
DROP_TABLE = "fulcrum_test_silent"   # point 4: nftables table in fl-c0
NAMES = {a: n for n, a in CONTROLLERS.items()}


def galera_service(password="fulcrum", **keys):
    return labtest.service_toml("galera", MYSQL_PORT,
                                [(a, None, None) for a in CONTROLLERS.values()],
                                check=CHECK % password, **keys)


def mysql_loop(lab, n, host=VIP):
    """n connections through host, one after the other; (counts by answer, failures)."""
    r = lab.exec("client", [labtest.PYTHON, "-I", labtest.LAB_CLIENTS, "mysql-loop", "--host",
                            host, "-n", str(n), "--query", WHO, "--timeout", "3",
                            "--duration", str(30 + n * 0.2)], timeout=60 + n * 0.5)
    try:
        records = json.loads(r.stdout.strip().splitlines()[-1])["records"]
    except (ValueError, KeyError, IndexError):
        return {}, ["mysql-loop rc %d: %s %s" % (r.returncode, r.stdout[-200:], r.stderr[-300:])]
    counts, failures = {}, []
    for rec in records:
        if rec[2].startswith("ERR"):
            failures.append(rec[2])
        else:
            counts[rec[2]] = counts.get(rec[2], 0) + 1
    if len(records) < n:
        failures.append("only %d of %d connections ran" % (len(records), n))
    return counts, failures


def serving(listing):
    """Names of the galera backends that take new flows."""
    out = []
    for svc in (listing or {}).get("services", []):
        if svc.get("name") == "galera":
            out = [NAMES.get(b["address"], b["address"]) for b in svc["backends"]
                   if b.get("serving")]
    return out


def poll_ctl(sock, pred, limit_s):
    """Polls fulcrumctl list until pred(listing); (time it held or None, last listing)."""
    deadline = time.monotonic() + limit_s
    listing = None
    for _ in range(int(limit_s / POLL_S) + 2):
        listing = labtest.ctl_list(sock)
        if listing is not None and pred(listing):
            return time.monotonic(), listing
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return None, listing


def health_is(node, want):
    return lambda listing: (labtest.ctl_backend(listing, "galera", CONTROLLERS[node]) or {}
                            ).get("health") == want


def galera_wait(lab, tap, timeout_s=60):
    r = lab.lab("galera-wait", "--timeout", str(timeout_s), "--size", "3", timeout=timeout_s + 20)
    if r.returncode != 0:
        tap.diag("galera-wait: rc %d: %s %s" % (r.returncode, r.stdout.strip(), r.stderr.strip()))
    return r.returncode == 0


# ---------------------------------------------------------------------------- lab.sh's config

def point_generated_config(lab, tap, tmp):
    """lab.sh lb-start's own config in Galera mode checks galera with the lab's user."""
    lab.lb_start("lb0", "fnat")
    with open(os.path.join(labtest.STATE_DIR, "tmpdir")) as f:
        sock = os.path.join(f.read().strip(), "lb0-api.sock")
    listing = labtest.ctl_list(sock)
    checks = {}
    for svc in (listing or {}).get("services", []):
        checks[svc["name"]] = sorted({(b.get("check") or {}).get("type", "-") + "/" +
                                      b.get("health", "-") for b in svc["backends"]})
    tap.ok(checks == {"nova-api": ["http/up"], "galera": ["galera/up"]},
           "lab.sh's generated config in Galera mode: nova-api checked by http, galera by a "
           "galera check; all 6 backends up when lb-start returns (%s)" % checks,
           labtest.ctl_summary(listing, "galera"))
    lab.lb_stop("lb0")


# ---------------------------------------------------------------------------- 8

def point_wrong_password(lab, tap, tmp):
    cfg = labtest.LbConfig(tmp, "p8-wrong-password")
    cfg.services = galera_service(password="not-the-password")
    lab.lb_start_config(cfg)
    pid = lab.fulcrumd_pid("lb0")
    _t, listing = poll_ctl(cfg.socket, lambda l: all(
        (labtest.ctl_backend(l, "galera", a) or {}).get("health") == "down"
        for a in CONTROLLERS.values()), 5.0)
    reasons = [((labtest.ctl_backend(listing, "galera", a) or {}).get("check") or {}).get("reason",
                                                                                        "")
               for a in CONTROLLERS.values()]
    tap.diag("fulcrumctl list: %s" % labtest.ctl_summary(listing, "galera"))
    tap.ok(all(r.startswith("login: Access denied") for r in reasons)
           and all((labtest.ctl_backend(listing, "galera", a) or {}).get("health") == "down"
                   for a in CONTROLLERS.values()),
           "wrong Galera password: fulcrumctl list shows the 3 backends down, reason '%s'"
           % (reasons[0] if reasons else ""), labtest.ctl_summary(listing, "galera"))
    time.sleep(1.0)  # a few more failed logins
    log = lab.lb_log("lb0")
    lines = [line for line in log.splitlines() if "DOWN: login: Access denied" in line]
    for line in lines[:3]:
        tap.diag("log: " + line)
    tap.ok(all(any("backend %s:3306 DOWN: login: Access denied" % a in line for line in lines)
               for a in CONTROLLERS.values()),
           "fulcrumd's log names each backend DOWN with 'login: Access denied ...'",
           log[-1200:])
    stats = labtest.fulcrumctl(cfg.socket, "stats")
    counts, failures = mysql_loop(lab, 1)
    tap.diag("a connection through the VIP with every backend down: %s" % (
        failures[0][:120] if failures else counts))
    tap.ok(pid is not None and labtest.proc_alive(pid) and labtest.ctl_list(cfg.socket)
           is not None and stats.returncode == 0,
           "fulcrumd keeps running (PID %s alive) and its API answers (list, stats)" % pid,
           "stats rc %d %s" % (stats.returncode, stats.stderr))
    lab.lb_stop("lb0")


# ---------------------------------------------------------------------------- 2

def point_active_partition(lab, tap, tmp):
    cfg = labtest.LbConfig(tmp, "p2-active")
    cfg.services = galera_service(pool="active")
    lab.lb_start_config(cfg)
    counts, failures = mysql_loop(lab, 60)
    tap.diag("before the partition: 60 connections through the VIP: %s %s" % (counts, failures[:2]))

    stop = os.path.join(tmp, "stop-p2")
    loop = lab.client(tmp, "mysql-loop", "--host", VIP, "--query", WHO, "--interval", "0.02",
                      "--timeout", "2", "--duration", "40", "--stop-file", stop)
    watch = lab.client(tmp, "mysql-watch", "--host", CONTROLLERS["c2"], "--interval", "0.1",
                       "--timeout", "2", "--duration", "40", "--stop-file", stop)
    try:
        time.sleep(0.5)
        t_part = time.monotonic()
        r = lab.lab("partition", "c2", timeout=30)
        t_down, listing = poll_ctl(cfg.socket, health_is("c2", "down"), 20.0)
        time.sleep(0.5)
    finally:
        open(stop, "w").close()
    loop_out, watch_out = loop.finish(10), watch.finish(10)
    records, states = loop_out.get("records", []), watch_out.get("records", [])
    nonprim = [s for s in states if s[0] >= t_part and len(s) == 4 and s[1] != "Primary"]
    t_np = nonprim[0][0] if nonprim else None
    still_open = [s for s in states if s[0] >= (t_np or t_part) and len(s) == 4]
    b = labtest.ctl_backend(listing, "galera", CONTROLLERS["c2"]) or {}
    reason = (b.get("check") or {}).get("reason", "")
    detect = (t_down - t_np) if (t_down and t_np) else None
    c2_conns = [x for x in records if x[2] == "c2"]
    last_c2 = max((x[0] for x in c2_conns), default=None)
    late_c2 = [x for x in c2_conns if t_np is not None and x[0] > t_np + DOWN_BOUND_S]
    fails = [x for x in records if x[2].startswith("ERR") and x[0] >= t_part]
    tap.diag("figure: galera partition c2: non-Primary %s ms after `partition`; fulcrumctl "
             "shows c2 down %s ms after it first reported non-Primary (bound fall x interval + "
             "timeout = %d ms + %d ms margin); last new connection on c2 %s ms after "
             "non-Primary; %d of %d connections through the VIP failed meanwhile" % (
                 ms(t_np - t_part) if t_np else "NEVER",
                 ms(detect) if detect is not None else "-", ms(FALL * INTERVAL_S + TIMEOUT_S),
                 ms(DOWN_MARGIN_S), ms(last_c2 - t_np) if (last_c2 and t_np) else "-",
                 len(fails), len([x for x in records if x[0] >= t_part])))
    tap.ok(r.returncode == 0 and t_np is not None and len(still_open) >= 2,
           "partition c2: c2 reports non-Primary (%s) while its 3306 still accepts logins" % (
               nonprim[0][1] if nonprim else "-"),
           "partition rc %d %s; c2 watch tail %s" % (r.returncode, r.stderr.strip(),
                                                     states[-3:]))
    tap.ok(detect is not None and detect <= DOWN_BOUND_S and "wsrep_cluster_status" in reason
           and not late_c2,
           "fulcrumd takes c2 out within %d ms of non-Primary (%s ms; reason: %s) and no new "
           "connection lands on c2 after that" % (
               ms(DOWN_BOUND_S), ms(detect) if detect is not None else "never", reason),
           "%s; connections on c2 after the bound: %s" % (
               labtest.ctl_summary(listing, "galera"),
               [ms(x[0] - t_np) for x in late_c2[:5]] if t_np else "-"))
    counts, failures = mysql_loop(lab, 200)
    tap.ok(sum(counts.values()) == 200 and not failures and "c2" not in counts,
           "200 connections through the VIP afterwards all succeed, none on c2 (%s)" % (
               json.dumps(counts, sort_keys=True)), "; ".join(failures[:5]))

    # Heal: c2 back once it is Synced, not before.
    stop = os.path.join(tmp, "stop-p2-heal")
    watch = lab.client(tmp, "mysql-watch", "--host", CONTROLLERS["c2"], "--interval", "0.1",
                       "--timeout", "2", "--duration", "60", "--stop-file", stop)
    try:
        t_heal = time.monotonic()
        r = lab.lab("heal", "c2", timeout=30)
        t_up, listing = poll_ctl(cfg.socket, health_is("c2", "up"), 45.0)
        time.sleep(0.2)
    finally:
        open(stop, "w").close()
    states = watch.finish(10).get("records", [])
    synced = [s for s in states if s[0] >= t_heal and len(s) == 4 and s[1] == "Primary"
              and s[2] == "4" and s[3] == "ON"]
    t_sync = synced[0][0] if synced else None
    not_synced_seen = [s for s in states if s[0] >= t_heal and (t_sync is None or s[0] < t_sync)]
    tap.diag("figure: galera heal c2: Synced %s ms after `heal` (%d polls before that, last: %s);"
             " fulcrumctl shows c2 up %s ms after Synced (bound rise x interval = %d ms + %d ms)"
             % (ms(t_sync - t_heal) if t_sync else "NEVER", len(not_synced_seen),
                not_synced_seen[-1:] if not_synced_seen else "-",
                ms(t_up - t_sync) if (t_up and t_sync) else "-", ms(RISE * INTERVAL_S),
                ms(UP_MARGIN_S)))
    # Not up before Synced: allow one poll of the watcher (100 ms) for its own lag.
    tap.ok(r.returncode == 0 and t_sync is not None and t_up is not None
           and t_up >= t_sync - POLL_S and t_up - t_sync <= UP_BOUND_S,
           "heal c2: it rejoins (health up) once Synced, within %d ms (%s ms)" % (
               ms(UP_BOUND_S), ms(t_up - t_sync) if (t_up and t_sync) else "-"),
           "heal rc %d; %s; synced at %s, up at %s" % (
               r.returncode, labtest.ctl_summary(listing, "galera"),
               t_sync and round(t_sync - t_heal, 2), t_up and round(t_up - t_heal, 2)))
    galera_wait(lab, tap)
    counts, failures = mysql_loop(lab, 60)
    tap.ok(not failures and counts.get("c2", 0) > 0,
           "after the heal c2 takes new connections again (60 connections: %s)" % (
               json.dumps(counts, sort_keys=True)), "; ".join(failures[:3]))
    tap.ok(labtest.proc_alive(lab.fulcrumd_pid("lb0") or -1), "fulcrumd still runs")
    lab.lb_stop("lb0")


# ---------------------------------------------------------------------------- 3

def all_on(lab, n, node):
    counts, failures = mysql_loop(lab, n)
    return (counts == {node: n} and not failures), counts, failures


def point_standby(lab, tap, tmp):
    cfg = labtest.LbConfig(tmp, "p3-standby")
    cfg.services = galera_service(pool="standby")
    lab.lb_start_config(cfg)
    listing = labtest.ctl_list(cfg.socket)
    good, counts, failures = all_on(lab, 200, "c0")
    tap.ok(good and serving(listing) == ["c0"],
           "standby pool: the writer is c0 and 200 connections through the VIP all land on it "
           "(%s)" % json.dumps(counts, sort_keys=True),
           "%s; serving %s" % ("; ".join(failures[:3]), serving(listing)))

    stop = os.path.join(tmp, "stop-p3")
    loop = lab.client(tmp, "mysql-loop", "--host", VIP, "--query", WHO, "--interval", "0.02",
                      "--timeout", "2", "--duration", "40", "--stop-file", stop)
    try:
        time.sleep(0.5)
        t_stop = time.monotonic()
        r = lab.lab("galera-stop", "c0", timeout=60)
        t_stopped = time.monotonic()
        t_switch, listing = poll_ctl(cfg.socket, lambda l: serving(l) == ["c1"], 15.0)
        time.sleep(0.5)
    finally:
        open(stop, "w").close()
    records = loop.finish(10).get("records", [])
    last_c0 = max((x[1] for x in records if x[2] == "c0"), default=None)
    first_c1 = min((x[1] for x in records if x[2] == "c1" and x[0] >= t_stop), default=None)
    fails = [x for x in records if x[2].startswith("ERR")]
    tap.diag("figure: standby failover: galera-stop c0 took %d ms; fulcrumctl shows c1 as "
             "writer %s ms after the stop began; client-side gap between the last answer from c0"
             " and the first from c1: %s ms; %d of %d connections failed meanwhile%s" % (
                 ms(t_stopped - t_stop), ms(t_switch - t_stop) if t_switch else "NEVER",
                 ms(first_c1 - last_c0) if (first_c1 and last_c0) else "-", len(fails),
                 len(records), " (%s)" % fails[0][2][:100] if fails else ""))
    good, counts, failures = all_on(lab, 100, "c1")
    tap.ok(r.returncode == 0 and t_switch is not None and good,
           "galera-stop c0: c1 becomes the writer and takes all new connections (100: %s)" % (
               json.dumps(counts, sort_keys=True)),
           "stop rc %d %s; %s; %s" % (r.returncode, r.stderr.strip()[-200:],
                                     labtest.ctl_summary(listing, "galera"),
                                     "; ".join(failures[:3])))

    r = lab.lab("galera-start", "c0", "--timeout", "60", timeout=90)
    t_c0, listing = poll_ctl(cfg.socket, health_is("c0", "up"), 10.0)
    good, counts, failures = all_on(lab, 100, "c1")
    tap.ok(r.returncode == 0 and t_c0 is not None and good and serving(listing) == ["c1"],
           "galera-start c0: c0 is healthy again, and with failback = false the traffic stays "
           "on c1 (100: %s)%s" % (json.dumps(counts, sort_keys=True),
                                  "; failed: %s" % failures[:2] if failures else ""),
           "start rc %d %s; %s; %s" % (r.returncode, r.stdout.strip()[-200:],
                                      labtest.ctl_summary(listing, "galera"),
                                      "; ".join(failures[:3])))

    rr = labtest.fulcrumctl(cfg.socket, "reload")
    time.sleep(RISE * INTERVAL_S + 0.3)  # what a reload might have reset has had time to act
    listing = labtest.ctl_list(cfg.socket)
    good, counts, failures = all_on(lab, 100, "c1")
    tap.ok(rr.returncode == 0 and good and serving(listing) == ["c1"],
           "fulcrumctl reload keeps the writer on c1 (100: %s)" % json.dumps(counts,
                                                                             sort_keys=True),
           "reload rc %d %s; %s; %s" % (rr.returncode, rr.stderr.strip(),
                                        labtest.ctl_summary(listing, "galera"),
                                        "; ".join(failures[:3])))

    lab.lb_stop("lb0")
    try:
        with open(cfg.state_file) as f:
            state_text = f.read()
    except OSError as e:
        state_text = str(e)
    tap.diag("state file after the stop: %s" % " ".join(state_text.split()))
    log_before = lab.lb_log("lb0")
    lab.lb_start_config(cfg)
    listing = labtest.ctl_list(cfg.socket)
    good, counts, failures = all_on(lab, 100, "c1")
    restored = [line for line in lab.lb_log("lb0").splitlines() if "restored from" in line]
    tap.ok(good and serving(listing) == ["c1"] and "192.0.2.11:3306" in state_text,
           "a restart of fulcrumd (same config and state_file) keeps the writer on c1 (100: %s)"
           % json.dumps(counts, sort_keys=True),
           "%s; %s; state %s; log: %s" % (labtest.ctl_summary(listing, "galera"),
                                          "; ".join(failures[:3]), state_text,
                                          restored or log_before[-300:]))
    tap.ok(labtest.proc_alive(lab.fulcrumd_pid("lb0") or -1), "fulcrumd still runs")
    lab.lb_stop("lb0")


# ---------------------------------------------------------------------------- 4

def point_on_down_reset(lab, tap, tmp):
    galera_wait(lab, tap, 30)
    cfg = labtest.LbConfig(tmp, "p4-reset")
    cfg.services = galera_service(pool="standby", on_down="reset")
    lab.lb_start_config(cfg)
    idle = lab.client(tmp, "mysql-idle", "--host", VIP, "--hold", "30", "--timeout", "3")
    ready = idle.wait_line("ready", 10)
    if not tap.ok(ready is not None and ready["ready"] == "c0",
                  "a client holds an idle, logged-in connection through the VIP to the writer "
                  "(%s)" % (ready or {}).get("ready"), idle.lines()):
        idle.stop()
        return
    r = lab.lab("partition", "c0", timeout=30)
    rule = ("table inet %s {\n chain input {\n  type filter hook input priority filter; "
            "policy accept;\n  ip saddr %s counter drop\n }\n}\n" % (DROP_TABLE, LB0_ADDR))
    r2 = lab.exec("c0", ["nft", "-f", "-"], input_text=rule, timeout=15)
    t_fail = time.monotonic()
    t_down, listing = poll_ctl(cfg.socket, health_is("c0", "down"), 10.0)
    event = idle.finish(35)
    t_event = event.get("t")
    took = (t_event - t_fail) if t_event else None
    tap.diag("figure: on_down = reset: c0 silent (partitioned, LB's packets dropped): fulcrumctl"
             " shows c0 down after %s ms; the idle client got '%s' %s ms after the failure "
             "(bound fall x interval + timeout = %d ms + %d ms margin)" % (
                 ms(t_down - t_fail) if t_down else "NEVER", event.get("event"),
                 ms(took) if took is not None else "-", ms(FALL * INTERVAL_S + TIMEOUT_S),
                 ms(DOWN_MARGIN_S)))
    b = labtest.ctl_backend(listing, "galera", CONTROLLERS["c0"]) or {}
    tap.diag("c0's check: %s" % (b.get("check") or {}).get("reason"))
    tap.ok(r.returncode == 0 and r2.returncode == 0 and event.get("event") in ("reset", "eof")
           and took is not None and took <= DOWN_BOUND_S,
           "c0 fails silently: the idle client's connection is reset within %d ms (%s after %s "
           "ms) instead of hanging" % (ms(DOWN_BOUND_S), event.get("event"),
                                       ms(took) if took is not None else "-"),
           "partition rc %d %s; nft rc %d %s; client %s; %s" % (
               r.returncode, r.stderr.strip(), r2.returncode, r2.stderr.strip(), event,
               labtest.ctl_summary(listing, "galera")))
    counts, failures = mysql_loop(lab, 20)
    tap.diag("after the reset, 20 new connections: %s %s; writer now %s" % (
        json.dumps(counts, sort_keys=True), failures[:2], serving(labtest.ctl_list(cfg.socket))))
    lab.exec("c0", ["nft", "delete", "table", "inet", DROP_TABLE], timeout=15)
    lab.lab("heal", "c0", timeout=30)
    lab.lb_stop("lb0")


def body(tap):
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "fnat", galera=True) as lab:
        for what, point in (("lab.sh's generated config", point_generated_config),
                            ("point 8 (wrong password)", point_wrong_password),
                            ("point 2 (active pool, partition)", point_active_partition),
                            ("point 3 (standby pool, single writer)", point_standby),
                            ("point 4 (on_down = reset)", point_on_down_reset)):
            t = time.monotonic()
            n_failed = tap.failed
            try:
                point(lab, tap, tmp)
            finally:
                tap.diag("%s took %.1f s" % (what, time.monotonic() - t))
                if tap.failed > n_failed:
                    tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-2500:])
                lab.lb_stop("lb0")


if __name__ == "__main__":
    labtest.require_environment()
    labtest.require_fulcrumctl()
    if not os.path.isfile("/usr/lib/galera/libgalera_smm.so"):
        labtest.skip_all("galera-4 not installed (run scripts/lab-packages.sh)")
    labtest.main_wrapper(PLANNED, body)
