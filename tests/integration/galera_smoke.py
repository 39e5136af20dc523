#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the lab's Galera mode (scripts/lab.sh up --galera), TAP output.

Brings up the lab with a real 3-node MariaDB Galera cluster on c0..c2 and checks, always
from the client namespace over TCP to each controller's address (as a load balancer's
health check would see it):

  - all three nodes Synced, Primary, ready, cluster size 3; lab.whoami names the node;
  - the lab user can run SHOW GLOBAL STATUS and read @@wsrep_desync / @@wsrep_reject_queries,
    and so can an account with nothing but USAGE;
  - a row written on c0 is readable on c2;
  - `lab.sh partition c2`: within 15 s c2 reports non-Primary while its 3306 still accepts
    logins, and c0/c1 stay Primary with cluster size 2;
  - `lab.sh heal c2`: within 30 s c2 is Synced and Primary again;
  - `lab.sh galera-stop c0`: c1/c2 stay Primary with size 2; a row written on c1 meanwhile
    reaches c0 after `lab.sh galera-start c0` (it rejoins Synced, not bootstrapping);
  - `lab.sh down` leaves nothing behind.

Root is required (network namespaces); without it the plan is "1..0 # SKIP". The lab's
namespace names are fixed, so if another lab exists this script waits and retries `up` a
bounded number of times; it never takes down a lab it did not bring up. The lab it brought up
is always taken down: try/finally, with SIGINT/SIGTERM/SIGHUP turned into an exception, and the
`down` itself runs in its own session so that it finishes even if this process is killed.

Only Debian's /usr/bin/python3 standard library is used. Every wait is bounded.
"""

import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
LAB = os.environ.get("FULCRUM_LAB_SCRIPT") or os.path.join(SOURCE_ROOT, "scripts", "lab.sh")
STATE_DIR = os.environ.get("FULCRUM_LAB_STATE") or "/run/fulcrum-lab"
LAB_NAMESPACES = ["fl-sw", "fl-client", "fl-c0", "fl-c1", "fl-c2", "fl-lb0", "fl-lb1"]
GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"

CONTROLLERS = {"c0": "192.0.2.10", "c1": "192.0.2.11", "c2": "192.0.2.12"}
DB_USER = "fulcrum"
DB_PASSWORD = "fulcrum"

UP_TIMEOUT_S = 180          # lab.sh up --galera (about 15-25 s here)
UP_ATTEMPTS = 8             # while another lab exists: retry this often ...
UP_RETRY_WAIT_S = 15        # ... this far apart
DOWN_TIMEOUT_S = 90
PARTITION_LIMIT_S = 15      # c2 non-Primary after `partition c2`
HEAL_LIMIT_S = 30           # c2 Synced again after `heal c2`
STOP_LIMIT_S = 10           # c1/c2 at size 2 after `galera-stop c0`
START_LIMIT_S = 30          # c0 Synced after `galera-start c0`
POLL_S = 0.25

PLANNED = 12


# ---------------------------------------------------------------------------- TAP

Tap = labtest.Tap  # the suite's TAP producer


# ---------------------------------------------------------------------------- signals

# Signal handling and bounded commands: the suite's own (labtest).
Interrupted = labtest.Interrupted
install_signal_handlers = labtest.install_signal_handlers
ignore_signals = labtest.ignore_signals
run = labtest.run


def signal_seen():
    return bool(labtest._signal_seen)


def lab(*args, timeout=60):
    return run(["bash", LAB] + list(args), timeout=timeout)


def lab_exists():
    return os.path.isdir(STATE_DIR) or any(
        os.path.exists("/run/netns/" + ns) for ns in LAB_NAMESPACES)


def sql(node, query, user=DB_USER, password=DB_PASSWORD, timeout=8):
    """One query from the client namespace to node's address; (ok, rows or error text)."""
    r = run(["ip", "netns", "exec", "fl-client", "mariadb", "--no-defaults", "--connect-timeout=3",
             "-h", CONTROLLERS[node], "-P", "3306", "-u", user, "-p" + password, "-N", "-B",
             "-e", query], timeout=timeout)
    if r.returncode != 0:
        return False, (r.stderr or r.stdout).strip()
    return True, [line.split("\t") for line in r.stdout.splitlines()]


WSREP_QUERY = ("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', "
               "'wsrep_cluster_status', 'wsrep_local_state', 'wsrep_local_state_comment', "
               "'wsrep_ready')")


