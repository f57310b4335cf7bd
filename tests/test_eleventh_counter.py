#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Adding a counter is a YAML edit: the proof.

Usage: test_eleventh_counter.py SRCROOT BUILD_INCLUDE CC [CC ARGS...]

BUILD_INCLUDE is the build tree's include/ (it holds the generated papyra/version.h).

Copies the spec, appends an eleventh counter, regenerates every output into
a temporary tree, builds the metrics core with it, and runs a program that
increments the new counter through its generated typed helper and finds it
in the JSON, the table, Prometheus, a shared metrics file, the docs page, the
man page and the JSON Schema. It also checks that the backend the new
counter is unsupported on gets no helper: calling one fails to compile.
"""

import os
import subprocess
import sys
import tempfile

SRC = sys.argv[1]
BUILD_INCLUDE = sys.argv[2]
CC = sys.argv[3:]
NEW = """
  - name: records_dropped
    category: write
    unit: "{record}"
    help: Records dropped by retention during compaction.
    increments: By n for the n records a compaction removed because of retention.
    excludes: Corrupt records dropped (those are anomalies).
    operations: [compact]
    counts: {when: success, by: records}
    alert: false
    backends: {memory: unsupported, json: supported, rotating: supported, redis: supported}
"""

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include <papyra/metrics.h>
#include "metrics-inc-gen.h"

static int print(const papyra_metrics_snapshot *s, papyra_metrics_format_id f, unsigned flags)
{
    char *out = NULL;
    if (papyra_metrics_format(s, f, flags, &out) != 0)
        return 1;
    fputs(out, stdout);
    papyra_free(out);
    return 0;
}

int main(int argc, char **argv)
{
    papyra_metrics_options o = {.flags = PAPYRA_METRICS_CREATE, .backend = PAPYRA_BACKEND_JSON};
    papyra_metrics *m = NULL, *r = NULL;
    papyra_metrics_snapshot s;

    if (PAPYRA_METRIC_COUNT != 11 || papyra_metric_by_name("records_dropped") != PAPYRA_METRIC_RECORDS_DROPPED)
        return 2;
    if (papyra_metrics_open(&m, argv[1], &o, NULL) != 0)
        return 3;
    papyra__metrics_json_add_records_dropped(m, 7);
    if (papyra_metrics_add(m, PAPYRA_METRIC_RECORDS_DROPPED, 4) != 0)
        return 4;
    o.flags = PAPYRA_METRICS_READONLY;
    o.backend = -1;
    if (papyra_metrics_open(&r, argv[1], &o, NULL) != 0 || papyra_metrics_read(r, &s) != 0)
        return 5;
    if (s.value[PAPYRA_METRIC_RECORDS_DROPPED] != 11)
        return 6;
    if (print(&s, PAPYRA_FORMAT_JSON, 0) || print(&s, PAPYRA_FORMAT_TABLE, PAPYRA_FORMAT_ASCII) ||
        print(&s, PAPYRA_FORMAT_PROMETHEUS, 0))
        return 7;
    fputs(papyra_metrics_help_text(), stdout);
    papyra_metrics_close(m);
    papyra_metrics_close(r);
    return argc > 2;
}
"""

UNSUPPORTED = r"""
#include "metrics-inc-gen.h"
void try_it(papyra_metrics *m);
void try_it(papyra_metrics *m) { papyra__metrics_memory_add_records_dropped(m, 1); }
"""

OUTPUTS = {
    "metrics-gen.h": "include/papyra/metrics-gen.h",
    "metrics-gen.c": "src/metrics-gen.c",
    "metrics-inc-gen.h": "src/metrics-inc-gen.h",
    "metrics-reference.md": "docs/metrics-reference.md",
    "papyra-metrics.7": "docs/papyra-metrics.7",
    "metrics.schema.json": "docs/metrics.schema.json",
    "papyra.1": "docs/papyra.1",
}
# The metrics layer and the layers below it: every C file of theirs.
LIB_LAYERS = ["metrics", "json", "util"]

failures = []
checks = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    checks.append(what)
    if not cond:
        failures.append(what)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "metrics.yaml")
        with open(os.path.join(SRC, "spec", "metrics.yaml"), encoding="utf-8") as f:
            text = f.read()
        with open(spec, "w", encoding="utf-8") as f:
            f.write(text.rstrip("\n") + "\n" + NEW)
        outs = [os.path.join(tmp, rel) for rel in OUTPUTS.values()]
        for out in outs:
            os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run([sys.executable, os.path.join(SRC, "codegen", "gen.py"), "--spec", spec,
                        *outs], check=True)

        flags = ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE", "-Wall",
                 "-Wextra", "-Werror", "-Wno-unused-parameter",
                 "-I" + os.path.join(tmp, "include"), "-I" + os.path.join(SRC, "include"), "-I" + BUILD_INCLUDE,
                 "-I" + os.path.join(tmp, "src"), "-I" + os.path.join(SRC, "src")]
        prog_c = os.path.join(tmp, "prog.c")
        with open(prog_c, "w") as f:
            f.write(PROGRAM)
        sources = [os.path.join(SRC, "src", layer, name) for layer in LIB_LAYERS
                   for name in sorted(os.listdir(os.path.join(SRC, "src", layer)))
                   if name.endswith(".c")]
        sources += [os.path.join(tmp, "src", "metrics-gen.c"), prog_c]
        prog = os.path.join(tmp, "prog")
        build = subprocess.run([*CC, *flags, *sources, "-o", prog, "-pthread", "-lm"],
                               capture_output=True, text=True)
        check(build.returncode == 0, "the core builds with the eleventh counter: " + build.stderr)
        if build.returncode != 0:
            return 1
        run = subprocess.run([prog, os.path.join(tmp, "store.metrics")], capture_output=True,
                             text=True)
        out = run.stdout
        check(run.returncode == 0, f"the program runs (exit {run.returncode})")
        check('"records_dropped":11' in out, "the JSON carries the new counter")
        check("| records_dropped " in out, "the table has a row for it")
        check('papyra_persistence_records_dropped_total{backend="json"} 11' in out,
              "Prometheus exports it")
        check("Records dropped by retention during compaction." in out, "the help text has it")

        docs = {name: open(os.path.join(tmp, rel), encoding="utf-8").read()
                for name, rel in OUTPUTS.items()}
        check("### `records_dropped`" in docs["metrics-reference.md"], "the docs page has it")
        check("| Memory |" in docs["metrics-reference.md"] and
              "| records_dropped |" in docs["metrics-reference.md"],
              "the support matrix has a column for it")
        check("records_dropped" in docs["papyra-metrics.7"], "the metrics man page has it")
        check(".B records_dropped" in docs["papyra.1"], "the papyra(1) man page has it")
        check('"records_dropped"' in docs["metrics.schema.json"], "the JSON Schema has it")
        check("PAPYRA_METRIC_COUNT = 11" in docs["metrics-gen.h"], "the header counts eleven")

        bad_c = os.path.join(tmp, "unsupported.c")
        with open(bad_c, "w") as f:
            f.write(UNSUPPORTED)
        bad = subprocess.run([*CC, *flags, "-c", bad_c, "-o", os.path.join(tmp, "u.o")],
                             capture_output=True, text=True)
        check(bad.returncode != 0 and "papyra__metrics_memory_add_records_dropped" in bad.stderr,
              "counting it on memory, which does not support it, fails to compile")
    print(f"{len(checks) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
