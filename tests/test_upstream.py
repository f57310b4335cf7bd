#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Upstream Papyra on the same files: what libpapyra leaves, upstream reads.

Usage: test_upstream.py PAPYRA CLI_WRITER

Upstream Papyra (Python) and libpapyra may run on one store. These tests
use the real `papyra` binary (and cli-writer as the application) on real
files, and check the result with upstream's own algorithms, reimplemented
here exactly as ../shared/reference/upstream-papyra.md documents them:

  * json: line splitting is Python's universal newlines ("\\n", "\\r\\n" and a
    lone "\\r" end a line): whatever upstream reads as a record, libpapyra
    lists, scans as clean, and keeps through recover and compact, whatever
    the readers' buffer boundaries;
  * nothing libpapyra leaves next to a rotating set matches upstream's
    orphan check (glob(base + "*") minus the expected set);
  * a filter of `papyra inspect` runs while the records stream, in memory
    that does not grow with the store.
"""
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest

PAPYRA, WRITER = (os.path.abspath(a) for a in sys.argv[1:3])
del sys.argv[1:3]

# The line readers' buffer size (src/files/lines.c, CHUNK).
CHUNK = 64 * 1024


def base_env():
    env = dict(os.environ)
    env.pop("PAPYRA_PERSISTENCE", None)
    env["NO_COLOR"] = "1"
    return env


def run(args, cwd=None, timeout=300, preexec_fn=None):
    return subprocess.run([PAPYRA] + args, cwd=cwd, env=base_env(), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec_fn)


def upstream_json_records(path):
    """Upstream's JsonFilePersistence._read_all: text mode, UTF-8, universal newlines."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def upstream_json_scan(path):
    """Upstream's JsonFilePersistence.scan: the anomalies it reports, as (type, detail)."""
    found = []
    with open(path, "r", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                found.append(("TRUNCATED_LINE", "Line %d missing newline" % n))
                break
            try:
                json.loads(line)
            except json.JSONDecodeError:
                found.append(("CORRUPTED_LINE", "Invalid JSON at line %d" % n))
    return found


LISTED = re.compile(r"\[(-?[0-9.]+)\] (\S+)")


def listed_events(out):
    """(timestamp text, event_type) of every line `papyra inspect events` printed."""
    return [m.groups() for m in LISTED.finditer(out)]


def event_line(i, pad=0):
    rec = {"kind": "event", "system_id": "local", "actor_address": "local://%d" % i,
           "event_type": "T%d" % i, "payload": {"pad": "x" * pad}, "timestamp": float(i)}
    return json.dumps(rec)


class JsonUniversalNewlines(unittest.TestCase):
    """7c: json: files split lines as upstream's universal newlines."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="papyra-upstream-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def build(self, name, parts):
        """Writes a file from (line, terminator) pairs; returns its path."""
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            for line, term in parts:
                f.write(line.encode() + term)
        return path

    def placed(self, name, before, term, at, after):
        """
        A file of @before lines (each "\\n"), then a padded line whose
        terminator @term starts at byte offset @at, then @after lines.
        """
        head = b"".join(event_line(i).encode() + b"\n" for i in range(before))
        bare = len(event_line(before, 0).encode())
        pad = at - len(head) - bare
        self.assertGreaterEqual(pad, 0)
        line = event_line(before, pad).encode()
        self.assertEqual(len(head) + len(line), at)
        tail = b"".join(event_line(before + 1 + i).encode() + b"\n" for i in range(after))
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(head + line + term + tail)
        return path

    def expected(self, path):
        return [("%.3f" % r["timestamp"], r["event_type"])
                for r in upstream_json_records(path) if r.get("kind") == "event"]

    def check_all(self, path):
        """list (all and the newest few), scan, recover and compact agree with upstream."""
        want = self.expected(path)
        self.assertGreater(len(want), 1)
        self.assertEqual(upstream_json_scan(path), [], "the fixture must be clean for upstream")
        p = run(["--path", path, "inspect", "events", "--limit", "0"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(listed_events(p.stdout), want)
        for n in (1, 2, 3):
            p = run(["--path", path, "inspect", "events", "--limit", str(n)])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(listed_events(p.stdout), want[-n:], "limit %d" % n)
        p = run(["--path", path, "persistence", "scan"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # A compaction with a retention limit reads the file backwards, then forwards.
        for op in (["persistence", "recover"], ["persistence", "compact"]):
            keep = path + ".keep"
            shutil.copyfile(path, keep)
            p = run(["--path", keep] + op)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(self.expected(keep), want, op)
            p = run(["--path", keep, "inspect", "events", "--limit", "0"])
            self.assertEqual(listed_events(p.stdout), want, op)
            os.unlink(keep)
        keep = path + ".keep"
        shutil.copyfile(path, keep)
        url = "json:%s?max_records=%d" % (keep, len(want) - 1)
        p = run(["--persistence", url, "persistence", "compact"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.expected(keep), want[1:])
        os.unlink(keep)

    def test_lone_cr_between_records(self):
        path = self.build("cr.jsonl", [(event_line(0), b"\r"), (event_line(1), b"\n")])
        self.check_all(path)

    def test_crlf(self):
        path = self.build("crlf.jsonl", [(event_line(i), b"\r\n") for i in range(4)])
        self.check_all(path)

    def test_mixed(self):
        terms = [b"\n", b"\r", b"\r\n", b"\r", b"\n", b"\r\n"]
        path = self.build("mixed.jsonl", [(event_line(i), t) for i, t in enumerate(terms)])
        self.check_all(path)

    def test_last_line_ends_in_cr(self):
        path = self.build("last.jsonl", [(event_line(0), b"\n"), (event_line(1), b"\r")])
        self.check_all(path)

    def test_crlf_across_forward_buffer(self):
        # "\r" last in the forward reader's first buffer, "\n" first in the next.
        path = self.placed("fwd.jsonl", 3, b"\r\n", CHUNK - 1, 3)
        self.check_all(path)

    def test_lone_cr_at_forward_buffer_end(self):
        path = self.placed("fwdcr.jsonl", 3, b"\r", CHUNK - 1, 3)
        self.check_all(path)

    def test_crlf_across_backward_buffer(self):
        # The backward reader loads CHUNK bytes from the end: "\r" is the last
        # byte before that chunk and "\n" its first, so the tail after the
        # "\n" is CHUNK - 1 bytes: a padded record and three small ones.
        head = b"".join(event_line(j).encode() + b"\n" for j in range(3))
        small = b"".join(event_line(100 + i).encode() + b"\n" for i in range(3))
        bare = len(event_line(99, 0).encode()) + 1
        filler = event_line(99, CHUNK - 1 - len(small) - bare).encode() + b"\n"
        data = head + event_line(3).encode() + b"\r\n" + filler + small
        self.assertEqual(data[len(data) - CHUNK - 1:len(data) - CHUNK + 1], b"\r\n")
        path = os.path.join(self.dir, "bwd.jsonl")
        with open(path, "wb") as f:
            f.write(data)
        self.check_all(path)

    def test_append_after_cr_tail(self):
        # A file ending in "\r" is terminated: an append adds no newline and glues nothing.
        path = self.build("append.jsonl", [(event_line(0), b"\r\n"), (event_line(1), b"\r")])
        subprocess.run([WRITER, "store", "json:" + path, "1"], check=True, env=base_env())
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(event_line(0).encode() + b"\r\n" +
                                        event_line(1).encode() + b"\r{"), data[:400])
        self.assertEqual(len(upstream_json_records(path)), 3)
        self.assertEqual(upstream_json_scan(path), [])
        p = run(["--path", path, "persistence", "scan"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


def upstream_orphans(base, max_files):
    """Upstream's RotatingFilePersistence.scan, step 1: glob(base + "*") minus the set."""
    expected = {base} | {"%s.%d" % (base, i) for i in range(1, max_files)}
    return sorted(set(glob.glob(base + "*")) - expected)


def metrics_json(url):
    p = run(["--persistence", url, "metrics", "persistence", "--json"])
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout)


