#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The generator rejects every class of bad spec with a message naming the key.

Usage: test_codegen.py SRCROOT
Each case edits a copy of spec/metrics.yaml, runs gen.py --check on it and
expects exit status 1 and a message naming the file and the offending key.
"""

import os
import subprocess
import sys
import tempfile

import yaml

SRC = sys.argv[1]
GEN = os.path.join(SRC, "codegen", "gen.py")
SPEC = os.path.join(SRC, "spec", "metrics.yaml")


def load():
    with open(SPEC, encoding="utf-8") as f:
        return yaml.safe_load(f)


def run_gen(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        p = subprocess.run(
            [sys.executable, GEN, "--spec", path, os.path.join(tmp, "metrics-gen.h")],
            capture_output=True,
            text=True,
        )
        produced = os.path.exists(os.path.join(tmp, "metrics-gen.h"))
        return p.returncode, p.stderr, path, produced


def mutate(fn):
    spec = load()
    fn(spec)
    return yaml.safe_dump(spec, sort_keys=False)


def c(i):
    return lambda s: s["counters"][i]


CASES = [
    ("unknown counter key", mutate(lambda s: c(0)(s).update(colour="red")), "colour"),
    ("unknown top-level key", mutate(lambda s: s.update(extra=1)), "extra"),
    ("duplicate counter name", mutate(lambda s: c(1)(s).update(name="records_written")),
     "duplicate counter 'records_written'"),
    ("badly formed name", mutate(lambda s: c(2)(s).update(name="Records-Read")), "counters[2]"),
    ("name too long", mutate(lambda s: c(2)(s).update(name="x" * 60)), "counters[2]"),
    ("unknown backend in matrix",
     mutate(lambda s: c(3)(s)["backends"].update(sqlite="supported")), "backends.sqlite"),
    ("backend missing from matrix", mutate(lambda s: c(3)(s)["backends"].pop("redis")),
     "backends.redis"),
    ("bad support value", mutate(lambda s: c(3)(s)["backends"].update(json="yes")),
     "backends.json"),
    ("missing help text", mutate(lambda s: c(4)(s).pop("help")), "help: missing"),
    ("empty increments text", mutate(lambda s: c(4)(s).update(increments="  ")), "increments"),
    ("wrong type for alert", mutate(lambda s: c(5)(s).update(alert="yes")), "alert"),
    ("wrong type for help", mutate(lambda s: c(5)(s).update(help=["a"])), "help"),
    ("unknown category", mutate(lambda s: c(6)(s).update(category="misc")), "category"),
    ("unknown operation", mutate(lambda s: c(6)(s).update(operations=["fly"])), "operations"),
    ("duplicate backend id", mutate(lambda s: s["backends"].append(dict(s["backends"][0]))),
     "duplicate backend 'memory'"),
    ("bad format version", mutate(lambda s: s.update(format_version="one")), "format_version"),
    ("counters not a list", mutate(lambda s: s.update(counters={})), "counters"),
    ("duplicate YAML key", open(SPEC, encoding="utf-8").read().replace(
        "  - name: records_read\n", "  - name: records_read\n    name: records_read\n", 1),
     "duplicate key 'name'"),
    ("not YAML", "counters: [\n", "not valid YAML"),
    ("help that ends a C comment", mutate(lambda s: c(0)(s).update(help="a */ b")), "help"),
    ("help of two lines", mutate(lambda s: c(0)(s).update(help="Line one.\nLine two.")),
     "must be one line"),
    ("an operation twice", mutate(lambda s: c(0)(s).update(operations=["write", "write"])),
     "lists an operation twice"),
    ("top-level key missing", mutate(lambda s: s.pop("backends")), ": backends: missing"),
    ("counts missing", mutate(lambda s: c(7)(s).pop("counts")), "counts: missing"),
    ("counts not a mapping", mutate(lambda s: c(7)(s).update(counts="always")), ".counts"),
    ("unknown counts.when", mutate(lambda s: c(7)(s)["counts"].update(when="sometimes")),
     "counts.when: must be one of always, success, failure"),
    ("unknown counts.by", mutate(lambda s: c(8)(s)["counts"].update(by="removed_recordz")),
     "counters[8] (compactions_triggered).counts.by: unknown fact 'removed_recordz'; valid "
     "facts: one, records_stored, records_returned, anomalies, scans"),
    ("counts.by a fact its operation does not report",
     mutate(lambda s: c(0)(s)["counts"].update(by="records_removed")),
     "counters[0] (records_written).counts.by: fact 'records_removed' is not reported by "
     "operation 'write' (only by compact)"),
    ("fact of an unknown operation",
     mutate(lambda s: s["facts"][1].update(operations=["fly"])), "facts[1] (records_stored)"
     ".operations: unknown operation 'fly'"),
    ("duplicate fact", mutate(lambda s: s["facts"].append(dict(s["facts"][0]))),
     "duplicate fact 'one'"),
    ("fact without meaning", mutate(lambda s: s["facts"][2].pop("meaning")),
     "facts[2].meaning: missing"),
    ("facts missing", mutate(lambda s: s.pop("facts")), "facts: missing"),
    ("unknown key in counts", mutate(lambda s: c(8)(s)["counts"].update(per="call")),
     "counts.per"),
    ("counts.by missing", mutate(lambda s: c(9)(s)["counts"].pop("by")), "counts.by: missing"),
]


def main():
    failures = 0
    rc, err, _, produced = run_gen(open(SPEC, encoding="utf-8").read())
    if rc != 0 or not produced:
        print(f"FAIL the real spec: exit {rc}: {err}")
        failures += 1
    for name, text, needle in CASES:
        rc, err, path, produced = run_gen(text)
        ok = rc == 1 and path in err and needle in err and not produced
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": exit {rc}: {err.strip()}"))
        failures += not ok
    print(f"{len(CASES) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
