# SPDX-License-Identifier: Apache-2.0
"""Client-side programs for the lab's health, pool and runtime tests; run inside a lab namespace:

  ip netns exec fl-client /usr/bin/python3 -I lab_clients.py COMMAND [OPTIONS]

Commands (each prints one JSON object on stdout when it ends, unless said otherwise):

  http-loop       GET / on a new connection every --interval seconds until --duration has passed
                  or --stop-file exists; one record per request: [start, end, answer] where
                  answer is the controller named in the body ("c0"...) or "ERR: ..."
  http-keepalive  one HTTP/1.1 keep-alive connection, a GET every --interval seconds; prints
                  {"first": NAME} as soon as the first answer is in (so the caller knows which
                  backend the connection is pinned to), then runs until --stop-file, --duration
                  or the first error (the connection is then gone: no reconnect)
  http-pinned     GET / once from each source port in --ports (LO-HI), on a connection of its
                  own, HTTP/1.0 so that the server closes first and the client port is free
                  again at once; records [port, answer]: the same 5-tuple each time it runs
  mysql-loop      -n connections (or until --duration / --stop-file), paced by --interval, each:
                  log in, run --query, quit; records as for http-loop (answer: first column of
                  the first row)
  mysql-watch     polls one server's wsrep status (log in, SHOW GLOBAL STATUS) every --interval
                  seconds until --duration / --stop-file; records [time, cluster_status,
                  local_state, ready] or [time, "ERR: ..."]
  mysql-idle      logs in through --host, runs `select @@wsrep_node_name`, prints
                  {"ready": NAME, "t": TIME}, then sits idle until the server side closes or
                  resets the connection or --hold seconds pass; prints {"event": "reset" | "eof"
                  | "timeout" | "error", "t": TIME, ...}

Times are time.monotonic() (CLOCK_MONOTONIC is system-wide: the test compares them with its
own). Every loop is bounded by count and by time; every socket operation by --timeout.

The MySQL client is a minimal implementation of the client/server protocol (handshake v10,
mysql_native_password, COM_QUERY text result sets, COM_QUIT), so that no package beyond
Debian's /usr/bin/python3 is needed and a connection costs milliseconds, not a process.
"""

import argparse
import hashlib
import http.client
import json
import os
import socket
import struct
import time

# ---------------------------------------------------------------------------- MySQL protocol

CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
CHARSET_UTF8MB4 = 45
MAX_PACKET = 1 << 24


class MysqlError(Exception):
    pass


def native_password(password, salt):
    if not password:
        return b""
    s1 = hashlib.sha1(password.encode()).digest()
    s2 = hashlib.sha1(s1).digest()
    s3 = hashlib.sha1(salt + s2).digest()
    return bytes(a ^ b for a, b in zip(s1, s3))


def lenenc_int(data, pos):
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    if first == 0xFB:
        return None, pos + 1  # NULL in a row
    if first == 0xFC:
        return struct.unpack_from("<H", data, pos + 1)[0], pos + 3
    if first == 0xFD:
        return int.from_bytes(data[pos + 1:pos + 4], "little"), pos + 4
    return struct.unpack_from("<Q", data, pos + 1)[0], pos + 9


def error_text(payload):
    code = struct.unpack_from("<H", payload, 1)[0]
    msg = payload[3:]
    if msg[:1] == b"#":
        msg = msg[6:]
    return "error %d: %s" % (code, msg.decode(errors="replace"))


