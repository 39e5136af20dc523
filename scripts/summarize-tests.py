#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sums test results over meson test runs and prints 'N passed, N failed'.

Counts individual GoogleTest cases (meson records them in testlog.junit.xml for tests declared
with protocol 'gtest') and whole tests for the rest. A test that failed without any failing case
on record (a crash, a sanitizer abort, a timeout) counts as one failure.
Usage: summarize-tests.py BUILD_DIR[:LOGBASE] ... (LOGBASE: meson test --logbase, default
testlog). A run whose log is missing counts as one failure.
"""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def summarize(build_dir, logbase):
    """(passed, failed, skipped) of the `meson test` run logged as logbase in build_dir."""
    logs = Path(build_dir) / "meson-logs"
    results = logs / f"{logbase}.json"
    if not results.exists():
        return 0, 1, 0
    tests = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    names = sorted((t["name"] for t in tests), key=len, reverse=True)

    # Subtests (GoogleTest cases, TAP points) per meson test, from the JUnit file. A suite is
    # named "<project>.<test>" (TAP) or "<project>.<test>.<GoogleTest suite>"; a test without
    # subtests appears as a case named after the test.
    cases = {}
    junit = logs / f"{logbase}.junit.xml"
    if junit.exists():
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            suite_name = suite.get("name", "")
            for case in suite.iter("testcase"):
                owner = next((n for n in names if suite_name.endswith("." + n) or
                              ("." + n + ".") in suite_name), None)
                if owner is None:
                    continue  # the test's own entry: counted from testlog.json
                p, f, s = cases.get(owner, (0, 0, 0))
                if case.find("failure") is not None or case.find("error") is not None:
                    f += 1
                elif case.find("skipped") is not None:
                    s += 1
                else:
                    p += 1
                cases[owner] = (p, f, s)

    passed = failed = skipped = 0
    for t in tests:
        p, f, s = cases.get(t["name"], (0, 0, 0))
        if t["result"] in ("OK", "EXPECTEDFAIL"):
            passed += max(p, 1)
            skipped += s
        elif t["result"] == "SKIP":
            skipped += max(s, 1)
        else:
            # A failure with no failing subtest on record (crash, sanitizer abort, timeout)
            # still counts once.
            passed += p
            failed += max(f, 1)
            skipped += s
    return passed, failed, skipped


def main():
    total = [0, 0, 0]
    for arg in sys.argv[1:]:
        build_dir, _, logbase = arg.partition(":")
        for i, n in enumerate(summarize(build_dir, logbase or "testlog")):
            total[i] += n
    line = f"{total[0]} passed, {total[1]} failed"
    if total[2]:
        line += f", {total[2]} skipped"
    print(line)
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
