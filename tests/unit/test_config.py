"""Settings from the environment: defaults, and one clear error naming the variable for bad values."""

from __future__ import annotations

import pytest

from chalicelib.core import config
from chalicelib.core.model import Mode

ARN = "arn:aws:iam::123456789012:policy/mfa-enforcer-quarantine"


def test_defaults_are_report_mode_without_channels() -> None:
    settings = config.from_env({})
    assert settings == config.Settings(
        mode=Mode.REPORT, exemptions_parameter="/mfa-enforcer/exemptions", grace_hours=24
    )
    assert not settings.enforce


def test_enforce_with_everything_set() -> None:
    settings = config.from_env(
        {
            config.MODE: "ENFORCE",
            config.QUARANTINE_POLICY_ARN: ARN,
            config.GRACE_HOURS: "0.5",
            config.SNS_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:mfa-enforcer",
            config.SLACK_WEBHOOK_PARAMETER: "/mfa-enforcer/slack-webhook",
            config.EXEMPTIONS_PARAMETER: "/org/exemptions",
        }
    )
    assert settings.enforce
    assert settings.grace_hours == 0.5
    assert settings.account_id == "123456789012"


def test_bot_role_names_are_a_comma_list() -> None:
    names = "mfa-enforcer-ScheduledScanRole-1A2B3C4D5E6F7, mfa-enforcer-OnIamChangeRole-ZZ,,"
    assert config.from_env({config.BOT_ROLE_NAMES: names}).bot_role_names == (
        "mfa-enforcer-ScheduledScanRole-1A2B3C4D5E6F7",
        "mfa-enforcer-OnIamChangeRole-ZZ",
    )
    assert config.from_env({config.BOT_ROLE_NAMES: " "}).bot_role_names == ()


def test_blank_values_count_as_unset() -> None:
    assert config.from_env({config.SNS_TOPIC_ARN: "", config.GRACE_HOURS: " "}).sns_topic_arn is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({config.MODE: "audit"}, "MFA_ENFORCER_MODE must be 'enforce' or 'report', got 'audit'"),
        (
            {config.MODE: "enforce"},
            "MFA_ENFORCER_QUARANTINE_POLICY_ARN is required when MFA_ENFORCER_MODE is 'enforce'",
        ),
        ({config.QUARANTINE_POLICY_ARN: "mfa-enforcer-quarantine"}, "MFA_ENFORCER_QUARANTINE_POLICY_ARN is not an IAM"),
        (
            {config.QUARANTINE_POLICY_ARN: "arn:aws:iam::123:policy/x"},
            "MFA_ENFORCER_QUARANTINE_POLICY_ARN is not an IAM",
        ),
        ({config.GRACE_HOURS: "-1"}, "MFA_ENFORCER_GRACE_HOURS must be between 0 and"),
        ({config.GRACE_HOURS: "nan"}, "MFA_ENFORCER_GRACE_HOURS must be between 0 and"),
        ({config.GRACE_HOURS: "one day"}, "MFA_ENFORCER_GRACE_HOURS must be a number of hours"),
        (
            {config.SNS_TOPIC_ARN: "arn:aws:sqs:us-east-1:123456789012:q"},
            "MFA_ENFORCER_SNS_TOPIC_ARN is not an SNS topic ARN",
        ),
        (
            {config.EXEMPTIONS_PARAMETER: "has spaces/x"},
            "MFA_ENFORCER_EXEMPTIONS_PARAMETER is not an SSM parameter name",
        ),
        ({config.SLACK_WEBHOOK_PARAMETER: "https://hooks"}, "MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER is not an SSM"),
        ({config.SECURITY_HUB: "yes"}, "MFA_ENFORCER_SECURITY_HUB must be 'on' or 'off', got 'yes'"),
        ({config.SECURITY_HUB: "true"}, "MFA_ENFORCER_SECURITY_HUB must be 'on' or 'off'"),
        ({config.BOT_ROLE_NAMES: "scan-role,arn:aws:iam::1:role/x"}, "MFA_ENFORCER_BOT_ROLE_NAMES must be a comma"),
        ({config.BOT_ROLE_NAMES: "a" * 65}, "MFA_ENFORCER_BOT_ROLE_NAMES must be a comma list of IAM role names"),
    ],
)
def test_bad_value_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigurationError) as raised:
        config.from_env(env)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(("raw", "on"), [("on", True), ("ON", True), ("off", False), ("", False), (" on ", True)])
def test_security_hub_is_on_or_off(raw: str, on: bool) -> None:
    assert config.from_env({config.SECURITY_HUB: raw}).security_hub is on
    assert config.Settings().security_hub is False