def writer(*args, check=True):
    p = subprocess.run([WRITER] + list(args), env=base_env(), capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("cli-writer %s: exit %d: %s" % (args, p.returncode, p.stderr))
    return p


class RotatingSideFiles(unittest.TestCase):
    """7a: nothing libpapyra leaves next to a rotating set is an orphan to upstream."""

    MAX_FILES = 3

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="papyra-upstream-")
        self.base = os.path.join(self.dir, "r.log")
        self.url = "rotating:%s?max_bytes=400&max_files=%d" % (self.base, self.MAX_FILES)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def assertNoOrphan(self, step):
        self.assertEqual(upstream_orphans(self.base, self.MAX_FILES), [],
                         "after %s: %s" % (step, sorted(os.listdir(self.dir))))

    def cli(self, *args, ok=(0,)):
        p = run(["--persistence", self.url] + list(args))
        self.assertIn(p.returncode, ok, "%s: %s%s" % (args, p.stdout, p.stderr))
        return p

    def test_every_use_leaves_no_orphan(self):
        writer("store", self.url, "20")
        self.assertTrue(os.path.exists(self.base + ".2"), "the writes must rotate")
        self.assertNoOrphan("writes with rotation")
        self.assertEqual(metrics_json(self.url)["records_written"], 20)
        self.assertNoOrphan("metrics persistence")
        self.cli("metrics", "reset")
        self.assertNoOrphan("metrics reset")
        # A damaged metrics file is set aside and made again.
        hidden = os.path.join(self.dir, ".r.log.metrics")
        with open(hidden, "r+b") as f:
            f.truncate(7)
        self.cli("metrics", "reset", "--recreate")
        self.assertTrue(any(".metrics.invalid." in n for n in os.listdir(self.dir)))
        self.assertNoOrphan("metrics reset --recreate")
        self.cli("persistence", "scan")
        self.cli("inspect", "events", "--limit", "0")
        self.assertNoOrphan("scan and inspect")
        # Damage a rotated file; recover with the library's default quarantine place.
        with open(self.base + ".1", "ab") as f:
            f.write(b"not json\n")
        self.cli("persistence", "scan", ok=(2,))
        p = writer("recover", self.url, "quarantine")
        quarantined = p.stdout.split()
        self.assertTrue(quarantined, "recover must quarantine the damaged file")
        for q in quarantined:
            self.assertTrue(os.path.exists(q), q)
            self.assertFalse(q.startswith(self.base), q)
        self.assertNoOrphan("recover in quarantine mode")
        with open(self.base + ".1", "ab") as f:
            f.write(b"not json\n")
        writer("recover", self.url, "repair")
        self.assertNoOrphan("recover in repair mode")
        self.cli("persistence", "recover")
        self.cli("persistence", "compact")
        self.assertNoOrphan("compact")
        p = run(["--persistence", self.url + "&max_records=3", "persistence", "compact"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        writer("store", self.url, "20")
        self.assertNoOrphan("compact with retention and more writes")
        self.cli("persistence", "scan")
        self.assertGreater(metrics_json(self.url)["records_written"], 0)

    def test_old_metrics_file_is_migrated(self):
        old = self.base + ".metrics"
        writer("counters", old, "rotating", "records_written=7", "scan_operations=3")
        # The CLI, which opens no store, finds the counters under the old name.
        self.assertEqual(metrics_json(self.url)["records_written"], 7)
        writer("store", self.url, "2")
        self.assertFalse(os.path.exists(old), "the old metrics file must be gone")
        self.assertNoOrphan("migration")
        m = metrics_json(self.url)
        self.assertEqual((m["records_written"], m["scan_operations"]), (9, 3))
        hidden = [n for n in os.listdir(self.dir) if n.endswith(".metrics")]
        self.assertEqual(hidden, [".r.log.metrics"])

    def test_migration_by_processes_opening_at_once(self):
        old = self.base + ".metrics"
        for _ in range(5):
            writer("counters", old, "rotating", "records_written=7")
            procs = [subprocess.Popen([WRITER, "store", self.url, "3"], env=base_env())
                     for _ in range(4)]
            self.assertEqual([p.wait(timeout=120) for p in procs], [0] * 4)
            self.assertFalse(os.path.exists(old))
        self.assertEqual(metrics_json(self.url)["records_written"], 5 * (7 + 12))
        self.assertNoOrphan("concurrent migration")

    def test_old_and_new_metrics_files_are_folded(self):
        writer("store", self.url, "4")
        # An older libpapyra, started since, made the old name again and counted there.
        old = self.base + ".metrics"
        writer("counters", old, "rotating", "records_written=5", "write_errors=2")
        writer("store", self.url, "1")
        self.assertFalse(os.path.exists(old), "the old metrics file must be folded in and gone")
        m = metrics_json(self.url)
        self.assertEqual((m["records_written"], m["write_errors"]), (10, 2))
        self.assertNoOrphan("fold")

    def test_reset_counts_survive_migration(self):
        old = self.base + ".metrics"
        writer("counters", old, "rotating", "records_written=7")
        p = run(["--persistence", self.url, "metrics", "reset"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        writer("counters", old, "rotating", "records_written=2")
        writer("store", self.url, "1")
        self.assertFalse(os.path.exists(old))
        self.assertEqual(metrics_json(self.url)["records_written"], 3)
        # The lifetime total keeps what was counted before the reset.
        p = run(["--persistence", self.url, "metrics", "persistence", "--detail"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        c = json.loads(p.stdout)["counters"]["records_written"]
        self.assertEqual((c["value"], c["total"]), (3, 10))


def sanitized(binary):
    """Whether @binary runs under a sanitizer that maps a huge shadow (RLIMIT_AS cannot bound it)."""
    with open(binary, "rb") as f:
        data = f.read()
    return any(s in data for s in (b"__asan_init", b"__tsan_init", b"__msan_init"))


# The address space the CLI gets in FilteredInspectStreams: a tiny store needs
# under 8 MB here; listing the whole store below needs about 130 MB of heap.
MEMORY_LIMIT = 64 << 20
BIG_RECORDS = 400000
RARE = {i for i in range(BIG_RECORDS) if i % 50000 == 7}


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class FilteredInspectStreams(unittest.TestCase):
    """8: `inspect` with a filter streams the store: memory does not grow with it."""

    @classmethod
    def setUpClass(cls):
        if sanitized(PAPYRA):
            raise unittest.SkipTest("RLIMIT_AS cannot bound a sanitized binary")
        cls.dir = tempfile.mkdtemp(prefix="papyra-upstream-")
        cls.lines = []
        for i in range(BIG_RECORDS):
            if i % 1000 == 999:
                rec = {"kind": "dead_letter", "system_id": "local",
                       "target": "local://%d" % (i % 3), "message_type": "str",
                       "payload": "p%d" % i, "timestamp": float(i)}
            else:
                rec = {"kind": "event", "system_id": "local", "actor_address": "local://%d" % i,
                       "event_type": "Rare" if i in RARE else "ActorStarted",
                       "payload": {"n": i}, "timestamp": float(i)}
            cls.lines.append(json.dumps(rec))
        cls.path = os.path.join(cls.dir, "big.jsonl")
        with open(cls.path, "w") as f:
            f.write("\n".join(cls.lines) + "\n")
        # The same records as a rotating set of three files.
        cls.rot = os.path.join(cls.dir, "r.log")
        third = len(cls.lines) // 3
        for name, part in ((".2", cls.lines[:third]), (".1", cls.lines[third:2 * third]),
                           ("", cls.lines[2 * third:])):
            with open(cls.rot + name, "w") as f:
                f.write("\n".join(part) + "\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def inspect(self, url, *args):
        p = run(["--persistence", url, "inspect"] + list(args), preexec_fn=limit_memory)
        self.assertEqual(p.returncode, 0, p.stdout[-500:] + p.stderr)
        return p.stdout

    def rare_events(self):
        return [("%.3f" % i, "Rare") for i in sorted(RARE)]

    def test_json_limit_0(self):
        out = self.inspect("json:" + self.path, "events", "--event-type", "Rare", "--limit", "0")
        self.assertEqual(listed_events(out), self.rare_events())

    def test_json_limit_n_keeps_the_newest_matches(self):
        out = self.inspect("json:" + self.path, "events", "--event-type", "Rare", "--limit", "3")
        self.assertEqual(listed_events(out), self.rare_events()[-3:])
        out = self.inspect("json:" + self.path, "events", "--event-type", "Rare", "--limit", "2",
                           "--reverse")
        self.assertEqual(listed_events(out), self.rare_events()[-2:][::-1])
        out = self.inspect("json:" + self.path, "events", "--event-type", "Rare", "--limit", "0",
                           "--reverse")
        self.assertEqual(listed_events(out), self.rare_events()[::-1])
        # A limit far above the matches holds only the matches.
        out = self.inspect("json:" + self.path, "events", "--event-type", "Rare", "--limit",
                           "1000000000")
        self.assertEqual(listed_events(out), self.rare_events())

    def test_json_since_and_retention(self):
        url = "json:%s?max_records=200000" % self.path
        out = self.inspect(url, "events", "--event-type", "Rare", "--limit", "0",
                           "--since", "150000")
        # max_records keeps the newest 200000 events: those after 400000 - 200000 - 200 or so.
        want = [r for r in self.rare_events() if float(r[0]) >= 150000]
        kept = [json.loads(x) for x in self.lines if '"event"' in x][-200000:]
        first = kept[0]["timestamp"]
        self.assertEqual(listed_events(out), [r for r in want if float(r[0]) >= first])
        out = self.inspect("json:" + self.path, "events", "--event-type", "Nothing")
        self.assertIn("none match the filters", out)

    def test_dead_letters_target(self):
        out = self.inspect("json:" + self.path, "dead-letters", "--target", "local://1",
                           "--limit", "0")
        want = ["%.3f" % i for i in range(BIG_RECORDS) if i % 1000 == 999 and i % 3 == 1]
        self.assertEqual(re.findall(r"\[([0-9.]+)\] target=local://1 ", out), want)

    def test_rotating(self):
        url = "rotating:%s?max_files=3&max_bytes=1000000000" % self.rot
        out = self.inspect(url, "events", "--event-type", "Rare", "--limit", "0")
        self.assertEqual(listed_events(out), self.rare_events())
        out = self.inspect(url, "events", "--event-type", "Rare", "--limit", "2")
        self.assertEqual(listed_events(out), self.rare_events()[-2:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
