"""Owner notices end to end: the three handlers against moto (IAM, SES, SSM) and a Slack Web API catcher on 127.0.0.1.

Time is the injected clock (`bootstrap.now`); users are aged against it in moto's backend. E-mails
are read back from what moto's SES recorded as sent (`sent_messages`: moto delivers nothing), DMs
from the catcher. moto's SES checks that the sender is verified and the addresses are well formed;
it does not throttle (throttling is injected at the botocore layer) and does not evaluate the
role's `ses:FromAddress` condition (tests/policy_sim does).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters import notify
from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter
from tests.support import moto_state as ms
from tests.support import slack_api_catcher as slack_api
from tests.support.faults import FaultInjector, throttling
from tests.support.webhook_catcher import WebhookCatcher, render

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SENDER = "mfa-enforcer@example.com"
TOKEN = "xoxb-1111-2222-owner-notices-test-token"
TOKEN_PARAMETER = "/mfa-enforcer/slack-bot-token"
WEBHOOK_PARAMETER = "/mfa-enforcer/slack-webhook"
NOTIFIED = "mfa-enforcer:notified"
SCHEDULED = load_fixture("eventbridge_scheduled.json")


class Clock:
    """The instant every handler decides at; tests move it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Slack:
    """The catcher and the retry waits the bot asked for (recorded, never slept)."""

    api: slack_api.SlackApiCatcher
    waits: list[float] = field(default_factory=list)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    tick = Clock(START)
    monkeypatch.setattr(bootstrap, "now", tick)
    return tick


@pytest.fixture
def mail(ses: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ms.verify_sender(ses, SENDER)
    monkeypatch.setenv("MFA_ENFORCER_SES_SENDER", SENDER)


@pytest.fixture
def slack(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Slack]:
    waits: list[float] = []
    monkeypatch.setattr(bootstrap, "SLACK_RETRY", notify.SlackRetryPolicy(sleep=waits.append))
    with slack_api.catching(TOKEN) as api:
        ssm.put_parameter(Name=TOKEN_PARAMETER, Value=TOKEN, Type="SecureString")
        monkeypatch.setenv("MFA_ENFORCER_SLACK_BOT_TOKEN_PARAMETER", TOKEN_PARAMETER)
        monkeypatch.setenv("MFA_ENFORCER_SLACK_API_URL", api.base_url)
        yield Slack(api, waits)


def person(
    iam: Any, name: str, now: datetime, *, email: str | None = None, age: timedelta = timedelta(days=30)
) -> None:
    """A console user without MFA, aged against the injected clock, with an optional contact tag."""
    ms.create_user(iam, ms.UserSpec(name, age=age), now)
    if email is not None:
        iam.tag_user(UserName=name, Tags=[{"Key": "email", "Value": email}])


def scan(lambda_client: Any) -> dict[str, Any]:
    return dict(lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED).payload)


def on_iam(lambda_client: Any, fixture: str, user: str) -> dict[str, Any]:
    event: dict[str, Any] = load_fixture(fixture)
    params = event["detail"]["requestParameters"]
    params["userName"] = user
    if "serialNumber" in params:
        params["serialNumber"] = params["serialNumber"].rsplit("/", 1)[0] + f"/{user}"
    return dict(lambda_client.lambda_.invoke("on_iam_change", event).payload)


def sign_in(lambda_client: Any, user: str) -> dict[str, Any]:
    event: dict[str, Any] = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    identity = event["detail"]["userIdentity"]
    identity["userName"] = user
    identity["arn"] = identity["arn"].replace("/alice", f"/{user}")
    return dict(lambda_client.lambda_.invoke("on_console_login", event).payload)


def enrol_mfa(iam: Any, user: str) -> None:
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )


def subjects(since: int = 0) -> list[str]:
    return [m.subject for m in ms.sent_emails()[since:]]


def unreachable(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in result["transitions"] if f["type"] == "owner-unreachable"]


# --------------------------------------------------------------------------------- timing over hours


