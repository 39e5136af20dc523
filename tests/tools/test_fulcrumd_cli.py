#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""fulcrumd's command line: --check on the example config and on broken ones (each error as
FILE:LINE: message, exit 1), --version, --help, usage errors (exit 2). Needs no root, no EAL."""
import os
import subprocess
import sys
import tempfile

fulcrumd, example = sys.argv[1], sys.argv[2]

PORT = """[[port]]
name = "lan"
device = "net_af_xdp0,iface=lb0-0"
address = "192.0.2.2/24"
"""
SERVICE = """
[[service]]
name = "web"
vip = "192.0.2.26"
port = 8774
backends = [ { address = "192.0.2.10" } ]
"""

# name, file text, the exact lines --check must print (FILE stands for the file's path)
BROKEN = [
    ("bad address", PORT.replace("192.0.2.2/24", "192.0.2.300/24"),
     ['FILE:4: port \'lan\': address: "192.0.2.300" is not an IPv4 address']),
    ("unknown key", PORT + SERVICE.replace("port = 8774", 'port = 8774\nsheduler = "wrr"'),
     ["FILE:10: service 'web': unknown key 'sheduler' in [[service]] (did you mean 'scheduler'?)"]),
    ("duplicate service", PORT + SERVICE + SERVICE,
     ["FILE:12: service 'web': 192.0.2.26:8774/tcp is already used by service 'web' (line 6)",
      "FILE:13: duplicate service name 'web' (first defined at line 6)"]),
    ("port out of range", PORT + SERVICE.replace("port = 8774", "port = 70000"),
     ["FILE:9: service 'web': port: 70000 is out of range 1-65535"]),
    ("missing backend list", PORT + SERVICE.replace('backends = [ { address = "192.0.2.10" } ]\n', ""),
     ["FILE:6: service 'web': backends: required key is missing"]),
    ("bad duration", PORT + SERVICE.replace("port = 8774", 'port = 8774\ncheck = { type = "tcp", interval = "1h" }'),
     ['FILE:10: service \'web\': check.interval: unknown unit "h" in "1h" (expected ms, s or m)']),
    ("wrong type", PORT + '\n[dataplane]\nworkers = "two"\n',
     ['FILE:7: dataplane.workers: expected an integer, got string "two"']),
    ("TOML syntax", PORT + '\n[api\nsocket = "/x"\n',
     ["FILE:6: syntax error in table header: expected ']', saw '\\n'"]),
    ("gateway outside the subnet", PORT + 'gateway = "198.51.100.1"\n',
     ["FILE:5: port 'lan': gateway: 198.51.100.1 is outside the port's subnet 192.0.2.0/24"]),
    ("vrrp on an unknown port", PORT + SERVICE + '\n[[vrrp]]\nname = "VI_1"\nport = "wan"\nvrid = 51\nvips = ["192.0.2.26"]\n',
     ["FILE:14: vrrp 'VI_1': port: no [[port]] named 'wan'"]),
    ("duplicate backend", PORT + SERVICE.replace('{ address = "192.0.2.10" } ]', '{ address = "192.0.2.10" }, { address = "192.0.2.10" } ]'),
     ["FILE:10: service 'web': backends[1]: 192.0.2.10:8774 is listed twice (first at line 10)"]),
]

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
        for line in detail.splitlines():
            print(f"# {line}")


def run(*args):
    return subprocess.run([fulcrumd, *args], capture_output=True, text=True, timeout=30)


print(f"1..{len(BROKEN) + 6}")
r = run("-c", example, "--check")
check(r.returncode == 0 and "configuration is valid" in r.stdout,
      "--check passes the example config in docs/", r.stdout + r.stderr)

with tempfile.TemporaryDirectory() as tmp:
    for i, (name, text, expected) in enumerate(BROKEN):
        path = os.path.join(tmp, f"broken{i:02d}.toml")
        with open(path, "w") as f:
            f.write(text)
        r = run("-c", path, "--check")
        want = [e.replace("FILE", path) for e in expected]
        got = r.stderr.splitlines()
        ok = r.returncode == 1 and got[:len(want)] == want and \
            got[len(want):] == [f"{path}: {len(want)} error(s)"]
        check(ok, f"--check rejects a config with {name}: {want[0].split(': ', 1)[1]}",
              f"exit {r.returncode}\nwanted: {want}\ngot: {got}")

    missing = os.path.join(tmp, "nonexistent.toml")
    r = run("-c", missing, "--check")
    check(r.returncode == 1 and missing in r.stderr, "--check on a missing file exits 1 naming it",
          r.stderr)

r = run("--version")
check(r.returncode == 0 and r.stdout.startswith("fulcrumd "), "--version", r.stdout)
r = run("--help")
check(r.returncode == 0 and "--check" in r.stdout and "-c [ --config ] FILE" in r.stdout, "--help",
      r.stdout)
r = run("--check")
check(r.returncode == 2 and "-c FILE is required" in r.stderr, "no -c is a usage error", r.stderr)
r = run("-c", example, "--log-level", "loud")
check(r.returncode == 2 and "'loud'" in r.stderr, "a bad --log-level is a usage error", r.stderr)

sys.exit(1 if failures else 0)
