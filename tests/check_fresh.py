#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails when a committed generated file differs from what the spec produces.

Usage: check_fresh.py COMMITTED BUILT [COMMITTED BUILT ...]
"""

import difflib
import sys


def main(args):
    stale = 0
    for committed, built in zip(args[::2], args[1::2]):
        with open(committed, encoding="utf-8") as f:
            old = f.readlines()
        with open(built, encoding="utf-8") as f:
            new = f.readlines()
        if old != new:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(old, new, committed, built))
            print(f"STALE {committed}")
        else:
            print(f"fresh {committed}")
    if stale:
        print("The committed copies are stale: run `ninja -C build update-generated` and commit.")
    print(f"{len(args) // 2 - stale} passed, {stale} failed")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
