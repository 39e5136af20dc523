# SPDX-License-Identifier: Apache-2.0
"""One long HTTP transfer for the lab tests; run inside the client namespace:

  ip netns exec fl-client /usr/bin/python3 -I bulk_get.py --target 192.0.2.26:8774 -n 200000000

GETs /bytes/N over one TCP connection and streams the body (never holding it in memory) into
a SHA-256, which it compares with the SHA-256 of the expected pattern (byte i = i % 251)
computed locally, also streamed. Also notes the offset of the first differing byte, if any.
Prints one JSON object. Bounded: --timeout per socket operation, --max-seconds overall.
"""

import argparse
import hashlib
import http.client
import json
import sys
import time

PERIOD = 251
CHUNK = 1 << 20


def expected_sha256(n):
    block = bytes(i % PERIOD for i in range(PERIOD * 4096))  # ends on a period boundary
    h = hashlib.sha256()
    full, rest = divmod(n, len(block))
    for _ in range(full):
        h.update(block)
    h.update(block[:rest])
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("-n", type=int, required=True, help="bytes to ask for")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per socket operation")
    ap.add_argument("--max-seconds", type=float, default=240.0)
    args = ap.parse_args()
    host, _, port = args.target.rpartition(":")

    # The pattern at any offset: a slice of this, starting at offset % PERIOD.
    pattern = bytes(i % PERIOD for i in range(CHUNK + PERIOD))
    result = {"asked": args.n, "received": 0, "backend": None, "error": None,
              "first_mismatch": None}
    h = hashlib.sha256()
    started = time.monotonic()
    deadline = started + args.max_seconds
    conn = http.client.HTTPConnection(host, int(port), timeout=args.timeout)
    try:
        conn.request("GET", "/bytes/%d" % args.n)
        resp = conn.getresponse()
        result["status"] = resp.status
        result["backend"] = resp.getheader("X-Backend")
        result["content_length"] = resp.getheader("Content-Length")
        got = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("transfer bound of %.0f s reached" % args.max_seconds)
            data = resp.read(CHUNK)
            if not data:
                break
            h.update(data)
            if result["first_mismatch"] is None:
                start = got % PERIOD
                if data != pattern[start:start + len(data)]:
                    want = pattern[start:start + len(data)]
                    first = next(i for i in range(len(data)) if data[i] != want[i])
                    result["first_mismatch"] = got + first
            got += len(data)
            result["received"] = got
    except Exception as e:  # noqa: BLE001 - reported in the JSON
        result["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    result["elapsed_s"] = round(elapsed, 3)
    result["sha256"] = h.hexdigest()
    result["expected_sha256"] = expected_sha256(args.n)
    result["mb_per_s"] = round(result["received"] / 1e6 / elapsed, 1) if elapsed > 0 else 0.0
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
