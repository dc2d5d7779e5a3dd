#!/usr/bin/python3
"""Runs the scenario tests: `/usr/bin/python3 tests/scenario/run.py [FILTER]...`

Discovers tests/scenario/test_*.py (unittest), runs every test whose id contains one of the
FILTERs (all tests when none is given; a filter is a substring of an id such as
`test_handshake.Handshake.test_post_gets_405`), prints one line per test, the traceback and
the gateway log of each failing test, and ends with the line `N passed, N failed` (and
`, N skipped` when any). Exit status: 0 when nothing failed, 1 otherwise (also when no test
matched the filters or the postern binary is missing).
"""

import os
import sys
import time
import traceback
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402  (needs the path above)


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


class ReportingResult(unittest.TestResult):
    """Prints one line per test as it ends, with the traceback and the gateway log of failures."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.passed = 0
        self.failed_ids = set()
        self._started = 0.0
        self._problems = []

    def _emit(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self._started = time.monotonic()
        self._problems = []

    def addSuccess(self, test):
        super().addSuccess(test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._problems.append(("FAIL", err))

    def addError(self, test, err):
        super().addError(test, err)
        if not isinstance(test, unittest.TestCase):
            # A class or module fixture failed (setUpClass, tearDownClass): no startTest/stopTest.
            text = "".join(traceback.format_exception(*err))
            self.failed_ids.add(test.id())
            self._emit(f"FAIL  {test.description}")
            self._emit("\n".join("  " + line for line in text.rstrip().split("\n")))
            return
        self._problems.append(("ERROR", err))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._problems.append((f"{kind} {subtest._subDescription()}", err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(f"SKIP  {test.id()}: {reason}")

    def stopTest(self, test):
        super().stopTest(test)
        elapsed = time.monotonic() - self._started
        if any(t is test for t, _ in self.skipped):
            return
        if not self._problems:
            self.passed += 1
            self._emit(f"PASS  {test.id()} ({elapsed:.2f} s)")
            return
        self.failed_ids.add(test.id())
        self._emit(f"FAIL  {test.id()} ({elapsed:.2f} s)")
        for kind, err in self._problems:
            self._emit(f"  -- {kind}")
            text = "".join(traceback.format_exception(*err))
            self._emit("\n".join("  " + line for line in text.rstrip().split("\n")))
        excerpt = getattr(test, "gateway_log_excerpt", None)
        if excerpt:
            self._emit("  ---- gateway log during this test ----")
            self._emit("\n".join("  | " + line for line in excerpt.rstrip().split("\n")))
            self._emit("  ---- end of gateway log ----")

    def failed_count(self):
        """Tests (not subtests) that failed, plus failed class or module fixtures."""
        return len(self.failed_ids)


def main(argv):
    filters = [a for a in argv if not a.startswith("-")]
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    binary = harness.postern_bin()
    if not binary.is_file():
        print(f"postern binary not found: {binary} (run `make` first, or set POSTERN_BIN)")
        return 1

    loader = unittest.TestLoader()
    suite = loader.discover(str(HERE), pattern="test_*.py", top_level_dir=str(HERE))
    tests = list(iter_tests(suite))
    broken = [t for t in tests if t.__class__.__name__ in ("_FailedTest", "ModuleImportFailure")]
    if filters:
        tests = [t for t in tests if any(f in t.id() for f in filters)] + \
                [t for t in broken if t not in tests]
    if not tests:
        print(f"no test matches {' '.join(filters)}")
        return 1

    backend = os.environ.get("POSTERN_BACKEND", "(default)")
    print(f"scenario tests: {len(tests)} with {binary}, POSTERN_BACKEND={backend}", flush=True)
    result = ReportingResult(sys.stdout)
    started = time.monotonic()
    unittest.TestSuite(tests).run(result)
    failed = result.failed_count()
    skipped = len(result.skipped)
    print(f"({time.monotonic() - started:.1f} s)")
    summary = f"{result.passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary, flush=True)
    return 1 if failed or not result.wasSuccessful() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