class Mysql:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.seq = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _read_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise MysqlError("connection closed by the server")
            buf += chunk
        return bytes(buf)

    def read_packet(self):
        header = self._read_exact(4)
        length = header[0] | header[1] << 8 | header[2] << 16
        self.seq = (header[3] + 1) & 0xFF
        if length >= MAX_PACKET - 1:
            raise MysqlError("packet too large for this client")
        return self._read_exact(length)

    def write_packet(self, payload):
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) & 0xFF

    def login(self, user, password):
        greeting = self.read_packet()
        if greeting[:1] == b"\xff":
            raise MysqlError("greeting: " + error_text(greeting))
        if greeting[0] != 10:
            raise MysqlError("unsupported protocol version %d" % greeting[0])
        pos = greeting.index(b"\0", 1) + 1          # server version
        pos += 4                                   # connection id
        salt = greeting[pos:pos + 8]
        pos += 8 + 1                               # auth-plugin-data-part-1, filler
        pos += 2 + 1 + 2 + 2                       # caps lower, charset, status, caps upper
        salt_len = greeting[pos]
        pos += 1 + 10                              # length, reserved
        part2 = max(13, salt_len - 8)
        salt += greeting[pos:pos + part2].rstrip(b"\0")
        pos += part2
        plugin = greeting[pos:].split(b"\0", 1)[0].decode() or "mysql_native_password"
        salt = salt[:20]
        caps = (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
                | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH)
        auth = native_password(password, salt) if plugin == "mysql_native_password" else b""
        payload = (struct.pack("<IIB", caps, MAX_PACKET, CHARSET_UTF8MB4) + b"\0" * 23
                   + user.encode() + b"\0" + bytes([len(auth)]) + auth
                   + b"mysql_native_password\0")
        self.write_packet(payload)
        for _ in range(3):  # OK, ERR, or an auth switch (at most a couple)
            reply = self.read_packet()
            if reply[:1] == b"\x00":
                return
            if reply[:1] == b"\xff":
                raise MysqlError("login: " + error_text(reply))
            if reply[:1] == b"\xfe":
                name, _, data = reply[1:].partition(b"\0")
                if name != b"mysql_native_password":
                    raise MysqlError("login: server wants auth plugin %r" % name)
                self.write_packet(native_password(password, data.rstrip(b"\0")[:20]))
                continue
            raise MysqlError("login: unexpected packet 0x%02x" % reply[0])
        raise MysqlError("login: too many auth exchanges")

    def query(self, sql):
        """Rows of a text result set, each a list of str (None for NULL)."""
        self.seq = 0
        self.write_packet(b"\x03" + sql.encode())
        first = self.read_packet()
        if first[:1] == b"\xff":
            raise MysqlError(error_text(first))
        if first[:1] == b"\x00":
            return []
        ncols, _ = lenenc_int(first, 0)
        for _ in range(ncols):
            self.read_packet()                     # column definitions
        eof = self.read_packet()
        if eof[:1] != b"\xfe":
            raise MysqlError("expected EOF after the column definitions")
        rows = []
        for _ in range(100000):
            pkt = self.read_packet()
            if pkt[:1] == b"\xfe" and len(pkt) < 9:
                return rows
            if pkt[:1] == b"\xff":
                raise MysqlError(error_text(pkt))
            row, pos = [], 0
            for _ in range(ncols):
                n, pos = lenenc_int(pkt, pos)
                if n is None:
                    row.append(None)
                else:
                    row.append(pkt[pos:pos + n].decode(errors="replace"))
                    pos += n
            rows.append(row)
        raise MysqlError("result set too long")

    def quit(self):
        try:
            self.seq = 0
            self.write_packet(b"\x01")
        except OSError:
            pass
        self.close()


def mysql_once(host, port, user, password, sql, timeout):
    conn = Mysql(host, port, timeout)
    try:
        conn.login(user, password)
        rows = conn.query(sql)
        conn.quit()
        return rows
    finally:
        conn.close()


def describe(e):
    return "ERR: %s: %s" % (type(e).__name__, e)


# ---------------------------------------------------------------------------- loops

class Pacer:
    """Start times every `interval` (no bursts to catch up), until count, duration or stop file."""

    def __init__(self, args):
        self.interval = args.interval
        self.deadline = time.monotonic() + args.duration
        self.stop_file = args.stop_file
        self.left = args.n if getattr(args, "n", 0) else 10 ** 9
        self.next = time.monotonic()

    def __iter__(self):
        while self.left > 0:
            now = time.monotonic()
            if now >= self.deadline or (self.stop_file and os.path.exists(self.stop_file)):
                return
            if self.next > now:
                time.sleep(self.next - now)
            start = time.monotonic()
            self.next = max(self.next + self.interval, start)
            self.left -= 1
            yield start


def cmd_http_loop(args):
    host, _, port = args.target.rpartition(":")
    records = []
    for start in Pacer(args):
        conn = http.client.HTTPConnection(host, int(port), timeout=args.timeout)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            answer = body.decode(errors="replace").strip() if resp.status == 200 else \
                "ERR: HTTP %d" % resp.status
        except Exception as e:  # noqa: BLE001 - every failure is a record
            answer = describe(e)
        finally:
            conn.close()
        records.append([round(start, 6), round(time.monotonic(), 6), answer])
    return {"records": records}


def cmd_http_keepalive(args):
    host, _, port = args.target.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=args.timeout)
    records = []
    try:
        for start in Pacer(args):
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise RuntimeError("HTTP %d" % resp.status)
                answer = body.decode(errors="replace").strip()
                if resp.will_close:
                    raise RuntimeError("the server closed the keep-alive connection")
            except Exception as e:  # noqa: BLE001
                records.append([round(start, 6), round(time.monotonic(), 6), describe(e)])
                break
            records.append([round(start, 6), round(time.monotonic(), 6), answer])
            if len(records) == 1:
                print(json.dumps({"first": answer, "t": round(time.monotonic(), 6)}), flush=True)
    finally:
        conn.close()
    return {"records": records}


