#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests of the real `papyra` binary: output strings, exit codes, files.

Usage: test-cli.py PAPYRA CLI_WRITER METRICS_SCHEMA_JSON

Each test works in its own mkdtemp directory. Upstream's tests/cli/* are
translated to our binary and our exit codes (0 ok, 1 failed, 2 anomalies,
64 usage).
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import jsonschema

PAPYRA, WRITER, SCHEMA_PATH = (os.path.abspath(a) for a in sys.argv[1:4])
del sys.argv[1:4]
with open(SCHEMA_PATH, encoding="utf-8") as f:
    SCHEMA = json.load(f)

# Every counter the spec declares, in its order: the generated JSON Schema of
# `--json` lists them, so a counter added to the spec is checked here too.
COUNTERS = list(SCHEMA["properties"])

EXIT_OK, EXIT_FAIL, EXIT_ANOMALY, EXIT_USAGE = 0, 1, 2, 64


def base_env():
    env = dict(os.environ)
    env.pop("PAPYRA_PERSISTENCE", None)
    env["NO_COLOR"] = "1"
    return env


def run(args, cwd=None, env=None, timeout=60):
    p = subprocess.run([PAPYRA] + list(args), cwd=cwd, env=env or base_env(),
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def writer(*args, check=True):
    p = subprocess.run([WRITER] + list(args), capture_output=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("cli-writer failed: " + p.stderr.decode())
    return p


def table_rows(out):
    """Counter -> value cell of a box-drawn table (split on │ as upstream's tests do)."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in re.split("[│┃|]", line) if c.strip()]
        if len(cells) >= 2 and cells[0] in COUNTERS:
            rows[cells[0]] = cells[1]
    return rows


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_prometheus(text):
    """Samples {name: value} and {name: type}; asserts every line is well formed."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line == "# EOF":
            continue
        m = PROM_LINE.match(line)
        if not m:
            raise AssertionError("malformed exposition line: %r" % line)
        samples[m.group(1)] = float(m.group(3)) if "." in m.group(3) else int(m.group(3))
    return samples, types


TRUNCATED = '{"kind": "event", "timestamp": 1}\n{"kind": "ev'


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="papyra-cli-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def p(self, *names):
        return os.path.join(self.dir, *names)

    def run_on_tty(self, args, env):
        """Runs with stdout and stderr on a pseudo-terminal; returns (rc, output)."""
        import pty
        try:
            master, slave = pty.openpty()
        except OSError as e:
            self.skipTest("no pseudo-terminal: %s" % e)
        p = subprocess.Popen([PAPYRA] + args, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        return p.wait(timeout=30), b"".join(chunks).decode("utf-8")

    def assertOneLineError(self, result, code, needle=None, context=None):
        """A run that exits @code, prints nothing and says why in one "papyra: " line."""
        rc, out, err = result
        self.assertEqual(rc, code, (context, out, err))
        self.assertEqual(out, "", context)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertTrue(err.startswith("papyra: "), err)
        if needle:
            self.assertIn(needle, err)
        return err

    def assertUsage(self, args, needle=None):
        return self.assertOneLineError(run(args, cwd=self.dir), EXIT_USAGE, needle, args)


class TopLevel(Base):
    def test_version(self):
        rc, out, _ = run(["--version"])
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^papyra \d+\.\d+\.\d+")

    def test_help_everywhere(self):
        for args in (["--help"], [], ["metrics", "--help"], ["persistence"],
                     ["inspect", "--help"], ["doctor"], ["metrics", "persistence", "--help"],
                     ["metrics", "reset", "--help"], ["persistence", "scan", "--help"],
                     ["persistence", "recover", "--help"],
                     ["persistence", "startup-check", "--help"],
                     ["persistence", "compact", "--help"], ["persistence", "inspect", "--help"],
                     ["inspect", "events", "--help"], ["inspect", "audits", "--help"],
                     ["inspect", "dead-letters", "--help"], ["inspect", "summary", "--help"],
                     ["doctor", "run", "--help"]):
            rc, out, err = run(args, cwd=self.dir)
            self.assertEqual(rc, 0, args)
            self.assertIn("Usage: papyra", out, args)
            self.assertIn("64", out, args)  # the exit-code table
            self.assertEqual(err, "", args)
        self.assertEqual(os.listdir(self.dir), [])

    def test_usage_errors_exit_64(self):
        self.assertUsage(["--bogus"], "--bogus")
        self.assertUsage(["nosuchgroup"], "nosuchgroup")
        self.assertUsage(["metrics", "nosuchcmd"], "nosuchcmd")
        self.assertUsage(["metrics", "persistence", "--bogus"], "--bogus")
        self.assertUsage(["metrics", "persistence", "extra"], "extra")
        self.assertUsage(["metrics", "persistence", "--format", "xml"], "xml")
        self.assertUsage(["metrics", "persistence", "--format"], "--format")
        self.assertUsage(["metrics", "persistence", "--json=1"], "--json")
        self.assertUsage(["metrics", "persistence", "--watch", "-1"], "--watch")
        self.assertUsage(["metrics", "persistence", "--watch", "abc"], "--watch")
        self.assertUsage(["metrics", "persistence", "--count", "2"], "--count")
        self.assertUsage(["metrics", "persistence", "--json", "--format", "prometheus"])
        self.assertUsage(["metrics", "persistence", "--detail", "--format", "table"])
        self.assertUsage(["--persistence", "a.jsonl", "--path", "b", "metrics", "persistence"])
        self.assertUsage(["--persistence", "", "metrics", "persistence"])
        self.assertUsage(["persistence", "recover", "--mode", "bogus"], "bogus")
        self.assertUsage(["persistence", "recover", "--mode", "quarantine"], "--quarantine-dir")
        self.assertUsage(["persistence", "startup-check", "--mode", "bogus"], "bogus")
        self.assertUsage(["persistence", "startup-check", "--recovery-mode", "x"], "x")
        self.assertUsage(["persistence", "inspect", "--limit", "-3"], "--limit")
        self.assertUsage(["inspect", "events", "--since", "yesterday"], "--since")
        self.assertUsage(["inspect", "events", "--target", "x"], "--target")
        self.assertUsage(["doctor", "run", "--mode", "nope"], "nope")
        self.assertUsage(["doctor", "run", "--mode", "recover", "--recovery-mode", "quarantine"],
                         "--quarantine-dir")
        self.assertEqual(os.listdir(self.dir), [], "a usage error created files")

    def test_malformed_urls_exit_64(self):
        for url in ("nocolon", "ftp:x", "json:", "json:/tmp/a%zz", ":x"):
            self.assertUsage(["--persistence", url, "metrics", "persistence"])

    def test_malformed_url_when_opening_store_exits_64(self):
        self.assertUsage(["--persistence", "json:" + self.p("d.jsonl") + "?max_records=0",
                          "persistence", "scan"])
        self.assertUsage(["--persistence", "json:" + self.p("d.jsonl") + "?bogus=1",
                          "inspect", "events"])
        self.assertUsage(["--persistence", "nocolon", "persistence", "scan"])


class Metrics(Base):
    def url(self, name="data.jsonl"):
        return "json:" + self.p(name)

    def metrics(self, *args, url=None):
        return run(["--persistence", url or self.url(), "metrics"] + list(args), cwd=self.dir)

    def counters(self, backend="json", path=None, **values):
        writer("counters", path or self.p("data.jsonl.metrics"), backend,
               *["%s=%d" % kv for kv in values.items()])

    def test_group_alone_shows_help(self):
        rc, out, err = run(["metrics"])
        self.assertEqual(rc, 0)
        self.assertIn("Inspect runtime metrics", out)
        self.assertIn("records_written (Write)", out)  # papyra_metrics_help_text()
        self.assertIn("Increments:", out)

    def test_missing_metrics_file(self):
        rc, out, err = self.metrics("persistence")
        self.assertEqual(rc, EXIT_FAIL)
        self.assertEqual(out, "")
        self.assertEqual(
            err.strip(),
            "papyra: no metrics yet for %s: %s.metrics does not exist (the store has not "
            "been opened by an application)" % (self.url(), self.p("data.jsonl")))
        self.assertEqual(os.listdir(self.dir), [], "metrics persistence created files")
        rc, _, err = self.metrics("reset")
        self.assertEqual(rc, EXIT_FAIL)
        self.assertIn("no metrics yet", err)
        self.assertEqual(os.listdir(self.dir), [])

    def test_default_store_and_env(self):
        rc, _, err = run(["metrics", "persistence"], cwd=self.dir)
        self.assertEqual(rc, EXIT_FAIL)
        self.assertIn("json:papyra-data/events.jsonl", err)
        self.assertIn("papyra-data/events.jsonl.metrics does not exist", err)
        self.assertEqual(os.listdir(self.dir), [])
        env = base_env()
        env["PAPYRA_PERSISTENCE"] = self.url("env.jsonl")
        self.counters(path=self.p("env.jsonl.metrics"), records_written=4)
        rc, out, _ = run(["metrics", "persistence", "--json"], cwd=self.dir, env=env)
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out)["records_written"], 4)
        # --path FILE is json:FILE and wins over the environment.
        self.counters(path=self.p("p.jsonl.metrics"), records_written=9)
        rc, out, _ = run(["--path", self.p("p.jsonl"), "metrics", "persistence", "--json"],
                         cwd=self.dir, env=env)
        self.assertEqual(json.loads(out)["records_written"], 9)
        # Global options may also follow the command.
        rc, out, _ = run(["metrics", "persistence", "--json", "--path", self.p("p.jsonl")],
                         cwd=self.dir, env=env)
        self.assertEqual(json.loads(out)["records_written"], 9)

    def test_table(self):
        rc, _, _ = run(["metrics", "persistence"])
        self.counters(records_written=3, write_errors=5, scan_operations=2,
                      anomaly_detected=1, recovery_attempts=1, recovery_failures=1,
                      compactions_triggered=4, compaction_errors=2, records_read=7,
                      read_errors=6)
        rc, out, err = self.metrics("persistence")
        self.assertEqual(rc, 0, err)
        self.assertIn("Persistence Metrics", out)
        self.assertNotIn("\x1b", out)  # not a terminal: no colour
        want = {c: "0" for c in COUNTERS}
        want.update({
            "records_written": "3", "write_errors": "5", "records_read": "7",
            "read_errors": "6", "scan_operations": "2", "anomaly_detected": "1",
            "recovery_attempts": "1", "recovery_failures": "1",
            "compactions_triggered": "4", "compaction_errors": "2"})
        self.assertEqual(table_rows(out), want)
        rc, out, _ = self.metrics("persistence", "--wide", "--ascii")
        self.assertEqual(rc, 0)
        self.assertIn("Records successfully written", out)
        self.assertEqual(table_rows(out)["write_errors"], "5")

    def test_fresh_file_shows_zeros(self):
        self.counters()
        rc, out, _ = self.metrics("persistence")
        self.assertEqual(rc, 0)
        rows = table_rows(out)
        self.assertEqual(rows["records_written"], "0")
        self.assertEqual(rows["write_errors"], "0")

    def test_json_matches_schema_exact_64_bit(self):
        big = 2 ** 64 - 3
        self.counters(records_written=big, write_errors=5)
        rc, out, err = self.metrics("persistence", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(list(doc), COUNTERS)
        self.assertEqual(doc["records_written"], big)
        self.assertEqual(doc["write_errors"], 5)
        rc, out2, _ = self.metrics("persistence", "--format", "json")
        self.assertEqual(json.loads(out2), doc)

    def test_unsupported_is_null_na_and_absent(self):
        path = self.p("mem.metrics")
        self.counters(backend="memory", path=path, records_written=2)
        url = "memory:?metrics=" + path
        rc, out, err = self.metrics("persistence", "--json", url=url)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        jsonschema.validate(doc, SCHEMA)
        self.assertIsNone(doc["compactions_triggered"])
        self.assertEqual(doc["records_written"], 2)
        rc, out, _ = self.metrics("persistence", url=url)
        self.assertEqual(table_rows(out)["compactions_triggered"], "n/a")
        rc, out, _ = self.metrics("persistence", "--format", "prometheus", url=url)
        samples, _ = parse_prometheus(out)
        self.assertNotIn("papyra_persistence_compactions_triggered_total", samples)
        # --metrics-file points a store without one at a file.
        rc, out, _ = run(["--persistence", "memory:", "--metrics-file", path, "metrics",
                          "persistence", "--json"])
        self.assertEqual(json.loads(out)["records_written"], 2)
        # Private counters cannot be read from outside.
        rc, out, err = run(["--persistence", "memory:", "metrics", "persistence"])
        self.assertEqual(rc, EXIT_FAIL)
        self.assertIn("does not expose metrics", err)
        rc, out, err = self.metrics("persistence", url=self.url() + "?metrics=none")
        self.assertEqual(rc, EXIT_FAIL)

    def test_prometheus_and_openmetrics_parse_back(self):
        self.counters(records_written=12, write_errors=1, anomaly_detected=3)
        rc, out, err = self.metrics("persistence", "--format", "prometheus")
        self.assertEqual(rc, 0, err)
        samples, types = parse_prometheus(out)
        for name in COUNTERS:
            metric = "papyra_persistence_%s_total" % name
            self.assertIn(metric, samples)
            self.assertEqual(types[metric], "counter")
        self.assertEqual(samples["papyra_persistence_records_written_total"], 12)
        self.assertEqual(samples["papyra_persistence_anomaly_detected_total"], 3)
        self.assertIn('{backend="json"}', out)
        rc, out, _ = self.metrics("persistence", "--format", "openmetrics")
        self.assertEqual(rc, 0)
        self.assertTrue(out.rstrip("\n").endswith("# EOF"))
        samples, types = parse_prometheus(out)
        self.assertEqual(samples["papyra_persistence_write_errors_total"], 1)
        self.assertEqual(types["papyra_persistence_write_errors"], "counter")

    def test_labels_tell_two_stores_apart_in_one_exposition(self):
        self.counters(records_written=12)
        self.counters(path=self.p("other.jsonl.metrics"), records_written=5)
        text = ""
        for store, name in (("orders", "data.jsonl"), ("audit", "other.jsonl")):
            rc, out, err = self.metrics("persistence", "--format", "prometheus", "--label",
                                        "store=" + store, "--label", 'host=a "b"',
                                        url=self.url(name))
            self.assertEqual(rc, 0, err)
            text += out
        series = {}
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            labels, value = line.split("{", 1)[1].rsplit("} ", 1)
            key = (line.split("{", 1)[0], labels)
            self.assertNotIn(key, series, "the same series twice: %r" % line)
            series[key] = value
            self.assertRegex(labels, r'^backend="json",store="(orders|audit)",host="a \\"b\\""$')
        written = "papyra_persistence_records_written_total"
        self.assertEqual(series[(written, 'backend="json",store="orders",host="a \\"b\\""')], "12")
        self.assertEqual(series[(written, 'backend="json",store="audit",host="a \\"b\\""')], "5")
        rc, out, err = self.metrics("persistence", "--format", "openmetrics", "--label", "store=o")
        self.assertEqual(rc, 0, err)
        self.assertIn('papyra_persistence_records_written_created{backend="json",store="o"} ', out)

    def test_bad_labels_exit_64(self):
        self.counters(records_written=1)
        for args, needle in ((["--label", "store=a"], "--format prometheus"),
                             (["--format", "json", "--label", "store=a"], "--format prometheus"),
                             (["--format", "prometheus", "--label", "store"], "NAME=VALUE"),
                             (["--format", "prometheus", "--label", "9=a"], "starts with"),
                             (["--format", "prometheus", "--label", "backend=x"], "backend"),
                             (["--format", "prometheus", "--label", "__a=x"], "reserved"),
                             (["--format", "prometheus", "--label", "a=1", "--label", "a=2"],
                              "twice"),
                             (["--format", "prometheus"] + ["--label", "a=1"] * 17,
                              "more than 16")):
            rc, out, err = self.metrics("persistence", *args)
            self.assertEqual(rc, EXIT_USAGE, (args, err))
            self.assertIn(needle, err)
            self.assertEqual(out, "")

    def test_detail(self):
        self.counters(records_written=3)
        rc, out, _ = self.metrics("persistence", "--detail")
        self.assertEqual(rc, 0)
        doc = json.loads(out)
        self.assertEqual(doc["backend"], "json")
        self.assertEqual(doc["counters"]["records_written"]["value"], 3)
        self.assertEqual(doc["counters"]["records_written"]["total"], 3)
        rc, out, _ = self.metrics("persistence", "--json", "--detail")
        self.assertEqual(json.loads(out)["counters"]["records_written"]["value"], 3)

    def test_reset_clears_everything_and_says_what(self):
        self.counters(records_written=7, write_errors=5, scan_operations=2)
        rc, out, err = self.metrics("reset")
        self.assertEqual(rc, 0, err)
        self.assertIn("Metrics reset at ", out)
        self.assertIn("records_written: 7", out)
        self.assertIn("write_errors: 5", out)
        rc, out, _ = self.metrics("persistence", "--json")
        # Unlike upstream, error counters are cleared too (the documented behaviour).
        self.assertEqual(json.loads(out), {c: 0 for c in COUNTERS})
        rc, out, _ = self.metrics("persistence", "--json", "--totals")
        self.assertEqual(json.loads(out)["records_written"], 7)
        self.counters(records_written=2)
        rc, out, err = self.metrics("reset", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        jsonschema.validate(doc["cleared"], SCHEMA)
        self.assertEqual(doc["cleared"]["records_written"], 2)
        self.assertEqual(doc["reset_count"], 2)
        self.assertEqual(doc["metrics_file"], self.p("data.jsonl.metrics"))
        self.assertRegex(doc["reset_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_reset_report_survives_a_full_stdout(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        self.counters(records_written=7)
        with open("/dev/full", "w") as full:
            p = subprocess.run([PAPYRA, "--persistence", self.url(), "metrics", "reset"],
                               stdout=full, stderr=subprocess.PIPE, env=base_env())
        self.assertEqual(p.returncode, EXIT_FAIL)
        self.assertIn('"records_written":7', p.stderr.decode())
        rc, out, err = self.metrics("persistence", "--json")
        self.assertEqual(json.loads(out)["records_written"], 0)

    def test_foreign_metrics_file_is_never_replaced(self):
        path = self.p("data.jsonl.metrics")
        foreign = b"this is not a metrics file" * 20
        with open(path, "wb") as f:
            f.write(foreign)
        err = self.assertOneLineError(self.metrics("persistence"), EXIT_FAIL, path)
        self.assertNotIn("--recreate", err)
        rc, out, err = self.metrics("reset", "--recreate")
        self.assertEqual(rc, EXIT_FAIL, out + err)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), foreign)
        # The data file given as the metrics file by mistake survives too.
        data = self.p("data.jsonl")
        with open(data, "w") as f:
            f.write('{"kind": "event", "timestamp": 1}\n')
        rc, out, err = run(["--metrics-file", data, "--path", data, "metrics", "reset",
                            "--recreate"])
        self.assertEqual(rc, EXIT_FAIL, out + err)
        with open(data) as f:
            self.assertEqual(f.read(), '{"kind": "event", "timestamp": 1}\n')

    def test_corrupt_metrics_file_and_recreate(self):
        path = self.p("data.jsonl.metrics")
        self.counters(records_written=3)
        with open(path, "r+b") as f:
            f.seek(30)
            f.write(b"\x7f")  # inside the checksummed header
        err = self.assertOneLineError(self.metrics("persistence"), EXIT_FAIL, path)
        self.assertIn("papyra metrics reset --recreate", err)
        rc, out, err = self.metrics("reset")
        self.assertEqual(rc, EXIT_FAIL)
        self.assertIn("--recreate", err)
        rc, out, err = self.metrics("reset", "--recreate")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.metrics("persistence", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {c: 0 for c in COUNTERS})
        # Truncated files too.
        with open(path, "r+b") as f:
            f.truncate(10)
        rc, out, err = self.metrics("persistence")
        self.assertEqual(rc, EXIT_FAIL)
        self.assertIn("--recreate", err)

    def test_reset_without_write_access(self):
        self.counters(records_written=1)
        path = self.p("data.jsonl.metrics")
        os.chmod(path, stat.S_IRUSR)
        if os.geteuid() == 0:
            # Root ignores permission bits; an immutable file stops it too.
            chattr = shutil.which("chattr")
            if not chattr or subprocess.run([chattr, "+i", path],
                                            capture_output=True).returncode != 0:
                self.skipTest("root ignores file permissions and chattr +i is unavailable")
            self.addCleanup(subprocess.run, [chattr, "-i", path], capture_output=True)
        rc, out, err = self.metrics("reset")
        self.assertEqual(rc, EXIT_FAIL)
        self.assertIn("cannot reset", err)
        self.assertEqual(out, "")
        rc, out, _ = self.metrics("persistence", "--json")  # reading still works
        self.assertEqual(json.loads(out)["records_written"], 1)

    def test_colour_only_on_a_terminal_without_no_color(self):
        self.counters(write_errors=1)  # a non-zero error counter is highlighted
        args = ["--persistence", self.url(), "metrics", "persistence"]
        env = base_env()
        del env["NO_COLOR"]
        rc, out = self.run_on_tty(args, env)
        self.assertEqual(rc, 0)
        self.assertIn("\x1b[", out)
        rc, out = self.run_on_tty(args + ["--wide"], base_env())  # NO_COLOR=1
        self.assertEqual(rc, 0)
        self.assertNotIn("\x1b[", out)
        rc, out, _ = run(args, env=env)  # a pipe
        self.assertNotIn("\x1b[", out)

    def test_watch(self):
        self.counters(records_written=1)
        rc, out, err = self.metrics("persistence", "--watch", "0.05", "--count", "3")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count("Persistence Metrics"), 3)
        self.assertIn("Rate/s", out)
        rc, out, err = self.metrics("persistence", "--watch", "0.05", "--count", "2", "--json")
        self.assertEqual(rc, 0, err)
        frames = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(frames), 2)
        jsonschema.validate(frames[0]["values"], SCHEMA)
        self.assertIsNone(frames[0]["rates"]["records_written"])
        self.assertIsInstance(frames[1]["rates"]["records_written"], float)

    def test_watch_stops_on_sigint(self):
        self.counters()
        p = subprocess.Popen([PAPYRA, "--persistence", self.url(), "metrics", "persistence",
                              "--watch", "0.05"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=base_env())
        # The handler is installed before the first frame is printed.
        first = p.stdout.readline()
        self.assertIn(b"Persistence Metrics", first)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)


class Persistence(Base):
    def path_args(self, name="events.jsonl"):
        return ["--path", self.p(name)]

    def write(self, text, name="events.jsonl"):
        with open(self.p(name), "w", encoding="utf-8") as f:
            f.write(text)

    def read(self, name="events.jsonl"):
        with open(self.p(name), encoding="utf-8") as f:
            return f.read()

    def test_scan_missing_file_is_healthy(self):
        rc, out, err = run(self.path_args("missing.jsonl") + ["persistence", "scan"])
        self.assertEqual(rc, 0, err)
        self.assertIn("\u2714 Persistence is healthy.", out)
        for args in (["inspect", "events"], ["inspect", "summary"], ["persistence", "inspect"],
                     ["doctor", "run"], ["persistence", "startup-check"]):
            rc, out, err = run(self.path_args("missing.jsonl") + args)
            self.assertEqual(rc, 0, (args, out, err))
        self.assertEqual(os.listdir(self.dir), [], "reading a missing store created files")

    def test_scan_finds_anomalies(self):
        self.write(TRUNCATED)
        rc, out, err = run(self.path_args() + ["persistence", "scan"])
        self.assertEqual(rc, EXIT_ANOMALY, err)
        self.assertEqual(err, "")  # no progress line when stderr is not a terminal
        rc, out = self.run_on_tty(self.path_args() + ["persistence", "scan"], base_env())
        self.assertEqual(rc, EXIT_ANOMALY)
        self.assertNotIn("Scanning", out)  # a quick scan shows no progress line
        self.assertIn("Found 1 persistence anomalies:", out)
        self.assertIn("\u2716 Found 1 persistence anomalies:", out)
        self.assertIn("anomal", out.lower())
        self.assertIn(self.p("events.jsonl"), out)
        self.assertEqual(self.read(), TRUNCATED, "scan changed the store")

    def test_long_scan_shows_a_progress_line_on_a_terminal(self):
        # Not in upstream's normal form (no spaces after the separators): every line takes the
        # full parser, so that the scan lasts longer than the line's first moment (300 ms);
        # lines in normal form are checked too fast for that.
        line = ('{"kind":"event","system_id":"local","actor_address":"local://1",'
                '"event_type":"ActorStarted","payload":{},"timestamp":1.5}\n')
        with open(self.p("big.jsonl"), "w") as f:
            chunk = line * 20000
            while f.tell() < 400 * 1024 * 1024:
                f.write(chunk)
        rc, out = self.run_on_tty(self.path_args("big.jsonl") + ["persistence", "scan"],
                                  base_env())
        self.assertEqual(rc, 0, out)
        self.assertIn("Scanning ... ", out)  # after a moment, with the elapsed time
        self.assertIn("\r\033[K", out)  # and erased before the result
        # How far the scan has got, from the store: "scan: 120.0 MiB of 400.0 MiB (30%), 0.3s".
        shown = re.findall(r"Scanning \.\.\. scan: ([0-9.]+) MiB of ([0-9.]+) MiB \((\d+)%\), "
                           r"[0-9.]+s", out)
        self.assertTrue(shown, out[:2000])
        size = os.path.getsize(self.p("big.jsonl")) / (1 << 20)
        for done, total, pct in shown:
            self.assertAlmostEqual(float(total), size, delta=0.1)
            self.assertLessEqual(float(done), float(total))
            # The sizes are rounded to 0.1 MiB, the percentage is not.
            self.assertAlmostEqual(int(pct), float(done) * 100 / float(total), delta=1)

    def test_recover_repair_then_verified(self):
        self.write(TRUNCATED)
        rc, out, err = run(self.path_args() + ["persistence", "recover"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Recovery completed", out)
        self.assertIn("repaired " + self.p("events.jsonl"), out)
        lines = self.read().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertEqual(json.loads(lines[0])["timestamp"], 1)
        rc, out, _ = run(self.path_args() + ["persistence", "scan"])
        self.assertEqual(rc, 0, out)

    def test_recover_quarantine(self):
        self.write('{"kind": "event", "timestamp": 1}\n{not json}\n')
        qdir = self.p("q", "sub")
        rc, out, err = run(self.path_args() + ["persistence", "recover", "--mode", "QUARANTINE",
                                               "--quarantine-dir", qdir])
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(os.path.isdir(qdir))
        self.assertTrue(any("quarantine" in n for n in os.listdir(qdir)), os.listdir(qdir))
        self.assertIn("quarantined ", out)

    def test_recover_ignore_leaves_anomalies(self):
        self.write(TRUNCATED)
        rc, out, err = run(self.path_args() + ["persistence", "recover", "--mode", "ignore"])
        self.assertEqual(rc, EXIT_ANOMALY, out + err)
        self.assertEqual(self.read(), TRUNCATED)

    def test_startup_check(self):
        self.write(TRUNCATED)
        rc, out, err = run(self.path_args() + ["persistence", "startup-check", "--mode",
                                               "FAIL_ON_ANOMALY"])
        self.assertEqual(rc, EXIT_FAIL, out + err)
        self.assertIn("anomal", out.lower())
        rc, out, err = run(self.path_args() + ["persistence", "startup-check", "--mode",
                                               "scan_only"])
        self.assertEqual(rc, EXIT_ANOMALY, out + err)
        self.assertEqual(self.read(), TRUNCATED, "scan_only changed the store")
        rc, out, err = run(self.path_args() + ["persistence", "startup-check", "--mode",
                                               "ignore"])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.read(), TRUNCATED)
        rc, out, err = run(self.path_args() + ["persistence", "startup-check", "--mode",
                                               "recover", "--recovery-mode", "repair"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Recovery successful", out)
        rc, out, err = run(self.path_args() + ["persistence", "startup-check"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Persistence is healthy", out)

    def test_startup_check_recover_defaults_to_repair(self):
        self.write(TRUNCATED)
        rc, out, err = run(self.path_args() + ["persistence", "startup-check", "--mode",
                                               "recover"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Recovery successful", out)
        self.assertEqual(len(self.read().splitlines()), 1)

    def test_compact_prints_report(self):
        lines = ['{"kind": "event", "system_id": "local", "actor_address": "local://%d", '
                 '"event_type": "ActorStarted", "payload": {}, "timestamp": %d.0}' % (i, i)
                 for i in range(5)]
        self.write("\n".join(lines) + "\n")
        rc, out, err = run(["--persistence", "json:" + self.p("events.jsonl") +
                            "?max_records=2", "persistence", "compact"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("\u2139 Compaction completed", out)
        self.assertIn("before_records: 5", out)
        self.assertIn("after_records: 2", out)
        self.assertIn("removed_records: 3", out)
        self.assertEqual(len(self.read().splitlines()), 2)

    def test_compact_memory(self):
        rc, out, err = run(["--persistence", "memory:", "persistence", "compact"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("not supported", out)

    def test_inspect(self):
        self.write("")
        rc, out, err = run(self.path_args() + ["persistence", "inspect"])
        self.assertEqual(rc, 0, err)
        self.assertIn("Persistence Inspect", out)
        self.assertIn("backend:", out)
        self.assertIn("JsonFilePersistence", out)
        self.assertRegex(out, r"retention: max_records=\S+ max_age_seconds=\S+ "
                              r"max_total_bytes=\S+")
        self.assertIn("events_sampled: 0", out)
        ev = '{"kind": "event", "system_id": "local", "actor_address": "local://1", ' \
             '"event_type": "ActorStarted", "payload": {}, "timestamp": %d.0}\n'
        au = '{"kind": "audit", "system_id": "local", "timestamp": 5.5, "total_actors": 1, ' \
             '"alive_actors": 1, "stopping_actors": 0, "restarting_actors": 0, ' \
             '"registry_size": 1, "registry_orphans": ["a"], "registry_dead": [], ' \
             '"dead_letters_count": 0}\n'
        dl = '{"kind": "dead_letter", "system_id": "local", "target": "local://1", ' \
             '"message_type": "str", "payload": "late", "timestamp": %d.0}\n'
        self.write(ev % 1 + ev % 2 + au + dl % 3 + dl % 4 + dl % 5)
        rc, out, _ = run(self.path_args() + ["persistence", "inspect"])
        self.assertIn("events_sampled: 2\n", out)
        self.assertIn("audits_sampled: 1\n", out)
        self.assertIn("dead_letters_sampled: 3\n", out)
        rc, out, _ = run(self.path_args() + ["persistence", "inspect", "--limit", "1"])
        self.assertEqual(out.count(" (capped)"), 3, out)
        rc, out, _ = run(self.path_args() + ["persistence", "inspect", "--show-metrics"])
        self.assertIn("metrics:", out)
        for c in COUNTERS:
            self.assertIn(c, out)

    def test_metrics_file_option_reaches_the_store(self):
        self.write(TRUNCATED)
        mfile = self.p("elsewhere", "counters.metrics")
        os.mkdir(self.p("elsewhere"))
        rc, out, err = run(self.path_args() + ["--metrics-file", mfile, "persistence", "scan"])
        self.assertEqual(rc, EXIT_ANOMALY, out + err)
        rc, out, err = run(["--persistence", "memory:", "--metrics-file", mfile, "metrics",
                            "persistence", "--json"])
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["scan_operations"], 1)
        self.assertEqual(doc["anomaly_detected"], 1)
        self.assertFalse(os.path.exists(self.p("events.jsonl.metrics")))

    def test_odd_file_names(self):
        name = "we%ird?na&me#.jsonl"
        writer("store", "json:" + self.p("we%25ird%3Fna%26me%23.jsonl"), "2")
        self.assertTrue(os.path.exists(self.p(name)))
        rc, out, err = run(["--path", self.p(name), "inspect", "events"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 2)
        rc, out, err = run(["--path", self.p(name), "metrics", "persistence", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["records_written"], 2)
        env = dict(base_env(), PAPYRA_PERSISTENCE="json:we%25ird%3Fna%26me%23.jsonl")
        rc, out, err = run(["metrics", "persistence", "--json"], cwd=self.dir, env=env)
        self.assertEqual(rc, 0, err)

    def test_unusable_metrics_file_is_reported_on_stderr(self):
        self.write('{"kind": "event", "timestamp": 1}\n')
        with open(self.p("events.jsonl.metrics"), "w") as f:
            f.write("not a metrics file at all, and long enough to have a header" * 8)
        rc, out, err = run(self.path_args("events.jsonl") + ["persistence", "scan"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Persistence is healthy", out)
        self.assertIn("warning", err)
        self.assertIn("private", err)

    def test_open_failure_exits_1(self):
        self.write("")  # a file where a directory should be
        rc, out, err = run(self.path_args("events.jsonl/sub/x.jsonl") + ["inspect", "events"])
        self.assertEqual(rc, EXIT_FAIL, out + err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)


class Doctor(Base):
    def setUp(self):
        super().setUp()
        self.data = self.p("events.jsonl")

    def doctor(self, *args):
        return run(["--path", self.data, "doctor", "run"] + list(args), cwd=self.dir)

    def test_healthy(self):
        rc, out, err = run(["doctor", "run"], cwd=self.dir)  # the default store
        self.assertEqual(rc, 0, err)
        self.assertIn("Persistence is healthy", out)

    def test_modes(self):
        with open(self.data, "w") as f:
            f.write(TRUNCATED)
        rc, out, err = self.doctor("--mode", "fail_on_anomaly")
        self.assertEqual(rc, EXIT_FAIL, out + err)
        self.assertIn("anomal", out.lower())
        rc, out, err = self.doctor("--mode", "scan_only")
        self.assertEqual(rc, EXIT_ANOMALY, out + err)
        with open(self.data) as f:
            self.assertEqual(f.read(), TRUNCATED, "scan_only changed the store")
        rc, out, err = self.doctor("--mode", "ignore")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("ignored", out)
        rc, out, err = self.doctor("--mode", "recover", "--recovery-mode", "repair")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Recovery successful", out)
        with open(self.data) as f:
            self.assertEqual(len(f.read().splitlines()), 1)
        rc, out, err = self.doctor()
        self.assertEqual(rc, 0, out + err)


class Inspect(Base):
    def setUp(self):
        super().setUp()
        self.data = self.p("events.jsonl")

    def add(self, *lines):
        with open(self.data, "a", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")

    def inspect(self, *args):
        return run(["--path", self.data, "inspect"] + list(args), cwd=self.dir)

    def event(self, ts, etype="ActorStarted", addr="local://1"):
        return {"kind": "event", "system_id": "local", "actor_address": addr,
                "event_type": etype, "payload": {}, "timestamp": ts}

    def test_empty(self):
        for cmd, msg in (("audits", "No audit reports recorded."),
                         ("dead-letters", "No dead letters recorded."),
                         ("events", "No events recorded.")):
            rc, out, err = self.inspect(cmd)
            self.assertEqual(rc, 0, err)
            self.assertIn(msg, out)
            rc, out, err = self.inspect(cmd, "--reverse")
            self.assertIn(msg, out)  # upstream printed nothing here
        rc, out, _ = self.inspect("summary")
        self.assertIn("No audit data available.", out)

    def test_audits_and_summary(self):
        self.add({"kind": "audit", "system_id": "local", "timestamp": 5.0, "total_actors": 10,
                  "alive_actors": 8, "stopping_actors": 1, "restarting_actors": 1,
                  "registry_size": 0, "registry_orphans": [], "registry_dead": [],
                  "dead_letters_count": 2},
                 {"kind": "audit", "system_id": "local", "timestamp": 6.0, "total_actors": 5,
                  "alive_actors": 5, "stopping_actors": 0, "restarting_actors": 0,
                  "registry_size": 0, "registry_orphans": [], "registry_dead": [],
                  "dead_letters_count": 4})
        rc, out, _ = self.inspect("audits")
        self.assertIn("total=10", out)
        self.assertIn("alive=8", out)
        self.assertIn("dead_letters=2", out)
        rc, out, _ = self.inspect("summary")
        self.assertIn("Actors: total=5", out)
        self.assertIn("Dead letters: 4", out)

    def test_dead_letters(self):
        for i, t in enumerate(("local://1", "local://2", "local://3")):
            self.add({"kind": "dead_letter", "system_id": "local", "target": t,
                      "message_type": "str", "payload": "msg%d" % i, "timestamp": 300.0 + i})
        rc, out, _ = self.inspect("dead-letters")
        self.assertIn("target=local://1", out)
        self.assertIn("type=str", out)
        self.assertIn("msg0", out)
        rc, out, _ = self.inspect("dead-letters", "--target", "local://2")
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertIn("target=local://2", out)
        rc, out, _ = self.inspect("dead-letters", "--target", "local://9")
        self.assertIn("No dead letters recorded.", out)

    def test_events(self):
        self.add(self.event(100.0), self.event(101.0, "ActorStopped", "local://2"),
                 self.event(102.0), self.event(103.0))
        rc, out, _ = self.inspect("events")
        self.assertIn("[100.000] ActorStarted local://1", out)
        rc, out, _ = self.inspect("events", "--event-type", "ActorStopped")
        self.assertEqual(out.splitlines(), ["\u2139 [101.000] ActorStopped local://2"])
        rc, out, _ = self.inspect("events", "--limit", "2")
        self.assertEqual(len(out.splitlines()), 2)
        self.assertIn("102.000", out)
        self.assertIn("103.000", out)
        # Filters apply before the limit: upstream showed nothing here.
        rc, out, _ = self.inspect("events", "--event-type", "ActorStopped", "--limit", "1")
        self.assertEqual(len(out.splitlines()), 1)
        rc, out, _ = self.inspect("events", "--reverse")
        self.assertIn("103.000", out.splitlines()[0])
        rc, out, _ = self.inspect("events", "--since", "102")
        self.assertEqual(len(out.splitlines()), 2)


class ConcurrentWriter(Base):
    def test_counts_seen_plus_cleared_add_up(self):
        n = 50000
        url = "json:" + self.p("live.jsonl")
        writer("store", url, "1")  # creates the data and metrics files
        rc, out, err = run(["--persistence", url, "metrics", "reset", "--json"])
        self.assertEqual(rc, 0, err)
        p = subprocess.Popen([WRITER, "store", url, str(n)])
        cleared = 0
        resets = 0
        while p.poll() is None or resets < 2:
            # Two resetting CLIs at once, racing each other and the writer.
            procs = [subprocess.Popen([PAPYRA, "--persistence", url, "metrics", "reset",
                                       "--json"], stdout=subprocess.PIPE, env=base_env())
                     for _ in range(2)]
            for r in procs:
                out, _ = r.communicate(timeout=60)
                self.assertEqual(r.returncode, 0)
                cleared += json.loads(out)["cleared"]["records_written"]
                resets += 1
            rc, out, err = run(["--persistence", url, "metrics", "persistence", "--json"])
            self.assertEqual(rc, 0, err)
        self.assertEqual(p.wait(), 0)
        rc, out, _ = run(["--persistence", url, "metrics", "persistence", "--json"])
        seen = json.loads(out)["records_written"]
        self.assertEqual(seen + cleared, n)
        with open(self.p("live.jsonl")) as f:
            self.assertEqual(sum(1 for _ in f), n + 1)


class OtherBackends(Base):
    def test_rotating_metrics_next_to_the_data(self):
        url = "rotating:%s?max_bytes=300&max_files=3" % self.p("rot.log")
        writer("store", url, "10")
        self.assertTrue(os.path.exists(self.p(".rot.log.metrics")))
        rc, out, err = run(["--persistence", url, "metrics", "persistence", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["records_written"], 10)
        rc, out, err = run(["--persistence", url, "inspect", "events", "--limit", "3"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 3)
        self.assertIn("[1009.000]", out)
        rc, out, err = run(["--persistence", url, "persistence", "scan"])
        self.assertEqual(rc, 0, out + err)

    def test_unreachable_redis_exits_1(self):
        rc, out, err = run(["--persistence", "redis://127.0.0.1:1/0", "persistence", "scan"])
        self.assertEqual(rc, EXIT_FAIL, out + err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_output_that_cannot_be_written_is_a_failure(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        with open("/dev/full", "w") as full:
            p = subprocess.run([PAPYRA, "--help"], stdout=full, stderr=subprocess.PIPE,
                               env=base_env())
        self.assertEqual(p.returncode, EXIT_FAIL)
        self.assertIn("cannot write the output", p.stderr.decode())

    def test_passwords_are_never_printed(self):
        for url in ("redis://alice:s3cret@127.0.0.1:1/0?prefix=p",
                    "redis://:s3cret@127.0.0.1:1/0",
                    "unix:%s?password=s3cret&db=0" % self.p("no.sock")):
            for args in (["persistence", "scan"], ["persistence", "inspect"],
                         ["metrics", "persistence"]):
                rc, out, err = run(["--persistence", url] + args)
                self.assertNotIn("s3cret", out + err, url)
                self.assertNotEqual(rc, 0, out + err)
            self.assertIn("***", err, url)

    def test_redis(self):
        server = shutil.which("redis-server")
        if not server:
            if os.environ.get("PAPYRA_TEST_REQUIRE_REDIS"):
                self.fail("PAPYRA_TEST_REQUIRE_REDIS is set but redis-server is not on PATH")
            self.skipTest("no redis-server")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--dir", self.dir],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.terminate)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.fail("redis-server did not start on port %d" % port)
        url = "redis://127.0.0.1:%d/0?prefix=clitest&metrics=%s" % (port, self.p("r.metrics"))
        writer("store", url, "4")
        rc, out, err = run(["--persistence", url, "metrics", "persistence", "--json"])
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(doc["records_written"], 4)
        rc, out, err = run(["--persistence", url, "inspect", "events"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 4)
        rc, out, err = run(["--persistence", url, "persistence", "scan"])
        self.assertEqual(rc, 0, out + err)
        rc, out, err = run(["--persistence", url, "persistence", "inspect"])
        self.assertIn("RedisStreamsPersistence", out)
        # Without metrics= the store names its default file; the CLI asks it.
        env = base_env()
        env["XDG_STATE_HOME"] = self.p("state")
        plain = "redis://127.0.0.1:%d/0?prefix=clitest2" % port
        subprocess.run([WRITER, "store", plain, "2"], env=env, check=True)
        rc, out, err = run(["--persistence", plain, "metrics", "persistence", "--json"],
                           env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["records_written"], 2)
        # The counters stay readable while the server is down: nothing connects.
        proc.terminate()
        proc.wait()
        rc, out, err = run(["--persistence", plain, "metrics", "persistence", "--json"],
                           env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["records_written"], 2)
        rc, out, err = run(["--persistence", plain, "persistence", "scan"], env=env)
        self.assertEqual(rc, EXIT_FAIL, out + err)


class UpstreamLines(Base):
    """Lines upstream Papyra (Python's json) writes and reads: kept, listed, written back."""

    SURROGATES = [
        '{"kind": "event", "system_id": "s \\udfff", "actor_address": "\\ud800", '
        '"event_type": "x \\ud800", "payload": {"k \\udc00": ["\\udbff \u00e9"]}, '
        '"timestamp": 1.5}',
        '{"kind": "audit", "system_id": "local", "timestamp": 2.0, "total_actors": 0, '
        '"alive_actors": 0, "stopping_actors": 0, "restarting_actors": 0, "registry_size": 0, '
        '"registry_orphans": ["\\udc00a"], "registry_dead": ["\\ud83d"], '
        '"dead_letters_count": 0}',
        '{"kind": "dead_letter", "system_id": "local", "target": null, '
        '"message_type": "x \\ud800", "payload": "\\udfff", "timestamp": 3.0}',
    ]

    def lines(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()

    def store_lines(self, url):
        """Every line of a json: file or of every file of a rotating: set."""
        path = url.split(":", 1)[1]
        if url.startswith("json:"):
            return self.lines(path)
        out = []
        for name in sorted(os.listdir(os.path.dirname(path))):
            full = os.path.join(os.path.dirname(path), name)
            if full.startswith(path) and not full.endswith(".metrics"):
                out += self.lines(full)
        return out

    def test_lone_surrogates_are_written_back_as_upstream_reads_them(self):
        src = self.p("src.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in self.SURROGATES))
        expected = sorted((json.loads(line) for line in self.SURROGATES), key=lambda d: json.dumps(d, sort_keys=True))
        for url in ("json:" + self.p("dst.jsonl"), "rotating:" + self.p("dst.log")):
            writer("copy", "json:" + src, url)
            got = self.store_lines(url)
            # Python's json reads every line back to the identical values.
            self.assertEqual(sorted((json.loads(line) for line in got), key=lambda d: json.dumps(d, sort_keys=True)), expected, url)
            for line in got:
                self.assertNotIn("\ud800", line)  # never a raw (unencodable) surrogate
            # encode(decode(line)) is stable: a second copy writes the same bytes.
            again = url + ".again"
            writer("copy", url, again)
            self.assertEqual(self.store_lines(again), got, url)

    def deep_line(self, depth, rotating):
        """An event whose payload nests depth levels, exactly as json.dumps() writes it."""
        payload = '{"a": [' * (depth // 2) + '"x"' + ']}' * (depth // 2)
        if depth % 2:
            payload = "[" + payload + "]"
        fields = ('"system_id": "local", "actor_address": null, "event_type": "deep", '
                  '"payload": %s, "timestamp": 7.5' % payload)
        if rotating:
            return "{" + fields + ', "kind": "event"}'
        return '{"kind": "event", ' + fields + "}"

    def test_deep_nesting_upstream_reads_is_listed_and_kept_by_scan_recover_compact(self):
        import sys as _sys
        # What upstream reads: the default recursion limit already allows ~994 levels,
        # and an application may raise it.
        old = _sys.getrecursionlimit()
        _sys.setrecursionlimit(20000)
        try:
            check = json.loads(self.deep_line(5000, False))
            self.assertEqual(json.dumps(check), self.deep_line(5000, False))
        finally:
            _sys.setrecursionlimit(old)
        good = '{"kind": "event", "system_id": "local", "actor_address": null, ' \
               '"event_type": "ok", "payload": {}, "timestamp": 1.0}'
        for depth in (600, 1000, 5000, 100000):
            for rotating in (False, True):
                name = "deep%d.%s" % (depth, "log" if rotating else "jsonl")
                path = self.p(name)
                url = ("rotating:" if rotating else "json:") + path
                line = self.deep_line(depth, rotating)
                first = good if not rotating else \
                    '{"system_id": "local", "actor_address": null, "event_type": "ok", ' \
                    '"payload": {}, "timestamp": 1.0, "kind": "event"}'
                data = (first + "\n" + line + "\n").encode()
                with open(path, "wb") as f:
                    f.write(data)
                what = "%s depth %d" % (url, depth)
                rc, out, err = run(["--persistence", url, "persistence", "scan"])
                self.assertEqual(rc, EXIT_OK, (what, out, err))
                # list returns it: a copy written from what list gave is the same line.
                dst = self.p("copy-" + name + ".jsonl")
                writer("copy", url, "json:" + dst)
                self.assertEqual(self.lines(dst), [good, self.deep_line(depth, False)], what)
                for op in ("recover", "compact"):
                    rc, out, err = run(["--persistence", url, "persistence", op])
                    self.assertEqual(rc, EXIT_OK, (what, op, out, err))
                    with open(path, "rb") as f:
                        self.assertEqual(f.read(), data, (what, op))

    GOOD_EVENT = {"kind": "event", "system_id": "local", "actor_address": None,
                  "event_type": "ok", "payload": {}, "timestamp": 1.0}
    GOOD_AUDIT = {"kind": "audit", "system_id": "local", "timestamp": 2.0, "total_actors": 1,
                  "alive_actors": 1, "stopping_actors": 0, "restarting_actors": 0,
                  "registry_size": 1, "registry_orphans": ["a"], "registry_dead": [],
                  "dead_letters_count": 0}

    def mistyped(self):
        """Records upstream writes and returns as they are, of types our structs cannot hold."""
        big = dict(self.GOOD_AUDIT, total_actors=2 ** 70, timestamp=3.0)
        orphans = dict(self.GOOD_AUDIT, registry_orphans="ab", timestamp=4.0)
        event = dict(self.GOOD_EVENT, event_type=5, timestamp=5.0)
        dead = {"kind": "dead_letter", "system_id": "local", "target": None,
                "message_type": None, "payload": None, "timestamp": 6.0}
        return [big, orphans, event, dead]

    def upstream_line(self, rec, rotating):
        """The line upstream's backend writes: "kind" first and UTF-8, or last and ASCII."""
        if rotating:
            rec = dict({k: v for k, v in rec.items() if k != "kind"}, kind=rec["kind"])
            return json.dumps(rec, ensure_ascii=True)
        return json.dumps(rec, ensure_ascii=False)

    def test_wrong_typed_fields_are_never_coerced_and_kept_by_recover_and_compact(self):
        records = [self.GOOD_EVENT, self.GOOD_AUDIT] + self.mistyped()
        why = ["Line 3: field 'total_actors' is an integer beyond 64 bits, a 64-bit integer is required",
               "Line 4: field 'registry_orphans' is a string, a list of strings is required",
               "Line 5: field 'event_type' is an integer, a string is required",
               "Line 6: field 'message_type' is null, a string is required"]
        for rotating in (False, True):
            name = "typed.log" if rotating else "typed.jsonl"
            url = ("rotating:" if rotating else "json:") + self.p(name)
            data = "".join(self.upstream_line(r, rotating) + "\n" for r in records).encode()
            with open(self.p(name), "wb") as f:
                f.write(data)
            # list skips them, counted as anomalies, and returns nothing coerced.
            dst = self.p("copy-" + name + ".jsonl")
            writer("copy", url, "json:" + dst)
            self.assertEqual([json.loads(line) for line in self.lines(dst)],
                             [self.GOOD_EVENT, self.GOOD_AUDIT], url)
            rc, out, err = run(["--persistence", url, "metrics", "persistence", "--json"])
            self.assertEqual(json.loads(out)["anomaly_detected"], 4, (url, out, err))
            # scan names the line, the field and the type.
            rc, out, err = run(["--persistence", url, "persistence", "scan"])
            self.assertEqual(rc, EXIT_ANOMALY, (url, out, err))
            for w in why:
                self.assertIn("MISTYPED_RECORD", out)
                self.assertIn(w, out, url)
            # not damage: a startup check does not stop the service for them.
            for mode in ("fail_on_anomaly", "recover"):
                rc, out, err = run(["--persistence", url, "persistence", "startup-check",
                                    "--mode", mode])
                self.assertEqual(rc, EXIT_OK, (url, mode, out, err))
                self.assertIn("kept 4 records with fields of a type libpapyra cannot return", out)
            # recover and compact keep every line byte for byte: upstream reads them.
            for op in ("recover", "compact"):
                rc, out, err = run(["--persistence", url, "persistence", op])
                self.assertEqual(rc, EXIT_OK, (url, op, out, err))
                with open(self.p(name), "rb") as f:
                    self.assertEqual(f.read(), data, (url, op))
            # retention goes by the timestamp: the oldest two go, whatever their fields.
            rc, out, err = run(["--persistence", url + "?max_records=2", "persistence",
                                "compact"])
            self.assertEqual(rc, EXIT_OK, (url, out, err))
            with open(self.p(name), "rb") as f:
                kept = f.read().decode().splitlines()
            self.assertEqual(kept, [self.upstream_line(r, rotating) for r in records
                                    if r["timestamp"] != 2.0], url)

    def test_recover_repairs_damage_and_keeps_wrong_typed_records(self):
        mistyped = self.mistyped()
        for rotating in (False, True):
            name = "mixed.log" if rotating else "mixed.jsonl"
            url = ("rotating:" if rotating else "json:") + self.p(name)
            keep = [self.upstream_line(r, rotating) for r in [self.GOOD_EVENT] + mistyped]
            with open(self.p(name), "w", encoding="utf-8") as f:
                f.write(keep[0] + "\n" + "{not json\n" + "".join(k + "\n" for k in keep[1:]))
            for args in (["persistence", "recover"],
                         ["persistence", "startup-check", "--mode", "recover"]):
                rc, out, err = run(["--persistence", url] + args)
                self.assertEqual(rc, EXIT_OK, (url, args, out, err))
                self.assertNotIn("remain", out, (url, args))
                with open(self.p(name), encoding="utf-8") as f:
                    self.assertEqual(f.read().splitlines(), keep, (url, args))
                with open(self.p(name), "a", encoding="utf-8") as f:
                    f.write("{torn")

class StoreUrls(Base):
    """The CLI reads store URLs through the library's parser only."""

    def test_duplicated_parameter_exits_64_with_the_library_message(self):
        url = "json:" + self.p("d.jsonl") + "?fsync=always&fsync=never"
        for extra in ([], ["--metrics-file", self.p("m.metrics")]):
            for args in (["persistence", "scan"], ["metrics", "persistence"],
                         ["metrics", "reset"]):
                err = self.assertUsage(["--persistence", url] + extra + args,
                                       "parameter given twice: fsync")
                self.assertTrue(err.rstrip("\n").endswith(": parameter given twice: fsync"), err)
        self.assertEqual(os.listdir(self.dir), [], "a refused URL created files")

    def test_escaped_file_names_in_metrics_commands(self):
        writer("counters", self.p("a?b&c%.jsonl.metrics"), "json", "records_written=3")
        url = "json://" + self.p("a%3Fb%26c%25.jsonl")
        rc, out, err = run(["--persistence", url, "metrics", "persistence", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["records_written"], 3)
        rc, out, err = run(["--persistence", url, "metrics", "reset", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["metrics_file"], self.p("a?b&c%.jsonl.metrics"))
        # An escaped metrics= names the file that the store would use.
        writer("counters", self.p("m?x.metrics"), "memory", "records_written=4")
        rc, out, err = run(["--persistence", "memory:?metrics=" + self.p("m%3Fx.metrics"),
                            "metrics", "persistence", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["records_written"], 4)
        self.assertUsage(["--persistence", "json:" + self.p("x%2"), "metrics", "reset"],
                         "escape")

    def test_redis_aliases_in_metrics_commands(self):
        writer("counters", self.p("r.metrics"), "redis", "records_written=5")
        for url in ("unix:%s?metrics=%s&pass%%77ord=s3cret" % (self.p("no.sock"),
                                                               self.p("r.metrics")),
                    "redis://u:p%%40s3cret@127.0.0.1:1/0?metrics=%s" % self.p("r.metrics")):
            rc, out, err = run(["--persistence", url, "metrics", "persistence", "--json"])
            if "unavailable" in err:
                self.skipTest("this build has no Redis backend")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out)["records_written"], 5)
            rc, out, err = run(["--persistence", url, "persistence", "scan"])
            self.assertEqual(rc, EXIT_FAIL, out + err)
            self.assertNotIn("s3cret", out + err)
            self.assertIn("***", err)
        # rediss: is Redis with TLS, which the backend refuses: not a usage error.
        rc, out, err = run(["--persistence", "rediss://u:s3cret@127.0.0.1:1/0", "metrics",
                            "persistence"])
        self.assertEqual(rc, EXIT_FAIL, out + err)
        self.assertNotIn("s3cret", out + err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
