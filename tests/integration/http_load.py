# SPDX-License-Identifier: Apache-2.0
"""Client-side HTTP load for the lab tests; run inside the client namespace:

  ip netns exec fl-client /usr/bin/python3 -I http_load.py -n 1000 --target 192.0.2.26:8774

N sequential GET requests, a new TCP connection for each (http.client, per-request timeout),
spread round-robin over the --target addresses. Prints one JSON object: answers counted by
the controller named in the body ("c0\\n" ...), failures with the first few errors, elapsed
seconds and requests per second. Bounded: N requests, each at most --timeout per socket
operation, and the whole run at most --max-seconds (the rest then count as failures).
"""

import argparse
import http.client
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, required=True, help="number of requests")
    ap.add_argument("--target", action="append", required=True, help="HOST:PORT (repeatable)")
    ap.add_argument("--timeout", type=float, default=3.0, help="seconds per socket operation")
    ap.add_argument("--path", default="/")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    args = ap.parse_args()

    targets = []
    for t in args.target:
        host, _, port = t.rpartition(":")
        targets.append((host, int(port)))

    counts, errors = {}, []
    ok = failures = 0
    started = time.monotonic()
    deadline = started + args.max_seconds
    for i in range(args.n):
        if time.monotonic() > deadline:
            failures += args.n - i
            errors.append("run bound of %.0f s reached after %d requests" % (args.max_seconds, i))
            break
        host, port = targets[i % len(targets)]
        conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
        try:
            conn.request("GET", args.path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError("HTTP %d" % resp.status)
            name = body.decode(errors="replace").strip()
            counts[name] = counts.get(name, 0) + 1
            ok += 1
        except Exception as e:  # noqa: BLE001 - every failure is counted and reported
            failures += 1
            if len(errors) < 10:
                errors.append("request %d to %s:%d: %s: %s" % (i, host, port, type(e).__name__, e))
        finally:
            conn.close()
    elapsed = time.monotonic() - started
    json.dump({"ok": ok, "failures": failures, "counts": counts, "errors": errors,
               "elapsed_s": round(elapsed, 3),
               "rps": round(ok / elapsed, 1) if elapsed > 0 else 0.0}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
