"""on_console_login and on_iam_change end to end: real-format events through Chalice's test client, against moto.

Each test asserts the IAM state the design demands and the findings in the returned summary; the
call-budget tests count the bot's own API calls by operation (deterministic, no timing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from chalice.test import Client

import app as lambda_module
from chalicelib import bootstrap
from chalicelib.core import decide
from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter
from tests.support import moto_state as ms
from tests.support.faults import Fault, FaultInjector

TAGS = {"mfa-enforcer:quarantined-at", "mfa-enforcer:reason"}
ADMIN = f"arn:aws:sts::{ms.ACCOUNT_ID}:assumed-role/Admin/mallory"
EXEMPTIONS = "/mfa-enforcer/exemptions"


# --- helpers --------------------------------------------------------------------------------------


def sign_in(user: str = "alice", fixture: str = "eventbridge_console_login_iam_user_no_mfa.json") -> dict[str, Any]:
    """A stored sign-in event, for `user` (the fixtures sign in as alice)."""
    event: dict[str, Any] = load_fixture(fixture)
    identity = event["detail"]["userIdentity"]
    if "userName" in identity:
        identity["userName"] = user
    if "arn" in identity:
        identity["arn"] = identity["arn"].replace("/alice", f"/{user}")
    return event


def iam_call(fixture: str, user: str | None = None) -> dict[str, Any]:
    """A stored IAM event, its target renamed to `user`."""
    event: dict[str, Any] = load_fixture(fixture)
    params = event["detail"]["requestParameters"]
    if user is not None:
        if "userName" in params:
            params["userName"] = user
        if "serialNumber" in params:
            params["serialNumber"] = params["serialNumber"].rsplit("/", 1)[0] + f"/{user}"
    return event


def login(lambda_client: Any, event: object) -> dict[str, Any]:
    return dict(lambda_client.lambda_.invoke("on_console_login", event).payload)


def change(lambda_client: Any, event: object) -> dict[str, Any]:
    return dict(lambda_client.lambda_.invoke("on_iam_change", event).payload)


def only(result: dict[str, Any]) -> dict[str, Any]:
    """The one finding of a real-time run."""
    (finding,) = result["findings"]
    return dict(finding)


def kinds(result: dict[str, Any]) -> list[str]:
    return [f["type"] for f in result["findings"]]


def put_exemptions(ssm: Any, *entries: dict[str, str]) -> None:
    document = json.dumps({"version": 1, "exemptions": list(entries)})
    ssm.put_parameter(Name=EXEMPTIONS, Value=document, Type="String", Overwrite=True)


def enable_mfa(iam: Any, user: str) -> str:
    serial = str(iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]["SerialNumber"])
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    return serial


def quarantine_by_hand(iam: Any, user: str, at: str = "2026-11-01T09:00:00Z") -> None:
    """The state the bot leaves after a quarantine, written directly (for report-mode set-ups)."""
    iam.tag_user(
        UserName=user,
        Tags=[
            {"Key": "mfa-enforcer:quarantined-at", "Value": at},
            {"Key": "mfa-enforcer:reason", "Value": "console-password-without-mfa"},
        ],
    )
    iam.attach_user_policy(UserName=user, PolicyArn=ms.QUARANTINE_POLICY_ARN)


@pytest.fixture
def profile_created(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    """When each user's console password was first set (moto dates it with the user's creation)."""
    return ms.login_profiles_created(monkeypatch)


# --- on_console_login -----------------------------------------------------------------------------


def test_sign_in_without_mfa_past_grace_quarantines(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == {"alice"}
    tags = ms.user_tags(iam, "alice")
    assert set(tags) == TAGS | {"mfa-enforcer:sign-in-ip"}
    assert tags["mfa-enforcer:sign-in-ip"] == "192.0.2.10"  # the sign-in's sourceIPAddress
    assert datetime.fromisoformat(tags["mfa-enforcer:quarantined-at"]) > datetime.now(UTC) - timedelta(minutes=5)
    finding = only(result)
    assert (finding["type"], finding["action"], finding["user"]) == ("quarantined", "quarantine", "alice")
    assert (finding["detected_by"], finding["transition"]) == ("on_console_login", True)
    assert result["transitions"] == [finding]
    assert (result["trigger"], result["writes"], result["account_id"]) == ("on_console_login", 2, ms.ACCOUNT_ID)
    assert result["event"] == {"name": "ConsoleLogin", "id": "8b0c7e41-5c1e-4a4f-9d0a-6f3c1d2e0001", "user": "alice"}
    assert result["ignored"] is None


def test_second_sign_in_keeps_the_quarantine_and_alerts_nothing(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    login(lambda_client, sign_in("alice"))
    quarantined_at = ms.user_tags(iam, "alice")["mfa-enforcer:quarantined-at"]
    calls.reset()

    again = login(lambda_client, sign_in("alice"))

    assert kinds(again) == ["still-quarantined"]
    assert again["transitions"] == []
    assert calls.writes == {}
    assert ms.user_tags(iam, "alice")["mfa-enforcer:quarantined-at"] == quarantined_at
    assert ms.quarantined_users(iam) == {"alice"}


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("eventbridge_console_login_iam_user_lowercase.json", "/"),
        ("eventbridge_console_login_iam_user_no_additional_data.json", "/"),
        ("eventbridge_console_login_iam_user_old_version.json", "/team/"),
    ],
)
def test_real_world_variants_of_a_sign_in_without_mfa_quarantine(
    iam: Any, enforce: str, lambda_client: Any, fixture: str, path: str
) -> None:
    ms.create_user(iam, ms.UserSpec("alice", path=path))

    result = login(lambda_client, load_fixture(fixture))

    assert ms.quarantined_users(iam) == {"alice"}
    assert only(result)["arn"] == f"arn:aws:iam::{ms.ACCOUNT_ID}:user{path}alice"


def test_event_says_no_mfa_but_the_user_has_a_device_so_nothing_happens(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice", mfa=True))

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == set()
    assert result["findings"] == []
    assert "has an MFA device" in result["ignored"]
    assert dict(calls.calls) == {"iam:ListMFADevices": 1}


def test_new_user_inside_grace_is_pending_with_a_deadline(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice", age=timedelta(hours=2)))

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "alice") == {}
    finding = only(result)
    assert (finding["type"], finding["action"]) == ("pending", "none")
    deadline = datetime.fromisoformat(finding["deadline"])
    assert timedelta(hours=21, minutes=55) < deadline - datetime.now(UTC) <= timedelta(hours=22)


def test_a_sign_in_gives_no_grace_for_a_password_the_bot_never_saw_given(
    iam: Any, enforce: str, lambda_client: Any, profile_created: dict[str, datetime]
) -> None:
    """An old user whose password is an hour old, with no CreateLoginProfile event seen: the floor applies."""
    ms.create_user(iam, ms.UserSpec("alice", age=timedelta(days=400)))
    profile_created["alice"] = datetime.now(UTC) - timedelta(hours=1)

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == {"alice"}
    assert only(result)["type"] == "quarantined"


@pytest.mark.parametrize(
    ("spec", "entry"),
    [
        (ms.UserSpec("alice"), {"user": "alice", "reason": "break glass"}),
        (ms.UserSpec("alice", path="/break-glass/"), {"path": "/break-glass/", "reason": "emergency accounts"}),
        (ms.UserSpec("alice", groups=("vendors",)), {"group": "vendors", "reason": "vendor IdP"}),
    ],
    ids=["user", "path", "group"],
)
def test_exempt_user_is_not_quarantined(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, spec: ms.UserSpec, entry: dict[str, str]
) -> None:
    ms.create_user(iam, spec)
    put_exemptions(ssm, entry)

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == set()
    finding = only(result)
    assert (finding["type"], finding["transition"]) == ("exempt", False)
    assert "exempted by" in finding["reason"]


def test_exempting_a_quarantined_user_releases_them_at_their_next_sign_in(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    login(lambda_client, sign_in("alice"))
    put_exemptions(ssm, {"user": "alice", "reason": "break glass"})
    bootstrap.reset()  # a new container: the exemptions cache starts empty

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "alice") == {}
    assert (only(result)["type"], only(result)["action"]) == ("released", "release")


def test_invalid_exemptions_fail_safe(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    ssm.put_parameter(Name=EXEMPTIONS, Value='{"version": 1, "exemptions": [{"user": "alice"}]}', Type="String")

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == set()
    (error,) = result["findings"]
    assert (error["type"], error["severity"]) == ("config-error", "critical")
    assert "exemptions[0].reason" in error["reason"]


def test_an_invalid_newest_version_falls_back_on_the_sign_in_path_too(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    ms.create_user(iam, ms.UserSpec("bob"))
    put_exemptions(ssm, {"user": "alice", "reason": "break glass"})
    ssm.put_parameter(Name=EXEMPTIONS, Value='{"version": 1, "exemptions": [}', Type="String", Overwrite=True)

    first = login(lambda_client, sign_in("alice"))
    second = login(lambda_client, sign_in("bob"))

    assert ms.quarantined_users(iam) == {"bob"}
    assert kinds(first) == ["config-error", "exempt"]
    error = first["findings"][0]
    assert error["severity"] == "critical"
    assert "version 2 is invalid" in error["reason"] and "enforcing version 1" in error["reason"]
    assert kinds(second) == ["config-error", "quarantined"]
    assert calls.calls["ssm:GetParameterHistory"] == 1  # once per container and invalid version
    assert calls.calls["ssm:GetParameter"] == 1


def test_a_user_entry_covers_the_user_whatever_the_case(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("break-glass"))
    put_exemptions(ssm, {"user": "Break-Glass", "reason": "hardware key in the safe"})

    result = login(lambda_client, sign_in("break-glass"))

    assert ms.quarantined_users(iam) == set()
    assert only(result)["type"] == "exempt"


def test_a_group_entry_for_a_group_that_is_gone_exempts_nobody_and_the_rest_applies(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    ms.create_user(iam, ms.UserSpec("break-glass"))
    put_exemptions(
        ssm, {"group": "vendors", "reason": "vendor IdP"}, {"user": "break-glass", "reason": "hardware key in the safe"}
    )

    quarantined = login(lambda_client, sign_in("alice"))
    exempt = login(lambda_client, sign_in("break-glass"))

    assert ms.quarantined_users(iam) == {"alice"}
    assert (kinds(quarantined), kinds(exempt)) == (["quarantined"], ["exempt"])


def test_report_mode_says_what_it_would_do_and_writes_nothing(
    iam: Any, report_mode: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))

    result = login(lambda_client, sign_in("alice"))

    assert calls.writes == {}
    assert ms.quarantined_users(iam) == set()
    assert (only(result)["type"], only(result)["action"]) == ("quarantined", "would-quarantine")
    assert result["mode"] == "report"


def test_root_sign_in_without_mfa_is_critical_and_changes_nothing(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    result = login(lambda_client, load_fixture("eventbridge_console_login_root_no_mfa.json"))

    finding = only(result)
    assert (finding["type"], finding["severity"], finding["action"]) == ("root-without-mfa", "critical", "none")
    assert finding["transition"]
    assert result["writes"] == 0
    assert calls.total == 0


@pytest.mark.parametrize(
    ("fixture", "why"),
    [
        ("eventbridge_console_login_iam_user_mfa.json", "signed in with MFA"),
        ("eventbridge_console_login_assumed_role.json", "role session"),
        ("eventbridge_console_login_saml_user.json", "federated sign-in (SAMLUser)"),
        ("eventbridge_console_login_web_identity_user.json", "federated sign-in (WebIdentityUser)"),
        ("eventbridge_console_login_identity_center.json", "Identity Center session"),
        ("eventbridge_console_login_failure.json", "failed sign-in"),
        ("eventbridge_console_login_other_account.json", "event from account '210987654321'"),
    ],
)
def test_sign_ins_that_call_for_nothing_make_no_call(
    iam: Any,
    enforce: str,
    lambda_client: Any,
    calls: CallCounter,
    caplog: pytest.LogCaptureFixture,
    fixture: str,
    why: str,
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))

    result = login(lambda_client, load_fixture(fixture))

    assert why in result["ignored"]
    assert result["findings"] == []
    assert calls.total == 0
    assert ms.quarantined_users(iam) == set()
    lines = [r for r in caplog.records if r.name == "mfa-enforcer"]
    assert [r.getMessage() for r in lines] == ["event ignored"]
    assert why in lines[0].__dict__["why"]


def test_the_account_comes_from_the_lambda_context(iam: Any, report_mode: str, calls: CallCounter) -> None:
    """Lambda calls the handler string `app.on_console_login(event, context)`: its ARN names the account."""
    ms.create_user(iam, ms.UserSpec("alice"))
    calls.attach("sts")
    context = SimpleNamespace(
        invoked_function_arn="arn:aws:lambda:us-east-1:210987654321:function:mfa-enforcer-prod-on_console_login",
        aws_request_id="req-1",
    )

    result = lambda_module.on_console_login(sign_in("alice"), context)

    assert result["ignored"] == "event from account '123456789012'; the bot runs in 210987654321"
    assert calls.total == 0


def test_without_context_or_policy_the_account_comes_from_sts_once_per_container(
    iam: Any, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    ms.create_user(iam, ms.UserSpec("bob"))
    calls.attach("sts")

    first = login(lambda_client, sign_in("alice"))
    second = login(lambda_client, sign_in("bob"))

    assert calls.calls["sts:GetCallerIdentity"] == 1
    assert [only(first)["type"], only(second)["type"]] == ["quarantined", "quarantined"]
    assert first["account_id"] == ms.ACCOUNT_ID


# --- Malformed events -----------------------------------------------------------------------------


def _dropped(key: str) -> dict[str, Any]:
    event = sign_in("alice")
    del event[key]
    return event


def _dropped_detail(key: str) -> dict[str, Any]:
    event = sign_in("alice")
    del event["detail"][key]
    return event


def _oversized() -> dict[str, Any]:
    event = sign_in("alice")
    event["detail"]["eventName"] = "X" * (256 * 1024)
    return event


MALFORMED = [
    pytest.param("on_console_login", _dropped("detail"), "the EventBridge envelope has no detail", id="no detail"),
    pytest.param("on_console_login", _dropped_detail("userIdentity"), "userIdentity is missing", id="no userIdentity"),
    pytest.param(
        "on_console_login", {**sign_in("alice"), "detail": ["x"]}, "detail is not an object (got list)", id="wrong type"
    ),
    pytest.param("on_console_login", ["not", "an", "event"], "not a JSON object (got list)", id="a list"),
    pytest.param("on_console_login", _oversized(), "is not ConsoleLogin", id="256 KB event"),
    pytest.param("on_console_login", {}, "neither an EventBridge event", id="empty"),
    pytest.param(
        "on_iam_change",
        {**iam_call("eventbridge_iam_enable_mfa_device.json"), "detail": {"eventName": "CreateAccessKey"}},
        "'CreateAccessKey' is not one of the IAM calls",
        id="unknown eventName",
    ),
]


@pytest.mark.parametrize(("handler", "event", "problem"), MALFORMED)
def test_malformed_events_return_normally_with_one_log_line_a_metric_and_no_iam_change(
    iam: Any,
    enforce: str,
    lambda_client: Any,
    calls: CallCounter,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    handler: str,
    event: object,
    problem: str,
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    capsys.readouterr()

    result = dict(lambda_client.lambda_.invoke(handler, event).payload)

    assert problem in result["ignored"]
    assert result["findings"] == []
    assert calls.total == 0
    assert ms.quarantined_users(iam) == set()
    lines = [r for r in caplog.records if r.name == "mfa-enforcer"]
    assert [r.getMessage() for r in lines] == ["invalid event ignored"]
    assert problem in lines[0].__dict__["problem"]
    assert len(lines[0].__dict__["problem"]) < 200
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"InvalidEvents"' in line]
    assert [(m["InvalidEvents"], m["Handler"]) for m in metrics] == [([1.0], handler)]


def test_a_256_kb_sign_in_that_is_otherwise_valid_is_handled(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    event = sign_in("alice")
    event["detail"]["additionalEventData"]["LoginTo"] = "https://console.aws.amazon.com/?" + "a" * (256 * 1024)

    result = login(lambda_client, event)

    assert only(result)["type"] == "quarantined"


def test_an_aws_failure_while_reading_is_a_finding_not_an_exception(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    faults = FaultInjector().attach(bootstrap.client("iam"))
    faults.add(Fault("GetUser", "AccessDenied", 403, "not authorized to perform iam:GetUser"))

    result = login(lambda_client, sign_in("alice"))

    assert ms.quarantined_users(iam) == set()
    finding = only(result)
    assert (finding["type"], finding["user"], finding["severity"]) == ("scan-error", "alice", "critical")
    assert finding["error"] == "AccessDenied: not authorized to perform iam:GetUser"
    assert "no decision made" in finding["reason"]


# --- on_iam_change --------------------------------------------------------------------------------


def test_enabling_mfa_releases_a_quarantined_user_at_once(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    login(lambda_client, sign_in("alice"))
    assert ms.quarantined_users(iam) == {"alice"}
    enable_mfa(iam, "alice")

    result = change(lambda_client, iam_call("eventbridge_iam_enable_mfa_device.json", "alice"))

    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "alice") == {}
    finding = only(result)
    assert (finding["type"], finding["action"], finding["detected_by"]) == ("released", "release", "on_iam_change")
    assert result["writes"] == 2


def test_enabling_mfa_for_a_user_who_was_never_quarantined_changes_nothing(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice", mfa=True))

    result = change(lambda_client, iam_call("eventbridge_iam_enable_mfa_device.json", "alice"))

    assert result["findings"] == []
    assert calls.writes == {}


def test_releasing_a_user_quarantined_through_the_group(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.enforce_policy_quota(monkeypatch)
    ms.create_user(iam, ms.UserSpec("alice"))
    ms.fill_policy_quota(iam, "alice")
    login(lambda_client, sign_in("alice"))
    assert ms.quarantined_users(iam) == {"alice"}
    enable_mfa(iam, "alice")

    result = change(lambda_client, iam_call("eventbridge_iam_enable_mfa_device.json", "alice"))

    assert ms.quarantined_users(iam) == set()
    assert only(result)["type"] == "released"


@pytest.mark.parametrize("delete", [False, True], ids=["DeactivateMFADevice", "DeleteVirtualMFADevice"])
def test_removing_the_mfa_device_of_an_old_user_quarantines(
    iam: Any, enforce: str, lambda_client: Any, delete: bool
) -> None:
    ms.create_user(iam, ms.UserSpec("alice", mfa=True))
    serial = f"arn:aws:iam::{ms.ACCOUNT_ID}:mfa/alice"
    iam.deactivate_mfa_device(UserName="alice", SerialNumber=serial)
    fixture = "eventbridge_iam_deactivate_mfa_device.json"
    if delete:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
        fixture = "eventbridge_iam_delete_virtual_mfa_device.json"

    result = change(lambda_client, iam_call(fixture, "alice"))

    assert ms.quarantined_users(iam) == {"alice"}
    assert set(ms.user_tags(iam, "alice")) == TAGS
    assert (only(result)["type"], only(result)["detected_by"]) == ("quarantined", "on_iam_change")


def test_removing_one_of_two_devices_changes_nothing(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice", mfa=True))
    hardware = "GAHT12345678"
    iam.enable_mfa_device(
        UserName="alice", SerialNumber=hardware, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.deactivate_mfa_device(UserName="alice", SerialNumber=hardware)

    result = change(lambda_client, iam_call("eventbridge_iam_deactivate_mfa_device.json", "alice"))

    assert result["findings"] == []
    assert ms.quarantined_users(iam) == set()


def test_deleting_a_device_not_named_after_a_user_is_ignored(iam: Any, enforce: str, lambda_client: Any) -> None:
    result = change(lambda_client, iam_call("eventbridge_iam_delete_virtual_mfa_device.json", "alices-phone"))

    assert result["ignored"] == "user 'alices-phone' does not exist"
    assert result["findings"] == []


def test_a_new_console_password_starts_the_grace_clock(
    iam: Any, enforce: str, lambda_client: Any, profile_created: dict[str, datetime]
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", console=False, access_key=True, age=timedelta(days=200)))
    iam.create_login_profile(UserName="bob", Password="Correct-Horse-9!")
    profile_created["bob"] = datetime.now(UTC).replace(microsecond=0)
    event = iam_call("eventbridge_iam_create_login_profile.json", "bob")
    event["detail"]["eventTime"] = profile_created["bob"].strftime("%Y-%m-%dT%H:%M:%SZ")

    result = change(lambda_client, event)

    assert ms.quarantined_users(iam) == set()
    finding = only(result)
    assert (finding["type"], finding["transition"]) == ("pending", True)
    expected = profile_created["bob"] + timedelta(hours=24)
    assert abs(datetime.fromisoformat(finding["deadline"]) - expected) < timedelta(seconds=2)


def test_detaching_the_quarantine_policy_is_tamper_and_is_undone(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    login(lambda_client, sign_in("bob"))
    quarantined_at = ms.user_tags(iam, "bob")["mfa-enforcer:quarantined-at"]
    iam.detach_user_policy(UserName="bob", PolicyArn=enforce)

    result = change(lambda_client, iam_call("eventbridge_iam_detach_user_policy_tamper.json"))

    assert ms.attached_policies(iam, "bob") == {enforce}
    assert ms.user_tags(iam, "bob")["mfa-enforcer:quarantined-at"] == quarantined_at
    finding = only(result)
    assert (finding["type"], finding["severity"], finding["action"]) == ("tamper", "critical", "reattach")
    assert finding["actor"] == ADMIN
    assert finding["reason"].startswith(f"{ADMIN} detached the quarantine policy while the user still has no MFA")
    assert result["transitions"] == [finding]


def test_tamper_in_report_mode_is_reported_and_not_undone(iam: Any, report_mode: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    quarantine_by_hand(iam, "bob")
    iam.detach_user_policy(UserName="bob", PolicyArn=report_mode)

    result = change(lambda_client, iam_call("eventbridge_iam_detach_user_policy_tamper.json"))

    assert ms.attached_policies(iam, "bob") == set()
    assert (only(result)["type"], only(result)["action"]) == ("tamper", "would-reattach")


def test_removing_a_user_from_the_quarantine_group_is_tamper_and_is_undone(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.enforce_policy_quota(monkeypatch)
    ms.create_user(iam, ms.UserSpec("bob"))
    ms.fill_policy_quota(iam, "bob")
    login(lambda_client, sign_in("bob"))
    iam.remove_user_from_group(GroupName=ms.QUARANTINE_GROUP, UserName="bob")
    assert ms.quarantined_users(iam) == set()

    result = change(lambda_client, iam_call("eventbridge_iam_remove_user_from_group_tamper.json"))

    assert ms.quarantined_users(iam) == {"bob"}
    finding = only(result)
    assert (finding["type"], finding["actor"]) == ("tamper", ADMIN)
    assert "group mfa-enforcer-quarantine" in finding["reason"]


def test_detaching_from_a_user_who_now_has_mfa_is_no_tamper(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    login(lambda_client, sign_in("bob"))
    enable_mfa(iam, "bob")
    iam.detach_user_policy(UserName="bob", PolicyArn=enforce)

    result = change(lambda_client, iam_call("eventbridge_iam_detach_user_policy_tamper.json"))

    assert ms.attached_policies(iam, "bob") == set()
    assert ms.user_tags(iam, "bob") == {}  # the bot's tags are cleaned up
    finding = only(result)
    assert (finding["type"], finding["actor"]) == ("released", ADMIN)


def test_the_bots_own_detach_is_not_tamper(iam: Any, enforce: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the bot as the role it has in Lambda; its release's DetachUserPolicy event comes back to it."""
    iam.create_role(RoleName="mfa-enforcer-dev", AssumeRolePolicyDocument="{}")
    sts = boto3.client("sts", region_name="us-east-1")
    role_arn = f"arn:aws:iam::{ms.ACCOUNT_ID}:role/mfa-enforcer-dev"
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="mfa-enforcer-dev-on_iam_change")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    bootstrap.reset()
    counter = CallCounter().attach("iam", "sts")
    ms.create_user(iam, ms.UserSpec("bob"))
    quarantine_by_hand(iam, "bob")
    iam.detach_user_policy(UserName="bob", PolicyArn=enforce)

    with Client(lambda_module.app, stage_name="dev") as client:
        own = change(client, iam_call("eventbridge_iam_detach_user_policy_by_bot.json"))
        other = change(client, iam_call("eventbridge_iam_detach_user_policy_tamper.json"))

    assert own["ignored"] == "the bot's own release (detached the quarantine policy)"
    assert only(other)["type"] == "tamper"
    assert counter.calls["sts:GetCallerIdentity"] == 1


