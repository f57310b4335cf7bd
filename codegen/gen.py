#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate libpapyra's metrics code, tables and docs from spec/metrics.yaml.

Usage:
  gen.py --spec SPEC OUTPUT...        render each OUTPUT; its file name picks the
                                      template codegen/templates/<name>.jinja
  gen.py --spec SPEC --update SRCROOT rewrite the committed copies in SRCROOT
  gen.py --spec SPEC --check          validate the spec only

The spec is validated strictly: any problem is reported as
"<spec file>: <key path>: <what is wrong>" and the exit status is 1.
"""

import argparse
import json
import os
import re
import sys

import jinja2
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")

# Template name -> path of the committed copy, relative to the source root.
COMMITTED = {
    "metrics-gen.h": "generated/include/papyra/metrics-gen.h",
    "metrics-gen.c": "generated/src/metrics-gen.c",
    "metrics-inc-gen.h": "generated/src/metrics-inc-gen.h",
    "metrics-reference.md": "docs/metrics-reference.md",
    "papyra-metrics.7": "docs/man/papyra-metrics.7",
    "papyra.1": "docs/man/papyra.1",
    "metrics.schema.json": "docs/metrics.schema.json",
    "papyra-rules.yml": "docs/prometheus/papyra-rules.yml",
    "papyra-dashboard.json": "docs/grafana/papyra-dashboard.json",
}

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_NAME = 55  # the metrics file keeps names in 56-byte slots
LAYOUT_VERSION = 1

TOP_KEYS = {"format_version", "backends", "categories", "operations", "facts", "counters"}
BACKEND_KEYS = {"id", "name"}
FACT_KEYS = {"id", "meaning", "operations"}
CATEGORY_KEYS = {"id", "name"}
COUNTER_KEYS = {
    "name",
    "category",
    "unit",
    "help",
    "increments",
    "excludes",
    "operations",
    "counts",
    "alert",
    "backends",
}
SUPPORT_VALUES = {"supported", "unsupported"}
# counts: when a call of one of the counter's operations moves it, and by what.
# `by` names a fact of the spec's `facts:` list (papyra_count_by in metrics-gen.h).
COUNTS_KEYS = {"when", "by"}
COUNTS_WHEN = ("always", "success", "failure")


class SpecError(Exception):
    pass


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate mapping keys."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise SpecError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _fail(path, msg):
    raise SpecError(f"{path}: {msg}")


def _key(path, key):
    """path + key: "spec.yaml: key" at the top level, "...counters[0].key" below it."""
    return f"{path}.{key}" if ": " in path else f"{path}: {key}"


def _check_keys(obj, allowed, path):
    if not isinstance(obj, dict):
        _fail(path, f"must be a mapping, got {type(obj).__name__}")
    for key in obj:
        if key not in allowed:
            _fail(_key(path, key), "unknown key")
    for key in sorted(allowed):
        if key not in obj:
            _fail(_key(path, key), "missing")


def _text(obj, key, path):
    value = obj[key]
    if not isinstance(value, str):
        _fail(_key(path, key), f"must be text, got {type(value).__name__}")
    if "*/" in value:
        _fail(_key(path, key), "must not contain '*/' (it ends a C comment)")
    value = " ".join(value.split())
    if not value:
        _fail(_key(path, key), "must not be empty")
    return value


def _ident(obj, key, path):
    value = _text(obj, key, path)
    if not NAME_RE.match(value) or len(value) > MAX_NAME:
        _fail(_key(path, key), f"{value!r} is not a snake_case name of at most {MAX_NAME} chars")
    return value


def _list(obj, key, path):
    value = obj[key]
    if not isinstance(value, list) or not value:
        _fail(_key(path, key), "must be a non-empty list")
    return value


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def load_spec(path):
    """Read and validate the spec; return the model the templates use."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.load(f, Loader=UniqueKeyLoader)
    except OSError as e:
        raise SpecError(f"{path}: cannot read: {e.strerror}")
    except SpecError as e:
        raise SpecError(f"{path}: {e}")
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}")

    _check_keys(raw, TOP_KEYS, path)
    version = raw["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        _fail(f"{path}: format_version", "must be a positive integer")

    def id_list(key, allowed):
        items, seen = [], set()
        for i, entry in enumerate(_list(raw, key, path)):
            where = f"{path}: {key}[{i}]"
            _check_keys(entry, allowed, where)
            ident = _ident(entry, "id", where)
            if ident in seen:
                _fail(f"{where}.id", f"duplicate {key[:-1]} {ident!r}")
            seen.add(ident)
            items.append({"id": ident, "name": _text(entry, "name", where)})
        return items

    backends = id_list("backends", BACKEND_KEYS)
    categories = id_list("categories", CATEGORY_KEYS)
    if len(backends) > 32:
        _fail(f"{path}: backends", "at most 32 backends fit the support mask")

    operations = []
    for i, op in enumerate(_list(raw, "operations", path)):
        if not isinstance(op, str) or not NAME_RE.match(op):
            _fail(f"{path}: operations[{i}]", f"{op!r} is not a snake_case name")
        if op in operations:
            _fail(f"{path}: operations[{i}]", f"duplicate operation {op!r}")
        operations.append(op)

    backend_ids = [b["id"] for b in backends]
    facts, fact_ids = [], {}
    for i, entry in enumerate(_list(raw, "facts", path)):
        where = f"{path}: facts[{i}]"
        _check_keys(entry, FACT_KEYS, where)
        ident = _ident(entry, "id", where)
        where = f"{path}: facts[{i}] ({ident})"
        if ident in fact_ids:
            _fail(f"{where}.id", f"duplicate fact {ident!r}")
        fops = entry["operations"]
        if not isinstance(fops, list) or not fops:
            _fail(f"{where}.operations", "must be a non-empty list")
        for op in fops:
            if op not in operations:
                _fail(f"{where}.operations",
                      f"unknown operation {op!r} (valid: {', '.join(operations)})")
        fact_ids[ident] = len(facts)
        facts.append({
            "index": len(facts),
            "id": ident,
            "upper": ident.upper(),
            "meaning": _text(entry, "meaning", where),
            "operations": [op for op in operations if op in fops],
            "operation_mask": sum(1 << j for j, op in enumerate(operations) if op in fops),
        })
    category_names = {c["id"]: c["name"] for c in categories}
    counters, seen = [], set()
    for i, entry in enumerate(_list(raw, "counters", path)):
        where = f"{path}: counters[{i}]"
        _check_keys(entry, COUNTER_KEYS, where)
        name = _ident(entry, "name", where)
        where = f"{path}: counters[{i}] ({name})"
        if name in seen:
            _fail(f"{where}.name", f"duplicate counter {name!r}")
        seen.add(name)
        category = _text(entry, "category", where)
        if category not in category_names:
            _fail(f"{where}.category", f"unknown category {category!r}")
        unit = _text(entry, "unit", where)
        if not isinstance(entry["alert"], bool):
            _fail(f"{where}.alert", "must be true or false")
        ops = entry["operations"]
        if not isinstance(ops, list) or not ops:
            _fail(f"{where}.operations", "must be a non-empty list")
        for op in ops:
            if op not in operations:
                _fail(f"{where}.operations", f"unknown operation {op!r}")
        if len(set(ops)) != len(ops):
            _fail(f"{where}.operations", "lists an operation twice")
        counts = entry["counts"]
        if not isinstance(counts, dict):
            _fail(f"{where}.counts", "must be a mapping with when and by")
        _check_keys(counts, COUNTS_KEYS, f"{where}.counts")
        if counts["when"] not in COUNTS_WHEN:
            _fail(f"{where}.counts.when", f"must be one of {', '.join(COUNTS_WHEN)}")
        by = counts["by"]
        if not isinstance(by, str) or by not in fact_ids:
            _fail(f"{where}.counts.by",
                  f"unknown fact {by!r}; valid facts: {', '.join(f['id'] for f in facts)}")
        fact = facts[fact_ids[by]]
        for op in ops:
            if op not in fact["operations"]:
                _fail(f"{where}.counts.by",
                      f"fact {by!r} is not reported by operation {op!r} (only by "
                      f"{', '.join(fact['operations'])}); add the fact to the store's {op} "
                      f"outcome first, or pick one of: "
                      f"{', '.join(f['id'] for f in facts if op in f['operations'])}")
        if "\n" in entry["help"].strip() if isinstance(entry["help"], str) else False:
            _fail(f"{where}.help", "must be one line")
        support = entry["backends"]
        if not isinstance(support, dict):
            _fail(f"{where}.backends", "must be a mapping of backend to supported/unsupported")
        for b, value in support.items():
            if b not in backend_ids:
                _fail(f"{where}.backends.{b}", "unknown backend")
            if value not in SUPPORT_VALUES:
                _fail(f"{where}.backends.{b}", f"must be supported or unsupported, got {value!r}")
        for b in backend_ids:
            if b not in support:
                _fail(f"{where}.backends.{b}", "missing")
        counters.append(
            {
                "index": i,
                "name": name,
                "upper": name.upper(),
                "category": category,
                "category_name": category_names[category],
                "unit": unit,
                "help": _text(entry, "help", where),
                "increments": _text(entry, "increments", where),
                "excludes": _text(entry, "excludes", where),
                "operations": [op for op in operations if op in ops],
                "counts_when": counts["when"],
                "counts_by": counts["by"],
                "counts_fact": fact_ids[by],
                "alert": entry["alert"],
                "supported": [b for b in backend_ids if support[b] == "supported"],
            }
        )

    if len(counters) > 4096:
        _fail(f"{path}: counters", "at most 4096 counters")

    layout_text = f"papyra-metrics-layout/{LAYOUT_VERSION}\n" + "".join(
        c["name"] + "\n" for c in counters
    )
    for b in backends:
        b["upper"] = b["id"].upper()
        b["mask"] = sum(1 << c["index"] for c in counters if b["id"] in c["supported"])
    for c in counters:
        c["backend_mask"] = sum(1 << j for j, b in enumerate(backends) if b["id"] in c["supported"])
        c["operation_mask"] = sum(1 << j for j, op in enumerate(operations) if op in c["operations"])
    # One rule per counter and operation, grouped by operation: what the
    # metrics core applies to an operation's facts (src/metrics/count.c).
    rules, spans = [], []
    for op in operations:
        first = len(rules)
        for c in counters:
            if op in c["operations"]:
                rules.append({"op": op, "counter": c, "fact": facts[c["counts_fact"]],
                              "when": c["counts_when"]})
        mine = rules[first:]
        spans.append({
            "op": op, "first": first, "count": len(rules) - first,
            "facts": sum(1 << f["index"] for f in facts if op in f["operations"]),
            # Per fact, the counters an always-rule of this operation moves by it.
            "always": [sum({1 << r["counter"]["index"] for r in mine
                            if r["when"] == "always" and r["fact"] is f}) for f in facts],
            "end_facts": sum({1 << r["fact"]["index"] for r in mine if r["when"] != "always"}),
            "success": any(r["when"] == "success" for r in mine),
            "failure": any(r["when"] == "failure" for r in mine),
        })
    return {
        "format_version": version,
        "facts": facts,
        "rules": rules,
        "spans": spans,
        "layout_version": LAYOUT_VERSION,
        "spec_hash": fnv1a64(layout_text.encode()),
        "backends": backends,
        "categories": categories,
        "operations": operations,
        "counters": counters,
    }


def c_string(text):
    """Quote text as a C string literal."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def roff(text):
    """Escape text for a man page line."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def md_cell(text):
    return text.replace("|", "\\|")


def camel(name):
    """write_errors -> WriteErrors (Prometheus alert names are CamelCase)."""
    return "".join(part.capitalize() for part in name.split("_"))


# Grafana dashboard: the variables its expressions use and the selector they build.
DASHBOARD_SELECTOR = 'backend=~"$backend", store=~"$store"'


def dashboard(model):
    """The Grafana dashboard of the spec: a row per category, a rate panel per
    counter, and a stat panel (increase over the dashboard's range) per alert
    counter. Built as data and written as JSON, so it is valid by construction."""
    panels, x, y, next_id = [], 0, 0, 1
    datasource = {"type": "prometheus", "uid": "${datasource}"}

    def add_panel(kind, title, description, defaults, options, target):
        """Appends a panel of a counter at the next place of the 3-wide grid."""
        nonlocal x, y, next_id
        panels.append({
            "type": kind,
            "id": next_id,
            "title": title,
            "description": description,
            "datasource": datasource,
            "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": [{"refId": "A", "datasource": datasource, **target}],
        })
        next_id += 1
        x += 8
        if x >= 24:
            x, y = 0, y + 8

    for cat in model["categories"]:
        mine = [c for c in model["counters"] if c["category"] == cat["id"]]
        if not mine:
            continue
        panels.append({"type": "row", "id": next_id, "title": cat["name"], "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id += 1
        y += 1
        x = 0
        for c in mine:
            metric = f"papyra_persistence_{c['name']}_total"
            unit = c["unit"].strip("{}")
            add_panel(
                "timeseries", f"{c['name']} per second",
                f"{c['help']} Counts: {c['increments']}",
                {"unit": f"suffix: {unit}/s", "min": 0},
                {"legend": {"displayMode": "list", "placement": "bottom"}},
                {"expr": f"sum by (backend, store) (rate({metric}{{{DASHBOARD_SELECTOR}}}"
                         f"[$__rate_interval]))",
                 "legendFormat": "{{backend}} {{store}}"})
            if c["alert"]:
                add_panel(
                    "stat", f"{c['name']} in range", f"{c['help']} Alert: any increase.",
                    {"unit": "short", "min": 0,
                     "thresholds": {"mode": "absolute", "steps": [
                         {"color": "green", "value": None},
                         {"color": "red", "value": 1}]}},
                    {"colorMode": "background", "graphMode": "none",
                     "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
                    {"expr": f"sum(increase({metric}{{{DASHBOARD_SELECTOR}}}[$__range]))"})
        if x:
            y += 8

    def label_var(name):
        return {
            "name": name, "label": name, "type": "query",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": f"label_values(papyra_persistence_records_written_total, {name})",
                      "refId": f"{name}-values"},
            "definition": f"label_values(papyra_persistence_records_written_total, {name})",
            "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2,
            "current": {"text": "All", "value": "$__all"},
        }

    return {
        "__comment": "Generated by codegen/gen.py from spec/metrics.yaml - do not edit; "
                     "edit the spec and regenerate.",
        "title": "Papyra persistence",
        "uid": "papyra-persistence",
        "tags": ["papyra"],
        "editable": True,
        "schemaVersion": 38,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource",
             "query": "prometheus", "current": {}},
            label_var("backend"),
            label_var("store"),
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


def make_env():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["c"] = c_string
    env.filters["roff"] = roff
    env.filters["md"] = md_cell
    env.filters["camel"] = camel
    env.filters["pretty"] = lambda obj: json.dumps(obj, indent=2, ensure_ascii=False)
    env.filters["json"] = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return env


def render(env, model, name):
    try:
        template = env.get_template(name + ".jinja")
    except jinja2.TemplateNotFound:
        raise SpecError(f"no template for output {name!r} (expected {TEMPLATES}/{name}.jinja)")
    return template.render(**model, dashboard=dashboard(model), banner="Generated by codegen/gen.py from spec/metrics.yaml"
                           " - do not edit; edit the spec and regenerate.")


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    parser = argparse.ArgumentParser(description="Generate metrics code and docs from the spec.")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--update", metavar="SRCROOT")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("outputs", nargs="*")
    args = parser.parse_args(argv)
    try:
        model = load_spec(args.spec)
        env = make_env()
        if args.check:
            return 0
        if args.update:
            for name, rel in COMMITTED.items():
                write_if_changed(os.path.join(args.update, rel), render(env, model, name))
        for out in args.outputs:
            write_if_changed(out, render(env, model, os.path.basename(out)))
    except SpecError as e:
        print(f"gen.py: error: {e}", file=sys.stderr)
        return 1
    except jinja2.TemplateError as e:
        print(f"gen.py: template error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
