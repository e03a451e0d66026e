"""Hostile EventBridge/CloudTrail events at the real-time handlers: arbitrary JSON at every level.

Each example starts from a captured event (tests/fixtures/eventbridge_*.json) and replaces,
deletes, adds or re-cases values anywhere in it (the envelope, `detail`, `userIdentity`,
`additionalEventData`...), or replaces the whole event with arbitrary JSON. The handler is
called as Lambda calls it (`app.on_console_login(event, context)`) against a moto account where
a valid event *would* cause a write, so "no write" means the event was judged, not that there
was nothing to do.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import app as lambda_module
from tests.conftest import FIXTURES, load_fixture
from tests.functional.conftest import CallCounter
from tests.reliability import support as rs
from tests.reliability.support import reliability
from tests.support import moto_state as ms

LOGIN_EVENTS = sorted(p.name for p in Path(FIXTURES).glob("eventbridge_console_login_*.json"))
IAM_EVENTS = sorted(p.name for p in Path(FIXTURES).glob("eventbridge_iam_*.json"))
SEEDED = ("alice", "bob")  # both without MFA, past grace: a valid sign-in or change would quarantine them

interesting = st.sampled_from(
    [
        "ConsoleLogin",
        "Success",
        "Failure",
        "No",
        "no",
        "Yes",
        "IAMUser",
        "Root",
        "AssumedRole",
        "aws.signin",
        "aws.iam",
        ms.ACCOUNT_ID,
        "210987654321",
        "alice",
        "<root_account>",
        ms.QUARANTINE_POLICY_ARN,
        "mfa-enforcer-quarantine",
        "EnableMFADevice",
        "DetachUserPolicy",
        '{"type": "IAMUser", "userName": "alice"}',
    ]
) | st.just(300_000).map(lambda n: "x" * n)  # an oversized value (events can carry 256 KB)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | interesting,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10) | interesting, inner, max_size=3),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, fixtures: list[str]) -> Any:
    """A captured event with 1-3 values replaced, deleted, added or re-cased anywhere in it."""
    event: Any = copy.deepcopy(load_fixture(draw(st.sampled_from(fixtures))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(event))))
        operation = draw(st.sampled_from(["replace", "replace", "delete", "add", "recase"]))
        if not path:
            if operation == "replace":
                event = draw(json_values)
            continue
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        if operation == "replace":
            parent[key] = draw(json_values)
        elif operation == "delete":
            del parent[key]
        elif operation == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12) | interesting)] = draw(json_values)
        elif operation == "recase" and isinstance(parent, dict) and isinstance(key, str):
            parent[draw(st.sampled_from([key.upper(), key.lower(), key.swapcase()]))] = parent.pop(key)
    return event


def seed() -> None:
    iam = rs.client("iam")
    ms.create_quarantine_policy(iam)
    for name in SEEDED:
        ms.create_user(iam, ms.UserSpec(name))


def restore(iam: Any) -> None:
    """Undo whatever a still-valid event did, so the next example starts from the seeded state."""
    for name in SEEDED:
        iam.untag_user(UserName=name, TagKeys=["mfa-enforcer:quarantined-at", "mfa-enforcer:reason"])
        if ms.QUARANTINE_POLICY_ARN in ms.attached_policies(iam, name):
            iam.detach_user_policy(UserName=name, PolicyArn=ms.QUARANTINE_POLICY_ARN)


def check_handler(handler: Any, event: Any, calls: CallCounter, caplog: pytest.LogCaptureFixture) -> None:
    calls.reset()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        result = handler(event, rs.StaticContext(60_000))
    assert isinstance(result, dict)
    assert "error" not in result, result  # the Lambda boundary's catch-all was not needed
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    ignored = result.get("ignored") or ""
    hypothesis.event("invalid" if ignored.startswith("invalid event:") else "ignored" if ignored else "acted on")
    if calls.writes:
        hypothesis.event("wrote to IAM")
    if ignored.startswith("invalid event:"):
        assert calls.writes == {}
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage() for r in lines] == ["invalid event ignored"]
        assert lines[0].problem and lines[0].problem in ignored
        assert len(lines[0].problem) <= 300  # names the problem; does not echo a 300 KB value
    elif ignored:
        assert calls.writes == {}
        lines = [r for r in caplog.records if r.getMessage() == "event ignored"]
        assert len(lines) == 1 and lines[0].why
    if calls.writes:  # a write only for a seeded user the event still names validly, and it is alerted
        assert result["event"]["user"] in SEEDED
        assert result["event"]["user"] in {t["user"] for t in result["transitions"]}


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallCounter]:
    rs.enforce_env(monkeypatch)
    with rs.fresh_account():
        seed()
        yield CallCounter().attach("iam", "ssm", "sts")


@reliability(
    "ConsoleLogin events with arbitrary JSON at any level of the envelope (mutated captured events)",
    "returns normally; an unreadable event makes no IAM write and logs one line naming the problem",
)
@settings(max_examples=rs.examples(0.6), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=mutated(LOGIN_EVENTS + IAM_EVENTS[:1]) | json_values)
@example(event=[])
@example(event={"detail": "not an object"})
@example(event={"Records": [{}, {}]})
def test_on_console_login_survives_any_event(
    event: Any, account: CallCounter, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        check_handler(lambda_module.on_console_login, event, account, caplog)
    finally:
        restore(rs.client("iam"))


@reliability(
    "IAM change events with arbitrary JSON at any level of the envelope (mutated captured events)",
    "returns normally; an unreadable event makes no IAM write and logs one line naming the problem",
)
@settings(max_examples=rs.examples(0.6), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=mutated(IAM_EVENTS + LOGIN_EVENTS[:1]) | json_values)
@example(event=None)
@example(event={"source": "aws.iam", "detail": {"eventName": "EnableMFADevice", "userIdentity": "alice"}})
def test_on_iam_change_survives_any_event(event: Any, account: CallCounter, caplog: pytest.LogCaptureFixture) -> None:
    try:
        check_handler(lambda_module.on_iam_change, event, account, caplog)
    finally:
        restore(rs.client("iam"))
