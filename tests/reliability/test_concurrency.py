"""The hourly scan and a real-time event acting on the same user at the same moment.

Two threads run the real handlers against one moto backend. Left to the scheduler, the race is
rarely lost, so the worst interleaving is forced deterministically: a botocore hook on the bot's
IAM client holds each path at its first write for that user until both have arrived, which means
both have read IAM and decided before either wrote. The outcome is compared with the two orders
run one after the other, each in a fresh account.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import app as lambda_module
from chalicelib import bootstrap
from tests.conftest import load_fixture
from tests.reliability import support as rs
from tests.reliability.support import reliability
from tests.support import moto_state as ms

USER = "ana"
BARRIER_WAIT_S = 20.0  # only reached if one path never writes; then the test fails, it does not hang


@dataclass(frozen=True)
class Scenario:
    """A user's starting state, the event that races the scan, and the first write both paths make."""

    name: str
    prepare: Callable[[Any], None]
    handler: str
    event: dict[str, Any]
    first_write: str
    transition: str


def _no_mfa(iam: Any) -> None:
    ms.create_user(iam, ms.UserSpec(USER))


def _quarantined_then_enrolled(iam: Any) -> None:
    ms.create_user(iam, ms.UserSpec(USER))
    iam.tag_user(
        UserName=USER,
        Tags=[
            {"Key": "mfa-enforcer:quarantined-at", "Value": "2026-01-01T00:00:00Z"},
            {"Key": "mfa-enforcer:reason", "Value": "console-password-without-mfa"},
        ],
    )
    iam.attach_user_policy(UserName=USER, PolicyArn=ms.QUARANTINE_POLICY_ARN)
    rs.enable_mfa(iam, USER)


def _sign_in() -> dict[str, Any]:
    event: dict[str, Any] = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    identity = event["detail"]["userIdentity"]
    identity["userName"], identity["arn"] = USER, identity["arn"].replace("/alice", f"/{USER}")
    return event


def _enrolment() -> dict[str, Any]:
    event: dict[str, Any] = load_fixture("eventbridge_iam_enable_mfa_device.json")
    event["detail"]["requestParameters"]["userName"] = USER
    return event


SCENARIOS = [
    Scenario("quarantine", _no_mfa, "on_console_login", _sign_in(), "TagUser", "quarantined"),
    Scenario("release", _quarantined_then_enrolled, "on_iam_change", _enrolment(), "UntagUser", "released"),
]


@dataclass(frozen=True)
class Outcome:
    state: dict[str, dict[str, Any]]
    alerts: list[tuple[str, str]]
    raced: bool = False


def _alerts(*results: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((t["user"], t["type"]) for result in results for t in result["transitions"] if t["user"] == USER)


def _scan() -> dict[str, Any]:
    return rs.run_scheduled_scan()


def _event(scenario: Scenario) -> dict[str, Any]:
    handler = getattr(lambda_module, scenario.handler)
    return handler(scenario.event, rs.StaticContext(60_000))  # type: ignore[no-any-return]


def run_in_order(scenario: Scenario, scan_first: bool) -> Outcome:
    with rs.fresh_account():
        iam = rs.client("iam")
        ms.create_quarantine_policy(iam)
        scenario.prepare(iam)
        first, second = (_scan(), _event(scenario)) if scan_first else (_event(scenario), _scan())
        return Outcome(rs.iam_state(iam), _alerts(first, second))


def run_together(scenario: Scenario) -> Outcome:
    """Both paths in their own thread, each held at its first write for USER until the other gets there."""
    with rs.fresh_account():
        iam = rs.client("iam")
        ms.create_quarantine_policy(iam)
        scenario.prepare(iam)
        barrier = threading.Barrier(2, timeout=BARRIER_WAIT_S)
        arrived: list[str] = []

        def hold(params: dict[str, Any], **_: Any) -> None:
            body = params.get("body")
            if isinstance(body, dict) and body.get("UserName") == USER and len(arrived) < 2:
                arrived.append(threading.current_thread().name)
                # If the other path never writes, `raced` stays False and the test says so.
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()

        bootstrap.client("iam").meta.events.register(f"before-call.iam.{scenario.first_write}", hold)
        results: dict[str, dict[str, Any]] = {}
        errors: list[BaseException] = []

        def run(name: str, call: Callable[[], dict[str, Any]]) -> None:
            try:
                results[name] = call()
            except BaseException as exc:  # re-raised in the test thread below
                errors.append(exc)

        threads = [
            threading.Thread(target=run, args=("scan", _scan), name="scan"),
            threading.Thread(target=run, args=("event", lambda: _event(scenario)), name="event"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return Outcome(rs.iam_state(iam), _alerts(results["scan"], results["event"]), raced=len(arrived) == 2)


@reliability(
    "scan and real-time event for the same user at the same moment (both decide before either writes)",
    "the same final IAM state as either order alone (no duplicate tags, policy once)",
)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_racing_scan_and_event_end_in_the_state_of_either_order(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    rs.enforce_env(monkeypatch)
    scan_first, event_first = run_in_order(scenario, scan_first=True), run_in_order(scenario, scan_first=False)
    assert scan_first.state == event_first.state
    together = run_together(scenario)
    assert together.raced, "both paths did not reach their first write: the race was not exercised"
    assert together.state == scan_first.state
    user = together.state[USER]
    if scenario.transition == "quarantined":
        assert user["policies"] == ["mfa-enforcer-quarantine"]
        assert user["tags"] == ["mfa-enforcer:quarantined-at", "mfa-enforcer:reason"]
    else:
        assert user["policies"] == [] and user["tags"] == []
