#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Adding a counter is a YAML edit: the proof, end to end.

Usage: test_eleventh_counter.py SRCROOT ORIG_BUILD B_SANITIZE CC [CC ARGS...]

SRCROOT is the source tree, ORIG_BUILD its build directory (the "original":
the library, CLI and headers of the spec as it stands), B_SANITIZE that
build's b_sanitize option, CC the compiler it uses.

1. Copies SRCROOT (tracked and untracked, not ignored, files) into a
   temporary directory and appends NEW_COUNTER -- the README's example of
   adding a counter -- to the copy's spec/metrics.yaml. Nothing else in the
   copy is edited.
2. In the copy: meson setup (same compiler, same b_sanitize), ninja,
   ninja update-generated, and the copy's complete test suite but this test
   (suite "eleventh"). Only spec/, generated/ and docs/ may change.
3. The counter moves: with the copy's cli-writer and papyra, 10 records then
   a compaction under max_records=3 show "records_dropped": 7 on json:,
   rotating: and redis:// (a private redis-server), and the other counters
   as the spec says; on memory:, which does not support it, it is null in
   JSON, n/a in the table and absent from Prometheus and OpenMetrics.
   The generated reference page, man pages, JSON Schema and the CLI's help
   carry it.
4. The ABI: a program built against the original headers (10 counters) and
   library, run on the copy's library (11), reads, resets and formats a
   snapshot that sits in a guarded buffer and on the heap (so ASan sees an
   overrun): the guard stays intact and the 10 values are right. The
   original CLI shows a metrics file the copy's library wrote, and the
   copy's CLI one the original library wrote (records_dropped: absent).

Prints "ok   ..." / "FAIL ..." per check and ends with "N passed, M failed".
PAPYRA_TEST_KEEP=1 keeps the temporary directory (its path is printed);
PAPYRA_ELEVENTH_BUDGET sets the seconds all its steps may take (1740).
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import yaml

SRC = os.path.abspath(sys.argv[1])
ORIG = os.path.abspath(sys.argv[2])
SANITIZE = sys.argv[3]
CC = sys.argv[4:]

NAME = "records_dropped"
# Exactly what README.md shows under "Adding a counter", and what is appended.
NEW_COUNTER = """\
  - name: records_dropped
    category: compaction
    unit: "{record}"
    help: Records removed by compaction under the retention policy.
    increments: By n for the n records a successful compaction removed.
    excludes: Records removed by recovery, and records of a failed compaction.
    operations: [compact]
    counts: {when: success, by: records_removed}
    alert: false
    backends: {memory: unsupported, json: supported, rotating: supported, redis: supported}
"""
HELP = "Records removed by compaction under the retention policy."

WRITTEN = 10   # records cli-writer writes
KEPT = 3       # max_records of the compaction
# What the copy's build and its nested suite may take, all steps together
# (meson's timeout for this test is 1800 s).
BUDGET = float(os.environ.get("PAPYRA_ELEVENTH_BUDGET", "1740"))
START = time.monotonic()

# Compiled against the ORIGINAL headers and library, run on the copy's.
ABI_PROGRAM = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/papyra.h>

#define PRE 64
#define POST 1024
#define GUARD 0xA5

/* The snapshot sits at area + PRE; every other byte must stay GUARD. */
static _Alignas(max_align_t) unsigned char area[PRE + sizeof(papyra_metrics_snapshot) + POST];

static papyra_metrics_snapshot *
guarded(void)
{
    memset(area, GUARD, sizeof(area));
    return (papyra_metrics_snapshot *)(void *)(area + PRE);
}

static int
guard_intact(const char *call)
{
    size_t end = PRE + sizeof(papyra_metrics_snapshot);

    for (size_t i = 0; i < sizeof(area); i++) {
        if (i >= PRE && i < end)
            continue;
        if (area[i] != GUARD) {
            printf("guard %s broken at byte %ld of the snapshot\n", call,
                   i < PRE ? -(long)(PRE - i) : (long)(i - PRE));
            return 0;
        }
    }
    printf("guard %s intact\n", call);
    return 1;
}

static void
print_snapshot(const char *tag, const papyra_metrics_snapshot *s)
{
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        printf("%s %s %llu %llu %u\n", tag, papyra_metric_get(i)->name,
               (unsigned long long)s->value[i], (unsigned long long)s->total[i],
               (unsigned)s->state[i]);
}

