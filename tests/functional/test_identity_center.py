"""IAM Identity Center sign-ins through on_console_login: real-format UserAuthentication events, moto, Slack.

The fixtures are the AWS Identity Center User Guide's sign-in samples in their EventBridge envelope
(account scrubbed to moto's, user1 renamed alice). Identity Center has no API for MFA devices and
moto has no Identity Center: nothing here is read from AWS but the exemptions parameter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter
from tests.support import moto_state as ms
from tests.support.webhook_catcher import WebhookCatcher, catching, read_sqs_messages

PASSWORD_ONLY = "eventbridge_signin_identity_center_password_only.json"
EXEMPTIONS = "/mfa-enforcer/exemptions"
WEBHOOK_PARAMETER = "/mfa-enforcer/slack-webhook"
PORTAL = "https://d-1234567890.awsapps.com/start/"


def sign_in(lambda_client: Any, event: object) -> dict[str, Any]:
    return dict(lambda_client.lambda_.invoke("on_console_login", event).payload)


def event_as(user: object, fixture: str = PASSWORD_ONLY, **extra: object) -> dict[str, Any]:
    event: dict[str, Any] = load_fixture(fixture)
    event["detail"]["userIdentity"]["userName"] = user
    event["detail"]["additionalEventData"].update(extra)
    return event


def ignored_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.__dict__["why"] for r in caplog.records if r.getMessage() == "event ignored"]


@pytest.fixture
def channels(sns: Any, sqs: Any, ssm: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[WebhookCatcher, str]]:
    """SNS (read back through an SQS subscription) and Slack (a catcher on 127.0.0.1)."""
    topic = sns.create_topic(Name="mfa-enforcer-findings")["TopicArn"]
    queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("MFA_ENFORCER_SNS_TOPIC_ARN", topic)
    monkeypatch.setenv("MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER", WEBHOOK_PARAMETER)
    with catching() as slack:
        ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=slack.url, Type="SecureString")
        yield slack, queue


def test_a_password_only_sign_in_is_a_high_alert_with_no_iam_call(
    iam: Any,
    sqs: Any,
    enforce: str,
    lambda_client: Any,
    calls: CallCounter,
    channels: tuple[WebhookCatcher, str],
) -> None:
    slack, queue = channels
    iam.create_user(UserName="alice")  # an IAM user of the same name is another person: left alone

    result = sign_in(lambda_client, load_fixture(PASSWORD_ONLY))

    (finding,) = result["findings"]
    assert (finding["type"], finding["severity"], finding["user"], finding["arn"]) == (
        "identity-center-user-without-mfa",
        "high",
        "alice",
        None,
    )
    assert (finding["action"], finding["transition"], finding["detected_by"]) == ("none", True, "on_console_login")
    assert finding["instance"] == PORTAL
    assert finding["source_ip"] == "203.0.113.0"
    assert finding["user_agent"].startswith("Mozilla/5.0 (Macintosh")
    assert result["event"]["name"] == "UserAuthentication" and result["writes"] == 0
    assert [op for op in calls.calls if op.startswith("iam:")] == []
    assert ms.attached_policies(iam, "alice") == set() and ms.user_tags(iam, "alice") == {}
    (message,) = read_sqs_messages(sqs, queue)
    assert (message["message"]["type"], message["message"]["instance"]) == ("identity-center-user-without-mfa", PORTAL)
    (posted,) = slack.messages
    assert "Identity Center sign-in with a password alone" in json.dumps(posted)
    everything = json.dumps([result, message, posted])
    assert "auth_code" not in everything and "wdc_csrf_token" not in everything  # LoginTo's one-time codes


@pytest.mark.parametrize(
    ("fixture", "extra", "why"),
    [
        ("eventbridge_signin_identity_center_totp.json", {}, "signed in with 'PASSWORD,TOTP'"),
        ("eventbridge_signin_identity_center_external_idp.json", {}, "signed in with 'EXTERNAL_IDP'"),
        (PASSWORD_ONLY, {"CredentialType": "PASSWORD,WEBAUTHN"}, "signed in with 'PASSWORD,WEBAUTHN'"),
        ("eventbridge_signin_identity_center_mfa_enrolled.json", {}, "registered an MFA device while signing in"),
        ("eventbridge_signin_identity_center_failure.json", {}, "failed Identity Center sign-in"),
    ],
)
def test_sign_ins_with_a_second_factor_or_that_failed_are_ignored_with_one_line(
    iam: Any,
    report_mode: str,
    lambda_client: Any,
    calls: CallCounter,
    caplog: pytest.LogCaptureFixture,
    fixture: str,
    extra: dict[str, str],
    why: str,
) -> None:
    event = load_fixture(fixture)
    event["detail"]["additionalEventData"].update(extra)

    result = sign_in(lambda_client, event)

    assert result["findings"] == [] and result["transitions"] == []
    assert why in result["ignored"]
    (line,) = ignored_lines(caplog)
    assert why in line
    assert calls.total == 0


@pytest.mark.parametrize(
    "event",
    [
        load_fixture("eventbridge_signin_identity_center_credential_verification_failure.json"),
        {**load_fixture(PASSWORD_ONLY), "detail": {"eventName": "UserAuthentication", "eventSource": "x"}},
        {**load_fixture(PASSWORD_ONLY), "detail": "UserAuthentication"},
        ["not", "an", "event"],
    ],
    ids=["credential-verification", "no-user-identity", "detail-not-an-object", "a-list"],
)
def test_malformed_events_are_ignored_with_one_warning(
    iam: Any,
    report_mode: str,
    lambda_client: Any,
    calls: CallCounter,
    caplog: pytest.LogCaptureFixture,
    event: object,
) -> None:
    result = sign_in(lambda_client, event)

    assert result["findings"] == []
    assert result["ignored"].startswith("invalid event: ")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == ["invalid event ignored"]
    assert calls.total == 0


def test_an_identity_center_exemption_covers_the_person_and_alerts_nothing(
    iam: Any, ssm: Any, report_mode: str, lambda_client: Any, channels: tuple[WebhookCatcher, str]
) -> None:
    slack, _ = channels
    document = {
        "version": 1,
        "exemptions": [{"identity_center_user": "ALICE", "reason": "kiosk login", "expires": "2099-01-01"}],
    }
    ssm.put_parameter(Name=EXEMPTIONS, Value=json.dumps(document), Type="String")

    result = sign_in(lambda_client, load_fixture(PASSWORD_ONLY))

    (finding,) = result["findings"]
    assert (finding["type"], finding["transition"], finding["user"]) == ("exempt", False, "alice")
    assert "exempted by identity_center_user ALICE: kiosk login" in finding["reason"]
    assert result["transitions"] == [] and slack.messages == []

    bob = sign_in(lambda_client, event_as("bob"))
    assert [f["type"] for f in bob["transitions"]] == ["identity-center-user-without-mfa"]


def test_an_iam_exemption_does_not_cover_an_identity_center_user_of_the_same_name(
    iam: Any, ssm: Any, report_mode: str, lambda_client: Any
) -> None:
    document = {
        "version": 1,
        "exemptions": [{"user": "alice", "reason": "IAM break-glass"}, {"path": "/", "reason": "x"}],
    }
    ssm.put_parameter(Name=EXEMPTIONS, Value=json.dumps(document), Type="String")

    result = sign_in(lambda_client, load_fixture(PASSWORD_ONLY))
    assert [f["type"] for f in result["transitions"]] == ["identity-center-user-without-mfa"]


def test_an_unusable_exemptions_document_still_lets_the_alert_through(
    iam: Any, ssm: Any, report_mode: str, lambda_client: Any
) -> None:
    ssm.put_parameter(
        Name=EXEMPTIONS, Value='{"version": 1, "exemptions": [{"identity_center_user": "alice"}]}', Type="String"
    )

    result = sign_in(lambda_client, load_fixture(PASSWORD_ONLY))
    assert [f["type"] for f in result["transitions"]] == ["config-error", "identity-center-user-without-mfa"]


def test_a_user_name_with_slack_markup_cannot_ping_the_channel(
    iam: Any, report_mode: str, lambda_client: Any, channels: tuple[WebhookCatcher, str]
) -> None:
    slack, _ = channels
    name = "<!channel> <@U024BE7LH> *urgent* `x`"

    result = sign_in(lambda_client, event_as(name))

    assert result["transitions"][0]["user"] == name  # the data is kept as AWS sent it...
    (posted,) = slack.messages
    text = json.dumps(posted)
    assert "<!channel>" not in text and "<@U024BE7LH>" not in text  # ...and escaped where Slack reads it
    assert "&lt;!channel&gt;" in text


def test_a_user_name_with_a_line_break_is_refused_and_logged_on_one_line(
    iam: Any, report_mode: str, lambda_client: Any, caplog: pytest.LogCaptureFixture, calls: CallCounter
) -> None:
    result = sign_in(lambda_client, event_as('alice\n{"level": "INFO", "message": "all good"}'))

    assert result["findings"] == []
    (line,) = ignored_lines(caplog)
    assert "\n" not in line and "is not valid" in line
    assert calls.total == 0


def test_a_sign_in_from_another_account_makes_no_noise(
    iam: Any, report_mode: str, lambda_client: Any, caplog: pytest.LogCaptureFixture, calls: CallCounter
) -> None:
    event = load_fixture(PASSWORD_ONLY)
    event["detail"]["recipientAccountId"] = "999999999999"
    event["detail"]["userIdentity"]["accountId"] = "999999999999"

    result = sign_in(lambda_client, event)

    assert result["findings"] == [] and "999999999999" in result["ignored"]
    assert calls.total == 0
