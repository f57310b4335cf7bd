#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Wall time of the papyra CLI, against the cost of starting any process.

Usage: bench-cli.py PAPYRA_BINARY [--quick] [--compare OTHER_PAPYRA_BINARY]

Measures, in one run, the median wall time of:
  - /bin/true (the baseline: fork + exec + exit of a trivial program);
  - papyra metrics persistence (table) and --json on a store with counters;
and, on a large JSON-lines file (1 GiB; 20 MiB with --quick) that holds lines
as upstream's json.dumps() writes them, with time.time()-like stamps of 16
and 17 digits, the best of three wall times of:
  - cat FILE > /dev/null and a read(2) loop of 64 KiB (dd), the baselines;
  - papyra persistence scan, without and with the default metrics file;
  - papyra persistence compact with nothing to drop (it rewrites the file:
    runs copied, the temp file fsynced and renamed over it);
as MB/s and as ratios to cat, and the peak RSS of each (/usr/bin/time).
--compare runs the scan and compact rows with another build too (the one
before a change, say), in the same run. Prints a table and a JSON line.
The big file is made in the directory of $TMPDIR (default /tmp).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PAPYRA = sys.argv[1]
QUICK = "--quick" in sys.argv
COMPARE = sys.argv[sys.argv.index("--compare") + 1] if "--compare" in sys.argv else None
RUNS = 20 if QUICK else 200
SCAN_MB = 20 if QUICK else 1024
BEST_OF = 3

LINE = ('{"kind": "event", "system_id": "local", "actor_address": {"system": "local", '
        '"actor_id": %d}, "event_type": "ActorStarted", "payload": {}, "timestamp": %d.5}\n')


def median_seconds(cmd, runs, env=None):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                       check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def best_seconds(cmd, runs=BEST_OF):
    """The best of @p runs wall times: the machine is shared, noise only adds. Each run starts
    with no dirty pages (sync first, untimed), so that a compaction does not wait for the
    write-back of the file written, or compacted, before it."""
    best = None
    for _ in range(runs):
        os.sync()
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False)
        t = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit("bench-cli: %s failed (exit %d)" % (" ".join(cmd), r.returncode))
        best = t if best is None else min(best, t)
    return best


def peak_rss_kib(cmd):
    """The peak RSS of cmd, started by /usr/bin/time (a child of this large process would
    inherit its high-water mark through fork): KiB, or None without /usr/bin/time."""
    if not os.access("/usr/bin/time", os.X_OK):
        return None
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=False)
    return int(r.stderr.strip().splitlines()[-1])


def upstream_lines(count):
    """Event lines as upstream writes them: json.dumps() of a dict, repr() of a float stamp."""
    stamp = 1764512345.0
    out = []
    for i in range(count):
        stamp += 0.1234567 + (i % 7) * 1e-7
        out.append(json.dumps({"kind": "event", "system_id": "local",
                               "actor_address": {"system": "local", "actor_id": i},
                               "event_type": "ActorStarted", "payload": {"n": i},
                               "timestamp": stamp}) + "\n")
    return "".join(out)


def main():
    rows = []
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "events.jsonl")
        url = "json:" + data
        # A store with counters: one small write through the CLI's own library.
        with open(data, "w") as f:
            for i in range(100):
                f.write(LINE % (i, i))
        subprocess.run([PAPYRA, "--persistence", url, "persistence", "scan"],
                       stdout=subprocess.DEVNULL, check=True)

        true_s = median_seconds(["/bin/true"], RUNS)
        rows.append(("start /bin/true (baseline)", true_s * 1e3, "ms", 1.0))
        for name, args in (("metrics persistence", []), ("metrics persistence --json",
                                                         ["--json"])):
            s = median_seconds([PAPYRA, "--persistence", url, "metrics", "persistence", *args],
                               RUNS)
            rows.append((name, s * 1e3, "ms", s / true_s))

        big = os.path.join(d, "big.jsonl")
        chunk = upstream_lines(10000).encode()
        with open(big, "wb") as f:
            while f.tell() < SCAN_MB * 1024 * 1024:
                f.write(chunk)
        size_mb = os.path.getsize(big) / 1e6
        cat = ["cat", big]
        read_loop = ["dd", "if=" + big, "of=/dev/null", "bs=65536"]
        cat_s = best_seconds(cat)
        rows.append(("read the file (cat, baseline)", size_mb / cat_s, "MB/s", 1.0))
        read_s = best_seconds(read_loop)
        rows.append(("read(2) loop, 64 KiB (dd)", size_mb / read_s, "MB/s", cat_s / read_s))
        rss = [("cat (baseline)", cat), ("read(2) loop", read_loop)]
        for tag, binary in (("", PAPYRA), (" [compare]", COMPARE)):
            if binary is None:
                continue
            scan = [binary, "--persistence", "json:" + big + "?metrics=none", "persistence",
                    "scan"]
            # As a user runs them: the default shared metrics file beside the data file.
            user_scan = [binary, "--persistence", "json:" + big, "persistence", "scan"]
            compact = [binary, "--persistence", "json:" + big, "persistence", "compact"]
            for name, cmd in (("persistence scan (metrics=none)", scan),
                              ("persistence scan", user_scan),
                              ("persistence compact, nothing dropped", compact)):
                t = best_seconds(cmd)
                rows.append((name + tag, size_mb / t, "MB/s", cat_s / t))
            rss += [("persistence scan" + tag, user_scan),
                    ("persistence compact" + tag, compact)]
        base_rss = None
        for name, cmd in rss:
            kib = peak_rss_kib(cmd)
            if kib is None:
                break
            base_rss = base_rss or kib
            rows.append(("peak RSS " + name, kib, "KiB", kib / base_rss))

    print("%-50s %12s %6s %8s" % ("measure", "value", "unit", "ratio"))
    for name, value, unit, ratio in rows:
        print("%-50s %12.2f %6s %8.3f" % (name, value, unit, ratio))
    print(json.dumps({"runs": RUNS, "scan_mb": SCAN_MB, "results": [
        {"name": n, "value": round(v, 3), "unit": u, "ratio": round(r, 3)}
        for n, v, u, r in rows]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
