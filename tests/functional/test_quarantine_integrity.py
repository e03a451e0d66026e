"""The quarantine an insider cannot quietly empty, through the real handlers against moto.

Each attack is one an insider with a few IAM rights can make: a new default version of the
quarantine policy, a rollback to another version, the policy detached from its fallback group,
the policy deleted. The scan (and, for the events, `on_iam_change`) must notice, say what differs,
restore in enforce mode, and never report anyone as contained while the policy is hollow. Then
the releases: a stale report row saying MFA releases nobody without a device IAM shows now.

moto enforces IAM's limit of five policy versions (LimitExceeded), so the limit is real here;
it deletes an attached policy without complaint, which AWS refuses, so a deletion is staged the
way AWS requires (moto_state.delete_quarantine_policy).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap, service
from chalicelib.core import config, decide
from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter
from tests.policy_sim import harness
from tests.support import moto_state as ms
from tests.support.faults import Fault, FaultInjector

SCHEDULED = load_fixture("eventbridge_scheduled.json")
SHIPPED = ms.shipped_quarantine_document()
ARN = ms.QUARANTINE_POLICY_ARN
STEADY = {
    "iam:GenerateCredentialReport": 1,
    "iam:GetCredentialReport": 1,
    "iam:ListEntitiesForPolicy": 1,
    "iam:GetGroup": 1,  # the fallback group's members (no exempt groups here: g = 0)
    "ssm:GetParameter": 1,
    "iam:GetAccountSummary": 1,  # the root's credentials
    "iam:GetPolicy": 1,
    "iam:GetPolicyVersion": 1,
}


def scan(lambda_client: Any) -> dict[str, Any]:
    return dict(lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED).payload)


def by_user(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["user"]: f for f in result["findings"] if f["user"]}


def tampered(result: dict[str, Any]) -> dict[str, Any]:
    """The one quarantine-policy-tampered finding of a run; it comes first."""
    found = [f for f in result["findings"] if f["type"] == "quarantine-policy-tampered"]
    assert len(found) == 1, result["findings"]
    assert result["findings"][0] == found[0]
    return found[0]


def edited(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(SHIPPED)
    change(document)
    return document


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s["Sid"] == sid)


# --------------------------------------------------------------------------------- the scan


def test_a_hollow_default_version_is_restored_before_anyone_is_quarantined(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    scan(lambda_client)
    assert ms.hollow_quarantine(iam) == "v2"  # one call, and ann's quarantine is empty
    ms.create_user(iam, ms.UserSpec("bob"))
    calls.reset()

    result = scan(lambda_client)

    assert ms.quarantine_default(iam) == ("v3", SHIPPED)
    finding = tampered(result)
    assert (finding["severity"], finding["action"], finding["transition"]) == ("critical", "restore", True)
    assert finding["arn"] == ARN
    assert (
        "its default version v2 is not the shipped document (Allow statement 'Everything' added," in (finding["reason"])
    )
    assert finding["reason"].endswith("restored: made v3, the shipped document, its default version")
    found = by_user(result)
    assert found["ann"]["type"] == "still-quarantined"
    assert (found["bob"]["type"], found["bob"]["action"]) == ("quarantined", "quarantine")
    assert calls.calls["iam:CreatePolicyVersion"] == 1
    assert ms.quarantined_users(iam) == {"ann", "bob"}


def test_at_the_version_limit_the_oldest_non_default_version_goes_first(
    iam: Any, enforce: str, lambda_client: Any
) -> None:
    for _ in range(3):
        ms.hollow_quarantine(iam, SHIPPED, default=False)  # v2..v4: harmless, not the default
    ms.hollow_quarantine(iam)  # v5, the default: IAM holds five versions now
    assert ms.quarantine_versions(iam) == ["v1", "v2", "v3", "v4", "v5"]

    finding = tampered(scan(lambda_client))

    assert ms.quarantine_versions(iam) == ["v2", "v3", "v4", "v5", "v6"]
    assert ms.quarantine_default(iam) == ("v6", SHIPPED)
    assert (
        "made v6, the shipped document, its default version, after deleting v1 (IAM keeps at most 5"
        in (finding["reason"])
    )


def test_report_mode_says_would_restore_changes_nothing_and_contains_nobody(
    iam: Any, report_mode: str, lambda_client: Any, calls: CallCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.enforce_policy_quota(monkeypatch)
    for name in ("ann", "gus"):
        ms.create_user(iam, ms.UserSpec(name))
    iam.attach_user_policy(UserName="ann", PolicyArn=ARN)  # quarantined by hand, or before report mode
    iam.add_user_to_group(GroupName=ms.QUARANTINE_GROUP, UserName="gus")
    ms.hollow_quarantine(iam)
    calls.reset()

    result = scan(lambda_client)

    assert calls.writes == {} and "iam:CreatePolicyVersion" not in calls.calls
    assert ms.quarantine_default(iam)[0] == "v2"
    finding = tampered(result)
    assert (finding["action"], finding["transition"]) == ("would-restore", True)  # a version made this hour
    assert finding["reason"].endswith("2 quarantined user(s) are not contained until it is restored")
    for user in ("ann", "gus"):
        held = by_user(result)[user]
        assert (held["type"], held["severity"], held["transition"]) == ("cannot-quarantine", "critical", False)
        assert held["error"].startswith(f"not contained: the quarantine policy {ARN}: its default version v2")
    assert "still-quarantined" not in result["counts"]


def test_a_restore_that_fails_says_why_and_reports_nobody_as_contained(
    iam: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    scan(lambda_client)
    ms.hollow_quarantine(iam)
    ms.create_user(iam, ms.UserSpec("bob"))
    faults = FaultInjector().attach(bootstrap.client("iam"))
    faults.add(Fault("CreatePolicyVersion", "AccessDenied", 403, "not allowed"))

    result = scan(lambda_client)

    finding = tampered(result)
    assert (finding["action"], finding["transition"]) == ("none", True)
    assert finding["error"] == "CreatePolicyVersion: AccessDenied: not allowed"
    found = by_user(result)
    assert (found["ann"]["type"], found["ann"]["transition"]) == ("cannot-quarantine", False)
    # bob is tagged and attached (it takes effect once the policy is restored), but not reported as held
    assert (found["bob"]["type"], found["bob"]["action"], found["bob"]["transition"]) == (
        "cannot-quarantine",
        "quarantine",
        True,
    )
    assert found["bob"]["error"].startswith("not contained:")
    assert ms.quarantined_users(iam) == {"ann", "bob"}


def test_a_rollback_to_an_old_version_is_restored(iam: Any, enforce: str, lambda_client: Any) -> None:
    iam.create_policy_version(PolicyArn=ARN, PolicyDocument=json.dumps(ms.ALLOW_ALL), SetAsDefault=False)
    iam.create_policy_version(PolicyArn=ARN, PolicyDocument=json.dumps(SHIPPED), SetAsDefault=True)
    iam.set_default_policy_version(PolicyArn=ARN, VersionId="v2")  # the staged Allow-all, weeks later

    finding = tampered(scan(lambda_client))

    assert "its default version v2 is not the shipped document" in finding["reason"]
    assert ms.quarantine_default(iam) == ("v4", SHIPPED)


def test_a_detached_group_is_reattached_and_its_members_stay_quarantined(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.enforce_policy_quota(monkeypatch)
    ms.create_user(iam, ms.UserSpec("full"))
    ms.fill_policy_quota(iam, "full")
    scan(lambda_client)  # full is quarantined through the group
    iam.detach_group_policy(GroupName=ms.QUARANTINE_GROUP, PolicyArn=ARN)
    calls.reset()

    result = scan(lambda_client)

    assert ms.group_holds_quarantine(iam)
    finding = tampered(result)
    assert finding["reason"].startswith(f"the quarantine policy {ARN}: the group mfa-enforcer-quarantine no longer")
    assert finding["reason"].endswith("restored: attached it to the group mfa-enforcer-quarantine again")
    assert by_user(result)["full"]["type"] == "still-quarantined"  # not re-announced "via the quarantine group"
    assert calls.calls["iam:AttachGroupPolicy"] == 1
    assert {op for op in calls.writes} == set()  # no user write: full never left the group


def test_a_renamed_quarantine_group_is_loud_every_hour_and_disarms_nothing_else(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UpdateGroup renames the group away (the role may not create groups), then its policy is detached."""
    ms.enforce_policy_quota(monkeypatch)
    ms.create_user(iam, ms.UserSpec("full"))
    ms.fill_policy_quota(iam, "full")
    scan(lambda_client)  # full is quarantined through the group
    iam.update_group(GroupName=ms.QUARANTINE_GROUP, NewGroupName="renamed")
    iam.detach_group_policy(GroupName="renamed", PolicyArn=ARN)
    ms.create_user(iam, ms.UserSpec("plain"))

    for _ in range(2):  # the same alerts on the next hourly scan, not only on the first
        result = scan(lambda_client)
        finding = tampered(result)
        assert finding["severity"] == "critical" and finding["transition"] is True
        assert "the group mfa-enforcer-quarantine no longer holds it" in finding["reason"]
        assert "Group mfa-enforcer-quarantine not found" in finding["error"]
        found = by_user(result)
        assert found["full"]["type"] == "cannot-quarantine"
        assert found["full"]["severity"] == "critical" and found["full"]["transition"] is True
        assert found["plain"]["type"] in ("quarantined", "still-quarantined")  # the rest of the scan holds
        assert ARN in ms.attached_policies(iam, "plain")


