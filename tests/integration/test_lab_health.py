#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Health checks of an HTTP pool, and reloads under load (issue 5, acceptance points 1 and 7).

1. HTTP pool (lab.sh's generated config: nova-api with an http check, interval 200 ms, timeout
   200 ms, rise 2, fall 2). A request loop from the client, a new connection every 10 ms, records
   per request its start and end and the controller that answered (or the failure). c1's HTTP
   server is stopped (`lab.sh http-stop c1`): within fall x interval + timeout (600 ms) + a
   200 ms margin (the client's 10 ms pacing, the 2-vCPU machine's scheduling, the stop's own
   timing) no new request reaches c1 and none fails after that window; the requests that fail
   before it (in flight at the failure, or sent during detection) are counted and reported.
   fulcrumctl shows c1 down within the same bound. `lab.sh http-start c1`: within rise x
   interval (400 ms) + 200 ms c1 answers requests again.
7. Reload under load: fulcrumd with the test's own config; a request loop on nova-api (a new
   connection every 5 ms) while the config is rewritten 100 times — a service added, another
   removed, a backend weight changed — each followed by `fulcrumctl reload` or, alternately,
   SIGHUP to fulcrumd's PID; every reload takes effect (checked with fulcrumctl list), and no
   request to the unchanged service fails.
"""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402
from labtest import CONTROLLERS, HTTP_PORT, VIP, ms  # noqa: E402

PLANNED = 4 + 3

INTERVAL_S, TIMEOUT_S, RISE, FALL = 0.2, 0.2, 2, 2   # lab.sh's generated nova-api check
MARGIN_S = 0.2
DOWN_BOUND_S = FALL * INTERVAL_S + TIMEOUT_S + MARGIN_S
UP_BOUND_S = RISE * INTERVAL_S + MARGIN_S
RELOADS = 100
POLL_S = 0.05


def lab_tmpdir():
    with open(os.path.join(labtest.STATE_DIR, "tmpdir")) as f:
        return f.read().strip()


def wait_health(sock, service, address, want, limit_s):
    """Polls fulcrumctl list until the backend's health is want; (time seen or None, listing)."""
    deadline = time.monotonic() + limit_s
    listing = None
    for _ in range(int(limit_s / POLL_S) + 2):
        listing = labtest.ctl_list(sock)
        b = labtest.ctl_backend(listing, service, address)
        if b is not None and b.get("health") == want:
            return time.monotonic(), listing
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return None, listing


def answered(records, name, t0=None, t1=None):
    return [r for r in records if r[2] == name and (t0 is None or r[0] >= t0)
            and (t1 is None or r[0] < t1)]


def failed(records):
    return [r for r in records if r[2].startswith("ERR")]


