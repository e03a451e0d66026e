"""AWS misbehaving under the bot: throttling, a report that never comes, failed writes, SSM down.

Faults are injected at the botocore layer of the bot's own cached clients (tests/support/faults.py):
per HTTP attempt for throttling and 5xx, so botocore's standard retry mode really retries them, or
per call for errors the bot handles itself. AWS is moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import bootstrap, service
from chalicelib.adapters.iam_gateway import IamGateway
from chalicelib.core.config import from_env
from chalicelib.core.model import FindingType
from tests.functional.conftest import CallCounter
from tests.reliability import support as rs
from tests.reliability.support import reliability
from tests.support import moto_state as ms
from tests.support.clock import FakeTime
from tests.support.faults import Fault, FaultInjector, for_user, throttling

# 1 initial attempt + botocore's `max_attempts` retries (Config(retries={"max_attempts": n}) counts retries).
ATTEMPTS_PER_CALL = bootstrap.RETRY_CONFIG.retries["max_attempts"] + 1
FAILURE_TYPES = {"cannot-quarantine", "cannot-release", "scan-error", "config-error", "scan-incomplete"}


def seed_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """One account covering every row of the table, two users already quarantined, one at the policy quota."""
    iam, ssm = rs.client("iam"), rs.client("ssm")
    ms.enforce_policy_quota(monkeypatch)
    arn = ms.create_quarantine_policy(iam)
    for spec in (
        ms.UserSpec("ann"),
        ms.UserSpec("ben"),
        ms.UserSpec("cat", path="/eng/"),
        ms.UserSpec("dov"),
        ms.UserSpec("eve", mfa=True),
        ms.UserSpec("fay", age=timedelta(minutes=30)),
        ms.UserSpec("gil", groups=("vendors",)),
        ms.UserSpec("hal", console=False, access_key=True),
        ms.UserSpec("ivy"),
        ms.UserSpec("jon"),
        ms.UserSpec("kay"),
        ms.UserSpec("lou"),
    ):
        ms.create_user(iam, spec)
    ms.fill_policy_quota(iam, "kay")
    for name in ("ivy", "jon"):  # quarantined by an earlier run
        iam.tag_user(
            UserName=name,
            Tags=[
                {"Key": "mfa-enforcer:quarantined-at", "Value": "2026-01-01T00:00:00Z"},
                {"Key": "mfa-enforcer:reason", "Value": "console-password-without-mfa"},
            ],
        )
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    rs.enable_mfa(iam, "ivy")  # ... and ivy has enrolled since: to be released
    document = {
        "version": 1,
        "exemptions": [
            {"group": "vendors", "reason": "vendor IdP"},
            {"user": "lou", "reason": "hardware key in the safe"},
        ],
    }
    ssm.put_parameter(Name=rs.EXEMPTIONS_PARAMETER, Value=json.dumps(document), Type="String")


EXPECTED_TRANSITIONS = {
    "ann": "quarantined",
    "ben": "quarantined",
    "cat": "quarantined",
    "dov": "quarantined",
    "kay": "quarantined",
    "ivy": "released",
    "fay": "pending",
    "gil": "exempted",  # the document was written just before the scan: who it exempts is news
    "lou": "exempted",
}


@reliability(
    "IAM `Throttling` on every 3rd HTTP attempt of every IAM call, SSM throttled twice",
    "botocore's standard retries absorb it: same final IAM state and alerts as a fault-free scan",
)
def test_throttling_on_a_share_of_calls_ends_in_the_fault_free_state(
    monkeypatch: pytest.MonkeyPatch, backoff_delays: list[float]
) -> None:
    rs.enforce_env(monkeypatch)
    with rs.fresh_account():
        seed_account(monkeypatch)
        clean = rs.run_scheduled_scan()
        clean_state = rs.iam_state(rs.client("iam"))

    with rs.fresh_account():
        seed_account(monkeypatch)
        iam_faults = FaultInjector().attach(bootstrap.client("iam"))
        every_third = iam_faults.add(throttling(every=3, max_per_call=ATTEMPTS_PER_CALL - 1))
        ssm_faults = FaultInjector().attach(bootstrap.client("ssm"))
        ssm_throttle = ssm_faults.add(throttling("GetParameter", service="ssm", times=2))
        calls = CallCounter().attach("iam", "ssm")
        throttled = rs.run_scheduled_scan()
        throttled_state = rs.iam_state(rs.client("iam"))

    assert rs.transitions(clean) == EXPECTED_TRANSITIONS
    assert throttled_state == clean_state
    assert rs.transitions(throttled) == rs.transitions(clean)
    assert throttled["counts"] == clean["counts"]
    assert not FAILURE_TYPES & set(throttled["counts"])
    # The faults really happened and every failed attempt was retried by botocore, not by luck:
    iam_calls = sum(n for op, n in calls.calls.items() if op.startswith("iam:"))
    assert every_third.fired >= iam_calls // 3 - 1 > 0
    assert sum(iam_faults.attempts.values()) == iam_calls + every_third.fired
    assert ssm_throttle.fired == 2
    assert ssm_faults.attempts["GetParameter"] == calls.calls["ssm:GetParameter"] + 2
    assert len(backoff_delays) == every_third.fired + ssm_throttle.fired


@reliability(
    "credential report never completes (`ReportInProgress` forever)",
    "bounded wait (120 s, capped backoff), one scan-error (critical), no decision, no IAM write",
)
def test_report_that_never_completes_stops_the_scan_in_bounded_time_with_one_error(
    iam: Any, enforce: str, calls: CallCounter, caplog: pytest.LogCaptureFixture
) -> None:
    """Driven through service.run_scan, with the Ports bootstrap builds but a fake clock in the gateway.

    IamGateway takes `sleep`/`monotonic` as constructor arguments whose defaults (`time.sleep`,
    `time.monotonic`) are bound when the module is imported, so patching `time` in its namespace
    would not reach them: the only seams are the constructor (used here) and bootstrap.ports.
    """
    for name in ("mo", "nia", "oz"):
        ms.create_user(iam, ms.UserSpec(name))
    ms.create_user(iam, ms.UserSpec("pia", mfa=True))
    iam.attach_user_policy(UserName="pia", PolicyArn=enforce)  # MFA since: would be released
    clock = FakeTime()
    FaultInjector().attach(bootstrap.client("iam")).add(
        Fault("GetCredentialReport", "ReportInProgress", 404, "Report generation in progress", per_attempt=True)
    )
    settings = from_env({"MFA_ENFORCER_MODE": "enforce", "MFA_ENFORCER_QUARANTINE_POLICY_ARN": enforce})
    gateway = IamGateway(bootstrap.client("iam"), enforce, sleep=clock.sleep, monotonic=clock.monotonic)
    ports = bootstrap.ports(settings)
    ports.iam = gateway
    caplog.clear()

    result = service.run_scan(ports, rs.StaticContext().get_remaining_time_in_millis)

    (finding,) = result.findings
    assert finding.type is FindingType.SCAN_ERROR
    assert finding.severity.value == "critical"
    assert "credential report not available after 120s (last answer: ReportInProgress)" in finding.reason
    assert clock.now <= 120
    assert max(clock.sleeps) <= 8.0
    assert result.writes == 0
    assert calls.writes == {}
    assert "iam:ListMFADevices" not in calls.calls  # nobody was even considered
    assert ms.quarantined_users(iam) == {"pia"}  # not even the safe release: no decision on missing data
    problems = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR", "CRITICAL")]
    assert [r.finding["type"] for r in problems] == ["scan-error"]


@reliability(
    "quarantine snapshot unreadable (`ListEntitiesForPolicy` throttled past every retry)",
    "scan-error (critical), no decision, no IAM write",
)
def test_unreadable_quarantine_snapshot_decides_nothing(
    iam: Any, enforce: str, calls: CallCounter, backoff_delays: list[float]
) -> None:
    ms.create_user(iam, ms.UserSpec("quinn"))
    faults = FaultInjector().attach(bootstrap.client("iam"))
    faults.add(throttling("ListEntitiesForPolicy"))
    result = rs.run_scheduled_scan()
    assert faults.attempts["ListEntitiesForPolicy"] == ATTEMPTS_PER_CALL
    assert [t["type"] for t in result["transitions"]] == ["scan-error"]
    assert "Throttling" in result["transitions"][0]["reason"]
    assert calls.writes == {}
    assert ms.quarantined_users(iam) == set()


@reliability(
    "one user's write fails in a batch of 5 (throttled past retries / 5xx / denied, on each step)",
    "the other 4 are quarantined, the failed one is cannot-quarantine with the AWS error, the next scan converges",
)
@pytest.mark.parametrize(
    "make_fault",
    [
        lambda: throttling("AttachUserPolicy", when=for_user("rex")),
        lambda: Fault("AttachUserPolicy", "ServiceFailure", 500, "boom", when=for_user("rex"), per_attempt=True),
        lambda: Fault("TagUser", "AccessDenied", 403, "not allowed", when=for_user("rex")),
        lambda: throttling("ListMFADevices", when=for_user("rex")),
    ],
    ids=["attach-throttled", "attach-5xx-every-attempt", "tag-denied", "mfa-check-throttled"],
)
def test_one_failed_write_in_a_batch(
    iam: Any, enforce: str, backoff_delays: list[float], make_fault: Callable[[], Fault]
) -> None:
    """Extends test_scan's AccessDenied case: retried faults, other steps, and the next scan's convergence."""
    names = ("rex", "sam", "tia", "uma", "val")
    for name in names:
        ms.create_user(iam, ms.UserSpec(name))
    fault = make_fault()
    faults = FaultInjector().attach(bootstrap.client("iam"))
    faults.add(fault)

    first = rs.run_scheduled_scan()
    assert ms.quarantined_users(iam) == set(names) - {"rex"}
    failed = [t for t in first["transitions"] if t["user"] == "rex"]
    assert [(t["type"], t["severity"], t["action"]) for t in failed] == [("cannot-quarantine", "critical", "none")]
    assert failed[0]["error"].startswith(fault.code)
    if fault.per_attempt:
        assert fault.fired == ATTEMPTS_PER_CALL  # botocore retried it to the limit before giving up
    assert rs.transitions(first) == {"rex": "cannot-quarantine"} | {n: "quarantined" for n in names[1:]}

    faults.faults.clear()
    second = rs.run_scheduled_scan()
    assert ms.quarantined_users(iam) == set(names)
    assert rs.transitions(second) == {"rex": "quarantined"}  # one alert for the transition, none repeated
    assert set(ms.user_tags(iam, "rex")) == {"mfa-enforcer:quarantined-at", "mfa-enforcer:reason"}
    third = rs.run_scheduled_scan()
    assert third["transitions"] == []
    assert third["writes"] == 0


@reliability(
    "SSM `GetParameter` for the exemptions throttled past retries, 5xx, or denied",
    "fail safe: nobody quarantined, one critical config-error naming the error, MFA releases still happen",
)
@pytest.mark.parametrize(
    ("make_fault", "attempts"),
    [
        (lambda: throttling("GetParameter", service="ssm"), ATTEMPTS_PER_CALL),
        (lambda: Fault("GetParameter", "InternalServerError", 500, "down", per_attempt=True), ATTEMPTS_PER_CALL),
        (lambda: Fault("GetParameter", "AccessDeniedException", 400, "no ssm:GetParameter", per_attempt=True), 1),
    ],
    ids=["throttled", "5xx", "denied"],
)
def test_unreadable_exemptions_never_mean_no_exemptions(
    iam: Any,
    ssm: Any,
    enforce: str,
    backoff_delays: list[float],
    make_fault: Callable[[], Fault],
    attempts: int,
) -> None:
    ms.create_user(iam, ms.UserSpec("wes"))  # would be quarantined if there were no exemptions
    ms.create_user(iam, ms.UserSpec("xia"))  # exempt by the document SSM cannot serve
    ms.create_user(iam, ms.UserSpec("yan", mfa=True))
    iam.attach_user_policy(UserName="yan", PolicyArn=enforce)  # quarantined, enrolled since
    document = {"version": 1, "exemptions": [{"user": "xia", "reason": "break glass"}]}
    ssm.put_parameter(Name=rs.EXEMPTIONS_PARAMETER, Value=json.dumps(document), Type="String")
    faults = FaultInjector().attach(bootstrap.client("ssm"))
    fault = faults.add(make_fault())

    result = rs.run_scheduled_scan()

    assert faults.attempts["GetParameter"] == attempts
    assert ms.quarantined_users(iam) == set()
    assert rs.transitions(result) == {None: "config-error", "yan": "released"}
    (error,) = [t for t in result["transitions"] if t["type"] == "config-error"]
    assert error["severity"] == "critical"
    assert fault.code in error["reason"]
    assert "nobody quarantined" in error["reason"]
    assert "quarantined" not in result["counts"]
