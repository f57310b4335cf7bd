#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The double formatter against Python on 300,000 values.

Usage: check_double_repr.py DOUBLE_REPR SRCROOT

DOUBLE_REPR (tests/double-repr.c) reads doubles as hex bit patterns and
prints papyra__json_write_double()'s text for each; every line must equal
json.dumps() of the same double. The values come from a fixed seed: random
64-bit patterns (finite), random decimals of 1-17 digits with random
exponents, integers below and beyond 2^53, powers of two and of ten with
their neighbours, subnormals and the boundaries of the format and of repr()'s
exponent form. Also fails if src/json/dtoa-table.h is not what
scripts/gen-dtoa-table.py writes.
"""
import json
import math
import os
import random
import struct
import subprocess
import sys

COUNT = 300_000


def bits_of(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def double_of(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def with_neighbours(x):
    return [math.nextafter(x, -math.inf), x, math.nextafter(x, math.inf)]


def values():
    rnd = random.Random(13)
    out = []
    # The boundaries of the format and of repr()'s layout.
    for x in [0.0, -0.0, 5e-324, 2.2250738585072009e-308, 2.2250738585072014e-308,
              1.7976931348623157e308, 1e-4, 1e-5, 1e16, 1e15, 9007199254740992.0,
              9007199254740993.0, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 123456789012345678.0]:
        out += with_neighbours(x)
    out = [x for x in out if math.isfinite(x)]
    out += [math.inf, -math.inf, math.nan]
    # Powers of two (the asymmetric interval) and of ten, with neighbours.
    for e in range(-1074, 1024):
        out += with_neighbours(math.ldexp(1.0, e))
    for e in range(-323, 309):
        out += with_neighbours(float(f"1e{e}"))
    # Integers below and beyond 2^53.
    for _ in range(30_000):
        out.append(float(rnd.getrandbits(rnd.randint(1, 70)) or 1))
    # Random decimals of 1-17 digits with random exponents.
    for _ in range(80_000):
        n = rnd.randint(1, 17)
        digits = str(rnd.randint(10 ** (n - 1), 10**n - 1))
        out.append(float(f"{digits}e{rnd.randint(-340, 310)}"))
    # Subnormals.
    for _ in range(20_000):
        out.append(double_of(rnd.getrandbits(52) or 1))
    # Random bit patterns, all finite, to fill up.
    while len(out) < COUNT:
        b = rnd.getrandbits(64)
        if (b >> 52) & 0x7FF != 0x7FF:
            out.append(double_of(b))
    out = out[:COUNT]
    # Either sign of every value.
    return [-x if rnd.random() < 0.5 else x for x in out]


def check_table(srcroot):
    gen = os.path.join(srcroot, "scripts", "gen-dtoa-table.py")
    want = subprocess.run([sys.executable, gen], check=True, capture_output=True, text=True).stdout
    with open(os.path.join(srcroot, "src", "json", "dtoa-table.h"), encoding="ascii") as f:
        if f.read() != want:
            print("STALE src/json/dtoa-table.h: run scripts/gen-dtoa-table.py src/json/dtoa-table.h")
            return False
    return True


def main(driver, srcroot):
    xs = values()
    feed = "".join(f"{bits_of(x):016x}\n" for x in xs)
    run = subprocess.run([driver], input=feed, capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        print(f"{driver} exited {run.returncode}: {run.stderr}")
        return 1
    got = run.stdout.split("\n")[:-1]
    if len(got) != len(xs):
        print(f"{driver} printed {len(got)} lines for {len(xs)} values")
        return 1
    bad = [(x, g) for x, g in zip(xs, got) if g != json.dumps(x)]
    for x, g in bad[:20]:
        print(f"MISMATCH {bits_of(x):016x} ({x.hex()}): wrote {g}, json.dumps writes {json.dumps(x)}")
    fresh = check_table(srcroot)
    print(f"{len(xs) - len(bad)} passed, {len(bad) + (not fresh)} failed")
    return 1 if bad or not fresh else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