def test_each_notice_once_at_its_hour_across_a_grace_period(
    iam: Any,
    enforce: str,
    mail: None,
    slack: Slack,
    clock: Clock,
    lambda_client: Any,
    calls: CallCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """30 h of grace, reminders 48,24,1: an hourly scan from creation to release, one e-mail and one DM per notice.

    The 48 h reminder falls before grace starts, so it is folded into the grace notice; the 24 h and
    1 h reminders each fall in two overlapping scan windows and still go out once; the quarantine
    and release notices follow their transitions.
    """
    monkeypatch.setenv("MFA_ENFORCER_GRACE_HOURS", "30")
    monkeypatch.setenv("MFA_ENFORCER_REMINDER_HOURS", "48,24,1")
    person(iam, "dana", clock.now, email="dana@example.com", age=timedelta(minutes=5))
    slack.api.members["dana@example.com"] = "U0DANA0001"
    deadline = START - timedelta(minutes=5) + timedelta(hours=30)
    calls.attach("ses")

    sent: dict[int, list[str]] = {}
    for hour in range(33):
        clock.now = START + timedelta(hours=hour)
        if hour == 32:
            enrol_mfa(iam, "dana")
        before = len(ms.sent_emails())
        calls.reset()
        result = scan(lambda_client)
        assert unreachable(result) == []
        new = subjects(before)
        if new:
            sent[hour] = new
        if hour in (1, 2, 3, 4, 5, 10, 20, 31):  # nothing due: not one call more than a scan without notices
            assert not {op for op in calls.calls if op in ("iam:GetUser", "iam:TagUser") or op.startswith("ses:")}

    when = "2026-11-24T17:55:00Z"
    assert iso(deadline) == when
    assert sent == {
        0: [f"Action required by {when}: set up MFA for AWS user dana"],
        6: [f"Reminder: about 24 hours left to set up MFA for AWS user dana (by {when})"],
        29: [f"Reminder: about 1 hour left to set up MFA for AWS user dana (by {when})"],
        30: ["AWS user dana is restricted until you set up MFA"],
        32: ["AWS user dana: MFA is set up and the restriction is lifted"],
    }
    assert all(set(m.destinations) == {"dana@example.com"} and m.source == SENDER for m in ms.sent_emails())
    assert [m["channel"] for m in slack.api.posted] == ["U0DANA0001"] * 5
    assert ms.user_tags(iam, "dana")[NOTIFIED] == (
        f"v1 deadline={when} grace reminders=48/24/1 quarantine=2026-11-24T18:00:00Z release=2026-11-24T20:00:00Z"
    )


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_notice_carries_what_the_person_needs(
    iam: Any, enforce: str, mail: None, clock: Clock, lambda_client: Any
) -> None:
    iam.create_account_alias(AccountAlias="acme-prod")
    person(iam, "omar", clock.now, email="omar@example.com", age=timedelta(days=3))
    scan(lambda_client)
    (message,) = ms.sent_emails()
    assert message.message["From"] == f"mfa-enforcer <{SENDER}>"
    assert message.message["Auto-Submitted"] == "auto-generated"
    text, page = message.text, message.html
    for body in (text, page):
        assert f"{ms.ACCOUNT_ID} (acme-prod)" in body
        assert "https://acme-prod.signin.aws.amazon.com/console" in body
        assert "https://console.aws.amazon.com/iam/home#/security_credentials" in body
        assert "passkey or security key" in body and "authenticator app" in body
        assert "Changing your own password" in body  # what still works
    assert "Blocked while restricted:" in text
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page


# -------------------------------------------------------------------------------------- event paths


def test_a_new_console_password_tells_the_owner_once_even_when_lambda_retries(
    iam: Any, enforce: str, mail: None, clock: Clock, lambda_client: Any, calls: CallCounter
) -> None:
    person(iam, "erin", clock.now, email="erin@example.com", age=timedelta(minutes=1))
    first = on_iam(lambda_client, "eventbridge_iam_create_login_profile.json", "erin")
    assert [f["type"] for f in first["transitions"]] == ["pending"]
    assert subjects() == ["Action required by 2026-11-24T11:59:00Z: set up MFA for AWS user erin"]
    assert first["owner_notices"] == {"email": 1, "slack": 0, "without_contact": 0, "failed": 0}

    calls.attach("ses")
    calls.reset()
    again = on_iam(lambda_client, "eventbridge_iam_create_login_profile.json", "erin")  # Lambda's retry
    clock.advance(minutes=20)
    scan(lambda_client)  # the scan's first look at the new user: grace is news there too
    assert again["owner_notices"]["email"] == 0
    assert len(ms.sent_emails()) == 1
    assert not [op for op in calls.calls if op.startswith("ses:") or op == "iam:TagUser"]


def test_quarantine_at_sign_in_and_release_at_enrolment_are_each_told_once(
    iam: Any, enforce: str, mail: None, slack: Slack, clock: Clock, lambda_client: Any
) -> None:
    person(iam, "fay", clock.now, email="U0FAY00001")  # a Slack member id: DMs only
    iam.tag_user(UserName="fay", Tags=[{"Key": "team", "Value": "data"}])
    for _ in range(2):  # the second is Lambda's retry of the same event
        sign_in(lambda_client, "fay")
    enrol_mfa(iam, "fay")
    clock.advance(minutes=3)
    for _ in range(2):
        on_iam(lambda_client, "eventbridge_iam_enable_mfa_device.json", "fay")
    scan(lambda_client)

    assert ms.sent_emails() == []  # the contact is a Slack member id
    headers = [m["blocks"][0]["text"]["text"] for m in slack.api.posted]
    assert headers == [":lock: Your AWS access is restricted", ":unlock: Your AWS access is restored"]
    assert {m["channel"] for m in slack.api.posted} == {"U0FAY00001"}
    assert "console sign-in without MFA" in json.dumps(slack.api.posted[0])
    assert "someone who knows your password may have enrolled their own" in json.dumps(slack.api.posted[1])
    assert slack.api.lookups == []  # a member id needs no lookup
    assert ms.user_tags(iam, "fay")["team"] == "data"


# ------------------------------------------------------------------------------------ who to reach


def test_a_user_without_a_contact_is_reported_to_the_operators(
    iam: Any, ssm: Any, enforce: str, mail: None, clock: Clock, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook = WebhookCatcher()
    ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=webhook.start(), Type="SecureString")
    monkeypatch.setenv("MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER", WEBHOOK_PARAMETER)
    try:
        person(iam, "svc-kiosk", clock.now)
        person(iam, "ivy@example.com", clock.now)  # no tag, but the user name is an address
        person(iam, "jon", clock.now, email="jon@example.com")
        result = scan(lambda_client)
    finally:
        webhook.stop()

    assert sorted(m.to for m in ms.sent_emails()) == ["ivy@example.com", "jon@example.com"]
    (missed,) = unreachable(result)
    assert (missed["user"], missed["severity"]) == ("svc-kiosk", "low")
    assert missed["reason"] == (
        "could not tell the user about the quarantine: "
        "no tag email, and the user name 'svc-kiosk' is not an e-mail address"
    )
    assert result["owner_notices"] == {"email": 2, "slack": 0, "without_contact": 1, "failed": 0}
    (digest,) = webhook.messages
    text = render(digest)
    assert "Owners told: 2 by e-mail, 0 by Slack; 1 without a contact (see owner-unreachable)" in text
    assert "*owner-unreachable* `svc-kiosk`" in json.dumps(digest)


@pytest.mark.parametrize(
    "value",
    [
        "eve@example.com\r\nBcc: mallory@evil.example",
        "eve@example.com\nBcc: mallory@evil.example",
        "eve@example.com Bcc: mallory@evil.example",
        '"Boss" <mallory@evil.example>',
        "eve@example.com,mallory@evil.example",
        "=?utf-8?q?mallory=40evil.example?=",
    ],
)
def test_a_contact_tag_cannot_add_a_header_or_a_recipient(
    iam: Any, enforce: str, mail: None, clock: Clock, lambda_client: Any, value: str
) -> None:
    """moto stores any tag value (real IAM refuses CR/LF); the bot accepts a plain address or nothing."""
    person(iam, "kai@example.com", clock.now, email=value)
    person(iam, "kim", clock.now, email=value)
    result = scan(lambda_client)

    (message,) = ms.sent_emails()  # kai is reached through his user name; the tag is ignored
    assert set(message.destinations) == {"kai@example.com"}  # moto adds the To header's to what the bot passed
    raw = message.message.as_string()
    assert "mallory" not in raw and "Bcc" not in raw
    assert [k for k in message.message if k.lower() in ("bcc", "cc")] == []
    (missed,) = unreachable(result)
    assert missed["user"] == "kim"
    assert "mallory" not in missed["reason"]  # the tag's value is not repeated to the operators


def test_an_address_unknown_to_slack_still_gets_the_e_mail(
    iam: Any, enforce: str, mail: None, slack: Slack, clock: Clock, lambda_client: Any
) -> None:
    person(iam, "lea", clock.now, email="lea@example.com")
    result = scan(lambda_client)
    assert subjects() == ["AWS user lea is restricted until you set up MFA"]
    assert slack.api.lookups == ["lea@example.com"] and slack.api.posted == []
    assert result["owner_notices"] == {"email": 1, "slack": 0, "without_contact": 0, "failed": 0}
    assert unreachable(result) == []


# ------------------------------------------------------------------------------------------ failure


def test_a_failing_channel_does_not_silence_the_other(
    iam: Any, ses: Any, enforce: str, slack: Slack, clock: Clock, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFA_ENFORCER_SES_SENDER", "unverified@example.com")  # SES answers MessageRejected
    person(iam, "max", clock.now, email="max@example.com")
    slack.api.members["max@example.com"] = "U0MAX00001"
    result = scan(lambda_client)

    assert ms.sent_emails() == []
    assert [m["channel"] for m in slack.api.posted] == ["U0MAX00001"]
    assert result["owner_notices"] == {"email": 0, "slack": 1, "without_contact": 0, "failed": 0}
    assert unreachable(result) == []
    assert ms.user_tags(iam, "max")[NOTIFIED].startswith("v1 quarantine=")  # delivered (by Slack), so recorded


def test_slack_rate_limits_and_server_errors_are_retried_then_e_mail_carries_on(
    iam: Any, enforce: str, mail: None, slack: Slack, clock: Clock, lambda_client: Any
) -> None:
    person(iam, "ned", clock.now, email="ned@example.com")
    person(iam, "ola", clock.now, email="ola@example.com")
    slack.api.members.update({"ned@example.com": "U0NED00001", "ola@example.com": "U0OLA00001"})
    slack.api.answer(slack_api.LOOKUP, slack_api.rate_limited(retry_after=2), slack_api.rate_limited(retry_after=1))
    result = scan(lambda_client)
    assert sorted(m["channel"] for m in slack.api.posted) == ["U0NED00001", "U0OLA00001"]
    assert sorted(slack.waits)[-2:] == [1.0, 2.0]  # Retry-After honoured exactly, through the policy's sleep
    assert result["owner_notices"]["slack"] == 2

    person(iam, "pia", clock.now, email="pia@example.com")
    slack.api.members["pia@example.com"] = "U0PIA00001"
    slack.api.answer(slack_api.POST, *[slack_api.server_error()] * 3)  # 1 try + 2 retries, all 500
    clock.advance(hours=1)
    again = scan(lambda_client)
    assert again["owner_notices"] == {"email": 1, "slack": 0, "without_contact": 0, "failed": 0}
    assert subjects()[-1] == "AWS user pia is restricted until you set up MFA"
    assert slack.api.requests.count(slack_api.POST) == 2 + 3


def test_a_notice_no_channel_delivers_is_owner_unreachable_and_not_recorded(
    iam: Any,
    ses: Any,
    enforce: str,
    slack: Slack,
    clock: Clock,
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MFA_ENFORCER_SES_SENDER", "unverified@example.com")
    person(iam, "quinn", clock.now, email="quinn@example.com")
    slack.api.answer(slack_api.LOOKUP, slack_api.Answer(200, {"ok": False, "error": "invalid_auth"}))
    with caplog.at_level(logging.DEBUG):
        result = scan(lambda_client)

    (missed,) = unreachable(result)
    assert missed["reason"].startswith(
        "could not tell the user about the quarantine: e-mail failed: SES: MessageRejected"
    )
    assert "Slack failed: users.lookupByEmail: HTTP 200: invalid_auth" in missed["reason"]
    assert result["owner_notices"] == {"email": 0, "slack": 0, "without_contact": 0, "failed": 1}
    assert NOTIFIED not in ms.user_tags(iam, "quinn")
    assert ms.quarantined_users(iam) == {"quinn"}  # enforcement stands
    assert TOKEN not in caplog.text and TOKEN not in json.dumps(result)


def test_ses_throttling_is_retried_by_botocore(
    iam: Any, enforce: str, mail: None, clock: Clock, lambda_client: Any
) -> None:
    faults = FaultInjector().attach(bootstrap.client("ses"))
    faults.add(throttling("SendRawEmail", service="ses", times=2))
    person(iam, "rio", clock.now, email="rio@example.com")
    result = scan(lambda_client)
    assert faults.attempts["SendRawEmail"] == 3
    assert subjects() == ["AWS user rio is restricted until you set up MFA"]
    assert result["owner_notices"]["email"] == 1


# ----------------------------------------------------------------------------- the record on the user


def test_a_hand_edited_record_neither_hides_a_due_notice_nor_makes_the_bot_repeat(
    iam: Any, enforce: str, mail: None, clock: Clock, lambda_client: Any
) -> None:
    deadline = "2026-11-24T11:30:00Z"
    person(iam, "sam", clock.now, email="sam@example.com", age=timedelta(minutes=30))
    person(iam, "tia", clock.now, email="tia@example.com", age=timedelta(minutes=30))
    person(iam, "uri", clock.now, email="uri@example.com", age=timedelta(days=9))
    iam.tag_user(UserName="sam", Tags=[{"Key": NOTIFIED, "Value": "sent everything, stop"}])
    iam.tag_user(UserName="tia", Tags=[{"Key": NOTIFIED, "Value": "v1 deadline=2027-01-01T00:00:00Z grace"}])
    iam.tag_user(UserName="uri", Tags=[{"Key": NOTIFIED, "Value": "v1 quarantine=2026-11-23T12:00:00Z"}])
    scan(lambda_client)
    assert sorted(m.to for m in ms.sent_emails()) == ["sam@example.com", "tia@example.com", "uri@example.com"]
    assert ms.user_tags(iam, "sam")[NOTIFIED] == f"v1 deadline={deadline} grace reminders=24"
    assert ms.user_tags(iam, "tia")[NOTIFIED] == f"v1 deadline={deadline} grace reminders=24"
    assert ms.user_tags(iam, "uri")[NOTIFIED] == "v1 quarantine=2026-11-23T12:00:00Z"  # same second: rewritten alike

    clock.advance(minutes=20)
    scan(lambda_client)  # grace is still news for this hour's scan: the rewritten record holds it back
    assert len(ms.sent_emails()) == 3


# ------------------------------------------------------------------------------------------ report mode


def test_report_mode_tells_nobody_unless_switched_on(
    iam: Any, report_mode: str, mail: None, clock: Clock, lambda_client: Any, calls: CallCounter
) -> None:
    person(iam, "val", clock.now, email="val@example.com")
    person(iam, "wes", clock.now, email="wes@example.com", age=timedelta(minutes=10))
    result = scan(lambda_client)
    assert "iam:GetUser" not in calls.calls
    sign_in(lambda_client, "val")
    assert ms.sent_emails() == []
    assert result["owner_notices"] == {"email": 0, "slack": 0, "without_contact": 0, "failed": 0}


def test_report_mode_switched_on_says_so_writes_nothing_and_does_not_repeat(
    iam: Any,
    report_mode: str,
    mail: None,
    clock: Clock,
    lambda_client: Any,
    calls: CallCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MFA_ENFORCER_OWNER_NOTICES_IN_REPORT_MODE", "on")
    person(iam, "xia", clock.now, email="xia@example.com", age=timedelta(minutes=10))  # grace just started
    person(iam, "yan", clock.now, email="yan@example.com", age=timedelta(hours=24, minutes=30))  # deadline 30 min ago
    person(iam, "zed", clock.now, email="zed@example.com", age=timedelta(days=40))  # deadline long past
    scan(lambda_client)
    sign_in(lambda_client, "zed")  # events send nothing in report mode: nothing would stop them repeating
    assert sorted(subjects()) == [
        "[report mode] AWS user yan would be restricted",
        "[report mode] Action required by 2026-11-24T11:50:00Z: set up MFA for AWS user xia",
    ]
    assert "report mode" in ms.sent_emails()[0].text
    assert calls.writes == {}
    for hour in range(1, 4):
        clock.now = START + timedelta(hours=hour)
        scan(lambda_client)
    assert len(ms.sent_emails()) == 2


# ------------------------------------------------------------------------------------ steady state


def test_the_steady_state_scan_makes_the_same_calls_with_owner_notices_configured(
    iam: Any,
    ssm: Any,
    ses: Any,
    enforce: str,
    clock: Clock,
    lambda_client: Any,
    calls: CallCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """40 users, 10 quarantined by the first scan; the next scan without owner notices, then one with both channels."""
    for i in range(40):
        ms.create_user(iam, ms.UserSpec(f"user{i:02}", mfa=i % 4 != 0), clock.now)
        iam.tag_user(UserName=f"user{i:02}", Tags=[{"Key": "email", "Value": f"user{i:02}@example.com"}])
    scan(lambda_client)
    clock.advance(hours=1)
    calls.reset()
    quiet = scan(lambda_client)
    without = dict(calls.calls)
    assert "owner_notices" not in quiet  # nothing configured: the summary is what it always was

    with slack_api.catching(TOKEN) as api:
        ssm.put_parameter(Name=TOKEN_PARAMETER, Value=TOKEN, Type="SecureString")
        ms.verify_sender(ses, SENDER)
        monkeypatch.setenv("MFA_ENFORCER_SES_SENDER", SENDER)
        monkeypatch.setenv("MFA_ENFORCER_SLACK_BOT_TOKEN_PARAMETER", TOKEN_PARAMETER)
        monkeypatch.setenv("MFA_ENFORCER_SLACK_API_URL", api.base_url)
        calls.attach("ses")
        clock.advance(hours=1)
        calls.reset()
        result = scan(lambda_client)
        assert api.requests == []
    assert (
        dict(calls.calls)
        == without
        == {
            "iam:GenerateCredentialReport": 1,
            "iam:GetCredentialReport": 1,
            "iam:GetAccountSummary": 1,  # what root holds
            "iam:ListEntitiesForPolicy": 1,
            "iam:GetGroup": 1,  # the quarantine group's members
            "ssm:GetParameter": 1,  # the exemptions; the bot token is not read when nothing is to be sent
            "iam:GetPolicy": 1,  # the quarantine policy's integrity: its default version and its document
            "iam:GetPolicyVersion": 1,
        }
    )
    assert result["owner_notices"] == {"email": 0, "slack": 0, "without_contact": 0, "failed": 0}


def test_telling_the_owner_of_a_sign_in_quarantine_costs_three_calls(
    iam: Any, enforce: str, mail: None, clock: Clock, lambda_client: Any, calls: CallCounter
) -> None:
    """The event path read the user's tags already (GetUser): the alias, the e-mail and the record are all it adds."""
    person(iam, "gus", clock.now, email="gus@example.com")
    calls.attach("ses")
    calls.reset()
    sign_in(lambda_client, "gus")
    assert dict(calls.calls) == {
        "ssm:GetParameter": 1,  # the exemptions, once per container
        "iam:ListMFADevices": 1,
        "iam:GetUser": 1,
        "iam:GetLoginProfile": 1,
        "iam:TagUser": 2,  # the claim, then the notice record
        "iam:AttachUserPolicy": 1,
        "iam:ListAccountAliases": 1,
        "ses:SendRawEmail": 1,
    }
