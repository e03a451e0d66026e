"""The hourly scan and a real-time event acting on the same user at the same moment.

Two threads run the real handlers against one moto backend. Left to the scheduler, the race is
rarely lost, so the worst interleaving is forced deterministically: a botocore hook on the bot's
IAM client holds each path at its first write for that user until both have arrived, which means
both have read IAM and decided before either wrote. The outcome is compared with the two orders
run one after the other, each in a fresh account. A second family runs one path entirely inside
the other's gap between deciding and writing (the scan's gap lasts as long as the scan: its
snapshot of quarantined users is taken once, at the start).

moto here refuses a second `quarantined-at` TagUser as the execution role's condition does
(tests/conftest.py); the claim that makes "one alert per transition" hold is that condition.
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
    claims: int = 0


class ClaimCounter:
    """Counts the bot's TagUser calls for USER that IAM accepted (a refused claim is not a write)."""

    def __init__(self) -> None:
        self.accepted = 0
        self._lock = threading.Lock()
        bootstrap.client("iam").meta.events.register("after-call.iam.TagUser", self._seen)

    def _seen(self, http_response: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            with self._lock:
                self.accepted += 1


def _outcome(iam: Any, claims: ClaimCounter, *results: dict[str, Any], raced: bool = False) -> Outcome:
    return Outcome(rs.iam_state(iam), _alerts(*results), raced, claims.accepted)


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
        claims = ClaimCounter()
        first, second = (_scan(), _event(scenario)) if scan_first else (_event(scenario), _scan())
        return _outcome(iam, claims, first, second)


def run_together(scenario: Scenario) -> Outcome:
    """Both paths in their own thread, each held at its first write for USER until the other gets there."""
    with rs.fresh_account():
        iam = rs.client("iam")
        ms.create_quarantine_policy(iam)
        scenario.prepare(iam)
        claims = ClaimCounter()
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
        return _outcome(iam, claims, results["scan"], results["event"], raced=len(arrived) == 2)


def run_inside(scenario: Scenario, outer: str) -> Outcome:
    """`outer` decides, then, held at its first write for USER, waits while the other path runs to the end."""
    with rs.fresh_account():
        iam = rs.client("iam")
        ms.create_quarantine_policy(iam)
        scenario.prepare(iam)
        paths: dict[str, Callable[[], dict[str, Any]]] = {"scan": _scan, "event": lambda: _event(scenario)}
        inner = "event" if outer == "scan" else "scan"
        claims = ClaimCounter()
        results: dict[str, dict[str, Any]] = {}

        def interrupt(params: dict[str, Any], **_: Any) -> None:
            body = params.get("body")
            if isinstance(body, dict) and body.get("UserName") == USER and inner not in results:
                results[inner] = {}  # one interruption: the inner path's own writes pass straight through
                results[inner] = paths[inner]()

        bootstrap.client("iam").meta.events.register(f"before-call.iam.{scenario.first_write}", interrupt)
        results[outer] = paths[outer]()
        return _outcome(iam, claims, results[outer], results[inner], raced=bool(results[inner]))


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


@reliability(
    "scan and real-time event for the same user at the same moment: alerts",
    "one alert per transition, as either order alone gives (the role's conditional TagUser is the claim)",
)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_racing_scan_and_event_alert_once_per_transition(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    rs.enforce_env(monkeypatch)
    expected = [(USER, scenario.transition)]
    assert run_in_order(scenario, scan_first=True).alerts == expected
    assert run_in_order(scenario, scan_first=False).alerts == expected
    together = run_together(scenario)
    assert together.raced, "both paths did not reach their first write: the race was not exercised"
    assert together.alerts == expected
    assert together.claims == (1 if scenario.transition == "quarantined" else 0)


@reliability(
    "one path runs to the end between the other's decision and its first write (stale scan snapshot)",
    "the final state of either order, one alert per transition, `quarantined-at` written once",
)
@pytest.mark.parametrize("outer", ["scan", "event"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_path_that_decided_on_stale_state_neither_alerts_again_nor_overwrites(
    scenario: Scenario, outer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rs.enforce_env(monkeypatch)
    alone = run_in_order(scenario, scan_first=outer == "scan")
    inside = run_inside(scenario, outer)
    assert inside.raced, f"the {outer} never reached its first write for {USER}: nothing ran inside it"
    assert inside.state == alone.state
    assert inside.alerts == [(USER, scenario.transition)]
    # `quarantined-at` is written once: the outer path's TagUser was refused, the inner one's instant kept.
    assert inside.claims == alone.claims == (1 if scenario.transition == "quarantined" else 0)