static int
show(const char *tag, const papyra_metrics_snapshot *s, papyra_metrics_format_id f, unsigned flags)
{
    char *out = NULL;
    int r = papyra_metrics_format(s, f, flags, &out);

    printf("=== %s %d\n", tag, r);
    if (r == 0) {
        fputs(out, stdout);
        papyra_free(out);
    }
    printf("=== end\n");
    return r != 0;
}

static int
show_labelled(const papyra_metrics_snapshot *s)
{
    const papyra_metrics_label label = {"store", "abi"};
    char *out = NULL;
    int r = papyra_metrics_format_labels(s, PAPYRA_FORMAT_PROMETHEUS, 0, &label, 1, &out);

    printf("=== prometheus-labels %d\n", r);
    if (r == 0) {
        fputs(out, stdout);
        papyra_free(out);
    }
    printf("=== end\n");
    return r != 0;
}

int
main(int argc, char **argv)
{
    papyra_metrics_options o = {.flags = 0, .backend = -1};
    papyra_error err = {0};
    papyra_metrics *m = NULL;
    papyra_metrics_snapshot *s, *h;
    const papyra_metric_info *next = papyra_metric_get(PAPYRA_METRIC_COUNT);
    int bad = 0, r;

    printf("header_count %d\n", PAPYRA_METRIC_COUNT);
    printf("library_next %s\n", next ? next->name : "(none)");
    if (argc != 2)
        return 2;
    if (papyra_metrics_open(&m, argv[1], &o, &err) != 0) {
        printf("open failed: %s\n", err.message);
        return 3;
    }
    /* Exactly one snapshot on the heap: ASan reports any byte past it. */
    h = malloc(sizeof(*h));
    if (!h)
        return 4;

    s = guarded();
    r = papyra_metrics_read(m, s);
    printf("read %d\n", r);
    bad |= r != 0 || !guard_intact("read");
    print_snapshot("value", s);
    bad |= show("json", s, PAPYRA_FORMAT_JSON, 0);
    bad |= show("table", s, PAPYRA_FORMAT_TABLE, PAPYRA_FORMAT_ASCII | PAPYRA_FORMAT_WIDE);
    bad |= !guard_intact("format");

    r = papyra_metrics_read(m, h);
    printf("read_heap %d\n", r);
    bad |= r != 0;
    print_snapshot("heap", h);
    bad |= show("prometheus", h, PAPYRA_FORMAT_PROMETHEUS, 0);
    bad |= show("openmetrics", h, PAPYRA_FORMAT_OPENMETRICS, 0);
    bad |= show("json-detail", h, PAPYRA_FORMAT_JSON_DETAIL, 0);
    bad |= show_labelled(h);

    s = guarded();
    r = papyra_metrics_reset(m, s);
    printf("reset %d\n", r);
    bad |= r != 0 || !guard_intact("reset");
    print_snapshot("cleared", s);
    r = papyra_metrics_reset(m, h);
    printf("reset_heap %d\n", r);
    bad |= r != 0;
    print_snapshot("cleared_again", h);

    s = guarded();
    r = papyra_metrics_read(m, s);
    printf("read_after %d\n", r);
    bad |= r != 0 || !guard_intact("read after reset");
    print_snapshot("after", s);

    free(h);
    papyra_metrics_close(m);
    return bad;
}
"""

failures = []
passed = []


def check(cond, what, detail=""):
    if cond:
        print("ok   " + what, flush=True)
        passed.append(what)
    else:
        detail = detail.strip()
        if "\n" in detail:
            detail = "\n" + quoted(detail)
        print("FAIL " + what + (": " + detail if detail else ""), flush=True)
        failures.append(what)
    return cond


def remaining():
    return max(1.0, BUDGET - (time.monotonic() - START))


def child_env(**extra):
    env = dict(os.environ)
    env.pop("PAPYRA_PERSISTENCE", None)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def run(cmd, env=None, cwd=None, timeout=120):
    """Runs @p cmd; returns (exit code, stdout, stderr); a timeout is exit -1."""
    try:
        p = subprocess.run(cmd, env=env or child_env(), cwd=cwd, capture_output=True,
                           timeout=min(timeout, remaining()))
    except OSError as e:
        return 127, "", "%s: %s" % (cmd[0], e)
    except subprocess.TimeoutExpired as e:
        def text(b):
            return (b or b"").decode("utf-8", "replace")
        return -1, text(e.stdout), text(e.stderr) + "\n(timed out after %ds)" % e.timeout
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def tail(text, n):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


def quoted(text):
    """Another program's output, set apart from this test's ok/FAIL lines."""
    return "\n".join("   | " + line for line in text.splitlines())


# ---------------------------------------------------------------- the copy


def source_files(src):
    """The tracked and untracked, not ignored, files of @p src (relative paths)."""
    try:
        p = subprocess.run(["git", "-C", src, "ls-files", "-co", "--exclude-standard", "-z"],
                           capture_output=True, check=True)
        files = [f for f in p.stdout.decode("utf-8", "surrogateescape").split("\0") if f]
        if files:
            return files, "git ls-files"
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for top, dirs, names in os.walk(src):
        rel = os.path.relpath(top, src)
        dirs[:] = sorted(d for d in dirs
                         if d not in (".git", "__pycache__")
                         and not (rel == "." and d.startswith("build")))
        files += [os.path.normpath(os.path.join(rel, n)) for n in sorted(names)]
    return files, "a walk of the tree"


def digest(path):
    if os.path.islink(path):
        return "link:" + os.readlink(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def copy_tree(src, dst):
    files, how = source_files(src)
    hashes = {}
    for rel in files:
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        if not os.path.lexists(s) or os.path.isdir(s):
            continue  # deleted in the working tree, or a submodule
        os.makedirs(os.path.dirname(d), exist_ok=True)
        if os.path.islink(s):
            os.symlink(os.readlink(s), d)
        else:
            shutil.copy2(s, d)
        hashes[rel] = digest(d)
    return hashes, how


def tree_state(root, skip):
    out = {}
    for top, dirs, names in os.walk(root):
        rel = os.path.relpath(top, root)
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (rel == "." and d == skip)]
        for n in names:
            r = os.path.normpath(os.path.join(rel, n))
            out[r] = digest(os.path.join(root, r))
    return out


def counters_of(spec_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    return spec["counters"]


# ------------------------------------------------------------- the build


def build_copy(copy, build):
    """None when meson setup fails; else whether ninja built everything."""
    env = child_env(CC=shlex.join(CC))
    setup = ["meson", "setup", build]
    sanitize = sanitizer_list()
    if sanitize:
        setup.append("-Db_sanitize=" + ",".join(sanitize))
    rc, out, err = run(setup, env=env, cwd=copy, timeout=600)
    if not check(rc == 0, "meson setup of the copy (CC=%s%s)" % (
            shlex.join(CC), ", b_sanitize=" + ",".join(sanitize) if sanitize else ""),
            tail(out + err, 40)):
        return None
    # -k 0: build all that builds, so that a program that does not compile
    # still leaves the library and the CLI for the checks that follow.
    rc, out, err = run(["ninja", "-C", build, "-k", "0"], env=env, cwd=copy, timeout=1200)
    errors = [line for line in (out + err).splitlines()
              if line.startswith("FAILED:") or ": error:" in line or "undefined reference" in line]
    built = check(rc == 0, "ninja builds everything in the copy",
                  "\n".join(errors[:40]) if errors else tail(out + err, 40))
    rc, out, err = run(["ninja", "-C", build, "update-generated"], env=env, cwd=copy, timeout=300)
    check(rc == 0, "ninja update-generated refreshes the copy's committed copies",
          tail(out + err, 40))
    return built


def run_nested_suite(copy, build, built):
    """Runs the copy's suite but "eleventh"; after a failed build, the tests
    whose programs were built (--no-rebuild), so that one run shows every problem."""
    cmd = ["meson", "test", "-C", build, "--no-suite", "eleventh", "--print-errorlogs"]
    if not built:
        rc, out, err = run(["meson", "introspect", "--tests", build], cwd=copy)
        tests = [t for t in (parse_json(out) or [])
                 if not any(s.endswith(":eleventh") or s == "eleventh" for s in t["suite"])]
        for t in tests:
            if not os.path.exists(t["cmd"][0]):
                print("     not built, not run: %s (%s)" % (t["name"], t["cmd"][0]))
        cmd = ["meson", "test", "-C", build, "--no-rebuild", "--print-errorlogs"]
        cmd += [t["name"] for t in tests if os.path.exists(t["cmd"][0])]
    rc, out, err = run(cmd, cwd=copy, timeout=1700)
    summary = " ".join(" ".join(line.split()) for line in out.splitlines()
                       if re.match(r"\s*(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):",
                                   line))
    failed = []
    for line in out.splitlines():
        m = re.match(r"\s*\d+/\d+ (\S+ / \S+)\s+(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)\b", line)
        if m and m.group(1) not in (f for f, _ in failed):
            failed.append((m.group(1), m.group(2)))
    ok = check(rc == 0 and built,
               "the copy's complete test suite passes (meson test --no-suite eleventh)",
               "exit %d; %s%s" % (rc, summary, "" if built else "; the copy does not build"))
    print("     " + summary, flush=True)
    if ok:
        return True
    for name, result in failed:
        print("     %s %s" % (result, name))
    log = os.path.join(build, "meson-logs", "testlog.txt")
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        text = ""
        print("     (cannot read %s: %s)" % (log, e))
    # The tail of each failed test's entry in the testlog, else of the whole log.
    entries = re.split(r"\n=+ \d+/\d+ =+\n", text)
    shown = False
    for name, result in failed:
        entry = next((e for e in entries if re.search(r"^test:\s+%s$" % re.escape(name), e, re.M)),
                     None)
        if entry is not None:
            print("---- %s (%s): the tail of its entry in %s" % (name, result, log))
            print(quoted(tail(entry.split("\n" + "=" * 78)[0], 40)))
            shown = True
    if not shown:
        print("---- the tail of %s" % log)
        print(quoted(tail(text, 200) if text else tail(out + err, 60)))
    print("---- end of the nested suite's logs", flush=True)
    return False


def sanitizer_list():
    """b_sanitize as given by meson: "none", "address,undefined", or a list's repr."""
    return [s for s in re.split(r"[\s,\[\]'\"]+", SANITIZE) if s and s != "none"]


