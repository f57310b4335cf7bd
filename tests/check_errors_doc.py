#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs/errors.md lists exactly the codes of PAPYRA_ERRNO_MAP in common.h."""

import re
import sys

src = sys.argv[1]
header = open(f"{src}/include/papyra/common.h", encoding="utf-8").read()
doc = open(f"{src}/docs/errors.md", encoding="utf-8").read()
codes = re.findall(r'XX\((\w+), (\d+), "([^"]+)"\)', header)
documented = re.findall(r"^\| `PAPYRA_(\w+)` \| -(\d+) \| (.+) \|$", doc, re.M)
ok = [tuple(c) for c in codes] == [tuple(d) for d in documented]
if not ok:
    print("docs/errors.md is out of date with PAPYRA_ERRNO_MAP:")
    print("header:", codes)
    print("doc:   ", documented)
print(f"{1 if ok else 0} passed, {0 if ok else 1} failed")
sys.exit(0 if ok else 1)
