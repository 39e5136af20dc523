# SPDX-License-Identifier: Apache-2.0
"""VRRP advertisements, well formed or broken one way each, sent with scapy from a lab
namespace (the client's eth0) to 224.0.0.18:

  ip netns exec fl-client /usr/bin/python3 -I vrrp_adverts.py --version 3 KIND...

KIND (each sent --count times, a few ms apart):
  good       a valid advert (VRID --vrid, priority --priority, the lab's VIP)
  ttl        IP TTL 64 instead of 255
  vrid       VRID --vrid + 1 (no instance has it)
  checksum   VRRP checksum off by one
  version    the other version's header (v2 when --version 3, and the reverse)
  type       type 2 (not an advertisement)
  truncated  only the first 6 bytes of the VRRP message
  count      address count 2 with one address
  auth       (v2) authentication type 1, "simple text password"

The payload is built by hand (not scapy's VRRP layers) so that each fault is exactly the one
named. Prints one JSON line: {"sent": {KIND: n}}.
"""

import argparse
import json
import logging
import socket
import struct
import sys
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # "No route found" for 224.0.0.18
from scapy.all import IP, Ether, Raw, conf, sendp  # noqa: E402

VIP = "192.0.2.26"
GROUP = "224.0.0.18"
GROUP_MAC = "01:00:5e:00:00:12"


def inet_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def payload(version, vrid, priority, src, interval_cs=10, count=None, addresses=(VIP,),
            vtype=1, auth_type=0, bad_sum=False):
    addrs = b"".join(socket.inet_aton(a) for a in addresses)
    n = len(addresses) if count is None else count
    if version == 3:
        head = struct.pack("!BBBBH", (3 << 4) | vtype, vrid, priority, n, interval_cs & 0xfff)
        pseudo = (socket.inet_aton(src) + socket.inet_aton(GROUP) +
                  struct.pack("!BBH", 0, 112, 8 + len(addrs)))
        body = head + b"\0\0" + addrs
        csum = inet_sum(pseudo + body)
    else:
        head = struct.pack("!BBBBBB", (2 << 4) | vtype, vrid, priority, n, auth_type,
                           max(1, interval_cs // 100))
        trailer = b"secret\0\0" if auth_type else b"\0" * 8
        body = head + b"\0\0" + addrs + trailer
        csum = inet_sum(body)
    if bad_sum:
        csum = (csum + 1) & 0xffff
    return body[:6] + struct.pack("!H", csum) + body[8:]


SRC_MAC = None  # the sending interface's MAC (a bridge drops frames from 00:00:00:00:00:00)


def frame(src, data, ttl=255):
    return (Ether(src=SRC_MAC, dst=GROUP_MAC) /
            IP(src=src, dst=GROUP, ttl=ttl, proto=112, tos=0xc0) / Raw(data))


def build(kind, args):
    v, other = args.version, 5 - args.version
    common = dict(vrid=args.vrid, priority=args.priority, src=args.src)
    if kind == "good":
        return frame(args.src, payload(v, **common))
    if kind == "ttl":
        return frame(args.src, payload(v, **common), ttl=64)
    if kind == "vrid":
        return frame(args.src, payload(v, args.vrid + 1, args.priority, args.src))
    if kind == "checksum":
        return frame(args.src, payload(v, bad_sum=True, **common))
    if kind == "version":
        return frame(args.src, payload(other, **common))
    if kind == "type":
        return frame(args.src, payload(v, vtype=2, **common))
    if kind == "truncated":
        return frame(args.src, payload(v, **common)[:6])
    if kind == "count":
        return frame(args.src, payload(v, count=2, **common))
    if kind == "auth":
        return frame(args.src, payload(2, auth_type=1, **common))
    raise SystemExit("unknown kind %r" % kind)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--version", type=int, choices=(2, 3), default=3)
    p.add_argument("--vrid", type=int, default=51)
    p.add_argument("--priority", type=int, default=254)
    p.add_argument("--src", default="192.0.2.100")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--iface", default="eth0")
    p.add_argument("kinds", nargs="+")
    args = p.parse_args()
    conf.verb = 0
    global SRC_MAC
    with open("/sys/class/net/%s/address" % args.iface) as f:
        SRC_MAC = f.read().strip()
    sent = {}
    for kind in args.kinds:
        pkt = build(kind, args)
        for _ in range(min(args.count, 100)):
            sendp(pkt, iface=args.iface, verbose=False)
            time.sleep(0.005)
        sent[kind] = sent.get(kind, 0) + min(args.count, 100)
    print(json.dumps({"sent": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