# ------------------------------------------------------------ the checks


def check_only_yaml_changed(before, after):
    changed = sorted(r for r in set(before) | set(after) if before.get(r) != after.get(r))
    outside = [r for r in changed
               if r != "spec/metrics.yaml" and not r.startswith(("generated/", "docs/"))]
    check("spec/metrics.yaml" in changed and not outside,
          "after the build, only spec/metrics.yaml and generated copies differ from the source "
          "(%d files: %s)" % (len(changed), ", ".join(changed)),
          "also changed: " + ", ".join(outside))


def check_generated(copy, build, n_old):
    def read(rel, root=copy):
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                return f.read()
        except OSError as e:
            print("     cannot read %s: %s" % (rel, e))
            return ""

    for root, where in ((build, "the build's"), (copy, "the committed (generated/)")):
        rel = "include/papyra/metrics-gen.h" if root == build else \
            "generated/include/papyra/metrics-gen.h"
        h = read(rel, root)
        check(re.search(r"PAPYRA_METRIC_COUNT = %d\b" % (n_old + 1), h) and
              re.search(r"PAPYRA_METRIC_RECORDS_DROPPED = %d\b" % n_old, h),
              "%s metrics-gen.h counts %d, records_dropped last" % (where, n_old + 1))

    check(NEW_COUNTER in read("README.md"),
          "README's 'Adding a counter' shows exactly the counter this test adds")
    ref = read("docs/metrics-reference.md")
    check("### `%s`" % NAME in ref, "docs/metrics-reference.md has a section for it")
    check(HELP in ref, "docs/metrics-reference.md carries its help")
    matrix, header = {}, None  # the support matrix: {backend: {counter: Yes|No}}
    for line in ref.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| Backend |"):
            header = cells
        elif header and not line.startswith("|"):
            break
        elif header and not line.startswith("|---") and len(cells) == len(header):
            matrix[cells[0]] = dict(zip(header, cells))
    got = {b: row.get(NAME) for b, row in matrix.items()}
    check(got == {"Memory": "No", "JSON": "Yes", "Rotating": "Yes", "Redis": "Yes"},
          "the support matrix has a column for it: No for Memory, Yes elsewhere", repr(got))
    op_rows = [line for line in ref.splitlines() if line.startswith("| `compact` |")]
    check(any("`%s`" % NAME in line for line in op_rows),
          "the reference lists it under the compact operation", repr(op_rows))
    check(NAME in read("docs/man/papyra-metrics.7"), "docs/man/papyra-metrics.7 has it")
    check(".B %s" % NAME in read("docs/man/papyra.1"), "docs/man/papyra.1 has it")
    schema = parse_json(read("docs/metrics.schema.json")) or {}
    check(NAME in schema.get("properties", {}) and NAME in schema.get("required", []),
          "docs/metrics.schema.json has it (a property, required)")


