# SPDX-License-Identifier: Apache-2.0
"""A real systemd for a lab test to run a unit under: the host's own when the host was booted
with systemd, otherwise a private one that the test boots for itself.

The private systemd is PID 1 of a new PID and mount namespace (`unshare --pid --fork --mount
--kill-child`). In that mount namespace /run is a fresh tmpfs, so that systemd sees no host
state and leaves none there, with the host's /run/netns bound back in so that
NetworkNamespacePath= finds the lab's namespaces. It starts only the test's empty target, and
the test's units from its tmpfs /run/systemd/system. /tmp, the build and the lab are shared
with the host. On close every unit is stopped, the private systemd is killed by its PID (which
ends its namespace), and the cgroups it made in the host's hierarchies are removed.

    sd = Systemd(tmpdir)
    reason = sd.start({"fulcrum-lab-lb0.service": unit_text})   # None: systemd is ready
    sd.systemctl("start", "fulcrum-lab-lb0.service")
    sd.main_pid("fulcrum-lab-lb0.service")     # the unit's main process, as a host PID
    sd.close()
"""

import os
import signal
import subprocess
import time

import labtest

SYSTEMD = "/lib/systemd/systemd"
TARGET = "fulcrum-test.target"
CGROUP_ROOT = "/sys/fs/cgroup"

BOOT_SCRIPT = """set -e
mount --make-rprivate /
mkdir -p "$1/host-run"
mount --rbind /run "$1/host-run"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/netns /run/systemd/system
mount --rbind "$1/host-run/netns" /run/netns
mount -t proc proc /proc
cp "$1"/units/* /run/systemd/system/
exec %s --system --unit=%s --show-status=no
""" % (SYSTEMD, TARGET)

TARGET_UNIT = """[Unit]
Description=Fulcrum lab test (only what the test starts)
DefaultDependencies=no
"""


def host_runs_systemd():
    """sd_booted(): the host's PID 1 is systemd."""
    return os.path.isdir("/run/systemd/system")


def cgroup_dirs():
    """Every cgroup directory of the host's hierarchies, at most three levels down."""
    found = set()
    for top, dirs, _files in os.walk(CGROUP_ROOT):
        depth = top[len(CGROUP_ROOT):].count("/")
        if depth >= 4:
            dirs[:] = []
        found.add(top)
    return found


class Systemd:
    def __init__(self, tmpdir):
        self.dir = os.path.join(tmpdir, "systemd")
        self.mode = None  # "host" or "private" once started
        self.proc = None  # unshare, for a private systemd
        self.pid = None  # the private systemd's PID on the host
        self.units = []
        self.cgroups_before = set()
        self.host_unit_dir = "/run/systemd/system"

    # -- start and stop
    def start(self, units):
        """Installs units ({name: text}) and makes systemd ready to run them. None on success,
        else why no systemd could be had."""
        self.units = list(units)
        if host_runs_systemd():
            self.mode = "host"
            for name, text in units.items():
                with open(os.path.join(self.host_unit_dir, name), "w") as f:
                    f.write(text)
            r = labtest.run(["systemctl", "daemon-reload"], timeout=60)
            return None if r.returncode == 0 else "systemctl daemon-reload: " + r.stderr.strip()
        for tool in (SYSTEMD, "/usr/bin/unshare", "/usr/bin/nsenter"):
            if not os.access(tool, os.X_OK):
                return "no systemd on this host and no %s to boot one" % tool
        if not os.access(os.path.join(CGROUP_ROOT, "systemd"), os.W_OK):
            return "no systemd on this host and %s/systemd is not writable" % CGROUP_ROOT
        os.makedirs(os.path.join(self.dir, "units"))
        for name, text in dict(units, **{TARGET: TARGET_UNIT}).items():
            with open(os.path.join(self.dir, "units", name), "w") as f:
                f.write(text)
        boot = os.path.join(self.dir, "boot.sh")
        with open(boot, "w") as f:
            f.write(BOOT_SCRIPT)
        self.cgroups_before = cgroup_dirs()
        self.mode = "private"
        log = open(os.path.join(self.dir, "systemd.log"), "w")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--kill-child", "sh", boot, self.dir],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if labtest.wait_for(self._private_pid_found, 10.0) is None:
            return "the private systemd did not start: " + self.log_tail()
        ready = labtest.wait_for(
            lambda: self.systemctl("is-system-running", timeout=5).stdout.strip() in (
                "running", "degraded"), 30.0, step=0.1)
        if ready is None:
            return "the private systemd did not come up: " + self.log_tail()
        return None

    def _private_pid_found(self):
        # unshare --fork's child: boot.sh, which execs systemd as PID 1 of the new namespace.
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                children = f.read().split()
        except OSError:
            return False
        if not children:
            return False
        pid = int(children[0])
        try:
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            return False
        if not exe.endswith("/systemd"):
            return False
        self.pid = pid
        return True

    def close(self):
        """Stops the units; removes what start() made. Safe to call more than once."""
        if self.mode is None:
            return
        if self.mode == "host" or self.pid is not None:
            for name in self.units:
                self.systemctl("stop", name, timeout=30)
        if self.mode == "host":
            for name in self.units:
                try:
                    os.unlink(os.path.join(self.host_unit_dir, name))
                except OSError:
                    pass
            labtest.run(["systemctl", "daemon-reload"], timeout=60)
        else:
            if self.pid is not None and labtest.proc_alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)  # ends its PID namespace, and all in it
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self._remove_cgroups()
        self.mode = None

    def _remove_cgroups(self):
        # The private systemd made init.scope, system.slice and a cgroup per unit in the host's
        # hierarchies; once its processes are gone they are empty. Deepest first.
        made = sorted(cgroup_dirs() - self.cgroups_before, key=lambda d: -d.count("/"))
        for _try in range(50):
            left = []
            for d in made:
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(d)
            if not left:
                return
            made = left
            time.sleep(0.1)  # processes still being reaped

    # -- use
    def command(self, argv):
        """argv run where systemd's units live (inside the private namespaces, if any)."""
        if self.mode == "private":
            return ["nsenter", "-t", str(self.pid), "-p", "-m"] + list(argv)
        return list(argv)

    def systemctl(self, *args, timeout=30):
        return labtest.run(self.command(["systemctl", "--no-pager"] + list(args)), timeout=timeout)

    def prop(self, unit, name):
        r = self.systemctl("show", "-P", name, unit)
        return r.stdout.strip() if r.returncode == 0 else None

    def main_pid(self, unit):
        """The unit's main process as a host PID, or None while it has none."""
        value = self.prop(unit, "MainPID")
        if not value or value == "0":
            return None
        return self.host_pid(int(value))

    def host_pid(self, pid):
        """The host's PID of process `pid` as systemd sees it."""
        if self.mode != "private":
            return pid
        ns = os.readlink("/proc/%d/ns/pid" % self.pid)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/ns/pid" % entry) != ns:
                    continue
                with open("/proc/%s/status" % entry) as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            if int(line.split()[-1]) == pid:
                                return int(entry)
                            break
            except (OSError, ValueError):
                continue
        return None

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "systemd.log")) as f:
                return f.read()[-800:]
        except OSError:
            return ""
