#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark harness cannot rot: `bench/run --smoke` (every section, seconds each, no
thresholds) runs against this build, its JSON validates against bench/results.schema.json,
every section measured something, and the report renders with its plots, the same again from
the JSON alone (`--render`).

Needs root and the lab (the lab_e2e and failover sections build it), like the other lab tests.
"""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

SECTIONS = ["ipp", "table_update", "pipeline_rate", "lab_e2e", "failover"]
RUN = os.path.join(labtest.SOURCE_ROOT, "bench", "run")
SCHEMA = os.path.join(labtest.SOURCE_ROOT, "bench", "results.schema.json")
BOUND_S = 480
PLANNED = 6 + len(SECTIONS)


def body(tap):
    build = os.path.dirname(labtest.FULCRUM_BIN)
    with labtest.TempDir() as tmp:
        out = os.path.join(tmp, "smoke.json")
        report = os.path.join(tmp, "report")
        env = dict(os.environ, FULCRUMCTL=os.path.join(build, "fulcrumctl"))
        argv = [labtest.PYTHON, RUN, "--smoke", "--no-build", "--build", build, "--out", out,
                "--report", report]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=BOUND_S, env=env)
            rc, log = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            rc, log = 124, "%s%s" % (e.stdout or "", e.stderr or "")
        tap.diag("bench/run --smoke log:\n" + log.strip()[-4000:])
        tap.ok(rc == 0, "bench/run --smoke exits 0 within %d s" % BOUND_S, "rc %s" % rc)

        try:
            with open(out) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            tap.ok(False, "the run's JSON is there", str(e))
            return
        import jsonschema
        with open(SCHEMA) as f:
            schema = json.load(f)
        errors = ["%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message)
                  for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
        tap.ok(not errors and doc["mode"] == "smoke" and doc["targets"] == [],
               "the JSON validates against bench/results.schema.json; smoke mode judges no "
               "target", errors[:5])
        tap.ok(doc["machine"]["cores"] >= 1 and doc["versions"]["fulcrum_commit"] and
               doc["versions"]["dpdk"],
               "it describes the machine and the versions (%s cores, DPDK %s)" % (
                   doc["machine"]["cores"], doc["versions"]["dpdk"]), doc["versions"])

        for name in SECTIONS:
            sec = doc["sections"].get(name) or {}
            bad = [(m["peer"], m["name"], m["status"], m["reason"][:200])
                   for m in sec.get("results", [])
                   if m["status"] != "ok" or not m["samples"] or not m["median"] > 0]
            tap.ok(sec.get("status") == "ok" and sec.get("results") and not bad,
                   "section %s: ok, %d measurements, each with samples and a positive median" % (
                       name, len(sec.get("results", []))),
                   "status %s (%s); %s" % (sec.get("status"), sec.get("reason", "")[:300], bad))

        rate = {(m["peer"], m["name"]) for m in doc["sections"]["pipeline_rate"]["results"]}
        lab = {m["peer"] for m in doc["sections"]["lab_e2e"]["results"]}
        tap.ok(("testpmd-io", "rate_established") in rate and
               ("fulcrum-fnat", "rate_established") in rate and
               {"direct", "haproxy", "nftables", "fulcrum-fnat", "fulcrum-dsr"} <= lab,
               "Fulcrum is measured next to testpmd and, in the lab, next to the direct path, "
               "HAProxy and nftables", "%s %s" % (sorted(rate), sorted(lab)))

        md = os.path.join(report, "report.md")
        try:
            with open(md) as f:
                text = f.read()
        except OSError as e:
            text = ""
            tap.diag(str(e))
        pngs = [p for p in ("pipeline_rate.png", "lab_e2e.png", "ipp.png", "failover.png")
                if open_magic(os.path.join(report, p)) == b"\x89PNG"]
        tap.ok("### Packet rate" in text and "### Lab end to end" in text and len(pngs) == 4,
               "report.md has the tables and the four plots are PNG files", pngs)

        again = os.path.join(tmp, "again")
        r = subprocess.run([labtest.PYTHON, RUN, "--render", out, "--report", again],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        try:
            with open(os.path.join(again, "report.md")) as f:
                same = f.read() == text
        except OSError:
            same = False
        tap.ok(r.returncode == 0 and same,
               "--render gives the same report from the JSON alone", r.stderr[-300:])


def open_magic(path):
    try:
        with open(path, "rb") as f:
            return f.read(4)
    except OSError:
        return b""


if __name__ == "__main__":
    labtest.main_wrapper(PLANNED, body)
