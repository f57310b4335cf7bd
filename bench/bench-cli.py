#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Wall time of the papyra CLI, against the cost of starting any process.

Usage: bench-cli.py PAPYRA_BINARY [--quick]

Measures, in one run, the median wall time of:
  - /bin/true (the baseline: fork + exec + exit of a trivial program);
  - papyra metrics persistence (table) and --json on a store with counters;
  - papyra persistence scan of a large JSON-lines file, as MB/s, against a
    plain read of the same file (cat > /dev/null) measured right before it,
    and the scan's peak RSS. The file holds lines as upstream's json.dumps()
    writes them, with time.time()-like stamps of 16 and 17 digits.
Prints a table and a JSON line.
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
RUNS = 20 if QUICK else 200
SCAN_MB = 20 if QUICK else 512

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
        cat_s = median_seconds(["cat", big], 3)
        scan_s = median_seconds([PAPYRA, "--persistence", "json:" + big + "?metrics=none",
                                 "persistence", "scan"], 3)
        rows.append(("read the file (cat, baseline)", size_mb / cat_s, "MB/s", 1.0))
        rows.append(("persistence scan", size_mb / scan_s, "MB/s", (size_mb / scan_s) /
                     (size_mb / cat_s)))
        # As a user runs it: the default shared metrics file beside the data file.
        user_scan = [PAPYRA, "--persistence", "json:" + big, "persistence", "scan"]
        user_s = median_seconds(user_scan, 3)
        rows.append(("persistence scan (default metrics)", size_mb / user_s, "MB/s",
                     (size_mb / user_s) / (size_mb / cat_s)))
        cat_rss, scan_rss = peak_rss_kib(["cat", big]), peak_rss_kib(user_scan)
        if cat_rss and scan_rss:
            rows.append(("peak RSS cat (baseline)", cat_rss, "KiB", 1.0))
            rows.append(("peak RSS persistence scan", scan_rss, "KiB", scan_rss / cat_rss))

    print("%-36s %12s %6s %8s" % ("measure", "value", "unit", "ratio"))
    for name, value, unit, ratio in rows:
        print("%-36s %12.2f %6s %8.2f" % (name, value, unit, ratio))
    print(json.dumps({"runs": RUNS, "scan_mb": SCAN_MB, "results": [
        {"name": n, "value": round(v, 3), "unit": u, "ratio": round(r, 3)}
        for n, v, u, r in rows]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
