#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The layer rule of src/: every #include points down, never up.

Usage: check_layers.py SRCROOT      check the tree; exit 1 naming each violation
       check_layers.py --self-test  prove on a made-up tree that a violation fails

The layers, lowest first (docs/contributing.md draws them):

    util  <-  json  <-  record  <-  core  <-  files  <-  backends/<scheme>
                ^                     |
                +----  metrics  <-----+

A file under src/<layer>/ may include public headers (<papyra/...>), system
headers, and "<layer>/..." for its own layer or one it depends on. files/ is
the append core and line readers of the file backends: it may include core/,
record/, json/ and util/, and no backend. A backend may include its own
folder and files/, never another backend's, and never metrics/: the generic
layer moves the counters, a backend only reports what happened. The
CLI (cli/) uses the public API, plus the bottom layer (util/) for small
helpers. Internal includes always name their layer ("core/backend.h"), so a
bare "x.h" in src/ is a violation too, except the headers the generator writes
for the metrics layer.
"""

import os
import re
import sys
import tempfile

ALLOWED = {
    "util": {"util"},
    "json": {"json", "util"},
    "record": {"record", "json", "util"},
    "metrics": {"metrics", "json", "util"},
    "core": {"core", "metrics", "record", "json", "util"},
    "files": {"files", "core", "record", "json", "util"},
    "backends": {"files", "core", "record", "json", "util"},  # plus the backend's own folder
    "cli": {"util"},
}
GENERATED = {"metrics-gen.h": "metrics", "metrics-inc-gen.h": "metrics"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """('backends/json', 'backends') for src/backends/json/x.c; ('cli', 'cli') for cli/x.c."""
    parts = rel.split("/")
    if parts[0] == "cli":
        return "cli", "cli"
    if parts[:2] == ["generated", "src"]:
        return "metrics", "metrics"  # the generated part of the metrics core
    if parts[0] != "src" or len(parts) < 3:
        return None, None
    if parts[1] == "backends":
        return "backends/" + parts[2], "backends"
    return parts[1], parts[1]


def check_tree(root):
    problems = []
    for top in ("src", "cli", "generated/src"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                own, layer = layer_of(rel)
                if layer is None:
                    problems.append(f"{rel}: a source file outside the layer folders")
                    continue
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for m in INCLUDE.finditer(text):
                    inc = m.group(1)
                    line = text.count("\n", 0, m.start()) + 1
                    where = f"{rel}:{line}: #include \"{inc}\""
                    if layer == "cli" and "/" not in inc:
                        continue  # the CLI's own headers
                    if "/" not in inc:
                        if GENERATED.get(inc) in ALLOWED[layer] | {layer}:
                            continue
                        problems.append(f"{where} does not name its layer (write \"<layer>/{inc}\")")
                        continue
                    target = inc.split("/")[0]
                    if target == "backends":
                        target = "/".join(inc.split("/")[:2])
                        if layer != "backends":
                            problems.append(f"{where}: layer {layer} may not include a "
                                            f"backend's header ({target})")
                        elif target != own:
                            problems.append(f"{where}: {own} may not include another "
                                            f"backend's header ({target})")
                        continue
                    if target == layer or target in ALLOWED[layer]:
                        continue
                    problems.append(f"{where}: layer {layer} may not include {target}/ "
                                    f"(it may include: {', '.join(sorted(ALLOWED[layer]))})")
    return problems


def self_test():
    bad = {
        "src/util/a.c": '#include "core/backend.h"\n',
        "src/json/b.c": '#include "util/buf.h"\n#include "buf.h"\n',
        "src/backends/json/c.c": '#include "backends/redis/r.h"\n#include "metrics/m.h"\n',
        "src/core/d.c": '#include "backends/json/jsonl.h"\n#include "record/codec.h"\n',
        "src/files/f.c": '#include "core/backend.h"\n#include "metrics/count.h"\n'
                         '#include "backends/rotating/rotating.h"\n',
        "cli/e.c": '#include "cli.h"\n#include "core/backend.h"\n',
        "src/stray.c": "\n",
        "generated/src/g.c": '#include "core/backend.h"\n',
    }
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in bad.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w", encoding="utf-8") as f:
                f.write(text)
        found = check_tree(tmp)
    want = ["src/util/a.c:1", "src/json/b.c:2", "src/backends/json/c.c:1",
            "src/backends/json/c.c:2", "src/core/d.c:1", "src/files/f.c:2", "src/files/f.c:3",
            "cli/e.c:2", "src/stray.c", "generated/src/g.c:1"]
    missed = [w for w in want if not any(p.startswith(w) for p in found)]
    for p in found:
        print("found as expected: " + p)
    if missed or len(found) != len(want):
        print(f"FAIL: expected {len(want)} violations, found {len(found)}; missed {missed}")
        return 1
    print(f"{len(want)} passed, 0 failed")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    problems = check_tree(sys.argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) point up a layer; see docs/contributing.md")
        return 1
    print("every #include in src/, generated/src/ and cli/ points down a layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
