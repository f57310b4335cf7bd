#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kill -9 at every step of a compaction and a recovery loses nothing.

Usage: test_crash.py PAPYRA_BINARY

For the JSON-lines and the rotating backends, and for `persistence compact`
and `persistence recover --mode repair`, the real CLI is run under strace with
a SIGKILL injected at its Nth file-changing system call, for N = 1, 2, ...
until a run completes untouched. After every crash the store must hold,
byte for byte, either the old data or the new data (after the next operation
settles any half-made rewrite), and a second, uninterrupted run must reach
exactly the state an uninterrupted first run reaches.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

from strace_walk import STRACE, rotating_set, strace_missing, write_lines

PAPYRA = sys.argv[1]
# Every system call that changes files or their names, plus open (which creates).
STEPS = ("openat,creat,write,pwrite64,writev,fsync,fdatasync,rename,renameat,renameat2,"
         "link,linkat,unlink,unlinkat,ftruncate,mkdir,mkdirat,rmdir,flock,copy_file_range,"
         "sync_file_range")
MAX_STEPS = 600


def json_fixture(d):
    write_lines(os.path.join(d, "data.jsonl"), 0, 40, [i for i in range(40) if i % 9 == 4],
                torn=True)


def json_runs_fixture(d):
    """Runs of lines long enough that compaction copies them with copy_file_range and sends
    the new file to disk piece by piece (sync_file_range) as it goes."""
    write_lines(os.path.join(d, "data.jsonl"), 0, 12000, [7000], torn=True)


def rotating_fixture(d):
    rotating_set(d, 4, 8, lambda n, i: i == 5 and n % 2)


BACKENDS = {
    "json": (json_fixture, "json:{d}/data.jsonl?max_records=5"),
    "json-runs": (json_runs_fixture, "json:{d}/data.jsonl?max_records=7000"),
    "rotating": (rotating_fixture, "rotating:{d}/rot.log?max_bytes=600&max_files=6&max_records=5"),
}
OPERATIONS = {
    "compact": ["persistence", "compact"],
    "recover": ["persistence", "recover", "--mode", "repair"],
    "quarantine": ["persistence", "recover", "--mode", "quarantine", "--quarantine-dir", "{q}"],
}


def data_state(d):
    """The store's data: every data file's bytes, by name (metrics and hidden files aside)."""
    state = {}
    for path in sorted(glob.glob(os.path.join(d, "*"))):
        name = os.path.basename(path)
        if name.endswith(".metrics") or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            state[name] = f.read()
    return state


def papyra(url, args, inject=None, qdir=None):
    args = [a.format(q=qdir) if qdir else a for a in args]
    cmd = [PAPYRA, "--persistence", url, *args]
    if inject is not None:
        cmd = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + STEPS,
               "-e", "inject=%s:signal=SIGKILL:when=%d" % (STEPS, inject), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True)


def settle(url):
    """A read-only operation that finishes or discards a half-made rewrite."""
    return papyra(url, ["inspect", "events", "--limit", "1000"])


def run_case(backend, operation):
    fixture, url_pattern = BACKENDS[backend]
    args = OPERATIONS[operation]
    failures = []
    with tempfile.TemporaryDirectory() as root:
        ref = os.path.join(root, "ref")
        os.mkdir(ref)
        fixture(ref)
        url = url_pattern.format(d=ref)
        settle(url)
        old = data_state(ref)
        qref = os.path.join(root, "q-ref")
        first = papyra(url, args, qdir=qref)
        if first.returncode not in (0, 2):
            return [f"{backend} {operation}: reference run failed: {first.stderr}"]
        new = data_state(ref)
        if new == old:
            return [f"{backend} {operation}: the fixture does not change, the test proves nothing"]
        settle(url)
        after_second = papyra(url, args, qdir=qref)
        final = data_state(ref)

        steps = 0
        outcomes = {"old": 0, "new": 0}
        for n in range(1, MAX_STEPS + 1):
            d = os.path.join(root, "crash-%d" % n)
            os.mkdir(d)
            fixture(d)
            url = url_pattern.format(d=d)
            settle(url)
            qdir = os.path.join(root, "q-%d" % n)
            crashed = papyra(url, args, inject=n, qdir=qdir)
            killed = crashed.returncode in (-9, 137)
            settle(url)
            state = data_state(d)
            if killed and state in (old, new):
                outcomes["old" if state == old else "new"] += 1
            if state != old and state != new:
                failures.append(f"{backend} {operation}: killed at step {n}: the data is "
                                f"neither the old nor the new state: {sorted(state)}")
            again = papyra(url, args, qdir=qdir)
            if again.returncode != after_second.returncode or data_state(d) != final:
                failures.append(f"{backend} {operation}: after a kill at step {n}, the next run "
                                f"did not reach the uninterrupted result: {again.stderr}")
            shutil.rmtree(d)
            shutil.rmtree(qdir, ignore_errors=True)
            if not killed:
                steps = n - 1
                break
        else:
            failures.append(f"{backend} {operation}: still being killed after {MAX_STEPS} steps")
        print(f"{'ok  ' if not failures else 'FAIL'} {backend} {operation}: killed at each of "
              f"{steps} steps; {outcomes['old']} left the old data, {outcomes['new']} the new")
        if outcomes["new"] == 0 or outcomes["old"] == 0:
            failures.append(f"{backend} {operation}: the kills never fell inside the rewrite")
    return failures


def main():
    missing = strace_missing()
    if missing is not None:
        return missing
    failures = []
    cases = 0
    for backend in BACKENDS:
        for operation in OPERATIONS:
            cases += 1
            failures += run_case(backend, operation)
    for f in failures:
        print("FAIL " + f)
    failed_cases = len({f.split(":")[0] for f in failures})
    print(f"{cases - failed_cases} passed, {failed_cases} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
