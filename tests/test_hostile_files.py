#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile sizes and files next to a store, against the real CLI binary.

Usage: test_hostile_files.py PAPYRA CLI_WRITER

1. Sizes: every numeric URL parameter of every backend has a documented
   range; a value outside it is refused (exit 64) with a message naming the
   parameter and the range, never a crash or a scan that takes minutes.
2. Files of the wrong type (a FIFO, a directory, a character device) where a
   data, rotated, metrics, lock or commit file is expected: every command
   fails with "not a regular file" (exit 1) instead of hanging. Every run is
   bounded by a timeout, so a hang fails the test instead of blocking.
3. Permissions: under umask 077 and 002 every file a store creates is no
   more permissive than its data file and never past the umask.
4. Symlinks: a data path that is a symbolic link is followed; compact,
   recover and rotation rewrite the target and the link stays a link.
"""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

PAPYRA, WRITER = (os.path.abspath(a) for a in sys.argv[1:3])
del sys.argv[1:3]

EXIT_OK, EXIT_FAIL, EXIT_ANOMALY, EXIT_USAGE = 0, 1, 2, 64
# Generous: a command on a tiny store finishes in milliseconds; only a hang reaches it.
TIMEOUT = 30


def env():
    e = dict(os.environ)
    e.pop("PAPYRA_PERSISTENCE", None)
    e["NO_COLOR"] = "1"
    return e


def run(cmd, umask=None, cwd=None):
    """Runs @cmd; a run that does not end within TIMEOUT is a failure, not a hang."""
    def pre():
        if umask is not None:
            os.umask(umask)
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, timeout=TIMEOUT,
                           preexec_fn=pre)
    except subprocess.TimeoutExpired:
        raise AssertionError("hung (no end within %d s): %s" % (TIMEOUT, " ".join(cmd)))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def papyra(url, *args, umask=None):
    return run([PAPYRA, "--persistence", url, *args], umask=umask)


def writer(url, n, umask=None):
    return run([WRITER, "store", url, str(n)], umask=umask)


def event(i):
    return {"kind": "event", "system_id": "local", "actor_address": "local://%d" % i,
            "event_type": "ActorStarted", "payload": {"i": i}, "timestamp": 1700000000.0 + i}


def events_seen(url):
    rc, out, err = papyra(url, "inspect", "events", "--limit", "0")
    if rc != 0:
        raise AssertionError("inspect failed: %d %s" % (rc, err))
    return [line for line in out.splitlines() if "ActorStarted" in line]


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="papyra-hostile-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def p(self, *names):
        return os.path.join(self.dir, *names)


class Sizes(Base):
    """Item 1: bounds on every numeric URL parameter."""

    # (url, parameter named in the message)
    def refused(self, url, param, *expect):
        rc, out, err = papyra(url, "persistence", "scan")
        self.assertEqual(rc, EXIT_USAGE, "%s: rc %d, stderr %r" % (url, rc, err))
        self.assertIn(param, err, url)
        for e in expect:
            self.assertIn(e, err, url)

    def test_rotating_max_files_beyond_the_range_is_refused(self):
        base = "rotating:" + self.p("r.log")
        for v in ("4611686018427387904", "9223372036854775807", "9999999", "10001",
                  "99999999999999999999"):
            self.refused(base + "?max_files=" + v, "max_files", "1..10000")

    def test_rotating_max_bytes_beyond_the_range_is_refused(self):
        base = "rotating:" + self.p("r.log")
        for v in ("1099511627777", "9223372036854775807", "0"):
            self.refused(base + "?max_bytes=" + v, "max_bytes", "1..1099511627776")

    def test_retention_beyond_the_range_is_refused_by_every_backend(self):
        for base in ("json:" + self.p("d.jsonl"), "rotating:" + self.p("r.log"),
                     "memory:"):
            sep = "&" if "?" in base else "?"
            self.refused(base + sep + "max_records=1000000000001", "max_records",
                         "1..1000000000000")
            self.refused(base + sep + "max_total_bytes=1125899906842625", "max_total_bytes",
                         "1..1125899906842624")
            self.refused(base + sep + "max_age_seconds=1e300", "max_age_seconds")
            self.refused(base + sep + "max_age_seconds=3155760001", "max_age_seconds")

    def test_redis_numbers_beyond_the_range_are_refused(self):
        # Refused while reading the URL: no server is needed (none listens on port 1).
        for url, param in (
                ("redis://127.0.0.1:1/0?maxlen=1000000000001", "maxlen"),
                ("redis://127.0.0.1:1/0?timeout_ms=3600001", "timeout_ms"),
                ("redis://127.0.0.1:1/0?connect_timeout_ms=3600001", "connect_timeout_ms"),
                ("redis://127.0.0.1:1/0?connections=100000", "connections"),
                ("redis://127.0.0.1:65536/0", "port"),
                ("redis://127.0.0.1:1/2147483648", "database"),
                ("unix:/nonexistent.sock?db=2147483648", "db")):
            rc, out, err = papyra(url, "persistence", "scan")
            self.assertEqual(rc, EXIT_USAGE, "%s: rc %d, stderr %r" % (url, rc, err))
            self.assertIn(param, err, url)
            self.assertRegex(err, r"\d+\.\.\d+", url)

    def test_the_largest_max_files_scans_an_empty_store(self):
        url = "rotating:" + self.p("r.log") + "?max_files=10000"
        rc, out, err = papyra(url, "persistence", "scan")
        self.assertEqual(rc, EXIT_OK, err)
        self.assertEqual(writer(url, 3)[0], 0)
        self.assertEqual(len(events_seen(url)), 3)

    def test_a_commit_file_naming_a_huge_set_is_refused_not_walked(self):
        url = "rotating:" + self.p("r.log")
        self.assertEqual(writer(url, 2)[0], 0)
        stage = self.p(".r.log.rebuild")
        os.mkdir(stage)
        with open(os.path.join(stage, "COMMIT"), "w") as f:
            f.write("1 4611686018427387904\n")
        rc, out, err = papyra(url, "persistence", "scan")
        self.assertEqual(rc, EXIT_FAIL, err)
        self.assertIn("COMMIT", err)


def fifo(path):
    os.mkfifo(path)


def directory(path):
    os.mkdir(path)


def chardev(path):
    os.symlink("/dev/null", path)


def unix_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()


KINDS = {"FIFO": fifo, "directory": directory, "character device": chardev,
         "socket": unix_socket}

JSON_CMDS = [
    ("persistence", "scan"),
    ("inspect", "events"),
    # A filter streams (papyra_store_each()): the same error as list.
    ("inspect", "events", "--event-type", "ActorStarted"),
    ("inspect", "summary"),
    ("persistence", "compact"),
    ("persistence", "recover", "--mode", "repair"),
    ("persistence", "recover", "--mode", "quarantine", "--quarantine-dir", "{q}"),
]


class WrongType(Base):
    """Item 2: never block on (or write into) a file of the wrong type."""

    def check_store_cmds(self, url, what, kind, write_opens=True):
        for cmd in JSON_CMDS:
            cmd = [c.format(q=self.p("q")) for c in cmd]
            rc, out, err = papyra(url, *cmd)
            self.assertEqual(rc, EXIT_FAIL, "%s %s as %s: rc %d %r" % (cmd, what, kind, rc,
                                                                       out + err))
            self.assertIn("not a regular file", err, "%s %s as %s" % (cmd, what, kind))
        rc, out, err = writer(url, 1)
        if not write_opens:
            # An append that does not rotate never opens a rotated file.
            self.assertEqual(rc, 0, "write, %s as %s: %r" % (what, kind, out + err))
            return
        self.assertEqual(rc, 1, "write, %s as %s: %r" % (what, kind, out + err))
        self.assertIn("not a regular file", err, "write, %s as %s" % (what, kind))

    def test_json_data_file_of_the_wrong_type(self):
        for kind, make in KINDS.items():
            with self.subTest(kind=kind):
                d = self.p(kind.replace(" ", "_"))
                os.mkdir(d)
                make(os.path.join(d, "d.jsonl"))
                url = "json:" + os.path.join(d, "d.jsonl")
                self.check_store_cmds(url, "data file", kind)

    def test_rotating_files_of_the_wrong_type(self):
        for name in ("r.log", "r.log.1", ".r.log.lock"):
            for kind, make in KINDS.items():
                with self.subTest(name=name, kind=kind):
                    d = self.p(name.strip(".") + "-" + kind.replace(" ", "_"))
                    os.mkdir(d)
                    url = "rotating:" + os.path.join(d, "r.log") + "?max_bytes=400"
                    self.assertEqual(writer(url, 4)[0], 0)
                    p = os.path.join(d, name)
                    self.assertTrue(os.path.exists(p), p)
                    os.unlink(p)
                    make(p)
                    self.check_store_cmds(url, name, kind, write_opens=name != "r.log.1")

    def test_rotating_commit_file_of_the_wrong_type(self):
        url = "rotating:" + self.p("r.log")
        self.assertEqual(writer(url, 2)[0], 0)
        os.mkdir(self.p(".r.log.rebuild"))
        fifo(self.p(".r.log.rebuild", "COMMIT"))
        rc, out, err = papyra(url, "persistence", "scan")
        self.assertEqual(rc, EXIT_FAIL, out + err)
        self.assertIn("not a regular file", err)

    def test_metrics_file_of_the_wrong_type(self):
        for scheme, name in (("json", "d.jsonl"), ("rotating", "r.log")):
            for kind, make in KINDS.items():
                with self.subTest(scheme=scheme, kind=kind):
                    d = self.p(scheme + "-" + kind.replace(" ", "_"))
                    os.mkdir(d)
                    data = os.path.join(d, name)
                    with open(data, "w") as f:
                        f.write(json.dumps(event(1)) + "\n")
                    # rotating: hides its metrics file from upstream's orphan glob.
                    make(os.path.join(d, "." + name + ".metrics") if scheme == "rotating"
                         else data + ".metrics")
                    url = "%s:%s" % (scheme, data)
                    for cmd in (("metrics", "persistence"), ("metrics", "persistence", "--json"),
                                ("metrics", "reset"), ("metrics", "reset", "--recreate")):
                        rc, out, err = papyra(url, *cmd)
                        self.assertEqual(rc, EXIT_FAIL, "%s: %r" % (cmd, out + err))
                        self.assertIn("not a regular file", err, cmd)
                    # Store commands work on with private counters, and say why.
                    for cmd in (("persistence", "scan"), ("inspect", "events"),
                                ("persistence", "compact")):
                        rc, out, err = papyra(url, *cmd)
                        self.assertEqual(rc, EXIT_OK, "%s: %r" % (cmd, out + err))
                        self.assertIn("not a regular file", err, cmd)
                    rc, out, err = writer(url, 1)
                    self.assertEqual(rc, 0, out + err)
                    self.assertIn("not a regular file", err)

    def test_memory_metrics_path_of_the_wrong_type(self):
        m = self.p("m.metrics")
        fifo(m)
        rc, out, err = papyra("memory:?metrics=" + m, "metrics", "persistence")
        self.assertEqual(rc, EXIT_FAIL, out + err)
        self.assertIn("not a regular file", err)


def modes_under(d):
    """(path, mode, is_dir) of everything under @d."""
    found = []
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                continue
            found.append((p, stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode)))
    return found


class Permissions(Base):
    """Item 3: nothing a store creates is more permissive than its data file or the umask."""

    def check(self, umask, data_mode, store_dir, created_dirs=()):
        allowed = 0o777 & ~umask
        # A directory the store made may add search (x) where the data file has read.
        dir_mode = data_mode | ((data_mode & 0o444) >> 2)
        files = modes_under(store_dir)
        self.assertTrue(files)
        for p, mode, is_dir in files:
            self.assertEqual(mode & ~allowed, 0, "%s: %o past umask %03o" % (p, mode, umask))
            if not is_dir:
                self.assertEqual(mode & ~data_mode, 0,
                                 "%s: %o more permissive than the data file's %o"
                                 % (p, mode, data_mode))
            elif os.path.basename(p) in created_dirs:
                self.assertEqual(mode & ~dir_mode, 0,
                                 "%s: directory %o more permissive than the data file's %o"
                                 % (p, mode, data_mode))

    def corrupt(self, path):
        with open(path, "a") as f:
            f.write("{not json\n")

    def test_json_store(self):
        for umask in (0o077, 0o002):
            with self.subTest(umask=oct(umask)):
                d = self.p("json-%o" % umask, "store")
                data = os.path.join(d, "d.jsonl")
                url = "json:" + data
                self.assertEqual(writer(url + "?max_records=3", 5, umask=umask)[0], 0)
                self.corrupt(data)
                q = os.path.join(d, "q")
                self.assertEqual(papyra(url, "persistence", "recover", "--mode", "quarantine",
                                        "--quarantine-dir", q, umask=umask)[0], 0)
                self.corrupt(data)
                self.assertEqual(papyra(url, "persistence", "recover", umask=umask)[0], 0)
                self.assertEqual(papyra(url + "?max_records=3", "persistence", "compact",
                                        umask=umask)[0], 0)
                self.assertEqual(papyra(url, "metrics", "reset", "--recreate",
                                        umask=umask)[0], 0)
                data_mode = stat.S_IMODE(os.stat(data).st_mode)
                self.assertEqual(data_mode & umask, 0)
                self.check(umask, data_mode, d)

    def test_rotating_store(self):
        for umask in (0o077, 0o002):
            with self.subTest(umask=oct(umask)):
                d = self.p("rot-%o" % umask, "store")
                data = os.path.join(d, "r.log")
                url = "rotating:" + data + "?max_bytes=300&max_files=4"
                self.assertEqual(writer(url, 12, umask=umask)[0], 0)
                self.assertTrue(os.path.exists(data + ".1"), "no rotation happened")
                self.corrupt(data)
                q = os.path.join(d, "q")
                self.assertEqual(papyra(url, "persistence", "recover", "--mode", "quarantine",
                                        "--quarantine-dir", q, umask=umask)[0], 0)
                self.corrupt(data + ".1")
                self.assertEqual(papyra(url, "persistence", "recover", "--mode", "quarantine",
                                        "--quarantine-dir", d, umask=umask)[0], 0)
                self.assertEqual(papyra(url + "&max_records=5", "persistence", "compact",
                                        umask=umask)[0], 0)
                data_mode = stat.S_IMODE(os.stat(data).st_mode)
                self.assertEqual(data_mode & umask, 0)
                self.check(umask, data_mode, d)

    def test_memory_store_with_a_metrics_file(self):
        for umask in (0o077, 0o002):
            with self.subTest(umask=oct(umask)):
                d = self.p("mem-%o" % umask)
                url = "memory:?metrics=" + os.path.join(d, "sub", "m.metrics")
                self.assertEqual(writer(url, 2, umask=umask)[0], 0)
                self.assertEqual(papyra(url, "metrics", "reset", "--recreate",
                                        umask=umask)[0], 0)
                self.check(umask, 0o666 & ~umask, d)

    def test_existing_data_file_narrower_than_the_umask(self):
        # A data file an operator made private: nothing new may be wider, whatever the umask.
        d = self.p("private")
        os.mkdir(d)
        data = os.path.join(d, "r.log")
        with open(data, "w") as f:
            f.write(json.dumps(event(1)) + "\n")
        os.chmod(data, 0o600)
        url = "rotating:" + data + "?max_bytes=200&max_files=3"
        self.assertEqual(writer(url, 6, umask=0o002)[0], 0)
        self.corrupt(data)
        self.assertEqual(papyra(url, "persistence", "recover", "--mode", "quarantine",
                                "--quarantine-dir", d, umask=0o002)[0], 0)
        self.assertEqual(papyra(url + "&max_records=2", "persistence", "compact",
                                umask=0o002)[0], 0)
        # Recover's default quarantine directory, and one named on the command line.
        self.corrupt(data)
        self.assertEqual(run([WRITER, "recover", url, "quarantine"], umask=0o002)[0], 0)
        self.corrupt(data)
        self.assertEqual(papyra(url, "persistence", "recover", "--mode", "quarantine",
                                "--quarantine-dir", os.path.join(d, "q"), umask=0o002)[0], 0)
        self.assertTrue(os.path.isdir(os.path.join(d, ".r.log.quarantine")))
        self.check(0o002, 0o600, d, created_dirs=(".r.log.quarantine", "q"))


class Symlinks(Base):
    """Item 4: a symlinked data path is followed; the link stays a link."""

    def setup_link(self, target_name, link_name, n):
        os.mkdir(self.p("data"))
        target = self.p("data", target_name)
        with open(target, "w") as f:
            for i in range(n):
                f.write(json.dumps(event(i)) + "\n")
            f.write("{torn")
        link = self.p(link_name)
        os.symlink(os.path.join("data", target_name), link)
        return target, link

    def check_link(self, link, target):
        self.assertTrue(os.path.islink(link), "%s is no longer a symbolic link" % link)
        self.assertEqual(os.path.realpath(link), os.path.realpath(target))

    def link_ops(self):
        """Compact, recover and recover in quarantine: what must leave a link a link."""
        return (("persistence", "compact"), ("persistence", "recover"),
                ("persistence", "recover", "--mode", "quarantine", "--quarantine-dir",
                 self.p("q")))

    def fresh_link(self, target_name, link_name, n):
        shutil.rmtree(self.dir)
        os.mkdir(self.dir)
        return self.setup_link(target_name, link_name, n)

    def test_json_compact_and_recover_follow_the_link(self):
        for op in self.link_ops():
            with self.subTest(op=op):
                target, link = self.fresh_link("target.jsonl", "link.jsonl", 4)
                rc, out, err = papyra("json:" + link, *op)
                self.assertEqual(rc, EXIT_OK, out + err)
                self.check_link(link, target)
                self.assertEqual(writer("json:" + link, 2)[0], 0)
                self.check_link(link, target)
                self.assertEqual(len(events_seen("json:" + link)), 6)
                self.assertEqual(len(events_seen("json:" + target)), 6)
                rc, out, err = papyra("json:" + link, "persistence", "scan")
                self.assertEqual(rc, EXIT_OK, out + err)
                # The default metrics file is the target's.
                self.assertTrue(os.path.exists(target + ".metrics"))
                self.assertFalse(os.path.exists(link + ".metrics"))

    def test_rotating_compact_recover_and_rotation_follow_the_link(self):
        for op in self.link_ops():
            with self.subTest(op=op):
                target, link = self.fresh_link("target.log", "link.log", 3)
                url = "rotating:%s?max_bytes=1000&max_files=10"
                rc, out, err = papyra(url % link, *op)
                self.assertEqual(rc, EXIT_OK, out + err)
                self.check_link(link, target)
                # Enough to rotate several times, through the link.
                self.assertEqual(writer(url % link, 10)[0], 0)
                self.check_link(link, target)
                self.assertTrue(os.path.exists(target + ".1"), "no rotation of the target")
                self.assertFalse(os.path.exists(link + ".1"))
                self.assertEqual(len(events_seen(url % link)), 13)
                self.assertEqual(len(events_seen(url % target)), 13)
                rc, out, err = papyra(url % link, "persistence", "compact")
                self.assertEqual(rc, EXIT_OK, out + err)
                self.check_link(link, target)
                self.assertEqual(len(events_seen(url % link)), 13)
                rc, out, err = papyra(url % target, "persistence", "scan")
                self.assertEqual(rc, EXIT_OK, out + err)
                # One metrics file, the target's (hidden from upstream's glob).
                self.assertTrue(os.path.exists(self.p("data", ".target.log.metrics")))
                self.assertFalse(os.path.exists(self.p(".link.log.metrics")))
                self.assertFalse(os.path.exists(self.p("link.log.metrics")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
