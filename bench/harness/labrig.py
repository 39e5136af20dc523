# SPDX-License-Identifier: Apache-2.0
"""What the lab sections (lab_e2e, failover) share: the test suite's labtest module, waiting
for a lab someone else made, and the process state labtest changes (signal handlers, the
fulcrumd that lab.sh starts) given back afterwards."""
import contextlib
import os
import signal
import sys
import time

from . import common


class LogTap:
    """What labtest's Lab needs of a TAP producer: diag(), each line to the harness log."""

    def __init__(self, prefix="lab"):
        self.prefix = prefix

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            common.log("%s: %s" % (self.prefix, line))


def import_labtest(ctx):
    path = os.path.join(ctx.source_root, "tests", "integration")
    if path not in sys.path:
        sys.path.insert(0, path)
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    try:
        import labtest  # noqa: E402
    finally:
        sys.dont_write_bytecode = saved
    labtest.FULCRUMCTL = ctx.binary("fulcrumctl")
    return labtest


def wait_until_free(labtest, wait_s):
    """Waits (bounded) while a lab made by someone else exists; returns the reason to give up,
    or "" once there is none."""
    deadline = time.monotonic() + wait_s
    while labtest.lab_exists():
        if time.monotonic() >= deadline:
            return ("another lab exists (state %s or fl-* namespaces: someone else's test); "
                    "waited %d s, not touching it" % (labtest.STATE_DIR, wait_s))
        time.sleep(2)
    return ""


@contextlib.contextmanager
def lab_process_state(fulcrumd):
    """lab.sh lb-start runs FULCRUM_BIN: this build's fulcrumd while inside. labtest's Lab
    handles SIGINT/SIGTERM/SIGHUP itself and ignores them while tearing down: bench/run gets
    its own handlers back afterwards."""
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM,
                                                      signal.SIGHUP)}
    saved_bin = os.environ.get("FULCRUM_BIN")
    os.environ["FULCRUM_BIN"] = fulcrumd
    try:
        yield
    finally:
        if saved_bin is None:
            os.environ.pop("FULCRUM_BIN", None)
        else:
            os.environ["FULCRUM_BIN"] = saved_bin
        for s, h in saved_signals.items():
            if h is not None:
                signal.signal(s, h)
