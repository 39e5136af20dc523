#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""fulcrumctl and /metrics against a running fulcrumd (issue 5, acceptance points 5 and 6).

Plain lab, fulcrumd with lab.sh's generated config (nova-api with an http check, galera with a
mysql check).

5. fulcrumctl: `list` (table and --json) and `stats` (table and --json) describe the running
   node; `drain nova-api B` keeps an existing long-lived connection to B (an HTTP/1.1
   keep-alive connection through the VIP, a request every 100 ms, pinned to B — B is the
   controller that answered its first request) while 200 new requests avoid B; `reload` keeps
   the drain; `enable` brings B back; `weight nova-api B 0` stops new flows to B while the held
   connection goes on; `disable` stops B (no answer from B after it, the held connection
   included, and 200 new requests avoid it); unknown service or backend exit 1 with a message;
   fulcrumctl with nothing listening exits 3.
6. /metrics (inside fl-lb0, http://127.0.0.1:9108/metrics): valid Prometheus text exposition
   0.0.4 by a strict parser (prom_text.py, itself checked to reject malformed pages), the
   documented families with their types and labels, and counters move with traffic:
   fulcrum_backend_flows_total and fulcrum_worker_rx_packets_total grow after 50 requests.
"""

import json
import os
import socket
import stat
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402
import prom_text  # noqa: E402
from labtest import CONTROLLERS, HTTP_PORT, VIP  # noqa: E402

PLANNED = 3 + 7 + 2 + 1 + 4 + 2
N_NEW = 200

# Families the operator guide documents: type and label names.
DOCUMENTED = {
    "fulcrum_backend_up": ("gauge", ["service", "backend"]),
    "fulcrum_backend_serving": ("gauge", ["service", "backend"]),
    "fulcrum_backend_weight": ("gauge", ["service", "backend"]),
    "fulcrum_backend_flows": ("gauge", ["service", "backend"]),
    "fulcrum_backend_flows_total": ("counter", ["service", "backend"]),
    "fulcrum_backend_packets_total": ("counter", ["service", "backend"]),
    "fulcrum_backend_bytes_total": ("counter", ["service", "backend"]),
    "fulcrum_backend_check_latency_seconds": ("gauge", ["service", "backend"]),
    "fulcrum_port_link_up": ("gauge", ["port"]),
    "fulcrum_port_rx_packets_total": ("counter", ["port"]),
    "fulcrum_port_tx_packets_total": ("counter", ["port"]),
    "fulcrum_port_rx_missed_total": ("counter", ["port"]),
    "fulcrum_worker_rx_packets_total": ("counter", ["worker"]),
    "fulcrum_worker_forwarded_total": ("counter", ["worker"]),
    "fulcrum_worker_replied_total": ("counter", ["worker"]),
    "fulcrum_worker_to_kernel_total": ("counter", ["worker"]),
    "fulcrum_worker_new_flows_total": ("counter", ["worker"]),
    "fulcrum_worker_drops_total": ("counter", ["worker", "reason"]),
    "fulcrum_worker_busy_ratio": ("gauge", ["worker"]),
    "fulcrum_tables_version": ("gauge", []),
}

# Pages the strict parser must reject (what Prometheus rejects or merely tolerates).
MALFORMED = {
    "no final newline": "a 1",
    "bad metric name": "1a 1\n",
    "bad value": "a one\n",
    "Python-only float": "a 1_000\n",
    "bad escape": 'a{l="\\t"} 1\n',
    "unterminated label value": 'a{l="x} 1\n',
    "trailing comma": 'a{l="x",} 1\n',
    "reserved label": 'a{__l="x"} 1\n',
    "label twice": 'a{l="x",l="y"} 1\n',
    "duplicate series": 'a{l="x"} 1\na{l="x"} 2\n',
    "TYPE after samples": "a 1\n# TYPE a gauge\n",
    "second TYPE": "# TYPE a gauge\n# TYPE a gauge\na 1\n",
    "unknown type": "# TYPE a thing\na 1\n",
    "interleaved families": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n",
    "two spaces": "a  1\n",
    "empty line": "a 1\n\nb 1\n",
    "bad timestamp": "a 1 1.5\n",
}
WELL_FORMED = ('# HELP a A \\\\ help\\n line\n# TYPE a counter\na{l="q\\"\\\\\\n",m="2"} 1e3 17\n'
               'a{l="y"} +Inf\n# a comment\nb NaN\n')


def lab_tmpdir():
    with open(os.path.join(labtest.STATE_DIR, "tmpdir")) as f:
        return f.read().strip()


def load(lab, n):
    return lab.http_load(["%s:%d" % (VIP, HTTP_PORT)], n, timeout=2.0)


def counts_text(load_result):
    return ", ".join("%s %d" % (c, load_result["counts"].get(c, 0)) for c in sorted(CONTROLLERS))


def backend_state(sock, address):
    b = labtest.ctl_backend(labtest.ctl_list(sock), "nova-api", address) or {}
    return b.get("admin"), b.get("serving"), b.get("weight"), b.get("health")


def records_between(records, t0, t1):
    return [r for r in records if t0 <= r[0] < t1]


def point_list_stats(tap, sock):
    r = labtest.fulcrumctl(sock, "list")
    lines = r.stdout.splitlines()
    rows = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "->":
            rows[parts[1]] = parts
    want = ["%s:%d" % (a, p) for p in (HTTP_PORT, 3306) for a in CONTROLLERS.values()]
    good = (r.returncode == 0 and lines[:1] and lines[0].split()[:2] == ["Prot", "VIP:Port"]
            and "TCP  %s:%d" % (VIP, HTTP_PORT) in r.stdout and "TCP  %s:3306" % VIP in r.stdout
            and all(w in rows and rows[w][3] == "up" and rows[w][4] == "enabled" for w in want))
    tap.ok(good, "fulcrumctl list: a table of both services and their 6 backends, all up and "
                 "enabled", "rc %d: %s %s" % (r.returncode, r.stdout[-800:], r.stderr))
    tap.diag("fulcrumctl list:\n" + r.stdout.rstrip())

    listing = labtest.ctl_list(sock)
    good = False
    details = json.dumps(listing)[:600]
    if listing is not None:
        services = {s["name"]: s for s in listing.get("services", [])}
        good = (listing.get("ok") is True and set(services) == {"nova-api", "galera"}
                and all(len(s["backends"]) == 3 and all(
                    b["health"] == "up" and b["admin"] == "enabled" and b["serving"] is True
                    and b["weight"] == 1 and b["check"]["ok"] is True
                    and isinstance(b["flows"], int) for b in s["backends"])
                    for s in services.values())
                and services["nova-api"]["backends"][0]["check"]["type"] == "http"
                and services["galera"]["backends"][0]["check"]["type"] == "mysql")
    tap.ok(good, "fulcrumctl list --json: services nova-api and galera, 3 backends each with "
                 "health up, admin enabled, serving, weight 1, a passing check (http / mysql)",
           details)

    r = labtest.fulcrumctl(sock, "stats")
    rj = labtest.fulcrumctl(sock, "stats", "--json")
    stats = None
    try:
        stats = json.loads(rj.stdout)
    except ValueError:
        pass
    good = (r.returncode == 0 and "RX packets" in r.stdout and "Worker" in r.stdout
            and "Drops by reason" in r.stdout and rj.returncode == 0 and stats is not None
            and stats.get("ok") is True and stats["ports"][0]["name"] == "lan"
            and stats["ports"][0]["link"] == "up" and len(stats["workers"]) == 1
            and stats["workers"][0]["rx_packets"] > 0 and isinstance(stats.get("drops"), dict))
    tap.ok(good, "fulcrumctl stats (table and --json): port lan link up, 1 worker that has "
                 "received packets, drops by reason",
           "rc %d/%d: %s | %s" % (r.returncode, rj.returncode, r.stdout[-400:],
                                  rj.stdout[-400:] + rj.stderr))
    tap.diag("fulcrumctl stats:\n" + r.stdout.rstrip())


def point_admin(lab, tap, tmp, sock):
    stop_file = os.path.join(tmp, "stop-keepalive")
    ka = lab.client(tmp, "http-keepalive", "--target", "%s:%d" % (VIP, HTTP_PORT),
                    "--interval", "0.1", "--timeout", "2", "--duration", "40",
                    "--stop-file", stop_file)
    marks = {}
    try:
        first = ka.wait_line("first", 10)
        if not tap.ok(first is not None and first["first"] in CONTROLLERS,
                      "a keep-alive connection through the VIP is answered by one controller (%s)"
                      % (first or {}).get("first"), "keep-alive client: %s" % ka.lines()):
            return
        name = first["first"]
        addr = CONTROLLERS[name]
        tap.diag("the held keep-alive connection is pinned to %s (%s)" % (name, addr))

        # drain: the held connection goes on, new connections avoid the backend.
        r = labtest.fulcrumctl(sock, "drain", "nova-api", addr)
        marks["drain"] = time.monotonic()
        state = backend_state(sock, addr)
        new = load(lab, N_NEW)
        time.sleep(max(0.0, marks["drain"] + 0.8 - time.monotonic()))
        # reload keeps the drain
        rr = labtest.fulcrumctl(sock, "reload")
        state_after_reload = backend_state(sock, addr)
        marks["enable"] = time.monotonic()
        tap.ok(r.returncode == 0 and "drain" in r.stdout and state[:2] == ("drain", False)
               and new["ok"] == N_NEW and new["counts"].get(name, 0) == 0,
               "drain nova-api %s: admin drain, not serving; %d new requests all succeed and "
               "avoid it (%s)" % (addr, N_NEW, counts_text(new)),
               "rc %d %s %s; state %s; %s" % (r.returncode, r.stdout, r.stderr, state,
                                              new.get("errors")))
        tap.ok(rr.returncode == 0 and "reloaded" in rr.stdout
               and state_after_reload[:2] == ("drain", False),
               "fulcrumctl reload: '%s'; the drain survives it" % rr.stdout.strip(),
               "rc %d %s; state after reload %s" % (rr.returncode, rr.stderr, state_after_reload))

        r = labtest.fulcrumctl(sock, "enable", "nova-api", addr)
        state = backend_state(sock, addr)
        new = load(lab, N_NEW)
        tap.ok(r.returncode == 0 and state[:2] == ("enabled", True) and new["ok"] == N_NEW
               and new["counts"].get(name, 0) >= N_NEW // 10,
               "enable nova-api %s: serving again, it answers %d of %d new requests (%s)" % (
                   addr, new["counts"].get(name, 0), N_NEW, counts_text(new)),
               "rc %d %s %s; state %s; %s" % (r.returncode, r.stdout, r.stderr, state,
                                              new.get("errors")))

        # weight 0: no new flows; the held connection goes on.
        r = labtest.fulcrumctl(sock, "weight", "nova-api", addr, "0")
        marks["weight0"] = time.monotonic()
        state = backend_state(sock, addr)
        new = load(lab, N_NEW)
        time.sleep(max(0.0, marks["weight0"] + 0.5 - time.monotonic()))
        r1 = labtest.fulcrumctl(sock, "weight", "nova-api", addr, "1")
        marks["weight1"] = time.monotonic()
        state1 = backend_state(sock, addr)
        tap.ok(r.returncode == 0 and state[1:3] == (False, 0) and new["ok"] == N_NEW
               and new["counts"].get(name, 0) == 0 and r1.returncode == 0
               and state1[1:3] == (True, 1),
               "weight nova-api %s 0: no new flows to it (%s); weight 1 restores it" % (
                   addr, counts_text(new)),
               "rc %d/%d; state %s then %s; %s" % (r.returncode, r1.returncode, state, state1,
                                                   new.get("errors")))
        time.sleep(0.3)

        # disable: no traffic at all, the held connection included.
        r = labtest.fulcrumctl(sock, "disable", "nova-api", addr)
        marks["disable"] = time.monotonic()
        state = backend_state(sock, addr)
        new = load(lab, N_NEW)
        time.sleep(max(0.0, marks["disable"] + 0.5 - time.monotonic()))
        open(stop_file, "w").close()
        out = ka.finish(10)
        records = out.get("records", [])
        tap.diag("the held connection made %d requests (%s ... %s)%s" % (
            len(records), records[:1], records[-1:],
            "; " + out["error"] if "error" in out else ""))
        held_drain = records_between(records, marks["drain"], marks["enable"])
        held_w0 = records_between(records, marks["weight0"], marks["weight1"])
        after_disable = [x for x in records if x[0] > marks["disable"]]
        tap.ok(len(held_drain) >= 5 and all(x[2] == name for x in held_drain)
               and len(held_w0) >= 3 and all(x[2] == name for x in held_w0),
               "the held connection to %s goes on while drained (%d requests) and at weight 0 "
               "(%d requests), every one answered by %s" % (name, len(held_drain), len(held_w0),
                                                           name),
               "drained: %s; weight 0: %s" % (held_drain[-5:], held_w0[-5:]))
        held_fate = after_disable[0][2] if after_disable else "no request after disable"
        tap.diag("the held connection after disable: %s" % held_fate[:160])
        tap.ok(r.returncode == 0 and state[:2] == ("disabled", False) and new["ok"] == N_NEW
               and new["counts"].get(name, 0) == 0
               and not any(x[2] == name for x in after_disable),
               "disable nova-api %s: no answer from it any more, on %d new requests (%s) nor on "
               "the held connection (%s)" % (addr, N_NEW, counts_text(new), held_fate[:80]),
               "rc %d %s; state %s; after disable %s; %s" % (
                   r.returncode, r.stderr, state, after_disable[:3], new.get("errors")))
        r = labtest.fulcrumctl(sock, "enable", "nova-api", addr)
        tap.diag("enable nova-api %s: rc %d %s" % (addr, r.returncode, r.stdout.strip()))
    finally:
        open(stop_file, "w").close()
        ka.stop()


def point_errors(tap, tmp, sock):
    cases = [
        (["drain", "no-such-service", CONTROLLERS["c0"]], "no service named 'no-such-service'"),
        (["enable", "no-such-service", CONTROLLERS["c0"]], "no service named"),
        (["drain", "nova-api", "192.0.2.99"], "has no backend 192.0.2.99"),
        (["disable", "nova-api", "192.0.2.10:9999"], "has no backend 192.0.2.10:9999"),
        (["weight", "nova-api", "192.0.2.99", "3"], "has no backend 192.0.2.99"),
        (["weight", "no-such-service", CONTROLLERS["c0"], "3"], "no service named"),
    ]
    bad = []
    for args, want in cases:
        r = labtest.fulcrumctl(sock, *args)
        if r.returncode != 1 or want not in r.stderr or r.stdout.strip():
            bad.append("%s: rc %d, stderr %r, stdout %r" % (" ".join(args), r.returncode,
                                                          r.stderr.strip(), r.stdout.strip()))
        else:
            tap.diag("fulcrumctl %s -> rc 1: %s" % (" ".join(args), r.stderr.strip()))
    tap.ok(not bad, "unknown service or backend: fulcrumctl exits 1 with the reason (%d cases)"
           % len(cases), "; ".join(bad))

    # Nothing listening: a path where no socket is, and a socket bound but not listening.
    missing = os.path.join(tmp, "missing.sock")
    bound_path = os.path.join(tmp, "bound.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(bound_path)
        r1 = labtest.fulcrumctl(missing, "list")
        r2 = labtest.fulcrumctl(bound_path, "stats")
    finally:
        s.close()
    tap.ok(r1.returncode == 3 and r2.returncode == 3 and "cannot connect" in r1.stderr,
           "fulcrumctl with nothing listening exits 3 (no socket file: rc %d; a socket that is "
           "not listening: rc %d)" % (r1.returncode, r2.returncode),
           "%s | %s" % (r1.stderr.strip(), r2.stderr.strip()))


def api_exchange(sock_path, payload, timeout=5.0):
    """Sends payload on a fresh connection to the API; (reply lines, closed by the server)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    data = b""
    closed = False
    try:
        s.connect(sock_path)
        try:
            s.sendall(payload)
        except OSError:
            pass  # the server refused the rest (an oversized request): its reply is still there
        while b"\n" not in data or payload.count(b"\n") > data.count(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
        if not closed:
            s.settimeout(0.3)
            try:
                closed = s.recv(1) == b""
            except socket.timeout:
                closed = False
    except OSError as e:
        return ["OSError: %s" % e], True
    finally:
        s.close()
    return [line for line in data.decode(errors="replace").splitlines() if line], closed


def point_input_limits(tap, sock):
    """Issue 8, input limits: oversized and malformed requests get an error and the API keeps
    serving; the socket is root's alone (fulcrumctl as nobody cannot use it)."""
    big, big_closed = api_exchange(sock, b'{"cmd":"list","pad":"' + b"x" * 70000 + b'"}\n')
    bad, bad_closed = api_exchange(sock, b'{"cmd": "list"\n{"cmd":"weight","weight":1e999}\n'
                                         b'["list"]\n{"cmd":"stats"}\n')
    after = labtest.ctl_list(sock)
    ok_big = len(big) == 1 and '"ok":false' in big[0] and "too large" in big[0] and big_closed
    ok_bad = (len(bad) == 4 and all('"ok":false' in x for x in bad[:3])
              and '"ok":true' in bad[3] and not bad_closed)
    tap.ok(ok_big and ok_bad and after is not None,
           "API input limits: a 70 kB request gets 'request too large' and its connection is "
           "closed; malformed JSON, a number beyond a double and a non-object each get an error "
           "on a connection that goes on serving; fulcrumd still answers",
           "big %s closed=%s | bad %s closed=%s" % ([x[:120] for x in big], big_closed,
                                                   [x[:120] for x in bad], bad_closed))
    st = os.stat(sock)
    r = labtest.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                     labtest.FULCRUMCTL, "-s", sock, "list"], timeout=15)
    tap.ok(stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0 and r.returncode == 3
           and "ermission denied" in r.stderr,
           "the API socket is mode 0600, owned by root; fulcrumctl as nobody gets 'Permission "
           "denied' (rc %d)" % r.returncode,
           "mode %o uid %d; %s" % (stat.S_IMODE(st.st_mode), st.st_uid, r.stderr.strip()))