def wsrep(node):
    """{'size': int, 'status': str, 'state': int, 'comment': str, 'ready': str} or None."""
    ok, rows = sql(node, WSREP_QUERY)
    if not ok:
        return None
    v = {r[0].lower(): r[1] if len(r) > 1 else "" for r in rows}
    try:
        return {"size": int(v["wsrep_cluster_size"]), "status": v["wsrep_cluster_status"],
                "state": int(v["wsrep_local_state"]), "comment": v["wsrep_local_state_comment"],
                "ready": v["wsrep_ready"]}
    except (KeyError, ValueError):
        return None


def synced(st, size=None):
    return (st is not None and st["state"] == 4 and st["status"] == "Primary"
            and st["ready"] == "ON" and (size is None or st["size"] == size))


def describe(states):
    return "; ".join("%s: %s" % (n, "no answer" if s is None else
                                 "size %(size)d %(status)s state %(state)d (%(comment)s) "
                                 "ready %(ready)s" % s)
                     for n, s in sorted(states.items()))


def wait_for(nodes, pred, limit_s):
    """Polls wsrep state of nodes until pred(states) holds or limit_s passes.
    Returns (ok, seconds, last states)."""
    t0 = time.monotonic()
    states = {}
    for _ in range(int(limit_s / POLL_S) + 2):  # bounded in count as well as in time
        states = {n: wsrep(n) for n in nodes}
        if pred(states):
            return True, time.monotonic() - t0, states
        if time.monotonic() - t0 >= limit_s:
            break
        time.sleep(POLL_S)
    return False, time.monotonic() - t0, states


# ---------------------------------------------------------------------------- the lab