def test_owner_notices_are_off_until_a_channel_is_configured() -> None:
    owners = config.from_env({}).owners
    assert owners == config.OwnerNotices()
    assert (owners.owner_tag, owners.reminder_hours, owners.in_report_mode) == ("email", (24.0,), False)
    assert owners.slack_api_url == "https://slack.com/api/"
    assert not owners.configured


def test_owner_notices_with_everything_set() -> None:
    owners = config.from_env(
        {
            config.OWNER_TAG: "owner-contact",
            config.SES_SENDER: "mfa-enforcer@example.com",
            config.SES_REGION: "eu-west-1",
            config.SLACK_BOT_TOKEN_PARAMETER: "/mfa-enforcer/slack-bot-token",
            config.SLACK_API_URL: "http://127.0.0.1:8080/api",
            config.REMINDER_HOURS: " 1, 72,24 ,24, 0.5",
            config.OWNER_NOTICES_IN_REPORT_MODE: "ON",
        }
    ).owners
    assert owners.configured
    assert owners.reminder_hours == (72.0, 24.0, 1.0, 0.5)
    assert owners.slack_api_url == "http://127.0.0.1:8080/api/"  # slack_sdk joins method names onto it
    assert (owners.owner_tag, owners.ses_region, owners.in_report_mode) == ("owner-contact", "eu-west-1", True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({config.OWNER_TAG: "mfa-enforcer:notified"}, "MFA_ENFORCER_OWNER_TAG is not an IAM tag key the bot may read"),
        ({config.OWNER_TAG: "aws:createdBy"}, "MFA_ENFORCER_OWNER_TAG is not an IAM tag key"),
        ({config.OWNER_TAG: "e-mail,owner"}, "MFA_ENFORCER_OWNER_TAG is not an IAM tag key"),
        ({config.SES_SENDER: "MFA Bot <mfa@example.com>"}, "MFA_ENFORCER_SES_SENDER must be a plain e-mail address"),
        ({config.SES_SENDER: "mfa@example.com\r\nBcc: x@y.example"}, "MFA_ENFORCER_SES_SENDER must be a plain"),
        ({config.SES_REGION: "Europe"}, "MFA_ENFORCER_SES_REGION is not an AWS region name"),
        ({config.SLACK_BOT_TOKEN_PARAMETER: "has space"}, "MFA_ENFORCER_SLACK_BOT_TOKEN_PARAMETER is not an SSM"),
        ({config.SLACK_API_URL: "http://slack.example/api/"}, "MFA_ENFORCER_SLACK_API_URL must be an https:// URL"),
        ({config.SLACK_API_URL: "ftp://slack.com/api/"}, "MFA_ENFORCER_SLACK_API_URL must be an https:// URL"),
        ({config.SLACK_API_URL: "https://slack.com/api/?token=x"}, "MFA_ENFORCER_SLACK_API_URL must be"),
        ({config.REMINDER_HOURS: "24h"}, "MFA_ENFORCER_REMINDER_HOURS must be hours separated by commas"),
        ({config.REMINDER_HOURS: "24,,1"}, "MFA_ENFORCER_REMINDER_HOURS must be hours separated by commas"),
        ({config.REMINDER_HOURS: "0"}, "MFA_ENFORCER_REMINDER_HOURS values must be above 0"),
        ({config.REMINDER_HOURS: "-1"}, "MFA_ENFORCER_REMINDER_HOURS values must be above 0"),
        ({config.REMINDER_HOURS: "nan"}, "MFA_ENFORCER_REMINDER_HOURS values must be above 0"),
        ({config.REMINDER_HOURS: "9000"}, "MFA_ENFORCER_REMINDER_HOURS values must be above 0 and at most 8760"),
        ({config.REMINDER_HOURS: "1,2,3,4,5,6,7"}, "MFA_ENFORCER_REMINDER_HOURS allows at most 6 reminders"),
        ({config.OWNER_NOTICES_IN_REPORT_MODE: "yes"}, "MFA_ENFORCER_OWNER_NOTICES_IN_REPORT_MODE must be 'on' or"),
    ],
)
def test_bad_owner_notice_setting_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigurationError) as raised:
        config.from_env(env)
    assert str(raised.value).startswith(message)


def test_a_token_pasted_where_its_parameter_belongs_is_refused_without_quoting_it() -> None:
    with pytest.raises(config.ConfigurationError) as raised:
        config.from_env({config.SLACK_BOT_TOKEN_PARAMETER: "xoxb-1234-5678-s3cr3t"})
    assert "looks like a Slack token" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)