def test_a_detached_group_in_report_mode_leaves_its_members_uncontained_only(
    iam: Any, report_mode: str, lambda_client: Any
) -> None:
    for name in ("ann", "gus"):
        ms.create_user(iam, ms.UserSpec(name))
    iam.attach_user_policy(UserName="ann", PolicyArn=ARN)
    iam.add_user_to_group(GroupName=ms.QUARANTINE_GROUP, UserName="gus")
    iam.detach_group_policy(GroupName=ms.QUARANTINE_GROUP, PolicyArn=ARN)

    result = scan(lambda_client)

    assert not ms.group_holds_quarantine(iam)
    assert tampered(result)["action"] == "would-restore"
    found = by_user(result)
    assert found["ann"]["type"] == "still-quarantined"  # held directly by an intact policy
    assert found["gus"]["type"] == "cannot-quarantine"
    assert "the group mfa-enforcer-quarantine no longer holds it" in found["gus"]["error"]


def quarantined_last_week(iam: Any, user: str) -> None:
    """The state a quarantine made days ago leaves: the bot's tags, then the policy."""
    iam.tag_user(
        UserName=user,
        Tags=[
            {"Key": ms.CLAIM_TAG, "Value": "2026-11-16T09:00:00Z"},
            {"Key": "mfa-enforcer:reason", "Value": "console-password-without-mfa"},
        ],
    )
    iam.attach_user_policy(UserName=user, PolicyArn=ARN)


