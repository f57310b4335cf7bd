# SPDX-License-Identifier: MIT
"""What the crash and I/O-fault walks (test_crash.py, test_io_faults.py)
share: strace, and damaged file stores in upstream's line format (events and
dead letters, with corrupt lines and torn tails where asked)."""

import os
import shutil

STRACE = shutil.which("strace")


def strace_missing():
    """None when strace is there; else the exit status for the walk: 77
    (skipped), or 1 when PAPYRA_TEST_REQUIRE_STRACE says it must run."""
    if STRACE:
        return None
    if os.environ.get("PAPYRA_TEST_REQUIRE_STRACE"):
        print("strace is required (PAPYRA_TEST_REQUIRE_STRACE) but not found")
        return 1
    print("SKIP: strace not found")
    return 77


def record_line(ts, kind="event"):
    """One record as upstream writes it: an event, or a dead letter."""
    if kind == "event":
        return ('{"kind": "event", "system_id": "local", "actor_address": "local://1", '
                '"event_type": "ActorStarted", "payload": {}, "timestamp": %s}\n' % ts)
    return ('{"kind": "dead_letter", "system_id": "local", "target": "local://1", '
            '"message_type": "str", "payload": "late", "timestamp": %s}\n' % ts)


def write_lines(path, first, count, corrupt_after=(), torn=False):
    """Writes @p count records from timestamp @p first (every third a dead
    letter, the others events), a corrupt line after each index in
    @p corrupt_after, and a torn last line when @p torn."""
    with open(path, "w") as f:
        for i in range(count):
            f.write(record_line(float(first + i), "event" if i % 3 else "dead_letter"))
            if i in corrupt_after:
                f.write("{not json\n")
        if torn:
            f.write('{"kind": "event", "timestamp": 99')


def rotating_set(d, files, per_file, corrupt, torn_active=False):
    """A rotating set rot.log.N .. rot.log in @p d; @p corrupt(n, i) says
    whether file n gets a corrupt line after record i."""
    base = os.path.join(d, "rot.log")
    names = [base + ".%d" % k for k in range(files - 1, 0, -1)] + [base]
    for n, name in enumerate(names):
        write_lines(name, n * 10, per_file, [i for i in range(per_file) if corrupt(n, i)],
                    torn=torn_active and n == files - 1)
    return base
