# SPDX-License-Identifier: Apache-2.0
"""Malformed and hostile frames for the lab tests, sent with scapy from the client namespace:

  ip netns exec fl-client /usr/bin/python3 hostile_frames.py --count 9000 --set malformed
  ip netns exec fl-client /usr/bin/python3 hostile_frames.py --count 1000 --set random

--set malformed: about equal parts of each category below, each to lb0's port MAC or (about a
quarter) to broadcast; the drop reason fulcrumd should count for each is in EXPECTED.
--set random: random bytes after lb0's MAC (or broadcast) and the client's MAC, under a random
EtherType or one of IPv4 / ARP / IPv6 / 802.1Q: they may land on any counter, or reach the node's
kernel.

Frames are built up front, then sent with scapy's sendp on eth0 in bursts, with a pause
between bursts (--burst, --gap-ms) so that a forwarder polling adaptively is not flooded past
its receive ring: the point is how each frame is classified, not the loss under overload.
Prints one JSON object: frames sent per category, and the seconds it took.
Bounded: --count frames (at most 20,000), --max-seconds overall.
"""

import argparse
import json
import random
import sys
import time

from scapy.all import ARP, IP, TCP, Ether, IPv6, Raw, conf, sendp

LB_MAC = "02:00:00:00:02:02"
BCAST = "ff:ff:ff:ff:ff:ff"
CLIENT_IP = "192.0.2.100"
VIP = "192.0.2.26"
LB_ADDR = "192.0.2.2"

# Category -> the drop reason fulcrumd's counter dump should show for it.
EXPECTED = {
    "eth_only": "truncated_ip",        # Ethernet header, EtherType IPv4, nothing after it
    "ip_short": "truncated_ip",        # IPv4 header cut short (1..19 bytes)
    "tcp_short": "truncated_l4",       # valid IPv4 header, TCP header cut short (1..19 bytes)
    "ihl_small": "bad_ihl",            # IHL 0..4
    "ihl_beyond": "bad_ihl",           # IHL 6..15 with only 20 header bytes in the frame
    "fragment": "fragment",            # IPv4 fragments (first and later) to VIP:8774
    "ttl": "ttl_expired",              # TCP SYN to VIP:8774 with TTL 0 or 1
    "bad_checksum": "bad_ip_checksum",  # IPv4 header checksum wrong
    "ipv6": "ipv6",                    # IPv6 frames
    "arp_other": "arp_not_for_us",     # ARP who-has 192.0.2.99 (broadcast)
}


def ip_bytes(pkt):
    """The bytes of a scapy IP packet with its checksums and lengths filled in."""
    return bytes(pkt)


