#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The ABI of libpapyra.so: exactly the symbols of src/libpapyra.map.

Usage: check_symbols.py NM LIBPAPYRA_SO MAP INCLUDE_DIR
       check_symbols.py --self-test

Fails, saying what to add or remove and where, when
- the library exports a symbol the map does not list, or the map lists one
  the library does not export (nm -D --defined-only);
- a function declared PAPYRA_PUBLIC in INCLUDE_DIR/*.h is not in the map
  (the linker would hide it: local: *);
- a function whose header comment says "@since X.Y.Z" is in another node
  than PAPYRA_X.Y, or the library exports it under another version.
"""

import os
import re
import subprocess
import sys
import tempfile

NODE = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\{(.*?)\}\s*([A-Za-z_][A-Za-z0-9_.]*)?\s*;", re.S)
PUBLIC = re.compile(r"\bPAPYRA_PUBLIC\b[^;{(]*?\b([A-Za-z_]\w*)\s*\(")
SINCE = re.compile(r"@since\s+(\d+)\.(\d+)")


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def read_map(path):
    """[(node, [symbols])] in file order."""
    with open(path, encoding="utf-8") as f:
        text = strip_comments(f.read())
    nodes = []
    for m in NODE.finditer(text):
        body = m.group(2)
        glob = body.split("local:")[0].replace("global:", "")
        names = [s.strip() for s in glob.split(";") if s.strip()]
        nodes.append((m.group(1), names))
    return nodes


def public_functions(include_dir):
    """{name: (header, since node or None)} for every PAPYRA_PUBLIC function."""
    found = {}
    for name in sorted(os.listdir(include_dir)):
        if not name.endswith(".h"):
            continue
        with open(os.path.join(include_dir, name), encoding="utf-8") as f:
            text = f.read()
        # Blank out preprocessor lines (the definition of PAPYRA_PUBLIC itself).
        text = re.sub(r"^[ \t]*#.*$", lambda m: " " * len(m.group(0)), text, flags=re.M)
        for m in PUBLIC.finditer(text):
            before = text[:m.start()].rstrip()
            since = None
            if before.endswith("*/"):
                doc = before[before.rfind("/*"):]
                s = SINCE.search(doc)
                if s:
                    since = f"PAPYRA_{s.group(1)}.{s.group(2)}"
            found[m.group(1)] = (name, since)
    return found


def exported(nm, lib):
    """{name: version or None} of the defined dynamic symbols, version nodes left out."""
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[-2] == "A":  # "A PAPYRA_0.1": a version definition
            continue
        name, _, version = parts[-1].partition("@")
        syms[name] = version.lstrip("@") or None
    return syms


def check(nodes, public, syms, map_path):
    problems = []
    where = {}
    for node, names in nodes:
        for n in names:
            if n in where:
                problems.append(f"{n} is listed twice in {map_path} ({where[n]} and {node}): "
                                f"remove it from {node}")
            where.setdefault(n, node)
    newest = nodes[-1][0] if nodes else "PAPYRA_0.1"
    for name in sorted(public):
        header, since = public[name]
        node = since or newest
        if name not in where:
            hint = "" if since else f" (its comment in {header} has no @since: add one)"
            problems.append(f"include/papyra/{header} declares {name} PAPYRA_PUBLIC but "
                            f"{map_path} does not list it: add \"    {name};\" to its "
                            f"{node} node{hint}")
        elif since and where[name] != since:
            problems.append(f"{name} is @since {since[len('PAPYRA_'):]} in include/papyra/"
                            f"{header} but listed in {where[name]}: move it to the {since} node")
    for name in sorted(syms):
        if name not in where:
            problems.append(f"libpapyra.so exports {name}, which {map_path} does not list: "
                            f"declare it PAPYRA_PUBLIC in a header and add \"    {name};\" to "
                            f"the {newest} node, or make it static or papyra__-internal")
        elif syms[name] and syms[name] != where[name]:
            problems.append(f"libpapyra.so exports {name} as version {syms[name]}, but "
                            f"{map_path} lists it in {where[name]}")
    for name in sorted(where):
        if name not in syms:
            problems.append(f"{map_path} lists {name} ({where[name]}), which libpapyra.so does "
                            f"not export: define it, or remove it from the map if it was "
                            f"never released")
        elif name not in public:
            problems.append(f"{name} is exported but no header in include/papyra/ declares "
                            f"it PAPYRA_PUBLIC: declare it, or remove it from {map_path}")
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        inc = os.path.join(tmp, "include")
        os.makedirs(inc)
        with open(os.path.join(inc, "a.h"), "w", encoding="utf-8") as f:
            f.write("#define PAPYRA_PUBLIC __attribute__((visibility(\"default\")))\n"
                    "PAPYRA_PUBLIC int papyra_old(void);\n"
                    "/** New. @since 0.2.0 */\nPAPYRA_PUBLIC const char *\npapyra_new(int x);\n"
                    "/** Forgotten. @since 0.2.0 */\nPAPYRA_PUBLIC void papyra_missing(void);\n"
                    "/** Misplaced. @since 0.2.0 */\nPAPYRA_PUBLIC void papyra_early(void);\n")
        map_path = os.path.join(tmp, "lib.map")
        with open(map_path, "w", encoding="utf-8") as f:
            f.write("/* x */\nPAPYRA_0.1 {\nglobal:\n    papyra_old;\n    papyra_early;\n"
                    "    papyra_gone;\nlocal:\n    *;\n};\n\n"
                    "PAPYRA_0.2 {\nglobal:\n    papyra_new;\n} PAPYRA_0.1;\n")
        nodes = read_map(map_path)
        public = public_functions(inc)
    syms = {"papyra_old": "PAPYRA_0.1", "papyra_new": "PAPYRA_0.2", "papyra_early": "PAPYRA_0.1",
            "papyra_leak": None}
    found = check(nodes, public, syms, "lib.map")
    want = ["papyra_missing PAPYRA_PUBLIC but", "papyra_early is @since 0.2", "exports papyra_leak",
            "lists papyra_gone"]
    ok = (nodes == [("PAPYRA_0.1", ["papyra_old", "papyra_early", "papyra_gone"]),
                    ("PAPYRA_0.2", ["papyra_new"])]
          and public["papyra_new"] == ("a.h", "PAPYRA_0.2") and public["papyra_old"] == ("a.h", None))
    for p in found:
        print("found as expected: " + p)
    missed = [w for w in want if not any(w in p for p in found)]
    if not ok or missed or len(found) != len(want):
        print(f"FAIL: parsed {nodes} {public}; expected {len(want)} problems, found "
              f"{len(found)}; missed {missed}")
        return 1
    print(f"{len(want)} passed, 0 failed")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    nm, lib, map_path, include_dir = argv
    nodes = read_map(map_path)
    if not nodes:
        print(f"FAIL {map_path}: no version node found")
        return 1
    shown = os.path.relpath(map_path, os.path.dirname(os.path.dirname(os.path.abspath(include_dir))))
    problems = check(nodes, public_functions(include_dir), exported(nm, lib), shown)
    for p in problems:
        print("FAIL " + p)
    if problems:
        print(f"{len(problems)} problem(s) with the exported symbols; see src/libpapyra.map")
        return 1
    count = sum(len(names) for _, names in nodes)
    print(f"libpapyra.so exports exactly the {count} symbols of {shown}, "
          f"every PAPYRA_PUBLIC function, each in its node")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
