#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every metrics output format stays byte-identical to the committed fixtures.

Usage: check_metrics_fixtures.py METRICS_DUMP FIXTURE [--update]

METRICS_DUMP (tests/metrics-dump.c) prints one fixed snapshot in every format
and flag combination. With the spec the fixtures were made from, the output
must equal FIXTURE byte for byte. With a spec that declares more counters
(a contributor's new one, or the eleventh-counter test's copy), the counters
the fixture knows must still come out exactly as before: Prometheus and
OpenMetrics lines and JSON values are compared with the new counters' lines
and keys taken out, tables row by row. --update rewrites FIXTURE: only for a
change of output that is meant.
"""

import json
import re
import subprocess
import sys


def sections(text):
    out, name = {}, None
    for line in text.splitlines(keepends=True):
        if line.startswith("=== "):
            name = line[4:].rstrip("\n")
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out


def counters_of(secs):
    return list(json.loads(secs["json: json"]).keys())


def drop_json_keys(text, known):
    """The JSON without the counters the fixture does not know, nor the spec
    hash of the detailed form (a hash of the counter names: it changes with
    any counter added)."""
    def hook(pairs):
        return [(k, v) for k, v in pairs if k != "spec_hash"]

    def strip(value, top):
        if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
            return [(k, strip(v, False)) for k, v in value if not top or k in known]
        return value

    tree = json.loads(text, object_pairs_hook=hook)
    if isinstance(tree, list):
        names = [k for k, _ in tree]
        if "counters" in names:  # detail: filter inside "counters"
            return [(k, strip(v, True) if k == "counters" else strip(v, False)) for k, v in tree]
        return strip(tree, True)
    return tree


def drop_prom_lines(text, extra):
    pattern = re.compile(r"papyra_persistence_(%s)(_total|_created)?\b" % "|".join(map(re.escape, extra)))
    return "".join(line for line in text.splitlines(keepends=True) if not pattern.search(line))


def table_rows(text, extra):
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)]
        if len(cells) > 2 and cells[1] in extra:
            continue
        if len(cells) > 2:
            rows.append(cells)
    return rows


def main(argv):
    if len(argv) not in (3, 4) or (len(argv) == 4 and argv[3] != "--update"):
        print(__doc__, file=sys.stderr)
        return 64
    run = subprocess.run([argv[1]], capture_output=True, text=True)
    if run.returncode != 0:
        print(f"FAIL metrics-dump exited {run.returncode}: {run.stderr}")
        return 1
    if len(argv) == 4:
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write(run.stdout)
        print(f"rewrote {argv[2]}")
        return 0
    with open(argv[2], encoding="utf-8") as f:
        want_text = f.read()
    want, got = sections(want_text), sections(run.stdout)
    known, now = counters_of(want), counters_of(got)
    extra = [c for c in now if c not in known]
    failed = []
    if [c for c in now if c in known] != known:
        failed.append(f"the fixture's counters {known} are not all there, in order: {now}")
    if set(want) != set(got):
        failed.append(f"sections differ: missing {sorted(set(want) - set(got))}, "
                      f"new {sorted(set(got) - set(want))}")
    for name in want:
        if name not in got:
            continue
        if not extra:
            same = want[name] == got[name]
        elif name == "help":
            same = all(line in got[name] for line in want[name].splitlines())
        elif ": json" in name:
            same = drop_json_keys(want[name], known) == drop_json_keys(got[name], known)
        elif ": prometheus" in name or ": openmetrics" in name:
            same = want[name] == drop_prom_lines(got[name], extra)
        else:
            same = table_rows(want[name], extra) == table_rows(got[name], extra)
        print(("ok   " if same else "FAIL ") + name)
        if not same:
            failed.append(name)
            print("--- want\n" + want[name] + "--- got\n" + got[name])
    if extra:
        print(f"(the spec adds {', '.join(extra)}: compared without it)")
    for f in failed:
        print("FAIL " + f)
    print(f"{len(want) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