@pytest.mark.parametrize(
    ("fixture", "why"),
    [
        ("eventbridge_iam_detach_user_policy_error.json", "DetachUserPolicy failed ('AccessDenied')"),
        ("eventbridge_iam_detach_user_policy_other_policy.json", "not the quarantine policy"),
    ],
)
def test_iam_changes_that_call_for_nothing_make_no_call(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter, fixture: str, why: str
) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    quarantine_by_hand(iam, "bob")

    result = change(lambda_client, iam_call(fixture))

    assert why in result["ignored"]
    assert calls.total == 0
    assert ms.attached_policies(iam, "bob") == {enforce}


# --- The call budget ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    name: str
    spec: ms.UserSpec
    expected: dict[str, int]
    fixture: str = "eventbridge_console_login_iam_user_no_mfa.json"
    exemptions: tuple[dict[str, str], ...] = ()
    quarantined: bool = False


QUARANTINE_CALLS = {
    "iam:ListMFADevices": 1,
    "iam:GetUser": 1,
    "iam:GetLoginProfile": 1,
    "iam:TagUser": 1,
    "iam:AttachUserPolicy": 1,
}
BUDGETS = [
    Budget("quarantine", ms.UserSpec("alice"), QUARANTINE_CALLS),
    Budget("has an MFA device", ms.UserSpec("alice", mfa=True), {"iam:ListMFADevices": 1}),
    Budget("MFAUsed Yes", ms.UserSpec("alice"), {}, fixture="eventbridge_console_login_iam_user_mfa.json"),
    Budget("assumed role", ms.UserSpec("alice"), {}, fixture="eventbridge_console_login_assumed_role.json"),
    Budget("failed sign-in", ms.UserSpec("alice"), {}, fixture="eventbridge_console_login_failure.json"),
    Budget("root", ms.UserSpec("alice"), {}, fixture="eventbridge_console_login_root_no_mfa.json"),
    Budget("already quarantined", ms.UserSpec("alice"),  # the tag is a claim: one read shows the policy behind it
           {"iam:ListMFADevices": 1, "iam:GetUser": 1, "iam:ListAttachedUserPolicies": 1}, quarantined=True),
    Budget("exempt", ms.UserSpec("alice"), {"iam:ListMFADevices": 1, "iam:GetUser": 1},
           exemptions=({"user": "alice", "reason": "break glass"},)),
    Budget("exempt by group", ms.UserSpec("alice", groups=("vendors",)),
           {"iam:ListMFADevices": 1, "iam:GetUser": 1, "iam:ListGroupsForUser": 1},
           exemptions=({"group": "vendors", "reason": "vendor IdP"},)),
    Budget("pending", ms.UserSpec("alice", age=timedelta(hours=1)),
           {"iam:ListMFADevices": 1, "iam:GetUser": 1, "iam:GetLoginProfile": 1}),
]  # fmt: skip


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: b.name)
def test_console_login_call_budget_on_a_warm_container(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter, budget: Budget
) -> None:
    """Calls by operation for one sign-in, once the container has cached the exemptions document."""
    ms.create_user(iam, budget.spec)
    ms.create_user(iam, ms.UserSpec("warm-up", mfa=False))
    if budget.exemptions:
        put_exemptions(ssm, *budget.exemptions)
    if budget.quarantined:
        quarantine_by_hand(iam, "alice")
    login(lambda_client, sign_in("warm-up"))  # a first event fills the per-container caches
    calls.reset()

    event = sign_in("alice", budget.fixture) if "iam_user" in budget.fixture else load_fixture(budget.fixture)
    login(lambda_client, event)

    assert dict(calls.calls) == budget.expected