def test_a_deleted_policy_is_recreated_and_everyone_quarantined_again(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    quarantined_last_week(iam, "ann")
    ms.delete_quarantine_policy(iam)  # detached from ann and the group first, as IAM requires
    calls.reset()

    result = scan(lambda_client)

    assert ms.quarantine_default(iam) == ("v1", SHIPPED)
    assert ms.group_holds_quarantine(iam)
    finding = tampered(result)
    assert finding["reason"].startswith(f"the quarantine policy {ARN} does not exist; restored: re-created the policy")
    assert (by_user(result)["ann"]["type"], by_user(result)["ann"]["transition"]) == ("quarantined", True)
    assert ms.quarantined_users(iam) == {"ann"}
    assert calls.calls["iam:CreatePolicy"] == 1


def test_a_deleted_policy_the_bot_cannot_recreate_is_named_and_nobody_is_written(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    scan(lambda_client)
    ms.delete_quarantine_policy(iam)
    faults = FaultInjector().attach(bootstrap.client("iam"))
    faults.add(Fault("CreatePolicy", "AccessDenied", 403, "no iam:CreatePolicy"))
    calls.reset()

    result = scan(lambda_client)

    finding = tampered(result)
    assert finding["reason"].startswith(f"the quarantine policy {ARN} does not exist")
    assert finding["reason"].endswith("1 quarantined user(s) are not contained until it is restored")
    assert finding["error"].startswith("CreatePolicy: AccessDenied")
    assert (by_user(result)["ann"]["type"], by_user(result)["ann"]["transition"]) == ("cannot-quarantine", False)
    assert calls.writes == {}


@pytest.mark.parametrize(
    "document",
    [
        json.loads(json.dumps(SHIPPED, sort_keys=True)),
        edited(lambda d: d["Statement"].reverse()),
        edited(lambda d: statement(d, "DenyAllExceptListedIfNoMFA")["NotAction"].sort(reverse=True)),
    ],
    ids=["keys sorted", "statements reversed", "actions reordered"],
)
def test_layout_and_order_are_not_tampering(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter, document: dict[str, Any]
) -> None:
    iam.create_policy_version(PolicyArn=ARN, PolicyDocument=json.dumps(document, indent=7), SetAsDefault=True)
    calls.reset()

    result = scan(lambda_client)

    assert "quarantine-policy-tampered" not in result["counts"]
    assert "iam:CreatePolicyVersion" not in calls.calls
    assert ms.quarantine_default(iam)[0] == "v2"


@pytest.mark.parametrize(
    "document",
    [
        edited(lambda d: d["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})),
        edited(
            lambda d: statement(d, "DenyAllExceptListedIfNoMFA").update(
                Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}
            )
        ),
    ],
    ids=["an extra Allow", "Bool for BoolIfExists"],
)
def test_one_extra_allow_or_a_changed_condition_is_tampering(
    iam: Any, enforce: str, lambda_client: Any, document: dict[str, Any]
) -> None:
    iam.create_policy_version(PolicyArn=ARN, PolicyDocument=json.dumps(document), SetAsDefault=True)

    assert tampered(scan(lambda_client))["action"] == "restore"
    assert ms.quarantine_default(iam) == ("v3", SHIPPED)


def test_the_restored_document_denies_what_the_hollow_one_allowed(iam: Any, enforce: str, lambda_client: Any) -> None:
    """What IAM holds after the restore, judged by the policy simulator for a quarantined administrator."""
    ms.hollow_quarantine(iam)
    hollow = ms.quarantine_default(iam)[1]
    scan(lambda_client)
    restored = ms.quarantine_default(iam)[1]
    harness.install()
    admin = load_fixture("iam_policy_administrator_access.json")
    requests = [
        harness.Request(
            id=name,
            action="s3:GetObject",
            resource="arn:aws:s3:::finance-reports/2026/q3.csv",
            policies={"AdministratorAccess": admin, "quarantine": document},
            context={"aws:username": "alice", "aws:MultiFactorAuthPresent": "false"},
        )
        for name, document in (("hollow", hollow), ("restored", restored))
    ]
    decisions = harness.evaluate(requests)
    assert decisions["hollow"].decision == harness.ALLOWED, decisions["hollow"].explain()
    assert decisions["restored"].decision == harness.EXPLICITLY_DENIED, decisions["restored"].explain()


def test_a_standing_tamper_alerts_once_then_once_a_day(iam: Any, report_mode: str, aws: None) -> None:
    """The bot keeps no state: the news rule reads the version's date off IAM, and repeats at the daily run."""
    ms.create_user(iam, ms.UserSpec("ann", mfa=True))
    ms.hollow_quarantine(iam)
    created = iam.get_policy_version(PolicyArn=ARN, VersionId="v2")["PolicyVersion"]["CreateDate"].astimezone(UTC)
    settings = config.from_env({config.MODE: "report", config.QUARANTINE_POLICY_ARN: report_mode})
    ports = bootstrap.ports(settings)
    first = created + timedelta(minutes=5)
    later = [first + timedelta(hours=h) for h in range(1, 30)]

    def news(at: datetime) -> bool:
        ports.clock = lambda: at
        (finding,) = [f for f in service.run_scan(ports).findings if f.type.value == "quarantine-policy-tampered"]
        return finding.transition

    assert news(first)
    repeats = [at for at in later if news(at)]
    assert repeats == [at for at in later if decide.daily_due(at)]
    assert len(repeats) in (1, 2)  # 29 hourly scans span one or two UTC midnights


# ------------------------------------------------------------------------------ live proof of MFA


def test_a_stale_report_row_saying_mfa_releases_nobody_and_says_nothing(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    scan(lambda_client)
    stale = ms.stale_report(mfa_active={"ann": True})  # a row from before ann removed her device
    calls.reset()

    with ms.serve_report(monkeypatch, stale):
        result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"ann"}
    assert set(ms.user_tags(iam, "ann")) == {ms.CLAIM_TAG, "mfa-enforcer:reason"}
    assert result["transitions"] == []
    assert by_user(result)["ann"]["type"] == "still-quarantined"
    assert calls.writes == {}
    assert calls.calls["iam:ListMFADevices"] == 1  # the live check, and nothing else


def test_a_release_adds_the_live_check_and_the_users_tags(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    """ListMFADevices proves the device; GetUser shows whether a sign-in caused the quarantine (a loud release)."""
    ms.create_user(iam, ms.UserSpec("ann"))
    scan(lambda_client)
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="ann")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="ann", SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )
    calls.reset()

    result = scan(lambda_client)

    assert [t["type"] for t in result["transitions"]] == ["released"]
    assert dict(calls.calls) == {
        **STEADY,
        "iam:ListMFADevices": 1,
        "iam:GetUser": 1,
        "iam:UntagUser": 1,
        "iam:DetachUserPolicy": 1,
    }


def test_the_steady_state_scan_adds_two_reads(iam: Any, enforce: str, lambda_client: Any, calls: CallCounter) -> None:
    for i in range(12):
        ms.create_user(iam, ms.UserSpec(f"user{i:02}", mfa=i % 3 != 0))
    scan(lambda_client)
    calls.reset()

    scan(lambda_client)

    assert dict(calls.calls) == STEADY


# ------------------------------------------------------------------------------ on_iam_change

ADMIN = f"arn:aws:sts::{ms.ACCOUNT_ID}:assumed-role/Admin/mallory"
POLICY_READS = {"iam:GetPolicy": 1, "iam:GetPolicyVersion": 1, "iam:ListEntitiesForPolicy": 1}


def change(lambda_client: Any, fixture: str | dict[str, Any]) -> dict[str, Any]:
    event = load_fixture(fixture) if isinstance(fixture, str) else fixture
    return dict(lambda_client.lambda_.invoke("on_iam_change", event).payload)


def test_a_new_default_version_is_restored_in_the_same_invocation_and_the_actor_named(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.hollow_quarantine(iam)
    calls.reset()

    result = change(lambda_client, "eventbridge_iam_create_policy_version_tamper.json")

    assert ms.quarantine_default(iam) == ("v3", SHIPPED)
    (finding,) = result["findings"]
    assert (finding["type"], finding["severity"], finding["action"]) == (
        "quarantine-policy-tampered",
        "critical",
        "restore",
    )
    assert finding["actor"] == ADMIN and finding["transition"]
    assert finding["reason"].startswith(f"{ADMIN} changed the quarantine: the quarantine policy {ARN}: its default")
    assert dict(calls.calls) == {**POLICY_READS, "iam:CreatePolicyVersion": 1}
    assert result["writes"] == 1


def test_a_staged_version_then_set_as_default_is_caught_at_the_switch(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.hollow_quarantine(iam, default=False)  # v2, staged: harmless while it is not the default
    staged = change(lambda_client, "eventbridge_iam_create_policy_version_not_default.json")
    assert staged["ignored"].endswith("and the quarantine policy is as shipped (restored, or unchanged)")
    assert calls.writes == {} and "iam:CreatePolicyVersion" not in calls.calls
    iam.set_default_policy_version(PolicyArn=ARN, VersionId="v2")

    result = change(lambda_client, "eventbridge_iam_set_default_policy_version_tamper.json")

    (finding,) = result["findings"]
    assert finding["actor"] == ADMIN and finding["action"] == "restore"
    assert "its default version v2 is not the shipped document" in finding["reason"]
    assert ms.quarantine_default(iam) == ("v3", SHIPPED)


def test_detaching_the_policy_from_its_group_is_undone(iam: Any, enforce: str, lambda_client: Any) -> None:
    iam.detach_group_policy(GroupName=ms.QUARANTINE_GROUP, PolicyArn=ARN)

    (finding,) = change(lambda_client, "eventbridge_iam_detach_group_policy_tamper.json")["findings"]

    assert ms.group_holds_quarantine(iam)
    assert finding["reason"].endswith("restored: attached it to the group mfa-enforcer-quarantine again")


def test_deleting_the_policy_is_undone(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.delete_quarantine_policy(iam)

    (finding,) = change(lambda_client, "eventbridge_iam_delete_policy_tamper.json")["findings"]

    assert ms.quarantine_default(iam) == ("v1", SHIPPED) and ms.group_holds_quarantine(iam)
    assert (
        "does not exist; restored: re-created the policy with the shipped document; attached it" in (finding["reason"])
    )


def test_report_mode_names_the_actor_and_changes_nothing(
    iam: Any, report_mode: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.hollow_quarantine(iam)
    calls.reset()

    (finding,) = change(lambda_client, "eventbridge_iam_create_policy_version_tamper.json")["findings"]

    assert (finding["action"], finding["actor"], finding["transition"]) == ("would-restore", ADMIN, True)
    assert calls.writes == {} and "iam:CreatePolicyVersion" not in calls.calls
    assert ms.quarantine_default(iam)[0] == "v2"


def test_another_groups_detach_costs_nothing(iam: Any, enforce: str, lambda_client: Any, calls: CallCounter) -> None:
    result = change(lambda_client, "eventbridge_iam_detach_group_policy_other_group.json")
    assert "not mfa-enforcer-quarantine" in result["ignored"]
    assert calls.total == 0


# --------------------------------------------------------------------------- the bot's own roles


def run_as(iam: Any, monkeypatch: pytest.MonkeyPatch, role: str) -> None:
    """The bot's clients from now on sign as a session of `role` (created if needed), as in Lambda."""
    if role not in {r["RoleName"] for r in iam.list_roles()["Roles"]}:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    sts = bootstrap.session().client("sts", region_name="us-east-1")
    arn = f"arn:aws:iam::{ms.ACCOUNT_ID}:role/{role}"
    credentials = sts.assume_role(RoleArn=arn, RoleSessionName=role[:64])["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    bootstrap.reset()


def signed_by(fixture: str, role: str, user: str | None = None) -> dict[str, Any]:
    """A stored event re-signed by a session of `role` in this account (and about `user`)."""
    event: dict[str, Any] = load_fixture(fixture)
    identity = event["detail"]["userIdentity"]
    identity["arn"] = f"arn:aws:sts::{ms.ACCOUNT_ID}:assumed-role/{role}/{role[:64]}"
    identity["sessionContext"]["sessionIssuer"]["arn"] = f"arn:aws:iam::{ms.ACCOUNT_ID}:role/{role}"
    identity["sessionContext"]["sessionIssuer"]["userName"] = role
    if user is not None:
        event["detail"]["requestParameters"]["userName"] = user
    return event


SUFFIX = "1A2B3C4D5E6F7"
SCHEMES = {
    "chalice deploy": ("mfa-enforcer-dev-scheduled_scan", "mfa-enforcer-dev-on_iam_change", None),
    "packaged template, names passed": (
        f"mfa-enforcer-ScheduledScanRole-{SUFFIX}",
        "mfa-enforcer-OnIamChangeRole-ZYXWVUTSRQ98",
        f"mfa-enforcer-ScheduledScanRole-{SUFFIX},mfa-enforcer-OnConsoleLoginRole-AAAABBBBCCCC,"
        "mfa-enforcer-OnIamChangeRole-ZYXWVUTSRQ98",
    ),
    "packaged template, derived": (
        f"mfa-enforcer-ScheduledScanRole-{SUFFIX}",
        "mfa-enforcer-OnIamChangeRole-ZYXWVUTSRQ98",
        None,
    ),
}


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_the_scans_own_detach_arriving_later_at_on_iam_change_is_not_tamper(
    iam: Any, enforce: str, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """The scan released bob; bob then removed his device; the scan's DetachUserPolicy reaches on_iam_change."""
    scan_role, change_role, names = SCHEMES[scheme]
    if names is not None:
        monkeypatch.setenv(config.BOT_ROLE_NAMES, names)
    ms.create_user(iam, ms.UserSpec("bob"))
    quarantined_last_week(iam, "bob")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="bob")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="bob", SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )
    run_as(iam, monkeypatch, scan_role)
    with Client(app, stage_name="dev") as client:
        released = dict(client.lambda_.invoke("scheduled_scan", SCHEDULED).payload)
    assert [t["type"] for t in released["transitions"]] == ["released"]
    iam.deactivate_mfa_device(UserName="bob", SerialNumber=serial)  # bob has no MFA any more
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    run_as(iam, monkeypatch, change_role)
    counter = CallCounter().attach("iam")

    with Client(app, stage_name="dev") as client:
        own = change(client, signed_by("eventbridge_iam_detach_user_policy_by_scan_role.json", scan_role, "bob"))

    assert own["ignored"] == "the bot's own release (detached the quarantine policy)"
    assert own["findings"] == [] and counter.total == 0
    assert ms.quarantined_users(iam) == set()  # the DeactivateMFADevice event (and the scan) handle bob now


def test_the_bots_own_restore_arriving_as_an_event_is_its_own(
    iam: Any, enforce: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_as(iam, monkeypatch, "mfa-enforcer-prod-on_iam_change")
    counter = CallCounter().attach("iam")

    with Client(app, stage_name="dev") as client:
        own = change(client, "eventbridge_iam_create_policy_version_by_bot.json")

    assert own["ignored"] == "the bot's own restore (created 'v3' of it as its default version)"
    assert counter.total == 0


def test_the_bots_role_name_from_another_account_is_someone_else(
    iam: Any, enforce: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_as(iam, monkeypatch, "mfa-enforcer-prod-on_iam_change")
    ms.hollow_quarantine(iam)

    with Client(app, stage_name="dev") as client:
        result = change(client, "eventbridge_iam_create_policy_version_spoofed_bot_role.json")

    (finding,) = result["findings"]
    assert finding["action"] == "restore"
    assert finding["actor"] == "arn:aws:sts::999999999999:assumed-role/mfa-enforcer-prod-scheduled_scan/mallory"
    assert ms.quarantine_default(iam) == ("v3", SHIPPED)
