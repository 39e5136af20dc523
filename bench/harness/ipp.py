# SPDX-License-Identifier: Apache-2.0
"""Instructions per packet of the pipeline under valgrind's callgrind: repeatable on any
machine, unlike time. fulcrum-ipp runs a fixed workload through Worker::process_burst() and
collects only the measured loop; the per-function breakdown comes from callgrind_annotate."""
import os
import re

from . import common

ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$")


def short_function(name):
    """'dir/file.cc:fulcrum::Worker::forward(args) [binary]' -> 'fulcrum::Worker::forward'."""
    name = re.sub(r"\s+\[[^\]]*\]$", "", name)
    if ":" in name and not name.startswith("fulcrum::"):
        head, _, rest = name.partition(":")
        if "/" in head or head.endswith((".cc", ".h", ".c", "???")):
            name = rest
    depth, cut = 0, len(name)
    for i, c in enumerate(name):  # drop the argument list, keeping template arguments
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth == 0:
            cut = i
            break
    return name[:cut]


def top_functions(annotate_text, packets, n=10):
    out = []
    for line in annotate_text.splitlines():
        m = ANNOTATE_LINE.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        ir = int(m.group(1).replace(",", ""))
        out.append({"function": short_function(m.group(3)), "instructions": ir,
                    "per_packet": round(ir / packets, 1), "share": float(m.group(2))})
        if len(out) == n:
            break
    return out


def measure(ctx, tmp, flows, mode):
    out_file = os.path.join(tmp, "callgrind.%s.%s.out" % (flows, mode))
    r = common.run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                    "--callgrind-out-file=" + out_file,
                    ctx.binary("bench", "fulcrum-ipp"), flows, mode], timeout=300)
    m = re.search(r"packets (\d+) forwarded (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError("fulcrum-ipp rc %d: %s" % (r.returncode, (r.stdout + r.stderr)[-400:]))
    packets = int(m.group(1))
    total = None
    with open(out_file) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    if total is None:
        raise RuntimeError("no totals in " + out_file)
    ann = common.run(["callgrind_annotate", "--inclusive=no", out_file], timeout=120)
    return total, packets, top_functions(ann.stdout, packets)


def run(ctx):
    if not common.have("valgrind") or not common.have("callgrind_annotate"):
        return common.section_unavailable("valgrind not installed")
    if not os.path.exists(ctx.binary("bench", "fulcrum-ipp")):
        return common.section_unavailable("fulcrum-ipp not built (valgrind/callgrind.h missing "
                                          "at configure time?)")
    tmp = ctx.scratch("ipp")
    results = []
    combos = ctx.pick([("established", "fnat")],
                      [("established", "fnat"), ("established", "dsr"), ("new", "fnat"),
                       ("new", "dsr")],
                      [("established", "fnat"), ("established", "dsr"), ("new", "fnat"),
                       ("new", "dsr")])
    for flows, mode in combos:
        name = "ipp_" + flows
        peer = "fulcrum-" + mode
        try:
            total, packets, top = measure(ctx, tmp, flows, mode)
        except (RuntimeError, OSError) as e:
            results.append(common.unavailable(name, peer, str(e), status="failed"))
            continue
        ipp = total / packets
        results.append(common.measurement(
            name, peer, "instructions/packet", [ipp],
            params={"flows": flows, "mode": mode, "packets": packets, "burst": 32,
                    "tool": "valgrind --tool=callgrind"},
            extra={"instructions": total, "top_functions": top}))
        common.log("callgrind %s %s: %.0f instructions per packet" % (flows, mode, ipp))
    notes = ["Instructions of Worker::process_burst() only (parse, flow lookup, rewrite, "
             "counters): the port's receive and transmit are not in them."]
    return common.section(results, notes)
