"""The Lambda's time running out in the middle of a scan: stop starting users, say so, finish next time."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.reliability import support as rs
from tests.reliability.support import reliability
from tests.support import moto_state as ms

MAX_MARGIN_MS = 30_000  # the documented margin: 30 s, or a quarter of the time left at the start


def seed(offenders: int, releases: int) -> tuple[set[str], set[str]]:
    """Users to quarantine, and quarantined users who have since enrolled MFA (to release)."""
    iam = rs.client("iam")
    arn = ms.create_quarantine_policy(iam)
    to_quarantine = {f"off{i}" for i in range(offenders)}
    to_release = {f"rel{i}" for i in range(releases)}
    for name in sorted(to_quarantine | to_release):
        ms.create_user(iam, ms.UserSpec(name))
    for name in to_release:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        rs.enable_mfa(iam, name)
    return to_quarantine, to_release


@reliability(
    "Lambda time running out mid-scan (remaining time drops at every look)",
    "stops starting users below the margin, reports how many it left (scan-incomplete), exits cleanly;"
    " the next scan finishes them, one alert per user in all",
)
@settings(max_examples=rs.examples(0.06), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    offenders=st.integers(0, 8),
    releases=st.integers(0, 3),
    start_ms=st.integers(100, rs.LAMBDA_TIMEOUT_MS),
    step_share=st.floats(0, 0.5),
)
@example(offenders=8, releases=0, start_ms=60_000, step_share=1 / 6)  # test_scan's case: 4 done, 4 left
@example(offenders=5, releases=3, start_ms=40_000, step_share=0.2)  # releases go first, then time runs out
@example(offenders=4, releases=2, start_ms=100, step_share=0.5)  # out of time before the first user
@example(offenders=6, releases=1, start_ms=rs.LAMBDA_TIMEOUT_MS, step_share=0.0)  # plenty of time: nothing left
def test_scan_stops_when_time_runs_low_and_the_next_scan_finishes(
    monkeypatch: pytest.MonkeyPatch, offenders: int, releases: int, start_ms: int, step_share: float
) -> None:
    rs.enforce_env(monkeypatch)
    with rs.fresh_account():
        to_quarantine, to_release = seed(offenders, releases)
        iam = rs.client("iam")
        context = rs.ShrinkingContext(start_ms, step_ms=start_ms * step_share)
        looks: list[float] = []
        original = context.get_remaining_time_in_millis
        context.get_remaining_time_in_millis = lambda: looks.append(original()) or looks[-1]  # type: ignore[method-assign]

        first = rs.run_scheduled_scan(context)

        # Exits cleanly: a normal return, and no write still running behind it.
        assert not [t for t in threading.enumerate() if t.name.startswith("iam-write")]
        quarantined = ms.quarantined_users(iam)
        done_q, done_r = to_quarantine & quarantined, to_release - quarantined
        left = first["left_for_next_run"]
        candidates = offenders + releases
        assert left == candidates - len(done_q) - len(done_r)
        assert first["writes"] == 2 * (len(done_q) + len(done_r))
        margin = min(MAX_MARGIN_MS, start_ms / 4)
        assert len(done_q) + len(done_r) <= sum(1 for v in looks[1:] if v >= margin)  # never started on no time
        if left:
            assert min(looks) < margin  # it stopped because time ran out, not for another reason
            assert done_r == to_release or not done_q  # releases go first
            incomplete = [t for t in first["transitions"] if t["type"] == "scan-incomplete"]
            assert len(incomplete) == 1
            assert f"{left} user(s) left for the next run" in incomplete[0]["reason"]
        else:
            assert "scan-incomplete" not in first["counts"]
        for name in to_quarantine - done_q:  # untouched, and no alert about them yet
            assert ms.user_tags(iam, name) == {}
            assert name not in rs.transitions(first)
        if step_share == 0:
            assert left == 0

        second = rs.run_scheduled_scan()
        assert second["left_for_next_run"] == 0
        assert ms.quarantined_users(iam) == to_quarantine
        alerts = [(t["user"], t["type"]) for run in (first, second) for t in run["transitions"] if t["user"]]
        expected = [(u, "quarantined") for u in to_quarantine] + [(u, "released") for u in to_release]
        assert sorted(alerts) == sorted(expected)  # exactly one alert per transition across the two runs

        third = rs.run_scheduled_scan()
        assert third["writes"] == 0
        assert third["transitions"] == []