def cmd_http_pinned(args):
    host, _, port = args.target.rpartition(":")
    lo, _, hi = args.ports.partition("-")
    ports = range(int(lo), int(hi or lo) + 1)
    if not 0 < len(ports) <= 1000:
        raise ValueError("--ports: 1 to 1000 ports, got %s" % args.ports)
    records = []
    for sport in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.settimeout(args.timeout)
            sock.bind(("", sport))
            sock.connect((host, int(port)))
            sock.sendall(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
            data = b""
            while len(data) < 65536:  # until the server closes (HTTP/1.0)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            status = head.split(b" ", 2)[1:2]
            answer = body.decode(errors="replace").strip() if status == [b"200"] else \
                "ERR: %s" % head[:60].decode(errors="replace")
        except Exception as e:  # noqa: BLE001 - every failure is a record
            answer = describe(e)
        finally:
            sock.close()
        records.append([sport, answer])
    return {"records": records}


def cmd_mysql_loop(args):
    records = []
    for start in Pacer(args):
        try:
            rows = mysql_once(args.host, args.port, args.user, args.password, args.query,
                              args.timeout)
            answer = rows[0][0] if rows and rows[0] else "ERR: empty result"
        except Exception as e:  # noqa: BLE001
            answer = describe(e)
        records.append([round(start, 6), round(time.monotonic(), 6), answer])
    return {"records": records}


WSREP_QUERY = ("SHOW GLOBAL STATUS WHERE Variable_name IN "
               "('wsrep_cluster_status', 'wsrep_local_state', 'wsrep_ready')")


def cmd_mysql_watch(args):
    records = []
    for start in Pacer(args):
        try:
            rows = mysql_once(args.host, args.port, args.user, args.password, WSREP_QUERY,
                              args.timeout)
            v = {r[0].lower(): r[1] for r in rows}
            records.append([round(start, 6), v.get("wsrep_cluster_status"),
                            v.get("wsrep_local_state"), v.get("wsrep_ready")])
        except Exception as e:  # noqa: BLE001
            records.append([round(start, 6), describe(e)])
    return {"records": records}


def cmd_mysql_idle(args):
    conn = Mysql(args.host, args.port, args.timeout)
    try:
        conn.login(args.user, args.password)
        rows = conn.query("select @@wsrep_node_name")
        print(json.dumps({"ready": rows[0][0], "t": round(time.monotonic(), 6)}), flush=True)
        conn.sock.settimeout(args.hold)
        try:
            data = conn.sock.recv(4096)
            event = {"event": "eof" if not data else "data", "bytes": len(data)}
        except ConnectionResetError:
            event = {"event": "reset"}
        except socket.timeout:
            event = {"event": "timeout"}
        except OSError as e:
            event = {"event": "error", "error": describe(e)}
        event["t"] = round(time.monotonic(), 6)
        return event
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, interval, duration):
        p.add_argument("--interval", type=float, default=interval)
        p.add_argument("--duration", type=float, default=duration, help="bound in seconds")
        p.add_argument("--stop-file", help="stop once this file exists")
        p.add_argument("--timeout", type=float, default=2.0, help="per socket operation")

    def mysql_opts(p, host=None):
        p.add_argument("--host", required=host is None, default=host)
        p.add_argument("--port", type=int, default=3306)
        p.add_argument("--user", default="fulcrum")
        p.add_argument("--password", default="fulcrum")

    p = sub.add_parser("http-loop")
    p.add_argument("--target", required=True, help="HOST:PORT")
    common(p, 0.01, 30.0)
    p = sub.add_parser("http-keepalive")
    p.add_argument("--target", required=True, help="HOST:PORT")
    common(p, 0.1, 30.0)
    p = sub.add_parser("http-pinned")
    p.add_argument("--target", required=True, help="HOST:PORT")
    p.add_argument("--ports", required=True, help="source ports LO-HI (at most 1000)")
    p.add_argument("--timeout", type=float, default=3.0, help="per socket operation")
    p = sub.add_parser("mysql-loop")
    mysql_opts(p)
    p.add_argument("-n", type=int, default=0, help="number of connections (0: until duration)")
    p.add_argument("--query", default="select @@wsrep_node_name")
    common(p, 0.0, 60.0)
    p = sub.add_parser("mysql-watch")
    mysql_opts(p)
    common(p, 0.1, 30.0)
    p = sub.add_parser("mysql-idle")
    mysql_opts(p)
    p.add_argument("--hold", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()

    handlers = {"http-loop": cmd_http_loop, "http-keepalive": cmd_http_keepalive,
                "http-pinned": cmd_http_pinned,
                "mysql-loop": cmd_mysql_loop, "mysql-watch": cmd_mysql_watch,
                "mysql-idle": cmd_mysql_idle}
    try:
        out = handlers[args.cmd](args)
    except Exception as e:  # noqa: BLE001 - the caller reads one JSON object
        out = {"error": describe(e)}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
