"""scheduled_scan end to end: the Chalice handler against a moto account, asserting IAM state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import bootstrap
from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter, Clock
from tests.support import moto_state as ms
from tests.support.faults import Fault, FaultInjector, for_user

SCHEDULED = load_fixture("eventbridge_scheduled.json")
TAGS = {"mfa-enforcer:quarantined-at", "mfa-enforcer:reason"}


def scan(lambda_client: Any) -> dict[str, Any]:
    return lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED).payload


def transitions(result: dict[str, Any]) -> dict[str, str]:
    return {f["user"]: f["type"] for f in result["transitions"] if f["user"]}


def put_exemptions(ssm: Any, *entries: dict[str, str], name: str = "/mfa-enforcer/exemptions") -> None:
    document = json.dumps({"version": 1, "exemptions": list(entries)})
    ssm.put_parameter(Name=name, Value=document, Type="String", Overwrite=True)


def seed_table(iam: Any, ssm: Any) -> None:
    """One user per row of the decision table."""
    for spec in (
        ms.UserSpec("no-mfa-old"),
        ms.UserSpec("no-mfa-new", age=timedelta(minutes=30)),
        ms.UserSpec("with-mfa", mfa=True),
        ms.UserSpec("exempt-user"),
        ms.UserSpec("exempt-by-path", path="/break-glass/"),
        ms.UserSpec("exempt-by-group", groups=("vendors",)),
        ms.UserSpec("api-only", console=False, access_key=True),
        ms.UserSpec("no-access", console=False),
    ):
        ms.create_user(iam, spec)
    put_exemptions(
        ssm,
        {"user": "exempt-user", "reason": "hardware key in the safe", "approved_by": "secops"},
        {"path": "/break-glass/", "reason": "emergency accounts"},
        {"group": "vendors", "reason": "vendor IdP"},
    )


def test_enforce_gives_the_state_the_table_demands(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    seed_table(iam, ssm)
    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"no-mfa-old"}
    tags = ms.user_tags(iam, "no-mfa-old")
    assert set(tags) == TAGS
    assert tags["mfa-enforcer:reason"] == "console-password-without-mfa"
    assert datetime.fromisoformat(tags["mfa-enforcer:quarantined-at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert ms.user_tags(iam, "with-mfa") == {}
    assert result["counts"] == {
        "api-user-without-mfa": 1,
        "exempted": 3,  # the document is new: whom it exempts is news, once
        "pending": 1,
        "quarantined": 1,
    }
    assert transitions(result) == {
        "no-mfa-old": "quarantined",
        "no-mfa-new": "pending",
        "exempt-user": "exempted",
        "exempt-by-path": "exempted",
        "exempt-by-group": "exempted",
    }
    severities = {t["user"]: t["severity"] for t in result["transitions"] if t["type"] == "exempted"}
    assert severities == {"exempt-user": "medium", "exempt-by-path": "high", "exempt-by-group": "medium"}
    assert result["mode"] == "enforce"
    assert result["users_scanned"] == 8
    assert result["account_id"] == ms.ACCOUNT_ID


def test_second_scan_makes_no_write_and_no_transition(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter, clock: Clock
) -> None:
    seed_table(iam, ssm)
    clock.catch_up()
    scan(lambda_client)
    calls.reset()
    clock.advance(hours=1)  # the next scheduled scan
    second = scan(lambda_client)

    assert calls.writes == {}
    assert second["transitions"] == []
    assert second["counts"]["exempt"] == 3
    assert second["counts"]["still-quarantined"] == 1
    assert ms.quarantined_users(iam) == {"no-mfa-old"}


def test_steady_state_calls_do_not_grow_with_users(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    for i in range(40):
        ms.create_user(iam, ms.UserSpec(f"user{i:02}", mfa=i % 4 != 0))
    put_exemptions(ssm, {"group": "vendors", "reason": "vendor IdP"})
    iam.create_group(GroupName="vendors")
    first = scan(lambda_client)
    assert first["counts"]["quarantined"] == 10
    assert calls.calls["iam:ListMFADevices"] == 10  # one live confirmation per user about to change
    assert calls.writes == {"iam:TagUser": 10, "iam:AttachUserPolicy": 10}
    calls.reset()
    scan(lambda_client)
    assert dict(calls.calls) == {
        "iam:GenerateCredentialReport": 1,
        "iam:GetCredentialReport": 1,
        "iam:ListEntitiesForPolicy": 1,
        "iam:GetAccountSummary": 1,  # what root holds, live
        "iam:GetGroup": 2,  # the quarantine group's members + the one exempt group
        "ssm:GetParameter": 1,  # the scan always reads the latest document (no container cache)
        "iam:GetPolicy": 1,  # the integrity of the quarantine: its default version...
        "iam:GetPolicyVersion": 1,  # ...and that version's document (the group's attachment came with the list)
    }
    assert calls.total <= 8 + 1  # 8 + g, g = exempt groups


def test_report_mode_makes_zero_iam_writes(
    iam: Any, ssm: Any, report_mode: str, lambda_client: Any, calls: CallCounter
) -> None:
    seed_table(iam, ssm)
    result = scan(lambda_client)
    assert calls.writes == {}
    assert ms.quarantined_users(iam) == set()
    (finding,) = [t for t in result["transitions"] if t["type"] == "quarantined"]
    assert (finding["user"], finding["action"]) == ("no-mfa-old", "would-quarantine")


def test_report_mode_without_policy_arn_still_decides(
    iam: Any, ssm: Any, lambda_client: Any, calls: CallCounter
) -> None:
    seed_table(iam, ssm)
    result = scan(lambda_client)
    assert result["mode"] == "report"
    assert transitions(result)["no-mfa-old"] == "quarantined"
    assert calls.writes == {}


def test_user_who_enrolls_mfa_is_released(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("carol"))
    scan(lambda_client)
    assert ms.quarantined_users(iam) == {"carol"}

    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="carol")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="carol", SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )
    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "carol") == {}
    assert transitions(result) == {"carol": "released"}


def test_exempting_a_quarantined_user_releases_them(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("dan"))
    scan(lambda_client)
    put_exemptions(ssm, {"user": "dan", "reason": "break glass account", "expires": "2099-01-01"})
    result = scan(lambda_client)
    assert ms.quarantined_users(iam) == set()
    (released,) = result["transitions"]
    assert released["type"] == "released"
    assert "exempted by user dan" in released["reason"]


def test_stale_report_is_confirmed_live_before_quarantine(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch, calls: CallCounter
) -> None:
    """The report says eve has no MFA, but she enrolled since it was generated: leave her alone."""
    ms.create_user(iam, ms.UserSpec("eve", mfa=True))
    ms.create_user(iam, ms.UserSpec("mike"))
    with ms.serve_report(monkeypatch, ms.stale_report(mfa_active={"eve": False})):
        result = scan(lambda_client)
    assert ms.quarantined_users(iam) == {"mike"}
    assert transitions(result) == {"mike": "quarantined"}
    assert calls.calls["iam:ListMFADevices"] == 2


def test_one_failing_user_does_not_stop_the_others(iam: Any, enforce: str, lambda_client: Any) -> None:
    for name in ("ann", "ben", "cat"):
        ms.create_user(iam, ms.UserSpec(name))
    faults = FaultInjector().attach(bootstrap.client("iam"))
    faults.add(Fault("AttachUserPolicy", "AccessDenied", 403, "not allowed", when=for_user("ben")))

    result = scan(lambda_client)
    assert ms.quarantined_users(iam) == {"ann", "cat"}
    (failed,) = [t for t in result["transitions"] if t["user"] == "ben"]
    assert failed["type"] == "cannot-quarantine"
    assert failed["severity"] == "critical"
    assert failed["error"] == "AccessDenied: not allowed"
    assert ms.user_tags(iam, "ben") == {}  # the claim was taken back: no tag says "quarantined"

    faults.faults.clear()
    again = scan(lambda_client)
    assert ms.quarantined_users(iam) == {"ann", "ben", "cat"}
    assert transitions(again) == {"ben": "quarantined"}


@pytest.mark.parametrize(
    "left_tag",
    [
        "2026-01-01T00:00:00Z",  # the policy was detached by hand (no tamper event reached the bot)
        "2099-01-01T00:00:00Z",  # a tag pre-set by hand to pass for a claim in progress
    ],
)
def test_a_leftover_quarantine_tag_is_adopted_and_announced(
    iam: Any, enforce: str, lambda_client: Any, left_tag: str
) -> None:
    """Nobody is at work on a tag like this: the scan completes the quarantine and alerts it, once."""
    ms.create_user(iam, ms.UserSpec("lia"))
    iam.tag_user(UserName="lia", Tags=[{"Key": "mfa-enforcer:quarantined-at", "Value": left_tag}])

    result = scan(lambda_client)
    assert ms.quarantined_users(iam) == {"lia"}
    assert transitions(result) == {"lia": "quarantined"}
    assert ms.user_tags(iam, "lia")["mfa-enforcer:quarantined-at"] == left_tag  # the role cannot overwrite it
    assert transitions(scan(lambda_client)) == {}


def test_user_at_managed_policy_quota_goes_into_the_quarantine_group(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.enforce_policy_quota(monkeypatch)
    ms.create_user(iam, ms.UserSpec("full"))
    ms.fill_policy_quota(iam, "full")

    result = scan(lambda_client)
    members = {u["UserName"] for u in iam.get_group(GroupName=ms.QUARANTINE_GROUP)["Users"]}
    assert members == {"full"}
    assert set(ms.user_tags(iam, "full")) == TAGS
    assert "quarantine group" in result["transitions"][0]["reason"]

    again = scan(lambda_client)
    assert again["transitions"] == []
    assert again["counts"] == {"still-quarantined": 1}

    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="full")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="full", SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )
    released = scan(lambda_client)
    assert transitions(released) == {"full": "released"}
    assert iam.get_group(GroupName=ms.QUARANTINE_GROUP)["Users"] == []
    assert ms.user_tags(iam, "full") == {}


def test_invalid_exemptions_quarantine_nobody_and_raise_config_error(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("gus"))
    ms.create_user(iam, ms.UserSpec("hal"))
    scan_first = scan(lambda_client)  # hal and gus quarantined with a valid (absent) document
    assert ms.quarantined_users(iam) == {"gus", "hal"}
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="hal")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="hal", SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )
    ms.create_user(iam, ms.UserSpec("ivy"))
    ssm.put_parameter(
        Name="/mfa-enforcer/exemptions",
        Value=json.dumps({"version": 1, "exemptions": [{"user": "ivy", "group": "x", "reason": "r"}]}),
        Type="String",
    )

    result = scan(lambda_client)
    (error,) = [t for t in result["transitions"] if t["type"] == "config-error"]
    assert error["severity"] == "critical"
    assert (
        "exemptions[0]: needs exactly one selector of user, path, group, identity_center_user (found: user, group)"
        in error["reason"]
    )
    assert ms.quarantined_users(iam) == {"gus"}  # ivy not quarantined; hal released (MFA), gus stays
    assert transitions(result) == {"hal": "released"}
    assert scan_first["counts"]["quarantined"] == 2


def test_deleting_an_exempt_group_does_not_disarm_the_scan(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    """IAM deletes only empty groups, so a deleted group exempted nobody: the rest of the document applies."""
    # The first scan of the UTC day repeats standing problems; two days on, the document below is old news.
    clock.at = (clock.at + timedelta(days=2)).replace(hour=0, minute=10)
    ms.create_user(iam, ms.UserSpec("jo"), now=clock.at)
    ms.create_user(iam, ms.UserSpec("break-glass"), now=clock.at)
    iam.create_group(GroupName="vendors")
    put_exemptions(
        ssm, {"group": "vendors", "reason": "vendor IdP"}, {"user": "break-glass", "reason": "hardware key in the safe"}
    )
    iam.delete_group(GroupName="vendors")

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"jo"}
    (missing,) = [t for t in result["transitions"] if t["type"] == "config-error"]
    assert missing["severity"] == "medium"
    assert missing["reason"] == (
        "exemptions[0] names the group vendors, which does not exist: "
        "it exempts nobody (the rest of the document applies)"
    )
    assert result["counts"] == {"config-error": 1, "exempt": 1, "quarantined": 1}

    clock.advance(hours=1)
    later = scan(lambda_client)
    assert [f["transition"] for f in later["findings"] if f["type"] == "config-error"] == [False]  # once a day


def test_an_invalid_newest_version_falls_back_to_the_newest_valid_one(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter, clock: Clock
) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    ms.create_user(iam, ms.UserSpec("carol"))
    put_exemptions(ssm, {"user": "bob", "reason": "hardware key in the safe"})  # version 1
    put_exemptions(ssm, {"user": "bob", "reason": "hardware key"}, {"user": "carol", "reason": "x"})  # version 2
    ssm.put_parameter(  # version 3: a group name IAM could not hold ("vendors" and a newline)
        Name="/mfa-enforcer/exemptions",
        Value=json.dumps({"version": 1, "exemptions": [{"group": "vendors\n", "reason": "vendor IdP"}]}),
        Type="String",
        Overwrite=True,
    )
    clock.advance(hours=2)
    calls.reset()

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == set()  # version 2 is in force: bob and carol stay exempt
    (error,) = [t for t in result["transitions"] if t["type"] == "config-error"]
    assert error["severity"] == "critical"
    assert error["reason"].startswith("/mfa-enforcer/exemptions version 3 is invalid: exemptions[0].group: must be")
    assert error["reason"].endswith("; enforcing version 2, the newest valid version, until it is fixed")
    assert result["counts"]["exempt"] == 2
    assert calls.calls["ssm:GetParameterHistory"] == 1


def test_a_broken_edit_of_the_only_valid_version_keeps_it_enforced(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any
) -> None:
    """Any syntax error in a new version used to disarm enforcement; the last good version now holds."""
    ms.create_user(iam, ms.UserSpec("bob"))
    ms.create_user(iam, ms.UserSpec("eve"))
    put_exemptions(ssm, {"user": "bob", "reason": "hardware key in the safe"})
    ssm.put_parameter(
        Name="/mfa-enforcer/exemptions", Value='{"version": 1, "exemptions": [', Type="String", Overwrite=True
    )

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"eve"}
    (error,) = [t for t in result["transitions"] if t["type"] == "config-error"]
    assert "version 2 is invalid: $: not valid JSON" in error["reason"]
    assert "enforcing version 1" in error["reason"]


def test_the_history_is_read_only_while_the_newest_version_is_invalid_and_all_of_it(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    put_exemptions(ssm, {"user": "bob", "reason": "hardware key in the safe"})
    scan(lambda_client)
    assert calls.calls["ssm:GetParameterHistory"] == 0
    for _ in range(59):  # versions 2..60: more than one page of GetParameterHistory (50 per page)
        ssm.put_parameter(Name="/mfa-enforcer/exemptions", Value="{}", Type="String", Overwrite=True)
    calls.reset()

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == set()
    assert "enforcing version 1" in result["transitions"][0]["reason"]
    assert calls.calls["ssm:GetParameterHistory"] == 2


def test_no_valid_version_at_all_quarantines_nobody(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    for value in ("{}", '{"version": 2, "exemptions": []}'):
        ssm.put_parameter(Name="/mfa-enforcer/exemptions", Value=value, Type="String", Overwrite=True)

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == set()
    (error,) = result["transitions"]
    assert (error["type"], error["severity"]) == ("config-error", "critical")
    assert error["reason"].startswith("/mfa-enforcer/exemptions version 2 is invalid: $.version: must be 1, got 2")
    assert error["reason"].endswith("; no earlier version is valid, so nobody is quarantined this run")


def test_an_unreadable_history_fails_safe(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    put_exemptions(ssm, {"user": "other", "reason": "r"})
    ssm.put_parameter(Name="/mfa-enforcer/exemptions", Value="{}", Type="String", Overwrite=True)
    FaultInjector().attach(bootstrap.client("ssm")).add(Fault("GetParameterHistory", "AccessDeniedException"))

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == set()
    (error,) = result["transitions"]
    assert error["reason"].startswith("exemptions unusable, nobody quarantined this run: cannot read the history")


@pytest.mark.parametrize(
    ("entry", "spec"),
    [
        ({"user": "Break-Glass", "reason": "hardware key in the safe"}, ms.UserSpec("break-glass")),
        ({"group": "Vendors", "reason": "vendor IdP"}, ms.UserSpec("vic", groups=("vendors",))),
    ],
    ids=["user", "group"],
)
def test_user_and_group_entries_match_regardless_of_case(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, entry: dict[str, str], spec: ms.UserSpec, clock: Clock
) -> None:
    ms.create_user(iam, spec)
    put_exemptions(ssm, entry)
    clock.advance(hours=2)
    result = scan(lambda_client)
    assert ms.quarantined_users(iam) == set()
    assert result["counts"] == {"exempt": 1}


def test_unreadable_exemptions_parameter_fails_safe(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("kim"))
    faults = FaultInjector().attach(bootstrap.client("ssm"))
    faults.add(Fault("GetParameter", "AccessDeniedException", 400, "no ssm:GetParameter"))
    result = scan(lambda_client)
    assert ms.quarantined_users(iam) == set()
    (error,) = result["transitions"]
    assert error["type"] == "config-error"
    assert "AccessDeniedException" in error["reason"]


def test_credential_report_failure_decides_nothing(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("lee"))
    faults = FaultInjector().attach(bootstrap.client("iam"))
    faults.add(Fault("GetCredentialReport", "AccessDenied", 403, "denied"))
    result = scan(lambda_client)
    assert ms.quarantined_users(iam) == set()
    assert [t["type"] for t in result["transitions"]] == ["scan-error"]
    assert result["transitions"][0]["severity"] == "critical"


def test_root_row_from_real_format_report_is_critical_and_untouched(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch, calls: CallCounter
) -> None:
    with ms.serve_report(monkeypatch, with_root=ms.root_row(mfa=False, access_key=True)):
        result = scan(lambda_client)
    assert result["counts"] == {"root-access-keys": 1, "root-without-mfa": 1}
    assert calls.writes == {}


def test_bad_configuration_fails_the_invocation_at_start(
    iam: Any,
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    calls: CallCounter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MFA_ENFORCER_GRACE_HOURS", "-3")
    with pytest.raises(ValueError, match="MFA_ENFORCER_GRACE_HOURS must be between 0"):
        scan(lambda_client)
    assert calls.total == 0
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == "configuration error, nothing done"
    assert "MFA_ENFORCER_GRACE_HOURS" in record.problem


def test_one_log_line_per_finding_and_metrics(
    iam: Any,
    ssm: Any,
    enforce: str,
    lambda_client: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_table(iam, ssm)
    result = scan(lambda_client)
    logged = [r.finding for r in caplog.records if r.getMessage() == "finding"]
    assert len(logged) == sum(result["counts"].values())
    assert {f["type"] for f in logged} == set(result["counts"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics = [line for line in lines if "_aws" in line]
    names = {m["Name"] for line in metrics for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Findings", "UsersScanned", "ScanDuration"} <= names


class ShrinkingContext:
    """A Lambda context whose remaining time drops by `step_ms` at every look."""

    aws_request_id = "test-request"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mfa-enforcer-dev-scheduled_scan"

    def __init__(self, start_ms: float, step_ms: float) -> None:
        self.remaining, self.step = start_ms, step_ms

    def get_remaining_time_in_millis(self) -> float:
        self.remaining -= self.step
        return self.remaining + self.step


def test_scan_stops_starting_users_when_time_runs_low_and_the_next_run_finishes(iam: Any, enforce: str) -> None:
    import app as lambda_module  # Lambda's handler string is app.scheduled_scan

    for i in range(8):
        ms.create_user(iam, ms.UserSpec(f"late{i}"))
    first = lambda_module.scheduled_scan(SCHEDULED, ShrinkingContext(start_ms=60_000, step_ms=10_000))
    # margin = min(30 s, 60 s / 4) = 15 s: looks at 50, 40, 30, 20 s start a user, 10 s stops
    assert first["left_for_next_run"] == 4
    assert len(ms.quarantined_users(iam)) == 4
    assert [t["type"] for t in first["transitions"]].count("scan-incomplete") == 1

    second = lambda_module.scheduled_scan(SCHEDULED, ShrinkingContext(start_ms=900_000, step_ms=1))
    assert second["left_for_next_run"] == 0
    assert ms.quarantined_users(iam) == {f"late{i}" for i in range(8)}
    assert transitions(second) == {f"late{i}": "quarantined" for i in range(4, 8)}
