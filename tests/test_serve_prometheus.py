#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`papyra metrics serve` and the node_exporter textfile recipe, scraped by a
real Prometheus with the generated rules loaded (issue #15, item 4).

Usage: test_serve_prometheus.py PAPYRA CLI_WRITER SRCROOT

One run of Debian's `prometheus` on loopback (scrape and evaluation every
second) scrapes `papyra metrics serve` for two stores, and
`prometheus-node-exporter`'s textfile collector fed by the several-stores
recipe of docs/cli.md, run once as documented. cli-writer, the stand-in
application, writes from other processes. Asked through the HTTP query API,
with bounded polling and no timing asserted:

- papyra_persistence_records_written_total equals what the library counted
  (`metrics persistence --json`), through serve and through node_exporter;
- after `papyra metrics reset` and more writes, Prometheus sees a counter
  reset (resets(...[10m]) >= 1) and rate()/increase() stay non-negative and
  count the writes after it;
- a write that really fails (the file size limit, RLIMIT_FSIZE, refuses the
  append) raises write_errors, and the generated alert
  PapyraPersistenceWriteErrors for that store becomes pending or firing.

Exits 77 without prometheus or prometheus-node-exporter unless
PAPYRA_TEST_REQUIRE_PROMETHEUS=1.
"""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from prometheus_util import main_requiring
from serve_util import Serve, env_no_leaks, free_port

PAPYRA = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
WRITER = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
SRC = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
PROMETHEUS = shutil.which("prometheus")
NODE_EXPORTER = shutil.which("prometheus-node-exporter")
WAIT = 40  # seconds any one condition may take before the test fails


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env_no_leaks(),
                          **kw)


def write(url, n, limit=None):
    """cli-writer writes n events; with @p limit, under RLIMIT_FSIZE = limit bytes."""
    def preexec():
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([WRITER, "store", url, str(n)], capture_output=True, text=True,
                          timeout=60, env=env_no_leaks(), preexec_fn=preexec)


def counted(url):
    p = run([PAPYRA, "--persistence", url, "metrics", "persistence", "--json"])
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def recipe():
    """The several-stores textfile recipe of docs/cli.md, as written there."""
    with open(os.path.join(SRC, "docs/cli.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"\n(    for store in orders audit; do\n(?:    .*\n)*?    done\n)", text)
    assert m, "docs/cli.md has no 'for store in orders audit' recipe"
    return "\n".join(line[4:] for line in m.group(1).splitlines()) + "\n"


class Prometheus:
    def __init__(self, workdir, config):
        self.port = free_port()
        cfg = os.path.join(workdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(config)
        self.log = open(os.path.join(workdir, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(workdir, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        self.until(lambda: self._ready(), "Prometheus to be ready")

    def _ready(self):
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise AssertionError("prometheus exited: %s" % self.log.read())
        try:
            return http_get(self.base + "/-/ready", 2) != ""
        except OSError:
            return False

    def query(self, expr):
        """[(labels, float value)] of an instant query."""
        body = json.loads(http_get(self.base + "/api/v1/query?" +
                                   urllib.parse.urlencode({"query": expr})))
        assert body["status"] == "success", body
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def alerts(self):
        body = json.loads(http_get(self.base + "/api/v1/alerts"))
        return body["data"]["alerts"]

    def until(self, cond, what):
        deadline = time.monotonic() + WAIT
        last = None
        while time.monotonic() < deadline:
            last = cond()
            if last:
                return last
            time.sleep(0.25)
        raise AssertionError("gave up waiting for %s (last: %r)" % (what, last))

    def value_is(self, expr, want):
        def check():
            r = self.query(expr)
            return len(r) == 1 and r[0][1] == want
        self.until(check, "%s == %s (now %r)" % (expr, want, self.query(expr)))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class RealPrometheus(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="papyra-prom-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            try:
                p()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_serve_and_textfile_through_prometheus(self):
        app = os.path.join(self.dir, "app")
        os.mkdir(app)
        textfile = os.path.join(self.dir, "textfile")
        os.mkdir(textfile)
        orders = "json:" + os.path.join(app, "orders.jsonl")
        audit = "json:" + os.path.join(app, "audit.jsonl")
        self.assertEqual(write(orders, 25).returncode, 0)
        self.assertEqual(write(audit, 4).returncode, 0)

        serve = Serve(PAPYRA, ["--store", "orders=" + orders, "--store", "audit=" + audit])
        self.procs.append(lambda: serve.stop())
        node_port = free_port()
        node_log = open(os.path.join(self.dir, "node.log"), "w")
        node = subprocess.Popen(
            [NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
             "--collector.textfile.directory=" + textfile,
             "--web.listen-address=127.0.0.1:%d" % node_port],
            stdout=node_log, stderr=subprocess.STDOUT)
        self.procs.append(lambda: (node.terminate(), node.wait(timeout=20), node_log.close()))

        prom = Prometheus(self.dir, """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: papyra
    static_configs:
      - targets: ['%s']
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:%d']
""" % (os.path.join(SRC, "docs/prometheus/papyra-rules.yml"), serve.address, node_port))
        self.procs.insert(0, prom.stop)
        written = 'papyra_persistence_records_written_total{job="papyra",store="%s"}'

        # What the library counted, as Prometheus scraped it from serve.
        self.assertEqual(counted(orders)["records_written"], 25)
        prom.value_is(written % "orders", 25)
        prom.value_is(written % "audit", 4)
        prom.until(lambda: len(prom.query('papyra_metrics_store_up{job="papyra"} == 1')) == 2,
                   "both stores up")
        self.assertEqual(write(orders, 10).returncode, 0)
        prom.value_is(written % "orders", 35)

        # The textfile recipe of docs/cli.md, run once by hand, through node_exporter.
        env = env_no_leaks()
        env["PATH"] = os.path.dirname(PAPYRA) + os.pathsep + env.get("PATH", "")
        script = "dir=%s\n" % textfile + recipe().replace("/var/lib/app", app)
        p = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, timeout=60,
                           env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(os.listdir(textfile)), ["papyra-audit.prom", "papyra-orders.prom"])
        exposed = http_get("http://127.0.0.1:%d/metrics" % node_port)
        self.assertIn('papyra_persistence_records_written_total{backend="json",store="orders"} 35',
                      exposed)
        self.assertIn('papyra_persistence_records_written_total{backend="json",store="audit"} 4',
                      exposed)
        self.assertIn("\nnode_textfile_scrape_error 0\n", exposed)
        node_written = 'papyra_persistence_records_written_total{job="node",store="%s"}'
        prom.value_is(node_written % "orders", 35)
        prom.value_is(node_written % "audit", 4)

        # A reset, then more writes: a counter reset that rate() and increase() handle.
        p = run([PAPYRA, "--persistence", orders, "metrics", "reset", "--json"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["cleared"]["records_written"], 35)
        prom.value_is(written % "orders", 0)
        self.assertEqual(write(orders, 6).returncode, 0)
        prom.value_is(written % "orders", 6)
        # Windows of 10m hold every sample of this test, whatever the machine's speed.
        prom.until(lambda: prom.query("resets(%s[10m]) >= 1" % (written % "orders")),
                   "the reset to be seen")
        for fn in ("rate", "increase"):
            r = prom.query("%s(%s[10m])" % (fn, written % "orders"))
            self.assertEqual(len(r), 1, r)
            self.assertGreater(r[0][1], 0, fn)
        # The increase counts the writes after the first scrape, before and after the
        # reset (10 + 6), never the drop; extrapolation only adds to it.
        r = prom.query("increase(%s[10m])" % (written % "orders"))
        self.assertGreaterEqual(r[0][1], 10 + 6)

        # A write that fails: the file may not grow (RLIMIT_FSIZE, EFBIG).
        self.assertEqual(counted(audit)["write_errors"], 0)
        size = os.path.getsize(os.path.join(app, "audit.jsonl"))
        p = write(audit, 1, limit=size)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("write", p.stderr)
        self.assertEqual(os.path.getsize(os.path.join(app, "audit.jsonl")), size)
        self.assertEqual(counted(audit)["write_errors"], 1)
        prom.value_is('papyra_persistence_write_errors_total{job="papyra",store="audit"}', 1)

        def alert():
            return [a for a in prom.alerts()
                    if a["labels"].get("alertname") == "PapyraPersistenceWriteErrors" and
                    a["labels"].get("store") == "audit" and
                    a["labels"].get("job") == "papyra" and a["state"] in ("pending", "firing")]
        found = prom.until(alert, "PapyraPersistenceWriteErrors for store audit")
        self.assertEqual(found[0]["labels"]["backend"], "json")
        self.assertEqual(found[0]["annotations"]["summary"], "Write calls that failed.")
        # No alert for the store that had no error.
        self.assertEqual([a for a in prom.alerts() if a["labels"].get("store") == "orders"], [])


if __name__ == "__main__":
    main_requiring([("prometheus", PROMETHEUS), ("prometheus-node-exporter", NODE_EXPORTER)],
                   "packages prometheus, prometheus-node-exporter")