def build(category, rng, src_mac):
    dst = BCAST if rng.random() < 0.25 else LB_MAC
    eth = bytes(Ether(dst=dst, src=src_mac, type=0x0800))
    sport = rng.randrange(1024, 65536)
    if category == "eth_only":
        return eth
    if category == "ip_short":
        ip = ip_bytes(IP(src=CLIENT_IP, dst=VIP) / TCP(sport=sport, dport=8774, flags="S"))
        return eth + ip[:rng.randrange(1, 20)]
    if category == "tcp_short":
        cut = rng.randrange(1, 20)
        tcp = bytes(TCP(sport=sport, dport=8774, flags="S"))[:cut]
        return eth + ip_bytes(IP(src=CLIENT_IP, dst=VIP, proto=6) / Raw(tcp))
    if category == "ihl_small":
        ihl = rng.randrange(0, 5)
        ip = bytearray(ip_bytes(IP(src=CLIENT_IP, dst=VIP) / TCP(sport=sport, dport=8774, flags="S")))
        ip[0] = 0x40 | ihl
        return eth + bytes(ip)
    if category == "ihl_beyond":
        ihl = rng.randrange(6, 16)
        ip = bytearray(ip_bytes(IP(src=CLIENT_IP, dst=VIP, proto=6)))  # 20 bytes, no payload
        ip[0] = 0x40 | ihl
        return eth + bytes(ip)
    if category == "fragment":
        payload = TCP(sport=sport, dport=8774, flags="S") / Raw(b"x" * 40)
        if rng.random() < 0.5:
            pkt = IP(src=CLIENT_IP, dst=VIP, flags="MF", frag=0, id=rng.randrange(65536)) / payload
        else:
            pkt = IP(src=CLIENT_IP, dst=VIP, proto=6, flags=rng.choice(["MF", 0]),
                     frag=rng.randrange(1, 100), id=rng.randrange(65536)) / Raw(b"y" * 48)
        return eth + ip_bytes(pkt)
    if category == "ttl":
        return eth + ip_bytes(IP(src=CLIENT_IP, dst=VIP, ttl=rng.choice([0, 1])) /
                              TCP(sport=sport, dport=8774, flags="S"))
    if category == "bad_checksum":
        ip = bytearray(ip_bytes(IP(src=CLIENT_IP, dst=rng.choice([VIP, LB_ADDR])) /
                                TCP(sport=sport, dport=8774, flags="S")))
        good = (ip[10] << 8) | ip[11]
        bad = (good + rng.randrange(1, 0xffff)) & 0xffff
        if bad in (good, (~good) & 0xffff):  # 0x0000 and 0xffff are the same in ones' complement
            bad = (good ^ 0x0101) & 0xffff
        ip[10], ip[11] = bad >> 8, bad & 0xff
        return eth + bytes(ip)
    if category == "ipv6":
        return bytes(Ether(dst=dst, src=src_mac) /
                     IPv6(src="2001:db8::100", dst="2001:db8::26") /
                     TCP(sport=sport, dport=8774, flags="S"))
    if category == "arp_other":
        return bytes(Ether(dst=BCAST, src=src_mac) /
                     ARP(op=1, hwsrc=src_mac, psrc=CLIENT_IP, pdst="192.0.2.99"))
    if category == "random":
        # A valid (unicast, non-zero) source MAC, or the bridge drops the frame before lb0.
        # Random bytes after the addresses; the EtherType is random too, or one the parser
        # goes deeper for (IPv4, ARP, IPv6, 802.1Q), so the junk reaches its header checks.
        # At least two bytes: the kernel refuses frames under 14 bytes.
        etype = rng.choice([None, 0x0800, 0x0800, 0x0806, 0x86DD, 0x8100])
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(2, 300)))
        if etype is not None:
            body = etype.to_bytes(2, "big") + body
        return bytes(Ether(dst=dst, src=src_mac, type=0))[:12] + body
    raise ValueError(category)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--set", choices=["malformed", "random"], required=True)
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--burst", type=int, default=32)
    ap.add_argument("--gap-ms", type=float, default=2.0)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    args = ap.parse_args()
    if not 0 < args.count <= 20000:
        sys.exit("--count: 1..20000")

    conf.verb = 0
    rng = random.Random(args.seed)
    with open("/sys/class/net/%s/address" % args.iface) as f:
        src_mac = f.read().strip()
    cats = list(EXPECTED) if args.set == "malformed" else ["random"]
    frames, sent = [], {c: 0 for c in cats}
    for i in range(args.count):
        c = cats[i % len(cats)]
        frames.append((c, build(c, rng, src_mac)))
    rng.shuffle(frames)

    started = time.monotonic()
    deadline = started + args.max_seconds
    sock = conf.L2socket(iface=args.iface)
    try:
        for off in range(0, len(frames), args.burst):
            if time.monotonic() > deadline:
                break
            chunk = frames[off:off + args.burst]
            sendp([Raw(b) for _, b in chunk], iface=args.iface, socket=sock, verbose=False)
            for c, _ in chunk:
                sent[c] += 1
            if args.gap_ms > 0:
                time.sleep(args.gap_ms / 1000.0)
    finally:
        sock.close()
    json.dump({"sent": sent, "total": sum(sent.values()), "expected": EXPECTED,
               "seed": args.seed, "elapsed_s": round(time.monotonic() - started, 3)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
