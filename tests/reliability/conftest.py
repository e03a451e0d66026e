"""The reliability suite's plumbing: Hypothesis profiles, shared moto fixtures, and the results table.

Hypothesis profiles (choose with the environment variable HYPOTHESIS_PROFILE):
- `ci` (default): few examples, derandomized, so `make test` is quick and never flaky.
- `deep` (by hand, e.g. before a release): many more examples, a fresh random seed every run.

With RELIABILITY_TABLE=<path> set, the session writes a Markdown table to <path>: each fault or
bad-input class tried (the `reliability` mark), how many tests and cases ran (a case is one test
call, or one Hypothesis example), and the outcome. docs/reliability.md includes that file.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from hypothesis import HealthCheck, Phase, settings

# The moto fixtures of the functional tier, reused as they are (aws_env is autouse there, and here).
from tests.functional.conftest import (  # noqa: F401
    aws,
    aws_env,
    calls,
    enforce,
    iam,
    lambda_client,
    quarantine_arn,
    report_mode,
    sns,
    sqs,
    ssm,
)

settings.register_profile(
    "ci",
    max_examples=100,
    derandomize=True,
    database=None,  # CI runs do not depend on examples a previous local run saved
    deadline=None,  # no timed assertions: a slow CI box must not fail a property
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    max_examples=2_000,
    deadline=None,
    print_blob=True,
    phases=list(Phase),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

TABLE_ENV = "RELIABILITY_TABLE"


@pytest.fixture
def backoff_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's standard-mode backoff, computed as usual but not slept: the list of delays it chose.

    Retries still happen, attempt by attempt, through botocore's real retry handler; only the
    jittered sleep between attempts (up to 20 s each) is skipped, so a test proves that throttling
    is absorbed without waiting for it.
    """
    delays: list[float] = []
    original = ExponentialBackoff.delay_amount

    def recorded(self: ExponentialBackoff, context: Any) -> float:
        delays.append(original(self, context))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", recorded)
    return delays


# ----------------------------------------------------------------------------- results table


@dataclass
class _Row:
    kind: str
    expected: str
    tests: int = 0
    cases: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass
class _Results:
    rows: dict[str, _Row] = field(default_factory=dict)
    cases: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, bool] = field(default_factory=dict)
    marks: dict[str, tuple[str, str]] = field(default_factory=dict)


_RESULTS = _Results()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability(kind, expected): the fault or bad-input class a test tries (docs/reliability.md table)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Count the cases a test runs: one per Hypothesis example (via its documented `inner_test` hook)."""
    mark = item.get_closest_marker("reliability")
    if mark is not None:
        _RESULTS.marks[item.nodeid] = (mark.kwargs["kind"], mark.kwargs["expected"])
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None:
        _RESULTS.cases[item.nodeid] += 1
        return (yield)
    inner: Callable[..., Any] = handle.inner_test

    @functools.wraps(inner)
    def counted(*args: Any, **kwargs: Any) -> Any:
        _RESULTS.cases[item.nodeid] += 1
        return inner(*args, **kwargs)

    handle.inner_test = counted
    try:
        return (yield)
    finally:
        handle.inner_test = inner


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.failed:
        _RESULTS.outcomes[report.nodeid] = _RESULTS.outcomes.get(report.nodeid, True) and not report.failed


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(TABLE_ENV)
    if not target or not _RESULTS.marks:
        return
    path = Path(target)
    if not path.is_absolute():
        path = Path(session.config.rootpath) / path
    path.write_text(render_table(_RESULTS))


def render_table(results: _Results) -> str:
    """The Markdown table: one row per fault or bad-input class, in the order the tests ran."""
    rows: dict[str, _Row] = {}
    for nodeid, (kind, expected) in results.marks.items():
        row = rows.setdefault(kind, _Row(kind, expected))
        row.tests += 1
        row.cases += results.cases[nodeid]
        if not results.outcomes.get(nodeid, False):
            row.failed.append(nodeid.rsplit("::", 1)[-1])
    lines = [
        f"<!-- generated by `make reliability-table` (pytest tests/reliability, Hypothesis profile `{PROFILE}`);"
        " do not edit by hand -->",
        "",
        "| fault or bad input tried | tests | cases | what must hold | outcome |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for row in rows.values():
        outcome = "holds" if not row.failed else f"**fails**: {', '.join(row.failed)}"
        lines.append(f"| {row.kind} | {row.tests} | {row.cases} | {row.expected} | {outcome} |")
    total_tests = sum(r.tests for r in rows.values())
    total_cases = sum(r.cases for r in rows.values())
    failing = sum(len(r.failed) for r in rows.values())
    lines += ["", f"{total_tests} tests, {total_cases} cases, {failing} failing."]
    return "\n".join(lines) + "\n"