def point_http_failover(lab, tap, tmp):
    sock = os.path.join(lab_tmpdir(), "lb0-api.sock")
    c1 = CONTROLLERS["c1"]
    stop_file = os.path.join(tmp, "stop-http-loop")
    loop = lab.client(tmp, "http-loop", "--target", "%s:%d" % (VIP, HTTP_PORT),
                      "--interval", "0.01", "--timeout", "1", "--duration", "15",
                      "--stop-file", stop_file)
    try:
        time.sleep(1.0)
        r = lab.lab("http-stop", "c1", timeout=20)
        t_ret = time.monotonic()
        m = re.search(r"stopped in (\d+) ms", r.stderr)
        # The moment the server died: when http-stop saw it gone, less its own wait.
        t_fail = t_ret - (int(m.group(1)) / 1000.0 if m else 0.0)
        t_down, listing_down = wait_health(sock, "nova-api", c1, "down", 5.0)
        time.sleep(max(0.0, t_fail + 2.0 - time.monotonic()))
        r2 = lab.lab("http-start", "c1", timeout=40)
        t_start = time.monotonic()
        t_up, listing_up = wait_health(sock, "nova-api", c1, "up", 5.0)
        time.sleep(max(0.0, t_start + 2.0 - time.monotonic()))
    finally:
        open(stop_file, "w").close()
    out = loop.finish(10)
    records = out.get("records", [])
    if not tap.ok(r.returncode == 0 and r2.returncode == 0 and len(records) > 300,
                  "http-stop / http-start c1 and the request loop ran (%d requests, one every "
                  "10 ms, a new connection each)" % len(records),
                  "stop rc %d %s; start rc %d %s; loop %s" % (
                      r.returncode, r.stderr.strip(), r2.returncode, r2.stderr.strip(),
                      out.get("error", ""))):
        return

    before = [x for x in records if x[0] < t_fail - 0.05]
    tap.diag("before the stop: %d requests, %d failed, c1 answered %d" % (
        len(before), len(failed(before)), len(answered(before, "c1"))))

    # Failures, classified by when the request started.
    deadline = t_fail + DOWN_BOUND_S
    fails = failed(records)
    in_flight = [x for x in fails if x[0] < t_fail]
    during = [x for x in fails if t_fail <= x[0] <= deadline]
    late = [x for x in fails if x[0] > deadline]
    c1_after = answered(records, "c1", t_fail, t_start)
    last_fail = max((x[0] for x in fails if x[0] >= t_fail), default=None)
    detect_s = (t_down - t_fail) if t_down else None
    tap.diag("figure: http pool, c1's server stopped: fulcrumctl shows c1 down after %s ms "
             "(bound fall x interval + timeout = %d ms + %d ms margin; polled every %d ms)" % (
                 ms(detect_s) if detect_s is not None else "NEVER",
                 ms(FALL * INTERVAL_S + TIMEOUT_S), ms(MARGIN_S), ms(POLL_S)))
    tap.diag("figure: http pool, failed requests: %d in flight at the failure, %d started "
             "during detection, %d after the window; the last failing request started %s ms "
             "after the failure (failover gap for new requests)" % (
                 len(in_flight), len(during), len(late),
                 ms(last_fail - t_fail) if last_fail is not None else "-"))
    for x in (in_flight + during)[:6]:
        tap.diag("  failed request at %+d ms: %s" % (ms(x[0] - t_fail), x[2][:120]))
    b = labtest.ctl_backend(listing_down, "nova-api", c1) or {}
    reason = (b.get("check") or {}).get("reason", "")
    tap.ok(detect_s is not None and detect_s <= DOWN_BOUND_S,
           "c1's server stopped: fulcrumctl shows c1 down within %d ms (%s ms; reason: %s)" % (
               ms(DOWN_BOUND_S), ms(detect_s) if detect_s is not None else "never", reason),
           labtest.ctl_summary(listing_down, "nova-api"))
    tap.ok(not late and not c1_after and len(before) > 50 and not failed(before),
           "no request started more than %d ms after the failure fails or reaches c1 "
           "(%d failed before that: %d in flight, %d during detection)" % (
               ms(DOWN_BOUND_S), len(in_flight) + len(during), len(in_flight), len(during)),
           "late failures: %s; c1 answered after the stop: %d; failures before the stop: %s" % (
               [(ms(x[0] - t_fail), x[2][:80]) for x in late[:5]], len(c1_after),
               failed(before)[:3]))

    first_c1 = min((x[0] for x in answered(records, "c1", t_start)), default=None)
    rejoin_s = first_c1 - t_start if first_c1 is not None else None
    settled = [x for x in records if x[0] >= t_start + UP_BOUND_S]
    share = len(answered(settled, "c1")) / len(settled) if settled else 0.0
    tap.diag("figure: http pool, c1's server restarted: fulcrumctl shows c1 up after %s ms, "
             "first request answered by c1 %s ms after http-start returned (bound rise x "
             "interval = %d ms + %d ms margin); c1's share afterwards %.0f%% of %d" % (
                 ms(t_up - t_start) if t_up else "NEVER",
                 ms(rejoin_s) if rejoin_s is not None else "never",
                 ms(RISE * INTERVAL_S), ms(MARGIN_S), 100 * share, len(settled)))
    tap.ok(rejoin_s is not None and rejoin_s <= UP_BOUND_S and share >= 0.1,
           "c1's server restarted: c1 answers requests again within %d ms (%s ms) and takes "
           "its share (%.0f%%)" % (ms(UP_BOUND_S), ms(rejoin_s) if rejoin_s is not None
                                   else "never", 100 * share),
           labtest.ctl_summary(listing_up, "nova-api"))


def reload_services(i):
    """The services of reload i: nova-api unchanged, extra-a or extra-b, galera's c0 weight."""
    nova = labtest.service_toml(
        "nova-api", HTTP_PORT, [(a, None, None) for a in CONTROLLERS.values()],
        check='type = "http", interval = "200ms", timeout = "200ms", rise = 2, fall = 2')
    extra_name, extra_port = ("extra-a", 8775) if i % 2 == 0 else ("extra-b", 8776)
    extra = labtest.service_toml(
        extra_name, extra_port, [(a, HTTP_PORT, None) for a in CONTROLLERS.values()],
        check='type = "tcp", interval = "200ms", timeout = "200ms", rise = 1, fall = 1')
    weight = 1 + i % 3
    galera = labtest.service_toml(
        "galera", 3306, [(CONTROLLERS["c0"], None, weight), (CONTROLLERS["c1"], None, None),
                         (CONTROLLERS["c2"], None, None)],
        check='type = "mysql", interval = "200ms", timeout = "200ms", rise = 2, fall = 2')
    return nova + extra + galera, {"nova-api", extra_name, "galera"}, weight


def applied(listing, names, weight):
    if listing is None:
        return False
    got = {s.get("name") for s in listing.get("services", [])}
    b = labtest.ctl_backend(listing, "galera", CONTROLLERS["c0"])
    return got == names and b is not None and b.get("weight") == weight


