# SPDX-License-Identifier: Apache-2.0
"""Packet rate of one worker lcore, against dpdk-testpmd's io forwarder on the same port.

The port is net_memif (copy mode): fulcrum-pktgen is the memif server on lcore 0, the device
under test the client with its forwarding lcore on 1. The generator sends TCP frames to the VIP
as fast as the port takes them and counts what comes back; the rate is what returned per second
(every forwarded frame returns: FNAT and DSR send it out of the same port, testpmd io echoes).

fulcrumd runs in a network namespace of its own (flb-rate) because it brings a tap for its
exception path; the generator and testpmd open no kernel interface.
"""
import json
import os
import socket
import statistics
import subprocess
import threading
import time

from . import common

NETNS = "flb-rate"
PORT_ADDR = "198.18.0.1/15"
VIP = "198.18.255.1"
VPORT = 8774
EAL_NO_HUGE = ["--no-huge", "-m", "512", "--no-pci"]


def backend_addrs(n):
    """n backend addresses on the port's subnet: 198.18.1.0 upwards."""
    return ["198.18.%d.%d" % (1 + i // 250, 1 + i % 250) for i in range(n)]


def fulcrum_config(tmp, mode, backends, flows_per_worker):
    items = ",\n  ".join('{ address = "%s" }' % a for a in backend_addrs(backends))
    return """# Written by bench/run (packet-rate section)
[dataplane]
workers = 1
poll = "busy"
flows_per_worker = %d
eal = %s

[[port]]
name = "bench"
device = "net_memif0,role=client,socket-abstract=no,socket=%s"
address = "%s"

[api]
socket = "%s"
state_file = "%s"
metrics = "127.0.0.1:19108"

[[service]]
name = "bench"
vip = "%s"
port = %d
forward = "%s"
backends = [
  %s ]
""" % (flows_per_worker, json.dumps(EAL_NO_HUGE + ["--file-prefix", "flb-dut"]),
       os.path.join(tmp, "memif.sock"), PORT_ADDR, os.path.join(tmp, "api.sock"),
       os.path.join(tmp, "state.json"), VIP, VPORT, mode, items)


class Rig:
    """One generator run against one device under test, both ended by PID afterwards."""

    def __init__(self, ctx, tmp):
        self.ctx = ctx
        self.tmp = tmp
        self.dut = None
        self.gen = None
        self.before_stop = None  # called once the result is in, before the DUT is stopped
        self.api_socket = None   # fulcrumd's: its worker's load is read before it stops
        self.dut_log = os.path.join(tmp, "dut.log")

    def start_fulcrumd(self, mode, backends, flows_per_worker):
        cfg = os.path.join(self.tmp, "fulcrum.toml")
        with open(cfg, "w") as f:
            f.write(fulcrum_config(self.tmp, mode, backends, flows_per_worker))
        self._start(["ip", "netns", "exec", NETNS, self.ctx.binary("fulcrumd"), "-c", cfg,
                     "-l", "notice"])
        self.api_socket = os.path.join(self.tmp, "api.sock")

    def worker_load(self, interval=0.5):
        """fulcrumd's worker over `interval` while the generator still sends: the share of its
        poll loops that moved packets (a few percent: it was waiting for input, so the
        generator set the rate) and the packets per such loop (memif hands over whole 32-frame
        bursts, so that one stays near 32 either way). None when unreadable."""
        def read():
            r = common.run([self.ctx.binary("fulcrumctl"), "-s", self.api_socket, "stats",
                            "--json"], timeout=10)
            try:
                w = json.loads(r.stdout)["workers"][0]
                return w["rx_packets"], w["busy_loops"], w["loops"]
            except (ValueError, KeyError, IndexError, TypeError):
                return None
        a = read()
        time.sleep(interval)
        b = read()
        if a is None or b is None or b[1] <= a[1] or b[2] <= a[2]:
            return None
        return {"packets_per_busy_loop": round((b[0] - a[0]) / (b[1] - a[1]), 1),
                "busy_loop_share": round((b[1] - a[1]) / (b[2] - a[2]), 3)}

    def start_testpmd(self):
        self._start(["dpdk-testpmd", "-l", "0,1", "--file-prefix", "flb-dut"] + EAL_NO_HUGE +
                    ["--vdev", "net_memif0,role=client,socket-abstract=no,socket=%s" %
                     os.path.join(self.tmp, "memif.sock"),
                     "--", "--forward-mode=io", "--stats-period", "100", "--no-lsc-interrupt",
                     "--total-num-mbufs", "16384", "--rxd", "1024", "--txd", "1024"])

    def _start(self, argv):
        self.log_file = open(self.dut_log, "w")
        self.dut = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                    stderr=subprocess.STDOUT)

    def start_generator(self, flows, new, size, settle, warmup, duration):
        """Starts the generator, the memif server, and waits for its socket: the device under
        test (the client) is started after it, since fulcrumd fails a port that cannot
        connect."""
        sock = os.path.join(self.tmp, "memif.sock")
        self.result_path = os.path.join(self.tmp, "result.json")
        for path in (sock, self.result_path):
            if os.path.exists(path):
                os.unlink(path)
        argv = [self.ctx.binary("bench", "fulcrum-pktgen"), "-l", "0", "--file-prefix",
                "flb-gen"] + EAL_NO_HUGE + [
                    "--vdev", "net_memif0,role=server,socket-abstract=no,socket=%s" % sock, "--",
                    "--vip", VIP, "--vport", str(VPORT),
                    "--size", str(size), "--settle", str(settle), "--warmup", str(warmup),
                    "--duration", str(duration), "--out", self.result_path]
        argv += ["--new"] if new else ["--flows", str(flows)]
        self.gen_limit = settle + warmup + duration + 60
        self.gen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if self.gen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fulcrum-pktgen did not open %s: %s" % (
                    sock, self.gen.communicate()[1].strip()[-400:]))
            time.sleep(0.01)

    def generator_result(self):
        """Waits for the generator's result; stops the device under test before the
        generator detaches (see fulcrum-pktgen's linger)."""
        deadline = time.monotonic() + self.gen_limit
        while not os.path.exists(self.result_path):
            if self.gen.poll() is not None:
                raise RuntimeError("fulcrum-pktgen rc %d: %s" % (
                    self.gen.returncode, self.gen.communicate()[1].strip()[-300:]))
            if time.monotonic() > deadline:
                raise RuntimeError("fulcrum-pktgen gave no result within %d s" % self.gen_limit)
            time.sleep(0.05)
        with open(self.result_path) as f:
            result = json.load(f)
        if self.api_socket is not None:
            result["dut_worker"] = self.worker_load()
        if self.before_stop is not None:
            self.before_stop()
        self.stop_dut()
        try:
            self.gen.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            common.stop_process(self.gen)
        return result

    def stop_dut(self):
        """Ends the device under test; a crash (a signal other than our SIGTERM) is an error."""
        dut, self.dut = self.dut, None
        if dut is None:
            return
        common.stop_process(dut)
        self.log_file.close()
        if dut.returncode not in (0, -15):
            raise RuntimeError("the device under test ended with status %d" % dut.returncode)

    def stop(self):
        common.stop_process(self.gen)
        if self.dut is not None:
            common.stop_process(self.dut)
            self.log_file.close()
            self.dut = None

    def log_tail(self, n=600):
        try:
            with open(self.dut_log) as f:
                return f.read()[-n:]
        except OSError:
            return ""


