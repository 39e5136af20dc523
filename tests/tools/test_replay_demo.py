#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The README's demo: fulcrum-replay on the demo capture prints where every frame went."""
import re
import subprocess
import sys

replay, capture = sys.argv[1], sys.argv[2]


def run(*extra):
    out = subprocess.run([replay, "-i", capture, *extra], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    return out


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


fnat = run("--answer")
check("arp reply 192.0.2.100 tell 192.0.2.26" in fnat, "ARP for the VIP is answered")
check(re.search(r"echo-request\s+=> reply", fnat) is not None, "ping to the VIP is answered")
check(len(re.findall(r"=> forward  tcp 192\.0\.2\.2:\d+ -> 192\.0\.2\.1[012]:", fnat)) == 36,
      "36 client frames leave FNAT-rewritten toward a controller")
check(len(re.findall(r"\(to client\)", fnat)) == 36, "36 backend answers go back to the client")
check("counters: rx=80 forwarded=72 replied=2 kernel=1 new_flows=9 dropped=5" in fnat,
      "counters add up")
for reason in ("ipv6", "ttl_expired", "bad_ip_checksum", "truncated_ip", "no_service"):
    check(re.search(rf"drop {reason}\s+1", fnat) is not None, f"one drop for {reason}")

dsr = run("--forward", "dsr")
check(len(re.findall(r"=> forward  tcp 192\.0\.2\.100:\d+ -> 192\.0\.2\.26:\d+ .* via 02:00:00:00:00:1[012]", dsr)) == 36,
      "DSR keeps the addresses and changes the MAC")

bad = subprocess.run([replay, "-i", "/nonexistent.pcap"], capture_output=True, text=True)
check(bad.returncode == 1 and "/nonexistent.pcap" in bad.stderr, "a missing capture is an error naming it")