def sum_samples(fams, name, **labels):
    fam = fams.get(name)
    if fam is None:
        return None
    return sum(s.value for s in fam.samples
               if all(s.label(k) == v for k, v in labels.items()))


def point_metrics(lab, tap):
    rejected = []
    for what, page in MALFORMED.items():
        try:
            prom_text.parse(page)
        except prom_text.ParseError:
            rejected.append(what)
    try:
        prom_text.parse(WELL_FORMED)
        accepts = True
    except prom_text.ParseError as e:
        accepts = str(e)
    tap.ok(len(rejected) == len(MALFORMED) and accepts is True,
           "the strict exposition parser rejects %d malformed pages and accepts a well-formed "
           "one" % len(MALFORMED),
           "not rejected: %s; well-formed page: %s" % (
               sorted(set(MALFORMED) - set(rejected)), accepts))

    head, body = lab.metrics("lb0")
    ctype = ""
    for line in head.splitlines():
        if line.lower().startswith("content-type:"):
            ctype = line.split(":", 1)[1].strip()
    fams, error = {}, ""
    try:
        fams = prom_text.by_family(prom_text.parse(body))
    except prom_text.ParseError as e:
        error = str(e)
    n_samples = sum(len(f.samples) for f in fams.values())
    tap.ok(head.startswith("HTTP/1.1 200") and ctype.startswith("text/plain; version=0.0.4")
           and not error and n_samples > 0,
           "GET /metrics: 200, %s, valid text exposition 0.0.4 (%d families, %d series)" % (
               ctype, len(fams), n_samples),
           "%s | %s | %s" % (head.splitlines()[:1], error, body[:300]))

    problems = []
    for name, (typ, label_names) in DOCUMENTED.items():
        fam = fams.get(name)
        if fam is None:
            problems.append("%s missing" % name)
            continue
        if fam.type != typ or fam.help is None:
            problems.append("%s: type %s (want %s), help %r" % (name, fam.type, typ, fam.help))
        for s in fam.samples:
            if [k for k, _ in s.labels] != label_names:
                problems.append("%s: labels %s (want %s)" % (name, s.labels, label_names))
                break
            if typ == "counter" and not (s.value >= 0 and s.value != float("inf")):
                problems.append("%s%s: counter value %r" % (name, s.labels, s.value))
        if not fam.samples:
            problems.append("%s: no samples" % name)
    up = [s.value for s in fams.get("fulcrum_backend_up", prom_text.Family("")).samples]
    if up != [1.0] * 6:
        problems.append("fulcrum_backend_up: %s (want six 1s)" % up)
    tap.ok(not problems, "the %d documented metric families are there with their types, HELP "
                         "and labels; every backend up" % len(DOCUMENTED), "; ".join(problems))

    before = fams
    load_result = load(lab, 50)
    time.sleep(0.2)
    _head, body2 = lab.metrics("lb0")
    after, error2 = {}, ""
    try:
        after = prom_text.by_family(prom_text.parse(body2))
    except prom_text.ParseError as e:
        error2 = str(e)
    flows0 = sum_samples(before, "fulcrum_backend_flows_total", service="nova-api") or 0
    flows1 = sum_samples(after, "fulcrum_backend_flows_total", service="nova-api") or 0
    rx0 = sum_samples(before, "fulcrum_worker_rx_packets_total") or 0
    rx1 = sum_samples(after, "fulcrum_worker_rx_packets_total") or 0
    new0 = sum_samples(before, "fulcrum_worker_new_flows_total") or 0
    new1 = sum_samples(after, "fulcrum_worker_new_flows_total") or 0
    went_back = []
    for name, fam in before.items():
        if fam.type != "counter" or name not in after:
            continue
        now = {s.key(): s.value for s in after[name].samples}
        for s in fam.samples:
            if s.key() in now and now[s.key()] < s.value:
                went_back.append("%s%s %s -> %s" % (name, dict(s.labels), s.value,
                                                    now[s.key()]))
    tap.diag("figure: metrics after %d requests: fulcrum_backend_flows_total{nova-api} +%d, "
             "fulcrum_worker_new_flows_total +%d, fulcrum_worker_rx_packets_total +%d" % (
                 load_result["ok"], flows1 - flows0, new1 - new0, rx1 - rx0))
    tap.ok(load_result["ok"] == 50 and not error2 and flows1 - flows0 >= 50
           and rx1 - rx0 >= 50 * 3 and not went_back,
           "after 50 requests fulcrum_backend_flows_total{service=\"nova-api\"} grew by %d "
           "(>= 50) and fulcrum_worker_rx_packets_total by %d; no counter went back" % (
               flows1 - flows0, rx1 - rx0),
           "%s; %s; went back: %s" % (load_result.get("errors"), error2, went_back[:3]))


