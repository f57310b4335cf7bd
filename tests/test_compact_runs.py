#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compaction copies runs of lines it keeps as they are, and nothing else.

Usage: test_compact_runs.py PAPYRA_BINARY

A json: store holds long runs of lines in upstream's normal form (which a
compaction copies from the old file with copy_file_range(2), or read and
write), broken by every kind of line that must not be copied byte for byte:
a "\\r\\n" or lone "\\r" terminator (the new file has "\\n"), a line in
another form (re-serialised), a corrupt line and a blank one (dropped), a
mistyped record (kept as it is), and records that retention drops. After
`papyra persistence compact`, through the real CLI:

  * the file is exactly what upstream's json.dumps() gives for every kept
    object, one per line, in order (Python computes it here), with and
    without a retention limit, and the report counts exactly;
  * copy_file_range really copied (strace shows it, when strace is there),
    and when it answers EXDEV, EINVAL, ENOSYS or EOPNOTSUPP (strace injects
    it) the same file comes out by read and write;
  * when it fails with EIO or ENOSPC, the compaction fails with exit 1 and a
    message naming the data file, and the old file is there, untouched, with
    no temp file beside it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from strace_walk import STRACE, strace_missing

PAPYRA = os.path.abspath(sys.argv[1])


def event(i, kind="event"):
    rec = {"kind": kind, "system_id": "local",
           "actor_address": {"system": "local", "actor_id": i},
           "event_type": "ActorStarted", "payload": {"n": i, "s": "h\u00e9 \"q\""},
           "timestamp": 1764512345.0 + i * 0.1234567}
    if kind == "dead_letter":
        rec = {"kind": kind, "system_id": "local", "target": "local://%d" % i,
               "message_type": "str", "payload": "late", "timestamp": 1764512345.0 + i}
    return rec


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False)


def build_store(path):
    """The data file (bytes) and its lines as Python's universal newlines read them."""
    parts = []
    i = 0

    def run(n, kind="event"):
        nonlocal i
        for _ in range(n):
            parts.append(dumps(event(i, kind)) + "\n")
            i += 1

    run(1500)                                             # a run longer than 64 KiB
    parts.append(dumps(event(i)) + "\r\n")                # normal form, "\r\n"
    i += 1
    run(3)
    parts.append(dumps(event(i)) + "\r")                  # normal form, a lone "\r"
    i += 1
    parts.append(json.dumps(event(i), separators=(",", ":")) + "\n")  # another form
    i += 1
    parts.append("{not json\n")                            # corrupt: dropped
    parts.append("\n")                                     # blank: dropped
    run(700, "dead_letter")
    parts.append(dumps(dict(event(i), event_type=5)) + "\n")  # mistyped: kept as is
    i += 1
    for k in range(2000):                                  # kinds interleaved
        run(1, "dead_letter" if k % 3 == 0 else "event")
    run(900)
    data = "".join(parts).encode()
    with open(path, "wb") as f:
        f.write(data)
    return data


def expected(data, max_records=None):
    """What compaction must leave: every object as json.dumps() writes it, one a line; records
    (kind and numeric timestamp) of each kind beyond the newest max_records dropped."""
    objs = []
    for line in data.decode().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            objs.append(obj)

    def kind(o):
        ts = o.get("timestamp")
        ok = isinstance(ts, (int, float)) and not isinstance(ts, bool)
        return o.get("kind") if ok and o.get("kind") in ("event", "audit", "dead_letter") else None

    drop = {}
    if max_records is not None:
        for k in ("event", "audit", "dead_letter"):
            drop[k] = max(0, sum(1 for o in objs if kind(o) == k) - max_records)
    out, before, after = [], 0, 0
    for o in objs:
        before += 1
        k = kind(o)
        if k and drop.get(k, 0) > 0:
            drop[k] -= 1
            continue
        after += 1
        out.append(dumps(o) + "\n")
    return "".join(out).encode(), before, after