class GaleraLab:
    def __init__(self, tap):
        self.tap = tap
        self.owned = False

    def up(self):
        """`lab.sh up fnat --galera`, retried while another lab exists. Returns (ok, details)."""
        for attempt in range(1, UP_ATTEMPTS + 1):
            rc, out, secs = self._up_once()
            if rc == 0:
                self.owned = True
                self.tap.diag("lab up (fnat, galera) in %.1f s" % secs)
                for line in out.splitlines():
                    if line.startswith("  c") or line.startswith("galera:"):
                        self.tap.diag("  " + line.strip())
                return True, ""
            if "a lab already exists" in out or "cannot create state dir" in out:
                # Someone else's lab (or their `up` in progress): never touch it.
                if attempt < UP_ATTEMPTS:
                    self.tap.diag("another lab exists; retrying in %d s (%d/%d)" % (
                        UP_RETRY_WAIT_S, attempt, UP_ATTEMPTS))
                    time.sleep(UP_RETRY_WAIT_S)
                    continue
                return False, "another lab kept existing: " + out.strip()[-300:]
            # A failed up tears down what it made itself; if it says that went wrong, or it
            # had to be killed, what is left is ours to remove.
            if rc in (124, 137) or "teardown after failed up was incomplete" in out:
                self.owned = True
            return False, "lab.sh up fnat --galera rc %d: %s" % (rc, out.strip()[-900:])
        return False, "not reached"

    def _up_once(self):
        """Runs up in its own session with output to a file. On timeout or a signal it gets
        SIGTERM, so that its own trap removes what it made (it only ever removes its own)."""
        t0 = time.monotonic()
        with tempfile.TemporaryFile(mode="w+") as out_file:
            p = subprocess.Popen(["bash", LAB, "up", "fnat", "--galera"], stdin=subprocess.DEVNULL,
                                 stdout=out_file, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc = p.wait(timeout=UP_TIMEOUT_S)
            except (subprocess.TimeoutExpired, Interrupted):
                self._stop_up(p)
                if signal_seen():
                    raise Interrupted("signal during up")
                rc = 124
            out_file.seek(0)
            return rc, out_file.read(), time.monotonic() - t0

    def _stop_up(self, p):
        ignore_signals()
        try:
            p.terminate()  # by PID: lab.sh's trap tears down its half-built lab
            try:
                p.wait(timeout=DOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.owned = True  # killed mid-way: what it made is ours to remove
        finally:
            install_signal_handlers()

    def down(self):
        if not self.owned:
            return True
        ignore_signals()  # a second Ctrl-C must not cut the teardown short
        rc, out = None, ""
        for _ in range(2):
            with tempfile.TemporaryFile(mode="w+") as out_file:
                p = subprocess.Popen(["bash", LAB, "down"], stdin=subprocess.DEVNULL,
                                     stdout=out_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
                try:
                    rc = p.wait(timeout=DOWN_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    rc = 124
                out_file.seek(0)
                out = out_file.read()
            if rc == 0:
                break
            self.tap.diag("lab.sh down: rc %s: %s" % (rc, out.strip()[-500:]))
        self.owned = False
        return rc == 0 and not lab_exists()


# ---------------------------------------------------------------------------- the test

def body(tap, gl):
    ok, details = gl.up()
    if not tap.ok(ok, "lab.sh up fnat --galera: a 3-node Galera cluster forms", details):
        return

    # 2. All three Synced, Primary, ready, size 3 (up waited for it; seen here from the client).
    states = {n: wsrep(n) for n in CONTROLLERS}
    tap.ok(all(synced(s, 3) for s in states.values()),
           "from the client: c0, c1, c2 Synced, Primary, ready, cluster size 3", describe(states))

    # 3. lab.whoami and @@wsrep_node_name answer per node.
    answers = {}
    for n in CONTROLLERS:
        ok, rows = sql(n, "select name from lab.whoami; select @@wsrep_node_name")
        answers[n] = [r[0] for r in rows] if ok else rows
    tap.ok(all(answers[n] == [n, n] for n in CONTROLLERS),
           "select name from lab.whoami / @@wsrep_node_name name each node", answers)

    # 4. What a health check needs: SHOW GLOBAL STATUS and two variables, as the lab user and
    #    as an account with nothing but USAGE (made on c0, checked on c2: users replicate).
    probe = ("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'; "
             "select @@wsrep_desync, @@wsrep_reject_queries")
    results = {}
    ok, rows = sql("c2", probe)
    results[DB_USER] = rows
    good_lab_user = ok and len(rows) == 2 and rows[0][1] == "Primary" and rows[1] == ["0", "NONE"]
    ok, err = sql("c0", "CREATE USER 'galera_smoke_hc'@'%' IDENTIFIED BY 'hc'; "
                        "SHOW GRANTS FOR 'galera_smoke_hc'@'%'")
    grants = [r[0] for r in err] if ok else err
    usage_only = ok and len(grants) == 1 and grants[0].startswith("GRANT USAGE ON *.*")
    good_usage = False
    for _ in range(20):  # the user replicates at once; allow for apply lag, bounded
        ok, rows = sql("c2", probe, user="galera_smoke_hc", password="hc")
        if ok:
            good_usage = len(rows) == 2 and rows[0][1] == "Primary" and rows[1] == ["0", "NONE"]
            break
        time.sleep(POLL_S)
    results["usage-only"] = rows
    results["grants"] = grants
    tap.ok(good_lab_user and usage_only and good_usage,
           "%s and a USAGE-only account can SHOW GLOBAL STATUS and read @@wsrep_desync, "
           "@@wsrep_reject_queries" % DB_USER, results)

    # 5. A row written on c0 is readable on c2 (wsrep_sync_wait: a causal read).
    marker = "written-on-c0-%d" % os.getpid()
    ok_w, err_w = sql("c0", "CREATE TABLE IF NOT EXISTS lab.galera_smoke (id INT PRIMARY KEY, "
                            "note VARCHAR(64)); INSERT INTO lab.galera_smoke VALUES (1, '%s')"
                      % marker)
    ok_r, rows = sql("c2", "SET SESSION wsrep_sync_wait = 1; "
                           "SELECT note FROM lab.galera_smoke WHERE id = 1")
    tap.ok(ok_w and ok_r and rows == [[marker]], "a row written on c0 is readable on c2",
           "write: %s; read: %s" % (err_w, rows))

    # 6-8. Partition c2.
    r = lab("partition", "c2", timeout=30)
    if r.returncode != 0:
        tap.diag("lab.sh partition c2: rc %d: %s" % (r.returncode, r.stderr.strip()))
    ok, secs, states = wait_for(
        CONTROLLERS, lambda s: (s["c2"] is not None and s["c2"]["status"] != "Primary"
                                and all(synced(s[n], 2) for n in ("c0", "c1"))),
        PARTITION_LIMIT_S)
    tap.diag("partition c2: c2 non-Primary and c0/c1 at size 2 after %.1f s" % secs)
    tap.ok(r.returncode == 0 and states.get("c2") is not None
           and states["c2"]["status"] != "Primary",
           "partition c2: within %d s c2 reports non-Primary (%.1f s)" % (PARTITION_LIMIT_S, secs),
           describe(states))
    ok_login, rows = sql("c2", "select @@wsrep_node_name; "
                               "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'")
    tap.ok(ok_login and rows[0] == ["c2"] and rows[1][1] != "Primary",
           "partitioned c2 still accepts logins on 3306 and answers as non-Primary", rows)
    tap.ok(all(synced(states.get(n), 2) for n in ("c0", "c1")),
           "c0 and c1 stay Primary and Synced with cluster size 2", describe(states))

    # 9. Heal c2.
    r = lab("heal", "c2", timeout=30)
    ok, secs, states = wait_for(CONTROLLERS, lambda s: all(synced(x, 3) for x in s.values()),
                                HEAL_LIMIT_S)
    tap.diag("heal c2: all Synced at size 3 after %.1f s" % secs)
    tap.ok(r.returncode == 0 and ok,
           "heal c2: within %d s c2 is Synced and Primary again, size 3 (%.1f s)" % (
               HEAL_LIMIT_S, secs), "heal rc %d %s; %s" % (r.returncode, r.stderr.strip(),
                                                            describe(states)))

    # 10. Stop c0 (the node that bootstrapped the cluster).
    r = lab("galera-stop", "c0", timeout=60)
    tap.diag((r.stderr or r.stdout).strip())
    ok, secs, states = wait_for(("c1", "c2"), lambda s: all(synced(x, 2) for x in s.values()),
                                STOP_LIMIT_S)
    tap.ok(r.returncode == 0 and ok and wsrep("c0") is None,
           "galera-stop c0: c1 and c2 stay Primary and Synced with size 2 (%.1f s)" % secs,
           "stop rc %d %s; %s" % (r.returncode, r.stderr.strip(), describe(states)))

    # 11. Write on c1 while c0 is down; start c0: it rejoins (IST) and has the row.
    marker2 = "written-on-c1-%d" % os.getpid()
    ok_w, err_w = sql("c1", "INSERT INTO lab.galera_smoke VALUES (2, '%s')" % marker2)
    t0 = time.monotonic()
    r = lab("galera-start", "c0", "--no-wait", timeout=30)
    ok, secs, states = wait_for(CONTROLLERS, lambda s: all(synced(x, 3) for x in s.values()),
                                START_LIMIT_S)
    secs = time.monotonic() - t0
    tap.diag("galera-start c0: all Synced at size 3 after %.1f s" % secs)
    ok_r, rows = sql("c0", "SET SESSION wsrep_sync_wait = 1; "
                           "SELECT note FROM lab.galera_smoke WHERE id = 2")
    tap.ok(r.returncode == 0 and ok and ok_w and ok_r and rows == [[marker2]],
           "galera-start c0: rejoins Synced, size 3 (%.1f s), with the row written on c1 "
           "meanwhile" % secs,
           "start rc %d %s; write %s; read %s; %s" % (
               r.returncode, r.stderr.strip(), err_w, rows, describe(states)))

    # 12. Down.
    tap.ok(gl.down(), "lab.sh down removes the lab",
           "still present: %s" % (STATE_DIR if os.path.isdir(STATE_DIR) else
                                  [ns for ns in LAB_NAMESPACES
                                   if os.path.exists("/run/netns/" + ns)]))


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP not root", flush=True)
        return 0
    if not os.path.isfile(GALERA_PROVIDER):
        print("1..0 # SKIP galera-4 not installed (run scripts/lab-packages.sh)", flush=True)
        return 0
    tap = Tap(PLANNED)
    gl = GaleraLab(tap)
    started = time.monotonic()
    install_signal_handlers()
    rc = 1
    try:
        body(tap, gl)
        rc = tap.finish()
    except Interrupted as e:
        tap.diag("interrupted (%s)" % e)
        tap.finish()
        rc = 130
    except Exception as e:  # noqa: BLE001 - report as TAP, never a bare traceback
        tap.diag("error: %s: %s" % (type(e).__name__, e))
        tap.finish()
        rc = 1
    finally:
        try:
            gl.down()
        except Interrupted:
            gl.down()
        tap.diag("duration %.1f s" % (time.monotonic() - started))
    return rc


if __name__ == "__main__":
    sys.exit(main())
