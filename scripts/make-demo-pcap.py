#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the demo capture: what a client on the lab segment sends toward the VIP.

Clients at 192.0.2.100 (on-link) open nova-api (:8774) and Galera (:3306) connections to
VIP 192.0.2.26, ping the VIP, ask ARP for it, and a few hostile or foreign frames follow.
Usage: make-demo-pcap.py OUT.pcap
"""
import sys

from scapy.all import ARP, ICMP, IP, IPv6, TCP, UDP, Ether, Raw, wrpcap

CLIENT_MAC = "02:00:00:00:00:01"
LB_MAC = "02:00:00:00:00:02"
CLIENT = "192.0.2.100"
VIP = "192.0.2.26"


def eth():
    return Ether(src=CLIENT_MAC, dst=LB_MAC)


def connection(sport, dport, request):
    """SYN, handshake ACK, one request, FIN: the client's half of a short connection."""
    seq = 1000 + sport
    base = eth() / IP(src=CLIENT, dst=VIP, id=sport % 65536)
    return [
        base / TCP(sport=sport, dport=dport, flags="S", seq=seq),
        base / TCP(sport=sport, dport=dport, flags="A", seq=seq + 1, ack=1),
        base / TCP(sport=sport, dport=dport, flags="PA", seq=seq + 1, ack=1) / Raw(request),
        base / TCP(sport=sport, dport=dport, flags="FA", seq=seq + 1 + len(request), ack=1),
    ]


def main():
    frames = [
        Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT, pdst=VIP),
        eth() / IP(src=CLIENT, dst=VIP) / ICMP(type=8, id=1, seq=1) / Raw(b"ping"),
    ]
    opens = []
    for i in range(6):
        opens.append(connection(41000 + i, 8774, b"GET /v2.1 HTTP/1.1\r\nHost: nova\r\n\r\n"))
    for i in range(3):
        opens.append(connection(42000 + i, 3306, b"\x01\x00\x00\x00\x0e"))
    # Interleave the connections the way concurrent clients would.
    for step in range(4):
        for conn in opens:
            frames.append(conn[step])
    frames += [
        eth() / IP(src=CLIENT, dst=VIP) / UDP(sport=5353, dport=53) / Raw(b"no such service"),
        eth() / IP(src=CLIENT, dst="192.0.2.2") / TCP(sport=50000, dport=22, flags="S"),
        eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2),
        eth() / IP(src=CLIENT, dst=VIP, ttl=1) / TCP(sport=43000, dport=8774, flags="S"),
        eth() / IP(src=CLIENT, dst=VIP, chksum=0x1234) / TCP(sport=43001, dport=8774, flags="S"),
        Ether(bytes(eth() / IP(src=CLIENT, dst=VIP) / TCP(sport=43002, dport=8774))[:30]),
    ]
    wrpcap(sys.argv[1], frames)


if __name__ == "__main__":
    main()
