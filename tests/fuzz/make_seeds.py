#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/TARGET/ (checked in;
run again after changing it). Pipeline seeds are the frames of tests/fixtures/demo.pcap in the
target's input format (a control byte, then 2-byte little-endian lengths and frames), plus
hand-made VRRP, config and API inputs, and BIRD 2.0.12's control-socket replies as captured
from it."""

import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    pos, frames = 24, []
    while pos + 16 <= len(data):
        _s, _us, incl, _orig = struct.unpack(endian + "IIII", data[pos:pos + 16])
        frames.append(data[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    return frames


def burst(control, frames):
    return bytes([control]) + b"".join(struct.pack("<H", len(f)) + f for f in frames)


def inet_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def vrrp_frame(version, vrid=51, prio=150, src="192.0.2.2", dst="224.0.0.18",
               addrs=("192.0.2.26",)):
    a = b"".join(socket.inet_aton(x) for x in addrs)
    if version == 3:
        body = struct.pack("!BBBBH", 0x31, vrid, prio, len(addrs), 10) + b"\0\0" + a
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 112, len(body))
        csum = inet_sum(pseudo + body)
    else:
        body = struct.pack("!BBBBBB", 0x21, vrid, prio, len(addrs), 0, 1) + b"\0\0" + a + b"\0" * 8
        csum = inet_sum(body)
    body = body[:6] + struct.pack("!H", csum) + body[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xc0, 20 + len(body), 1, 0, 255, 112, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", inet_sum(ip)) + ip[12:]
    eth = bytes.fromhex("01005e000012") + bytes.fromhex("020000000202") + b"\x08\x00"
    frame = eth + ip + body
    return frame + b"\0" * max(0, 60 - len(frame))


def main():
    frames = pcap_frames(os.path.join(ROOT, "tests", "fixtures", "demo.pcap"))
    for control in (0, 1, 2, 3, 4, 0x81):
        write("pipeline", "demo-%02x" % control, burst(control, frames[:64]))
    for i, fr in enumerate(frames[:16]):
        write("pipeline", "frame-%02d" % i, burst(i & 3, [fr]))
    write("pipeline", "vrrp", burst(0, [vrrp_frame(3)]))

    write("vrrp", "v3", vrrp_frame(3))
    write("vrrp", "v2", vrrp_frame(2))
    write("vrrp", "v3-two-vips", vrrp_frame(3, addrs=("192.0.2.26", "192.0.2.27")))
    write("vrrp", "v3-unicast", vrrp_frame(3, dst="192.0.2.3"))
    write("vrrp", "v3-prio0", vrrp_frame(3, prio=0))

    with open(os.path.join(ROOT, "docs", "fulcrum.example.toml")) as f:
        write("config", "example.toml", f.read())
    write("config", "minimal.toml", '[[port]]\nname = "lan"\ndevice = "net_null0"\n'
          'address = "192.0.2.2/24"\n[[service]]\nname = "a"\nvip = "192.0.2.26"\nport = 80\n'
          'backends = [ { address = "192.0.2.10" } ]\n')

    for name, line in {
        "list": '{"cmd":"list"}',
        "drain": '{"cmd":"drain","service":"nova-api","backend":"192.0.2.10"}',
        "enable-port": '{"cmd":"enable","service":"galera","backend":"192.0.2.11:3307"}',
        "weight": '{"cmd":"weight","service":"nova-api","backend":"192.0.2.12","weight":0}',
        "disable-unknown": '{"cmd":"disable","service":"glance","backend":"192.0.2.10"}',
        "malformed": '{"cmd":"drain","service":',
        "not-object": '["cmd","list"]',
    }.items():
        write("api", name, line)

    for name, text in {
        "greeting-enable": "0001 BIRD 2.0.12 ready.\n0011-vip1: enabled\n0000 \n",
        "already": "0010-vip1: already enabled\n0000 \n0008-vip1: already disabled\n0000 \n",
        "disabled": "0009-vip1: disabled\n0000 \n",
        "no-protocol": "8003 No protocols match\n",
        "syntax": "9001 syntax error, unexpected CF_SYM_UNDEFINED\n",
        "show-protocols": "2002-Name       Proto      Table      State  Since         Info\n"
                          "1002-vip1       Static     master4    up     09:44:08.172  \n0000 \n",
        "show-status": "1000-BIRD 2.0.12\n1011-Router ID is 192.0.2.2\n Hostname is vm\n"
                       "0013 Daemon is up and running\n",
        "crlf": "0011-vip1: enabled\r\n0000 \r\n",
    }.items():
        write("bird", name, text)


if __name__ == "__main__":
    main()
