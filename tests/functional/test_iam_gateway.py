"""The IAM adapter against moto: waiting for the credential report, snapshots, idempotent writes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.iam_gateway import GroupNotFoundError, IamGateway, ReportUnavailableError
from tests.support import moto_state as ms
from tests.support.clock import FakeTime
from tests.support.faults import Fault, FaultInjector


def gateway(iam: Any, arn: str | None, clock: FakeTime, timeout: float = 60) -> IamGateway:
    return IamGateway(iam, arn, report_timeout=timeout, sleep=clock.sleep, monotonic=clock.monotonic)


def count_calls(iam: Any) -> Counter[str]:
    seen: Counter[str] = Counter()
    iam.meta.events.register("before-call", lambda model, **_: seen.update([model.name]))
    return seen


def test_waits_with_backoff_while_the_report_is_in_progress(iam: Any) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    clock = FakeTime()
    FaultInjector().attach(iam).add(Fault("GetCredentialReport", "ReportInProgress", 404, "in progress", times=3))
    body = gateway(iam, None, clock).credential_report()
    assert b"ann" in body.content
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_expired_report_is_regenerated(iam: Any) -> None:
    clock = FakeTime()
    seen = count_calls(iam)
    FaultInjector().attach(iam).add(Fault("GetCredentialReport", "ReportExpired", 410, "expired", times=1))
    gateway(iam, None, clock).credential_report()
    assert seen["GenerateCredentialReport"] == 2
    assert seen["GetCredentialReport"] == 2


def test_report_that_never_completes_gives_one_clear_error_in_bounded_time(iam: Any) -> None:
    clock = FakeTime()
    FaultInjector().attach(iam).add(Fault("GetCredentialReport", "ReportInProgress", 404, "in progress"))
    with pytest.raises(ReportUnavailableError, match=r"not available after 30s \(last answer: ReportInProgress\)"):
        gateway(iam, None, clock, timeout=30).credential_report()
    assert clock.now <= 30
    assert max(clock.sleeps) <= 8.0


def test_other_report_errors_are_not_waited_on(iam: Any) -> None:
    clock = FakeTime()
    FaultInjector().attach(iam).add(Fault("GetCredentialReport", "AccessDenied", 403, "denied"))
    with pytest.raises(Exception, match="AccessDenied"):
        gateway(iam, None, clock).credential_report()
    assert clock.sleeps == []


def test_snapshot_lists_direct_and_group_quarantine(iam: Any, quarantine_arn: str) -> None:
    for name in ("a", "b", "c"):
        ms.create_user(iam, ms.UserSpec(name))
    iam.attach_user_policy(UserName="a", PolicyArn=quarantine_arn)
    iam.add_user_to_group(GroupName=ms.QUARANTINE_GROUP, UserName="b")
    snapshot = gateway(iam, quarantine_arn, FakeTime()).quarantined()
    assert (snapshot.direct, snapshot.via_group, snapshot.users) == ({"a"}, {"b"}, {"a", "b"})


def test_quarantine_and_release_are_idempotent(iam: Any, quarantine_arn: str) -> None:
    ms.create_user(iam, ms.UserSpec("dora"))
    gw = gateway(iam, quarantine_arn, FakeTime())
    when = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert gw.quarantine("dora", when) == "policy"
    assert gw.quarantine("dora", when) == "policy"
    assert ms.attached_policies(iam, "dora") == {quarantine_arn}
    assert ms.user_tags(iam, "dora")["mfa-enforcer:quarantined-at"] == "2026-11-23T12:00:00Z"
    gw.release("dora", via_group=False)
    gw.release("dora", via_group=False)
    assert ms.attached_policies(iam, "dora") == set()
    assert ms.user_tags(iam, "dora") == {}


def test_release_keeps_other_tags_and_policies(iam: Any, quarantine_arn: str) -> None:
    ms.create_user(iam, ms.UserSpec("eli"))
    iam.tag_user(UserName="eli", Tags=[{"Key": "team", "Value": "data"}])
    readonly = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}'
    other = iam.create_policy(PolicyName="other", PolicyDocument=readonly)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="eli", PolicyArn=other)
    gw = gateway(iam, quarantine_arn, FakeTime())
    gw.quarantine("eli", datetime.now(UTC))
    gw.release("eli", via_group=False)
    assert ms.user_tags(iam, "eli") == {"team": "data"}
    assert ms.attached_policies(iam, "eli") == {other}


def test_missing_group_is_reported(iam: Any) -> None:
    with pytest.raises(GroupNotFoundError, match="'nope' does not exist"):
        gateway(iam, None, FakeTime()).group_members("nope")
