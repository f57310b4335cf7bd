#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One system call per record: a single-record write on json: and rotating:
costs one write(2) and nothing else in the steady state (issue #13, item 1).

Usage: test_syscalls.py CLI_WRITER_BINARY

cli-writer (the stand-in application) writes N and then 2N events, one
write call each, into a new store with the default shared metrics file,
under `strace -f -c`. What opening, attaching and closing cost is the same
in both runs, so the difference of the two counts is what N more records
cost: it must be exactly N `write` calls and no other call. The same for a
rotating store that rotates a few times: exactly N `write` calls, and
every other call the difference holds must be paid for by a rotation (a
bounded number per rotation, the rotations counted by their `rename`s).
Counts, not timings: nothing here depends on the machine's speed.
Exits 77 without strace unless PAPYRA_TEST_REQUIRE_STRACE=1.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from strace_walk import STRACE, strace_missing

WRITER = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
N = 2000
TIMEOUT = 300
# What one rotation may cost, at most, in calls other than write: locking,
# looking at the set, renaming max_files - 1 files, opening the new file
# (about 15 with max_files=3).
PER_ROTATION = 40


def counts(url):
    """System calls of `cli-writer store URL n`, by name, from strace -c."""
    fd, out = tempfile.mkstemp(prefix="papyra-strace-")
    os.close(fd)
    try:
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        p = subprocess.run([STRACE, "-f", "-c", "-o", out, WRITER, "store", url[0], str(url[1])],
                           capture_output=True, text=True, timeout=TIMEOUT, env=env)
        if p.returncode != 0:
            raise AssertionError("cli-writer failed: %s" % p.stderr)
        with open(out) as f:
            lines = f.read().splitlines()
    finally:
        os.unlink(out)
    calls = {}
    for line in lines:
        parts = line.split()
        # "% time  seconds  usecs/call  calls  [errors]  syscall"
        if len(parts) < 5 or parts[-1] == "total" or not parts[3].isdigit():
            continue
        calls[parts[-1]] = calls.get(parts[-1], 0) + int(parts[3])
    return calls


class OneCallPerRecord(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="papyra-syscalls-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def runs(self, url_of):
        """Counts of N and of 2N records, each in a new store; their difference."""
        small = counts((url_of(os.path.join(self.dir, "n")), N))
        big = counts((url_of(os.path.join(self.dir, "2n")), 2 * N))
        diff = {k: big.get(k, 0) - small.get(k, 0) for k in set(small) | set(big)}
        return {k: v for k, v in diff.items() if v != 0}

    def assertOneWriteEach(self, diff):
        self.assertEqual(diff.get("write", 0), N,
                         "%d more records cost %s" % (N, sorted(diff.items())))
        others = {k: v for k, v in diff.items() if k != "write"}
        return others

    def test_json(self):
        diff = self.runs(lambda d: "json:%s/events.jsonl" % d)
        others = self.assertOneWriteEach(diff)
        self.assertEqual(others, {}, "%d more records cost more than %d writes: %s"
                         % (N, N, sorted(diff.items())))

    def test_rotating_without_rotation(self):
        diff = self.runs(lambda d: "rotating:%s/rot.log?max_bytes=1000000000" % d)
        others = self.assertOneWriteEach(diff)
        self.assertEqual(others, {}, "%d more records cost more than %d writes: %s"
                         % (N, N, sorted(diff.items())))

    def test_rotating_that_rotates(self):
        # About 140 bytes a record: a rotation every 700 records or so.
        diff = self.runs(lambda d: "rotating:%s/rot.log?max_bytes=100000&max_files=3" % d)
        others = self.assertOneWriteEach(diff)
        # max_files=3: a rotation renames the active file and .1 (.2 is deleted).
        rotations = diff.get("rename", 0) // 2
        self.assertGreater(rotations, 0, "no rotation: %s" % sorted(diff.items()))
        extra = sum(v for v in others.values())
        self.assertLessEqual(extra, PER_ROTATION * rotations,
                             "%d more records cost %s beside their writes, with %d more renames"
                             % (N, sorted(others.items()), rotations))


if __name__ == "__main__":
    missing = strace_missing()
    if missing is not None:
        sys.exit(missing)
    if not WRITER:
        print(__doc__)
        sys.exit(64)
    unittest.main(argv=sys.argv[:1], verbosity=2)
