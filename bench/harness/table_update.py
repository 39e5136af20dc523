# SPDX-License-Identifier: Apache-2.0
"""Cost of one table update: build a Snapshot for N backends and publish it through RCU
(Google Benchmark's BM_SnapshotBuild / BM_SnapshotBuildPublish in fulcrum-microbench). The
packet rate while updates are published is measured by the packet-rate section."""
import json
import os

from . import common


def run(ctx):
    binary = ctx.binary("bench", "fulcrum-microbench")
    if not os.path.exists(binary):
        return common.section_unavailable("fulcrum-microbench not built (libbenchmark-dev?)")
    reps = ctx.pick(1, 3, 5)
    r = common.run([binary, "--benchmark_filter=BM_Snapshot", "--benchmark_format=json",
                    "--benchmark_repetitions=%d" % reps,
                    "--benchmark_min_time=%s" % ctx.pick("0.05", "0.2", "0.5")], timeout=600)
    if r.returncode != 0:
        return common.section_unavailable("fulcrum-microbench rc %d: %s" % (
            r.returncode, r.stderr.strip()[-300:]))
    runs = {}
    for b in json.loads(r.stdout)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b.get("run_name", b["name"])
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}[b["time_unit"]]
        runs.setdefault(name, []).append(b["real_time"] * scale)
    results = []
    for name, samples in runs.items():
        base, _, arg = name.partition("/")
        backends = int(arg.split(":")[1].split("/")[0])
        kind = "snapshot_build_publish" if base.endswith("Publish") else "snapshot_build"
        results.append(common.measurement(kind, "fulcrum", "us", samples,
                                          params={"backends": backends, "benchmark": name}))
        common.log("%s, %d backends: %.0f us" % (kind, backends, results[-1]["median"]))
    notes = ["A build fills each service's 65,537-slot Maglev table; publishing waits one RCU "
             "grace period with one busy reader thread."]
    return common.section(results, notes)
