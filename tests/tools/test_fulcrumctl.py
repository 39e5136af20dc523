#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""fulcrumctl against a fake API server on a temporary Unix socket: the exact request each
command sends, its tables and --json output, and its exit codes (0 ok, 1 when fulcrumd says
ok:false or does not answer, 2 on usage errors, 3 when nothing listens). Needs no root."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

fulcrumctl = sys.argv[1]


def backend(address, port, health, admin, serving, flows, rate, check):
    return {"address": address, "port": port, "weight": 1, "health": health, "admin": admin,
            "serving": serving, "flows": flows, "new_flows": 340, "new_flow_rate": rate,
            "packets": 1234, "bytes": 56789, "check": check}


HTTP_OK = {"type": "http", "ok": True, "reason": "HTTP 200", "latency_ms": 1.3}
LIST = {"ok": True, "services": [
    {"name": "nova-api", "vip": "192.0.2.26", "port": 8774, "protocol": "tcp",
     "scheduler": "maglev", "forward": "fnat", "pool": "active",
     "backends": [backend("192.0.2.10", 8774, "up", "enabled", True, 12, 5.2, HTTP_OK),
                  backend("192.0.2.11", 8774, "down", "drain", False, 0, 0.0,
                          {"type": "http", "ok": False, "reason": "connection refused",
                           "latency_ms": 0.4})]},
    {"name": "galera", "vip": "192.0.2.26", "port": 3306, "protocol": "tcp",
     "scheduler": "maglev", "forward": "fnat", "pool": "standby",
     "backends": [backend("192.0.2.10", 3306, "up", "enabled", True, 7, 0.5, None),
                  backend("192.0.2.12", 3306, "up", "enabled", False, 0, 0.0, None)]}]}
STATS = {"ok": True,
         "ports": [{"name": "lan", "link": "up", "rx_packets": 1234567, "tx_packets": 1234000,
                    "rx_bytes": 98765432, "tx_bytes": 98000000, "rx_missed": 0,
                    "rx_errors": 2, "tx_errors": 0}],
         "workers": [{"id": 0, "rx_packets": 600000, "rx_bytes": 48000000, "forwarded": 599000,
                      "replied": 10, "to_kernel": 900, "handed_off": 0, "new_flows": 340,
                      "dropped": 90, "busy_ratio": 0.05,
                      "drops": {"no_flow": 3, "bad_checksum": 87}}],
         "drops": {"no_flow": 3, "bad_checksum": 87, "ttl": 0}}
VRRP = {"ok": True, "instances": [{"name": "VI_1", "state": "MASTER", "priority": 150,
                                   "effective_priority": 150, "vrid": 51,
                                   "master": "192.0.2.2", "vips": ["192.0.2.26"]}]}

ANNOUNCE = {"ok": True, "configured": True, "bird_socket": "/run/bird/bird.ctl",
            "bird_connected": True, "bird_greeting": "BIRD 2.0.12 ready.", "last_error": "",
            "vips": [{"vip": "192.0.2.26", "protocol": "vip1", "wanted": "announce",
                      "reason": "its service is serving", "bird": "enabled", "bird_state": "up",
                      "since_s": 4.0, "changes": 0, "error": ""}]}


class FakeFulcrumd:
    """Answers one JSON line per request line, and records every request it received.
    mode: "answer" (default), "silent" (reads, never replies), "close" (closes at once)."""

    def __init__(self, path):
        self.path = path
        self.requests = []   # parsed request objects
        self.raw = []        # the raw bytes of each connection
        self.mode = "answer"
        self.vrrp = VRRP
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def reply(self, request):
        cmd = request.get("cmd")
        if request.get("service") == "nope":
            return {"ok": False, "error": "no service 'nope'"}
        if cmd == "list":
            return LIST
        if cmd == "stats":
            return STATS
        if cmd == "vrrp":
            return self.vrrp
        if cmd == "announce":
            return ANNOUNCE
        if cmd in ("drain", "enable", "disable", "weight"):
            return {"ok": True, "message": f"{request['service']} {request['backend']}: {cmd} done"}
        if cmd == "reload":
            return {"ok": True, "message": "reloaded: 2 services"}
        return {"ok": False, "error": f"unknown command '{cmd}'"}

    def serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                raw = b""
                if self.mode != "close":
                    conn.settimeout(10)
                    pending = b""
                    try:
                        while True:
                            chunk = conn.recv(65536)
                            if not chunk:
                                break
                            raw += chunk
                            pending += chunk
                            while b"\n" in pending:
                                line, pending = pending.split(b"\n", 1)
                                request = json.loads(line)
                                self.requests.append(request)
                                if self.mode == "answer":
                                    conn.sendall(json.dumps(self.reply(request)).encode() + b"\n")
                    except (socket.timeout, OSError):
                        pass
                self.raw.append(raw)

    def close(self):
        self.running = False
        self.sock.close()
        self.thread.join(timeout=5)