class Updater(threading.Thread):
    """Publishes `rate` table updates a second through the runtime API (weight 1 <-> 2 on
    the first backend, one connection), until stopped; counts what was acknowledged."""

    def __init__(self, sock_path, rate):
        super().__init__(daemon=True)
        self.sock_path = sock_path
        self.rate = rate
        self.stop_flag = threading.Event()
        self.done = 0
        self.errors = 0
        self.started = self.last = None
        self.failure = ""

    def run(self):
        deadline = time.monotonic() + 15
        while not os.path.exists(self.sock_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.sock_path)
                f = s.makefile("rw")
                self.started = time.monotonic()
                period = 1.0 / self.rate
                next_t = self.started
                while not self.stop_flag.is_set():
                    w = 1 + self.done % 2
                    f.write(json.dumps({"cmd": "weight", "service": "bench",
                                        "backend": backend_addrs(1)[0], "weight": w}) + "\n")
                    f.flush()
                    reply = json.loads(f.readline())
                    if reply.get("ok"):
                        self.done += 1
                    else:
                        self.errors += 1
                    self.last = time.monotonic()
                    next_t += period
                    delay = next_t - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        except (OSError, ValueError) as e:
            if not self.stop_flag.is_set():  # fulcrumd going away at the end is expected
                self.failure = str(e)

    def achieved_per_s(self):
        if self.started is None or self.last is None or self.last <= self.started:
            return 0.0
        return self.done / (self.last - self.started)