def papyra(url, *args, strace=None):
    cmd = [PAPYRA, "--persistence", url, *args]
    env = None
    if strace:
        cmd = [STRACE, "-f", "-qq", *strace, *cmd]
        # LeakSanitizer refuses to run under ptrace.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def report(out):
    return {k: int(v) for k, v in re.findall(r"(\w+): (-?\d+)", out)}


def main():
    failures = []
    missing = strace_missing()
    with tempfile.TemporaryDirectory() as d:
        for limit in (None, 400):
            for inject in (None, "EXDEV", "EINVAL", "ENOSYS", "EOPNOTSUPP"):
                if inject and missing is not None:
                    continue
                name = "max_records=%s copy_file_range=%s" % (limit, inject or "as it is")
                seen = len(failures)
                path = os.path.join(d, "data.jsonl")
                for f in os.listdir(d):
                    os.unlink(os.path.join(d, f))
                data = build_store(path)
                want, before, after = expected(data, limit)
                url = "json:" + path + ("?max_records=%d" % limit if limit else "")
                log = os.path.join(d, "strace.log")
                strace = None
                if missing is None:
                    strace = ["-o", log, "-e", "trace=copy_file_range,pwrite64,write"]
                    if inject:
                        strace += ["-e", "inject=copy_file_range:error=" + inject]
                r = papyra(url, "persistence", "compact", strace=strace)
                if r.returncode != 0:
                    failures.append("%s: exit %d: %s" % (name, r.returncode, r.stderr))
                    continue
                with open(path, "rb") as f:
                    got = f.read()
                if got != want:
                    at = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
                              min(len(got), len(want)))
                    failures.append("%s: the file differs from json.dumps() of the kept objects "
                                    "at byte %d: %r / %r" % (name, at, got[at - 40:at + 40],
                                                             want[at - 40:at + 40]))
                rep = report(r.stdout)
                wrep = {"before_records": before, "after_records": after,
                        "removed_records": before - after, "before_bytes": len(data),
                        "after_bytes": len(want), "reclaimed_bytes": len(data) - len(want)}
                for k, v in wrep.items():
                    if rep.get(k) != v:
                        failures.append("%s: report %s is %s, expected %d" % (name, k, rep.get(k),
                                                                               v))
                if strace:
                    with open(log) as f:
                        calls = [ln for ln in f if "copy_file_range(" in ln]
                    if inject and not any(inject in ln for ln in calls):
                        failures.append("%s: copy_file_range was never called" % name)
                    if not inject and not any(re.search(r"\) = [1-9]", ln) for ln in calls):
                        failures.append("%s: copy_file_range copied nothing: the runs went "
                                        "through the buffer" % name)
                leftovers = sorted(f for f in os.listdir(d) if ".tmp." in f)
                if leftovers:
                    failures.append("%s: temp files left: %s" % (name, leftovers))
                print("%s %s" % ("ok  " if len(failures) == seen else "FAIL", name))

        # A copy that fails is the compaction's failure, and the old file stays.
        if missing is None:
            for err in ("EIO", "ENOSPC"):
                for when in (1, 2):
                    name = "copy_file_range fails with %s (call %d)" % (err, when)
                    seen = len(failures)
                    for f in os.listdir(d):
                        os.unlink(os.path.join(d, f))
                    path = os.path.join(d, "data.jsonl")
                    data = build_store(path)
                    r = papyra("json:" + path, "persistence", "compact",
                               strace=["-o", "/dev/null", "-e",
                                       "inject=copy_file_range:error=%s:when=%d" % (err, when)])
                    with open(path, "rb") as f:
                        kept = f.read() == data
                    leftovers = sorted(f for f in os.listdir(d) if ".tmp." in f)
                    if r.returncode != 1 or path not in r.stderr or not kept or leftovers:
                        failures.append("%s: exit %d, stderr %r, old file kept %s, temp files %s"
                                        % (name, r.returncode, r.stderr.strip(), kept,
                                           leftovers))
                    print("%s %s" % ("ok  " if len(failures) == seen else "FAIL", name))
    for f in failures:
        print("FAIL " + f)
    if missing is not None and missing != 77:
        return missing
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
