#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Controller HTTP server for the Fulcrum namespace lab (scripts/lab.sh).

Stands in for nova-api on TCP 8774:

  GET <any path>   200, body "<name>\\n"               (e.g. "c1\\n")
  GET /bytes/N     200, N bytes of deterministic data, streamed in blocks
                   (never held in memory): the byte at offset i is i % 251.
                   A prime period means a lost, duplicated or reordered
                   block changes the content, not just the length.
  HEAD             the same headers without a body

Every response carries Content-Length (HTTP/1.1 keep-alive works) and
"X-Backend: <name>", so a client can tell which controller answered even
for /bytes. Listens on every --bind address (lab.sh passes the controller
address and the VIP; the VIP bind relies on net.ipv4.ip_nonlocal_bind=1
in the controller's namespace and only receives traffic in DSR mode).

Only the standard library of Debian's /usr/bin/python3 is used.
"""

import argparse
import http.server
import os
import re
import socket
import sys
import threading

PERIOD = 251
# 256 periods: a ~63 KiB block that ends on a period boundary, so
# consecutive blocks continue the pattern.
BLOCK = bytes(i % PERIOD for i in range(PERIOD * 256))
MAX_BYTES = 1 << 40
BYTES_RE = re.compile(r"^/bytes/([0-9]{1,13})/?(?:\?.*)?$")


class LabServer(http.server.ThreadingHTTPServer):
    # The default listen backlog of 5 drops SYNs under a burst of new
    # connections; the lab must take a few hundred per second.
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True


def make_handler(name):
    body = (name + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fulcrum-lab"
        # Reap idle keep-alive connections; long enough for a slow
        # 200 MB transfer through a userspace forwarder (per socket op).
        timeout = 120

        def version_string(self):
            return self.server_version

        def log_message(self, fmt, *args):  # noqa: D401 - quiet by design
            # Logging every request costs more than serving it.
            pass

        def _headers(self, length, ctype):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(length))
            self.send_header("X-Backend", name)
            self.end_headers()

        def _serve(self, with_body):
            m = BYTES_RE.match(self.path)
            if m is None:
                self._headers(len(body), "text/plain")
                if with_body:
                    self.wfile.write(body)
                return
            n = int(m.group(1))
            if n > MAX_BYTES:
                self.send_error(400, "too large")
                return
            self._headers(n, "application/octet-stream")
            if not with_body:
                return
            full, rest = divmod(n, len(BLOCK))
            for _ in range(full):
                self.wfile.write(BLOCK)
            if rest:
                self.wfile.write(BLOCK[:rest])

        def do_GET(self):  # noqa: N802 - http.server naming
            self._serve(True)

        def do_HEAD(self):  # noqa: N802 - http.server naming
            self._serve(False)

        def handle(self):
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                # Clients (and forwarders under test) drop connections;
                # that is not a server error worth a traceback.
                self.close_connection = True

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, help="controller name, e.g. c0")
    ap.add_argument("--bind", action="append", required=True,
                    help="address to listen on (repeatable)")
    ap.add_argument("--port", type=int, default=8774)
    ap.add_argument("--pid-file", help="write our PID here once listening")
    args = ap.parse_args()

    handler = make_handler(args.name)
    servers = [LabServer((addr, args.port), handler) for addr in args.bind]
    # The PID file is written only after every socket is bound, so its
    # presence also means "listening".
    if args.pid_file:
        tmp = args.pid_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(tmp, args.pid_file)
    sys.stdout.flush()

    threads = [threading.Thread(target=s.serve_forever, daemon=True)
               for s in servers[1:]]
    for t in threads:
        t.start()
    # SIGTERM's default action ends the process; nothing to flush.
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
