# SPDX-License-Identifier: MIT
"""Helpers of the `papyra metrics serve` tests (test_serve.py,
test_serve_prometheus.py): start the real CLI on a free loopback port, talk
HTTP to it, and a strict checker of the two exposition formats."""

import http.client
import os
import re
import select
import signal
import socket
import subprocess
import time

OPENMETRICS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                      "application/openmetrics-text;version=0.0.1;q=0.75,"
                      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def env_no_leaks():
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return env


class Serve:
    """`papyra metrics serve ARGS --listen 127.0.0.1:0`, running until stop()."""

    def __init__(self, papyra, args, listen="127.0.0.1:0", cwd=None):
        self.proc = subprocess.Popen([papyra, "metrics", "serve", "--listen", listen] + args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=cwd, env=env_no_leaks())
        line = self._read_line(30)
        m = re.fullmatch(r"listening on (127\.0\.0\.1|\[::1\]):(\d+)\n", line)
        if not m:
            out, err = self.stop()
            raise AssertionError("no 'listening on' line: %r, stderr %r" % (line, err))
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        self.address = "%s:%d" % (m.group(1), self.port)

    def _read_line(self, timeout):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode()

    def request(self, method="GET", path="/metrics", headers=None, timeout=10):
        """(status, headers dict with lower-case names, body text)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request(method, path, headers=headers or {})
            r = c.getresponse()
            body = r.read().decode()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    def scrape(self, openmetrics=False):
        status, headers, body = self.request(
            headers={"Accept": OPENMETRICS_ACCEPT} if openmetrics else {})
        assert status == 200, (status, body)
        want = OPENMETRICS_TYPE if openmetrics else PROMETHEUS_TYPE
        assert headers["content-type"] == want, headers
        return body

    def stop(self, sig=signal.SIGTERM):
        """Sends @p sig; (stdout rest, stderr) once it exited (bounded wait)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("serve did not stop on signal %d" % sig)
        return out.decode(), err.decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise AssertionError("bad label set {%s}" % text)
        if m.group(1) in labels:
            raise AssertionError("label %s twice in {%s}" % (m.group(1), text))
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def check_exposition(text, openmetrics):
    """Checks @p text strictly; {(sample name, frozenset of labels): float value}.

    Each family's HELP and TYPE at most once, before its samples; the
    samples of a family together; no series twice; OpenMetrics: counters as
    NAME_total and NAME_created of a family NAME, one # EOF at the end."""
    assert text.endswith("\n"), "no final newline"
    lines = text[:-1].split("\n")
    if openmetrics:
        assert lines[-1] == "# EOF", "no # EOF at the end"
        lines = lines[:-1]
        assert "# EOF" not in lines, "# EOF twice"
    types, helps, done, series = {}, set(), set(), {}
    current = None
    for line in lines:
        if line.startswith("# "):
            kind, name = line.split(" ")[1:3]
            assert kind in ("HELP", "TYPE"), line
            assert name not in done, "%s of %s after its samples" % (kind, name)
            if kind == "TYPE":
                assert name not in types, "TYPE %s twice" % name
                types[name] = line.split(" ")[3]
            else:
                assert name not in helps, "HELP %s twice" % name
                helps.add(name)
            if current and current != name:
                done.add(current)
            current = name
            continue
        m = SAMPLE.fullmatch(line)
        assert m, "not a sample: %r" % line
        name = m.group(1)
        family = name
        if openmetrics:
            for suffix in ("_total", "_created"):
                if name.endswith(suffix) and name[:-len(suffix)] in types:
                    family = name[:-len(suffix)]
            assert family in types, "sample %s without a TYPE" % name
            if types[family] == "counter":
                assert name != family, "counter sample %s without _total" % name
        assert family not in done, "family %s interleaved" % family
        if current and current != family:
            done.add(current)
        current = family
        key = (name, frozenset(parse_labels(m.group(3) or "").items()))
        assert key not in series, "series twice: %r" % (key,)
        series[key] = float(m.group(4))
    return series


def values_of(series, store):
    """{counter name: value} of the papyra_persistence_*_total samples of @p store."""
    out = {}
    for (name, labels), v in series.items():
        lab = dict(labels)
        if lab.get("store") == store and name.startswith("papyra_persistence_") and \
                name.endswith("_total"):
            out[name[len("papyra_persistence_"):-len("_total")]] = int(v)
    return out