def validator(schema_path):
    try:
        import jsonschema
    except ImportError:
        return None
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError) as e:
        print("     cannot load %s: %s" % (schema_path, e))
        return None
    return lambda doc: jsonschema.validate(doc, schema)


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def table_rows(text):
    """{counter: value cell} of a `papyra metrics persistence` table."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)]
        cells = [c for c in cells if c != ""]
        if len(cells) >= 2 and re.fullmatch(r"[a-z_]+", cells[0]) and cells[0] != "Counter":
            rows[cells[0]] = cells[1]
    return rows


def expected_values(counters, backend, written=WRITTEN, kept=KEPT, compactions=1):
    """What the spec says the counters show after the writes and one compaction."""
    out = {}
    for c in counters:
        if c["backends"][backend] != "supported":
            out[c["name"]] = None
            continue
        out[c["name"]] = {"records_written": written,
                          "compactions_triggered": compactions,
                          NAME: written - kept if compactions else 0}.get(c["name"], 0)
    return out


class Cli:
    def __init__(self, papyra, writer, tmp):
        self.papyra, self.writer, self.tmp = papyra, writer, tmp

    def __call__(self, *args):
        return run([self.papyra, *args], cwd=self.tmp)

    def write(self, url, n):
        return run([self.writer, "store", url, str(n)], cwd=self.tmp)


def check_backend(label, new, url, compact_url, counters, schema_ok, store_n=WRITTEN):
    rc, out, err = new.write(url, store_n)
    if not check(rc == 0, "%s: cli-writer writes %d records" % (label, store_n), err.strip()):
        return None
    rc, out, err = new("--persistence", compact_url, "persistence", "compact")
    check(rc == 0, "%s: papyra persistence compact (max_records=%d) exits 0" % (label, KEPT),
          "exit %d: %s" % (rc, (out + err).strip()))
    backend = label.split(":")[0]
    want = expected_values(counters, backend, compactions=0 if backend == "memory" else 1)
    rc, out, err = new("--persistence", compact_url, "metrics", "persistence", "--json")
    doc = parse_json(out) if rc == 0 else None
    check(doc == want, "%s: metrics persistence --json shows \"%s\": %s and the other counters "
          "as the spec says" % (label, NAME, json.dumps(want[NAME])),
          "exit %d, got %s%s" % (rc, out.strip(), err.strip()))
    if doc is not None and schema_ok:
        try:
            schema_ok(doc)
            check(True, "%s: the output validates against the copy's metrics.schema.json" % label)
        except Exception as e:  # jsonschema.ValidationError
            check(False, "%s: the output validates against the copy's metrics.schema.json" % label,
                  str(e).splitlines()[0])
    rc, out, err = new("--persistence", compact_url, "metrics", "persistence", "--ascii")
    rows = table_rows(out)
    cell = "n/a" if want[NAME] is None else str(want[NAME])
    check(rc == 0 and rows.get(NAME) == cell,
          "%s: the table shows %s %s" % (label, NAME, cell), repr(rows.get(NAME)) + err)
    for fmt in ("prometheus", "openmetrics"):
        rc, out, err = new("--persistence", compact_url, "metrics", "persistence", "--format", fmt)
        sample = 'papyra_persistence_%s_total{backend="%s"} ' % (NAME, backend)
        if want[NAME] is None:
            check(rc == 0 and NAME not in out and "papyra_persistence_records_written_total" in out,
                  "%s: %s leaves it out" % (label, fmt), "exit %d: %s" % (rc, err.strip()))
        else:
            check(rc == 0 and (sample + str(want[NAME])) in out.splitlines(),
                  "%s: %s exports %s%d" % (label, fmt, sample, want[NAME]),
                  "exit %d: %s" % (rc, err.strip()))
    return want


def start_redis(tmp):
    server = shutil.which("redis-server")
    if not server:
        return None, None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.sendall(b"PING\r\n")
                if c.recv(64).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_redis(proc)
    return None, port


def stop_redis(proc):
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def check_counter_moves(copy, build, tmp, counters):
    new = Cli(os.path.join(build, "cli", "papyra"), os.path.join(build, "tests", "cli-writer"), tmp)
    schema_ok = validator(os.path.join(copy, "docs", "metrics.schema.json"))
    if schema_ok is None:
        print("skip JSON Schema validation: python3 has no jsonschema", flush=True)

    d = os.path.join(tmp, "run")
    os.makedirs(d)
    json_file = os.path.join(d, "s.jsonl")
    want_json = check_backend("json:", new, "json:" + json_file,
                              "json:%s?max_records=%d" % (json_file, KEPT), counters, schema_ok)
    rot = os.path.join(d, "rot", "events.log")
    check_backend("rotating:", new, "rotating:" + rot,
                  "rotating:%s?max_bytes=1000000&max_files=3&max_records=%d" % (rot, KEPT),
                  counters, schema_ok)
    mem = "memory:?metrics=%s" % os.path.join(d, "m.metrics")
    check_backend("memory:", new, mem, mem + "&max_records=%d" % KEPT, counters, schema_ok)
    rc, out, err = run([new.writer, "counters", os.path.join(d, "m2.metrics"), "memory",
                        NAME + "=1"], cwd=tmp)
    check(rc != 0, "memory: papyra_metrics_add(%s) is refused (unsupported)" % NAME,
          "cli-writer exit %d" % rc)
    rc, out, err = run([new.writer, "counters", os.path.join(d, "c.metrics"), "json",
                        NAME + "=11"], cwd=tmp)
    rc2, out2, err2 = new("--metrics-file", os.path.join(d, "c.metrics"), "metrics",
                          "persistence", "--json")
    check(rc == 0 and rc2 == 0 and (parse_json(out2) or {}).get(NAME) == 11,
          "json: papyra_metrics_add(%s, 11) lands in the shared file the CLI reads" % NAME,
          err + err2 + out2)

    proc, port = start_redis(d)
    if proc is None:
        if port is None and os.environ.get("PAPYRA_TEST_REQUIRE_REDIS") != "1":
            print("skip redis://: redis-server is not on PATH (set PAPYRA_TEST_REQUIRE_REDIS=1 "
                  "to make this a failure)", flush=True)
        else:
            check(False, "redis://: a private redis-server starts",
                  "not on PATH" if port is None else "no PONG on port %d" % port)
    else:
        try:
            base = "redis://127.0.0.1:%d/0?prefix=eleventh&metrics=%s" % (
                port, os.path.join(d, "r.metrics"))
            check_backend("redis://", new, base, base + "&max_records=%d" % KEPT, counters,
                          schema_ok)
        finally:
            stop_redis(proc)

    rc, out, err = new("metrics", "--help")
    check(rc == 0 and NAME in out and HELP in out,
          "papyra metrics --help (papyra_metrics_help_text) lists it with its help",
          "exit %d" % rc)
    return new, json_file, want_json


def check_abi(copy, build, tmp, counters, n_old, json_file, want_json):
    lib = os.path.join(ORIG, "src", "libpapyra.so")
    if not os.path.exists(lib):
        print("skip the ABI checks: %s does not exist (default_library=static?)" % lib)
        return
    old_names = [c["name"] for c in counters[:n_old]]
    prog_c = os.path.join(tmp, "abi.c")
    prog = os.path.join(tmp, "abi")
    with open(prog_c, "w", encoding="utf-8") as f:
        f.write(ABI_PROGRAM)
    san = sanitizer_list()
    if "address" in san:
        san_flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    elif san:
        san_flags = ["-fsanitize=" + ",".join(san), "-fno-omit-frame-pointer"]
    else:
        san_flags = []
    cmd = [*CC, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-g",
           *san_flags, "-I" + os.path.join(SRC, "include"), "-I" + os.path.join(ORIG, "include"),
           prog_c, lib, "-o", prog]
    rc, out, err = run(cmd, timeout=120)
    if not check(rc == 0, "a program builds against the original headers and library%s" % (
            " (" + " ".join(san_flags) + ")" if san_flags else ""), err.strip()):
        return

    new_lib = os.path.join(build, "src")
    rc, out, err = run(["ldd", prog], env=child_env(LD_LIBRARY_PATH=new_lib))
    m = re.search(r"libpapyra\.so\.\S*\s*=>\s*(\S+)", out)
    loaded = m and os.path.realpath(os.path.dirname(m.group(1)))
    check(loaded == os.path.realpath(new_lib),
          "with LD_LIBRARY_PATH it loads the copy's libpapyra", out.strip())

    for i, (which, libdir) in enumerate((("the copy's", new_lib),
                                         ("the original", os.path.join(ORIG, "src")))):
        mfile = os.path.join(tmp, "abi-%d.metrics" % i)
        shutil.copyfile(json_file + ".metrics", mfile)
        rc, out, err = run([prog, mfile], env=child_env(LD_LIBRARY_PATH=libdir))
        check_abi_output(which, rc, out, err, old_names, n_old, want_json,
                         NAME if which == "the copy's" else "(none)")


def sections_of(out):
    secs, name, body = {}, None, []
    lines = []
    for line in out.splitlines():
        if name is None and line.startswith("=== ") and line != "=== end":
            name, body = line[4:], []
        elif name is not None and line == "=== end":
            tag, rc = name.rsplit(" ", 1)
            secs[tag] = (int(rc), "\n".join(body))
            name = None
        elif name is not None:
            body.append(line)
        else:
            lines.append(line)
    return secs, lines


def check_abi_output(which, rc, out, err, old_names, n_old, want_json, next_name):
    what = "old header, %s library: " % which
    secs, lines = sections_of(out)
    kv = {}
    for line in lines:
        parts = line.split()
        if parts and parts[0] not in ("value", "heap", "cleared", "cleared_again", "after"):
            kv[parts[0]] = " ".join(parts[1:])
    check(rc == 0, what + "the program exits 0 (under ASan too)",
          "exit %d: %s" % (rc, tail(err, 30) or tail(out, 10)))
    check(kv.get("header_count") == str(n_old) and kv.get("library_next") == next_name,
          what + "PAPYRA_METRIC_COUNT is %d, papyra_metric_get(%d) is %s" % (n_old, n_old, next_name),
          "header_count %s, library_next %s" % (kv.get("header_count"), kv.get("library_next")))

    def values(tag, col=2):
        return {p[1]: int(p[col]) for p in (line.split() for line in lines)
                if len(p) == 5 and p[0] == tag}

    def states(tag):
        return {p[1]: int(p[4]) for p in (line.split() for line in lines)
                if len(p) == 5 and p[0] == tag}

    want = {n: want_json[n] for n in old_names}
    for call in ("read", "format", "reset", "read after reset"):
        check("guard %s intact" % call in lines, what + "%s leaves the guard intact" % call,
              next((line for line in lines if line.startswith("guard %s " % call)), "not run"))
    check(kv.get("read") == "0" and values("value") == want and
          set(states("value").values()) == {0},
          what + "papyra_metrics_read gives the %d values" % n_old, repr(values("value")))
    check(kv.get("read_heap") == "0" and values("heap") == want,
          what + "papyra_metrics_read into an exact heap snapshot", repr(values("heap")))
    rc_json, text = secs.get("json", (-1, ""))
    doc = parse_json(text)
    check(rc_json == 0 and isinstance(doc, dict) and list(doc) == old_names and doc == want,
          what + "papyra_metrics_format JSON has the %d counters, not %s" % (n_old, NAME), text)
    rc_t, text = secs.get("table", (-1, ""))
    rows = table_rows(text)
    check(rc_t == 0 and list(rows) == old_names and
          all(rows[n] == str(want[n]) for n in old_names),
          what + "the table has %d rows" % n_old, text)
    for fmt in ("prometheus", "openmetrics", "prometheus-labels"):
        rc_f, text = secs.get(fmt, (-1, ""))
        check(rc_f == 0 and NAME not in text and
              'papyra_persistence_records_written_total{backend="json"%s} %d' % (
                  ',store="abi"' if fmt == "prometheus-labels" else "", WRITTEN) in text,
              what + "%s has the old counters only" % fmt, text[-400:])
    rc_d, text = secs.get("json-detail", (-1, ""))
    detail = parse_json(text)
    counters = detail.get("counters") if isinstance(detail, dict) else None
    check(rc_d == 0 and isinstance(counters, (dict, list)) and len(counters) == n_old,
          what + "the detailed JSON has %d counters" % n_old, text[:400])
    check(kv.get("reset") == "0" and values("cleared") == want,
          what + "papyra_metrics_reset reports what it cleared", repr(values("cleared")))
    zero = {n: 0 for n in old_names}
    check(kv.get("reset_heap") == "0" and values("cleared_again") == zero and
          kv.get("read_after") == "0" and values("after") == zero and
          values("after", 3) == {n: v for n, v in want.items()},
          what + "after the reset the values are 0 and the totals stay", repr(values("after")))


def check_old_and_new_cli(new, tmp, counters, n_old, json_file, want_json):
    old = Cli(os.path.join(ORIG, "cli", "papyra"), os.path.join(ORIG, "tests", "cli-writer"), tmp)
    old_names = [c["name"] for c in counters[:n_old]]
    orig_schema = validator(os.path.join(ORIG, "docs", "metrics.schema.json"))

    # The original CLI, a metrics file the copy's library wrote.
    rc, out, err = old("--persistence", "json:" + json_file, "metrics", "persistence", "--json")
    doc = parse_json(out)
    check(rc == 0 and isinstance(doc, dict) and list(doc) == old_names and
          doc == {n: want_json[n] for n in old_names},
          "the original papyra shows the new library's metrics file: %d counters, no %s" % (
              n_old, NAME), "exit %d: %s %s" % (rc, out.strip(), err.strip()))
    if orig_schema and isinstance(doc, dict):
        try:
            orig_schema(doc)
            check(True, "... and it validates against the original metrics.schema.json")
        except Exception as e:
            check(False, "... and it validates against the original metrics.schema.json",
                  str(e).splitlines()[0])
    rc, out, err = old("--persistence", "json:" + json_file, "metrics", "persistence", "--ascii")
    rows = table_rows(out)
    check(rc == 0 and list(rows) == old_names, "... and its table, %d rows" % n_old,
          "exit %d: %s" % (rc, err.strip()))

    # The copy's CLI, a metrics file the original library wrote.
    d = os.path.join(tmp, "old")
    os.makedirs(d)
    old_file = os.path.join(d, "o.jsonl")
    rc, out, err = old.write("json:" + old_file, 5)
    rc2, out2, err2 = old("--persistence", "json:%s?max_records=2" % old_file, "persistence",
                          "compact")
    check(rc == 0 and rc2 == 0, "the original cli-writer and papyra write and compact a store",
          err + err2)
    want_old = {n: 0 for n in old_names}
    want_old.update(records_written=5, compactions_triggered=1)
    want_old[NAME] = None
    rc, out, err = new("--persistence", "json:" + old_file, "metrics", "persistence", "--json")
    doc = parse_json(out)
    check(rc == 0 and doc == want_old,
          "the copy's papyra shows the original library's metrics file (--json: %s null)" % NAME,
          "exit %d: %s %s" % (rc, out.strip(), err.strip()))
    rc, out, err = new("--persistence", "json:" + old_file, "metrics", "persistence", "--ascii")
    rows = table_rows(out)
    check(rc == 0 and rows.get(NAME) == "absent" and rows.get("records_written") == "5",
          "... and its table shows %s as absent (PAPYRA_METRIC_ABSENT)" % NAME,
          "exit %d: %r %s" % (rc, rows, err.strip()))
    # The copy's library compacts the store with the old file: no crash, the
    # counters both know move, the new one stays absent.
    rc, out, err = new("--persistence", "json:%s?max_records=1" % old_file, "persistence",
                       "compact")
    rc2, out2, err2 = new("--persistence", "json:" + old_file, "metrics", "persistence", "--json")
    doc = parse_json(out2) or {}
    check(rc == 0 and rc2 == 0 and doc.get("compactions_triggered") == 2 and
          NAME in doc and doc[NAME] is None,
          "the copy's library compacts a store whose metrics file predates %s" % NAME,
          "exit %d/%d: %s %s %s" % (rc, rc2, out2.strip(), err.strip(), err2.strip()))


def main():
    tmp = tempfile.mkdtemp(prefix="papyra-eleventh-")
    keep = os.environ.get("PAPYRA_TEST_KEEP") == "1"
    try:
        copy = os.path.join(tmp, "src")
        build = os.path.join(copy, "build")
        os.makedirs(copy)
        before, how = copy_tree(SRC, copy)
        check("spec/metrics.yaml" in before and "meson.build" in before,
              "copied %d files of %s (%s)" % (len(before), SRC, how))
        spec_path = os.path.join(copy, "spec", "metrics.yaml")
        old_counters = counters_of(spec_path)
        n_old = len(old_counters)
        if not check(all(c["name"] != NAME for c in old_counters),
                     "the spec does not declare %s yet" % NAME,
                     "pick another name for this test"):
            return 1
        with open(spec_path, encoding="utf-8") as f:
            text = f.read()
        with open(spec_path, "w", encoding="utf-8") as f:
            f.write(text + ("" if text.endswith("\n") else "\n") + "\n" + NEW_COUNTER)
        counters = counters_of(spec_path)
        check([c["name"] for c in counters] == [c["name"] for c in old_counters] + [NAME],
              "appended %s to the copy's spec/metrics.yaml as counter %d" % (NAME, n_old + 1))
        before["spec/metrics.yaml"] = "(before the edit)"

        t = time.monotonic()
        built = build_copy(copy, build)
        if built is None:
            return 1
        print("     (setup and build: %.0fs)" % (time.monotonic() - t), flush=True)
        check_only_yaml_changed(before, tree_state(copy, "build"))
        check_generated(copy, build, n_old)

        needed = [os.path.join(build, rel) for rel in ("cli/papyra", "tests/cli-writer")]
        if check(all(os.path.exists(p) for p in needed),
                 "the copy's papyra and cli-writer are built"):
            new, json_file, want_json = check_counter_moves(copy, build, tmp, counters)
            if want_json:
                check_abi(copy, build, tmp, counters, n_old, json_file, want_json)
                check_old_and_new_cli(new, tmp, counters, n_old, json_file, want_json)

        t = time.monotonic()
        run_nested_suite(copy, build, built)
        print("     (nested suite: %.0fs)" % (time.monotonic() - t), flush=True)
    finally:
        if keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print("%d passed, %d failed" % (len(passed), len(failures)), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
