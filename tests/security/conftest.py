"""The security suite's counters: tests add to `security_counters`; with --security-summary
(as `make test-security` runs it) the session ends with one line of the totals."""

from collections import Counter

import pytest

SUMMARY_KEYS = (
    "routes",
    "refused_ok",
    "leaks",
    "hostile_fields",
    "pwned",
    "ssrf_forms",
    "ssrf_passed",
)
_COUNTERS = pytest.StashKey[Counter]()


def pytest_addoption(parser):
    parser.addoption(
        "--security-summary",
        action="store_true",
        default=False,
        help="End the run with one line of the security tests' counters.",
    )


def pytest_configure(config):
    config.stash[_COUNTERS] = Counter()


@pytest.fixture(scope="session")
def security_counters(pytestconfig) -> Counter:
    """Add real counts here (routes checked, refusals seen, fields written, ...)."""
    return pytestconfig.stash[_COUNTERS]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # SSRF tests (helper B2's test_ssrf.py, marked `ssrf`) may count their forms through
    # `security_counters`; otherwise each ssrf test counts as one form, and a failed one as
    # one request that got through.
    report = yield
    if report.when == "call" and item.get_closest_marker("ssrf"):
        counters = item.config.stash[_COUNTERS]
        counters["_ssrf_tests"] += 1
        counters["_ssrf_failed"] += int(report.failed)
    return report


def pytest_unconfigure(config):
    if not config.getoption("--security-summary", default=False):
        return
    counters = config.stash.get(_COUNTERS, Counter())
    if not counters["ssrf_forms"]:
        counters["ssrf_forms"] = counters["_ssrf_tests"]
    counters["ssrf_passed"] += counters["_ssrf_failed"]
    print(" ".join(f"{key}={counters[key]}" for key in SUMMARY_KEYS))