def test_quarantine_on_a_cold_container_adds_one_parameter_read(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    put_exemptions(ssm, {"user": "someone-else", "reason": "break glass"})

    login(lambda_client, sign_in("alice"))

    assert dict(calls.calls) == {**QUARANTINE_CALLS, "ssm:GetParameter": 1}


def test_a_missing_exemptions_parameter_is_read_once_per_container(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    for name in ("alice", "bob", "carol"):
        ms.create_user(iam, ms.UserSpec(name))
        login(lambda_client, sign_in(name))

    assert calls.calls["ssm:GetParameter"] == 1
    assert ms.quarantined_users(iam) == {"alice", "bob", "carol"}


def test_a_bug_while_handling_an_event_is_logged_counted_and_does_not_escape(
    iam: Any,
    enforce: str,
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The Lambda boundary: an unexpected exception (here a deliberately broken triage) never leaves the handler."""

    def broken(*_: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(decide, "triage_login", broken)
    ms.create_user(iam, ms.UserSpec("alice"))
    capsys.readouterr()

    result = login(lambda_client, sign_in("alice"))

    assert result == {"trigger": "on_console_login", "error": "RuntimeError"}
    assert ms.quarantined_users(iam) == set()
    assert [r.getMessage() for r in caplog.records if r.name == "mfa-enforcer"] == [
        "unexpected error while handling the event; nothing more was done"
    ]
    assert '"HandlerErrors"' in capsys.readouterr().out