def point_reload_under_load(lab, tap, tmp):
    lab.lb_stop("lb0")
    cfg = labtest.LbConfig(tmp, "reload")
    cfg.services = reload_services(RELOADS)[0]
    lab.lb_start_config(cfg)
    pid = lab.fulcrumd_pid("lb0")
    log_before = lab.lb_log("lb0")
    stop_file = os.path.join(tmp, "stop-reload-loop")
    loop = lab.client(tmp, "http-loop", "--target", "%s:%d" % (VIP, HTTP_PORT),
                      "--interval", "0.005", "--timeout", "2", "--duration", "90",
                      "--stop-file", stop_file)
    ctl_s, hup_s, problems = [], [], []
    t0 = time.monotonic()
    try:
        time.sleep(0.5)
        for i in range(RELOADS):
            services, names, weight = reload_services(i)
            cfg.write(services)
            t = time.monotonic()
            if i % 2 == 0:
                r = labtest.fulcrumctl(cfg.socket, "reload")
                ctl_s.append(time.monotonic() - t)
                if r.returncode != 0 or "reloaded" not in r.stdout:
                    problems.append("reload %d: fulcrumctl rc %d %s %s" % (
                        i, r.returncode, r.stdout.strip(), r.stderr.strip()))
                if not applied(labtest.ctl_list(cfg.socket), names, weight):
                    problems.append("reload %d (fulcrumctl): not applied" % i)
            else:
                os.kill(pid, signal.SIGHUP)
                seen = False
                for _ in range(150):  # up to ~3 s
                    if applied(labtest.ctl_list(cfg.socket), names, weight):
                        seen = True
                        break
                    time.sleep(0.02)
                hup_s.append(time.monotonic() - t)
                if not seen:
                    problems.append("reload %d (SIGHUP): not applied within 3 s" % i)
            if len(problems) > 5 or not labtest.proc_alive(pid):
                break
        reload_secs = time.monotonic() - t0
        time.sleep(0.3)
    finally:
        open(stop_file, "w").close()
    out = loop.finish(15)
    records = out.get("records", [])
    fails = failed(records)
    log = lab.lb_log("lb0")[len(log_before):]
    reloads_logged = len(re.findall(r"notice: reloading ", log))
    aborted = len(re.findall(r"reload aborted", log))
    tap.diag("figure: reload under load: %d reloads in %.1f s; fulcrumctl reload round trip "
             "mean %d ms, max %d ms; SIGHUP to applied (seen by fulcrumctl list) mean %d ms, "
             "max %d ms" % (
                 len(ctl_s) + len(hup_s), reload_secs,
                 ms(sum(ctl_s) / len(ctl_s)) if ctl_s else -1, ms(max(ctl_s, default=-1)),
                 ms(sum(hup_s) / len(hup_s)) if hup_s else -1, ms(max(hup_s, default=-1))))
    counts = {}
    for x in records:
        counts[x[2] if not x[2].startswith("ERR") else "failed"] = \
            counts.get(x[2] if not x[2].startswith("ERR") else "failed", 0) + 1
    tap.diag("figure: reload under load: %d nova-api requests during the reloads, %d failed: %s"
             % (len(records), len(fails), counts))
    tap.ok(not problems and len(ctl_s) + len(hup_s) == RELOADS and reloads_logged == RELOADS
           and aborted == 0,
           "%d config rewrites (service added, another removed, a weight changed), reloaded "
           "alternately by fulcrumctl reload and SIGHUP, each applied (%d reloads logged)" % (
               RELOADS, reloads_logged),
           "; ".join(problems[:5]) + " | aborted %d" % aborted)
    tap.ok(not fails and len(records) > 200,
           "no request to the unchanged service nova-api fails during the reloads (%d requests,"
           " a new connection each)" % len(records),
           "%d failed: %s" % (len(fails), [x[2][:100] for x in fails[:5]]))
    tap.ok(labtest.proc_alive(pid) and labtest.ctl_list(cfg.socket) is not None,
           "fulcrumd still runs and answers its API after the reloads")


def body(tap):
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "fnat") as lab:
        t = time.monotonic()
        lab.lb_start("lb0", "fnat")
        try:
            point_http_failover(lab, tap, tmp)
        finally:
            tap.diag("point 1 (http pool failover) took %.1f s" % (time.monotonic() - t))
        t = time.monotonic()
        try:
            point_reload_under_load(lab, tap, tmp)
        finally:
            tap.diag("point 7 (reload under load) took %.1f s" % (time.monotonic() - t))
        if tap.failed:
            tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-3000:])


if __name__ == "__main__":
    labtest.require_environment()
    labtest.require_fulcrumctl()
    labtest.main_wrapper(PLANNED, body)