failures = 0
checks = 0


def check(cond, what, detail=""):
    global failures, checks
    checks += 1
    if cond:
        print(f"ok {checks} - {what}")
    else:
        failures += 1
        print(f"not ok {checks} - {what}")
        for line in str(detail).splitlines():
            print(f"# {line}")
    sys.stdout.flush()


def run(*args, timeout=30):
    return subprocess.run([fulcrumctl, *args], capture_output=True, text=True, timeout=timeout)


def show(r):
    return f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"


PLAN = 26
print(f"1..{PLAN}")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "api.sock")
    server = FakeFulcrumd(path)

    def exchange(*args):
        """Runs fulcrumctl -s path ARGS; returns (result, the requests this run sent)."""
        before = len(server.requests)
        r = run("-s", path, *args)
        time.sleep(0.05)  # let the fake server record the connection's end
        return r, server.requests[before:]

    # Each command: its exact request, exit 0, and what it prints.
    r, sent = exchange("list")
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and sent == [{"cmd": "list"}]
          and lines[:3] == ["Prot VIP:Port              Scheduler Forward Pool",
                            "  -> Backend:Port          Weight Health  Admin    Flows  NewFlows/s  Check",
                            "TCP  192.0.2.26:8774       maglev    fnat    active"]
          and "  -> 192.0.2.10:8774       1      up      enabled  12     5.2         ok: HTTP 200 (1.3 ms)" in lines
          and any(line.startswith(" *-> 192.0.2.10:3306") for line in lines),
          "list sends {\"cmd\":\"list\"} and prints the ipvsadm-style table", show(r) + f"\nsent {sent}")

    r, sent = exchange("list", "--json")
    check(r.returncode == 0 and sent == [{"cmd": "list"}]
          and r.stdout == json.dumps(LIST, indent=2, sort_keys=True) + "\n",
          "list --json prints the reply as is, 2-space indented", show(r))

    r, sent = exchange("--json", "vrrp")
    check(r.returncode == 0 and json.loads(r.stdout) == VRRP, "--json also works before the command",
          show(r))

    r, sent = exchange("drain", "nova-api", "192.0.2.10")
    check(r.returncode == 0
          and sent == [{"cmd": "drain", "service": "nova-api", "backend": "192.0.2.10"}]
          and r.stdout == "nova-api 192.0.2.10: drain done\n",
          "drain SERVICE ADDR sends the address as given and prints the message", show(r) + f"\nsent {sent}")

    r, sent = exchange("enable", "nova-api", "192.0.2.10:8774")
    check(r.returncode == 0
          and sent == [{"cmd": "enable", "service": "nova-api", "backend": "192.0.2.10:8774"}],
          "enable SERVICE ADDR:PORT", show(r) + f"\nsent {sent}")

    r, sent = exchange("disable", "galera", "192.0.2.12")
    check(r.returncode == 0
          and sent == [{"cmd": "disable", "service": "galera", "backend": "192.0.2.12"}],
          "disable SERVICE ADDR", show(r) + f"\nsent {sent}")

    r, sent = exchange("weight", "nova-api", "192.0.2.10:8774", "5")
    check(r.returncode == 0
          and sent == [{"cmd": "weight", "service": "nova-api", "backend": "192.0.2.10:8774",
                        "weight": 5}]
          and isinstance(sent[0]["weight"], int),
          "weight sends the weight as a JSON integer", show(r) + f"\nsent {sent}")

    r, sent = exchange("weight", "nova-api", "192.0.2.10", "0")
    check(r.returncode == 0 and sent and sent[0].get("weight") == 0, "weight 0 is allowed",
          show(r) + f"\nsent {sent}")

    r, sent = exchange("vrrp")
    check(r.returncode == 0 and sent == [{"cmd": "vrrp"}]
          and r.stdout == ("Name  State   Priority  Effective  VRID  Master     Transitions  "
                           "Sent  Received  Dropped  VIPs\n"
                           "VI_1  MASTER  150       150        51    192.0.2.2  -            "
                           "-     -         -        192.0.2.26\n"),
          "vrrp prints a table of instances", show(r))

    server.vrrp = {"ok": True, "instances": []}
    r, sent = exchange("vrrp")
    check(r.returncode == 0 and r.stdout == "no VRRP instances\n", "vrrp without instances", show(r))

    r, sent = exchange("announce")
    check(r.returncode == 0 and sent == [{"cmd": "announce"}]
          and r.stdout == ("BIRD /run/bird/bird.ctl: connected (BIRD 2.0.12 ready.)\n"
                           "VIP         Protocol  Wanted    BIRD     State  Since  Reason\n"
                           "192.0.2.26  vip1      announce  enabled  up     4.0s   its service is "
                           "serving\n"),
          "announce prints BIRD's connection and a line per VIP", show(r))

    r, sent = exchange("stats")
    check(r.returncode == 0 and sent == [{"cmd": "stats"}]
          and r.stdout.startswith("Port  Link  RX packets")
          and "\nWorker  RX packets" in r.stdout
          and r.stdout.endswith("Drops by reason:\n  bad_checksum  87\n  no_flow        3\n"),
          "stats prints ports, workers and the non-zero drops", show(r))

    r, sent = exchange("reload")
    check(r.returncode == 0 and sent == [{"cmd": "reload"}]
          and r.stdout == "reloaded: 2 services\n", "reload", show(r))

    raw_before = len(server.raw)
    r, sent = exchange("stats")
    raw = server.raw[raw_before:]
    check(raw == [b'{"cmd":"stats"}\n'], "the request is one compact JSON line", raw)

    # fulcrumd says no: exit 1, its error on stderr.
    r, sent = exchange("drain", "nope", "192.0.2.10")
    check(r.returncode == 1 and r.stderr == "fulcrumctl: no service 'nope'\n" and r.stdout == "",
          "ok:false exits 1 and prints the error", show(r))

    r, sent = exchange("--json", "drain", "nope", "192.0.2.10")
    check(r.returncode == 1 and json.loads(r.stdout)["ok"] is False
          and r.stderr == "fulcrumctl: no service 'nope'\n",
          "ok:false with --json prints the reply too", show(r))

    # Usage errors: exit 2, nothing sent.
    usage_cases = [
        ([], "no command"),
        (["frobnicate"], "unknown command"),
        (["drain", "nova-api"], "drain with a missing argument"),
        (["list", "extra"], "list with an extra argument"),
        (["weight", "nova-api", "192.0.2.10", "heavy"], "weight that is not a number"),
        (["weight", "nova-api", "192.0.2.10", "70000"], "weight out of range"),
        (["drain", "nova-api", "192.0.2.300"], "invalid backend address"),
        (["drain", "nova-api", "192.0.2.10:0"], "port 0"),
        (["--frob", "list"], "unknown option"),
    ]
    bad = []
    before = len(server.requests)
    for args, what in usage_cases:
        r = run("-s", path, *args)
        if r.returncode != 2 or not r.stderr.startswith("fulcrumctl: "):
            bad.append(f"{what}: {show(r)}")
    time.sleep(0.05)
    check(not bad and len(server.requests) == before,
          f"usage errors exit 2 and send nothing ({len(usage_cases)} cases)", "\n".join(bad))

    r = run("--help")
    check(r.returncode == 0 and "drain SERVICE BACKEND_ADDR" in r.stdout, "--help exits 0", show(r))

    # fulcrumd answers nothing, or hangs up: exit 1, within the 5 s budget.
    server.mode = "silent"
    t0 = time.monotonic()
    r, sent = exchange("list")
    elapsed = time.monotonic() - t0
    check(r.returncode == 1 and "within 5 s" in r.stderr and 4.5 <= elapsed < 8,
          f"no reply: exit 1 after the 5 s timeout ({elapsed:.1f} s)", show(r))

    server.mode = "close"
    r = run("-s", path, "list")
    # (fulcrumctl sees EOF, or EPIPE when the hang-up beats its write)
    check(r.returncode == 1 and ("without a reply" in r.stderr or "lost the connection" in r.stderr),
          "hang-up without a reply: exit 1", show(r))
    server.mode = "answer"
    server.close()

    # Nothing listens: exit 3 with the operator's hint.
    missing = os.path.join(tmp, "missing.sock")
    r = run("-s", missing, "list")
    check(r.returncode == 3 and r.stderr ==
          f"fulcrumctl: cannot connect to {missing}: No such file or directory (is fulcrumd running?)\n",
          "no socket file: exit 3", show(r))

    # A socket file nobody listens on (server closed): connection refused.
    stale = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    r = run("-s", stale, "list")
    check(r.returncode == 3 and "Connection refused (is fulcrumd running?)" in r.stderr,
          "stale socket: exit 3", show(r))

    r = subprocess.run([fulcrumctl, "list"], capture_output=True, text=True, timeout=30,
                       env={**os.environ})
    check(r.returncode in (0, 1, 3) and (r.returncode != 3 or "/run/fulcrum/api.sock" in r.stderr),
          "the default socket is /run/fulcrum/api.sock", show(r))

    # The socket path is free text, also with spaces.
    spaced = os.path.join(tmp, "a b.sock")
    server2 = FakeFulcrumd(spaced)
    r = run("-s", spaced, "reload")
    check(r.returncode == 0 and server2.requests == [{"cmd": "reload"}], "a socket path with a space",
          show(r))
    server2.close()

    r = run("--socket", spaced, "reload")
    check(r.returncode == 3, "--socket is the long form of -s", show(r))

    r = run("--version")
    check(r.returncode == 0 and r.stdout.startswith("fulcrumctl "), "--version", show(r))

if checks != PLAN:
    print(f"# planned {PLAN} checks, ran {checks}")
    failures += 1
sys.exit(1 if failures else 0)
