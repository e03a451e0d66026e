"""The IAM adapter against moto: waiting for the credential report, snapshots, idempotent writes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.iam_gateway import Contained, GroupNotFoundError, IamGateway, ReportUnavailableError
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
    assert gw.quarantine("dora", when) == Contained("policy")
    # The second claim is refused by the role's condition: told who holds it, the policy is still ensured.
    assert gw.quarantine("dora", when + timedelta(hours=1)) == Contained("policy", held_since="2026-11-23T12:00:00Z")
    assert ms.attached_policies(iam, "dora") == {quarantine_arn}
    assert ms.user_tags(iam, "dora")["mfa-enforcer:quarantined-at"] == "2026-11-23T12:00:00Z"
    assert gw.release("dora", via_group=False) is True
    assert gw.release("dora", via_group=False) is False  # already gone: someone else's release
    assert ms.attached_policies(iam, "dora") == set()
    assert ms.user_tags(iam, "dora") == {}


def test_the_claim_costs_no_call_when_it_is_won_and_one_read_when_it_is_lost(iam: Any, quarantine_arn: str) -> None:
    ms.create_user(iam, ms.UserSpec("fay"))
    gw = gateway(iam, quarantine_arn, FakeTime())
    seen = count_calls(iam)
    gw.quarantine("fay", datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    assert seen == Counter({"TagUser": 1, "AttachUserPolicy": 1})
    seen.clear()
    lost = gw.quarantine("fay", datetime(2026, 11, 23, 12, 5, tzinfo=UTC))
    assert (lost.claimed, lost.held_since) == (False, "2026-11-23T12:00:00Z")
    assert seen == Counter({"TagUser": 1, "GetUser": 1, "AttachUserPolicy": 1})


def test_a_losing_claim_still_completes_a_half_done_quarantine(iam: Any, quarantine_arn: str) -> None:
    """Tag present, policy missing (the winner has not attached yet, or crashed): the loser attaches."""
    ms.create_user(iam, ms.UserSpec("gus"))
    iam.tag_user(UserName="gus", Tags=[{"Key": "mfa-enforcer:quarantined-at", "Value": "2026-11-20T08:00:00Z"}])
    contained = gateway(iam, quarantine_arn, FakeTime()).quarantine("gus", datetime.now(UTC))
    assert contained == Contained("policy", held_since="2026-11-20T08:00:00Z")
    assert ms.attached_policies(iam, "gus") == {quarantine_arn}
    assert ms.user_tags(iam, "gus")["mfa-enforcer:quarantined-at"] == "2026-11-20T08:00:00Z"  # never overwritten


def test_access_denied_without_the_tag_is_a_real_denial(iam: Any, quarantine_arn: str) -> None:
    """A role without TagUser at all must fail loudly, not read as "someone else claimed it"."""
    ms.create_user(iam, ms.UserSpec("hal"))
    FaultInjector().attach(iam).add(Fault("TagUser", "AccessDenied", 403, "not authorized to perform: iam:TagUser"))
    with pytest.raises(ClientError, match="AccessDenied"):
        gateway(iam, quarantine_arn, FakeTime()).quarantine("hal", datetime.now(UTC))
    assert ms.attached_policies(iam, "hal") == set()


def test_a_containment_that_fails_takes_its_claim_back(iam: Any, quarantine_arn: str) -> None:
    """Policy and group both refused: no tag may be left saying "quarantined" (real-time reads it so)."""
    ms.create_user(iam, ms.UserSpec("ida"))
    faults = FaultInjector().attach(iam)
    faults.add(Fault("AttachUserPolicy", "LimitExceeded", 409, "Cannot exceed quota for PoliciesPerUser: 10"))
    faults.add(Fault("AddUserToGroup", "AccessDenied", 403, "not authorized"))
    with pytest.raises(ClientError, match="AccessDenied"):
        gateway(iam, quarantine_arn, FakeTime()).quarantine("ida", datetime.now(UTC))
    assert ms.user_tags(iam, "ida") == {}
    assert ms.quarantined_users(iam) == set()


def test_a_failed_containment_leaves_someone_elses_claim_alone(iam: Any, quarantine_arn: str) -> None:
    ms.create_user(iam, ms.UserSpec("jon"))
    iam.tag_user(UserName="jon", Tags=[{"Key": "mfa-enforcer:quarantined-at", "Value": "2026-11-23T12:00:00Z"}])
    FaultInjector().attach(iam).add(Fault("AttachUserPolicy", "AccessDenied", 403, "not authorized"))
    with pytest.raises(ClientError, match="AccessDenied"):
        gateway(iam, quarantine_arn, FakeTime()).quarantine("jon", datetime.now(UTC))
    assert ms.user_tags(iam, "jon") == {"mfa-enforcer:quarantined-at": "2026-11-23T12:00:00Z"}


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
