#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Prometheus rules and the Grafana dashboard generated from the spec
are accepted by the real promtool, and the alerts fire when they should
(issue #15, items 2 and 3).

Usage: test_prometheus_rules.py SRCROOT

- `promtool check rules` on docs/prometheus/papyra-rules.yml;
- the spec's alert counters are exactly the file's alerts, with the spec's
  `help` as summary and `increments` in the description; every counter has
  its recording rule;
- `promtool test rules` with unit tests written here from the spec: per
  alert counter, a series that rises fires the alert with the expected
  labels and annotations, a flat one fires nothing, and a counter reset
  (`papyra metrics reset`) with no new error fires nothing; every recording
  rule gives the rate of a series growing by 60 a minute;
- docs/grafana/papyra-dashboard.json parses, has a panel per counter and a
  stat panel per alert counter, and every expression in it, with Grafana's
  variables given values, is accepted by `promtool check rules`;
- a copy of the spec with one more `alert: true` counter generates its
  alert, recording rule and panels, and promtool accepts and tests them.

The freshness of the committed files against the spec is the
`generated-fresh` test's job. Exits 77 without promtool unless
PAPYRA_TEST_REQUIRE_PROMETHEUS=1.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

from prometheus_util import main_requiring

SRC = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
PROMTOOL = shutil.which("promtool")
RULES = "docs/prometheus/papyra-rules.yml"
DASHBOARD = "docs/grafana/papyra-dashboard.json"

# Grafana's variables, as a query would see them with "All" chosen.
GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__range": "6h",
    "$backend": ".*",
    "$store": ".*",
}

EXTRA_COUNTER = """\
  - name: writes_refused
    category: write
    unit: "{call}"
    help: Write calls the backend refused.
    increments: By 1 per write call that failed.
    excludes: Write calls that succeeded.
    operations: [write]
    counts: {when: failure, by: one}
    alert: true
    backends: {memory: supported, json: supported, rotating: supported, redis: supported}
"""


def load_counters(spec_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    return spec["counters"]


def words(text):
    return " ".join(text.split())


def promtool(*args, cwd=None):
    p = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


def unit_tests(counters, rules_name):
    """promtool unit tests for every counter of the spec, written from the spec."""
    labels = {"backend": "json", "instance": "app:9464", "job": "papyra", "store": "events"}
    sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
    tests = []
    for c in counters:
        name = c["name"]
        metric = f"papyra_persistence_{name}_total"
        # A recording rule: the rate of a series growing by 60 a minute is 1/s.
        tests.append({
            "interval": "1m",
            "input_series": [{"series": f"{metric}{{{sel}}}", "values": "0+60x10"}],
            "promql_expr_test": [{
                "expr": f"papyra_persistence_{name}:rate5m",
                "eval_time": "10m",
                "exp_samples": [{"labels": f"papyra_persistence_{name}:rate5m{{{sel}}}",
                                 "value": 1}],
            }],
        })
        if not c["alert"]:
            continue
        alert = f"PapyraPersistence{camel(name)}"
        description = (f"Counts: {words(c['increments'])} Backend {labels['backend']} on "
                       f"{labels['instance']}, {labels['store']}: 2 in 5 minutes.")
        tests.append({
            "interval": "1m",
            # Flat at 3, errors at minutes 10 and 11, then flat again.
            "input_series": [{"series": f"{metric}{{{sel}}}",
                              "values": "3x9 4 5 5x20"}],
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": alert, "exp_alerts": []},
                {"eval_time": "13m", "alertname": alert, "exp_alerts": [{
                    "exp_labels": {**labels, "severity": "warning"},
                    "exp_annotations": {"summary": words(c["help"]),
                                        "description": description},
                }]},
                # Five minutes after the last error the increase is 0 again.
                {"eval_time": "25m", "alertname": alert, "exp_alerts": []},
            ],
        })
        # `papyra metrics reset` drops the counter to 0: a counter reset, not an error.
        tests.append({
            "interval": "1m",
            "input_series": [{"series": f"{metric}{{{sel}}}", "values": "7x9 0x20"}],
            "alert_rule_test": [
                {"eval_time": f"{m}m", "alertname": alert, "exp_alerts": []}
                for m in (9, 10, 11, 14, 20)
            ],
        })
    return {"rule_files": [rules_name], "evaluation_interval": "1m", "tests": tests}


