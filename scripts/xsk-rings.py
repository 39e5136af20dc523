#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the AF_XDP rings of a running process (fulcrumd on net_af_xdp): for each ring the
kernel shares with it (RX, TX, FILL, COMPLETION), the producer and consumer indexes, read from
/proc/PID/mem where the rings are mapped. Root only; reads, never writes.

  scripts/xsk-rings.py PID

Buffers the process gave the kernel and has not had back = (FILL producer - RX producer); when
FILL's consumer has caught up with its producer (the kernel took every buffer) while RX's
producer equals its consumer (none came back), the receive path is wedged: see
docs/reliability.md, "net_af_xdp stalls under the flood".
"""

import struct
import sys

# mmap offsets of the rings (linux/if_xdp.h: XDP_PGOFF_*_RING, XDP_UMEM_PGOFF_*_RING).
RINGS = {0x0: "RX", 0x80000000: "TX", 0x100000000: "FILL", 0x180000000: "COMPLETION"}
# struct xdp_ring (net/xdp/xsk_queue.h): producer and consumer on cache lines of their own;
# the kernel reports the same layout through XDP_MMAP_OFFSETS.
PRODUCER, CONSUMER = 0, 128


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: xsk-rings.py PID")
    pid = int(sys.argv[1])
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    found = 0
    with open("/proc/%d/mem" % pid, "rb") as mem:
        for line in maps:
            parts = line.split()
            if len(parts) < 6 or not parts[5].startswith("socket:"):
                continue
            offset = int(parts[2], 16)
            if offset not in RINGS:
                continue
            start = int(parts[0].split("-")[0], 16)
            mem.seek(start)
            head = mem.read(CONSUMER + 4)
            prod = struct.unpack_from("<I", head, PRODUCER)[0]
            cons = struct.unpack_from("<I", head, CONSUMER)[0]
            print("%-10s %s producer %u consumer %u (%u entries pending)" % (
                RINGS[offset], parts[5], prod, cons, (prod - cons) & 0xffffffff))
            found += 1
    if not found:
        sys.exit("no AF_XDP rings mapped in process %d" % pid)


if __name__ == "__main__":
    main()
