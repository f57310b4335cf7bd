#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scrape latency of `papyra metrics serve` for 1 and 100 stores.

Usage: bench-serve.py PAPYRA CLI_WRITER BENCH_SERVE [--quick]

Makes the metrics files (cli-writer counters, as applications would), starts
`papyra metrics serve --listen 127.0.0.1:0` on one store (--store) and on a
directory of 100 (--metrics-dir), and runs bench-serve (bench/bench-serve.c)
against each: the baseline is libmicrohttpd serving the same bytes from
memory with the same setup, in the same run. Prints a table and a JSON line.
Run it against a release build.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PAPYRA, WRITER, BENCH = sys.argv[1:4]
QUICK = "--quick" in sys.argv
REQUESTS, ROUNDS = ("300", "3") if QUICK else ("3000", "7")


def metrics_file(path, backend, n):
    subprocess.run([WRITER, "counters", path, backend, "records_written=%d" % n,
                    "write_errors=%d" % (n % 3), "records_read=%d" % (7 * n)], check=True)


def bench(args):
    p = subprocess.Popen([PAPYRA, "metrics", "serve", "--listen", "127.0.0.1:0"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", p.stdout.readline()).group(1)
        out = subprocess.run([BENCH, port, REQUESTS, ROUNDS], check=True, capture_output=True,
                             text=True, timeout=900).stdout
        return json.loads(out)
    finally:
        p.terminate()
        p.wait(timeout=20)


def main():
    tmp = tempfile.mkdtemp(prefix="papyra-bench-serve-")
    try:
        one = os.path.join(tmp, "one.jsonl.metrics")
        metrics_file(one, "json", 12345)
        many = os.path.join(tmp, "many")
        os.mkdir(many)
        backends = ["json", "rotating", "memory", "redis"]
        for i in range(100):
            metrics_file(os.path.join(many, "store%03d.metrics" % i), backends[i % 4], 1000 + i)
        rows = {
            "1 store": bench(["--store", "one=json:" + one[:-len(".metrics")]]),
            "100 stores": bench(["--metrics-dir", many]),
        }
    finally:
        shutil.rmtree(tmp)
    print("%-12s %10s %12s %12s %8s" % ("scrape", "bytes", "serve us", "static us", "ratio"))
    for name, r in rows.items():
        print("%-12s %10d %12.1f %12.1f %8.2f" % (name, r["bytes"], r["serve_us"], r["static_us"],
                                                 r["ratio"]))
    print(json.dumps(rows))


main()