class Generated:
    """The rules and dashboard files of one spec, and checks on them."""

    def __init__(self, case, spec, rules, dashboard):
        self.case, self.spec, self.rules_path, self.dash_path = case, spec, rules, dashboard
        self.counters = load_counters(spec)

    def check_rules_file(self):
        rc, out = promtool("check", "rules", self.rules_path)
        self.case.assertEqual(rc, 0, out)
        with open(self.rules_path, encoding="utf-8") as f:
            rules = yaml.safe_load(f)
        records, alerts = {}, {}
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    records[rule["record"]] = rule
                else:
                    alerts[rule["alert"]] = rule
        self.case.assertEqual(
            sorted(records), sorted(f"papyra_persistence_{c['name']}:rate5m" for c in self.counters))
        want = {f"PapyraPersistence{camel(c['name'])}": c for c in self.counters if c["alert"]}
        self.case.assertEqual(sorted(alerts), sorted(want))
        for name, c in want.items():
            rule = alerts[name]
            self.case.assertEqual(rule["expr"],
                                  f"increase(papyra_persistence_{c['name']}_total[5m]) > 0")
            self.case.assertEqual(rule["annotations"]["summary"], words(c["help"]))
            self.case.assertIn(words(c["increments"]), rule["annotations"]["description"])

    def test_rules(self, tmp):
        shutil.copy(self.rules_path, os.path.join(tmp, "papyra-rules.yml"))
        with open(os.path.join(tmp, "papyra-rules.test.yml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(unit_tests(self.counters, "papyra-rules.yml"), f, sort_keys=False)
        rc, out = promtool("test", "rules", "papyra-rules.test.yml", cwd=tmp)
        self.case.assertEqual(rc, 0, out)
        self.case.assertIn("SUCCESS", out)

    def check_dashboard(self, tmp):
        with open(self.dash_path, encoding="utf-8") as f:
            dash = json.load(f)
        panels = [p for p in dash["panels"] if p["type"] != "row"]
        ids = [p["id"] for p in dash["panels"]]
        self.case.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        exprs = []
        for c in self.counters:
            metric = f"papyra_persistence_{c['name']}_total"
            mine = [p for p in panels if any(metric in t["expr"] for t in p["targets"])]
            kinds = sorted(p["type"] for p in mine)
            self.case.assertEqual(kinds, ["stat", "timeseries"] if c["alert"] else ["timeseries"],
                                  c["name"])
        rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
        self.case.assertEqual(len(rows), len(set(rows)))
        for p in panels:
            for t in p["targets"]:
                expr = t["expr"]
                for var, value in GRAFANA_VARS.items():
                    expr = expr.replace(var, value)
                self.case.assertNotIn("$", expr, f"an unknown Grafana variable in {t['expr']}")
                exprs.append(expr)
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                # label_values(METRIC, LABEL) is Grafana's; the series it reads is PromQL's.
                m = re.fullmatch(r"label_values\((\w+), (\w+)\)", var["definition"])
                self.case.assertIsNotNone(m, var["definition"])
                exprs.append(f"group by ({m.group(2)}) ({m.group(1)})")
        # Each expression as a recording rule: promtool parses and checks every one.
        checks = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:expr_{i}:check", "expr": e} for i, e in enumerate(exprs)]}]}
        path = os.path.join(tmp, "dashboard-exprs.yml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(checks, f)
        rc, out = promtool("check", "rules", path)
        self.case.assertEqual(rc, 0, out)
        self.case.assertIn(f"SUCCESS: {len(exprs)} rules found", out)


class PrometheusRules(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="papyra-prom-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def committed(self):
        return Generated(self, os.path.join(SRC, "spec/metrics.yaml"), os.path.join(SRC, RULES),
                         os.path.join(SRC, DASHBOARD))

    def test_rules_file_matches_the_spec(self):
        self.committed().check_rules_file()

    def test_alerts_fire_and_reset_does_not(self):
        self.committed().test_rules(self.tmp)

    def test_dashboard_expressions(self):
        self.committed().check_dashboard(self.tmp)

    def test_unit_tests_can_fail(self):
        """A rules file whose alert never fires fails the generated unit tests."""
        with open(os.path.join(SRC, RULES), encoding="utf-8") as f:
            broken = f.read().replace("[5m]) > 0", "[5m]) > 1000")
        path = os.path.join(self.tmp, "broken-rules.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(broken)
        gen = Generated(self, os.path.join(SRC, "spec/metrics.yaml"), path,
                        os.path.join(SRC, DASHBOARD))
        with self.assertRaises(AssertionError):
            gen.test_rules(self.tmp)

    def test_a_new_alert_counter_gets_its_alert(self):
        spec = os.path.join(self.tmp, "metrics.yaml")
        with open(os.path.join(SRC, "spec/metrics.yaml"), encoding="utf-8") as f:
            text = f.read()
        with open(spec, "w", encoding="utf-8") as f:
            f.write(text.rstrip("\n") + "\n" + EXTRA_COUNTER)
        out = os.path.join(self.tmp, "out")
        os.mkdir(out)
        rules = os.path.join(out, "papyra-rules.yml")
        dash = os.path.join(out, "papyra-dashboard.json")
        p = subprocess.run([sys.executable, os.path.join(SRC, "codegen/gen.py"), "--spec", spec,
                            rules, dash], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        gen = Generated(self, spec, rules, dash)
        self.assertIn("writes_refused", [c["name"] for c in gen.counters])
        with open(rules, encoding="utf-8") as f:
            self.assertIn("alert: PapyraPersistenceWritesRefused", f.read())
        gen.check_rules_file()
        gen.test_rules(self.tmp)
        gen.check_dashboard(self.tmp)


if __name__ == "__main__":
    main_requiring([("promtool", PROMTOOL)], "package prometheus")