def point_invalid_reload(tap, sock):
    """An invalid file changes nothing: reload refuses it with FILE:LINE, the services stay."""
    config = os.path.join(lab_tmpdir(), "lb0.toml")
    with open(config) as f:
        good = f.read()
    broken_line = good.count("\n") + 2
    try:
        with open(config, "a") as f:
            f.write('\n[[service]]\nname = "broken"\nvip = "192.0.2.26"\nport = 99999\n')
        r = labtest.fulcrumctl(sock, "reload")
        listing = labtest.ctl_list(sock)
    finally:
        with open(config, "w") as f:
            f.write(good)
    names = [svc.get("name") for svc in (listing or {}).get("services", [])]
    ok = (r.returncode == 1 and "reload aborted" in r.stderr and
          "%s:%d" % (config, broken_line) in r.stderr and names == ["nova-api", "galera"])
    tap.ok(ok, "reload of an invalid file is refused with FILE:LINE and changes nothing "
           "(rc %d, services %s)" % (r.returncode, names), r.stderr.strip())


def body(tap):
    with labtest.TempDir() as tmp, labtest.WaitingLab(tap, "fnat") as lab:
        lab.lb_start("lb0", "fnat")
        sock = os.path.join(lab_tmpdir(), "lb0-api.sock")
        t = time.monotonic()
        try:
            point_list_stats(tap, sock)
            point_admin(lab, tap, tmp, sock)
            point_errors(tap, tmp, sock)
            point_invalid_reload(tap, sock)
            point_input_limits(tap, sock)
        finally:
            tap.diag("point 5 (fulcrumctl) took %.1f s" % (time.monotonic() - t))
        t = time.monotonic()
        try:
            point_metrics(lab, tap)
        finally:
            tap.diag("point 6 (metrics) took %.1f s" % (time.monotonic() - t))
        if tap.failed:
            tap.diag("fulcrumd log (tail):\n" + lab.lb_log("lb0")[-3000:])


if __name__ == "__main__":
    labtest.require_environment()
    labtest.require_fulcrumctl()
    labtest.main_wrapper(PLANNED, body)
