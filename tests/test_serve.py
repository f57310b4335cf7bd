#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`papyra metrics serve` as a real process on real loopback sockets
(issue #15, item 1).

Usage: test_serve.py PAPYRA CLI_WRITER

- both formats by content negotiation, each checked by a strict parser
  (tests/serve_util.py) and the Prometheus text by `promtool check
  metrics`; the values equal what `metrics persistence --json` prints for
  the same store after writes by cli-writer (the stand-in application);
- one and several stores (json:, rotating:, memory: with metrics=, a
  --metrics-dir), each family's HELP and TYPE once;
- HEAD, 404, 405 and /-/healthy;
- a store whose metrics file is deleted while serving: papyra_metrics_store_up
  0, its samples left out, the others still served, one log line per change;
  one replaced by another file is read afresh, one cut short is down (never
  read past its end);
- a scrape creates and modifies nothing (listing, sizes and mtimes);
- bad listen addresses (64), a port in use and a non-local address (1),
  bad and unreadable stores at start (64 and 1);
- SIGTERM and SIGINT stop it with exit 0 and the stop line;
- a client that sends half a request and keeps the socket open does not
  block another scrape.

Exits 77 without promtool unless PAPYRA_TEST_REQUIRE_PROMETHEUS=1.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

from prometheus_util import main_requiring
from serve_util import PROMETHEUS_TYPE, Serve, check_exposition, env_no_leaks, values_of

PAPYRA = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
WRITER = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
PROMTOOL = shutil.which("promtool")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env_no_leaks(),
                          **kw)


def write(url, n, kind="event"):
    p = run([WRITER, "store", url, str(n), kind])
    assert p.returncode == 0, p.stderr


def persistence_json(url):
    p = run([PAPYRA, "--persistence", url, "metrics", "persistence", "--json"])
    assert p.returncode == 0, p.stderr
    return {k: v for k, v in json.loads(p.stdout).items() if v is not None}


def tree_state(root):
    """Every path under @p root with its size and mtime."""
    state = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            state[p] = (st.st_size, st.st_mtime_ns)
    return state


class ServeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="papyra-serve-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.communicate()
        shutil.rmtree(self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def serve(self, args, **kw):
        s = Serve(PAPYRA, args, **kw)
        self.servers.append(s)
        return s

    def refuse(self, args, code, *needles):
        p = run([PAPYRA, "metrics", "serve"] + args)
        self.assertEqual(p.returncode, code, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        for n in needles:
            self.assertIn(n, p.stderr)
        return p.stderr

    def test_one_store_both_formats_match_persistence_json(self):
        url = "json:" + self.path("orders.jsonl")
        write(url, 7)
        write(url, 2, "audit")
        want = persistence_json(url)
        s = self.serve(["--store", "orders=" + url])

        text = s.scrape()
        series = check_exposition(text, openmetrics=False)
        self.assertEqual(values_of(series, "orders"), want)
        self.assertEqual(want["records_written"], 9)
        self.assertEqual(series[("papyra_metrics_store_up", frozenset({("store", "orders")}))], 1)
        self.assertIn('papyra_persistence_records_written_total{backend="json",store="orders"} 9\n',
                      text)
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        om = s.scrape(openmetrics=True)
        self.assertTrue(om.endswith("\n# EOF\n"))
        series = check_exposition(om, openmetrics=True)
        self.assertEqual(values_of(series, "orders"), want)
        self.assertTrue(any(name.endswith("_created") for name, _ in series))

        # More writes show at the next scrape.
        write(url, 5)
        self.assertEqual(values_of(check_exposition(s.scrape(), False), "orders"),
                         persistence_json(url))
        out, err = s.stop()
        self.assertEqual(s.proc.returncode, 0, err)

    def test_several_stores_make_one_exposition(self):
        jurl = "json:" + self.path("a.jsonl")
        rurl = "rotating:" + self.path("rot/events.jsonl") + "?max_bytes=4096"
        murl = "memory:?metrics=" + self.path("mem.metrics")
        write(jurl, 3)
        write(rurl, 40)
        os.mkdir(self.path("dir"))
        p = run([WRITER, "counters", self.path("dir/extra.metrics"), "redis",
                 "records_written=11", "write_errors=2"])
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run([WRITER, "counters", self.path("mem.metrics"), "memory", "records_written=4"])
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.serve(["--store", jurl, "--store", "rot=" + rurl, "--store", "mem=" + murl,
                        "--metrics-dir", self.path("dir")])
        for om in (False, True):
            series = check_exposition(s.scrape(openmetrics=om), om)
            # A store without NAME= is labelled with its URL.
            self.assertEqual(values_of(series, jurl), persistence_json(jurl))
            self.assertEqual(values_of(series, "rot"), persistence_json(rurl))
            self.assertEqual(values_of(series, "mem"), persistence_json(murl))
            self.assertEqual(values_of(series, "extra")["records_written"], 11)
            self.assertEqual(values_of(series, "extra")["write_errors"], 2)
            ups = {dict(l)["store"]: v for (n, l), v in series.items()
                   if n == "papyra_metrics_store_up"}
            self.assertEqual(ups, {jurl: 1, "rot": 1, "mem": 1, "extra": 1})
            backends = {dict(l)["store"]: dict(l)["backend"] for (n, l), v in series.items()
                        if n == "papyra_persistence_records_written_total"}
            self.assertEqual(backends, {jurl: "json", "rot": "rotating", "mem": "memory",
                                        "extra": "redis"})
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=s.scrape(), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # A file that appears in --metrics-dir is served from the next scrape; one
        # named like a --store is left out (logged once), never a series twice.
        p = run([WRITER, "counters", self.path("dir/late.metrics"), "json", "records_written=1"])
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run([WRITER, "counters", self.path("dir/rot.metrics"), "rotating",
                 "records_written=99"])
        self.assertEqual(p.returncode, 0, p.stderr)
        for _ in range(2):
            series = check_exposition(s.scrape(), False)
            self.assertEqual(values_of(series, "late")["records_written"], 1)
            self.assertEqual(values_of(series, "rot"), persistence_json(rurl))
        # The directory gone and back: its stores go and come, the others stay.
        os.rename(self.path("dir"), self.path("dir.away"))
        series = check_exposition(s.scrape(), False)
        self.assertEqual(values_of(series, "extra"), {})
        self.assertEqual(values_of(series, "rot"), persistence_json(rurl))
        os.rename(self.path("dir.away"), self.path("dir"))
        self.assertEqual(values_of(check_exposition(s.scrape(), False), "extra")["write_errors"], 2)
        _, err = s.stop()
        self.assertEqual(s.proc.returncode, 0, err)
        self.assertEqual(len([l for l in err.splitlines() if "a --store of that name" in l]), 1,
                         err)
        self.assertEqual(len([l for l in err.splitlines()
                              if "cannot read --metrics-dir " + self.path("dir") in l]), 1, err)
        self.assertEqual(len([l for l in err.splitlines() if "readable again" in l]), 1, err)

    def test_http_methods_and_paths(self):
        url = "json:" + self.path("a.jsonl")
        write(url, 1)
        s = self.serve(["--store", url])
        status, headers, body = s.request("HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(headers["content-type"], PROMETHEUS_TYPE)
        self.assertGreater(int(headers["content-length"]), 0)
        self.assertEqual(s.request(path="/-/healthy")[0::2], (200, "OK\n"))
        self.assertEqual(s.request("HEAD", "/-/healthy")[0], 200)
        for path in ("/", "/metricsx", "/metrics/", "/favicon.ico"):
            self.assertEqual(s.request(path=path)[0], 404, path)
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            status, headers, _ = s.request(method)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["allow"], "GET, HEAD")
        # A query string is ignored.
        self.assertEqual(s.request(path="/metrics?x=1")[0], 200)
        # One connection for several scrapes, as Prometheus keeps it alive.
        c = http.client.HTTPConnection(s.host, s.port, timeout=10)
        try:
            for path in ("/metrics", "/-/healthy", "/metrics"):
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                self.assertNotEqual((r.getheader("Connection") or "").lower(), "close", path)
            self.assertIsNotNone(c.sock, "the server closed the connection")
        finally:
            c.close()
        _, err = s.stop()
        self.assertEqual(s.proc.returncode, 0, err)

    def test_store_deleted_while_serving(self):
        a, b = "json:" + self.path("a.jsonl"), "json:" + self.path("b.jsonl")
        write(a, 2)
        write(b, 3)
        s = self.serve(["--store", "a=" + a, "--store", "b=" + b])
        os.unlink(self.path("a.jsonl.metrics"))
        for _ in range(3):
            series = check_exposition(s.scrape(), False)
            self.assertEqual(values_of(series, "a"), {})
            self.assertEqual(values_of(series, "b")["records_written"], 3)
            self.assertEqual(series[("papyra_metrics_store_up", frozenset({("store", "a")}))], 0)
            self.assertEqual(series[("papyra_metrics_store_up", frozenset({("store", "b")}))], 1)
            check_exposition(s.scrape(openmetrics=True), True)
        # The application opens it again: counting restarts.
        write(a, 4)
        series = check_exposition(s.scrape(), False)
        self.assertEqual(values_of(series, "a")["records_written"], 4)
        self.assertEqual(series[("papyra_metrics_store_up", frozenset({("store", "a")}))], 1)
        _, err = s.stop()
        self.assertEqual(s.proc.returncode, 0)
        down = [l for l in err.splitlines() if "store a: cannot read its metrics" in l]
        self.assertEqual(len(down), 1, err)
        self.assertIn(self.path("a.jsonl.metrics") + " does not exist", down[0])
        self.assertEqual(len([l for l in err.splitlines() if "store a: metrics readable again" in l]),
                         1, err)

    def test_metrics_file_replaced_or_truncated_while_serving(self):
        a = "json:" + self.path("a.jsonl")
        write(a, 2)
        s = self.serve(["--store", "a=" + a])
        self.assertEqual(values_of(check_exposition(s.scrape(), False), "a")["records_written"], 2)
        # Another file renamed over it (as a set-aside and recreate does): read afresh.
        p = run([WRITER, "counters", self.path("other.metrics"), "json", "records_written=40"])
        self.assertEqual(p.returncode, 0, p.stderr)
        os.replace(self.path("other.metrics"), self.path("a.jsonl.metrics"))
        self.assertEqual(values_of(check_exposition(s.scrape(), False), "a")["records_written"], 40)
        # Cut short in place: never read past its end (no SIGBUS), the store is down.
        size = os.path.getsize(self.path("a.jsonl.metrics"))
        os.truncate(self.path("a.jsonl.metrics"), size // 2)
        for _ in range(2):
            series = check_exposition(s.scrape(), False)
            self.assertEqual(values_of(series, "a"), {})
            self.assertEqual(series[("papyra_metrics_store_up", frozenset({("store", "a")}))], 0)
        # Put back whole: up again.
        os.unlink(self.path("a.jsonl.metrics"))
        write(a, 1)
        self.assertEqual(values_of(check_exposition(s.scrape(), False), "a")["records_written"], 1)
        _, err = s.stop()
        self.assertEqual(s.proc.returncode, 0, err)
        self.assertEqual(len([l for l in err.splitlines() if "store a: cannot read" in l]), 1, err)

    def test_scrape_creates_and_modifies_nothing(self):
        url = "json:" + self.path("data/a.jsonl")
        rurl = "rotating:" + self.path("rot/e.jsonl")
        write(url, 5)
        write(rurl, 5)
        before = tree_state(self.dir)
        s = self.serve(["--store", url, "--store", rurl, "--metrics-dir", self.path("data")],
                       cwd=self.dir)
        for om in (False, True, False):
            check_exposition(s.scrape(openmetrics=om), om)
        s.request("HEAD")
        s.stop()
        self.assertEqual(tree_state(self.dir), before)

    def test_bad_listen_addresses(self):
        url = "json:" + self.path("a.jsonl")
        write(url, 1)
        for bad, why in (("nonsense", "ADDR:PORT"), ("127.0.0.1:65536", "0 to 65535"),
                         ("127.0.0.1:", "0 to 65535"), ("127.0.0.1:-1", "0 to 65535"),
                         ("127.0.0.1:http", "0 to 65535"), (":9464", "give the address"),
                         ("::1:9464", "brackets"), ("[::1:9464", "[IPV6]:PORT"),
                         ("999.1.1.1:9464", "not an address")):
            self.refuse(["--store", url, "--listen", bad], 64, "--listen '%s'" % bad, why)
        # Syntactically fine but not an address of this host (TEST-NET-1).
        self.refuse(["--store", url, "--listen", "192.0.2.1:9464"], 1,
                    "cannot listen on 192.0.2.1:9464")
        # A port in use.
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            self.refuse(["--store", url, "--listen", "127.0.0.1:%d" % port], 1,
                        "cannot listen on 127.0.0.1:%d" % port, "Address already in use")
        finally:
            busy.close()

    def test_ipv6_loopback(self):
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        url = "json:" + self.path("a.jsonl")
        write(url, 2)
        s = self.serve(["--store", "a=" + url], listen="[::1]:0")
        self.assertEqual(s.host, "::1")
        self.assertEqual(values_of(check_exposition(s.scrape(), False), "a")["records_written"], 2)
        s.stop()

    def test_bad_stores_at_start(self):
        url = "json:" + self.path("a.jsonl")
        write(url, 1)
        self.refuse(["--store", "json:"], 64)
        self.refuse(["--store", "nosuch:x"], 64)
        self.refuse(["--store", "json:" + self.path("none.jsonl")], 1,
                    self.path("none.jsonl.metrics"), "does not exist")
        self.refuse(["--store", "memory:"], 1, "does not expose metrics")
        self.refuse(["--store", "x=" + url, "--store", "x=" + url], 64, "two stores named 'x'")
        self.refuse(["--store", "=" + url], 64, "name before '=' is empty")
        self.refuse(["--metrics-file", self.path("a.jsonl.metrics"), "--store", url], 64,
                    "--metrics-file")
        self.refuse(["--store", url, "--metrics-dir", self.path("nodir")], 1,
                    "cannot read --metrics-dir " + self.path("nodir"))
        os.mkdir(self.path("dir"))
        with open(self.path("dir/junk.metrics"), "w") as f:
            f.write("not a metrics file\n")
        self.refuse(["--metrics-dir", self.path("dir")], 1, "store junk of --metrics-dir")
        # A password never shows, in messages or labels.
        err = self.refuse(["--store", "redis://u:s3cret@127.0.0.1:1/0?metrics=none"], 1)
        self.assertNotIn("s3cret", err)
        self.assertEqual(os.listdir(self.path("dir")), ["junk.metrics"])

    def test_global_store_and_default_name(self):
        path = self.path("g.jsonl")
        write("json:" + path, 3)
        s = self.serve(["--path", path])
        series = check_exposition(s.scrape(), False)
        stores = {dict(l)["store"] for (n, l) in series if n == "papyra_metrics_store_up"}
        self.assertEqual(stores, {"json:" + path})
        s.stop()
        # The password of a URL is hidden in the label too.
        p = run([WRITER, "counters", self.path("r.metrics"), "redis", "records_written=1"])
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.serve(["--store", "redis://u:s3cret@127.0.0.1:1/0?metrics=" +
                        self.path("r.metrics")])
        text = s.scrape()
        self.assertNotIn("s3cret", text)
        self.assertIn('store="redis://u:***@127.0.0.1:1/0?metrics=', text)
        self.assertEqual(values_of(check_exposition(text, False),
                                   "redis://u:***@127.0.0.1:1/0?metrics=" +
                                   self.path("r.metrics"))["records_written"], 1)
        _, err = s.stop()
        self.assertNotIn("s3cret", err)

    def test_signals_stop_cleanly(self):
        url = "json:" + self.path("a.jsonl")
        write(url, 1)
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            s = self.serve(["--store", url])
            s.scrape()
            out, err = s.stop(sig)
            self.assertEqual(s.proc.returncode, 0, err)
            self.assertEqual(out, "")
            lines = err.splitlines()
            self.assertEqual(lines[0], "papyra: serving 1 store on http://%s/metrics" % s.address)
            self.assertEqual(lines[-1], "papyra: stopped serving on http://%s/metrics (%s)"
                             % (s.address, name))
            self.assertEqual(len(lines), 2, err)

    def test_slow_client_does_not_block_a_scrape(self):
        url = "json:" + self.path("a.jsonl")
        write(url, 1)
        s = self.serve(["--store", "a=" + url])
        slow = []
        try:
            for _ in range(4):
                c = socket.create_connection((s.host, s.port), timeout=10)
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: loc")
                slow.append(c)
            idle = socket.create_connection((s.host, s.port), timeout=10)
            slow.append(idle)
            for _ in range(3):
                series = check_exposition(s.scrape(), False)
                self.assertEqual(values_of(series, "a")["records_written"], 1)
        finally:
            for c in slow:
                c.close()
        _, err = s.stop()
        self.assertEqual(s.proc.returncode, 0, err)

    def test_help_lists_the_command(self):
        p = run([PAPYRA, "metrics", "--help"])
        self.assertIn("serve", p.stdout)
        p = run([PAPYRA, "metrics", "serve", "--help"])
        self.assertEqual(p.returncode, 0)
        for opt in ("--listen ADDR:PORT", "--store [NAME=]URL...", "--metrics-dir DIR"):
            self.assertIn(opt, p.stdout)


if __name__ == "__main__":
    main_requiring([("promtool", PROMTOOL)], "package prometheus")
