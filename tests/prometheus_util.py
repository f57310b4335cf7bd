# SPDX-License-Identifier: MIT
"""The entry point of the tests that need Debian's Prometheus tools
(test_prometheus_rules.py, test_serve.py, test_serve_prometheus.py): run the
tests when the tools are found, else exit 77 (skip), or 1 when
PAPYRA_TEST_REQUIRE_PROMETHEUS=1."""

import os
import sys
import unittest


def main_requiring(tools, packages):
    """Runs unittest.main() when every (name, path) of @tools has a path;
    @packages names the Debian packages that install the missing ones."""
    missing = " and ".join(name for name, path in tools if not path)
    if missing:
        if os.environ.get("PAPYRA_TEST_REQUIRE_PROMETHEUS") == "1":
            print("%s required (PAPYRA_TEST_REQUIRE_PROMETHEUS=1) but not found; install "
                  "Debian's %s (scripts/deps.sh does)" % (missing, packages), file=sys.stderr)
            sys.exit(1)
        print("skipped: %s not found (Debian %s)" % (missing, packages))
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
