#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sums test results over meson build directories and prints 'N passed, N failed'.

Counts individual GoogleTest cases (meson records them in testlog.junit.xml for tests declared
with protocol 'gtest') and whole tests for the rest. A test that failed without any failing case
on record (a crash, a sanitizer abort, a timeout) counts as one failure.
Usage: summarize-tests.py BUILD_DIR [BUILD_DIR ...]
"""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def summarize(build_dir):
    logs = Path(build_dir) / "meson-logs"
    passed = failed = skipped = 0
    cases = {}  # meson test name -> (passed, failed, skipped) counted from junit
    junit = logs / "testlog.junit.xml"
    if junit.exists():
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            parts = suite.get("name", "").split(".")
            test = parts[1] if len(parts) >= 3 else None
            for case in suite.iter("testcase"):
                key = test or case.get("name")
                p, f, s = cases.get(key, (0, 0, 0))
                if case.find("failure") is not None or case.find("error") is not None:
                    f += 1
                elif case.find("skipped") is not None:
                    s += 1
                else:
                    p += 1
                cases[key] = (p, f, s)
    results = logs / "testlog.json"
    if not results.exists():
        return 0, 1, 0
    for line in results.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        name, result = entry["name"], entry["result"]
        p, f, s = cases.get(name, (0, 0, 0))
        if result in ("OK", "EXPECTEDFAIL"):
            passed += max(p, 1)
            skipped += s
        elif result == "SKIP":
            skipped += 1
        else:
            passed += p
            failed += max(f, 1)
            skipped += s
    return passed, failed, skipped


def main():
    total = [0, 0, 0]
    for build_dir in sys.argv[1:]:
        for i, n in enumerate(summarize(build_dir)):
            total[i] += n
    line = f"{total[0]} passed, {total[1]} failed"
    if total[2]:
        line += f", {total[2]} skipped"
    print(line)
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