def cases(ctx):
    """(label, params) of every fulcrumd case in this mode; each sample of each is paired
    with a testpmd sample of the same frame size taken just before it."""
    out = []
    sizes = ctx.pick([64], [64, 512], [64, 512])
    modes = ctx.pick(["fnat"], ["fnat", "dsr"], ["fnat", "dsr"])
    for mode in modes:
        for size in sizes:
            out.append(("fulcrum %s established %dB" % (mode, size),
                        {"mode": mode, "size": size, "flows": 1024, "new": False,
                         "backends": 3}))
        for size in ctx.pick([64], [64], [64, 512]):
            out.append(("fulcrum %s new flows %dB" % (mode, size),
                        {"mode": mode, "size": size, "flows": 0, "new": True, "backends": 3}))
    if ctx.mode == "full":
        for flows in (100_000, 1_000_000):  # 1k is above; DSR: FNAT's ports limit the count
            out.append(("fulcrum dsr established %d flows" % flows,
                        {"mode": "dsr", "size": 64, "flows": flows, "new": False,
                         "backends": 3}))
        for backends in (100, 1000):
            out.append(("fulcrum fnat established %d backends" % backends,
                        {"mode": "fnat", "size": 64, "flows": 1024, "new": False,
                         "backends": backends}))
    if ctx.mode != "smoke":
        out.append(("fulcrum fnat established, 1000 updates/s",
                    {"mode": "fnat", "size": 64, "flows": 1024, "new": False, "backends": 3,
                     "updates_per_s": 1000}))
    return out


