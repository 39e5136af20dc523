# SPDX-License-Identifier: Apache-2.0
"""What every section of the harness shares: the run's context, measurement records and
small process helpers.

A section is a module with `run(ctx) -> dict` returning a *section record*:

    {"status": "ok" | "partial" | "unavailable" | "failed",
     "reason": str,            # why not ok (empty when ok)
     "duration_s": float,      # filled in by bench/run
     "results": [measurement, ...],
     "notes": [str, ...]}      # facts a reader of the report needs (what limited a figure)

and a *measurement* is

    {"name": str, "peer": str, "params": {...}, "unit": str,
     "samples": [float, ...],  # every raw sample; the summary is derived from them
     "median": float, "extra": {...},
     "status": "ok" | "unavailable" | "failed", "reason": str}

A peer that cannot be measured is a measurement with status "unavailable" and a reason, never
left out. The JSON schema in bench/results.schema.json pins this down.
"""
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import time

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ("smoke", "quick", "full")


@dataclasses.dataclass
class Context:
    mode: str          # smoke: seconds, no thresholds; quick: < 5 min; full: < 30 min
    build_dir: str     # a meson build of this tree (fulcrumd, fulcrumctl, bench programs)
    work_dir: str      # scratch space for configs and logs; removed after the run unless --keep
    source_root: str = SOURCE_ROOT

    def pick(self, smoke, quick, full):
        """The value for this run's mode."""
        return {"smoke": smoke, "quick": quick, "full": full}[self.mode]

    def binary(self, *parts):
        return os.path.join(self.build_dir, *parts)

    def scratch(self, name):
        """A fresh directory under work_dir for one section or peer."""
        path = os.path.join(self.work_dir, name)
        os.makedirs(path, exist_ok=True)
        return path


def log(msg):
    print("bench: %s %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def measurement(name, peer, unit, samples, params=None, extra=None):
    samples = [float(s) for s in samples]
    return {"name": name, "peer": peer, "params": params or {}, "unit": unit,
            "samples": samples, "median": statistics.median(samples) if samples else None,
            "extra": extra or {}, "status": "ok" if samples else "failed",
            "reason": "" if samples else "no samples"}


def unavailable(name, peer, reason, params=None, status="unavailable"):
    return {"name": name, "peer": peer, "params": params or {}, "unit": "", "samples": [],
            "median": None, "extra": {}, "status": status, "reason": reason}


def section(results, notes=None, status=None, reason=""):
    if status is None:
        bad = [m for m in results if m["status"] != "ok"]
        status = "ok" if not bad else ("partial" if len(bad) < len(results) else "failed")
        if bad and not reason:
            reason = "; ".join("%s/%s: %s" % (m["peer"], m["name"], m["reason"]) for m in bad[:5])
    return {"status": status, "reason": reason, "duration_s": 0.0, "results": results,
            "notes": notes or []}


def section_unavailable(reason):
    return section([], status="unavailable", reason=reason)


def have(program):
    return shutil.which(program) is not None


def run(argv, timeout, check=False, **kw):
    """subprocess.run with text output, stdin from /dev/null, and a hard timeout."""
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: rc %d: %s" % (" ".join(argv), r.returncode,
                                              (r.stderr or r.stdout).strip()[-800:]))
    return r


def stop_process(proc, grace_s=5.0):
    """Ends a Popen we started, by its PID: SIGTERM, then SIGKILL after grace_s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
