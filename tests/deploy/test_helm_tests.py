"""deploy.helm_tests without helm: what the state keeps and what ``firestream test`` prints.

``helm test`` itself, on the emulator with helm 3 and 4: tests/ops/test_helm_tests.py.
"""

from __future__ import annotations

from firestream_core.deploy.helm_tests import (
    ReleaseTestResult,
    format_test_results,
    state_test_entries,
)
from firestream_core.tools.helm_output import TestResult


def test_the_state_keeps_each_test_stamped_with_its_run() -> None:
    passed = TestResult("web-test", "Succeeded", "2026-01-02T03:04:05Z", "2026-01-02T03:04:09Z")
    failed = TestResult("db-test", "Failed", "", "")
    assert state_test_entries([passed, failed], "2026-01-02T03:05:00Z") == [
        {"name": "web-test", "phase": "Succeeded", "passed": True, "started": "2026-01-02T03:04:05Z",
         "completed": "2026-01-02T03:04:09Z", "run_at": "2026-01-02T03:05:00Z"},
        {"name": "db-test", "phase": "Failed", "passed": False, "started": None, "completed": None,
         "run_at": "2026-01-02T03:05:00Z"},
    ]


def test_only_failed_and_error_are_not_ok() -> None:
    ok = {s: ReleaseTestResult("r", "ns", s).ok
          for s in ("passed", "failed", "no-tests", "not-deployed", "skipped", "error")}
    assert ok == {"passed": True, "failed": False, "no-tests": True, "not-deployed": True,
                  "skipped": True, "error": False}


def test_the_table_names_the_failing_tests_and_sums_up() -> None:
    results = [
        ReleaseTestResult("web", "apps", "passed", (TestResult("web-test", "Succeeded"),)),
        ReleaseTestResult("db", "apps", "failed", (TestResult("db-test", "Failed"),),
                          message="pod db-test failed\nmore"),
        ReleaseTestResult("cache", "apps", "no-tests"),
    ]
    assert format_test_results(results) == (
        "web    PASSED  (web-test Succeeded)\n"
        "db     FAILED  (db-test Failed)\n"
        "       pod db-test failed\n"
        "cache  no tests\n"
        "\n"
        "1 release(s) failed their tests: db\n"
    )
    assert format_test_results([ReleaseTestResult("a", "ns", "no-tests")]).endswith("No tests ran.\n")
    assert format_test_results([]) == "No releases.\n"
