#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The main job, end to end: the example program writes to the embedded
default store twice, the CLI (another process) shows exactly the counts both
runs made, a reset makes them zero, and the application's next run counts
from there.

Usage: test_demo.py QUICKSTART PAPYRA
"""

import json
import os
import subprocess
import sys
import tempfile

QUICKSTART, PAPYRA = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
# The embedded default store, whatever the caller's environment says.
ENV = {k: v for k, v in os.environ.items() if k != "PAPYRA_PERSISTENCE"}
# What one quickstart run does to the seed's ten counters: a batch of 20
# events plus 3 dead letters and an audit, a list of the last 5 events, one
# scan, one compaction. Counters added to the spec after them must be there
# too; what they read is their own tests' business.
ONE_RUN = {
    "records_written": 24, "write_errors": 0, "records_read": 5, "read_errors": 0,
    "scan_operations": 1, "anomaly_detected": 0, "recovery_attempts": 0,
    "recovery_failures": 0, "compactions_triggered": 1, "compaction_errors": 0,
}
checks = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    checks.append(cond)


def metrics(cwd):
    p = subprocess.run([PAPYRA, "metrics", "persistence", "--json"], cwd=cwd,
                       capture_output=True, text=True, env=ENV)
    check(p.returncode == 0, "metrics persistence exits 0: " + p.stderr.strip())
    return json.loads(p.stdout) if p.returncode == 0 else {}


def run_app(cwd):
    p = subprocess.run([QUICKSTART], cwd=cwd, capture_output=True, text=True,
                       env=ENV)
    check(p.returncode == 0 and p.stderr == "", "quickstart runs cleanly: " + p.stderr.strip())


def main():
    with tempfile.TemporaryDirectory() as cwd:
        run_app(cwd)
        run_app(cwd)
        two = metrics(cwd)
        check(set(ONE_RUN) <= set(two), f"every seed counter is shown: {sorted(two)}")
        check({k: two.get(k) for k in ONE_RUN} == {k: 2 * v for k, v in ONE_RUN.items()},
              f"two runs are counted exactly: {two}")
        p = subprocess.run([PAPYRA, "metrics", "reset", "--json"], cwd=cwd,
                           capture_output=True, text=True, env=ENV)
        cleared = json.loads(p.stdout) if p.returncode == 0 else {}
        check(p.returncode == 0, "metrics reset exits 0")
        check(cleared.get("cleared") == two, f"reset reports what it cleared: {cleared}")
        check(metrics(cwd) == {k: 0 for k in two}, "after the reset every counter is 0")
        run_app(cwd)
        one = metrics(cwd)
        check({k: one.get(k) for k in ONE_RUN} == ONE_RUN, "the next run counts from zero")
    failed = checks.count(False)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
