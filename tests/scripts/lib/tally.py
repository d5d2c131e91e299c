# SPDX-License-Identifier: Apache-2.0
"""The pass/fail/skip counters of the Python tests, and their closing line
"N passed, N failed, N skipped" (tests/run.sh sums these lines; a skip
names its tag from tests/expected-skips so CI can tell expected ones)."""

import sys


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL", what, file=sys.stderr)
        return cond

    def skip(self, what, tag=None):
        self.skipped += 1
        print("SKIP [%s] %s" % (tag, what) if tag else "SKIP %s" % what)

    def close(self):
        """Prints the closing line; returns the exit status."""
        print("%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped))
        return 1 if self.failed else 0
