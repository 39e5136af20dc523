#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the AF_XDP rings of a running process (fulcrumd on net_af_xdp): for each ring the
kernel shares with it (RX, TX, FILL, COMPLETION), the producer and consumer indexes, read from
/proc/PID/mem where the rings are mapped, and the socket's XDP_STATISTICS (through a copy of
its descriptor, pidfd_getfd). Root only; reads, never writes.

  scripts/xsk-rings.py PID

Buffers the process gave the kernel and has not had back = (FILL producer - RX producer); when
FILL's consumer has caught up with its producer (the kernel took every buffer) while RX's
producer equals its consumer (none came back), the receive path is wedged: see
docs/reliability.md, "net_af_xdp used to stop receiving under this flood".
"""

import ctypes
import os
import struct
import sys

# mmap offsets of the rings (linux/if_xdp.h: XDP_PGOFF_*_RING, XDP_UMEM_PGOFF_*_RING).
RINGS = {0x0: "RX", 0x80000000: "TX", 0x100000000: "FILL", 0x180000000: "COMPLETION"}
# struct xdp_ring (net/xdp/xsk_queue.h): producer and consumer on cache lines of their own;
# the kernel reports the same layout through XDP_MMAP_OFFSETS.
PRODUCER, CONSUMER = 0, 128
# linux/if_xdp.h: getsockopt(SOL_XDP, XDP_STATISTICS) fills struct xdp_statistics.
SOL_XDP, XDP_STATISTICS = 283, 7
XDP_STATISTICS_FIELDS = ("rx_dropped", "rx_invalid_descs", "tx_invalid_descs", "rx_ring_full",
                         "rx_fill_ring_empty_descs", "tx_ring_empty_descs")
SYS_PIDFD_GETFD = 438  # the same number on every architecture


def xdp_statistics(pid, fd):
    """The XSK's statistics as a dict, or None when they cannot be read (old kernel)."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            return None
        try:
            buf = ctypes.create_string_buffer(8 * len(XDP_STATISTICS_FIELDS))
            size = ctypes.c_uint32(len(buf))
            if libc.getsockopt(copy, SOL_XDP, XDP_STATISTICS, buf, ctypes.byref(size)) != 0:
                return None
            values = struct.unpack_from("<%dQ" % (size.value // 8), buf.raw)
            return dict(zip(XDP_STATISTICS_FIELDS, values))
        finally:
            os.close(copy)
    finally:
        os.close(pidfd)


def xsk_fds(pid):
    """{socket inode: fd number} for the process's open sockets."""
    fds = {}
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if target.startswith("socket:"):
            fds[target] = int(name)
    return fds


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: xsk-rings.py PID")
    pid = int(sys.argv[1])
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    found = 0
    sockets = set()
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
            sockets.add(parts[5])
    if not found:
        sys.exit("no AF_XDP rings mapped in process %d" % pid)
    fds = xsk_fds(pid)
    for sock in sorted(sockets):
        stats = xdp_statistics(pid, fds[sock]) if sock in fds else None
        if stats is None:
            print("%s: XDP_STATISTICS not readable" % sock)
        else:
            print("%s: %s" % (sock, " ".join("%s %d" % kv for kv in stats.items())))


if __name__ == "__main__":
    main()