def measure_once(ctx, tmp, kind, p, timing):
    rig = Rig(ctx, tmp)
    updater = None
    try:
        settle = timing["settle"] + (2.0 if p.get("backends", 3) > 100 else 0.0)
        rig.start_generator(p["flows"], p["new"], p["size"], settle, timing["warmup"],
                            timing["duration"])
        if kind == "testpmd":
            rig.start_testpmd()
        else:
            flows_per_worker = max(65536, 1 << (max(p["flows"], 1) * 4 // 3).bit_length())
            rig.start_fulcrumd(p["mode"], p["backends"], flows_per_worker)
            if p.get("updates_per_s"):
                updater = Updater(os.path.join(tmp, "api.sock"), p["updates_per_s"])
                updater.start()
                rig.before_stop = updater.stop_flag.set
        res = rig.generator_result()
        if updater is not None:
            updater.join(timeout=5)
            res["updates_done"] = updater.done
            res["update_errors"] = updater.errors
            res["updates_per_s_achieved"] = round(updater.achieved_per_s(), 1)
            if updater.failure:
                raise RuntimeError("table updates: " + updater.failure)
        return res
    except Exception as e:
        raise RuntimeError("%s (device log: %s)" % (e, rig.log_tail().strip()))
    finally:
        if updater is not None:
            updater.stop_flag.set()
        rig.stop()
        if updater is not None:
            updater.join(timeout=5)


def run(ctx):
    if not common.have("dpdk-testpmd"):
        return common.section_unavailable("dpdk-testpmd not installed (Debian package dpdk)")
    if not os.path.exists(ctx.binary("bench", "fulcrum-pktgen")):
        return common.section_unavailable("fulcrum-pktgen not built (meson without DPDK?)")
    if os.geteuid() != 0:
        return common.section_unavailable("needs root (network namespace for fulcrumd's tap)")
    tmp = ctx.scratch("pipeline_rate")
    timing = {"settle": ctx.pick(1.0, 1.5, 1.5), "warmup": ctx.pick(0.5, 1.0, 1.0),
              "duration": ctx.pick(1.0, 2.0, 3.0)}
    samples_n = ctx.pick(1, 1, 3)
    results = []
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)  # ours, from a killed run
    common.run(["ip", "netns", "add", NETNS], timeout=10, check=True)
    try:
        common.run(["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"], timeout=10)
        baseline = {}  # frame size -> every testpmd sample and its generator result
        for label, p in cases(ctx):
            samples, raw, base, err = [], [], [], None
            for _ in range(samples_n):
                try:
                    ref = measure_once(ctx, tmp, "testpmd", {
                        "size": p["size"], "flows": 1024, "new": False}, timing)
                    baseline.setdefault(p["size"], []).append(ref)
                    res = measure_once(ctx, tmp, "fulcrum", p, timing)
                except RuntimeError as e:
                    err = str(e)
                    break
                raw.append(res)
                base.append(ref["rx_pps"] / 1e6)
                samples.append(res["rx_pps"] / 1e6)
            peer = "fulcrum-" + p["mode"]
            name = "rate_new" if p["new"] else "rate_established"
            params = dict(p, label=label, port="net_memif (copy)", worker_lcores=1, **timing)
            if err:
                results.append(common.unavailable(name, peer, err, params, status="failed"))
                common.log("%s: failed: %s" % (label, err[:300]))
                continue
            ratios = [f / b for f, b in zip(samples, base) if b > 0]
            m = common.measurement(name, peer, "Mpps", samples, params,
                                   extra={"offered_mpps": [r["tx_pps"] / 1e6 for r in raw],
                                          "generator": raw, "testpmd_mpps": base,
                                          "ratios_to_testpmd": ratios})
            results.append(m)
            common.log("%s: %.2f Mpps (offered %.2f), x testpmd io %.2f (testpmd %s)" % (
                label, m["median"], raw[-1]["tx_pps"] / 1e6, statistics.median(ratios),
                "/".join("%.2f" % b for b in base)))
        for size, refs in sorted(baseline.items()):
            results.insert(0, common.measurement(
                "rate_established", "testpmd-io", "Mpps", [r["rx_pps"] / 1e6 for r in refs],
                dict(size=size, flows=1024, new=False, label="testpmd io %dB" % size,
                     port="net_memif (copy)", worker_lcores=1, **timing),
                extra={"offered_mpps": [r["tx_pps"] / 1e6 for r in refs], "generator": refs}))
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)
    notes = ["Two cores: the generator, fulcrumd's control thread and testpmd's or fulcrumd's "
             "main thread share CPU 0; the forwarding lcore has CPU 1 to itself. Whatever takes "
             "CPU 0 (table rebuilds under 1,000 updates/s) slows the generator, not the worker: "
             "the column 'worker polls that moved packets' tells which side set the rate (a busy "
             "poll moves a 32-frame burst and costs about 80 idle polls, so a worker at a few "
             "percent was waiting for input).",
             "Each fulcrumd sample is paired with a testpmd sample of the same frame size taken "
             "just before it, and its ratio is the median of the pairs' ratios: this shared host "
             "changes speed by up to 2x for minutes at a time, which would skew a ratio to a "
             "baseline taken once.",
             "Port: net_memif in copy mode between two processes on one machine; each side "
             "copies every frame, so the port costs both the generator and the device under "
             "test. testpmd io forwards everything the generator offers (compare offered_mpps): "
             "its figure is the generator's ceiling, not testpmd's."]
    return common.section(results, notes)
